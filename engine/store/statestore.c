/*
 * statestore: see statestore.h. One table (kind, height) -> value. Never keeps a statement
 * active between calls; never leaves a transaction open after an error it reports.
 */
#include "statestore.h"

#include "px_error.h"
#include "sqlite_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "statestore"
#define SCHEMA_VERSION 1

enum stmt { S_PUT, S_GET, S_LATEST, S_DELETE, S_PRUNE, S_COUNT };

static const char *const sql_text[S_COUNT] = {
    [S_PUT] = "INSERT OR REPLACE INTO records(kind,height,value) VALUES(?,?,?)",
    [S_GET] = "SELECT value FROM records WHERE kind=? AND height=?",
    [S_LATEST] = "SELECT height,value FROM records WHERE kind=? AND height<=? "
                 "ORDER BY height DESC LIMIT 1",
    [S_DELETE] = "DELETE FROM records WHERE kind=? AND height=?",
    [S_PRUNE] = "DELETE FROM records WHERE height<?1 AND height < (SELECT MAX(height) FROM "
                "records r WHERE r.kind=records.kind AND r.height<?1)",
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS records(kind INTEGER NOT NULL,"
                             " height INTEGER NOT NULL, value BLOB NOT NULL,"
                             " PRIMARY KEY(kind, height)) WITHOUT ROWID;";

struct statestore {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    bool readonly;
    bool in_tx;
};

static int open_common(const char *path, bool readonly, struct statestore **out)
{
    *out = NULL;
    struct statestore *ss = calloc(1, sizeof(*ss));
    if (!ss)
        return PX_ENOMEM;
    ss->readonly = readonly;
    int err = sqlu_open_store(path, readonly, MOD, schema, SCHEMA_VERSION, sql_text, S_COUNT,
                              &ss->db, ss->st);
    if (err) {
        statestore_close(ss);
        return err;
    }
    *out = ss;
    return 0;
}

int statestore_open(const char *path, struct statestore **out)
{
    return open_common(path, false, out);
}

int statestore_open_readonly(const char *path, struct statestore **out)
{
    return open_common(path, true, out);
}

void statestore_close(struct statestore *ss)
{
    if (!ss)
        return;
    if (ss->in_tx)
        sqlu_exec(ss->db, MOD, "ROLLBACK");
    sqlu_close_store(ss->db, ss->st, S_COUNT);
    free(ss);
}

int statestore_begin(struct statestore *ss)
{
    if (ss->readonly)
        return PX_EPERM;
    if (ss->in_tx)
        return PX_ESTATE;
    int err = sqlu_exec(ss->db, MOD, "BEGIN IMMEDIATE");
    if (!err)
        ss->in_tx = true;
    return err;
}

int statestore_commit(struct statestore *ss)
{
    if (!ss->in_tx)
        return PX_ESTATE;
    int err = sqlu_exec(ss->db, MOD, "COMMIT");
    if (err) {
        sqlu_exec(ss->db, MOD, "ROLLBACK");
    }
    ss->in_tx = false;
    return err;
}

void statestore_rollback(struct statestore *ss)
{
    if (ss->in_tx)
        sqlu_exec(ss->db, MOD, "ROLLBACK");
    ss->in_tx = false;
}

static int step_done(struct statestore *ss, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlu_finish(s);
    return rc == SQLITE_DONE ? 0 : sqlu_fail(ss->db, MOD, what, rc);
}

int statestore_put(struct statestore *ss, enum statestore_kind kind, uint64_t height,
                   const uint8_t *value, size_t len)
{
    if (ss->readonly)
        return PX_EPERM;
    if (len > STATESTORE_MAX_VALUE_BYTES)
        return PX_ETOOBIG;
    if (height > INT64_MAX)
        return PX_EINVAL;
    sqlite3_stmt *s = ss->st[S_PUT];
    sqlite3_bind_int(s, 1, (int)kind);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)height);
    sqlite3_bind_blob(s, 3, len ? (const void *)value : "", (int)len, SQLITE_STATIC);
    return step_done(ss, s, "put");
}

static int copy_column(sqlite3_stmt *s, int col, uint8_t **value, size_t *len)
{
    int n = sqlite3_column_bytes(s, col);
    uint8_t *copy = malloc(n > 0 ? (size_t)n : 1);
    if (!copy)
        return PX_ENOMEM;
    if (n > 0)
        memcpy(copy, sqlite3_column_blob(s, col), (size_t)n);
    *value = copy;
    *len = (size_t)n;
    return 0;
}

int statestore_get(struct statestore *ss, enum statestore_kind kind, uint64_t height,
                   uint8_t **value, size_t *len)
{
    *value = NULL;
    *len = 0;
    if (height > INT64_MAX)
        return PX_ENOTFOUND;
    sqlite3_stmt *s = ss->st[S_GET];
    sqlite3_bind_int(s, 1, (int)kind);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)height);
    int rc = sqlite3_step(s);
    int err = PX_ENOTFOUND;
    if (rc == SQLITE_ROW)
        err = copy_column(s, 0, value, len);
    else if (rc != SQLITE_DONE)
        err = sqlu_fail(ss->db, MOD, "get", rc);
    sqlu_finish(s);
    return err;
}

int statestore_get_latest(struct statestore *ss, enum statestore_kind kind, uint64_t height,
                          uint64_t *found, uint8_t **value, size_t *len)
{
    *value = NULL;
    *len = 0;
    sqlite3_stmt *s = ss->st[S_LATEST];
    sqlite3_bind_int(s, 1, (int)kind);
    sqlite3_bind_int64(s, 2, height > INT64_MAX ? INT64_MAX : (sqlite3_int64)height);
    int rc = sqlite3_step(s);
    int err = PX_ENOTFOUND;
    if (rc == SQLITE_ROW) {
        if (found)
            *found = (uint64_t)sqlite3_column_int64(s, 0);
        err = copy_column(s, 1, value, len);
    } else if (rc != SQLITE_DONE) {
        err = sqlu_fail(ss->db, MOD, "get latest", rc);
    }
    sqlu_finish(s);
    return err;
}

int statestore_delete(struct statestore *ss, enum statestore_kind kind, uint64_t height)
{
    if (ss->readonly)
        return PX_EPERM;
    if (height > INT64_MAX)
        return PX_ENOTFOUND;
    sqlite3_stmt *s = ss->st[S_DELETE];
    sqlite3_bind_int(s, 1, (int)kind);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)height);
    int err = step_done(ss, s, "delete");
    if (!err && sqlite3_changes(ss->db) == 0)
        return PX_ENOTFOUND;
    return err;
}

int statestore_prune(struct statestore *ss, uint64_t retain_height)
{
    if (ss->readonly)
        return PX_EPERM;
    if (retain_height > INT64_MAX)
        return PX_EINVAL;
    sqlite3_stmt *s = ss->st[S_PRUNE];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)retain_height);
    return step_done(ss, s, "prune");
}

const char *statestore_path(const struct statestore *ss)
{
    return sqlu_path(ss->db);
}

int statestore_check(struct statestore *ss, uint64_t full_check_max_bytes, bool *full, char *detail,
                     size_t cap)
{
    if (full)
        *full = false;
    if (cap)
        detail[0] = '\0';
    uint64_t bytes = 0;
    int err = sqlu_db_bytes(ss->db, MOD, &bytes);
    if (err) {
        snprintf(detail, cap, "its size cannot be read (%s)", px_strerror(err));
        return err;
    }
    if (bytes <= full_check_max_bytes) {
        if (full)
            *full = true;
        if ((err = sqlu_quick_check(ss->db, MOD, detail, cap)) != 0)
            return err;
    }
    static const enum statestore_kind kinds[] = {STATESTORE_STATE, STATESTORE_VALIDATORS,
                                                 STATESTORE_PARAMS, STATESTORE_RESULTS};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        uint8_t *v = NULL;
        size_t len = 0;
        uint64_t h = 0;
        err = statestore_get_latest(ss, kinds[i], UINT64_MAX, &h, &v, &len);
        free(v);
        if (err && err != PX_ENOTFOUND) {
            snprintf(detail, cap, "its latest record of kind %d cannot be read (%s)", (int)kinds[i],
                     px_strerror(err));
            return err;
        }
    }
    return 0;
}
