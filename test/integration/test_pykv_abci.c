/*
 * Integration test: the Python app apps/pykv (written from abci/PROTOCOL.md, speaking the
 * SP framing over raw sockets) against `phalanx abci-test`, as real processes on
 * 127.0.0.1 / ipc:// in temp dirs. Checks: the conformance run passes; a second run against
 * the same (no longer fresh) app fails; a second fresh pykv ends with the same app hash
 * (determinism via --expect-app-hash); pykv killed with SIGKILL restarts at its last
 * committed height and hash. Every process is stopped by PID.
 *
 * abci-test must also catch a wrong app: pykv with one deliberate fault (pykv_fault.py:
 * gas of failed txs, the order of the tx checks, FinalizeBlock at any height, genesis
 * accounts ignored, null refused, OfferSnapshot REJECT, PrepareProposal without framing)
 * fails the step that checks that rule.
 *
 * With a sixth argument (the kvledger binary), also runs abci-test against a fresh
 * kvledger with --expect-app-hash from pykv: two implementations in two languages must
 * agree byte for byte on the app hash of the same key-value chain (TXFORMAT.md §5).
 *
 * args: PHALANX_EXE PYTHON3 PYKV_PY PB2_DIR FAULT_PY [KVLEDGER_EXE]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abci_client.h"
#include "px_error.h"
#include "px_test.h"

static const char *phalanx_exe, *python3, *pykv_py, *pb2_dir, *fault_py, *kvledger_exe;
static char pykv_final_hash[200];

struct pykv {
    char home[256];
    char addr[320];
    char log[320];
    uint16_t port; /* 0 for ipc */
    pid_t pid;
    const char *fault; /* NULL: pykv itself; else pykv_fault.py with this fault */
};

static void dump(const char *path)
{
    size_t len;
    char *text = pxt_read_file(path, &len);
    if (text) {
        fprintf(stderr, "---- %s ----\n%s---- end ----\n", path, text);
        free(text);
    }
}

static bool tcp_up(void *user)
{
    struct pykv *p = user;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static bool ipc_up(void *user)
{
    struct pykv *p = user;
    char path[300];
    snprintf(path, sizeof(path), "%s/app.sock", p->home);
    return access(path, F_OK) == 0;
}

/* Listening, or exited (then the wait ends early and the check below fails). */
static bool up_or_dead(void *user)
{
    struct pykv *p = user;
    if (p->port ? tcp_up(p) : ipc_up(p))
        return true;
    return !pxt_running(p->pid, NULL);
}

static void pykv_start(struct pykv *p)
{
    char pp[300];
    snprintf(pp, sizeof(pp), "PYTHONPATH=%s", pb2_dir);
    const char *argv[] = {"/usr/bin/env", pp,       python3, pykv_py, "--listen",
                          p->addr,        "--home", p->home, NULL};
    const char *faulty[] = {"/usr/bin/env", pp,      python3,  fault_py, pykv_py, p->fault,
                            "--listen",     p->addr, "--home", p->home,  NULL};
    p->pid = pxt_spawn(p->fault ? faulty : argv, p->log);
    assert_true(p->pid > 0);
    if (!pxt_wait_until(up_or_dead, p, 20000) || !(p->port ? tcp_up(p) : ipc_up(p))) {
        dump(p->log);
        fail_msg("pykv did not listen on %s (it exited, or not within 20 s)", p->addr);
    }
}

static void pykv_init_fault(struct pykv *p, bool ipc, const char *fault)
{
    memset(p, 0, sizeof(*p));
    p->fault = fault;
    assert_int_equal(pxt_tmpdir("pykv", p->home, sizeof(p->home)), 0);
    snprintf(p->log, sizeof(p->log), "%s/pykv.log", p->home);
    if (ipc) {
        snprintf(p->addr, sizeof(p->addr), "ipc://%s/app.sock", p->home);
    } else {
        p->port = pxt_free_port();
        assert_int_not_equal(p->port, 0);
        snprintf(p->addr, sizeof(p->addr), "tcp://127.0.0.1:%u", (unsigned)p->port);
    }
    pykv_start(p);
}

static void pykv_init(struct pykv *p, bool ipc)
{
    pykv_init_fault(p, ipc, NULL);
}

static void pykv_stop(struct pykv *p, int sig)
{
    if (p->pid > 0) {
        int status = 0;
        assert_int_equal(pxt_stop(p->pid, sig, 10000, &status), 0);
        p->pid = -1;
        if (sig == SIGTERM && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            dump(p->log);
            fail_msg("pykv did not exit cleanly on SIGTERM (status 0x%x)", status);
        }
    }
}

struct waitp {
    pid_t pid;
    int status;
};

static bool exited(void *user)
{
    struct waitp *w = user;
    return !pxt_running(w->pid, &w->status);
}

/* Run `phalanx abci-test [opt [val]] [opt2 [val2]] ADDR` (NULLs end the options); returns
 * its exit status; its output goes to out_log. */
static int run_abci_test(const char *addr, const char *o1, const char *v1, const char *o2,
                         const char *v2, const char *out_log)
{
    const char *argv[10];
    int i = 0;
    argv[i++] = phalanx_exe;
    argv[i++] = "abci-test";
    const char *opts[] = {o1, v1, o2, v2};
    for (size_t k = 0; k < 4 && opts[k] != NULL; k++)
        argv[i++] = opts[k];
    argv[i++] = addr;
    argv[i] = NULL;
    unlink(out_log);
    struct waitp w = {pxt_spawn(argv, out_log), 0};
    assert_true(w.pid > 0);
    assert_true(pxt_wait_until(exited, &w, 60000));
    assert_true(WIFEXITED(w.status));
    return WEXITSTATUS(w.status);
}

static void final_hash(const char *log, char *out, size_t cap)
{
    size_t len;
    char *text = pxt_read_file(log, &len);
    assert_non_null(text);
    const char *m = strstr(text, "final app hash: ");
    assert_non_null(m);
    m += strlen("final app hash: ");
    size_t n = strcspn(m, "\n");
    assert_true(n > 0 && n < cap);
    memcpy(out, m, n);
    out[n] = '\0';
    free(text);
}

static void pykv_passes_abci_test(void **state)
{
    (void)state;
    struct pykv a, b;
    char out[400], hash[200], hash_b[200];

    pykv_init(&a, false);
    snprintf(out, sizeof(out), "%s/abci-test.out", a.home);
    int rc = run_abci_test(a.addr, NULL, NULL, NULL, NULL, out);
    if (rc != 0)
        dump(out), dump(a.log);
    assert_int_equal(rc, 0);
    final_hash(out, hash, sizeof(hash));
    assert_int_equal(strlen(hash), 64);
    snprintf(pykv_final_hash, sizeof(pykv_final_hash), "%s", hash);

    /* the tool fails when the app is not fresh */
    snprintf(out, sizeof(out), "%s/abci-test-again.out", a.home);
    assert_int_equal(run_abci_test(a.addr, NULL, NULL, NULL, NULL, out), 1);

    /* a second fresh instance, over ipc://, ends with the same hash */
    pykv_init(&b, true);
    snprintf(out, sizeof(out), "%s/abci-test.out", b.home);
    rc = run_abci_test(b.addr, "--expect-app-hash", hash, NULL, NULL, out);
    if (rc != 0)
        dump(out), dump(b.log);
    assert_int_equal(rc, 0);
    final_hash(out, hash_b, sizeof(hash_b));
    assert_string_equal(hash, hash_b);
    pykv_stop(&b, SIGTERM);

    /* kill -9 and restart: the app reports its last committed height and hash (checked
     * directly, then by the tool's --after-restart, which also continues the chain) */
    pykv_stop(&a, SIGKILL);
    pykv_start(&a);
    struct abci_client *cli = NULL;
    struct abci_client_config cc = {.addr = a.addr, .timeout_ms = 10000, .reconnect_min_ms = 10};
    assert_int_equal(abci_client_new(&cc, &cli), 0);
    assert_int_equal(abci_client_wait_connected(cli, 10000), 0);
    Phalanx__Abci__RequestInfo in = PHALANX__ABCI__REQUEST_INFO__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INFO;
    req.info = &in;
    Phalanx__Abci__Response *resp = NULL;
    assert_int_equal(abci_client_call(cli, ABCI_CONN_QUERY, &req, 0, &resp), 0);
    assert_int_equal(resp->info->last_block_height, 4);
    char hx[200] = {0};
    for (size_t i = 0; i < resp->info->last_block_app_hash.len && 2 * i + 2 < sizeof(hx); i++)
        snprintf(hx + 2 * i, 3, "%02x", resp->info->last_block_app_hash.data[i]);
    assert_string_equal(hx, hash);
    abci_response_free(resp);
    abci_client_free(cli);

    snprintf(out, sizeof(out), "%s/abci-test-restart.out", a.home);
    /* a wrong expected hash must fail, and change nothing */
    char wrong[200];
    snprintf(wrong, sizeof(wrong), "%s", hash);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    assert_int_equal(
        run_abci_test(a.addr, "--expect-app-hash", wrong, "--after-restart", NULL, out), 1);
    rc = run_abci_test(a.addr, "--expect-app-hash", hash, "--after-restart", NULL, out);
    if (rc != 0)
        dump(out), dump(a.log);
    assert_int_equal(rc, 0);
    pykv_stop(&a, SIGTERM);

    pxt_rmtree(a.home);
    pxt_rmtree(b.home);
}

/* abci-test against pykv with one fault each: it must fail, on the step of that rule. */
static void abci_test_catches_faulty_apps(void **state)
{
    (void)state;
    static const struct {
        const char *fault;
        const char *step; /* the FAIL line it must print */
    } cases[] = {
        {"gas", "FAIL  finalize_block h=1 "},
        {"order", "FAIL  check_tx key bytes before value size"},
        {"height", "FAIL  finalize_block h=2 (0 means 1)"},
        {"genesis", "FAIL  genesis sorted by raw key bytes"},
        {"null", "FAIL  genesis null "},
        {"snapshot", "FAIL  offer_snapshot"},
        {"prepare", "FAIL  prepare_proposal "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pykv a;
        char out[400];
        pykv_init_fault(&a, false, cases[i].fault);
        snprintf(out, sizeof(out), "%s/abci-test.out", a.home);
        int rc = run_abci_test(a.addr, NULL, NULL, NULL, NULL, out);
        size_t len;
        char *text = pxt_read_file(out, &len);
        assert_non_null(text);
        bool caught = rc == 1 && strstr(text, cases[i].step) != NULL;
        free(text);
        if (!caught) {
            dump(out), dump(a.log);
            fail_msg("fault %s: abci-test exited %d without '%s'", cases[i].fault, rc,
                     cases[i].step);
        }
        pykv_stop(&a, SIGTERM);
        pxt_rmtree(a.home);
    }
}

static void kvledger_agrees_with_pykv(void **state)
{
    (void)state;
    if (kvledger_exe == NULL)
        skip();
    assert_int_equal(strlen(pykv_final_hash), 64); /* set by the test before */
    char home[256], log[300], out[300], addr[64];
    assert_int_equal(pxt_tmpdir("kvl-vs-pykv", home, sizeof(home)), 0);
    snprintf(log, sizeof(log), "%s/kvledger.log", home);
    snprintf(out, sizeof(out), "%s/abci-test.out", home);
    struct pykv p = {0}; /* reuse the port / wait helpers */
    p.port = pxt_free_port();
    assert_int_not_equal(p.port, 0);
    snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%u", (unsigned)p.port);
    const char *argv[] = {kvledger_exe, "--listen", addr, "--home", home, NULL};
    p.pid = pxt_spawn(argv, log);
    assert_true(p.pid > 0);
    if (!pxt_wait_until(up_or_dead, &p, 20000) || !tcp_up(&p)) {
        dump(log);
        fail_msg("kvledger did not listen on %s", addr);
    }
    int rc = run_abci_test(addr, "--expect-app-hash", pykv_final_hash, NULL, NULL, out);
    if (rc != 0)
        dump(out), dump(log);
    assert_int_equal(rc, 0);
    assert_int_equal(pxt_stop(p.pid, SIGTERM, 10000, NULL), 0);
    pxt_rmtree(home);
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: %s PHALANX_EXE PYTHON3 PYKV_PY PB2_DIR FAULT_PY [KVLEDGER_EXE]\n",
                argv[0]);
        return 2;
    }
    fault_py = argv[5];
    kvledger_exe = argc == 7 ? argv[6] : NULL;
    phalanx_exe = argv[1];
    python3 = argv[2];
    pykv_py = argv[3];
    pb2_dir = argv[4];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pykv_passes_abci_test),
        cmocka_unit_test(abci_test_catches_faulty_apps),
        cmocka_unit_test(kvledger_agrees_with_pykv),
    };
    int rc = cmocka_run_group_tests_name("pykv_abci", tests, NULL, NULL);
    pxt_stop_all();
    return rc;
}
