/* Integration test: kvledger survives kill -9. The real binary (127.0.0.1, temp home)
 * commits block 1, executes block 2 without Commit and is killed with SIGKILL; after a
 * restart Info reports height 1 and block 1's hash, block 2's writes are absent, and the
 * same block 2 is accepted again with the same hash. Then a kill right after Commit
 * returns: the restart reports height 2 (Commit was durable).
 * Usage: test_kvledger_kill9 PATH-TO-kvledger */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvledger.h"
#include "kvledger_itest.h"
#include "px_encoding.h"
#include "px_log.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CHAIN "kvl-kill9"

static const char *exe;

static void kill9_mid_block(void **state)
{
    (void)state;
    uint8_t pk[32], sk[64], to[32], tsk[64], seed[32];
    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    memset(seed, 8, sizeof(seed));
    crypto_sign_seed_keypair(to, tsk, seed);
    char b64[64], genesis[256];
    px_base64_encode(b64, sizeof(b64), pk, 32);
    snprintf(genesis, sizeof(genesis), "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"500\"}]}",
             b64);

    struct kvl_node n;
    kvl_node_init(&n, exe, "kvl-kill9");
    kvl_node_start(&n);
    uint8_t g[32], h1[32], h2[32], h2again[32], hash[32];
    kvl_init_chain(&n, CHAIN, genesis, g);
    const uint8_t *b1[1] = {(const uint8_t *)"k1=v1"};
    size_t s1[1] = {5};
    assert_int_equal(kvl_finalize(&n, 1, b1, s1, 1, NULL, h1), 0);
    assert_int_equal(kvl_commit(&n), 0);

    uint8_t t[LEDGER_TX_MAX_LEN];
    size_t tl;
    assert_int_equal(ledger_tx_build(CHAIN, sk, to, 123, 0, t, sizeof(t), &tl), 0);
    const uint8_t *b2[2] = {(const uint8_t *)"k2=v2", t};
    size_t s2[2] = {5, tl};
    uint32_t codes[2];
    assert_int_equal(kvl_finalize(&n, 2, b2, s2, 2, codes, h2), 0);
    assert_int_equal(codes[0], 0);
    assert_int_equal(codes[1], 0);

    /* crash before Commit */
    kvl_node_stop(&n, SIGKILL);
    kvl_node_start(&n);
    int64_t height;
    size_t hash_len;
    kvl_info(&n, &height, hash, &hash_len);
    assert_int_equal(height, 1);
    assert_int_equal(hash_len, 32);
    assert_memory_equal(hash, h1, 32);
    char val[256];
    assert_int_equal(kvl_query(&n, "/key", (const uint8_t *)"k2", 2, val, sizeof(val)),
                     KVL_CODE_NOT_FOUND);
    assert_int_equal(kvl_query(&n, "/key", (const uint8_t *)"k1", 2, val, sizeof(val)), 0);
    assert_string_equal(val, "v1");
    assert_int_equal(kvl_query(&n, "/account", pk, 32, val, sizeof(val)), 0);
    assert_non_null(strstr(val, "\"balance\":\"500\",\"nonce\":\"0\""));

    /* the engine replays block 2 */
    assert_int_equal(kvl_finalize(&n, 2, b2, s2, 2, codes, h2again), 0);
    assert_memory_equal(h2, h2again, 32);
    assert_int_equal(codes[1], 0);
    assert_int_equal(kvl_commit(&n), 0);

    /* crash right after Commit returned */
    kvl_node_stop(&n, SIGKILL);
    kvl_node_start(&n);
    kvl_info(&n, &height, hash, &hash_len);
    assert_int_equal(height, 2);
    assert_memory_equal(hash, h2, 32);
    assert_int_equal(kvl_query(&n, "/key", (const uint8_t *)"k2", 2, val, sizeof(val)), 0);
    assert_string_equal(val, "v2");
    assert_int_equal(kvl_query(&n, "/account", to, 32, val, sizeof(val)), 0);
    assert_non_null(strstr(val, "\"balance\":\"123\""));

    kvl_node_stop(&n, SIGTERM);
    kvl_node_fini(&n);
}

static void quiet(const char *line, size_t len, void *user)
{
    (void)line;
    (void)len;
    (void)user;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-kvledger\n", argv[0]);
        return 2;
    }
    exe = argv[1];
    if (sodium_init() < 0)
        return 1;
    px_log_set_sink(quiet, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_mid_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
