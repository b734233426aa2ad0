/* Unit tests of blockstore: save/load, contiguity, replay, conflict, tx index, prune,
 * rollback of the top, durability across reopen, read-only handles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "blockstore.h"
#include "px_error.h"
#include "px_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
    char dir[256];
    char path[300];
    struct blockstore *bs;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_int_equal(pxt_tmpdir("blockstore", f->dir, sizeof(f->dir)), 0);
    snprintf(f->path, sizeof(f->path), "%s/blockstore.db", f->dir);
    assert_int_equal(blockstore_open(f->path, &f->bs), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    blockstore_close(f->bs);
    pxt_rmtree(f->dir);
    free(f);
    return 0;
}

static void meta_for(struct blockstore_meta *m, uint64_t h, uint8_t variant, uint32_t ntx)
{
    memset(m, 0, sizeof(*m));
    m->height = h;
    memset(m->hash, (int)(h * 7 + variant), 32);
    m->hash[0] = variant;
    m->time_ns = 1000 + h;
    m->num_txs = ntx;
    m->size_bytes = 100 + h;
    m->app_hash_len = 32;
    memset(m->app_hash, (int)h, 32);
    memset(m->proposer_address, 0xAB, 20);
}

static int save(struct blockstore *bs, uint64_t h, uint8_t variant)
{
    struct blockstore_meta m;
    uint8_t txs[3][32];
    for (int i = 0; i < 3; i++)
        memset(txs[i], (int)(h * 3 + (uint64_t)i), 32);
    meta_for(&m, h, variant, 3);
    char block[32], commit[32];
    snprintf(block, sizeof(block), "block-%llu-%u", (unsigned long long)h, variant);
    snprintf(commit, sizeof(commit), "commit-%llu", (unsigned long long)h);
    return blockstore_save(bs, &m, (const uint8_t *)block, strlen(block), (const uint8_t *)commit,
                           strlen(commit), (const uint8_t(*)[32])txs);
}

static void save_and_load(void **state)
{
    struct fx *f = *state;
    uint64_t base, top;
    blockstore_range(f->bs, &base, &top);
    assert_true(base == 0 && top == 0);
    for (uint64_t h = 1; h <= 5; h++)
        assert_int_equal(save(f->bs, h, 0), 0);
    blockstore_range(f->bs, &base, &top);
    assert_true(base == 1 && top == 5);
    uint8_t *data;
    size_t len;
    assert_int_equal(blockstore_load_block(f->bs, 3, &data, &len), 0);
    assert_int_equal(len, strlen("block-3-0"));
    assert_memory_equal(data, "block-3-0", len);
    free(data);
    assert_int_equal(blockstore_load_commit(f->bs, 4, &data, &len), 0);
    assert_memory_equal(data, "commit-4", len);
    free(data);
    assert_int_equal(blockstore_load_block(f->bs, 6, &data, &len), PX_ENOTFOUND);
    assert_null(data);
    struct blockstore_meta m, want;
    meta_for(&want, 2, 0, 3);
    assert_int_equal(blockstore_load_meta(f->bs, 2, &m), 0);
    assert_memory_equal(&m, &want, sizeof(m));
    uint64_t h;
    assert_int_equal(blockstore_find_hash(f->bs, want.hash, &h), 0);
    assert_true(h == 2);
}

static void heights_must_be_contiguous(void **state)
{
    struct fx *f = *state;
    assert_int_equal(save(f->bs, 10, 0), 0); /* first saved height becomes the base */
    assert_int_equal(save(f->bs, 12, 0), PX_EINVAL);
    assert_int_equal(save(f->bs, 11, 0), 0);
    assert_int_equal(save(f->bs, 9, 0), PX_EINVAL); /* below the base */
}

static void replay_is_noop_conflict_refused(void **state)
{
    struct fx *f = *state;
    assert_int_equal(save(f->bs, 1, 0), 0);
    assert_int_equal(save(f->bs, 2, 0), 0);
    assert_int_equal(save(f->bs, 2, 0), 0);
    assert_int_equal(save(f->bs, 1, 0), 0);
    assert_int_equal(save(f->bs, 2, 1), PX_ECONFLICT);
    uint8_t *data;
    size_t len;
    assert_int_equal(blockstore_load_block(f->bs, 2, &data, &len), 0);
    assert_memory_equal(data, "block-2-0", len);
    free(data);
}

static void tx_index_and_commit_update(void **state)
{
    struct fx *f = *state;
    for (uint64_t h = 1; h <= 3; h++)
        assert_int_equal(save(f->bs, h, 0), 0);
    uint8_t tx[32];
    memset(tx, 2 * 3 + 1, 32); /* height 2, index 1 */
    uint64_t h;
    uint32_t idx;
    assert_int_equal(blockstore_find_tx(f->bs, tx, &h, &idx), 0);
    assert_true(h == 2 && idx == 1);
    memset(tx, 0xEE, 32);
    assert_int_equal(blockstore_find_tx(f->bs, tx, &h, &idx), PX_ENOTFOUND);
    assert_int_equal(blockstore_save_commit(f->bs, 2, (const uint8_t *)"fuller", 6), 0);
    uint8_t *data;
    size_t len;
    assert_int_equal(blockstore_load_commit(f->bs, 2, &data, &len), 0);
    assert_memory_equal(data, "fuller", 6);
    free(data);
    assert_int_equal(blockstore_save_commit(f->bs, 9, (const uint8_t *)"x", 1), PX_ENOTFOUND);
}

static void prune_and_delete_top(void **state)
{
    struct fx *f = *state;
    for (uint64_t h = 1; h <= 6; h++)
        assert_int_equal(save(f->bs, h, 0), 0);
    uint64_t pruned, base, top;
    assert_int_equal(blockstore_prune(f->bs, 7, &pruned), PX_EINVAL);
    assert_int_equal(blockstore_prune(f->bs, 4, &pruned), 0);
    assert_true(pruned == 3);
    blockstore_range(f->bs, &base, &top);
    assert_true(base == 4 && top == 6);
    uint8_t tx[32];
    memset(tx, 1 * 3 + 0, 32);
    uint64_t h;
    uint32_t idx;
    assert_int_equal(blockstore_find_tx(f->bs, tx, &h, &idx), PX_ENOTFOUND);
    assert_int_equal(blockstore_delete_top(f->bs), 0);
    blockstore_range(f->bs, &base, &top);
    assert_true(top == 5);
    assert_int_equal(save(f->bs, 6, 1), 0); /* a different block may now take height 6 */
}

static void survives_reopen_and_readonly(void **state)
{
    struct fx *f = *state;
    for (uint64_t h = 1; h <= 3; h++)
        assert_int_equal(save(f->bs, h, 0), 0);
    blockstore_close(f->bs);
    assert_int_equal(blockstore_open(f->path, &f->bs), 0);
    struct blockstore *ro;
    assert_int_equal(blockstore_open_readonly(f->path, &ro), 0);
    uint64_t base, top;
    blockstore_range(ro, &base, &top);
    assert_true(base == 1 && top == 3);
    assert_int_equal(save(ro, 4, 0), PX_EPERM);
    assert_int_equal(save(f->bs, 4, 0), 0);
    blockstore_range(ro, &base, &top);
    assert_true(top == 4); /* the reader sees the writer's commits */
    blockstore_close(ro);
}

static void not_a_database(void **state)
{
    struct fx *f = *state;
    char bad[320];
    snprintf(bad, sizeof(bad), "%s/garbage.db", f->dir);
    char junk[4096];
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(pxt_write_file(bad, junk, sizeof(junk)), 0);
    struct blockstore *bs = NULL;
    assert_true(blockstore_open(bad, &bs) < 0);
    assert_null(bs);
}

/* A store big enough that 64 KiB in its middle hold pages of both tables. */
static void fill(struct blockstore *bs, uint64_t heights)
{
    uint8_t block[2048];
    for (uint64_t h = 1; h <= heights; h++) {
        struct blockstore_meta m;
        uint8_t txs[3][32];
        for (int i = 0; i < 3; i++) {
            memset(txs[i], (int)(h * 3 + (uint64_t)i), 32);
            txs[i][31] = (uint8_t)(h >> 8);
        }
        meta_for(&m, h, 0, 3);
        m.hash[1] = (uint8_t)(h >> 8);
        memset(block, (int)h, sizeof(block));
        assert_int_equal(
            blockstore_save(bs, &m, block, sizeof(block), block, 200, (const uint8_t(*)[32])txs),
            0);
    }
}

/* Issue 21: a block store with 64 KiB overwritten mid-file opened fine and failed at the
 * next commit ("data corrupted", forever); the start-up check finds the damage. */
static void check_finds_damage(void **state)
{
    struct fx *f = *state;
    char detail[256];
    bool full = false;
    /* sound, empty or not */
    assert_int_equal(blockstore_check(f->bs, UINT64_MAX, &full, detail, sizeof(detail)), 0);
    assert_true(full);
    fill(f->bs, 300);
    assert_int_equal(blockstore_check(f->bs, UINT64_MAX, &full, detail, sizeof(detail)), 0);
    assert_true(full);
    /* a big store (above the bound) gets the probe of its ends only */
    assert_int_equal(blockstore_check(f->bs, 4096, &full, detail, sizeof(detail)), 0);
    assert_false(full);
    assert_string_equal(blockstore_path(f->bs), f->path);
    blockstore_close(f->bs);
    size_t len = 0;
    char *all = pxt_read_file(f->path, &len);
    assert_non_null(all);
    free(all);
    assert_true(len > 4 * 65536);
    assert_int_equal(pxt_damage_file(f->path, len / 2, 65536, 21), 0);
    assert_int_equal(blockstore_open(f->path, &f->bs), 0); /* opening does not see it */
    int err = blockstore_check(f->bs, UINT64_MAX, &full, detail, sizeof(detail));
    if (err != PX_ECORRUPT)
        fail_msg("check of a damaged store: %d (%s)", err, detail);
    assert_true(full);
    assert_true(detail[0] != '\0');
    print_message("damage found: %s\n", detail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(save_and_load, setup, teardown),
        cmocka_unit_test_setup_teardown(heights_must_be_contiguous, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_is_noop_conflict_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(tx_index_and_commit_update, setup, teardown),
        cmocka_unit_test_setup_teardown(prune_and_delete_top, setup, teardown),
        cmocka_unit_test_setup_teardown(survives_reopen_and_readonly, setup, teardown),
        cmocka_unit_test_setup_teardown(not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(check_finds_damage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
