/* Unit tests of the node's indexer: events of stored FinalizeBlock results reach the event
 * index (tx and block attributes as "type.key"), catch-up indexes the heights missing,
 * undecodable results are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "abci.pb-c.h"
#include "indexer.h"
#include "px_error.h"
#include "px_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
    char dir[256];
    struct statestore *ss;
    struct txindex *x;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char p[400];
    assert_int_equal(pxt_tmpdir("indexer", f->dir, sizeof(f->dir)), 0);
    snprintf(p, sizeof(p), "%s/state.db", f->dir);
    assert_int_equal(statestore_open(p, &f->ss), 0);
    snprintf(p, sizeof(p), "%s/txindex.db", f->dir);
    assert_int_equal(txindex_open(p, false, &f->x), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    statestore_close(f->ss);
    txindex_close(f->x);
    pxt_rmtree(f->dir);
    free(f);
    return 0;
}

/* RESULTS(h): two txs, each with a "kv" event key=<h>-<i>; a block event "reward.h" = h. */
static void put_results(struct statestore *ss, uint64_t h)
{
    Phalanx__Abci__ResponseFinalizeBlock f = PHALANX__ABCI__RESPONSE_FINALIZE_BLOCK__INIT;
    Phalanx__Abci__ExecTxResult res[2], *resp[2];
    Phalanx__Abci__Event ev[2], *evp[2];
    Phalanx__Abci__EventAttribute at[2], *atp[2];
    char vals[2][32];
    for (int i = 0; i < 2; i++) {
        phalanx__abci__exec_tx_result__init(&res[i]);
        phalanx__abci__event__init(&ev[i]);
        phalanx__abci__event_attribute__init(&at[i]);
        snprintf(vals[i], sizeof(vals[i]), "%llu-%d", (unsigned long long)h, i);
        at[i].key = "key";
        at[i].value = vals[i];
        atp[i] = &at[i];
        ev[i].type = "kv";
        ev[i].n_attributes = 1;
        ev[i].attributes = &atp[i];
        evp[i] = &ev[i];
        res[i].n_events = 1;
        res[i].events = &evp[i];
        resp[i] = &res[i];
    }
    Phalanx__Abci__Event bev = PHALANX__ABCI__EVENT__INIT, *bevp = &bev;
    Phalanx__Abci__EventAttribute battr = PHALANX__ABCI__EVENT_ATTRIBUTE__INIT, *bap = &battr;
    char hv[32];
    snprintf(hv, sizeof(hv), "%llu", (unsigned long long)h);
    battr.key = "h";
    battr.value = hv;
    bev.type = "reward";
    bev.n_attributes = 1;
    bev.attributes = &bap;
    f.n_events = 1;
    f.events = &bevp;
    f.n_tx_results = 2;
    f.tx_results = resp;
    size_t len = phalanx__abci__response_finalize_block__get_packed_size(&f);
    uint8_t *buf = malloc(len);
    phalanx__abci__response_finalize_block__pack(&f, buf);
    assert_int_equal(statestore_put(ss, STATESTORE_RESULTS, h, buf, len), 0);
    free(buf);
}

static void index_one_height(void **state)
{
    struct fx *f = *state;
    put_results(f->ss, 5);
    assert_int_equal(indexer_index_height(f->x, f->ss, 5), 0);
    uint64_t hits[4][2];
    size_t n;
    bool more;
    assert_int_equal(txindex_find_txs(f->x, "kv.key", "5-1", 1, 10, false, hits, 4, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_true(hits[0][0] == 5 && hits[0][1] == 1);
    uint64_t hs[4];
    assert_int_equal(txindex_find_blocks(f->x, "reward.h", "5", 1, 10, false, hs, 4, &n, &more), 0);
    assert_int_equal(n, 1);
    assert_int_equal(indexer_index_height(f->x, f->ss, 6), PX_ENOTFOUND);
    uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(statestore_put(f->ss, STATESTORE_RESULTS, 7, junk, sizeof(junk)), 0);
    assert_int_equal(indexer_index_height(f->x, f->ss, 7), PX_EDECODE);
}

static void catch_up_indexes_what_is_missing(void **state)
{
    struct fx *f = *state;
    for (uint64_t h = 1; h <= 6; h++)
        put_results(f->ss, h);
    assert_int_equal(indexer_index_height(f->x, f->ss, 1), 0);
    assert_int_equal(indexer_index_height(f->x, f->ss, 2), 0);
    assert_int_equal(indexer_catch_up(f->x, f->ss, 1, 6), 0);
    assert_true(txindex_height(f->x) == 6);
    for (uint64_t h = 1; h <= 6; h++) {
        char v[32];
        snprintf(v, sizeof(v), "%llu-0", (unsigned long long)h);
        uint64_t hits[2][2];
        size_t n;
        bool more;
        assert_int_equal(txindex_find_txs(f->x, "kv.key", v, 1, 6, false, hits, 2, &n, &more), 0);
        assert_int_equal(n, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(index_one_height, setup, teardown),
        cmocka_unit_test_setup_teardown(catch_up_indexes_what_is_missing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
