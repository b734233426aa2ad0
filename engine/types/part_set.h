/*
 * part_set: how a block travels. The proposer splits the encoded block into parts of
 * PART_SET_PART_SIZE bytes (the last one shorter), each with a merkle proof, under a
 * part set header {total, merkle root}; that header is in the block id everyone votes
 * for. A receiver starts from the header, accepts a part only if its proof leads to the
 * header's root, and reassembles the encoded block once every part is in.
 *
 * Bounded: at most BLOCK_ID_MAX_PARTS parts, every part at most PART_SET_PART_SIZE bytes.
 * Never accepts a part that does not verify, nor keeps two copies of one index.
 */
#ifndef PX_PART_SET_H
#define PX_PART_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block_id.h"
#include "merkle.h"

#define PART_SET_PART_SIZE 65536u

struct part {
    uint32_t index;
    uint8_t *bytes; /* owned by the part set (or by the codec's caller after decode) */
    size_t len;     /* 1 .. PART_SET_PART_SIZE */
    struct merkle_proof proof;
};

struct part_set {
    struct part_set_header header;
    uint32_t count;     /* parts present */
    size_t byte_size;   /* sum of the present parts' lengths */
    struct part *parts; /* header.total slots; bytes NULL where absent */
};

/* Split data (1..BLOCK_ID_MAX_PARTS * PART_SET_PART_SIZE bytes) into a complete part set.
 * Errors: PX_EINVAL (empty), PX_ETOOBIG, PX_ENOMEM. Free with part_set_fini. */
int part_set_from_data(struct part_set *ps, const uint8_t *data, size_t len);

/* An empty part set expecting the parts of header h. Errors: PX_EINVAL (total 0 or above
 * BLOCK_ID_MAX_PARTS, zero hash), PX_ENOMEM. */
int part_set_init(struct part_set *ps, const struct part_set_header *h);
void part_set_fini(struct part_set *ps);

/* Add a received part (copied). Errors: PX_EINVAL (index out of range, empty or oversized,
 * a part other than the last shorter than PART_SET_PART_SIZE, proof total/index not the
 * part's), PX_ECRYPTO (proof does not lead to the header's root), PX_EEXIST (already
 * have it: not an error for the sender, just a duplicate), PX_ENOMEM. */
int part_set_add(struct part_set *ps, const struct part *p);

bool part_set_is_complete(const struct part_set *ps);
/* The part at index, or NULL if absent or out of range. */
const struct part *part_set_get(const struct part_set *ps, uint32_t index);

/* The encoded block, concatenated from a complete set into a malloc'd buffer the caller
 * frees. Errors: PX_ESTATE (not complete), PX_ENOMEM. */
int part_set_assemble(const struct part_set *ps, uint8_t **out, size_t *len);

#endif
