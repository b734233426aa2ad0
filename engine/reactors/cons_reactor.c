/*
 * cons_reactor: see cons_reactor.h. Per-peer "sent" marks are kept for the height we are
 * at; they are cleared when either side changes height or the peer reconnects. Sends use
 * p2p_send, which refuses (PX_EAGAIN) when the peer's queue is full: then nothing is
 * marked and the next tick tries again.
 */
#include "cons_reactor.h"

#include "cmsg.h"
#include "codec.h"
#include "p2p_bucket.h"
#include "px_error.h"
#include "px_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "gossip"
#define STATUS_EVERY_NS (1000ull * 1000000ull)
#define CATCHUP_EVERY_NS (500ull * 1000000ull)
#define PARTS_PER_TICK 64
#define VOTES_PER_TICK 512

struct rmarks {
    int32_t round; /* -1: unused */
    bool proposal;
    uint8_t votes[2][VALIDATOR_SET_MAX];
    uint8_t parts[BLOCK_ID_MAX_PARTS];
};

struct peer {
    bool used;
    char id[P2P_ID_LEN + 1];
    bool known; /* sent us its state */
    uint64_t height, last_height, base;
    int32_t round;
    uint32_t step;
    uint64_t marks_height; /* the height the marks are for */
    struct rmarks marks[CS_ROUND_SLOTS];
    uint64_t catchup_height, catchup_at;
    struct p2p_bucket block_requests; /* BlockRequests answered */
    uint64_t block_requests_refused;  /* over the rate, not answered (since up) */
};

struct cons_reactor {
    struct csd *d;
    struct p2p *p2p;
    struct blockstore *bs;
    struct peer *peers; /* CONS_REACTOR_MAX_PEERS */
    uint64_t st_height;
    int32_t st_round;
    int st_step;
    uint64_t st_sent_at;
    uint32_t block_requests_per_s, block_request_burst;
};

static void publish_vote(const struct vote *v, void *user);
static void publish_proposal(const struct proposal *p, const struct part_set *parts, void *user);

int cons_reactor_new(struct csd *d, struct p2p *p2p, struct blockstore *bs,
                     struct cons_reactor **out)
{
    struct cons_reactor *r = calloc(1, sizeof(*r));
    if (!r)
        return PX_ENOMEM;
    r->peers = calloc(CONS_REACTOR_MAX_PEERS, sizeof(*r->peers));
    if (!r->peers) {
        free(r);
        return PX_ENOMEM;
    }
    r->d = d;
    r->p2p = p2p;
    r->bs = bs;
    r->st_step = -1;
    r->block_requests_per_s = CONS_REACTOR_BLOCK_REQUESTS_PER_S;
    r->block_request_burst = CONS_REACTOR_BLOCK_REQUEST_BURST;
    struct csd_publish pub = {publish_vote, publish_proposal, r};
    csd_set_publish(d, &pub);
    *out = r;
    return 0;
}

void cons_reactor_set_limits(struct cons_reactor *r, uint32_t block_requests_per_s,
                             uint32_t block_request_burst)
{
    if (block_requests_per_s)
        r->block_requests_per_s = block_requests_per_s;
    if (block_request_burst)
        r->block_request_burst = block_request_burst;
}

void cons_reactor_free(struct cons_reactor *r)
{
    if (!r)
        return;
    csd_set_publish(r->d, NULL);
    free(r->peers);
    free(r);
}

static struct peer *peer_find(struct cons_reactor *r, const char *id)
{
    for (int i = 0; i < CONS_REACTOR_MAX_PEERS; i++)
        if (r->peers[i].used && strcmp(r->peers[i].id, id) == 0)
            return &r->peers[i];
    return NULL;
}

static void marks_reset(struct peer *p, uint64_t height)
{
    p->marks_height = height;
    for (int i = 0; i < CS_ROUND_SLOTS; i++)
        p->marks[i].round = -1;
}

static struct rmarks *marks_for(struct peer *p, uint64_t our_height, int32_t round)
{
    if (p->marks_height != our_height)
        marks_reset(p, our_height);
    struct rmarks *lowest = NULL;
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        if (p->marks[i].round == round)
            return &p->marks[i];
        if (!lowest || p->marks[i].round < lowest->round)
            lowest = &p->marks[i];
    }
    memset(lowest, 0, sizeof(*lowest));
    lowest->round = round;
    return lowest;
}

void cons_reactor_peer_up(struct cons_reactor *r, const char *peer_id)
{
    struct peer *p = peer_find(r, peer_id);
    for (int i = 0; !p && i < CONS_REACTOR_MAX_PEERS; i++)
        if (!r->peers[i].used)
            p = &r->peers[i];
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->used = true;
    snprintf(p->id, sizeof(p->id), "%s", peer_id);
    marks_reset(p, 0);
    r->st_sent_at = 0; /* tell everyone where we are at the next tick */
}

void cons_reactor_peer_down(struct cons_reactor *r, const char *peer_id)
{
    struct peer *p = peer_find(r, peer_id);
    if (p)
        p->used = false;
}

static int send_msg(struct cons_reactor *r, const char *peer, uint8_t ch, const struct cmsg *m)
{
    uint8_t *buf;
    size_t len;
    int err = cmsg_encode(m, &buf, &len);
    if (err)
        return err;
    err = p2p_send(r->p2p, peer, ch, buf, len);
    free(buf);
    return err;
}

static void ban(struct cons_reactor *r, const char *peer, const char *why)
{
    p2p_ban_peer(r->p2p, peer, why);
    cons_reactor_peer_down(r, peer);
}

/* ---- receiving ----------------------------------------------------------------------- */

static void on_block_request(struct cons_reactor *r, const char *peer, uint64_t h)
{
    uint8_t *blk = NULL, *com = NULL;
    size_t bl = 0, cl = 0;
    if (blockstore_load_block(r->bs, h, &blk, &bl) == 0 &&
        blockstore_load_commit(r->bs, h, &com, &cl) == 0) {
        struct cmsg m = {
            .kind = CMSG_BLOCK_RESPONSE, .height = h, .a = blk, .a_len = bl, .b = com, .b_len = cl};
        send_msg(r, peer, P2P_CH_BLOCKSYNC, &m);
    } else {
        struct cmsg m = {.kind = CMSG_NO_BLOCK, .height = h};
        send_msg(r, peer, P2P_CH_BLOCKSYNC, &m);
    }
    free(blk);
    free(com);
}

void cons_reactor_receive(struct cons_reactor *r, const char *peer_id, uint8_t channel,
                          const uint8_t *data, size_t len, uint64_t mono_ns, uint64_t wall_ns)
{
    (void)channel;
    struct peer *p = peer_find(r, peer_id);
    if (!p)
        return;
    struct cmsg m;
    int err = cmsg_decode(data, len, CONS_REACTOR_MAX_MSG_BYTES, &m);
    if (err) {
        ban(r, peer_id, "undecodable consensus message");
        return;
    }
    uint64_t our_h = csd_height(r->d);
    const char *bad = NULL;
    char why[160];
    switch (m.kind) {
    case CMSG_NEW_ROUND_STEP:
        if (m.height == 0 || m.round < 0 || m.last_height >= m.height) {
            bad = "impossible round state";
            break;
        }
        p->known = true;
        if (p->height != m.height)
            p->catchup_at = 0;
        p->height = m.height;
        p->round = m.round;
        p->step = m.step;
        p->base = m.base;
        p->last_height = m.last_height;
        break;
    case CMSG_PROPOSAL: {
        struct proposal prop;
        if (codec_proposal_decode(m.a, m.a_len, &prop) != 0) {
            bad = "undecodable proposal";
            break;
        }
        if (prop.height == our_h)
            marks_for(p, our_h, prop.round)->proposal = true;
        err = csd_on_proposal(r->d, &prop, mono_ns, wall_ns);
        if (err == PX_ECRYPTO || err == PX_EINVAL)
            bad = "bad proposal";
        break;
    }
    case CMSG_BLOCK_PART: {
        struct part pt;
        memset(&pt, 0, sizeof(pt));
        if (codec_part_decode(m.a, m.a_len, &pt) != 0) {
            bad = "undecodable block part";
            break;
        }
        if (m.height == our_h && m.round >= 0 && pt.index < BLOCK_ID_MAX_PARTS)
            marks_for(p, our_h, m.round)->parts[pt.index] = 1;
        err = csd_on_part(r->d, m.height, m.round, &pt, mono_ns, wall_ns);
        free(pt.bytes);
        if (err == PX_ECRYPTO)
            bad = "block part with a bad proof";
        break;
    }
    case CMSG_VOTE: {
        struct vote v;
        if (codec_vote_decode(m.a, m.a_len, &v) != 0) {
            bad = "undecodable vote";
            break;
        }
        if (v.height == our_h && v.validator_index >= 0 &&
            (uint32_t)v.validator_index < VALIDATOR_SET_MAX)
            marks_for(p, our_h, v.round)->votes[v.type == VOTE_TYPE_PRECOMMIT][v.validator_index] =
                1;
        err = csd_on_vote(r->d, &v, mono_ns, wall_ns);
        if (err == PX_ECRYPTO)
            bad = "vote with a bad signature";
        break;
    }
    case CMSG_HAS_VOTE:
        if (m.height == our_h && m.index >= 0 && m.index < (int32_t)VALIDATOR_SET_MAX &&
            m.round >= 0)
            marks_for(p, our_h, m.round)->votes[m.step == VOTE_TYPE_PRECOMMIT][m.index] = 1;
        break;
    case CMSG_BLOCK_REQUEST:
        switch (p2p_bucket_take(&p->block_requests, mono_ns, r->block_requests_per_s,
                                r->block_request_burst, r->block_request_burst)) {
        case P2P_BUCKET_OK:
            on_block_request(r, peer_id, m.height);
            break;
        case P2P_BUCKET_OVER: /* not answered: an honest requester asks again later */
            if (p->block_requests_refused++ == 0)
                PX_INFO(MOD, "peer asks for blocks faster than allowed: not answering the excess",
                        "peer=%s block_requests_per_s=%u burst=%u", peer_id,
                        r->block_requests_per_s, r->block_request_burst);
            break;
        case P2P_BUCKET_ABUSE:
            snprintf(why, sizeof(why),
                     "BlockRequest flood: %u requests over the limit of %u/s (burst %u)",
                     r->block_request_burst, r->block_requests_per_s, r->block_request_burst);
            bad = why;
            break;
        }
        break;
    case CMSG_BLOCK_RESPONSE:
        err = csd_on_decided(r->d, m.a, m.a_len, m.b, m.b_len, mono_ns, wall_ns);
        if (err == PX_ECRYPTO)
            bad = "decided block with a bad commit";
        break;
    case CMSG_NO_BLOCK:
        break;
    }
    cmsg_fini(&m);
    if (bad) {
        PX_WARN(MOD, "dropping a misbehaving peer", "peer=%s why=\"%s\"", peer_id, bad);
        ban(r, peer_id, bad);
    }
}

/* ---- publishing what the shell hands us (csd_publish) -------------------------------- */

/* Encode m and send it to every peer. A peer whose queue is full misses it: the gossip of
 * the next ticks sends what each peer lacks. */
static void broadcast_msg(struct cons_reactor *r, uint8_t channel, const struct cmsg *m)
{
    uint8_t *buf;
    size_t len;
    if (cmsg_encode(m, &buf, &len) != 0)
        return;
    p2p_broadcast(r->p2p, channel, buf, len, NULL);
    free(buf);
}

static void publish_vote(const struct vote *v, void *user)
{
    struct cons_reactor *r = user;
    uint8_t *enc;
    size_t len;
    if (codec_vote_encode(v, &enc, &len) != 0)
        return;
    struct cmsg m = {.kind = CMSG_VOTE, .a = enc, .a_len = len};
    broadcast_msg(r, P2P_CH_CONSENSUS_VOTE, &m);
    free(enc);
}

/* The proposal, then every part we hold of its block, on the data channel. */
static void publish_proposal(const struct proposal *p, const struct part_set *parts, void *user)
{
    struct cons_reactor *r = user;
    uint8_t *enc;
    size_t len;
    if (codec_proposal_encode(p, &enc, &len) != 0)
        return;
    struct cmsg m = {.kind = CMSG_PROPOSAL, .a = enc, .a_len = len};
    broadcast_msg(r, P2P_CH_CONSENSUS_DATA, &m);
    free(enc);
    for (uint32_t i = 0; parts && i < parts->header.total; i++) {
        const struct part *pt = part_set_get(parts, i);
        if (!pt || codec_part_encode(pt, &enc, &len) != 0)
            continue;
        struct cmsg pm = {.kind = CMSG_BLOCK_PART,
                          .height = p->height,
                          .round = p->round,
                          .a = enc,
                          .a_len = len};
        broadcast_msg(r, P2P_CH_CONSENSUS_DATA, &pm);
        free(enc);
    }
}

/* ---- sending ------------------------------------------------------------------------- */

static void send_status(struct cons_reactor *r, uint64_t now)
{
    uint64_t h = csd_height(r->d);
    int32_t rd = csd_round(r->d);
    int st = (int)csd_step(r->d);
    bool changed = h != r->st_height || rd != r->st_round || st != r->st_step;
    if (!changed && now - r->st_sent_at < STATUS_EVERY_NS && r->st_sent_at != 0)
        return;
    uint64_t base = 0, top = 0;
    blockstore_range(r->bs, &base, &top);
    struct cmsg m = {.kind = CMSG_NEW_ROUND_STEP,
                     .height = h,
                     .round = rd < 0 ? 0 : rd,
                     .step = (uint32_t)st,
                     .base = base,
                     .last_height = h - 1};
    uint8_t *buf;
    size_t len;
    if (h == 0 || cmsg_encode(&m, &buf, &len) != 0)
        return;
    p2p_broadcast(r->p2p, P2P_CH_CONSENSUS_STATE, buf, len, NULL);
    free(buf);
    r->st_height = h;
    r->st_round = rd;
    r->st_step = st;
    r->st_sent_at = now;
}

static void gossip_data(struct cons_reactor *r, struct peer *p, uint64_t h)
{
    int32_t rounds[CS_ROUND_SLOTS];
    size_t n = csd_rounds(r->d, rounds, CS_ROUND_SLOTS);
    int budget_parts = PARTS_PER_TICK;
    for (size_t i = 0; i < n; i++) {
        const struct proposal *prop = csd_proposal(r->d, rounds[i]);
        if (!prop)
            continue;
        struct rmarks *mk = marks_for(p, h, rounds[i]);
        if (!mk->proposal) {
            uint8_t *enc;
            size_t len;
            if (codec_proposal_encode(prop, &enc, &len) != 0)
                continue;
            struct cmsg m = {.kind = CMSG_PROPOSAL, .a = enc, .a_len = len};
            int err = send_msg(r, p->id, P2P_CH_CONSENSUS_DATA, &m);
            free(enc);
            if (err)
                return;
            mk->proposal = true;
        }
        const struct part_set *ps = csd_parts(r->d, rounds[i]);
        for (uint32_t k = 0; ps && k < ps->header.total && budget_parts > 0; k++) {
            const struct part *pt = part_set_get(ps, k);
            if (!pt || mk->parts[k])
                continue;
            uint8_t *enc;
            size_t len;
            if (codec_part_encode(pt, &enc, &len) != 0)
                continue;
            struct cmsg m = {
                .kind = CMSG_BLOCK_PART, .height = h, .round = rounds[i], .a = enc, .a_len = len};
            int err = send_msg(r, p->id, P2P_CH_CONSENSUS_DATA, &m);
            free(enc);
            if (err)
                return;
            mk->parts[k] = 1;
            budget_parts--;
        }
    }
}

static void gossip_votes(struct cons_reactor *r, struct peer *p, uint64_t h)
{
    int32_t rounds[CS_ROUND_SLOTS];
    size_t n = csd_rounds(r->d, rounds, CS_ROUND_SLOTS);
    uint32_t nv = csd_nvals(r->d);
    int budget = VOTES_PER_TICK;
    for (size_t i = 0; i < n && budget > 0; i++) {
        struct rmarks *mk = marks_for(p, h, rounds[i]);
        for (int t = 0; t < 2; t++) {
            enum vote_type type = t ? VOTE_TYPE_PRECOMMIT : VOTE_TYPE_PREVOTE;
            for (uint32_t k = 0; k < nv && budget > 0; k++) {
                if (mk->votes[t][k])
                    continue;
                const struct vote *v = csd_vote(r->d, rounds[i], type, k);
                if (!v)
                    continue;
                uint8_t *enc;
                size_t len;
                if (codec_vote_encode(v, &enc, &len) != 0)
                    continue;
                struct cmsg m = {.kind = CMSG_VOTE, .a = enc, .a_len = len};
                int err = send_msg(r, p->id, P2P_CH_CONSENSUS_VOTE, &m);
                free(enc);
                if (err)
                    return;
                mk->votes[t][k] = 1;
                budget--;
            }
        }
    }
}

static void gossip_catchup(struct cons_reactor *r, struct peer *p, uint64_t now)
{
    if (p->catchup_height == p->height && now - p->catchup_at < CATCHUP_EVERY_NS)
        return;
    uint8_t *blk = NULL, *com = NULL;
    size_t bl = 0, cl = 0;
    if (blockstore_load_block(r->bs, p->height, &blk, &bl) == 0 &&
        blockstore_load_commit(r->bs, p->height, &com, &cl) == 0) {
        struct cmsg m = {.kind = CMSG_BLOCK_RESPONSE,
                         .height = p->height,
                         .a = blk,
                         .a_len = bl,
                         .b = com,
                         .b_len = cl};
        if (send_msg(r, p->id, P2P_CH_BLOCKSYNC, &m) == 0) {
            p->catchup_height = p->height;
            p->catchup_at = now;
        }
    }
    free(blk);
    free(com);
}

void cons_reactor_tick(struct cons_reactor *r, uint64_t mono_ns)
{
    send_status(r, mono_ns);
    uint64_t h = csd_height(r->d);
    for (int i = 0; i < CONS_REACTOR_MAX_PEERS; i++) {
        struct peer *p = &r->peers[i];
        if (!p->used || !p->known)
            continue;
        if (p->height == h) {
            gossip_data(r, p, h);
            gossip_votes(r, p, h);
        } else if (p->height < h) {
            gossip_catchup(r, p, mono_ns);
        }
    }
}
