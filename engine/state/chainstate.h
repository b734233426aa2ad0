/*
 * chainstate: what a node knows after committing a height — the facts the next block's
 * header must carry and the validator sets that sign the next heights. Built from the
 * genesis file at the start of a chain, updated by block execution (blockexec) after every
 * height, stored in the state store (one record per height, so `phalanx rollback` can step
 * back). Big (three validator sets): allocate it, never put it on a stack.
 *
 * Validator updates returned by the app for height H take effect at H+2: after H,
 * last_validators = validators, validators = next_validators, and next_validators = the
 * updated set (priorities incremented once), as CometBFT does.
 */
#ifndef PX_CHAINSTATE_H
#define PX_CHAINSTATE_H

#include "block_id.h"
#include "genesis.h"
#include "header.h"
#include "validator_set.h"

#include <stddef.h>
#include <stdint.h>

struct chain_params {
    int64_t block_max_bytes; /* encoded block */
    int64_t block_max_gas;   /* -1: no limit */
    int64_t evidence_max_age_num_blocks;
    int64_t evidence_max_age_duration_ns;
    int64_t evidence_max_bytes;
    uint64_t app_version;
};

struct chain_state {
    char chain_id[HEADER_CHAIN_ID_MAX + 1];
    uint64_t initial_height;
    uint64_t genesis_time_ns;
    uint64_t last_height; /* initial_height - 1 before the first block */
    struct block_id last_block_id;
    uint64_t last_block_time_ns;          /* genesis time before the first block */
    struct validator_set validators;      /* sign last_height + 1 */
    struct validator_set next_validators; /* sign last_height + 2 */
    struct validator_set last_validators; /* signed last_height (empty before block 1) */
    struct chain_params params;
    uint8_t app_hash[HEADER_APP_HASH_MAX];
    uint32_t app_hash_len;
    uint8_t last_results_hash[HEADER_HASH_SIZE];
};

/* The state before the first block, from a validated genesis. A genesis without
 * validators gives empty sets: the app's InitChain must then name them (the handshake
 * refuses to start otherwise). Errors: PX_EINVAL (chain id too long, initial height 0),
 * PX_EBOUND (too many validators). */
int chainstate_from_genesis(struct chain_state *s, const struct genesis *g);

/* Hash of the consensus params, for the header's consensus_hash. */
void chainstate_params_hash(const struct chain_params *p, uint8_t out[HEADER_HASH_SIZE]);

/* Serialise for the state store (malloc'd, caller frees) and back. Decode errors:
 * PX_EDECODE (truncated, bad version, bad field), PX_ENOMEM. */
int chainstate_encode(const struct chain_state *s, uint8_t **out, size_t *len);
int chainstate_decode(const uint8_t *buf, size_t len, struct chain_state *s);

#endif
