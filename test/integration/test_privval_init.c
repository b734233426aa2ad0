/* Integration test of `phalanx init` as a real process, checked with the engine's own
 * loaders: the home holds a node.conf that loads, a genesis whose only validator is the key
 * in priv_validator_key.json, keys and signer state with mode 0600, a signer that opens and
 * signs; a second init never overwrites a home, and a bad --chain-id creates nothing.
 * argv[1]: the phalanx binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "config.h"
#include "genesis.h"
#include "privval.h"
#include "px_error.h"
#include "px_log.h"
#include "px_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *phalanx;
static char dir[256];
static char home[300];
static char log_path[300];

static int setup(void **state)
{
    (void)state;
    pxt_quiet_logs();
    assert_int_equal(pxt_tmpdir("init", dir, sizeof(dir)), 0);
    snprintf(home, sizeof(home), "%s/home", dir);
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

/* Run argv to its end; its exit status, its output in *out (malloc'd). */
static int run(const char *const argv[], char **out)
{
    return pxt_run_exit(argv, log_path, 30000, out);
}

static void path_of(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", home, rel);
}

static void mode_is(const char *rel, unsigned mode)
{
    char p[400];
    path_of(p, sizeof(p), rel);
    struct stat st;
    if (stat(p, &st) != 0)
        fail_msg("%s is missing", rel);
    if ((st.st_mode & 0777) != mode)
        fail_msg("%s has mode %o, expected %o", rel, st.st_mode & 0777, mode);
}

static void init_creates_a_working_home(void **state)
{
    (void)state;
    char *out;
    const char *init[] = {phalanx,       "init",      "--home", home, "--chain-id",
                          "itest-chain", "--moniker", "alpha",  NULL};
    int rc = run(init, &out);
    if (rc != 0)
        fail_msg("init failed (%d): %s", rc, out);
    assert_non_null(strstr(out, "node id:"));
    free(out);
    /* built beside and renamed into place: nothing temporary is left */
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".init-"))
            fail_msg("a temporary directory was left behind: %s", e->d_name);
    closedir(d);
    mode_is("config/node_key.json", 0600);
    mode_is("config/priv_validator_key.json", 0600);
    mode_is("data/priv_validator_state.json", 0600);
    mode_is("config/node.conf", 0644);
    mode_is("config/genesis.json", 0644);

    char p[400], k[400], s[400];
    struct config *c = malloc(sizeof(*c));
    assert_non_null(c);
    char err[512] = "";
    path_of(p, sizeof(p), "config/node.conf");
    if (config_load(p, c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(c->moniker, "alpha");
    free(c);

    struct genesis g;
    path_of(p, sizeof(p), "config/genesis.json");
    if (genesis_load(p, &g, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_string_equal(g.chain_id, "itest-chain");
    assert_int_equal(g.n_validators, 1);
    assert_string_equal(g.validators[0].name, "alpha");

    path_of(k, sizeof(k), "config/priv_validator_key.json");
    path_of(s, sizeof(s), "data/priv_validator_state.json");
    struct privval *pv = NULL;
    if (privval_open(k, s, &pv, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    uint8_t addr[PRIVVAL_ADDRESS_SIZE], pub[PRIVVAL_PUBKEY_SIZE];
    privval_address(pv, addr);
    privval_pubkey(pv, pub);
    assert_memory_equal(addr, g.validators[0].address, sizeof(addr));
    assert_memory_equal(pub, g.validators[0].pub_key, sizeof(pub));
    uint8_t sig[PRIVVAL_SIG_SIZE];
    assert_int_equal(privval_sign(pv, 1, 0, PRIVVAL_STEP_PROPOSE, (const uint8_t *)"x", 1, sig), 0);
    privval_free(pv);
    genesis_fini(&g);

    /* a second init refuses and changes nothing */
    size_t len1, len2;
    path_of(p, sizeof(p), "config/genesis.json");
    char *before = pxt_read_file(p, &len1);
    const char *again[] = {phalanx, "init", "--home", home, NULL};
    assert_int_equal(run(again, &out), 1);
    assert_non_null(strstr(out, "refusing to overwrite"));
    free(out);
    char *after = pxt_read_file(p, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(before, after, len1);
    free(before);
    free(after);
}

static void bad_arguments_create_nothing(void **state)
{
    (void)state;
    char *out;
    const char *bad_chain[] = {phalanx, "init", "--home", home, "--chain-id", "has space", NULL};
    assert_int_equal(run(bad_chain, &out), 2);
    assert_non_null(strstr(out, "chain_id"));
    free(out);
    assert_int_not_equal(access(home, F_OK), 0);
    const char *no_home[] = {phalanx, "init", NULL};
    assert_int_equal(run(no_home, &out), 2);
    free(out);
    const char *bad_moniker[] = {phalanx, "init", "--home", home, "--moniker", "", NULL};
    assert_int_equal(run(bad_moniker, &out), 2);
    free(out);
    assert_int_not_equal(access(home, F_OK), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PHALANX_BINARY\n", argv[0]);
        return 2;
    }
    phalanx = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(init_creates_a_working_home, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_create_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
