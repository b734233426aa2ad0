/*
 * mempool_reactor: transactions in and out of the mempool. On its own thread, so that
 * no app call for CheckTx ever stalls consensus:
 *   - transactions gossiped by peers are checked in batches (CheckTxBatch) and added;
 *   - every peer is sent, in order, the pool's transactions it has not been sent yet;
 *   - after each committed block, what is left in the pool is checked again
 *     (CheckTxBatch, RECHECK) and what the app now rejects is removed.
 * mempool_reactor_submit serves local clients (the RPC) on their own thread: it waits for
 * the app's verdict on one transaction.
 *
 * Gossip message (channel P2P_CH_MEMPOOL): transactions back to back, each as a 4-byte
 * big-endian length and the bytes. Anything else from a peer gets it banned.
 */
#ifndef PX_MEMPOOL_REACTOR_H
#define PX_MEMPOOL_REACTOR_H

#include "abci_client.h"
#include "mempool.h"
#include "p2p.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mempool_reactor_config {
    bool broadcast;           /* gossip our pool to peers */
    bool recheck;             /* recheck after every block */
    uint32_t call_timeout_ms; /* CheckTx deadline; 0: the client's default */
    uint32_t queue_msgs;      /* gossip messages waiting for the thread */
};

struct mempool_reactor;

int mempool_reactor_new(const struct mempool_reactor_config *cfg, struct mempool *mp,
                        struct abci_client *app, struct p2p *p2p, struct mempool_reactor **out);
/* Stops the thread, then frees. */
void mempool_reactor_free(struct mempool_reactor *r);

struct mempool_submit_result {
    uint32_t code; /* the app's code (0: accepted) */
    int64_t gas_wanted;
    char log[256];
};
/* Check one tx now and add it if the app accepts. 0 with res filled (accepted or not by
 * the app); PX_EEXIST (already in the pool or seen), PX_ETOOBIG, PX_EBOUND (pool full),
 * app errors (PX_ECLOSED, PX_ETIMEDOUT, ...). */
int mempool_reactor_submit(struct mempool_reactor *r, const uint8_t *tx, size_t len,
                           struct mempool_submit_result *res);

/* From the p2p callbacks (any thread): only enqueue. */
void mempool_reactor_receive(struct mempool_reactor *r, const char *peer_id, const uint8_t *data,
                             size_t len);
void mempool_reactor_peer_up(struct mempool_reactor *r, const char *peer_id);
void mempool_reactor_peer_down(struct mempool_reactor *r, const char *peer_id);
/* A block was committed (after mempool_update): recheck if configured, then open the
 * mempool's check gate that the commit closed (mempool.h). New checks wait meanwhile. */
void mempool_reactor_committed(struct mempool_reactor *r, uint64_t height);

#endif
