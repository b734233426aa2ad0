/*
 * Integration test of phalanxd's start-up checks (issue 21), on a one-validator network of
 * real processes (net_harness) that has committed some large transactions, then stopped:
 *   - 64 KiB of blockstore.db overwritten mid-file: the node refuses to start, naming the
 *     file and the fix (it used to start and retry "cannot commit the decided block"
 *     forever);
 *   - the same for state.db;
 *   - blockstore.db deleted: the node refuses to start (it used to start without its
 *     history, unable to serve blocks to peers or to propose);
 *   - both files back from the copy taken before: the node starts and commits again;
 *   - an empty node.conf: one WARN line naming the file, saying every option is at its
 *     default and p2p listens on all interfaces.
 * About 15 s; every process is stopped by PID, the directory removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net_harness.h"
#include "px_test.h"

static const char *bins[3];

static void copy_file(const char *from, const char *to)
{
    size_t len = 0;
    char *data = pxt_read_file(from, &len);
    assert_non_null(data);
    assert_int_equal(pxt_write_file(to, data, len), 0);
    free(data);
}

static size_t file_size(const char *path)
{
    size_t len = 0;
    char *data = pxt_read_file(path, &len);
    assert_non_null(data);
    free(data);
    return len;
}

/* Run phalanxd on node 0's home to its end (it must refuse to start); its output. */
static char *start_refused(struct net *net, const char *tag)
{
    char home[400], log[420];
    snprintf(home, sizeof(home), "%s/node0", net->dir);
    snprintf(log, sizeof(log), "%s/node0/refused-%s.log", net->dir, tag);
    const char *argv[] = {net->phalanxd, "--home", home, NULL};
    int status = 0;
    char *out = NULL;
    int err = pxt_run(argv, log, 30000, &status, &out);
    if (err)
        fail_msg("%s: phalanxd did not stop by itself within 30 s (%d); see %s", tag, err, log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
        fail_msg("%s: phalanxd started or died of a signal (status %d):\n%s", tag, status,
                 out ? out : "");
    assert_non_null(out);
    return out;
}

static void expect_all(const char *tag, const char *out, const char *const needles[])
{
    for (size_t i = 0; needles[i]; i++)
        if (!strstr(out, needles[i]))
            fail_msg("%s: the output does not say '%s':\n%s", tag, needles[i], out);
}

struct log_wait {
    const char *path, *needle;
};

static bool log_says(void *user)
{
    struct log_wait *w = user;
    char *text = pxt_read_file(w->path, NULL);
    bool yes = text && strstr(text, w->needle);
    free(text);
    return yes;
}

static void stores_are_checked_at_start(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, 1, bins);
    net_start_all(&net);
    if (!net_wait_height(&net, 0, 2, 60000) || !net_wait_rpc(&net, 0, 20000))
        fail_msg("the node did not start (logs in %s)", net.dir);
    /* blocks big enough that 64 KiB in the middle of the file are well inside it */
    static char tx[8001];
    for (int i = 0; i < 40; i++) {
        memset(tx, 'a' + i % 26, 8000);
        int n = snprintf(tx, sizeof(tx), "big-%02d=", i);
        tx[n] = 'v';
        assert_int_equal(net_submit_tx(&net, 0, (const uint8_t *)tx, 8000), 0);
    }
    uint64_t h = net_height(&net, 0);
    assert_true(net_wait_height(&net, 0, h + 3, 30000));
    net_stop_node(&net, 0, SIGTERM);

    char bs[400], ss[400], bs_copy[420], ss_copy[420], conf[400], conf_copy[420];
    snprintf(bs, sizeof(bs), "%s/node0/data/blockstore.db", net.dir);
    snprintf(ss, sizeof(ss), "%s/node0/data/state.db", net.dir);
    snprintf(conf, sizeof(conf), "%s/node0/config/node.conf", net.dir);
    snprintf(bs_copy, sizeof(bs_copy), "%s.copy", bs);
    snprintf(ss_copy, sizeof(ss_copy), "%s.copy", ss);
    snprintf(conf_copy, sizeof(conf_copy), "%s.copy", conf);
    copy_file(bs, bs_copy);
    copy_file(ss, ss_copy);
    size_t len = file_size(bs);
    if (len < 4 * 65536)
        fail_msg("blockstore.db holds only %zu bytes", len);

    /* damage in the middle of the block store */
    assert_int_equal(pxt_damage_file(bs, len / 2, 65536, 21), 0);
    char *out = start_refused(&net, "blockstore");
    const char *const want_bs[] = {
        "the block store", bs,  "is damaged", "restore blockstore.db and state.db from one backup",
        "resync the node", NULL};
    expect_all("damaged blockstore.db", out, want_bs);
    free(out);
    copy_file(bs_copy, bs);

    /* damage in the state store (a small file: everything after its first page) */
    size_t sl = file_size(ss);
    assert_true(sl > 4096);
    assert_int_equal(pxt_damage_file(ss, 4096, sl - 4096 < 65536 ? sl - 4096 : 65536, 5), 0);
    out = start_refused(&net, "state");
    const char *const want_ss[] = {"the state store", ss, "is damaged", "resync the node", NULL};
    expect_all("damaged state.db", out, want_ss);
    free(out);
    copy_file(ss_copy, ss);

    /* the block store lost: its app is up, the handshake refuses */
    assert_int_equal(unlink(bs), 0);
    out = start_refused(&net, "lost");
    const char *const want_lost[] = {"block store", bs, "is empty but the state store",
                                     "resync the node", NULL};
    expect_all("deleted blockstore.db", out, want_lost);
    free(out);
    copy_file(bs_copy, bs);

    /* everything back: the node starts and commits */
    h = net_height(&net, 0);
    net_start_node(&net, 0);
    if (!net_wait_height(&net, 0, h + 2, 30000))
        fail_msg("the node did not commit after its stores came back (logs in %s)", net.dir);
    net_stop_node(&net, 0, SIGTERM);

    /* an empty node.conf: a warning naming the file (the node then waits for an app on
     * the default address; it is stopped once the line is there) */
    copy_file(conf, conf_copy);
    assert_int_equal(pxt_write_file(conf, "", 0), 0);
    char home[400], log[420];
    snprintf(home, sizeof(home), "%s/node0", net.dir);
    snprintf(log, sizeof(log), "%s/node0/empty-conf.log", net.dir);
    const char *argv[] = {net.phalanxd, "--home", home, NULL};
    pid_t pid = pxt_spawn(argv, log);
    assert_true(pid > 0);
    struct log_wait w = {log, "every option is at its default"};
    bool warned = pxt_wait_until(log_says, &w, 20000);
    pxt_stop(pid, SIGTERM, 10000, NULL);
    char *text = pxt_read_file(log, NULL);
    assert_non_null(text);
    if (!warned)
        fail_msg("no warning about an empty node.conf:\n%s", text);
    const char *line = strstr(text, "every option is at its default");
    while (line > text && line[-1] != '\n')
        line--;
    const char *end = strchr(line, '\n');
    char one[2048];
    snprintf(one, sizeof(one), "%.*s", end ? (int)(end - line) : (int)strlen(line), line);
    const char *const want_conf[] = {"WARN", conf, "p2p listens on all interfaces", "0.0.0.0",
                                     NULL};
    expect_all("empty node.conf", one, want_conf);
    free(text);
    copy_file(conf_copy, conf);
    net_destroy(&net);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_node_start PHALANX PHALANXD KVLEDGER\n");
        return 2;
    }
    bins[0] = argv[1];
    bins[1] = argv[2];
    bins[2] = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stores_are_checked_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
