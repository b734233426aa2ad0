/* Unit tests of px_encoding: hex and base64 round trips and strict rejection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "px_encoding.h"
#include "px_error.h"

#include <string.h>

static void hex_round_trip(void **state)
{
    (void)state;
    uint8_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    char hex[PX_HEX_LEN(256)];
    for (size_t n = 0; n <= 256; n += 51) {
        size_t got = 999;
        assert_int_equal(px_hex_encode(hex, sizeof(hex), in, n, n % 2), 0);
        assert_int_equal(strlen(hex), 2 * n);
        assert_int_equal(px_hex_decode(out, sizeof(out), &got, hex, strlen(hex)), 0);
        assert_int_equal(got, n);
        assert_memory_equal(in, out, n);
    }
}

static void hex_known_values(void **state)
{
    (void)state;
    const uint8_t b[] = {0xde, 0xad, 0xbe, 0xef, 0x00};
    char hex[PX_HEX_LEN(5)];
    px_hex_encode(hex, sizeof(hex), b, 5, true);
    assert_string_equal(hex, "DEADBEEF00");
    px_hex_encode(hex, sizeof(hex), b, 5, false);
    assert_string_equal(hex, "deadbeef00");
    assert_int_equal(px_hex_encode(hex, 10, b, 5, false), PX_ETOOBIG);
}

static void hex_rejects_bad_input(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n;
    assert_int_equal(px_hex_decode(out, sizeof(out), &n, "abc", 3), PX_EINVAL);
    assert_int_equal(px_hex_decode(out, sizeof(out), &n, "zz", 2), PX_EINVAL);
    assert_int_equal(px_hex_decode(out, sizeof(out), &n, "ab:c", 4), PX_EINVAL);
    assert_int_equal(px_hex_decode(out, sizeof(out), &n, "ab c", 4), PX_EINVAL);
    assert_int_equal(px_hex_decode(out, 1, &n, "abcd", 4), PX_ETOOBIG);
    assert_int_equal(px_hex_decode(out, sizeof(out), &n, "", 0), 0);
    assert_int_equal(n, 0);
}

static void base64_known_values(void **state)
{
    (void)state;
    /* RFC 4648 §10 test vectors */
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char b64[PX_BASE64_LEN(6)];
        uint8_t out[8];
        size_t n = 99;
        assert_int_equal(
            px_base64_encode(b64, sizeof(b64), (const uint8_t *)plain[i], strlen(plain[i])), 0);
        assert_string_equal(b64, enc[i]);
        assert_int_equal(px_base64_decode(out, sizeof(out), &n, enc[i], strlen(enc[i])), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
    }
}

static void base64_rejects_bad_input(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n;
    assert_int_equal(px_base64_decode(out, sizeof(out), &n, "Zg", 2), PX_EINVAL);   /* no pad */
    assert_int_equal(px_base64_decode(out, sizeof(out), &n, "Zg=", 3), PX_EINVAL);  /* short */
    assert_int_equal(px_base64_decode(out, sizeof(out), &n, "Z!==", 4), PX_EINVAL); /* char */
    assert_int_equal(px_base64_decode(out, sizeof(out), &n, "Zm9v\n", 5), PX_EINVAL);
    assert_int_equal(px_base64_decode(out, sizeof(out), &n, "Zm-_", 4), PX_EINVAL); /* url */
    assert_int_equal(px_base64_decode(out, sizeof(out), &n,
                                      "QQ\x80"
                                      "A",
                                      4),
                     PX_EINVAL); /* >0x7f */
    assert_int_equal(px_base64_decode(out, 2, &n, "Zm9vYmFy", 8), PX_ETOOBIG);
    assert_int_equal(px_base64_decode(out, 3, &n, "Zm9vYg==", 8), PX_ETOOBIG);
    char small[4];
    assert_int_equal(px_base64_encode(small, sizeof(small), (const uint8_t *)"foo", 3), PX_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hex_round_trip),           cmocka_unit_test(hex_known_values),
        cmocka_unit_test(hex_rejects_bad_input),    cmocka_unit_test(base64_known_values),
        cmocka_unit_test(base64_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
