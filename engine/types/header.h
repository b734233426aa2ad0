/*
 * header: a block's header (DESIGN §4, CometBFT's fields) and its hash, the block's
 * identity: the merkle root of the header's fields each encoded as CometBFT encodes them
 * (version, chain id, height, time, last block id, the seven hashes, app hash, proposer).
 * Plain C struct, fixed size; must never hash a header whose fields are malformed.
 */
#ifndef PX_HEADER_H
#define PX_HEADER_H

#include <stdint.h>

#include "block_id.h"

#define HEADER_HASH_SIZE 32
#define HEADER_CHAIN_ID_MAX 50
#define HEADER_APP_HASH_MAX 128
#define HEADER_ADDRESS_SIZE 20
/* Our block protocol version (CometBFT's is 11; ours is our own). */
#define HEADER_BLOCK_PROTOCOL 1

struct header {
    uint64_t version_block; /* HEADER_BLOCK_PROTOCOL */
    uint64_t version_app;   /* the app's protocol version */
    char chain_id[HEADER_CHAIN_ID_MAX + 1];
    uint64_t height;                            /* >= 1, <= INT64_MAX */
    uint64_t time_ns;                           /* proposer's wall clock, ns since the Unix epoch */
    struct block_id last_block_id;              /* nil at height 1 */
    uint8_t last_commit_hash[HEADER_HASH_SIZE]; /* commit_hash of the last commit */
    uint8_t data_hash[HEADER_HASH_SIZE];        /* block_data_hash of the txs */
    uint8_t validators_hash[HEADER_HASH_SIZE];  /* validators of this height */
    uint8_t next_validators_hash[HEADER_HASH_SIZE]; /* validators of the next height */
    uint8_t consensus_hash[HEADER_HASH_SIZE];       /* consensus params */
    uint8_t app_hash[HEADER_APP_HASH_MAX];          /* from the app, after the last block */
    uint32_t app_hash_len;                          /* 0 .. HEADER_APP_HASH_MAX */
    uint8_t last_results_hash[HEADER_HASH_SIZE];    /* results of the last block's txs */
    uint8_t evidence_hash[HEADER_HASH_SIZE];        /* evidence_list_hash */
    uint8_t proposer_address[HEADER_ADDRESS_SIZE];  /* who proposed this block */
};

/* 0 if the fields are well formed: chain id 1..HEADER_CHAIN_ID_MAX printable bytes,
 * 1 <= height <= INT64_MAX, app_hash_len in range, last block id nil or complete (nil
 * exactly at height 1). PX_EINVAL otherwise. */
int header_validate_basic(const struct header *h);

/* The header's hash. Errors: PX_EINVAL (not well formed), PX_ENOMEM. */
int header_hash(const struct header *h, uint8_t out[HEADER_HASH_SIZE]);

#endif
