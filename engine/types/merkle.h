/*
 * merkle: SHA-256 Merkle trees as RFC 6962 and CometBFT build them: a leaf is
 * H(0x00 || leaf), an inner node H(0x01 || left || right), the left subtree of n items
 * holds the largest power of two smaller than n, and the root of no items is SHA-256 of
 * nothing. Used for transactions, header fields, validators, commits, evidence and block
 * parts (with inclusion proofs). Never allocates more than one hash per item.
 */
#ifndef PX_MERKLE_H
#define PX_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_SIZE 32
/* Most aunts in a proof: trees of up to 2^32 items. */
#define MERKLE_MAX_AUNTS 32

struct merkle_proof {
    uint64_t total; /* items in the tree, >= 1 */
    uint64_t index; /* this item's position, < total */
    uint8_t leaf_hash[MERKLE_HASH_SIZE];
    uint32_t aunt_count;
    uint8_t aunts[MERKLE_MAX_AUNTS][MERKLE_HASH_SIZE]; /* sibling hashes, leaf upwards */
};

void merkle_empty_hash(uint8_t out[MERKLE_HASH_SIZE]);
void merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[MERKLE_HASH_SIZE]);
void merkle_inner_hash(const uint8_t left[MERKLE_HASH_SIZE], const uint8_t right[MERKLE_HASH_SIZE],
                       uint8_t out[MERKLE_HASH_SIZE]);
/* The largest power of two strictly smaller than n (n >= 2). */
uint64_t merkle_split_point(uint64_t n);

/* Root of n items (items[i] of lens[i] bytes; n may be 0). Errors: PX_ENOMEM. */
int merkle_root(const uint8_t *const *items, const size_t *lens, size_t n,
                uint8_t out[MERKLE_HASH_SIZE]);

/* Root of a tree whose leaf hashes are already known (leaf_hashes[i] = merkle_leaf_hash of
 * item i). Never fails. */
void merkle_root_from_leaf_hashes(const uint8_t (*leaf_hashes)[MERKLE_HASH_SIZE], size_t n,
                                  uint8_t out[MERKLE_HASH_SIZE]);

/* Root of n items and an inclusion proof for each (proofs has n entries).
 * Errors: PX_EINVAL (n == 0), PX_ETOOBIG (n > 2^32), PX_ENOMEM. */
int merkle_proofs(const uint8_t *const *items, const size_t *lens, size_t n,
                  uint8_t root[MERKLE_HASH_SIZE], struct merkle_proof *proofs);

/* The root that proof p leads to from its leaf hash. Errors: PX_EINVAL (index out of range,
 * wrong number of aunts for the position). */
int merkle_proof_root(const struct merkle_proof *p, uint8_t out[MERKLE_HASH_SIZE]);

/* 0 if leaf (len bytes) is item p->index of the tree with this root; PX_ECRYPTO if not
 * (leaf hash or root differ); PX_EINVAL if the proof is malformed. */
int merkle_proof_verify(const struct merkle_proof *p, const uint8_t root[MERKLE_HASH_SIZE],
                        const uint8_t *leaf, size_t len);

#endif
