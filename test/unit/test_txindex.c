/* Unit tests of txindex: index heights, find by attribute in a height range and order,
 * caps, re-indexing a height replaces it, rollback, limits, read-only handles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_error.h"
#include "px_test.h"
#include "txindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
    char dir[256];
    char path[300];
    struct txindex *x;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(pxt_tmpdir("txindex", f->dir, sizeof(f->dir)), 0);
    snprintf(f->path, sizeof(f->path), "%s/txindex.db", f->dir);
    assert_int_equal(txindex_open(f->path, false, &f->x), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    txindex_close(f->x);
    pxt_rmtree(f->dir);
    free(f);
    return 0;
}

/* heights 1..10: tx 0 sets key "k<h%3>", tx 1 transfers from "alice" on even heights */
static void fill(struct txindex *x)
{
    for (uint64_t h = 1; h <= 10; h++) {
        char v[16];
        snprintf(v, sizeof(v), "k%llu", (unsigned long long)(h % 3));
        assert_int_equal(txindex_begin(x, h), 0);
        assert_int_equal(txindex_add_tx(x, 0, "kv.key", v), 0);
        if (h % 2 == 0)
            assert_int_equal(txindex_add_tx(x, 1, "transfer.sender", "alice"), 0);
        assert_int_equal(txindex_add_block(x, "block.parity", h % 2 ? "odd" : "even"), 0);
        assert_int_equal(txindex_commit(x), 0);
    }
}

static void find_by_attribute(void **state)
{
    struct fx *f = *state;
    assert_true(txindex_height(f->x) == 0);
    fill(f->x);
    assert_true(txindex_height(f->x) == 10);
    uint64_t hits[16][2];
    size_t n;
    bool more;
    assert_int_equal(txindex_find_txs(f->x, "kv.key", "k1", 1, 10, false, hits, 16, &n, &more), 0);
    assert_int_equal(n, 4); /* 1, 4, 7, 10 */
    assert_false(more);
    assert_true(hits[0][0] == 1 && hits[3][0] == 10 && hits[0][1] == 0);
    assert_int_equal(txindex_find_txs(f->x, "kv.key", "k1", 2, 8, true, hits, 16, &n, &more), 0);
    assert_int_equal(n, 2);
    assert_true(hits[0][0] == 7 && hits[1][0] == 4);
    assert_int_equal(
        txindex_find_txs(f->x, "transfer.sender", "alice", 1, 10, false, hits, 16, &n, &more), 0);
    assert_int_equal(n, 5);
    assert_true(hits[0][1] == 1);
    assert_int_equal(txindex_find_txs(f->x, "kv.key", "nope", 1, 10, false, hits, 16, &n, &more),
                     0);
    assert_int_equal(n, 0);
    uint64_t hs[16];
    assert_int_equal(
        txindex_find_blocks(f->x, "block.parity", "even", 1, 10, false, hs, 16, &n, &more), 0);
    assert_int_equal(n, 5);
    assert_true(hs[0] == 2 && hs[4] == 10);
}

static void cap_reports_more(void **state)
{
    struct fx *f = *state;
    fill(f->x);
    uint64_t hits[2][2];
    size_t n;
    bool more;
    assert_int_equal(
        txindex_find_txs(f->x, "transfer.sender", "alice", 1, 10, false, hits, 2, &n, &more), 0);
    assert_int_equal(n, 2);
    assert_true(more);
}

static void reindex_replaces_and_rollback_keeps(void **state)
{
    struct fx *f = *state;
    fill(f->x);
    assert_int_equal(txindex_begin(f->x, 4), 0);
    assert_int_equal(txindex_add_tx(f->x, 0, "kv.key", "changed"), 0);
    assert_int_equal(txindex_commit(f->x), 0);
    uint64_t hits[16][2];
    size_t n;
    bool more;
    assert_int_equal(txindex_find_txs(f->x, "kv.key", "k1", 1, 10, false, hits, 16, &n, &more), 0);
    assert_int_equal(n, 3); /* height 4 no longer has k1 */
    assert_int_equal(txindex_begin(f->x, 11), 0);
    assert_int_equal(txindex_begin(f->x, 12), PX_ESTATE);
    assert_int_equal(txindex_add_tx(f->x, 0, "kv.key", "k1"), 0);
    txindex_rollback(f->x);
    assert_int_equal(txindex_find_txs(f->x, "kv.key", "k1", 1, 20, false, hits, 16, &n, &more), 0);
    assert_int_equal(n, 3);
    assert_true(txindex_height(f->x) == 10);
    assert_int_equal(txindex_add_tx(f->x, 0, "kv.key", "x"), PX_ESTATE);
}

static void limits_and_readonly(void **state)
{
    struct fx *f = *state;
    char big[TXINDEX_VALUE_MAX + 2];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(txindex_begin(f->x, 1), 0);
    assert_int_equal(txindex_add_tx(f->x, 0, "kv.key", big), 0); /* skipped, not an error */
    assert_int_equal(txindex_add_tx(f->x, 0, "", "v"), 0);
    assert_int_equal(txindex_commit(f->x), 0);
    uint64_t hits[4][2];
    size_t n;
    bool more;
    assert_int_equal(txindex_find_txs(f->x, "kv.key", big, 1, 1, false, hits, 4, &n, &more), 0);
    assert_int_equal(n, 0);
    assert_int_equal(txindex_begin(f->x, 0), PX_EINVAL);
    struct txindex *ro;
    assert_int_equal(txindex_open(f->path, true, &ro), 0);
    assert_int_equal(txindex_begin(ro, 2), PX_EPERM);
    assert_true(txindex_height(ro) == 1);
    txindex_close(ro);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(find_by_attribute, setup, teardown),
        cmocka_unit_test_setup_teardown(cap_reports_more, setup, teardown),
        cmocka_unit_test_setup_teardown(reindex_replaces_and_rollback_keeps, setup, teardown),
        cmocka_unit_test_setup_teardown(limits_and_readonly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
