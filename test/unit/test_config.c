/* Unit tests of the node.conf loader: the shipped conf/node.conf equals the code's defaults
 * (and is exactly what config_format writes), a round trip of non-default values, and every
 * kind of error names the file, the line, the option and what was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "config.h"
#include "px_error.h"
#include "px_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char dir[256];
static char path[300];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(pxt_tmpdir("config", dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/node.conf", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pxt_rmtree(dir);
    return 0;
}

static void defaults_are_valid(void **state)
{
    (void)state;
    struct config *c = malloc(sizeof(*c));
    assert_non_null(c);
    config_defaults(c);
    char err[CONFIG_ERR_MAX];
    assert_int_equal(config_validate(c, err, sizeof(err)), 0);
    assert_string_equal(c->p2p.listen_addr, "tcp://0.0.0.0:26656");
    assert_int_equal(c->consensus.timeout_propose_ms, 3000);
    assert_true(c->consensus.create_empty_blocks);
    assert_false(c->p2p.pex);
    assert_true(config_option_count() > 50);
    assert_string_equal(config_option_name(0), "moniker");
    assert_null(config_option_name(config_option_count()));
    free(c);
}

static void shipped_file_equals_defaults(void **state)
{
    (void)state;
    const char *root = getenv("PX_SOURCE_ROOT");
    assert_non_null(root);
    char shipped[512];
    snprintf(shipped, sizeof(shipped), "%s/conf/node.conf", root);
    struct config *c = malloc(sizeof(*c));
    struct config *d = malloc(sizeof(*d));
    assert_non_null(c);
    assert_non_null(d);
    config_defaults(d);
    char err[CONFIG_ERR_MAX] = "";
    int rc = config_load(shipped, c, err, sizeof(err));
    if (rc != 0)
        fail_msg("conf/node.conf does not load: %s", err);
    const char *diff = NULL;
    if (!config_equal(c, d, &diff))
        fail_msg("conf/node.conf differs from the defaults in code at %s", diff);
    /* and the file is exactly what the code writes for the defaults (every option, every
     * comment): regenerate it with `phalanx init` if this fails */
    char *text;
    assert_int_equal(config_format(d, &text), 0);
    size_t len;
    char *file = pxt_read_file(shipped, &len);
    assert_non_null(file);
    if (strcmp(text, file) != 0)
        fail_msg("conf/node.conf is not what config_format writes for the defaults");
    /* every option the code knows appears in the file */
    for (size_t i = 0; i < config_option_count(); i++) {
        const char *name = config_option_name(i);
        const char *dot = strchr(name, '.');
        char needle[80];
        snprintf(needle, sizeof(needle), "\n%s%s = ", dot ? "  " : "", dot ? dot + 1 : name);
        if (!strstr(file, needle))
            fail_msg("option %s is not in conf/node.conf", name);
    }
    free(text);
    free(file);
    free(c);
    free(d);
}

static void round_trip_of_other_values(void **state)
{
    (void)state;
    struct config *c = malloc(sizeof(*c));
    struct config *back = malloc(sizeof(*back));
    assert_non_null(c);
    assert_non_null(back);
    config_defaults(c);
    snprintf(c->moniker, sizeof(c->moniker), "val \"one\" \\ é");
    c->p2p.n_persistent_peers = 2;
    snprintf(c->p2p.persistent_peers[0].id, CONFIG_NODE_ID_LEN, "%s",
             "0123456789abcdef0123456789abcdef01234567");
    snprintf(c->p2p.persistent_peers[0].host, CONFIG_HOST_MAX, "node-1.example.com");
    c->p2p.persistent_peers[0].port = 26656;
    snprintf(c->p2p.persistent_peers[1].id, CONFIG_NODE_ID_LEN, "%s",
             "ffffffffffffffffffffffffffffffffffffffff");
    snprintf(c->p2p.persistent_peers[1].host, CONFIG_HOST_MAX, "::1");
    c->p2p.persistent_peers[1].port = 1;
    c->p2p.pex = true;
    c->p2p.send_rate_bytes_per_s = 1ull << 33; /* above the 32-bit range */
    c->rpc.cors_allowed_origins.n = 2;
    snprintf(c->rpc.cors_allowed_origins.item[0], CONFIG_STR_MAX, "*");
    snprintf(c->rpc.cors_allowed_origins.item[1], CONFIG_STR_MAX, "https://app.example:8443");
    snprintf(c->abci.address, CONFIG_STR_MAX, "ipc:///run/phalanx/app.sock");
    snprintf(c->log.level, CONFIG_STR_MAX, "warn,consensus=debug,p2p=error");
    c->statesync.enable = true;
    c->statesync.rpc_servers.n = 2;
    snprintf(c->statesync.rpc_servers.item[0], CONFIG_STR_MAX, "tcp://10.0.0.1:26657");
    snprintf(c->statesync.rpc_servers.item[1], CONFIG_STR_MAX, "tcp://[2001:db8::1]:26657");
    c->statesync.trust_height = 5000000000ull;
    memset(c->statesync.trust_hash, 'A', 64);
    c->statesync.trust_hash[64] = '\0';
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_validate(c, err, sizeof(err)), 0);
    char *text;
    assert_int_equal(config_format(c, &text), 0);
    assert_int_equal(pxt_write_file(path, text, strlen(text)), 0);
    free(text);
    int rc = config_load(path, back, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    const char *diff = NULL;
    if (!config_equal(c, back, &diff))
        fail_msg("differs at %s", diff);
    /* peer ids are stored lower case whatever the file says */
    const char *upper = "p2p = { persistent_peers = "
                        "[\"0123456789ABCDEF0123456789ABCDEF01234567@10.1.2.3:26656\"]; };\n";
    assert_int_equal(pxt_write_file(path, upper, strlen(upper)), 0);
    assert_int_equal(config_load(path, back, err, sizeof(err)), 0);
    assert_string_equal(back->p2p.persistent_peers[0].id,
                        "0123456789abcdef0123456789abcdef01234567");
    assert_string_equal(back->p2p.persistent_peers[0].host, "10.1.2.3");
    free(c);
    free(back);
}

struct bad_case {
    const char *text;
    int line;
    const char *want; /* substring after "PATH:LINE: " */
};

static const struct bad_case bad_cases[] = {
    {"moniker = \"a\";\n\nfoo = 1;\n", 3, "unknown option 'foo'"},
    {"p2p = {\n  listen_addr = \"tcp://0.0.0.0:1\";\n  bogus = true;\n};\n", 3,
     "unknown option 'p2p.bogus'"},
    {"p2p = {\n pex = 1;\n};\n", 2, "p2p.pex: expected true or false, got an integer"},
    {"moniker = 5;\n", 1, "moniker: expected a string, got an integer"},
    {"mempool = { recheck = \"yes\"; };\n", 1, "mempool.recheck: expected true or false"},
    {"p2p = { max_inbound_peers = 5000; };\n", 1,
     "p2p.max_inbound_peers: expected an integer from 0 to 1000, got 5000"},
    {"\np2p = { max_inbound_peers = -1; };\n", 2, "expected an integer from 0 to 1000, got -1"},
    {"consensus = { timeout_propose_ms = 1.5; };\n", 1,
     "consensus.timeout_propose_ms: expected an integer from 1 to 3600000, got a float"},
    {"consensus = { timeout_propose_ms = 0; };\n", 1, "expected an integer from 1 to 3600000"},
    {"p2p = { listen_addr = \"0.0.0.0:26656\"; };\n", 1,
     "p2p.listen_addr: expected an address tcp://HOST:PORT"},
    {"p2p = { listen_addr = \"tcp://0.0.0.0:70000\"; };\n", 1, "expected an address tcp://"},
    {"p2p = { listen_addr = \"tcp://0.0.0.0\"; };\n", 1, "expected an address tcp://"},
    {"p2p = { listen_addr = \"tcp://300.1.1.1:5\"; };\n", 1, "expected an address tcp://"},
    {"p2p = { listen_addr = \"tcp://bad_host!:5\"; };\n", 1, "expected an address tcp://"},
    {"rpc = { listen_addr = \"tcp://[::1:5\"; };\n", 1, "rpc.listen_addr: expected \"\" or"},
    {"abci = { address = \"udp://1.2.3.4:5\"; };\n", 1,
     "abci.address: expected tcp://HOST:PORT or ipc://PATH"},
    {"p2p = {\n persistent_peers = [\"abc@1.2.3.4:5\"];\n};\n", 2,
     "p2p.persistent_peers: entry 1: expected NODE_ID@HOST:PORT"},
    {"p2p = { persistent_peers = [\"0123456789abcdef0123456789abcdef01234567@1.2.3.4:5\", "
     "\"0123456789abcdef0123456789abcdef01234567:1.2.3.4:5\"]; };\n",
     1, "entry 2: expected NODE_ID@HOST:PORT"},
    {"p2p = { persistent_peers = [\"0123456789abcdef0123456789abcdef0123456z@1.2.3.4:5\"]; };\n", 1,
     "entry 1: expected NODE_ID@HOST:PORT"},
    {"p2p = { persistent_peers = \"0123456789abcdef0123456789abcdef01234567@1.2.3.4:5\"; };\n", 1,
     "p2p.persistent_peers: expected a list of strings"},
    {"rpc = { cors_allowed_origins = [\"ftp://x\"]; };\n", 1,
     "rpc.cors_allowed_origins: entry 1: expected \"*\" or an origin"},
    {"log = { level = \"info,consensus=loud\"; };\n", 1, "log.level: expected a level"},
    {"log = { level = \"info,,p2p=warn\"; };\n", 1, "log.level: expected a level"},
    {"log = { format = \"json\"; };\n", 1, "log.format: expected \"plain\""},
    {"instrumentation = { namespace = \"9bad\"; };\n", 1, "instrumentation.namespace: expected"},
    {"statesync = { trust_hash = \"abc\"; };\n", 1, "statesync.trust_hash: expected \"\" or 64"},
    {"p2p = 5;\n", 1, "p2p: expected a group p2p = { ... }, got an integer"},
    {"moniker = \"unterminated;\n", 1, "a string opened here is never closed"},
    {"moniker = \"x\";\np2p = {\n  listen_addr = \"tcp://1.2.3.4:5;\n};\n", 3,
     "a string opened here is never closed"},
    {"moniker = \"x\" 5;\n", 1, "syntax error: expected libconfig syntax"},
    {"\n\np2p = { pex = true; \n", 4, "syntax error"},
    {"mempool = {\n  max_txs_bytes = 2048;\n  max_tx_bytes = 4096;\n};\n", 3,
     "mempool.max_tx_bytes: expected at most mempool.max_txs_bytes (2048), got 4096"},
    {"statesync = {\n  enable = true;\n  rpc_servers = [\"tcp://1.2.3.4:5\"];\n};\n", 3,
     "statesync.rpc_servers: expected at least two servers"},
    {"moniker = \"x\";\n@include \"/etc/passwd\"\n", 2, "@include is not supported"},
    {"consensus = { wal_file = \"\"; };\n", 1, "consensus.wal_file: expected a non-empty path"},
    {"moniker = \"\";\n", 1, "moniker: expected 1 to 128 bytes"},
    {"storage = {\n  retain_blocks = 8589934592;\n};\n", 2,
     "integer 8589934592 is outside the 32-bit range: write it with an L suffix"},
    {"# 8589934592\nmoniker = \"8589934592\"; /* 8589934592 */\np2p = { max_frame_bytes = "
     "0x100000000; };\n",
     3, "integer 0x100000000 is outside the 32-bit range"},
    {"p2p = { send_rate_bytes_per_s = 100000000000000L; };\n", 1,
     "expected an integer from 1024 to 17179869184, got 100000000000000"},
    /* a setting written twice: libconfig says only "duplicate setting name" (issue 21) */
    {"p2p = {\n  listen_addr = \"tcp://0.0.0.0:1\";\n  pex = true;\n  listen_addr = "
     "\"tcp://0.0.0.0:2\";\n};\n",
     4, "p2p.listen_addr is set twice (first at line 2): keep one of them"},
    {"moniker = \"a\";\n# moniker = \"c\";\nmoniker : \"b\";\n", 3,
     "moniker is set twice (first at line 1)"},
    {"p2p = { pex = true; };\nrpc = { unsafe = false; };\np2p = { pex = false; };\n", 3,
     "the group p2p = { ... } appears twice (first at line 1): put all its options in one group"},
    {"rpc = { cors_allowed_origins = [\"*\"]; };\nrpc = {\n};\n", 2, "group rpc"},
};

static void each_error_names_file_line_and_expectation(void **state)
{
    (void)state;
    struct config *c = malloc(sizeof(*c));
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        assert_int_equal(pxt_write_file(path, b->text, strlen(b->text)), 0);
        char err[CONFIG_ERR_MAX] = "";
        int rc = config_load(path, c, err, sizeof(err));
        char prefix[400];
        snprintf(prefix, sizeof(prefix), "%s:%d: ", path, b->line);
        if (rc != PX_ECONFIG || strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, b->want))
            fail_msg("case %zu: rc=%d err='%s', wanted '%s%s'", i, rc, err, prefix, b->want);
    }
    free(c);
}

static void bounds_on_lists_and_strings(void **state)
{
    (void)state;
    struct config *c = malloc(sizeof(*c));
    assert_non_null(c);
    char *text = malloc(65536);
    assert_non_null(text);
    size_t n = (size_t)sprintf(text, "p2p = { persistent_peers = [");
    for (int i = 0; i < CONFIG_PEERS_MAX + 1; i++)
        n += (size_t)sprintf(text + n, "%s\"0123456789abcdef0123456789abcdef%08x@h%d:1\"",
                             i ? ", " : "", i, i);
    n += (size_t)sprintf(text + n, "]; };\n");
    assert_int_equal(pxt_write_file(path, text, n), 0);
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_load(path, c, err, sizeof(err)), PX_ECONFIG);
    assert_non_null(strstr(err, "expected at most 64 entries, got 65"));
    n = (size_t)sprintf(text, "moniker = \"");
    memset(text + n, 'm', 300);
    n += 300;
    n += (size_t)sprintf(text + n, "\";\n");
    assert_int_equal(pxt_write_file(path, text, n), 0);
    assert_int_equal(config_load(path, c, err, sizeof(err)), PX_ECONFIG);
    assert_non_null(strstr(err, ":1: moniker: expected at most 255 bytes, got 300"));
    /* after an error the struct holds the defaults, not half of the file */
    struct config *d = malloc(sizeof(*d));
    assert_non_null(d);
    config_defaults(d);
    assert_true(config_equal(c, d, NULL));
    /* missing file */
    snprintf(text, 65536, "%s/nope.conf", dir);
    assert_int_equal(config_load(text, c, err, sizeof(err)), PX_ENOTFOUND);
    assert_non_null(strstr(err, "nope.conf"));
    free(d);
    free(text);
    free(c);
}

/* How many options a file sets: the node warns when it is none (an empty or comment-only
 * node.conf starts on every default, p2p on all interfaces; issue 21). */
static void options_set_are_counted(void **state)
{
    (void)state;
    struct config *c = malloc(sizeof(*c));
    assert_non_null(c);
    char err[CONFIG_ERR_MAX] = "";
    static const struct {
        const char *text;
        size_t n;
    } cases[] = {
        {"", 0},
        {"# nothing but comments\n// and more\n/* of every kind */\n", 0},
        {"p2p = {\n};\nrpc = { };\n", 0},
        {"moniker = \"m\";\n", 1},
        {"p2p = { pex = false; listen_addr = \"tcp://0.0.0.0:26656\"; };\nmoniker = \"x\";\n", 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(pxt_write_file(path, cases[i].text, strlen(cases[i].text)), 0);
        size_t n = 99;
        int rc = config_load_count(path, c, &n, err, sizeof(err));
        if (rc != 0 || n != cases[i].n)
            fail_msg("case %zu: rc=%d n=%zu (want %zu) err='%s'", i, rc, n, cases[i].n, err);
    }
    /* the same option name in two groups is no duplicate */
    const char *two = "p2p = { listen_addr = \"tcp://0.0.0.0:1\"; };\n"
                      "rpc = { listen_addr = \"tcp://127.0.0.1:2\"; };\n";
    assert_int_equal(pxt_write_file(path, two, strlen(two)), 0);
    size_t n = 0;
    assert_int_equal(config_load_count(path, c, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(c->rpc.listen_addr, "tcp://127.0.0.1:2");
    /* a failed load counts nothing */
    assert_int_equal(pxt_write_file(path, "foo = 1;\n", 9), 0);
    n = 99;
    assert_int_equal(config_load_count(path, c, &n, err, sizeof(err)), PX_ECONFIG);
    assert_int_equal(n, 0);
    free(c);
}

static void resolve_paths(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(config_resolve_path("/h", "data/cs.wal", out, sizeof(out)), 0);
    assert_string_equal(out, "/h/data/cs.wal");
    assert_int_equal(config_resolve_path("/h", "/var/wal", out, sizeof(out)), 0);
    assert_string_equal(out, "/var/wal");
    assert_int_equal(config_resolve_path("/h", "data/cs.wal", out, 8), PX_ETOOBIG);
}

/* Random damage to the shipped file: the loader either accepts it or names the file, and
 * never crashes (ASan watches). PX_SEED replays. */
static void random_damage_never_crashes(void **state)
{
    (void)state;
    const char *root = getenv("PX_SOURCE_ROOT");
    assert_non_null(root);
    char shipped[512];
    snprintf(shipped, sizeof(shipped), "%s/conf/node.conf", root);
    size_t len;
    char *orig = pxt_read_file(shipped, &len);
    assert_non_null(orig);
    const char *e = getenv("PX_SEED");
    unsigned seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL);
    printf("# config damage test: seed=%u (PX_SEED)\n", seed);
    srandom(seed);
    struct config *c = malloc(sizeof(*c));
    char *buf = malloc(len + 1);
    assert_non_null(c);
    assert_non_null(buf);
    static const char junk[] = "{}[];=\"#@-0123456789Lx.,\n\t ";
    int accepted = 0;
    for (int i = 0; i < 1000; i++) {
        memcpy(buf, orig, len);
        size_t n = len;
        int flips = 1 + (int)(random() % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t)random() % n;
            if (random() % 2)
                buf[at] = junk[random() % (sizeof(junk) - 1)];
            else
                buf[at] = (char)(random() % 256);
        }
        if (random() % 4 == 0)
            n = (size_t)random() % n; /* cut short */
        assert_int_equal(pxt_write_file(path, buf, n), 0);
        char err[CONFIG_ERR_MAX] = "";
        int rc = config_load(path, c, err, sizeof(err));
        if (rc == 0) {
            accepted++;
            assert_int_equal(config_validate(c, err, sizeof(err)), 0);
        } else if (rc != PX_ECONFIG || strncmp(err, path, strlen(path)) != 0) {
            fail_msg("damage %d: rc=%d err='%s'", i, rc, err);
        }
    }
    printf("# config damage test: %d of 1000 damaged files still valid\n", accepted);
    free(buf);
    free(c);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_valid),
        cmocka_unit_test(shipped_file_equals_defaults),
        cmocka_unit_test_setup_teardown(round_trip_of_other_values, setup, teardown),
        cmocka_unit_test_setup_teardown(each_error_names_file_line_and_expectation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bounds_on_lists_and_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(options_set_are_counted, setup, teardown),
        cmocka_unit_test(resolve_paths),
        cmocka_unit_test_setup_teardown(random_damage_never_crashes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
