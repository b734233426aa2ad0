/*
 * crypto_verifier: checks batches of Ed25519 signatures on a small pool of worker
 * threads, with a cache (sigcache) so that a triple seen twice is verified once. The node
 * submits the (public key, message, signature) of incoming votes and proposals and gets
 * the results back by a callback, which it turns into an event for the consensus thread
 * (DESIGN §3 rule 4: the core sees only messages whose signature has been checked).
 *
 * Bounded: a batch has at most max_batch items of at most max_msg_bytes each, and at most
 * queue_items items wait at any time; beyond that a submission is refused (PX_EBOUND) and
 * its callback never runs. Messages are copied at submission. Callbacks run on a worker
 * thread and must not call back into the verifier's submit or free.
 */
#ifndef PX_CRYPTO_VERIFIER_H
#define PX_CRYPTO_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ed25519.h"
#include "sigcache.h"

struct crypto_verifier;

struct crypto_verifier_config {
    unsigned workers;     /* threads, 1..64 (0: 2) */
    size_t queue_items;   /* items waiting at most (0: 4096) */
    size_t max_batch;     /* items per batch at most (0: 1024) */
    size_t max_msg_bytes; /* bytes per message at most (0: 4096) */
    size_t cache_entries; /* sigcache capacity (0: 65536) */
};

struct crypto_verify_item {
    struct ed25519_pubkey pub;
    const uint8_t *msg; /* borrowed for the call to submit only */
    size_t msg_len;
    uint8_t sig[ED25519_SIG_SIZE];
};

struct crypto_verify_result {
    int rc;      /* 0: valid; PX_ECRYPTO: invalid */
    bool cached; /* answered from the cache */
};

/* results[i] is the answer for items[i] of the submitted batch; valid during the call. */
typedef void (*crypto_verifier_done_cb)(const struct crypto_verify_result *results, size_t n,
                                        void *user);

/* Start the pool. cfg may be NULL (defaults). Errors: PX_EINVAL, PX_ENOMEM, PX_EINTERNAL. */
int crypto_verifier_new(const struct crypto_verifier_config *cfg, struct crypto_verifier **out);

/* Finish every batch already submitted (their callbacks run), then stop the threads and
 * free everything. */
void crypto_verifier_free(struct crypto_verifier *v);

/* Queue a batch of n items; done(results, n, user) runs once, on a worker thread, when all
 * are checked. Errors (done is then never called): PX_EINVAL (n == 0 or NULL arguments),
 * PX_ETOOBIG (n > max_batch or a message larger than max_msg_bytes), PX_EBOUND (the queue
 * has no room for n more items: try again later), PX_ECLOSED (shutting down), PX_ENOMEM. */
int crypto_verifier_submit(struct crypto_verifier *v, const struct crypto_verify_item *items,
                           size_t n, crypto_verifier_done_cb done, void *user);

/* Check one signature on the calling thread, through the same cache.
 * 0 if valid, PX_ECRYPTO if not. *cached (may be NULL) says whether the cache answered. */
int crypto_verifier_verify(struct crypto_verifier *v, const struct ed25519_pubkey *pub,
                           const uint8_t *msg, size_t len, const uint8_t sig[ED25519_SIG_SIZE],
                           bool *cached);

/* The same check in the shape of engine/types' sign_bytes_verify_fn (user: the verifier),
 * so commit_verify and evidence_verify go through the cache: 0 or PX_ECRYPTO. */
int crypto_verifier_verify_fn(const uint8_t pub[ED25519_PUBKEY_SIZE], const uint8_t *msg,
                              size_t len, const uint8_t sig[ED25519_SIG_SIZE], void *user);

void crypto_verifier_cache_stats(struct crypto_verifier *v, struct sigcache_stats *out);

#endif
