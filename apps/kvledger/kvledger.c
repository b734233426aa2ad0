/*
 * kvledger: the application state machine (see kvledger.h, TXFORMAT.md).
 *
 * States and transitions:
 *   EMPTY  no InitChain yet (meta.app_hash_len == 0).
 *          kvledger_init_chain → READY(0).
 *   READY(h)  last committed height h, no open block; the writer has no transaction.
 *          kvledger_finalize_block(next) → OPEN(next); kvledger_init_chain (h == 0) → READY(0).
 *   OPEN(n)   block n executed inside the writer's open SQLite transaction.
 *          kvledger_commit → READY(n); kvledger_finalize_block(n) → OPEN(n) (redone);
 *          kvledger_init_chain (nothing committed yet) → READY(0) (block n discarded);
 *          a crash → READY(h) on restart (SQLite discards the open transaction).
 * Facts: in READY, app->meta equals the committed meta row and the writer has no open
 * transaction; in OPEN, open_height == next height after app->meta.height (or the initial
 * height) and the writer's transaction is open. CheckTx and Query read only the reader
 * connection (committed state) and the CheckTx pending table, in every state.
 *
 * Never: write committed state outside Commit and InitChain; let a transaction's result
 * depend on anything but the state and its bytes (determinism).
 */
#include "kvledger.h"

#include "kvl_genesis.h"
#include "kvl_pending.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "kvledger"
#define GENESIS_DOMAIN "phalanx/kvledger/genesis/v1"
#define BLOCK_DOMAIN "phalanx/kvledger/block/v1"

enum write_kind {
    WRITE_KV_SET = 1,
    WRITE_KV_DELETE = 2,
    WRITE_ACCOUNT = 3,
};

struct write {
    enum write_kind kind;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *val;
    size_t val_len;
    uint8_t acct[16]; /* WRITE_ACCOUNT: balance || nonce; val points here */
};

struct kvledger {
    pthread_mutex_t lock;
    int lock_fd; /* flock on HOME/data/kvledger.lock */
    struct kvl_store store;
    struct kvl_meta meta; /* committed */
    struct kvl_pending pending;
    bool open;
    int64_t open_height;
    uint8_t open_hash[KVL_HASH_LEN];
};

/* Where a transaction reads and writes accounts: the open block (FinalizeBlock) or the
 * committed state plus the pending table (CheckTx). */
struct view {
    struct kvledger *app;
    bool check;
};

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static void hash_u32(crypto_hash_sha256_state *h, uint32_t v)
{
    uint8_t b[4];
    put_u32(b, v);
    crypto_hash_sha256_update(h, b, sizeof(b));
}

static void hash_u64(crypto_hash_sha256_state *h, uint64_t v)
{
    uint8_t b[8];
    put_u64(b, v);
    crypto_hash_sha256_update(h, b, sizeof(b));
}

static void hash_hex(char *out, size_t cap, const uint8_t *hash, size_t len)
{
    if (len == 0 || px_hex_encode(out, cap, hash, len, true) != 0)
        snprintf(out, cap, "-");
}

static int result(struct kvledger_result *res, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int result(struct kvledger_result *res, uint32_t code, const char *fmt, ...)
{
    res->code = code;
    res->kind = KVL_TX_NONE;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->log, sizeof(res->log), fmt, ap);
    va_end(ap);
    return 0;
}

/* mkdir -p, mode 0700 for what it creates. */
static int mkdir_p(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path))
        return PX_EINVAL;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            int err = px_err_from_errno(errno);
            PX_ERROR(MOD, "cannot create the home directory; check --home and its permissions",
                     "path=%s err=\"%s\"", path, strerror(errno));
            return err;
        }
        path[i] = c;
    }
    return 0;
}

/* One kvledger per home: an exclusive flock on HOME/data/kvledger.lock, held until close
 * (the kernel drops it when the process dies, kill -9 included). */
static int lock_home(const char *data, int *fd_out)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/kvledger.lock", data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = px_err_from_errno(errno);
        PX_ERROR(MOD, "cannot open the lock file", "path=%s err=\"%s\"", path, strerror(errno));
        return err;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            PX_ERROR(MOD, "another kvledger is using this home; stop it or pick another --home",
                     "lock=%s", path);
            return PX_EEXIST;
        }
        PX_ERROR(MOD, "cannot lock the home", "path=%s err=\"%s\"", path, strerror(e));
        return px_err_from_errno(e);
    }
    *fd_out = fd;
    return 0;
}

int kvledger_open(const char *home, struct kvledger **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return PX_ECRYPTO;
    char data[4096], db[4200];
    if (snprintf(data, sizeof(data), "%s/data", home) >= (int)sizeof(data))
        return PX_ETOOBIG;
    snprintf(db, sizeof(db), "%s/kvledger.db", data);
    int rc;
    if ((rc = mkdir_p(data)))
        return rc;
    struct kvledger *app = calloc(1, sizeof(*app));
    if (!app)
        return PX_ENOMEM;
    app->lock_fd = -1;
    if ((rc = lock_home(data, &app->lock_fd)))
        goto fail;
    if ((rc = kvl_pending_init(&app->pending, KVL_PENDING_ACCOUNTS)))
        goto fail;
    if ((rc = kvl_store_open(&app->store, db)))
        goto fail;
    if ((rc = kvl_store_meta_get(&app->store, &app->meta))) {
        kvl_store_close(&app->store);
        goto fail;
    }
    pthread_mutex_init(&app->lock, NULL);
    char hex[PX_HEX_LEN(KVL_HASH_LEN)];
    hash_hex(hex, sizeof(hex), app->meta.app_hash, app->meta.app_hash_len);
    PX_INFO(MOD, "state opened", "db=%s height=%" PRId64 " app_hash=%s chain_id=%s", db,
            app->meta.height, hex, app->meta.chain_id[0] ? app->meta.chain_id : "-");
    *out = app;
    return 0;
fail:
    kvl_pending_fini(&app->pending);
    if (app->lock_fd >= 0)
        close(app->lock_fd);
    free(app);
    return rc;
}

void kvledger_close(struct kvledger *app)
{
    if (!app)
        return;
    if (app->open)
        PX_INFO(MOD, "discarding the uncommitted block", "height=%" PRId64, app->open_height);
    kvl_store_close(&app->store);
    kvl_pending_fini(&app->pending);
    pthread_mutex_destroy(&app->lock);
    close(app->lock_fd);
    free(app);
}

static void assert_facts(const struct kvledger *app)
{
    assert(app->open == app->store.in_tx);
    assert(!app->open || app->meta.app_hash_len == KVL_HASH_LEN);
    assert(!app->open || app->open_height == (app->meta.height == 0 ? app->meta.initial_height
                                                                    : app->meta.height + 1));
    (void)app;
}

void kvledger_info(struct kvledger *app, struct kvledger_info *out)
{
    pthread_mutex_lock(&app->lock);
    memset(out, 0, sizeof(*out));
    out->height = app->meta.height;
    memcpy(out->app_hash, app->meta.app_hash, sizeof(out->app_hash));
    out->app_hash_len = app->meta.app_hash_len;
    memcpy(out->chain_id, app->meta.chain_id, sizeof(out->chain_id));
    pthread_mutex_unlock(&app->lock);
}

/* ---- InitChain ---------------------------------------------------------------------- */

static int init_chain_locked(struct kvledger *app, const char *chain_id, int64_t initial_height,
                             const uint8_t *app_state, size_t app_state_len,
                             uint8_t app_hash[KVL_HASH_LEN], char *err, size_t errcap)
{
    if (app->meta.height > 0) {
        snprintf(err, errcap,
                 "InitChain is only valid before the first Commit; the app has committed "
                 "height %" PRId64,
                 app->meta.height);
        return PX_ESTATE;
    }
    int rc = kvl_genesis_check_chain_id(chain_id, err, errcap);
    if (rc)
        return rc;
    size_t clen = strlen(chain_id);
    struct kvl_genesis_account *accts = NULL;
    size_t n = 0;
    if ((rc = kvl_genesis_parse(app_state, app_state_len, &accts, &n, err, errcap)))
        return rc;
    if (app->open) {
        /* the engine lost the app before the first Commit and starts over (PROTOCOL.md
         * §5.1): the uncommitted first block goes, as after a crash */
        PX_INFO(MOD, "InitChain again before the first Commit; discarding the uncommitted block",
                "height=%" PRId64, app->open_height);
        kvl_store_rollback(&app->store);
        app->open = false;
    }

    struct kvl_meta m;
    memset(&m, 0, sizeof(m));
    memcpy(m.chain_id, chain_id, clen);
    m.initial_height = initial_height <= 0 ? 1 : initial_height;
    m.height = 0;

    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)GENESIS_DOMAIN, sizeof(GENESIS_DOMAIN));
    uint8_t cl = (uint8_t)clen;
    crypto_hash_sha256_update(&h, &cl, 1);
    crypto_hash_sha256_update(&h, (const uint8_t *)chain_id, clen);
    hash_u32(&h, (uint32_t)n);

    if ((rc = kvl_store_begin(&app->store)) || (rc = kvl_store_clear(&app->store)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct kvl_account a = {.balance = accts[i].balance, .nonce = 0};
        if ((rc = kvl_store_account_put(&app->store, accts[i].pub, &a)))
            goto fail;
        crypto_hash_sha256_update(&h, accts[i].pub, LEDGER_PUBKEY_LEN);
        hash_u64(&h, accts[i].balance);
    }
    crypto_hash_sha256_final(&h, m.app_hash);
    m.app_hash_len = KVL_HASH_LEN;
    if ((rc = kvl_store_meta_put(&app->store, &m)) || (rc = kvl_store_commit(&app->store)))
        goto fail;
    free(accts);
    app->meta = m;
    kvl_pending_clear(&app->pending);
    memcpy(app_hash, m.app_hash, KVL_HASH_LEN);
    char hex[PX_HEX_LEN(KVL_HASH_LEN)];
    hash_hex(hex, sizeof(hex), m.app_hash, KVL_HASH_LEN);
    PX_INFO(MOD, "chain initialised",
            "chain_id=%s initial_height=%" PRId64 " accounts=%zu app_hash=%s", m.chain_id,
            m.initial_height, n, hex);
    return 0;
fail:
    kvl_store_rollback(&app->store);
    free(accts);
    snprintf(err, errcap, "could not store the genesis state (%s)", px_strerror(rc));
    return rc;
}

int kvledger_init_chain(struct kvledger *app, const char *chain_id, int64_t initial_height,
                        const uint8_t *app_state, size_t app_state_len,
                        uint8_t app_hash[KVL_HASH_LEN], char *err, size_t errcap)
{
    char local[256];
    if (!err || errcap == 0) {
        err = local;
        errcap = sizeof(local);
    }
    err[0] = '\0';
    pthread_mutex_lock(&app->lock);
    int rc = init_chain_locked(app, chain_id, initial_height, app_state, app_state_len, app_hash,
                               err, errcap);
    assert_facts(app);
    pthread_mutex_unlock(&app->lock);
    if (rc) {
        char q[300];
        PX_ERROR(MOD, "InitChain refused", "err=%s", px_log_quote(q, sizeof(q), err));
    }
    return rc;
}

/* ---- executing one transaction -------------------------------------------------------- */

static int view_get(struct view *v, const uint8_t *pub, struct kvl_account *a)
{
    bool found;
    if (v->check) {
        if (kvl_pending_get(&v->app->pending, pub, a))
            return 0;
        return kvl_store_account_get(&v->app->store, KVL_READER, pub, a, &found);
    }
    return kvl_store_account_get(&v->app->store, KVL_WRITER, pub, a, &found);
}

static int view_put(struct view *v, const uint8_t *pub, const struct kvl_account *a)
{
    if (v->check)
        return kvl_pending_put(&v->app->pending, pub, a);
    return kvl_store_account_put(&v->app->store, pub, a);
}

static void account_write(struct write *w, const uint8_t *pub, const struct kvl_account *a)
{
    w->kind = WRITE_ACCOUNT;
    w->key = pub;
    w->key_len = LEDGER_PUBKEY_LEN;
    put_u64(w->acct, a->balance);
    put_u64(w->acct + 8, a->nonce);
    w->val = w->acct;
    w->val_len = sizeof(w->acct);
}

static void b64_short(char *out, size_t cap, const uint8_t *pub)
{
    if (px_base64_encode(out, cap, pub, LEDGER_PUBKEY_LEN) != 0)
        snprintf(out, cap, "?");
}

/* Execute a ledger tx against view v. 0 with res set, or a local fault. writes[0..1] and
 * *nw get the changes when res->code is 0. */
static int apply_ledger(struct view *v, const uint8_t *tx, size_t len, struct kvledger_result *res,
                        struct write *writes, size_t *nw, struct ledger_transfer *t)
{
    struct kvledger *app = v->app;
    int rc = ledger_tx_decode(tx, len, t);
    if (rc == PX_EPROTO)
        return result(res, KVL_CODE_UNKNOWN_TYPE,
                      "unknown ledger transaction type 0x%02x (only 0x01, transfer)", tx[4]);
    if (rc)
        return result(res, KVL_CODE_MALFORMED,
                      "malformed ledger transaction: bad chain id length or total length %zu", len);
    if (app->meta.app_hash_len == 0)
        return result(res, KVL_CODE_WRONG_CHAIN, "the chain is not initialised (no InitChain yet)");
    if (strcmp(t->chain_id, app->meta.chain_id) != 0)
        return result(res, KVL_CODE_WRONG_CHAIN,
                      "the transfer is for chain \"%s\", this is chain \"%s\"", t->chain_id,
                      app->meta.chain_id);
    if (t->amount == 0)
        return result(res, KVL_CODE_INVALID_TRANSFER, "the transfer amount is 0");
    if (memcmp(t->from, t->to, LEDGER_PUBKEY_LEN) == 0)
        return result(res, KVL_CODE_INVALID_TRANSFER, "the sender and the recipient are the same");
    if (ledger_tx_verify(t) != 0)
        return result(res, KVL_CODE_BAD_SIGNATURE,
                      "the signature does not verify against the sender's public key and "
                      "chain \"%s\"",
                      t->chain_id);
    struct kvl_account from, to;
    if ((rc = view_get(v, t->from, &from)) || (rc = view_get(v, t->to, &to)))
        return rc;
    if (t->nonce != from.nonce)
        return result(res, KVL_CODE_BAD_NONCE,
                      "wrong nonce %" PRIu64 ": the sender's next nonce is %" PRIu64 "%s", t->nonce,
                      from.nonce, t->nonce < from.nonce ? " (replay)" : "");
    if (t->amount > from.balance)
        return result(res, KVL_CODE_INSUFFICIENT_FUNDS,
                      "insufficient funds: balance %" PRIu64 ", transfer of %" PRIu64, from.balance,
                      t->amount);
    if (to.balance > UINT64_MAX - t->amount)
        return result(res, KVL_CODE_OVERFLOW,
                      "the recipient's balance %" PRIu64 " plus %" PRIu64 " overflows 2^64-1",
                      to.balance, t->amount);
    if (v->check && kvl_pending_room(&app->pending) < 2)
        return result(res, KVL_CODE_MEMPOOL_FULL,
                      "too many pending ledger changes since the last block; retry after the "
                      "next block");
    from.balance -= t->amount;
    from.nonce += 1;
    to.balance += t->amount;
    if ((rc = view_put(v, t->from, &from)) || (rc = view_put(v, t->to, &to)))
        return rc == PX_EBOUND ? result(res, KVL_CODE_MEMPOOL_FULL, "pending state is full") : rc;
    account_write(&writes[0], t->from, &from);
    account_write(&writes[1], t->to, &to);
    *nw = 2;
    result(res, KVL_CODE_OK, "%s", "");
    res->kind = KVL_TX_TRANSFER;
    memcpy(res->from, t->from, LEDGER_PUBKEY_LEN);
    memcpy(res->to, t->to, LEDGER_PUBKEY_LEN);
    res->amount = t->amount;
    return 0;
}

static int apply_kv(struct view *v, const uint8_t *tx, size_t len, struct kvledger_result *res,
                    struct write *writes, size_t *nw)
{
    struct kv_tx kv;
    const char *why = "";
    int rc = kv_tx_parse(tx, len, &kv, &why);
    if (rc == PX_ETOOBIG)
        return result(res, KVL_CODE_TOO_LARGE, "%s", why);
    if (rc)
        return result(res, KVL_CODE_MALFORMED, "%s", why);
    writes[0].kind = kv.kind == KV_TX_SET ? WRITE_KV_SET : WRITE_KV_DELETE;
    writes[0].key = kv.key;
    writes[0].key_len = kv.key_len;
    writes[0].val = kv.value;
    writes[0].val_len = kv.value_len;
    if (!v->check) {
        if (kv.kind == KV_TX_SET)
            rc = kvl_store_kv_put(&v->app->store, kv.key, kv.key_len, kv.value, kv.value_len);
        else
            rc = kvl_store_kv_del(&v->app->store, kv.key, kv.key_len);
        if (rc)
            return rc;
    }
    *nw = 1;
    result(res, KVL_CODE_OK, "%s", "");
    res->kind = kv.kind == KV_TX_SET ? KVL_TX_KV_SET : KVL_TX_KV_DELETE;
    res->key_off = (size_t)(kv.key - tx);
    res->key_len = kv.key_len;
    return 0;
}

/* 0 with res filled, or a local fault (PX_EIO, PX_ECORRUPT). t is scratch space that must
 * outlive the writes (they point into it). */
static int apply_tx(struct view *v, const uint8_t *tx, size_t len, struct kvledger_result *res,
                    struct write *writes, size_t *nw, struct ledger_transfer *t)
{
    *nw = 0;
    if (len > KV_TX_MAX)
        return result(res, KVL_CODE_TOO_LARGE, "the transaction is %zu bytes, more than %d", len,
                      KV_TX_MAX);
    if (ledger_tx_is_ledger(tx, len))
        return apply_ledger(v, tx, len, res, writes, nw, t);
    return apply_kv(v, tx, len, res, writes, nw);
}

int kvledger_check_tx(struct kvledger *app, const uint8_t *tx, size_t len, bool recheck,
                      struct kvledger_result *res)
{
    struct view v = {.app = app, .check = true};
    struct write writes[2];
    size_t nw;
    struct ledger_transfer t;
    pthread_mutex_lock(&app->lock);
    int rc = apply_tx(&v, tx, len, res, writes, &nw, &t);
    assert_facts(app);
    pthread_mutex_unlock(&app->lock);
    if (rc == 0 && res->code != 0) {
        char q[300];
        PX_DEBUG(MOD, "CheckTx rejected a transaction", "code=%u recheck=%d log=%s", res->code,
                 (int)recheck, px_log_quote(q, sizeof(q), res->log));
    }
    return rc;
}

/* ---- FinalizeBlock / Commit --------------------------------------------------------- */

static int finalize_locked(struct kvledger *app, int64_t height, const uint8_t *const *txs,
                           const size_t *lens, size_t ntx, struct kvledger_result *results,
                           uint8_t app_hash[KVL_HASH_LEN])
{
    if (app->meta.app_hash_len == 0) {
        PX_ERROR(MOD, "FinalizeBlock before InitChain; the engine must call InitChain first",
                 "height=%" PRId64, height);
        return PX_ESTATE;
    }
    if (ntx > KVL_BLOCK_TXS_MAX) {
        PX_ERROR(MOD, "FinalizeBlock with too many transactions",
                 "height=%" PRId64 " txs=%zu max=%d", height, ntx, KVL_BLOCK_TXS_MAX);
        return PX_ETOOBIG;
    }
    if (app->open) {
        if (height != app->open_height) {
            PX_ERROR(MOD, "FinalizeBlock for another height while a block awaits Commit",
                     "height=%" PRId64 " open=%" PRId64, height, app->open_height);
            return PX_ESTATE;
        }
        PX_INFO(MOD, "FinalizeBlock repeated before Commit; executing the block again",
                "height=%" PRId64, height);
        kvl_store_rollback(&app->store);
        app->open = false;
    }
    int64_t expected = app->meta.height == 0 ? app->meta.initial_height : app->meta.height + 1;
    if (height != expected) {
        PX_ERROR(MOD, "FinalizeBlock for an unexpected height",
                 "height=%" PRId64 " expected=%" PRId64 " last_committed=%" PRId64, height,
                 expected, app->meta.height);
        return PX_ESTATE;
    }
    int rc = kvl_store_begin(&app->store);
    if (rc)
        return rc;
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)BLOCK_DOMAIN, sizeof(BLOCK_DOMAIN));
    crypto_hash_sha256_update(&h, app->meta.app_hash, KVL_HASH_LEN);
    hash_u64(&h, (uint64_t)height);
    hash_u32(&h, (uint32_t)ntx);
    struct view v = {.app = app, .check = false};
    size_t ok = 0;
    for (size_t i = 0; i < ntx; i++) {
        struct write writes[2];
        size_t nw = 0;
        struct ledger_transfer t;
        if ((rc = apply_tx(&v, txs[i], lens[i], &results[i], writes, &nw, &t)))
            goto fail;
        hash_u32(&h, results[i].code);
        hash_u32(&h, (uint32_t)nw);
        for (size_t k = 0; k < nw; k++) {
            uint8_t kind = (uint8_t)writes[k].kind;
            crypto_hash_sha256_update(&h, &kind, 1);
            hash_u32(&h, (uint32_t)writes[k].key_len);
            crypto_hash_sha256_update(&h, writes[k].key, writes[k].key_len);
            hash_u32(&h, (uint32_t)writes[k].val_len);
            if (writes[k].val_len)
                crypto_hash_sha256_update(&h, writes[k].val, writes[k].val_len);
        }
        if (results[i].code == 0) {
            ok++;
        } else {
            char q[300];
            PX_DEBUG(MOD, "transaction failed", "height=%" PRId64 " index=%zu code=%u log=%s",
                     height, i, results[i].code, px_log_quote(q, sizeof(q), results[i].log));
        }
    }
    struct kvl_meta m = app->meta;
    m.height = height;
    crypto_hash_sha256_final(&h, m.app_hash);
    if ((rc = kvl_store_meta_put(&app->store, &m)))
        goto fail;
    app->open = true;
    app->open_height = height;
    memcpy(app->open_hash, m.app_hash, KVL_HASH_LEN);
    memcpy(app_hash, m.app_hash, KVL_HASH_LEN);
    char hex[PX_HEX_LEN(KVL_HASH_LEN)];
    hash_hex(hex, sizeof(hex), m.app_hash, KVL_HASH_LEN);
    PX_INFO(MOD, "block executed", "height=%" PRId64 " txs=%zu ok=%zu app_hash=%s", height, ntx, ok,
            hex);
    return 0;
fail:
    PX_ERROR(MOD, "FinalizeBlock failed; the block is discarded", "height=%" PRId64 " err=\"%s\"",
             height, px_strerror(rc));
    kvl_store_rollback(&app->store);
    return rc;
}

int kvledger_finalize_block(struct kvledger *app, int64_t height, const uint8_t *const *txs,
                            const size_t *lens, size_t ntx, struct kvledger_result *results,
                            uint8_t app_hash[KVL_HASH_LEN])
{
    pthread_mutex_lock(&app->lock);
    int rc = finalize_locked(app, height, txs, lens, ntx, results, app_hash);
    assert_facts(app);
    pthread_mutex_unlock(&app->lock);
    return rc;
}

int kvledger_commit(struct kvledger *app, int64_t *height)
{
    pthread_mutex_lock(&app->lock);
    int rc = 0;
    if (!app->open) {
        PX_ERROR(MOD, "Commit without a finalized block; the engine must call FinalizeBlock first",
                 "last_committed=%" PRId64, app->meta.height);
        rc = PX_ESTATE;
        goto out;
    }
    rc = kvl_store_commit(&app->store);
    if (rc) {
        PX_ERROR(MOD, "Commit could not make the block durable; it is discarded", "height=%" PRId64,
                 app->open_height);
        kvl_store_rollback(&app->store);
        app->open = false;
        goto out;
    }
    app->open = false;
    app->meta.height = app->open_height;
    memcpy(app->meta.app_hash, app->open_hash, KVL_HASH_LEN);
    kvl_pending_clear(&app->pending);
    *height = app->meta.height;
    PX_DEBUG(MOD, "committed", "height=%" PRId64, app->meta.height);
out:
    assert_facts(app);
    pthread_mutex_unlock(&app->lock);
    return rc;
}

/* ---- Query -------------------------------------------------------------------------- */

static int query_result(struct kvledger_query_result *res, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int query_result(struct kvledger_query_result *res, uint32_t code, const char *fmt, ...)
{
    res->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->log, sizeof(res->log), fmt, ap);
    va_end(ap);
    return 0;
}

static int query_locked(struct kvledger *app, const char *path, const uint8_t *data, size_t len,
                        int64_t height, struct kvledger_query_result *res)
{
    res->height = app->meta.height;
    if (height != 0 && height != app->meta.height)
        return query_result(res, KVL_CODE_BAD_QUERY,
                            "only the latest height %" PRId64 " can be queried, not %" PRId64,
                            app->meta.height, height);
    if (!path)
        path = "";
    if (strcmp(path, "/key") == 0) {
        if (len == 0 || len > KV_KEY_MAX)
            return query_result(res, KVL_CODE_BAD_QUERY, "/key needs a key of 1..%d bytes",
                                KV_KEY_MAX);
        int rc = kvl_store_kv_get(&app->store, KVL_READER, data, len, res->value,
                                  sizeof(res->value), &res->value_len);
        if (rc == PX_ENOTFOUND)
            return query_result(res, KVL_CODE_NOT_FOUND, "no such key");
        if (rc)
            return rc;
        return query_result(res, KVL_CODE_OK, "%s", "");
    }
    if (strcmp(path, "/account") == 0) {
        if (len != LEDGER_PUBKEY_LEN)
            return query_result(res, KVL_CODE_BAD_QUERY,
                                "/account needs a 32-byte Ed25519 public key, got %zu bytes", len);
        struct kvl_account a;
        bool found;
        int rc = kvl_store_account_get(&app->store, KVL_READER, data, &a, &found);
        if (rc)
            return rc;
        char b64[PX_BASE64_LEN(LEDGER_PUBKEY_LEN)];
        b64_short(b64, sizeof(b64), data);
        int n =
            snprintf((char *)res->value, sizeof(res->value),
                     "{\"pub_key\":\"%s\",\"balance\":\"%" PRIu64 "\",\"nonce\":\"%" PRIu64 "\"}",
                     b64, a.balance, a.nonce);
        res->value_len = (size_t)n;
        return query_result(res, KVL_CODE_OK, "%s", found ? "" : "unknown account");
    }
    if (strcmp(path, "/height") == 0) {
        int n = snprintf((char *)res->value, sizeof(res->value), "%" PRId64, app->meta.height);
        res->value_len = (size_t)n;
        return query_result(res, KVL_CODE_OK, "%s", "");
    }
    char q[80];
    return query_result(res, KVL_CODE_BAD_QUERY,
                        "unknown query path %s (known: /key, /account, /height)",
                        px_log_quote(q, sizeof(q), path));
}

int kvledger_query(struct kvledger *app, const char *path, const uint8_t *data, size_t len,
                   int64_t height, struct kvledger_query_result *res)
{
    memset(res, 0, offsetof(struct kvledger_query_result, value));
    res->value_len = 0;
    pthread_mutex_lock(&app->lock);
    int rc = query_locked(app, path, data, len, height, res);
    assert_facts(app);
    pthread_mutex_unlock(&app->lock);
    return rc;
}
