/* Conformance of our JSON-RPC with @cosmjs/tendermint-rpc (issue 7): installs the client
 * from npm into the build folder (once), starts a 4-validator network of real phalanxd +
 * kvledger processes (net_harness), and runs cosmjs_conformance.js with node against
 * node 0: every method of Comet38Client, the three broadcast kinds, NewBlock / NewBlockHeader
 * / Tx subscriptions, tx by hash and by search, a query of the value written, /metrics.
 * argv: phalanx phalanxd kvledger cosmjs_conformance.js MODULES_DIR.
 * Exit 77 (skip) when phalanxd, node or npm is missing or npm cannot install the client:
 * those say nothing about our RPC. Every process is stopped by PID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net_harness.h"
#include "px_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE_BIN "/usr/bin/node"
#define NPM_BIN "/usr/bin/npm"
#define COSMJS_PKG "@cosmjs/tendermint-rpc@0.39.0"

static const char *bins[3];
static const char *script, *modules_dir;

struct exit_wait {
    pid_t pid;
    int status;
};

static bool exited(void *u)
{
    struct exit_wait *w = u;
    return !pxt_running(w->pid, &w->status);
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* npm install into modules_dir unless already there. 0, or -1 (reason printed). */
static int install_cosmjs(void)
{
    char marker[600], log[600];
    snprintf(marker, sizeof marker, "%s/node_modules/@cosmjs/tendermint-rpc/package.json",
             modules_dir);
    if (file_exists(marker))
        return 0;
    mkdir(modules_dir, 0755);
    snprintf(log, sizeof log, "%s/npm-install.log", modules_dir);
    const char *argv[] = {NPM_BIN,    "install",   "--no-audit", "--no-fund",
                          "--prefix", modules_dir, COSMJS_PKG,   NULL};
    struct exit_wait w = {pxt_spawn(argv, log), 0};
    if (w.pid <= 0 || !pxt_wait_until(exited, &w, 300000)) {
        if (w.pid > 0)
            pxt_stop(w.pid, SIGKILL, 1000, NULL);
        fprintf(stderr, "npm install %s did not finish (log: %s)\n", COSMJS_PKG, log);
        return -1;
    }
    if (!WIFEXITED(w.status) || WEXITSTATUS(w.status) != 0 || !file_exists(marker)) {
        char *out = pxt_read_file(log, NULL);
        fprintf(stderr, "npm install %s failed:\n%s\n", COSMJS_PKG, out ? out : "");
        free(out);
        return -1;
    }
    return 0;
}

static void test_cosmjs_conformance(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, 4, bins);
    net_start_all(&net);
    for (int i = 0; i < 4; i++)
        assert_true(net_wait_height(&net, i, 2, 120000));

    char node_path[600], rpc_port[8], metrics_port[8], log[400];
    snprintf(node_path, sizeof node_path, "NODE_PATH=%s/node_modules", modules_dir);
    snprintf(rpc_port, sizeof rpc_port, "%u", net.base + 1);
    snprintf(metrics_port, sizeof metrics_port, "%u", net.base + 4);
    snprintf(log, sizeof log, "%s/cosmjs.log", net.dir);
    const char *argv[] = {"/usr/bin/env", node_path,    NODE_BIN, script,
                          rpc_port,       metrics_port, NULL};
    struct exit_wait w = {pxt_spawn(argv, log), 0};
    assert_true(w.pid > 0);
    bool done = pxt_wait_until(exited, &w, 300000);
    if (!done)
        pxt_stop(w.pid, SIGKILL, 1000, &w.status);
    char *out = pxt_read_file(log, NULL);
    fprintf(stderr, "%s", out ? out : "(no output)\n");
    free(out);
    bool ok = done && WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0;
    if (!ok)
        setenv("PX_KEEP_TESTNET", "1", 0); /* keep the logs of a failure */
    net_destroy(&net);
    if (!ok)
        fail_msg("cosmjs conformance failed (%s); logs kept in %s",
                 done ? "see above" : "timed out", net.dir);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s phalanx phalanxd kvledger cosmjs_conformance.js DIR\n", argv[0]);
        return 2;
    }
    bins[0] = argv[1];
    bins[1] = argv[2];
    bins[2] = argv[3];
    script = argv[4];
    modules_dir = argv[5];
    if (!file_exists(bins[1])) {
        fprintf(stderr, "SKIP: %s is missing (phalanxd not built)\n", bins[1]);
        return 77;
    }
    if (!file_exists(NODE_BIN) || !file_exists(NPM_BIN)) {
        fprintf(stderr, "SKIP: node or npm is missing (apt-get install nodejs npm)\n");
        return 77;
    }
    if (install_cosmjs() < 0) {
        fprintf(stderr, "SKIP: cannot install %s from npm\n", COSMJS_PKG);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosmjs_conformance),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pxt_stop_all();
    return rc;
}
