/*
 * vote: a validator's prevote or precommit for a block id (or nil) at a height and round,
 * as the consensus core and the codec see it. Plain C struct; the signature is made and
 * checked outside (crypto, privval), over sign bytes built by the types codec.
 * Must never include I/O or crypto headers: the consensus core uses it.
 */
#ifndef PX_VOTE_H
#define PX_VOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "block_id.h"

#define VOTE_ADDRESS_SIZE 20
#define VOTE_SIGNATURE_SIZE 64

/* Values of CometBFT's SignedMsgType, so sign bytes keep the same numbers. */
enum vote_type {
    VOTE_TYPE_PREVOTE = 1,
    VOTE_TYPE_PRECOMMIT = 2,
};

struct vote {
    enum vote_type type;
    uint64_t height;          /* >= 1 */
    int32_t round;            /* >= 0 */
    struct block_id block_id; /* nil (all zero) for a vote for no block */
    uint64_t timestamp_ns;    /* wall clock of the signer, ns since the Unix epoch */
    uint8_t validator_address[VOTE_ADDRESS_SIZE];
    int32_t validator_index; /* index in the validator set of `height` */
    uint8_t signature[VOTE_SIGNATURE_SIZE];
};

/* True for VOTE_TYPE_PREVOTE and VOTE_TYPE_PRECOMMIT. */
bool vote_type_is_valid(int type);
/* "prevote", "precommit" or "unknown". */
const char *vote_type_name(int type);
/* 0 if the fields are well formed (type, height >= 1, round >= 0, index >= 0, block id nil
 * or complete); PX_EINVAL otherwise. Says nothing about the signature or the set. */
int vote_validate_basic(const struct vote *v);
/* True if a and b are votes of one validator at one (height, round, type) for different
 * block ids: a double sign, evidence of a Byzantine validator. */
bool vote_conflicts(const struct vote *a, const struct vote *b);

#endif
