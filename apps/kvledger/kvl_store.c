/*
 * kvl_store: kvledger's SQLite state (see kvl_store.h). Every statement is prepared once
 * at open and reset after each use, so the reader never keeps a stale snapshot open.
 * SQLite's result codes stop here; callers see PX_E* codes and the log says what failed.
 */
#include "kvl_store.h"

#include "px_error.h"
#include "px_log.h"

#include <sqlite3.h>
#include <string.h>

#define MOD "kvledger"
#define SCHEMA_VERSION 1

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS accounts(pub BLOB PRIMARY KEY, state BLOB NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS meta(id INTEGER PRIMARY KEY CHECK (id = 0),"
    " height INTEGER NOT NULL, app_hash BLOB NOT NULL, chain_id TEXT NOT NULL,"
    " initial_height INTEGER NOT NULL);";

static int db_fail(struct sqlite3 *db, const char *what)
{
    PX_ERROR(MOD, "database operation failed", "op=%s err=\"%s\"", what,
             db ? sqlite3_errmsg(db) : "no database");
    return PX_EIO;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int exec(struct sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, sql);
    return 0;
}

static int prepare(struct sqlite3 *db, const char *sql, struct sqlite3_stmt **out)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return db_fail(db, sql);
    return 0;
}

static int open_conn(const char *path, struct sqlite3 **out)
{
    struct sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        PX_ERROR(MOD, "cannot open the state database", "path=%s err=\"%s\"", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return PX_EIO;
    }
    sqlite3_busy_timeout(db, 5000);
    *out = db;
    return 0;
}

static int check_version(struct sqlite3 *db)
{
    struct sqlite3_stmt *st;
    int rc = prepare(db, "PRAGMA user_version", &st);
    if (rc)
        return rc;
    int v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (v == 0)
        return exec(db, "PRAGMA user_version = 1");
    if (v != SCHEMA_VERSION) {
        PX_ERROR(MOD,
                 "the state database has an unknown schema version; use a kvledger of the "
                 "same version or a fresh --home",
                 "version=%d expected=%d", v, SCHEMA_VERSION);
        return PX_ECORRUPT;
    }
    return 0;
}

int kvl_store_open(struct kvl_store *s, const char *path)
{
    memset(s, 0, sizeof(*s));
    int rc = open_conn(path, &s->db[KVL_WRITER]);
    if (rc)
        return rc;
    struct sqlite3 *w = s->db[KVL_WRITER];
    /* WAL: the reader sees the last commit while a block is open on the writer.
     * synchronous=FULL: a returned Commit survives power loss, not only kill -9. */
    if ((rc = exec(w, "PRAGMA journal_mode=WAL")) || (rc = exec(w, "PRAGMA synchronous=FULL")) ||
        (rc = exec(w, "BEGIN IMMEDIATE")))
        goto fail;
    if ((rc = check_version(w)) || (rc = exec(w, schema))) {
        sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    if ((rc = exec(w, "COMMIT")))
        goto fail;
    if ((rc = open_conn(path, &s->db[KVL_READER])) ||
        (rc = exec(s->db[KVL_READER], "PRAGMA query_only=1")))
        goto fail;
    for (int c = 0; c < 2; c++) {
        if ((rc = prepare(s->db[c], "SELECT v FROM kv WHERE k = ?1", &s->kv_get[c])) ||
            (rc = prepare(s->db[c], "SELECT state FROM accounts WHERE pub = ?1", &s->acct_get[c])))
            goto fail;
    }
    if ((rc = prepare(w, "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)", &s->kv_put)) ||
        (rc = prepare(w, "DELETE FROM kv WHERE k = ?1", &s->kv_del)) ||
        (rc = prepare(w, "INSERT OR REPLACE INTO accounts(pub, state) VALUES (?1, ?2)",
                      &s->acct_put)) ||
        (rc = prepare(w,
                      "INSERT OR REPLACE INTO meta(id, height, app_hash, chain_id, "
                      "initial_height) VALUES (0, ?1, ?2, ?3, ?4)",
                      &s->meta_put)))
        goto fail;
    return 0;
fail:
    kvl_store_close(s);
    return rc;
}

void kvl_store_close(struct kvl_store *s)
{
    struct sqlite3_stmt *all[] = {s->kv_get[0], s->kv_get[1], s->acct_get[0], s->acct_get[1],
                                  s->kv_put,    s->kv_del,    s->acct_put,    s->meta_put};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        sqlite3_finalize(all[i]);
    if (s->in_tx)
        kvl_store_rollback(s);
    sqlite3_close(s->db[KVL_READER]);
    sqlite3_close(s->db[KVL_WRITER]);
    memset(s, 0, sizeof(*s));
}

int kvl_store_meta_get(struct kvl_store *s, struct kvl_meta *out)
{
    memset(out, 0, sizeof(*out));
    struct sqlite3 *db = s->db[KVL_READER];
    struct sqlite3_stmt *st;
    int rc = prepare(db, "SELECT height, app_hash, chain_id, initial_height FROM meta WHERE id = 0",
                     &st);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        sqlite3_finalize(st);
        return 0;
    }
    if (step != SQLITE_ROW) {
        rc = db_fail(db, "read meta");
        sqlite3_finalize(st);
        return rc;
    }
    out->height = sqlite3_column_int64(st, 0);
    const void *hash = sqlite3_column_blob(st, 1);
    int hash_len = sqlite3_column_bytes(st, 1);
    const unsigned char *chain = sqlite3_column_text(st, 2);
    int chain_len = sqlite3_column_bytes(st, 2);
    out->initial_height = sqlite3_column_int64(st, 3);
    rc = 0;
    if ((hash_len != 0 && hash_len != KVL_HASH_LEN) || chain_len > LEDGER_CHAIN_ID_MAX ||
        out->height < 0 || out->initial_height < 0) {
        PX_ERROR(MOD, "the state database's meta row is damaged; restore it or use a fresh --home",
                 "height=%lld", (long long)out->height);
        rc = PX_ECORRUPT;
    } else {
        if (hash_len)
            memcpy(out->app_hash, hash, KVL_HASH_LEN);
        out->app_hash_len = (size_t)hash_len;
        if (chain_len)
            memcpy(out->chain_id, chain, (size_t)chain_len);
        out->chain_id[chain_len] = '\0';
    }
    sqlite3_finalize(st);
    return rc;
}

static int step_done(struct sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int err = rc == SQLITE_DONE ? 0 : db_fail(sqlite3_db_handle(st), what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return err;
}

int kvl_store_meta_put(struct kvl_store *s, const struct kvl_meta *m)
{
    struct sqlite3_stmt *st = s->meta_put;
    sqlite3_bind_int64(st, 1, m->height);
    sqlite3_bind_blob(st, 2, m->app_hash, (int)m->app_hash_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->chain_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, m->initial_height);
    return step_done(st, "write meta");
}

int kvl_store_begin(struct kvl_store *s)
{
    if (s->in_tx)
        return PX_ESTATE;
    int rc = exec(s->db[KVL_WRITER], "BEGIN IMMEDIATE");
    if (rc == 0)
        s->in_tx = true;
    return rc;
}

int kvl_store_commit(struct kvl_store *s)
{
    if (!s->in_tx)
        return PX_ESTATE;
    int rc = exec(s->db[KVL_WRITER], "COMMIT");
    if (rc == 0)
        s->in_tx = false;
    return rc;
}

void kvl_store_rollback(struct kvl_store *s)
{
    if (!s->in_tx)
        return;
    if (sqlite3_exec(s->db[KVL_WRITER], "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        db_fail(s->db[KVL_WRITER], "ROLLBACK");
    s->in_tx = false;
}

int kvl_store_clear(struct kvl_store *s)
{
    if (!s->in_tx)
        return PX_ESTATE;
    return exec(s->db[KVL_WRITER], "DELETE FROM kv; DELETE FROM accounts; DELETE FROM meta;");
}

int kvl_store_kv_get(struct kvl_store *s, enum kvl_conn c, const uint8_t *key, size_t key_len,
                     uint8_t *val, size_t cap, size_t *val_len)
{
    struct sqlite3_stmt *st = s->kv_get[c];
    sqlite3_bind_blob(st, 1, key, (int)key_len, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = 0;
    if (step == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 0);
        if ((size_t)n > cap) {
            PX_ERROR(MOD, "a stored value is longer than any valid value; the database is damaged",
                     "len=%d", n);
            rc = PX_ECORRUPT;
        } else {
            if (n)
                memcpy(val, sqlite3_column_blob(st, 0), (size_t)n);
            *val_len = (size_t)n;
        }
    } else if (step == SQLITE_DONE) {
        rc = PX_ENOTFOUND;
    } else {
        rc = db_fail(s->db[c], "read kv");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int kvl_store_kv_put(struct kvl_store *s, const uint8_t *key, size_t key_len, const uint8_t *val,
                     size_t val_len)
{
    struct sqlite3_stmt *st = s->kv_put;
    sqlite3_bind_blob(st, 1, key, (int)key_len, SQLITE_STATIC);
    /* a zero-length blob, not NULL, for an empty value */
    sqlite3_bind_zeroblob(st, 2, 0);
    if (val_len)
        sqlite3_bind_blob(st, 2, val, (int)val_len, SQLITE_STATIC);
    return step_done(st, "write kv");
}

int kvl_store_kv_del(struct kvl_store *s, const uint8_t *key, size_t key_len)
{
    struct sqlite3_stmt *st = s->kv_del;
    sqlite3_bind_blob(st, 1, key, (int)key_len, SQLITE_STATIC);
    return step_done(st, "delete kv");
}

int kvl_store_account_get(struct kvl_store *s, enum kvl_conn c,
                          const uint8_t pub[LEDGER_PUBKEY_LEN], struct kvl_account *out,
                          bool *found)
{
    struct sqlite3_stmt *st = s->acct_get[c];
    sqlite3_bind_blob(st, 1, pub, LEDGER_PUBKEY_LEN, SQLITE_STATIC);
    int step = sqlite3_step(st);
    int rc = 0;
    out->balance = 0;
    out->nonce = 0;
    *found = false;
    if (step == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != 16) {
            PX_ERROR(MOD, "a stored account is damaged", "len=%d", sqlite3_column_bytes(st, 0));
            rc = PX_ECORRUPT;
        } else {
            const uint8_t *b = sqlite3_column_blob(st, 0);
            out->balance = get_u64(b);
            out->nonce = get_u64(b + 8);
            *found = true;
        }
    } else if (step != SQLITE_DONE) {
        rc = db_fail(s->db[c], "read account");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int kvl_store_account_put(struct kvl_store *s, const uint8_t pub[LEDGER_PUBKEY_LEN],
                          const struct kvl_account *a)
{
    uint8_t b[16];
    put_u64(b, a->balance);
    put_u64(b + 8, a->nonce);
    struct sqlite3_stmt *st = s->acct_put;
    sqlite3_bind_blob(st, 1, pub, LEDGER_PUBKEY_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, b, sizeof(b), SQLITE_TRANSIENT);
    return step_done(st, "write account");
}
