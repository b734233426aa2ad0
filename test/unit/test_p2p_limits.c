/* Unit tests of the limits of engine/p2p that strangers and peers run into: p2p_admit (which
 * inbound connection in handshake is evicted for a new one, address keys), p2p_lograte (one
 * line per reason per interval, then a summary) and p2p_bucket (request rate per peer, and
 * when a peer is flooding). Time is a counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "p2p_admit.h"
#include "p2p_bucket.h"
#include "p2p_lograte.h"

#include <stdio.h>
#include <string.h>

/* --- p2p_admit ------------------------------------------------------------------- */

static void admit_keys(void **state)
{
    (void)state;
    char k[P2P_ADMIT_KEY_MAX];
    p2p_admit_key("10.1.2.3", k);
    assert_string_equal(k, "10.1.2.3");
    p2p_admit_key("127.0.0.1", k);
    assert_string_equal(k, "127.0.0.1");
    /* one subscriber holds a /64: every address in it is one key */
    p2p_admit_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    char k2[P2P_ADMIT_KEY_MAX];
    p2p_admit_key("2001:db8:1:2::1", k2);
    assert_string_equal(k, k2);
    p2p_admit_key("2001:db8:1:3::1", k2);
    assert_string_not_equal(k, k2);
    p2p_admit_key("::1", k);
    assert_string_equal(k, "0:0:0:0::/64");
    /* an IPv4 client on a dual-stack listener stays one address */
    p2p_admit_key("::ffff:10.1.2.3", k);
    assert_string_equal(k, "::ffff:10.1.2.3");
    p2p_admit_key("?", k);
    assert_string_equal(k, "?");
}

static void admit_fits_without_eviction(void **state)
{
    (void)state;
    struct p2p_admit_conn hs[3] = {
        {"1.1.1.1", P2P_ADMIT_HELLO, 10},
        {"2.2.2.2", P2P_ADMIT_HELLO, 20},
        {"1.1.1.1", P2P_ADMIT_AUTH, 30},
    };
    assert_int_equal(p2p_admit_evict(hs, 0, "1.1.1.1", 1, 1), -1);
    assert_int_equal(p2p_admit_evict(hs, 3, "3.3.3.3", 4, 2), -1);
    assert_int_equal(p2p_admit_evict(hs, 3, "2.2.2.2", 4, 2), -1);
}

static void admit_evicts_least_progress_then_oldest(void **state)
{
    (void)state;
    /* one address (as on loopback): the budget of 4 is full */
    struct p2p_admit_conn hs[4] = {
        {"127.0.0.1", P2P_ADMIT_AUTH, 10}, /* oldest, but finished its hello */
        {"127.0.0.1", P2P_ADMIT_HELLO, 40},
        {"127.0.0.1", P2P_ADMIT_HELLO, 20}, /* oldest unfinished hello */
        {"127.0.0.1", P2P_ADMIT_HELLO, 30},
    };
    assert_int_equal(p2p_admit_evict(hs, 4, "127.0.0.1", 4, 100), 2);
    /* with every hello finished, the oldest goes */
    for (int i = 0; i < 4; i++)
        hs[i].stage = P2P_ADMIT_AUTH;
    assert_int_equal(p2p_admit_evict(hs, 4, "127.0.0.1", 4, 100), 0);
    /* a newcomer that has just finished its hello survives a flood of stalled hellos: each
     * new stalled one evicts an older stalled one, never it */
    struct p2p_admit_conn flood[4] = {
        {"127.0.0.1", P2P_ADMIT_HELLO, 1},
        {"127.0.0.1", P2P_ADMIT_HELLO, 2},
        {"127.0.0.1", P2P_ADMIT_AUTH, 3}, /* the honest one */
        {"127.0.0.1", P2P_ADMIT_HELLO, 4},
    };
    uint64_t t = 5;
    for (int round = 0; round < 100; round++) {
        int v = p2p_admit_evict(flood, 4, "127.0.0.1", 4, 100);
        assert_true(v >= 0);
        assert_int_not_equal(v, 2);
        flood[v].created_ms = t++; /* the evicted slot is taken by the next stalled hello */
    }
}

static void admit_the_crowding_address_pays(void **state)
{
    (void)state;
    /* budget 4 full: 3 from the flooder, 1 older one from an honest address */
    struct p2p_admit_conn hs[4] = {
        {"9.9.9.9", P2P_ADMIT_HELLO, 5}, /* honest, oldest, even slow */
        {"6.6.6.6", P2P_ADMIT_AUTH, 10},
        {"6.6.6.6", P2P_ADMIT_AUTH, 20},
        {"6.6.6.6", P2P_ADMIT_AUTH, 30},
    };
    /* a newcomer from elsewhere: the address holding most slots loses its oldest */
    assert_int_equal(p2p_admit_evict(hs, 4, "7.7.7.7", 4, 8), 1);
    /* the flooder at its share (3) evicts its own least advanced, oldest connection, even
     * with room in the budget */
    hs[1].stage = P2P_ADMIT_HELLO;
    assert_int_equal(p2p_admit_evict(hs, 4, "6.6.6.6", 100, 3), 1);
    hs[1].stage = P2P_ADMIT_AUTH;
    assert_int_equal(p2p_admit_evict(hs, 4, "6.6.6.6", 100, 3), 1);
    assert_int_equal(p2p_admit_evict(hs, 4, "6.6.6.6", 100, 4), -1);
    /* the honest address below its share is never touched by the flooder's arrivals */
    for (int k = 0; k < 50; k++) {
        int v = p2p_admit_evict(hs, 4, "6.6.6.6", 4, 3);
        assert_true(v >= 1 && v <= 3);
        hs[v].created_ms = 100 + (uint64_t)k;
    }
}

/* --- p2p_lograte ----------------------------------------------------------------- */

static void lograte_one_line_then_summary(void **state)
{
    (void)state;
    struct p2p_lograte lr;
    p2p_lograte_init(&lr, 1000);
    struct p2p_lograte_summary s;
    /* the first of a reason is logged at once */
    assert_true(p2p_lograte_hit(&lr, "refused: full", 2, "1.1.1.1:1", 0));
    assert_false(p2p_lograte_next(&lr, 10, false, &s));
    /* the next 999 within the window are only counted */
    int logged = 0;
    for (uint64_t t = 1; t < 1000; t++)
        logged += p2p_lograte_hit(&lr, "refused: full", 2, "1.1.1.1:2", t);
    assert_int_equal(logged, 0);
    assert_false(p2p_lograte_next(&lr, 999, false, &s)); /* window not over yet */
    assert_true(p2p_lograte_next(&lr, 1000, false, &s));
    assert_string_equal(s.reason, "refused: full");
    assert_int_equal(s.count, 999);
    assert_int_equal(s.window_ms, 1000);
    assert_int_equal(s.level, 2);
    assert_string_equal(s.detail, "1.1.1.1:2");
    assert_false(p2p_lograte_next(&lr, 1000, false, &s));
    /* the flood goes on: still no line, one summary per window */
    for (uint64_t t = 1000; t < 5000; t++) {
        if (p2p_lograte_next(&lr, t, false, &s)) { /* the caller's tick, then the event */
            logged++;
            assert_int_equal(s.count, 1000);
        }
        assert_false(p2p_lograte_hit(&lr, "refused: full", 2, NULL, t));
    }
    assert_int_equal(logged, 3); /* at 2000, 3000, 4000 */
    /* a whole quiet window: the slot is forgotten, the next event is logged at once */
    assert_true(p2p_lograte_next(&lr, 5000, false, &s));
    assert_false(p2p_lograte_next(&lr, 6000, false, &s));
    assert_true(p2p_lograte_hit(&lr, "refused: full", 2, NULL, 6001));
}

static void lograte_reasons_apart_and_overflow(void **state)
{
    (void)state;
    struct p2p_lograte lr;
    p2p_lograte_init(&lr, 100);
    assert_true(p2p_lograte_hit(&lr, "a", 1, NULL, 0));
    assert_true(p2p_lograte_hit(&lr, "b", 1, NULL, 0)); /* another reason: its own line */
    assert_false(p2p_lograte_hit(&lr, "a", 1, NULL, 1));
    /* more reasons than slots share one, so nothing is unbounded and nothing is lost */
    int first = 0;
    for (int i = 0; i < 40; i++) {
        char r[16];
        snprintf(r, sizeof(r), "r%d", i);
        first += p2p_lograte_hit(&lr, r, 1, NULL, 2);
    }
    assert_int_equal(first, P2P_LOGRATE_SLOTS - 2 + 1);
    /* at shutdown everything held back comes out, windows over or not */
    struct p2p_lograte_summary s;
    uint64_t total = 0;
    bool other = false;
    while (p2p_lograte_next(&lr, 3, true, &s)) {
        total += s.count;
        other |= strcmp(s.reason, P2P_LOGRATE_OTHER) == 0;
    }
    assert_true(other);
    assert_int_equal(total, 1 + (40 - (P2P_LOGRATE_SLOTS - 2 + 1)));
    /* a long reason is cut, and still one reason */
    char longr[300];
    memset(longr, 'x', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';
    p2p_lograte_init(&lr, 100);
    assert_true(p2p_lograte_hit(&lr, longr, 1, NULL, 0));
    assert_false(p2p_lograte_hit(&lr, longr, 1, NULL, 1));
}

/* --- p2p_bucket ------------------------------------------------------------------ */

#define MS 1000000ull

static void bucket_rate_and_burst(void **state)
{
    (void)state;
    struct p2p_bucket b;
    memset(&b, 0, sizeof(b));
    /* a full burst at once is served */
    for (int i = 0; i < 10; i++)
        assert_int_equal(p2p_bucket_take(&b, 0, 100, 10, 5), P2P_BUCKET_OK);
    assert_int_equal(p2p_bucket_take(&b, 0, 100, 10, 5), P2P_BUCKET_OVER);
    /* 100/s: one more token every 10 ms */
    assert_int_equal(p2p_bucket_take(&b, 10 * MS, 100, 10, 5), P2P_BUCKET_OK);
    assert_int_equal(p2p_bucket_take(&b, 10 * MS, 100, 10, 5), P2P_BUCKET_OVER);
    /* a steady peer at the rate is always served */
    memset(&b, 0, sizeof(b));
    for (uint64_t t = 0; t < 5000; t++)
        assert_int_equal(p2p_bucket_take(&b, t * 10 * MS, 100, 10, 5), P2P_BUCKET_OK);
}

static void bucket_flood_is_abuse(void **state)
{
    (void)state;
    struct p2p_bucket b;
    memset(&b, 0, sizeof(b));
    int served = 0, over = 0;
    enum p2p_bucket_verdict v = P2P_BUCKET_OK;
    uint64_t t = 0;
    /* a flood: many requests per millisecond */
    for (; v != P2P_BUCKET_ABUSE && t < 1000000; t++) {
        v = p2p_bucket_take(&b, t * 10000, 200, 400, 400);
        served += v == P2P_BUCKET_OK;
        over += v != P2P_BUCKET_OK;
    }
    assert_int_equal(v, P2P_BUCKET_ABUSE);
    assert_int_equal(over, 400);
    assert_true(served >= 400 && served < 500); /* the burst, and a few refills */
}

static void bucket_overshoot_forgiven(void **state)
{
    (void)state;
    struct p2p_bucket b;
    memset(&b, 0, sizeof(b));
    /* an honest peer overshoots a little, backs off until full again, and overshoots again:
     * never flooding */
    uint64_t t = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 14; i++)
            assert_int_not_equal(p2p_bucket_take(&b, t, 100, 10, 5), P2P_BUCKET_ABUSE);
        t += 200 * MS; /* 10 tokens take 100 ms */
    }
    /* but 5 over before the bucket refilled is abuse */
    for (int i = 0; i < 10; i++)
        assert_int_equal(p2p_bucket_take(&b, t, 100, 10, 5), P2P_BUCKET_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(p2p_bucket_take(&b, t + (uint64_t)i * MS, 100, 10, 5), P2P_BUCKET_OVER);
    assert_int_equal(p2p_bucket_take(&b, t + 5 * MS, 100, 10, 5), P2P_BUCKET_ABUSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(admit_keys),
        cmocka_unit_test(admit_fits_without_eviction),
        cmocka_unit_test(admit_evicts_least_progress_then_oldest),
        cmocka_unit_test(admit_the_crowding_address_pays),
        cmocka_unit_test(lograte_one_line_then_summary),
        cmocka_unit_test(lograte_reasons_apart_and_overflow),
        cmocka_unit_test(bucket_rate_and_burst),
        cmocka_unit_test(bucket_flood_is_abuse),
        cmocka_unit_test(bucket_overshoot_forgiven),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
