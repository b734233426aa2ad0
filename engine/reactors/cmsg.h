/*
 * cmsg: the consensus gossip messages (proto/consensus.proto) as one plain C struct, and
 * their encoding: the only engine file that sees their protobuf-c structs. Decoding
 * refuses anything over the caller's size bound, unknown kinds and missing payloads.
 */
#ifndef PX_CMSG_H
#define PX_CMSG_H

#include <stddef.h>
#include <stdint.h>

enum cmsg_kind {
    CMSG_NEW_ROUND_STEP = 1, /* height, round, step, base, last_height */
    CMSG_PROPOSAL,           /* a: encoded proposal */
    CMSG_BLOCK_PART,         /* height, round, a: encoded part */
    CMSG_VOTE,               /* a: encoded vote */
    CMSG_HAS_VOTE,           /* height, round, step (vote type), index */
    CMSG_BLOCK_REQUEST,      /* height */
    CMSG_BLOCK_RESPONSE,     /* height, a: encoded block, b: encoded commit */
    CMSG_NO_BLOCK,           /* height */
};

struct cmsg {
    enum cmsg_kind kind;
    uint64_t height;
    int32_t round;
    uint32_t step; /* cs_step for NEW_ROUND_STEP, vote type for HAS_VOTE */
    int32_t index;
    uint64_t base, last_height;
    const uint8_t *a; /* encode: borrowed; decode: points into owned storage */
    size_t a_len;
    const uint8_t *b;
    size_t b_len;
    void *owned; /* decode only: freed by cmsg_fini */
};

/* Encode into a malloc'd buffer. PX_EINVAL (unknown kind), PX_ENOMEM. */
int cmsg_encode(const struct cmsg *m, uint8_t **out, size_t *len);
/* Decode; on success m must be released with cmsg_fini. PX_ETOOBIG (len > max_len),
 * PX_EDECODE (not a message, unknown kind, missing payload), PX_ENOMEM. */
int cmsg_decode(const uint8_t *buf, size_t len, size_t max_len, struct cmsg *m);
void cmsg_fini(struct cmsg *m);
const char *cmsg_kind_name(enum cmsg_kind k);

#endif
