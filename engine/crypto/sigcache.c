/*
 * sigcache: LRU cache of verified signature triples (see sigcache.h). A fixed array of
 * entries allocated once, a chained hash index over it and an intrusive LRU list, all
 * by 32-bit indices under one mutex. Must never allocate after creation nor hold a
 * triple that did not verify.
 */
#include "sigcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "px_error.h"

#define NIL UINT32_MAX

struct entry {
    uint8_t key[SIGCACHE_KEY_SIZE];
    uint32_t hnext; /* next in the hash chain */
    uint32_t prev;  /* LRU list: towards the most recent */
    uint32_t next;  /* LRU list: towards the least recent */
};

struct sigcache {
    pthread_mutex_t mu;
    struct entry *e;
    uint32_t *buckets;
    uint32_t cap, count, nbuckets;
    uint32_t head, tail; /* most / least recently used */
    uint64_t hits, misses, evictions;
};

int sigcache_new(size_t capacity, struct sigcache **out)
{
    if (!out || capacity == 0 || capacity > SIGCACHE_MAX_ENTRIES)
        return PX_EINVAL;
    struct sigcache *c = calloc(1, sizeof(*c));
    if (!c)
        return PX_ENOMEM;
    uint32_t nb = 1;
    while (nb < capacity * 2)
        nb <<= 1;
    c->e = calloc(capacity, sizeof(*c->e));
    c->buckets = malloc(nb * sizeof(*c->buckets));
    if (!c->e || !c->buckets || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->e);
        free(c->buckets);
        free(c);
        return PX_ENOMEM;
    }
    for (uint32_t i = 0; i < nb; i++)
        c->buckets[i] = NIL;
    c->cap = (uint32_t)capacity;
    c->nbuckets = nb;
    c->head = c->tail = NIL;
    *out = c;
    return 0;
}

void sigcache_free(struct sigcache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->e);
    free(c->buckets);
    free(c);
}

void sigcache_key(const struct ed25519_pubkey *pub, const uint8_t *msg, size_t len,
                  const uint8_t sig[ED25519_SIG_SIZE], uint8_t key[SIGCACHE_KEY_SIZE])
{
    uint8_t mh[SHA256_SIZE];
    sha256(mh, msg, len);
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, pub->bytes, ED25519_PUBKEY_SIZE);
    sha256_update(&h, mh, sizeof(mh));
    sha256_update(&h, sig, ED25519_SIG_SIZE);
    sha256_final(&h, key);
}

static uint32_t bucket_of(const struct sigcache *c, const uint8_t key[SIGCACHE_KEY_SIZE])
{
    uint32_t v;
    memcpy(&v, key, sizeof(v)); /* the key is a hash already */
    return v & (c->nbuckets - 1);
}

static void list_unlink(struct sigcache *c, uint32_t i)
{
    struct entry *x = &c->e[i];
    if (x->prev != NIL)
        c->e[x->prev].next = x->next;
    else
        c->head = x->next;
    if (x->next != NIL)
        c->e[x->next].prev = x->prev;
    else
        c->tail = x->prev;
    x->prev = x->next = NIL;
}

static void list_push_front(struct sigcache *c, uint32_t i)
{
    struct entry *x = &c->e[i];
    x->prev = NIL;
    x->next = c->head;
    if (c->head != NIL)
        c->e[c->head].prev = i;
    c->head = i;
    if (c->tail == NIL)
        c->tail = i;
}

static uint32_t find(const struct sigcache *c, const uint8_t key[SIGCACHE_KEY_SIZE])
{
    for (uint32_t i = c->buckets[bucket_of(c, key)]; i != NIL; i = c->e[i].hnext)
        if (memcmp(c->e[i].key, key, SIGCACHE_KEY_SIZE) == 0)
            return i;
    return NIL;
}

static void hash_remove(struct sigcache *c, uint32_t i)
{
    uint32_t *p = &c->buckets[bucket_of(c, c->e[i].key)];
    while (*p != NIL && *p != i)
        p = &c->e[*p].hnext;
    if (*p == i)
        *p = c->e[i].hnext;
}

bool sigcache_lookup(struct sigcache *c, const uint8_t key[SIGCACHE_KEY_SIZE])
{
    pthread_mutex_lock(&c->mu);
    uint32_t i = find(c, key);
    if (i != NIL) {
        list_unlink(c, i);
        list_push_front(c, i);
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return i != NIL;
}

void sigcache_insert(struct sigcache *c, const uint8_t key[SIGCACHE_KEY_SIZE])
{
    pthread_mutex_lock(&c->mu);
    uint32_t i = find(c, key);
    if (i != NIL) {
        list_unlink(c, i);
        list_push_front(c, i);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (c->count < c->cap) {
        i = c->count++;
    } else {
        i = c->tail;
        list_unlink(c, i);
        hash_remove(c, i);
        c->evictions++;
    }
    memcpy(c->e[i].key, key, SIGCACHE_KEY_SIZE);
    uint32_t b = bucket_of(c, key);
    c->e[i].hnext = c->buckets[b];
    c->buckets[b] = i;
    list_push_front(c, i);
    pthread_mutex_unlock(&c->mu);
}

void sigcache_stats(struct sigcache *c, struct sigcache_stats *out)
{
    pthread_mutex_lock(&c->mu);
    out->hits = c->hits;
    out->misses = c->misses;
    out->evictions = c->evictions;
    out->size = c->count;
    out->capacity = c->cap;
    pthread_mutex_unlock(&c->mu);
}
