/*
 * chainstate: see chainstate.h. The stored form is our own fixed layout, little-endian,
 * versioned: "PXCS" u32 version, then the fields in struct order; the three validator sets
 * are length-prefixed codec (protobuf) encodings. Decoding checks every length against
 * what is left and never trusts a count from the bytes.
 */
#include "chainstate.h"

#include "codec.h"
#include "px_bytes.h"
#include "px_error.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "PXCS"
#define VERSION 1u

static int genesis_rest(struct chain_state *s, const struct genesis *g);

int chainstate_from_genesis(struct chain_state *s, const struct genesis *g)
{
    memset(s, 0, sizeof(*s));
    if (strlen(g->chain_id) > HEADER_CHAIN_ID_MAX || g->initial_height < 1)
        return PX_EINVAL;
    if (g->n_validators > VALIDATOR_SET_MAX)
        return PX_EBOUND;
    memcpy(s->chain_id, g->chain_id, strlen(g->chain_id) + 1);
    s->initial_height = (uint64_t)g->initial_height;
    s->genesis_time_ns = g->genesis_time_ns;
    s->last_height = s->initial_height - 1;
    block_id_set_nil(&s->last_block_id);
    s->last_block_time_ns = g->genesis_time_ns;
    s->last_validators.count = 0;
    s->last_validators.proposer_index = -1;
    if (g->n_validators == 0) { /* the app's InitChain is to give them */
        s->validators = s->last_validators;
        s->next_validators = s->last_validators;
        return genesis_rest(s, g);
    }
    struct validator *vals = calloc(g->n_validators, sizeof(*vals));
    if (!vals)
        return PX_ENOMEM;
    for (size_t i = 0; i < g->n_validators; i++) {
        memcpy(vals[i].address, g->validators[i].address, VALIDATOR_ADDRESS_SIZE);
        memcpy(vals[i].pub_key, g->validators[i].pub_key, VALIDATOR_PUBKEY_SIZE);
        vals[i].voting_power = g->validators[i].power;
    }
    int err = validator_set_init(&s->validators, vals, (uint32_t)g->n_validators);
    free(vals);
    if (err)
        return err;
    validator_set_copy(&s->next_validators, &s->validators);
    err = validator_set_increment_proposer_priority(&s->next_validators, 1);
    if (err)
        return err;
    return genesis_rest(s, g);
}

/* Params, app hash and results of "no block" from the genesis. */
static int genesis_rest(struct chain_state *s, const struct genesis *g)
{
    s->params.block_max_bytes = g->params.block_max_bytes;
    s->params.block_max_gas = g->params.block_max_gas;
    s->params.evidence_max_age_num_blocks = g->params.evidence_max_age_num_blocks;
    s->params.evidence_max_age_duration_ns = g->params.evidence_max_age_duration_ns;
    s->params.evidence_max_bytes = g->params.evidence_max_bytes;
    s->params.app_version = g->params.app_version;
    if (g->app_hash_len > HEADER_APP_HASH_MAX)
        return PX_EINVAL;
    memcpy(s->app_hash, g->app_hash, g->app_hash_len);
    s->app_hash_len = (uint32_t)g->app_hash_len;
    /* results of "no block": the merkle root of nothing */
    crypto_hash_sha256(s->last_results_hash, NULL, 0);
    return 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void chainstate_params_hash(const struct chain_params *p, uint8_t out[HEADER_HASH_SIZE])
{
    uint8_t buf[6 * 8];
    put_be64(buf, (uint64_t)p->block_max_bytes);
    put_be64(buf + 8, (uint64_t)p->block_max_gas);
    put_be64(buf + 16, (uint64_t)p->evidence_max_age_num_blocks);
    put_be64(buf + 24, (uint64_t)p->evidence_max_age_duration_ns);
    put_be64(buf + 32, (uint64_t)p->evidence_max_bytes);
    put_be64(buf + 40, p->app_version);
    crypto_hash_sha256(out, buf, sizeof(buf));
}

/* ---- stored form --------------------------------------------------------------------- */

static void w_blob(struct px_wbuf *w, const void *data, size_t n)
{
    px_wbuf_u32(w, (uint32_t)n);
    px_wbuf_put(w, data, n);
}

static int w_valset(struct px_wbuf *w, const struct validator_set *vs)
{
    if (vs->count == 0) {
        px_wbuf_u32(w, 0);
        return 0;
    }
    uint8_t *enc = NULL;
    size_t n = 0;
    int err = codec_validator_set_encode(vs, &enc, &n);
    if (err)
        return err;
    w_blob(w, enc, n);
    free(enc);
    return 0;
}

static void w_block_id(struct px_wbuf *w, const struct block_id *id)
{
    px_wbuf_put(w, id->hash, BLOCK_ID_HASH_SIZE);
    px_wbuf_u32(w, id->parts.total);
    px_wbuf_put(w, id->parts.hash, BLOCK_ID_HASH_SIZE);
}

int chainstate_encode(const struct chain_state *s, uint8_t **out, size_t *len)
{
    struct px_wbuf w = {0};
    px_wbuf_put(&w, MAGIC, 4);
    px_wbuf_u32(&w, VERSION);
    w_blob(&w, s->chain_id, strlen(s->chain_id));
    px_wbuf_u64(&w, s->initial_height);
    px_wbuf_u64(&w, s->genesis_time_ns);
    px_wbuf_u64(&w, s->last_height);
    w_block_id(&w, &s->last_block_id);
    px_wbuf_u64(&w, s->last_block_time_ns);
    int err = w_valset(&w, &s->validators);
    if (!err)
        err = w_valset(&w, &s->next_validators);
    if (!err)
        err = w_valset(&w, &s->last_validators);
    px_wbuf_u64(&w, (uint64_t)s->params.block_max_bytes);
    px_wbuf_u64(&w, (uint64_t)s->params.block_max_gas);
    px_wbuf_u64(&w, (uint64_t)s->params.evidence_max_age_num_blocks);
    px_wbuf_u64(&w, (uint64_t)s->params.evidence_max_age_duration_ns);
    px_wbuf_u64(&w, (uint64_t)s->params.evidence_max_bytes);
    px_wbuf_u64(&w, s->params.app_version);
    w_blob(&w, s->app_hash, s->app_hash_len);
    px_wbuf_put(&w, s->last_results_hash, HEADER_HASH_SIZE);
    if (err || w.oom) {
        free(w.p);
        return err ? err : PX_ENOMEM;
    }
    *out = w.p;
    *len = w.len;
    return 0;
}

static void r_block_id(struct px_rbuf *r, struct block_id *id)
{
    px_rbuf_get(r, id->hash, BLOCK_ID_HASH_SIZE);
    id->parts.total = px_rbuf_u32(r);
    px_rbuf_get(r, id->parts.hash, BLOCK_ID_HASH_SIZE);
}

static int r_valset(struct px_rbuf *r, struct validator_set *vs)
{
    uint32_t n = px_rbuf_u32(r);
    if (r->bad)
        return PX_EDECODE;
    if (n == 0) {
        vs->count = 0;
        vs->proposer_index = -1;
        vs->total_voting_power = 0;
        return 0;
    }
    const uint8_t *b = px_rbuf_take(r, n);
    if (!b)
        return PX_EDECODE;
    return codec_validator_set_decode(b, n, vs) == 0 ? 0 : PX_EDECODE;
}

int chainstate_decode(const uint8_t *buf, size_t len, struct chain_state *s)
{
    memset(s, 0, sizeof(*s));
    struct px_rbuf r = {buf, len, 0, false};
    const uint8_t *magic = px_rbuf_take(&r, 4);
    if (!magic || memcmp(magic, MAGIC, 4) != 0 || px_rbuf_u32(&r) != VERSION)
        return PX_EDECODE;
    uint32_t idlen = px_rbuf_u32(&r);
    if (idlen > HEADER_CHAIN_ID_MAX)
        return PX_EDECODE;
    px_rbuf_get(&r, s->chain_id, idlen);
    s->chain_id[idlen] = '\0';
    s->initial_height = px_rbuf_u64(&r);
    s->genesis_time_ns = px_rbuf_u64(&r);
    s->last_height = px_rbuf_u64(&r);
    r_block_id(&r, &s->last_block_id);
    s->last_block_time_ns = px_rbuf_u64(&r);
    if (r_valset(&r, &s->validators) || r_valset(&r, &s->next_validators) ||
        r_valset(&r, &s->last_validators))
        return PX_EDECODE;
    s->params.block_max_bytes = (int64_t)px_rbuf_u64(&r);
    s->params.block_max_gas = (int64_t)px_rbuf_u64(&r);
    s->params.evidence_max_age_num_blocks = (int64_t)px_rbuf_u64(&r);
    s->params.evidence_max_age_duration_ns = (int64_t)px_rbuf_u64(&r);
    s->params.evidence_max_bytes = (int64_t)px_rbuf_u64(&r);
    s->params.app_version = px_rbuf_u64(&r);
    s->app_hash_len = px_rbuf_u32(&r);
    if (s->app_hash_len > HEADER_APP_HASH_MAX)
        return PX_EDECODE;
    px_rbuf_get(&r, s->app_hash, s->app_hash_len);
    px_rbuf_get(&r, s->last_results_hash, HEADER_HASH_SIZE);
    if (r.bad || r.off != r.len || s->validators.count == 0)
        return PX_EDECODE;
    return 0;
}
