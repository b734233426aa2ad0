/* Unit tests of px_bytes: little-endian round trips, growth, reading past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_bytes.h"

#include <stdlib.h>
#include <string.h>

static void round_trip_and_layout(void **state)
{
    (void)state;
    struct px_wbuf w = {0};
    px_wbuf_u8(&w, 0xAB);
    px_wbuf_u32(&w, 0x01020304u);
    px_wbuf_u64(&w, 0x1122334455667788ull);
    px_wbuf_put(&w, "xyz", 3);
    assert_false(w.oom);
    assert_int_equal(w.len, 1 + 4 + 8 + 3);
    const uint8_t want[] = {0xAB, 0x04, 0x03, 0x02, 0x01, 0x88, 0x77, 0x66,
                            0x55, 0x44, 0x33, 0x22, 0x11, 'x',  'y',  'z'};
    assert_memory_equal(w.p, want, sizeof(want));
    struct px_rbuf r = {w.p, w.len, 0, false};
    assert_int_equal(px_rbuf_u8(&r), 0xAB);
    assert_int_equal(px_rbuf_u32(&r), 0x01020304u);
    assert_true(px_rbuf_u64(&r) == 0x1122334455667788ull);
    const uint8_t *t = px_rbuf_take(&r, 3);
    assert_non_null(t);
    assert_memory_equal(t, "xyz", 3);
    assert_false(r.bad);
    assert_int_equal(r.off, r.len);
    free(w.p);
}

static void grows_past_the_first_block(void **state)
{
    (void)state;
    struct px_wbuf w = {0};
    for (uint32_t i = 0; i < 10000; i++)
        px_wbuf_u32(&w, i);
    assert_false(w.oom);
    struct px_rbuf r = {w.p, w.len, 0, false};
    for (uint32_t i = 0; i < 10000; i++)
        assert_int_equal(px_rbuf_u32(&r), i);
    free(w.p);
}

static void reading_past_the_end(void **state)
{
    (void)state;
    const uint8_t b[] = {1, 2, 3};
    struct px_rbuf r = {b, sizeof(b), 0, false};
    assert_int_equal(px_rbuf_u8(&r), 1);
    assert_int_equal(px_rbuf_u32(&r), 0); /* only 2 bytes left: zero, and bad */
    assert_true(r.bad);
    assert_int_equal(px_rbuf_u8(&r), 0); /* stays bad */
    assert_null(px_rbuf_take(&r, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_and_layout),
        cmocka_unit_test(grows_past_the_first_block),
        cmocka_unit_test(reading_past_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
