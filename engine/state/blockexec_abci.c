/*
 * blockexec_abci: block execution's edge towards the app. It turns our plain C blocks,
 * commits, evidence, genesis and consensus params into ABCI protobuf-c requests, calls the
 * app, and turns the app's answers back into plain C (the txs of a proposal, a verdict,
 * the next chain state, results, the app's height and hash). It is the only file of
 * engine/state that builds ABCI requests or reads the app's answers; the other
 * blockexec_*.c files hold an answer only as a struct blockexec_abci_answer, and
 * indexer.c reads just the events of the stored results. (Outside engine/state, the RPC
 * renders stored results and calls Info, Query and CheckTx itself, and the mempool reactor
 * calls CheckTx.) It must never sign, never touch the consensus core and never write a
 * store.
 *
 * last_results_hash: merkle root (engine/types/merkle.h) over, for each tx in block order,
 * the protobuf encoding of an ExecTxResult holding only the deterministic fields code (1),
 * data (2), gas_wanted (5), gas_used (6) — proto3 rules, zero values omitted, fields in
 * number order — which is byte for byte CometBFT's deterministicExecTxResult marshalling.
 */
#include "blockexec_internal.h"

#include "ed25519.h"
#include "merkle.h"
#include "px_error.h"
#include "px_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "blockexec"
#define ABCI_VERSION "1.0.0"
#define ENGINE_VERSION "phalanxd"

typedef Phalanx__Abci__Request abci_req;
typedef Phalanx__Abci__Response abci_resp;

static int call_app(struct blockexec *bx, enum abci_conn conn, const abci_req *req, abci_resp **out)
{
    int err = abci_client_call(bx->app, conn, req, (int)bx->call_timeout_ms, out);
    if (err) {
        char q[512];
        px_log(PX_LOG_ERROR, MOD, "app call failed", "method=%s err=%s detail=%s",
               abci_method_name(req->value_case), px_strerror(err),
               px_log_quote(q, sizeof(q), abci_client_last_error(bx->app, conn)));
        *out = NULL;
        /* the connection to the app failed: PX_EIO from blockexec names a store */
        if (err == PX_EIO)
            err = PX_ECLOSED;
    }
    return err;
}

/* ---- plain C -> ABCI ---------------------------------------------------------------- */

static Phalanx__Abci__Timestamp ts_of(uint64_t ns)
{
    Phalanx__Abci__Timestamp t = PHALANX__ABCI__TIMESTAMP__INIT;
    t.seconds = (int64_t)(ns / 1000000000u);
    t.nanos = (int32_t)(ns % 1000000000u);
    return t;
}

/* Storage behind a CommitInfo and a Misbehavior list built from a block. */
struct abci_block_info {
    Phalanx__Abci__CommitInfo ci;
    Phalanx__Abci__VoteInfo *votes;
    Phalanx__Abci__VoteInfo **vote_ptrs;
    Phalanx__Abci__Validator *vals;
    Phalanx__Abci__Misbehavior *mis;
    Phalanx__Abci__Misbehavior **mis_ptrs;
    Phalanx__Abci__Validator *mis_vals;
    Phalanx__Abci__Timestamp *mis_times;
    size_t n_mis;
    ProtobufCBinaryData *txs;
    size_t n_txs;
};

static void block_info_fini(struct abci_block_info *bi)
{
    free(bi->votes);
    free(bi->vote_ptrs);
    free(bi->vals);
    free(bi->mis);
    free(bi->mis_ptrs);
    free(bi->mis_vals);
    free(bi->mis_times);
    free(bi->txs);
    memset(bi, 0, sizeof(*bi));
}

/* CommitInfo of commit c signed by vals (absent slots listed as ABSENT, as CometBFT). */
static int commit_info(struct abci_block_info *bi, const struct commit *c,
                       const struct validator_set *vals)
{
    Phalanx__Abci__CommitInfo init = PHALANX__ABCI__COMMIT_INFO__INIT;
    bi->ci = init;
    if (c == NULL || c->height == 0)
        return 0;
    if (c->count != vals->count)
        return PX_EINVAL;
    size_t n = c->count;
    bi->votes = calloc(n, sizeof(*bi->votes));
    bi->vote_ptrs = calloc(n, sizeof(*bi->vote_ptrs));
    bi->vals = calloc(n, sizeof(*bi->vals));
    if (!bi->votes || !bi->vote_ptrs || !bi->vals)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Phalanx__Abci__VoteInfo vi = PHALANX__ABCI__VOTE_INFO__INIT;
        Phalanx__Abci__Validator v = PHALANX__ABCI__VALIDATOR__INIT;
        bi->vals[i] = v;
        bi->vals[i].address.data = (uint8_t *)vals->validators[i].address;
        bi->vals[i].address.len = VALIDATOR_ADDRESS_SIZE;
        bi->vals[i].power = vals->validators[i].voting_power;
        bi->votes[i] = vi;
        bi->votes[i].validator = &bi->vals[i];
        bi->votes[i].block_id_flag = (Phalanx__Abci__BlockIDFlag)c->sigs[i].flag;
        bi->vote_ptrs[i] = &bi->votes[i];
    }
    bi->ci.round = c->round;
    bi->ci.n_votes = n;
    bi->ci.votes = bi->vote_ptrs;
    return 0;
}

static int misbehavior(struct abci_block_info *bi, const struct evidence *ev, size_t n)
{
    bi->n_mis = n;
    if (n == 0)
        return 0;
    bi->mis = calloc(n, sizeof(*bi->mis));
    bi->mis_ptrs = calloc(n, sizeof(*bi->mis_ptrs));
    bi->mis_vals = calloc(n, sizeof(*bi->mis_vals));
    bi->mis_times = calloc(n, sizeof(*bi->mis_times));
    if (!bi->mis || !bi->mis_ptrs || !bi->mis_vals || !bi->mis_times)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Phalanx__Abci__Misbehavior m = PHALANX__ABCI__MISBEHAVIOR__INIT;
        Phalanx__Abci__Validator v = PHALANX__ABCI__VALIDATOR__INIT;
        bi->mis_vals[i] = v;
        bi->mis_vals[i].address.data = (uint8_t *)ev[i].vote_a.validator_address;
        bi->mis_vals[i].address.len = VOTE_ADDRESS_SIZE;
        bi->mis_vals[i].power = ev[i].validator_power;
        bi->mis_times[i] = ts_of(ev[i].timestamp_ns);
        bi->mis[i] = m;
        bi->mis[i].type = PHALANX__ABCI__MISBEHAVIOR_TYPE__MISBEHAVIOR_TYPE_DUPLICATE_VOTE;
        bi->mis[i].validator = &bi->mis_vals[i];
        bi->mis[i].height = (int64_t)ev[i].vote_a.height;
        bi->mis[i].time = &bi->mis_times[i];
        bi->mis[i].total_voting_power = ev[i].total_voting_power;
        bi->mis_ptrs[i] = &bi->mis[i];
    }
    return 0;
}

static int tx_list(struct abci_block_info *bi, const struct block *b)
{
    bi->n_txs = b->tx_count;
    if (b->tx_count == 0)
        return 0;
    bi->txs = calloc(b->tx_count, sizeof(*bi->txs));
    if (!bi->txs)
        return PX_ENOMEM;
    for (uint32_t i = 0; i < b->tx_count; i++) {
        bi->txs[i].data = b->txs[i].data;
        bi->txs[i].len = b->txs[i].len;
    }
    return 0;
}

/* Everything of block b the app sees (txs, last commit signed by last_vals, evidence). */
static int block_info(struct abci_block_info *bi, const struct block *b,
                      const struct validator_set *last_vals)
{
    memset(bi, 0, sizeof(*bi));
    int err = commit_info(bi, &b->last_commit, last_vals);
    if (!err)
        err = misbehavior(bi, b->evidence, b->evidence_count);
    if (!err)
        err = tx_list(bi, b);
    if (err)
        block_info_fini(bi);
    return err;
}

/* ---- app answers -> plain C ------------------------------------------------------------ */

static int params_from_abci(struct chain_params *p, const Phalanx__Abci__ConsensusParams *u,
                            char *why, size_t cap)
{
    struct chain_params n = *p;
    if (u->block) {
        n.block_max_bytes = u->block->max_bytes;
        n.block_max_gas = u->block->max_gas;
    }
    if (u->evidence) {
        n.evidence_max_age_num_blocks = u->evidence->max_age_num_blocks;
        n.evidence_max_age_duration_ns = u->evidence->max_age_duration_ns;
        n.evidence_max_bytes = u->evidence->max_bytes;
    }
    if (u->version)
        n.app_version = u->version->app;
    if (u->validator) {
        for (size_t i = 0; i < u->validator->n_pub_key_types; i++)
            if (strcmp(u->validator->pub_key_types[i], "ed25519") != 0) {
                blockexec_say(why, cap,
                              "the app asked for validator key type '%.32s'; only ed25519 is "
                              "supported",
                              u->validator->pub_key_types[i]);
                return PX_EAPP;
            }
    }
    if (n.block_max_bytes < 1 || (uint64_t)n.block_max_bytes > BLOCK_MAX_BYTES ||
        n.block_max_gas < -1 || n.evidence_max_age_num_blocks <= 0 ||
        n.evidence_max_age_duration_ns <= 0 || n.evidence_max_bytes < 0 ||
        n.evidence_max_bytes > n.block_max_bytes) {
        blockexec_say(why, cap,
                      "the app returned invalid consensus params (block max_bytes %" PRId64
                      ", max_gas %" PRId64 ", evidence max_bytes %" PRId64 ")",
                      n.block_max_bytes, n.block_max_gas, n.evidence_max_bytes);
        return PX_EAPP;
    }
    *p = n;
    return 0;
}

static int pubkey_of_update(const Phalanx__Abci__ValidatorUpdate *u, uint8_t out[32], char *why,
                            size_t cap)
{
    if (u->pub_key_type && u->pub_key_type[0] && strcmp(u->pub_key_type, "ed25519") != 0) {
        blockexec_say(why, cap, "validator update with key type '%.32s'; only ed25519 is supported",
                      u->pub_key_type);
        return PX_EAPP;
    }
    if (u->pub_key.len != VALIDATOR_PUBKEY_SIZE) {
        blockexec_say(why, cap, "validator update with a %zu-byte public key; ed25519 keys have 32",
                      u->pub_key.len);
        return PX_EAPP;
    }
    memcpy(out, u->pub_key.data, VALIDATOR_PUBKEY_SIZE);
    return 0;
}

static void address_of(const uint8_t pub[32], uint8_t addr[VALIDATOR_ADDRESS_SIZE])
{
    struct ed25519_pubkey pk;
    memcpy(pk.bytes, pub, 32);
    ed25519_address(&pk, addr);
}

/* next = cur with the app's changes (power 0 removes), priorities as CometBFT's
 * UpdateWithChangeSet: kept for validators that stay, -1.125 * total power for new ones,
 * then rescaled and centred (done by the increment the caller makes). */
static int apply_val_updates(struct validator_set *next, const struct validator_set *cur,
                             Phalanx__Abci__ValidatorUpdate *const *ups, size_t n, char *why,
                             size_t cap)
{
    if (n > VALIDATOR_SET_MAX) {
        blockexec_say(why, cap, "the app returned %zu validator updates, over the bound %u", n,
                      VALIDATOR_SET_MAX);
        return PX_EAPP;
    }
    struct validator *list = calloc(VALIDATOR_SET_MAX + n, sizeof(*list));
    uint8_t(*seen)[VALIDATOR_ADDRESS_SIZE] = calloc(n ? n : 1, VALIDATOR_ADDRESS_SIZE);
    bool *is_new = calloc(VALIDATOR_SET_MAX + n, sizeof(bool));
    int err = 0;
    if (!list || !seen || !is_new) {
        err = PX_ENOMEM;
        goto out;
    }
    uint32_t count = cur->count;
    memcpy(list, cur->validators, cur->count * sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        uint8_t pub[32], addr[VALIDATOR_ADDRESS_SIZE];
        if ((err = pubkey_of_update(ups[i], pub, why, cap)) != 0)
            goto out;
        address_of(pub, addr);
        for (size_t k = 0; k < i; k++)
            if (memcmp(seen[k], addr, VALIDATOR_ADDRESS_SIZE) == 0) {
                blockexec_say(why, cap, "the app updated one validator twice in one block");
                err = PX_EAPP;
                goto out;
            }
        memcpy(seen[i], addr, VALIDATOR_ADDRESS_SIZE);
        int64_t power = ups[i]->power;
        if (power < 0 || power > VALIDATOR_SET_MAX_TOTAL_POWER) {
            blockexec_say(why, cap, "the app returned a validator power of %" PRId64, power);
            err = PX_EAPP;
            goto out;
        }
        uint32_t at = count;
        for (uint32_t k = 0; k < count; k++)
            if (memcmp(list[k].address, addr, VALIDATOR_ADDRESS_SIZE) == 0)
                at = k;
        if (power == 0) {
            if (at == count) {
                blockexec_say(why, cap, "the app removed a validator that is not in the set");
                err = PX_EAPP;
                goto out;
            }
            list[at] = list[count - 1];
            is_new[at] = is_new[count - 1];
            count--;
            continue;
        }
        if (at == count) {
            if (count >= VALIDATOR_SET_MAX) {
                blockexec_say(why, cap, "the app's updates make more than %u validators",
                              VALIDATOR_SET_MAX);
                err = PX_EAPP;
                goto out;
            }
            memset(&list[at], 0, sizeof(list[at]));
            memcpy(list[at].address, addr, VALIDATOR_ADDRESS_SIZE);
            memcpy(list[at].pub_key, pub, VALIDATOR_PUBKEY_SIZE);
            is_new[at] = true;
            count++;
        }
        list[at].voting_power = power;
    }
    if (count == 0) {
        blockexec_say(why, cap, "the app's validator updates remove every validator");
        err = PX_EAPP;
        goto out;
    }
    __int128 total = 0;
    for (uint32_t k = 0; k < count; k++)
        total += list[k].voting_power;
    if (total > VALIDATOR_SET_MAX_TOTAL_POWER) {
        blockexec_say(why, cap, "the app's validator updates exceed the total voting power bound");
        err = PX_EAPP;
        goto out;
    }
    int64_t start = -((int64_t)total + ((int64_t)total >> 3));
    for (uint32_t k = 0; k < count; k++)
        if (is_new[k])
            list[k].proposer_priority = start;
    err = validator_set_restore(next, list, count, NULL);
    if (err) {
        blockexec_say(why, cap, "the app's validator updates give an invalid set (%s)",
                      px_strerror(err));
        err = PX_EAPP;
    }
out:
    free(list);
    free(seen);
    free(is_new);
    return err;
}

/* CometBFT's deterministic ExecTxResult bytes (see the top of this file). */
static int results_hash(const Phalanx__Abci__ResponseFinalizeBlock *fb,
                        uint8_t out[HEADER_HASH_SIZE])
{
    size_t n = fb->n_tx_results;
    if (n == 0) {
        merkle_empty_hash(out);
        return 0;
    }
    uint8_t(*leaves)[MERKLE_HASH_SIZE] = calloc(n, MERKLE_HASH_SIZE);
    if (!leaves)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const Phalanx__Abci__ExecTxResult *r = fb->tx_results[i];
        Phalanx__Abci__ExecTxResult d = PHALANX__ABCI__EXEC_TX_RESULT__INIT;
        d.code = r->code;
        d.data = r->data;
        d.gas_wanted = r->gas_wanted;
        d.gas_used = r->gas_used;
        size_t len = phalanx__abci__exec_tx_result__get_packed_size(&d);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) {
            free(leaves);
            return PX_ENOMEM;
        }
        phalanx__abci__exec_tx_result__pack(&d, buf);
        merkle_leaf_hash(buf, len, leaves[i]);
        free(buf);
    }
    merkle_root_from_leaf_hashes((const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n, out);
    free(leaves);
    return 0;
}

/* ---- the calls ------------------------------------------------------------------------ */

/* PrepareProposal: the app chooses our proposal's txs from the mempool's candidates. */
int blockexec_abci_prepare(struct blockexec *bx, const struct chain_state *s, uint64_t time_ns,
                           const uint8_t proposer[HEADER_ADDRESS_SIZE],
                           const struct commit *last_commit, const struct evidence *ev, size_t n_ev,
                           const struct mempool_tx *mtx, size_t n_mtx, uint64_t room,
                           struct blockexec_abci_answer *out)
{
    uint64_t height = s->last_height + 1;
    int err = 0;
    abci_resp *resp = NULL;
    struct abci_block_info bi;
    memset(&bi, 0, sizeof(bi));
    ProtobufCBinaryData *cand = n_mtx ? calloc(n_mtx, sizeof(*cand)) : NULL;
    if (n_mtx && !cand) {
        err = PX_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_mtx; i++) {
        cand[i].data = mtx[i].data;
        cand[i].len = mtx[i].len;
    }
    if ((err = commit_info(&bi, last_commit, &s->last_validators)) != 0 ||
        (err = misbehavior(&bi, ev, n_ev)) != 0)
        goto out;
    uint8_t nvh[HEADER_HASH_SIZE];
    if ((err = block_validators_hash(&s->next_validators, nvh)) != 0)
        goto out;

    Phalanx__Abci__RequestPrepareProposal pp = PHALANX__ABCI__REQUEST_PREPARE_PROPOSAL__INIT;
    Phalanx__Abci__Timestamp t = ts_of(time_ns);
    pp.max_tx_bytes = (int64_t)room;
    pp.n_txs = n_mtx;
    pp.txs = cand;
    pp.local_last_commit = &bi.ci;
    pp.n_misbehavior = bi.n_mis;
    pp.misbehavior = bi.mis_ptrs;
    pp.height = (int64_t)height;
    pp.time = &t;
    pp.next_validators_hash.data = nvh;
    pp.next_validators_hash.len = sizeof(nvh);
    pp.proposer_address.data = (uint8_t *)proposer;
    pp.proposer_address.len = HEADER_ADDRESS_SIZE;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL;
    req.prepare_proposal = &pp;
    if ((err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp)) != 0)
        goto out;
    out->resp = resp;
out:
    block_info_fini(&bi);
    free(cand);
    return err;
}

size_t blockexec_abci_prepared_count(const struct blockexec_abci_answer *a)
{
    return a->resp->prepare_proposal->n_txs;
}

void blockexec_abci_prepared_tx(const struct blockexec_abci_answer *a, size_t i,
                                const uint8_t **data, size_t *len)
{
    const Phalanx__Abci__ResponsePrepareProposal *pr = a->resp->prepare_proposal;
    *data = pr->txs[i].data;
    *len = pr->txs[i].len;
}

/* ProcessProposal: the app's verdict on a proposal that passed our own checks. */
int blockexec_abci_process(struct blockexec *bx, const struct chain_state *s, const struct block *b,
                           char *why, size_t why_cap)
{
    const struct header *h = &b->header;
    int err;
    struct abci_block_info bi;
    if ((err = block_info(&bi, b, &s->last_validators)) != 0)
        return err;
    uint8_t bh[HEADER_HASH_SIZE];
    if ((err = block_hash(b, bh)) != 0) {
        block_info_fini(&bi);
        return err;
    }
    Phalanx__Abci__RequestProcessProposal pp = PHALANX__ABCI__REQUEST_PROCESS_PROPOSAL__INIT;
    Phalanx__Abci__Timestamp t = ts_of(h->time_ns);
    pp.n_txs = bi.n_txs;
    pp.txs = bi.txs;
    pp.proposed_last_commit = &bi.ci;
    pp.n_misbehavior = bi.n_mis;
    pp.misbehavior = bi.mis_ptrs;
    pp.hash.data = bh;
    pp.hash.len = sizeof(bh);
    pp.height = (int64_t)h->height;
    pp.time = &t;
    pp.next_validators_hash.data = (uint8_t *)h->next_validators_hash;
    pp.next_validators_hash.len = HEADER_HASH_SIZE;
    pp.proposer_address.data = (uint8_t *)h->proposer_address;
    pp.proposer_address.len = HEADER_ADDRESS_SIZE;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL;
    req.process_proposal = &pp;
    abci_resp *resp = NULL;
    err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp);
    block_info_fini(&bi);
    if (err) {
        blockexec_say(why, why_cap, "the app could not judge the proposal (%s)", px_strerror(err));
        return err;
    }
    Phalanx__Abci__ProposalStatus st = resp->process_proposal->status;
    abci_response_free(resp);
    if (st == PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_REJECT) {
        blockexec_say(why, why_cap, "app rejected the proposal");
        return PX_EINVAL;
    }
    if (st != PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_ACCEPT) {
        blockexec_say(why, why_cap, "the app answered ProcessProposal with an unknown status");
        px_log(PX_LOG_ERROR, MOD, "ProcessProposal answered an unknown status", "height=%" PRIu64,
               h->height);
        return PX_EAPP;
    }
    return 0;
}

/* FinalizeBlock: the app executes a decided block. */
int blockexec_abci_finalize(struct blockexec *bx, const struct chain_state *s,
                            const struct block *b, const uint8_t bh[HEADER_HASH_SIZE],
                            struct blockexec_abci_answer *out)
{
    struct abci_block_info bi;
    int err = block_info(&bi, b, &s->last_validators);
    if (err)
        return err;
    Phalanx__Abci__RequestFinalizeBlock fb = PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    Phalanx__Abci__Timestamp t = ts_of(b->header.time_ns);
    fb.n_txs = bi.n_txs;
    fb.txs = bi.txs;
    fb.decided_last_commit = &bi.ci;
    fb.n_misbehavior = bi.n_mis;
    fb.misbehavior = bi.mis_ptrs;
    fb.hash.data = (uint8_t *)bh;
    fb.hash.len = HEADER_HASH_SIZE;
    fb.height = (int64_t)b->header.height;
    fb.time = &t;
    fb.next_validators_hash.data = (uint8_t *)b->header.next_validators_hash;
    fb.next_validators_hash.len = HEADER_HASH_SIZE;
    fb.proposer_address.data = (uint8_t *)b->header.proposer_address;
    fb.proposer_address.len = HEADER_ADDRESS_SIZE;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    req.finalize_block = &fb;
    abci_resp *resp = NULL;
    err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp);
    block_info_fini(&bi);
    if (err)
        return err;
    if (resp->finalize_block->n_tx_results != b->tx_count) {
        px_log(PX_LOG_ERROR, MOD, "FinalizeBlock answered the wrong number of results",
               "height=%" PRIu64 " txs=%u results=%zu", b->header.height, b->tx_count,
               resp->finalize_block->n_tx_results);
        abci_response_free(resp);
        return PX_EAPP;
    }
    out->resp = resp;
    return 0;
}

int blockexec_abci_commit(struct blockexec *bx, uint64_t height)
{
    Phalanx__Abci__RequestCommit c = PHALANX__ABCI__REQUEST_COMMIT__INIT;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_COMMIT;
    req.commit = &c;
    abci_resp *resp = NULL;
    int err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp);
    if (err)
        return err;
    if (resp->commit->retain_height > 0)
        px_log(PX_LOG_DEBUG, MOD, "app retain height ignored (pruning is not wired yet)",
               "height=%" PRIu64 " retain_height=%" PRId64, height, resp->commit->retain_height);
    abci_response_free(resp);
    return 0;
}

/* Last committed height and hash of the app (Info). */
int blockexec_abci_info(struct blockexec *bx, int64_t *height, uint8_t hash[HEADER_APP_HASH_MAX],
                        uint32_t *hash_len)
{
    Phalanx__Abci__RequestInfo in = PHALANX__ABCI__REQUEST_INFO__INIT;
    in.version = ENGINE_VERSION;
    in.abci_version = ABCI_VERSION;
    in.block_version = HEADER_BLOCK_PROTOCOL;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INFO;
    req.info = &in;
    abci_resp *resp = NULL;
    int err = call_app(bx, ABCI_CONN_QUERY, &req, &resp);
    if (err)
        return err;
    const Phalanx__Abci__ResponseInfo *r = resp->info;
    if (r->last_block_height < 0 || r->last_block_app_hash.len > HEADER_APP_HASH_MAX) {
        px_log(PX_LOG_ERROR, MOD, "Info answered an impossible height or hash",
               "height=%" PRId64 " hash_len=%zu", r->last_block_height, r->last_block_app_hash.len);
        abci_response_free(resp);
        return PX_EAPP;
    }
    *height = r->last_block_height;
    *hash_len = (uint32_t)r->last_block_app_hash.len;
    if (*hash_len)
        memcpy(hash, r->last_block_app_hash.data, *hash_len);
    abci_response_free(resp);
    return 0;
}

/* InitChain: the app starts the chain from the genesis. */
int blockexec_abci_init_chain(struct blockexec *bx, const struct genesis *g, struct chain_state *s,
                              bool update_state, char *why, size_t cap)
{
    size_t nv = g->n_validators; /* 0: the app must give them */
    Phalanx__Abci__ValidatorUpdate *vu = calloc(nv ? nv : 1, sizeof(*vu));
    Phalanx__Abci__ValidatorUpdate **vp = calloc(nv ? nv : 1, sizeof(*vp));
    if (!vu || !vp) {
        free(vu);
        free(vp);
        return PX_ENOMEM;
    }
    for (size_t i = 0; i < nv; i++) {
        Phalanx__Abci__ValidatorUpdate u = PHALANX__ABCI__VALIDATOR_UPDATE__INIT;
        vu[i] = u;
        vu[i].pub_key.data = g->validators[i].pub_key;
        vu[i].pub_key.len = GENESIS_PUBKEY_SIZE;
        vu[i].power = g->validators[i].power;
        vu[i].pub_key_type = "ed25519";
        vp[i] = &vu[i];
    }
    Phalanx__Abci__ConsensusParams cp = PHALANX__ABCI__CONSENSUS_PARAMS__INIT;
    Phalanx__Abci__BlockParams bp = PHALANX__ABCI__BLOCK_PARAMS__INIT;
    Phalanx__Abci__EvidenceParams ep = PHALANX__ABCI__EVIDENCE_PARAMS__INIT;
    Phalanx__Abci__ValidatorParams valp = PHALANX__ABCI__VALIDATOR_PARAMS__INIT;
    Phalanx__Abci__VersionParams ver = PHALANX__ABCI__VERSION_PARAMS__INIT;
    char *types[GENESIS_PUBKEY_TYPES_MAX];
    for (size_t i = 0; i < g->params.n_pub_key_types && i < GENESIS_PUBKEY_TYPES_MAX; i++)
        types[i] = (char *)g->params.pub_key_types[i];
    bp.max_bytes = g->params.block_max_bytes;
    bp.max_gas = g->params.block_max_gas;
    ep.max_age_num_blocks = g->params.evidence_max_age_num_blocks;
    ep.max_age_duration_ns = g->params.evidence_max_age_duration_ns;
    ep.max_bytes = g->params.evidence_max_bytes;
    valp.n_pub_key_types = g->params.n_pub_key_types < GENESIS_PUBKEY_TYPES_MAX
                               ? g->params.n_pub_key_types
                               : GENESIS_PUBKEY_TYPES_MAX;
    valp.pub_key_types = types;
    ver.app = g->params.app_version;
    cp.block = &bp;
    cp.evidence = &ep;
    cp.validator = &valp;
    cp.version = &ver;
    Phalanx__Abci__Timestamp t = ts_of(g->genesis_time_ns);
    Phalanx__Abci__RequestInitChain ic = PHALANX__ABCI__REQUEST_INIT_CHAIN__INIT;
    ic.time = &t;
    ic.chain_id = (char *)g->chain_id;
    ic.consensus_params = &cp;
    ic.n_validators = nv;
    ic.validators = vp;
    ic.app_state_bytes.data = (uint8_t *)g->app_state;
    ic.app_state_bytes.len = g->app_state ? strlen(g->app_state) : 0;
    ic.initial_height = g->initial_height;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN;
    req.init_chain = &ic;
    abci_resp *resp = NULL;
    int err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp);
    free(vu);
    free(vp);
    if (err) {
        blockexec_say(why, cap, "InitChain failed at the app (%s)", px_strerror(err));
        return err;
    }
    const Phalanx__Abci__ResponseInitChain *r = resp->init_chain;
    px_log(PX_LOG_INFO, MOD, "InitChain done", "chain_id=%s validators=%zu app_hash_len=%zu",
           g->chain_id, r->n_validators, r->app_hash.len);
    if (r->app_hash.len > HEADER_APP_HASH_MAX) {
        blockexec_say(why, cap, "InitChain answered an app hash of %zu bytes (at most %u)",
                      r->app_hash.len, HEADER_APP_HASH_MAX);
        abci_response_free(resp);
        return PX_EAPP;
    }
    if (!update_state) {
        /* the state after genesis is already stored: the app must agree with it */
        uint32_t len = r->app_hash.len ? (uint32_t)r->app_hash.len : s->app_hash_len;
        const uint8_t *h = r->app_hash.len ? r->app_hash.data : s->app_hash;
        bool same = len == s->app_hash_len && memcmp(h, s->app_hash, len) == 0;
        abci_response_free(resp);
        if (!same && s->last_height + 1 == s->initial_height) {
            blockexec_say(why, cap,
                          "the app's InitChain app hash differs from the stored genesis state; "
                          "the app's genesis differs from the chain's: reset the app with the "
                          "chain's genesis");
            return PX_ESTATE;
        }
        return 0;
    }
    if (r->n_validators > 0) {
        if (r->n_validators > VALIDATOR_SET_MAX) {
            abci_response_free(resp);
            blockexec_say(why, cap, "InitChain answered %zu validators (at most %u)",
                          r->n_validators, VALIDATOR_SET_MAX);
            return PX_EAPP;
        }
        struct validator *vals = calloc(r->n_validators, sizeof(*vals));
        if (!vals) {
            abci_response_free(resp);
            return PX_ENOMEM;
        }
        for (size_t i = 0; i < r->n_validators && !err; i++) {
            err = pubkey_of_update(r->validators[i], vals[i].pub_key, why, cap);
            address_of(vals[i].pub_key, vals[i].address);
            vals[i].voting_power = r->validators[i]->power;
        }
        if (!err) {
            err = validator_set_init(&s->validators, vals, (uint32_t)r->n_validators);
            if (err) {
                blockexec_say(why, cap, "InitChain answered an invalid validator set (%s)",
                              px_strerror(err));
                err = PX_EAPP;
            }
        }
        free(vals);
        if (!err) {
            validator_set_copy(&s->next_validators, &s->validators);
            err = validator_set_increment_proposer_priority(&s->next_validators, 1);
        }
    }
    if (!err && r->consensus_params)
        err = params_from_abci(&s->params, r->consensus_params, why, cap);
    if (!err && r->app_hash.len > 0) {
        memcpy(s->app_hash, r->app_hash.data, r->app_hash.len);
        s->app_hash_len = (uint32_t)r->app_hash.len;
    }
    abci_response_free(resp);
    return err;
}

/* ---- answers -------------------------------------------------------------------------- */

void blockexec_abci_answer_fini(struct blockexec_abci_answer *a)
{
    abci_response_free(a->resp);
    if (a->stored)
        phalanx__abci__response_finalize_block__free_unpacked(a->stored, NULL);
    memset(a, 0, sizeof(*a));
}

/* The FinalizeBlock answer a holds. */
static const Phalanx__Abci__ResponseFinalizeBlock *fb_of(const struct blockexec_abci_answer *a)
{
    return a->stored ? a->stored : a->resp->finalize_block;
}

int blockexec_abci_answer_encode(const struct blockexec_abci_answer *a, uint8_t **buf, size_t *len)
{
    const Phalanx__Abci__ResponseFinalizeBlock *fb = fb_of(a);
    size_t n = phalanx__abci__response_finalize_block__get_packed_size(fb);
    if (n > STATESTORE_MAX_VALUE_BYTES)
        return PX_ETOOBIG;
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return PX_ENOMEM;
    phalanx__abci__response_finalize_block__pack(fb, b);
    *buf = b;
    *len = n;
    return 0;
}

int blockexec_abci_answer_decode(struct blockexec_abci_answer *out, const uint8_t *buf, size_t len,
                                 uint32_t n_txs)
{
    out->stored = phalanx__abci__response_finalize_block__unpack(NULL, len, buf);
    if (!out->stored || out->stored->n_tx_results != n_txs)
        return PX_ECORRUPT;
    return 0;
}

int blockexec_abci_answer_app_hash(const struct blockexec_abci_answer *a,
                                   uint8_t hash[HEADER_APP_HASH_MAX], uint32_t *len)
{
    const Phalanx__Abci__ResponseFinalizeBlock *fb = fb_of(a);
    if (fb->app_hash.len > HEADER_APP_HASH_MAX)
        return PX_EAPP;
    memcpy(hash, fb->app_hash.data, fb->app_hash.len);
    *len = (uint32_t)fb->app_hash.len;
    return 0;
}

/* The app's answer made into the next chain state (validator updates, params, hashes). */
int blockexec_abci_next_state(const struct chain_state *s, const struct block *b,
                              const struct block_id *id, const struct blockexec_abci_answer *a,
                              struct chain_state *next, bool *params_changed)
{
    const Phalanx__Abci__ResponseFinalizeBlock *fb = fb_of(a);
    char why[256] = "";
    int err = 0;
    uint64_t height = b->header.height;
    if (fb->app_hash.len > HEADER_APP_HASH_MAX) {
        snprintf(why, sizeof(why), "app hash of %zu bytes, over %u", fb->app_hash.len,
                 HEADER_APP_HASH_MAX);
        err = PX_EAPP;
        goto fail;
    }
    memcpy(next, s, sizeof(*next));
    if (fb->n_validator_updates > 0) {
        err = apply_val_updates(&next->next_validators, &s->next_validators, fb->validator_updates,
                                fb->n_validator_updates, why, sizeof(why));
        if (err)
            goto fail;
    }
    if ((err = validator_set_increment_proposer_priority(&next->next_validators, 1)) != 0)
        goto fail;
    validator_set_copy(&next->validators, &s->next_validators);
    validator_set_copy(&next->last_validators, &s->validators);
    *params_changed = false;
    if (fb->consensus_param_updates) {
        struct chain_params before = next->params;
        err = params_from_abci(&next->params, fb->consensus_param_updates, why, sizeof(why));
        if (err)
            goto fail;
        *params_changed = memcmp(&before, &next->params, sizeof(before)) != 0;
    }
    next->last_height = height;
    next->last_block_id = *id;
    next->last_block_time_ns = b->header.time_ns;
    memcpy(next->app_hash, fb->app_hash.data, fb->app_hash.len);
    next->app_hash_len = (uint32_t)fb->app_hash.len;
    if ((err = results_hash(fb, next->last_results_hash)) != 0)
        return err;
    return 0;
fail:
    if (err == PX_EAPP)
        px_log(PX_LOG_ERROR, MOD, "the app's FinalizeBlock answer is unusable",
               "height=%" PRIu64 " why=\"%s\"", height, why);
    return err;
}

int blockexec_abci_result(struct blockexec_result *res, uint64_t height,
                          const struct blockexec_abci_answer *a)
{
    const Phalanx__Abci__ResponseFinalizeBlock *fb = fb_of(a);
    memset(res, 0, sizeof(*res));
    res->height = height;
    res->n_txs = (uint32_t)fb->n_tx_results;
    if (fb->n_tx_results) {
        res->txs = calloc(fb->n_tx_results, sizeof(*res->txs));
        if (!res->txs)
            return PX_ENOMEM;
    }
    for (size_t i = 0; i < fb->n_tx_results; i++) {
        res->txs[i].code = fb->tx_results[i]->code;
        res->txs[i].gas_wanted = fb->tx_results[i]->gas_wanted;
        res->txs[i].gas_used = fb->tx_results[i]->gas_used;
    }
    res->n_validator_updates = (uint32_t)fb->n_validator_updates;
    res->app_hash_len =
        (uint32_t)(fb->app_hash.len > HEADER_APP_HASH_MAX ? HEADER_APP_HASH_MAX : fb->app_hash.len);
    memcpy(res->app_hash, fb->app_hash.data, res->app_hash_len);
    return 0;
}

int blockexec_abci_params_encode(const struct chain_params *p, uint8_t *buf, size_t cap,
                                 size_t *len)
{
    Phalanx__Abci__ConsensusParams cp = PHALANX__ABCI__CONSENSUS_PARAMS__INIT;
    Phalanx__Abci__BlockParams bp = PHALANX__ABCI__BLOCK_PARAMS__INIT;
    Phalanx__Abci__EvidenceParams ep = PHALANX__ABCI__EVIDENCE_PARAMS__INIT;
    Phalanx__Abci__ValidatorParams vp = PHALANX__ABCI__VALIDATOR_PARAMS__INIT;
    Phalanx__Abci__VersionParams ver = PHALANX__ABCI__VERSION_PARAMS__INIT;
    char *types[1] = {"ed25519"};
    bp.max_bytes = p->block_max_bytes;
    bp.max_gas = p->block_max_gas;
    ep.max_age_num_blocks = p->evidence_max_age_num_blocks;
    ep.max_age_duration_ns = p->evidence_max_age_duration_ns;
    ep.max_bytes = p->evidence_max_bytes;
    vp.n_pub_key_types = 1;
    vp.pub_key_types = types;
    ver.app = p->app_version;
    cp.block = &bp;
    cp.evidence = &ep;
    cp.validator = &vp;
    cp.version = &ver;
    size_t n = phalanx__abci__consensus_params__get_packed_size(&cp);
    if (n > cap)
        return PX_EINTERNAL;
    phalanx__abci__consensus_params__pack(&cp, buf);
    *len = n;
    return 0;
}
