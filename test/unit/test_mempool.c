/* Unit tests of mempool: limits, dedup and cache, FIFO reaping by bytes and gas, update
 * after a block, recheck removal, gossip iteration, concurrent adders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mempool.h"
#include "px_test.h"
#include "px_error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mempool *make(uint32_t max_txs, uint64_t max_bytes, uint32_t max_tx, uint32_t cache,
                            bool keep_invalid)
{
    struct mempool_config c = {max_txs, max_bytes, max_tx, cache, keep_invalid};
    struct mempool *mp = NULL;
    assert_int_equal(mempool_new(&c, &mp), 0);
    return mp;
}

static int add(struct mempool *mp, const char *tx, int64_t gas)
{
    int rc = mempool_precheck(mp, (const uint8_t *)tx, strlen(tx));
    if (rc)
        return rc;
    return mempool_insert(mp, (const uint8_t *)tx, strlen(tx), gas, 1);
}

static void bad_config(void **state)
{
    (void)state;
    struct mempool_config c = {0, 10, 10, 10, false};
    struct mempool *mp = NULL;
    assert_int_equal(mempool_new(&c, &mp), PX_EINVAL);
    assert_null(mp);
}

static void limits_enforced(void **state)
{
    (void)state;
    struct mempool *mp = make(3, 20, 8, 100, false);
    assert_int_equal(add(mp, "123456789", 1), PX_ETOOBIG);
    assert_int_equal(mempool_precheck(mp, (const uint8_t *)"", 0), PX_EINVAL);
    assert_int_equal(add(mp, "aaaaaaa", 1), 0);
    assert_int_equal(add(mp, "bbbbbbb", 1), 0);
    assert_int_equal(add(mp, "ccccccc", 1), PX_EBOUND); /* 21 bytes > 20 */
    assert_int_equal(add(mp, "cc", 1), 0);
    assert_int_equal(add(mp, "d", 1), PX_EBOUND); /* 3 txs */
    struct mempool_stats st;
    mempool_stats(mp, &st);
    assert_int_equal(st.txs, 3);
    assert_int_equal(st.bytes, 16);
    assert_true(st.refused_full == 2 && st.refused_too_big == 2);
    mempool_free(mp);
}

static void duplicates_and_cache(void **state)
{
    (void)state;
    struct mempool *mp = make(10, 1000, 100, 2, false);
    assert_int_equal(add(mp, "tx1", 1), 0);
    assert_int_equal(add(mp, "tx1", 1), PX_EEXIST);
    /* a tx being checked (prechecked, not inserted) is also a duplicate */
    assert_int_equal(mempool_precheck(mp, (const uint8_t *)"tx2", 3), 0);
    assert_int_equal(mempool_precheck(mp, (const uint8_t *)"tx2", 3), PX_EEXIST);
    /* the app rejects it: it may be sent again */
    mempool_reject(mp, (const uint8_t *)"tx2", 3);
    assert_int_equal(mempool_precheck(mp, (const uint8_t *)"tx2", 3), 0);
    mempool_reject(mp, (const uint8_t *)"tx2", 3);
    /* the cache holds 2 hashes; tx1 is still deduplicated by the pool itself */
    assert_int_equal(add(mp, "tx3", 1), 0);
    assert_int_equal(add(mp, "tx4", 1), 0);
    assert_int_equal(add(mp, "tx1", 1), PX_EEXIST);
    mempool_free(mp);
}

static void keep_invalid_in_cache(void **state)
{
    (void)state;
    struct mempool *mp = make(10, 1000, 100, 10, true);
    assert_int_equal(mempool_precheck(mp, (const uint8_t *)"bad", 3), 0);
    mempool_reject(mp, (const uint8_t *)"bad", 3);
    assert_int_equal(mempool_precheck(mp, (const uint8_t *)"bad", 3), PX_EEXIST);
    mempool_free(mp);
}

static void reap_fifo_by_bytes_and_gas(void **state)
{
    (void)state;
    struct mempool *mp = make(100, 10000, 100, 100, false);
    char tx[16];
    for (int i = 0; i < 10; i++) {
        snprintf(tx, sizeof(tx), "tx-%02d", i); /* 5 bytes each */
        assert_int_equal(add(mp, tx, 10), 0);
    }
    struct mempool_tx *txs;
    size_t n;
    assert_int_equal(mempool_reap(mp, 22, 0, -1, 100, &txs, &n), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        snprintf(tx, sizeof(tx), "tx-%02d", (int)i);
        assert_memory_equal(txs[i].data, tx, 5);
        if (i)
            assert_true(txs[i].seq > txs[i - 1].seq);
    }
    mempool_txs_free(txs, n);
    assert_int_equal(mempool_reap(mp, 10000, 0, 35, 100, &txs, &n), 0);
    assert_int_equal(n, 3);
    mempool_txs_free(txs, n);
    assert_int_equal(mempool_reap(mp, 10000, 0, -1, 2, &txs, &n), 0);
    assert_int_equal(n, 2);
    mempool_txs_free(txs, n);
    /* with each tx's framing counted (5 + 11 bytes): exactly what fits, nothing to trim */
    assert_int_equal(mempool_reap(mp, 47, 11, -1, 100, &txs, &n), 0);
    assert_int_equal(n, 2);
    mempool_txs_free(txs, n);
    assert_int_equal(mempool_reap(mp, 48, 11, -1, 100, &txs, &n), 0);
    assert_int_equal(n, 3);
    mempool_txs_free(txs, n);
    assert_int_equal(mempool_reap(mp, 15, 11, -1, 100, &txs, &n), 0);
    assert_int_equal(n, 0);
    assert_null(txs);
    /* reaping does not remove */
    struct mempool_stats st;
    mempool_stats(mp, &st);
    assert_int_equal(st.txs, 10);
    mempool_free(mp);
}

static void update_removes_committed_forever(void **state)
{
    (void)state;
    struct mempool *mp = make(100, 10000, 100, 100, false);
    assert_int_equal(add(mp, "a", 1), 0);
    assert_int_equal(add(mp, "b", 1), 0);
    assert_int_equal(add(mp, "c", 1), 0);
    uint8_t h[2][32];
    mempool_tx_hash((const uint8_t *)"a", 1, h[0]);
    mempool_tx_hash((const uint8_t *)"zz", 2, h[1]); /* committed elsewhere, never here */
    mempool_update(mp, 2, (const uint8_t(*)[32])h, 2);
    assert_false(mempool_contains(mp, h[0]));
    assert_int_equal(add(mp, "a", 1), PX_EEXIST);
    assert_int_equal(add(mp, "zz", 1), PX_EEXIST);
    struct mempool_tx *txs;
    size_t n;
    assert_int_equal(mempool_reap(mp, 1000, 0, -1, 100, &txs, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(txs[0].data, "b", 1);
    mempool_txs_free(txs, n);
    /* recheck failure */
    uint8_t hb[32];
    mempool_tx_hash((const uint8_t *)"b", 1, hb);
    assert_int_equal(mempool_remove(mp, hb, true), 0);
    assert_int_equal(mempool_remove(mp, hb, true), PX_ENOTFOUND);
    assert_int_equal(add(mp, "b", 1), 0); /* forgotten: may come back */
    struct mempool_stats st;
    mempool_stats(mp, &st);
    assert_true(st.evicted_committed == 1 && st.failed_recheck == 1);
    mempool_free(mp);
}

static void gossip_iteration(void **state)
{
    (void)state;
    struct mempool *mp = make(100, 10000, 100, 100, false);
    char tx[16];
    for (int i = 0; i < 5; i++) {
        snprintf(tx, sizeof(tx), "g%d", i);
        assert_int_equal(add(mp, tx, 1), 0);
    }
    struct mempool_tx *txs;
    size_t n;
    assert_int_equal(mempool_after(mp, 0, 2, &txs, &n), 0);
    assert_int_equal(n, 2);
    uint64_t last = txs[1].seq;
    mempool_txs_free(txs, n);
    assert_int_equal(mempool_after(mp, last, 100, &txs, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(txs[0].data, "g2", 2);
    uint64_t newest = txs[2].seq;
    mempool_txs_free(txs, n);
    /* nothing after the newest: an empty answer owns no memory (ASan checks) */
    assert_int_equal(mempool_after(mp, newest, 100, &txs, &n), 0);
    assert_int_equal(n, 0);
    assert_null(txs);
    mempool_flush(mp);
    assert_int_equal(mempool_after(mp, 0, 100, &txs, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(add(mp, "g1", 1), 0); /* cache flushed too */
    mempool_free(mp);
}

struct adder {
    struct mempool *mp;
    int id;
    int ok;
};

static void *adder_main(void *arg)
{
    struct adder *a = arg;
    char tx[32];
    for (int i = 0; i < 500; i++) {
        snprintf(tx, sizeof(tx), "t%d-%d", i % 250, a->id % 2); /* half the txs collide */
        if (add(a->mp, tx, 1) == 0)
            a->ok++;
    }
    return NULL;
}

static void concurrent_adders_no_duplicates(void **state)
{
    (void)state;
    struct mempool *mp = make(10000, 1 << 20, 100, 10000, false);
    pthread_t th[4];
    struct adder a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct adder){mp, i, 0};
        pthread_create(&th[i], NULL, adder_main, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += a[i].ok;
    }
    struct mempool_stats st;
    mempool_stats(mp, &st);
    assert_int_equal(total, 500); /* 250 distinct txs per parity */
    assert_int_equal(st.txs, 500);
    mempool_free(mp);
}

struct pauser {
    struct mempool *mp;
    atomic_bool done;
};

static void *pause_main(void *arg)
{
    struct pauser *p = arg;
    mempool_pause_checks(p->mp);
    atomic_store(&p->done, true);
    return NULL;
}

static bool paused_done(void *user)
{
    struct pauser *p = user;
    return atomic_load(&p->done);
}

/* Commit closes the gate only once the checks in flight are over; new checks wait until
 * the gate opens again, and give up after their timeout. */
static void check_gate(void **state)
{
    (void)state;
    struct mempool *mp = make(10, 1000, 100, 10, false);
    assert_int_equal(mempool_check_begin(mp, 1000), 0);
    struct pauser p = {mp, false};
    pthread_t th;
    pthread_create(&th, NULL, pause_main, &p);
    assert_false(pxt_wait_until(paused_done, &p, 50)); /* a check is in flight */
    mempool_check_end(mp);
    assert_true(pxt_wait_until(paused_done, &p, 10000));
    pthread_join(th, NULL);
    assert_int_equal(mempool_check_begin(mp, 30), PX_ETIMEDOUT); /* closed */
    mempool_resume_checks(mp);
    assert_int_equal(mempool_check_begin(mp, 30), 0);
    mempool_check_end(mp);
    mempool_free(mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_config),
        cmocka_unit_test(limits_enforced),
        cmocka_unit_test(duplicates_and_cache),
        cmocka_unit_test(keep_invalid_in_cache),
        cmocka_unit_test(reap_fifo_by_bytes_and_gas),
        cmocka_unit_test(update_removes_committed_forever),
        cmocka_unit_test(gossip_iteration),
        cmocka_unit_test(concurrent_adders_no_duplicates),
        cmocka_unit_test(check_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
