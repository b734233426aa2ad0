/*
 * sim: the deterministic simulator (see sim.h). A run is a loop over a priority queue of
 * events ordered by (simulated time, sequence number): message deliveries, timeouts, app
 * answers, gossip ticks, partition changes. Every event becomes one cs_step() of one
 * node's core; the node's "shell" here signs (a keyed 64-bit MAC stands in for Ed25519:
 * the engine's shell verifies signatures before the core, and so does this one), sends
 * through the simulated network, answers build/validate requests like an app and starts
 * the next height after a decision. Byzantine shells rewrite what their core asks for.
 *
 * After every step the checks of sim.h run; the first violation ends the run with the
 * seed, step and time. Test code only; never reads a real clock or any other source of
 * nondeterminism.
 */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs.h"
#include "sim_bound.h"
#include "sim_rng.h"
#include "validator_set.h"

#define MS_NS 1000000ull
#define EPOCH_NS 1700000000000000000ull
/* Simulated time allowed per height after GST before "no termination". */
#define SIM_HEIGHT_BUDGET_MS 120000ull
#define SIM_APP_DELAY_MS 1

/* ------------------------------------------------------------------------------------- */
/* small containers                                                                      */

/* Open addressing map from nonzero 64-bit keys to 64-bit values. */
struct kmap {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap;
    size_t n;
};

static uint64_t *kmap_slot(struct kmap *m, uint64_t key, bool *found)
{
    size_t mask = m->cap - 1;
    uint64_t s = key;
    size_t i = (size_t)sim_splitmix64(&s) & mask;
    while (m->keys[i] != 0 && m->keys[i] != key) {
        i = (i + 1) & mask;
    }
    *found = m->keys[i] == key;
    m->keys[i] = key;
    return &m->vals[i];
}

static void kmap_grow(struct kmap *m)
{
    struct kmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 1024;
    m->keys = calloc(m->cap, sizeof(uint64_t));
    m->vals = calloc(m->cap, sizeof(uint64_t));
    if (m->keys == NULL || m->vals == NULL) {
        fprintf(stderr, "phalanx-sim: out of memory\n");
        exit(3);
    }
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] != 0) {
            bool f;
            *kmap_slot(m, old.keys[i], &f) = old.vals[i];
            m->n++;
        }
    }
    free(old.keys);
    free(old.vals);
}

/* Pointer to the value of key; *found says whether it was there (else it is 0, new). */
static uint64_t *kmap_get(struct kmap *m, uint64_t key, bool *found)
{
    if ((m->n + 1) * 2 > m->cap) {
        kmap_grow(m);
    }
    uint64_t *v = kmap_slot(m, key, found);
    if (!*found) {
        m->n++;
        *v = 0;
    }
    return v;
}

static bool kmap_has(struct kmap *m, uint64_t key, uint64_t *val)
{
    if (m->cap == 0) {
        return false;
    }
    size_t mask = m->cap - 1;
    uint64_t s = key;
    size_t i = (size_t)sim_splitmix64(&s) & mask;
    while (m->keys[i] != 0) {
        if (m->keys[i] == key) {
            if (val != NULL) {
                *val = m->vals[i];
            }
            return true;
        }
        i = (i + 1) & mask;
    }
    return false;
}

static void kmap_free(struct kmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL && n != 0) {
        fprintf(stderr, "phalanx-sim: out of memory\n");
        exit(3);
    }
    return q;
}

#define VEC_PUSH(arr, n, cap, item)                                                                \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = xrealloc((arr), (cap) * sizeof(*(arr)));                                       \
        }                                                                                          \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

/* ------------------------------------------------------------------------------------- */
/* messages, events                                                                      */

enum msg_kind {
    MSG_PROPOSAL = 1,
    MSG_VOTE,
    MSG_BLOCK,
    MSG_STATUS,
    MSG_COMMIT,
};

struct msg {
    uint8_t kind;
    uint32_t from;
    union {
        struct proposal proposal;
        struct vote vote;
        struct {
            uint64_t height;
            struct block_id id;
        } block;
        uint64_t status_height;
        struct {
            uint64_t height;
            int32_t round;
            struct block_id id;
            const struct vote *votes; /* the sender's decision, immutable until teardown */
            uint32_t count;
        } commit;
    } u;
};

enum ev_kind {
    EV_DELIVER = 1,
    EV_OWN,
    EV_TIMEOUT,
    EV_BUILT,
    EV_VALIDATED,
    EV_START_HEIGHT,
    EV_GOSSIP,
    EV_PARTITION,
    EV_GST,
};

struct event {
    uint64_t time_ns;
    uint64_t seq;
    uint8_t kind;
    uint32_t node;
    union {
        struct msg msg;
        struct {
            uint64_t height;
            int32_t round;
            enum cs_step step;
        } timeout;
        struct {
            uint64_t height;
            int32_t round;
            struct block_id id;
            bool valid;
        } app;
        uint64_t height;
    } u;
};

/* Own signed messages kept for gossip; mask 0: to all, 1: even peers, 2: odd peers. */
struct own_msg {
    struct msg msg;
    uint8_t mask;
};

struct decision {
    bool done;
    struct block_id id;
    struct vote *commit;
    uint32_t n_commit;
    bool has_prop;
    struct msg prop;
};

struct node {
    struct cs *cs;
    bool byz;
    enum sim_byz_kind kind;
    uint32_t group;  /* partition side */
    uint32_t parity; /* half for equivocation (honest rank % 2) */
    uint64_t skew_ns;
    struct own_msg *own;
    size_t n_own, cap_own;
    struct msg *props; /* proposals received at the current height */
    size_t n_props, cap_props;
    struct vote *votes; /* peers' votes taken at the current height (for POL gossip) */
    size_t n_votes, cap_votes;
    uint64_t msgs_height; /* height own/props belong to */
    struct decision *dec; /* index height - 1 */
    size_t n_dec, cap_dec;
    uint64_t decided;     /* highest height decided */
    uint64_t term_height; /* the termination check's verdict holds for this height, round */
    int32_t term_round;
};

struct sim_block {
    struct block_id id;
    uint64_t height;
    uint32_t proposer;
    bool valid;
    bool proposed;
};

struct baseline {
    uint64_t height;
    int32_t round;
};

/* Whose proposer is honest, for the rounds 0..n-1 of one height. */
struct proposers {
    uint8_t *honest;
    uint32_t n, cap;
};

struct sim {
    const struct sim_opts *o;
    uint64_t seed;
    struct sim_rng rng;
    uint64_t now_ns;
    uint64_t seq;
    struct event *heap;
    size_t n_heap, cap_heap;
    uint32_t n;
    struct node *nodes;
    uint64_t *keys;
    struct validator_set **sets; /* index height - 1 */
    size_t n_sets;
    struct sim_block *blocks;
    size_t n_blocks, cap_blocks;
    struct block_id *agreed; /* first honest decision per height (index h - 1) */
    bool *agreed_set;
    size_t n_agreed;
    struct kmap signed_map;   /* honest (node, h, r, type) -> block tag */
    struct kmap seen_map;     /* (node, byz validator, h, r, type) -> first block tag */
    struct kmap evidence_map; /* (node, validator, h, r, type) -> 1 */
    bool gst_passed;
    struct baseline *base;
    size_t n_base;
    int32_t (*after_gst)[2]; /* per height (index h - 1): as sim_result's, -1 if not seen */
    size_t n_after_gst;
    uint32_t honest_bound;   /* failed rounds with an honest proposer allowed after GST */
    struct proposers *props; /* per height (index h - 1), for the termination check */
    size_t n_props, cap_props;
    struct validator_set *scratch;
    uint32_t honest;
    struct cs_output *out;
    struct sim_result *res;
    bool done;
    uint32_t garbage_seq;
};

/* ------------------------------------------------------------------------------------- */
/* names and options                                                                     */

static const char *const kind_names[SIM_BYZ_KINDS] = {
    "equivocate",    "double-vote", "withhold", "amnesia",
    "unknown-block", "garbage",     "mixed",    "collude",
};

const char *sim_byz_kind_name(enum sim_byz_kind k)
{
    return (unsigned)k < SIM_BYZ_KINDS ? kind_names[k] : "unknown";
}

int sim_byz_kind_parse(const char *s)
{
    for (int i = 0; i < SIM_BYZ_KINDS; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *const sabotage_names[SIM_SABOTAGE_KINDS] = {
    "none", "double-sign", "no-evidence", "invalid-blocks", "silence", "drop-proposals",
};

const char *sim_sabotage_name(enum sim_sabotage k)
{
    return (unsigned)k < SIM_SABOTAGE_KINDS ? sabotage_names[k] : "unknown";
}

int sim_sabotage_parse(const char *s)
{
    for (int i = 0; i < SIM_SABOTAGE_KINDS; i++) {
        if (strcmp(s, sabotage_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void sim_opts_default(struct sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->validators = 4;
    o->byzantine = 1;
    o->byz_kind = SIM_BYZ_MIXED;
    o->heights = 5;
    o->delay_dist = SIM_DELAY_UNIFORM;
    o->delay_min_ms = 2;
    o->delay_max_ms = 40;
    o->gossip_ms = 100;
    o->round_bound = 0; /* 0: the model of sim_bound.h */
}

int sim_opts_check(const struct sim_opts *o, char *err, unsigned long cap)
{
    if (o->validators < 1 || o->validators > 1000) {
        snprintf(err, cap, "--validators must be 1..1000 (got %u)", o->validators);
        return -1;
    }
    if (o->byzantine >= o->validators) {
        snprintf(err, cap, "--byzantine must be below --validators");
        return -1;
    }
    if (!o->control && o->byzantine * 3 >= o->validators && !o->unequal_power) {
        snprintf(err, cap,
                 "%u Byzantine of %u equal validators is >= 1/3 of the power: safety is not "
                 "promised; use --control to expect a violation",
                 o->byzantine, o->validators);
        return -1;
    }
    if (o->loss < 0 || o->loss >= 1 || o->dup < 0 || o->dup > 1 || o->reorder < 0 ||
        o->reorder > 1) {
        snprintf(err, cap, "--loss must be in [0, 1), --dup and --reorder in [0, 1]");
        return -1;
    }
    if (o->delay_max_ms < o->delay_min_ms || o->delay_max_ms > 60000) {
        snprintf(err, cap, "--delay needs min <= max <= 60000 ms");
        return -1;
    }
    if (o->heights < 1 || o->heights > 1000000) {
        snprintf(err, cap, "--heights must be 1..1000000");
        return -1;
    }
    if (o->gossip_ms < 1) {
        snprintf(err, cap, "--gossip-ms must be >= 1");
        return -1;
    }
    if (o->partitions > 0 && o->gst_ms == 0) {
        snprintf(err, cap, "--partitions needs --gst MS (when they heal)");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* violations and tracing                                                                */

static void violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>

static void violation(struct sim *s, const char *fmt, ...)
{
    if (s->res->violation) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->res->what, sizeof(s->res->what), fmt, ap);
    va_end(ap);
    s->res->violation = true;
    s->res->step = s->res->steps;
    s->res->time_ms = s->now_ns / MS_NS;
    s->done = true;
}

static uint64_t tag_of(const struct block_id *id)
{
    uint64_t h = 0x243f6a8885a308d3ull;
    const uint8_t *p = (const uint8_t *)id->hash;
    for (size_t i = 0; i < sizeof(id->hash); i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = sim_mix(h, w);
    }
    h = sim_mix(h, id->parts.total);
    for (size_t i = 0; i < sizeof(id->parts.hash); i += 8) {
        uint64_t w;
        memcpy(&w, id->parts.hash + i, 8);
        h = sim_mix(h, w);
    }
    return h | 1; /* never 0 */
}

static void fmt_id(char *buf, const struct block_id *id)
{
    if (block_id_is_nil(id)) {
        snprintf(buf, 16, "nil");
    } else {
        snprintf(buf, 16, "%02x%02x%02x%02x", id->hash[0], id->hash[1], id->hash[2], id->hash[3]);
    }
}

/* ------------------------------------------------------------------------------------- */
/* heap of events                                                                        */

static bool ev_before(const struct event *a, const struct event *b)
{
    return a->time_ns < b->time_ns || (a->time_ns == b->time_ns && a->seq < b->seq);
}

static void push(struct sim *s, uint64_t time_ns, struct event *e)
{
    e->time_ns = time_ns;
    e->seq = s->seq++;
    if (s->n_heap == s->cap_heap) {
        s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 1024;
        s->heap = xrealloc(s->heap, s->cap_heap * sizeof(*s->heap));
    }
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_before(e, &s->heap[p])) {
            break;
        }
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = *e;
}

static void pop(struct sim *s, struct event *out)
{
    *out = s->heap[0];
    struct event last = s->heap[--s->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct event *best = &last;
        if (l < s->n_heap && ev_before(&s->heap[l], best)) {
            m = l;
            best = &s->heap[l];
        }
        if (r < s->n_heap && ev_before(&s->heap[r], best)) {
            m = r;
        }
        if (m == i) {
            break;
        }
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->n_heap > 0) {
        s->heap[i] = last;
    }
}

/* ------------------------------------------------------------------------------------- */
/* validator sets, keys, signatures, blocks                                              */

static const struct validator_set *set_at(struct sim *s, uint64_t height)
{
    while (s->n_sets < height) {
        struct validator_set *v = malloc(sizeof(*v));
        if (v == NULL) {
            fprintf(stderr, "phalanx-sim: out of memory\n");
            exit(3);
        }
        validator_set_copy(v, s->sets[s->n_sets - 1]);
        validator_set_increment_proposer_priority(v, 1);
        s->sets = xrealloc(s->sets, (s->n_sets + 1) * sizeof(*s->sets));
        s->sets[s->n_sets++] = v;
    }
    return s->sets[height - 1];
}

static uint64_t hash_words(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        memcpy(&w, b + i, n - i < 8 ? n - i : 8);
        h = sim_mix(h, w);
    }
    return h;
}

static uint64_t vote_digest(const struct vote *v)
{
    uint64_t h = sim_mix(0x766f7465, (uint64_t)v->type);
    h = sim_mix(h, v->height);
    h = sim_mix(h, (uint64_t)(uint32_t)v->round);
    h = hash_words(h, &v->block_id.hash, sizeof(v->block_id.hash));
    h = sim_mix(h, v->block_id.parts.total);
    h = hash_words(h, v->block_id.parts.hash, sizeof(v->block_id.parts.hash));
    h = sim_mix(h, v->timestamp_ns);
    h = hash_words(h, v->validator_address, sizeof(v->validator_address));
    return sim_mix(h, (uint64_t)(uint32_t)v->validator_index);
}

static uint64_t proposal_digest(const struct proposal *p)
{
    uint64_t h = sim_mix(0x70726f70, p->height);
    h = sim_mix(h, (uint64_t)(uint32_t)p->round);
    h = sim_mix(h, (uint64_t)(uint32_t)p->pol_round);
    h = hash_words(h, p->block_id.hash, sizeof(p->block_id.hash));
    h = sim_mix(h, p->block_id.parts.total);
    h = hash_words(h, p->block_id.parts.hash, sizeof(p->block_id.parts.hash));
    return sim_mix(h, p->timestamp_ns);
}

static void put_sig(uint8_t *sig, uint64_t key, uint64_t digest)
{
    memset(sig, 0, 64);
    uint64_t m = sim_mix(key, digest);
    memcpy(sig, &m, 8);
}

static bool check_sig(const uint8_t *sig, uint64_t key, uint64_t digest)
{
    uint64_t m = sim_mix(key, digest), got;
    memcpy(&got, sig, 8);
    return m == got;
}

static void sign_vote(struct sim *s, uint32_t signer, struct vote *v)
{
    put_sig(v->signature, s->keys[signer], vote_digest(v));
}

static void sign_proposal(struct sim *s, uint32_t signer, struct proposal *p)
{
    put_sig(p->signature, s->keys[signer], proposal_digest(p));
}

static struct sim_block *block_lookup(struct sim *s, const struct block_id *id)
{
    uint32_t idx;
    memcpy(&idx, id->hash, 4);
    if (idx == 0 || idx > s->n_blocks) {
        return NULL;
    }
    struct sim_block *b = &s->blocks[idx - 1];
    return block_id_equal(&b->id, id) ? b : NULL;
}

static struct block_id make_block(struct sim *s, uint64_t height, uint32_t proposer, bool valid)
{
    struct sim_block b;
    memset(&b, 0, sizeof(b));
    uint32_t idx = (uint32_t)s->n_blocks + 1;
    uint64_t st = sim_mix(s->seed, idx);
    memcpy(b.id.hash, &idx, 4);
    for (size_t i = 4; i < sizeof(b.id.hash); i++) {
        b.id.hash[i] = (uint8_t)sim_splitmix64(&st);
    }
    b.id.parts.total = 1 + idx % 3;
    for (size_t i = 0; i < sizeof(b.id.parts.hash); i++) {
        b.id.parts.hash[i] = (uint8_t)(sim_splitmix64(&st) | 1);
    }
    b.height = height;
    b.proposer = proposer;
    b.valid = valid;
    VEC_PUSH(s->blocks, s->n_blocks, s->cap_blocks, b);
    return b.id;
}

/* A block id nobody made (its index bytes point nowhere). */
static struct block_id unknown_block(struct sim *s)
{
    struct block_id id;
    for (size_t i = 0; i < sizeof(id.hash); i++) {
        id.hash[i] = (uint8_t)sim_rng_next(&s->rng);
    }
    id.hash[3] = 0xff; /* index > any real block count */
    id.parts.total = 1;
    for (size_t i = 0; i < sizeof(id.parts.hash); i++) {
        id.parts.hash[i] = (uint8_t)(sim_rng_next(&s->rng) | 1);
    }
    return id;
}

/* ------------------------------------------------------------------------------------- */
/* network                                                                               */

static uint64_t draw_delay_ns(struct sim *s)
{
    const struct sim_opts *o = s->o;
    double ms;
    if (o->delay_dist == SIM_DELAY_EXP) {
        double mean = o->delay_max_ms > o->delay_min_ms ? o->delay_max_ms - o->delay_min_ms : 1;
        double u = sim_rng_unit(&s->rng);
        double x = -mean * log(1.0 - u);
        if (x > 10 * mean) {
            x = 10 * mean;
        }
        ms = o->delay_min_ms + x;
    } else {
        ms = o->delay_min_ms +
             (double)sim_rng_below(&s->rng, (uint64_t)(o->delay_max_ms - o->delay_min_ms) + 1);
    }
    uint64_t ns = (uint64_t)(ms * (double)MS_NS) + sim_rng_below(&s->rng, MS_NS);
    if (sim_rng_chance(&s->rng, o->reorder)) {
        ns += (uint64_t)o->delay_max_ms * 3 * MS_NS;
    }
    return ns;
}

static void send(struct sim *s, uint32_t from, uint32_t to, const struct msg *m)
{
    if (from == to) {
        return;
    }
    s->res->messages++;
    if (!s->gst_passed && s->nodes[from].group != s->nodes[to].group) {
        return;
    }
    if (s->gst_passed && s->o->sabotage == SIM_SABOTAGE_SILENCE) {
        return;
    }
    if (sim_rng_chance(&s->rng, s->o->loss)) {
        return;
    }
    int copies = sim_rng_chance(&s->rng, s->o->dup) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        struct event e;
        memset(&e, 0, sizeof(e));
        e.kind = EV_DELIVER;
        e.node = to;
        e.u.msg = *m;
        e.u.msg.from = from;
        push(s, s->now_ns + draw_delay_ns(s), &e);
    }
}

/* mask 0: every peer; 1: peers of parity 0; 2: peers of parity 1. */
static void broadcast(struct sim *s, uint32_t from, const struct msg *m, uint8_t mask)
{
    for (uint32_t j = 0; j < s->n; j++) {
        if (mask == 0 || s->nodes[j].parity == (uint32_t)(mask - 1)) {
            send(s, from, j, m);
        }
    }
}

static void keep_own(struct sim *s, uint32_t i, const struct msg *m, uint8_t mask)
{
    struct node *nd = &s->nodes[i];
    struct own_msg om = {.msg = *m, .mask = mask};
    (void)s;
    VEC_PUSH(nd->own, nd->n_own, nd->cap_own, om);
}

static void to_self(struct sim *s, uint32_t i, const struct msg *m)
{
    struct event e;
    memset(&e, 0, sizeof(e));
    e.kind = EV_OWN;
    e.node = i;
    e.u.msg = *m;
    e.u.msg.from = i;
    push(s, s->now_ns, &e);
}

/* ------------------------------------------------------------------------------------- */
/* checks                                                                                */

static uint64_t key_of(uint32_t node, uint32_t val, uint64_t h, int32_t r, uint32_t type)
{
    return (1ull << 63) | ((uint64_t)(node & 0x3ff) << 53) | ((uint64_t)(val & 0x3ff) << 43) |
           ((h & 0xffffff) << 19) | ((uint64_t)((uint32_t)r & 0x1ffff) << 2) | (type & 3);
}

/* An honest node asks to sign: it must never sign two different things for one step. */
static void check_sign(struct sim *s, uint32_t i, uint64_t h, int32_t r, uint32_t type,
                       const struct block_id *id)
{
    if (s->nodes[i].byz) {
        return;
    }
    bool found;
    uint64_t *v = kmap_get(&s->signed_map, key_of(i, 0, h, r, type), &found);
    uint64_t t = tag_of(id);
    if (found && *v != t) {
        violation(s,
                  "honest double-sign: node %u signed two different %ss at height %llu "
                  "round %d",
                  i, type == 3 ? "proposal" : vote_type_name((int)type), (unsigned long long)h, r);
        return;
    }
    *v = t;
}

static void check_decide(struct sim *s, uint32_t i, uint64_t h, int32_t r,
                         const struct block_id *id)
{
    char a[16], b[16];
    if (s->nodes[i].byz) {
        return;
    }
    if (s->n_agreed < h) {
        s->agreed = xrealloc(s->agreed, h * 2 * sizeof(*s->agreed));
        s->agreed_set = xrealloc(s->agreed_set, h * 2 * sizeof(*s->agreed_set));
        for (size_t k = s->n_agreed; k < h * 2; k++) {
            s->agreed_set[k] = false;
        }
        s->n_agreed = h * 2;
    }
    if (s->agreed_set[h - 1] && !block_id_equal(&s->agreed[h - 1], id)) {
        fmt_id(a, &s->agreed[h - 1]);
        fmt_id(b, id);
        violation(s,
                  "agreement: node %u decided %s at height %llu round %d, another honest "
                  "node decided %s",
                  i, b, (unsigned long long)h, r, a);
        return;
    }
    s->agreed[h - 1] = *id;
    s->agreed_set[h - 1] = true;
    const struct sim_block *blk = block_lookup(s, id);
    if (blk == NULL || !blk->proposed || !blk->valid || blk->height != h) {
        fmt_id(a, id);
        violation(s, "validity: node %u decided block %s at height %llu that was %s", i, a,
                  (unsigned long long)h,
                  blk == NULL      ? "never made"
                  : !blk->proposed ? "never proposed"
                  : !blk->valid    ? "invalid"
                                   : "made for another height");
    }
}

/* ------------------------------------------------------------------------------------- */
/* Byzantine helpers                                                                     */

static void collude_votes(struct sim *s, uint64_t h, int32_t r, const struct block_id *ids)
{
    /* Every colluder prevotes and precommits, to each honest node, the block that node's
     * half was proposed. */
    for (uint32_t c = 0; c < s->n; c++) {
        if (!s->nodes[c].byz || s->nodes[c].kind != SIM_BYZ_COLLUDE) {
            continue;
        }
        const struct validator *val = validator_set_get(set_at(s, h), (int32_t)c);
        for (uint32_t j = 0; j < s->n; j++) {
            if (s->nodes[j].byz) {
                continue;
            }
            for (int t = VOTE_TYPE_PREVOTE; t <= VOTE_TYPE_PRECOMMIT; t++) {
                struct msg m;
                memset(&m, 0, sizeof(m));
                m.kind = MSG_VOTE;
                m.u.vote.type = (enum vote_type)t;
                m.u.vote.height = h;
                m.u.vote.round = r;
                m.u.vote.block_id = ids[s->nodes[j].parity];
                m.u.vote.timestamp_ns = EPOCH_NS + s->now_ns;
                memcpy(m.u.vote.validator_address, val->address, VOTE_ADDRESS_SIZE);
                m.u.vote.validator_index = (int32_t)c;
                sign_vote(s, c, &m.u.vote);
                send(s, c, j, &m);
                send(s, c, j, &m);
            }
        }
    }
}

static void garbage_burst(struct sim *s, uint32_t g)
{
    struct node *nd = &s->nodes[g];
    uint64_t h = cs_height(nd->cs);
    int32_t r = cs_round(nd->cs);
    if (h == 0) {
        return;
    }
    const struct validator *val = validator_set_get(set_at(s, h), (int32_t)g);
    for (int k = 0; k < 3; k++) {
        struct msg m;
        memset(&m, 0, sizeof(m));
        m.kind = MSG_VOTE;
        struct vote *v = &m.u.vote;
        v->type = VOTE_TYPE_PREVOTE;
        v->height = h;
        v->round = r;
        v->block_id = unknown_block(s);
        v->timestamp_ns = EPOCH_NS + s->now_ns;
        memcpy(v->validator_address, val->address, VOTE_ADDRESS_SIZE);
        v->validator_index = (int32_t)g;
        uint32_t signer = g;
        switch (sim_rng_below(&s->rng, 9)) {
        case 0:
            v->type = (enum vote_type)(3 + sim_rng_below(&s->rng, 100));
            break;
        case 1:
            v->height = 0;
            break;
        case 2:
            v->round = -1 - (int32_t)sim_rng_below(&s->rng, 1000);
            break;
        case 3:
            v->round = (int32_t)(1u << 30);
            break;
        case 4: /* claims another validator's index, signed with its own key */
            v->validator_index = (int32_t)sim_rng_below(&s->rng, s->n);
            break;
        case 5: /* index out of the set */
            v->validator_index = (int32_t)(s->n + sim_rng_below(&s->rng, 100));
            break;
        case 6: /* half nil block id */
            v->block_id.parts.total = 0;
            break;
        case 7: /* address not its own */
            v->validator_address[0] ^= 0x5a;
            break;
        default: { /* a proposal although not the proposer, or with a bad POL round */
            m.kind = MSG_PROPOSAL;
            struct proposal *p = &m.u.proposal;
            memset(p, 0, sizeof(*p));
            p->height = h;
            p->round = r;
            p->pol_round = r + (int32_t)sim_rng_below(&s->rng, 3);
            p->block_id = unknown_block(s);
            p->timestamp_ns = EPOCH_NS + s->now_ns;
            sign_proposal(s, signer, p);
            broadcast(s, g, &m, 0);
            continue;
        }
        }
        sign_vote(s, signer, v);
        broadcast(s, g, &m, 0);
    }
}

/* ------------------------------------------------------------------------------------- */
/* the shell of one node                                                                 */

static void step(struct sim *s, uint32_t i, const struct cs_input *in);

static void new_height_msgs(struct node *nd, uint64_t h)
{
    if (nd->msgs_height != h) {
        nd->msgs_height = h;
        nd->n_own = 0;
        nd->n_props = 0;
        nd->n_votes = 0;
    }
}

static struct decision *decision_at(struct node *nd, uint64_t h)
{
    while (nd->n_dec < h) {
        struct decision d;
        memset(&d, 0, sizeof(d));
        VEC_PUSH(nd->dec, nd->n_dec, nd->cap_dec, d);
    }
    return &nd->dec[h - 1];
}

static const struct msg *known_proposal(struct node *nd, uint64_t h, int32_t r)
{
    for (size_t k = 0; k < nd->n_props; k++) {
        if (nd->props[k].u.proposal.height == h && nd->props[k].u.proposal.round == r) {
            return &nd->props[k];
        }
    }
    return NULL;
}

static void act_sign_proposal(struct sim *s, uint32_t i, const struct proposal *p0)
{
    struct node *nd = &s->nodes[i];
    struct msg m;
    memset(&m, 0, sizeof(m));
    m.kind = MSG_PROPOSAL;
    m.u.proposal = *p0;
    check_sign(s, i, p0->height, p0->round, 3, &p0->block_id);
    if (s->o->trace >= 1) {
        char b[16];
        fmt_id(b, &p0->block_id);
        printf("  t=%llu.%03llums node %u%s proposal h=%llu r=%d pol=%d %s\n",
               (unsigned long long)(s->now_ns / MS_NS),
               (unsigned long long)(s->now_ns % MS_NS / 1000), i, nd->byz ? " (byz)" : "",
               (unsigned long long)p0->height, p0->round, p0->pol_round, b);
    }
    sign_proposal(s, i, &m.u.proposal);
    struct sim_block *b = block_lookup(s, &p0->block_id);
    if (b != NULL) {
        b->proposed = true;
    }
    to_self(s, i, &m);
    new_height_msgs(nd, p0->height);
    if (nd->byz && nd->kind == SIM_BYZ_WITHHOLD) {
        return;
    }
    if (nd->byz && (nd->kind == SIM_BYZ_EQUIVOCATE || nd->kind == SIM_BYZ_COLLUDE)) {
        struct msg m2 = m;
        m2.u.proposal.block_id = make_block(s, p0->height, i, true);
        m2.u.proposal.pol_round = -1;
        s->blocks[s->n_blocks - 1].proposed = true;
        sign_proposal(s, i, &m2.u.proposal);
        broadcast(s, i, &m, 1);
        broadcast(s, i, &m2, 2);
        keep_own(s, i, &m, 1);
        keep_own(s, i, &m2, 2);
        if (nd->kind == SIM_BYZ_COLLUDE) {
            struct block_id ids[2] = {m.u.proposal.block_id, m2.u.proposal.block_id};
            collude_votes(s, p0->height, p0->round, ids);
        }
        return;
    }
    broadcast(s, i, &m, 0);
    keep_own(s, i, &m, 0);
}

static void act_sign_vote(struct sim *s, uint32_t i, const struct vote *v0)
{
    struct node *nd = &s->nodes[i];
    struct msg m;
    memset(&m, 0, sizeof(m));
    m.kind = MSG_VOTE;
    m.u.vote = *v0;
    new_height_msgs(nd, v0->height);
    if (nd->byz) {
        if (nd->kind == SIM_BYZ_AMNESIA && v0->type == VOTE_TYPE_PREVOTE) {
            const struct msg *p = known_proposal(nd, v0->height, v0->round);
            if (p != NULL) {
                m.u.vote.block_id = p->u.proposal.block_id;
            }
        } else if (nd->kind == SIM_BYZ_UNKNOWN_BLOCK) {
            m.u.vote.block_id = unknown_block(s);
        }
    }
    check_sign(s, i, v0->height, v0->round, (uint32_t)v0->type, &v0->block_id);
    if (s->o->sabotage == SIM_SABOTAGE_DOUBLE_SIGN && !nd->byz) {
        struct block_id other = unknown_block(s);
        check_sign(s, i, v0->height, v0->round, (uint32_t)v0->type, &other);
    }
    if (s->o->trace >= 1) {
        char b[16];
        fmt_id(b, &m.u.vote.block_id);
        printf("  t=%llu.%03llums node %u%s %s h=%llu r=%d %s\n",
               (unsigned long long)(s->now_ns / MS_NS),
               (unsigned long long)(s->now_ns % MS_NS / 1000), i, nd->byz ? " (byz)" : "",
               vote_type_name((int)v0->type), (unsigned long long)v0->height, v0->round, b);
    }
    sign_vote(s, i, &m.u.vote);
    to_self(s, i, &m);
    if (nd->byz && nd->kind == SIM_BYZ_WITHHOLD) {
        return;
    }
    if (nd->byz && nd->kind == SIM_BYZ_DOUBLE_VOTE) {
        struct msg m2 = m;
        if (block_id_is_nil(&v0->block_id)) {
            m2.u.vote.block_id = unknown_block(s);
        } else {
            block_id_set_nil(&m2.u.vote.block_id);
        }
        sign_vote(s, i, &m2.u.vote);
        broadcast(s, i, &m, 1);
        broadcast(s, i, &m2, 2);
        keep_own(s, i, &m, 1);
        keep_own(s, i, &m2, 2);
        return;
    }
    broadcast(s, i, &m, 0);
    keep_own(s, i, &m, 0);
}

static void act_decide(struct sim *s, uint32_t i, const struct cs_action *a)
{
    struct node *nd = &s->nodes[i];
    uint64_t h = a->u.decide.height;
    check_decide(s, i, h, a->u.decide.round, &a->u.decide.block_id);
    struct decision *d = decision_at(nd, h);
    if (d->done) {
        violation(s, "node %u decided height %llu twice", i, (unsigned long long)h);
        return;
    }
    d->done = true;
    d->id = a->u.decide.block_id;
    d->n_commit = s->out->commit_count;
    d->commit = xrealloc(NULL, (d->n_commit + 1) * sizeof(struct vote));
    memcpy(d->commit, s->out->commit, d->n_commit * sizeof(struct vote));
    for (size_t k = 0; k < nd->n_props; k++) {
        if (nd->props[k].u.proposal.height == h &&
            block_id_equal(&nd->props[k].u.proposal.block_id, &d->id)) {
            d->has_prop = true;
            d->prop = nd->props[k];
            break;
        }
    }
    { /* a commit must carry more than 2/3 of the power */
        int64_t power = 0;
        const struct validator_set *vs = set_at(s, h);
        for (uint32_t k = 0; k < d->n_commit; k++) {
            power += validator_set_get(vs, d->commit[k].validator_index)->voting_power;
        }
        if (!nd->byz && !validator_set_is_two_thirds(power, vs->total_voting_power)) {
            violation(s, "node %u decided height %llu with a commit of only %lld of %lld power", i,
                      (unsigned long long)h, (long long)power, (long long)vs->total_voting_power);
            return;
        }
    }
    nd->decided = h;
    if (a->u.decide.round > (int32_t)s->res->max_round) {
        s->res->max_round = (uint32_t)a->u.decide.round;
    }
    if (s->o->trace >= 1) {
        char b[16];
        fmt_id(b, &d->id);
        printf("  t=%llu.%03llums node %u%s decided height %llu round %d block %s\n",
               (unsigned long long)(s->now_ns / MS_NS),
               (unsigned long long)(s->now_ns % MS_NS / 1000), i, nd->byz ? " (byz)" : "",
               (unsigned long long)h, a->u.decide.round, b);
    }
    struct event e;
    memset(&e, 0, sizeof(e));
    e.kind = EV_START_HEIGHT;
    e.node = i;
    e.u.height = h + 1;
    push(s, s->now_ns + SIM_APP_DELAY_MS * MS_NS, &e);
    uint64_t lo = UINT64_MAX;
    for (uint32_t k = 0; k < s->n; k++) {
        if (!s->nodes[k].byz && s->nodes[k].decided < lo) {
            lo = s->nodes[k].decided;
        }
    }
    s->res->heights_decided = lo;
    if (lo >= s->o->heights) {
        s->done = true;
    }
}

static void process_actions(struct sim *s, uint32_t i)
{
    struct node *nd = &s->nodes[i];
    const struct cs_output *out = s->out;
    for (uint32_t k = 0; k < out->n_actions && !s->res->violation; k++) {
        const struct cs_action *a = &out->actions[k];
        struct event e;
        memset(&e, 0, sizeof(e));
        e.node = i;
        switch (a->type) {
        case CS_ACTION_SIGN_PROPOSAL:
            act_sign_proposal(s, i, &a->u.proposal);
            break;
        case CS_ACTION_SIGN_VOTE:
            act_sign_vote(s, i, &a->u.vote);
            break;
        case CS_ACTION_EVIDENCE: {
            const struct vote *v = &a->u.evidence.a;
            if (s->o->sabotage == SIM_SABOTAGE_NO_EVIDENCE && !nd->byz) {
                break;
            }
            s->res->evidence++;
            if (!nd->byz && !s->nodes[v->validator_index].byz) {
                violation(s, "node %u reported evidence against honest validator %d", i,
                          v->validator_index);
                break;
            }
            bool f;
            *kmap_get(
                &s->evidence_map,
                key_of(i, (uint32_t)v->validator_index, v->height, v->round, (uint32_t)v->type),
                &f) = 1;
            break;
        }
        case CS_ACTION_DECIDE:
            act_decide(s, i, a);
            break;
        case CS_ACTION_BUILD_PROPOSAL: {
            bool valid =
                !(nd->byz && nd->kind == SIM_BYZ_GARBAGE && sim_rng_chance(&s->rng, 0.5)) &&
                s->o->sabotage != SIM_SABOTAGE_INVALID;
            e.kind = EV_BUILT;
            e.u.app.height = a->u.build.height;
            e.u.app.round = a->u.build.round;
            e.u.app.id = make_block(s, a->u.build.height, i, valid);
            push(s, s->now_ns + SIM_APP_DELAY_MS * MS_NS, &e);
            break;
        }
        case CS_ACTION_VALIDATE_BLOCK: {
            const struct sim_block *b = block_lookup(s, &a->u.validate.block_id);
            e.kind = EV_VALIDATED;
            e.u.app.height = a->u.validate.height;
            e.u.app.id = a->u.validate.block_id;
            e.u.app.valid = b != NULL && b->valid && b->height == a->u.validate.height;
            if (s->o->sabotage == SIM_SABOTAGE_INVALID) {
                e.u.app.valid = true; /* an app that accepts anything */
            }
            push(s, s->now_ns + SIM_APP_DELAY_MS * MS_NS, &e);
            break;
        }
        case CS_ACTION_SCHEDULE_TIMEOUT:
            e.kind = EV_TIMEOUT;
            e.u.timeout.height = a->u.timeout.height;
            e.u.timeout.round = a->u.timeout.round;
            e.u.timeout.step = a->u.timeout.step;
            push(s, a->u.timeout.deadline_ns, &e);
            break;
        case CS_ACTION_DROP:
            s->res->drops++;
            break;
        }
    }
}

/* After an honest node took a peer's vote: an equivocation it saw must give evidence. */
static void check_evidence(struct sim *s, uint32_t i, const struct vote *v)
{
    if (s->nodes[i].byz || v->validator_index < 0 || (uint32_t)v->validator_index >= s->n ||
        !s->nodes[v->validator_index].byz) {
        return;
    }
    for (uint32_t k = 0; k < s->out->n_actions; k++) {
        if (s->out->actions[k].type == CS_ACTION_DROP) {
            return; /* not taken (wrong height, duplicate, bound, ...) */
        }
    }
    uint64_t key = key_of(i, (uint32_t)v->validator_index, v->height, v->round, (uint32_t)v->type);
    bool found;
    uint64_t *first = kmap_get(&s->seen_map, key, &found);
    uint64_t t = tag_of(&v->block_id);
    if (!found) {
        *first = t;
        return;
    }
    if (*first != t && !kmap_has(&s->evidence_map, key, NULL)) {
        violation(s,
                  "evidence: node %u took two different %ss of validator %d at height %llu "
                  "round %d without reporting evidence",
                  i, vote_type_name((int)v->type), v->validator_index,
                  (unsigned long long)v->height, v->round);
    }
}

/* 1 if the proposer of round r at height h is honest: the height's set advanced r times
 * in one call, as the core chooses it (DESIGN section 10). Cached per height. */
static uint8_t proposer_honest(struct sim *s, uint64_t h, int32_t r)
{
    while (s->n_props < h) {
        struct proposers none = {NULL, 0, 0};
        VEC_PUSH(s->props, s->n_props, s->cap_props, none);
    }
    struct proposers *p = &s->props[h - 1];
    while (p->n <= (uint32_t)r) {
        int32_t round = (int32_t)p->n;
        validator_set_copy(s->scratch, set_at(s, h));
        if (round > 0 && validator_set_increment_proposer_priority(s->scratch, round) != 0) {
            fprintf(stderr, "phalanx-sim: could not advance the proposer of height %llu\n",
                    (unsigned long long)h);
            exit(3);
        }
        uint8_t honest = !s->nodes[s->scratch->proposer_index].byz;
        VEC_PUSH(p->honest, p->n, p->cap, honest);
    }
    return p->honest[r];
}

/* For --histogram: what an honest node at height h has seen after GST. */
static void note_after_gst(struct sim *s, uint64_t h, int32_t rounds, int32_t failed)
{
    if (s->n_after_gst < h) {
        size_t n = h * 2;
        s->after_gst = xrealloc(s->after_gst, n * sizeof(*s->after_gst));
        for (size_t k = s->n_after_gst; k < n; k++) {
            s->after_gst[k][0] = s->after_gst[k][1] = -1;
        }
        s->n_after_gst = n;
    }
    int32_t seen[2] = {rounds, failed};
    for (int x = 0; x < 2; x++) {
        if (seen[x] > s->after_gst[h - 1][x]) {
            s->after_gst[h - 1][x] = seen[x];
            if ((uint32_t)seen[x] > s->res->after_gst_max[x]) {
                s->res->after_gst_max[x] = (uint32_t)seen[x];
            }
        }
    }
}

/* After GST an honest node may fail only so many rounds with an honest proposer at one
 * height (sim_bound); rounds with a Byzantine proposer are not counted. */
static void check_termination(struct sim *s, uint32_t i)
{
    if (!s->gst_passed || s->nodes[i].byz) {
        return;
    }
    uint64_t h = cs_height(s->nodes[i].cs);
    int32_t r = cs_round(s->nodes[i].cs);
    if (h == 0) {
        return; /* before its first height */
    }
    int32_t base = 0;
    for (size_t k = 0; k < s->n_base; k++) {
        if (s->base[k].height == h) {
            base = s->base[k].round;
        }
    }
    struct node *nd = &s->nodes[i];
    if (nd->term_height == h && nd->term_round == r) {
        return; /* judged already */
    }
    nd->term_height = h;
    nd->term_round = r;
    uint32_t failed = 0;
    for (int32_t k = base; k < r; k++) {
        failed += proposer_honest(s, h, k);
    }
    note_after_gst(s, h, r > base ? r - base : 0, (int32_t)failed);
    if (s->o->round_bound) {
        if (r > base + (int32_t)s->o->round_bound) {
            violation(s,
                      "termination: node %u is at round %d of height %llu, more than %u rounds "
                      "after GST (round then %d; --round-bound)",
                      i, r, (unsigned long long)h, s->o->round_bound, base);
        }
        return;
    }
    if (failed > s->honest_bound) {
        violation(s,
                  "termination: node %u is at round %d of height %llu: %u rounds with an honest "
                  "proposer failed after GST (round then %d), more than the %u the network "
                  "allows (sim_bound: more has a probability below %g)",
                  i, r, (unsigned long long)h, failed, base, s->honest_bound, SIM_BOUND_EPS);
    }
}

static const char *input_name(enum cs_input_type t)
{
    static const char *const names[] = {"?",        "start",        "proposal", "vote",
                                        "block",    "timeout",      "built",    "validated",
                                        "own-vote", "own-proposal", "commit"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static void step(struct sim *s, uint32_t i, const struct cs_input *in)
{
    struct node *nd = &s->nodes[i];
    s->res->steps++;
    int rc = cs_step(nd->cs, in, s->out);
    if (rc != 0) {
        violation(s, "node %u: cs_step(%s) failed with %d", i, input_name(in->type), rc);
        return;
    }
    s->res->digest = sim_mix(s->res->digest, i);
    s->res->digest =
        hash_words(s->res->digest, s->out->actions, s->out->n_actions * sizeof(s->out->actions[0]));
    s->res->digest = hash_words(s->res->digest, s->out->commit,
                                s->out->commit_count * sizeof(s->out->commit[0]));
    if (s->o->trace >= 2) {
        printf("  t=%llu.%03llums node %u h=%llu r=%d %s: in %s, %u actions\n",
               (unsigned long long)(s->now_ns / MS_NS),
               (unsigned long long)(s->now_ns % MS_NS / 1000), i,
               (unsigned long long)cs_height(nd->cs), cs_round(nd->cs),
               cs_step_name(cs_get_step(nd->cs)), input_name(in->type), s->out->n_actions);
    }
    if (s->o->trace >= 3) {
        for (uint32_t k = 0; k < s->out->n_actions; k++) {
            const struct cs_action *a = &s->out->actions[k];
            if (a->type == CS_ACTION_DROP) {
                printf("    drop %s: h=%llu r=%d from %d\n", cs_drop_reason_name(a->u.drop.reason),
                       (unsigned long long)a->u.drop.height, a->u.drop.round,
                       a->u.drop.validator_index);
            } else {
                printf("    action %d\n", (int)a->type);
            }
        }
    }
    process_actions(s, i);
    if (s->res->violation) {
        return;
    }
    if (in->type == CS_INPUT_VOTE) {
        check_evidence(s, i, &in->u.vote);
    }
    check_termination(s, i);
}

static void base_input(struct sim *s, uint32_t i, struct cs_input *in, enum cs_input_type t)
{
    memset(in, 0, sizeof(*in));
    in->type = t;
    in->now_ns = s->now_ns;
    in->wall_ns = EPOCH_NS + s->now_ns + s->nodes[i].skew_ns;
}

static void deliver(struct sim *s, uint32_t i, const struct msg *m, bool own)
{
    struct node *nd = &s->nodes[i];
    struct cs_input in;
    if (m->kind == MSG_VOTE) {
        const struct vote *v = &m->u.vote;
        if (!own && (v->validator_index < 0 || (uint32_t)v->validator_index >= s->n ||
                     !check_sig(v->signature, s->keys[v->validator_index], vote_digest(v)))) {
            s->res->drops++; /* the shell's signature check */
            return;
        }
        base_input(s, i, &in, own ? CS_INPUT_OWN_VOTE : CS_INPUT_VOTE);
        in.u.vote = *v;
        step(s, i, &in);
        bool taken = !s->res->violation;
        for (uint32_t k = 0; taken && k < s->out->n_actions; k++) {
            taken = s->out->actions[k].type != CS_ACTION_DROP;
        }
        if (taken && !own && v->height == cs_height(nd->cs)) {
            new_height_msgs(nd, v->height);
            VEC_PUSH(nd->votes, nd->n_votes, nd->cap_votes, *v);
        }
        return;
    }
    if (m->kind == MSG_PROPOSAL) {
        if (!own && !nd->byz && s->o->sabotage == SIM_SABOTAGE_DROP_PROPOSALS) {
            return; /* rounds go on (nil prevotes time out) but never decide */
        }
        const struct proposal *p = &m->u.proposal;
        int32_t signer = -1;
        uint64_t h = cs_height(nd->cs);
        if (p->height == h && p->round >= 0 && p->round <= cs_round(nd->cs) + CS_MAX_ROUNDS_AHEAD) {
            signer = cs_proposer(nd->cs, p->round);
            if (!check_sig(p->signature, s->keys[signer], proposal_digest(p))) {
                s->res->drops++;
                return;
            }
        }
        base_input(s, i, &in, own ? CS_INPUT_OWN_PROPOSAL : CS_INPUT_PROPOSAL);
        in.u.proposal.proposal = *p;
        in.u.proposal.validator_index = signer;
        step(s, i, &in);
        if (s->res->violation) {
            return;
        }
        if (p->height == h && known_proposal(nd, p->height, p->round) == NULL) {
            new_height_msgs(nd, h);
            VEC_PUSH(nd->props, nd->n_props, nd->cap_props, *m);
        }
        /* The block's parts travel with the proposal. */
        if (!own && block_lookup(s, &p->block_id) != NULL && p->height == cs_height(nd->cs)) {
            base_input(s, i, &in, CS_INPUT_BLOCK_COMPLETE);
            in.u.block.height = p->height;
            in.u.block.block_id = p->block_id;
            step(s, i, &in);
        }
        return;
    }
    if (m->kind == MSG_BLOCK) {
        if (block_lookup(s, &m->u.block.id) == NULL) {
            return;
        }
        base_input(s, i, &in, CS_INPUT_BLOCK_COMPLETE);
        in.u.block.height = m->u.block.height;
        in.u.block.block_id = m->u.block.id;
        step(s, i, &in);
        return;
    }
    if (m->kind == MSG_STATUS) {
        uint64_t ph = m->u.status_height;
        if ((nd->byz && (nd->kind == SIM_BYZ_WITHHOLD || nd->kind == SIM_BYZ_COLLUDE)) || ph == 0 ||
            ph > nd->n_dec || !nd->dec[ph - 1].done) {
            return;
        }
        /* Catch the peer up on a height we decided: block, proposal and commit. */
        const struct decision *d = &nd->dec[ph - 1];
        struct msg r;
        memset(&r, 0, sizeof(r));
        if (d->has_prop) {
            send(s, i, m->from, &d->prop);
        }
        r.kind = MSG_BLOCK;
        r.u.block.height = ph;
        r.u.block.id = d->id;
        send(s, i, m->from, &r);
        memset(&r, 0, sizeof(r));
        r.kind = MSG_COMMIT;
        r.u.commit.height = ph;
        r.u.commit.round = d->n_commit > 0 ? d->commit[0].round : 0;
        r.u.commit.id = d->id;
        r.u.commit.votes = d->commit;
        r.u.commit.count = d->n_commit;
        send(s, i, m->from, &r);
        return;
    }
    if (m->kind == MSG_COMMIT) {
        for (uint32_t k = 0; k < m->u.commit.count; k++) {
            const struct vote *v = &m->u.commit.votes[k];
            if (v->validator_index < 0 || (uint32_t)v->validator_index >= s->n ||
                !check_sig(v->signature, s->keys[v->validator_index], vote_digest(v))) {
                s->res->drops++;
                return;
            }
        }
        base_input(s, i, &in, CS_INPUT_COMMIT);
        in.u.commit.height = m->u.commit.height;
        in.u.commit.round = m->u.commit.round;
        in.u.commit.block_id = m->u.commit.id;
        in.u.commit.votes = m->u.commit.votes;
        in.u.commit.count = m->u.commit.count;
        step(s, i, &in);
    }
}

static void gossip(struct sim *s, uint32_t i)
{
    struct node *nd = &s->nodes[i];
    if (nd->byz && (nd->kind == SIM_BYZ_WITHHOLD || nd->kind == SIM_BYZ_COLLUDE)) {
        return;
    }
    uint64_t h = cs_height(nd->cs);
    if (nd->msgs_height == h) {
        for (size_t k = 0; k < nd->n_own; k++) {
            broadcast(s, i, &nd->own[k].msg, nd->own[k].mask);
        }
        const struct msg *p = known_proposal(nd, h, cs_round(nd->cs));
        if (p != NULL) {
            broadcast(s, i, p, 0);
        }
        /* As CometBFT's reactor: the prevotes of the proof of lock the round's proposal
         * relies on, so that peers can check its POL round. */
        if (p != NULL && p->u.proposal.pol_round >= 0) {
            for (size_t k = 0; k < nd->n_votes; k++) {
                const struct vote *v = &nd->votes[k];
                if (v->type == VOTE_TYPE_PREVOTE && v->round == p->u.proposal.pol_round &&
                    block_id_equal(&v->block_id, &p->u.proposal.block_id)) {
                    struct msg m;
                    memset(&m, 0, sizeof(m));
                    m.kind = MSG_VOTE;
                    m.u.vote = *v;
                    broadcast(s, i, &m, 0);
                }
            }
        }
    }
    struct msg st;
    memset(&st, 0, sizeof(st));
    st.kind = MSG_STATUS;
    st.u.status_height = h;
    broadcast(s, i, &st, 0);
    if (nd->byz && nd->kind == SIM_BYZ_GARBAGE) {
        garbage_burst(s, i);
    }
}

/* ------------------------------------------------------------------------------------- */
/* the run                                                                               */

static void *sim_cs_alloc(size_t size, void *user)
{
    (void)user;
    return calloc(1, size);
}

static void sim_cs_free(void *p, void *user)
{
    (void)user;
    free(p);
}

/* Every node's core configuration, but its own address. */
static void sim_cs_config(struct cs_config *cfg, uint32_t n)
{
    cs_config_default(cfg);
    cfg->max_validators = n;
    cfg->timeout_propose_ms = 300;
    cfg->timeout_propose_delta_ms = 100;
    cfg->timeout_prevote_ms = 100;
    cfg->timeout_prevote_delta_ms = 50;
    cfg->timeout_precommit_ms = 100;
    cfg->timeout_precommit_delta_ms = 50;
    cfg->timeout_commit_ms = 50;
}

/* Honest votes a node may still lack when more than 2/3 of the power has voted, Byzantine
 * votes for other blocks among them: the most honest validators, smallest powers first and
 * not itself, that hold less than 1/3 of the power together. 0 without Byzantine power
 * (every vote held is then honest: a polka, or a failed proposal). */
static uint32_t missing_votes(const struct validator *vals, const bool *byz, uint32_t n)
{
    int64_t total = 0, byz_power = 0;
    uint32_t honest = 0;
    int64_t *powers = xrealloc(NULL, (n + 1) * sizeof(*powers));
    for (uint32_t i = 0; i < n; i++) {
        total += vals[i].voting_power;
        if (byz[i]) {
            byz_power += vals[i].voting_power;
        } else {
            powers[honest++] = vals[i].voting_power;
        }
    }
    for (uint32_t a = 1; a < honest; a++) { /* insertion sort, ascending */
        int64_t p = powers[a];
        uint32_t b = a;
        for (; b > 0 && powers[b - 1] > p; b--) {
            powers[b] = powers[b - 1];
        }
        powers[b] = p;
    }
    uint32_t k = 0;
    int64_t lacking = 0;
    while (byz_power > 0 && k + 1 < honest && 3 * (total - lacking - powers[k]) > 2 * total) {
        lacking += powers[k++];
    }
    free(powers);
    return k;
}

static void partition(struct sim *s)
{
    uint32_t ones = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        s->nodes[i].group = (uint32_t)sim_rng_below(&s->rng, 2);
        ones += s->nodes[i].group;
    }
    if (ones == 0 || ones == s->n) {
        s->nodes[sim_rng_below(&s->rng, s->n)].group ^= 1;
    }
}

static void gst(struct sim *s)
{
    s->gst_passed = true;
    for (uint32_t i = 0; i < s->n; i++) {
        s->nodes[i].group = 0;
        if (s->nodes[i].byz) {
            continue;
        }
        uint64_t h = cs_height(s->nodes[i].cs);
        int32_t r = cs_round(s->nodes[i].cs);
        bool found = false;
        for (size_t k = 0; k < s->n_base; k++) {
            if (s->base[k].height == h) {
                found = true;
                s->base[k].round = r > s->base[k].round ? r : s->base[k].round;
            }
        }
        if (!found) {
            s->base = xrealloc(s->base, (s->n_base + 1) * sizeof(*s->base));
            s->base[s->n_base++] = (struct baseline){h, r};
        }
    }
}

static int setup(struct sim *s)
{
    const struct sim_opts *o = s->o;
    s->n = o->validators;
    s->nodes = calloc(s->n, sizeof(*s->nodes));
    s->keys = calloc(s->n, sizeof(*s->keys));
    struct validator *vals = calloc(s->n, sizeof(*vals));
    bool *byz = calloc(s->n, sizeof(*byz));
    if (s->nodes == NULL || s->keys == NULL || vals == NULL || byz == NULL) {
        free(vals);
        free(byz);
        return -1;
    }
    /* Byzantine validators: random distinct nodes. */
    uint32_t nbyz = o->byzantine;
    if (o->control && nbyz * 3 < o->validators) {
        nbyz = (o->validators + 2) / 3;
    }
    for (uint32_t k = 0; k < nbyz;) {
        uint32_t j = (uint32_t)sim_rng_below(&s->rng, s->n);
        if (!byz[j]) {
            byz[j] = true;
            k++;
        }
    }
    /* Powers: equal (10 each) or random; Byzantine power kept below 1/3 unless control. */
    int64_t honest_power = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        vals[i].voting_power = o->unequal_power ? 1 + (int64_t)sim_rng_below(&s->rng, 10) : 10;
        if (!byz[i]) {
            honest_power += vals[i].voting_power;
        }
    }
    if (o->unequal_power && nbyz > 0) {
        int64_t cap = (honest_power - 1) / 2 / (int64_t)nbyz; /* byz total < honest / 2 */
        if (o->control) {
            cap = honest_power / (int64_t)nbyz + 1; /* byz total > honest / 2: >= 1/3 */
        }
        for (uint32_t i = 0; i < s->n; i++) {
            if (byz[i]) {
                vals[i].voting_power = cap < 1 ? 1 : cap;
            }
        }
        if (!o->control && cap < 1) {
            fprintf(stderr, "phalanx-sim: too many Byzantine validators for their power to "
                            "stay below 1/3\n");
            free(vals);
            free(byz);
            return -1;
        }
    }
    for (uint32_t i = 0; i < s->n; i++) {
        uint64_t st = sim_mix(s->seed, 0x6b6579ull + i);
        for (size_t b = 0; b < VALIDATOR_ADDRESS_SIZE; b++) {
            vals[i].address[b] = (uint8_t)sim_splitmix64(&st);
        }
        vals[i].address[0] = (uint8_t)i; /* distinct */
        vals[i].address[1] = (uint8_t)(i >> 8);
        for (size_t b = 0; b < VALIDATOR_PUBKEY_SIZE; b++) {
            vals[i].pub_key[b] = (uint8_t)sim_splitmix64(&st);
        }
    }
    struct validator_set *genesis = malloc(sizeof(*genesis));
    if (genesis == NULL || validator_set_init(genesis, vals, s->n) != 0) {
        free(genesis);
        free(vals);
        free(byz);
        return -1;
    }
    s->sets = xrealloc(NULL, sizeof(*s->sets));
    s->sets[0] = genesis;
    s->n_sets = 1;
    /* Node i is validator i of the (sorted) set; its Byzantine flag follows its address. */
    uint32_t honest_rank = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        const struct validator *v = &genesis->validators[i];
        uint32_t orig = (uint32_t)v->address[0] | ((uint32_t)v->address[1] << 8);
        nd->byz = byz[orig];
        s->keys[i] = sim_mix(s->seed ^ 0x5349474eull, i);
        nd->skew_ns = sim_rng_below(&s->rng, 50 * MS_NS);
        if (nd->byz) {
            nd->kind = o->control ? SIM_BYZ_COLLUDE : o->byz_kind;
            if (nd->kind == SIM_BYZ_MIXED) {
                nd->kind = (enum sim_byz_kind)sim_rng_below(&s->rng, SIM_BYZ_MIXED);
            }
            nd->parity = 0;
        } else {
            nd->parity = honest_rank++ % 2;
            s->honest++;
        }
        struct cs_config cfg;
        sim_cs_config(&cfg, s->n);
        memcpy(cfg.own_address, v->address, VALIDATOR_ADDRESS_SIZE);
        struct cs_allocator alloc = {sim_cs_alloc, sim_cs_free, NULL};
        if (cs_new(&cfg, &alloc, &nd->cs) != 0) {
            free(vals);
            free(byz);
            return -1;
        }
    }
    struct cs_config cfg;
    sim_cs_config(&cfg, s->n);
    s->honest_bound = sim_bound_rounds(o, &cfg, s->honest, missing_votes(vals, byz, s->n));
    s->res->honest_bound = o->round_bound ? 0 : s->honest_bound;
    free(vals);
    free(byz);
    s->out = calloc(1, sizeof(*s->out));
    s->scratch = malloc(sizeof(*s->scratch));
    if (s->out == NULL || s->scratch == NULL) {
        return -1;
    }
    /* First events: heights start, gossip ticks, partitions, GST. */
    for (uint32_t i = 0; i < s->n; i++) {
        struct event e;
        memset(&e, 0, sizeof(e));
        e.kind = EV_START_HEIGHT;
        e.node = i;
        e.u.height = 1;
        push(s, sim_rng_below(&s->rng, 10 * MS_NS), &e);
        e.kind = EV_GOSSIP;
        push(s, sim_rng_below(&s->rng, (uint64_t)o->gossip_ms * MS_NS), &e);
    }
    struct event e;
    memset(&e, 0, sizeof(e));
    for (uint32_t k = 0; k < o->partitions; k++) {
        e.kind = EV_PARTITION;
        push(s, (uint64_t)o->gst_ms * MS_NS * k / o->partitions, &e);
    }
    e.kind = EV_GST;
    push(s, (uint64_t)o->gst_ms * MS_NS, &e);
    return 0;
}

static void teardown(struct sim *s)
{
    for (uint32_t i = 0; s->nodes != NULL && i < s->n; i++) {
        struct node *nd = &s->nodes[i];
        cs_free(nd->cs);
        free(nd->own);
        free(nd->props);
        free(nd->votes);
        for (size_t k = 0; k < nd->n_dec; k++) {
            free(nd->dec[k].commit);
        }
        free(nd->dec);
    }
    free(s->nodes);
    free(s->keys);
    for (size_t k = 0; k < s->n_sets; k++) {
        free(s->sets[k]);
    }
    free(s->sets);
    free(s->blocks);
    free(s->agreed);
    free(s->agreed_set);
    free(s->heap);
    free(s->base);
    free(s->after_gst);
    for (size_t k = 0; k < s->n_props; k++) {
        free(s->props[k].honest);
    }
    free(s->props);
    free(s->scratch);
    free(s->out);
    kmap_free(&s->signed_map);
    kmap_free(&s->seen_map);
    kmap_free(&s->evidence_map);
}

int sim_run(const struct sim_opts *o, uint64_t seed, struct sim_result *res)
{
    struct sim s;
    memset(&s, 0, sizeof(s));
    memset(res, 0, sizeof(*res));
    s.o = o;
    s.seed = seed;
    s.res = res;
    sim_rng_seed(&s.rng, seed);
    if (setup(&s) != 0) {
        fprintf(stderr, "phalanx-sim: could not set up the run for seed %llu\n",
                (unsigned long long)seed);
        teardown(&s);
        return -1;
    }
    uint64_t limit_ns = ((uint64_t)o->gst_ms + SIM_HEIGHT_BUDGET_MS * o->heights) * MS_NS;
    while (!s.done && s.n_heap > 0) {
        struct event e;
        pop(&s, &e);
        s.now_ns = e.time_ns;
        if (s.now_ns > limit_ns) {
            violation(&s, "termination: honest nodes decided only %llu of %u heights by %llu ms",
                      (unsigned long long)res->heights_decided, o->heights,
                      (unsigned long long)(limit_ns / MS_NS));
            break;
        }
        uint32_t i = e.node;
        struct cs_input in;
        switch (e.kind) {
        case EV_DELIVER:
            deliver(&s, i, &e.u.msg, false);
            break;
        case EV_OWN:
            deliver(&s, i, &e.u.msg, true);
            break;
        case EV_TIMEOUT:
            base_input(&s, i, &in, CS_INPUT_TIMEOUT);
            in.u.timeout.height = e.u.timeout.height;
            in.u.timeout.round = e.u.timeout.round;
            in.u.timeout.step = e.u.timeout.step;
            step(&s, i, &in);
            break;
        case EV_BUILT:
            base_input(&s, i, &in, CS_INPUT_PROPOSAL_BUILT);
            in.u.built.height = e.u.app.height;
            in.u.built.round = e.u.app.round;
            in.u.built.block_id = e.u.app.id;
            step(&s, i, &in);
            break;
        case EV_VALIDATED:
            base_input(&s, i, &in, CS_INPUT_BLOCK_VALIDATED);
            in.u.validated.height = e.u.app.height;
            in.u.validated.block_id = e.u.app.id;
            in.u.validated.valid = e.u.app.valid;
            step(&s, i, &in);
            break;
        case EV_START_HEIGHT:
            base_input(&s, i, &in, CS_INPUT_START_HEIGHT);
            in.u.start.height = e.u.height;
            in.u.start.vals = set_at(&s, e.u.height);
            new_height_msgs(&s.nodes[i], e.u.height);
            step(&s, i, &in);
            break;
        case EV_GOSSIP:
            gossip(&s, i);
            e.kind = EV_GOSSIP;
            push(&s, s.now_ns + (uint64_t)o->gossip_ms * MS_NS, &e);
            break;
        case EV_PARTITION:
            partition(&s);
            break;
        case EV_GST:
            gst(&s);
            break;
        }
        if (res->violation) {
            res->step = res->steps;
        }
    }
    if (!res->violation) {
        res->time_ms = s.now_ns / MS_NS;
    }
    for (size_t k = 0; k < s.n_after_gst; k++) {
        for (int x = 0; x < 2 && s.after_gst[k][0] >= 0; x++) {
            uint32_t b = (uint32_t)s.after_gst[k][x];
            res->after_gst_hist[x][b < SIM_ROUNDS_HIST ? b : SIM_ROUNDS_HIST - 1]++;
        }
    }
    teardown(&s);
    return 0;
}
