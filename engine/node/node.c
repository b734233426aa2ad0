/*
 * node: see node.h.
 *
 * Threads: nng's (p2p and ABCI callbacks: they only enqueue), the mempool reactor's, and
 * the consensus thread, which is the caller of node_run: it alone touches the consensus
 * shell, the chain state and the consensus gossip. The event queue has classes so that a
 * flood of one kind cannot starve another.
 */
#include "node.h"

#include "abci_client.h"
#include "blockexec.h"
#include "blockstore.h"
#include "chainstate.h"
#include "config.h"
#include "cons_reactor.h"
#include "csdriver.h"
#include "evq.h"
#include "genesis.h"
#include "keyfile.h"
#include "mempool.h"
#include "mempool_reactor.h"
#include "p2p.h"
#include "privval.h"
#include "px_clock.h"
#include "px_error.h"
#include "px_log.h"
#include "statestore.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "node"
#define GOSSIP_TICK_NS (20ull * 1000000ull)
#define PATH_CAP 1024

enum ev_kind { EV_PEER_MSG = 1, EV_PEER_UP, EV_PEER_DOWN };

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct node {
    struct config cfg;
    struct genesis genesis;
    char home[PATH_CAP];
    struct ed25519_privkey node_key;
    struct privval *pv;
    struct blockstore *bs;
    struct statestore *ss;
    struct abci_client *app;
    struct mempool *mp;
    struct blockexec bx;
    struct chain_state *st;
    struct evq *q;
    struct p2p *p2p;
    struct csd *csd;
    struct cons_reactor *cr;
    struct mempool_reactor *mr;
    unsigned long app_connects;
};

/* ---- p2p callbacks (nng threads: enqueue only) --------------------------------------- */

static bool is_consensus_channel(uint8_t ch)
{
    return ch == P2P_CH_CONSENSUS_STATE || ch == P2P_CH_CONSENSUS_DATA ||
           ch == P2P_CH_CONSENSUS_VOTE || ch == P2P_CH_BLOCKSYNC;
}

static void on_recv(const char *peer_id, uint8_t channel, const uint8_t *data, size_t len,
                    void *user)
{
    struct node *n = user;
    if (channel == P2P_CH_MEMPOOL) {
        if (n->mr)
            mempool_reactor_receive(n->mr, peer_id, data, len);
        return;
    }
    if (!is_consensus_channel(channel))
        return;
    size_t idl = strlen(peer_id) + 1;
    struct evq_event *ev = calloc(1, sizeof(*ev));
    uint8_t *buf = malloc(idl + len);
    if (!ev || !buf) {
        free(ev);
        free(buf);
        return;
    }
    memcpy(buf, peer_id, idl);
    memcpy(buf + idl, data, len);
    ev->kind = EV_PEER_MSG;
    ev->channel = channel;
    ev->arg = idl;
    ev->data = buf;
    ev->len = idl + len;
    enum evq_class cls = channel == P2P_CH_BLOCKSYNC ? EVQ_CLASS_BULK : EVQ_CLASS_CONSENSUS;
    if (evq_push(n->q, cls, ev) != 0)
        evq_event_free(ev);
}

static void on_peer(const char *peer_id, bool up, struct node *n)
{
    if (n->mr) {
        if (up)
            mempool_reactor_peer_up(n->mr, peer_id);
        else
            mempool_reactor_peer_down(n->mr, peer_id);
    }
    evq_post(n->q, EVQ_CLASS_CONTROL, up ? EV_PEER_UP : EV_PEER_DOWN, 0, 0, 0, peer_id,
             strlen(peer_id) + 1);
}

static void on_peer_up(const char *peer_id, bool outbound, void *user)
{
    (void)outbound;
    on_peer(peer_id, true, user);
}

static void on_peer_down(const char *peer_id, bool outbound, void *user)
{
    (void)outbound;
    on_peer(peer_id, false, user);
}

/* ---- consensus shell hooks ----------------------------------------------------------- */

static void hook_broadcast(uint8_t channel, const uint8_t *data, size_t len, void *user)
{
    struct node *n = user;
    p2p_broadcast(n->p2p, channel, data, len, NULL);
}

static void hook_committed(const struct chain_state *s, const struct block *b,
                           const struct block_id *id, const struct blockexec_result *res,
                           void *user)
{
    (void)b;
    (void)id;
    (void)res;
    struct node *n = user;
    if (n->mr)
        mempool_reactor_committed(n->mr, s->last_height);
}

/* ---- start-up ------------------------------------------------------------------------ */

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "phalanxd: %s%s%s\n", what, detail && detail[0] ? ": " : "",
            detail ? detail : "");
    return 1;
}

static int path_in(const struct node *n, const char *rel, char *out)
{
    return config_resolve_path(n->home, rel, out, PATH_CAP);
}

static int load_all(struct node *n)
{
    char path[PATH_CAP + 32],
        err[CONFIG_ERR_MAX > GENESIS_ERR_MAX ? CONFIG_ERR_MAX : GENESIS_ERR_MAX];
    path_in(n, "config/node.conf", path);
    if (config_load(path, &n->cfg, err, sizeof(err)) != 0)
        return fail("cannot load the configuration", err);
    path_in(n, "config/genesis.json", path);
    if (genesis_load(path, &n->genesis, err, sizeof(err)) != 0)
        return fail("cannot load the genesis file", err);
    char kerr[KEYFILE_ERR_MAX];
    struct ed25519_pubkey pub;
    path_in(n, "config/node_key.json", path);
    if (keyfile_load(path, KEYFILE_NODE, &n->node_key, &pub, kerr, sizeof(kerr)) != 0)
        return fail("cannot load the node key", kerr);
    char kpath[PATH_CAP], spath[PATH_CAP], perr[PRIVVAL_ERR_MAX];
    path_in(n, "config/priv_validator_key.json", kpath);
    path_in(n, "data/priv_validator_state.json", spath);
    if (privval_open(kpath, spath, &n->pv, perr, sizeof(perr)) != 0)
        return fail("cannot open the validator signer", perr);
    char dbdir[PATH_CAP];
    path_in(n, n->cfg.storage.db_dir, dbdir);
    snprintf(path, sizeof(path), "%s/blockstore.db", dbdir);
    if (blockstore_open(path, &n->bs) != 0)
        return fail("cannot open the block store", path);
    snprintf(path, sizeof(path), "%s/state.db", dbdir);
    if (statestore_open(path, &n->ss) != 0)
        return fail("cannot open the state store", path);
    return 0;
}

static int connect_app(struct node *n)
{
    struct abci_client_config ac = {0};
    ac.addr = n->cfg.abci.address;
    ac.timeout_ms = (int)n->cfg.abci.call_timeout_ms;
    if (abci_client_new(&ac, &n->app) != 0)
        return fail("cannot set up the connection to the app", n->cfg.abci.address);
    PX_INFO(MOD, "waiting for the app", "address=%s", n->cfg.abci.address);
    while (!stop_requested) {
        if (abci_client_wait_connected(n->app, 1000) == 0)
            return 0;
        PX_WARN(MOD, "the app is not answering yet", "address=%s", n->cfg.abci.address);
    }
    return 1;
}

static int handshake(struct node *n)
{
    char why[512] = "";
    int err = blockexec_handshake(&n->bx, &n->genesis, n->st, why, sizeof(why));
    if (err) {
        PX_ERROR(MOD, "handshake with the app failed", "err=\"%s\" why=\"%s\"", px_strerror(err),
                 why);
        return err;
    }
    n->app_connects = abci_client_connects(n->app, ABCI_CONN_CONSENSUS);
    return 0;
}

static int start_network(struct node *n)
{
    struct p2p_config pc;
    p2p_config_default(&pc);
    pc.network = n->st->chain_id;
    pc.listen_addr = n->cfg.p2p.listen_addr;
    pc.node_key = n->node_key.bytes;
    pc.node_key_len = sizeof(n->node_key.bytes);
    static char peer_buf[CONFIG_PEERS_MAX][CONFIG_NODE_ID_LEN + CONFIG_HOST_MAX + 8];
    static const char *peers[CONFIG_PEERS_MAX];
    for (size_t i = 0; i < n->cfg.p2p.n_persistent_peers; i++) {
        const struct config_peer *cp = &n->cfg.p2p.persistent_peers[i];
        snprintf(peer_buf[i], sizeof(peer_buf[i]), "%s@%s:%u", cp->id, cp->host, cp->port);
        peers[i] = peer_buf[i];
    }
    pc.persistent_peers = peers;
    pc.n_persistent_peers = n->cfg.p2p.n_persistent_peers;
    pc.max_inbound = n->cfg.p2p.max_inbound_peers;
    pc.max_outbound = n->cfg.p2p.max_outbound_peers;
    pc.handshake_timeout_ms = n->cfg.p2p.handshake_timeout_ms;
    pc.ban_ms = (uint32_t)n->cfg.p2p.ban_duration_ms;
    pc.recv_cb = on_recv;
    pc.peer_up_cb = on_peer_up;
    pc.peer_down_cb = on_peer_down;
    pc.user = n;
    int err = p2p_new(&pc, &n->p2p);
    if (!err)
        err = p2p_start(n->p2p);
    if (err)
        return fail("cannot start the p2p layer", px_strerror(err));
    PX_INFO(MOD, "p2p listening", "id=%s port=%u peers=%zu", p2p_id(n->p2p),
            p2p_listen_port(n->p2p), n->cfg.p2p.n_persistent_peers);
    return 0;
}

static int start_consensus(struct node *n)
{
    struct csd_config cc;
    memset(&cc, 0, sizeof(cc));
    cs_config_default(&cc.core);
    const struct config_consensus *k = &n->cfg.consensus;
    cc.core.timeout_propose_ms = k->timeout_propose_ms;
    cc.core.timeout_propose_delta_ms = k->timeout_propose_delta_ms;
    cc.core.timeout_prevote_ms = k->timeout_prevote_ms;
    cc.core.timeout_prevote_delta_ms = k->timeout_prevote_delta_ms;
    cc.core.timeout_precommit_ms = k->timeout_precommit_ms;
    cc.core.timeout_precommit_delta_ms = k->timeout_precommit_delta_ms;
    cc.core.timeout_commit_ms = k->timeout_commit_ms;
    static char wal_path[PATH_CAP];
    path_in(n, k->wal_file, wal_path);
    cc.wal_path = wal_path;
    cc.wal_max_record_bytes = k->wal_max_record_bytes;
    cc.max_future_ns = 10ull * 1000000000ull;
    struct csd_hooks hooks = {hook_broadcast, hook_committed, n};
    int err = csd_new(&cc, &n->bx, n->st, n->pv, &hooks, &n->csd);
    if (!err)
        err = cons_reactor_new(n->csd, n->p2p, n->bs, &n->cr);
    struct mempool_reactor_config mc = {n->cfg.mempool.broadcast, n->cfg.mempool.recheck,
                                        n->cfg.abci.call_timeout_ms, 1024};
    if (!err)
        err = mempool_reactor_new(&mc, n->mp, n->app, n->p2p, &n->mr);
    const struct px_clock *clk = px_clock_system();
    if (!err)
        err = csd_start(n->csd, px_clock_mono_ns(clk), px_clock_wall_ns(clk));
    if (err)
        return fail("cannot start consensus", px_strerror(err));
    return 0;
}

/* ---- the consensus thread ------------------------------------------------------------ */

static void handle_event(struct node *n, struct evq_event *ev, uint64_t mono, uint64_t wall)
{
    switch (ev->kind) {
    case EV_PEER_MSG: {
        const char *peer = (const char *)ev->data;
        size_t idl = (size_t)ev->arg;
        cons_reactor_receive(n->cr, peer, (uint8_t)ev->channel, ev->data + idl, ev->len - idl, mono,
                             wall);
        break;
    }
    case EV_PEER_UP:
        cons_reactor_peer_up(n->cr, (const char *)ev->data);
        break;
    case EV_PEER_DOWN:
        cons_reactor_peer_down(n->cr, (const char *)ev->data);
        break;
    }
}

static void check_app(struct node *n)
{
    unsigned long c = abci_client_connects(n->app, ABCI_CONN_CONSENSUS);
    if (c == n->app_connects || !abci_client_connected(n->app, ABCI_CONN_CONSENSUS))
        return;
    PX_WARN(MOD, "the app reconnected: running the handshake again", NULL);
    uint64_t before = n->st->last_height;
    if (handshake(n) == 0 && n->st->last_height != before)
        PX_INFO(MOD, "handshake moved the state", "from=%llu to=%llu", (unsigned long long)before,
                (unsigned long long)n->st->last_height);
}

static void run_loop(struct node *n)
{
    const struct px_clock *clk = px_clock_system();
    uint64_t next_gossip = 0;
    while (!stop_requested) {
        uint64_t mono = px_clock_mono_ns(clk);
        uint64_t deadline = csd_next_deadline(n->csd);
        if (next_gossip < deadline)
            deadline = next_gossip;
        if (deadline < mono)
            deadline = mono;
        struct evq_event *ev = evq_pop(n->q, deadline > mono ? deadline : 0);
        mono = px_clock_mono_ns(clk);
        uint64_t wall = px_clock_wall_ns(clk);
        if (ev) {
            handle_event(n, ev, mono, wall);
            evq_event_free(ev);
        }
        if (csd_tick(n->csd, mono, wall) != 0) {
            PX_ERROR(MOD, "consensus stopped on a local fault (see above); shutting down", NULL);
            break;
        }
        if (mono >= next_gossip) {
            check_app(n);
            cons_reactor_tick(n->cr, mono);
            next_gossip = mono + GOSSIP_TICK_NS;
        }
    }
}

static void shutdown_node(struct node *n)
{
    if (n->p2p)
        p2p_stop(n->p2p);
    mempool_reactor_free(n->mr);
    cons_reactor_free(n->cr);
    csd_free(n->csd);
    p2p_free(n->p2p);
    abci_client_free(n->app);
    mempool_free(n->mp);
    blockstore_close(n->bs);
    statestore_close(n->ss);
    privval_free(n->pv);
    evq_free(n->q);
    genesis_fini(&n->genesis);
    ed25519_privkey_wipe(&n->node_key);
    free(n->st);
}

int node_run(const struct node_options *opts)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return fail("out of memory", NULL);
    snprintf(n->home, sizeof(n->home), "%s", opts->home);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = load_all(n);
    if (rc == 0 && px_log_set_spec(opts->log_spec ? opts->log_spec : n->cfg.log.level) != 0)
        rc = fail("bad log level spec", opts->log_spec ? opts->log_spec : n->cfg.log.level);
    size_t caps[EVQ_CLASS_COUNT] = {1024, 8192, 1024};
    n->st = calloc(1, sizeof(*n->st));
    if (rc == 0 && (!n->st || evq_new(caps, &n->q) != 0))
        rc = fail("out of memory", NULL);
    struct mempool_config mc = {n->cfg.mempool.max_txs, n->cfg.mempool.max_txs_bytes,
                                n->cfg.mempool.max_tx_bytes, n->cfg.mempool.cache_size_txs, false};
    if (rc == 0 && mempool_new(&mc, &n->mp) != 0)
        rc = fail("bad mempool limits", NULL);
    if (rc == 0)
        rc = connect_app(n);
    if (rc == 0) {
        n->bx.app = n->app;
        n->bx.bs = n->bs;
        n->bx.ss = n->ss;
        n->bx.mp = n->mp;
        n->bx.call_timeout_ms = n->cfg.abci.call_timeout_ms;
        if (handshake(n) != 0)
            rc = fail("cannot bring the app and the stores into step (see the log above)", NULL);
    }
    if (rc == 0)
        rc = start_network(n);
    if (rc == 0)
        rc = start_consensus(n);
    if (rc == 0) {
        PX_INFO(MOD, "started", "chain=%s height=%llu validators=%u", n->st->chain_id,
                (unsigned long long)n->st->last_height + 1, n->st->validators.count);
        run_loop(n);
        PX_INFO(MOD, "stopping", NULL);
    }
    shutdown_node(n);
    free(n);
    return rc;
}
