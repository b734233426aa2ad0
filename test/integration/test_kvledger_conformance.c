/* Integration test: `phalanx abci-test` against the real kvledger binary. Two fresh
 * instances (127.0.0.1, free ports, temp homes) must both pass every step, and the second
 * run is given the first run's final app hash (--expect-app-hash): determinism across
 * processes. Then a third instance is run against a wrong expected hash, which must fail
 * (the check can fail).
 * Usage: test_kvledger_conformance PATH-TO-phalanx PATH-TO-kvledger */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvledger_itest.h"
#include "px_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *phalanx_exe, *kvledger_exe;

struct proc {
    pid_t pid;
    int status;
};

static bool exited(void *user)
{
    struct proc *p = user;
    return !pxt_running(p->pid, &p->status);
}

/* Run abci-test against a fresh kvledger; returns its exit status, and the final app hash
 * it printed in hash[65] (empty if none). */
static int run_abci_test(const char *expect, char hash[65])
{
    struct kvl_node n;
    kvl_node_init(&n, kvledger_exe, "kvl-conf");
    kvl_node_start(&n);
    /* abci-test dials on its own connections: drop the helper's */
    abci_client_free(n.client);
    n.client = NULL;
    char out[700];
    snprintf(out, sizeof(out), "%s/abci-test.out", n.home);
    const char *argv_plain[] = {phalanx_exe, "abci-test", n.addr, NULL};
    const char *argv_expect[] = {phalanx_exe, "abci-test", "--expect-app-hash",
                                 expect,      n.addr,      NULL};
    struct proc p = {.pid = pxt_spawn(expect ? argv_expect : argv_plain, out)};
    assert_true(p.pid > 0);
    assert_true(pxt_wait_until(exited, &p, 60000));
    size_t len;
    char *text = pxt_read_file(out, &len);
    assert_non_null(text);
    fprintf(stderr, "%s", text);
    hash[0] = '\0';
    const char *h = strstr(text, "final app hash: ");
    if (h)
        sscanf(h, "final app hash: %64[0-9a-fA-F]", hash);
    free(text);
    kvl_node_stop(&n, SIGTERM);
    kvl_node_fini(&n);
    assert_true(WIFEXITED(p.status));
    return WEXITSTATUS(p.status);
}

static void kvledger_passes_abci_test_deterministically(void **state)
{
    (void)state;
    char h1[65], h2[65], h3[65];
    assert_int_equal(run_abci_test(NULL, h1), 0);
    assert_int_equal(strlen(h1), 64);
    assert_int_equal(run_abci_test(h1, h2), 0);
    assert_string_equal(h1, h2);
    char wrong[65];
    memcpy(wrong, h1, sizeof(wrong));
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    assert_int_not_equal(run_abci_test(wrong, h3), 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PATH-TO-phalanx PATH-TO-kvledger\n", argv[0]);
        return 2;
    }
    phalanx_exe = argv[1];
    kvledger_exe = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kvledger_passes_abci_test_deterministically),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
