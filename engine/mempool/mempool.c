/*
 * mempool: see mempool.h. Two fixed-size tables sized at creation from the limits, so
 * nothing grows with what peers send: the pool (FIFO list + hash chains) and the cache
 * (LRU list + hash chains over a preallocated array). One mutex guards both; no call
 * holds it while doing anything but memory work.
 */
#include "mempool.h"

#include "px_clock.h"
#include "px_error.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    struct mempool_tx tx;
    struct entry *prev, *next; /* FIFO */
    struct entry *hnext;       /* hash chain */
};

struct centry {
    uint8_t hash[32];
    struct centry *prev, *next; /* LRU: head = oldest */
    struct centry *hnext;
};

struct mempool {
    struct mempool_config cfg;
    pthread_mutex_t lock;
    /* the check gate (see mempool.h), under gate_lock */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond; /* CLOCK_MONOTONIC */
    bool paused;
    uint32_t checks_in_flight;
    /* pool */
    struct entry **buckets;
    size_t nbuckets;
    struct entry *head, *tail;
    uint64_t last_seq;
    struct mempool_stats st;
    /* cache */
    struct centry *cache;
    struct centry **cbuckets;
    size_t ncbuckets;
    struct centry *chead, *ctail, *cfree;
};

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

static size_t bucket_of(const uint8_t hash[32], size_t n)
{
    uint64_t v;
    memcpy(&v, hash, sizeof(v));
    return (size_t)(v & (n - 1));
}

void mempool_tx_hash(const uint8_t *tx, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, tx, len);
}

int mempool_new(const struct mempool_config *cfg, struct mempool **out)
{
    *out = NULL;
    if (cfg->max_txs == 0 || cfg->max_bytes == 0 || cfg->max_tx_bytes == 0 ||
        cfg->cache_size == 0 || cfg->max_txs > (1u << 24) || cfg->cache_size > (1u << 24))
        return PX_EINVAL;
    struct mempool *mp = calloc(1, sizeof(*mp));
    if (!mp)
        return PX_ENOMEM;
    mp->cfg = *cfg;
    pthread_mutex_init(&mp->lock, NULL);
    pthread_mutex_init(&mp->gate_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&mp->gate_cond, &ca);
    pthread_condattr_destroy(&ca);
    mp->nbuckets = pow2_at_least((size_t)cfg->max_txs * 2);
    mp->ncbuckets = pow2_at_least((size_t)cfg->cache_size * 2);
    mp->buckets = calloc(mp->nbuckets, sizeof(*mp->buckets));
    mp->cbuckets = calloc(mp->ncbuckets, sizeof(*mp->cbuckets));
    mp->cache = calloc(cfg->cache_size, sizeof(*mp->cache));
    if (!mp->buckets || !mp->cbuckets || !mp->cache) {
        mempool_free(mp);
        return PX_ENOMEM;
    }
    for (uint32_t i = 0; i < cfg->cache_size; i++) {
        mp->cache[i].next = mp->cfree;
        mp->cfree = &mp->cache[i];
    }
    *out = mp;
    return 0;
}

static void drop_all_entries(struct mempool *mp)
{
    struct entry *e = mp->head;
    while (e) {
        struct entry *n = e->next;
        free(e->tx.data);
        free(e);
        e = n;
    }
    mp->head = mp->tail = NULL;
    if (mp->buckets)
        memset(mp->buckets, 0, mp->nbuckets * sizeof(*mp->buckets));
    mp->st.txs = 0;
    mp->st.bytes = 0;
}

void mempool_free(struct mempool *mp)
{
    if (!mp)
        return;
    drop_all_entries(mp);
    free(mp->buckets);
    free(mp->cbuckets);
    free(mp->cache);
    pthread_mutex_destroy(&mp->lock);
    pthread_mutex_destroy(&mp->gate_lock);
    pthread_cond_destroy(&mp->gate_cond);
    free(mp);
}

/* ---- pool ---------------------------------------------------------------------------- */

static struct entry *pool_find(struct mempool *mp, const uint8_t hash[32])
{
    for (struct entry *e = mp->buckets[bucket_of(hash, mp->nbuckets)]; e; e = e->hnext)
        if (memcmp(e->tx.hash, hash, 32) == 0)
            return e;
    return NULL;
}

static void pool_unlink(struct mempool *mp, struct entry *e)
{
    struct entry **pp = &mp->buckets[bucket_of(e->tx.hash, mp->nbuckets)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        mp->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        mp->tail = e->prev;
    mp->st.txs--;
    mp->st.bytes -= e->tx.len;
    free(e->tx.data);
    free(e);
}

static bool pool_full_for(struct mempool *mp, size_t len)
{
    return mp->st.txs >= mp->cfg.max_txs || mp->st.bytes + len > mp->cfg.max_bytes;
}

/* ---- cache --------------------------------------------------------------------------- */

static struct centry *cache_find(struct mempool *mp, const uint8_t hash[32])
{
    for (struct centry *c = mp->cbuckets[bucket_of(hash, mp->ncbuckets)]; c; c = c->hnext)
        if (memcmp(c->hash, hash, 32) == 0)
            return c;
    return NULL;
}

static void lru_unlink(struct mempool *mp, struct centry *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        mp->chead = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        mp->ctail = c->prev;
    c->prev = c->next = NULL;
}

static void lru_push_tail(struct mempool *mp, struct centry *c)
{
    c->prev = mp->ctail;
    c->next = NULL;
    if (mp->ctail)
        mp->ctail->next = c;
    else
        mp->chead = c;
    mp->ctail = c;
}

static void cache_remove_entry(struct mempool *mp, struct centry *c)
{
    struct centry **pp = &mp->cbuckets[bucket_of(c->hash, mp->ncbuckets)];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
    lru_unlink(mp, c);
    c->next = mp->cfree;
    mp->cfree = c;
}

/* Remember hash as most recently seen; evicts the oldest when full. */
static void cache_touch(struct mempool *mp, const uint8_t hash[32])
{
    struct centry *c = cache_find(mp, hash);
    if (c) {
        lru_unlink(mp, c);
        lru_push_tail(mp, c);
        return;
    }
    if (!mp->cfree)
        cache_remove_entry(mp, mp->chead);
    c = mp->cfree;
    mp->cfree = c->next;
    memcpy(c->hash, hash, 32);
    size_t b = bucket_of(hash, mp->ncbuckets);
    c->hnext = mp->cbuckets[b];
    mp->cbuckets[b] = c;
    lru_push_tail(mp, c);
}

static void cache_forget(struct mempool *mp, const uint8_t hash[32])
{
    struct centry *c = cache_find(mp, hash);
    if (c)
        cache_remove_entry(mp, c);
}

/* ---- API ----------------------------------------------------------------------------- */

int mempool_precheck(struct mempool *mp, const uint8_t *tx, size_t len)
{
    if (len > mp->cfg.max_tx_bytes || len == 0) {
        pthread_mutex_lock(&mp->lock);
        mp->st.refused_too_big++;
        pthread_mutex_unlock(&mp->lock);
        return len == 0 ? PX_EINVAL : PX_ETOOBIG;
    }
    uint8_t h[32];
    mempool_tx_hash(tx, len, h);
    int rc = 0;
    pthread_mutex_lock(&mp->lock);
    if (pool_find(mp, h) || cache_find(mp, h)) {
        mp->st.duplicates++;
        rc = PX_EEXIST;
    } else if (pool_full_for(mp, len)) {
        mp->st.refused_full++;
        rc = PX_EBOUND;
    } else {
        cache_touch(mp, h);
    }
    pthread_mutex_unlock(&mp->lock);
    return rc;
}

int mempool_insert(struct mempool *mp, const uint8_t *tx, size_t len, int64_t gas_wanted,
                   uint64_t height)
{
    if (len == 0)
        return PX_EINVAL;
    if (len > mp->cfg.max_tx_bytes)
        return PX_ETOOBIG;
    struct entry *e = calloc(1, sizeof(*e));
    uint8_t *copy = malloc(len);
    if (!e || !copy) {
        free(e);
        free(copy);
        return PX_ENOMEM;
    }
    memcpy(copy, tx, len);
    mempool_tx_hash(tx, len, e->tx.hash);
    e->tx.data = copy;
    e->tx.len = len;
    e->tx.gas_wanted = gas_wanted;
    e->tx.height = height;
    int rc = 0;
    pthread_mutex_lock(&mp->lock);
    if (pool_find(mp, e->tx.hash)) {
        rc = PX_EEXIST;
    } else if (pool_full_for(mp, len)) {
        cache_forget(mp, e->tx.hash);
        mp->st.refused_full++;
        rc = PX_EBOUND;
    } else {
        e->tx.seq = ++mp->last_seq;
        size_t b = bucket_of(e->tx.hash, mp->nbuckets);
        e->hnext = mp->buckets[b];
        mp->buckets[b] = e;
        e->prev = mp->tail;
        if (mp->tail)
            mp->tail->next = e;
        else
            mp->head = e;
        mp->tail = e;
        mp->st.txs++;
        mp->st.bytes += len;
        mp->st.inserted++;
        cache_touch(mp, e->tx.hash);
        e = NULL;
    }
    pthread_mutex_unlock(&mp->lock);
    if (e) {
        free(e->tx.data);
        free(e);
    }
    return rc;
}

void mempool_reject(struct mempool *mp, const uint8_t *tx, size_t len)
{
    uint8_t h[32];
    mempool_tx_hash(tx, len, h);
    pthread_mutex_lock(&mp->lock);
    mp->st.rejected++;
    if (!mp->cfg.keep_invalid_in_cache)
        cache_forget(mp, h);
    pthread_mutex_unlock(&mp->lock);
}

static int copy_tx(struct mempool_tx *dst, const struct mempool_tx *src)
{
    *dst = *src;
    dst->data = malloc(src->len);
    if (!dst->data)
        return PX_ENOMEM;
    memcpy(dst->data, src->data, src->len);
    return 0;
}

void mempool_txs_free(struct mempool_tx *txs, size_t n)
{
    if (!txs)
        return;
    for (size_t i = 0; i < n; i++)
        free(txs[i].data);
    free(txs);
}

/* Collect into a fresh array, oldest first, up to max_txs entries with seq > after_seq
 * while their sizes (each plus per_tx_bytes) and gas stay within the bounds. */
static int collect(struct mempool *mp, uint64_t after_seq, uint64_t max_bytes,
                   uint32_t per_tx_bytes, int64_t max_gas, size_t max_txs, struct mempool_tx **txs,
                   size_t *n)
{
    *txs = NULL;
    *n = 0;
    size_t cap = mp->st.txs < max_txs ? mp->st.txs : max_txs;
    if (cap == 0)
        return 0;
    struct mempool_tx *arr = calloc(cap, sizeof(*arr));
    if (!arr)
        return PX_ENOMEM;
    uint64_t bytes = 0;
    int64_t gas = 0;
    size_t k = 0;
    for (struct entry *e = mp->head; e && k < cap; e = e->next) {
        if (e->tx.seq <= after_seq)
            continue;
        uint64_t cost = (uint64_t)e->tx.len + per_tx_bytes;
        if (cost > max_bytes - bytes)
            break; /* FIFO: never skip ahead of an older tx */
        if (max_gas >= 0 && gas + e->tx.gas_wanted > max_gas)
            break;
        if (copy_tx(&arr[k], &e->tx) != 0) {
            mempool_txs_free(arr, k);
            return PX_ENOMEM;
        }
        bytes += cost;
        gas += e->tx.gas_wanted;
        k++;
    }
    if (k == 0) { /* nothing after the cursor: no array to hand out */
        free(arr);
        arr = NULL;
    }
    *txs = arr;
    *n = k;
    return 0;
}

int mempool_reap(struct mempool *mp, uint64_t max_bytes, uint32_t per_tx_bytes, int64_t max_gas,
                 uint32_t max_txs, struct mempool_tx **txs, size_t *n)
{
    pthread_mutex_lock(&mp->lock);
    int rc = collect(mp, 0, max_bytes, per_tx_bytes, max_gas, max_txs, txs, n);
    pthread_mutex_unlock(&mp->lock);
    return rc;
}

int mempool_after(struct mempool *mp, uint64_t after_seq, size_t max, struct mempool_tx **txs,
                  size_t *n)
{
    pthread_mutex_lock(&mp->lock);
    int rc = collect(mp, after_seq, UINT64_MAX, 0, -1, max, txs, n);
    pthread_mutex_unlock(&mp->lock);
    return rc;
}

void mempool_update(struct mempool *mp, uint64_t height, const uint8_t (*tx_hashes)[32], size_t n)
{
    (void)height;
    pthread_mutex_lock(&mp->lock);
    for (size_t i = 0; i < n; i++) {
        struct entry *e = pool_find(mp, tx_hashes[i]);
        if (e) {
            pool_unlink(mp, e);
            mp->st.evicted_committed++;
        }
        cache_touch(mp, tx_hashes[i]);
    }
    pthread_mutex_unlock(&mp->lock);
}

int mempool_remove(struct mempool *mp, const uint8_t hash[32], bool failed_recheck)
{
    int rc = PX_ENOTFOUND;
    pthread_mutex_lock(&mp->lock);
    struct entry *e = pool_find(mp, hash);
    if (e) {
        pool_unlink(mp, e);
        if (failed_recheck) {
            mp->st.failed_recheck++;
            if (!mp->cfg.keep_invalid_in_cache)
                cache_forget(mp, hash);
        }
        rc = 0;
    }
    pthread_mutex_unlock(&mp->lock);
    return rc;
}

bool mempool_contains(struct mempool *mp, const uint8_t hash[32])
{
    pthread_mutex_lock(&mp->lock);
    bool yes = pool_find(mp, hash) != NULL;
    pthread_mutex_unlock(&mp->lock);
    return yes;
}

void mempool_stats(struct mempool *mp, struct mempool_stats *st)
{
    pthread_mutex_lock(&mp->lock);
    *st = mp->st;
    pthread_mutex_unlock(&mp->lock);
}

void mempool_flush(struct mempool *mp)
{
    pthread_mutex_lock(&mp->lock);
    drop_all_entries(mp);
    while (mp->chead)
        cache_remove_entry(mp, mp->chead);
    pthread_mutex_unlock(&mp->lock);
}

/* ---- the check gate ------------------------------------------------------------------ */

void mempool_pause_checks(struct mempool *mp)
{
    pthread_mutex_lock(&mp->gate_lock);
    mp->paused = true;
    while (mp->checks_in_flight > 0)
        pthread_cond_wait(&mp->gate_cond, &mp->gate_lock);
    pthread_mutex_unlock(&mp->gate_lock);
}

void mempool_resume_checks(struct mempool *mp)
{
    pthread_mutex_lock(&mp->gate_lock);
    mp->paused = false;
    pthread_cond_broadcast(&mp->gate_cond);
    pthread_mutex_unlock(&mp->gate_lock);
}

int mempool_check_begin(struct mempool *mp, int timeout_ms)
{
    struct timespec dl;
    px_timespec_after(CLOCK_MONOTONIC, (uint64_t)timeout_ms * 1000000ull, &dl);
    int rc = 0;
    pthread_mutex_lock(&mp->gate_lock);
    while (mp->paused && rc == 0)
        if (pthread_cond_timedwait(&mp->gate_cond, &mp->gate_lock, &dl) != 0 && mp->paused)
            rc = PX_ETIMEDOUT;
    if (rc == 0)
        mp->checks_in_flight++;
    pthread_mutex_unlock(&mp->gate_lock);
    return rc;
}

void mempool_check_end(struct mempool *mp)
{
    pthread_mutex_lock(&mp->gate_lock);
    if (mp->checks_in_flight > 0)
        mp->checks_in_flight--;
    if (mp->checks_in_flight == 0)
        pthread_cond_broadcast(&mp->gate_cond);
    pthread_mutex_unlock(&mp->gate_lock);
}
