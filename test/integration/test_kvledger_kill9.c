/* Integration test: kvledger survives kill -9. The real binary (127.0.0.1, temp home)
 * commits block 1, executes block 2 without Commit and is killed with SIGKILL; after a
 * restart Info reports height 1 and block 1's hash, block 2's writes are absent, and the
 * same block 2 is accepted again with the same hash. Then a kill right after Commit
 * returns: the restart reports height 2 (Commit was durable).
 * Second test: blocks run back to back while another thread sends SIGKILL at a random
 * moment (seeded; the seed is printed and KVL_KILL9_SEED replays it); after each restart
 * Info must report the last acknowledged Commit or the one after it, never anything in
 * between, with exactly the app hash and state an in-process run has at that height.
 * Usage: test_kvledger_kill9 PATH-TO-kvledger */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvledger.h"
#include "kvledger_itest.h"
#include "px_encoding.h"
#include "px_log.h"
#include "px_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
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

#define RND_CHAIN "kvl-kill9-rnd"
#define RND_BLOCKS 1000
#define RND_ROUNDS 5

struct rnd_block {
    uint8_t tx[3][LEDGER_TX_MAX_LEN];
    size_t len[3];
};

static struct rnd_block *rnd_blocks;         /* [1..RND_BLOCKS] */
static uint8_t rnd_hash[RND_BLOCKS + 1][32]; /* [0]: genesis */
static char rnd_genesis[256];
static uint8_t rnd_alice[32];

/* Block h: set k<h>, delete k<h-1>, alice pays bob 1 with nonce h-1. */
static void rnd_make_blocks(void)
{
    uint8_t sk[64], bob[32], bsk[64], seed[32];
    memset(seed, 0x41, sizeof(seed));
    crypto_sign_seed_keypair(rnd_alice, sk, seed);
    memset(seed, 0x42, sizeof(seed));
    crypto_sign_seed_keypair(bob, bsk, seed);
    char b64[64];
    px_base64_encode(b64, sizeof(b64), rnd_alice, 32);
    snprintf(rnd_genesis, sizeof(rnd_genesis),
             "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"1000000\"}]}", b64);
    rnd_blocks = calloc(RND_BLOCKS + 1, sizeof(*rnd_blocks));
    assert_non_null(rnd_blocks);
    for (int h = 1; h <= RND_BLOCKS; h++) {
        struct rnd_block *b = &rnd_blocks[h];
        b->len[0] = (size_t)snprintf((char *)b->tx[0], LEDGER_TX_MAX_LEN, "k%d=v%d", h, h);
        b->len[1] = (size_t)snprintf((char *)b->tx[1], LEDGER_TX_MAX_LEN, "del:k%d", h - 1);
        assert_int_equal(ledger_tx_build(RND_CHAIN, sk, bob, 1, (uint64_t)(h - 1), b->tx[2],
                                         LEDGER_TX_MAX_LEN, &b->len[2]),
                         0);
    }
}

/* The reference: the same chain in the library, in-process. */
static void rnd_reference(void)
{
    char home[512];
    assert_int_equal(pxt_tmpdir("kvl-ref", home, sizeof(home)), 0);
    struct kvledger *app;
    assert_int_equal(kvledger_open(home, &app), 0);
    assert_int_equal(kvledger_init_chain(app, RND_CHAIN, 1, (const uint8_t *)rnd_genesis,
                                         strlen(rnd_genesis), rnd_hash[0], NULL, 0),
                     0);
    for (int h = 1; h <= RND_BLOCKS; h++) {
        const uint8_t *txs[3] = {rnd_blocks[h].tx[0], rnd_blocks[h].tx[1], rnd_blocks[h].tx[2]};
        struct kvledger_result r[3];
        int64_t ch;
        assert_int_equal(kvledger_finalize_block(app, h, txs, rnd_blocks[h].len, 3, r, rnd_hash[h]),
                         0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(r[i].code, 0);
        assert_int_equal(kvledger_commit(app, &ch), 0);
    }
    kvledger_close(app);
    pxt_rmtree(home);
}

struct killer {
    pid_t pid;
    unsigned delay_us;
};

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    /* the kill moment is the point of the test (no condition to wait for): a random delay */
    usleep(k->delay_us);
    kill(k->pid, SIGKILL);
    return NULL;
}

static void kill9_at_random_moments(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("KVL_KILL9_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    fprintf(stderr, "kill9_at_random_moments: seed %u (KVL_KILL9_SEED=%u replays it)\n", seed,
            seed);
    srand(seed);
    rnd_make_blocks();
    rnd_reference();

    struct kvl_node n;
    kvl_node_init(&n, exe, "kvl-kill9-rnd");
    kvl_node_start(&n);
    uint8_t g[32];
    kvl_init_chain(&n, RND_CHAIN, rnd_genesis, g);
    assert_memory_equal(g, rnd_hash[0], 32);
    int64_t acked = 0;
    for (int round = 0; round < RND_ROUNDS && acked < RND_BLOCKS; round++) {
        struct killer k = {.pid = n.pid, .delay_us = 1000u + (unsigned)rand() % 80000u};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, killer_main, &k), 0);
        n.tolerate_loss = true;
        int64_t h = acked + 1;
        for (; h <= RND_BLOCKS; h++) {
            const uint8_t *txs[3] = {rnd_blocks[h].tx[0], rnd_blocks[h].tx[1], rnd_blocks[h].tx[2]};
            uint32_t codes[3];
            uint8_t hash[32];
            if (kvl_finalize(&n, h, txs, rnd_blocks[h].len, 3, codes, hash) != 0)
                break;
            assert_memory_equal(hash, rnd_hash[h], 32);
            if (kvl_commit(&n) != 0)
                break;
            acked = h;
        }
        pthread_join(th, NULL);
        n.tolerate_loss = false;
        kvl_node_stop(&n, SIGKILL);
        kvl_node_start(&n);
        int64_t height;
        uint8_t hash[32];
        size_t hash_len;
        kvl_info(&n, &height, hash, &hash_len);
        fprintf(stderr, "round %d: killed after %u us, last acked Commit %lld, restarted at %lld\n",
                round, k.delay_us, (long long)acked, (long long)height);
        assert_true(height == acked || height == acked + 1);
        assert_int_equal(hash_len, 32);
        assert_memory_equal(hash, rnd_hash[height], 32);
        /* the state is exactly that of `height`: alice's nonce and the last key */
        char val[256], key[32], want[64];
        assert_int_equal(kvl_query(&n, "/account", rnd_alice, 32, val, sizeof(val)), 0);
        snprintf(want, sizeof(want), "\"nonce\":\"%lld\"", (long long)height);
        assert_non_null(strstr(val, want));
        if (height > 0) {
            snprintf(key, sizeof(key), "k%lld", (long long)height);
            assert_int_equal(
                kvl_query(&n, "/key", (const uint8_t *)key, strlen(key), val, sizeof(val)), 0);
            snprintf(key, sizeof(key), "k%lld", (long long)height + 1);
            assert_int_equal(
                kvl_query(&n, "/key", (const uint8_t *)key, strlen(key), val, sizeof(val)),
                KVL_CODE_NOT_FOUND);
        }
        acked = height;
    }
    kvl_node_stop(&n, SIGTERM);
    kvl_node_fini(&n);
    free(rnd_blocks);
    rnd_blocks = NULL;
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
        cmocka_unit_test(kill9_at_random_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
