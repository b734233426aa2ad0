/*
 * commit: the precommits that decided a block (CometBFT's Commit): height, round, block
 * id and one signature slot per validator of that height, in the validator set's order,
 * each absent, for the block, or for nil. Carried in the next block as its last commit
 * and stored with the block. Also the check that a commit really decided a block: more
 * than 2/3 of the voting power signed for it, every signature valid for this chain.
 *
 * The signature array is heap-allocated (commit_init/commit_fini) and never larger than
 * VALIDATOR_SET_MAX entries. Never trusts the addresses in a commit: they must match the
 * validator set's at the same index.
 */
#ifndef PX_COMMIT_H
#define PX_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "block_id.h"
#include "sign_bytes.h"
#include "validator_set.h"
#include "vote.h"

#define COMMIT_HASH_SIZE 32

/* Values of CometBFT's BlockIDFlag. */
enum commit_flag {
    COMMIT_FLAG_ABSENT = 1, /* no precommit from this validator */
    COMMIT_FLAG_COMMIT = 2, /* precommit for the commit's block id */
    COMMIT_FLAG_NIL = 3,    /* precommit for nil */
};

struct commit_sig {
    enum commit_flag flag;
    uint8_t validator_address[VOTE_ADDRESS_SIZE]; /* zero when absent */
    uint64_t timestamp_ns;                        /* zero when absent */
    uint8_t signature[VOTE_SIGNATURE_SIZE];       /* zero when absent */
};

struct commit {
    uint64_t height; /* 0 only for the empty commit carried by block 1 */
    int32_t round;
    struct block_id block_id;
    uint32_t count; /* signature slots, = size of the validator set of `height` */
    struct commit_sig *sigs;
};

/* An empty commit (height 0, no slots). Never fails. */
void commit_init_empty(struct commit *c);
/* A commit for (height, round, block id) with n absent slots. Errors: PX_EBOUND
 * (n > VALIDATOR_SET_MAX), PX_ENOMEM. Free with commit_fini. */
int commit_init(struct commit *c, uint64_t height, int32_t round, const struct block_id *id,
                uint32_t n);
void commit_fini(struct commit *c);
/* dst (uninitialised) = copy of src. Errors: PX_ENOMEM. */
int commit_copy(struct commit *dst, const struct commit *src);

/* Put precommit v of the validator at index into its slot (COMMIT or NIL by its block id).
 * Errors: PX_EINVAL (not a precommit of this height/round, index out of range, a vote
 * for a block other than the commit's). */
int commit_add_vote(struct commit *c, uint32_t index, const struct vote *v);

/* The precommit that slot index stands for (type, height, round, block id or nil,
 * timestamp, address, index, signature). Errors: PX_EINVAL (out of range or absent). */
int commit_get_vote(const struct commit *c, uint32_t index, struct vote *out);

/* 0 if well formed: height 0 with no slots, or height >= 1, round >= 0, complete block id,
 * 1..VALIDATOR_SET_MAX slots, known flags, absent slots all zero. PX_EINVAL otherwise. */
int commit_validate_basic(const struct commit *c);

/* Merkle root of the encoded signature slots. Errors: PX_EINVAL, PX_ENOMEM. */
int commit_hash(const struct commit *c, uint8_t out[COMMIT_HASH_SIZE]);

/* Check that c decided block `id` at `height` for chain_id under the validator set of
 * that height: slot count = set size, each present slot's address is the set's at that
 * index, every present signature is valid (fn: NULL for Ed25519 here), and the power
 * of COMMIT slots is more than 2/3 of the total. why (may be NULL) receives a sentence.
 * Errors: PX_EINVAL (shape, height, block id, addresses, or not enough power),
 * PX_ECRYPTO (a bad signature). */
int commit_verify(const struct commit *c, const char *chain_id, const struct validator_set *vals,
                  const struct block_id *id, uint64_t height, sign_bytes_verify_fn fn, void *user,
                  char *why, size_t why_cap);

#endif
