/*
 * rpc_json: the chain's types as CometBFT 0.38's JSON (what @cosmjs/tendermint-rpc
 * decodes): 64-bit integers as strings, hashes and addresses as upper-case hex, payload
 * bytes as padded base64, times as RFC 3339 UTC. This is also the protobuf edge for the
 * stored FinalizeBlock results and consensus params: protobuf-c structs never leave it.
 * Must never emit null where the client expects a string.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abci.pb-c.h"
#include "px_clock.h"
#include "px_encoding.h"
#include "px_error.h"
#include "rpc_internal.h"

json_t *rpc_j_u64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    return json_string(b);
}

json_t *rpc_j_i64(int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%" PRId64, v);
    return json_string(b);
}

json_t *rpc_j_hex(const uint8_t *b, size_t n)
{
    char *s = malloc(PX_HEX_LEN(n));
    if (s == NULL)
        return NULL;
    if (px_hex_encode(s, PX_HEX_LEN(n), b, n, true) < 0)
        s[0] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *rpc_j_b64(const uint8_t *b, size_t n)
{
    char *s = malloc(PX_BASE64_LEN(n));
    if (s == NULL)
        return NULL;
    if (px_base64_encode(s, PX_BASE64_LEN(n), b, n) < 0)
        s[0] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *rpc_j_time(uint64_t wall_ns)
{
    char b[40];
    int digits = wall_ns % 1000000000u ? 9 : 0;
    if (px_time_format(b, sizeof b, wall_ns, digits) < 0)
        snprintf(b, sizeof b, "1970-01-01T00:00:00Z");
    /* CometBFT trims trailing zeros of the fraction. */
    char *dot = strchr(b, '.');
    if (dot != NULL) {
        char *z = strchr(dot, 'Z');
        char *e = z;
        while (e > dot + 1 && e[-1] == '0')
            e--;
        memmove(e, z, strlen(z) + 1);
    }
    return json_string(b);
}

json_t *rpc_j_pubkey(const uint8_t pub[32])
{
    return json_pack("{s:s, s:o}", "type", "tendermint/PubKeyEd25519", "value", rpc_j_b64(pub, 32));
}

json_t *rpc_j_block_id(const struct block_id *id)
{
    if (block_id_is_nil(id))
        return json_pack("{s:s, s:{s:i, s:s}}", "hash", "", "parts", "total", 0, "hash", "");
    return json_pack("{s:o, s:{s:I, s:o}}", "hash", rpc_j_hex(id->hash, sizeof id->hash), "parts",
                     "total", (json_int_t)id->parts.total, "hash",
                     rpc_j_hex(id->parts.hash, sizeof id->parts.hash));
}

json_t *rpc_j_header(const struct header *h)
{
    json_t *j = json_object();
    json_object_set_new(j, "version",
                        json_pack("{s:o, s:o}", "block", rpc_j_u64(h->version_block), "app",
                                  rpc_j_u64(h->version_app)));
    json_object_set_new(j, "chain_id", json_string(h->chain_id));
    json_object_set_new(j, "height", rpc_j_u64(h->height));
    json_object_set_new(j, "time", rpc_j_time(h->time_ns));
    json_object_set_new(j, "last_block_id", rpc_j_block_id(&h->last_block_id));
    json_object_set_new(j, "last_commit_hash", rpc_j_hex(h->last_commit_hash, 32));
    json_object_set_new(j, "data_hash", rpc_j_hex(h->data_hash, 32));
    json_object_set_new(j, "validators_hash", rpc_j_hex(h->validators_hash, 32));
    json_object_set_new(j, "next_validators_hash", rpc_j_hex(h->next_validators_hash, 32));
    json_object_set_new(j, "consensus_hash", rpc_j_hex(h->consensus_hash, 32));
    json_object_set_new(j, "app_hash", rpc_j_hex(h->app_hash, h->app_hash_len));
    json_object_set_new(j, "last_results_hash", rpc_j_hex(h->last_results_hash, 32));
    json_object_set_new(j, "evidence_hash", rpc_j_hex(h->evidence_hash, 32));
    json_object_set_new(j, "proposer_address", rpc_j_hex(h->proposer_address, 20));
    return j;
}

json_t *rpc_j_commit(const struct commit *c)
{
    json_t *sigs = json_array();
    for (uint32_t i = 0; i < c->count; i++) {
        const struct commit_sig *s = &c->sigs[i];
        json_t *o = json_object();
        json_object_set_new(o, "block_id_flag", json_integer(s->flag));
        if (s->flag == COMMIT_FLAG_ABSENT) {
            json_object_set_new(o, "validator_address", json_string(""));
            json_object_set_new(o, "timestamp", json_string("0001-01-01T00:00:00Z"));
            json_object_set_new(o, "signature", json_null());
        } else {
            json_object_set_new(o, "validator_address", rpc_j_hex(s->validator_address, 20));
            json_object_set_new(o, "timestamp", rpc_j_time(s->timestamp_ns));
            json_object_set_new(o, "signature", rpc_j_b64(s->signature, sizeof s->signature));
        }
        json_array_append_new(sigs, o);
    }
    return json_pack("{s:o, s:i, s:o, s:o}", "height", rpc_j_u64(c->height), "round", (int)c->round,
                     "block_id", rpc_j_block_id(&c->block_id), "signatures", sigs);
}

static json_t *j_vote(const struct vote *v)
{
    return json_pack("{s:i, s:o, s:i, s:o, s:o, s:o, s:i, s:o}", "type", (int)v->type, "height",
                     rpc_j_u64(v->height), "round", (int)v->round, "block_id",
                     rpc_j_block_id(&v->block_id), "timestamp", rpc_j_time(v->timestamp_ns),
                     "validator_address", rpc_j_hex(v->validator_address, 20), "validator_index",
                     (int)v->validator_index, "signature",
                     rpc_j_b64(v->signature, sizeof v->signature));
}

static json_t *j_evidence(const struct evidence *e)
{
    return json_pack("{s:s, s:{s:o, s:o, s:o, s:o, s:o}}", "type",
                     "tendermint/DuplicateVoteEvidence", "value", "vote_a", j_vote(&e->vote_a),
                     "vote_b", j_vote(&e->vote_b), "TotalVotingPower",
                     rpc_j_i64(e->total_voting_power), "ValidatorPower",
                     rpc_j_i64(e->validator_power), "Timestamp", rpc_j_time(e->timestamp_ns));
}

json_t *rpc_j_block(const struct block *b)
{
    json_t *txs = json_array();
    for (uint32_t i = 0; i < b->tx_count; i++)
        json_array_append_new(txs, rpc_j_b64(b->txs[i].data, b->txs[i].len));
    json_t *ev = json_array();
    for (uint32_t i = 0; i < b->evidence_count; i++)
        json_array_append_new(ev, j_evidence(&b->evidence[i]));
    return json_pack("{s:o, s:{s:o}, s:{s:o}, s:o}", "header", rpc_j_header(&b->header), "data",
                     "txs", txs, "evidence", "evidence", ev, "last_commit",
                     rpc_j_commit(&b->last_commit));
}

json_t *rpc_j_validator(const struct validator *v)
{
    return json_pack("{s:o, s:o, s:o, s:o}", "address", rpc_j_hex(v->address, 20), "pub_key",
                     rpc_j_pubkey(v->pub_key), "voting_power", rpc_j_i64(v->voting_power),
                     "proposer_priority", rpc_j_i64(v->proposer_priority));
}

static json_t *j_events(size_t n, Phalanx__Abci__Event **evs)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *attrs = json_array();
        for (size_t k = 0; k < evs[i]->n_attributes; k++) {
            const Phalanx__Abci__EventAttribute *a = evs[i]->attributes[k];
            json_array_append_new(attrs,
                                  json_pack("{s:s, s:s, s:b}", "key", a->key ? a->key : "", "value",
                                            a->value ? a->value : "", "index", a->index ? 1 : 0));
        }
        json_array_append_new(arr, json_pack("{s:s, s:o}", "type", evs[i]->type ? evs[i]->type : "",
                                             "attributes", attrs));
    }
    return arr;
}

static json_t *j_txdata(uint32_t code, ProtobufCBinaryData data, const char *log, const char *info,
                        int64_t gw, int64_t gu, json_t *events, const char *codespace)
{
    return json_pack("{s:I, s:o, s:s, s:s, s:o, s:o, s:o, s:s}", "code", (json_int_t)code, "data",
                     rpc_j_b64(data.data, data.len), "log", log ? log : "", "info",
                     info ? info : "", "gas_wanted", rpc_j_i64(gw), "gas_used", rpc_j_i64(gu),
                     "events", events, "codespace", codespace ? codespace : "");
}

json_t *rpc_j_check(const struct rpc_tx_check *c)
{
    ProtobufCBinaryData d = {c->data_len, (uint8_t *)c->data};
    return j_txdata(c->code, d, c->log, c->info, c->gas_wanted, c->gas_used, json_array(),
                    c->codespace);
}

static json_t *j_params(const Phalanx__Abci__ConsensusParams *p)
{
    json_t *j = json_object();
    if (p->block)
        json_object_set_new(j, "block",
                            json_pack("{s:o, s:o}", "max_bytes", rpc_j_i64(p->block->max_bytes),
                                      "max_gas", rpc_j_i64(p->block->max_gas)));
    if (p->evidence)
        json_object_set_new(j, "evidence",
                            json_pack("{s:o, s:o, s:o}", "max_age_num_blocks",
                                      rpc_j_i64(p->evidence->max_age_num_blocks),
                                      "max_age_duration",
                                      rpc_j_i64(p->evidence->max_age_duration_ns), "max_bytes",
                                      rpc_j_i64(p->evidence->max_bytes)));
    if (p->validator) {
        json_t *types = json_array();
        for (size_t i = 0; i < p->validator->n_pub_key_types; i++)
            json_array_append_new(types, json_string(p->validator->pub_key_types[i]));
        json_object_set_new(j, "validator", json_pack("{s:o}", "pub_key_types", types));
    }
    if (p->version)
        json_object_set_new(j, "version", json_pack("{s:o}", "app", rpc_j_u64(p->version->app)));
    return j;
}

int rpc_j_params(const uint8_t *buf, size_t len, json_t **out)
{
    *out = NULL;
    Phalanx__Abci__ConsensusParams *p = phalanx__abci__consensus_params__unpack(NULL, len, buf);
    if (p == NULL)
        return PX_EDECODE;
    *out = j_params(p);
    phalanx__abci__consensus_params__free_unpacked(p, NULL);
    return *out ? 0 : PX_ENOMEM;
}

int rpc_j_results(const uint8_t *buf, size_t len, uint64_t height, json_t **out)
{
    *out = NULL;
    Phalanx__Abci__ResponseFinalizeBlock *f =
        phalanx__abci__response_finalize_block__unpack(NULL, len, buf);
    if (f == NULL)
        return PX_EDECODE;
    json_t *txs = json_array();
    for (size_t i = 0; i < f->n_tx_results; i++) {
        const Phalanx__Abci__ExecTxResult *t = f->tx_results[i];
        json_array_append_new(txs, j_txdata(t->code, t->data, t->log, t->info, t->gas_wanted,
                                            t->gas_used, j_events(t->n_events, t->events),
                                            t->codespace));
    }
    json_t *vu = json_array();
    for (size_t i = 0; i < f->n_validator_updates; i++) {
        const Phalanx__Abci__ValidatorUpdate *u = f->validator_updates[i];
        json_t *pk = json_pack("{s:s, s:o}", "type", "tendermint/PubKeyEd25519", "value",
                               rpc_j_b64(u->pub_key.data, u->pub_key.len));
        json_array_append_new(vu,
                              json_pack("{s:o, s:o}", "pub_key", pk, "power", rpc_j_i64(u->power)));
    }
    json_t *j = json_object();
    json_object_set_new(j, "height", rpc_j_u64(height));
    json_object_set_new(j, "txs_results", txs);
    json_object_set_new(j, "finalize_block_events", j_events(f->n_events, f->events));
    json_object_set_new(j, "validator_updates", vu);
    json_object_set_new(j, "consensus_param_updates",
                        f->consensus_param_updates ? j_params(f->consensus_param_updates)
                                                   : json_null());
    json_object_set_new(j, "app_hash", rpc_j_hex(f->app_hash.data, f->app_hash.len));
    phalanx__abci__response_finalize_block__free_unpacked(f, NULL);
    *out = j;
    return 0;
}

json_t *rpc_j_tx_result_at(json_t *results, uint32_t index)
{
    return json_array_get(json_object_get(results, "txs_results"), index);
}
