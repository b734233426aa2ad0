/*
 * ed25519: Phalanx's signature scheme (DESIGN §4), Ed25519 from libsodium, and the
 * address of a key (first 20 bytes of SHA-256 of the public key, as CometBFT).
 *
 * A private key is 64 bytes, seed || public key, the layout of libsodium and of
 * CometBFT's key files. Header-only for the reason given in sha256.h. Never logs or
 * copies private key bytes anywhere but the caller's buffers; callers wipe private keys
 * with ed25519_privkey_wipe when done.
 */
#ifndef PX_CRYPTO_ED25519_H
#define PX_CRYPTO_ED25519_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "px_error.h"
#include "sha256.h"

#define ED25519_PUBKEY_SIZE 32
#define ED25519_PRIVKEY_SIZE 64
#define ED25519_SEED_SIZE 32
#define ED25519_SIG_SIZE 64
#define CRYPTO_ADDRESS_SIZE 20

struct ed25519_pubkey {
    uint8_t bytes[ED25519_PUBKEY_SIZE];
};

struct ed25519_privkey {
    uint8_t bytes[ED25519_PRIVKEY_SIZE]; /* seed (32) || public key (32) */
};

/* Make sure libsodium is initialised (idempotent, thread safe). PX_EINTERNAL if it
 * cannot be. */
static inline int ed25519_lib_init(void)
{
    return sodium_init() < 0 ? PX_EINTERNAL : 0;
}

/* A fresh key pair from the system's randomness. 0 or PX_EINTERNAL. */
static inline int ed25519_generate(struct ed25519_privkey *priv, struct ed25519_pubkey *pub)
{
    if (ed25519_lib_init() != 0)
        return PX_EINTERNAL;
    if (crypto_sign_keypair(pub->bytes, priv->bytes) != 0)
        return PX_EINTERNAL;
    return 0;
}

/* The key pair of a 32-byte seed (deterministic: tests and fixed keys). 0 or PX_EINTERNAL. */
static inline int ed25519_from_seed(const uint8_t seed[ED25519_SEED_SIZE],
                                    struct ed25519_privkey *priv, struct ed25519_pubkey *pub)
{
    if (ed25519_lib_init() != 0)
        return PX_EINTERNAL;
    if (crypto_sign_seed_keypair(pub->bytes, priv->bytes, seed) != 0)
        return PX_EINTERNAL;
    return 0;
}

/* The public key that belongs to priv (recomputed from its seed, not read from its second
 * half). 0 or PX_EINTERNAL. */
static inline int ed25519_pubkey_of(const struct ed25519_privkey *priv, struct ed25519_pubkey *pub)
{
    struct ed25519_privkey tmp;
    int rc = ed25519_from_seed(priv->bytes, &tmp, pub);
    sodium_memzero(&tmp, sizeof(tmp));
    return rc;
}

/* True if the second half of priv is the public key of its seed. */
static inline bool ed25519_privkey_consistent(const struct ed25519_privkey *priv)
{
    struct ed25519_pubkey pub;
    if (ed25519_pubkey_of(priv, &pub) != 0)
        return false;
    return sodium_memcmp(pub.bytes, priv->bytes + ED25519_SEED_SIZE, ED25519_PUBKEY_SIZE) == 0;
}

/* sig = Ed25519 signature of msg by priv. 0 or PX_EINTERNAL. */
static inline int ed25519_sign(const struct ed25519_privkey *priv, const uint8_t *msg, size_t len,
                               uint8_t sig[ED25519_SIG_SIZE])
{
    static const uint8_t empty[1] = {0};
    if (ed25519_lib_init() != 0)
        return PX_EINTERNAL;
    if (crypto_sign_detached(sig, NULL, len ? msg : empty, (unsigned long long)len, priv->bytes) !=
        0)
        return PX_EINTERNAL;
    return 0;
}

/* 0 if sig is pub's valid signature of msg, PX_ECRYPTO otherwise (also if libsodium
 * cannot start: nothing is ever accepted unchecked). */
static inline int ed25519_verify(const struct ed25519_pubkey *pub, const uint8_t *msg, size_t len,
                                 const uint8_t sig[ED25519_SIG_SIZE])
{
    static const uint8_t empty[1] = {0};
    if (ed25519_lib_init() != 0)
        return PX_ECRYPTO;
    if (crypto_sign_verify_detached(sig, len ? msg : empty, (unsigned long long)len, pub->bytes) !=
        0)
        return PX_ECRYPTO;
    return 0;
}

/* addr = first 20 bytes of SHA-256(pub). */
static inline void ed25519_address(const struct ed25519_pubkey *pub,
                                   uint8_t addr[CRYPTO_ADDRESS_SIZE])
{
    uint8_t h[SHA256_SIZE];
    sha256(h, pub->bytes, sizeof(pub->bytes));
    memcpy(addr, h, CRYPTO_ADDRESS_SIZE);
}

static inline void ed25519_privkey_wipe(struct ed25519_privkey *priv)
{
    sodium_memzero(priv, sizeof(*priv));
}

#endif
