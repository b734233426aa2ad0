/* Unit tests of the test helpers themselves: temp dirs, spawn/stop by PID, waiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_error.h"
#include "px_test.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

static void tmpdir_made_and_removed(void **state)
{
    (void)state;
    char dir[256], file[300];
    assert_int_equal(pxt_tmpdir("unit", dir, sizeof(dir)), 0);
    snprintf(file, sizeof(file), "%s/f", dir);
    assert_int_equal(pxt_write_file(file, "abc", 3), 0);
    size_t n;
    char *back = pxt_read_file(file, &n);
    assert_non_null(back);
    assert_int_equal(n, 3);
    assert_string_equal(back, "abc");
    free(back);
    assert_int_equal(pxt_rmtree(dir), 0);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
    assert_int_equal(pxt_rmtree("/etc"), PX_EPERM);
}

static bool exited(void *user)
{
    int *pid = user;
    return !pxt_running(*pid, NULL);
}

static void spawn_and_wait_exit(void **state)
{
    (void)state;
    const char *argv[] = {"/bin/true", NULL};
    pid_t pid = pxt_spawn(argv, NULL);
    assert_true(pid > 0);
    int p = pid;
    assert_true(pxt_wait_until(exited, &p, 10000));
    assert_int_equal(pxt_stop(pid, SIGTERM, 100, NULL), PX_ENOTFOUND);
}

static bool log_says_started(void *user)
{
    char *out = pxt_read_file(user, NULL);
    bool yes = out && strstr(out, "started");
    free(out);
    return yes;
}

static void stop_running_child(void **state)
{
    (void)state;
    /* a child that would run for a long time unless stopped */
    char dir[256], log[300];
    assert_int_equal(pxt_tmpdir("unit", dir, sizeof(dir)), 0);
    snprintf(log, sizeof(log), "%s/log", dir);
    const char *sh[] = {"/bin/sh", "-c", "echo started; exec tail -f /dev/null", NULL};
    pid_t pid = pxt_spawn(sh, log);
    assert_true(pid > 0);
    assert_true(pxt_running(pid, NULL));
    assert_true(pxt_wait_until(log_says_started, log, 10000));
    int status = 0;
    assert_int_equal(pxt_stop(pid, SIGTERM, 5000, &status), 0);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    pxt_rmtree(dir);
}

static void run_to_the_end(void **state)
{
    (void)state;
    char dir[256], log[300];
    assert_int_equal(pxt_tmpdir("unit", dir, sizeof(dir)), 0);
    snprintf(log, sizeof(log), "%s/run.log", dir);
    const char *ok[] = {"/bin/sh", "-c", "echo hello; exit 3", NULL};
    int status = 0;
    char *out = NULL;
    assert_int_equal(pxt_run(ok, log, 10000, &status, &out), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_non_null(strstr(out, "hello"));
    free(out);
    const char *slow[] = {"/bin/sh", "-c", "exec tail -f /dev/null", NULL};
    assert_int_equal(pxt_run(slow, log, 50, &status, NULL), PX_ETIMEDOUT);
    pxt_rmtree(dir);
}

static bool never(void *user)
{
    (void)user;
    return false;
}

static void wait_until_times_out(void **state)
{
    (void)state;
    assert_false(pxt_wait_until(never, NULL, 20));
}

static void free_ports(void **state)
{
    (void)state;
    assert_true(pxt_free_port() > 0);
    uint16_t base = pxt_free_port_range(4, 10);
    assert_true(base >= 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tmpdir_made_and_removed), cmocka_unit_test(spawn_and_wait_exit),
        cmocka_unit_test(stop_running_child),      cmocka_unit_test(run_to_the_end),
        cmocka_unit_test(wait_until_times_out),    cmocka_unit_test(free_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
