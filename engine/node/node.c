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
#include "indexer.h"
#include "keyfile.h"
#include "mempool.h"
#include "mempool_reactor.h"
#include "p2p.h"
#include "privval.h"
#include "px_clock.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "rpc.h"
#include "statestore.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "node"
#define GOSSIP_TICK_NS (20ull * 1000000ull)
#define PATH_CAP 1024
/* A store of at most this size gets SQLite's quick_check at every start (a read of the
 * whole file: well under a second per GiB from a warm cache, seconds from a slow disk); a
 * bigger one only the read of its first and last heights, so that a node with years of
 * blocks still starts at once (DESIGN §10). Damage elsewhere stops the node when it is
 * met (blockexec_err_is_fatal). */
#define STORE_FULL_CHECK_MAX_BYTES (1ull << 30)

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
    struct txindex *tx_index;
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
    /* RPC and metrics */
    struct rpc *rpc;
    struct metrics *metrics;
    struct metrics_std ms;
    pthread_mutex_t status_lock;
    struct rpc_status status; /* guarded by status_lock: read by RPC threads */
    int signer_err;           /* guarded by status_lock: privval_health, with its sentence */
    char signer_why[PRIVVAL_ERR_MAX];
    uint64_t signer_failures; /* consensus thread: privval_failures when last looked at */
    uint64_t total_txs;
    uint64_t last_block_time_ns;
    struct validator_set *vals_prev; /* the set of the height before the last committed one */
    bool have_vals_prev;
    /* step/round duration metrics (consensus thread) */
    uint64_t obs_height, obs_step_at, obs_round_at;
    int32_t obs_round;
    enum cs_step obs_step;
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

static void update_status(struct node *n)
{
    const struct chain_state *s = n->st;
    struct rpc_status st;
    memset(&st, 0, sizeof(st));
    st.latest_height = s->last_height >= s->initial_height ? s->last_height : 0;
    memcpy(st.latest_block_hash, s->last_block_id.hash, 32);
    st.latest_app_hash_len = s->app_hash_len;
    memcpy(st.latest_app_hash, s->app_hash, s->app_hash_len);
    st.latest_block_time_ns = s->last_block_time_ns;
    uint64_t base = 0, top = 0;
    blockstore_range(n->bs, &base, &top);
    st.earliest_height = base;
    privval_address(n->pv, st.validator_address);
    privval_pubkey(n->pv, st.validator_pub_key);
    int32_t idx = validator_set_find(&s->validators, st.validator_address);
    const struct validator *v = validator_set_get(&s->validators, idx);
    st.is_validator = v != NULL;
    st.voting_power = v ? v->voting_power : 0;
    pthread_mutex_lock(&n->status_lock);
    n->status = st;
    pthread_mutex_unlock(&n->status_lock);
}

static void update_metrics(struct node *n)
{
    if (!n->metrics)
        return;
    struct mempool_stats ms;
    mempool_stats(n->mp, &ms);
    metrics_set(n->ms.mempool_size, NULL, ms.txs);
    metrics_set(n->ms.mempool_size_bytes, NULL, (double)ms.bytes);
    metrics_set(n->ms.mempool_failed_txs, NULL, (double)ms.failed_recheck);
    metrics_set(n->ms.mempool_rejected_txs, NULL, (double)ms.rejected);
    struct p2p_stats ps;
    p2p_stats(n->p2p, &ps);
    metrics_set(n->ms.peers, NULL, ps.peers);
    for (size_t i = 0; i < ps.n_channels; i++) {
        char ch[8];
        snprintf(ch, sizeof(ch), "%#x", ps.channels[i].id);
        metrics_set(n->ms.peer_receive_bytes, ch, (double)ps.channels[i].bytes_in);
        metrics_set(n->ms.peer_send_bytes, ch, (double)ps.channels[i].bytes_out);
    }
    metrics_set(n->ms.height, NULL, (double)csd_height(n->csd));
    metrics_set(n->ms.rounds, NULL, csd_round(n->csd));
}

/* The signer's health for /health, /status and the metrics: looked at after every event
 * (cheap), copied only when it changed. Consensus thread. */
static void update_signer(struct node *n, bool force)
{
    uint64_t failures = privval_failures(n->pv);
    int err = privval_health(n->pv, NULL, 0);
    if (!force && failures == n->signer_failures && err == n->signer_err)
        return; /* signer_err is written on this thread only: reading it unlocked is fine */
    char why[PRIVVAL_ERR_MAX] = "";
    privval_health(n->pv, why, sizeof(why));
    pthread_mutex_lock(&n->status_lock);
    n->signer_err = err;
    memcpy(n->signer_why, why, sizeof(why));
    pthread_mutex_unlock(&n->status_lock);
    n->signer_failures = failures;
    metrics_set(n->ms.signer_failures, NULL, (double)failures);
    metrics_set(n->ms.signer_ok, NULL, err == 0 ? 1 : 0);
}

/* Prevote participation: which validators' prevotes of the deciding round we saw. */
static void count_prevotes(struct node *n, const struct validator_set *vals, int32_t round)
{
    for (uint32_t i = 0; i < vals->count; i++) {
        if (!csd_vote(n->csd, round, VOTE_TYPE_PREVOTE, i))
            continue;
        char addr[41];
        px_hex_encode(addr, sizeof(addr), vals->validators[i].address, 20, true);
        metrics_add(n->ms.validator_prevotes, addr, 1);
    }
}

static void hook_committed(const struct chain_state *s, const struct block *b, size_t block_bytes,
                           const struct block_id *id, int32_t round,
                           const struct blockexec_result *res, void *user)
{
    (void)id;
    (void)res;
    struct node *n = user;
    if (n->mr)
        mempool_reactor_committed(n->mr, s->last_height);
    update_status(n);
    n->total_txs += b->tx_count;
    if (n->metrics) {
        metrics_set(n->ms.num_txs, NULL, b->tx_count);
        metrics_set(n->ms.total_txs, NULL, (double)n->total_txs);
        metrics_set(n->ms.validators, NULL, s->validators.count);
        metrics_set(n->ms.validators_power, NULL, (double)s->validators.total_voting_power);
        /* s->last_validators signed this block's height; vals_prev the height before */
        metrics_std_block(&n->ms, b, block_bytes, &s->last_validators,
                          n->have_vals_prev ? n->vals_prev : NULL);
        count_prevotes(n, &s->last_validators, round);
        if (n->vals_prev) {
            validator_set_copy(n->vals_prev, &s->last_validators);
            n->have_vals_prev = true;
        }
        if (n->last_block_time_ns && b->header.time_ns > n->last_block_time_ns)
            metrics_observe(n->ms.block_interval_seconds, NULL,
                            (double)(b->header.time_ns - n->last_block_time_ns) / 1e9);
    }
    n->last_block_time_ns = b->header.time_ns;
    int ierr = indexer_index_height(n->tx_index, n->ss, s->last_height);
    if (ierr)
        PX_WARN(MOD, "cannot index the block's events (done again at the next start)",
                "height=%llu err=\"%s\"", (unsigned long long)s->last_height, px_strerror(ierr));
    if (n->rpc)
        rpc_publish_block(n->rpc, s->last_height);
}

static void hook_sig_verified(double seconds, void *user)
{
    struct node *n = user;
    if (n->metrics)
        metrics_observe(n->ms.signature_verification_seconds, NULL, seconds);
}

static void abci_timing(const char *method, double seconds, void *user)
{
    struct node *n = user;
    metrics_observe(n->ms.abci_method_timing_seconds, method, seconds);
}

/* Step and round durations: called on the consensus thread after every event. */
static void observe_steps(struct node *n, uint64_t mono)
{
    if (!n->metrics)
        return;
    uint64_t h = csd_height(n->csd);
    int32_t r = csd_round(n->csd);
    enum cs_step st = csd_step(n->csd);
    if (h == n->obs_height && r == n->obs_round && st == n->obs_step)
        return;
    if (n->obs_step_at) {
        metrics_observe(n->ms.step_duration_seconds, cs_step_name(n->obs_step),
                        (double)(mono - n->obs_step_at) / 1e9);
        if (h != n->obs_height || r != n->obs_round) {
            metrics_observe(n->ms.round_duration_seconds, NULL,
                            (double)(mono - n->obs_round_at) / 1e9);
            n->obs_round_at = mono;
        }
    } else {
        n->obs_round_at = mono;
    }
    n->obs_height = h;
    n->obs_round = r;
    n->obs_step = st;
    n->obs_step_at = mono;
}

/* ---- RPC callbacks (RPC threads) ----------------------------------------------------- */

static int rpc_status_cb(struct rpc_status *out, void *user)
{
    struct node *n = user;
    pthread_mutex_lock(&n->status_lock);
    *out = n->status;
    pthread_mutex_unlock(&n->status_lock);
    return 0;
}

static int rpc_signer_cb(char *why, size_t why_cap, void *user)
{
    struct node *n = user;
    pthread_mutex_lock(&n->status_lock);
    int err = n->signer_err;
    if (err && why_cap)
        snprintf(why, why_cap, "%s", n->signer_why);
    pthread_mutex_unlock(&n->status_lock);
    return err;
}

static int rpc_submit_cb(const uint8_t *tx, size_t len, struct rpc_tx_check *out, void *user)
{
    struct node *n = user;
    struct mempool_submit_result r;
    int err = mempool_reactor_submit(n->mr, tx, len, &r);
    if (err)
        return err;
    memset(out, 0, sizeof(*out));
    out->code = r.code;
    out->gas_wanted = r.gas_wanted;
    snprintf(out->log, sizeof(out->log), "%s", r.log);
    return 0;
}

/* ---- start-up ------------------------------------------------------------------------ */

/* Let the process open as many files as its hard limit allows (systemd's default soft limit
 * is 1024): the consensus path keeps its descriptors open (WAL, stores, signer: privval
 * opens nothing to sign), but the app connection, peers and RPC clients need new ones, and
 * a low soft limit lets a few hundred idle clients take them all. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    unsigned long long was = (unsigned long long)rl.rlim_cur;
    if (rl.rlim_cur == rl.rlim_max) {
        PX_INFO(MOD, "open-file limit", "soft=%llu hard=%llu", was,
                (unsigned long long)rl.rlim_max);
        return;
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        PX_WARN(MOD, "cannot raise the open-file limit to the hard limit", "soft=%llu hard=%llu",
                was, (unsigned long long)rl.rlim_max);
    else
        PX_INFO(MOD, "raised the open-file limit to the hard limit", "from=%llu to=%llu", was,
                (unsigned long long)rl.rlim_max);
}

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

/* A store that cannot be opened or fails its start-up check: the file, what was found and
 * what to do; the node does not start. */
static int store_damaged(const char *store, const char *path, int err, const char *detail)
{
    fprintf(stderr, "phalanxd: the %s %s is damaged or cannot be read (%s%s%s): %s\n", store, path,
            px_strerror(err), detail && detail[0] ? ": " : "", detail ? detail : "",
            BLOCKEXEC_STORE_FIX);
    return 1;
}

/* Open a store with its start-up check (blockstore_check, statestore_check). */
static int open_store(const char *store, const char *path, bool block, struct node *n)
{
    char detail[512] = "";
    bool full = false;
    int err = block ? blockstore_open(path, &n->bs) : statestore_open(path, &n->ss);
    if (err == PX_ECORRUPT) /* (a file that cannot be opened at all: the line above says why) */
        return store_damaged(store, path, err, "it does not open as a database of ours");
    if (err)
        return fail(block ? "cannot open the block store" : "cannot open the state store", path);
    err = block
              ? blockstore_check(n->bs, STORE_FULL_CHECK_MAX_BYTES, &full, detail, sizeof(detail))
              : statestore_check(n->ss, STORE_FULL_CHECK_MAX_BYTES, &full, detail, sizeof(detail));
    if (err)
        return store_damaged(store, path, err, detail);
    if (!full)
        PX_INFO(MOD,
                "store too big for a full check at start: only the records read first were checked",
                "file=%s max_bytes=%llu hint=\"check it all with the node stopped: sqlite3 FILE "
                "'PRAGMA quick_check'\"",
                path, STORE_FULL_CHECK_MAX_BYTES);
    return 0;
}

static int load_all(struct node *n)
{
    char path[PATH_CAP + 32],
        err[CONFIG_ERR_MAX > GENESIS_ERR_MAX ? CONFIG_ERR_MAX : GENESIS_ERR_MAX];
    path_in(n, "config/node.conf", path);
    size_t n_set = 0;
    if (config_load_count(path, &n->cfg, &n_set, err, sizeof(err)) != 0)
        return fail("cannot load the configuration", err);
    if (n_set == 0)
        PX_WARN(MOD,
                "the configuration file sets no option: every option is at its default, and "
                "p2p listens on all interfaces",
                "file=%s p2p.listen_addr=%s hint=\"set the options in it (conf/node.conf lists "
                "them all), or write it with phalanx init\"",
                path, n->cfg.p2p.listen_addr);
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
    if (open_store("block store", path, true, n) != 0)
        return 1;
    snprintf(path, sizeof(path), "%s/state.db", dbdir);
    if (open_store("state store", path, false, n) != 0)
        return 1;
    snprintf(path, sizeof(path), "%s/txindex.db", dbdir);
    if (txindex_open(path, false, &n->tx_index) != 0)
        return fail("cannot open the event index", path);
    return 0;
}

static int connect_app(struct node *n)
{
    struct abci_client_config ac = {0};
    ac.addr = n->cfg.abci.address;
    ac.timeout_ms = (int)n->cfg.abci.call_timeout_ms;
    if (abci_client_new(&ac, &n->app) != 0)
        return fail("cannot set up the connection to the app", n->cfg.abci.address);
    if (n->metrics)
        abci_client_set_observer(n->app, abci_timing, n);
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
    char why[2048] = "";
    int err = blockexec_handshake(&n->bx, &n->genesis, n->st, why, sizeof(why));
    if (err) {
        PX_ERROR(MOD, "handshake with the app failed", "err=\"%s\" why=\"%s\"", px_strerror(err),
                 why);
        return err;
    }
    n->app_connects = abci_client_connects(n->app, ABCI_CONN_CONSENSUS);
    /* a height finished by the handshake closed the mempool's check gate; there is nothing
     * of ours to recheck (the app restarted, or we did), so open it */
    mempool_resume_checks(n->mp);
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
    pc.max_inbound_per_ip = n->cfg.p2p.max_inbound_peers_per_ip;
    pc.max_inbound_handshakes = n->cfg.p2p.max_inbound_handshakes;
    pc.max_inbound_handshakes_per_ip = n->cfg.p2p.max_inbound_handshakes_per_ip;
    pc.handshake_timeout_ms = n->cfg.p2p.handshake_timeout_ms;
    pc.refused_log_interval_ms = n->cfg.p2p.refused_log_interval_ms;
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
    struct csd_hooks hooks = {hook_committed, hook_sig_verified, n};
    int err = csd_new(&cc, &n->bx, n->st, n->pv, &hooks, &n->csd);
    if (!err)
        err = cons_reactor_new(n->csd, n->p2p, n->bs, &n->cr);
    if (!err)
        cons_reactor_set_limits(n->cr, n->cfg.p2p.block_requests_per_s,
                                n->cfg.p2p.block_request_burst);
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

static int start_rpc(struct node *n)
{
    const struct config_rpc *rc = &n->cfg.rpc;
    const struct config_instrumentation *ic = &n->cfg.instrumentation;
    if (!rc->listen_addr[0] && !ic->prometheus)
        return 0;
    static char bs_path[PATH_CAP + 32], ss_path[PATH_CAP + 32], ix_path[PATH_CAP + 32],
        gen_path[PATH_CAP];
    char dbdir[PATH_CAP];
    path_in(n, n->cfg.storage.db_dir, dbdir);
    snprintf(bs_path, sizeof(bs_path), "%s/blockstore.db", dbdir);
    snprintf(ss_path, sizeof(ss_path), "%s/state.db", dbdir);
    snprintf(ix_path, sizeof(ix_path), "%s/txindex.db", dbdir);
    path_in(n, "config/genesis.json", gen_path);
    static const char *cors[CONFIG_LIST_MAX + 1];
    for (size_t i = 0; i < rc->cors_allowed_origins.n; i++)
        cors[i] = rc->cors_allowed_origins.item[i];
    cors[rc->cors_allowed_origins.n] = NULL;
    struct rpc_env env;
    memset(&env, 0, sizeof(env));
    env.blockstore_path = bs_path;
    env.statestore_path = ss_path;
    env.txindex_path = ix_path;
    env.genesis_path = gen_path;
    env.node_id = p2p_id(n->p2p);
    env.moniker = n->cfg.moniker;
    env.chain_id = n->st->chain_id;
    env.p2p_listen_addr = n->cfg.p2p.listen_addr;
    env.rpc_listen_addr = rc->listen_addr;
    env.metrics_listen_addr = ic->prometheus ? ic->prometheus_listen_addr : NULL;
    env.cors_origins = cors;
    env.max_body_bytes = rc->max_body_bytes;
    env.max_open_connections = rc->max_open_connections;
    env.max_connections_per_ip = rc->max_connections_per_ip;
    env.max_header_bytes = rc->max_header_bytes;
    env.read_timeout_ms = rc->read_timeout_ms;
    env.write_timeout_ms = rc->write_timeout_ms;
    env.max_subscription_clients = rc->max_subscription_clients;
    env.max_subscriptions_per_client = rc->max_subscriptions_per_client;
    env.timeout_broadcast_tx_commit_ms = rc->timeout_broadcast_tx_commit_ms;
    env.unsafe = rc->unsafe;
    env.metrics = n->metrics;
    env.metrics_std = n->metrics ? &n->ms : NULL;
    env.p2p = n->p2p;
    env.mempool = n->mp;
    env.user = n;
    env.status = rpc_status_cb;
    env.signer_health = rpc_signer_cb;
    env.submit_tx = rpc_submit_cb;
    rpc_env_use_abci(&env, n->app);
    int err = rpc_new(&env, &n->rpc);
    if (err)
        return fail("cannot start the RPC server", px_strerror(err));
    PX_INFO(MOD, "rpc listening", "rpc=%s metrics=%s", rc->listen_addr[0] ? rc->listen_addr : "off",
            ic->prometheus ? ic->prometheus_listen_addr : "off");
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
    if (c == n->app_connects)
        return;
    /* the handshake uses the query connection too: wait until all of them are back */
    for (int k = 0; k < ABCI_CONN_COUNT; k++)
        if (!abci_client_connected(n->app, (enum abci_conn)k))
            return;
    PX_WARN(MOD, "the app reconnected: running the handshake again", NULL);
    uint64_t before = n->st->last_height;
    if (handshake(n) == 0 && n->st->last_height != before)
        PX_INFO(MOD, "handshake moved the state", "from=%llu to=%llu", (unsigned long long)before,
                (unsigned long long)n->st->last_height);
}

/* Until a signal (0) or a local fault that stops consensus (1). */
static int run_loop(struct node *n)
{
    const struct px_clock *clk = px_clock_system();
    uint64_t next_gossip = 0, next_metrics = 0;
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
            return 1;
        }
        update_signer(n, false);
        observe_steps(n, mono);
        if (mono >= next_gossip) {
            check_app(n);
            cons_reactor_tick(n->cr, mono);
            next_gossip = mono + GOSSIP_TICK_NS;
        }
        if (mono >= next_metrics) {
            update_metrics(n);
            next_metrics = mono + 1000000000ull;
        }
    }
    return 0;
}

static void shutdown_node(struct node *n)
{
    rpc_free(n->rpc);
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
    txindex_close(n->tx_index);
    privval_free(n->pv);
    evq_free(n->q);
    metrics_free(n->metrics);
    pthread_mutex_destroy(&n->status_lock);
    genesis_fini(&n->genesis);
    ed25519_privkey_wipe(&n->node_key);
    free(n->st);
    free(n->vals_prev);
}

int node_run(const struct node_options *opts)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        return fail("out of memory", NULL);
    snprintf(n->home, sizeof(n->home), "%s", opts->home);
    pthread_mutex_init(&n->status_lock, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = load_all(n);
    if (rc == 0 && px_log_set_spec(opts->log_spec ? opts->log_spec : n->cfg.log.level) != 0)
        rc = fail("bad log level spec", opts->log_spec ? opts->log_spec : n->cfg.log.level);
    if (rc == 0)
        raise_fd_limit();
    size_t caps[EVQ_CLASS_COUNT] = {1024, 8192, 1024};
    n->st = calloc(1, sizeof(*n->st));
    n->vals_prev = calloc(1, sizeof(*n->vals_prev));
    if (rc == 0 && (!n->st || evq_new(caps, &n->q) != 0))
        rc = fail("out of memory", NULL);
    struct mempool_config mc = {n->cfg.mempool.max_txs, n->cfg.mempool.max_txs_bytes,
                                n->cfg.mempool.max_tx_bytes, n->cfg.mempool.cache_size_txs, false};
    if (rc == 0 && mempool_new(&mc, &n->mp) != 0)
        rc = fail("bad mempool limits", NULL);
    const struct config_instrumentation *ic = &n->cfg.instrumentation;
    if (rc == 0 && ic->prometheus &&
        (metrics_new(ic->namespace_, &n->metrics) != 0 ||
         metrics_std_register(n->metrics, &n->ms) != 0))
        rc = fail("cannot set up metrics", NULL);
    if (rc == 0)
        rc = connect_app(n);
    if (rc == 0) {
        n->bx.app = n->app;
        n->bx.bs = n->bs;
        n->bx.ss = n->ss;
        n->bx.mp = n->mp;
        n->bx.call_timeout_ms = n->cfg.abci.call_timeout_ms;
        n->bx.mempool_recheck = n->cfg.mempool.recheck;
        if (handshake(n) != 0)
            rc = fail("cannot bring the app and the stores into step (see the log above)", NULL);
        else /* heights committed before a crash but not yet indexed */
            indexer_catch_up(n->tx_index, n->ss, n->st->initial_height, n->st->last_height);
    }
    if (rc == 0)
        rc = start_network(n);
    if (rc == 0)
        rc = start_consensus(n);
    if (rc == 0) {
        update_status(n);
        update_signer(n, true);
        rc = start_rpc(n);
    }
    if (rc == 0) {
        PX_INFO(MOD, "started", "chain=%s height=%llu validators=%u", n->st->chain_id,
                (unsigned long long)n->st->last_height + 1, n->st->validators.count);
        rc = run_loop(n);
        PX_INFO(MOD, "stopping", NULL);
    }
    shutdown_node(n);
    free(n);
    return rc;
}
