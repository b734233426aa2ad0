/*
 * p2p: listener, dialers, connections, peer table, bans and channel queues (see p2p.h).
 *
 * One mutex (p->mtx) guards everything here; nng calls that wait (closing a stream,
 * stopping an aio) and user callbacks are made without it.
 *
 * Connection states (struct conn):
 *   HANDSHAKE  hellos and auth frames in flight.                 -> conn_new
 *   WAITING    authenticated, replacing a connection of the same peer that is still being
 *              torn down; rx is not armed until that one is reaped. -> auth_done
 *   ACTIVE     authenticated and announced by peer_up; rx armed.   -> auth_done, reap_one
 *   CLOSING    asked to close; the maintenance thread closes the stream, waits for both
 *              aios, announces peer_down if peer_up was announced, and frees it.
 *                                                                  -> conn_close
 * Facts (checked by check_facts): at most one conn per peer id has `up` set; a conn with
 * `up` set is ACTIVE or CLOSING; HANDSHAKE and WAITING conns have no queued messages; a
 * WAITING conn has authenticated and has no receive in flight; a CLOSING conn never
 * re-arms an aio; an inbound conn has sent its auth frame only after it received and
 * admitted the dialler's; at most max_inbound_handshakes inbound conns are in HANDSHAKE.
 *
 * Admission of inbound connections (DESIGN §6, p2p_admit.h): a connection in HANDSHAKE takes
 * a slot of the handshake budget (max_inbound_handshakes, and per address
 * max_inbound_handshakes_per_ip), never a peer slot; a new connection always gets a slot, by
 * evicting the handshake that has shown least. The peer limits (max_inbound,
 * max_inbound_per_ip) are checked once the dialler has authenticated, before we send our own
 * auth frame, so a refused dialler never sees us as up; configured persistent peers are
 * admitted beyond them. Lines about connections that never became peers go through a
 * limiter (p2p_lograte.h): one per reason per refused_log_interval_ms, then a summary.
 *
 * Never lets a peer grow memory beyond the channel limits, never delivers unauthenticated
 * bytes, never calls a user callback with the mutex held.
 */
#include "p2p.h"

#include <arpa/inet.h>
#include <assert.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2p_addr.h"
#include "p2p_admit.h"
#include "p2p_codec.h"
#include "p2p_dup.h"
#include "p2p_frame.h"
#include "p2p_lograte.h"
#include "p2p_sched.h"
#include "px_error.h"
#include "px_log.h"

#define MOD "p2p"
#define MAX_PT (P2P_CHUNK_BYTES + P2P_PACKET_OVERHEAD)
#define MAX_CT (MAX_PT + P2P_FRAME_TAG_BYTES)
#define MAX_BANS 1024
#define TICK_MS 50
#define MAX_QUEUE_MSGS 65536
#define MAX_MSG_BYTES (64u << 20)
#define MAX_HANDSHAKES 1024 /* largest max_inbound_handshakes accepted */

/* A queued message, shared by every peer a broadcast reaches. */
struct buf {
    uint32_t refs;
    size_t len;
    uint8_t data[];
};

struct chan_q {
    struct buf **q; /* ring of cap entries */
    uint32_t head, len, cap;
    size_t head_off; /* bytes of the head message already framed */
    size_t bytes;    /* bytes of the queued messages */
    uint8_t *rx;     /* reassembly of the incoming message */
    size_t rx_len, rx_cap;
};

enum conn_state { CONN_HANDSHAKE, CONN_WAITING, CONN_ACTIVE, CONN_CLOSING };
enum rx_state { RX_HELLO, RX_LEN, RX_BODY };

struct ppeer {
    struct p2p *p;
    char id[P2P_ID_LEN + 1];
    char url[P2P_URL_MAX];
    nng_stream_dialer *d;
    nng_aio *aio;
    bool dialing;
    bool self;
    uint32_t attempts;
    nng_time next_ms;
};

struct conn {
    struct p2p *p;
    struct conn *next;
    nng_stream *st;
    nng_aio *rx_aio, *tx_aio;
    enum conn_state state;
    bool outbound, up, reaping, auth_recvd, auth_sent;
    bool linger;      /* refused, but our auth frame goes out first (conn_refuse_visibly) */
    struct ppeer *pp; /* the persistent peer that dialled it */
    char id[P2P_ID_LEN + 1];
    char ip[INET6_ADDRSTRLEN];
    char ipkey[P2P_ADMIT_KEY_MAX]; /* the address as the per-address limits see it */
    char addr[P2P_ADDR_MAX];
    struct p2p_handshake hs;
    struct p2p_frame_key rxk, txk;
    enum rx_state rxs;
    uint8_t hello[P2P_HELLO_BYTES];
    uint8_t hdr[P2P_FRAME_LEN_BYTES];
    uint8_t *ct, *pt;
    size_t want, have;
    uint8_t *tx, *tx_pt;
    size_t tx_len, tx_off;
    bool tx_busy, ping_due, pong_due, ping_out;
    struct chan_q *ch;
    struct p2p_sched_chan sched[P2P_MAX_CHANNELS]; /* ready = ch[i].len > 0 */
    nng_time created_ms, up_ms, last_rx_ms;
    nng_time tx_start_ms; /* when the frame being written was started */
    uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
};

struct ban {
    char key[P2P_ID_LEN + 1 > INET6_ADDRSTRLEN ? P2P_ID_LEN + 1 : INET6_ADDRSTRLEN];
    nng_time until;
};

struct p2p {
    struct p2p_config cfg;
    char listen_url[P2P_URL_MAX];
    char network[P2P_NETWORK_MAX + 1];
    struct p2p_channel_config ch[P2P_MAX_CHANNELS];
    size_t n_ch;
    int16_t ch_index[256];
    uint8_t sk[P2P_SECKEY_BYTES];
    uint8_t pk[P2P_PUBKEY_BYTES];
    char id[P2P_ID_LEN + 1];
    struct ppeer *pp;
    size_t n_pp;
    nng_mtx *mtx;
    nng_cv *cv;
    nng_thread *thr;
    nng_stream_listener *l;
    nng_aio *accept_aio;
    uint16_t port;
    struct conn *conns;
    struct ban bans[MAX_BANS];
    bool started, stopping, stopped;
    nng_time last_decay_ms;
    struct p2p_lograte lr;
    struct p2p_admit_conn *hs_list; /* scratch for admission: max_inbound_handshakes entries */
    struct conn **hs_conns;
    struct p2p_stats st;
};

static const struct p2p_channel_config default_channels[] = {
    {P2P_CH_CONSENSUS_STATE, 6, 100, 64u << 10, 0},
    {P2P_CH_CONSENSUS_DATA, 10, 100, 1u << 20, 0},
    {P2P_CH_CONSENSUS_VOTE, 7, 100, 64u << 10, 0},
    {P2P_CH_MEMPOOL, 5, 100, 1u << 20, 0},
    {P2P_CH_EVIDENCE, 6, 100, 1u << 20, 0},
    /* what a peer's requests make us queue (blocks) is bounded in bytes too: 100 blocks of
     * up to 16 MiB would be 1.6 GB per peer */
    {P2P_CH_BLOCKSYNC, 5, 100, 16u << 20, 32u << 20},
    {P2P_CH_STATESYNC, 3, 16, 16u << 20, 32u << 20},
};

const struct p2p_channel_config *p2p_default_channels(size_t *n)
{
    *n = sizeof(default_channels) / sizeof(default_channels[0]);
    return default_channels;
}

void p2p_config_default(struct p2p_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen_addr = "0.0.0.0:26656";
    cfg->max_inbound = 40;
    cfg->max_outbound = 10;
    cfg->max_inbound_per_ip = 4;
    cfg->max_inbound_handshakes = 16;
    cfg->max_inbound_handshakes_per_ip = 8;
    cfg->handshake_timeout_ms = 5000;
    cfg->dial_backoff_min_ms = 500;
    cfg->dial_backoff_max_ms = 60000;
    cfg->ban_ms = 600000;
    cfg->ban_ip = true;
    cfg->ping_interval_ms = 10000;
    cfg->pong_timeout_ms = 45000;
    cfg->refused_log_interval_ms = 10000;
}

/* --- small helpers (all with p->mtx held unless said otherwise) ------------------ */

static int err_from_nng(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case NNG_ENOMEM:
        return PX_ENOMEM;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
        return PX_EINVAL;
    case NNG_ETIMEDOUT:
        return PX_ETIMEDOUT;
    case NNG_ECLOSED:
    case NNG_ECONNRESET:
    case NNG_ECONNSHUT:
        return PX_ECLOSED;
    case NNG_ECANCELED:
        return PX_ECANCELED;
    case NNG_EPERM:
        return PX_EPERM;
    default:
        return PX_EIO;
    }
}

static void buf_unref(struct buf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static struct buf *buf_new(const void *data, size_t len)
{
    struct buf *b = malloc(sizeof(*b) + len);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = len;
    memcpy(b->data, data, len);
    return b;
}

static bool ban_active(struct p2p *p, const char *key, nng_time now)
{
    for (size_t i = 0; i < MAX_BANS; i++)
        if (p->bans[i].key[0] && p->bans[i].until > now && strcmp(p->bans[i].key, key) == 0)
            return true;
    return false;
}

static void ban_add(struct p2p *p, const char *key, nng_time now)
{
    size_t slot = 0;
    for (size_t i = 0; i < MAX_BANS; i++) {
        if (strcmp(p->bans[i].key, key) == 0 || !p->bans[i].key[0] || p->bans[i].until <= now) {
            slot = i;
            break;
        }
        if (p->bans[i].until < p->bans[slot].until)
            slot = i; /* full: replace the one closest to expiry */
    }
    snprintf(p->bans[slot].key, sizeof(p->bans[slot].key), "%s", key);
    p->bans[slot].until = now + p->cfg.ban_ms;
    p->st.bans++;
}

/* Addresses are banned only if configured, and loopback ones only if asked for too:
 * sentries and local testnets share 127.0.0.1 with honest peers. */
static bool ip_bannable(const struct p2p *p, const char *ip)
{
    if (!p->cfg.ban_ip)
        return false;
    bool loopback = strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
                    strncmp(ip, "::ffff:127.", 11) == 0;
    return !loopback || p->cfg.ban_loopback;
}

static struct ppeer *pp_by_id(struct p2p *p, const char *id)
{
    for (size_t i = 0; i < p->n_pp; i++)
        if (strcmp(p->pp[i].id, id) == 0)
            return &p->pp[i];
    return NULL;
}

static struct conn *active_by_id(struct p2p *p, const char *id)
{
    for (struct conn *c = p->conns; c; c = c->next)
        if (c->state == CONN_ACTIVE && strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

static void count_conns(struct p2p *p, uint32_t *in, uint32_t *out)
{
    *in = *out = 0;
    for (struct conn *c = p->conns; c; c = c->next) {
        if (c->state == CONN_CLOSING)
            continue;
        if (c->outbound)
            (*out)++;
        else
            (*in)++;
    }
}

/* The facts of the state list at the top of this file (debug builds). */
static void check_facts(const struct p2p *p)
{
#ifndef NDEBUG
    uint32_t handshaking = 0;
    for (const struct conn *c = p->conns; c; c = c->next) {
        assert(!c->up || c->state == CONN_ACTIVE || c->state == CONN_CLOSING);
        assert(c->state != CONN_WAITING || c->auth_recvd);
        if (!c->outbound && c->state == CONN_HANDSHAKE) {
            assert(!c->auth_sent || c->linger);
            handshaking++;
        }
        if (c->state == CONN_HANDSHAKE || c->state == CONN_WAITING)
            for (size_t i = 0; i < p->n_ch; i++)
                assert(c->ch[i].len == 0);
        if (!c->up)
            continue;
        for (const struct conn *o = c->next; o; o = o->next)
            assert(!o->up || strcmp(o->id, c->id) != 0);
    }
    assert(handshaking <= p->cfg.max_inbound_handshakes);
#else
    (void)p;
#endif
}

/* Should a line about a connection that is not a peer be written now? Such lines are as
 * frequent as a stranger makes them: at most one per (msg, reason) per refused_log_interval_ms is,
 * the others are counted into a summary (log_summaries). */
static bool stranger_line(struct p2p *p, enum px_log_level level, const char *msg,
                          const char *reason, const char *addr)
{
    if (!px_log_enabled(level, MOD))
        return false;
    if (p->cfg.refused_log_interval_ms == 0)
        return true;
    char key[P2P_LOGRATE_REASON_MAX];
    snprintf(key, sizeof(key), "%s: %s", msg, reason);
    return p2p_lograte_hit(&p->lr, key, (int)level, addr, nng_clock());
}

/* Write the summaries that are due (all: every pending one, at stop). */
static void log_summaries(struct p2p *p, nng_time now, bool all)
{
    struct p2p_lograte_summary sm;
    while (p2p_lograte_next(&p->lr, now, all, &sm)) {
        char q[2 * P2P_LOGRATE_REASON_MAX];
        px_log((enum px_log_level)sm.level, MOD,
               "more connections refused or dropped for the same reason (one line per reason "
               "per refused_log_interval_ms)",
               "what=%s count=%llu in_last_ms=%llu last_addr=%s",
               px_log_quote(q, sizeof(q), sm.reason), (unsigned long long)sm.count,
               (unsigned long long)sm.window_ms, sm.detail[0] ? sm.detail : "?");
    }
}

/* Refuse an authenticated connection whose dialler should learn why from our auth frame
 * (another network or protocol version, or itself): an inbound conn that has not sent its
 * auth frame sends it and is closed once it is written (tx_cb); it receives nothing more
 * meanwhile. Any other conn is closed at once. No line of its own. */
static void conn_refuse_visibly(struct conn *c);

/* Mark c for closing without a line of its own (the caller wrote one). */
static void conn_close_quiet(struct conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    nng_cv_wake(c->p->cv);
}

/* Ask for c to be closed; the maintenance thread does the rest. With ban, the peer's id
 * (or, before it authenticated and if configured, its IP address) is refused for ban_ms.
 * Lines about a connection that never came up go through stranger_line. */
static void conn_close(struct conn *c, const char *reason, bool ban)
{
    struct p2p *p = c->p;
    if (c->state == CONN_CLOSING)
        return;
    char q[256];
    px_log_quote(q, sizeof(q), reason);
    const char *who = c->auth_recvd ? c->id : "unknown";
    if (ban) {
        nng_time now = nng_clock();
        p->st.misbehaved++;
        const char *key = c->auth_recvd ? c->id : ip_bannable(p, c->ip) ? c->ip : NULL;
        if (key) {
            ban_add(p, key, now);
            if (c->up || stranger_line(p, PX_LOG_WARN, "peer banned", reason, c->addr))
                PX_WARN(MOD, "peer banned", "peer=%s addr=%s reason=%s ban_ms=%u banned=%s", who,
                        c->addr, q, p->cfg.ban_ms, key);
        } else if (stranger_line(p, PX_LOG_WARN, "peer dropped for misbehaving", reason, c->addr)) {
            PX_WARN(MOD, "peer dropped for misbehaving", "peer=%s addr=%s reason=%s", who, c->addr,
                    q);
        }
    } else if (c->up) {
        PX_INFO(MOD, "peer disconnected", "peer=%s addr=%s reason=%s", who, c->addr, q);
    } else if (stranger_line(p, PX_LOG_DEBUG, "connection dropped", reason, c->addr)) {
        PX_DEBUG(MOD, "connection dropped", "peer=%s addr=%s reason=%s", who, c->addr, q);
    }
    conn_close_quiet(c);
}

/* --- sending ------------------------------------------------------------------- */

/* Seal the next frame into c->tx. Returns 1 if there is one, 0 if idle, <0 on error. */
static int next_frame(struct conn *c)
{
    struct p2p *p = c->p;
    size_t pt_len = 0;
    int rc;
    if (!c->hs.done)
        return 0;
    if (!c->auth_sent) {
        /* the side that accepted signs only for a dialler that authenticated and was admitted:
         * a stranger gets no signature for free, and a refused one never sees us up */
        if (!c->outbound && c->state == CONN_HANDSHAKE && !c->linger)
            return 0;
        struct p2p_auth a = {.version = P2P_PROTOCOL_VERSION};
        memcpy(a.pk, p->pk, sizeof(a.pk));
        memcpy(a.network, p->network, sizeof(a.network));
        rc = p2p_handshake_sign(&c->hs, p->sk, a.sig);
        if (rc == 0)
            rc = p2p_codec_auth_encode(&a, c->tx_pt, MAX_PT, &pt_len);
        if (rc == 0)
            c->auth_sent = true;
    } else if (c->state != CONN_ACTIVE) {
        return 0;
    } else if (c->pong_due || c->ping_due) {
        struct p2p_packet pk = {.type = c->pong_due ? P2P_PACKET_PONG : P2P_PACKET_PING};
        if (c->pong_due)
            c->pong_due = false;
        else
            c->ping_due = false;
        rc = p2p_codec_packet_encode(&pk, c->tx_pt, MAX_PT, &pt_len);
    } else {
        int i = p2p_sched_pick(c->sched, p->n_ch);
        if (i < 0)
            return 0;
        struct chan_q *q = &c->ch[i];
        struct buf *b = q->q[q->head];
        size_t rem = b->len - q->head_off;
        size_t n = rem < P2P_CHUNK_BYTES ? rem : P2P_CHUNK_BYTES;
        struct p2p_packet pk = {.type = P2P_PACKET_MSG,
                                .channel = p->ch[i].id,
                                .eof = n == rem,
                                .data = b->data + q->head_off,
                                .len = n};
        rc = p2p_codec_packet_encode(&pk, c->tx_pt, MAX_PT, &pt_len);
        if (rc == 0) {
            q->head_off += n;
            c->sched[i].recent += (double)n;
            if (pk.eof) {
                q->q[q->head] = NULL;
                q->head = (q->head + 1) % q->cap;
                q->len--;
                q->bytes -= b->len;
                q->head_off = 0;
                c->sched[i].ready = q->len > 0;
                c->msgs_out++;
                c->bytes_out += b->len;
                p->st.channels[i].msgs_out++;
                p->st.channels[i].bytes_out += b->len;
                buf_unref(b);
            }
        }
    }
    if (rc == 0)
        rc = p2p_frame_seal(&c->txk, c->tx_pt, pt_len, c->tx, MAX_CT + P2P_FRAME_LEN_BYTES,
                            &c->tx_len);
    if (rc < 0)
        return rc;
    c->tx_off = 0;
    return 1;
}

static void tx_start(struct conn *c)
{
    if (c->tx_off == 0)
        c->tx_start_ms = nng_clock();
    nng_iov iov = {.iov_buf = c->tx + c->tx_off, .iov_len = c->tx_len - c->tx_off};
    nng_aio_set_iov(c->tx_aio, 1, &iov);
    nng_stream_send(c->st, c->tx_aio);
}

static void tx_kick(struct conn *c)
{
    if (c->tx_busy || c->state == CONN_CLOSING)
        return;
    int rc = next_frame(c);
    if (rc < 0) {
        conn_close(c, px_strerror(rc), false);
        return;
    }
    if (rc == 0)
        return;
    c->tx_busy = true;
    tx_start(c);
}

static void conn_refuse_visibly(struct conn *c)
{
    if (c->outbound || c->auth_sent || c->state != CONN_HANDSHAKE) {
        conn_close_quiet(c);
        return;
    }
    c->linger = true;
    tx_kick(c);
}

static void tx_cb(void *arg)
{
    struct conn *c = arg;
    struct p2p *p = c->p;
    nng_mtx_lock(p->mtx);
    int rv = nng_aio_result(c->tx_aio);
    if (c->state == CONN_CLOSING) {
        c->tx_busy = false;
    } else if (rv != 0) {
        c->tx_busy = false;
        conn_close(c, nng_strerror(rv), false);
    } else {
        c->tx_off += nng_aio_count(c->tx_aio);
        if (c->tx_off < c->tx_len) {
            tx_start(c);
        } else {
            c->tx_busy = false;
            c->tx_len = c->tx_off = 0;
            if (c->linger && c->auth_sent)
                conn_close_quiet(c); /* the dialler has what it needs to know why */
            else
                tx_kick(c);
        }
    }
    nng_mtx_unlock(p->mtx);
}

/* --- receiving ----------------------------------------------------------------- */

static void rx_arm(struct conn *c)
{
    uint8_t *base = c->rxs == RX_HELLO ? c->hello : c->rxs == RX_LEN ? c->hdr : c->ct;
    nng_iov iov = {.iov_buf = base + c->have, .iov_len = c->want - c->have};
    nng_aio_set_iov(c->rx_aio, 1, &iov);
    nng_stream_recv(c->st, c->rx_aio);
}

static void rx_expect(struct conn *c, enum rx_state s, size_t want)
{
    c->rxs = s;
    c->want = want;
    c->have = 0;
}

/* May the inbound connection c, whose dialler just authenticated, become a peer? The peer
 * limits count the other authenticated inbound connections (a connection replacing one of
 * the same id does not count twice; persistent peers count towards max_inbound, not
 * towards the per-address limit); configured persistent peers are always admitted. If not,
 * c is closed (before our auth frame went out) and false returned. */
static bool admit_inbound(struct p2p *p, struct conn *c)
{
    if (pp_by_id(p, c->id))
        return true;
    uint32_t in = 0, same_ip = 0;
    for (struct conn *o = p->conns; o; o = o->next) {
        if (o == c || o->outbound || !o->auth_recvd || o->state == CONN_CLOSING ||
            strcmp(o->id, c->id) == 0)
            continue;
        in++;
        /* persistent peers share an address with others (a local testnet: 127.0.0.1) */
        same_ip += strcmp(o->ipkey, c->ipkey) == 0 && !pp_by_id(p, o->id);
    }
    const char *why = NULL;
    uint32_t max = 0;
    if (in >= p->cfg.max_inbound) {
        p->st.refused_full++;
        why = "max_inbound_peers reached";
        max = p->cfg.max_inbound;
    } else if (same_ip >= p->cfg.max_inbound_per_ip) {
        p->st.refused_per_ip++;
        why = "max_inbound_peers_per_ip reached";
        max = p->cfg.max_inbound_per_ip;
    }
    if (!why)
        return true;
    if (stranger_line(p, PX_LOG_INFO, "refused inbound peer", why, c->addr))
        PX_INFO(MOD, "refused inbound peer", "peer=%s addr=%s reason=\"%s\" max=%u", c->id, c->addr,
                why, max);
    conn_close_quiet(c);
    return false;
}

/* The peer's auth frame: check who it is and decide the connection's fate. Sets *up when
 * the connection became ACTIVE (peer_up to announce). */
static void auth_done(struct conn *c, const uint8_t *pt, size_t n, bool *up)
{
    struct p2p *p = c->p;
    struct p2p_auth a;
    if (p2p_codec_auth_decode(pt, n, &a) != 0) {
        conn_close(c, "undecodable handshake auth message", true);
        return;
    }
    if (p2p_handshake_verify(&c->hs, a.pk, a.sig) != 0) {
        conn_close(c, "handshake signature does not verify", true);
        return;
    }
    p2p_node_id(a.pk, c->id);
    c->auth_recvd = true;
    if (a.version != P2P_PROTOCOL_VERSION) {
        if (stranger_line(p, PX_LOG_WARN, "peer speaks another p2p protocol version", "", c->addr))
            PX_WARN(MOD, "peer speaks another p2p protocol version",
                    "peer=%s addr=%s version=%u ours=%u", c->id, c->addr, a.version,
                    P2P_PROTOCOL_VERSION);
        conn_refuse_visibly(c);
        return;
    }
    if (strcmp(a.network, p->network) != 0) {
        char theirs[2 * P2P_NETWORK_MAX + 8], ours[2 * P2P_NETWORK_MAX + 8];
        if (stranger_line(p, PX_LOG_WARN, "peer is on another network", "", c->addr))
            PX_WARN(MOD, "peer is on another network", "peer=%s addr=%s network=%s ours=%s", c->id,
                    c->addr, px_log_quote(theirs, sizeof(theirs), a.network),
                    px_log_quote(ours, sizeof(ours), p->network));
        conn_refuse_visibly(c);
        return;
    }
    if (strcmp(c->id, p->id) == 0) {
        if (c->pp) {
            c->pp->self = true;
            PX_ERROR(MOD, "persistent peer is this node itself, not dialling it again", "url=%s",
                     c->pp->url);
        }
        if (stranger_line(p, PX_LOG_DEBUG, "connection dropped", "connection to ourselves refused",
                          c->addr))
            PX_DEBUG(MOD, "connection dropped",
                     "peer=%s addr=%s reason=\"connection to ourselves refused\"", c->id, c->addr);
        conn_refuse_visibly(c); /* the dialling side must see it too, to stop dialling */
        return;
    }
    if (c->outbound && c->pp && strcmp(c->id, c->pp->id) != 0) {
        if (stranger_line(p, PX_LOG_WARN, "dialled peer has another node id than configured", "",
                          c->addr))
            PX_WARN(MOD, "dialled peer has another node id than configured",
                    "expected=%s got=%s addr=%s", c->pp->id, c->id, c->addr);
        conn_close_quiet(c);
        return;
    }
    nng_time now = nng_clock();
    if (ban_active(p, c->id, now)) {
        if (!c->outbound)
            p->st.refused_banned++;
        conn_close(c, "peer is banned", false);
        return;
    }
    if (!c->outbound && !admit_inbound(p, c))
        return;
    /* Duplicates: keep the connection dialled by the lower node id; between two of the
     * same direction keep the newer (the other side considers the old one dead). */
    for (struct conn *o = p->conns; o; o = o->next) {
        if (o == c || !o->auth_recvd || strcmp(o->id, c->id) != 0)
            continue;
        if (o->state != CONN_ACTIVE && o->state != CONN_WAITING)
            continue;
        if (!p2p_dup_keep_new(p->id, c->id, c->outbound, o->outbound)) {
            conn_close(c, "duplicate connection", false);
            return;
        }
        conn_close(o, "replaced by a newer connection", false);
    }
    bool old_up = false;
    for (struct conn *o = p->conns; o; o = o->next)
        if (o != c && o->up && strcmp(o->id, c->id) == 0)
            old_up = true;
    struct ppeer *pp = pp_by_id(p, c->id);
    if (pp)
        pp->attempts = 0;
    if (old_up) {
        c->state = CONN_WAITING;
        tx_kick(c); /* an inbound conn's auth frame goes now */
        check_facts(p);
        return;
    }
    c->state = CONN_ACTIVE;
    c->up = true;
    c->up_ms = now;
    *up = true;
    tx_kick(c);
    check_facts(p);
    PX_INFO(MOD, "peer connected", "peer=%s addr=%s outbound=%s", c->id, c->addr,
            c->outbound ? "true" : "false");
}

/* One packet from an ACTIVE peer. Sets *deliver to the channel index of a complete
 * message waiting in c->ch[index].rx. */
static void packet_done(struct conn *c, const uint8_t *pt, size_t n, int *deliver)
{
    struct p2p *p = c->p;
    struct p2p_packet pk;
    if (p2p_codec_packet_decode(pt, n, &pk) != 0) {
        conn_close(c, "undecodable packet", true);
        return;
    }
    if (pk.type == P2P_PACKET_PING) {
        c->pong_due = true;
        tx_kick(c);
    } else if (pk.type == P2P_PACKET_PONG) {
        c->ping_out = false;
    } else {
        int idx = pk.channel < 256 ? p->ch_index[pk.channel] : -1;
        if (idx < 0) {
            conn_close(c, "message on an unknown channel", true);
            goto out;
        }
        struct chan_q *q = &c->ch[idx];
        if (pk.len > p->ch[idx].max_msg_bytes - q->rx_len) {
            conn_close(c, "message larger than the channel allows", true);
            goto out;
        }
        size_t need = q->rx_len + pk.len;
        if (need > q->rx_cap) {
            size_t cap = q->rx_cap ? q->rx_cap : P2P_CHUNK_BYTES;
            while (cap < need)
                cap *= 2;
            if (cap > p->ch[idx].max_msg_bytes)
                cap = p->ch[idx].max_msg_bytes;
            uint8_t *nb = realloc(q->rx, cap);
            if (!nb) {
                conn_close(c, "out of memory", false);
                goto out;
            }
            q->rx = nb;
            q->rx_cap = cap;
        }
        if (pk.len)
            memcpy(q->rx + q->rx_len, pk.data, pk.len);
        q->rx_len += pk.len;
        if (pk.eof) {
            if (q->rx_len == 0) {
                conn_close(c, "empty message", true);
                goto out;
            }
            c->msgs_in++;
            c->bytes_in += q->rx_len;
            p->st.channels[idx].msgs_in++;
            p->st.channels[idx].bytes_in += q->rx_len;
            *deliver = idx;
        }
    }
out:
    p2p_codec_packet_free(&pk);
}

static void rx_cb(void *arg)
{
    struct conn *c = arg;
    struct p2p *p = c->p;
    nng_mtx_lock(p->mtx);
    int rv = nng_aio_result(c->rx_aio);
    if (c->state == CONN_CLOSING)
        goto unlock;
    if (rv != 0) {
        conn_close(c,
                   rv == NNG_ECLOSED || rv == NNG_ECONNSHUT ? "connection closed by peer"
                                                            : nng_strerror(rv),
                   false);
        goto unlock;
    }
    c->have += nng_aio_count(c->rx_aio);
    c->last_rx_ms = nng_clock();
    if (c->have < c->want) {
        rx_arm(c);
        goto unlock;
    }
    bool up = false;
    int deliver = -1;
    int rc;
    size_t ct_len = 0, pt_len = 0;
    switch (c->rxs) {
    case RX_HELLO:
        rc = p2p_handshake_recv_hello(&c->hs, c->hello);
        if (rc != 0) {
            conn_close(c, rc == PX_EPROTO ? "not a phalanx handshake" : "bad handshake key", true);
            goto unlock;
        }
        p2p_frame_key_init(&c->rxk, c->hs.rx_key);
        p2p_frame_key_init(&c->txk, c->hs.tx_key);
        rx_expect(c, RX_LEN, P2P_FRAME_LEN_BYTES);
        tx_kick(c);
        break;
    case RX_LEN:
        rc = p2p_frame_header(c->hdr, MAX_CT, &ct_len);
        if (rc != 0) {
            conn_close(c, rc == PX_ETOOBIG ? "oversized frame" : "frame too short", true);
            goto unlock;
        }
        rx_expect(c, RX_BODY, ct_len);
        break;
    case RX_BODY:
        rc = p2p_frame_open(&c->rxk, c->hdr, c->ct, c->want, c->pt, &pt_len);
        if (rc != 0) {
            conn_close(c, "frame failed authentication (tampered, replayed or reordered)", true);
            goto unlock;
        }
        rx_expect(c, RX_LEN, P2P_FRAME_LEN_BYTES);
        if (!c->auth_recvd)
            auth_done(c, c->pt, pt_len, &up);
        else
            packet_done(c, c->pt, pt_len, &deliver);
        break;
    }
    if (c->state == CONN_CLOSING || c->state == CONN_WAITING || c->linger)
        goto unlock;
    if (up || deliver >= 0) {
        /* rx is not armed: nothing else touches this conn's receive side meanwhile, and
         * the maintenance thread waits for this callback before freeing it. */
        bool outbound = c->outbound;
        nng_mtx_unlock(p->mtx);
        if (up && p->cfg.peer_up_cb)
            p->cfg.peer_up_cb(c->id, outbound, p->cfg.user);
        if (deliver >= 0 && p->cfg.recv_cb)
            p->cfg.recv_cb(c->id, p->ch[deliver].id, c->ch[deliver].rx, c->ch[deliver].rx_len,
                           p->cfg.user);
        nng_mtx_lock(p->mtx);
        if (deliver >= 0) {
            struct chan_q *q = &c->ch[deliver];
            q->rx_len = 0;
            if (q->rx_cap > P2P_CHUNK_BYTES) { /* keep no large buffer per idle peer */
                free(q->rx);
                q->rx = NULL;
                q->rx_cap = 0;
            }
        }
        if (c->state == CONN_CLOSING)
            goto unlock;
        if (up)
            tx_kick(c);
    }
    rx_arm(c);
unlock:
    nng_mtx_unlock(p->mtx);
}

/* --- connections ---------------------------------------------------------------- */

static void conn_free(struct conn *c)
{
    /* the mutex is not held; c is unlinked and both aios are stopped; bufs were unref'd */
    if (c->rx_aio)
        nng_aio_free(c->rx_aio);
    if (c->tx_aio)
        nng_aio_free(c->tx_aio);
    if (c->st)
        nng_stream_free(c->st);
    if (c->ch) {
        for (size_t i = 0; i < c->p->n_ch; i++) {
            free(c->ch[i].q);
            free(c->ch[i].rx);
        }
        free(c->ch);
    }
    p2p_handshake_fini(&c->hs);
    p2p_frame_key_fini(&c->rxk);
    p2p_frame_key_fini(&c->txk);
    free(c->ct);
    free(c->pt);
    free(c->tx);
    free(c->tx_pt);
    free(c);
}

static void remote_addr(nng_stream *st, char *ip, size_t ip_cap, char *addr, size_t addr_cap)
{
    nng_sockaddr sa;
    snprintf(ip, ip_cap, "?");
    snprintf(addr, addr_cap, "?");
    if (nng_stream_get_addr(st, NNG_OPT_REMADDR, &sa) != 0)
        return;
    if (sa.s_family == NNG_AF_INET) {
        inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, (socklen_t)ip_cap);
        snprintf(addr, addr_cap, "%s:%u", ip, (unsigned)ntohs(sa.s_in.sa_port));
    } else if (sa.s_family == NNG_AF_INET6) {
        inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, (socklen_t)ip_cap);
        snprintf(addr, addr_cap, "[%s]:%u", ip, (unsigned)ntohs(sa.s_in6.sa_port));
    }
}

/* Create a connection for st and start its handshake. Called with the mutex held. On
 * failure the caller still owns st. */
static int conn_new(struct p2p *p, nng_stream *st, bool outbound, struct ppeer *pp, const char *ip,
                    const char *addr)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return PX_ENOMEM;
    c->p = p;
    c->outbound = outbound;
    c->pp = pp;
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    p2p_admit_key(ip, c->ipkey);
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->ct = malloc(MAX_CT);
    c->pt = malloc(MAX_PT);
    c->tx = malloc(MAX_CT + P2P_FRAME_LEN_BYTES);
    c->tx_pt = malloc(MAX_PT);
    c->ch = calloc(p->n_ch, sizeof(*c->ch));
    bool ok = c->ct && c->pt && c->tx && c->tx_pt && c->ch;
    for (size_t i = 0; ok && i < p->n_ch; i++) {
        c->ch[i].cap = p->ch[i].send_queue_msgs;
        c->sched[i].priority = p->ch[i].priority;
        c->ch[i].q = calloc(c->ch[i].cap, sizeof(struct buf *));
        ok = c->ch[i].q != NULL;
    }
    if (ok)
        ok = nng_aio_alloc(&c->rx_aio, rx_cb, c) == 0 && nng_aio_alloc(&c->tx_aio, tx_cb, c) == 0;
    if (!ok) {
        conn_free(c); /* st is still the caller's: c->st is NULL */
        return PX_ENOMEM;
    }
    c->st = st;
    c->state = CONN_HANDSHAKE;
    c->created_ms = c->last_rx_ms = nng_clock();
    p2p_handshake_init(&c->hs, NULL);
    c->next = p->conns;
    p->conns = c;
    p2p_handshake_hello(&c->hs, c->tx);
    c->tx_len = P2P_HELLO_BYTES;
    c->tx_off = 0;
    c->tx_busy = true;
    tx_start(c);
    rx_expect(c, RX_HELLO, P2P_HELLO_BYTES);
    rx_arm(c);
    return 0;
}

/* A connection from ip is about to be accepted: evict connections in handshake until it
 * fits the handshake budget (p2p_admit_evict picks each). Called with the mutex held. */
static void make_room(struct p2p *p, const char *ip)
{
    char key[P2P_ADMIT_KEY_MAX];
    p2p_admit_key(ip, key);
    for (;;) {
        size_t n = 0;
        for (struct conn *c = p->conns; c && n < p->cfg.max_inbound_handshakes; c = c->next) {
            if (c->outbound || c->state != CONN_HANDSHAKE)
                continue;
            p->hs_conns[n] = c;
            p->hs_list[n] = (struct p2p_admit_conn){
                .key = c->ipkey,
                .stage = c->rxs == RX_HELLO ? P2P_ADMIT_HELLO : P2P_ADMIT_AUTH,
                .created_ms = c->created_ms,
            };
            n++;
        }
        int v = p2p_admit_evict(p->hs_list, n, key, p->cfg.max_inbound_handshakes,
                                p->cfg.max_inbound_handshakes_per_ip);
        if (v < 0)
            return;
        struct conn *victim = p->hs_conns[v];
        bool own = strcmp(victim->ipkey, key) == 0;
        const char *why =
            own ? "max_inbound_handshakes_per_ip reached" : "max_inbound_handshakes reached";
        p->st.evicted++;
        if (stranger_line(p, PX_LOG_INFO, "evicted a connection in handshake for a newer one", why,
                          victim->addr))
            PX_INFO(MOD, "evicted a connection in handshake for a newer one",
                    "addr=%s age_ms=%llu reason=\"%s\" max=%u", victim->addr,
                    (unsigned long long)(nng_clock() - victim->created_ms), why,
                    own ? p->cfg.max_inbound_handshakes_per_ip : p->cfg.max_inbound_handshakes);
        conn_close_quiet(victim);
    }
}

static void accept_cb(void *arg)
{
    struct p2p *p = arg;
    int rv = nng_aio_result(p->accept_aio);
    nng_stream *st = rv == 0 ? nng_aio_get_output(p->accept_aio, 0) : NULL;
    char ip[INET6_ADDRSTRLEN], addr[P2P_ADDR_MAX];
    if (st)
        remote_addr(st, ip, sizeof(ip), addr, sizeof(addr));
    nng_mtx_lock(p->mtx);
    bool stopping = p->stopping;
    bool refuse = stopping;
    if (st && !refuse) {
        if (ip_bannable(p, ip) && ban_active(p, ip, nng_clock())) {
            p->st.refused_banned++;
            if (stranger_line(p, PX_LOG_DEBUG, "refused connection from banned address", "", addr))
                PX_DEBUG(MOD, "refused connection from banned address", "addr=%s", addr);
            refuse = true;
        } else {
            make_room(p, ip);
            if (conn_new(p, st, false, NULL, ip, addr) != 0)
                refuse = true;
            check_facts(p);
        }
    }
    nng_mtx_unlock(p->mtx);
    if (st && refuse)
        nng_stream_free(st);
    if (stopping || rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return;
    if (rv != 0 && rv != NNG_ECONNABORTED && rv != NNG_ECONNRESET)
        PX_WARN(MOD, "accept failed", "err=%s", nng_strerror(rv));
    nng_stream_listener_accept(p->l, p->accept_aio);
}

static void dial_cb(void *arg)
{
    struct ppeer *pp = arg;
    struct p2p *p = pp->p;
    int rv = nng_aio_result(pp->aio);
    nng_stream *st = rv == 0 ? nng_aio_get_output(pp->aio, 0) : NULL;
    char ip[INET6_ADDRSTRLEN], addr[P2P_ADDR_MAX];
    if (st)
        remote_addr(st, ip, sizeof(ip), addr, sizeof(addr));
    nng_mtx_lock(p->mtx);
    pp->dialing = false;
    bool drop = st != NULL;
    if (rv != 0) {
        p->st.dial_failures++;
        uint32_t d = p2p_addr_backoff_ms(pp->attempts, p->cfg.dial_backoff_min_ms,
                                         p->cfg.dial_backoff_max_ms, nng_random());
        if (pp->attempts < 32)
            pp->attempts++;
        pp->next_ms = nng_clock() + d;
        if (!p->stopping)
            PX_DEBUG(MOD, "dial failed", "peer=%s url=%s err=%s retry_ms=%u", pp->id, pp->url,
                     nng_strerror(rv), d);
    } else if (!p->stopping && conn_new(p, st, true, pp, ip, addr) == 0) {
        drop = false;
    }
    nng_mtx_unlock(p->mtx);
    if (drop)
        nng_stream_free(st);
}

/* --- the maintenance thread ------------------------------------------------------- */

static void fire_peer(struct p2p *p, p2p_peer_fn fn, const char *id, bool outbound)
{
    if (!fn)
        return;
    char copy[P2P_ID_LEN + 1];
    memcpy(copy, id, sizeof(copy));
    nng_mtx_unlock(p->mtx);
    fn(copy, outbound, p->cfg.user);
    nng_mtx_lock(p->mtx);
}

/* Tear down one CLOSING conn. Called and returns with the mutex held (drops it inside). */
static void reap_one(struct p2p *p, struct conn *c)
{
    c->reaping = true;
    nng_mtx_unlock(p->mtx);
    nng_stream_close(c->st);
    nng_aio_stop(c->rx_aio);
    nng_aio_stop(c->tx_aio);
    nng_mtx_lock(p->mtx);
    for (size_t i = 0; i < p->n_ch; i++) {
        struct chan_q *q = &c->ch[i];
        for (uint32_t k = 0; k < q->len; k++)
            buf_unref(q->q[(q->head + k) % q->cap]);
        q->len = 0;
        q->bytes = 0;
    }
    struct ppeer *pp = c->pp ? c->pp : c->auth_recvd ? pp_by_id(p, c->id) : NULL;
    if (pp && !p->stopping) {
        nng_time next = nng_clock() + p2p_addr_backoff_ms(pp->attempts, p->cfg.dial_backoff_min_ms,
                                                          p->cfg.dial_backoff_max_ms, nng_random());
        if (next > pp->next_ms)
            pp->next_ms = next;
        if (pp->attempts < 32)
            pp->attempts++;
    }
    /* peer_down is announced while c is still listed with `up` set, so that a new
     * connection of the same peer waits (CONN_WAITING) and its peer_up comes after */
    if (c->up)
        fire_peer(p, p->cfg.peer_down_cb, c->id, c->outbound);
    for (struct conn **pc = &p->conns; *pc; pc = &(*pc)->next) {
        if (*pc == c) {
            *pc = c->next;
            break;
        }
    }
    if (c->up) {
        /* a connection that waited for this one to go takes its place */
        for (struct conn *w = p->conns; w; w = w->next) {
            if (w->state != CONN_WAITING || strcmp(w->id, c->id) != 0)
                continue;
            w->state = CONN_ACTIVE;
            w->up = true;
            w->up_ms = nng_clock();
            PX_INFO(MOD, "peer connected", "peer=%s addr=%s outbound=%s", w->id, w->addr,
                    w->outbound ? "true" : "false");
            fire_peer(p, p->cfg.peer_up_cb, w->id, w->outbound);
            if (w->state == CONN_ACTIVE) { /* still: the callback may have raced a close */
                rx_arm(w);
                tx_kick(w);
            }
            break;
        }
    }
    check_facts(p);
    nng_mtx_unlock(p->mtx);
    conn_free(c);
    nng_mtx_lock(p->mtx);
}

static void housekeeping(struct p2p *p, nng_time now)
{
    bool decay = now - p->last_decay_ms >= P2P_SCHED_DECAY_MS;
    if (decay)
        p->last_decay_ms = now;
    log_summaries(p, now, false);
    for (struct conn *c = p->conns; c; c = c->next) {
        if (c->state == CONN_HANDSHAKE || c->state == CONN_WAITING) {
            if (now - c->created_ms > p->cfg.handshake_timeout_ms)
                conn_close(c, "handshake timed out", false);
        } else if (c->state == CONN_ACTIVE) {
            if (now - c->last_rx_ms > p->cfg.pong_timeout_ms) {
                conn_close(c, "peer silent: no pong", false);
                continue;
            }
            if (c->tx_busy && now - c->tx_start_ms > p->cfg.pong_timeout_ms) {
                conn_close(c, "peer stopped reading: send stalled", false);
                continue;
            }
            if (now - c->last_rx_ms > p->cfg.ping_interval_ms && !c->ping_out) {
                c->ping_due = c->ping_out = true;
                tx_kick(c);
            }
            if (decay)
                p2p_sched_decay(c->sched, p->n_ch);
        }
    }
    uint32_t in, out;
    count_conns(p, &in, &out);
    for (size_t i = 0; i < p->n_pp; i++)
        out += p->pp[i].dialing ? 1u : 0u;
    for (size_t i = 0; i < p->n_pp; i++) {
        struct ppeer *pp = &p->pp[i];
        if (pp->self || pp->dialing || now < pp->next_ms || out >= p->cfg.max_outbound)
            continue;
        bool busy = false;
        for (struct conn *c = p->conns; c && !busy; c = c->next)
            busy = c->state != CONN_CLOSING &&
                   (c->pp == pp || (c->auth_recvd && strcmp(c->id, pp->id) == 0));
        if (busy || ban_active(p, pp->id, now))
            continue;
        pp->dialing = true;
        out++;
        p->st.dials++;
        nng_stream_dialer_dial(pp->d, pp->aio);
    }
}

static void maint_main(void *arg)
{
    struct p2p *p = arg;
    nng_mtx_lock(p->mtx);
    for (;;) {
        struct conn *dead = NULL;
        for (struct conn *c = p->conns; c && !dead; c = c->next)
            if (c->state == CONN_CLOSING && !c->reaping)
                dead = c;
        if (dead) {
            reap_one(p, dead);
            continue;
        }
        if (p->stopping) {
            if (!p->conns)
                break;
            nng_cv_until(p->cv, nng_clock() + TICK_MS);
            continue;
        }
        nng_time now = nng_clock();
        housekeeping(p, now);
        nng_cv_until(p->cv, now + TICK_MS);
    }
    nng_mtx_unlock(p->mtx);
}

/* --- public API ------------------------------------------------------------------- */

static int check_channels(struct p2p *p, const struct p2p_channel_config *ch, size_t n)
{
    if (n == 0 || n > P2P_MAX_CHANNELS) {
        PX_ERROR(MOD, "p2p config: 1 to 16 channels needed", "n=%zu", n);
        return PX_ECONFIG;
    }
    for (int i = 0; i < 256; i++)
        p->ch_index[i] = -1;
    for (size_t i = 0; i < n; i++) {
        if (p->ch_index[ch[i].id] >= 0 || ch[i].priority == 0 || ch[i].send_queue_msgs == 0 ||
            ch[i].send_queue_msgs > MAX_QUEUE_MSGS || ch[i].max_msg_bytes == 0 ||
            ch[i].max_msg_bytes > MAX_MSG_BYTES ||
            (ch[i].send_queue_bytes != 0 && ch[i].send_queue_bytes < ch[i].max_msg_bytes)) {
            PX_ERROR(MOD,
                     "p2p config: bad channel (ids unique, priority >= 1, send_queue_msgs "
                     "1..65536, max_msg_bytes 1..64MiB, send_queue_bytes 0 or >= max_msg_bytes)",
                     "channel=%u", (unsigned)ch[i].id);
            return PX_ECONFIG;
        }
        p->ch[i] = ch[i];
        p->ch_index[ch[i].id] = (int16_t)i;
        p->st.channels[i].id = ch[i].id;
    }
    p->n_ch = n;
    p->st.n_channels = n;
    return 0;
}

int p2p_new(const struct p2p_config *cfg, struct p2p **out)
{
    *out = NULL;
    struct p2p *p = calloc(1, sizeof(*p));
    if (!p)
        return PX_ENOMEM;
    p->cfg = *cfg;
    p->cfg.persistent_peers = NULL;
    p->cfg.listen_addr = NULL;
    p->cfg.node_key = NULL;
    p->cfg.network = NULL;
    int rc = PX_ECONFIG;
    const char *net = cfg->network ? cfg->network : "";
    if (strlen(net) > P2P_NETWORK_MAX) {
        PX_ERROR(MOD, "p2p config: network (chain id) longer than 64 bytes", "len=%zu",
                 strlen(net));
        goto fail;
    }
    memcpy(p->network, net, strlen(net) + 1);
    if (p2p_addr_listen_url(cfg->listen_addr, p->listen_url) != 0) {
        PX_ERROR(MOD, "p2p config: listen address must be host:port", "listen_addr=%s",
                 cfg->listen_addr ? cfg->listen_addr : "(none)");
        goto fail;
    }
    if (!cfg->node_key || p2p_node_key_load(cfg->node_key, cfg->node_key_len, p->sk, p->pk) != 0) {
        PX_ERROR(MOD, "p2p config: node key must be a 32-byte seed or a 64-byte Ed25519 secret key",
                 "len=%zu", cfg->node_key_len);
        goto fail;
    }
    p2p_node_id(p->pk, p->id);
    if (cfg->max_inbound + (uint64_t)cfg->max_outbound == 0 || cfg->handshake_timeout_ms == 0 ||
        cfg->dial_backoff_min_ms == 0 || cfg->dial_backoff_max_ms < cfg->dial_backoff_min_ms ||
        cfg->ping_interval_ms == 0 || cfg->pong_timeout_ms <= cfg->ping_interval_ms) {
        PX_ERROR(MOD,
                 "p2p config: bad limits (need max peers > 0, timeouts > 0, backoff min <= "
                 "max, pong timeout > ping interval)",
                 "ping_interval_ms=%u pong_timeout_ms=%u", cfg->ping_interval_ms,
                 cfg->pong_timeout_ms);
        goto fail;
    }
    if (cfg->max_inbound_per_ip == 0 || cfg->max_inbound_handshakes == 0 ||
        cfg->max_inbound_handshakes > MAX_HANDSHAKES || cfg->max_inbound_handshakes_per_ip == 0) {
        PX_ERROR(MOD,
                 "p2p config: bad inbound limits (need max_inbound_per_ip >= 1, "
                 "max_inbound_handshakes 1..1024, max_inbound_handshakes_per_ip >= 1)",
                 "max_inbound_per_ip=%u max_inbound_handshakes=%u max_inbound_handshakes_per_ip=%u",
                 cfg->max_inbound_per_ip, cfg->max_inbound_handshakes,
                 cfg->max_inbound_handshakes_per_ip);
        goto fail;
    }
    p2p_lograte_init(&p->lr, cfg->refused_log_interval_ms);
    p->hs_list = calloc(cfg->max_inbound_handshakes, sizeof(*p->hs_list));
    p->hs_conns = calloc(cfg->max_inbound_handshakes, sizeof(*p->hs_conns));
    if (!p->hs_list || !p->hs_conns) {
        rc = PX_ENOMEM;
        goto fail;
    }
    size_t n_ch = cfg->n_channels;
    const struct p2p_channel_config *chs = cfg->channels;
    if (!chs)
        chs = p2p_default_channels(&n_ch);
    if (check_channels(p, chs, n_ch) != 0)
        goto fail;
    p->cfg.channels = NULL;
    if (cfg->n_persistent_peers) {
        p->pp = calloc(cfg->n_persistent_peers, sizeof(*p->pp));
        if (!p->pp) {
            rc = PX_ENOMEM;
            goto fail;
        }
    }
    for (size_t i = 0; i < cfg->n_persistent_peers; i++) {
        struct ppeer *pp = &p->pp[p->n_pp];
        const char *s = cfg->persistent_peers[i];
        if (p2p_addr_parse_peer(s, pp->id, pp->url) != 0) {
            PX_ERROR(MOD, "p2p config: persistent peer must be id@host:port (id: 40 hex digits)",
                     "peer=%s", s ? s : "(null)");
            goto fail;
        }
        if (strcmp(pp->id, p->id) == 0) {
            PX_WARN(MOD, "persistent peer is this node itself: skipped", "peer=%s", s);
            continue;
        }
        if (pp_by_id(p, pp->id) != NULL) { /* searches the n_pp before this one */
            PX_WARN(MOD, "persistent peer listed twice: first address kept", "peer=%s", s);
            memset(pp, 0, sizeof(*pp));
            continue;
        }
        pp->p = p;
        p->n_pp++;
    }
    if (nng_mtx_alloc(&p->mtx) != 0 || nng_cv_alloc(&p->cv, p->mtx) != 0) {
        rc = PX_ENOMEM;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    p2p_free(p);
    return rc;
}

int p2p_start(struct p2p *p)
{
    if (p->started)
        return PX_ESTATE;
    int rv = nng_stream_listener_alloc(&p->l, p->listen_url);
    if (rv == 0)
        rv = nng_stream_listener_listen(p->l);
    if (rv != 0) {
        PX_ERROR(MOD, "cannot listen: is the address in use or not local?", "url=%s err=%s",
                 p->listen_url, nng_strerror(rv));
        if (p->l)
            nng_stream_listener_free(p->l);
        p->l = NULL;
        return rv == NNG_ENOMEM ? PX_ENOMEM : PX_EIO;
    }
    int port = 0;
    nng_stream_listener_get_int(p->l, NNG_OPT_TCP_BOUND_PORT, &port);
    p->port = (uint16_t)port;
    rv = nng_aio_alloc(&p->accept_aio, accept_cb, p);
    for (size_t i = 0; rv == 0 && i < p->n_pp; i++) {
        rv = nng_stream_dialer_alloc(&p->pp[i].d, p->pp[i].url);
        if (rv == 0)
            rv = nng_aio_alloc(&p->pp[i].aio, dial_cb, &p->pp[i]);
        if (rv != 0)
            PX_ERROR(MOD, "cannot set up dialer", "url=%s err=%s", p->pp[i].url, nng_strerror(rv));
    }
    p->started = true;
    if (rv == 0)
        rv = nng_thread_create(&p->thr, maint_main, p);
    if (rv != 0) {
        p2p_stop(p);
        return err_from_nng(rv) == PX_ENOMEM ? PX_ENOMEM : PX_EIO;
    }
    PX_INFO(MOD, "listening", "node_id=%s url=%s port=%u persistent_peers=%zu", p->id,
            p->listen_url, (unsigned)p->port, p->n_pp);
    nng_stream_listener_accept(p->l, p->accept_aio);
    return 0;
}

void p2p_stop(struct p2p *p)
{
    if (!p || !p->started || p->stopped)
        return;
    nng_mtx_lock(p->mtx);
    p->stopping = true;
    for (struct conn *c = p->conns; c; c = c->next)
        if (c->state != CONN_CLOSING) {
            c->state = CONN_CLOSING;
        }
    nng_cv_wake(p->cv);
    nng_mtx_unlock(p->mtx);
    if (p->l)
        nng_stream_listener_close(p->l);
    if (p->accept_aio)
        nng_aio_stop(p->accept_aio);
    for (size_t i = 0; i < p->n_pp; i++) {
        if (p->pp[i].aio)
            nng_aio_stop(p->pp[i].aio);
        if (p->pp[i].d)
            nng_stream_dialer_close(p->pp[i].d);
    }
    if (p->thr) {
        nng_thread_destroy(p->thr); /* joins: every connection reaped */
        p->thr = NULL;
    }
    nng_mtx_lock(p->mtx);
    log_summaries(p, nng_clock(), true); /* nothing counted is lost */
    nng_mtx_unlock(p->mtx);
    p->stopped = true;
    PX_INFO(MOD, "stopped", "node_id=%s", p->id);
}

void p2p_free(struct p2p *p)
{
    if (!p)
        return;
    p2p_stop(p);
    for (size_t i = 0; i < p->n_pp; i++) {
        if (p->pp[i].aio)
            nng_aio_free(p->pp[i].aio);
        if (p->pp[i].d)
            nng_stream_dialer_free(p->pp[i].d);
    }
    free(p->pp);
    free(p->hs_list);
    free(p->hs_conns);
    if (p->accept_aio)
        nng_aio_free(p->accept_aio);
    if (p->l)
        nng_stream_listener_free(p->l);
    if (p->cv)
        nng_cv_free(p->cv);
    if (p->mtx)
        nng_mtx_free(p->mtx);
    sodium_memzero(p->sk, sizeof(p->sk));
    free(p);
}

const char *p2p_id(const struct p2p *p)
{
    return p->id;
}

uint16_t p2p_listen_port(const struct p2p *p)
{
    return p->port;
}

static int check_msg(struct p2p *p, uint8_t channel, size_t len, int *idx)
{
    *idx = p->ch_index[channel];
    if (*idx < 0 || len == 0)
        return PX_EINVAL;
    if (len > p->ch[*idx].max_msg_bytes)
        return PX_ETOOBIG;
    return 0;
}

static bool enqueue(struct conn *c, int idx, struct buf *b)
{
    struct chan_q *q = &c->ch[idx];
    size_t max_bytes = c->p->ch[idx].send_queue_bytes;
    if (q->len == q->cap || (q->len > 0 && max_bytes && q->bytes + b->len > max_bytes))
        return false;
    q->q[(q->head + q->len) % q->cap] = b;
    q->len++;
    q->bytes += b->len;
    c->sched[idx].ready = true;
    b->refs++;
    tx_kick(c);
    return true;
}

int p2p_send(struct p2p *p, const char *peer_id, uint8_t channel, const void *data, size_t len)
{
    int idx;
    int rc = check_msg(p, channel, len, &idx);
    if (rc != 0)
        return rc;
    struct buf *b = buf_new(data, len);
    if (!b)
        return PX_ENOMEM;
    nng_mtx_lock(p->mtx);
    struct conn *c = p->stopping ? NULL : active_by_id(p, peer_id);
    if (p->stopping || !p->started)
        rc = PX_ECLOSED;
    else if (!c)
        rc = PX_ENOTFOUND;
    else if (!enqueue(c, idx, b))
        rc = PX_EAGAIN;
    buf_unref(b);
    nng_mtx_unlock(p->mtx);
    return rc;
}

int p2p_broadcast(struct p2p *p, uint8_t channel, const void *data, size_t len, size_t *n_sent)
{
    int idx;
    if (n_sent)
        *n_sent = 0;
    int rc = check_msg(p, channel, len, &idx);
    if (rc != 0)
        return rc;
    struct buf *b = buf_new(data, len);
    if (!b)
        return PX_ENOMEM;
    size_t n = 0;
    nng_mtx_lock(p->mtx);
    if (p->stopping || !p->started) {
        rc = PX_ECLOSED;
    } else {
        for (struct conn *c = p->conns; c; c = c->next) {
            if (c->state != CONN_ACTIVE)
                continue;
            if (enqueue(c, idx, b))
                n++;
            else
                p->st.channels[idx].dropped++;
        }
    }
    buf_unref(b);
    nng_mtx_unlock(p->mtx);
    if (n_sent)
        *n_sent = n;
    return rc;
}

void p2p_stats(struct p2p *p, struct p2p_stats *out)
{
    nng_mtx_lock(p->mtx);
    *out = p->st;
    out->peers = out->inbound = out->outbound = out->handshaking = 0;
    for (struct conn *c = p->conns; c; c = c->next) {
        if (c->state == CONN_ACTIVE) {
            out->peers++;
            if (c->outbound)
                out->outbound++;
            else
                out->inbound++;
        } else if (c->state == CONN_HANDSHAKE || c->state == CONN_WAITING) {
            out->handshaking++;
        }
    }
    nng_mtx_unlock(p->mtx);
}

void p2p_peers(struct p2p *p, struct p2p_peer_info *out, size_t cap, size_t *n)
{
    *n = 0;
    nng_mtx_lock(p->mtx);
    nng_time now = nng_clock();
    for (struct conn *c = p->conns; c && *n < cap; c = c->next) {
        if (c->state != CONN_ACTIVE)
            continue;
        struct p2p_peer_info *pi = &out[(*n)++];
        memset(pi, 0, sizeof(*pi));
        memcpy(pi->id, c->id, sizeof(pi->id));
        snprintf(pi->remote_addr, sizeof(pi->remote_addr), "%s", c->addr);
        pi->outbound = c->outbound;
        pi->persistent = pp_by_id(p, c->id) != NULL;
        pi->connected_ms = now - c->up_ms;
        pi->msgs_in = c->msgs_in;
        pi->bytes_in = c->bytes_in;
        pi->msgs_out = c->msgs_out;
        pi->bytes_out = c->bytes_out;
    }
    nng_mtx_unlock(p->mtx);
}

int p2p_ban_peer(struct p2p *p, const char *peer_id, const char *reason)
{
    nng_mtx_lock(p->mtx);
    int rc = PX_ENOTFOUND;
    for (struct conn *c = p->conns; c; c = c->next) {
        if (c->state == CONN_CLOSING || !c->auth_recvd || strcmp(c->id, peer_id) != 0)
            continue;
        conn_close(c, reason ? reason : "banned by the node", true);
        rc = 0;
    }
    if (rc != 0 && strlen(peer_id) == P2P_ID_LEN) { /* not connected: still refuse it */
        ban_add(p, peer_id, nng_clock());
        rc = 0;
    }
    nng_mtx_unlock(p->mtx);
    return rc;
}

bool p2p_is_banned(struct p2p *p, const char *id_or_ip)
{
    nng_mtx_lock(p->mtx);
    bool b = ban_active(p, id_or_ip, nng_clock());
    nng_mtx_unlock(p->mtx);
    return b;
}
