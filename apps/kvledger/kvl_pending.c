/*
 * kvl_pending: see kvl_pending.h. Recipients' keys are chosen by clients, so slots are
 * picked with SipHash under a random per-process key (no chosen collisions). Never
 * allocates after init.
 */
#include "kvl_pending.h"

#include "px_error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int kvl_pending_init(struct kvl_pending *p, size_t capacity)
{
    memset(p, 0, sizeof(*p));
    if (capacity == 0 || capacity > (1u << 24))
        return PX_EINVAL;
    size_t cap = 1;
    while (cap < capacity)
        cap <<= 1;
    if (sodium_init() < 0)
        return PX_ECRYPTO;
    randombytes_buf(p->key, sizeof(p->key));
    p->capacity = cap;
    p->nslots = cap * 2;
    p->slots = calloc(p->nslots, sizeof(*p->slots));
    p->used_idx = calloc(cap, sizeof(*p->used_idx));
    if (!p->slots || !p->used_idx) {
        kvl_pending_fini(p);
        return PX_ENOMEM;
    }
    return 0;
}

void kvl_pending_fini(struct kvl_pending *p)
{
    free(p->slots);
    free(p->used_idx);
    memset(p, 0, sizeof(*p));
}

static size_t hash_of(const struct kvl_pending *p, const uint8_t *pub)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, pub, LEDGER_PUBKEY_LEN, p->key);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = (h << 8) | out[i];
    return (size_t)h;
}

/* The slot holding pub, or the free slot where it would go. The table is never more than
 * half full, so the probe ends. */
static size_t find(const struct kvl_pending *p, const uint8_t *pub)
{
    size_t mask = p->nslots - 1;
    size_t i = hash_of(p, pub) & mask;
    while (p->slots[i].used && memcmp(p->slots[i].pub, pub, LEDGER_PUBKEY_LEN) != 0)
        i = (i + 1) & mask;
    return i;
}

bool kvl_pending_get(const struct kvl_pending *p, const uint8_t pub[LEDGER_PUBKEY_LEN],
                     struct kvl_account *out)
{
    const struct kvl_pending_slot *s = &p->slots[find(p, pub)];
    if (!s->used)
        return false;
    *out = s->acct;
    return true;
}

int kvl_pending_put(struct kvl_pending *p, const uint8_t pub[LEDGER_PUBKEY_LEN],
                    const struct kvl_account *a)
{
    size_t i = find(p, pub);
    struct kvl_pending_slot *s = &p->slots[i];
    if (!s->used) {
        if (p->count >= p->capacity)
            return PX_EBOUND;
        memcpy(s->pub, pub, LEDGER_PUBKEY_LEN);
        s->used = true;
        p->used_idx[p->count++] = (uint32_t)i;
    }
    s->acct = *a;
    return 0;
}

size_t kvl_pending_room(const struct kvl_pending *p)
{
    return p->capacity - p->count;
}

void kvl_pending_clear(struct kvl_pending *p)
{
    for (size_t k = 0; k < p->count; k++)
        memset(&p->slots[p->used_idx[k]], 0, sizeof(p->slots[0]));
    p->count = 0;
}
