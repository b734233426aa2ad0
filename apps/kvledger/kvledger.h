/*
 * kvledger: the reference application's state machine, independent of any socket. A
 * key-value store and a token ledger (TXFORMAT.md) whose state lives in SQLite under
 * HOME/data and becomes durable only at Commit, together with the height and app hash.
 *
 * Call order (what the engine does over ABCI): open → Info → InitChain (at height 0) →
 * for each height: FinalizeBlock → Commit; CheckTx and Query at any time. All functions
 * are thread safe (one lock; the ABCI server may call from several connections).
 * It never changes committed state outside Commit and InitChain, and never lets a
 * transaction's bytes make it allocate beyond the limits of TXFORMAT.md.
 */
#ifndef KVLEDGER_H
#define KVLEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv_tx.h"
#include "kvl_store.h"
#include "ledger_tx.h"

/* Result codes of CheckTx / FinalizeBlock / Query (TXFORMAT.md §2). */
enum kvledger_code {
    KVL_CODE_OK = 0,
    KVL_CODE_MALFORMED = 1,
    KVL_CODE_TOO_LARGE = 2,
    KVL_CODE_BAD_SIGNATURE = 3,
    KVL_CODE_WRONG_CHAIN = 4,
    KVL_CODE_BAD_NONCE = 5,
    KVL_CODE_INSUFFICIENT_FUNDS = 6,
    KVL_CODE_OVERFLOW = 7,
    KVL_CODE_UNKNOWN_TYPE = 8,
    KVL_CODE_INVALID_TRANSFER = 9,
    KVL_CODE_MEMPOOL_FULL = 10,
    KVL_CODE_NOT_FOUND = 20,
    KVL_CODE_BAD_QUERY = 21,
};

#define KVL_LOG_MAX 256
#define KVL_QUERY_VALUE_MAX KV_VALUE_MAX
#define KVL_PENDING_ACCOUNTS 65536 /* accounts CheckTx may change between two Commits */
#define KVL_BLOCK_TXS_MAX 100000   /* transactions in one FinalizeBlock */
#define KVL_APP_VERSION 1

/* What a successful transaction did (for events; not part of the app hash). */
enum kvledger_tx_kind {
    KVL_TX_NONE = 0, /* failed */
    KVL_TX_KV_SET = 1,
    KVL_TX_KV_DELETE = 2,
    KVL_TX_TRANSFER = 3,
};

struct kvledger_result {
    uint32_t code;
    char log[KVL_LOG_MAX]; /* one sentence; empty when code is 0 */
    enum kvledger_tx_kind kind;
    size_t key_off, key_len; /* KV: the key's place inside the tx bytes */
    uint8_t from[LEDGER_PUBKEY_LEN], to[LEDGER_PUBKEY_LEN]; /* transfer */
    uint64_t amount;                                        /* transfer */
};

struct kvledger_info {
    int64_t height; /* last committed height */
    uint8_t app_hash[KVL_HASH_LEN];
    size_t app_hash_len; /* 0 before InitChain */
    char chain_id[LEDGER_CHAIN_ID_MAX + 1];
};

struct kvledger_query_result {
    uint32_t code;
    char log[KVL_LOG_MAX];
    uint8_t value[KVL_QUERY_VALUE_MAX];
    size_t value_len;
    int64_t height; /* the committed height the answer reflects */
};

struct kvledger;

/* Open (or create) the app's state under home (HOME/data/kvledger.db; directories are
 * created) and lock the home (HOME/data/kvledger.lock) against a second kvledger. The app
 * resumes at its last committed state. Errors: PX_EEXIST (another kvledger holds the
 * home), PX_EIO (path, logged), PX_ECORRUPT, PX_ENOMEM. *out is freed with
 * kvledger_close. */
int kvledger_open(const char *home, struct kvledger **out);
/* Discards an uncommitted block. NULL is allowed. */
void kvledger_close(struct kvledger *app);

void kvledger_info(struct kvledger *app, struct kvledger_info *out);

/* InitChain: only before the first Commit (again then replaces the previous genesis and
 * discards an uncommitted block). Stores chain_id (1..50 bytes of 0x21..0x7E),
 * initial_height (<= 0 means 1) and the accounts of app_state and makes them durable;
 * app_hash gets the genesis hash. A refused InitChain changes nothing. Errors: PX_ESTATE
 * (a height was committed), PX_EINVAL / PX_ETOOBIG (bad chain id or app_state; logged;
 * err gets the sentence if err is not NULL), PX_EIO. */
int kvledger_init_chain(struct kvledger *app, const char *chain_id, int64_t initial_height,
                        const uint8_t *app_state, size_t app_state_len,
                        uint8_t app_hash[KVL_HASH_LEN], char *err, size_t errcap);

/* CheckTx: the code FinalizeBlock would give tx now (against committed state plus the
 * ledger txs accepted by CheckTx since the last Commit, which an OK result extends).
 * recheck: the engine re-checks its mempool after a Commit (same rules). Returns 0 with
 * res filled, or PX_EIO / PX_ECORRUPT for a local fault. */
int kvledger_check_tx(struct kvledger *app, const uint8_t *tx, size_t len, bool recheck,
                      struct kvledger_result *res);

/* FinalizeBlock: execute txs[i] (lens[i] bytes) of block `height` in order; results[i]
 * gets each code; app_hash gets the new app hash. Nothing is durable until Commit. A
 * second FinalizeBlock of the same height before Commit replaces the first.
 * Errors: PX_ESTATE (no InitChain yet, or height is not the next one: the log says which
 * it expected), PX_ETOOBIG (more than KVL_BLOCK_TXS_MAX txs), PX_EIO, PX_ECORRUPT. */
int kvledger_finalize_block(struct kvledger *app, int64_t height, const uint8_t *const *txs,
                            const size_t *lens, size_t ntx, struct kvledger_result *results,
                            uint8_t app_hash[KVL_HASH_LEN]);

/* Commit: make the finalized block durable with its height and app hash; clears the
 * CheckTx pending state. *height gets the committed height. PX_ESTATE if no block was
 * finalized since the last Commit, PX_EIO. */
int kvledger_commit(struct kvledger *app, int64_t *height);

/* Query paths /key, /account, /height (TXFORMAT.md §4) on committed state. Returns 0 with
 * res filled (code ≠ 0 for a bad or unanswerable query), PX_EIO / PX_ECORRUPT. */
int kvledger_query(struct kvledger *app, const char *path, const uint8_t *data, size_t len,
                   int64_t height, struct kvledger_query_result *res);

#endif
