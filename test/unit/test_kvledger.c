/* Unit tests of the kvledger state machine: KV set/delete, every ledger rule and
 * rejection (in CheckTx and FinalizeBlock alike), CheckTx pending state, genesis errors,
 * call-order errors, queries, the app hash (formula of TXFORMAT.md §5, determinism across
 * fresh apps) and restart from disk with and without an uncommitted block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvledger.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "px_test.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN "kvl-test"

struct keys {
    uint8_t pk[32];
    uint8_t sk[64];
};

static struct keys alice, bob, carol, rich;

struct fx {
    char home[512];
    struct kvledger *app;
    int64_t height;
};

static void keys_from(struct keys *k, uint8_t seed_byte)
{
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof(seed));
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

static void quiet_sink(const char *line, size_t len, void *user)
{
    (void)line;
    (void)len;
    (void)user;
}

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    keys_from(&alice, 1);
    keys_from(&bob, 2);
    keys_from(&carol, 3);
    keys_from(&rich, 4);
    px_log_set_sink(quiet_sink, NULL);
    return 0;
}

/* Genesis: alice 1000, bob 50, rich 2^64-1. */
static void genesis_json(char *out, size_t cap)
{
    char a[64], b[64], r[64];
    px_base64_encode(a, sizeof(a), alice.pk, 32);
    px_base64_encode(b, sizeof(b), bob.pk, 32);
    px_base64_encode(r, sizeof(r), rich.pk, 32);
    snprintf(out, cap,
             "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"1000\"},"
             "{\"pub_key\":\"%s\",\"balance\":50},"
             "{\"pub_key\":\"%s\",\"balance\":\"18446744073709551615\"}]}",
             a, b, r);
}

static void fx_open(struct fx *f)
{
    assert_int_equal(kvledger_open(f->home, &f->app), 0);
}

static void fx_init(struct fx *f, const char *tag)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(pxt_tmpdir(tag, f->home, sizeof(f->home)), 0);
    fx_open(f);
    char g[1024];
    genesis_json(g, sizeof(g));
    uint8_t hash[32];
    assert_int_equal(
        kvledger_init_chain(f->app, CHAIN, 1, (const uint8_t *)g, strlen(g), hash, NULL, 0), 0);
}

static void fx_fini(struct fx *f)
{
    kvledger_close(f->app);
    f->app = NULL;
    pxt_rmtree(f->home);
}

/* Finalize and commit one block of NUL-free text txs (or binary txs with lens). */
static void fx_block(struct fx *f, const uint8_t *const *txs, const size_t *lens, size_t n,
                     uint32_t *codes, uint8_t hash[32])
{
    struct kvledger_result res[16];
    assert_true(n <= 16);
    uint8_t h[32];
    assert_int_equal(kvledger_finalize_block(f->app, f->height + 1, txs, lens, n, res, h), 0);
    int64_t committed = 0;
    assert_int_equal(kvledger_commit(f->app, &committed), 0);
    f->height++;
    assert_int_equal(committed, f->height);
    for (size_t i = 0; i < n; i++)
        if (codes)
            codes[i] = res[i].code;
    if (hash)
        memcpy(hash, h, 32);
}

static uint32_t fx_one(struct fx *f, const uint8_t *tx, size_t len)
{
    uint32_t code;
    fx_block(f, &tx, &len, 1, &code, NULL);
    return code;
}

static uint32_t fx_text(struct fx *f, const char *tx)
{
    return fx_one(f, (const uint8_t *)tx, strlen(tx));
}

static uint32_t check(struct fx *f, const uint8_t *tx, size_t len)
{
    struct kvledger_result r;
    assert_int_equal(kvledger_check_tx(f->app, tx, len, false, &r), 0);
    if (r.code == 0)
        assert_string_equal(r.log, "");
    else
        assert_true(strlen(r.log) > 10); /* a sentence, not a bare code */
    return r.code;
}

static size_t transfer(uint8_t *tx, const struct keys *from, const struct keys *to, uint64_t amount,
                       uint64_t nonce)
{
    size_t len;
    assert_int_equal(
        ledger_tx_build(CHAIN, from->sk, to->pk, amount, nonce, tx, LEDGER_TX_MAX_LEN, &len), 0);
    return len;
}

static void account(struct fx *f, const struct keys *k, uint64_t *balance, uint64_t *nonce)
{
    struct kvledger_query_result *q = malloc(sizeof(*q));
    assert_non_null(q);
    assert_int_equal(kvledger_query(f->app, "/account", k->pk, 32, 0, q), 0);
    assert_int_equal(q->code, 0);
    char json[256];
    assert_true(q->value_len < sizeof(json));
    memcpy(json, q->value, q->value_len);
    json[q->value_len] = '\0';
    unsigned long long b, n;
    const char *p = strstr(json, "\"balance\":\"");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "\"balance\":\"%llu\",\"nonce\":\"%llu\"", &b, &n), 2);
    *balance = b;
    *nonce = n;
    free(q);
}

static int query_key(struct fx *f, const char *key, char *out, size_t cap)
{
    struct kvledger_query_result *q = malloc(sizeof(*q));
    assert_non_null(q);
    assert_int_equal(kvledger_query(f->app, "/key", (const uint8_t *)key, strlen(key), 0, q), 0);
    int code = (int)q->code;
    if (code == 0) {
        assert_true(q->value_len < cap);
        memcpy(out, q->value, q->value_len);
        out[q->value_len] = '\0';
    }
    free(q);
    return code;
}

/* ---- tests ------------------------------------------------------------------------- */

static void fresh_app_reports_height_zero_and_no_hash(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(pxt_tmpdir("kvl", f.home, sizeof(f.home)), 0);
    fx_open(&f);
    struct kvledger_info info;
    kvledger_info(f.app, &info);
    assert_int_equal(info.height, 0);
    assert_int_equal(info.app_hash_len, 0);
    /* no InitChain yet: FinalizeBlock refused, ledger tx has no chain */
    struct kvledger_result r;
    uint8_t h[32];
    assert_int_equal(kvledger_finalize_block(f.app, 1, NULL, NULL, 0, &r, h), PX_ESTATE);
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t len = transfer(tx, &alice, &bob, 1, 0);
    assert_int_equal(check(&f, tx, len), KVL_CODE_WRONG_CHAIN);
    /* one kvledger per home */
    struct kvledger *second = NULL;
    assert_int_equal(kvledger_open(f.home, &second), PX_EEXIST);
    assert_null(second);
    /* a nested home is created */
    char nested[600];
    snprintf(nested, sizeof(nested), "%s/a/b", f.home);
    assert_int_equal(kvledger_open(nested, &second), 0);
    kvledger_close(second);
    fx_fini(&f);
}

static void kv_set_and_delete(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    const char *txs[] = {"a=1", "b=x=y", "c=", "del:a", "del:never-set"};
    const uint8_t *p[5];
    size_t lens[5];
    uint32_t codes[5];
    for (int i = 0; i < 5; i++) {
        p[i] = (const uint8_t *)txs[i];
        lens[i] = strlen(txs[i]);
    }
    fx_block(&f, p, lens, 5, codes, NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(codes[i], 0);
    char v[64];
    assert_int_equal(query_key(&f, "a", v, sizeof(v)), KVL_CODE_NOT_FOUND);
    assert_int_equal(query_key(&f, "b", v, sizeof(v)), 0);
    assert_string_equal(v, "x=y");
    assert_int_equal(query_key(&f, "c", v, sizeof(v)), 0);
    assert_string_equal(v, "");
    assert_int_equal(fx_text(&f, "a=2"), 0);
    assert_int_equal(query_key(&f, "a", v, sizeof(v)), 0);
    assert_string_equal(v, "2");
    fx_fini(&f);
}

static void kv_malformed_and_limits(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    const char *bad[] = {"", "novalue", "=v", "sp ace=1", "del:", "del:a b", "del:LDG1", "t\x01=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(check(&f, (const uint8_t *)bad[i], strlen(bad[i])), KVL_CODE_MALFORMED);
        assert_int_equal(fx_text(&f, bad[i]), KVL_CODE_MALFORMED);
    }
    /* anything starting with LDG1 is a ledger tx, even with a '=' */
    assert_int_equal(fx_text(&f, "LDG1x=1"), KVL_CODE_UNKNOWN_TYPE);
    static char big[KV_TX_MAX + 2];
    memset(big, 'k', KV_KEY_MAX);
    big[KV_KEY_MAX] = '=';
    big[KV_KEY_MAX + 1] = '\0';
    assert_int_equal(fx_text(&f, big), 0); /* key of exactly 256 bytes */
    memset(big, 'k', KV_KEY_MAX + 1);
    big[KV_KEY_MAX + 1] = '=';
    big[KV_KEY_MAX + 2] = '\0';
    assert_int_equal(fx_text(&f, big), KVL_CODE_TOO_LARGE);
    big[0] = 'k';
    big[1] = '=';
    memset(big + 2, 'v', KV_VALUE_MAX);
    big[2 + KV_VALUE_MAX] = '\0';
    assert_int_equal(fx_text(&f, big), 0);
    char v[KV_VALUE_MAX + 1];
    assert_int_equal(query_key(&f, "k", v, sizeof(v)), 0);
    assert_int_equal(strlen(v), KV_VALUE_MAX);
    big[2 + KV_VALUE_MAX] = 'v';
    big[3 + KV_VALUE_MAX] = '\0';
    assert_int_equal(check(&f, (const uint8_t *)big, strlen(big)), KVL_CODE_TOO_LARGE);
    assert_int_equal(fx_text(&f, big), KVL_CODE_TOO_LARGE);
    memset(big, 'x', sizeof(big) - 1);
    big[1] = '=';
    big[KV_TX_MAX + 1] = '\0';
    assert_int_equal(fx_text(&f, big), KVL_CODE_TOO_LARGE);
    fx_fini(&f);
}

static void transfer_moves_funds_and_bumps_nonce(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t len = transfer(tx, &alice, &carol, 300, 0);
    assert_int_equal(check(&f, tx, len), 0);
    assert_int_equal(fx_one(&f, tx, len), 0);
    uint64_t b, n;
    account(&f, &alice, &b, &n);
    assert_int_equal(b, 700);
    assert_int_equal(n, 1);
    account(&f, &carol, &b, &n);
    assert_int_equal(b, 300);
    assert_int_equal(n, 0);
    /* carol's first own transfer: nonce 0 */
    len = transfer(tx, &carol, &bob, 300, 0);
    assert_int_equal(fx_one(&f, tx, len), 0);
    account(&f, &carol, &b, &n);
    assert_int_equal(b, 0);
    assert_int_equal(n, 1);
    account(&f, &bob, &b, &n);
    assert_int_equal(b, 350);
    fx_fini(&f);
}

/* Each rejection: the same code from CheckTx and FinalizeBlock, state unchanged. */
static void expect_rejected(struct fx *f, const uint8_t *tx, size_t len, uint32_t code)
{
    uint64_t b0, n0, b1, n1;
    account(f, &alice, &b0, &n0);
    assert_int_equal(check(f, tx, len), code);
    assert_int_equal(fx_one(f, tx, len), code);
    account(f, &alice, &b1, &n1);
    assert_int_equal(b0, b1);
    assert_int_equal(n0, n1);
}

static void ledger_rejections(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    uint8_t tx[LEDGER_TX_MAX_LEN + 8];
    size_t len;

    /* bad signature */
    len = transfer(tx, &alice, &bob, 10, 0);
    tx[len - 1] ^= 0x80;
    expect_rejected(&f, tx, len, KVL_CODE_BAD_SIGNATURE);
    /* signed for another chain */
    assert_int_equal(ledger_tx_build("other-chain", alice.sk, bob.pk, 10, 0, tx, sizeof(tx), &len),
                     0);
    expect_rejected(&f, tx, len, KVL_CODE_WRONG_CHAIN);
    /* wrong nonce: a gap, then a replay */
    len = transfer(tx, &alice, &bob, 10, 1);
    expect_rejected(&f, tx, len, KVL_CODE_BAD_NONCE);
    len = transfer(tx, &alice, &bob, 10, 0);
    assert_int_equal(fx_one(&f, tx, len), 0);
    expect_rejected(&f, tx, len, KVL_CODE_BAD_NONCE);
    /* insufficient funds (alice has 990) */
    len = transfer(tx, &alice, &bob, 991, 1);
    expect_rejected(&f, tx, len, KVL_CODE_INSUFFICIENT_FUNDS);
    /* overflow of the recipient */
    len = transfer(tx, &alice, &rich, 1, 1);
    expect_rejected(&f, tx, len, KVL_CODE_OVERFLOW);
    /* zero amount and self transfer */
    len = transfer(tx, &alice, &bob, 0, 1);
    expect_rejected(&f, tx, len, KVL_CODE_INVALID_TRANSFER);
    len = transfer(tx, &alice, &alice, 5, 1);
    expect_rejected(&f, tx, len, KVL_CODE_INVALID_TRANSFER);
    /* malformed: truncated, extended, bad chain-id length */
    len = transfer(tx, &alice, &bob, 10, 1);
    expect_rejected(&f, tx, len - 1, KVL_CODE_MALFORMED);
    tx[len] = 0;
    expect_rejected(&f, tx, len + 1, KVL_CODE_MALFORMED);
    expect_rejected(&f, (const uint8_t *)"LDG1", 4, KVL_CODE_MALFORMED);
    /* unknown type */
    len = transfer(tx, &alice, &bob, 10, 1);
    tx[4] = 0x7f;
    expect_rejected(&f, tx, len, KVL_CODE_UNKNOWN_TYPE);
    /* an account that was never credited has nothing */
    len = transfer(tx, &carol, &bob, 1, 0);
    assert_int_equal(fx_one(&f, tx, len), KVL_CODE_INSUFFICIENT_FUNDS);
    /* and the valid one still goes through */
    len = transfer(tx, &alice, &bob, 990, 1);
    assert_int_equal(fx_one(&f, tx, len), 0);
    uint64_t b, n;
    account(&f, &alice, &b, &n);
    assert_int_equal(b, 0);
    assert_int_equal(n, 2);
    fx_fini(&f);
}

static void block_applies_txs_in_order(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    /* bob (50) receives 100 from alice, then can send 120 in the same block; a replay of
     * alice's nonce 0 in the same block fails */
    uint8_t t0[LEDGER_TX_MAX_LEN], t1[LEDGER_TX_MAX_LEN], t2[LEDGER_TX_MAX_LEN];
    size_t l0 = transfer(t0, &alice, &bob, 100, 0);
    size_t l1 = transfer(t1, &bob, &carol, 120, 0);
    const uint8_t *p[3] = {t0, t1, t0};
    size_t lens[3] = {l0, l1, l0};
    uint32_t codes[3];
    memcpy(t2, t0, l0);
    fx_block(&f, p, lens, 3, codes, NULL);
    assert_int_equal(codes[0], 0);
    assert_int_equal(codes[1], 0);
    assert_int_equal(codes[2], KVL_CODE_BAD_NONCE);
    uint64_t b, n;
    account(&f, &carol, &b, &n);
    assert_int_equal(b, 120);
    fx_fini(&f);
}

static void check_tx_tracks_pending_nonces(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    uint8_t t0[LEDGER_TX_MAX_LEN], t1[LEDGER_TX_MAX_LEN], t2[LEDGER_TX_MAX_LEN];
    size_t l0 = transfer(t0, &alice, &bob, 600, 0);
    size_t l1 = transfer(t1, &alice, &bob, 300, 1);
    size_t l2 = transfer(t2, &alice, &bob, 200, 2);
    assert_int_equal(check(&f, t0, l0), 0);
    assert_int_equal(check(&f, t0, l0), KVL_CODE_BAD_NONCE); /* already pending */
    assert_int_equal(check(&f, t1, l1), 0);
    assert_int_equal(check(&f, t2, l2), KVL_CODE_INSUFFICIENT_FUNDS); /* 100 left pending */
    /* CheckTx changes nothing committed */
    uint64_t b, n;
    account(&f, &alice, &b, &n);
    assert_int_equal(b, 1000);
    assert_int_equal(n, 0);
    /* a block with t0 only; after Commit the pending state is dropped and a recheck of t1
     * passes against the new committed state, t0 fails as a replay */
    assert_int_equal(fx_one(&f, t0, l0), 0);
    struct kvledger_result r;
    assert_int_equal(kvledger_check_tx(f.app, t0, l0, true, &r), 0);
    assert_int_equal(r.code, KVL_CODE_BAD_NONCE);
    assert_int_equal(kvledger_check_tx(f.app, t1, l1, true, &r), 0);
    assert_int_equal(r.code, 0);
    assert_int_equal(check(&f, t2, l2), KVL_CODE_INSUFFICIENT_FUNDS);
    fx_fini(&f);
}

static void genesis_errors(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(pxt_tmpdir("kvl", f.home, sizeof(f.home)), 0);
    fx_open(&f);
    char a[64];
    px_base64_encode(a, sizeof(a), alice.pk, 32);
    char dup[512], neg[256], unk[256], big[256];
    snprintf(dup, sizeof(dup),
             "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"1\"},{\"pub_key\":\"%s\","
             "\"balance\":\"2\"}]}",
             a, a);
    snprintf(neg, sizeof(neg), "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":-1}]}", a);
    snprintf(unk, sizeof(unk), "{\"accounts\":[{\"pub_key\":\"%s\",\"balanse\":\"1\"}]}", a);
    snprintf(big, sizeof(big),
             "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"18446744073709551616\"}]}", a);
    const char *bad[] = {"{",
                         "[]",
                         "{\"acounts\":[]}",
                         "{\"accounts\":{}}",
                         "{\"accounts\":[{\"pub_key\":\"AAAA\",\"balance\":\"1\"}]}",
                         dup,
                         neg,
                         unk,
                         big};
    uint8_t h[32];
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_not_equal(kvledger_init_chain(f.app, CHAIN, 1, (const uint8_t *)bad[i],
                                                 strlen(bad[i]), h, err, sizeof(err)),
                             0);
        assert_true(strlen(err) > 10);
    }
    assert_int_equal(kvledger_init_chain(f.app, "", 1, NULL, 0, h, err, sizeof(err)), PX_EINVAL);
    struct kvledger_info info;
    kvledger_info(f.app, &info);
    assert_int_equal(info.app_hash_len, 0);
    /* empty app_state: a chain with no accounts */
    assert_int_equal(kvledger_init_chain(f.app, CHAIN, 1, NULL, 0, h, err, sizeof(err)), 0);
    kvledger_info(f.app, &info);
    assert_int_equal(info.app_hash_len, 32);
    assert_memory_equal(info.app_hash, h, 32);
    assert_string_equal(info.chain_id, CHAIN);
    fx_fini(&f);
}

static void call_order_errors(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    struct kvledger_result r[1];
    uint8_t h[32];
    int64_t ch;
    assert_int_equal(kvledger_commit(f.app, &ch), PX_ESTATE);
    assert_int_equal(kvledger_finalize_block(f.app, 2, NULL, NULL, 0, r, h), PX_ESTATE);
    /* a repeated FinalizeBlock of the same height replaces the first */
    const uint8_t *tx1 = (const uint8_t *)"x=1";
    const uint8_t *tx2 = (const uint8_t *)"y=2";
    size_t l = 3;
    uint8_t h1[32], h2[32];
    assert_int_equal(kvledger_finalize_block(f.app, 1, &tx1, &l, 1, r, h1), 0);
    assert_int_equal(kvledger_finalize_block(f.app, 2, &tx1, &l, 1, r, h), PX_ESTATE);
    assert_int_equal(kvledger_finalize_block(f.app, 1, &tx2, &l, 1, r, h2), 0);
    assert_memory_not_equal(h1, h2, 32);
    assert_int_equal(kvledger_commit(f.app, &ch), 0);
    assert_int_equal(ch, 1);
    char v[8];
    assert_int_equal(query_key(&f, "x", v, sizeof(v)), KVL_CODE_NOT_FOUND);
    assert_int_equal(query_key(&f, "y", v, sizeof(v)), 0);
    struct kvledger_info info;
    kvledger_info(f.app, &info);
    assert_memory_equal(info.app_hash, h2, 32);
    /* InitChain after height 0 is refused */
    assert_int_equal(kvledger_init_chain(f.app, CHAIN, 1, NULL, 0, h, NULL, 0), PX_ESTATE);
    fx_fini(&f);
}

static void queries(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    assert_int_equal(fx_text(&f, "k=v"), 0);
    struct kvledger_query_result *q = malloc(sizeof(*q));
    assert_non_null(q);
    assert_int_equal(kvledger_query(f.app, "/height", NULL, 0, 0, q), 0);
    assert_int_equal(q->code, 0);
    assert_int_equal(q->value_len, 1);
    assert_memory_equal(q->value, "1", 1);
    assert_int_equal(q->height, 1);
    assert_int_equal(kvledger_query(f.app, "/key", (const uint8_t *)"k", 1, 1, q), 0);
    assert_int_equal(q->code, 0);
    assert_int_equal(kvledger_query(f.app, "/key", (const uint8_t *)"k", 1, 7, q), 0);
    assert_int_equal(q->code, KVL_CODE_BAD_QUERY);
    assert_int_equal(kvledger_query(f.app, "/nope", NULL, 0, 0, q), 0);
    assert_int_equal(q->code, KVL_CODE_BAD_QUERY);
    assert_int_equal(kvledger_query(f.app, NULL, NULL, 0, 0, q), 0);
    assert_int_equal(q->code, KVL_CODE_BAD_QUERY);
    assert_int_equal(kvledger_query(f.app, "/account", alice.pk, 31, 0, q), 0);
    assert_int_equal(q->code, KVL_CODE_BAD_QUERY);
    assert_int_equal(kvledger_query(f.app, "/key", NULL, 0, 0, q), 0);
    assert_int_equal(q->code, KVL_CODE_BAD_QUERY);
    uint64_t b, n;
    account(&f, &carol, &b, &n); /* unknown account: zero */
    assert_int_equal(b, 0);
    assert_int_equal(n, 0);
    account(&f, &bob, &b, &n);
    assert_int_equal(b, 50);
    /* Query sees committed state only, not an open block */
    const uint8_t *tx = (const uint8_t *)"k=open";
    size_t l = 6;
    struct kvledger_result r;
    uint8_t h[32];
    assert_int_equal(kvledger_finalize_block(f.app, 2, &tx, &l, 1, &r, h), 0);
    char v[16];
    assert_int_equal(query_key(&f, "k", v, sizeof(v)), 0);
    assert_string_equal(v, "v");
    int64_t ch;
    assert_int_equal(kvledger_commit(f.app, &ch), 0);
    assert_int_equal(query_key(&f, "k", v, sizeof(v)), 0);
    assert_string_equal(v, "open");
    free(q);
    fx_fini(&f);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* The app hash is exactly the formula of TXFORMAT.md §5 (computed here by hand). */
static void app_hash_follows_txformat(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(pxt_tmpdir("kvl", f.home, sizeof(f.home)), 0);
    fx_open(&f);
    char a[64];
    px_base64_encode(a, sizeof(a), alice.pk, 32);
    char g[256];
    snprintf(g, sizeof(g), "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"7\"}]}", a);
    uint8_t gh[32];
    assert_int_equal(
        kvledger_init_chain(f.app, "c1", 5, (const uint8_t *)g, strlen(g), gh, NULL, 0), 0);
    uint8_t buf[512];
    size_t n = 0;
    memcpy(buf, "phalanx/kvledger/genesis/v1", 27);
    n = 27;
    buf[n++] = 0;
    buf[n++] = 2;
    memcpy(buf + n, "c1", 2);
    n += 2;
    put32(buf + n, 1);
    n += 4;
    memcpy(buf + n, alice.pk, 32);
    n += 32;
    put64(buf + n, 7);
    n += 8;
    uint8_t want[32];
    crypto_hash_sha256(want, buf, n);
    assert_memory_equal(gh, want, 32);

    /* block 5 (initial height): "k=v" (ok) and "bad" (code 1, no writes) */
    const uint8_t *txs[2] = {(const uint8_t *)"k=v", (const uint8_t *)"bad"};
    size_t lens[2] = {3, 3};
    struct kvledger_result r[2];
    uint8_t bh[32];
    assert_int_equal(kvledger_finalize_block(f.app, 1, txs, lens, 2, r, bh), PX_ESTATE);
    assert_int_equal(kvledger_finalize_block(f.app, 5, txs, lens, 2, r, bh), 0);
    n = 0;
    memcpy(buf, "phalanx/kvledger/block/v1", 25);
    n = 25;
    buf[n++] = 0;
    memcpy(buf + n, gh, 32);
    n += 32;
    put64(buf + n, 5);
    n += 8;
    put32(buf + n, 2);
    n += 4;
    put32(buf + n, 0); /* code */
    n += 4;
    put32(buf + n, 1); /* writes */
    n += 4;
    buf[n++] = 1; /* kv set */
    put32(buf + n, 1);
    n += 4;
    buf[n++] = 'k';
    put32(buf + n, 1);
    n += 4;
    buf[n++] = 'v';
    put32(buf + n, KVL_CODE_MALFORMED);
    n += 4;
    put32(buf + n, 0);
    n += 4;
    crypto_hash_sha256(want, buf, n);
    assert_memory_equal(bh, want, 32);
    int64_t ch;
    assert_int_equal(kvledger_commit(f.app, &ch), 0);
    assert_int_equal(ch, 5);
    fx_fini(&f);
}

/* Run the same script in a fresh app; returns the final app hash. `variant` changes one
 * transaction. */
static void run_script(int variant, uint8_t out[32], uint8_t hashes[3][32])
{
    struct fx f;
    fx_init(&f, "kvl-det");
    uint8_t t0[LEDGER_TX_MAX_LEN], t1[LEDGER_TX_MAX_LEN];
    size_t l0 = transfer(t0, &alice, &bob, variant == 2 ? 11 : 10, 0);
    size_t l1 = transfer(t1, &bob, &carol, 5, 0);
    const char *kv0 = variant == 1 ? "name=bob" : "name=alice";
    const uint8_t *b1[3] = {(const uint8_t *)kv0, t0, (const uint8_t *)"z=26"};
    size_t s1[3] = {strlen(kv0), l0, 4};
    fx_block(&f, b1, s1, 3, NULL, hashes[0]);
    const uint8_t *b2[3] = {t1, (const uint8_t *)"del:z", t0};
    size_t s2[3] = {l1, 5, l0};
    fx_block(&f, b2, s2, 3, NULL, hashes[1]);
    fx_block(&f, NULL, NULL, 0, NULL, hashes[2]);
    struct kvledger_info info;
    kvledger_info(f.app, &info);
    assert_memory_equal(info.app_hash, hashes[2], 32);
    memcpy(out, info.app_hash, 32);
    fx_fini(&f);
}

static void app_hash_is_deterministic(void **state)
{
    (void)state;
    uint8_t a[32], b[32], c[32], d[32];
    uint8_t ha[3][32], hb[3][32], hc[3][32], hd[3][32];
    run_script(0, a, ha);
    run_script(0, b, hb);
    assert_memory_equal(ha, hb, sizeof(ha));
    assert_memory_equal(a, b, 32);
    run_script(1, c, hc); /* different KV value */
    assert_memory_not_equal(a, c, 32);
    run_script(2, d, hd); /* different amount */
    assert_memory_not_equal(a, d, 32);
    /* every block changes the hash, even an empty one */
    assert_memory_not_equal(ha[0], ha[1], 32);
    assert_memory_not_equal(ha[1], ha[2], 32);
}

static void restart_keeps_committed_state_and_drops_open_block(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl-restart");
    uint8_t t0[LEDGER_TX_MAX_LEN];
    size_t l0 = transfer(t0, &alice, &bob, 10, 0);
    const uint8_t *b1[2] = {(const uint8_t *)"a=1", t0};
    size_t s1[2] = {3, l0};
    uint8_t h1[32];
    fx_block(&f, b1, s1, 2, NULL, h1);
    /* block 2 executed but not committed */
    uint8_t t1[LEDGER_TX_MAX_LEN];
    size_t l1 = transfer(t1, &alice, &carol, 20, 1);
    const uint8_t *b2[2] = {(const uint8_t *)"b=2", t1};
    size_t s2[2] = {3, l1};
    struct kvledger_result r[2];
    uint8_t h2[32], h2again[32];
    assert_int_equal(kvledger_finalize_block(f.app, 2, b2, s2, 2, r, h2), 0);
    kvledger_close(f.app);
    fx_open(&f);
    struct kvledger_info info;
    kvledger_info(f.app, &info);
    assert_int_equal(info.height, 1);
    assert_int_equal(info.app_hash_len, 32);
    assert_memory_equal(info.app_hash, h1, 32);
    assert_string_equal(info.chain_id, CHAIN);
    char v[8];
    assert_int_equal(query_key(&f, "a", v, sizeof(v)), 0);
    assert_int_equal(query_key(&f, "b", v, sizeof(v)), KVL_CODE_NOT_FOUND);
    uint64_t bal, n;
    account(&f, &alice, &bal, &n);
    assert_int_equal(bal, 990);
    assert_int_equal(n, 1);
    account(&f, &carol, &bal, &n);
    assert_int_equal(bal, 0);
    /* the same block 2 again gives the same hash, and commits */
    assert_int_equal(kvledger_finalize_block(f.app, 2, b2, s2, 2, r, h2again), 0);
    assert_memory_equal(h2, h2again, 32);
    int64_t ch;
    assert_int_equal(kvledger_commit(f.app, &ch), 0);
    kvledger_close(f.app);
    fx_open(&f);
    kvledger_info(f.app, &info);
    assert_int_equal(info.height, 2);
    assert_memory_equal(info.app_hash, h2, 32);
    account(&f, &carol, &bal, &n);
    assert_int_equal(bal, 20);
    fx_fini(&f);
}

static void results_describe_what_a_tx_did(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "kvl");
    struct kvledger_result r;
    assert_int_equal(kvledger_check_tx(f.app, (const uint8_t *)"abc=1", 5, false, &r), 0);
    assert_int_equal(r.kind, KVL_TX_KV_SET);
    assert_int_equal(r.key_off, 0);
    assert_int_equal(r.key_len, 3);
    assert_int_equal(kvledger_check_tx(f.app, (const uint8_t *)"del:xy", 6, false, &r), 0);
    assert_int_equal(r.kind, KVL_TX_KV_DELETE);
    assert_int_equal(r.key_off, 4);
    assert_int_equal(r.key_len, 2);
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t len = transfer(tx, &alice, &bob, 42, 0);
    assert_int_equal(kvledger_check_tx(f.app, tx, len, false, &r), 0);
    assert_int_equal(r.kind, KVL_TX_TRANSFER);
    assert_memory_equal(r.from, alice.pk, 32);
    assert_memory_equal(r.to, bob.pk, 32);
    assert_int_equal(r.amount, 42);
    assert_int_equal(kvledger_check_tx(f.app, tx, len, false, &r), 0);
    assert_int_equal(r.code, KVL_CODE_BAD_NONCE);
    assert_int_equal(r.kind, KVL_TX_NONE);
    fx_fini(&f);
}

/* ---- genesis forms (TXFORMAT.md §3, issue 12) ---------------------------------------- */

/* A fresh app in f (no InitChain). */
static void fx_fresh(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    assert_int_equal(pxt_tmpdir("kvl-gen", f->home, sizeof(f->home)), 0);
    fx_open(f);
}

/* InitChain on chain CHAIN with app_state text; 0 or the error, err gets the sentence. */
static int init_with(struct fx *f, const char *app_state, uint8_t hash[32], char *err, size_t cap)
{
    err[0] = '\0';
    return kvledger_init_chain(f->app, CHAIN, 1, (const uint8_t *)app_state, strlen(app_state),
                               hash, err, cap);
}

/* G of TXFORMAT.md §5 for chain CHAIN and accounts given already sorted by raw bytes. */
static void genesis_hash(const uint8_t (*pubs)[32], const uint64_t *bals, size_t n, uint8_t out[32])
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)"phalanx/kvledger/genesis/v1", 28);
    uint8_t b[8];
    b[0] = (uint8_t)strlen(CHAIN);
    crypto_hash_sha256_update(&h, b, 1);
    crypto_hash_sha256_update(&h, (const uint8_t *)CHAIN, strlen(CHAIN));
    put32(b, (uint32_t)n);
    crypto_hash_sha256_update(&h, b, 4);
    for (size_t i = 0; i < n; i++) {
        crypto_hash_sha256_update(&h, pubs[i], 32);
        put64(b, bals[i]);
        crypto_hash_sha256_update(&h, b, 8);
    }
    crypto_hash_sha256_final(&h, out);
}

/* "app_state": null (what `phalanx testnet --app-state` may write) and the other empty forms
 * are a chain without accounts: the node exited on null before. */
static void genesis_empty_forms_mean_no_accounts(void **state)
{
    (void)state;
    struct fx f;
    fx_fresh(&f);
    uint8_t want[32], h[32];
    genesis_hash(NULL, NULL, 0, want);
    const char *forms[] = {"", "null", " null\n", "{}", "{\"accounts\":null}", "{\"accounts\":[]}"};
    char err[300];
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        int rc = init_with(&f, forms[i], h, err, sizeof(err));
        if (rc != 0)
            fail_msg("app_state '%s' refused: %s", forms[i], err);
        assert_memory_equal(h, want, 32);
    }
    fx_fini(&f);
}

/* Balances: decimal strings 0..2^64-1, or digits-only JSON integers 0..2^53-1; every other
 * form is refused with a sentence that says what to write instead. */
static void genesis_balance_forms(void **state)
{
    (void)state;
    struct fx f;
    fx_fresh(&f);
    char a[64];
    px_base64_encode(a, sizeof(a), alice.pk, 32);
    struct {
        const char *bal; /* as written in the JSON */
        uint64_t value;  /* when accepted */
        const char *why; /* NULL: accepted; else a part of the refusal */
    } cases[] = {
        {"\"0\"", 0, NULL},
        {"0", 0, NULL},
        {"\"18446744073709551615\"", UINT64_MAX, NULL},
        {"9007199254740991", 9007199254740991ull, NULL},
        {"9007199254740992", 0, "decimal string"},
        {"9223372036854775807", 0, "decimal string"},
        {"18446744073709551615", 0, "decimal string"},
        {"18446744073709551616", 0, "decimal string"},
        {"-0", 0, "-0"},
        {"-1", 0, "negative"},
        {"1.0", 0, "fraction"},
        {"1e3", 0, "fraction"},
        {"\"18446744073709551616\"", 0, "0..18446744073709551615"},
        {"\"01\"", 0, "leading zeros"},
        {"\"+1\"", 0, "no sign"},
        {"\"-0\"", 0, "no sign"},
        {"\" 1\"", 0, "spaces"},
        {"\"1 \"", 0, "spaces"},
        {"\"\"", 0, "decimal"},
        {"\"1e3\"", 0, "decimal"},
        {"true", 0, "wrong type"},
        {"null", 0, "wrong type"},
    };
    char g[300], err[300];
    uint8_t h[32], want[32];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(g, sizeof(g), "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":%s}]}", a,
                 cases[i].bal);
        int rc = init_with(&f, g, h, err, sizeof(err));
        if (cases[i].why == NULL) {
            if (rc != 0)
                fail_msg("balance %s refused: %s", cases[i].bal, err);
            genesis_hash((const uint8_t(*)[32])alice.pk, &cases[i].value, 1, want);
            assert_memory_equal(h, want, 32);
        } else if (rc != PX_EINVAL || strstr(err, cases[i].why) == NULL) {
            fail_msg("balance %s: rc %d, err '%s' (expected a refusal saying '%s')", cases[i].bal,
                     rc, err, cases[i].why);
        }
    }
    /* a missing balance */
    snprintf(g, sizeof(g), "{\"accounts\":[{\"pub_key\":\"%s\"}]}", a);
    assert_int_equal(init_with(&f, g, h, err, sizeof(err)), PX_EINVAL);
    assert_non_null(strstr(err, "missing"));
    fx_fini(&f);
}

/* Public keys: canonical padded standard base64 of exactly 32 bytes; JSON keys appear once. */
static void genesis_key_forms(void **state)
{
    (void)state;
    struct fx f;
    fx_fresh(&f);
    char a[64];
    px_base64_encode(a, sizeof(a), alice.pk, 32);
    assert_int_equal(strlen(a), 44);
    char noncanon[64], unpadded[64], urlsafe[64], spaced[80];
    /* 32 bytes leave 2 unused bits in the last character: set one */
    snprintf(noncanon, sizeof(noncanon), "%s", a);
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t pos = (size_t)(strchr(alpha, noncanon[42]) - alpha);
    noncanon[42] = alpha[pos ^ 1];
    snprintf(unpadded, sizeof(unpadded), "%.43s", a);
    snprintf(urlsafe, sizeof(urlsafe), "%s", "_-__________________________________________");
    urlsafe[43] = '=';
    snprintf(spaced, sizeof(spaced), "%.20s\\n%s", a, a + 20);
    const char *bad[] = {
        noncanon, unpadded, urlsafe,
        spaced,   "AAAA",   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}; /* 33 bytes */
    char g[400], err[300];
    uint8_t h[32];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(g, sizeof(g), "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"1\"}]}", bad[i]);
        if (init_with(&f, g, h, err, sizeof(err)) != PX_EINVAL || !strstr(err, "base64"))
            fail_msg("pub_key '%s' was not refused as bad base64 (err '%s')", bad[i], err);
    }
    const char *dups[] = {"{\"accounts\":[],\"accounts\":[]}",
                          "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"1\","
                          "\"balance\":\"2\"}]}"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(g, sizeof(g), dups[i], a);
        assert_int_equal(init_with(&f, g, h, err, sizeof(err)), PX_EINVAL);
        assert_non_null(strstr(err, "duplicate"));
    }
    fx_fini(&f);
}

/* G lists the accounts by the raw bytes of the keys, not by their base64 text: 0xFC...
 * encodes as "/..." which sorts before "AAA..." as text but after 0x00... as bytes. A zero
 * balance is an account like any other. */
static void genesis_hash_sorts_by_raw_key_bytes(void **state)
{
    (void)state;
    struct fx f;
    fx_fresh(&f);
    uint8_t keys[2][32];
    memset(keys[0], 0x00, 32);
    memset(keys[1], 0xfc, 32);
    char k0[64], k1[64];
    px_base64_encode(k0, sizeof(k0), keys[0], 32);
    px_base64_encode(k1, sizeof(k1), keys[1], 32);
    assert_true(strcmp(k1, k0) < 0); /* text order is the other way round */
    char g[400], err[300];
    snprintf(g, sizeof(g),
             "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"5\"},"
             "{\"pub_key\":\"%s\",\"balance\":0}]}",
             k1, k0);
    uint8_t h[32], want[32];
    assert_int_equal(init_with(&f, g, h, err, sizeof(err)), 0);
    uint64_t bals[2] = {0, 5};
    genesis_hash((const uint8_t(*)[32])keys, bals, 2, want);
    assert_memory_equal(h, want, 32);
    fx_fini(&f);
}

/* The chain id is what transfers carry: 1..50 bytes of 0x21..0x7E, else InitChain fails. */
static void genesis_chain_id_rules(void **state)
{
    (void)state;
    struct fx f;
    fx_fresh(&f);
    char fifty[51], fiftyone[52];
    memset(fifty, '~', 50);
    fifty[50] = '\0';
    memset(fiftyone, 'c', 51);
    fiftyone[51] = '\0';
    const char *bad[] = {"", "a b", "caf\xc3\xa9", "tab\there", fiftyone};
    uint8_t h[32];
    char err[300];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(kvledger_init_chain(f.app, bad[i], 1, NULL, 0, h, err, sizeof(err)),
                         PX_EINVAL);
        assert_non_null(strstr(err, "chain id"));
    }
    assert_int_equal(kvledger_init_chain(f.app, fifty, 1, NULL, 0, h, err, sizeof(err)), 0);
    fx_fini(&f);
}

/* PROTOCOL.md §5.1: after a lost connection the engine runs Info again; an app that
 * executed its first block but did not commit it says height 0 and gets InitChain again,
 * which it must accept, discarding the block. A refused InitChain changes nothing. */
static void init_chain_again_discards_an_uncommitted_first_block(void **state)
{
    (void)state;
    struct fx f;
    fx_fresh(&f);
    uint8_t g1[32], g2[32], h[32];
    char err[300];
    assert_int_equal(init_with(&f, "", g1, err, sizeof(err)), 0);
    const uint8_t *x = (const uint8_t *)"x=1", *y = (const uint8_t *)"y=2";
    size_t l = 3;
    struct kvledger_result r[1];
    assert_int_equal(kvledger_finalize_block(f.app, 1, &x, &l, 1, r, h), 0);
    /* refused: the open block stays */
    assert_int_equal(init_with(&f, "{\"bad\":1}", g2, err, sizeof(err)), PX_EINVAL);
    /* accepted: the open block goes */
    assert_int_equal(init_with(&f, "null", g2, err, sizeof(err)), 0);
    assert_memory_equal(g1, g2, 32);
    struct kvledger_info info;
    kvledger_info(f.app, &info);
    assert_int_equal(info.height, 0);
    assert_memory_equal(info.app_hash, g1, 32);
    int64_t ch;
    assert_int_equal(kvledger_commit(f.app, &ch), PX_ESTATE); /* nothing open now */
    assert_int_equal(kvledger_finalize_block(f.app, 1, &y, &l, 1, r, h), 0);
    assert_int_equal(kvledger_commit(f.app, &ch), 0);
    char v[8];
    assert_int_equal(query_key(&f, "x", v, sizeof(v)), KVL_CODE_NOT_FOUND);
    assert_int_equal(query_key(&f, "y", v, sizeof(v)), 0);
    /* after a Commit, InitChain is refused and changes nothing */
    assert_int_equal(init_with(&f, "", g2, err, sizeof(err)), PX_ESTATE);
    kvledger_info(f.app, &info);
    assert_int_equal(info.height, 1);
    fx_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_app_reports_height_zero_and_no_hash),
        cmocka_unit_test(kv_set_and_delete),
        cmocka_unit_test(kv_malformed_and_limits),
        cmocka_unit_test(transfer_moves_funds_and_bumps_nonce),
        cmocka_unit_test(ledger_rejections),
        cmocka_unit_test(block_applies_txs_in_order),
        cmocka_unit_test(check_tx_tracks_pending_nonces),
        cmocka_unit_test(genesis_errors),
        cmocka_unit_test(call_order_errors),
        cmocka_unit_test(queries),
        cmocka_unit_test(app_hash_follows_txformat),
        cmocka_unit_test(app_hash_is_deterministic),
        cmocka_unit_test(restart_keeps_committed_state_and_drops_open_block),
        cmocka_unit_test(results_describe_what_a_tx_did),
        cmocka_unit_test(genesis_empty_forms_mean_no_accounts),
        cmocka_unit_test(genesis_balance_forms),
        cmocka_unit_test(genesis_key_forms),
        cmocka_unit_test(genesis_hash_sorts_by_raw_key_bytes),
        cmocka_unit_test(genesis_chain_id_rules),
        cmocka_unit_test(init_chain_again_discards_an_uncommitted_first_block),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
