/*
 * block_id: comparisons and validation of block ids (see block_id.h). Pure functions on
 * plain structs; never allocates, never does I/O.
 */
#include "block_id.h"

#include <string.h>

#include "px_error.h"

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

void block_id_set_nil(struct block_id *id)
{
    memset(id, 0, sizeof(*id));
}

bool block_id_is_nil(const struct block_id *id)
{
    return id->parts.total == 0 && all_zero(id->hash, sizeof(id->hash)) &&
           all_zero(id->parts.hash, sizeof(id->parts.hash));
}

bool block_id_is_complete(const struct block_id *id)
{
    return !all_zero(id->hash, sizeof(id->hash)) && id->parts.total > 0 &&
           id->parts.total <= BLOCK_ID_MAX_PARTS &&
           !all_zero(id->parts.hash, sizeof(id->parts.hash));
}

bool block_id_equal(const struct block_id *a, const struct block_id *b)
{
    return block_id_compare(a, b) == 0;
}

int block_id_compare(const struct block_id *a, const struct block_id *b)
{
    int c = memcmp(a->hash, b->hash, sizeof(a->hash));
    if (c != 0) {
        return c;
    }
    if (a->parts.total != b->parts.total) {
        return a->parts.total < b->parts.total ? -1 : 1;
    }
    return memcmp(a->parts.hash, b->parts.hash, sizeof(a->parts.hash));
}

int block_id_validate(const struct block_id *id)
{
    if (block_id_is_nil(id) || block_id_is_complete(id)) {
        return 0;
    }
    return PX_EINVAL;
}
