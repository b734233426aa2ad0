/*
 * txindex: see txindex.h. Two tables keyed for lookups by (key, value, height); a one-row
 * table records the highest height indexed. Statements prepared once; none stays active
 * between calls.
 */
#include "txindex.h"

#include "px_error.h"
#include "sqlite_util.h"

#include <stdlib.h>
#include <string.h>

#define MOD "txindex"
#define SCHEMA_VERSION 1

enum stmt {
    S_HEIGHT,
    S_SET_HEIGHT,
    S_DEL_TX,
    S_DEL_BLOCK,
    S_ADD_TX,
    S_ADD_BLOCK,
    S_FIND_TX_ASC,
    S_FIND_TX_DESC,
    S_FIND_BLOCK_ASC,
    S_FIND_BLOCK_DESC,
    S_COUNT
};

static const char *const sql_text[S_COUNT] = {
    [S_HEIGHT] = "SELECT IFNULL(MAX(height),0) FROM indexed",
    /* re-indexing an older height never lowers the mark */
    [S_SET_HEIGHT] = "INSERT INTO indexed(id,height) VALUES(1,?) "
                     "ON CONFLICT(id) DO UPDATE SET height=MAX(height, excluded.height)",
    [S_DEL_TX] = "DELETE FROM tx_attrs WHERE height=?",
    [S_DEL_BLOCK] = "DELETE FROM block_attrs WHERE height=?",
    [S_ADD_TX] = "INSERT OR IGNORE INTO tx_attrs(key,value,height,idx) VALUES(?,?,?,?)",
    [S_ADD_BLOCK] = "INSERT OR IGNORE INTO block_attrs(key,value,height) VALUES(?,?,?)",
    [S_FIND_TX_ASC] = "SELECT DISTINCT height,idx FROM tx_attrs WHERE key=? AND value=? AND "
                      "height BETWEEN ? AND ? ORDER BY height ASC, idx ASC LIMIT ?",
    [S_FIND_TX_DESC] = "SELECT DISTINCT height,idx FROM tx_attrs WHERE key=? AND value=? AND "
                       "height BETWEEN ? AND ? ORDER BY height DESC, idx DESC LIMIT ?",
    [S_FIND_BLOCK_ASC] = "SELECT DISTINCT height FROM block_attrs WHERE key=? AND value=? AND "
                         "height BETWEEN ? AND ? ORDER BY height ASC LIMIT ?",
    [S_FIND_BLOCK_DESC] = "SELECT DISTINCT height FROM block_attrs WHERE key=? AND value=? AND "
                          "height BETWEEN ? AND ? ORDER BY height DESC LIMIT ?",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS tx_attrs(key TEXT NOT NULL, value TEXT NOT NULL,"
    "  height INTEGER NOT NULL, idx INTEGER NOT NULL,"
    "  PRIMARY KEY(key, value, height, idx)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS tx_attrs_by_height ON tx_attrs(height);"
    "CREATE TABLE IF NOT EXISTS block_attrs(key TEXT NOT NULL, value TEXT NOT NULL,"
    "  height INTEGER NOT NULL, PRIMARY KEY(key, value, height)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS block_attrs_by_height ON block_attrs(height);"
    "CREATE TABLE IF NOT EXISTS indexed(id INTEGER PRIMARY KEY CHECK(id=1),"
    "  height INTEGER NOT NULL);";

struct txindex {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    bool readonly;
    bool in_tx;
    uint64_t height; /* of the open transaction */
};

int txindex_open(const char *path, bool readonly, struct txindex **out)
{
    *out = NULL;
    struct txindex *x = calloc(1, sizeof(*x));
    if (!x)
        return PX_ENOMEM;
    x->readonly = readonly;
    int err = sqlu_open_store(path, readonly, MOD, schema, SCHEMA_VERSION, sql_text, S_COUNT,
                              &x->db, x->st);
    if (err) {
        txindex_close(x);
        return err;
    }
    *out = x;
    return 0;
}

void txindex_close(struct txindex *x)
{
    if (!x)
        return;
    if (x->in_tx)
        sqlu_exec(x->db, MOD, "ROLLBACK");
    sqlu_close_store(x->db, x->st, S_COUNT);
    free(x);
}

uint64_t txindex_height(struct txindex *x)
{
    sqlite3_stmt *s = x->st[S_HEIGHT];
    uint64_t h = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        h = (uint64_t)sqlite3_column_int64(s, 0);
    sqlu_finish(s);
    return h;
}

static int step_done(struct txindex *x, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlu_finish(s);
    return rc == SQLITE_DONE ? 0 : sqlu_fail(x->db, MOD, what, rc);
}

int txindex_begin(struct txindex *x, uint64_t height)
{
    if (x->readonly)
        return PX_EPERM;
    if (x->in_tx)
        return PX_ESTATE;
    if (height == 0 || height > INT64_MAX)
        return PX_EINVAL;
    int err = sqlu_exec(x->db, MOD, "BEGIN IMMEDIATE");
    if (err)
        return err;
    x->in_tx = true;
    x->height = height;
    sqlite3_bind_int64(x->st[S_DEL_TX], 1, (sqlite3_int64)height);
    err = step_done(x, x->st[S_DEL_TX], "clear tx attrs");
    if (!err) {
        sqlite3_bind_int64(x->st[S_DEL_BLOCK], 1, (sqlite3_int64)height);
        err = step_done(x, x->st[S_DEL_BLOCK], "clear block attrs");
    }
    if (err)
        txindex_rollback(x);
    return err;
}

static bool fits(const char *key, const char *value)
{
    return key && value && key[0] && strlen(key) <= TXINDEX_KEY_MAX &&
           strlen(value) <= TXINDEX_VALUE_MAX;
}

int txindex_add_tx(struct txindex *x, uint32_t tx_index, const char *key, const char *value)
{
    if (!x->in_tx)
        return PX_ESTATE;
    if (!fits(key, value))
        return 0; /* not indexed: searches fall back to reading the results */
    sqlite3_stmt *s = x->st[S_ADD_TX];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)x->height);
    sqlite3_bind_int64(s, 4, tx_index);
    return step_done(x, s, "add tx attr");
}

int txindex_add_block(struct txindex *x, const char *key, const char *value)
{
    if (!x->in_tx)
        return PX_ESTATE;
    if (!fits(key, value))
        return 0;
    sqlite3_stmt *s = x->st[S_ADD_BLOCK];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)x->height);
    return step_done(x, s, "add block attr");
}

int txindex_commit(struct txindex *x)
{
    if (!x->in_tx)
        return PX_ESTATE;
    sqlite3_stmt *s = x->st[S_SET_HEIGHT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)x->height);
    int err = step_done(x, s, "record height");
    if (!err)
        err = sqlu_exec(x->db, MOD, "COMMIT");
    if (err)
        sqlu_exec(x->db, MOD, "ROLLBACK");
    x->in_tx = false;
    return err;
}

void txindex_rollback(struct txindex *x)
{
    if (x->in_tx)
        sqlu_exec(x->db, MOD, "ROLLBACK");
    x->in_tx = false;
}

/* Run a find statement; `cols` results per row go to out (cap rows). */
static int find(struct txindex *x, enum stmt which, const char *key, const char *value, uint64_t lo,
                uint64_t hi, uint64_t *out, int cols, size_t cap, size_t *n, bool *more)
{
    *n = 0;
    *more = false;
    if (hi > INT64_MAX)
        hi = INT64_MAX;
    if (lo > hi)
        return 0;
    sqlite3_stmt *s = x->st[which];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)lo);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)hi);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)cap + 1);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            *more = true;
            break;
        }
        for (int c = 0; c < cols; c++)
            out[*n * (size_t)cols + (size_t)c] = (uint64_t)sqlite3_column_int64(s, c);
        (*n)++;
    }
    int err = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : sqlu_fail(x->db, MOD, "find", rc);
    sqlu_finish(s);
    return err;
}

int txindex_find_txs(struct txindex *x, const char *key, const char *value, uint64_t lo,
                     uint64_t hi, bool desc, uint64_t (*out)[2], size_t cap, size_t *n, bool *more)
{
    return find(x, desc ? S_FIND_TX_DESC : S_FIND_TX_ASC, key, value, lo, hi, &out[0][0], 2, cap, n,
                more);
}

int txindex_find_blocks(struct txindex *x, const char *key, const char *value, uint64_t lo,
                        uint64_t hi, bool desc, uint64_t *out, size_t cap, size_t *n, bool *more)
{
    return find(x, desc ? S_FIND_BLOCK_DESC : S_FIND_BLOCK_ASC, key, value, lo, hi, out, 1, cap, n,
                more);
}
