/*
 * validator_set: the validators of one height (address, public key, voting power,
 * proposer priority) and CometBFT's weighted round-robin proposer selection: every
 * increment adds each validator's power to its priority and takes the total power off the
 * one with the highest priority (ties: lowest address), after rescaling priorities into a
 * window of 2 * total power and centering them on zero.
 *
 * Plain C, fixed capacity (VALIDATOR_SET_MAX): nothing a peer sends can make it grow.
 * It does not hash the set (the types codec does, with libsodium). Must never include I/O
 * or crypto headers: the consensus core uses it.
 */
#ifndef PX_VALIDATOR_SET_H
#define PX_VALIDATOR_SET_H

#include <stdbool.h>
#include <stdint.h>

#define VALIDATOR_ADDRESS_SIZE 20
#define VALIDATOR_PUBKEY_SIZE 32
/* Most validators one set may hold. */
#define VALIDATOR_SET_MAX 1024u
/* Most total voting power (CometBFT's MaxTotalVotingPower = MaxInt64 / 8), so that
 * priorities and 3 * power sums never overflow. */
#define VALIDATOR_SET_MAX_TOTAL_POWER (INT64_MAX / 8)
/* Priorities are kept within this many times the total power of each other. */
#define VALIDATOR_SET_PRIORITY_WINDOW_FACTOR 2

struct validator {
    uint8_t address[VALIDATOR_ADDRESS_SIZE]; /* first 20 bytes of SHA-256(pub_key) */
    uint8_t pub_key[VALIDATOR_PUBKEY_SIZE];  /* Ed25519 */
    int64_t voting_power;                    /* > 0 */
    int64_t proposer_priority;
};

/* Embedded value; copy it with validator_set_copy (copies only `count` entries). */
struct validator_set {
    uint32_t count;
    int32_t proposer_index; /* index of the current proposer, -1 if count == 0 */
    int64_t total_voting_power;
    struct validator validators[VALIDATOR_SET_MAX]; /* sorted: power desc, address asc */
};

/* A new set, as at genesis or from a list of validators without history (CometBFT's
 * NewValidatorSet): sorted by power (desc) then address (asc); every priority starts
 * equal, then one increment picks the first proposer. Priorities in `vals` are ignored.
 * Errors: PX_EINVAL (no validator, power <= 0, duplicate address), PX_EBOUND (more than
 * VALIDATOR_SET_MAX validators or total power above VALIDATOR_SET_MAX_TOTAL_POWER). */
int validator_set_init(struct validator_set *set, const struct validator *vals, uint32_t n);
/* A set exactly as stored (priorities kept, order sorted as above), with the stored
 * proposer (its address), or NULL to take the validator of highest priority.
 * Errors: as validator_set_init, plus PX_ENOTFOUND if the proposer is not in the set. */
int validator_set_restore(struct validator_set *set, const struct validator *vals, uint32_t n,
                          const uint8_t *proposer_address);
/* dst = src. */
void validator_set_copy(struct validator_set *dst, const struct validator_set *src);
/* Advance the proposer by `times` (>= 1) rounds: rescale, center, then `times` increments.
 * Errors: PX_EINVAL (times < 1 or empty set). */
int validator_set_increment_proposer_priority(struct validator_set *set, int32_t times);
/* The current proposer (NULL for an empty set). */
const struct validator *validator_set_proposer(const struct validator_set *set);
/* The validator at index, or NULL if out of range. */
const struct validator *validator_set_get(const struct validator_set *set, int32_t index);
/* Index of the validator with this address, or -1. */
int32_t validator_set_find(const struct validator_set *set, const uint8_t *address);
/* True if sum is more than 2/3 of total (a quorum: "2f+1"). */
bool validator_set_is_two_thirds(int64_t sum, int64_t total);
/* True if sum is more than 1/3 of total ("f+1": at least one honest among them). */
bool validator_set_is_one_third(int64_t sum, int64_t total);

#endif
