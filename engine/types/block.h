/*
 * block: header + transactions + evidence + last commit (DESIGN §4), built by the
 * proposer from the mempool's transactions and the previous height's commit, hashed (its
 * hash is its header's hash), checked for internal consistency (the header's data,
 * evidence and last commit hashes match the contents), and also the validators hash of a
 * set. A block owns copies of its transactions, evidence and commit; block_fini frees
 * them. Everything is bounded: BLOCK_MAX_TXS, BLOCK_MAX_BYTES, BLOCK_MAX_EVIDENCE.
 */
#ifndef PX_BLOCK_H
#define PX_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "commit.h"
#include "evidence.h"
#include "header.h"
#include "part_set.h"
#include "validator_set.h"

/* 100 MiB: BLOCK_ID_MAX_PARTS parts of PART_SET_PART_SIZE hold it with its encoding. */
#define BLOCK_MAX_BYTES (100u * 1024u * 1024u)
#define BLOCK_MAX_TXS (1u << 20)
#define BLOCK_MAX_EVIDENCE 256u

struct block_tx {
    uint8_t *data; /* owned by the block */
    size_t len;
};

struct block {
    struct header header;
    uint32_t tx_count;
    struct block_tx *txs;
    uint32_t evidence_count;
    struct evidence *evidence;
    struct commit last_commit; /* empty (height 0) in block 1 */
};

/* What the proposer puts in a new block besides its transactions and evidence. */
struct block_params {
    const char *chain_id;
    uint64_t height;
    uint64_t time_ns;
    struct block_id last_block_id;
    const struct commit *last_commit; /* NULL: the empty commit (height 1) */
    const struct validator_set *validators;
    const struct validator_set *next_validators;
    uint8_t consensus_hash[HEADER_HASH_SIZE];
    const uint8_t *app_hash;
    size_t app_hash_len;
    uint8_t last_results_hash[HEADER_HASH_SIZE];
    uint8_t proposer_address[HEADER_ADDRESS_SIZE];
    uint64_t version_app;
};

/* An empty block (no txs, no evidence, empty commit). Never fails. */
void block_init(struct block *b);
void block_fini(struct block *b);

/* Build a block: copy txs[i] (lens[i] bytes, n of them) and evidence, copy the last
 * commit, and fill every header hash. b must be freshly block_init'ed; on error it is
 * left empty. Errors: PX_EINVAL (bad params or header), PX_ETOOBIG (more than
 * BLOCK_MAX_TXS / BLOCK_MAX_EVIDENCE, or txs over BLOCK_MAX_BYTES), PX_ENOMEM. */
int block_make(struct block *b, const struct block_params *p, const uint8_t *const *txs,
               const size_t *lens, size_t n, const struct evidence *evidence, size_t n_evidence);

/* The block's hash (= header_hash). Errors: PX_EINVAL, PX_ENOMEM. */
int block_hash(const struct block *b, uint8_t out[HEADER_HASH_SIZE]);

/* Merkle root of the SHA-256 of each transaction, CometBFT's data hash.
 * Errors: PX_ENOMEM. */
int block_data_hash(const struct block_tx *txs, size_t n, uint8_t out[HEADER_HASH_SIZE]);

/* Merkle root of a validator set (CometBFT's SimpleValidator {pub_key, voting_power} per
 * validator, in the set's order). Errors: PX_ENOMEM. */
int block_validators_hash(const struct validator_set *vals, uint8_t out[HEADER_HASH_SIZE]);

/* The header's consensus hash: SHA-256 of CometBFT's HashedParams {block_max_bytes,
 * block_max_gas} (the consensus parameters that blocks are checked against). */
void block_consensus_hash(int64_t block_max_bytes, int64_t block_max_gas,
                          uint8_t out[HEADER_HASH_SIZE]);

/* How a block travels: encode b, split the encoding into parts (*ps, part_set_fini it
 * after) and give the block id everyone votes for, {block hash, part set header}.
 * Errors: PX_EINVAL (block not consistent), PX_ETOOBIG, PX_ENOMEM. */
int block_to_parts(const struct block *b, struct part_set *ps, struct block_id *id);

/* The block of a complete part set: reassemble, decode, check consistency and, if id is
 * not NULL, that the block's hash and part set header are id's. *out is initialised by the
 * call (block_fini it on success only). Errors: PX_ESTATE (parts missing), PX_EDECODE,
 * PX_ETOOBIG, PX_EINVAL (inconsistent block), PX_ECRYPTO (not the block of id),
 * PX_ENOMEM. */
int block_from_parts(const struct part_set *ps, const struct block_id *id, struct block *out);

/* 0 if the block is consistent: header well formed, data/evidence/last commit hashes
 * match, the last commit well formed and for height - 1 (empty at height 1) and for the
 * header's last block id, evidence well formed, within bounds. PX_EINVAL otherwise;
 * PX_ENOMEM. Signatures are not checked here (commit_verify, evidence_verify). */
int block_validate_basic(const struct block *b);

#endif
