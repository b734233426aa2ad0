/*
 * validator_set: proposer priority arithmetic and lookups (see validator_set.h), following
 * CometBFT's types/validator_set.go so that a chain's proposer sequence is the one its
 * operators expect. Never allocates; all arithmetic is clipped to int64 as CometBFT does.
 */
#include "validator_set.h"

#include <stdlib.h>
#include <string.h>

#include "px_error.h"

static int64_t add_clip(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }
    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }
    return a + b;
}

static int64_t sub_clip(int64_t a, int64_t b)
{
    if (b > 0 && a < INT64_MIN + b) {
        return INT64_MIN;
    }
    if (b < 0 && a > INT64_MAX + b) {
        return INT64_MAX;
    }
    return a - b;
}

/* Power descending, then address ascending. */
static int by_power(const struct validator *a, const struct validator *b)
{
    if (a->voting_power != b->voting_power) {
        return a->voting_power > b->voting_power ? -1 : 1;
    }
    return memcmp(a->address, b->address, VALIDATOR_ADDRESS_SIZE);
}

/* Insertion sort: stable, no allocation, n is bounded. */
static void sort_validators(struct validator *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        struct validator x = v[i];
        uint32_t j = i;
        while (j > 0 && by_power(&v[j - 1], &x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static int compare_address(const void *a, const void *b)
{
    return memcmp(a, b, VALIDATOR_ADDRESS_SIZE);
}

static int load(struct validator_set *set, const struct validator *vals, uint32_t n)
{
    if (n == 0 || vals == NULL) {
        return PX_EINVAL;
    }
    if (n > VALIDATOR_SET_MAX) {
        return PX_EBOUND;
    }
    int64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (vals[i].voting_power <= 0) {
            return PX_EINVAL;
        }
        if (vals[i].voting_power > VALIDATOR_SET_MAX_TOTAL_POWER ||
            total > VALIDATOR_SET_MAX_TOTAL_POWER - vals[i].voting_power) {
            return PX_EBOUND;
        }
        total += vals[i].voting_power;
    }
    /* one address, one validator: compared in address order, not in the power order the
     * set is kept in (equal addresses need not be neighbours there) */
    uint8_t addrs[VALIDATOR_SET_MAX][VALIDATOR_ADDRESS_SIZE]; /* 20 KiB of stack */
    for (uint32_t i = 0; i < n; i++)
        memcpy(addrs[i], vals[i].address, VALIDATOR_ADDRESS_SIZE);
    qsort(addrs, n, VALIDATOR_ADDRESS_SIZE, compare_address);
    for (uint32_t i = 1; i < n; i++) {
        if (memcmp(addrs[i - 1], addrs[i], VALIDATOR_ADDRESS_SIZE) == 0) {
            return PX_EINVAL;
        }
    }
    memcpy(set->validators, vals, n * sizeof(vals[0]));
    sort_validators(set->validators, n);
    set->count = n;
    set->total_voting_power = total;
    set->proposer_index = -1;
    return 0;
}

/* Index of the validator with the highest priority; ties go to the lowest address. */
static int32_t most_priority(const struct validator_set *set)
{
    int32_t best = 0;
    for (uint32_t i = 1; i < set->count; i++) {
        const struct validator *b = &set->validators[best];
        const struct validator *v = &set->validators[i];
        if (v->proposer_priority > b->proposer_priority ||
            (v->proposer_priority == b->proposer_priority &&
             memcmp(v->address, b->address, VALIDATOR_ADDRESS_SIZE) < 0)) {
            best = (int32_t)i;
        }
    }
    return best;
}

static void rescale(struct validator_set *set, int64_t diff_max)
{
    if (diff_max <= 0) {
        return;
    }
    int64_t lo = INT64_MAX;
    int64_t hi = INT64_MIN;
    for (uint32_t i = 0; i < set->count; i++) {
        int64_t p = set->validators[i].proposer_priority;
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
    }
    /* hi - lo may exceed int64; compute it in 128 bits and clip as CometBFT's wrap would
     * not: a clipped difference still gives a ratio that brings the spread into range. */
    __int128 diff128 = (__int128)hi - (__int128)lo;
    int64_t diff = diff128 > INT64_MAX ? INT64_MAX : (int64_t)diff128;
    if (diff > diff_max) {
        int64_t ratio = (int64_t)(((__int128)diff + diff_max - 1) / diff_max);
        for (uint32_t i = 0; i < set->count; i++) {
            set->validators[i].proposer_priority /= ratio;
        }
    }
}

static void center(struct validator_set *set)
{
    __int128 sum = 0;
    for (uint32_t i = 0; i < set->count; i++) {
        sum += set->validators[i].proposer_priority;
    }
    /* Floor division, as Go's big.Int Div (Euclidean, positive divisor) gives. */
    __int128 n = set->count;
    __int128 avg = sum / n;
    if (sum % n != 0 && sum < 0) {
        avg -= 1;
    }
    for (uint32_t i = 0; i < set->count; i++) {
        set->validators[i].proposer_priority =
            sub_clip(set->validators[i].proposer_priority, (int64_t)avg);
    }
}

int validator_set_init(struct validator_set *set, const struct validator *vals, uint32_t n)
{
    int rc = load(set, vals, n);
    if (rc != 0) {
        return rc;
    }
    /* New validators start at -1.125 * total power (CometBFT's computeNewPriorities);
     * all being equal, centering brings them to zero. */
    int64_t start = -(set->total_voting_power + (set->total_voting_power >> 3));
    for (uint32_t i = 0; i < n; i++) {
        set->validators[i].proposer_priority = start;
    }
    rescale(set, VALIDATOR_SET_PRIORITY_WINDOW_FACTOR * set->total_voting_power);
    center(set);
    return validator_set_increment_proposer_priority(set, 1);
}

int validator_set_restore(struct validator_set *set, const struct validator *vals, uint32_t n,
                          const uint8_t *proposer_address)
{
    int rc = load(set, vals, n);
    if (rc != 0) {
        return rc;
    }
    if (proposer_address == NULL) {
        set->proposer_index = most_priority(set);
        return 0;
    }
    int32_t i = validator_set_find(set, proposer_address);
    if (i < 0) {
        return PX_ENOTFOUND;
    }
    set->proposer_index = i;
    return 0;
}

void validator_set_copy(struct validator_set *dst, const struct validator_set *src)
{
    if (dst == src) {
        return;
    }
    dst->count = src->count;
    dst->proposer_index = src->proposer_index;
    dst->total_voting_power = src->total_voting_power;
    memcpy(dst->validators, src->validators, src->count * sizeof(src->validators[0]));
}

int validator_set_increment_proposer_priority(struct validator_set *set, int32_t times)
{
    if (times < 1 || set->count == 0) {
        return PX_EINVAL;
    }
    rescale(set, VALIDATOR_SET_PRIORITY_WINDOW_FACTOR * set->total_voting_power);
    center(set);
    int32_t proposer = -1;
    for (int32_t t = 0; t < times; t++) {
        for (uint32_t i = 0; i < set->count; i++) {
            struct validator *v = &set->validators[i];
            v->proposer_priority = add_clip(v->proposer_priority, v->voting_power);
        }
        proposer = most_priority(set);
        struct validator *p = &set->validators[proposer];
        p->proposer_priority = sub_clip(p->proposer_priority, set->total_voting_power);
    }
    set->proposer_index = proposer;
    return 0;
}

const struct validator *validator_set_proposer(const struct validator_set *set)
{
    if (set->count == 0 || set->proposer_index < 0) {
        return NULL;
    }
    return &set->validators[set->proposer_index];
}

const struct validator *validator_set_get(const struct validator_set *set, int32_t index)
{
    if (index < 0 || (uint32_t)index >= set->count) {
        return NULL;
    }
    return &set->validators[index];
}

int32_t validator_set_find(const struct validator_set *set, const uint8_t *address)
{
    for (uint32_t i = 0; i < set->count; i++) {
        if (memcmp(set->validators[i].address, address, VALIDATOR_ADDRESS_SIZE) == 0) {
            return (int32_t)i;
        }
    }
    return -1;
}

bool validator_set_is_two_thirds(int64_t sum, int64_t total)
{
    /* total <= INT64_MAX / 8: 3 * sum and 2 * total cannot overflow. */
    return sum * 3 > total * 2;
}

bool validator_set_is_one_third(int64_t sum, int64_t total)
{
    return sum * 3 > total;
}
