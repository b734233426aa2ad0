/* Unit tests of crypto_verifier: a batch with good and bad signatures answered by
 * callback, the cache answering a second sight, bounds (batch size, message size, queue),
 * and shutdown finishing queued work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto_verifier.h"
#include "px_error.h"
#include "px_test.h"

#define N 64

struct done_rec {
    pthread_mutex_t mu;
    int calls;
    size_t n;
    struct crypto_verify_result res[N];
};

static void on_done(const struct crypto_verify_result *r, size_t n, void *user)
{
    struct done_rec *d = user;
    pthread_mutex_lock(&d->mu);
    d->calls++;
    d->n = n;
    memcpy(d->res, r, n * sizeof(*r));
    pthread_mutex_unlock(&d->mu);
}

static bool called(void *user)
{
    struct done_rec *d = user;
    pthread_mutex_lock(&d->mu);
    bool c = d->calls > 0;
    pthread_mutex_unlock(&d->mu);
    return c;
}

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int calls;
};

static void on_done_gated(const struct crypto_verify_result *r, size_t n, void *user)
{
    (void)r;
    (void)n;
    struct gate *g = user;
    pthread_mutex_lock(&g->mu);
    g->calls++;
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static bool gate_entered(void *user)
{
    struct gate *g = user;
    pthread_mutex_lock(&g->mu);
    bool e = g->calls > 0;
    pthread_mutex_unlock(&g->mu);
    return e;
}

static struct ed25519_privkey privs[4];
static struct ed25519_pubkey pubs[4];
static uint8_t msgs[N][40];

/* N items signed by 4 keys; items whose index is a multiple of 5 carry a bad signature. */
static void make_items(struct crypto_verify_item *items)
{
    for (int k = 0; k < 4; k++) {
        uint8_t seed[32] = {(uint8_t)(k + 1)};
        assert_int_equal(ed25519_from_seed(seed, &privs[k], &pubs[k]), 0);
    }
    for (int i = 0; i < N; i++) {
        memset(msgs[i], i, sizeof(msgs[i]));
        items[i].pub = pubs[i % 4];
        items[i].msg = msgs[i];
        items[i].msg_len = sizeof(msgs[i]);
        assert_int_equal(ed25519_sign(&privs[i % 4], msgs[i], sizeof(msgs[i]), items[i].sig), 0);
        if (i % 5 == 0)
            items[i].sig[i % 64] ^= 0x10;
    }
}

static void batch_results_and_cache(void **state)
{
    (void)state;
    struct crypto_verify_item items[N];
    make_items(items);
    struct crypto_verifier *v;
    struct crypto_verifier_config cfg = {.workers = 2, .cache_entries = 1000};
    assert_int_equal(crypto_verifier_new(&cfg, &v), 0);

    struct done_rec d = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(crypto_verifier_submit(v, items, N, on_done, &d), 0);
    /* the batch was copied: scribbling on our messages changes nothing */
    memset(msgs, 0xee, sizeof(msgs));
    assert_true(pxt_wait_until(called, &d, 10000));
    assert_int_equal(d.n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(d.res[i].rc, i % 5 == 0 ? PX_ECRYPTO : 0);
        assert_false(d.res[i].cached);
    }

    /* second sight of the same batch: every valid one comes from the cache */
    make_items(items);
    struct done_rec d2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(crypto_verifier_submit(v, items, N, on_done, &d2), 0);
    assert_true(pxt_wait_until(called, &d2, 10000));
    for (int i = 0; i < N; i++) {
        assert_int_equal(d2.res[i].rc, i % 5 == 0 ? PX_ECRYPTO : 0);
        assert_int_equal(d2.res[i].cached, i % 5 != 0);
    }
    struct sigcache_stats st;
    crypto_verifier_cache_stats(v, &st);
    assert_int_equal(st.size, N - (N + 4) / 5);

    /* the synchronous path shares the cache */
    bool cached = false;
    assert_int_equal(crypto_verifier_verify(v, &items[1].pub, items[1].msg, items[1].msg_len,
                                            items[1].sig, &cached),
                     0);
    assert_true(cached);
    assert_int_equal(crypto_verifier_verify(v, &items[0].pub, items[0].msg, items[0].msg_len,
                                            items[0].sig, &cached),
                     PX_ECRYPTO);
    assert_false(cached);
    /* a valid signature with one message byte changed misses the cache and fails */
    msgs[1][0] ^= 1;
    assert_int_equal(crypto_verifier_verify(v, &items[1].pub, items[1].msg, items[1].msg_len,
                                            items[1].sig, &cached),
                     PX_ECRYPTO);
    /* the adapter for engine/types' verify functions shares it too */
    assert_int_equal(crypto_verifier_verify_fn(items[2].pub.bytes, items[2].msg, items[2].msg_len,
                                               items[2].sig, v),
                     0);
    assert_int_equal(crypto_verifier_verify_fn(items[1].pub.bytes, items[1].msg, items[1].msg_len,
                                               items[1].sig, v),
                     PX_ECRYPTO);
    crypto_verifier_cache_stats(v, &st);
    uint64_t hits = st.hits;
    assert_int_equal(crypto_verifier_verify_fn(items[2].pub.bytes, items[2].msg, items[2].msg_len,
                                               items[2].sig, v),
                     0);
    crypto_verifier_cache_stats(v, &st);
    assert_int_equal(st.hits, hits + 1);
    crypto_verifier_free(v);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d2.calls, 1);
}

static void bounds(void **state)
{
    (void)state;
    struct crypto_verify_item items[N];
    make_items(items);
    struct crypto_verifier *v;
    struct crypto_verifier_config cfg = {
        .workers = 1, .queue_items = 8, .max_batch = 8, .max_msg_bytes = 40};
    assert_int_equal(crypto_verifier_new(&cfg, &v), 0);
    struct done_rec d = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(crypto_verifier_submit(v, items, 9, on_done, &d), PX_ETOOBIG);
    assert_int_equal(crypto_verifier_submit(v, items, 0, on_done, &d), PX_EINVAL);
    assert_int_equal(crypto_verifier_submit(v, items, 1, NULL, &d), PX_EINVAL);
    items[2].msg_len = 41;
    assert_int_equal(crypto_verifier_submit(v, items, 3, on_done, &d), PX_ETOOBIG);
    items[2].msg_len = 40;
    /* hold the only worker inside batch A's callback; then B fills the queue of 8 and C
     * is refused; after release every accepted batch calls back exactly once */
    struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct done_rec b = {.mu = PTHREAD_MUTEX_INITIALIZER}, c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(crypto_verifier_submit(v, items, 8, on_done_gated, &g), 0);
    assert_true(pxt_wait_until(gate_entered, &g, 10000));
    assert_int_equal(crypto_verifier_submit(v, items, 8, on_done, &b), 0);
    assert_int_equal(crypto_verifier_submit(v, items, 1, on_done, &c), PX_EBOUND);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    crypto_verifier_free(v); /* finishes what was accepted */
    assert_int_equal(g.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(c.calls, 0);
    assert_int_equal(d.calls, 0); /* failed submissions never call back */

    assert_int_equal(crypto_verifier_new(&(struct crypto_verifier_config){.workers = 65}, &v),
                     PX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_results_and_cache),
        cmocka_unit_test(bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
