/*
 * evidence: proof that a validator misbehaved; for now CometBFT's only kind in consensus,
 * duplicate vote evidence: two votes of one validator for the same height, round and type
 * but different block ids, with the validator's and the set's power at that height and the
 * time of the block where it was found. Validation checks the two signatures for the
 * chain and the powers against the validator set of that height.
 * Plain C struct, fixed size; must never accept evidence whose votes do not conflict.
 */
#ifndef PX_EVIDENCE_H
#define PX_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "sign_bytes.h"
#include "validator_set.h"
#include "vote.h"

#define EVIDENCE_HASH_SIZE 32

struct evidence {
    struct vote vote_a; /* the one with the smaller block id (block_id_compare) */
    struct vote vote_b;
    int64_t total_voting_power; /* of the validator set at the votes' height */
    int64_t validator_power;    /* of the offender at that height */
    uint64_t timestamp_ns;      /* time of the block at the votes' height */
};

/* Evidence from two conflicting votes (in any order) of a validator of vals.
 * Errors: PX_EINVAL (votes do not conflict), PX_ENOTFOUND (not a validator of vals). */
int evidence_from_votes(const struct vote *a, const struct vote *b,
                        const struct validator_set *vals, uint64_t timestamp_ns,
                        struct evidence *out);

/* 0 if well formed: both votes well formed and conflicting, ordered a < b, same index,
 * positive powers with validator_power <= total. PX_EINVAL otherwise. */
int evidence_validate_basic(const struct evidence *ev);

/* Full check against the validator set of the votes' height: well formed, the offender is
 * in vals at the votes' index with the stated power, the total power matches, and both
 * signatures are valid for chain_id. why (may be NULL) receives a sentence.
 * Errors: PX_EINVAL, PX_ECRYPTO. */
int evidence_verify(const struct evidence *ev, const char *chain_id,
                    const struct validator_set *vals, sign_bytes_verify_fn fn, void *user,
                    char *why, size_t why_cap);

/* SHA-256 of the encoded evidence. Errors: PX_EINVAL, PX_ENOMEM. */
int evidence_hash(const struct evidence *ev, uint8_t out[EVIDENCE_HASH_SIZE]);
/* Merkle root of the encoded evidence list (n may be 0). Errors: PX_EINVAL, PX_ENOMEM. */
int evidence_list_hash(const struct evidence *evs, size_t n, uint8_t out[EVIDENCE_HASH_SIZE]);

#endif
