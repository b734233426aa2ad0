/* Unit tests of sigcache: hits and misses, LRU eviction order, the bound, key binding to
 * each of pub/msg/sig. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "px_error.h"
#include "sigcache.h"

static void key_n(uint32_t n, uint8_t key[SIGCACHE_KEY_SIZE])
{
    sha256(key, &n, sizeof(n));
}

static void bad_capacity(void **state)
{
    (void)state;
    struct sigcache *c = NULL;
    assert_int_equal(sigcache_new(0, &c), PX_EINVAL);
    assert_int_equal(sigcache_new(SIGCACHE_MAX_ENTRIES + 1, &c), PX_EINVAL);
    assert_null(c);
}

static void lru_eviction(void **state)
{
    (void)state;
    struct sigcache *c;
    assert_int_equal(sigcache_new(3, &c), 0);
    uint8_t k[5][SIGCACHE_KEY_SIZE];
    for (uint32_t i = 0; i < 5; i++)
        key_n(i, k[i]);
    assert_false(sigcache_lookup(c, k[0]));
    sigcache_insert(c, k[0]);
    sigcache_insert(c, k[1]);
    sigcache_insert(c, k[2]);
    assert_true(sigcache_lookup(c, k[0])); /* 0 is now the most recent: 1 is the oldest */
    sigcache_insert(c, k[3]);              /* evicts 1 */
    assert_false(sigcache_lookup(c, k[1]));
    assert_true(sigcache_lookup(c, k[0]));
    assert_true(sigcache_lookup(c, k[2]));
    assert_true(sigcache_lookup(c, k[3]));
    sigcache_insert(c, k[3]); /* re-insert: no growth, no eviction */
    sigcache_insert(c, k[4]); /* evicts 0 (least recently looked up) */
    assert_false(sigcache_lookup(c, k[0]));
    struct sigcache_stats st;
    sigcache_stats(c, &st);
    assert_int_equal(st.size, 3);
    assert_int_equal(st.capacity, 3);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.hits, 4);
    assert_int_equal(st.misses, 3);
    sigcache_free(c);
}

static void many_keys_stay_bounded(void **state)
{
    (void)state;
    struct sigcache *c;
    assert_int_equal(sigcache_new(100, &c), 0);
    uint8_t k[SIGCACHE_KEY_SIZE];
    for (uint32_t i = 0; i < 10000; i++) {
        key_n(i, k);
        sigcache_insert(c, k);
    }
    struct sigcache_stats st;
    sigcache_stats(c, &st);
    assert_int_equal(st.size, 100);
    assert_int_equal(st.evictions, 9900);
    for (uint32_t i = 9900; i < 10000; i++) {
        key_n(i, k);
        assert_true(sigcache_lookup(c, k));
    }
    key_n(9899, k);
    assert_false(sigcache_lookup(c, k));
    sigcache_free(c);
}

static void key_binds_all_three(void **state)
{
    (void)state;
    struct ed25519_pubkey pub = {{1}};
    uint8_t msg[8] = {1, 2, 3}, sig[64] = {7};
    uint8_t a[32], b[32];
    sigcache_key(&pub, msg, sizeof(msg), sig, a);
    sigcache_key(&pub, msg, sizeof(msg), sig, b);
    assert_memory_equal(a, b, 32);
    pub.bytes[31] ^= 1;
    sigcache_key(&pub, msg, sizeof(msg), sig, b);
    assert_memory_not_equal(a, b, 32);
    pub.bytes[31] ^= 1;
    msg[7] ^= 1;
    sigcache_key(&pub, msg, sizeof(msg), sig, b);
    assert_memory_not_equal(a, b, 32);
    msg[7] ^= 1;
    sig[63] ^= 1;
    sigcache_key(&pub, msg, sizeof(msg), sig, b);
    assert_memory_not_equal(a, b, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_capacity),
        cmocka_unit_test(lru_eviction),
        cmocka_unit_test(many_keys_stay_bounded),
        cmocka_unit_test(key_binds_all_three),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
