/*
 * header: checks and hashes a block header (see header.h). The hash is the merkle root of
 * the 14 field encodings codec_header_leaves produces, in CometBFT's order. Must never
 * hash a malformed header.
 */
#include "header.h"

#include <string.h>

#include "codec.h"
#include "merkle.h"
#include "px_error.h"

int header_validate_basic(const struct header *h)
{
    size_t cl = strnlen(h->chain_id, sizeof(h->chain_id));
    if (cl == 0 || cl > HEADER_CHAIN_ID_MAX)
        return PX_EINVAL;
    for (size_t i = 0; i < cl; i++)
        if ((unsigned char)h->chain_id[i] < 0x21 || (unsigned char)h->chain_id[i] > 0x7e)
            return PX_EINVAL;
    if (h->height < 1 || h->height > INT64_MAX || h->app_hash_len > HEADER_APP_HASH_MAX)
        return PX_EINVAL;
    if (block_id_validate(&h->last_block_id) != 0)
        return PX_EINVAL;
    if ((h->height == 1) != block_id_is_nil(&h->last_block_id))
        return PX_EINVAL;
    return 0;
}

int header_hash(const struct header *h, uint8_t out[HEADER_HASH_SIZE])
{
    uint8_t leaves[CODEC_HEADER_LEAVES][CODEC_HEADER_LEAF_MAX];
    size_t lens[CODEC_HEADER_LEAVES];
    int rc = codec_header_leaves(h, leaves, lens);
    if (rc != 0)
        return rc;
    const uint8_t *items[CODEC_HEADER_LEAVES];
    for (int i = 0; i < CODEC_HEADER_LEAVES; i++)
        items[i] = leaves[i];
    return merkle_root(items, lens, CODEC_HEADER_LEAVES, out);
}
