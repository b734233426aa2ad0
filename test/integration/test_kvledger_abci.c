/* Integration test: the real `kvledger` binary over ABCI (nng, 127.0.0.1, temp home).
 * Drives start-up (Info), InitChain, CheckTx, FinalizeBlock, Commit and Query through a
 * short chain with valid and invalid transactions, refuses an out-of-order block, stops
 * it with SIGTERM (clean exit), restarts it and checks it resumes at the committed state;
 * the app hashes over the wire equal those of the library run in-process (determinism).
 * Also the command line: --help, missing options, a bad log level, and a second kvledger
 * on a home already in use.
 * Usage: test_kvledger_abci PATH-TO-kvledger */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvledger.h"
#include "kvledger_itest.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "px_test.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define CHAIN "kvl-itest"

static const char *exe;
static uint8_t alice_pk[32], alice_sk[64], bob_pk[32], bob_sk[64];
static char genesis[256];

static void quiet(const char *line, size_t len, void *user)
{
    (void)line;
    (void)len;
    (void)user;
}

/* The same blocks in the library, in-process: the reference hashes. */
static void reference_hashes(const uint8_t *const *b1, const size_t *l1, size_t n1,
                             const uint8_t *const *b2, const size_t *l2, size_t n2, uint8_t g[32],
                             uint8_t h1[32], uint8_t h2[32])
{
    char home[512];
    assert_int_equal(pxt_tmpdir("kvl-ref", home, sizeof(home)), 0);
    struct kvledger *app;
    assert_int_equal(kvledger_open(home, &app), 0);
    assert_int_equal(
        kvledger_init_chain(app, CHAIN, 1, (const uint8_t *)genesis, strlen(genesis), g, NULL, 0),
        0);
    struct kvledger_result r[8];
    int64_t h;
    assert_int_equal(kvledger_finalize_block(app, 1, b1, l1, n1, r, h1), 0);
    assert_int_equal(kvledger_commit(app, &h), 0);
    assert_int_equal(kvledger_finalize_block(app, 2, b2, l2, n2, r, h2), 0);
    assert_int_equal(kvledger_commit(app, &h), 0);
    kvledger_close(app);
    pxt_rmtree(home);
}

static void chain_over_abci(void **state)
{
    (void)state;
    struct kvl_node n;
    kvl_node_init(&n, exe, "kvl-abci");
    kvl_node_start(&n);

    int64_t height;
    uint8_t hash[32];
    size_t hash_len;
    kvl_info(&n, &height, hash, &hash_len);
    assert_int_equal(height, 0);
    assert_int_equal(hash_len, 0);

    uint8_t g[32];
    kvl_init_chain(&n, CHAIN, genesis, g);
    kvl_info(&n, &height, hash, &hash_len);
    assert_int_equal(height, 0);
    assert_int_equal(hash_len, 32);
    assert_memory_equal(hash, g, 32);

    uint8_t t0[LEDGER_TX_MAX_LEN], bad_sig[LEDGER_TX_MAX_LEN], t1[LEDGER_TX_MAX_LEN];
    size_t l0, l1;
    assert_int_equal(ledger_tx_build(CHAIN, alice_sk, bob_pk, 10, 0, t0, sizeof(t0), &l0), 0);
    memcpy(bad_sig, t0, l0);
    bad_sig[l0 - 5] ^= 1;
    assert_int_equal(ledger_tx_build(CHAIN, bob_sk, alice_pk, 4, 0, t1, sizeof(t1), &l1), 0);

    /* CheckTx */
    assert_int_equal(kvl_check_tx(&n, (const uint8_t *)"a=1", 3), 0);
    assert_int_equal(kvl_check_tx(&n, (const uint8_t *)"bad", 3), KVL_CODE_MALFORMED);
    assert_int_equal(kvl_check_tx(&n, t0, l0), 0);
    assert_int_equal(kvl_check_tx(&n, bad_sig, l0), KVL_CODE_BAD_SIGNATURE);

    /* block 1 */
    const uint8_t *b1[4] = {(const uint8_t *)"a=1", t0, (const uint8_t *)"bad", bad_sig};
    size_t s1[4] = {3, l0, 3, l0};
    uint32_t codes[4];
    uint8_t h1[32], h2[32];
    assert_int_equal(kvl_finalize(&n, 1, b1, s1, 4, codes, h1), 0);
    assert_int_equal(codes[0], 0);
    assert_int_equal(codes[1], 0);
    assert_int_equal(codes[2], KVL_CODE_MALFORMED);
    assert_int_equal(codes[3], KVL_CODE_BAD_SIGNATURE);
    assert_int_equal(kvl_commit(&n), 0);

    char val[256];
    assert_int_equal(kvl_query(&n, "/key", (const uint8_t *)"a", 1, val, sizeof(val)), 0);
    assert_string_equal(val, "1");
    assert_int_equal(kvl_query(&n, "/height", NULL, 0, val, sizeof(val)), 0);
    assert_string_equal(val, "1");
    assert_int_equal(kvl_query(&n, "/account", bob_pk, 32, val, sizeof(val)), 0);
    assert_non_null(strstr(val, "\"balance\":\"10\""));
    assert_int_equal(kvl_query(&n, "/key", (const uint8_t *)"zz", 2, val, sizeof(val)),
                     KVL_CODE_NOT_FOUND);
    /* a replayed transfer is refused, a block out of order is an exception */
    assert_int_equal(kvl_check_tx(&n, t0, l0), KVL_CODE_BAD_NONCE);
    assert_int_equal(kvl_finalize(&n, 3, NULL, NULL, 0, NULL, h2), PX_EAPP);
    assert_int_equal(kvl_commit(&n), PX_EAPP);

    /* block 2, then a clean stop and a restart */
    const uint8_t *b2[3] = {t1, (const uint8_t *)"del:a", t0};
    size_t s2[3] = {l1, 5, l0};
    assert_int_equal(kvl_finalize(&n, 2, b2, s2, 3, codes, h2), 0);
    assert_int_equal(codes[0], 0);
    assert_int_equal(codes[1], 0);
    assert_int_equal(codes[2], KVL_CODE_BAD_NONCE);
    assert_int_equal(kvl_commit(&n), 0);
    kvl_node_stop(&n, SIGTERM);
    kvl_node_start(&n);
    kvl_info(&n, &height, hash, &hash_len);
    assert_int_equal(height, 2);
    assert_memory_equal(hash, h2, 32);
    assert_int_equal(kvl_query(&n, "/key", (const uint8_t *)"a", 1, val, sizeof(val)),
                     KVL_CODE_NOT_FOUND);
    assert_int_equal(kvl_query(&n, "/account", alice_pk, 32, val, sizeof(val)), 0);
    assert_non_null(strstr(val, "\"balance\":\"994\",\"nonce\":\"1\""));

    /* the same blocks in-process give the same hashes */
    uint8_t rg[32], rh1[32], rh2[32];
    reference_hashes(b1, s1, 4, b2, s2, 3, rg, rh1, rh2);
    assert_memory_equal(rg, g, 32);
    assert_memory_equal(rh1, h1, 32);
    assert_memory_equal(rh2, h2, 32);

    kvl_node_stop(&n, SIGTERM);
    kvl_node_fini(&n);
}

struct proc {
    pid_t pid;
    int status;
};

static bool exited(void *user)
{
    struct proc *p = user;
    return !pxt_running(p->pid, &p->status);
}

/* Run the binary with argv (log to log_path) and return its exit status (-1: signalled). */
static int run_to_exit(const char *const *argv, const char *log_path)
{
    struct proc p = {.pid = pxt_spawn(argv, log_path)};
    assert_true(p.pid > 0);
    assert_true(pxt_wait_until(exited, &p, 20000));
    return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1;
}

static void command_line(void **state)
{
    (void)state;
    struct kvl_node n;
    kvl_node_init(&n, exe, "kvl-cli");
    const char *help[] = {exe, "--help", NULL};
    assert_int_equal(run_to_exit(help, n.log), 0);
    size_t len;
    char *text = pxt_read_file(n.log, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "usage: kvledger --listen ADDR --home DIR"));
    free(text);
    const char *none[] = {exe, NULL};
    assert_int_equal(run_to_exit(none, n.log), 2);
    const char *bad_level[] = {exe,    "--listen",    n.addr, "--home",
                               n.home, "--log-level", "loud", NULL};
    assert_int_equal(run_to_exit(bad_level, n.log), 2);
    /* a second kvledger on a home in use refuses to start */
    kvl_node_start(&n);
    char other[64];
    snprintf(other, sizeof(other), "tcp://127.0.0.1:%u", (unsigned)pxt_free_port());
    const char *second[] = {exe, "--listen", other, "--home", n.home, NULL};
    assert_int_equal(run_to_exit(second, n.log), 1);
    text = pxt_read_file(n.log, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "another kvledger is using this home"));
    free(text);
    kvl_node_stop(&n, SIGTERM);
    kvl_node_fini(&n);
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
    uint8_t seed[32];
    memset(seed, 0xa1, sizeof(seed));
    crypto_sign_seed_keypair(alice_pk, alice_sk, seed);
    memset(seed, 0xb2, sizeof(seed));
    crypto_sign_seed_keypair(bob_pk, bob_sk, seed);
    char b64[64];
    px_base64_encode(b64, sizeof(b64), alice_pk, 32);
    snprintf(genesis, sizeof(genesis), "{\"accounts\":[{\"pub_key\":\"%s\",\"balance\":\"1000\"}]}",
             b64);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_over_abci),
        cmocka_unit_test(command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
