/* Unit tests of kvl_pending, the CheckTx pending-accounts table: get/put/replace, the
 * capacity bound (PX_EBOUND, never growth), clear and reuse, and keys that share their
 * leading bytes (chosen by clients) still being told apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvl_pending.h"
#include "px_error.h"

#include <string.h>

static void key_of(uint8_t pub[32], uint32_t i)
{
    memset(pub, 0xee, 32); /* same first 28 bytes for every key */
    pub[28] = (uint8_t)(i >> 24);
    pub[29] = (uint8_t)(i >> 16);
    pub[30] = (uint8_t)(i >> 8);
    pub[31] = (uint8_t)i;
}

static void put_get_replace(void **state)
{
    (void)state;
    struct kvl_pending p;
    assert_int_equal(kvl_pending_init(&p, 8), 0);
    uint8_t k[32];
    struct kvl_account a = {.balance = 5, .nonce = 1}, out;
    key_of(k, 1);
    assert_false(kvl_pending_get(&p, k, &out));
    assert_int_equal(kvl_pending_put(&p, k, &a), 0);
    assert_true(kvl_pending_get(&p, k, &out));
    assert_int_equal(out.balance, 5);
    assert_int_equal(out.nonce, 1);
    a.balance = 9;
    assert_int_equal(kvl_pending_put(&p, k, &a), 0);
    assert_true(kvl_pending_get(&p, k, &out));
    assert_int_equal(out.balance, 9);
    assert_int_equal(kvl_pending_room(&p), 7);
    kvl_pending_fini(&p);
}

static void bounded_then_cleared(void **state)
{
    (void)state;
    struct kvl_pending p;
    assert_int_equal(kvl_pending_init(&p, 1000), 0); /* rounded up to 1024 */
    assert_int_equal(kvl_pending_room(&p), 1024);
    uint8_t k[32];
    for (uint32_t i = 0; i < 1024; i++) {
        struct kvl_account a = {.balance = i, .nonce = i + 1};
        key_of(k, i);
        assert_int_equal(kvl_pending_put(&p, k, &a), 0);
    }
    assert_int_equal(kvl_pending_room(&p), 0);
    key_of(k, 5000);
    struct kvl_account a = {.balance = 1, .nonce = 1}, out;
    assert_int_equal(kvl_pending_put(&p, k, &a), PX_EBOUND);
    assert_false(kvl_pending_get(&p, k, &out));
    /* replacing an existing account still works when full */
    key_of(k, 7);
    assert_int_equal(kvl_pending_put(&p, k, &a), 0);
    for (uint32_t i = 0; i < 1024; i++) {
        key_of(k, i);
        assert_true(kvl_pending_get(&p, k, &out));
        assert_int_equal(out.nonce, i == 7 ? 1 : i + 1);
    }
    kvl_pending_clear(&p);
    assert_int_equal(kvl_pending_room(&p), 1024);
    key_of(k, 3);
    assert_false(kvl_pending_get(&p, k, &out));
    key_of(k, 5000);
    assert_int_equal(kvl_pending_put(&p, k, &a), 0);
    assert_true(kvl_pending_get(&p, k, &out));
    kvl_pending_fini(&p);
}

static void bad_capacity(void **state)
{
    (void)state;
    struct kvl_pending p;
    assert_int_equal(kvl_pending_init(&p, 0), PX_EINVAL);
    assert_int_equal(kvl_pending_init(&p, (1u << 24) + 1), PX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_replace),
        cmocka_unit_test(bounded_then_cleared),
        cmocka_unit_test(bad_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
