/* Unit tests of the pure rules of engine/p2p: p2p_addr (peer and listen address parsing,
 * reconnect backoff), p2p_dup (which of two connections to one peer survives) and
 * p2p_sched (which channel sends next). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "p2p_addr.h"
#include "p2p_dup.h"
#include "p2p_sched.h"
#include "px_error.h"

#include <string.h>

#define ID "0123456789abcdef0123456789ABCDEF01234567"

static void parse_peers(void **state)
{
    (void)state;
    char id[P2P_ID_LEN + 1], url[P2P_URL_MAX];
    assert_int_equal(p2p_addr_parse_peer(ID "@127.0.0.1:26656", id, url), 0);
    assert_string_equal(id, "0123456789abcdef0123456789abcdef01234567");
    assert_string_equal(url, "tcp://127.0.0.1:26656");
    assert_int_equal(p2p_addr_parse_peer(ID "@tcp://node1.example:1", id, url), 0);
    assert_string_equal(url, "tcp://node1.example:1");
    const char *bad[] = {
        "127.0.0.1:26656",                              /* no id */
        "0123@127.0.0.1:26656",                         /* short id */
        "0123456789abcdef0123456789abcdef0123456g@h:1", /* not hex */
        ID "@127.0.0.1",                                /* no port */
        ID "@127.0.0.1:",                               /* empty port */
        ID "@127.0.0.1:65536",                          /* port too big */
        ID "@127.0.0.1:2x",                             /* port not a number */
        ID "@:26656",                                   /* no host */
        ID "@ho st:1",                                  /* space */
        NULL,
    };
    for (int i = 0; bad[i]; i++)
        assert_int_equal(p2p_addr_parse_peer(bad[i], id, url), PX_EINVAL);
    assert_int_equal(p2p_addr_parse_peer(NULL, id, url), PX_EINVAL);
}

static void parse_listen(void **state)
{
    (void)state;
    char url[P2P_URL_MAX];
    assert_int_equal(p2p_addr_listen_url("0.0.0.0:26656", url), 0);
    assert_string_equal(url, "tcp://0.0.0.0:26656");
    assert_int_equal(p2p_addr_listen_url("tcp://127.0.0.1:0", url), 0);
    assert_string_equal(url, "tcp://127.0.0.1:0");
    assert_int_equal(p2p_addr_listen_url("[::1]:5", url), 0);
    assert_int_equal(p2p_addr_listen_url("ipc:///tmp/x", url), PX_EINVAL);
    assert_int_equal(p2p_addr_listen_url("localhost", url), PX_EINVAL);
    char longhost[400];
    memset(longhost, 'a', sizeof(longhost));
    strcpy(longhost + 380, ":1");
    assert_int_equal(p2p_addr_listen_url(longhost, url), PX_ETOOBIG);
}

static void backoff(void **state)
{
    (void)state;
    /* jitter 0: half; jitter max: (almost) all of min * 2^attempt, capped */
    assert_int_equal(p2p_addr_backoff_ms(0, 100, 10000, 0), 50);
    assert_true(p2p_addr_backoff_ms(0, 100, 10000, UINT32_MAX) >= 99);
    assert_int_equal(p2p_addr_backoff_ms(3, 100, 10000, 0), 400);
    assert_int_equal(p2p_addr_backoff_ms(20, 100, 10000, 0), 5000);
    assert_true(p2p_addr_backoff_ms(1000, 100, 10000, UINT32_MAX) <= 10000);
    assert_true(p2p_addr_backoff_ms(1000, 100, 10000, UINT32_MAX) >= 9999);
    /* grows monotonically with the attempt for a fixed jitter */
    uint32_t prev = 0;
    for (uint32_t a = 0; a < 40; a++) {
        uint32_t d = p2p_addr_backoff_ms(a, 250, 60000, 12345);
        assert_true(d >= prev);
        assert_true(d <= 60000);
        prev = d;
    }
}

static void duplicate_rule(void **state)
{
    (void)state;
    const char *lo = "1111111111111111111111111111111111111111";
    const char *hi = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    /* the connection dialled by the lower id survives, seen from either side */
    /* lo dialled hi: at lo it is outbound, at hi inbound */
    assert_true(p2p_dup_keep_new(lo, hi, true, false));  /* at lo: new = lo's dial */
    assert_false(p2p_dup_keep_new(lo, hi, false, true)); /* at lo: new = hi's dial */
    assert_true(p2p_dup_keep_new(hi, lo, false, true));  /* at hi: new = lo's dial */
    assert_false(p2p_dup_keep_new(hi, lo, true, false)); /* at hi: new = hi's dial */
    /* both sides agree for every arrival order */
    for (int a = 0; a < 2; a++) {
        bool lo_dial_new_at_lo = p2p_dup_keep_new(lo, hi, a == 0, a != 0);
        bool lo_dial_new_at_hi = p2p_dup_keep_new(hi, lo, a != 0, a == 0);
        /* a == 0: the new one is lo's dial on both sides */
        assert_true(a == 0 ? lo_dial_new_at_lo && lo_dial_new_at_hi
                           : !lo_dial_new_at_lo && !lo_dial_new_at_hi);
    }
    /* same direction: the newer wins */
    assert_true(p2p_dup_keep_new(lo, hi, true, true));
    assert_true(p2p_dup_keep_new(lo, hi, false, false));
}

/* Frame `frames` times from channels that stay ready, each frame `chunk[i]` bytes;
 * count the frames each channel got. */
static void run_sched(struct p2p_sched_chan *ch, size_t n, const double *chunk, int frames,
                      int *count)
{
    for (int f = 0; f < frames; f++) {
        int i = p2p_sched_pick(ch, n);
        assert_true(i >= 0);
        count[i]++;
        ch[i].recent += chunk[i];
        if (f % 50 == 49)
            p2p_sched_decay(ch, n);
    }
}

static void scheduler_shares_by_priority(void **state)
{
    (void)state;
    struct p2p_sched_chan none[2] = {{0, 5, false}, {0, 7, false}};
    assert_int_equal(p2p_sched_pick(none, 2), -1);
    /* a vote queued behind a block's chunks goes next */
    struct p2p_sched_chan ch[2] = {{65536.0 * 3, 5, true}, {0, 7, true}};
    assert_int_equal(p2p_sched_pick(ch, 2), 1);
    /* both saturated with equal frames: shares follow priorities 5 : 7 */
    struct p2p_sched_chan sat[2] = {{0, 5, true}, {0, 7, true}};
    double chunk[2] = {1000, 1000};
    int count[2] = {0, 0};
    run_sched(sat, 2, chunk, 1200, count);
    double ratio = (double)count[1] / (double)count[0];
    assert_true(ratio > 7.0 / 5.0 * 0.95 && ratio < 7.0 / 5.0 * 1.05);
    /* no starvation: priority 1 against 255 still gets frames */
    struct p2p_sched_chan skew[2] = {{0, 1, true}, {0, 255, true}};
    int c2[2] = {0, 0};
    run_sched(skew, 2, chunk, 1000, c2);
    assert_true(c2[0] >= 3);
    assert_true(c2[1] > c2[0] * 100);
    /* by bytes, not frames: small vote frames against 64 KiB block frames, equal priority */
    struct p2p_sched_chan mix[2] = {{0, 5, true}, {0, 5, true}};
    double sizes[2] = {65536, 200};
    int c3[2] = {0, 0};
    run_sched(mix, 2, sizes, 3000, c3);
    assert_true(c3[1] > c3[0] * 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_peers),
        cmocka_unit_test(parse_listen),
        cmocka_unit_test(backoff),
        cmocka_unit_test(duplicate_rule),
        cmocka_unit_test(scheduler_shares_by_priority),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
