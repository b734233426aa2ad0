/*
 * block_id: the identity of a block as consensus sees it: the block's hash plus the
 * header of the part set the block is gossiped in. The all-zero value is "nil" (a vote
 * for no block). Plain C, no hashing here: the hash is computed by the types codec.
 * Must never include I/O or crypto headers: the consensus core uses it.
 */
#ifndef PX_BLOCK_ID_H
#define PX_BLOCK_ID_H

#include <stdbool.h>
#include <stdint.h>

#define BLOCK_ID_HASH_SIZE 32
/* Upper bound on the parts a block may be split into (64 KiB parts, 100 MiB blocks). */
#define BLOCK_ID_MAX_PARTS 1601u

struct part_set_header {
    uint32_t total;                   /* number of parts; 0 only for nil */
    uint8_t hash[BLOCK_ID_HASH_SIZE]; /* merkle root of the parts */
};

struct block_id {
    uint8_t hash[BLOCK_ID_HASH_SIZE]; /* hash of the header; all zero for nil */
    struct part_set_header parts;
};

/* The nil block id (all zero). */
void block_id_set_nil(struct block_id *id);
/* True if every byte of id is zero. */
bool block_id_is_nil(const struct block_id *id);
/* True if id names a block: non-zero hash, 1..BLOCK_ID_MAX_PARTS parts, non-zero parts hash. */
bool block_id_is_complete(const struct block_id *id);
/* True if a and b are the same value (nil equals nil). */
bool block_id_equal(const struct block_id *a, const struct block_id *b);
/* Total order (hash, then parts total, then parts hash): <0, 0, >0. */
int block_id_compare(const struct block_id *a, const struct block_id *b);
/* 0 if id is nil or complete; PX_EINVAL for anything in between. */
int block_id_validate(const struct block_id *id);

#endif
