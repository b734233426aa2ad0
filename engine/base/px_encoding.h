/*
 * px_encoding: hex and base64 text forms of bytes, strict in what they accept.
 * Hex decoding takes upper or lower case and nothing else (no separators, no odd length);
 * base64 is the standard alphabet with padding (RFC 4648 §4), as CometBFT's JSON uses.
 */
#ifndef PX_ENCODING_H
#define PX_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters needed for n bytes, including the terminating NUL. */
#define PX_HEX_LEN(n) ((n)*2 + 1)
#define PX_BASE64_LEN(n) ((((n) + 2) / 3) * 4 + 1)

/* Encode n bytes as hex (upper case if `upper`). PX_ETOOBIG if cap < PX_HEX_LEN(n). */
int px_hex_encode(char *out, size_t cap, const uint8_t *in, size_t n, bool upper);
/* Decode exactly in_len hex characters. PX_EINVAL: odd length or a non-hex character;
 * PX_ETOOBIG: more than cap bytes. */
int px_hex_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t in_len);

int px_base64_encode(char *out, size_t cap, const uint8_t *in, size_t n);
/* Decode padded standard base64. PX_EINVAL: bad character, missing padding or trailing
 * garbage; PX_ETOOBIG: more than cap bytes. */
int px_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in, size_t in_len);

#endif
