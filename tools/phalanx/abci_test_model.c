/*
 * abci_test_model: what apps/kvledger/TXFORMAT.md says an app answers, written here from
 * the spec and not from kvledger's code, so that abci-test also catches kvledger when it
 * drifts: the genesis hash G and the block hash A(h) of §5, and the hostile txs — each
 * breaking several rules of §1 at once, as a Byzantine proposer may put in a block — with
 * the one code §1's order of checks gives them.
 *
 * Pure computation: no I/O, no app calls.
 */
#include "abci_test.h"

#include "sha256.h"

#include <stdlib.h>
#include <string.h>

#define GENESIS_DOMAIN "phalanx/kvledger/genesis/v1"
#define BLOCK_DOMAIN "phalanx/kvledger/block/v1"
#define TX_MAX 16384
#define KEY_MAX 256
#define VALUE_MAX 8192

/* Codes of TXFORMAT.md §2. */
enum {
    OK = 0,
    MALFORMED = 1,
    TOO_LARGE = 2,
    UNKNOWN_TYPE = 8,
};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static void hash_u32(struct sha256 *h, uint32_t v)
{
    uint8_t b[4];
    put_u32(b, v);
    sha256_update(h, b, sizeof(b));
}

static void hash_u64(struct sha256 *h, uint64_t v)
{
    uint8_t b[8];
    put_u64(b, v);
    sha256_update(h, b, sizeof(b));
}

bool abci_test_code_ok(const struct abci_test_tx *c, uint32_t code)
{
    return code == c->code || (c->alt != ABCI_TEST_NO_ALT && code == (uint32_t)c->alt);
}

static int cmp_account(const void *a, const void *b)
{
    return memcmp(((const struct abci_test_account *)a)->pub,
                  ((const struct abci_test_account *)b)->pub, 32);
}

void abci_test_genesis_hash(const char *chain_id, const struct abci_test_account *accts, size_t n,
                            uint8_t out[32])
{
    struct abci_test_account sorted[16];
    if (n > sizeof(sorted) / sizeof(sorted[0]))
        abort(); /* the script's cases are small */
    if (n > 0)
        memcpy(sorted, accts, n * sizeof(*accts));
    qsort(sorted, n, sizeof(*sorted), cmp_account); /* raw key bytes, not base64 text */
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, GENESIS_DOMAIN, sizeof(GENESIS_DOMAIN)); /* with its 0x00 */
    uint8_t len = (uint8_t)strlen(chain_id);
    sha256_update(&h, &len, 1);
    sha256_update(&h, chain_id, len);
    hash_u32(&h, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        sha256_update(&h, sorted[i].pub, 32);
        hash_u64(&h, sorted[i].balance);
    }
    sha256_final(&h, out);
}

/* The write of a successful §1.1 tx: kind 1 (set) or 2 (delete). */
static void hash_kv_write(struct sha256 *h, const uint8_t *tx, size_t len)
{
    const uint8_t *eq = memchr(tx, '=', len);
    uint8_t kind = eq ? 1 : 2;
    const uint8_t *key = eq ? tx : tx + 4; /* after "del:" */
    size_t klen = eq ? (size_t)(eq - tx) : len - 4;
    const uint8_t *val = eq ? eq + 1 : NULL;
    size_t vlen = eq ? len - klen - 1 : 0;
    sha256_update(h, &kind, 1);
    hash_u32(h, (uint32_t)klen);
    sha256_update(h, key, klen);
    hash_u32(h, (uint32_t)vlen);
    if (vlen)
        sha256_update(h, val, vlen);
}

void abci_test_block_hash(const uint8_t prev[32], int64_t height, const ProtobufCBinaryData *txs,
                          const uint32_t *codes, size_t n, uint8_t out[32])
{
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, BLOCK_DOMAIN, sizeof(BLOCK_DOMAIN));
    sha256_update(&h, prev, 32);
    hash_u64(&h, (uint64_t)height);
    hash_u32(&h, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        hash_u32(&h, codes[i]);
        hash_u32(&h, codes[i] == OK ? 1 : 0);
        if (codes[i] == OK)
            hash_kv_write(&h, txs[i].data, txs[i].len);
    }
    sha256_final(&h, out);
}

/* ---- the hostile txs ------------------------------------------------------------------ */

static uint8_t ldg1_huge[TX_MAX + 1]; /* LDG1 and '=' but too large */
static uint8_t empty_key_big_value[VALUE_MAX + 9];
static uint8_t long_bad_key[300 + 2];            /* key of 300 bytes with a space, "=v" */
static uint8_t bad_key_big_value[VALUE_MAX + 9]; /* "bad key=" + a value too large */
static uint8_t del_long_key[4 + 300];
static uint8_t no_eq_max[TX_MAX]; /* exactly 16384 bytes, no '=' */
static uint8_t max_key_max_value[KEY_MAX + 1 + VALUE_MAX];

static ProtobufCBinaryData bytes_of(const void *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)p};
    return b;
}

static ProtobufCBinaryData text(const char *s)
{
    return bytes_of(s, strlen(s));
}

const struct abci_test_tx *abci_test_hostile_txs(size_t *n)
{
    static struct abci_test_tx list[24];
    static size_t count;
    if (count == 0) {
        memcpy(ldg1_huge, "LDG1", 4);
        memset(ldg1_huge + 4, 'x', sizeof(ldg1_huge) - 4);
        ldg1_huge[10] = '=';
        empty_key_big_value[0] = '=';
        memset(empty_key_big_value + 1, 'v', sizeof(empty_key_big_value) - 1);
        memset(long_bad_key, 'k', 300);
        long_bad_key[150] = ' ';
        memcpy(long_bad_key + 300, "=v", 2);
        memcpy(bad_key_big_value, "bad key=", 8);
        memset(bad_key_big_value + 8, 'v', sizeof(bad_key_big_value) - 8);
        memcpy(del_long_key, "del:", 4);
        memset(del_long_key + 4, 'k', 300);
        memset(no_eq_max, 'x', sizeof(no_eq_max));
        memset(max_key_max_value, 'K', KEY_MAX);
        max_key_max_value[KEY_MAX] = '=';
        memset(max_key_max_value + KEY_MAX + 1, 'v', VALUE_MAX);
        const struct abci_test_tx l[] = {
            /* the ledger prefix is decided before '=' (§1 rule 1 before rule 2) */
            {"LDG1 before '='", text("LDG1=x"), UNKNOWN_TYPE, ABCI_TEST_NO_ALT},
            {"LDG1 alone", text("LDG1"), MALFORMED, UNKNOWN_TYPE},
            /* the size is checked before anything else */
            {"size before LDG1", bytes_of(ldg1_huge, sizeof(ldg1_huge)), TOO_LARGE,
             ABCI_TEST_NO_ALT},
            /* then the key, in the order of §1.1: empty, length, bytes, LDG1; the value last */
            {"empty key before value size",
             bytes_of(empty_key_big_value, sizeof(empty_key_big_value)), MALFORMED,
             ABCI_TEST_NO_ALT},
            {"key size before key bytes", bytes_of(long_bad_key, sizeof(long_bad_key)), TOO_LARGE,
             ABCI_TEST_NO_ALT},
            {"key bytes before value size", bytes_of(bad_key_big_value, sizeof(bad_key_big_value)),
             MALFORMED, ABCI_TEST_NO_ALT},
            {"key byte 0x7f", text("abci-test/\x7f=v"), MALFORMED, ABCI_TEST_NO_ALT},
            {"key byte 0x80", text("abci-test/\x80=v"), MALFORMED, ABCI_TEST_NO_ALT},
            {"key byte 0x00", bytes_of("abci-test/\0=v", 13), MALFORMED, ABCI_TEST_NO_ALT},
            /* the key rules apply to del: too */
            {"del: empty key", text("del:"), MALFORMED, ABCI_TEST_NO_ALT},
            {"del: key > 256 bytes", bytes_of(del_long_key, sizeof(del_long_key)), TOO_LARGE,
             ABCI_TEST_NO_ALT},
            {"del: key with space", text("del:a b"), MALFORMED, ABCI_TEST_NO_ALT},
            {"del: key starting LDG1", text("del:LDG1abc"), MALFORMED, ABCI_TEST_NO_ALT},
            /* '=' is decided before "del:": this sets the key "del:abci-test/k9" */
            {"'=' before del:", text("del:abci-test/k9=v9"), OK, ABCI_TEST_NO_ALT},
            {"DEL: is not del:", text("DEL:abci-test/k1"), MALFORMED, ABCI_TEST_NO_ALT},
            {"binary value", bytes_of("abci-test/bin=\0\xff\n", 17), OK, ABCI_TEST_NO_ALT},
            {"value starting LDG1", text("abci-test/v=LDG1"), OK, ABCI_TEST_NO_ALT},
            {"16384 bytes without '='", bytes_of(no_eq_max, sizeof(no_eq_max)), MALFORMED,
             ABCI_TEST_NO_ALT},
            {"key 256 + value 8192", bytes_of(max_key_max_value, sizeof(max_key_max_value)), OK,
             ABCI_TEST_NO_ALT},
        };
        count = sizeof(l) / sizeof(l[0]);
        memcpy(list, l, sizeof(l));
    }
    *n = count;
    return list;
}
