/*
 * Integration test of `phalanx load` against a real 4-validator network on 127.0.0.1:
 * `phalanx testnet` homes in a temp dir, one kvledger and one phalanxd per validator
 * (started and stopped by PID), then `phalanx load --rate 50 --duration 5 --json` over
 * every node's RPC. The JSON must parse and report txs sent, committed > 0 and none
 * rejected; the text report is checked for its lines too. Exits 77 (skipped) only when
 * the nodes commit blocks but no JSON-RPC server answers (the RPC is not in the build).
 *
 * Numbers are not asserted beyond "something committed": this is a test of the tool, not
 * a benchmark. Never leaves a process or a directory behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "px_error.h"
#include "px_test.h"

#define N 4

static const char *phalanx, *phalanxd, *kvledger;
static char dir[256], tn[300];
static uint16_t base;
static pid_t apps[N], nodes[N];

static bool port_listens(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static bool app_listens(void *user)
{
    return port_listens((uint16_t)(base + 10 * (int)(intptr_t)user + 2));
}

struct child {
    pid_t pid;
    int status; /* wait status once exited */
};

static bool exited(void *user)
{
    struct child *c = user;
    return !pxt_running(c->pid, &c->status);
}

/* Run argv to its end (deadline timeout_ms); returns its exit status, -1 if it did not
 * start, exit or exit normally in time. */
static int run_to_end(const char *const argv[], const char *log, int timeout_ms)
{
    struct child c = {.pid = pxt_spawn(argv, log)};
    if (c.pid < 0)
        return -1;
    if (!pxt_wait_until(exited, &c, timeout_ms)) {
        pxt_stop(c.pid, SIGKILL, 1000, NULL);
        return -1;
    }
    return WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
}

static bool node0_committed(void *user)
{
    (void)user;
    char path[400];
    snprintf(path, sizeof(path), "%s/node0/phalanxd.log", tn);
    char *log = pxt_read_file(path, NULL);
    bool yes = log && strstr(log, "committed block height=2");
    free(log);
    return yes;
}

static bool rpc_listens(void *user)
{
    (void)user;
    return port_listens((uint16_t)(base + 1));
}

static void start_network(void)
{
    assert_int_equal(pxt_tmpdir("load", dir, sizeof(dir)), 0);
    snprintf(tn, sizeof(tn), "%s/tn", dir);
    base = pxt_free_port_range(10 * N, 1);
    assert_true(base != 0);
    char basestr[16], out[400];
    snprintf(basestr, sizeof(basestr), "%u", base);
    snprintf(out, sizeof(out), "%s/testnet.log", dir);
    const char *mk[] = {phalanx, "testnet",     "--validators", "4", "--out",
                        tn,      "--base-port", basestr,        NULL};
    assert_int_equal(run_to_end(mk, out, 30000), 0);
    for (int i = 0; i < N; i++) {
        char listen[64], home[400], log[400];
        snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d", base + 10 * i + 2);
        snprintf(home, sizeof(home), "%s/node%d/app", tn, i);
        snprintf(log, sizeof(log), "%s/node%d/kvledger.log", tn, i);
        const char *argv[] = {kvledger, "--listen",    listen, "--home",
                              home,     "--log-level", "warn", NULL};
        apps[i] = pxt_spawn(argv, log);
        assert_true(apps[i] > 0);
    }
    for (int i = 0; i < N; i++)
        assert_true(pxt_wait_until(app_listens, (void *)(intptr_t)i, 20000));
    for (int i = 0; i < N; i++) {
        char home[400], log[400];
        snprintf(home, sizeof(home), "%s/node%d", tn, i);
        snprintf(log, sizeof(log), "%s/node%d/phalanxd.log", tn, i);
        const char *argv[] = {phalanxd, "--home", home, NULL};
        nodes[i] = pxt_spawn(argv, log);
        assert_true(nodes[i] > 0);
    }
    if (!pxt_wait_until(node0_committed, NULL, 40000))
        fail_msg("node0 did not commit height 2 within 40 s (logs in %s)", tn);
}

static void stop_network(void)
{
    for (int i = 0; i < N; i++)
        if (nodes[i] > 0)
            pxt_stop(nodes[i], SIGTERM, 10000, NULL);
    for (int i = 0; i < N; i++)
        if (apps[i] > 0)
            pxt_stop(apps[i], SIGTERM, 10000, NULL);
    pxt_stop_all();
    if (!getenv("PX_KEEP_TESTNET"))
        pxt_rmtree(dir);
}

static void nodes_arg(char *buf, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s127.0.0.1:%d", i ? "," : "",
                                base + 10 * i + 1);
}

static void test_load_kv(void **state)
{
    (void)state;
    start_network();
    if (!pxt_wait_until(rpc_listens, NULL, 5000)) {
        print_message("skipped: the nodes commit but no JSON-RPC server listens on port %u "
                      "(the RPC is not in this build)\n",
                      base + 1);
        stop_network();
        exit(77);
    }
    char nodes_list[256], out[400], txt[400];
    nodes_arg(nodes_list, sizeof(nodes_list));
    snprintf(out, sizeof(out), "%s/load.json", dir);
    const char *argv[] = {phalanx,      "load", "--nodes",   nodes_list, "--rate", "50",
                          "--duration", "5",    "--timeout", "20",       "--json", NULL};
    assert_int_equal(run_to_end(argv, out, 50000), 0);

    char *text = pxt_read_file(out, NULL);
    assert_non_null(text);
    /* the JSON object is the line that starts with '{' (stderr shares the file) */
    char *line = text[0] == '{' ? text : strstr(text, "\n{");
    if (line && *line == '\n')
        line++;
    if (!line)
        fail_msg("no JSON report from phalanx load; its output:\n%s", text);
    json_error_t jerr;
    json_t *j = json_loads(line, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!j)
        fail_msg("phalanx load's JSON does not parse: %s\n%s", jerr.text, line);
    json_int_t sent = json_integer_value(json_object_get(j, "sent"));
    json_int_t committed = json_integer_value(json_object_get(j, "committed"));
    json_int_t rejected = json_integer_value(json_object_get(j, "rejected"));
    json_int_t skipped = json_integer_value(json_object_get(j, "skipped"));
    json_t *lat = json_object_get(j, "latency_ms");
    print_message("load: sent %lld committed %lld rejected %lld skipped %lld\n", (long long)sent,
                  (long long)committed, (long long)rejected, (long long)skipped);
    assert_int_equal(sent + skipped, 250); /* 50 tx/s for 5 s, every one accounted for */
    assert_true(sent > 0);
    if (committed <= 0)
        fail_msg("nothing committed:\n%s", line);
    assert_true(committed <= sent);
    if (rejected != 0)
        fail_msg("txs rejected: %s", json_string_value(json_object_get(j, "first_error")));
    assert_true(json_is_object(lat));
    assert_true(json_real_value(json_object_get(lat, "p50")) <=
                json_real_value(json_object_get(lat, "max")));
    json_decref(j);
    free(text);

    /* the text report: every counter on its own line */
    snprintf(txt, sizeof(txt), "%s/load.txt", dir);
    const char *argv2[] = {phalanx,      "load", "--nodes",   nodes_list, "--rate", "20",
                           "--duration", "2",    "--timeout", "20",       NULL};
    assert_int_equal(run_to_end(argv2, txt, 40000), 0);
    text = pxt_read_file(txt, NULL);
    assert_non_null(text);
    for (const char *want = "sent\0accepted\0rejected\0committed\0latency ms\0blocks\0"; *want;
         want += strlen(want) + 1)
        if (!strstr(text, want))
            fail_msg("the text report has no '%s' line:\n%s", want, text);
    free(text);

    /* signed ledger transfers from the testnet's faucet keys, through broadcast_tx_sync:
     * every sent tx answered, some committed (a refused nonce is repaired by the tool).
     * A short --timeout: an accepted transfer the mempool later drops (the Commit/recheck
     * race described in tools/bench/README.md) would otherwise hold the run 20 s. */
    char f[4][400];
    for (int k = 0; k < 4; k++)
        snprintf(f[k], sizeof(f[k]), "%s/faucet/key%d.json", tn, k);
    snprintf(out, sizeof(out), "%s/load-transfer.json", dir);
    const char *argv4[] = {phalanx,  "load",       "--nodes", nodes_list,  "--rate",
                           "20",     "--duration", "3",       "--timeout", "20",
                           "--kind", "transfer",   "--sync",  "--json",    "--faucet",
                           f[0],     f[1],         f[2],      f[3],        NULL};
    assert_int_equal(run_to_end(argv4, out, 40000), 0);
    text = pxt_read_file(out, NULL);
    assert_non_null(text);
    line = text[0] == '{' ? text : strstr(text, "\n{");
    if (!line || !(j = json_loads(line, JSON_DISABLE_EOF_CHECK, &jerr)))
        fail_msg("no JSON report from phalanx load --kind transfer:\n%s", text);
    sent = json_integer_value(json_object_get(j, "sent"));
    json_int_t accepted = json_integer_value(json_object_get(j, "accepted"));
    rejected = json_integer_value(json_object_get(j, "rejected"));
    committed = json_integer_value(json_object_get(j, "committed"));
    print_message("transfers: sent %lld accepted %lld rejected %lld committed %lld\n",
                  (long long)sent, (long long)accepted, (long long)rejected, (long long)committed);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "transfer");
    assert_string_equal(json_string_value(json_object_get(j, "method")), "broadcast_tx_sync");
    assert_int_equal(accepted + rejected, sent);
    if (committed <= 0)
        fail_msg("no transfer committed:\n%s", line);
    json_decref(j);
    free(text);

    /* a node that is not there: a sentence and status 1, not a crash */
    char bad[64];
    snprintf(bad, sizeof(bad), "127.0.0.1:%u", base + 9); /* no one listens there */
    snprintf(txt, sizeof(txt), "%s/load-bad.txt", dir);
    const char *argv3[] = {phalanx, "load", "--nodes", bad, "--rate", "5", "--duration", "1", NULL};
    assert_int_equal(run_to_end(argv3, txt, 20000), 1);
    text = pxt_read_file(txt, NULL);
    assert_non_null(text);
    if (!strstr(text, "cannot connect"))
        fail_msg("no sentence for an unreachable node:\n%s", text);
    free(text);
    stop_network();
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_load PHALANX PHALANXD KVLEDGER\n");
        return 2;
    }
    phalanx = argv[1];
    phalanxd = argv[2];
    kvledger = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_kv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
