/*
 * blockstore: see blockstore.h. Statements are prepared once at open; every write is one
 * transaction. Never returns a height range with holes, never keeps a statement active
 * between calls.
 */
#include "blockstore.h"

#include "px_error.h"
#include "px_log.h"
#include "sqlite_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "blockstore"
#define SCHEMA_VERSION 1

enum stmt {
    S_RANGE,
    S_INSERT,
    S_INSERT_TX,
    S_GET_HASH_AT,
    S_SET_COMMIT,
    S_GET_BLOCK,
    S_GET_COMMIT,
    S_GET_META,
    S_FIND_HASH,
    S_FIND_TX,
    S_PRUNE_BLOCKS,
    S_PRUNE_TXS,
    S_DEL_BLOCK,
    S_DEL_TXS,
    S_COUNT_TXS_AT,
    S_COUNT
};

static const char *const sql_text[S_COUNT] = {
    [S_RANGE] = "SELECT IFNULL(MIN(height),0), IFNULL(MAX(height),0) FROM blocks",
    [S_INSERT] = "INSERT INTO blocks(height,hash,time_ns,num_txs,size,app_hash,proposer,block,"
                 "seen_commit) VALUES(?,?,?,?,?,?,?,?,?)",
    [S_INSERT_TX] = "INSERT OR IGNORE INTO txs(hash,height,idx) VALUES(?,?,?)",
    [S_GET_HASH_AT] = "SELECT hash FROM blocks WHERE height=?",
    [S_SET_COMMIT] = "UPDATE blocks SET seen_commit=? WHERE height=?",
    [S_GET_BLOCK] = "SELECT block FROM blocks WHERE height=?",
    [S_GET_COMMIT] = "SELECT seen_commit FROM blocks WHERE height=?",
    [S_GET_META] = "SELECT hash,time_ns,num_txs,size,app_hash,proposer FROM blocks WHERE height=?",
    [S_FIND_HASH] = "SELECT height FROM blocks WHERE hash=?",
    [S_FIND_TX] = "SELECT height,idx FROM txs WHERE hash=? ORDER BY height DESC, idx DESC "
                  "LIMIT 1",
    [S_PRUNE_BLOCKS] = "DELETE FROM blocks WHERE height<?",
    [S_PRUNE_TXS] = "DELETE FROM txs WHERE height<?",
    [S_DEL_BLOCK] = "DELETE FROM blocks WHERE height=?",
    [S_DEL_TXS] = "DELETE FROM txs WHERE height=?",
    [S_COUNT_TXS_AT] = "SELECT COUNT(*) FROM txs WHERE height=?",
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS blocks("
                             "  height INTEGER PRIMARY KEY,"
                             "  hash BLOB NOT NULL UNIQUE,"
                             "  time_ns INTEGER NOT NULL,"
                             "  num_txs INTEGER NOT NULL,"
                             "  size INTEGER NOT NULL,"
                             "  app_hash BLOB NOT NULL,"
                             "  proposer BLOB NOT NULL,"
                             "  block BLOB NOT NULL,"
                             "  seen_commit BLOB NOT NULL);"
                             "CREATE TABLE IF NOT EXISTS txs("
                             "  hash BLOB NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL,"
                             "  PRIMARY KEY(hash, height, idx)) WITHOUT ROWID;"
                             "CREATE INDEX IF NOT EXISTS txs_by_height ON txs(height);";

struct blockstore {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    bool readonly;
};

static int open_common(const char *path, bool readonly, struct blockstore **out)
{
    *out = NULL;
    struct blockstore *bs = calloc(1, sizeof(*bs));
    if (!bs)
        return PX_ENOMEM;
    bs->readonly = readonly;
    int err = sqlu_open_store(path, readonly, MOD, schema, SCHEMA_VERSION, sql_text, S_COUNT,
                              &bs->db, bs->st);
    if (err) {
        blockstore_close(bs);
        return err;
    }
    *out = bs;
    return 0;
}

int blockstore_open(const char *path, struct blockstore **out)
{
    return open_common(path, false, out);
}

int blockstore_open_readonly(const char *path, struct blockstore **out)
{
    return open_common(path, true, out);
}

void blockstore_close(struct blockstore *bs)
{
    if (!bs)
        return;
    sqlu_close_store(bs->db, bs->st, S_COUNT);
    free(bs);
}

int blockstore_bounds(struct blockstore *bs, uint64_t *base, uint64_t *top)
{
    sqlite3_stmt *s = bs->st[S_RANGE];
    *base = *top = 0;
    int rc = sqlite3_step(s);
    int err = 0;
    if (rc == SQLITE_ROW) {
        *base = (uint64_t)sqlite3_column_int64(s, 0);
        *top = (uint64_t)sqlite3_column_int64(s, 1);
    } else {
        err = sqlu_fail(bs->db, MOD, "read the height range", rc);
    }
    sqlu_finish(s);
    return err;
}

void blockstore_range(struct blockstore *bs, uint64_t *base, uint64_t *top)
{
    (void)blockstore_bounds(bs, base, top);
}

const char *blockstore_path(const struct blockstore *bs)
{
    return sqlu_path(bs->db);
}

/* The hash stored at height into out; PX_ENOTFOUND if none. */
static int hash_at(struct blockstore *bs, uint64_t height, uint8_t out[32])
{
    sqlite3_stmt *s = bs->st[S_GET_HASH_AT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)height);
    int rc = sqlite3_step(s);
    int err = PX_ENOTFOUND;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 32) {
        memcpy(out, sqlite3_column_blob(s, 0), 32);
        err = 0;
    } else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        err = sqlu_fail(bs->db, MOD, "read hash", rc);
    }
    sqlu_finish(s);
    return err;
}

static int step_done(struct blockstore *bs, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlu_finish(s);
    if (rc != SQLITE_DONE)
        return sqlu_fail(bs->db, MOD, what, rc);
    return 0;
}

int blockstore_save(struct blockstore *bs, const struct blockstore_meta *meta, const uint8_t *block,
                    size_t block_len, const uint8_t *commit, size_t commit_len,
                    const uint8_t (*tx_hashes)[32])
{
    if (bs->readonly)
        return PX_EPERM;
    if (meta->height == 0 || meta->height > INT64_MAX || meta->num_txs > BLOCKSTORE_MAX_TXS ||
        meta->app_hash_len > sizeof(meta->app_hash) || block_len > INT32_MAX ||
        commit_len > INT32_MAX || (meta->num_txs > 0 && tx_hashes == NULL))
        return PX_EINVAL;
    uint64_t base, top;
    blockstore_range(bs, &base, &top);
    if (top != 0 && meta->height <= top) {
        uint8_t have[32];
        int err = hash_at(bs, meta->height, have);
        if (err)
            return err == PX_ENOTFOUND ? PX_EINVAL : err; /* below the base: pruned */
        if (memcmp(have, meta->hash, 32) != 0) {
            px_log(PX_LOG_ERROR, MOD, "refusing a different block at a stored height",
                   "height=%llu", (unsigned long long)meta->height);
            return PX_ECONFLICT;
        }
        return 0; /* the same block again: replay after a crash */
    }
    if (top != 0 && meta->height != top + 1)
        return PX_EINVAL;

    int err = sqlu_exec(bs->db, MOD, "BEGIN IMMEDIATE");
    if (err)
        return err;
    sqlite3_stmt *s = bs->st[S_INSERT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)meta->height);
    sqlite3_bind_blob(s, 2, meta->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)meta->time_ns);
    sqlite3_bind_int64(s, 4, meta->num_txs);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)meta->size_bytes);
    sqlite3_bind_blob(s, 6, meta->app_hash, meta->app_hash_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 7, meta->proposer_address, 20, SQLITE_STATIC);
    sqlite3_bind_blob(s, 8, block, (int)block_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 9, commit, (int)commit_len, SQLITE_STATIC);
    err = step_done(bs, s, "insert block");
    for (uint32_t i = 0; !err && i < meta->num_txs; i++) {
        sqlite3_stmt *t = bs->st[S_INSERT_TX];
        sqlite3_bind_blob(t, 1, tx_hashes[i], 32, SQLITE_STATIC);
        sqlite3_bind_int64(t, 2, (sqlite3_int64)meta->height);
        sqlite3_bind_int64(t, 3, i);
        err = step_done(bs, t, "index tx");
    }
    if (err) {
        sqlu_exec(bs->db, MOD, "ROLLBACK");
        return err;
    }
    return sqlu_exec(bs->db, MOD, "COMMIT");
}

int blockstore_save_commit(struct blockstore *bs, uint64_t height, const uint8_t *commit,
                           size_t commit_len)
{
    if (bs->readonly)
        return PX_EPERM;
    if (commit_len > INT32_MAX || height > INT64_MAX)
        return PX_EINVAL;
    sqlite3_stmt *s = bs->st[S_SET_COMMIT];
    sqlite3_bind_blob(s, 1, commit, (int)commit_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)height);
    int err = step_done(bs, s, "update commit");
    if (!err && sqlite3_changes(bs->db) == 0)
        return PX_ENOTFOUND;
    return err;
}

static int load_blob(struct blockstore *bs, enum stmt which, uint64_t height, uint8_t **data,
                     size_t *len)
{
    *data = NULL;
    *len = 0;
    if (height > INT64_MAX)
        return PX_ENOTFOUND;
    sqlite3_stmt *s = bs->st[which];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)height);
    int rc = sqlite3_step(s);
    int err = PX_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        int n = sqlite3_column_bytes(s, 0);
        const void *p = sqlite3_column_blob(s, 0);
        uint8_t *copy = malloc(n > 0 ? (size_t)n : 1);
        if (!copy) {
            err = PX_ENOMEM;
        } else {
            if (n > 0)
                memcpy(copy, p, (size_t)n);
            *data = copy;
            *len = (size_t)n;
            err = 0;
        }
    } else if (rc != SQLITE_DONE) {
        err = sqlu_fail(bs->db, MOD, "load", rc);
    }
    sqlu_finish(s);
    return err;
}

int blockstore_load_block(struct blockstore *bs, uint64_t height, uint8_t **data, size_t *len)
{
    return load_blob(bs, S_GET_BLOCK, height, data, len);
}

int blockstore_load_commit(struct blockstore *bs, uint64_t height, uint8_t **data, size_t *len)
{
    return load_blob(bs, S_GET_COMMIT, height, data, len);
}

int blockstore_load_meta(struct blockstore *bs, uint64_t height, struct blockstore_meta *meta)
{
    if (height > INT64_MAX)
        return PX_ENOTFOUND;
    sqlite3_stmt *s = bs->st[S_GET_META];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)height);
    int rc = sqlite3_step(s);
    int err = PX_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        memset(meta, 0, sizeof(*meta));
        meta->height = height;
        int hl = sqlite3_column_bytes(s, 0), al = sqlite3_column_bytes(s, 4),
            pl = sqlite3_column_bytes(s, 5);
        if (hl != 32 || al > (int)sizeof(meta->app_hash) || pl != 20) {
            err = PX_ECORRUPT;
        } else {
            memcpy(meta->hash, sqlite3_column_blob(s, 0), 32);
            meta->time_ns = (uint64_t)sqlite3_column_int64(s, 1);
            meta->num_txs = (uint32_t)sqlite3_column_int64(s, 2);
            meta->size_bytes = (uint64_t)sqlite3_column_int64(s, 3);
            meta->app_hash_len = (uint8_t)al;
            if (al > 0)
                memcpy(meta->app_hash, sqlite3_column_blob(s, 4), (size_t)al);
            memcpy(meta->proposer_address, sqlite3_column_blob(s, 5), 20);
            err = 0;
        }
    } else if (rc != SQLITE_DONE) {
        err = sqlu_fail(bs->db, MOD, "load meta", rc);
    }
    sqlu_finish(s);
    return err;
}

int blockstore_find_hash(struct blockstore *bs, const uint8_t hash[32], uint64_t *height)
{
    sqlite3_stmt *s = bs->st[S_FIND_HASH];
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int err = PX_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        *height = (uint64_t)sqlite3_column_int64(s, 0);
        err = 0;
    } else if (rc != SQLITE_DONE) {
        err = sqlu_fail(bs->db, MOD, "find hash", rc);
    }
    sqlu_finish(s);
    return err;
}

int blockstore_find_tx(struct blockstore *bs, const uint8_t hash[32], uint64_t *height,
                       uint32_t *index)
{
    sqlite3_stmt *s = bs->st[S_FIND_TX];
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int err = PX_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        *height = (uint64_t)sqlite3_column_int64(s, 0);
        *index = (uint32_t)sqlite3_column_int64(s, 1);
        err = 0;
    } else if (rc != SQLITE_DONE) {
        err = sqlu_fail(bs->db, MOD, "find tx", rc);
    }
    sqlu_finish(s);
    return err;
}

static int delete_below_or_at(struct blockstore *bs, enum stmt blocks, enum stmt txs,
                              uint64_t height)
{
    int err = sqlu_exec(bs->db, MOD, "BEGIN IMMEDIATE");
    if (err)
        return err;
    sqlite3_stmt *s = bs->st[blocks];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)height);
    err = step_done(bs, s, "delete blocks");
    if (!err) {
        s = bs->st[txs];
        sqlite3_bind_int64(s, 1, (sqlite3_int64)height);
        err = step_done(bs, s, "delete txs");
    }
    if (err) {
        sqlu_exec(bs->db, MOD, "ROLLBACK");
        return err;
    }
    return sqlu_exec(bs->db, MOD, "COMMIT");
}

int blockstore_prune(struct blockstore *bs, uint64_t retain_height, uint64_t *pruned)
{
    *pruned = 0;
    if (bs->readonly)
        return PX_EPERM;
    uint64_t base, top;
    blockstore_range(bs, &base, &top);
    if (retain_height > top || retain_height > INT64_MAX)
        return PX_EINVAL;
    if (retain_height <= base)
        return 0;
    int err = delete_below_or_at(bs, S_PRUNE_BLOCKS, S_PRUNE_TXS, retain_height);
    if (!err)
        *pruned = retain_height - base;
    return err;
}

int blockstore_delete_top(struct blockstore *bs)
{
    if (bs->readonly)
        return PX_EPERM;
    uint64_t base, top;
    blockstore_range(bs, &base, &top);
    if (top == 0)
        return PX_ENOTFOUND;
    return delete_below_or_at(bs, S_DEL_BLOCK, S_DEL_TXS, top);
}

/* Every row of one height readable, and its tx index as long as its tx count. */
static int check_height(struct blockstore *bs, uint64_t h, char *detail, size_t cap)
{
    struct blockstore_meta m;
    uint8_t *data = NULL;
    size_t len = 0;
    int err = blockstore_load_meta(bs, h, &m);
    if (!err) {
        err = blockstore_load_block(bs, h, &data, &len);
        free(data);
    }
    if (!err) {
        err = blockstore_load_commit(bs, h, &data, &len);
        free(data);
    }
    if (err) {
        snprintf(detail, cap, "height %llu cannot be read back (%s)", (unsigned long long)h,
                 px_strerror(err));
        return err == PX_ENOTFOUND ? PX_ECORRUPT : err;
    }
    sqlite3_stmt *s = bs->st[S_COUNT_TXS_AT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)h);
    int rc = sqlite3_step(s);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    if (rc != SQLITE_ROW)
        err = sqlu_fail(bs->db, MOD, "count the indexed txs", rc);
    sqlu_finish(s);
    if (err) {
        snprintf(detail, cap, "the tx index of height %llu cannot be read (%s)",
                 (unsigned long long)h, px_strerror(err));
        return err;
    }
    if (n != (int64_t)m.num_txs) {
        snprintf(detail, cap, "the tx index lists %lld txs of height %llu, whose block has %u",
                 (long long)n, (unsigned long long)h, m.num_txs);
        return PX_ECORRUPT;
    }
    return 0;
}

int blockstore_check(struct blockstore *bs, uint64_t full_check_max_bytes, bool *full, char *detail,
                     size_t cap)
{
    if (full)
        *full = false;
    if (cap)
        detail[0] = '\0';
    uint64_t bytes = 0;
    int err = sqlu_db_bytes(bs->db, MOD, &bytes);
    if (err) {
        snprintf(detail, cap, "its size cannot be read (%s)", px_strerror(err));
        return err;
    }
    if (bytes <= full_check_max_bytes) {
        if (full)
            *full = true;
        if ((err = sqlu_quick_check(bs->db, MOD, detail, cap)) != 0)
            return err;
    }
    uint64_t base, top;
    if ((err = blockstore_bounds(bs, &base, &top)) != 0) {
        snprintf(detail, cap, "its height range cannot be read (%s)", px_strerror(err));
        return err;
    }
    if (top == 0)
        return 0;
    err = check_height(bs, top, detail, cap);
    if (!err && base != top)
        err = check_height(bs, base, detail, cap);
    return err;
}
