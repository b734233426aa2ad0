/* Unit tests of px_clock: RFC 3339 both ways, bad input, fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <time.h>

#include "px_clock.h"
#include "px_error.h"

#include <stdint.h>
#include <string.h>

static void format_known_instants(void **state)
{
    (void)state;
    char buf[40];
    assert_int_equal(px_time_format(buf, sizeof(buf), 0, 0), 20);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    /* 2024-02-29T12:34:56.123456789Z = 1709210096 s */
    uint64_t t = 1709210096ull * 1000000000ull + 123456789ull;
    px_time_format(buf, sizeof(buf), t, 9);
    assert_string_equal(buf, "2024-02-29T12:34:56.123456789Z");
    px_time_format(buf, sizeof(buf), t, 3);
    assert_string_equal(buf, "2024-02-29T12:34:56.123Z");
    assert_int_equal(px_time_format(buf, 10, t, 3), PX_ETOOBIG);
    assert_int_equal(px_time_format(buf, sizeof(buf), t, 10), PX_EINVAL);
}

static void parse_round_trip(void **state)
{
    (void)state;
    uint64_t samples[] = {0, 1, 951782400ull * 1000000000ull, /* 2000-02-29 */
                          4102444799ull * 1000000000ull + 999999999ull, 1709210096123456789ull};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        char buf[40];
        uint64_t back = 0;
        px_time_format(buf, sizeof(buf), samples[i], 9);
        assert_int_equal(px_time_parse(buf, &back), 0);
        assert_true(back == samples[i]);
    }
}

static void parse_offsets_and_fractions(void **state)
{
    (void)state;
    uint64_t a, b;
    assert_int_equal(px_time_parse("2024-01-01T02:00:00+02:00", &a), 0);
    assert_int_equal(px_time_parse("2024-01-01T00:00:00Z", &b), 0);
    assert_true(a == b);
    assert_int_equal(px_time_parse("2024-01-01T00:00:00.5Z", &a), 0);
    assert_true(a == b + 500000000ull);
}

static void parse_rejects_bad_input(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "2024-01-01",
        "2024-01-01T00:00:00",             /* no zone */
        "2024-13-01T00:00:00Z",            /* month */
        "2023-02-29T00:00:00Z",            /* not a leap year */
        "2024-04-31T00:00:00Z",            /* day */
        "2024-01-01T24:00:00Z",            /* hour */
        "2024-01-01T00:00:00.Z",           /* empty fraction */
        "2024-01-01T00:00:00.1234567891Z", /* 10 digits */
        "2024-01-01T00:00:00Zjunk",
        "1969-12-31T23:59:59Z", /* before the epoch */
        "2024-01-01 00:00:00Z",
        "24-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t t = 42;
        assert_int_equal(px_time_parse(bad[i], &t), PX_EINVAL);
        assert_true(t == 42);
    }
}

static void fake_clock_moves_only_when_told(void **state)
{
    (void)state;
    struct px_fake_clock fc;
    px_fake_clock_init(&fc, 100, 5000);
    assert_true(px_clock_mono_ns(&fc.clock) == 100);
    assert_true(px_clock_wall_ns(&fc.clock) == 5000);
    px_fake_clock_advance(&fc, 7);
    assert_true(px_clock_mono_ns(&fc.clock) == 107);
    assert_true(px_clock_wall_ns(&fc.clock) == 5007);
}

static void system_clock_is_monotonic(void **state)
{
    (void)state;
    const struct px_clock *c = px_clock_system();
    uint64_t a = px_clock_mono_ns(c), b = px_clock_mono_ns(c);
    assert_true(b >= a);
    assert_true(px_clock_wall_ns(c) > 1700000000ull * 1000000000ull);
}

static uint64_t ts_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

/* Deadlines for pthread_cond_timedwait: normalised, and ns after the moment of the call. */
static void timespec_after_adds_and_normalises(void **state)
{
    (void)state;
    const uint64_t steps[] = {0, 1, 999999999ull, 1000000000ull, 1500000000ull, 3600000000000ull};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct timespec before, at, after;
        clock_gettime(CLOCK_MONOTONIC, &before);
        px_timespec_after(CLOCK_MONOTONIC, steps[i], &at);
        clock_gettime(CLOCK_MONOTONIC, &after);
        assert_true(at.tv_nsec >= 0 && at.tv_nsec < 1000000000L);
        assert_true(ts_ns(&at) >= ts_ns(&before) + steps[i]);
        assert_true(ts_ns(&at) <= ts_ns(&after) + steps[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_known_instants),
        cmocka_unit_test(parse_round_trip),
        cmocka_unit_test(parse_offsets_and_fractions),
        cmocka_unit_test(parse_rejects_bad_input),
        cmocka_unit_test(fake_clock_moves_only_when_told),
        cmocka_unit_test(system_clock_is_monotonic),
        cmocka_unit_test(timespec_after_adds_and_normalises),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
