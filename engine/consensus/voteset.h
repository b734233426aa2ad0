/*
 * voteset: the votes of one type (prevote or precommit) at one (height, round), one slot
 * per validator of the height's set. It sums voting power per block id, finds the block
 * (or nil) with more than 2/3 of the power, ignores exact duplicates and detects a second,
 * different vote of one validator (equivocation), handing both votes back for evidence.
 *
 * A validator's second, conflicting vote is kept and counted for its block too (never
 * twice for one block; the "any" sum counts each validator once). This is safe: a quorum
 * for a block still holds more than 1/3 of honest power that voted for it, so two quorums
 * for different blocks still need an honest double vote. And it keeps the core live when a
 * Byzantine validator shows different votes to different nodes: a node that saw the other
 * vote first still counts the one the rest of the network saw (CometBFT reaches the same
 * end with its "peer maj23" messages). A third different vote replaces the second only if
 * its block has more support from the other validators (so junk votes sent first cannot
 * crowd out the vote for the block the network is converging on); otherwise it is ignored.
 *
 * Storage is given by the caller (fixed capacity, no allocation here): a Byzantine peer
 * cannot make a vote set grow. It trusts its caller for signatures; it never does I/O.
 */
#ifndef PX_VOTESET_H
#define PX_VOTESET_H

#include <stdbool.h>
#include <stdint.h>

#include "block_id.h"
#include "validator_set.h"
#include "vote.h"

/* Power gathered by one block id (nil included). */
struct voteset_tally {
    struct block_id block_id;
    int64_t power;
};

/* Flags per validator slot. */
#define VOTESET_PRESENT 0x1u    /* votes[i] holds the validator's (first) vote */
#define VOTESET_CONFLICTED 0x2u /* votes2[i] holds a second, different vote (reported) */

struct voteset {
    uint64_t height;
    int32_t round;
    enum vote_type type;
    const struct validator_set *vals; /* borrowed, must outlive the set's use */
    uint32_t capacity;   /* slots in votes/votes2/flags; tallies has 2 * capacity + 1 */
    struct vote *votes;  /* first vote of each validator */
    struct vote *votes2; /* second, conflicting vote, if any */
    uint8_t *flags;
    struct voteset_tally *tallies;
    uint32_t n_tallies;
    uint32_t n_votes;
    int64_t sum;   /* power of all votes counted */
    int32_t maj23; /* index in tallies of the block id with > 2/3 power, or -1 */
};

enum voteset_result {
    VOTESET_ADDED = 0,     /* new vote counted */
    VOTESET_DUPLICATE,     /* same vote (same block id) already counted: ignored */
    VOTESET_CONFLICT,      /* a second, different vote: counted for its block, reported */
    VOTESET_CONFLICT_SEEN, /* a third different vote of a validator: ignored */
    VOTESET_REPLACED,      /* a third different vote replaced the second (more support) */
};

/* Attach storage: votes[capacity], votes2[capacity], flags[capacity],
 * tallies[2 * capacity + 1]. */
void voteset_init(struct voteset *vs, struct vote *votes, struct vote *votes2, uint8_t *flags,
                  struct voteset_tally *tallies, uint32_t capacity);
/* Empty the set and bind it to (height, round, type) of the set `vals`.
 * Errors: PX_EBOUND if vals has more validators than the capacity. */
int voteset_reset(struct voteset *vs, uint64_t height, int32_t round, enum vote_type type,
                  const struct validator_set *vals);
/* Add a vote already checked by the caller to be of this (height, round, type), with a
 * valid index whose address matches the set (PX_EINVAL otherwise, nothing changes).
 * *res says what happened; on VOTESET_CONFLICT *existing points to the stored first vote
 * (valid until the set is reset). */
int voteset_add(struct voteset *vs, const struct vote *v, enum voteset_result *res,
                const struct vote **existing);
/* True if a block id (or nil) has more than 2/3 of the power; its id in *out (may be NULL). */
bool voteset_has_two_thirds_majority(const struct voteset *vs, struct block_id *out);
/* True if the votes of any kind sum to more than 2/3 of the power. */
bool voteset_has_two_thirds_any(const struct voteset *vs);
/* Power of the votes for this block id (nil included). */
int64_t voteset_power_for(const struct voteset *vs, const struct block_id *id);
/* True if the validator at index has a vote in the set. */
bool voteset_has(const struct voteset *vs, int32_t index);
/* The (first) vote of the validator at index, or NULL. */
const struct vote *voteset_get(const struct voteset *vs, int32_t index);
/* The vote of the validator at index for block id (first or second), or NULL. */
const struct vote *voteset_get_for(const struct voteset *vs, int32_t index,
                                   const struct block_id *id);
/* dst = src; dst must have at least src's capacity (PX_EBOUND otherwise). */
int voteset_copy(struct voteset *dst, const struct voteset *src);

#endif
