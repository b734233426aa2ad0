/* Integration test of `phalanx inspect-wal` as a real process: a good WAL is listed and
 * accepted, a torn tail is reported (exit 0), a corrupt middle record is reported with its
 * offset (exit 1), --repair without confirmation changes nothing, --repair --yes truncates
 * with a backup after which the WAL opens, and --home finds the WAL through node.conf.
 * argv[1]: the phalanx binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_error.h"
#include "px_log.h"
#include "px_test.h"
#include "wal.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *phalanx;
static char dir[256];
static char wal_path[400];
static char log_path[300];

static int setup(void **state)
{
    (void)state;
    pxt_quiet_logs();
    assert_int_equal(pxt_tmpdir("walcli", dir, sizeof(dir)), 0);
    snprintf(wal_path, sizeof(wal_path), "%s/cs.wal", dir);
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

/* Run argv to completion; returns its exit status; *out gets its output (malloc'd). */
/* Run argv to its end; its exit status, its output in *out (malloc'd). */
static int run(const char *const argv[], char **out)
{
    return pxt_run_exit(argv, log_path, 30000, out);
}

/* header, 3 inputs, end of height 3, 2 inputs; returns the offset of the third record */
static uint64_t make_wal(void)
{
    struct wal *w;
    assert_int_equal(wal_open(wal_path, NULL, &w), 0);
    uint64_t third = 0;
    char payload[200];
    memset(payload, 'p', sizeof(payload));
    for (int i = 0; i < 3; i++) {
        if (i == 2)
            third = wal_size(w);
        assert_int_equal(wal_append(w, WAL_KIND_INPUT, payload, 50 + (size_t)i, false), 0);
    }
    assert_int_equal(wal_end_height(w, 3), 0);
    assert_int_equal(wal_append(w, WAL_KIND_OWN_MESSAGE, payload, 100, true), 0);
    assert_int_equal(wal_append(w, 77, payload, 10, true), 0);
    assert_int_equal(wal_close(w), 0);
    return third;
}

static void good_torn_and_corrupt(void **state)
{
    (void)state;
    uint64_t third = make_wal();
    char *out;
    const char *list[] = {phalanx, "inspect-wal", "--file", wal_path, NULL};
    assert_int_equal(run(list, &out), 0);
    assert_non_null(strstr(out, "6 records"));
    assert_non_null(strstr(out, ": OK"));
    assert_non_null(strstr(out, "end_height"));
    assert_non_null(strstr(out, "height=3"));
    assert_non_null(strstr(out, "own_message"));
    assert_non_null(strstr(out, "kind=77"));
    free(out);

    size_t len;
    char *orig = pxt_read_file(wal_path, &len);
    assert_non_null(orig);
    /* torn tail: the last record cut short */
    assert_int_equal(pxt_write_file(wal_path, orig, len - 3), 0);
    assert_int_equal(run(list, &out), 0);
    assert_non_null(strstr(out, "torn tail"));
    free(out);

    /* corrupt middle record */
    orig[third + 20] ^= 0x40;
    assert_int_equal(pxt_write_file(wal_path, orig, len), 0);
    assert_int_equal(run(list, &out), 1);
    char want[80];
    snprintf(want, sizeof(want), "CORRUPT record at offset %" PRIu64, third);
    if (!strstr(out, want))
        fail_msg("output lacks '%s':\n%s", want, out);
    assert_non_null(strstr(out, "--repair"));
    free(out);
    struct wal *w = NULL;
    assert_int_equal(wal_open(wal_path, NULL, &w), PX_ECORRUPT);

    /* --repair without a "y" changes nothing */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "exec '%s' inspect-wal --file '%s' --repair < /dev/null", phalanx,
             wal_path);
    const char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(run(sh, &out), 1);
    assert_non_null(strstr(out, "not repaired"));
    free(out);
    size_t len2;
    char *now = pxt_read_file(wal_path, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(now, orig, len);
    free(now);

    /* --repair --yes: truncated at the bad record, full backup kept */
    const char *fix[] = {phalanx, "inspect-wal", "--file", wal_path, "--repair", "--yes", NULL};
    assert_int_equal(run(fix, &out), 0);
    assert_non_null(strstr(out, "repaired"));
    free(out);
    assert_int_equal(wal_open(wal_path, NULL, &w), 0);
    assert_int_equal(wal_size(w), third);
    assert_int_equal(wal_close(w), 0);
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "cs.wal.corrupt-", 15) != 0)
            continue;
        char bpath[600];
        snprintf(bpath, sizeof(bpath), "%s/%s", dir, e->d_name);
        char *bak = pxt_read_file(bpath, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(bak, orig, len);
        free(bak);
        found = true;
    }
    closedir(d);
    assert_true(found);
    free(orig);
    /* and now it is good */
    assert_int_equal(run(list, &out), 0);
    assert_non_null(strstr(out, "2 records"));
    free(out);
}

static void home_and_usage(void **state)
{
    (void)state;
    char home[300];
    snprintf(home, sizeof(home), "%s/home", dir);
    char *out;
    const char *init[] = {phalanx, "init", "--home", home, "--chain-id", "wal-test", NULL};
    assert_int_equal(run(init, &out), 0);
    free(out);
    snprintf(wal_path, sizeof(wal_path), "%s/data/cs.wal", home);
    make_wal();
    const char *list[] = {phalanx, "inspect-wal", "--home", home, "--quiet", NULL};
    assert_int_equal(run(list, &out), 0);
    assert_non_null(strstr(out, "data/cs.wal: 6 records"));
    assert_null(strstr(out, "own_message")); /* --quiet */
    free(out);
    const char *both[] = {phalanx, "inspect-wal", "--home", home, "--file", wal_path, NULL};
    assert_int_equal(run(both, &out), 2);
    free(out);
    const char *missing[] = {phalanx, "inspect-wal", "--file", "/nonexistent/cs.wal", NULL};
    assert_int_equal(run(missing, &out), 1);
    assert_non_null(strstr(out, "no such file"));
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
        cmocka_unit_test_setup_teardown(good_torn_and_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(home_and_usage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
