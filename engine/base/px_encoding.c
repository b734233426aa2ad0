/*
 * px_encoding: thin strict wrappers over libsodium's constant-time codecs.
 */
#include "px_encoding.h"

#include "px_error.h"

#include <ctype.h>
#include <sodium.h>

int px_hex_encode(char *out, size_t cap, const uint8_t *in, size_t n, bool upper)
{
    if (n > (SIZE_MAX - 1) / 2 || cap < PX_HEX_LEN(n))
        return PX_ETOOBIG;
    sodium_bin2hex(out, cap, in, n);
    if (upper)
        for (size_t i = 0; i < 2 * n; i++)
            out[i] = (char)toupper((unsigned char)out[i]);
    return 0;
}

int px_hex_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t in_len)
{
    if (in_len % 2 != 0)
        return PX_EINVAL;
    if (in_len / 2 > cap)
        return PX_ETOOBIG;
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_hex2bin(out, cap, in, in_len, NULL, &bin_len, &end) != 0)
        return PX_EINVAL;
    if (end != in + in_len || bin_len != in_len / 2)
        return PX_EINVAL;
    *out_len = bin_len;
    return 0;
}

int px_base64_encode(char *out, size_t cap, const uint8_t *in, size_t n)
{
    if (n > SIZE_MAX / 2 || cap < sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL))
        return PX_ETOOBIG;
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

/* The standard alphabet and '=' only: libsodium 1.0.18 takes any byte >= 0x80 as a
 * digit, so the alphabet is checked here first (found by fuzzing). */
static bool base64_alphabet_only(const char *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return false;
    }
    return true;
}

int px_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t in_len)
{
    if (in_len % 4 != 0 || !base64_alphabet_only(in, in_len))
        return PX_EINVAL;
    if (in_len / 4 * 3 > cap + 2) /* at most 2 bytes of the last group are padding */
        return PX_ETOOBIG;
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, cap, in, in_len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        /* sodium fails both for bad input and for a too small buffer: tell them apart */
        size_t pad =
            (in_len >= 1 && in[in_len - 1] == '=') + (in_len >= 2 && in[in_len - 2] == '=');
        if (in_len / 4 * 3 - pad > cap)
            return PX_ETOOBIG;
        return PX_EINVAL;
    }
    if (end != in + in_len)
        return PX_EINVAL;
    *out_len = bin_len;
    return 0;
}
