/* Unit tests of ledger_tx: the byte layout of TXFORMAT.md §1.2, sign bytes, signing,
 * verification against every tampered field, and decode errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ledger_tx.h"
#include "px_error.h"

#include <sodium.h>
#include <string.h>

static uint8_t sk[64], pk[32], sk2[64], pk2[32];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    uint8_t seed[32];
    memset(seed, 1, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    memset(seed, 2, sizeof(seed));
    crypto_sign_seed_keypair(pk2, sk2, seed);
    return 0;
}

static void build(uint8_t *tx, size_t *len, const char *chain, uint64_t amount, uint64_t nonce)
{
    assert_int_equal(ledger_tx_build(chain, sk, pk2, amount, nonce, tx, LEDGER_TX_MAX_LEN, len), 0);
}

static void layout_matches_txformat(void **state)
{
    (void)state;
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t len;
    build(tx, &len, "test-chain", 0x0102030405060708ull, 9);
    size_t l = strlen("test-chain");
    assert_int_equal(len, 150 + l);
    assert_memory_equal(tx, "LDG1", 4);
    assert_int_equal(tx[4], 0x01);
    assert_int_equal(tx[5], l);
    assert_memory_equal(tx + 6, "test-chain", l);
    assert_memory_equal(tx + 6 + l, pk, 32);
    assert_memory_equal(tx + 38 + l, pk2, 32);
    const uint8_t amount[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(tx + 70 + l, amount, 8);
    const uint8_t nonce[8] = {0, 0, 0, 0, 0, 0, 0, 9};
    assert_memory_equal(tx + 78 + l, nonce, 8);

    /* the signature is plain Ed25519 over domain || 0x00 || tx without signature */
    uint8_t msg[LEDGER_SIGN_BYTES_MAX];
    memcpy(msg, "phalanx/kvledger/transfer/v1", 28);
    msg[28] = 0;
    memcpy(msg + 29, tx, 86 + l);
    assert_int_equal(crypto_sign_ed25519_verify_detached(tx + 86 + l, msg, 29 + 86 + l, pk), 0);
}

static void roundtrip_and_verify(void **state)
{
    (void)state;
    uint8_t tx[LEDGER_TX_MAX_LEN], again[LEDGER_TX_MAX_LEN];
    size_t len, len2;
    build(tx, &len, "c", 5, 0);
    assert_true(ledger_tx_is_ledger(tx, len));
    struct ledger_transfer t;
    assert_int_equal(ledger_tx_decode(tx, len, &t), 0);
    assert_string_equal(t.chain_id, "c");
    assert_memory_equal(t.from, pk, 32);
    assert_memory_equal(t.to, pk2, 32);
    assert_int_equal(t.amount, 5);
    assert_int_equal(t.nonce, 0);
    assert_int_equal(ledger_tx_verify(&t), 0);
    assert_int_equal(ledger_tx_encode(&t, again, sizeof(again), &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(again, tx, len);
}

static void every_tampered_byte_fails_verification(void **state)
{
    (void)state;
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t len;
    build(tx, &len, "chain-x", 77, 3);
    /* flip each byte after the type and chain-id length: either decode fails or the
     * signature no longer verifies */
    for (size_t i = 6; i < len; i++) {
        uint8_t copy[LEDGER_TX_MAX_LEN];
        memcpy(copy, tx, len);
        copy[i] ^= 0x01;
        struct ledger_transfer t;
        int rc = ledger_tx_decode(copy, len, &t);
        if (rc == 0)
            assert_int_equal(ledger_tx_verify(&t), PX_ECRYPTO);
    }
    /* signed by someone else than from */
    struct ledger_transfer t;
    assert_int_equal(ledger_tx_decode(tx, len, &t), 0);
    memcpy(t.from, pk2, 32);
    assert_int_equal(ledger_tx_verify(&t), PX_ECRYPTO);
}

static void chain_id_is_signed(void **state)
{
    (void)state;
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t len;
    build(tx, &len, "chain-a", 1, 0);
    struct ledger_transfer t;
    assert_int_equal(ledger_tx_decode(tx, len, &t), 0);
    memcpy(t.chain_id, "chain-b", 8);
    assert_int_equal(ledger_tx_verify(&t), PX_ECRYPTO);
}

static void decode_errors(void **state)
{
    (void)state;
    uint8_t tx[LEDGER_TX_MAX_LEN + 1];
    size_t len;
    build(tx, &len, "abc", 1, 0);
    struct ledger_transfer t;
    assert_int_equal(ledger_tx_decode(tx, len - 1, &t), PX_EDECODE);
    assert_int_equal(ledger_tx_decode(tx, len + 1, &t), PX_EDECODE);
    assert_int_equal(ledger_tx_decode(tx, 3, &t), PX_EDECODE);
    tx[4] = 0x02;
    assert_int_equal(ledger_tx_decode(tx, len, &t), PX_EPROTO);
    tx[4] = 0x01;
    tx[5] = 0;
    assert_int_equal(ledger_tx_decode(tx, len, &t), PX_EDECODE);
    tx[5] = 51;
    assert_int_equal(ledger_tx_decode(tx, len, &t), PX_EDECODE);
    tx[5] = 3;
    tx[7] = 0; /* NUL inside the chain id */
    assert_int_equal(ledger_tx_decode(tx, len, &t), PX_EDECODE);
    tx[7] = ' '; /* not printable ASCII without space */
    assert_int_equal(ledger_tx_decode(tx, len, &t), PX_EDECODE);
    tx[7] = 0xc3;
    assert_int_equal(ledger_tx_decode(tx, len, &t), PX_EDECODE);
    tx[7] = 'c';
    assert_int_equal(ledger_tx_decode(tx, len, &t), 0);
    tx[0] = 'X';
    assert_int_equal(ledger_tx_decode(tx, len, &t), PX_EDECODE);
    assert_false(ledger_tx_is_ledger(tx, len));
}

static void build_rejects_bad_chain_ids_and_small_buffers(void **state)
{
    (void)state;
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t len;
    char long_id[60];
    memset(long_id, 'a', 51);
    long_id[51] = '\0';
    assert_int_equal(ledger_tx_build("", sk, pk2, 1, 0, tx, sizeof(tx), &len), PX_EINVAL);
    assert_int_equal(ledger_tx_build("a b", sk, pk2, 1, 0, tx, sizeof(tx), &len), PX_EINVAL);
    assert_int_equal(ledger_tx_build(long_id, sk, pk2, 1, 0, tx, sizeof(tx), &len), PX_EINVAL);
    long_id[50] = '\0';
    assert_int_equal(ledger_tx_build(long_id, sk, pk2, 1, 0, tx, sizeof(tx), &len), 0);
    assert_int_equal(len, LEDGER_TX_MAX_LEN);
    assert_int_equal(ledger_tx_build("c", sk, pk2, 1, 0, tx, 150, &len), PX_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_matches_txformat),
        cmocka_unit_test(roundtrip_and_verify),
        cmocka_unit_test(every_tampered_byte_fails_verification),
        cmocka_unit_test(chain_id_is_signed),
        cmocka_unit_test(decode_errors),
        cmocka_unit_test(build_rejects_bad_chain_ids_and_small_buffers),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
