/* Integration test of tools/up, the README's main command, on 127.0.0.1 with the binaries
 * already built (UP_NO_BUILD=1): a 4-validator network made by `phalanx testnet` commits
 * blocks, every node commits the same block hashes, and when the run ends (--duration, or
 * SIGTERM as Ctrl-C would) every process the script started is gone; a directory tools/up
 * did not make is refused and left alone. argv[1]: tools/up, argv[2]: the build directory.
 * Never touches a directory outside its temporary one; stops what it starts by PID. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 4
#define MAX_PIDS 64

static const char *up;
static const char *build;
static char dir[256];
static char net[300];
static char log_path[300];
static char env_build[600];
static char base_arg[16];

static int setup(void **state)
{
    (void)state;
    assert_int_equal(pxt_tmpdir("testnet-up", dir, sizeof(dir)), 0);
    snprintf(net, sizeof(net), "%s/net", dir);
    snprintf(log_path, sizeof(log_path), "%s/up.log", dir);
    snprintf(env_build, sizeof(env_build), "BUILD_DIR=%s", build);
    uint16_t base = pxt_free_port_range(N, 10);
    assert_true(base != 0);
    snprintf(base_arg, sizeof(base_arg), "%u", base);
    return 0;
}

static size_t started_pids(const char *out, pid_t *pids);
static char *output(void);

static int teardown(void **state)
{
    (void)state;
    pxt_stop_all();
    /* if tools/up failed to stop what it started, a failing test must not leave it running:
     * kill exactly the PIDs it reported */
    char *out = output();
    pid_t pids[MAX_PIDS];
    size_t n = strstr(out, "(pids ") ? started_pids(out, pids) : 0;
    for (size_t i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    free(out);
    pxt_rmtree(dir);
    return 0;
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

static pid_t spawn_up(const char *duration)
{
    const char *with[] = {"/usr/bin/env", "UP_NO_BUILD=1", env_build,    up,       "--out", net,
                          "--base-port",  base_arg,        "--duration", duration, NULL};
    const char *without[] = {"/usr/bin/env", "UP_NO_BUILD=1", env_build, up, "--out", net,
                             "--base-port",  base_arg,        NULL};
    remove(log_path);
    pid_t pid = pxt_spawn(duration ? with : without, log_path);
    assert_true(pid > 0);
    return pid;
}

static char *output(void)
{
    size_t len;
    char *s = pxt_read_file(log_path, &len);
    return s ? s : strdup("");
}

/* The PIDs tools/up printed: "up: started ... (pids 1 2 3)". */
static size_t started_pids(const char *out, pid_t *pids)
{
    const char *p = strstr(out, "(pids ");
    assert_non_null(p);
    p += 6;
    size_t n = 0;
    while (*p && *p != ')' && n < MAX_PIDS) {
        char *end;
        long v = strtol(p, &end, 10);
        assert_true(end != p && v > 0);
        pids[n++] = (pid_t)v;
        p = end;
        while (*p == ' ')
            p++;
    }
    return n;
}

static void all_gone(const char *out)
{
    pid_t pids[MAX_PIDS];
    size_t n = started_pids(out, pids);
    assert_int_equal(n, 2 * N);
    for (size_t i = 0; i < n; i++)
        if (kill(pids[i], 0) == 0 || errno != ESRCH)
            fail_msg("process %d started by tools/up is still there", (int)pids[i]);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

/* The hash= of "committed block height=H " in node i's log, or "" if absent. */
static void hash_at(int i, int h, char *out, size_t cap)
{
    char p[400], key[64];
    snprintf(p, sizeof(p), "%s/node%d/phalanxd.log", net, i);
    snprintf(key, sizeof(key), "committed block height=%d ", h);
    size_t len;
    char *log = pxt_read_file(p, &len);
    out[0] = '\0';
    const char *at = log ? strstr(log, key) : NULL;
    const char *hash = at ? strstr(at, " hash=") : NULL;
    if (hash) {
        hash += 6;
        size_t n = strcspn(hash, " \n");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), hash);
    }
    free(log);
}

static void up_runs_for_a_duration_then_stops_everything(void **state)
{
    (void)state;
    struct proc p = {spawn_up("8"), 0};
    if (!pxt_wait_until(exited, &p, 180000))
        fail_msg("tools/up --duration 8 did not end within 180 s");
    char *out = output();
    if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0)
        fail_msg("tools/up failed: %s", out);
    if (count(out, "\nheight ") < 3)
        fail_msg("fewer than 3 committed blocks shown: %s", out);
    assert_non_null(strstr(out, "logs are in"));
    all_gone(out);
    free(out);
    /* one network: every node committed the same blocks */
    for (int h = 1; h <= 3; h++) {
        char h0[80], hi[80];
        hash_at(0, h, h0, sizeof(h0));
        assert_true(h0[0] != '\0');
        for (int i = 1; i < N; i++) {
            hash_at(i, h, hi, sizeof(hi));
            if (hi[0] && strcmp(h0, hi) != 0)
                fail_msg("height %d: node0 committed %s, node%d %s", h, h0, i, hi);
        }
    }

    /* a second run starts from a fresh network: the old one is removed */
    char old_key[400];
    snprintf(old_key, sizeof(old_key), "%s/node0/config/node_key.json", net);
    size_t len;
    char *key1 = pxt_read_file(old_key, &len);
    assert_non_null(key1);
    p.pid = spawn_up("2");
    if (!pxt_wait_until(exited, &p, 180000))
        fail_msg("tools/up --duration 2 did not end within 180 s");
    out = output();
    if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0)
        fail_msg("second tools/up failed: %s", out);
    all_gone(out);
    free(out);
    char *key2 = pxt_read_file(old_key, &len);
    assert_non_null(key2);
    assert_string_not_equal(key1, key2);
    free(key1);
    free(key2);
}

/* Two blocks shown by tools/up, or it ended (then the wait is over too). */
static bool blocks_shown(void *user)
{
    struct proc *p = user;
    char *out = output();
    bool shown = count(out, "\nheight ") >= 2;
    free(out);
    if (!shown && !pxt_running(p->pid, &p->status))
        fail_msg("tools/up ended before showing blocks");
    return shown;
}

static void up_stops_everything_on_sigterm(void **state)
{
    (void)state;
    struct proc p = {spawn_up(NULL), 0};
    /* wait until blocks are shown */
    if (!pxt_wait_until(blocks_shown, &p, 120000)) {
        char *out = output();
        fail_msg("tools/up showed no blocks within 120 s: %s", out);
    }
    assert_int_equal(pxt_stop(p.pid, SIGTERM, 60000, &p.status), 0);
    char *out = output();
    if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0)
        fail_msg("tools/up did not stop cleanly on SIGTERM: %s", out);
    assert_non_null(strstr(out, "logs are in"));
    all_gone(out);
    free(out);
}

static void up_refuses_a_directory_it_did_not_make(void **state)
{
    (void)state;
    assert_int_equal(mkdir(net, 0700), 0);
    char keep[400];
    snprintf(keep, sizeof(keep), "%s/keep", net);
    assert_int_equal(pxt_write_file(keep, "x", 1), 0);
    struct proc p = {spawn_up("2"), 0};
    if (!pxt_wait_until(exited, &p, 60000))
        fail_msg("tools/up did not end within 60 s");
    char *out = output();
    if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 1)
        fail_msg("tools/up did not refuse %s: %s", net, out);
    assert_non_null(strstr(out, "not made by tools/up"));
    free(out);
    assert_int_equal(access(keep, F_OK), 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOOLS_UP BUILD_DIR\n", argv[0]);
        return 2;
    }
    up = argv[1];
    build = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(up_runs_for_a_duration_then_stops_everything, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(up_stops_everything_on_sigterm, setup, teardown),
        cmocka_unit_test_setup_teardown(up_refuses_a_directory_it_did_not_make, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
