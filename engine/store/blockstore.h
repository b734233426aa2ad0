/*
 * blockstore: the decided chain on disk (SQLite, WAL mode). For every height it keeps the
 * encoded block, the encoded commit that decided it ("seen commit"), the block's hash and
 * a few header facts for listings, and an index from transaction hash to (height, index).
 * Blocks and commits are opaque bytes here: engine/types encodes and decodes them.
 *
 * One writer: all writes come from one thread (the node's commit path). Readers (RPC) open
 * their own handle with blockstore_open_readonly. A save is one SQLite transaction with
 * synchronous=FULL, so once blockstore_save returns the block is durable, and a crash
 * leaves either all of a height or none of it. Heights are contiguous from the base (the
 * lowest height kept, which pruning raises) to the top.
 */
#ifndef PX_BLOCKSTORE_H
#define PX_BLOCKSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blockstore;

#define BLOCKSTORE_HASH_LEN 32
#define BLOCKSTORE_MAX_TXS 1000000 /* transactions indexed per block */

struct blockstore_meta {
    uint64_t height;
    uint8_t hash[BLOCKSTORE_HASH_LEN]; /* block hash (header hash) */
    uint64_t time_ns;                  /* header time, ns since the epoch */
    uint32_t num_txs;
    uint64_t size_bytes;  /* encoded block size */
    uint8_t app_hash_len; /* app hash in the header (<= 64 bytes) */
    uint8_t app_hash[64];
    uint8_t proposer_address[20];
};

/* Open (creating if needed) the store at path. Errors: PX_EIO (cannot open or set up;
 * details logged with the path), PX_ECORRUPT (schema from a newer version or not ours),
 * PX_ENOMEM. On error *out is NULL. */
int blockstore_open(const char *path, struct blockstore **out);
/* Open for reading only (another thread or process may be writing). */
int blockstore_open_readonly(const char *path, struct blockstore **out);
void blockstore_close(struct blockstore *bs);

/* Lowest and highest stored heights; both 0 when empty. A read error is logged and also
 * gives 0, 0: where that matters use blockstore_bounds. */
void blockstore_range(struct blockstore *bs, uint64_t *base, uint64_t *top);
/* blockstore_range with the error: PX_ECORRUPT, PX_EIO (then both are 0). */
int blockstore_bounds(struct blockstore *bs, uint64_t *base, uint64_t *top);
/* The database file. */
const char *blockstore_path(const struct blockstore *bs);

/* Start-up check: the structure of the whole file (SQLite's quick_check, a read of every
 * page) when the database holds at most full_check_max_bytes, and in any case every row of
 * the lowest and the highest height (block, seen commit, meta, and the tx index agreeing
 * with the block's tx count): what the node reads first. *full (may be NULL) tells whether
 * the whole file was checked. 0 if sound; PX_ECORRUPT (damaged: detail says what was
 * found), PX_EIO (cannot be read), PX_ENOMEM. */
int blockstore_check(struct blockstore *bs, uint64_t full_check_max_bytes, bool *full, char *detail,
                     size_t cap);

/* Save a decided block. meta->height must be top+1 (or any height when empty: the first
 * saved height becomes the base, e.g. after state sync). tx_hashes holds num_txs hashes
 * of 32 bytes in block order. Saving the exact same block again at the top height is a
 * no-op (replay after a crash); a different block at a stored height is PX_ECONFLICT.
 * Errors: PX_EINVAL (height gap, bad sizes), PX_ECONFLICT, PX_EIO. */
int blockstore_save(struct blockstore *bs, const struct blockstore_meta *meta, const uint8_t *block,
                    size_t block_len, const uint8_t *commit, size_t commit_len,
                    const uint8_t (*tx_hashes)[32]);

/* Replace the seen commit of a height (a later, fuller commit gathered in timeout_commit).
 * PX_ENOTFOUND if the height is not stored. */
int blockstore_save_commit(struct blockstore *bs, uint64_t height, const uint8_t *commit,
                           size_t commit_len);

/* Loads return malloc'd bytes the caller frees. PX_ENOTFOUND if absent. */
int blockstore_load_block(struct blockstore *bs, uint64_t height, uint8_t **data, size_t *len);
int blockstore_load_commit(struct blockstore *bs, uint64_t height, uint8_t **data, size_t *len);
int blockstore_load_meta(struct blockstore *bs, uint64_t height, struct blockstore_meta *meta);
/* Height of the block with this hash. */
int blockstore_find_hash(struct blockstore *bs, const uint8_t hash[32], uint64_t *height);
/* Where a transaction is: (height, index in block). The newest occurrence wins. */
int blockstore_find_tx(struct blockstore *bs, const uint8_t hash[32], uint64_t *height,
                       uint32_t *index);

/* Delete everything below retain_height (blocks, commits, tx index). Returns the number of
 * heights pruned in *pruned. PX_EINVAL if retain_height > top. */
int blockstore_prune(struct blockstore *bs, uint64_t retain_height, uint64_t *pruned);

/* Remove the top height (phalanx rollback --hard). PX_ENOTFOUND when empty. */
int blockstore_delete_top(struct blockstore *bs);

#endif
