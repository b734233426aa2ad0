/*
 * walcodec: see walcodec.h. A tiny cursor writer/reader over fixed buffers; never reads
 * past the payload and never trusts a length from it.
 */
#include "walcodec.h"

#include "px_error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define VERSION 1

struct w {
    uint8_t *p;
    size_t off, cap;
};

/* Writes past cap are counted but not stored: a first pass with cap 0 measures. */
static void put(struct w *w, const void *d, size_t n)
{
    if (w->off + n <= w->cap)
        memcpy(w->p + w->off, d, n);
    w->off += n;
}

static void put_u64(struct w *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}

static void put_u32(struct w *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}

static void put_u8(struct w *w, uint8_t v)
{
    put(w, &v, 1);
}

static void put_bid(struct w *w, const struct block_id *id)
{
    put(w, id->hash, BLOCK_ID_HASH_SIZE);
    put_u32(w, id->parts.total);
    put(w, id->parts.hash, BLOCK_ID_HASH_SIZE);
}

static void put_vote(struct w *w, const struct vote *v)
{
    put_u8(w, (uint8_t)v->type);
    put_u64(w, v->height);
    put_u32(w, (uint32_t)v->round);
    put_bid(w, &v->block_id);
    put_u64(w, v->timestamp_ns);
    put(w, v->validator_address, VOTE_ADDRESS_SIZE);
    put_u32(w, (uint32_t)v->validator_index);
    put(w, v->signature, VOTE_SIGNATURE_SIZE);
}

static void put_proposal(struct w *w, const struct proposal *p)
{
    put_u64(w, p->height);
    put_u32(w, (uint32_t)p->round);
    put_u32(w, (uint32_t)p->pol_round);
    put_bid(w, &p->block_id);
    put_u64(w, p->timestamp_ns);
    put(w, p->signature, PROPOSAL_SIGNATURE_SIZE);
}

static void encode_input(struct w *w0, const struct cs_input *in)
{
    struct w w = *w0;
    put_u8(&w, WALCODEC_INPUT);
    put_u8(&w, VERSION);
    put_u8(&w, (uint8_t)in->type);
    put_u64(&w, in->now_ns);
    put_u64(&w, in->wall_ns);
    switch (in->type) {
    case CS_INPUT_START_HEIGHT:
        put_u64(&w, in->u.start.height);
        break;
    case CS_INPUT_PROPOSAL:
        put_proposal(&w, &in->u.proposal.proposal);
        put_u32(&w, (uint32_t)in->u.proposal.validator_index);
        break;
    case CS_INPUT_OWN_PROPOSAL:
        put_proposal(&w, &in->u.proposal.proposal);
        put_u32(&w, (uint32_t)in->u.proposal.validator_index);
        break;
    case CS_INPUT_VOTE:
    case CS_INPUT_OWN_VOTE:
        put_vote(&w, &in->u.vote);
        break;
    case CS_INPUT_BLOCK_COMPLETE:
        put_u64(&w, in->u.block.height);
        put_bid(&w, &in->u.block.block_id);
        break;
    case CS_INPUT_TIMEOUT:
        put_u64(&w, in->u.timeout.height);
        put_u32(&w, (uint32_t)in->u.timeout.round);
        put_u8(&w, (uint8_t)in->u.timeout.step);
        break;
    case CS_INPUT_PROPOSAL_BUILT:
        put_u64(&w, in->u.built.height);
        put_u32(&w, (uint32_t)in->u.built.round);
        put_bid(&w, &in->u.built.block_id);
        break;
    case CS_INPUT_BLOCK_VALIDATED:
        put_u64(&w, in->u.validated.height);
        put_bid(&w, &in->u.validated.block_id);
        put_u8(&w, in->u.validated.valid ? 1 : 0);
        break;
    case CS_INPUT_COMMIT:
        put_u64(&w, in->u.commit.height);
        put_u32(&w, (uint32_t)in->u.commit.round);
        put_bid(&w, &in->u.commit.block_id);
        put_u32(&w, in->u.commit.count);
        for (uint32_t i = 0; i < in->u.commit.count; i++)
            put_vote(&w, &in->u.commit.votes[i]);
        break;
    }
    *w0 = w;
}

int walcodec_encode_input(const struct cs_input *in, uint8_t **out, size_t *len)
{
    struct w m = {NULL, 0, 0};
    encode_input(&m, in);
    uint8_t *buf = malloc(m.off);
    if (!buf)
        return PX_ENOMEM;
    struct w w = {buf, 0, m.off};
    encode_input(&w, in);
    *out = buf;
    *len = w.off;
    return 0;
}

size_t walcodec_encode_block_header(uint64_t height, const struct block_id *id,
                                    uint8_t buf[WALCODEC_BLOCK_HEADER])
{
    struct w w = {buf, 0, WALCODEC_BLOCK_HEADER};
    put_u8(&w, WALCODEC_BLOCK);
    put_u8(&w, VERSION);
    put_u64(&w, height);
    put_bid(&w, id);
    return w.off;
}

struct r {
    const uint8_t *p;
    size_t off, len;
    bool bad;
};

static void get(struct r *r, void *d, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        memset(d, 0, n);
        return;
    }
    memcpy(d, r->p + r->off, n);
    r->off += n;
}

static uint64_t get_u64(struct r *r)
{
    uint8_t b[8];
    get(r, b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static uint32_t get_u32(struct r *r)
{
    uint8_t b[4];
    get(r, b, 4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static uint8_t get_u8(struct r *r)
{
    uint8_t b;
    get(r, &b, 1);
    return b;
}

static void get_bid(struct r *r, struct block_id *id)
{
    get(r, id->hash, BLOCK_ID_HASH_SIZE);
    id->parts.total = get_u32(r);
    get(r, id->parts.hash, BLOCK_ID_HASH_SIZE);
}

static void get_vote(struct r *r, struct vote *v)
{
    v->type = (enum vote_type)get_u8(r);
    v->height = get_u64(r);
    v->round = (int32_t)get_u32(r);
    get_bid(r, &v->block_id);
    v->timestamp_ns = get_u64(r);
    get(r, v->validator_address, VOTE_ADDRESS_SIZE);
    v->validator_index = (int32_t)get_u32(r);
    get(r, v->signature, VOTE_SIGNATURE_SIZE);
}

static void get_proposal(struct r *r, struct proposal *p)
{
    p->height = get_u64(r);
    p->round = (int32_t)get_u32(r);
    p->pol_round = (int32_t)get_u32(r);
    get_bid(r, &p->block_id);
    p->timestamp_ns = get_u64(r);
    get(r, p->signature, PROPOSAL_SIGNATURE_SIZE);
}

int walcodec_decode(const uint8_t *buf, size_t len, enum walcodec_kind *kind, struct cs_input *in,
                    struct vote *votes, uint32_t votes_cap, uint64_t *height, struct block_id *id,
                    const uint8_t **block, size_t *block_len)
{
    struct r r = {buf, 0, len, false};
    uint8_t k = get_u8(&r);
    if (get_u8(&r) != VERSION || r.bad)
        return PX_EDECODE;
    if (k == WALCODEC_BLOCK) {
        *kind = WALCODEC_BLOCK;
        *height = get_u64(&r);
        get_bid(&r, id);
        if (r.bad)
            return PX_EDECODE;
        *block = buf + r.off;
        *block_len = len - r.off;
        return 0;
    }
    if (k != WALCODEC_INPUT)
        return PX_EDECODE;
    *kind = WALCODEC_INPUT;
    memset(in, 0, sizeof(*in));
    in->type = (enum cs_input_type)get_u8(&r);
    in->now_ns = get_u64(&r);
    in->wall_ns = get_u64(&r);
    switch (in->type) {
    case CS_INPUT_START_HEIGHT:
        in->u.start.height = get_u64(&r);
        break;
    case CS_INPUT_PROPOSAL:
    case CS_INPUT_OWN_PROPOSAL:
        get_proposal(&r, &in->u.proposal.proposal);
        in->u.proposal.validator_index = (int32_t)get_u32(&r);
        break;
    case CS_INPUT_VOTE:
    case CS_INPUT_OWN_VOTE:
        get_vote(&r, &in->u.vote);
        break;
    case CS_INPUT_BLOCK_COMPLETE:
        in->u.block.height = get_u64(&r);
        get_bid(&r, &in->u.block.block_id);
        break;
    case CS_INPUT_TIMEOUT:
        in->u.timeout.height = get_u64(&r);
        in->u.timeout.round = (int32_t)get_u32(&r);
        in->u.timeout.step = (enum cs_step)get_u8(&r);
        break;
    case CS_INPUT_PROPOSAL_BUILT:
        in->u.built.height = get_u64(&r);
        in->u.built.round = (int32_t)get_u32(&r);
        get_bid(&r, &in->u.built.block_id);
        break;
    case CS_INPUT_BLOCK_VALIDATED:
        in->u.validated.height = get_u64(&r);
        get_bid(&r, &in->u.validated.block_id);
        in->u.validated.valid = get_u8(&r) != 0;
        break;
    case CS_INPUT_COMMIT:
        in->u.commit.height = get_u64(&r);
        in->u.commit.round = (int32_t)get_u32(&r);
        get_bid(&r, &in->u.commit.block_id);
        in->u.commit.count = get_u32(&r);
        if (in->u.commit.count > votes_cap)
            return PX_EBOUND;
        for (uint32_t i = 0; i < in->u.commit.count; i++)
            get_vote(&r, &votes[i]);
        in->u.commit.votes = votes;
        break;
    default:
        return PX_EDECODE;
    }
    if (r.bad || r.off != len)
        return PX_EDECODE;
    return 0;
}

uint64_t walcodec_input_height(const struct cs_input *in)
{
    switch (in->type) {
    case CS_INPUT_START_HEIGHT:
        return in->u.start.height;
    case CS_INPUT_PROPOSAL:
    case CS_INPUT_OWN_PROPOSAL:
        return in->u.proposal.proposal.height;
    case CS_INPUT_VOTE:
    case CS_INPUT_OWN_VOTE:
        return in->u.vote.height;
    case CS_INPUT_BLOCK_COMPLETE:
        return in->u.block.height;
    case CS_INPUT_TIMEOUT:
        return in->u.timeout.height;
    case CS_INPUT_PROPOSAL_BUILT:
        return in->u.built.height;
    case CS_INPUT_BLOCK_VALIDATED:
        return in->u.validated.height;
    case CS_INPUT_COMMIT:
        return in->u.commit.height;
    }
    return 0;
}
