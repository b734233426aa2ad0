/*
 * walcodec: how the node writes what it feeds the consensus core into the WAL, and reads
 * it back for replay. Two record payloads (inside WAL_KIND_INPUT records):
 *   - an input of the core (every type; a START_HEIGHT input keeps only its height: the
 *     validator sets come from the state store when it is replayed);
 *   - the content of a block (height, block id, encoded block), logged before the
 *     BLOCK_COMPLETE or PROPOSAL_BUILT input that refers to it, so a replay has it.
 * Fixed little-endian layout, versioned by a leading byte. Decoding checks every length.
 */
#ifndef PX_WALCODEC_H
#define PX_WALCODEC_H

#include "cs.h"

#include <stddef.h>
#include <stdint.h>

enum walcodec_kind {
    WALCODEC_INPUT = 1,
    WALCODEC_BLOCK = 2,
};

/* Encode an input (a COMMIT input with its votes) into a malloc'd buffer.
 * PX_ENOMEM, PX_EINVAL (unknown type). */
int walcodec_encode_input(const struct cs_input *in, uint8_t **out, size_t *len);
/* Header of a block record, followed by the encoded block; returns the header length. */
#define WALCODEC_BLOCK_HEADER 80
size_t walcodec_encode_block_header(uint64_t height, const struct block_id *id,
                                    uint8_t buf[WALCODEC_BLOCK_HEADER]);

/* Decode a record payload. For WALCODEC_INPUT fills *in (START_HEIGHT: height only, the
 * pointers NULL; COMMIT: its votes go to `votes`, which has room for votes_cap); for
 * WALCODEC_BLOCK fills height, id and points block/block_len into buf.
 * PX_EDECODE for anything malformed, PX_EBOUND for more votes than votes_cap. */
int walcodec_decode(const uint8_t *buf, size_t len, enum walcodec_kind *kind, struct cs_input *in,
                    struct vote *votes, uint32_t votes_cap, uint64_t *height, struct block_id *id,
                    const uint8_t **block, size_t *block_len);

/* The height an input belongs to (0 if it carries none). */
uint64_t walcodec_input_height(const struct cs_input *in);

#endif
