/*
 * mempool_reactor: see mempool_reactor.h. The thread owns the gossip cursors; the peer
 * table is shared with the callers under a mutex. Never holds the mutex across an app
 * call or a send.
 */
#include "mempool_reactor.h"

#include "evq.h"
#include "px_clock.h"
#include "px_error.h"
#include "px_log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "mempool"
#define MAX_PEERS 128
#define GOSSIP_EVERY_NS (50ull * 1000000ull)
#define GOSSIP_BATCH_TXS 256
#define GOSSIP_BATCH_BYTES (1u << 20)
#define CHECK_BATCH_TXS 512
#define MAX_RECEIVED_TXS 4096

enum ev_kind { EV_TXS = 1, EV_RECHECK, EV_STOP };

struct mpeer {
    bool used;
    char id[P2P_ID_LEN + 1];
    uint64_t seq; /* highest pool seq sent */
};

struct mempool_reactor {
    struct mempool_reactor_config cfg;
    struct mempool *mp;
    struct abci_client *app;
    struct p2p *p2p;
    struct evq *q;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    struct mpeer peers[MAX_PEERS];
    atomic_bool recheck_wanted; /* set by committed(); the thread rechecks and clears it */
};

/* ---- app calls ----------------------------------------------------------------------- */

static int submit_checked(struct mempool_reactor *r, const uint8_t *tx, size_t len,
                          struct mempool_submit_result *res);

/* How long a new check may wait for the recheck after a block to end. */
static int gate_wait_ms(const struct mempool_reactor *r)
{
    return r->cfg.call_timeout_ms ? (int)r->cfg.call_timeout_ms : 10000;
}

/* CheckTx for n txs; codes[i] / gas[i] receive the verdicts. */
static int check_batch(struct mempool_reactor *r, uint8_t *const *txs, const size_t *lens, size_t n,
                       bool recheck, uint32_t *codes, int64_t *gas)
{
    ProtobufCBinaryData *bins = calloc(n, sizeof(*bins));
    if (!bins)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bins[i].data = txs[i];
        bins[i].len = lens[i];
    }
    Phalanx__Abci__RequestCheckTxBatch b = PHALANX__ABCI__REQUEST_CHECK_TX_BATCH__INIT;
    b.n_txs = n;
    b.txs = bins;
    b.type = recheck ? PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_RECHECK
                     : PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_NEW;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX_BATCH;
    req.check_tx_batch = &b;
    Phalanx__Abci__Response *resp = NULL;
    int err = abci_client_call(r->app, ABCI_CONN_MEMPOOL, &req, (int)r->cfg.call_timeout_ms, &resp);
    free(bins);
    if (err)
        return err;
    const Phalanx__Abci__ResponseCheckTxBatch *rb = resp->check_tx_batch;
    if (!rb || rb->n_results != n) {
        abci_response_free(resp);
        return PX_EPROTO;
    }
    for (size_t i = 0; i < n; i++) {
        codes[i] = rb->results[i]->code;
        gas[i] = rb->results[i]->gas_wanted;
    }
    abci_response_free(resp);
    return 0;
}

int mempool_reactor_submit(struct mempool_reactor *r, const uint8_t *tx, size_t len,
                           struct mempool_submit_result *res)
{
    memset(res, 0, sizeof(*res));
    int err = mempool_check_begin(r->mp, gate_wait_ms(r));
    if (err)
        return err;
    err = submit_checked(r, tx, len, res);
    mempool_check_end(r->mp);
    return err;
}

/* The body of mempool_reactor_submit, inside the check gate. */
static int submit_checked(struct mempool_reactor *r, const uint8_t *tx, size_t len,
                          struct mempool_submit_result *res)
{
    int err = mempool_precheck(r->mp, tx, len);
    if (err)
        return err;
    Phalanx__Abci__RequestCheckTx c = PHALANX__ABCI__REQUEST_CHECK_TX__INIT;
    c.tx.data = (uint8_t *)tx;
    c.tx.len = len;
    c.type = PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_NEW;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX;
    req.check_tx = &c;
    Phalanx__Abci__Response *resp = NULL;
    err = abci_client_call(r->app, ABCI_CONN_MEMPOOL, &req, (int)r->cfg.call_timeout_ms, &resp);
    if (err) {
        mempool_reject(r->mp, tx, len);
        return err;
    }
    res->code = resp->check_tx->code;
    res->gas_wanted = resp->check_tx->gas_wanted;
    snprintf(res->log, sizeof(res->log), "%s", resp->check_tx->log ? resp->check_tx->log : "");
    abci_response_free(resp);
    if (res->code != 0) {
        mempool_reject(r->mp, tx, len);
        return 0;
    }
    err = mempool_insert(r->mp, tx, len, res->gas_wanted, 0);
    if (err == PX_EEXIST)
        err = 0;
    return err;
}

/* ---- the thread ---------------------------------------------------------------------- */

static void handle_txs_checked(struct mempool_reactor *r, struct evq_event *ev);

static void recheck(struct mempool_reactor *r);

static void handle_txs(struct mempool_reactor *r, struct evq_event *ev)
{
    /* This thread is the one that opens the gate (after its recheck): wait in short steps
     * and do the recheck as soon as the block's commit asks for it, never block on it. */
    for (int waited = 0;; waited += 20) {
        if (atomic_exchange(&r->recheck_wanted, false))
            recheck(r);
        if (mempool_check_begin(r->mp, 20) == 0)
            break;
        if (waited >= gate_wait_ms(r))
            return; /* gossip: nothing is owed, the txs stay in the sender's pool */
    }
    handle_txs_checked(r, ev);
    mempool_check_end(r->mp);
}

static void handle_txs_checked(struct mempool_reactor *r, struct evq_event *ev)
{
    uint8_t *txs[MAX_RECEIVED_TXS];
    size_t lens[MAX_RECEIVED_TXS];
    size_t n = 0;
    const uint8_t *p = ev->data;
    size_t left = ev->len;
    while (left >= 4 && n < MAX_RECEIVED_TXS) {
        uint32_t l = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (l == 0 || l > left - 4)
            break;
        /* only what is new and fits goes to the app */
        if (mempool_precheck(r->mp, p + 4, l) == 0) {
            txs[n] = (uint8_t *)(p + 4);
            lens[n] = l;
            n++;
        }
        p += 4 + l;
        left -= 4 + l;
    }
    if (n == 0)
        return;
    uint32_t *codes = calloc(n, sizeof(*codes));
    int64_t *gas = calloc(n, sizeof(*gas));
    int err = (codes && gas) ? check_batch(r, txs, lens, n, false, codes, gas) : PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (err || codes[i] != 0)
            mempool_reject(r->mp, txs[i], lens[i]);
        else
            mempool_insert(r->mp, txs[i], lens[i], gas[i], 0);
    }
    if (err)
        PX_WARN(MOD, "cannot check gossiped transactions", "n=%zu err=\"%s\"", n, px_strerror(err));
    free(codes);
    free(gas);
}

static void recheck_pool(struct mempool_reactor *r);

/* Recheck what is left after a block, then open the check gate the commit closed. */
static void recheck(struct mempool_reactor *r)
{
    recheck_pool(r);
    mempool_resume_checks(r->mp);
}

static void recheck_pool(struct mempool_reactor *r)
{
    uint64_t after = 0;
    for (;;) {
        struct mempool_tx *txs;
        size_t n;
        if (mempool_after(r->mp, after, CHECK_BATCH_TXS, &txs, &n) != 0)
            return;
        if (n == 0) {
            mempool_txs_free(txs, n);
            return;
        }
        uint8_t **ptrs = calloc(n, sizeof(*ptrs));
        size_t *lens = calloc(n, sizeof(*lens));
        uint32_t *codes = calloc(n, sizeof(*codes));
        int64_t *gas = calloc(n, sizeof(*gas));
        int err = (ptrs && lens && codes && gas) ? 0 : PX_ENOMEM;
        for (size_t i = 0; !err && i < n; i++) {
            ptrs[i] = txs[i].data;
            lens[i] = txs[i].len;
        }
        if (!err)
            err = check_batch(r, ptrs, lens, n, true, codes, gas);
        for (size_t i = 0; !err && i < n; i++)
            if (codes[i] != 0)
                mempool_remove(r->mp, txs[i].hash, true);
        after = txs[n - 1].seq;
        free(ptrs);
        free(lens);
        free(codes);
        free(gas);
        mempool_txs_free(txs, n);
        if (err) {
            PX_WARN(MOD, "recheck failed", "err=\"%s\"", px_strerror(err));
            return;
        }
    }
}

static void gossip(struct mempool_reactor *r)
{
    for (int i = 0; i < MAX_PEERS; i++) {
        pthread_mutex_lock(&r->lock);
        struct mpeer p = r->peers[i];
        pthread_mutex_unlock(&r->lock);
        if (!p.used)
            continue;
        struct mempool_tx *txs;
        size_t n;
        if (mempool_after(r->mp, p.seq, GOSSIP_BATCH_TXS, &txs, &n) != 0 || n == 0)
            continue;
        size_t total = 0, k = 0;
        while (k < n && total + 4 + txs[k].len <= GOSSIP_BATCH_BYTES)
            total += 4 + txs[k++].len;
        if (k == 0) { /* one tx larger than a batch: skip it */
            k = 1;
            total = 0;
        }
        uint8_t *buf = total ? malloc(total) : NULL;
        size_t off = 0;
        for (size_t j = 0; buf && j < k; j++) {
            uint32_t l = (uint32_t)txs[j].len;
            buf[off++] = (uint8_t)(l >> 24);
            buf[off++] = (uint8_t)(l >> 16);
            buf[off++] = (uint8_t)(l >> 8);
            buf[off++] = (uint8_t)l;
            memcpy(buf + off, txs[j].data, l);
            off += l;
        }
        int err =
            buf ? p2p_send(r->p2p, p.id, P2P_CH_MEMPOOL, buf, total) : (total ? PX_ENOMEM : 0);
        uint64_t last = txs[k - 1].seq;
        free(buf);
        mempool_txs_free(txs, n);
        if (err)
            continue; /* queue full or peer gone: try again next time */
        pthread_mutex_lock(&r->lock);
        if (r->peers[i].used && strcmp(r->peers[i].id, p.id) == 0)
            r->peers[i].seq = last;
        pthread_mutex_unlock(&r->lock);
    }
}

static void *thread_main(void *arg)
{
    struct mempool_reactor *r = arg;
    const struct px_clock *clk = px_clock_system();
    uint64_t next_gossip = px_clock_mono_ns(clk) + GOSSIP_EVERY_NS;
    for (;;) {
        struct evq_event *ev = evq_pop(r->q, next_gossip);
        if (ev) {
            int kind = ev->kind;
            if (kind == EV_TXS)
                handle_txs(r, ev);
            evq_event_free(ev);
            if (kind == EV_STOP)
                return NULL;
        }
        /* a flag, not only the event: a full queue must never leave the gate closed */
        if (atomic_exchange(&r->recheck_wanted, false))
            recheck(r);
        uint64_t now = px_clock_mono_ns(clk);
        if (now >= next_gossip) {
            if (r->cfg.broadcast)
                gossip(r);
            next_gossip = now + GOSSIP_EVERY_NS;
        }
    }
}

int mempool_reactor_new(const struct mempool_reactor_config *cfg, struct mempool *mp,
                        struct abci_client *app, struct p2p *p2p, struct mempool_reactor **out)
{
    *out = NULL;
    struct mempool_reactor *r = calloc(1, sizeof(*r));
    if (!r)
        return PX_ENOMEM;
    r->cfg = *cfg;
    r->mp = mp;
    r->app = app;
    r->p2p = p2p;
    pthread_mutex_init(&r->lock, NULL);
    size_t q = cfg->queue_msgs ? cfg->queue_msgs : 1024;
    size_t caps[EVQ_CLASS_COUNT] = {16, 16, q};
    int err = evq_new(caps, &r->q);
    if (!err && pthread_create(&r->thread, NULL, thread_main, r) != 0)
        err = PX_ENOMEM;
    if (err) {
        evq_free(r->q);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return err;
    }
    r->started = true;
    *out = r;
    return 0;
}

void mempool_reactor_free(struct mempool_reactor *r)
{
    if (!r)
        return;
    if (r->started) {
        evq_post(r->q, EVQ_CLASS_CONTROL, EV_STOP, 0, 0, 0, NULL, 0);
        pthread_join(r->thread, NULL);
    }
    evq_free(r->q);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void mempool_reactor_receive(struct mempool_reactor *r, const char *peer_id, const uint8_t *data,
                             size_t len)
{
    (void)peer_id;
    if (len == 0 || len > (size_t)GOSSIP_BATCH_BYTES + 4 * GOSSIP_BATCH_TXS) {
        p2p_ban_peer(r->p2p, peer_id, "oversized mempool message");
        return;
    }
    /* a full queue drops: the peer sends again only what it has not sent, so a drop
     * loses gossip, never a tx a client is waiting on (clients submit to their node) */
    evq_post(r->q, EVQ_CLASS_BULK, EV_TXS, 0, 0, 0, data, len);
}

void mempool_reactor_peer_up(struct mempool_reactor *r, const char *peer_id)
{
    pthread_mutex_lock(&r->lock);
    struct mpeer *slot = NULL;
    for (int i = 0; i < MAX_PEERS; i++) {
        if (r->peers[i].used && strcmp(r->peers[i].id, peer_id) == 0) {
            slot = &r->peers[i];
            break;
        }
        if (!slot && !r->peers[i].used)
            slot = &r->peers[i];
    }
    if (slot) {
        slot->used = true;
        snprintf(slot->id, sizeof(slot->id), "%s", peer_id);
        slot->seq = 0;
    }
    pthread_mutex_unlock(&r->lock);
}

void mempool_reactor_peer_down(struct mempool_reactor *r, const char *peer_id)
{
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < MAX_PEERS; i++)
        if (r->peers[i].used && strcmp(r->peers[i].id, peer_id) == 0)
            r->peers[i].used = false;
    pthread_mutex_unlock(&r->lock);
}

void mempool_reactor_committed(struct mempool_reactor *r, uint64_t height)
{
    if (!r->cfg.recheck)
        return; /* blockexec opened the check gate itself */
    atomic_store(&r->recheck_wanted, true);
    evq_post(r->q, EVQ_CLASS_CONTROL, EV_RECHECK, 0, 0, height, NULL, 0); /* wake it */
}
