/*
 * sigcache: a bounded, thread-safe cache of signatures already verified, so that a vote
 * or proposal seen twice (from two peers, or again in a commit) costs one Ed25519
 * verification. It remembers (public key, SHA-256 of the message, signature) triples that
 * verified, keyed by one SHA-256 over the three; the least recently used entry makes room
 * for a new one. It never stores a signature that failed (a peer could fill it with junk)
 * and never grows beyond the capacity given at creation.
 */
#ifndef PX_CRYPTO_SIGCACHE_H
#define PX_CRYPTO_SIGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ed25519.h"

#define SIGCACHE_KEY_SIZE 32
#define SIGCACHE_MAX_ENTRIES (1u << 24)

struct sigcache;

struct sigcache_stats {
    uint64_t hits;
    uint64_t misses;
    uint64_t evictions;
    size_t size;
    size_t capacity;
};

/* A cache of at most `capacity` entries (1..SIGCACHE_MAX_ENTRIES).
 * Errors: PX_EINVAL (capacity out of range), PX_ENOMEM. */
int sigcache_new(size_t capacity, struct sigcache **out);
void sigcache_free(struct sigcache *c);

/* The cache key of a triple: SHA-256(pub || SHA-256(msg) || sig). */
void sigcache_key(const struct ed25519_pubkey *pub, const uint8_t *msg, size_t len,
                  const uint8_t sig[ED25519_SIG_SIZE], uint8_t key[SIGCACHE_KEY_SIZE]);

/* True if key is cached (and marks it most recently used). Counts a hit or a miss. */
bool sigcache_lookup(struct sigcache *c, const uint8_t key[SIGCACHE_KEY_SIZE]);
/* Remember key as verified, evicting the least recently used entry when full. */
void sigcache_insert(struct sigcache *c, const uint8_t key[SIGCACHE_KEY_SIZE]);

void sigcache_stats(struct sigcache *c, struct sigcache_stats *out);

#endif
