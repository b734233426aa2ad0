/*
 * proposal: the proposer's signed offer of a block id for (height, round), with the round
 * of the proof of lock it relies on (pol_round, -1 for none). Plain C struct; the
 * signature is made and checked outside, over sign bytes built by the types codec.
 * Must never include I/O or crypto headers: the consensus core uses it.
 */
#ifndef PX_PROPOSAL_H
#define PX_PROPOSAL_H

#include <stdint.h>

#include "block_id.h"

#define PROPOSAL_SIGNATURE_SIZE 64
/* CometBFT's SignedMsgType for proposals (for sign bytes). */
#define PROPOSAL_SIGNED_MSG_TYPE 32

struct proposal {
    uint64_t height;          /* >= 1 */
    int32_t round;            /* >= 0 */
    int32_t pol_round;        /* -1 (no proof of lock) or 0 .. round-1 */
    struct block_id block_id; /* complete, never nil */
    uint64_t timestamp_ns;    /* wall clock of the proposer, ns since the Unix epoch */
    uint8_t signature[PROPOSAL_SIGNATURE_SIZE];
};

/* 0 if well formed (height >= 1, round >= 0, -1 <= pol_round < round, complete block id);
 * PX_EINVAL otherwise. */
int proposal_validate_basic(const struct proposal *p);

#endif
