/*
 * csdriver: see csdriver.h.
 *
 * Inputs reach the core through one queue (run()): each is logged to the WAL, stepped,
 * and the output's actions are carried out in order; actions that produce a new input
 * (our signed vote, a built block, a verdict) push it on the same queue, so the core is
 * never re-entered from inside a step. Our own signed messages are logged with fsync and
 * only then published (the csd_publish hooks: the reactor encodes and sends them).
 *
 * Facts between calls: the core's height is state->last_height + 1 (or + 2 while the
 * block it decided is being applied: never observable from outside a call); every block
 * in `blocks` belongs to that height; `decide` is set only while a decided block waits for
 * its content or for the app.
 */
#include "csdriver.h"

#include "codec.h"
#include "px_clock.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "sign_bytes.h"
#include "wal.h"
#include "timerq.h"
#include "walcodec.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MOD "consensus"
#define MAX_BLOCKS 16
#define QUEUE_CAP 64
#define TIMER_CONSENSUS 1
#define TIMER_RETRY 2
#define RETRY_MS 1000
#define MAX_EVIDENCE 32
#define WAL_COMPACT_BYTES (64ull << 20)

struct cblock {
    bool used;
    struct block_id id;
    int32_t round; /* round of the proposal that brought it, -1 if unknown */
    bool have_parts;
    struct part_set parts;
    bool complete; /* content assembled, decoded, hash checked */
    uint8_t *enc;
    size_t enc_len;
    struct block block;
};

struct cround {
    int32_t round; /* -1: free */
    bool has_proposal;
    struct proposal proposal;
    struct vote *votes[2]; /* [prevote, precommit] x nvals */
    uint8_t *have[2];
};

/* One of our own signed messages: what an input publishes once logged (OWN_NONE: nothing),
 * and what a signing to retry is for. */
enum own_msg {
    OWN_NONE,
    OWN_VOTE,     /* in.u.vote */
    OWN_PROPOSAL, /* in.u.proposal.proposal, with the parts of its block */
};

struct qitem {
    struct cs_input in;
    bool log, sync;
    enum own_msg publish; /* after the input is logged */
};

struct csd {
    struct csd_config cfg;
    char *wal_path;
    struct csd_hooks hooks;
    struct csd_publish pub;
    struct blockexec *bx;
    struct chain_state *st;
    struct privval *pv;
    struct cs *cs;
    struct cs_output *out;
    struct wal *wal;
    struct timerq timers;
    bool replaying;
    int64_t now_offset;
    uint64_t last_now;
    uint64_t mono, wall; /* of the call in progress */

    struct qitem queue[QUEUE_CAP];
    size_t q_head, q_len;

    uint32_t nvals;
    struct cblock blocks[MAX_BLOCKS];
    struct cround rounds[CS_ROUND_SLOTS];

    /* decided, waiting for content or the app */
    bool decide;
    struct block_id decide_id;
    struct commit decide_commit;

    /* replay: actions the log holds no answer to */
    bool todo_sign_vote, todo_sign_proposal, todo_build, todo_validate;
    struct vote todo_vote;
    struct proposal todo_proposal;
    uint64_t todo_build_height;
    int32_t todo_build_round;
    uint64_t todo_validate_height;
    struct block_id todo_validate_id;
    /* the last commit handed with a build request (kept for a replayed build) */
    struct vote *build_votes;
    uint32_t build_count;
    uint64_t build_commit_height;
    int32_t build_commit_round;
    struct block_id build_commit_id;

    /* the last signing the signer refused for a transient cause (out of file descriptors,
     * disk full): asked again on TIMER_RETRY while the core is still in its height and
     * round; a newer signing request replaces it (the core asks in increasing order) */
    enum own_msg retry_sign;
    struct vote retry_vote;
    struct proposal retry_proposal;

    /* a validation the app could not answer (it was away): asked again on TIMER_RETRY */
    bool retry_validate;
    uint64_t retry_validate_height;
    struct block_id retry_validate_id;

    struct evidence evidence[MAX_EVIDENCE];
    size_t n_evidence;

    /* a decided block could not be committed for good (blockexec_err_is_fatal), or our own
     * signed message could not be queued (signed_push): csd_tick and csd_start return it,
     * and the node stops */
    int fatal;

    struct vote *scratch_votes; /* VALIDATOR_SET_MAX, for decoding commits */
    struct csd_stats stats;
};

/* ---- helpers ------------------------------------------------------------------------- */

static void *core_alloc(size_t size, void *user)
{
    (void)user;
    return calloc(1, size);
}

static void core_free(void *p, void *user)
{
    (void)user;
    free(p);
}

/* The first 8 bytes of a hash or address, upper-case hex, for log lines. */
static void hex8(char out[17], const uint8_t *b)
{
    px_hex_encode(out, 17, b, 8, true);
}

static uint64_t core_now(struct csd *d)
{
    uint64_t n = (uint64_t)((int64_t)d->mono + d->now_offset);
    if (n <= d->last_now)
        n = d->last_now + 1;
    return n;
}

static void clear_round(struct cround *r)
{
    r->round = -1;
    r->has_proposal = false;
    for (int t = 0; t < 2; t++)
        if (r->have[t])
            memset(r->have[t], 0, VALIDATOR_SET_MAX);
}

static void clear_block(struct cblock *b)
{
    if (!b->used)
        return;
    if (b->have_parts)
        part_set_fini(&b->parts);
    free(b->enc);
    if (b->complete)
        block_fini(&b->block);
    memset(b, 0, sizeof(*b));
}

/* Forget everything of the height just finished. */
static void clear_height(struct csd *d)
{
    for (int i = 0; i < MAX_BLOCKS; i++)
        clear_block(&d->blocks[i]);
    for (int i = 0; i < CS_ROUND_SLOTS; i++)
        clear_round(&d->rounds[i]);
    if (d->decide)
        commit_fini(&d->decide_commit);
    d->decide = false;
    d->nvals = d->st->validators.count;
}

static struct cround *round_get(struct csd *d, int32_t round, bool create)
{
    struct cround *free_slot = NULL, *lowest = NULL;
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        struct cround *r = &d->rounds[i];
        if (r->round == round)
            return r;
        if (r->round < 0 && !free_slot)
            free_slot = r;
        if (r->round >= 0 && (!lowest || r->round < lowest->round))
            lowest = r;
    }
    if (!create)
        return NULL;
    struct cround *r = free_slot;
    if (!r) {
        /* reuse the lowest round, unless the new one is lower still */
        if (lowest->round > round)
            return NULL;
        clear_round(lowest);
        r = lowest;
    }
    r->round = round;
    return r;
}

static void remember_vote(struct csd *d, const struct vote *v)
{
    if (v->height != csd_height(d) || v->validator_index < 0 ||
        (uint32_t)v->validator_index >= d->nvals)
        return;
    struct cround *r = round_get(d, v->round, true);
    if (!r)
        return;
    int t = v->type == VOTE_TYPE_PRECOMMIT ? 1 : 0;
    uint32_t i = (uint32_t)v->validator_index;
    if (r->have[t][i])
        return; /* keep the first: a conflicting one is evidence, not gossip */
    r->votes[t][i] = *v;
    r->have[t][i] = 1;
}

static struct cblock *block_find(struct csd *d, const struct block_id *id)
{
    for (int i = 0; i < MAX_BLOCKS; i++)
        if (d->blocks[i].used && block_id_equal(&d->blocks[i].id, id))
            return &d->blocks[i];
    return NULL;
}

static struct cblock *block_add(struct csd *d, const struct block_id *id, int32_t round)
{
    struct cblock *b = block_find(d, id);
    if (b)
        return b;
    for (int i = 0; i < MAX_BLOCKS; i++) {
        if (!d->blocks[i].used) {
            b = &d->blocks[i];
            b->used = true;
            b->id = *id;
            b->round = round;
            block_init(&b->block);
            return b;
        }
    }
    return NULL;
}

/* Give b its content: enc (taken over) must decode to a block whose hash is b->id. */
static int block_set_content(struct cblock *b, uint8_t *enc, size_t len)
{
    struct block blk;
    block_init(&blk);
    int err = codec_block_decode(enc, len, &blk);
    uint8_t h[HEADER_HASH_SIZE];
    if (!err)
        err = block_hash(&blk, h);
    if (!err && memcmp(h, b->id.hash, HEADER_HASH_SIZE) != 0)
        err = PX_ECRYPTO;
    if (err) {
        block_fini(&blk);
        free(enc);
        return err;
    }
    b->block = blk;
    b->enc = enc;
    b->enc_len = len;
    b->complete = true;
    return 0;
}

/* ---- queue and WAL ------------------------------------------------------------------- */

static int push(struct csd *d, const struct cs_input *in, bool log, bool sync, enum own_msg what)
{
    if (d->q_len == QUEUE_CAP) {
        PX_ERROR(MOD, "input queue full", "type=%d", in->type);
        return PX_EBOUND;
    }
    struct qitem *q = &d->queue[(d->q_head + d->q_len++) % QUEUE_CAP];
    q->in = *in;
    q->log = log;
    q->sync = sync;
    q->publish = what;
    return 0;
}

static int wal_log_input(struct csd *d, const struct cs_input *in, bool sync)
{
    uint8_t *buf;
    size_t len;
    int err = walcodec_encode_input(in, &buf, &len);
    if (err)
        return err;
    err = wal_append(d->wal, WAL_KIND_INPUT, buf, len, sync);
    free(buf);
    if (err)
        PX_ERROR(MOD, "cannot write the consensus WAL", "err=\"%s\"", px_strerror(err));
    return err;
}

static int wal_log_block(struct csd *d, uint64_t height, const struct cblock *b)
{
    uint8_t hdr[WALCODEC_BLOCK_HEADER];
    size_t hl = walcodec_encode_block_header(height, &b->id, hdr);
    uint8_t *buf = malloc(hl + b->enc_len);
    if (!buf)
        return PX_ENOMEM;
    memcpy(buf, hdr, hl);
    memcpy(buf + hl, b->enc, b->enc_len);
    int err = wal_append(d->wal, WAL_KIND_INPUT, buf, hl + b->enc_len, false);
    free(buf);
    return err;
}

static void publish(struct csd *d, enum own_msg what, const struct cs_input *in);
static void process_output(struct csd *d);

static int run(struct csd *d)
{
    while (d->q_len > 0) {
        struct qitem q = d->queue[d->q_head];
        d->q_head = (d->q_head + 1) % QUEUE_CAP;
        d->q_len--;
        q.in.now_ns = core_now(d);
        q.in.wall_ns = d->wall;
        d->last_now = q.in.now_ns;
        PX_TRACE(MOD, "input", "type=%d now=%llu", q.in.type, (unsigned long long)q.in.now_ns);
        if (q.log && !d->replaying) {
            int err = wal_log_input(d, &q.in, q.sync);
            if (err) {
                /* without the log we must not go on: a signed message unlogged could be
                 * contradicted after a restart */
                return err;
            }
        }
        publish(d, q.publish, &q.in); /* durable now: logged (and fsynced if q.sync) */
        int rc = cs_step(d->cs, &q.in, d->out);
        if (rc < 0) {
            PX_ERROR(MOD, "consensus core refused an input", "type=%d err=\"%s\"", q.in.type,
                     px_strerror(rc));
            continue;
        }
        process_output(d);
    }
    return 0;
}

/* ---- publishing ---------------------------------------------------------------------- */

/* Hand our own signed message to the publish hooks (the reactor encodes and sends it). */
static void publish(struct csd *d, enum own_msg what, const struct cs_input *in)
{
    if (d->replaying)
        return;
    if (what == OWN_VOTE && d->pub.vote_cb) {
        d->pub.vote_cb(&in->u.vote, d->pub.user);
    } else if (what == OWN_PROPOSAL && d->pub.proposal_cb) {
        const struct proposal *p = &in->u.proposal.proposal;
        struct cblock *b = block_find(d, &p->block_id);
        d->pub.proposal_cb(p, b && b->have_parts ? &b->parts : NULL, d->pub.user);
    }
}

/* ---- actions ------------------------------------------------------------------------- */

/* One line per signature released, with a digest of what was signed: an operator (and the
 * crash test) can check that one (height, round, step) was never signed two ways. */
static void log_signature(const char *what, uint64_t height, int32_t round, const uint8_t *sb,
                          size_t len)
{
    uint8_t h[32];
    crypto_hash_sha256(h, sb, len);
    char hx[17];
    hex8(hx, h);
    PX_INFO(MOD, "signed", "what=%s height=%llu round=%d sign_bytes=%s", what,
            (unsigned long long)height, round, hx);
}

/* After a refusal: true (and a retry is scheduled) if the signer can sign later — its write
 * failed for a cause that goes away (privval_err_is_transient). The core asks for each of
 * its signatures once, so without this a validator that lost one vote to a short
 * descriptor or disk shortage would stay silent for the rest of the round, and with enough
 * such validators no round would ever end. */
static bool sign_later(struct csd *d, int err, enum own_msg kind)
{
    if (!privval_err_is_transient(err) || privval_failed(d->pv))
        return false;
    d->retry_sign = kind;
    timerq_add(&d->timers, d->mono + RETRY_MS * 1000000ull, TIMER_RETRY, 0, 0, 0);
    return true;
}

/* Queue our freshly signed message, to be logged with fsync, then published, then stepped.
 * The queue cannot fill while the shell keeps its invariant (it is drained after every
 * step, and one step asks for far fewer than QUEUE_CAP inputs), so a full queue is a bug
 * in the shell: it is fatal, not logged and forgotten. Forgetting would leave the core
 * without the signature it asked for (it asks once) and the validator silent for the
 * round; going on after a broken invariant is worse. Stopping is safe: the message is in
 * neither the WAL nor the network, so after the restart the core asks for it again and
 * the signer signs the same bytes again (see the header: restart). */
static void signed_push(struct csd *d, const struct cs_input *in, enum own_msg what,
                        uint64_t height, int32_t round)
{
    int err = push(d, in, true, true, what);
    if (!err)
        return;
    PX_ERROR(MOD,
             "cannot queue our own signed message: the shell's input queue is full, which "
             "is a bug (please report it with the log); stopping, the restart recovers",
             "what=%s height=%llu round=%d err=\"%s\"", what == OWN_VOTE ? "vote" : "proposal",
             (unsigned long long)height, round, px_strerror(err));
    d->fatal = err;
}

static void do_sign_vote(struct csd *d, const struct vote *unsigned_vote)
{
    if (!d->pv)
        return;
    struct vote v = *unsigned_vote;
    uint8_t sb[SIGN_BYTES_MAX];
    size_t sl;
    if (sign_bytes_vote(&v, d->st->chain_id, sb, &sl) != 0)
        return;
    enum privval_step step =
        v.type == VOTE_TYPE_PREVOTE ? PRIVVAL_STEP_PREVOTE : PRIVVAL_STEP_PRECOMMIT;
    d->retry_sign = OWN_NONE;
    int err = privval_sign(d->pv, (int64_t)v.height, v.round, step, sb, sl, v.signature);
    if (err) {
        d->stats.sign_refusals++;
        bool again = sign_later(d, err, OWN_VOTE);
        if (again)
            d->retry_vote = *unsigned_vote;
        PX_ERROR(MOD,
                 again ? "signer could not sign a vote now (will retry)" : "signer refused a vote",
                 "height=%llu round=%d type=%s err=\"%s\"", (unsigned long long)v.height, v.round,
                 vote_type_name(v.type), px_strerror(err));
        return;
    }
    d->stats.signed_votes++;
    log_signature(vote_type_name(v.type), v.height, v.round, sb, sl);
    struct cs_input in = {.type = CS_INPUT_OWN_VOTE};
    in.u.vote = v;
    remember_vote(d, &v);
    signed_push(d, &in, OWN_VOTE, v.height, v.round);
}

static void do_sign_proposal(struct csd *d, const struct proposal *unsigned_p)
{
    if (!d->pv)
        return;
    struct proposal p = *unsigned_p;
    uint8_t sb[SIGN_BYTES_MAX];
    size_t sl;
    if (sign_bytes_proposal(&p, d->st->chain_id, sb, &sl) != 0)
        return;
    d->retry_sign = OWN_NONE;
    int err =
        privval_sign(d->pv, (int64_t)p.height, p.round, PRIVVAL_STEP_PROPOSE, sb, sl, p.signature);
    if (err) {
        d->stats.sign_refusals++;
        bool again = sign_later(d, err, OWN_PROPOSAL);
        if (again)
            d->retry_proposal = *unsigned_p;
        PX_ERROR(MOD,
                 again ? "signer could not sign a proposal now (will retry)"
                       : "signer refused a proposal",
                 "height=%llu round=%d err=\"%s\"", (unsigned long long)p.height, p.round,
                 px_strerror(err));
        return;
    }
    d->stats.signed_proposals++;
    log_signature("proposal", p.height, p.round, sb, sl);
    struct cround *r = round_get(d, p.round, true);
    if (r) {
        r->proposal = p;
        r->has_proposal = true;
    }
    struct cs_input in = {.type = CS_INPUT_OWN_PROPOSAL};
    in.u.proposal.proposal = p;
    in.u.proposal.validator_index = cs_own_index(d->cs);
    signed_push(d, &in, OWN_PROPOSAL, p.height, p.round);
}

/* Build a struct commit from votes of one (height, round, block). */
static int commit_from_votes(struct commit *c, uint64_t h, int32_t r, const struct block_id *id,
                             uint32_t nvals, const struct vote *votes, uint32_t n)
{
    int err = commit_init(c, h, r, id, nvals);
    for (uint32_t i = 0; !err && i < n; i++) {
        if (votes[i].validator_index < 0 || votes[i].round != r)
            continue;
        commit_add_vote(c, (uint32_t)votes[i].validator_index, &votes[i]);
    }
    return err;
}

static void do_build(struct csd *d, uint64_t height, int32_t round)
{
    struct commit last;
    bool have_last = height > d->st->initial_height;
    if (have_last) {
        if (commit_from_votes(&last, d->build_commit_height, d->build_commit_round,
                              &d->build_commit_id, d->st->last_validators.count, d->build_votes,
                              d->build_count) != 0)
            return;
    }
    uint8_t addr[PRIVVAL_ADDRESS_SIZE];
    privval_address(d->pv, addr);
    uint64_t t = d->wall;
    if (t <= d->st->last_block_time_ns)
        t = d->st->last_block_time_ns + 1000000; /* strictly later than the last block */
    struct block blk;
    block_init(&blk);
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    int err = blockexec_build(d->bx, d->st, t, addr, have_last ? &last : NULL, d->evidence,
                              d->n_evidence, &blk, &enc, &enc_len);
    if (have_last)
        commit_fini(&last);
    if (err) {
        PX_ERROR(MOD, "cannot build a proposal", "height=%llu round=%d err=\"%s\"",
                 (unsigned long long)height, round, px_strerror(err));
        block_fini(&blk);
        return;
    }
    struct block_id id;
    struct part_set ps;
    err = block_hash(&blk, id.hash);
    block_fini(&blk);
    if (!err)
        err = part_set_from_data(&ps, enc, enc_len);
    if (err) {
        free(enc);
        return;
    }
    id.parts = ps.header;
    struct cblock *b = block_add(d, &id, round);
    if (!b) {
        part_set_fini(&ps);
        free(enc);
        return;
    }
    if (!b->complete) {
        if (b->have_parts)
            part_set_fini(&b->parts);
        b->parts = ps;
        b->have_parts = true;
        if (block_set_content(b, enc, enc_len) != 0)
            return;
    } else {
        part_set_fini(&ps);
        free(enc);
    }
    if (wal_log_block(d, height, b) != 0)
        return;
    struct cs_input in = {.type = CS_INPUT_PROPOSAL_BUILT};
    in.u.built.height = height;
    in.u.built.round = round;
    in.u.built.block_id = id;
    push(d, &in, true, false, OWN_NONE);
}

static void do_validate(struct csd *d, uint64_t height, const struct block_id *id)
{
    struct cblock *b = block_find(d, id);
    if (!b || !b->complete)
        return; /* the core asks only for complete blocks; nothing to say otherwise */
    char why[256] = "";
    const struct validator *prop =
        validator_set_get(&d->st->validators, cs_proposer(d->cs, b->round < 0 ? 0 : b->round));
    uint8_t expected[HEADER_ADDRESS_SIZE];
    memcpy(expected, b->block.header.proposer_address, HEADER_ADDRESS_SIZE);
    if (b->round >= 0 && prop)
        memcpy(expected, prop->address, HEADER_ADDRESS_SIZE);
    int err = blockexec_validate(d->bx, d->st, &b->block, expected, d->wall, d->cfg.max_future_ns,
                                 why, sizeof(why));
    if (err && err != PX_EINVAL) {
        /* a local fault (the app is away), not a verdict: ask again later */
        PX_WARN(MOD, "cannot validate a block now (will retry)", "height=%llu err=\"%s\"",
                (unsigned long long)height, px_strerror(err));
        d->retry_validate = true;
        d->retry_validate_height = height;
        d->retry_validate_id = *id;
        timerq_add(&d->timers, d->mono + RETRY_MS * 1000000ull, TIMER_RETRY, 0, 0, 0);
        return;
    }
    if (err) {
        char hx[17];
        hex8(hx, id->hash);
        PX_WARN(MOD, "proposed block is invalid", "height=%llu block=%s why=\"%s\"",
                (unsigned long long)height, hx, why);
    }
    struct cs_input in = {.type = CS_INPUT_BLOCK_VALIDATED};
    in.u.validated.height = height;
    in.u.validated.block_id = *id;
    in.u.validated.valid = err == 0;
    push(d, &in, true, false, OWN_NONE);
}

static void start_height(struct csd *d, bool log);

/* Mark the end of height h (fsynced) and keep the WAL bounded: only the records after the
 * last marker are ever replayed, so once the file passes WAL_COMPACT_BYTES everything
 * before the marker is dropped (crash-safe: the WAL copies and renames). */
static void end_height_in_wal(struct csd *d, uint64_t h)
{
    int err = wal_end_height(d->wal, h);
    if (err) {
        PX_ERROR(MOD, "cannot mark the end of a height in the WAL", "err=\"%s\"", px_strerror(err));
        return;
    }
    if (wal_size(d->wal) < WAL_COMPACT_BYTES)
        return;
    uint64_t removed = 0;
    err = wal_compact(d->wal, &removed);
    if (err)
        PX_ERROR(MOD, "cannot compact the WAL", "err=\"%s\"", px_strerror(err));
    else
        PX_DEBUG(MOD, "compacted the WAL", "removed_bytes=%llu", (unsigned long long)removed);
}

/* Apply the decided block if its content is here. */
static void try_apply(struct csd *d)
{
    if (!d->decide || d->fatal)
        return;
    struct cblock *b = block_find(d, &d->decide_id);
    if (!b || !b->complete)
        return;
    uint64_t h = d->decide_commit.height;
    struct blockexec_result res;
    memset(&res, 0, sizeof(res));
    if (h <= d->st->last_height) {
        /* the start-up handshake, run again after the app came back, already executed
         * this block and saved its state: only the next height is left to start */
        PX_INFO(MOD, "decided block was applied by the handshake", "height=%llu",
                (unsigned long long)h);
        end_height_in_wal(d, h);
        clear_height(d);
        start_height(d, true);
        return;
    }
    int err = blockexec_apply(d->bx, d->st, &b->block, b->enc, b->enc_len, &d->decide_id,
                              &d->decide_commit, &res);
    if (err && blockexec_err_is_fatal(err)) {
        /* a damaged or unwritable store, or an app that diverged: retrying would log
         * this forever */
        PX_ERROR(MOD,
                 "cannot commit the decided block (the line above says why and what to do); "
                 "stopping",
                 "height=%llu err=\"%s\"", (unsigned long long)h, px_strerror(err));
        d->fatal = err;
        blockexec_result_fini(&res);
        return;
    }
    if (err) {
        PX_ERROR(MOD, "cannot commit the decided block (will retry)", "height=%llu err=\"%s\"",
                 (unsigned long long)h, px_strerror(err));
        timerq_add(&d->timers, d->mono + RETRY_MS * 1000000ull, TIMER_RETRY, 0, 0, 0);
        blockexec_result_fini(&res);
        return;
    }
    char hx[17], ah[17] = "";
    hex8(hx, d->decide_id.hash);
    if (d->st->app_hash_len >= 8)
        hex8(ah, d->st->app_hash);
    PX_INFO(MOD, "committed block", "height=%llu txs=%u hash=%s app_hash=%s round=%d",
            (unsigned long long)h, b->block.tx_count, hx, ah, d->decide_commit.round);
    d->stats.heights_committed++;
    /* committed evidence leaves the pool */
    if (b->block.evidence_count > 0)
        d->n_evidence = 0;
    if (d->hooks.committed)
        d->hooks.committed(d->st, &b->block, b->enc_len, &d->decide_id, d->decide_commit.round,
                           &res, d->hooks.user);
    blockexec_result_fini(&res);
    end_height_in_wal(d, h);
    clear_height(d);
    start_height(d, true);
}

static void process_output(struct csd *d)
{
    struct cs_output *o = d->out;
    for (uint32_t i = 0; i < o->n_actions; i++) {
        const struct cs_action *a = &o->actions[i];
        PX_TRACE(MOD, "action", "type=%d height=%llu round=%d step=%s replaying=%d", a->type,
                 (unsigned long long)cs_height(d->cs), cs_round(d->cs),
                 cs_step_name(cs_get_step(d->cs)), d->replaying);
        switch (a->type) {
        case CS_ACTION_SIGN_VOTE:
            if (d->replaying) {
                d->todo_sign_vote = true;
                d->todo_vote = a->u.vote;
            } else {
                do_sign_vote(d, &a->u.vote);
            }
            break;
        case CS_ACTION_SIGN_PROPOSAL:
            if (d->replaying) {
                d->todo_sign_proposal = true;
                d->todo_proposal = a->u.proposal;
            } else {
                do_sign_proposal(d, &a->u.proposal);
            }
            break;
        case CS_ACTION_EVIDENCE: {
            d->stats.evidence++;
            char hx[17];
            hex8(hx, a->u.evidence.a.validator_address);
            PX_WARN(MOD, "validator signed two conflicting votes",
                    "height=%llu round=%d validator=%s", (unsigned long long)a->u.evidence.a.height,
                    a->u.evidence.a.round, hx);
            if (d->n_evidence < MAX_EVIDENCE &&
                evidence_from_votes(&a->u.evidence.a, &a->u.evidence.b, &d->st->validators,
                                    d->st->last_block_time_ns, &d->evidence[d->n_evidence]) == 0)
                d->n_evidence++;
            break;
        }
        case CS_ACTION_DECIDE:
            if (d->decide)
                commit_fini(&d->decide_commit);
            d->decide = commit_from_votes(&d->decide_commit, o->commit_height, o->commit_round,
                                          &o->commit_block_id, d->st->validators.count, o->commit,
                                          o->commit_count) == 0;
            d->decide_id = a->u.decide.block_id;
            break;
        case CS_ACTION_BUILD_PROPOSAL:
            d->build_count = o->commit_count;
            d->build_commit_height = o->commit_height;
            d->build_commit_round = o->commit_round;
            d->build_commit_id = o->commit_block_id;
            memcpy(d->build_votes, o->commit, o->commit_count * sizeof(struct vote));
            if (d->replaying) {
                d->todo_build = true;
                d->todo_build_height = a->u.build.height;
                d->todo_build_round = a->u.build.round;
            } else {
                do_build(d, a->u.build.height, a->u.build.round);
            }
            break;
        case CS_ACTION_VALIDATE_BLOCK:
            if (d->replaying) {
                d->todo_validate = true;
                d->todo_validate_height = a->u.validate.height;
                d->todo_validate_id = a->u.validate.block_id;
            } else {
                do_validate(d, a->u.validate.height, &a->u.validate.block_id);
            }
            break;
        case CS_ACTION_SCHEDULE_TIMEOUT:
            timerq_add(&d->timers, d->mono + (uint64_t)a->u.timeout.duration_ms * 1000000ull,
                       TIMER_CONSENSUS, a->u.timeout.height, (uint64_t)a->u.timeout.round,
                       (uint64_t)a->u.timeout.step);
            if (a->u.timeout.step == CS_STEP_PROPOSE)
                d->stats.rounds_started++;
            break;
        case CS_ACTION_DROP:
            PX_DEBUG(MOD, "input dropped", "reason=%s height=%llu round=%d validator=%d",
                     cs_drop_reason_name(a->u.drop.reason), (unsigned long long)a->u.drop.height,
                     a->u.drop.round, a->u.drop.validator_index);
            break;
        }
    }
    /* a decision may be ready to apply now (content known) */
    if (d->decide && !d->replaying)
        try_apply(d);
}

/* ---- heights ------------------------------------------------------------------------- */

static void start_height(struct csd *d, bool log)
{
    struct cs_input in = {.type = CS_INPUT_START_HEIGHT};
    in.u.start.height = d->st->last_height + 1;
    in.u.start.vals = &d->st->validators;
    /* pending timeouts stay: the commit timeout of the height just decided is what ends
     * NEW_HEIGHT; stale ones are dropped by the core */
    push(d, &in, log, false, OWN_NONE);
}

/* START_HEIGHT after a restart: the core did not decide the last height itself, so it
 * gets the stored commit of it. */
static void start_height_fresh(struct csd *d, bool log)
{
    struct cs_input in = {.type = CS_INPUT_START_HEIGHT};
    in.u.start.height = d->st->last_height + 1;
    in.u.start.vals = &d->st->validators;
    uint8_t *enc = NULL;
    size_t len = 0;
    struct commit c;
    commit_init_empty(&c);
    uint32_t n = 0;
    if (d->st->last_height >= d->st->initial_height &&
        blockstore_load_commit(d->bx->bs, d->st->last_height, &enc, &len) == 0 &&
        codec_commit_decode(enc, len, &c) == 0) {
        for (uint32_t i = 0; i < c.count && n < VALIDATOR_SET_MAX; i++)
            if (commit_get_vote(&c, i, &d->scratch_votes[n]) == 0)
                n++;
    }
    free(enc);
    in.u.start.last_vals = &d->st->last_validators;
    in.u.start.last_commit = d->scratch_votes;
    in.u.start.last_commit_count = n;
    /* run now: the votes live in scratch only for this step */
    if (log && !d->replaying)
        wal_log_input(d, &in, false);
    in.now_ns = core_now(d);
    in.wall_ns = d->wall;
    d->last_now = in.now_ns;
    int rc = cs_step(d->cs, &in, d->out);
    commit_fini(&c);
    if (rc == 0)
        process_output(d);
    else
        PX_ERROR(MOD, "cannot start the height", "height=%llu err=\"%s\"",
                 (unsigned long long)in.u.start.height, px_strerror(rc));
}

/* ---- lifecycle ----------------------------------------------------------------------- */

int csd_new(const struct csd_config *cfg, struct blockexec *bx, struct chain_state *state,
            struct privval *pv, const struct csd_hooks *hooks, struct csd **out)
{
    *out = NULL;
    struct csd *d = calloc(1, sizeof(*d));
    if (!d)
        return PX_ENOMEM;
    d->cfg = *cfg;
    d->wal_path = strdup(cfg->wal_path);
    d->hooks = *hooks;
    d->bx = bx;
    d->st = state;
    d->pv = pv;
    d->out = calloc(1, sizeof(*d->out));
    d->build_votes = calloc(VALIDATOR_SET_MAX, sizeof(struct vote));
    d->scratch_votes = calloc(VALIDATOR_SET_MAX, sizeof(struct vote));
    int err = (!d->wal_path || !d->out || !d->build_votes || !d->scratch_votes) ? PX_ENOMEM : 0;
    for (int i = 0; !err && i < CS_ROUND_SLOTS; i++) {
        d->rounds[i].round = -1;
        for (int t = 0; t < 2 && !err; t++) {
            d->rounds[i].votes[t] = calloc(VALIDATOR_SET_MAX, sizeof(struct vote));
            d->rounds[i].have[t] = calloc(VALIDATOR_SET_MAX, 1);
            if (!d->rounds[i].votes[t] || !d->rounds[i].have[t])
                err = PX_ENOMEM;
        }
    }
    if (!err)
        err = timerq_init(&d->timers, 256);
    struct cs_config cc = cfg->core;
    memset(cc.own_address, 0, sizeof(cc.own_address));
    if (pv)
        privval_address(pv, cc.own_address);
    struct cs_allocator alloc = {core_alloc, core_free, NULL};
    if (!err)
        err = cs_new(&cc, &alloc, &d->cs);
    if (err) {
        csd_free(d);
        return err;
    }
    d->nvals = state->validators.count;
    *out = d;
    return 0;
}

void csd_set_publish(struct csd *d, const struct csd_publish *pub)
{
    if (pub)
        d->pub = *pub;
    else
        memset(&d->pub, 0, sizeof(d->pub));
}

void csd_free(struct csd *d)
{
    if (!d)
        return;
    clear_height(d);
    for (int i = 0; i < CS_ROUND_SLOTS; i++)
        for (int t = 0; t < 2; t++) {
            free(d->rounds[i].votes[t]);
            free(d->rounds[i].have[t]);
        }
    if (d->wal)
        wal_close(d->wal);
    cs_free(d->cs);
    timerq_fini(&d->timers);
    free(d->out);
    free(d->build_votes);
    free(d->scratch_votes);
    free(d->wal_path);
    free(d);
}

/* Feed one logged input during replay. */
static void replay_input(struct csd *d, struct cs_input *in)
{
    switch (in->type) {
    case CS_INPUT_OWN_VOTE:
        if (d->todo_sign_vote && d->todo_vote.round == in->u.vote.round &&
            d->todo_vote.type == in->u.vote.type)
            d->todo_sign_vote = false;
        remember_vote(d, &in->u.vote);
        break;
    case CS_INPUT_VOTE:
        remember_vote(d, &in->u.vote);
        break;
    case CS_INPUT_OWN_PROPOSAL:
        d->todo_sign_proposal = false;
        /* fall through */
    case CS_INPUT_PROPOSAL: {
        struct cround *r = round_get(d, in->u.proposal.proposal.round, true);
        if (r) {
            r->proposal = in->u.proposal.proposal;
            r->has_proposal = true;
        }
        struct cblock *b =
            block_add(d, &in->u.proposal.proposal.block_id, in->u.proposal.proposal.round);
        if (b && !b->have_parts && !b->complete &&
            part_set_init(&b->parts, &in->u.proposal.proposal.block_id.parts) == 0)
            b->have_parts = true;
        break;
    }
    case CS_INPUT_PROPOSAL_BUILT:
        d->todo_build = false;
        break;
    case CS_INPUT_BLOCK_VALIDATED:
        d->todo_validate = false;
        break;
    default:
        break;
    }
    in->now_ns = in->now_ns > d->last_now ? in->now_ns : d->last_now + 1;
    d->last_now = in->now_ns;
    if (cs_step(d->cs, in, d->out) == 0)
        process_output(d);
}

static int replay(struct csd *d, bool *started)
{
    struct wal_options wo = {d->cfg.wal_max_record_bytes};
    bool found = false;
    uint64_t marker = 0, offset = 0;
    int err = wal_find_last_end_height(d->wal_path, &wo, &found, &marker, &offset);
    if (err)
        return err;
    if (!found)
        offset = 0;
    struct wal_reader *r;
    err = wal_reader_open(d->wal_path, offset, &wo, &r);
    if (err)
        return err;
    uint64_t target = d->st->last_height + 1;
    uint64_t n = 0;
    struct vote *votes = calloc(VALIDATOR_SET_MAX, sizeof(*votes));
    if (!votes) {
        wal_reader_close(r);
        return PX_ENOMEM;
    }
    d->replaying = true;
    for (;;) {
        struct wal_record rec;
        bool end = false;
        err = wal_reader_next(r, &rec, &end);
        if (err || end)
            break;
        if (rec.kind != WAL_KIND_INPUT)
            continue;
        enum walcodec_kind k;
        struct cs_input in;
        uint64_t bh = 0;
        struct block_id bid;
        const uint8_t *blk = NULL;
        size_t blk_len = 0;
        if (walcodec_decode(rec.payload, rec.len, &k, &in, votes, VALIDATOR_SET_MAX, &bh, &bid,
                            &blk, &blk_len) != 0) {
            PX_WARN(MOD, "skipping an undecodable WAL record", "offset=%llu",
                    (unsigned long long)rec.offset);
            continue;
        }
        if (k == WALCODEC_BLOCK) {
            if (bh != csd_height(d) || !*started)
                continue;
            struct cblock *b = block_add(d, &bid, -1);
            if (b && !b->complete) {
                uint8_t *copy = malloc(blk_len ? blk_len : 1);
                if (copy) {
                    memcpy(copy, blk, blk_len);
                    if (block_set_content(b, copy, blk_len) == 0 && !b->have_parts &&
                        part_set_from_data(&b->parts, b->enc, b->enc_len) == 0)
                        b->have_parts = true;
                }
            }
            continue;
        }
        uint64_t h = walcodec_input_height(&in);
        if (in.type == CS_INPUT_START_HEIGHT) {
            if (h != target || *started)
                continue;
            *started = true;
            d->replaying = true;
            start_height_fresh(d, false);
            n++;
            continue;
        }
        if (!*started || h != csd_height(d))
            continue;
        replay_input(d, &in);
        n++;
    }
    free(votes);
    wal_reader_close(r);
    d->replaying = false;
    if (n > 0)
        PX_INFO(MOD, "replayed the consensus WAL", "height=%llu inputs=%llu",
                (unsigned long long)target, (unsigned long long)n);
    return err;
}

int csd_start(struct csd *d, uint64_t mono_ns, uint64_t wall_ns)
{
    d->mono = mono_ns;
    d->wall = wall_ns;
    struct wal_options wo = {d->cfg.wal_max_record_bytes};
    int err = wal_open(d->wal_path, &wo, &d->wal);
    if (err) {
        PX_ERROR(MOD, "cannot open the consensus WAL", "path=%s err=\"%s\" hint=\"%s\"",
                 d->wal_path, px_strerror(err),
                 "inspect it with: phalanx inspect-wal --file PATH (--repair to truncate)");
        return err;
    }
    d->nvals = d->st->validators.count;
    bool started = false;
    err = replay(d, &started);
    if (err)
        return err;
    /* live from here: the core's clock continues after the last replayed input */
    d->now_offset = (int64_t)(d->last_now + 1) - (int64_t)mono_ns;
    if (!started) {
        start_height_fresh(d, true);
    } else {
        if (d->todo_build)
            do_build(d, d->todo_build_height, d->todo_build_round);
        if (d->todo_validate)
            do_validate(d, d->todo_validate_height, &d->todo_validate_id);
        if (d->todo_sign_proposal)
            do_sign_proposal(d, &d->todo_proposal);
        if (d->todo_sign_vote)
            do_sign_vote(d, &d->todo_vote);
        d->todo_build = d->todo_validate = d->todo_sign_proposal = d->todo_sign_vote = false;
    }
    err = run(d);
    if (!err && d->decide)
        try_apply(d);
    if (!err)
        err = run(d);
    return err ? err : d->fatal;
}

/* ---- peers' messages ----------------------------------------------------------------- */

static void verified(struct csd *d, uint64_t t0)
{
    if (d->hooks.sig_verified)
        d->hooks.sig_verified((double)(px_clock_mono_ns(px_clock_system()) - t0) / 1e9,
                              d->hooks.user);
}

static void set_time(struct csd *d, uint64_t mono, uint64_t wall)
{
    d->mono = mono;
    d->wall = wall;
}

int csd_on_proposal(struct csd *d, const struct proposal *p, uint64_t mono_ns, uint64_t wall_ns)
{
    set_time(d, mono_ns, wall_ns);
    if (proposal_validate_basic(p) != 0)
        return PX_EINVAL;
    if (p->height != csd_height(d))
        return 0;
    d->stats.proposals_in++;
    int32_t pi = cs_proposer(d->cs, p->round);
    const struct validator *v = validator_set_get(&d->st->validators, pi);
    if (!v)
        return 0;
    uint64_t t0 = px_clock_mono_ns(px_clock_system());
    int bad = sign_bytes_proposal_verify(p, d->st->chain_id, v->pub_key, NULL, NULL);
    verified(d, t0);
    if (bad)
        return PX_ECRYPTO;
    struct cround *r = round_get(d, p->round, true);
    if (r && !r->has_proposal) {
        r->proposal = *p;
        r->has_proposal = true;
    }
    struct cblock *b = block_add(d, &p->block_id, p->round);
    if (b && !b->have_parts && !b->complete) {
        if (part_set_init(&b->parts, &p->block_id.parts) == 0)
            b->have_parts = true;
    }
    if (b && b->round < 0)
        b->round = p->round;
    struct cs_input in = {.type = CS_INPUT_PROPOSAL};
    in.u.proposal.proposal = *p;
    in.u.proposal.validator_index = pi;
    push(d, &in, true, false, OWN_NONE);
    return run(d);
}

int csd_on_vote(struct csd *d, const struct vote *v, uint64_t mono_ns, uint64_t wall_ns)
{
    set_time(d, mono_ns, wall_ns);
    if (vote_validate_basic(v) != 0)
        return PX_EINVAL;
    const struct validator_set *vs;
    uint64_t h = csd_height(d);
    if (v->height == h)
        vs = &d->st->validators;
    else if (v->height + 1 == h && v->type == VOTE_TYPE_PRECOMMIT)
        vs = &d->st->last_validators;
    else
        return 0;
    const struct validator *val = validator_set_get(vs, v->validator_index);
    if (!val || memcmp(val->address, v->validator_address, VOTE_ADDRESS_SIZE) != 0)
        return PX_EINVAL;
    d->stats.votes_in++;
    uint64_t t0 = px_clock_mono_ns(px_clock_system());
    int bad = sign_bytes_vote_verify(v, d->st->chain_id, val->pub_key, NULL, NULL);
    verified(d, t0);
    if (bad) {
        d->stats.votes_bad++;
        return PX_ECRYPTO;
    }
    remember_vote(d, v);
    struct cs_input in = {.type = CS_INPUT_VOTE};
    in.u.vote = *v;
    push(d, &in, true, false, OWN_NONE);
    return run(d);
}

static int block_completed(struct csd *d, struct cblock *b)
{
    if (wal_log_block(d, csd_height(d), b) != 0)
        return PX_EIO;
    struct cs_input in = {.type = CS_INPUT_BLOCK_COMPLETE};
    in.u.block.height = csd_height(d);
    in.u.block.block_id = b->id;
    push(d, &in, true, false, OWN_NONE);
    return 0;
}

int csd_on_part(struct csd *d, uint64_t height, int32_t round, const struct part *p,
                uint64_t mono_ns, uint64_t wall_ns)
{
    set_time(d, mono_ns, wall_ns);
    if (height != csd_height(d))
        return 0;
    struct cround *r = round_get(d, round, false);
    if (!r || !r->has_proposal)
        return 0;
    struct cblock *b = block_find(d, &r->proposal.block_id);
    if (!b || !b->have_parts || b->complete)
        return 0;
    d->stats.parts_in++;
    int err = part_set_add(&b->parts, p);
    if (err == PX_EEXIST)
        return 0;
    if (err)
        return err == PX_ECRYPTO ? PX_ECRYPTO : PX_EINVAL;
    if (!part_set_is_complete(&b->parts))
        return 0;
    uint8_t *enc;
    size_t len;
    if (part_set_assemble(&b->parts, &enc, &len) != 0)
        return 0;
    if (block_set_content(b, enc, len) != 0) {
        PX_WARN(MOD, "proposed block does not match its id", "height=%llu round=%d",
                (unsigned long long)height, round);
        return PX_ECRYPTO;
    }
    err = block_completed(d, b);
    if (!err)
        err = run(d);
    if (!err)
        try_apply(d);
    return err ? err : run(d);
}

int csd_on_decided(struct csd *d, const uint8_t *block, size_t block_len, const uint8_t *commit,
                   size_t commit_len, uint64_t mono_ns, uint64_t wall_ns)
{
    set_time(d, mono_ns, wall_ns);
    struct commit c;
    commit_init_empty(&c);
    if (codec_commit_decode(commit, commit_len, &c) != 0)
        return PX_EINVAL;
    int err = 0;
    if (c.height != csd_height(d) || d->decide)
        goto out;
    char why[128];
    if (commit_verify(&c, d->st->chain_id, &d->st->validators, &c.block_id, c.height, NULL, NULL,
                      why, sizeof(why)) != 0) {
        err = PX_ECRYPTO;
        goto out;
    }
    struct cblock *b = block_add(d, &c.block_id, -1);
    if (!b)
        goto out;
    if (!b->complete) {
        uint8_t *copy = malloc(block_len ? block_len : 1);
        if (!copy) {
            err = PX_ENOMEM;
            goto out;
        }
        memcpy(copy, block, block_len);
        if (block_set_content(b, copy, block_len) != 0) {
            err = PX_ECRYPTO;
            goto out;
        }
        if (!b->have_parts && part_set_from_data(&b->parts, b->enc, b->enc_len) == 0)
            b->have_parts = true;
        block_completed(d, b);
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < c.count && n < VALIDATOR_SET_MAX; i++) {
        struct vote v;
        if (commit_get_vote(&c, i, &v) == 0 && c.sigs[i].flag == COMMIT_FLAG_COMMIT)
            d->scratch_votes[n++] = v;
    }
    struct cs_input in = {.type = CS_INPUT_COMMIT};
    in.u.commit.height = c.height;
    in.u.commit.round = c.round;
    in.u.commit.block_id = c.block_id;
    in.u.commit.votes = d->scratch_votes;
    in.u.commit.count = n;
    err = run(d); /* BLOCK_COMPLETE first */
    if (!err) {
        in.now_ns = core_now(d);
        in.wall_ns = d->wall;
        d->last_now = in.now_ns;
        err = wal_log_input(d, &in, false);
        if (!err && cs_step(d->cs, &in, d->out) == 0)
            process_output(d);
        if (!err)
            err = run(d);
    }
out:
    commit_fini(&c);
    return err;
}

/* Ask the signer again for the signature it could not give (sign_later), if the core
 * still wants it: same height and round (the core moved on otherwise, and asks anew). */
static void retry_signing(struct csd *d)
{
    enum own_msg kind = d->retry_sign;
    struct vote v = d->retry_vote;
    struct proposal p = d->retry_proposal;
    d->retry_sign = OWN_NONE;
    if (kind == OWN_VOTE && v.height == csd_height(d) && v.round == csd_round(d))
        do_sign_vote(d, &v);
    else if (kind == OWN_PROPOSAL && p.height == csd_height(d) && p.round == csd_round(d))
        do_sign_proposal(d, &p);
}

int csd_tick(struct csd *d, uint64_t mono_ns, uint64_t wall_ns)
{
    if (d->fatal)
        return d->fatal;
    set_time(d, mono_ns, wall_ns);
    struct timerq_item it;
    while (!d->fatal && timerq_pop_due(&d->timers, mono_ns, &it)) {
        if (it.kind == TIMER_RETRY) {
            try_apply(d);
            retry_signing(d);
            if (d->retry_validate) {
                d->retry_validate = false;
                if (d->retry_validate_height == csd_height(d))
                    do_validate(d, d->retry_validate_height, &d->retry_validate_id);
            }
            int err = run(d);
            if (err)
                return err;
            continue;
        }
        struct cs_input in = {.type = CS_INPUT_TIMEOUT};
        in.u.timeout.height = it.a;
        in.u.timeout.round = (int32_t)it.b;
        in.u.timeout.step = (enum cs_step)it.c;
        push(d, &in, true, false, OWN_NONE);
        int err = run(d);
        if (err)
            return err;
    }
    return d->fatal;
}

uint64_t csd_next_deadline(const struct csd *d)
{
    return timerq_next(&d->timers);
}

/* ---- views --------------------------------------------------------------------------- */

uint64_t csd_height(const struct csd *d)
{
    return cs_height(d->cs);
}

int32_t csd_round(const struct csd *d)
{
    return cs_round(d->cs);
}

enum cs_step csd_step(const struct csd *d)
{
    return cs_get_step(d->cs);
}

uint32_t csd_nvals(const struct csd *d)
{
    return d->nvals;
}

const struct proposal *csd_proposal(const struct csd *d, int32_t round)
{
    for (int i = 0; i < CS_ROUND_SLOTS; i++)
        if (d->rounds[i].round == round && d->rounds[i].has_proposal)
            return &d->rounds[i].proposal;
    return NULL;
}

const struct part_set *csd_parts(const struct csd *d, int32_t round)
{
    const struct proposal *p = csd_proposal(d, round);
    if (!p)
        return NULL;
    for (int i = 0; i < MAX_BLOCKS; i++)
        if (d->blocks[i].used && d->blocks[i].have_parts &&
            block_id_equal(&d->blocks[i].id, &p->block_id))
            return &d->blocks[i].parts;
    return NULL;
}

const struct vote *csd_vote(const struct csd *d, int32_t round, enum vote_type type, uint32_t index)
{
    if (index >= d->nvals)
        return NULL;
    int t = type == VOTE_TYPE_PRECOMMIT ? 1 : 0;
    for (int i = 0; i < CS_ROUND_SLOTS; i++)
        if (d->rounds[i].round == round)
            return d->rounds[i].have[t][index] ? &d->rounds[i].votes[t][index] : NULL;
    return NULL;
}

size_t csd_rounds(const struct csd *d, int32_t *rounds, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < CS_ROUND_SLOTS && n < cap; i++)
        if (d->rounds[i].round >= 0)
            rounds[n++] = d->rounds[i].round;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && rounds[j - 1] > rounds[j]; j--) {
            int32_t t = rounds[j];
            rounds[j] = rounds[j - 1];
            rounds[j - 1] = t;
        }
    return n;
}

void csd_stats(const struct csd *d, struct csd_stats *st)
{
    *st = d->stats;
}
