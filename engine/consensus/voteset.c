/*
 * voteset: one (height, round, type) of votes (see voteset.h). Power is summed per block
 * id with linear search over at most 2 * capacity + 1 distinct ids (a validator's first
 * and second different votes count, each for its own block). Never allocates, never does
 * I/O.
 */
#include "voteset.h"

#include <assert.h>
#include <string.h>

#include "px_error.h"

void voteset_init(struct voteset *vs, struct vote *votes, struct vote *votes2, uint8_t *flags,
                  struct voteset_tally *tallies, uint32_t capacity)
{
    memset(vs, 0, sizeof(*vs));
    vs->votes = votes;
    vs->votes2 = votes2;
    vs->flags = flags;
    vs->tallies = tallies;
    vs->capacity = capacity;
    vs->maj23 = -1;
    vs->round = -1;
}

int voteset_reset(struct voteset *vs, uint64_t height, int32_t round, enum vote_type type,
                  const struct validator_set *vals)
{
    if (vals->count > vs->capacity) {
        return PX_EBOUND;
    }
    vs->height = height;
    vs->round = round;
    vs->type = type;
    vs->vals = vals;
    memset(vs->flags, 0, vs->capacity);
    vs->n_tallies = 0;
    vs->n_votes = 0;
    vs->sum = 0;
    vs->maj23 = -1;
    return 0;
}

static int32_t tally_find(const struct voteset *vs, const struct block_id *id)
{
    for (uint32_t i = 0; i < vs->n_tallies; i++) {
        if (block_id_equal(&vs->tallies[i].block_id, id)) {
            return (int32_t)i;
        }
    }
    return -1;
}

static void tally_remove(struct voteset *vs, int32_t t)
{
    int32_t last = (int32_t)vs->n_tallies - 1;
    vs->tallies[t] = vs->tallies[last];
    if (vs->maj23 == last) {
        vs->maj23 = t;
    }
    vs->n_tallies--;
}

static int32_t tally_get(struct voteset *vs, const struct block_id *id)
{
    int32_t t = tally_find(vs, id);
    if (t < 0) {
        /* At most one tally per vote kept: n_tallies <= 2 * capacity. */
        assert(vs->n_tallies < 2 * vs->capacity + 1);
        t = (int32_t)vs->n_tallies++;
        vs->tallies[t].block_id = *id;
        vs->tallies[t].power = 0;
    }
    return t;
}

static void check_maj23(struct voteset *vs, int32_t t)
{
    if (vs->maj23 < 0 &&
        validator_set_is_two_thirds(vs->tallies[t].power, vs->vals->total_voting_power)) {
        vs->maj23 = t;
    }
}

/* A third vote of validator idx: take it instead of its second if the other validators
 * give its block more power than they give the second's (never moving a majority). */
static bool replace_second(struct voteset *vs, uint32_t idx, const struct vote *v, int64_t power)
{
    int32_t old = tally_find(vs, &vs->votes2[idx].block_id);
    assert(old >= 0);
    if (old == vs->maj23) {
        return false;
    }
    int32_t t = tally_find(vs, &v->block_id);
    int64_t support_new = t < 0 ? 0 : vs->tallies[t].power;
    int64_t support_old = vs->tallies[old].power - power;
    if (support_new <= support_old) {
        return false;
    }
    vs->tallies[old].power -= power;
    if (vs->tallies[old].power == 0) {
        tally_remove(vs, old);
    }
    t = tally_get(vs, &v->block_id);
    vs->tallies[t].power += power;
    vs->votes2[idx] = *v;
    check_maj23(vs, t);
    return true;
}

int voteset_add(struct voteset *vs, const struct vote *v, enum voteset_result *res,
                const struct vote **existing)
{
    const struct validator *val = validator_set_get(vs->vals, v->validator_index);
    if (val == NULL || v->height != vs->height || v->round != vs->round || v->type != vs->type ||
        memcmp(val->address, v->validator_address, VOTE_ADDRESS_SIZE) != 0) {
        return PX_EINVAL;
    }
    uint32_t idx = (uint32_t)v->validator_index;
    bool second = false;
    if (vs->flags[idx] & VOTESET_PRESENT) {
        const struct vote *old = &vs->votes[idx];
        if (block_id_equal(&old->block_id, &v->block_id)) {
            *res = VOTESET_DUPLICATE;
            return 0;
        }
        if (vs->flags[idx] & VOTESET_CONFLICTED) {
            if (block_id_equal(&vs->votes2[idx].block_id, &v->block_id)) {
                *res = VOTESET_DUPLICATE;
            } else {
                *res = replace_second(vs, idx, v, val->voting_power) ? VOTESET_REPLACED
                                                                     : VOTESET_CONFLICT_SEEN;
            }
            return 0;
        }
        second = true;
        if (existing != NULL) {
            *existing = old;
        }
    }
    int32_t t = tally_get(vs, &v->block_id);
    if (second) {
        vs->votes2[idx] = *v;
        vs->flags[idx] |= VOTESET_CONFLICTED;
        *res = VOTESET_CONFLICT;
    } else {
        vs->votes[idx] = *v;
        vs->flags[idx] |= VOTESET_PRESENT;
        vs->n_votes++;
        vs->sum += val->voting_power;
        *res = VOTESET_ADDED;
    }
    vs->tallies[t].power += val->voting_power;
    check_maj23(vs, t);
    return 0;
}

bool voteset_has_two_thirds_majority(const struct voteset *vs, struct block_id *out)
{
    if (vs->maj23 < 0) {
        return false;
    }
    if (out != NULL) {
        *out = vs->tallies[vs->maj23].block_id;
    }
    return true;
}

bool voteset_has_two_thirds_any(const struct voteset *vs)
{
    return vs->vals != NULL && validator_set_is_two_thirds(vs->sum, vs->vals->total_voting_power);
}

int64_t voteset_power_for(const struct voteset *vs, const struct block_id *id)
{
    int32_t t = tally_find(vs, id);
    return t < 0 ? 0 : vs->tallies[t].power;
}

bool voteset_has(const struct voteset *vs, int32_t index)
{
    return index >= 0 && (uint32_t)index < vs->capacity &&
           (vs->flags[index] & VOTESET_PRESENT) != 0;
}

const struct vote *voteset_get(const struct voteset *vs, int32_t index)
{
    return voteset_has(vs, index) ? &vs->votes[index] : NULL;
}

const struct vote *voteset_get_for(const struct voteset *vs, int32_t index,
                                   const struct block_id *id)
{
    if (!voteset_has(vs, index)) {
        return NULL;
    }
    if (block_id_equal(&vs->votes[index].block_id, id)) {
        return &vs->votes[index];
    }
    if ((vs->flags[index] & VOTESET_CONFLICTED) &&
        block_id_equal(&vs->votes2[index].block_id, id)) {
        return &vs->votes2[index];
    }
    return NULL;
}

int voteset_copy(struct voteset *dst, const struct voteset *src)
{
    if (dst->capacity < src->capacity) {
        return PX_EBOUND;
    }
    dst->height = src->height;
    dst->round = src->round;
    dst->type = src->type;
    dst->vals = src->vals;
    memset(dst->flags, 0, dst->capacity);
    memcpy(dst->flags, src->flags, src->capacity);
    for (uint32_t i = 0; i < src->capacity; i++) {
        if (src->flags[i] & VOTESET_PRESENT) {
            dst->votes[i] = src->votes[i];
        }
        if (src->flags[i] & VOTESET_CONFLICTED) {
            dst->votes2[i] = src->votes2[i];
        }
    }
    memcpy(dst->tallies, src->tallies, src->n_tallies * sizeof(src->tallies[0]));
    dst->n_tallies = src->n_tallies;
    dst->n_votes = src->n_votes;
    dst->sum = src->sum;
    dst->maj23 = src->maj23;
    return 0;
}
