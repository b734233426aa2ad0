/*
 * commit: the commit of a height, its hash and its verification against a validator set
 * (see commit.h). Must never count power for a slot whose address is not the set's at
 * that index, nor accept a commit with any invalid signature.
 */
#include "commit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "merkle.h"
#include "px_error.h"

static int why_fail(char *why, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int why_fail(char *why, size_t cap, int rc, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

void commit_init_empty(struct commit *c)
{
    memset(c, 0, sizeof(*c));
}

int commit_init(struct commit *c, uint64_t height, int32_t round, const struct block_id *id,
                uint32_t n)
{
    commit_init_empty(c);
    if (n > VALIDATOR_SET_MAX)
        return PX_EBOUND;
    if (n) {
        c->sigs = calloc(n, sizeof(*c->sigs));
        if (!c->sigs)
            return PX_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        c->sigs[i].flag = COMMIT_FLAG_ABSENT;
    c->height = height;
    c->round = round;
    c->block_id = *id;
    c->count = n;
    return 0;
}

void commit_fini(struct commit *c)
{
    free(c->sigs);
    commit_init_empty(c);
}

int commit_copy(struct commit *dst, const struct commit *src)
{
    int rc = commit_init(dst, src->height, src->round, &src->block_id, src->count);
    if (rc != 0)
        return rc;
    if (src->count)
        memcpy(dst->sigs, src->sigs, src->count * sizeof(*src->sigs));
    return 0;
}

int commit_add_vote(struct commit *c, uint32_t index, const struct vote *v)
{
    if (index >= c->count || v->type != VOTE_TYPE_PRECOMMIT || v->height != c->height ||
        v->round != c->round || v->validator_index < 0 || (uint32_t)v->validator_index != index)
        return PX_EINVAL;
    struct commit_sig *s = &c->sigs[index];
    if (block_id_is_nil(&v->block_id))
        s->flag = COMMIT_FLAG_NIL;
    else if (block_id_equal(&v->block_id, &c->block_id))
        s->flag = COMMIT_FLAG_COMMIT;
    else
        return PX_EINVAL;
    memcpy(s->validator_address, v->validator_address, VOTE_ADDRESS_SIZE);
    s->timestamp_ns = v->timestamp_ns;
    memcpy(s->signature, v->signature, VOTE_SIGNATURE_SIZE);
    return 0;
}

int commit_get_vote(const struct commit *c, uint32_t index, struct vote *out)
{
    if (index >= c->count || c->sigs[index].flag == COMMIT_FLAG_ABSENT)
        return PX_EINVAL;
    const struct commit_sig *s = &c->sigs[index];
    memset(out, 0, sizeof(*out));
    out->type = VOTE_TYPE_PRECOMMIT;
    out->height = c->height;
    out->round = c->round;
    if (s->flag == COMMIT_FLAG_COMMIT)
        out->block_id = c->block_id;
    else
        block_id_set_nil(&out->block_id);
    out->timestamp_ns = s->timestamp_ns;
    memcpy(out->validator_address, s->validator_address, VOTE_ADDRESS_SIZE);
    out->validator_index = (int32_t)index;
    memcpy(out->signature, s->signature, VOTE_SIGNATURE_SIZE);
    return 0;
}

int commit_validate_basic(const struct commit *c)
{
    if (c->height == 0)
        return c->count == 0 && c->round == 0 && block_id_is_nil(&c->block_id) ? 0 : PX_EINVAL;
    if (c->height > INT64_MAX || c->round < 0 || !block_id_is_complete(&c->block_id) ||
        c->count == 0 || c->count > VALIDATOR_SET_MAX || !c->sigs)
        return PX_EINVAL;
    for (uint32_t i = 0; i < c->count; i++) {
        const struct commit_sig *s = &c->sigs[i];
        switch (s->flag) {
        case COMMIT_FLAG_ABSENT:
            if (!all_zero(s->validator_address, VOTE_ADDRESS_SIZE) ||
                !all_zero(s->signature, VOTE_SIGNATURE_SIZE) || s->timestamp_ns != 0)
                return PX_EINVAL;
            break;
        case COMMIT_FLAG_COMMIT:
        case COMMIT_FLAG_NIL:
            if (all_zero(s->signature, VOTE_SIGNATURE_SIZE))
                return PX_EINVAL;
            break;
        default:
            return PX_EINVAL;
        }
    }
    return 0;
}

int commit_hash(const struct commit *c, uint8_t out[COMMIT_HASH_SIZE])
{
    if (c->count > VALIDATOR_SET_MAX || (c->count && !c->sigs))
        return PX_EINVAL;
    if (c->count == 0) {
        merkle_empty_hash(out);
        return 0;
    }
    uint8_t(*lh)[MERKLE_HASH_SIZE] = malloc(c->count * sizeof(*lh));
    if (!lh)
        return PX_ENOMEM;
    for (uint32_t i = 0; i < c->count; i++) {
        uint8_t buf[CODEC_COMMIT_SIG_MAX];
        size_t len;
        int rc = codec_commit_sig_bytes(&c->sigs[i], buf, &len);
        if (rc != 0) {
            free(lh);
            return rc;
        }
        merkle_leaf_hash(buf, len, lh[i]);
    }
    merkle_root_from_leaf_hashes((const uint8_t(*)[MERKLE_HASH_SIZE])lh, c->count, out);
    free(lh);
    return 0;
}

int commit_verify(const struct commit *c, const char *chain_id, const struct validator_set *vals,
                  const struct block_id *id, uint64_t height, sign_bytes_verify_fn fn, void *user,
                  char *why, size_t why_cap)
{
    if (commit_validate_basic(c) != 0)
        return why_fail(why, why_cap, PX_EINVAL, "commit is malformed");
    if (c->height != height)
        return why_fail(why, why_cap, PX_EINVAL, "commit is for height %llu, expected %llu",
                        (unsigned long long)c->height, (unsigned long long)height);
    if (!block_id_equal(&c->block_id, id))
        return why_fail(why, why_cap, PX_EINVAL, "commit at height %llu is for another block",
                        (unsigned long long)height);
    if (c->count != vals->count)
        return why_fail(why, why_cap, PX_EINVAL,
                        "commit at height %llu has %u signature slots for %u validators",
                        (unsigned long long)height, c->count, vals->count);
    int64_t power = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        const struct commit_sig *s = &c->sigs[i];
        if (s->flag == COMMIT_FLAG_ABSENT)
            continue;
        const struct validator *v = &vals->validators[i];
        if (memcmp(s->validator_address, v->address, VOTE_ADDRESS_SIZE) != 0)
            return why_fail(why, why_cap, PX_EINVAL,
                            "commit at height %llu: slot %u is not signed by validator %u's "
                            "address",
                            (unsigned long long)height, i, i);
        struct vote vote;
        commit_get_vote(c, i, &vote);
        int rc = sign_bytes_vote_verify(&vote, chain_id, v->pub_key, fn, user);
        if (rc == PX_ECRYPTO)
            return why_fail(why, why_cap, PX_ECRYPTO,
                            "commit at height %llu: invalid signature of validator %u",
                            (unsigned long long)height, i);
        if (rc != 0)
            return why_fail(why, why_cap, rc, "commit at height %llu: bad chain id",
                            (unsigned long long)height);
        if (s->flag == COMMIT_FLAG_COMMIT)
            power += v->voting_power;
    }
    if (!validator_set_is_two_thirds(power, vals->total_voting_power))
        return why_fail(why, why_cap, PX_EINVAL,
                        "commit at height %llu has power %lld of %lld: not more than 2/3",
                        (unsigned long long)height, (long long)power,
                        (long long)vals->total_voting_power);
    return 0;
}
