/*
 * crypto_verifier: the signature-checking worker pool (see crypto_verifier.h).
 *
 * A submitted batch is one allocation holding copies of its items and messages and the
 * result array; its items go into a ring of (batch, index) tasks of fixed size. Workers
 * take one task at a time; the worker that finishes a batch's last item calls its
 * callback and frees it. Must never block a submitter (a full ring is an error, not a
 * wait), never call a callback of a failed submission, and never lose a queued batch at
 * shutdown.
 */
#include "crypto_verifier.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "px_error.h"

#define MAX_WORKERS 64

struct batch_item {
    struct ed25519_pubkey pub;
    uint8_t sig[ED25519_SIG_SIZE];
    size_t msg_off, msg_len;
};

struct batch {
    crypto_verifier_done_cb done;
    void *user;
    size_t n;
    size_t remaining; /* under the verifier's mutex */
    struct batch_item *items;
    struct crypto_verify_result *results;
    uint8_t *msgs;
};

struct task {
    struct batch *b;
    size_t idx;
};

struct crypto_verifier {
    struct crypto_verifier_config cfg;
    struct sigcache *cache;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task *ring;
    size_t head, len; /* ring: tasks[head .. head+len) modulo queue_items */
    bool stopping;
    unsigned nthreads;
    pthread_t threads[MAX_WORKERS];
};

static int check_one(struct crypto_verifier *v, const struct ed25519_pubkey *pub,
                     const uint8_t *msg, size_t len, const uint8_t sig[ED25519_SIG_SIZE],
                     bool *cached)
{
    uint8_t key[SIGCACHE_KEY_SIZE];
    sigcache_key(pub, msg, len, sig, key);
    if (sigcache_lookup(v->cache, key)) {
        if (cached)
            *cached = true;
        return 0;
    }
    if (cached)
        *cached = false;
    int rc = ed25519_verify(pub, msg, len, sig);
    if (rc == 0)
        sigcache_insert(v->cache, key);
    return rc;
}

static void *worker_main(void *arg)
{
    struct crypto_verifier *v = arg;
    pthread_mutex_lock(&v->mu);
    for (;;) {
        while (v->len == 0 && !v->stopping)
            pthread_cond_wait(&v->cv, &v->mu);
        if (v->len == 0) /* stopping and drained */
            break;
        struct task t = v->ring[v->head];
        v->head = (v->head + 1) % v->cfg.queue_items;
        v->len--;
        pthread_mutex_unlock(&v->mu);

        struct batch *b = t.b;
        const struct batch_item *it = &b->items[t.idx];
        struct crypto_verify_result *r = &b->results[t.idx];
        r->rc = check_one(v, &it->pub, b->msgs + it->msg_off, it->msg_len, it->sig, &r->cached);

        pthread_mutex_lock(&v->mu);
        if (--b->remaining == 0) {
            pthread_mutex_unlock(&v->mu);
            b->done(b->results, b->n, b->user);
            free(b);
            pthread_mutex_lock(&v->mu);
        }
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

int crypto_verifier_new(const struct crypto_verifier_config *cfg, struct crypto_verifier **out)
{
    if (!out)
        return PX_EINVAL;
    struct crypto_verifier_config c = {0};
    if (cfg)
        c = *cfg;
    if (c.workers == 0)
        c.workers = 2;
    if (c.queue_items == 0)
        c.queue_items = 4096;
    if (c.max_batch == 0)
        c.max_batch = 1024;
    if (c.max_msg_bytes == 0)
        c.max_msg_bytes = 4096;
    if (c.cache_entries == 0)
        c.cache_entries = 65536;
    if (c.workers > MAX_WORKERS || c.queue_items > (1u << 24) || c.max_batch > c.queue_items ||
        c.max_msg_bytes > (16u << 20))
        return PX_EINVAL;
    if (ed25519_lib_init() != 0)
        return PX_EINTERNAL;

    struct crypto_verifier *v = calloc(1, sizeof(*v));
    if (!v)
        return PX_ENOMEM;
    v->cfg = c;
    int rc = sigcache_new(c.cache_entries, &v->cache);
    if (rc != 0) {
        free(v);
        return rc;
    }
    v->ring = calloc(c.queue_items, sizeof(*v->ring));
    if (!v->ring) {
        sigcache_free(v->cache);
        free(v);
        return PX_ENOMEM;
    }
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    for (unsigned i = 0; i < c.workers; i++) {
        if (pthread_create(&v->threads[i], NULL, worker_main, v) != 0) {
            crypto_verifier_free(v);
            return PX_EINTERNAL;
        }
        v->nthreads++;
    }
    *out = v;
    return 0;
}

void crypto_verifier_free(struct crypto_verifier *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    v->stopping = true;
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
    for (unsigned i = 0; i < v->nthreads; i++)
        pthread_join(v->threads[i], NULL);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v->ring);
    sigcache_free(v->cache);
    free(v);
}

int crypto_verifier_submit(struct crypto_verifier *v, const struct crypto_verify_item *items,
                           size_t n, crypto_verifier_done_cb done, void *user)
{
    if (!v || !items || n == 0 || !done)
        return PX_EINVAL;
    if (n > v->cfg.max_batch)
        return PX_ETOOBIG;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].msg_len > v->cfg.max_msg_bytes)
            return PX_ETOOBIG;
        if (items[i].msg_len && !items[i].msg)
            return PX_EINVAL;
        total += items[i].msg_len;
    }
    /* one allocation: header, items, results, message bytes */
    size_t sz = sizeof(struct batch) + n * sizeof(struct batch_item) +
                n * sizeof(struct crypto_verify_result) + total;
    struct batch *b = calloc(1, sz);
    if (!b)
        return PX_ENOMEM;
    b->done = done;
    b->user = user;
    b->n = n;
    b->remaining = n;
    b->items = (struct batch_item *)(b + 1);
    b->results = (struct crypto_verify_result *)(b->items + n);
    b->msgs = (uint8_t *)(b->results + n);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        b->items[i].pub = items[i].pub;
        memcpy(b->items[i].sig, items[i].sig, ED25519_SIG_SIZE);
        b->items[i].msg_off = off;
        b->items[i].msg_len = items[i].msg_len;
        if (items[i].msg_len)
            memcpy(b->msgs + off, items[i].msg, items[i].msg_len);
        off += items[i].msg_len;
    }

    pthread_mutex_lock(&v->mu);
    int rc = 0;
    if (v->stopping)
        rc = PX_ECLOSED;
    else if (v->cfg.queue_items - v->len < n)
        rc = PX_EBOUND;
    if (rc != 0) {
        pthread_mutex_unlock(&v->mu);
        free(b);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        size_t slot = (v->head + v->len) % v->cfg.queue_items;
        v->ring[slot].b = b;
        v->ring[slot].idx = i;
        v->len++;
    }
    pthread_cond_broadcast(&v->cv);
    pthread_mutex_unlock(&v->mu);
    return 0;
}

int crypto_verifier_verify(struct crypto_verifier *v, const struct ed25519_pubkey *pub,
                           const uint8_t *msg, size_t len, const uint8_t sig[ED25519_SIG_SIZE],
                           bool *cached)
{
    if (!v || !pub || !sig || (len && !msg))
        return PX_EINVAL;
    return check_one(v, pub, msg, len, sig, cached);
}

int crypto_verifier_verify_fn(const uint8_t pub[ED25519_PUBKEY_SIZE], const uint8_t *msg,
                              size_t len, const uint8_t sig[ED25519_SIG_SIZE], void *user)
{
    struct ed25519_pubkey pk;
    memcpy(pk.bytes, pub, sizeof(pk.bytes));
    return crypto_verifier_verify(user, &pk, msg, len, sig, NULL) == 0 ? 0 : PX_ECRYPTO;
}

void crypto_verifier_cache_stats(struct crypto_verifier *v, struct sigcache_stats *out)
{
    sigcache_stats(v->cache, out);
}
