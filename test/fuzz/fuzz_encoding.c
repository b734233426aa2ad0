/*
 * fuzz_encoding: the hex and base64 decoders of engine/base/px_encoding.h, which read text
 * from clients (RPC parameters), genesis files and key files. Output buffers are exactly as
 * large as the decoded length can be, so any overrun is caught. Properties: what decodes
 * encodes back to the same text (hex: up to letter case; base64: exactly, since decoding is
 * strict), and a buffer one byte too small is refused with PX_ETOOBIG.
 *
 * Touches nothing but px_encoding.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "px_encoding.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void hex_case(const char *in, size_t n)
{
    size_t cap = n / 2;
    uint8_t *out = malloc(cap ? cap : 1);
    FUZZ_CHECK(out != NULL);
    size_t len = 0;
    int rc = px_hex_decode(out, cap, &len, in, n);
    FUZZ_CHECK(rc == 0 || rc == PX_EINVAL);
    if (rc == 0) {
        FUZZ_CHECK(len == n / 2 && n % 2 == 0);
        char *text = malloc(PX_HEX_LEN(len));
        FUZZ_CHECK(text != NULL);
        FUZZ_CHECK(px_hex_encode(text, PX_HEX_LEN(len), out, len, false) == 0);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(tolower((unsigned char)in[i]) == text[i]);
        if (len > 0) {
            size_t l2 = 0;
            FUZZ_CHECK(px_hex_decode(out, len - 1, &l2, in, n) == PX_ETOOBIG);
        }
        free(text);
    }
    free(out);
}

static void base64_case(const char *in, size_t n)
{
    size_t cap = n / 4 * 3;
    uint8_t *out = malloc(cap ? cap : 1);
    FUZZ_CHECK(out != NULL);
    size_t len = 0;
    int rc = px_base64_decode(out, cap, &len, in, n);
    FUZZ_CHECK(rc == 0 || rc == PX_EINVAL);
    if (rc == 0) {
        FUZZ_CHECK(len <= cap);
        char *text = malloc(PX_BASE64_LEN(len));
        FUZZ_CHECK(text != NULL);
        FUZZ_CHECK(px_base64_encode(text, PX_BASE64_LEN(len), out, len) == 0);
        /* whatever decodes is canonical base64: it encodes back to exactly the input
         * (px_base64_decode refuses bytes outside the alphabet, which libsodium 1.0.18
         * alone would take) */
        FUZZ_CHECK(strlen(text) == n && memcmp(text, in, n) == 0);
        if (len > 0) {
            size_t l2 = 0;
            FUZZ_CHECK(px_base64_decode(out, len - 1, &l2, in, n) == PX_ETOOBIG);
        }
        free(text);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        base64_case((const char *)data + 1, size - 1);
    else
        hex_case((const char *)data + 1, size - 1);
    return 0;
}
