/*
 * fuzz_vset: the check of what a decoded validator set promises, shared by the targets that
 * decode one (fuzz_codec, fuzz_chainstate). Test code only.
 */
#ifndef PX_FUZZ_VSET_H
#define PX_FUZZ_VSET_H

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "validator_set.h"

static inline int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, VALIDATOR_ADDRESS_SIZE);
}

/* What a decoded validator set promises: 1..VALIDATOR_SET_MAX validators, sorted by power
 * (desc) then address (asc), each address once (a key listed twice would hold the power
 * of both entries), the total equal to the sum, a proposer inside the set. */
static inline void check_validator_set(const struct validator_set *vs)
{
    static uint8_t addrs[VALIDATOR_SET_MAX][VALIDATOR_ADDRESS_SIZE];
    FUZZ_CHECK(vs->count >= 1 && vs->count <= VALIDATOR_SET_MAX);
    FUZZ_CHECK(vs->proposer_index >= 0 && (uint32_t)vs->proposer_index < vs->count);
    int64_t total = 0;
    for (uint32_t i = 0; i < vs->count; i++) {
        const struct validator *v = &vs->validators[i];
        FUZZ_CHECK(v->voting_power > 0 && v->voting_power <= VALIDATOR_SET_MAX_TOTAL_POWER - total);
        total += v->voting_power;
        if (i > 0) {
            const struct validator *u = &vs->validators[i - 1];
            FUZZ_CHECK(u->voting_power > v->voting_power ||
                       (u->voting_power == v->voting_power &&
                        memcmp(u->address, v->address, VALIDATOR_ADDRESS_SIZE) < 0));
        }
        memcpy(addrs[i], v->address, VALIDATOR_ADDRESS_SIZE);
    }
    FUZZ_CHECK(total == vs->total_voting_power);
    qsort(addrs, vs->count, VALIDATOR_ADDRESS_SIZE, addr_cmp);
    for (uint32_t i = 1; i < vs->count; i++)
        FUZZ_CHECK(memcmp(addrs[i - 1], addrs[i], VALIDATOR_ADDRESS_SIZE) != 0);
}

#endif
