/* A validator's signer under resource exhaustion (issue 21, finding 2), with real processes
 * (a single-validator network: phalanxd + kvledger, net_harness):
 *
 *  - out of file descriptors: the node's open-file limit is lowered (prlimit) to its lowest
 *    free descriptor, so that it can open nothing; it keeps committing blocks, because the
 *    signer's state write opens nothing; once the limit is back, /health is OK and the
 *    signer never failed (on the old signer the chain stopped at the first vote, for good);
 *  - out of disk space: the node's data directory is a small tmpfs (the stores and the WAL
 *    are moved elsewhere in node.conf) that the test fills; /health then answers an error
 *    saying "no space left on device", /status and /metrics say the signer fails, and once
 *    the space is freed the signer signs again by itself and the chain goes on. Skipped
 *    where a tmpfs cannot be mounted (not root).
 *
 * argv: phalanx phalanxd kvledger. Exit 77 (skip) when phalanxd is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net_harness.h"
#include "px_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *bins[3];

/* The lowest descriptor number pid does not use: with its soft limit there it can open
 * nothing until it closes one. */
static int lowest_free_fd(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    static unsigned char used[65536];
    memset(used, 0, sizeof used);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long n = strtol(e->d_name, NULL, 10);
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && n < (long)sizeof used)
            used[n] = 1;
    }
    closedir(d);
    int fd = 0;
    while (fd < (int)sizeof used && used[fd])
        fd++;
    return fd;
}

static void set_nofile(pid_t pid, rlim_t soft, struct rlimit *old)
{
    struct rlimit cur;
    assert_int_equal(prlimit(pid, RLIMIT_NOFILE, NULL, &cur), 0);
    if (old)
        *old = cur;
    cur.rlim_cur = soft;
    assert_int_equal(prlimit(pid, RLIMIT_NOFILE, &cur, NULL), 0);
}

/* GET path on port into buf; the HTTP status. */
static int get(uint16_t port, const char *path, char *buf, size_t cap)
{
    return net_http_get(port, path, buf, cap, 5000);
}

static bool healthy(struct net *net)
{
    char buf[4096];
    return get(net->base + 1, "/health", buf, sizeof buf) == 200 &&
           strstr(buf, "\"result\":{}") != NULL;
}

/* phalanx_signer_failures_total of node 0 (-1 if unreadable). */
static double signer_failures(struct net *net)
{
    static char buf[1 << 16];
    if (get(net->base + 4, "/metrics", buf, sizeof buf) != 200)
        return -1;
    const char *p = strstr(buf, "\nphalanx_signer_failures_total ");
    return p ? strtod(p + 31, NULL) : -1;
}

static bool retried(void *u)
{
    return signer_failures(u) >= 3;
}

static void assert_signer_metrics(struct net *net, int ok, bool failures)
{
    char buf[1 << 16], want[64];
    assert_int_equal(get(net->base + 4, "/metrics", buf, sizeof buf), 200);
    snprintf(want, sizeof want, "\nphalanx_signer_ok %d\n", ok);
    if (!strstr(buf, want))
        fail_msg("metrics lack '%s'", want + 1);
    bool none = strstr(buf, "\nphalanx_signer_failures_total 0\n") != NULL;
    if (none == failures)
        fail_msg("phalanx_signer_failures_total: expected %s", failures ? "> 0" : "0");
}

static void keeps_signing_out_of_descriptors(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, 1, bins);
    net_start_all(&net);
    assert_true(net_wait_height(&net, 0, 2, 120000));
    assert_true(net_wait_rpc(&net, 0, 30000));
    /* transactions waiting in the mempool, so that the blocks signed with no free
     * descriptor carry them through the stores and the event index */
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "fd-%d", i);
        assert_int_equal(net_submit_kv(&net, 0, key, "v"), 0);
    }
    pid_t pid = net.node[0];
    struct rlimit old;
    set_nofile(pid, (rlim_t)lowest_free_fd(pid), &old);
    uint64_t h = net_height(&net, 0);
    printf("# node %d can open no descriptor at height %llu\n", (int)pid, (unsigned long long)h);
    /* about one block a second; three blocks signed without a free descriptor */
    bool went_on = net_wait_height(&net, 0, h + 3, 30000);
    set_nofile(pid, old.rlim_cur, NULL);
    if (!went_on)
        fail_msg("the chain stopped at height %llu while the node had no free descriptor",
                 (unsigned long long)net_height(&net, 0));
    assert_true(net_wait_height(&net, 0, h + 5, 30000));
    assert_true(net_wait_rpc(&net, 0, 30000));
    assert_true(healthy(&net));
    uint32_t txs_then = 0;
    for (uint64_t k = h + 1; k <= h + 3; k++) {
        uint8_t hash[32], app[64];
        size_t app_len;
        uint32_t ntx = 0;
        assert_int_equal(net_block(&net, 0, k, hash, app, &app_len, &ntx), 0);
        txs_then += ntx;
    }
    printf("# %u transactions committed with no free descriptor\n", txs_then);
    char value[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "fd-%d", i);
        assert_int_equal(net_query_key(&net, 0, key, value, sizeof value), 1);
    }
    assert_signer_metrics(&net, 1, false);
    char log[400];
    snprintf(log, sizeof log, "%s/node0/node.log", net.dir);
    char *text = pxt_read_file(log, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "open-file limit"));
    free(text);
    net_destroy(&net);
}

/* ---- disk full ---------------------------------------------------------------------- */

static char g_mnt[400];

static void unmount_data(void)
{
    if (g_mnt[0]) {
        umount2(g_mnt, MNT_DETACH);
        g_mnt[0] = '\0';
    }
}

/* Replace `from` by `to` once in the file at path. */
static void edit(const char *path, const char *from, const char *to)
{
    size_t len;
    char *text = pxt_read_file(path, &len);
    assert_non_null(text);
    char *at = strstr(text, from);
    if (!at)
        fail_msg("%s: no '%s'", path, from);
    size_t fl = strlen(from), tl = strlen(to);
    char *out = malloc(len - fl + tl + 1);
    memcpy(out, text, (size_t)(at - text));
    memcpy(out + (at - text), to, tl);
    memcpy(out + (at - text) + tl, at + fl, len - (size_t)(at - text) - fl + 1);
    assert_int_equal(pxt_write_file(path, out, strlen(out)), 0);
    free(out);
    free(text);
}

/* Fill the file system of path's directory: the filler is written until ENOSPC. */
static void fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    static char block[4096];
    memset(block, 'x', sizeof block);
    size_t chunk = sizeof block;
    while (chunk > 0) {
        ssize_t w = write(fd, block, chunk);
        if (w < 0) {
            assert_int_equal(errno, ENOSPC);
            chunk /= 2;
        }
    }
    close(fd);
}

struct health_wait {
    struct net *net;
    char body[4096];
};

static bool health_error(void *u)
{
    struct health_wait *w = u;
    return get(w->net->base + 1, "/health", w->body, sizeof w->body) == 200 &&
           strstr(w->body, "\"error\"") != NULL;
}

static bool health_ok(void *u)
{
    struct health_wait *w = u;
    return healthy(w->net);
}

struct key_wait {
    struct net *net;
    char value[64];
};

static bool key_committed(void *u)
{
    struct key_wait *k = u;
    return net_query_key(k->net, 0, "after-disk-full", k->value, sizeof k->value) == 1;
}

static void recovers_after_disk_full(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, 1, bins);
    char home[300], path[400], keep[420];
    snprintf(home, sizeof home, "%s/node0", net.dir);
    /* the stores and the WAL move to HOME/db; HOME/data (the signer) becomes a small tmpfs */
    snprintf(path, sizeof path, "%s/config/node.conf", home);
    edit(path, "db_dir = \"data\";", "db_dir = \"db\";");
    edit(path, "wal_file = \"data/cs.wal\";", "wal_file = \"db/cs.wal\";");
    snprintf(path, sizeof path, "%s/db", home);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/data/priv_validator_state.json", home);
    size_t slen;
    char *saved = pxt_read_file(path, &slen);
    assert_non_null(saved);
    snprintf(g_mnt, sizeof g_mnt, "%s/data", home);
    if (mount("tmpfs", g_mnt, "tmpfs", 0, "size=256k,mode=0700") != 0) {
        int e = errno;
        g_mnt[0] = '\0';
        free(saved);
        net_destroy(&net);
        printf("# cannot mount a tmpfs (%s): skipped\n", strerror(e));
        skip();
    }
    assert_int_equal(pxt_write_file(path, saved, slen), 0);
    free(saved);
    chmod(path, 0600);
    net_start_all(&net);
    assert_true(net_wait_rpc(&net, 0, 60000));
    struct health_wait w = {&net, ""};
    assert_true(pxt_wait_until(health_ok, &w, 30000));
    /* heights through RPC: the block store is not in data/ here */
    char st[8192];
    assert_int_equal(get(net.base + 1, "/status", st, sizeof st), 200);
    assert_non_null(strstr(st, "\"signer_ok\":true"));

    snprintf(keep, sizeof keep, "%s/filler", g_mnt);
    fill(keep);
    if (!pxt_wait_until(health_error, &w, 30000))
        fail_msg("/health stayed OK with the signer's disk full");
    printf("# /health: %s\n", w.body);
    assert_non_null(strstr(w.body, "no space left on device"));
    assert_non_null(strstr(w.body, "priv_validator_state.json"));
    assert_int_equal(get(net.base + 1, "/status", st, sizeof st), 200);
    assert_non_null(strstr(st, "\"signer_ok\":false"));
    assert_non_null(strstr(st, "\"latest_block_height\""));
    assert_signer_metrics(&net, 0, true);
    /* the refused signature is asked for again (the core asks once; with no retry a lone
     * validator whose prevote was refused would wait for prevotes forever) */
    if (!pxt_wait_until(retried, &net, 30000))
        fail_msg("the signer was not asked again: %g failures", signer_failures(&net));

    assert_int_equal(unlink(keep), 0);
    if (!pxt_wait_until(health_ok, &w, 30000))
        fail_msg("the signer did not recover once the disk had space again: %s", w.body);
    assert_signer_metrics(&net, 1, true);
    /* and the chain goes on: a transaction commits */
    assert_int_equal(net_submit_kv(&net, 0, "after-disk-full", "yes"), 0);
    struct key_wait k = {&net, ""};
    assert_true(pxt_wait_until(key_committed, &k, 30000));
    assert_string_equal(k.value, "yes");
    net_stop_all(&net);
    unmount_data();
    net_destroy(&net);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s phalanx phalanxd kvledger\n", argv[0]);
        return 2;
    }
    bins[0] = argv[1];
    bins[1] = argv[2];
    bins[2] = argv[3];
    struct stat st;
    if (stat(bins[1], &st) != 0) {
        fprintf(stderr, "SKIP: %s is missing (phalanxd not built)\n", bins[1]);
        return 77;
    }
    atexit(unmount_data);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_signing_out_of_descriptors),
        cmocka_unit_test(recovers_after_disk_full),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pxt_stop_all();
    unmount_data();
    return rc;
}
