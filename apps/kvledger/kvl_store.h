/*
 * kvl_store: kvledger's state in SQLite (HOME/data/kvledger.db, WAL mode, synchronous
 * FULL). Tables: kv (key -> value), accounts (public key -> balance, nonce) and one meta
 * row (last committed height, app hash, chain id, initial height).
 *
 * Two connections: the writer, where FinalizeBlock's open transaction lives until Commit,
 * and a reader that only ever sees committed state (Query, CheckTx). Nothing here decides
 * what a transaction means; SQLite result codes never leave this file (they become PX_E*).
 * Not thread safe: the app serialises calls.
 */
#ifndef KVL_STORE_H
#define KVL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger_tx.h"

struct sqlite3;
struct sqlite3_stmt;

#define KVL_HASH_LEN 32

struct kvl_account {
    uint64_t balance;
    uint64_t nonce;
};

struct kvl_meta {
    int64_t height; /* last committed height; 0 before the first block */
    uint8_t app_hash[KVL_HASH_LEN];
    size_t app_hash_len; /* 0 before InitChain */
    char chain_id[LEDGER_CHAIN_ID_MAX + 1];
    int64_t initial_height; /* 0 before InitChain */
};

enum kvl_conn {
    KVL_WRITER = 0, /* sees the open (uncommitted) block */
    KVL_READER = 1, /* sees only committed state */
};

struct kvl_store {
    struct sqlite3 *db[2];
    struct sqlite3_stmt *kv_get[2];
    struct sqlite3_stmt *acct_get[2];
    struct sqlite3_stmt *kv_put;
    struct sqlite3_stmt *kv_del;
    struct sqlite3_stmt *acct_put;
    struct sqlite3_stmt *meta_put;
    bool in_tx;
};

/* Open or create the database at path. PX_EIO: cannot open or create it (logged with the
 * path); PX_ECORRUPT: it is not a kvledger database of a version we know. */
int kvl_store_open(struct kvl_store *s, const char *path);
void kvl_store_close(struct kvl_store *s);

/* Committed meta row. A fresh database gives all zeros. PX_EIO, PX_ECORRUPT. */
int kvl_store_meta_get(struct kvl_store *s, struct kvl_meta *out);
/* Write the meta row inside the writer's transaction. PX_EIO. */
int kvl_store_meta_put(struct kvl_store *s, const struct kvl_meta *m);

/* Writer transaction: begin (PX_ESTATE if one is open), commit, rollback (no-op if none). */
int kvl_store_begin(struct kvl_store *s);
int kvl_store_commit(struct kvl_store *s);
void kvl_store_rollback(struct kvl_store *s);
/* Delete every kv row and account (InitChain), inside the writer's transaction. */
int kvl_store_clear(struct kvl_store *s);

/* Value of key into val[cap]. PX_ENOTFOUND if absent, PX_ECORRUPT if longer than cap. */
int kvl_store_kv_get(struct kvl_store *s, enum kvl_conn c, const uint8_t *key, size_t key_len,
                     uint8_t *val, size_t cap, size_t *val_len);
int kvl_store_kv_put(struct kvl_store *s, const uint8_t *key, size_t key_len, const uint8_t *val,
                     size_t val_len);
int kvl_store_kv_del(struct kvl_store *s, const uint8_t *key, size_t key_len);

/* An absent account reads as balance 0, nonce 0 (*found false). PX_EIO, PX_ECORRUPT. */
int kvl_store_account_get(struct kvl_store *s, enum kvl_conn c,
                          const uint8_t pub[LEDGER_PUBKEY_LEN], struct kvl_account *out,
                          bool *found);
int kvl_store_account_put(struct kvl_store *s, const uint8_t pub[LEDGER_PUBKEY_LEN],
                          const struct kvl_account *a);

#endif
