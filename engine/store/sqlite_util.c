/*
 * sqlite_util: see sqlite_util.h. Never leaks a SQLite code or an unfinalized statement.
 */
#include "sqlite_util.h"

#include "px_error.h"
#include "px_log.h"

#include <stdio.h>
#include <string.h>

int sqlu_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_NOMEM:
        return PX_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return PX_EAGAIN;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return PX_ECORRUPT;
    case SQLITE_CONSTRAINT:
        return PX_ECONFLICT;
    case SQLITE_TOOBIG:
        return PX_ETOOBIG;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        return PX_EPERM;
    case SQLITE_NOTFOUND:
        return PX_ENOTFOUND;
    default:
        return PX_EIO;
    }
}

int sqlu_fail(sqlite3 *db, const char *module, const char *what, int rc)
{
    char q[512], f[512];
    px_log(PX_LOG_ERROR, module, "database call failed", "file=%s what=%s error=%s",
           px_log_quote(f, sizeof(f), db ? sqlu_path(db) : ""), what,
           px_log_quote(q, sizeof(q), db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    return sqlu_err(rc) ? sqlu_err(rc) : PX_EIO;
}

const char *sqlu_path(sqlite3 *db)
{
    const char *p = sqlite3_db_filename(db, "main");
    return p ? p : "";
}

int sqlu_exec(sqlite3 *db, const char *module, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sqlu_fail(db, module, sql, rc);
    return 0;
}

int sqlu_open(const char *path, bool readonly, const char *module, sqlite3 **out)
{
    *out = NULL;
    sqlite3 *db = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX; /* one handle, one thread */
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        char q[512];
        px_log(PX_LOG_ERROR, module, "cannot open database", "path=%s error=%s",
               px_log_quote(q, sizeof(q), path), db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return PX_EIO;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    int err = readonly ? sqlu_exec(db, module, "PRAGMA query_only=ON;")
                       : sqlu_exec(db, module,
                                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                   "PRAGMA foreign_keys=ON;");
    if (err) {
        sqlite3_close(db);
        return err;
    }
    *out = db;
    return 0;
}

int sqlu_schema_version(sqlite3 *db, const char *module, int version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlu_fail(db, module, "read schema version", rc);
    int have = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        have = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (have == version)
        return 0;
    if (have != 0) {
        px_log(PX_LOG_ERROR, module, "database has an unknown schema version",
               "have=%d want=%d hint=\"made by another version of phalanx?\"", have, version);
        return PX_ECORRUPT;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", version);
    return sqlu_exec(db, module, sql);
}

int sqlu_open_store(const char *path, bool readonly, const char *module, const char *schema,
                    int version, const char *const *sql, size_t n, sqlite3 **db, sqlite3_stmt **st)
{
    for (size_t i = 0; i < n; i++)
        st[i] = NULL;
    int err = sqlu_open(path, readonly, module, db);
    if (!err && !readonly) {
        err = sqlu_exec(*db, module, schema);
        if (!err)
            err = sqlu_schema_version(*db, module, version);
    }
    for (size_t i = 0; !err && i < n; i++) {
        int rc = sqlite3_prepare_v3(*db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL);
        if (rc != SQLITE_OK)
            err = sqlu_fail(*db, module, "prepare", rc);
    }
    if (err) {
        sqlu_close_store(*db, st, n);
        *db = NULL;
        for (size_t i = 0; i < n; i++)
            st[i] = NULL;
    }
    return err;
}

void sqlu_close_store(sqlite3 *db, sqlite3_stmt **st, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sqlite3_finalize(st[i]);
    sqlite3_close(db);
}

void sqlu_finish(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* The one integer a PRAGMA answers. */
static int pragma_int(sqlite3 *db, const char *module, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlu_fail(db, module, sql, rc);
    rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        err = sqlu_fail(db, module, sql, rc);
    sqlite3_finalize(st);
    return err;
}

int sqlu_db_bytes(sqlite3 *db, const char *module, uint64_t *bytes)
{
    int64_t pages = 0, page_size = 0;
    int err = pragma_int(db, module, "PRAGMA page_count", &pages);
    if (!err)
        err = pragma_int(db, module, "PRAGMA page_size", &page_size);
    *bytes = err || pages < 0 || page_size < 0 ? 0 : (uint64_t)pages * (uint64_t)page_size;
    return err;
}

int sqlu_quick_check(sqlite3 *db, const char *module, char *detail, size_t cap)
{
    if (cap)
        detail[0] = '\0';
    sqlite3_stmt *st = NULL;
    /* quick_check(1): stop at the first complaint */
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        snprintf(detail, cap, "%s", sqlite3_errmsg(db));
        return sqlu_fail(db, module, "quick_check", rc);
    }
    rc = sqlite3_step(st);
    int err = 0;
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!t || strcmp(t, "ok") != 0) {
            /* one line: "*** in database main ***\nPage 180: ..." -> "page 180: ..." */
            static const char head[] = "*** in database main ***";
            if (t && strncmp(t, head, sizeof(head) - 1) == 0)
                t += sizeof(head) - 1;
            while (t && (*t == '\n' || *t == ' '))
                t++;
            snprintf(detail, cap, "SQLite's quick_check: %s", t && *t ? t : "no answer");
            for (char *c = detail; *c; c++)
                if (*c == '\n' || *c == '\r')
                    *c = ' ';
            err = PX_ECORRUPT;
        }
    } else {
        snprintf(detail, cap, "%s", sqlite3_errmsg(db));
        err = sqlu_fail(db, module, "quick_check", rc);
    }
    sqlite3_finalize(st);
    return err;
}
