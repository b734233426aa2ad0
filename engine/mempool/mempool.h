/*
 * mempool: transactions waiting to be proposed. Bounded in count, in bytes and per
 * transaction; first in, first out; each transaction once (by SHA-256 hash), with a cache
 * of recently seen hashes so a transaction gossiped back to us or already committed is not
 * checked again. The app's verdict (CheckTx) is asked for by the caller — the mempool holds
 * only transactions the app accepted.
 *
 * Thread safe: RPC threads add, the p2p side adds and iterates for gossip, the consensus
 * thread reaps and updates after each block. No call blocks on the app or the network.
 *
 * Flow for a new transaction: mempool_precheck (size, duplicate, full?) → CheckTx at the
 * app → mempool_insert (or mempool_reject, which forgets the hash so that it may be sent
 * again). After a block: mempool_update removes the committed ones; if recheck is on, the
 * caller rechecks mempool_pending() snapshots and removes what the app now rejects.
 */
#ifndef PX_MEMPOOL_H
#define PX_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mempool;

struct mempool_config {
    uint32_t max_txs;           /* transactions held */
    uint64_t max_bytes;         /* sum of their sizes */
    uint32_t max_tx_bytes;      /* one transaction */
    uint32_t cache_size;        /* hashes remembered (seen or committed) */
    bool keep_invalid_in_cache; /* a rejected tx stays "seen" (not re-checked if resent) */
};

struct mempool_tx {
    uint8_t hash[32];
    uint64_t seq; /* insertion order, strictly increasing, never reused */
    int64_t gas_wanted;
    uint64_t height; /* height at which it was inserted */
    size_t len;
    uint8_t *data;
};

struct mempool_stats {
    uint32_t txs;
    uint64_t bytes;
    uint64_t inserted, rejected, evicted_committed, failed_recheck, refused_full, refused_too_big,
        duplicates;
};

/* PX_EINVAL for zero limits; PX_ENOMEM. */
int mempool_new(const struct mempool_config *cfg, struct mempool **out);
void mempool_free(struct mempool *mp);

/* SHA-256 of a transaction: its identity everywhere (RPC hash, gossip, cache). */
void mempool_tx_hash(const uint8_t *tx, size_t len, uint8_t out[32]);

/* Can tx be checked and inserted now? 0 yes (and the hash is now "seen": a second
 * precheck of the same tx returns PX_EEXIST until mempool_reject), PX_ETOOBIG (larger than
 * max_tx_bytes), PX_EEXIST (in the pool or recently seen), PX_EBOUND (pool full). */
int mempool_precheck(struct mempool *mp, const uint8_t *tx, size_t len);
/* Add a tx the app accepted. Copies it. PX_EEXIST if already in the pool, PX_EBOUND if
 * the pool filled meanwhile (the hash is forgotten, as by mempool_reject). */
int mempool_insert(struct mempool *mp, const uint8_t *tx, size_t len, int64_t gas_wanted,
                   uint64_t height);
/* The app rejected tx: forget its hash unless keep_invalid_in_cache. */
void mempool_reject(struct mempool *mp, const uint8_t *tx, size_t len);

/* Copy out, in FIFO order, the oldest transactions that fit together: the sum over them of
 * (length + per_tx_bytes) stays <= max_bytes and their gas <= max_gas (negative: no limit),
 * at most max_txs of them. per_tx_bytes is what each one costs besides its bytes where it
 * goes (a block frames each tx with a tag and a length), so the caller gets exactly what
 * fits and never has to drop some afterwards. Caller frees with mempool_txs_free. They
 * stay in the pool until mempool_update. PX_ENOMEM. */
int mempool_reap(struct mempool *mp, uint64_t max_bytes, uint32_t per_tx_bytes, int64_t max_gas,
                 uint32_t max_txs, struct mempool_tx **txs, size_t *n);
/* Free an array that mempool_reap or mempool_after returned, with the count it returned:
 * the whole array, never a part of it (txs + k is not an allocation). NULL is fine. */
void mempool_txs_free(struct mempool_tx *txs, size_t n);

/* After a block at `height` is committed: remove its txs from the pool and remember their
 * hashes in the cache (so they are never re-admitted while remembered). */
void mempool_update(struct mempool *mp, uint64_t height, const uint8_t (*tx_hashes)[32], size_t n);
/* Remove one tx by hash (failed recheck). PX_ENOTFOUND if absent. */
int mempool_remove(struct mempool *mp, const uint8_t hash[32], bool failed_recheck);

/* Up to max transactions with seq > after_seq, oldest first (for gossip and recheck).
 * Caller frees with mempool_txs_free. */
int mempool_after(struct mempool *mp, uint64_t after_seq, size_t max, struct mempool_tx **txs,
                  size_t *n);
bool mempool_contains(struct mempool *mp, const uint8_t hash[32]);
void mempool_stats(struct mempool *mp, struct mempool_stats *st);
/* Remove every tx and forget the cache. */
void mempool_flush(struct mempool *mp);

/* The check gate. After the app's Commit its CheckTx state starts again from the committed
 * state, and the transactions still in the pool are rechecked against it; a new CheckTx in
 * between would be judged without them (a ledger's next nonce, say). So the commit path
 * closes the gate before Commit (mempool_pause_checks waits for the checks in flight), and
 * it opens again when the recheck is over (mempool_resume_checks). Every CheckTx for a new
 * transaction runs between mempool_check_begin and mempool_check_end.
 * mempool_check_begin waits while the gate is closed: PX_ETIMEDOUT after timeout_ms. */
void mempool_pause_checks(struct mempool *mp);
void mempool_resume_checks(struct mempool *mp);
int mempool_check_begin(struct mempool *mp, int timeout_ms);
void mempool_check_end(struct mempool *mp);

#endif
