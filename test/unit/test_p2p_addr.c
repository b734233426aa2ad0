/* Unit tests of p2p_addr (peer and listen address parsing, reconnect backoff) and p2p_dup
 * (which of two connections to one peer survives). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "p2p_addr.h"
#include "p2p_dup.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_peers),
        cmocka_unit_test(parse_listen),
        cmocka_unit_test(backoff),
        cmocka_unit_test(duplicate_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
