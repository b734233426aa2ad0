/*
 * sha256: the one hash of Phalanx (DESIGN §4), SHA-256 from libsodium.
 *
 * Header-only on purpose: engine/types (merkle roots, block hashes) is built before
 * engine/crypto in engine/meson.build, so the primitives it needs are inline wrappers
 * here and engine/types needs only this folder's headers and libsodium, not px_crypto.
 * Never allocates, never fails.
 */
#ifndef PX_CRYPTO_SHA256_H
#define PX_CRYPTO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define SHA256_SIZE 32

/* Incremental hashing: init, update as often as needed, final. */
struct sha256 {
    crypto_hash_sha256_state st;
};

static inline void sha256_init(struct sha256 *h)
{
    crypto_hash_sha256_init(&h->st);
}

static inline void sha256_update(struct sha256 *h, const void *data, size_t len)
{
    crypto_hash_sha256_update(&h->st, (const unsigned char *)data, (unsigned long long)len);
}

static inline void sha256_final(struct sha256 *h, uint8_t out[SHA256_SIZE])
{
    crypto_hash_sha256_final(&h->st, out);
}

/* out = SHA-256(data[0..len)). data may be NULL when len is 0. */
static inline void sha256(uint8_t out[SHA256_SIZE], const void *data, size_t len)
{
    static const uint8_t empty[1] = {0};
    crypto_hash_sha256(out, len ? (const unsigned char *)data : empty, (unsigned long long)len);
}

#endif
