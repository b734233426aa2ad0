/* Unit tests of statestore: put/get, latest at or below, atomic groups, prune keeps the
 * latest record per kind, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_error.h"
#include "px_test.h"
#include "statestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
    char dir[256];
    char path[300];
    struct statestore *ss;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(pxt_tmpdir("statestore", f->dir, sizeof(f->dir)), 0);
    snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
    assert_int_equal(statestore_open(f->path, &f->ss), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    statestore_close(f->ss);
    pxt_rmtree(f->dir);
    free(f);
    return 0;
}

static int put_str(struct statestore *ss, enum statestore_kind k, uint64_t h, const char *s)
{
    return statestore_put(ss, k, h, (const uint8_t *)s, strlen(s));
}

static void expect_str(struct statestore *ss, enum statestore_kind k, uint64_t h, const char *s)
{
    uint8_t *v;
    size_t n;
    assert_int_equal(statestore_get(ss, k, h, &v, &n), 0);
    assert_int_equal(n, strlen(s));
    assert_memory_equal(v, s, n);
    free(v);
}

static void put_get_replace(void **state)
{
    struct fx *f = *state;
    assert_int_equal(put_str(f->ss, STATESTORE_STATE, 1, "s1"), 0);
    assert_int_equal(put_str(f->ss, STATESTORE_VALIDATORS, 1, "v1"), 0);
    expect_str(f->ss, STATESTORE_STATE, 1, "s1");
    expect_str(f->ss, STATESTORE_VALIDATORS, 1, "v1");
    assert_int_equal(put_str(f->ss, STATESTORE_STATE, 1, "s1b"), 0);
    expect_str(f->ss, STATESTORE_STATE, 1, "s1b");
    uint8_t *v;
    size_t n;
    assert_int_equal(statestore_get(f->ss, STATESTORE_RESULTS, 1, &v, &n), PX_ENOTFOUND);
    assert_int_equal(statestore_put(f->ss, STATESTORE_STATE, 2, NULL, 0), 0);
    assert_int_equal(statestore_get(f->ss, STATESTORE_STATE, 2, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
}

static void latest_at_or_below(void **state)
{
    struct fx *f = *state;
    put_str(f->ss, STATESTORE_VALIDATORS, 1, "v1");
    put_str(f->ss, STATESTORE_VALIDATORS, 5, "v5");
    uint8_t *v;
    size_t n;
    uint64_t found;
    assert_int_equal(statestore_get_latest(f->ss, STATESTORE_VALIDATORS, 4, &found, &v, &n), 0);
    assert_true(found == 1);
    assert_memory_equal(v, "v1", 2);
    free(v);
    assert_int_equal(
        statestore_get_latest(f->ss, STATESTORE_VALIDATORS, UINT64_MAX, &found, &v, &n), 0);
    assert_true(found == 5);
    free(v);
    assert_int_equal(statestore_get_latest(f->ss, STATESTORE_PARAMS, 9, &found, &v, &n),
                     PX_ENOTFOUND);
}

static void groups_are_atomic(void **state)
{
    struct fx *f = *state;
    assert_int_equal(statestore_begin(f->ss), 0);
    assert_int_equal(statestore_begin(f->ss), PX_ESTATE);
    put_str(f->ss, STATESTORE_STATE, 3, "s3");
    put_str(f->ss, STATESTORE_RESULTS, 3, "r3");
    statestore_rollback(f->ss);
    uint8_t *v;
    size_t n;
    assert_int_equal(statestore_get(f->ss, STATESTORE_STATE, 3, &v, &n), PX_ENOTFOUND);
    assert_int_equal(statestore_begin(f->ss), 0);
    put_str(f->ss, STATESTORE_STATE, 3, "s3");
    put_str(f->ss, STATESTORE_RESULTS, 3, "r3");
    assert_int_equal(statestore_commit(f->ss), 0);
    assert_int_equal(statestore_commit(f->ss), PX_ESTATE);
    statestore_close(f->ss);
    assert_int_equal(statestore_open(f->path, &f->ss), 0);
    expect_str(f->ss, STATESTORE_STATE, 3, "s3");
    expect_str(f->ss, STATESTORE_RESULTS, 3, "r3");
}

static void prune_keeps_latest_per_kind(void **state)
{
    struct fx *f = *state;
    put_str(f->ss, STATESTORE_VALIDATORS, 1, "v1");
    for (uint64_t h = 1; h <= 10; h++) {
        char s[8];
        snprintf(s, sizeof(s), "s%llu", (unsigned long long)h);
        put_str(f->ss, STATESTORE_STATE, h, s);
    }
    assert_int_equal(statestore_prune(f->ss, 8), 0);
    uint8_t *v;
    size_t n;
    assert_int_equal(statestore_get(f->ss, STATESTORE_STATE, 6, &v, &n), PX_ENOTFOUND);
    expect_str(f->ss, STATESTORE_STATE, 7, "s7"); /* latest below 8 kept */
    expect_str(f->ss, STATESTORE_STATE, 8, "s8");
    expect_str(f->ss, STATESTORE_VALIDATORS, 1, "v1");
    assert_int_equal(statestore_delete(f->ss, STATESTORE_STATE, 10), 0);
    assert_int_equal(statestore_delete(f->ss, STATESTORE_STATE, 10), PX_ENOTFOUND);
}

static void limits(void **state)
{
    struct fx *f = *state;
    uint8_t b = 0;
    assert_int_equal(
        statestore_put(f->ss, STATESTORE_STATE, 1, &b, (size_t)STATESTORE_MAX_VALUE_BYTES + 1),
        PX_ETOOBIG);
    assert_int_equal(statestore_put(f->ss, STATESTORE_STATE, UINT64_MAX, &b, 1), PX_EINVAL);
    struct statestore *ro;
    assert_int_equal(statestore_open_readonly(f->path, &ro), 0);
    assert_int_equal(statestore_put(ro, STATESTORE_STATE, 1, &b, 1), PX_EPERM);
    statestore_close(ro);
}

/* Issue 21: a state store with 64 KiB overwritten mid-file; the start-up check finds it. */
static void check_finds_damage(void **state)
{
    struct fx *f = *state;
    char detail[256];
    bool full = false;
    assert_int_equal(statestore_check(f->ss, UINT64_MAX, &full, detail, sizeof(detail)), 0);
    assert_true(full);
    uint8_t v[1500];
    for (uint64_t h = 1; h <= 400; h++) {
        memset(v, (int)h, sizeof(v));
        assert_int_equal(statestore_begin(f->ss), 0);
        assert_int_equal(statestore_put(f->ss, STATESTORE_RESULTS, h, v, sizeof(v)), 0);
        assert_int_equal(statestore_put(f->ss, STATESTORE_STATE, h, v, 700), 0);
        assert_int_equal(statestore_put(f->ss, STATESTORE_VALIDATORS, h + 2, v, 300), 0);
        assert_int_equal(statestore_commit(f->ss), 0);
    }
    assert_int_equal(statestore_check(f->ss, UINT64_MAX, &full, detail, sizeof(detail)), 0);
    assert_true(full);
    assert_int_equal(statestore_check(f->ss, 4096, &full, detail, sizeof(detail)), 0);
    assert_false(full);
    assert_string_equal(statestore_path(f->ss), f->path);
    statestore_close(f->ss);
    size_t len = 0;
    char *all = pxt_read_file(f->path, &len);
    assert_non_null(all);
    free(all);
    assert_true(len > 4 * 65536);
    assert_int_equal(pxt_damage_file(f->path, len / 2, 65536, 5), 0);
    assert_int_equal(statestore_open(f->path, &f->ss), 0);
    int err = statestore_check(f->ss, UINT64_MAX, &full, detail, sizeof(detail));
    if (err != PX_ECORRUPT)
        fail_msg("check of a damaged store: %d (%s)", err, detail);
    print_message("damage found: %s\n", detail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(put_get_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(latest_at_or_below, setup, teardown),
        cmocka_unit_test_setup_teardown(groups_are_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_keeps_latest_per_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(limits, setup, teardown),
        cmocka_unit_test_setup_teardown(check_finds_damage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
