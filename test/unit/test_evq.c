/* Unit tests of evq (bounded classes, priority order, timed wait, close, producers on
 * threads) and timerq (order, ties, cancel, bound). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "evq.h"
#include "px_clock.h"
#include "px_error.h"
#include "timerq.h"

#include <pthread.h>
#include <stdlib.h>

static struct evq *make(size_t cap)
{
    size_t caps[EVQ_CLASS_COUNT] = {cap, cap, cap};
    struct evq *q;
    assert_int_equal(evq_new(caps, &q), 0);
    return q;
}

static void priority_and_fifo(void **state)
{
    (void)state;
    struct evq *q = make(10);
    assert_int_equal(evq_post(q, EVQ_CLASS_BULK, 1, 0, 0, 0, "b", 1), 0);
    assert_int_equal(evq_post(q, EVQ_CLASS_CONSENSUS, 2, 0, 0, 0, NULL, 0), 0);
    assert_int_equal(evq_post(q, EVQ_CLASS_CONSENSUS, 3, 0, 0, 0, NULL, 0), 0);
    assert_int_equal(evq_post(q, EVQ_CLASS_CONTROL, 4, 0, 0, 0, NULL, 0), 0);
    int order[4];
    for (int i = 0; i < 4; i++) {
        struct evq_event *e = evq_pop(q, 0);
        assert_non_null(e);
        order[i] = e->kind;
        evq_event_free(e);
    }
    assert_int_equal(order[0], 4);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 3);
    assert_int_equal(order[3], 1);
    assert_null(evq_pop(q, 0));
    evq_free(q);
}

static void classes_are_bounded(void **state)
{
    (void)state;
    struct evq *q = make(2);
    assert_int_equal(evq_post(q, EVQ_CLASS_BULK, 1, 0, 0, 0, NULL, 0), 0);
    assert_int_equal(evq_post(q, EVQ_CLASS_BULK, 1, 0, 0, 0, NULL, 0), 0);
    assert_int_equal(evq_post(q, EVQ_CLASS_BULK, 1, 0, 0, 0, NULL, 0), PX_EBOUND);
    /* a full bulk class does not block votes */
    assert_int_equal(evq_post(q, EVQ_CLASS_CONSENSUS, 2, 0, 0, 0, NULL, 0), 0);
    assert_true(evq_dropped(q, EVQ_CLASS_BULK) == 1);
    assert_int_equal(evq_len(q, EVQ_CLASS_BULK), 2);
    evq_free(q); /* frees what is still queued (ASan checks) */
}

static void timed_wait_expires(void **state)
{
    (void)state;
    struct evq *q = make(2);
    const struct px_clock *c = px_clock_system();
    uint64_t t0 = px_clock_mono_ns(c);
    assert_null(evq_pop(q, t0 + 20 * 1000000u));
    assert_true(px_clock_mono_ns(c) >= t0 + 20 * 1000000u);
    evq_free(q);
}

struct prod {
    struct evq *q;
    int n;
};

static void *producer(void *arg)
{
    struct prod *p = arg;
    for (int i = 0; i < p->n; i++)
        while (evq_post(p->q, EVQ_CLASS_CONSENSUS, i, 0, 0, 0, &i, sizeof(i)) == PX_EBOUND) {
        }
    return NULL;
}

static void producers_on_threads(void **state)
{
    (void)state;
    struct evq *q = make(64);
    struct prod p = {q, 5000};
    pthread_t th[2];
    pthread_create(&th[0], NULL, producer, &p);
    pthread_create(&th[1], NULL, producer, &p);
    int got = 0;
    while (got < 2 * p.n) {
        struct evq_event *e = evq_pop(q, UINT64_MAX);
        assert_non_null(e);
        assert_int_equal(e->len, sizeof(int));
        got++;
        evq_event_free(e);
    }
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    evq_close(q);
    assert_null(evq_pop(q, UINT64_MAX)); /* closed and empty: returns at once */
    assert_int_equal(evq_post(q, EVQ_CLASS_CONTROL, 1, 0, 0, 0, NULL, 0), PX_ECLOSED);
    evq_free(q);
}

static void timer_order_ties_cancel(void **state)
{
    (void)state;
    struct timerq t;
    assert_int_equal(timerq_init(&t, 8), 0);
    assert_true(timerq_next(&t) == UINT64_MAX);
    timerq_add(&t, 50, 1, 1, 0, 0);
    timerq_add(&t, 10, 2, 2, 0, 0);
    timerq_add(&t, 50, 1, 3, 0, 0);
    timerq_add(&t, 30, 2, 4, 0, 0);
    timerq_add(&t, 20, 1, 5, 0, 0);
    assert_true(timerq_next(&t) == 10);
    struct timerq_item it;
    assert_int_equal(timerq_pop_due(&t, 9, &it), 0);
    assert_int_equal(timerq_pop_due(&t, 25, &it), 1);
    assert_true(it.a == 2);
    assert_int_equal(timerq_pop_due(&t, 25, &it), 1);
    assert_true(it.a == 5);
    assert_int_equal(timerq_pop_due(&t, 25, &it), 0);
    timerq_cancel_kind(&t, 2);
    assert_int_equal(timerq_pop_due(&t, 100, &it), 1);
    assert_true(it.a == 1); /* equal deadlines: insertion order */
    assert_int_equal(timerq_pop_due(&t, 100, &it), 1);
    assert_true(it.a == 3);
    assert_int_equal(timerq_pop_due(&t, 100, &it), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(timerq_add(&t, (uint64_t)(100 - i), 0, 0, 0, 0), 0);
    assert_int_equal(timerq_add(&t, 1, 0, 0, 0, 0), PX_EBOUND);
    uint64_t last = 0;
    while (timerq_pop_due(&t, 1000, &it)) {
        assert_true(it.deadline_ns >= last);
        last = it.deadline_ns;
    }
    timerq_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(priority_and_fifo),       cmocka_unit_test(classes_are_bounded),
        cmocka_unit_test(timed_wait_expires),      cmocka_unit_test(producers_on_threads),
        cmocka_unit_test(timer_order_ties_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
