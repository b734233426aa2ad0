/* Integration test of `phalanx testnet` and `phalanx rollback` as real processes, checked
 * with the engine's own loaders and stores: every home's node.conf loads and names the other
 * nodes as peers with distinct ports, the one genesis loads with every validator's key, the
 * faucet accounts are funded; an existing directory and bad options create nothing; an
 * --app-state kvledger would refuse is refused (kvledger's own parser); and
 * rollback on stores holding a few fake heights steps back exactly one height (--hard: the
 * block too), refuses while the node's WAL is locked, and changes nothing when refusing.
 * argv[1]: the phalanx binary. Never touches a directory outside its temporary one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "blockstore.h"
#include "config.h"
#include "ed25519.h"
#include "genesis.h"
#include "keyfile.h"
#include "kvl_genesis.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "px_test.h"
#include "statestore.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 4
#define BASE 31000

static const char *phalanx;
static char dir[256];
static char net[300];
static char log_path[300];

static int setup(void **state)
{
    (void)state;
    pxt_quiet_logs();
    assert_int_equal(pxt_tmpdir("testnet", dir, sizeof(dir)), 0);
    snprintf(net, sizeof(net), "%s/net", dir);
    snprintf(log_path, sizeof(log_path), "%s/out.log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pxt_stop_all();
    pxt_rmtree(dir);
    return 0;
}

/* Run a phalanx command to its end; its exit status, its output in *out (malloc'd). */
/* Run argv to its end; its exit status, its output in *out (malloc'd). */
static int run(const char *const argv[], char **out)
{
    return pxt_run_exit(argv, log_path, 60000, out);
}

/* The port of "tcp://127.0.0.1:PORT". */
static unsigned port_of(const char *addr)
{
    const char *prefix = "tcp://127.0.0.1:";
    if (strncmp(addr, prefix, strlen(prefix)) != 0)
        fail_msg("%s is not on 127.0.0.1", addr);
    return (unsigned)atoi(addr + strlen(prefix));
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void testnet_makes_n_working_homes(void **state)
{
    (void)state;
    char *out;
    char base[16];
    snprintf(base, sizeof(base), "%d", BASE);
    const char *argv[] = {phalanx,       "testnet", "--validators", "4",         "--out", net,
                          "--base-port", base,      "--chain-id",   "itest-net", NULL};
    int rc = run(argv, &out);
    if (rc != 0)
        fail_msg("testnet failed (%d): %s", rc, out);
    free(out);
    /* built beside and renamed into place: only net/ is in dir (with the log) */
    assert_int_equal(count_entries(dir), 2);
    assert_int_equal(count_entries(net), N + 1); /* node0..3 + faucet */

    char p[512], err[512] = "";
    char node_ids[N][KEYFILE_NODE_ID_LEN];
    struct ed25519_pubkey val_pubs[N];
    for (int i = 0; i < N; i++) {
        struct ed25519_privkey priv;
        struct ed25519_pubkey pub;
        snprintf(p, sizeof(p), "%s/node%d/config/node_key.json", net, i);
        if (keyfile_load(p, KEYFILE_NODE, &priv, &pub, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        keyfile_node_id(&pub, node_ids[i]);
        snprintf(p, sizeof(p), "%s/node%d/config/priv_validator_key.json", net, i);
        if (keyfile_load(p, KEYFILE_VALIDATOR, &priv, &val_pubs[i], err, sizeof(err)) != 0)
            fail_msg("%s", err);
        ed25519_privkey_wipe(&priv);
        snprintf(p, sizeof(p), "%s/node%d/data/priv_validator_state.json", net, i);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++)
            assert_string_not_equal(node_ids[i], node_ids[j]);

    unsigned ports[N * 4];
    size_t n_ports = 0;
    struct config *c = malloc(sizeof(*c));
    assert_non_null(c);
    for (int i = 0; i < N; i++) {
        snprintf(p, sizeof(p), "%s/node%d/config/node.conf", net, i);
        if (config_load(p, c, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        char moniker[16];
        snprintf(moniker, sizeof(moniker), "node%d", i);
        assert_string_equal(c->moniker, moniker);
        unsigned p2p = port_of(c->p2p.listen_addr);
        assert_int_equal(p2p, BASE + 10 * i);
        assert_int_equal(port_of(c->rpc.listen_addr), BASE + 10 * i + 1);
        assert_int_equal(port_of(c->abci.address), BASE + 10 * i + 2);
        assert_true(c->instrumentation.prometheus);
        assert_int_equal(port_of(c->instrumentation.prometheus_listen_addr), BASE + 10 * i + 4);
        ports[n_ports++] = p2p;
        ports[n_ports++] = port_of(c->rpc.listen_addr);
        ports[n_ports++] = port_of(c->abci.address);
        ports[n_ports++] = port_of(c->instrumentation.prometheus_listen_addr);
        /* every other node exactly once, never itself */
        assert_int_equal(c->p2p.n_persistent_peers, N - 1);
        bool seen[N] = {false};
        for (size_t k = 0; k < c->p2p.n_persistent_peers; k++) {
            const struct config_peer *peer = &c->p2p.persistent_peers[k];
            assert_string_equal(peer->host, "127.0.0.1");
            int j = (peer->port - BASE) / 10;
            assert_true(j >= 0 && j < N && j != i && !seen[j]);
            assert_int_equal(peer->port, BASE + 10 * j);
            assert_string_equal(peer->id, node_ids[j]);
            seen[j] = true;
        }
        assert_true(c->p2p.max_outbound_peers >= N - 1);
        assert_true(c->consensus.timeout_propose_ms <= 1000);
        assert_true(c->consensus.timeout_commit_ms <= 500);
    }
    free(c);
    for (size_t a = 0; a < n_ports; a++)
        for (size_t b = 0; b < a; b++)
            if (ports[a] == ports[b])
                fail_msg("port %u is used twice", ports[a]);

    /* one genesis, the same bytes in every home */
    size_t len0, len;
    snprintf(p, sizeof(p), "%s/node0/config/genesis.json", net);
    char *g0 = pxt_read_file(p, &len0);
    assert_non_null(g0);
    for (int i = 1; i < N; i++) {
        snprintf(p, sizeof(p), "%s/node%d/config/genesis.json", net, i);
        char *gi = pxt_read_file(p, &len);
        assert_non_null(gi);
        assert_int_equal(len, len0);
        assert_memory_equal(gi, g0, len);
        free(gi);
    }
    free(g0);
    struct genesis g;
    snprintf(p, sizeof(p), "%s/node0/config/genesis.json", net);
    if (genesis_load(p, &g, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(g.chain_id, "itest-net");
    assert_int_equal(g.n_validators, N);
    for (int i = 0; i < N; i++) {
        uint8_t addr[CRYPTO_ADDRESS_SIZE];
        ed25519_address(&val_pubs[i], addr);
        assert_memory_equal(g.validators[i].pub_key, val_pubs[i].bytes, ED25519_PUBKEY_SIZE);
        assert_memory_equal(g.validators[i].address, addr, CRYPTO_ADDRESS_SIZE);
        assert_int_equal(g.validators[i].power, 10);
    }
    /* the faucet accounts in app_state are the keys in net/faucet */
    assert_non_null(g.app_state);
    snprintf(p, sizeof(p), "%s/faucet", net);
    int faucets = count_entries(p);
    assert_true(faucets >= 1);
    for (int k = 0; k < faucets; k++) {
        struct ed25519_privkey priv;
        struct ed25519_pubkey pub;
        snprintf(p, sizeof(p), "%s/faucet/key%d.json", net, k);
        if (keyfile_load(p, KEYFILE_VALIDATOR, &priv, &pub, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        ed25519_privkey_wipe(&priv);
        char b64[PX_BASE64_LEN(ED25519_PUBKEY_SIZE)];
        px_base64_encode(b64, sizeof(b64), pub.bytes, sizeof(pub.bytes));
        if (!strstr(g.app_state, b64))
            fail_msg("faucet key%d (%s) is not funded in app_state %s", k, b64, g.app_state);
    }
    genesis_fini(&g);
}

static void existing_dir_and_bad_options_create_nothing(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(mkdir(net, 0700), 0);
    char p[400];
    snprintf(p, sizeof(p), "%s/keep", net);
    assert_int_equal(pxt_write_file(p, "x", 1), 0);
    const char *again[] = {phalanx, "testnet", "--validators", "2", "--out", net, NULL};
    assert_int_equal(run(again, &out), 1);
    assert_non_null(strstr(out, "refusing to overwrite"));
    free(out);
    assert_int_equal(count_entries(net), 1);
    assert_int_equal(count_entries(dir), 2); /* net/ and the log: nothing built beside */

    char other[320];
    snprintf(other, sizeof(other), "%s/other", dir);
    const char *zero[] = {phalanx, "testnet", "--validators", "0", "--out", other, NULL};
    const char *ports[] = {phalanx, "testnet",     "--validators", "4", "--out",
                           other,   "--base-port", "65510",        NULL};
    const char *chain[] = {phalanx, "testnet",    "--validators", "2", "--out",
                           other,   "--chain-id", "a b",          NULL};
    const char *no_out[] = {phalanx, "testnet", "--validators", "2", NULL};
    const char *const *bad[] = {zero, ports, chain, no_out};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(run(bad[i], &out), 2);
        free(out);
        assert_int_not_equal(access(other, F_OK), 0);
    }
    /* an existing empty directory is filled in place */
    assert_int_equal(mkdir(other, 0700), 0);
    const char *ok[] = {phalanx, "testnet", "--validators", "1", "--out", other, NULL};
    int rc = run(ok, &out);
    if (rc != 0)
        fail_msg("testnet into an empty directory failed (%d): %s", rc, out);
    free(out);
    snprintf(p, sizeof(p), "%s/node0/config/genesis.json", other);
    assert_int_equal(access(p, F_OK), 0);
}

/* --app-state is checked with kvledger's own parser (issue 12): what kvledger would refuse
 * at InitChain, making every node exit at start, is refused here with kvledger's sentence
 * and nothing is created; `null` (no accounts) is accepted and kvledger reads what was
 * written. */
static void app_state_is_checked_as_kvledger_reads_it(void **state)
{
    (void)state;
    char file[320], other[320], p[400], *out;
    snprintf(file, sizeof(file), "%s/app_state.json", dir);
    snprintf(other, sizeof(other), "%s/other", dir);
    const char *argv[] = {phalanx, "testnet",     "--validators", "1", "--out",
                          other,   "--app-state", file,           NULL};
    struct {
        const char *text;
        const char *why; /* part of the refusal */
    } bad[] = {
        {"{\"accounts\":[{\"pub_key\":\"AAAA\",\"balance\":\"1\"}]}", "base64"},
        {"{\"accounts\":[{\"pub_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
         "\"balance\":18446744073709551615}]}",
         "decimal string"},
        {"{\"accounts\":[{\"pub_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
         "\"balance\":9007199254740992}]}",
         "decimal string"},
        {"{\"acounts\":[]}", "unknown field"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(pxt_write_file(file, bad[i].text, strlen(bad[i].text)), 0);
        int rc = run(argv, &out);
        if (rc != 2 || !strstr(out, bad[i].why) || !strstr(out, "TXFORMAT.md"))
            fail_msg("--app-state '%s': exit %d, output: %s", bad[i].text, rc, out);
        free(out);
        assert_int_not_equal(access(other, F_OK), 0);
    }
    const char *good[] = {"null", "{\"accounts\":[{\"pub_key\":"
                                  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
                                  "\"balance\":\"18446744073709551615\"}]}"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(pxt_write_file(file, good[i], strlen(good[i])), 0);
        int rc = run(argv, &out);
        if (rc != 0)
            fail_msg("--app-state '%s' refused (%d): %s", good[i], rc, out);
        free(out);
        snprintf(p, sizeof(p), "%s/node0/config/genesis.json", other);
        struct genesis g;
        char err[GENESIS_ERR_MAX];
        if (genesis_load(p, &g, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        assert_non_null(g.app_state);
        struct kvl_genesis_account *accts = NULL;
        size_t n = 0;
        char kerr[300];
        if (kvl_genesis_parse((const uint8_t *)g.app_state, strlen(g.app_state), &accts, &n, kerr,
                              sizeof(kerr)) != 0)
            fail_msg("kvledger refuses the app_state testnet wrote (%s): %s", g.app_state, kerr);
        assert_int_equal(n, i);
        free(accts);
        genesis_fini(&g);
        pxt_rmtree(other);
    }
}

/* ---- rollback ---------------------------------------------------------------------- */

#define TOP 3

static char home[320];

/* A one-validator home whose stores hold blocks and states 1..TOP (fake bytes). */
static void make_home_with_heights(void)
{
    char *out;
    const char *argv[] = {phalanx, "testnet", "--validators", "1", "--out", net, NULL};
    int rc = run(argv, &out);
    if (rc != 0)
        fail_msg("testnet failed (%d): %s", rc, out);
    free(out);
    snprintf(home, sizeof(home), "%s/node0", net);
    char p[400];
    snprintf(p, sizeof(p), "%s/data/blockstore.db", home);
    struct blockstore *bs;
    assert_int_equal(blockstore_open(p, &bs), 0);
    snprintf(p, sizeof(p), "%s/data/state.db", home);
    struct statestore *ss;
    assert_int_equal(statestore_open(p, &ss), 0);
    uint8_t state0[8] = {0};
    assert_int_equal(statestore_put(ss, STATESTORE_STATE, 0, state0, sizeof(state0)), 0);
    for (uint64_t h = 1; h <= TOP; h++) {
        struct blockstore_meta m;
        memset(&m, 0, sizeof(m));
        m.height = h;
        memset(m.hash, (int)h, sizeof(m.hash));
        m.time_ns = h * 1000000000ull;
        uint8_t block[16], commit[8], st[8];
        memset(block, (int)(0x10 + h), sizeof(block));
        memset(commit, (int)(0x20 + h), sizeof(commit));
        memset(st, (int)(0x30 + h), sizeof(st));
        m.size_bytes = sizeof(block);
        assert_int_equal(
            blockstore_save(bs, &m, block, sizeof(block), commit, sizeof(commit), NULL), 0);
        assert_int_equal(statestore_put(ss, STATESTORE_STATE, h, st, sizeof(st)), 0);
        assert_int_equal(statestore_put(ss, STATESTORE_VALIDATORS, h, st, sizeof(st)), 0);
    }
    blockstore_close(bs);
    statestore_close(ss);
}

/* The state store's latest STATE height and the block store's top. */
static void heights(uint64_t *state_h, uint64_t *top)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/data/blockstore.db", home);
    struct blockstore *bs;
    assert_int_equal(blockstore_open_readonly(p, &bs), 0);
    uint64_t base;
    blockstore_range(bs, &base, top);
    blockstore_close(bs);
    snprintf(p, sizeof(p), "%s/data/state.db", home);
    struct statestore *ss;
    assert_int_equal(statestore_open_readonly(p, &ss), 0);
    uint8_t *v;
    size_t len;
    assert_int_equal(statestore_get_latest(ss, STATESTORE_STATE, UINT64_MAX, state_h, &v, &len), 0);
    /* the record left is the one that was stored for that height */
    if (*state_h > 0)
        assert_int_equal(v[0], 0x30 + *state_h);
    free(v);
    statestore_close(ss);
}

static void rollback_moves_back_exactly_one_height(void **state)
{
    (void)state;
    make_home_with_heights();
    uint64_t sh, top;
    heights(&sh, &top);
    assert_int_equal(sh, TOP);
    assert_int_equal(top, TOP);

    char *out;
    const char *soft[] = {phalanx, "rollback", "--home", home, NULL};
    int rc = run(soft, &out);
    if (rc != 0)
        fail_msg("rollback failed (%d): %s", rc, out);
    assert_non_null(strstr(out, "from height 3 to 2"));
    free(out);
    heights(&sh, &top);
    assert_int_equal(sh, TOP - 1);
    assert_int_equal(top, TOP); /* the block stays to be executed again */

    /* the state is already one behind the blocks: a plain rollback changes nothing */
    assert_int_equal(run(soft, &out), 0);
    assert_non_null(strstr(out, "nothing changed"));
    free(out);
    heights(&sh, &top);
    assert_int_equal(sh, TOP - 1);
    assert_int_equal(top, TOP);

    /* --hard then removes the block that has no state */
    const char *hard[] = {phalanx, "rollback", "--home", home, "--hard", NULL};
    assert_int_equal(run(hard, &out), 0);
    free(out);
    heights(&sh, &top);
    assert_int_equal(sh, TOP - 1);
    assert_int_equal(top, TOP - 1);

    /* --hard on equal stores: state and block of the top height go together */
    assert_int_equal(run(hard, &out), 0);
    assert_non_null(strstr(out, "from height 2 to 1"));
    free(out);
    heights(&sh, &top);
    assert_int_equal(sh, 1);
    assert_int_equal(top, 1);

    /* back to genesis: height 1's state and block go, the stores are as at genesis */
    assert_int_equal(run(hard, &out), 0);
    assert_non_null(strstr(out, "from height 1 to 0"));
    free(out);
    heights(&sh, &top);
    assert_int_equal(sh, 0);
    assert_int_equal(top, 0);
    /* at genesis there is nothing left to roll back */
    assert_int_equal(run(soft, &out), 1);
    assert_non_null(strstr(out, "nothing to roll back"));
    free(out);
    heights(&sh, &top);
    assert_int_equal(sh, 0);
}

static void rollback_refuses_while_the_node_runs(void **state)
{
    (void)state;
    make_home_with_heights();
    /* a running phalanxd holds an exclusive flock on its WAL */
    char p[400];
    snprintf(p, sizeof(p), "%s/data/cs.wal", home);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    char *out;
    const char *soft[] = {phalanx, "rollback", "--home", home, NULL};
    assert_int_equal(run(soft, &out), 1);
    assert_non_null(strstr(out, "running"));
    free(out);
    uint64_t sh, top;
    heights(&sh, &top);
    assert_int_equal(sh, TOP);
    assert_int_equal(top, TOP);
    close(fd);

    /* and while its signer is open (the signer's lock file) */
    snprintf(p, sizeof(p), "%s/data/priv_validator_state.json.lock", home);
    fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_int_equal(run(soft, &out), 1);
    free(out);
    heights(&sh, &top);
    assert_int_equal(sh, TOP);
    close(fd);

    /* once both are free it works */
    assert_int_equal(run(soft, &out), 0);
    free(out);
    heights(&sh, &top);
    assert_int_equal(sh, TOP - 1);

    /* not a home: a sentence, not a crash */
    const char *nohome[] = {phalanx, "rollback", "--home", dir, NULL};
    assert_int_equal(run(nohome, &out), 1);
    assert_non_null(strstr(out, "node.conf"));
    free(out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PHALANX_BINARY\n", argv[0]);
        return 2;
    }
    phalanx = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(testnet_makes_n_working_homes, setup, teardown),
        cmocka_unit_test_setup_teardown(existing_dir_and_bad_options_create_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(app_state_is_checked_as_kvledger_reads_it, setup, teardown),
        cmocka_unit_test_setup_teardown(rollback_moves_back_exactly_one_height, setup, teardown),
        cmocka_unit_test_setup_teardown(rollback_refuses_while_the_node_runs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
