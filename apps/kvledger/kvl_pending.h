/*
 * kvl_pending: the accounts CheckTx has changed since the last Commit (the mempool's view
 * of the ledger), so a client can send nonces n, n+1, ... before a block includes them.
 * A fixed-capacity open-addressing table: it never grows, and Commit clears it in time
 * proportional to what was used. Memory only; never touches the database.
 */
#ifndef KVL_PENDING_H
#define KVL_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvl_store.h"

struct kvl_pending_slot {
    uint8_t pub[LEDGER_PUBKEY_LEN];
    struct kvl_account acct;
    bool used;
};

struct kvl_pending {
    struct kvl_pending_slot *slots; /* nslots = 2 * capacity, a power of two */
    uint32_t *used_idx;             /* indices of used slots, for clear */
    size_t nslots;
    size_t capacity;
    size_t count;
    uint8_t key[16]; /* SipHash key, random per process */
};

/* capacity: accounts held at most (rounded up to a power of two). PX_ENOMEM, PX_EINVAL. */
int kvl_pending_init(struct kvl_pending *p, size_t capacity);
void kvl_pending_fini(struct kvl_pending *p);
bool kvl_pending_get(const struct kvl_pending *p, const uint8_t pub[LEDGER_PUBKEY_LEN],
                     struct kvl_account *out);
/* Insert or replace. PX_EBOUND when a new account does not fit. */
int kvl_pending_put(struct kvl_pending *p, const uint8_t pub[LEDGER_PUBKEY_LEN],
                    const struct kvl_account *a);
/* Room for this many more accounts. */
size_t kvl_pending_room(const struct kvl_pending *p);
void kvl_pending_clear(struct kvl_pending *p);

#endif
