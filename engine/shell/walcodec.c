/*
 * walcodec: see walcodec.h. Little-endian fields through px_bytes; never reads past the
 * payload and never trusts a length from it.
 */
#include "walcodec.h"

#include "px_bytes.h"
#include "px_error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define VERSION 1

static void put_bid(struct px_wbuf *w, const struct block_id *id)
{
    px_wbuf_put(w, id->hash, BLOCK_ID_HASH_SIZE);
    px_wbuf_u32(w, id->parts.total);
    px_wbuf_put(w, id->parts.hash, BLOCK_ID_HASH_SIZE);
}

static void put_vote(struct px_wbuf *w, const struct vote *v)
{
    px_wbuf_u8(w, (uint8_t)v->type);
    px_wbuf_u64(w, v->height);
    px_wbuf_u32(w, (uint32_t)v->round);
    put_bid(w, &v->block_id);
    px_wbuf_u64(w, v->timestamp_ns);
    px_wbuf_put(w, v->validator_address, VOTE_ADDRESS_SIZE);
    px_wbuf_u32(w, (uint32_t)v->validator_index);
    px_wbuf_put(w, v->signature, VOTE_SIGNATURE_SIZE);
}

static void put_proposal(struct px_wbuf *w, const struct proposal *p)
{
    px_wbuf_u64(w, p->height);
    px_wbuf_u32(w, (uint32_t)p->round);
    px_wbuf_u32(w, (uint32_t)p->pol_round);
    put_bid(w, &p->block_id);
    px_wbuf_u64(w, p->timestamp_ns);
    px_wbuf_put(w, p->signature, PROPOSAL_SIGNATURE_SIZE);
}

static void encode_input(struct px_wbuf *w, const struct cs_input *in)
{
    px_wbuf_u8(w, WALCODEC_INPUT);
    px_wbuf_u8(w, VERSION);
    px_wbuf_u8(w, (uint8_t)in->type);
    px_wbuf_u64(w, in->now_ns);
    px_wbuf_u64(w, in->wall_ns);
    switch (in->type) {
    case CS_INPUT_START_HEIGHT:
        px_wbuf_u64(w, in->u.start.height);
        break;
    case CS_INPUT_PROPOSAL:
        put_proposal(w, &in->u.proposal.proposal);
        px_wbuf_u32(w, (uint32_t)in->u.proposal.validator_index);
        break;
    case CS_INPUT_OWN_PROPOSAL:
        put_proposal(w, &in->u.proposal.proposal);
        px_wbuf_u32(w, (uint32_t)in->u.proposal.validator_index);
        break;
    case CS_INPUT_VOTE:
    case CS_INPUT_OWN_VOTE:
        put_vote(w, &in->u.vote);
        break;
    case CS_INPUT_BLOCK_COMPLETE:
        px_wbuf_u64(w, in->u.block.height);
        put_bid(w, &in->u.block.block_id);
        break;
    case CS_INPUT_TIMEOUT:
        px_wbuf_u64(w, in->u.timeout.height);
        px_wbuf_u32(w, (uint32_t)in->u.timeout.round);
        px_wbuf_u8(w, (uint8_t)in->u.timeout.step);
        break;
    case CS_INPUT_PROPOSAL_BUILT:
        px_wbuf_u64(w, in->u.built.height);
        px_wbuf_u32(w, (uint32_t)in->u.built.round);
        put_bid(w, &in->u.built.block_id);
        break;
    case CS_INPUT_BLOCK_VALIDATED:
        px_wbuf_u64(w, in->u.validated.height);
        put_bid(w, &in->u.validated.block_id);
        px_wbuf_u8(w, in->u.validated.valid ? 1 : 0);
        break;
    case CS_INPUT_COMMIT:
        px_wbuf_u64(w, in->u.commit.height);
        px_wbuf_u32(w, (uint32_t)in->u.commit.round);
        put_bid(w, &in->u.commit.block_id);
        px_wbuf_u32(w, in->u.commit.count);
        for (uint32_t i = 0; i < in->u.commit.count; i++)
            put_vote(w, &in->u.commit.votes[i]);
        break;
    }
}

int walcodec_encode_input(const struct cs_input *in, uint8_t **out, size_t *len)
{
    struct px_wbuf w = {0};
    encode_input(&w, in);
    if (w.oom) {
        free(w.p);
        return PX_ENOMEM;
    }
    *out = w.p;
    *len = w.len;
    return 0;
}

size_t walcodec_encode_block_header(uint64_t height, const struct block_id *id,
                                    uint8_t buf[WALCODEC_BLOCK_HEADER])
{
    /* 2 + 8 + 32 + 4 + 32 = 78 bytes, within WALCODEC_BLOCK_HEADER */
    uint8_t tmp[WALCODEC_BLOCK_HEADER];
    size_t n = 0;
    tmp[n++] = WALCODEC_BLOCK;
    tmp[n++] = VERSION;
    for (int i = 0; i < 8; i++)
        tmp[n++] = (uint8_t)(height >> (8 * i));
    memcpy(tmp + n, id->hash, BLOCK_ID_HASH_SIZE);
    n += BLOCK_ID_HASH_SIZE;
    for (int i = 0; i < 4; i++)
        tmp[n++] = (uint8_t)(id->parts.total >> (8 * i));
    memcpy(tmp + n, id->parts.hash, BLOCK_ID_HASH_SIZE);
    n += BLOCK_ID_HASH_SIZE;
    memcpy(buf, tmp, n);
    return n;
}

static void get_bid(struct px_rbuf *r, struct block_id *id)
{
    px_rbuf_get(r, id->hash, BLOCK_ID_HASH_SIZE);
    id->parts.total = px_rbuf_u32(r);
    px_rbuf_get(r, id->parts.hash, BLOCK_ID_HASH_SIZE);
}

static void get_vote(struct px_rbuf *r, struct vote *v)
{
    v->type = (enum vote_type)px_rbuf_u8(r);
    v->height = px_rbuf_u64(r);
    v->round = (int32_t)px_rbuf_u32(r);
    get_bid(r, &v->block_id);
    v->timestamp_ns = px_rbuf_u64(r);
    px_rbuf_get(r, v->validator_address, VOTE_ADDRESS_SIZE);
    v->validator_index = (int32_t)px_rbuf_u32(r);
    px_rbuf_get(r, v->signature, VOTE_SIGNATURE_SIZE);
}

static void get_proposal(struct px_rbuf *r, struct proposal *p)
{
    p->height = px_rbuf_u64(r);
    p->round = (int32_t)px_rbuf_u32(r);
    p->pol_round = (int32_t)px_rbuf_u32(r);
    get_bid(r, &p->block_id);
    p->timestamp_ns = px_rbuf_u64(r);
    px_rbuf_get(r, p->signature, PROPOSAL_SIGNATURE_SIZE);
}

int walcodec_decode(const uint8_t *buf, size_t len, enum walcodec_kind *kind, struct cs_input *in,
                    struct vote *votes, uint32_t votes_cap, uint64_t *height, struct block_id *id,
                    const uint8_t **block, size_t *block_len)
{
    struct px_rbuf r = {buf, len, 0, false};
    uint8_t k = px_rbuf_u8(&r);
    if (px_rbuf_u8(&r) != VERSION || r.bad)
        return PX_EDECODE;
    if (k == WALCODEC_BLOCK) {
        *kind = WALCODEC_BLOCK;
        *height = px_rbuf_u64(&r);
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
    in->type = (enum cs_input_type)px_rbuf_u8(&r);
    in->now_ns = px_rbuf_u64(&r);
    in->wall_ns = px_rbuf_u64(&r);
    switch (in->type) {
    case CS_INPUT_START_HEIGHT:
        in->u.start.height = px_rbuf_u64(&r);
        break;
    case CS_INPUT_PROPOSAL:
    case CS_INPUT_OWN_PROPOSAL:
        get_proposal(&r, &in->u.proposal.proposal);
        in->u.proposal.validator_index = (int32_t)px_rbuf_u32(&r);
        break;
    case CS_INPUT_VOTE:
    case CS_INPUT_OWN_VOTE:
        get_vote(&r, &in->u.vote);
        break;
    case CS_INPUT_BLOCK_COMPLETE:
        in->u.block.height = px_rbuf_u64(&r);
        get_bid(&r, &in->u.block.block_id);
        break;
    case CS_INPUT_TIMEOUT:
        in->u.timeout.height = px_rbuf_u64(&r);
        in->u.timeout.round = (int32_t)px_rbuf_u32(&r);
        in->u.timeout.step = (enum cs_step)px_rbuf_u8(&r);
        break;
    case CS_INPUT_PROPOSAL_BUILT:
        in->u.built.height = px_rbuf_u64(&r);
        in->u.built.round = (int32_t)px_rbuf_u32(&r);
        get_bid(&r, &in->u.built.block_id);
        break;
    case CS_INPUT_BLOCK_VALIDATED:
        in->u.validated.height = px_rbuf_u64(&r);
        get_bid(&r, &in->u.validated.block_id);
        in->u.validated.valid = px_rbuf_u8(&r) != 0;
        break;
    case CS_INPUT_COMMIT:
        in->u.commit.height = px_rbuf_u64(&r);
        in->u.commit.round = (int32_t)px_rbuf_u32(&r);
        get_bid(&r, &in->u.commit.block_id);
        in->u.commit.count = px_rbuf_u32(&r);
        if (in->u.commit.count > votes_cap)
            return PX_EBOUND;
        for (uint32_t i = 0; i < in->u.commit.count; i++)
            get_vote(&r, &votes[i]);
        in->u.commit.votes = votes;
        break;
    default:
        return PX_EDECODE;
    }
    if (r.bad || r.off != r.len)
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
