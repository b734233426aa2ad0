/*
 * cs: the Tendermint consensus core (see cs.h for the interface and the signing and
 * action-order rules). Pure: no I/O, no clock, no randomness, no allocation outside
 * cs_new(); it never includes nng, sqlite3, pthread, time.h, stdio.h or sodium.
 *
 * States (cs->step) and transitions, with the function that takes each:
 *
 *   INIT ──start_height──▶ NEW_HEIGHT ──start_round(0) on commit timeout──▶ PROPOSE
 *   PROPOSE ──prevote (L22/L28 proposal judged, or propose timeout)──▶ PREVOTE
 *   PREVOTE ──precommit (L36 2/3+ prevotes for a valid block: lock; L44 2/3+ nil;
 *             prevote timeout)──▶ PRECOMMIT
 *   PROPOSE/PREVOTE/PRECOMMIT ──start_round(r+1) on precommit timeout (L65), or
 *             start_round(r') when validators with >1/3 of the power have voted in rounds
 *             >= r' > r (L55, skip_target)──▶ PROPOSE
 *   NEW_HEIGHT/PROPOSE/PREVOTE/PRECOMMIT ──decide (L49: 2/3+ precommits of any round for
 *             a block whose content is complete and valid, in our vote sets or in a
 *             commit received whole, on_commit)──▶ COMMIT
 *   COMMIT ──start_height(h+1)──▶ NEW_HEIGHT (the decided round's precommits become the
 *             last commit; late ones keep being added to it)
 *
 * Facts that hold in each state (checked by check_invariants() at the end of every step):
 *   - INIT: height 0, nothing tracked.
 *   - every other state: height >= 1; the validator set has 1..max_validators members.
 *   - locked_round == -1 exactly when locked_value is nil; the same for valid_round and
 *     valid_value; -1 <= locked_round <= valid_round <= round.
 *   - PROPOSE/PREVOTE/PRECOMMIT: a round slot exists for the current round.
 *   - COMMIT exactly when decided; the decided votes hold 2/3+ for the decided block.
 *   - we never asked to sign two prevotes, two precommits or two proposals for one round,
 *     and never for a round above the current one.
 *
 * Line numbers (L22 ...) refer to Algorithm 1 of the paper. Deviations, on purpose:
 *   - valid(v) is "the block's content is complete and the shell said it is valid"; the
 *     lock (L36) and the decision (L49) need that, not the proposal message itself (as
 *     CometBFT, which commits a block it fetched without its proposal).
 *   - validValue/validRound also follow a POL of an earlier round r' > validRound seen
 *     late (the paper updates them for the current round only).
 *   - a proposal of our locked value is prevoted without waiting for its POL round's
 *     prevotes (L28 would wait; CometBFT does not).
 *   - a validator's second, conflicting vote counts for its block too (see voteset.h).
 *   - the proposer of round r is a copy of the height's set advanced by r (one call of
 *     validator_set_increment_proposer_priority), independent of the path of rounds.
 *   - rounds are tracked in CS_ROUND_SLOTS slots; when all are used, the slot with the
 *     least voting power that is not the current, locked, valid, decided or POL round is
 *     reused, or the message is dropped. The round skip does not depend on slots: it uses
 *     the latest round of each validator.
 */
#include "cs.h"

#include <assert.h>
#include <string.h>

#include "px_error.h"
#include "voteset.h"

enum block_validity {
    BLOCK_UNCHECKED = 0,
    BLOCK_PENDING,
    BLOCK_VALID,
    BLOCK_INVALID,
};

struct cs_block {
    struct block_id id;
    bool complete;
    uint8_t validity; /* enum block_validity */
};

struct skip_entry {
    int32_t round;
    int64_t power;
};

struct cs_round_slot {
    int32_t round; /* -1: free */
    int32_t proposer_index;
    bool has_proposal;
    struct proposal proposal;
    int64_t any_power; /* power of the validators with a vote of any type in the round */
    struct voteset prevotes;
    struct voteset precommits;
};

struct cs {
    struct cs_config cfg;
    struct cs_allocator alloc;
    bool in_step;

    uint64_t height;
    int32_t round;
    enum cs_step step;
    int32_t own_index;

    struct validator_set *vals;
    struct validator_set *last_vals;
    struct validator_set *scratch;

    struct cs_round_slot slots[CS_ROUND_SLOTS];
    struct voteset last_commit;
    bool has_last_commit;
    struct voteset catchup; /* a commit received whole (CS_INPUT_COMMIT) */
    bool has_catchup;
    struct block_id catchup_id;
    struct block_id last_commit_id;

    struct block_id locked_value;
    int32_t locked_round;
    struct block_id valid_value;
    int32_t valid_round;

    /* Per round "for the first time" flags (L34, L36, L47). */
    bool prevote_timeout_scheduled;
    bool precommit_timeout_scheduled;
    bool l36_done;

    /* Highest round we asked to sign for, per step, at this height (-1: none). */
    int32_t signed_proposal_round;
    int32_t signed_prevote_round;
    int32_t signed_precommit_round;
    bool build_pending;

    bool decided;
    int32_t decided_round;
    struct block_id decided_id;
    const struct voteset *decided_votes; /* a slot's precommits or catchup */
    bool commit_timeout_fired;

    struct cs_block blocks[CS_MAX_BLOCKS];
    uint32_t n_blocks;

    /* Round skip (L55): the highest round each validator has voted in at this height
     * (-1: none), whether a vote raised one above our round since the last look, and room
     * to sort (round, power) pairs. Fixed size: max_validators. */
    int32_t *max_round;
    struct skip_entry *skip_scratch;
    bool skip_dirty;

    /* Timeouts scheduled, one per kind (PROPOSE, PREVOTE, PRECOMMIT, COMMIT). */
    struct {
        bool set;
        uint64_t height;
        int32_t round;
        uint64_t deadline_ns;
    } timer[4];

    /* The step being taken. */
    struct cs_output *out;
    uint64_t now_ns;
    uint64_t wall_ns;
    bool commit_used;

    /* Storage of the vote sets, from the allocator. */
    void *mem[5 + 4 * (2 * CS_ROUND_SLOTS + 2)]; /* sets, skip arrays, vote sets */
    uint32_t n_mem;
};

/* ------------------------------------------------------------------------------------- */
/* names, config, lifetime                                                               */

const char *cs_step_name(enum cs_step step)
{
    switch (step) {
    case CS_STEP_INIT:
        return "init";
    case CS_STEP_NEW_HEIGHT:
        return "new_height";
    case CS_STEP_PROPOSE:
        return "propose";
    case CS_STEP_PREVOTE:
        return "prevote";
    case CS_STEP_PRECOMMIT:
        return "precommit";
    case CS_STEP_COMMIT:
        return "commit";
    }
    return "unknown";
}

const char *cs_drop_reason_name(enum cs_drop_reason reason)
{
    switch (reason) {
    case CS_DROP_MALFORMED:
        return "malformed";
    case CS_DROP_WRONG_HEIGHT:
        return "wrong height";
    case CS_DROP_NOT_VALIDATOR:
        return "not a validator";
    case CS_DROP_NOT_PROPOSER:
        return "not the proposer";
    case CS_DROP_ROUND_TOO_FAR:
        return "round too far ahead";
    case CS_DROP_ROUND_BOUND:
        return "round slots full";
    case CS_DROP_BLOCK_BOUND:
        return "block slots full";
    case CS_DROP_DUPLICATE:
        return "duplicate";
    case CS_DROP_CONFLICT_SEEN:
        return "equivocation already reported";
    case CS_DROP_CONFLICTING_PROPOSAL:
        return "conflicting proposal";
    case CS_DROP_STALE:
        return "stale";
    case CS_DROP_STATE:
        return "not expected in this state";
    }
    return "unknown";
}

void cs_config_default(struct cs_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_validators = VALIDATOR_SET_MAX;
    cfg->timeout_propose_ms = 3000;
    cfg->timeout_propose_delta_ms = 500;
    cfg->timeout_prevote_ms = 1000;
    cfg->timeout_prevote_delta_ms = 500;
    cfg->timeout_precommit_ms = 1000;
    cfg->timeout_precommit_delta_ms = 500;
    cfg->timeout_commit_ms = 1000;
}

static void *cs_alloc(struct cs *cs, size_t size)
{
    if (cs->n_mem >= sizeof(cs->mem) / sizeof(cs->mem[0])) {
        return NULL;
    }
    void *p = cs->alloc.alloc(size, cs->alloc.user);
    if (p != NULL) {
        cs->mem[cs->n_mem++] = p;
    }
    return p;
}

static int voteset_alloc(struct cs *cs, struct voteset *vs)
{
    uint32_t cap = cs->cfg.max_validators;
    struct vote *votes = cs_alloc(cs, cap * sizeof(struct vote));
    struct vote *votes2 = cs_alloc(cs, cap * sizeof(struct vote));
    uint8_t *flags = cs_alloc(cs, cap);
    struct voteset_tally *tallies = cs_alloc(cs, (2 * cap + 1) * sizeof(struct voteset_tally));
    if (votes == NULL || votes2 == NULL || flags == NULL || tallies == NULL) {
        return PX_ENOMEM;
    }
    voteset_init(vs, votes, votes2, flags, tallies, cap);
    return 0;
}

int cs_new(const struct cs_config *cfg, const struct cs_allocator *alloc, struct cs **out)
{
    if (cfg == NULL || alloc == NULL || alloc->alloc == NULL || alloc->free == NULL ||
        cfg->max_validators == 0 || cfg->max_validators > VALIDATOR_SET_MAX ||
        cfg->timeout_propose_ms == 0 || cfg->timeout_prevote_ms == 0 ||
        cfg->timeout_precommit_ms == 0) {
        return PX_EINVAL;
    }
    struct cs *cs = alloc->alloc(sizeof(*cs), alloc->user);
    if (cs == NULL) {
        return PX_ENOMEM;
    }
    memset(cs, 0, sizeof(*cs));
    cs->cfg = *cfg;
    cs->alloc = *alloc;
    int rc = 0;
    cs->vals = cs_alloc(cs, sizeof(struct validator_set));
    cs->last_vals = cs_alloc(cs, sizeof(struct validator_set));
    cs->scratch = cs_alloc(cs, sizeof(struct validator_set));
    cs->max_round = cs_alloc(cs, cfg->max_validators * sizeof(int32_t));
    cs->skip_scratch = cs_alloc(cs, cfg->max_validators * sizeof(struct skip_entry));
    if (cs->vals == NULL || cs->last_vals == NULL || cs->scratch == NULL || cs->max_round == NULL ||
        cs->skip_scratch == NULL) {
        rc = PX_ENOMEM;
    }
    for (int i = 0; rc == 0 && i < CS_ROUND_SLOTS; i++) {
        rc = voteset_alloc(cs, &cs->slots[i].prevotes);
        if (rc == 0) {
            rc = voteset_alloc(cs, &cs->slots[i].precommits);
        }
        cs->slots[i].round = -1;
    }
    if (rc == 0) {
        rc = voteset_alloc(cs, &cs->last_commit);
    }
    if (rc == 0) {
        rc = voteset_alloc(cs, &cs->catchup);
    }
    if (rc != 0) {
        cs_free(cs);
        return rc;
    }
    cs->step = CS_STEP_INIT;
    cs->own_index = -1;
    cs->locked_round = -1;
    cs->valid_round = -1;
    cs->decided_round = -1;
    cs->signed_proposal_round = -1;
    cs->signed_prevote_round = -1;
    cs->signed_precommit_round = -1;
    *out = cs;
    return 0;
}

void cs_free(struct cs *cs)
{
    if (cs == NULL) {
        return;
    }
    struct cs_allocator a = cs->alloc;
    for (uint32_t i = 0; i < cs->n_mem; i++) {
        a.free(cs->mem[i], a.user);
    }
    a.free(cs, a.user);
}

/* ------------------------------------------------------------------------------------- */
/* outputs                                                                               */

static struct cs_action *emit(struct cs *cs, enum cs_action_type type)
{
    /* The rules fire a bounded number of times per input (see the header of this file);
     * running out of room is a bug, not something a peer can cause. */
    assert(cs->out->n_actions < CS_MAX_ACTIONS);
    if (cs->out->n_actions >= CS_MAX_ACTIONS) {
        return NULL;
    }
    struct cs_action *a = &cs->out->actions[cs->out->n_actions++];
    memset(a, 0, sizeof(*a));
    a->type = type;
    return a;
}

static void drop(struct cs *cs, enum cs_drop_reason reason, enum cs_input_type input,
                 uint64_t height, int32_t round, int32_t index)
{
    struct cs_action *a = emit(cs, CS_ACTION_DROP);
    if (a != NULL) {
        a->u.drop.reason = reason;
        a->u.drop.input = input;
        a->u.drop.height = height;
        a->u.drop.round = round;
        a->u.drop.validator_index = index;
    }
}

static uint32_t timeout_ms(uint32_t base, uint32_t delta, int32_t round)
{
    uint64_t t = (uint64_t)base + (uint64_t)delta * (uint64_t)(round < 0 ? 0 : round);
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static void schedule(struct cs *cs, int32_t round, enum cs_step step)
{
    const struct cs_config *c = &cs->cfg;
    uint32_t ms = 0;
    switch (step) {
    case CS_STEP_PROPOSE:
        ms = timeout_ms(c->timeout_propose_ms, c->timeout_propose_delta_ms, round);
        break;
    case CS_STEP_PREVOTE:
        ms = timeout_ms(c->timeout_prevote_ms, c->timeout_prevote_delta_ms, round);
        break;
    case CS_STEP_PRECOMMIT:
        ms = timeout_ms(c->timeout_precommit_ms, c->timeout_precommit_delta_ms, round);
        break;
    default:
        ms = c->timeout_commit_ms;
        break;
    }
    int k = step == CS_STEP_PROPOSE     ? 0
            : step == CS_STEP_PREVOTE   ? 1
            : step == CS_STEP_PRECOMMIT ? 2
                                        : 3;
    cs->timer[k].set = true;
    cs->timer[k].height = cs->height;
    cs->timer[k].round = round;
    cs->timer[k].deadline_ns = cs->now_ns + (uint64_t)ms * 1000000u;
    struct cs_action *a = emit(cs, CS_ACTION_SCHEDULE_TIMEOUT);
    if (a != NULL) {
        a->u.timeout.height = cs->height;
        a->u.timeout.round = round;
        a->u.timeout.step = step;
        a->u.timeout.duration_ms = ms;
        a->u.timeout.deadline_ns = cs->now_ns + (uint64_t)ms * 1000000u;
    }
}

/* Copy the votes of vs for id into the output's commit. */
static void fill_commit(struct cs *cs, const struct voteset *vs, const struct block_id *id)
{
    struct cs_output *o = cs->out;
    assert(!cs->commit_used);
    cs->commit_used = true;
    o->commit_height = vs->height;
    o->commit_round = vs->round;
    o->commit_block_id = *id;
    o->commit_count = 0;
    for (uint32_t i = 0; i < vs->vals->count; i++) {
        const struct vote *v = voteset_get_for(vs, (int32_t)i, id);
        if (v != NULL) {
            o->commit[o->commit_count++] = *v;
        }
    }
}

/* Order of the action classes for the shell: sign/send, evidence, app, timers, reports. */
static int action_class(enum cs_action_type t)
{
    switch (t) {
    case CS_ACTION_SIGN_PROPOSAL:
    case CS_ACTION_SIGN_VOTE:
        return 0;
    case CS_ACTION_EVIDENCE:
        return 1;
    case CS_ACTION_DECIDE:
    case CS_ACTION_BUILD_PROPOSAL:
    case CS_ACTION_VALIDATE_BLOCK:
        return 2;
    case CS_ACTION_SCHEDULE_TIMEOUT:
        return 3;
    case CS_ACTION_DROP:
        return 4;
    }
    return 5;
}

static void sort_actions(struct cs_output *o)
{
    for (uint32_t i = 1; i < o->n_actions; i++) {
        struct cs_action x = o->actions[i];
        uint32_t j = i;
        while (j > 0 && action_class(o->actions[j - 1].type) > action_class(x.type)) {
            o->actions[j] = o->actions[j - 1];
            j--;
        }
        o->actions[j] = x;
    }
}

/* ------------------------------------------------------------------------------------- */
/* rounds, proposers, blocks                                                             */

static int32_t proposer_of(struct cs *cs, int32_t round)
{
    if (round <= 0) {
        return cs->vals->proposer_index;
    }
    validator_set_copy(cs->scratch, cs->vals);
    int rc = validator_set_increment_proposer_priority(cs->scratch, round);
    assert(rc == 0);
    (void)rc;
    return cs->scratch->proposer_index;
}

static struct cs_round_slot *slot_find(struct cs *cs, int32_t round)
{
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        if (cs->slots[i].round == round) {
            return &cs->slots[i];
        }
    }
    return NULL;
}

static bool slot_protected(const struct cs *cs, int32_t round)
{
    if (round == cs->round || round == cs->locked_round || round == cs->valid_round ||
        (cs->decided && round == cs->decided_round)) {
        return true;
    }
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        const struct cs_round_slot *s = &cs->slots[i];
        if (s->round == cs->round && s->has_proposal && s->proposal.pol_round == round) {
            return true;
        }
    }
    return false;
}

static void slot_reset(struct cs *cs, struct cs_round_slot *s, int32_t round)
{
    s->round = round;
    s->has_proposal = false;
    memset(&s->proposal, 0, sizeof(s->proposal));
    s->any_power = 0;
    s->proposer_index = proposer_of(cs, round);
    int rc = voteset_reset(&s->prevotes, cs->height, round, VOTE_TYPE_PREVOTE, cs->vals);
    rc |= voteset_reset(&s->precommits, cs->height, round, VOTE_TYPE_PRECOMMIT, cs->vals);
    assert(rc == 0); /* the set was checked against max_validators at start_height */
    (void)rc;
}

/* The slot of `round`, made if needed. A new round takes a free slot, or the unprotected
 * slot of least power if that is below `power` (or equal and in the past); `force` takes
 * the least-power unprotected slot whatever its power (for our own current round).
 * NULL if there is no room. */
static struct cs_round_slot *slot_get(struct cs *cs, int32_t round, int64_t power, bool force)
{
    struct cs_round_slot *s = slot_find(cs, round);
    if (s != NULL) {
        return s;
    }
    struct cs_round_slot *victim = NULL;
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        struct cs_round_slot *c = &cs->slots[i];
        if (c->round < 0) {
            victim = c;
            break;
        }
        if (slot_protected(cs, c->round)) {
            continue;
        }
        if (victim == NULL || c->any_power < victim->any_power ||
            (c->any_power == victim->any_power && c->round < victim->round)) {
            victim = c;
        }
    }
    if (victim == NULL) {
        return NULL;
    }
    if (victim->round >= 0 && !force &&
        !(victim->any_power < power || (victim->any_power == power && victim->round < cs->round))) {
        return NULL;
    }
    slot_reset(cs, victim, round);
    return victim;
}

static struct cs_block *block_find(struct cs *cs, const struct block_id *id)
{
    for (uint32_t i = 0; i < cs->n_blocks; i++) {
        if (block_id_equal(&cs->blocks[i].id, id)) {
            return &cs->blocks[i];
        }
    }
    return NULL;
}

static bool block_referenced(const struct cs *cs, const struct cs_block *b)
{
    if (b->validity == BLOCK_PENDING || block_id_equal(&b->id, &cs->locked_value) ||
        block_id_equal(&b->id, &cs->valid_value) ||
        (cs->decided && block_id_equal(&b->id, &cs->decided_id)) ||
        (cs->has_catchup && block_id_equal(&b->id, &cs->catchup_id))) {
        return true;
    }
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        const struct cs_round_slot *s = &cs->slots[i];
        if (s->round >= 0 && s->has_proposal && block_id_equal(&s->proposal.block_id, &b->id)) {
            return true;
        }
    }
    return false;
}

/* The entry of id, made if needed (reusing an unreferenced one); NULL if full. */
static struct cs_block *block_get(struct cs *cs, const struct block_id *id)
{
    struct cs_block *b = block_find(cs, id);
    if (b != NULL) {
        return b;
    }
    if (cs->n_blocks < CS_MAX_BLOCKS) {
        b = &cs->blocks[cs->n_blocks++];
    } else {
        for (uint32_t i = 0; i < cs->n_blocks && b == NULL; i++) {
            if (!block_referenced(cs, &cs->blocks[i])) {
                b = &cs->blocks[i];
            }
        }
        if (b == NULL) {
            return NULL;
        }
    }
    memset(b, 0, sizeof(*b));
    b->id = *id;
    return b;
}

static bool block_valid(struct cs *cs, const struct block_id *id)
{
    const struct cs_block *b = block_find(cs, id);
    return b != NULL && b->complete && b->validity == BLOCK_VALID;
}

/* BLOCK_VALID, BLOCK_INVALID, or BLOCK_PENDING while the answer is not known. */
static int block_judgement(struct cs *cs, const struct block_id *id)
{
    const struct cs_block *b = block_find(cs, id);
    if (b == NULL || !b->complete) {
        return BLOCK_PENDING;
    }
    return b->validity == BLOCK_VALID || b->validity == BLOCK_INVALID ? b->validity : BLOCK_PENDING;
}

/* ------------------------------------------------------------------------------------- */
/* our own messages                                                                      */

static void sign_vote(struct cs *cs, enum vote_type type, const struct block_id *id)
{
    int32_t *guard =
        type == VOTE_TYPE_PREVOTE ? &cs->signed_prevote_round : &cs->signed_precommit_round;
    if (cs->own_index < 0 || *guard >= cs->round) {
        return;
    }
    *guard = cs->round;
    struct cs_action *a = emit(cs, CS_ACTION_SIGN_VOTE);
    if (a == NULL) {
        return;
    }
    struct vote *v = &a->u.vote;
    v->type = type;
    v->height = cs->height;
    v->round = cs->round;
    v->block_id = *id;
    v->timestamp_ns = cs->wall_ns;
    memcpy(v->validator_address, cs->vals->validators[cs->own_index].address, VOTE_ADDRESS_SIZE);
    v->validator_index = cs->own_index;
}

static void sign_proposal(struct cs *cs, const struct block_id *id, int32_t pol_round)
{
    if (cs->own_index < 0 || cs->signed_proposal_round >= cs->round) {
        return;
    }
    cs->signed_proposal_round = cs->round;
    struct cs_action *a = emit(cs, CS_ACTION_SIGN_PROPOSAL);
    if (a == NULL) {
        return;
    }
    struct proposal *p = &a->u.proposal;
    p->height = cs->height;
    p->round = cs->round;
    p->pol_round = pol_round;
    p->block_id = *id;
    p->timestamp_ns = cs->wall_ns;
}

/* ------------------------------------------------------------------------------------- */
/* the algorithm                                                                         */

/* StartRound (L11). */
static void start_round(struct cs *cs, int32_t round)
{
    cs->round = round;
    cs->step = CS_STEP_PROPOSE;
    cs->prevote_timeout_scheduled = false;
    cs->precommit_timeout_scheduled = false;
    cs->l36_done = false;
    cs->build_pending = false;
    struct cs_round_slot *s = slot_get(cs, round, 0, true);
    assert(s != NULL); /* fewer protected rounds than slots */
    if (s->proposer_index == cs->own_index && cs->own_index >= 0 &&
        cs->signed_proposal_round < round) {
        if (cs->valid_round >= 0) {
            sign_proposal(cs, &cs->valid_value, cs->valid_round);
        } else {
            struct cs_action *a = emit(cs, CS_ACTION_BUILD_PROPOSAL);
            if (a != NULL) {
                a->u.build.height = cs->height;
                a->u.build.round = round;
                if (cs->has_last_commit) {
                    fill_commit(cs, &cs->last_commit, &cs->last_commit_id);
                }
            }
            cs->build_pending = true;
        }
    }
    schedule(cs, round, CS_STEP_PROPOSE);
}

static void prevote(struct cs *cs, const struct block_id *id)
{
    sign_vote(cs, VOTE_TYPE_PREVOTE, id);
    cs->step = CS_STEP_PREVOTE;
}

static void precommit(struct cs *cs, const struct block_id *id)
{
    sign_vote(cs, VOTE_TYPE_PRECOMMIT, id);
    cs->step = CS_STEP_PRECOMMIT;
}

static void decide(struct cs *cs, const struct voteset *votes, const struct block_id *id)
{
    cs->decided = true;
    cs->decided_round = votes->round;
    cs->decided_id = *id;
    cs->decided_votes = votes;
    cs->step = CS_STEP_COMMIT;
    cs->commit_timeout_fired = false;
    struct cs_action *a = emit(cs, CS_ACTION_DECIDE);
    if (a != NULL) {
        a->u.decide.height = cs->height;
        a->u.decide.round = votes->round;
        a->u.decide.block_id = *id;
        fill_commit(cs, votes, id);
    }
    schedule(cs, votes->round, CS_STEP_COMMIT);
}

static bool in_round(const struct cs *cs)
{
    return cs->step == CS_STEP_PROPOSE || cs->step == CS_STEP_PREVOTE ||
           cs->step == CS_STEP_PRECOMMIT;
}

/* L22 and L28 while in PROPOSE: judge the proposal of the round. */
static bool rule_proposal(struct cs *cs, struct cs_round_slot *cur)
{
    if (cs->step != CS_STEP_PROPOSE || !cur->has_proposal) {
        return false;
    }
    const struct proposal *p = &cur->proposal;
    struct block_id nil;
    block_id_set_nil(&nil);
    bool locked_on_it = block_id_equal(&cs->locked_value, &p->block_id);
    /* Our own locked value needs no proof: prevoting it is what L22 would do (CometBFT
     * does the same). Any other value with a POL round waits for the POL (L28). */
    if (p->pol_round >= 0 && !locked_on_it) {
        const struct cs_round_slot *pol = slot_find(cs, p->pol_round);
        struct block_id maj;
        if (pol == NULL || !voteset_has_two_thirds_majority(&pol->prevotes, &maj) ||
            !block_id_equal(&maj, &p->block_id)) {
            return false; /* no proof of lock (yet): the propose timeout decides */
        }
    }
    int j = block_judgement(cs, &p->block_id);
    if (j == BLOCK_PENDING) {
        return false;
    }
    bool ok = j == BLOCK_VALID && (cs->locked_round == -1 || locked_on_it ||
                                   (p->pol_round >= 0 && cs->locked_round <= p->pol_round));
    prevote(cs, ok ? &p->block_id : &nil);
    return true;
}

/* L55 with votes counted per validator: the highest round R above ours such that the
 * validators whose latest vote is in a round >= R hold more than 1/3 of the power (they
 * are in R or beyond, so at least one honest validator is). -1 if none. Tracking the
 * latest round per validator, not per round slot, means a Byzantine validator filling the
 * round slots cannot hide that the others moved on. */
static int32_t skip_target(struct cs *cs)
{
    if (!cs->skip_dirty) {
        return -1;
    }
    cs->skip_dirty = false;
    uint32_t n = 0;
    for (uint32_t i = 0; i < cs->vals->count; i++) {
        if (cs->max_round[i] > cs->round) {
            struct skip_entry e = {cs->max_round[i], cs->vals->validators[i].voting_power};
            uint32_t j = n++;
            while (j > 0 && cs->skip_scratch[j - 1].round < e.round) { /* descending */
                cs->skip_scratch[j] = cs->skip_scratch[j - 1];
                j--;
            }
            cs->skip_scratch[j] = e;
        }
    }
    int64_t power = 0;
    for (uint32_t k = 0; k < n; k++) {
        power += cs->skip_scratch[k].power;
        if (validator_set_is_one_third(power, cs->vals->total_voting_power)) {
            return cs->skip_scratch[k].round;
        }
    }
    return -1;
}

/* One rule that fires, in priority order; false when none does. */
static bool apply_one_rule(struct cs *cs)
{
    if (cs->step == CS_STEP_NEW_HEIGHT && cs->commit_timeout_fired) {
        start_round(cs, 0);
        return true;
    }
    if (cs->step == CS_STEP_INIT || cs->step == CS_STEP_COMMIT) {
        return false;
    }
    /* L49: 2/3+ precommits for a valid block in any round: decide. */
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        struct cs_round_slot *s = &cs->slots[i];
        struct block_id maj;
        if (s->round >= 0 && voteset_has_two_thirds_majority(&s->precommits, &maj) &&
            !block_id_is_nil(&maj) && block_valid(cs, &maj)) {
            decide(cs, &s->precommits, &maj);
            return true;
        }
    }
    if (cs->has_catchup && block_valid(cs, &cs->catchup_id)) {
        decide(cs, &cs->catchup, &cs->catchup_id);
        return true;
    }
    if (!in_round(cs)) {
        return false;
    }
    /* L55: more than 1/3 of the power is in a higher round: go there. */
    int32_t skip = skip_target(cs);
    if (skip > cs->round) {
        start_round(cs, skip);
        return true;
    }
    struct cs_round_slot *cur = slot_find(cs, cs->round);
    assert(cur != NULL);
    if (rule_proposal(cs, cur)) {
        return true;
    }
    struct block_id maj;
    bool prevote_maj = voteset_has_two_thirds_majority(&cur->prevotes, &maj);
    /* L34: 2/3+ prevotes of any kind: the prevote timeout. */
    if (cs->step == CS_STEP_PREVOTE && !cs->prevote_timeout_scheduled &&
        voteset_has_two_thirds_any(&cur->prevotes)) {
        cs->prevote_timeout_scheduled = true;
        schedule(cs, cs->round, CS_STEP_PREVOTE);
        return true;
    }
    /* L36: 2/3+ prevotes for a valid block: lock (if still prevoting) and remember it. */
    if ((cs->step == CS_STEP_PREVOTE || cs->step == CS_STEP_PRECOMMIT) && !cs->l36_done &&
        prevote_maj && !block_id_is_nil(&maj) && block_valid(cs, &maj)) {
        cs->l36_done = true;
        if (cs->step == CS_STEP_PREVOTE) {
            cs->locked_value = maj;
            cs->locked_round = cs->round;
            precommit(cs, &maj);
        }
        cs->valid_value = maj;
        cs->valid_round = cs->round;
        return true;
    }
    /* Valid value from an earlier round (as the paper's L36 does for the current one): a
     * POL for a valid block in a round after validRound, seen late. Only what we would
     * propose changes (receivers check the POL), so safety is untouched; it spares the
     * wait for the one locked proposer to come round again. */
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        const struct cs_round_slot *s = &cs->slots[i];
        struct block_id pol;
        if (s->round > cs->valid_round && s->round < cs->round &&
            voteset_has_two_thirds_majority(&s->prevotes, &pol) && !block_id_is_nil(&pol) &&
            block_valid(cs, &pol)) {
            cs->valid_value = pol;
            cs->valid_round = s->round;
            return true;
        }
    }
    /* L44: 2/3+ prevotes for nil: precommit nil. */
    if (cs->step == CS_STEP_PREVOTE && prevote_maj && block_id_is_nil(&maj)) {
        precommit(cs, &maj);
        return true;
    }
    /* L47: 2/3+ precommits of any kind: the precommit timeout. */
    if (!cs->precommit_timeout_scheduled && voteset_has_two_thirds_any(&cur->precommits)) {
        cs->precommit_timeout_scheduled = true;
        schedule(cs, cs->round, CS_STEP_PRECOMMIT);
        return true;
    }
    return false;
}

static void progress(struct cs *cs)
{
    /* Every rule changes the state so that it cannot fire again without a new input;
     * the bound only guards against a bug. */
    for (int i = 0; i < 64 && apply_one_rule(cs); i++) {
    }
}

/* ------------------------------------------------------------------------------------- */
/* inputs                                                                                */

static void evidence(struct cs *cs, const struct vote *a, const struct vote *b)
{
    struct cs_action *act = emit(cs, CS_ACTION_EVIDENCE);
    if (act == NULL) {
        return;
    }
    bool a_first = block_id_compare(&a->block_id, &b->block_id) < 0;
    act->u.evidence.a = a_first ? *a : *b;
    act->u.evidence.b = a_first ? *b : *a;
}

/* Add v to vs and report what the caller must know. True if it was newly counted. */
static bool add_to(struct cs *cs, struct voteset *vs, const struct vote *v, enum cs_input_type it)
{
    enum voteset_result res;
    const struct vote *existing = NULL;
    if (voteset_add(vs, v, &res, &existing) != 0) {
        drop(cs, CS_DROP_NOT_VALIDATOR, it, v->height, v->round, v->validator_index);
        return false;
    }
    switch (res) {
    case VOTESET_ADDED:
        return true;
    case VOTESET_DUPLICATE:
        drop(cs, CS_DROP_DUPLICATE, it, v->height, v->round, v->validator_index);
        return false;
    case VOTESET_CONFLICT:
        evidence(cs, existing, v);
        return false;
    case VOTESET_CONFLICT_SEEN:
        drop(cs, CS_DROP_CONFLICT_SEEN, it, v->height, v->round, v->validator_index);
        return false;
    case VOTESET_REPLACED: /* counted instead of the second; evidence already given */
        return false;
    }
    return false;
}

static void on_vote(struct cs *cs, const struct vote *v, enum cs_input_type it)
{
    if (cs->step == CS_STEP_INIT) {
        drop(cs, CS_DROP_STATE, it, v->height, v->round, v->validator_index);
        return;
    }
    if (vote_validate_basic(v) != 0 || v->round > CS_MAX_ROUND) {
        drop(cs, CS_DROP_MALFORMED, it, v->height, v->round, v->validator_index);
        return;
    }
    if (v->height + 1 == cs->height && v->type == VOTE_TYPE_PRECOMMIT && cs->has_last_commit &&
        v->round == cs->last_commit.round) {
        add_to(cs, &cs->last_commit, v, it); /* LastCommit: late precommits */
        return;
    }
    if (v->height != cs->height) {
        drop(cs, CS_DROP_WRONG_HEIGHT, it, v->height, v->round, v->validator_index);
        return;
    }
    const struct validator *val = validator_set_get(cs->vals, v->validator_index);
    if (val == NULL || memcmp(val->address, v->validator_address, VALIDATOR_ADDRESS_SIZE) != 0) {
        drop(cs, CS_DROP_NOT_VALIDATOR, it, v->height, v->round, v->validator_index);
        return;
    }
    if (it == CS_INPUT_OWN_VOTE && v->validator_index != cs->own_index) {
        drop(cs, CS_DROP_NOT_VALIDATOR, it, v->height, v->round, v->validator_index);
        return;
    }
    if (v->round > cs->round + CS_MAX_ROUNDS_AHEAD) {
        drop(cs, CS_DROP_ROUND_TOO_FAR, it, v->height, v->round, v->validator_index);
        return;
    }
    if (v->round > cs->max_round[v->validator_index]) {
        cs->max_round[v->validator_index] = v->round;
        cs->skip_dirty = cs->skip_dirty || v->round > cs->round;
    }
    struct cs_round_slot *s = slot_get(cs, v->round, val->voting_power, false);
    if (s == NULL) {
        drop(cs, CS_DROP_ROUND_BOUND, it, v->height, v->round, v->validator_index);
        return;
    }
    bool pre = v->type == VOTE_TYPE_PREVOTE;
    struct voteset *vs = pre ? &s->prevotes : &s->precommits;
    const struct voteset *other = pre ? &s->precommits : &s->prevotes;
    if (add_to(cs, vs, v, it) && !voteset_has(other, v->validator_index)) {
        s->any_power += val->voting_power;
    }
}

static void on_proposal(struct cs *cs, const struct proposal *p, int32_t signer,
                        enum cs_input_type it)
{
    if (cs->step == CS_STEP_INIT) {
        drop(cs, CS_DROP_STATE, it, p->height, p->round, signer);
        return;
    }
    if (proposal_validate_basic(p) != 0 || p->round > CS_MAX_ROUND) {
        drop(cs, CS_DROP_MALFORMED, it, p->height, p->round, signer);
        return;
    }
    if (p->height != cs->height) {
        drop(cs, CS_DROP_WRONG_HEIGHT, it, p->height, p->round, signer);
        return;
    }
    if (p->round > cs->round + CS_MAX_ROUNDS_AHEAD) {
        drop(cs, CS_DROP_ROUND_TOO_FAR, it, p->height, p->round, signer);
        return;
    }
    const struct validator *val = validator_set_get(cs->vals, signer);
    struct cs_round_slot *s = slot_find(cs, p->round);
    int32_t proposer = s != NULL ? s->proposer_index : proposer_of(cs, p->round);
    if (val == NULL || signer != proposer ||
        (it == CS_INPUT_OWN_PROPOSAL && signer != cs->own_index)) {
        drop(cs, CS_DROP_NOT_PROPOSER, it, p->height, p->round, signer);
        return;
    }
    if (s == NULL) {
        s = slot_get(cs, p->round, val->voting_power, false);
    }
    if (s == NULL) {
        drop(cs, CS_DROP_ROUND_BOUND, it, p->height, p->round, signer);
        return;
    }
    if (s->has_proposal) {
        bool same = block_id_equal(&s->proposal.block_id, &p->block_id) &&
                    s->proposal.pol_round == p->pol_round;
        drop(cs, same ? CS_DROP_DUPLICATE : CS_DROP_CONFLICTING_PROPOSAL, it, p->height, p->round,
             signer);
        return;
    }
    s->has_proposal = true;
    s->proposal = *p;
    (void)block_get(cs, &p->block_id); /* remember it; content may come later */
}

static void on_block_complete(struct cs *cs, uint64_t height, const struct block_id *id)
{
    enum cs_input_type it = CS_INPUT_BLOCK_COMPLETE;
    if (cs->step == CS_STEP_INIT) {
        drop(cs, CS_DROP_STATE, it, height, -1, -1);
        return;
    }
    if (!block_id_is_complete(id)) {
        drop(cs, CS_DROP_MALFORMED, it, height, -1, -1);
        return;
    }
    if (height != cs->height) {
        drop(cs, CS_DROP_WRONG_HEIGHT, it, height, -1, -1);
        return;
    }
    struct cs_block *b = block_get(cs, id);
    if (b == NULL) {
        drop(cs, CS_DROP_BLOCK_BOUND, it, height, -1, -1);
        return;
    }
    if (b->complete) {
        drop(cs, CS_DROP_DUPLICATE, it, height, -1, -1);
        return;
    }
    b->complete = true;
    if (b->validity == BLOCK_UNCHECKED) {
        b->validity = BLOCK_PENDING;
        struct cs_action *a = emit(cs, CS_ACTION_VALIDATE_BLOCK);
        if (a != NULL) {
            a->u.validate.height = height;
            a->u.validate.block_id = *id;
        }
    }
}

static void on_validated(struct cs *cs, uint64_t height, const struct block_id *id, bool valid)
{
    struct cs_block *b =
        cs->step == CS_STEP_INIT || height != cs->height ? NULL : block_find(cs, id);
    if (b == NULL || b->validity != BLOCK_PENDING) {
        drop(cs, CS_DROP_STALE, CS_INPUT_BLOCK_VALIDATED, height, -1, -1);
        return;
    }
    b->validity = valid ? BLOCK_VALID : BLOCK_INVALID;
}

static void on_built(struct cs *cs, uint64_t height, int32_t round, const struct block_id *id)
{
    enum cs_input_type it = CS_INPUT_PROPOSAL_BUILT;
    if (height != cs->height || round != cs->round || cs->step != CS_STEP_PROPOSE ||
        !cs->build_pending) {
        drop(cs, CS_DROP_STALE, it, height, round, cs->own_index);
        return;
    }
    if (!block_id_is_complete(id)) {
        drop(cs, CS_DROP_MALFORMED, it, height, round, cs->own_index);
        return;
    }
    struct cs_block *b = block_get(cs, id);
    if (b == NULL) {
        drop(cs, CS_DROP_BLOCK_BOUND, it, height, round, cs->own_index);
        return;
    }
    cs->build_pending = false;
    b->complete = true;
    b->validity = BLOCK_VALID; /* our own application built it */
    sign_proposal(cs, id, -1);
}

static void on_commit(struct cs *cs, const struct cs_input *in)
{
    enum cs_input_type it = CS_INPUT_COMMIT;
    uint64_t h = in->u.commit.height;
    int32_t r = in->u.commit.round;
    const struct block_id *id = &in->u.commit.block_id;
    if (cs->step == CS_STEP_INIT) {
        drop(cs, CS_DROP_STATE, it, h, r, -1);
        return;
    }
    if (h != cs->height) {
        drop(cs, CS_DROP_WRONG_HEIGHT, it, h, r, -1);
        return;
    }
    if (cs->decided || cs->has_catchup) {
        drop(cs, CS_DROP_DUPLICATE, it, h, r, -1);
        return;
    }
    if (r < 0 || r > CS_MAX_ROUND || !block_id_is_complete(id) ||
        in->u.commit.count > cs->vals->count ||
        (in->u.commit.count > 0 && in->u.commit.votes == NULL)) {
        drop(cs, CS_DROP_MALFORMED, it, h, r, -1);
        return;
    }
    int rc = voteset_reset(&cs->catchup, h, r, VOTE_TYPE_PRECOMMIT, cs->vals);
    assert(rc == 0);
    (void)rc;
    for (uint32_t i = 0; i < in->u.commit.count; i++) {
        const struct vote *v = &in->u.commit.votes[i];
        enum voteset_result res;
        if (vote_validate_basic(v) != 0 || !block_id_equal(&v->block_id, id) ||
            voteset_add(&cs->catchup, v, &res, NULL) != 0 || res != VOTESET_ADDED) {
            drop(cs, CS_DROP_MALFORMED, it, h, r, v->validator_index);
            return;
        }
    }
    struct block_id maj;
    if (!voteset_has_two_thirds_majority(&cs->catchup, &maj)) {
        drop(cs, CS_DROP_MALFORMED, it, h, r, -1); /* not enough power */
        return;
    }
    struct cs_block *b = block_get(cs, id);
    if (b == NULL) {
        drop(cs, CS_DROP_BLOCK_BOUND, it, h, r, -1);
        return;
    }
    cs->has_catchup = true;
    cs->catchup_id = *id;
}

static void on_timeout(struct cs *cs, uint64_t height, int32_t round, enum cs_step step)
{
    enum cs_input_type it = CS_INPUT_TIMEOUT;
    if (step == CS_STEP_COMMIT) {
        bool ours = (cs->step == CS_STEP_COMMIT && height == cs->height) ||
                    (cs->step == CS_STEP_NEW_HEIGHT && height + 1 == cs->height &&
                     cs->has_last_commit && round == cs->last_commit.round);
        if (!ours || cs->commit_timeout_fired) {
            drop(cs, CS_DROP_STALE, it, height, round, -1);
            return;
        }
        cs->commit_timeout_fired = true;
        return;
    }
    if (height != cs->height || round != cs->round || !in_round(cs)) {
        drop(cs, CS_DROP_STALE, it, height, round, -1);
        return;
    }
    struct block_id nil;
    block_id_set_nil(&nil);
    switch (step) {
    case CS_STEP_PROPOSE: /* L57 */
        if (cs->step == CS_STEP_PROPOSE) {
            prevote(cs, &nil);
            return;
        }
        break;
    case CS_STEP_PREVOTE: /* L61 */
        if (cs->step == CS_STEP_PREVOTE) {
            precommit(cs, &nil);
            return;
        }
        break;
    case CS_STEP_PRECOMMIT: /* L65 */
        start_round(cs, cs->round + 1);
        return;
    default:
        break;
    }
    drop(cs, CS_DROP_STALE, it, height, round, -1);
}

static int on_start_height(struct cs *cs, const struct cs_input *in)
{
    uint64_t h = in->u.start.height;
    const struct validator_set *vals = in->u.start.vals;
    bool fresh = cs->step == CS_STEP_INIT;
    if (h == 0 || (!fresh && !(cs->step == CS_STEP_COMMIT && h == cs->height + 1))) {
        return PX_ESTATE;
    }
    if (vals == NULL || vals->count == 0 || vals->proposer_index < 0) {
        return PX_EINVAL;
    }
    if (vals->count > cs->cfg.max_validators) {
        return PX_EBOUND;
    }
    const struct validator_set *lv = in->u.start.last_vals;
    uint32_t lcn = in->u.start.last_commit_count;
    if (fresh && lcn > 0) {
        if (lv == NULL || lv->count > cs->cfg.max_validators || h < 2) {
            return PX_EINVAL;
        }
        const struct vote *lc = in->u.start.last_commit;
        for (uint32_t i = 0; i < lcn; i++) {
            if (lc[i].type != VOTE_TYPE_PRECOMMIT || lc[i].height != h - 1 ||
                lc[i].round != lc[0].round || !block_id_equal(&lc[i].block_id, &lc[0].block_id) ||
                block_id_is_nil(&lc[0].block_id) || lc[0].round < 0) {
                return PX_EINVAL;
            }
        }
    }
    /* Checks done: from here the state changes. */
    if (!fresh) {
        validator_set_copy(cs->last_vals, cs->vals);
        voteset_copy(&cs->last_commit, cs->decided_votes);
        cs->last_commit.vals = cs->last_vals;
        cs->has_last_commit = true;
        cs->last_commit_id = cs->decided_id;
    } else if (lcn > 0) {
        const struct vote *lc = in->u.start.last_commit;
        validator_set_copy(cs->last_vals, lv);
        voteset_reset(&cs->last_commit, h - 1, lc[0].round, VOTE_TYPE_PRECOMMIT, cs->last_vals);
        for (uint32_t i = 0; i < lcn; i++) {
            enum voteset_result res;
            (void)voteset_add(&cs->last_commit, &lc[i], &res, NULL);
        }
        cs->has_last_commit = true;
        cs->last_commit_id = lc[0].block_id;
        cs->commit_timeout_fired = true;
    } else {
        cs->has_last_commit = false;
        cs->commit_timeout_fired = true;
    }
    validator_set_copy(cs->vals, vals);
    cs->height = h;
    cs->round = 0;
    cs->step = CS_STEP_NEW_HEIGHT;
    cs->own_index = -1;
    static const uint8_t zero[VALIDATOR_ADDRESS_SIZE] = {0};
    if (memcmp(cs->cfg.own_address, zero, sizeof(zero)) != 0) {
        cs->own_index = validator_set_find(cs->vals, cs->cfg.own_address);
    }
    block_id_set_nil(&cs->locked_value);
    block_id_set_nil(&cs->valid_value);
    block_id_set_nil(&cs->decided_id);
    cs->locked_round = -1;
    cs->valid_round = -1;
    cs->decided = false;
    cs->decided_round = -1;
    cs->decided_votes = NULL;
    cs->has_catchup = false;
    cs->signed_proposal_round = -1;
    cs->signed_prevote_round = -1;
    cs->signed_precommit_round = -1;
    cs->build_pending = false;
    cs->prevote_timeout_scheduled = false;
    cs->precommit_timeout_scheduled = false;
    cs->l36_done = false;
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        cs->slots[i].round = -1;
    }
    for (uint32_t i = 0; i < cs->cfg.max_validators; i++) {
        cs->max_round[i] = -1;
    }
    cs->skip_dirty = false;
    cs->n_blocks = 0;
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* the step                                                                              */

static void check_invariants(const struct cs *cs)
{
#ifndef NDEBUG
    if (cs->step == CS_STEP_INIT) {
        assert(cs->height == 0);
        return;
    }
    assert(cs->height >= 1);
    assert(cs->vals->count >= 1 && cs->vals->count <= cs->cfg.max_validators);
    assert((cs->locked_round == -1) == block_id_is_nil(&cs->locked_value));
    assert((cs->valid_round == -1) == block_id_is_nil(&cs->valid_value));
    assert(cs->locked_round <= cs->valid_round);
    assert(cs->valid_round <= cs->round);
    assert(cs->round >= 0 && cs->round <= CS_MAX_ROUND + CS_MAX_ROUNDS_AHEAD + 1);
    if (in_round(cs)) {
        bool found = false;
        for (int i = 0; i < CS_ROUND_SLOTS; i++) {
            found = found || cs->slots[i].round == cs->round;
        }
        assert(found);
    }
    assert(cs->decided == (cs->step == CS_STEP_COMMIT));
    if (cs->decided) {
        struct block_id maj;
        assert(cs->decided_votes != NULL && cs->decided_votes->round == cs->decided_round);
        assert(voteset_has_two_thirds_majority(cs->decided_votes, &maj) &&
               block_id_equal(&maj, &cs->decided_id));
        assert(!block_id_is_nil(&cs->decided_id));
    }
    assert(cs->signed_proposal_round <= cs->round);
    assert(cs->signed_prevote_round <= cs->round);
    assert(cs->signed_precommit_round <= cs->round);
    assert(cs->n_blocks <= CS_MAX_BLOCKS);
    for (int i = 0; i < CS_ROUND_SLOTS; i++) {
        for (int j = i + 1; j < CS_ROUND_SLOTS; j++) {
            assert(cs->slots[i].round < 0 || cs->slots[i].round != cs->slots[j].round);
        }
    }
#else
    (void)cs;
#endif
}

int cs_step(struct cs *cs, const struct cs_input *in, struct cs_output *out)
{
    assert(!cs->in_step); /* re-entering the core from inside a step is a bug */
    out->n_actions = 0;
    out->commit_height = 0;
    out->commit_round = 0;
    memset(&out->commit_block_id, 0, sizeof(out->commit_block_id));
    out->commit_count = 0;
    cs->in_step = true;
    cs->out = out;
    cs->now_ns = in->now_ns;
    cs->wall_ns = in->wall_ns;
    cs->commit_used = false;
    int rc = 0;
    switch (in->type) {
    case CS_INPUT_START_HEIGHT:
        rc = on_start_height(cs, in);
        break;
    case CS_INPUT_PROPOSAL:
        on_proposal(cs, &in->u.proposal.proposal, in->u.proposal.validator_index, in->type);
        break;
    case CS_INPUT_OWN_PROPOSAL:
        on_proposal(cs, &in->u.proposal.proposal, cs->own_index, in->type);
        break;
    case CS_INPUT_VOTE:
    case CS_INPUT_OWN_VOTE:
        on_vote(cs, &in->u.vote, in->type);
        break;
    case CS_INPUT_BLOCK_COMPLETE:
        on_block_complete(cs, in->u.block.height, &in->u.block.block_id);
        break;
    case CS_INPUT_TIMEOUT:
        on_timeout(cs, in->u.timeout.height, in->u.timeout.round, in->u.timeout.step);
        break;
    case CS_INPUT_PROPOSAL_BUILT:
        on_built(cs, in->u.built.height, in->u.built.round, &in->u.built.block_id);
        break;
    case CS_INPUT_COMMIT:
        on_commit(cs, in);
        break;
    case CS_INPUT_BLOCK_VALIDATED:
        on_validated(cs, in->u.validated.height, &in->u.validated.block_id, in->u.validated.valid);
        break;
    default:
        rc = PX_EINVAL;
        break;
    }
    if (rc == 0) {
        progress(cs);
        sort_actions(out);
    }
    check_invariants(cs);
    cs->out = NULL;
    cs->in_step = false;
    return rc;
}

bool cs_next_deadline(const struct cs *cs, uint64_t *deadline_ns, uint64_t *height, int32_t *round,
                      enum cs_step *step)
{
    static const enum cs_step steps[4] = {CS_STEP_PROPOSE, CS_STEP_PREVOTE, CS_STEP_PRECOMMIT,
                                          CS_STEP_COMMIT};
    bool found = false;
    for (int k = 0; k < 4; k++) {
        bool live = false;
        if (!cs->timer[k].set) {
            continue;
        }
        if (k < 3) {
            live = cs->timer[k].height == cs->height && cs->timer[k].round == cs->round &&
                   (k == 2 ? in_round(cs) : cs->step == steps[k]);
        } else {
            live = !cs->commit_timeout_fired &&
                   ((cs->step == CS_STEP_COMMIT && cs->timer[k].height == cs->height) ||
                    (cs->step == CS_STEP_NEW_HEIGHT && cs->timer[k].height + 1 == cs->height));
        }
        if (live && (!found || cs->timer[k].deadline_ns < *deadline_ns)) {
            found = true;
            *deadline_ns = cs->timer[k].deadline_ns;
            *height = cs->timer[k].height;
            *round = cs->timer[k].round;
            *step = steps[k];
        }
    }
    return found;
}

uint64_t cs_height(const struct cs *cs)
{
    return cs->height;
}

int32_t cs_round(const struct cs *cs)
{
    return cs->round;
}

enum cs_step cs_get_step(const struct cs *cs)
{
    return cs->step;
}

int32_t cs_locked_round(const struct cs *cs)
{
    return cs->locked_round;
}

int32_t cs_valid_round(const struct cs *cs)
{
    return cs->valid_round;
}

bool cs_locked_value(const struct cs *cs, struct block_id *out)
{
    *out = cs->locked_value;
    return cs->locked_round >= 0;
}

int32_t cs_proposer(struct cs *cs, int32_t round)
{
    if (cs->step == CS_STEP_INIT || round < 0) {
        return -1;
    }
    const struct cs_round_slot *s = slot_find(cs, round);
    return s != NULL ? s->proposer_index : proposer_of(cs, round);
}

int32_t cs_own_index(const struct cs *cs)
{
    return cs->own_index;
}
