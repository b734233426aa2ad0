/* Unit tests of the consensus core (cs_step) with a counter clock and fixed validators:
 * the happy path, building, invalid blocks, timeouts growing per round, lock and unlock by
 * POL, round skip, equivocation evidence, drops and bounds, commits received whole, the
 * last commit, errors, and byte-for-byte determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cs.h"
#include "px_error.h"

static struct validator_set vals; /* A, B, C, D with power 10: proposers A, B, C, D, ... */
static struct cs_output out;
static uint64_t t; /* the counter clock */

static void *t_alloc(size_t size, void *user)
{
    (void)user;
    return calloc(1, size);
}

static void t_free(void *p, void *user)
{
    (void)user;
    free(p);
}

static struct block_id bid(uint8_t tag)
{
    struct block_id id;
    memset(&id, 0, sizeof(id));
    if (tag != 0) {
        memset(id.hash, tag, sizeof(id.hash));
        id.parts.total = 1;
        memset(id.parts.hash, tag, sizeof(id.parts.hash));
    }
    return id;
}

static struct cs *core(int own)
{
    struct validator v[4];
    memset(v, 0, sizeof(v));
    for (int i = 0; i < 4; i++) {
        memset(v[i].address, 'A' + i, VALIDATOR_ADDRESS_SIZE);
        v[i].voting_power = 10;
    }
    assert_int_equal(validator_set_init(&vals, v, 4), 0);
    struct cs_config cfg;
    cs_config_default(&cfg);
    cfg.max_validators = 8;
    if (own >= 0) {
        memcpy(cfg.own_address, vals.validators[own].address, VALIDATOR_ADDRESS_SIZE);
    }
    cfg.timeout_propose_ms = 100;
    cfg.timeout_propose_delta_ms = 10;
    cfg.timeout_prevote_ms = 50;
    cfg.timeout_prevote_delta_ms = 5;
    cfg.timeout_precommit_ms = 50;
    cfg.timeout_precommit_delta_ms = 5;
    cfg.timeout_commit_ms = 20;
    struct cs_allocator a = {t_alloc, t_free, NULL};
    struct cs *cs = NULL;
    assert_int_equal(cs_new(&cfg, &a, &cs), 0);
    t = 0;
    return cs;
}

static void run(struct cs *cs, struct cs_input *in)
{
    in->now_ns = ++t * 1000000u;
    in->wall_ns = 1700000000000000000ull + in->now_ns;
    assert_int_equal(cs_step(cs, in, &out), 0);
}

static const struct cs_action *find(enum cs_action_type type)
{
    for (uint32_t i = 0; i < out.n_actions; i++) {
        if (out.actions[i].type == type) {
            return &out.actions[i];
        }
    }
    return NULL;
}

static void start(struct cs *cs, uint64_t h)
{
    struct cs_input in = {.type = CS_INPUT_START_HEIGHT};
    in.u.start.height = h;
    in.u.start.vals = &vals;
    run(cs, &in);
}

static struct vote mkvote(int idx, enum vote_type type, uint64_t h, int32_t r, uint8_t block)
{
    struct vote v;
    memset(&v, 0, sizeof(v));
    v.type = type;
    v.height = h;
    v.round = r;
    v.block_id = bid(block);
    v.validator_index = idx;
    memcpy(v.validator_address, vals.validators[idx].address, VOTE_ADDRESS_SIZE);
    v.signature[0] = (uint8_t)(idx + 1);
    return v;
}

static void vote(struct cs *cs, int idx, enum vote_type type, uint64_t h, int32_t r, uint8_t block)
{
    struct cs_input in = {.type = CS_INPUT_VOTE};
    in.u.vote = mkvote(idx, type, h, r, block);
    run(cs, &in);
}

static void proposal(struct cs *cs, int idx, uint64_t h, int32_t r, int32_t pol, uint8_t block)
{
    struct cs_input in = {.type = CS_INPUT_PROPOSAL};
    in.u.proposal.proposal.height = h;
    in.u.proposal.proposal.round = r;
    in.u.proposal.proposal.pol_round = pol;
    in.u.proposal.proposal.block_id = bid(block);
    in.u.proposal.validator_index = idx;
    run(cs, &in);
}

/* Block content arrives and the app answers. */
static void block(struct cs *cs, uint64_t h, uint8_t tag, bool valid)
{
    struct cs_input in = {.type = CS_INPUT_BLOCK_COMPLETE};
    in.u.block.height = h;
    in.u.block.block_id = bid(tag);
    run(cs, &in);
    const struct cs_action *a = find(CS_ACTION_VALIDATE_BLOCK);
    assert_non_null(a);
    struct cs_input v = {.type = CS_INPUT_BLOCK_VALIDATED};
    v.u.validated.height = h;
    v.u.validated.block_id = bid(tag);
    v.u.validated.valid = valid;
    run(cs, &v);
}

static void timeout(struct cs *cs, uint64_t h, int32_t r, enum cs_step step)
{
    struct cs_input in = {.type = CS_INPUT_TIMEOUT};
    in.u.timeout.height = h;
    in.u.timeout.round = r;
    in.u.timeout.step = step;
    run(cs, &in);
}

/* The vote the core asked to sign, fed back signed. */
static struct vote sign_back(struct cs *cs, enum vote_type type, uint8_t block)
{
    const struct cs_action *a = find(CS_ACTION_SIGN_VOTE);
    assert_non_null(a);
    assert_int_equal(a->u.vote.type, type);
    struct block_id want = bid(block);
    assert_true(block_id_equal(&a->u.vote.block_id, &want));
    struct cs_input in = {.type = CS_INPUT_OWN_VOTE};
    in.u.vote = a->u.vote;
    in.u.vote.signature[0] = 0xee;
    struct vote v = in.u.vote;
    run(cs, &in);
    return v;
}

static bool drop_reason_is(enum cs_drop_reason r)
{
    const struct cs_action *a = find(CS_ACTION_DROP);
    return a != NULL && a->u.drop.reason == r;
}

static void next_deadline_follows_the_step(struct cs *cs, enum cs_step want, int32_t round)
{
    uint64_t d = 0, h = 0;
    int32_t r = -1;
    enum cs_step st = CS_STEP_INIT;
    assert_true(cs_next_deadline(cs, &d, &h, &r, &st));
    assert_int_equal(st, want);
    assert_int_equal(r, round);
    assert_true(d > 0);
}

/* ------------------------------------------------------------------------------------- */

static void happy_path_as_validator(void **state)
{
    (void)state;
    struct cs *cs = core(1); /* B; A proposes round 0 */
    start(cs, 1);
    assert_int_equal(cs_get_step(cs), CS_STEP_PROPOSE);
    assert_int_equal(cs_proposer(cs, 0), 0);
    assert_int_equal(cs_proposer(cs, 1), 1);
    const struct cs_action *a = find(CS_ACTION_SCHEDULE_TIMEOUT);
    assert_non_null(a);
    assert_int_equal(a->u.timeout.step, CS_STEP_PROPOSE);
    assert_int_equal(a->u.timeout.duration_ms, 100);
    proposal(cs, 0, 1, 0, -1, 7);
    assert_null(find(CS_ACTION_SIGN_VOTE)); /* the block is not here yet */
    block(cs, 1, 7, true);
    sign_back(cs, VOTE_TYPE_PREVOTE, 7);
    assert_int_equal(cs_get_step(cs), CS_STEP_PREVOTE);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    assert_null(find(CS_ACTION_SIGN_VOTE));
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 0, 7); /* 30 of 40 */
    sign_back(cs, VOTE_TYPE_PRECOMMIT, 7);
    assert_int_equal(cs_locked_round(cs), 0);
    assert_int_equal(cs_valid_round(cs), 0);
    vote(cs, 0, VOTE_TYPE_PRECOMMIT, 1, 0, 7);
    assert_null(find(CS_ACTION_DECIDE));
    vote(cs, 3, VOTE_TYPE_PRECOMMIT, 1, 0, 7);
    a = find(CS_ACTION_DECIDE);
    assert_non_null(a);
    struct block_id b7 = bid(7);
    assert_true(block_id_equal(&a->u.decide.block_id, &b7));
    assert_int_equal(a->u.decide.height, 1);
    assert_int_equal(out.commit_count, 3);
    assert_int_equal(out.commit_height, 1);
    assert_int_equal(cs_get_step(cs), CS_STEP_COMMIT);
    a = find(CS_ACTION_SCHEDULE_TIMEOUT);
    assert_non_null(a);
    assert_int_equal(a->u.timeout.step, CS_STEP_COMMIT);
    next_deadline_follows_the_step(cs, CS_STEP_COMMIT, 0);
    /* A late precommit still counts (for the last commit); the next height waits for the
     * commit timeout. */
    vote(cs, 2, VOTE_TYPE_PRECOMMIT, 1, 0, 7);
    assert_int_equal(out.n_actions, 0);
    start(cs, 2);
    assert_int_equal(cs_get_step(cs), CS_STEP_NEW_HEIGHT);
    next_deadline_follows_the_step(cs, CS_STEP_COMMIT, 0);
    timeout(cs, 1, 0, CS_STEP_COMMIT);
    next_deadline_follows_the_step(cs, CS_STEP_PROPOSE, 0);
    assert_int_equal(cs_get_step(cs), CS_STEP_PROPOSE);
    assert_int_equal(cs_height(cs), 2);
    /* At height 2 the set moved on: B proposes round 0 there (the shell advanced it). */
    cs_free(cs);
}

static void proposer_builds_with_last_commit(void **state)
{
    (void)state;
    struct cs *cs = core(0); /* A proposes round 0 of height 1 */
    start(cs, 1);
    const struct cs_action *a = find(CS_ACTION_BUILD_PROPOSAL);
    assert_non_null(a);
    assert_int_equal(a->u.build.round, 0);
    assert_int_equal(out.commit_count, 0);
    struct cs_input in = {.type = CS_INPUT_PROPOSAL_BUILT};
    in.u.built.height = 1;
    in.u.built.round = 0;
    in.u.built.block_id = bid(9);
    run(cs, &in);
    a = find(CS_ACTION_SIGN_PROPOSAL);
    assert_non_null(a);
    assert_int_equal(a->u.proposal.pol_round, -1);
    struct cs_input own = {.type = CS_INPUT_OWN_PROPOSAL};
    own.u.proposal.proposal = a->u.proposal;
    run(cs, &own);
    sign_back(cs, VOTE_TYPE_PREVOTE, 9); /* our own block is valid without asking */
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 0, 9);
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 0, 9);
    sign_back(cs, VOTE_TYPE_PRECOMMIT, 9);
    vote(cs, 1, VOTE_TYPE_PRECOMMIT, 1, 0, 9);
    vote(cs, 2, VOTE_TYPE_PRECOMMIT, 1, 0, 9);
    assert_non_null(find(CS_ACTION_DECIDE));
    vote(cs, 3, VOTE_TYPE_PRECOMMIT, 1, 0, 9); /* late */
    /* Height 2 with a set where A proposes again (no increment): the build carries the
     * last commit, late precommit included. */
    start(cs, 2);
    timeout(cs, 1, 0, CS_STEP_COMMIT);
    a = find(CS_ACTION_BUILD_PROPOSAL);
    assert_non_null(a);
    assert_int_equal(out.commit_height, 1);
    assert_int_equal(out.commit_count, 4);
    /* A late precommit of height 1 at height 2 is taken into the last commit. */
    vote(cs, 3, VOTE_TYPE_PRECOMMIT, 1, 0, 9);
    assert_true(drop_reason_is(CS_DROP_DUPLICATE));
    /* A built answer for a round we left is stale. */
    in.u.built.height = 2;
    in.u.built.round = 5;
    run(cs, &in);
    assert_true(drop_reason_is(CS_DROP_STALE));
    cs_free(cs);
}

static void invalid_block_gets_nil(void **state)
{
    (void)state;
    struct cs *cs = core(1);
    start(cs, 1);
    proposal(cs, 0, 1, 0, -1, 7);
    block(cs, 1, 7, false);
    sign_back(cs, VOTE_TYPE_PREVOTE, 0);
    /* Even 2/3+ prevotes for it cannot make us lock on an invalid block. */
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 0, 7);
    vote(cs, 3, VOTE_TYPE_PREVOTE, 1, 0, 7);
    assert_null(find(CS_ACTION_SIGN_VOTE));
    assert_int_equal(cs_locked_round(cs), -1);
    cs_free(cs);
}

static void timeouts_grow_and_rounds_advance(void **state)
{
    (void)state;
    struct cs *cs = core(1);
    uint64_t d, h;
    int32_t r;
    enum cs_step st;
    assert_false(cs_next_deadline(cs, &d, &h, &r, &st));
    start(cs, 1);
    next_deadline_follows_the_step(cs, CS_STEP_PROPOSE, 0);
    timeout(cs, 1, 0, CS_STEP_PROPOSE);
    assert_false(cs_next_deadline(cs, &d, &h, &r, &st)); /* prevoting: nothing to wait for */
    sign_back(cs, VOTE_TYPE_PREVOTE, 0);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 0, 0); /* 2/3+ of any kind, no majority */
    const struct cs_action *a = find(CS_ACTION_SCHEDULE_TIMEOUT);
    assert_non_null(a);
    assert_int_equal(a->u.timeout.step, CS_STEP_PREVOTE);
    assert_int_equal(a->u.timeout.duration_ms, 50);
    next_deadline_follows_the_step(cs, CS_STEP_PREVOTE, 0);
    timeout(cs, 1, 0, CS_STEP_PREVOTE);
    sign_back(cs, VOTE_TYPE_PRECOMMIT, 0);
    vote(cs, 0, VOTE_TYPE_PRECOMMIT, 1, 0, 0);
    vote(cs, 2, VOTE_TYPE_PRECOMMIT, 1, 0, 7);
    a = find(CS_ACTION_SCHEDULE_TIMEOUT);
    assert_non_null(a);
    assert_int_equal(a->u.timeout.step, CS_STEP_PRECOMMIT);
    next_deadline_follows_the_step(cs, CS_STEP_PRECOMMIT, 0);
    timeout(cs, 1, 0, CS_STEP_PROPOSE); /* stale: we left that step */
    assert_true(drop_reason_is(CS_DROP_STALE));
    timeout(cs, 1, 0, CS_STEP_PRECOMMIT);
    assert_int_equal(cs_round(cs), 1);
    assert_int_equal(cs_get_step(cs), CS_STEP_PROPOSE);
    /* We (B) propose round 1: build; the propose timeout grew by the delta. */
    assert_non_null(find(CS_ACTION_BUILD_PROPOSAL));
    a = find(CS_ACTION_SCHEDULE_TIMEOUT);
    assert_non_null(a);
    assert_int_equal(a->u.timeout.duration_ms, 110);
    assert_int_equal(a->u.timeout.round, 1);
    assert_int_equal(a->u.timeout.deadline_ns, t * 1000000u + 110u * 1000000u);
    cs_free(cs);
}

/* Lock on X in round 0; a new block in round 1 gets nil; X again with its POL round gets
 * our prevote; a block with a POL newer than our lock unlocks us. */
static void lock_and_pol(void **state)
{
    (void)state;
    struct cs *cs = core(3); /* D; proposers: A r0, B r1, C r2, D r3 */
    start(cs, 1);
    proposal(cs, 0, 1, 0, -1, 7);
    block(cs, 1, 7, true);
    sign_back(cs, VOTE_TYPE_PREVOTE, 7);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 0, 7);
    sign_back(cs, VOTE_TYPE_PRECOMMIT, 7);
    assert_int_equal(cs_locked_round(cs), 0);
    vote(cs, 0, VOTE_TYPE_PRECOMMIT, 1, 0, 0);
    vote(cs, 1, VOTE_TYPE_PRECOMMIT, 1, 0, 0);
    timeout(cs, 1, 0, CS_STEP_PRECOMMIT);
    assert_int_equal(cs_round(cs), 1);
    /* Round 1: B proposes a new block 8; we are locked on 7: nil. */
    proposal(cs, 1, 1, 1, -1, 8);
    block(cs, 1, 8, true);
    sign_back(cs, VOTE_TYPE_PREVOTE, 0);
    /* Others see a polka for 8 in round 1 (we see it too but are past prevoting: we learn
     * it as the valid value, the lock stays). */
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 1, 8);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 1, 8);
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 1, 8);
    sign_back(cs, VOTE_TYPE_PRECOMMIT, 8); /* L36 in PREVOTE: the polka relocks us */
    assert_int_equal(cs_locked_round(cs), 1);
    struct block_id lv, b8 = bid(8);
    assert_true(cs_locked_value(cs, &lv));
    assert_true(block_id_equal(&lv, &b8));
    vote(cs, 0, VOTE_TYPE_PRECOMMIT, 1, 1, 0);
    vote(cs, 1, VOTE_TYPE_PRECOMMIT, 1, 1, 0);
    timeout(cs, 1, 1, CS_STEP_PRECOMMIT);
    /* Round 2: C proposes 7 again with POL round 0: locked round 1 > 0 and value 8: nil. */
    proposal(cs, 2, 1, 2, 0, 7);
    sign_back(cs, VOTE_TYPE_PREVOTE, 0);
    vote(cs, 0, VOTE_TYPE_PRECOMMIT, 1, 2, 0);
    vote(cs, 1, VOTE_TYPE_PRECOMMIT, 1, 2, 0);
    vote(cs, 2, VOTE_TYPE_PRECOMMIT, 1, 2, 0);
    timeout(cs, 1, 2, CS_STEP_PRECOMMIT);
    assert_int_equal(cs_round(cs), 3);
    /* Round 3: we propose: our valid value 8 with its POL round 1, no build. */
    const struct cs_action *a = find(CS_ACTION_SIGN_PROPOSAL);
    assert_non_null(a);
    assert_null(find(CS_ACTION_BUILD_PROPOSAL));
    assert_int_equal(a->u.proposal.pol_round, 1);
    assert_true(block_id_equal(&a->u.proposal.block_id, &b8));
    cs_free(cs);
}

static void pol_unlocks(void **state)
{
    (void)state;
    struct cs *cs = core(3);
    start(cs, 1);
    proposal(cs, 0, 1, 0, -1, 7);
    block(cs, 1, 7, true);
    sign_back(cs, VOTE_TYPE_PREVOTE, 7);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 0, 7);
    sign_back(cs, VOTE_TYPE_PRECOMMIT, 7);
    vote(cs, 0, VOTE_TYPE_PRECOMMIT, 1, 0, 0);
    vote(cs, 1, VOTE_TYPE_PRECOMMIT, 1, 0, 0);
    timeout(cs, 1, 0, CS_STEP_PRECOMMIT);
    /* Round 1: we miss the proposal: nil; others form a polka for 8 we see only later. */
    timeout(cs, 1, 1, CS_STEP_PROPOSE);
    sign_back(cs, VOTE_TYPE_PREVOTE, 0);
    vote(cs, 0, VOTE_TYPE_PRECOMMIT, 1, 1, 0);
    vote(cs, 1, VOTE_TYPE_PRECOMMIT, 1, 1, 0);
    vote(cs, 2, VOTE_TYPE_PRECOMMIT, 1, 1, 0);
    timeout(cs, 1, 1, CS_STEP_PRECOMMIT);
    assert_int_equal(cs_round(cs), 2);
    /* Round 2: C proposes 8 with POL round 1; without the POL we wait. */
    proposal(cs, 2, 1, 2, 1, 8);
    block(cs, 1, 8, true);
    assert_null(find(CS_ACTION_SIGN_VOTE));
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 1, 8);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 1, 8);
    assert_null(find(CS_ACTION_SIGN_VOTE));
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 1, 8); /* the POL: 30 of 40, newer than our lock */
    sign_back(cs, VOTE_TYPE_PREVOTE, 8);
    cs_free(cs);
}

/* Our locked value proposed again with a POL round we never saw: prevote it at once. */
static void locked_value_needs_no_pol(void **state)
{
    (void)state;
    struct cs *cs = core(3);
    start(cs, 1);
    proposal(cs, 0, 1, 0, -1, 7);
    block(cs, 1, 7, true);
    sign_back(cs, VOTE_TYPE_PREVOTE, 7);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 0, 7);
    sign_back(cs, VOTE_TYPE_PRECOMMIT, 7);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 2, 0);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 2, 0);
    assert_int_equal(cs_round(cs), 2);
    proposal(cs, 2, 1, 2, 1, 7);
    sign_back(cs, VOTE_TYPE_PREVOTE, 7);
    /* Another value with an unseen POL round waits (then the timeout says nil). */
    struct cs *other = core(3);
    start(other, 1);
    vote(other, 0, VOTE_TYPE_PREVOTE, 1, 2, 0);
    vote(other, 1, VOTE_TYPE_PREVOTE, 1, 2, 0);
    proposal(other, 2, 1, 2, 1, 7);
    block(other, 1, 7, true);
    assert_null(find(CS_ACTION_SIGN_VOTE));
    timeout(other, 1, 2, CS_STEP_PROPOSE);
    sign_back(other, VOTE_TYPE_PREVOTE, 0);
    cs_free(cs);
    cs_free(other);
}

/* A POL of an earlier round seen late becomes our valid value: we propose it. */
static void late_pol_becomes_valid_value(void **state)
{
    (void)state;
    struct cs *cs = core(3); /* D proposes round 3 */
    start(cs, 1);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 2, 0);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 2, 0); /* others are in round 2: skip there */
    assert_int_equal(cs_round(cs), 2);
    proposal(cs, 1, 1, 1, -1, 8); /* round 1 (B), seen late */
    block(cs, 1, 8, true);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 1, 8);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 1, 8);
    assert_int_equal(cs_valid_round(cs), -1);
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 1, 8);
    assert_int_equal(cs_valid_round(cs), 1);
    assert_int_equal(cs_locked_round(cs), -1);
    timeout(cs, 1, 2, CS_STEP_PRECOMMIT);
    assert_int_equal(cs_round(cs), 3);
    const struct cs_action *a = find(CS_ACTION_SIGN_PROPOSAL);
    assert_non_null(a);
    assert_int_equal(a->u.proposal.pol_round, 1);
    struct block_id b8 = bid(8);
    assert_true(block_id_equal(&a->u.proposal.block_id, &b8));
    cs_free(cs);
}

static void round_skip_needs_one_third(void **state)
{
    (void)state;
    struct cs *cs = core(3);
    start(cs, 1);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 5, 0); /* 10 of 40: not more than 1/3 */
    assert_int_equal(cs_round(cs), 0);
    vote(cs, 1, VOTE_TYPE_PRECOMMIT, 1, 5, 0); /* 20 of 40 in round 5 */
    assert_int_equal(cs_round(cs), 5);
    assert_int_equal(cs_get_step(cs), CS_STEP_PROPOSE);
    /* A second vote of the same validators in that round does not count twice. */
    vote(cs, 0, VOTE_TYPE_PRECOMMIT, 1, 9, 0);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 9, 0);
    assert_int_equal(cs_round(cs), 5);
    cs_free(cs);
}

static void equivocation_and_duplicates(void **state)
{
    (void)state;
    struct cs *cs = core(3);
    start(cs, 1);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    assert_int_equal(out.n_actions, 0);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    assert_true(drop_reason_is(CS_DROP_DUPLICATE));
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 0);
    const struct cs_action *a = find(CS_ACTION_EVIDENCE);
    assert_non_null(a);
    assert_true(vote_conflicts(&a->u.evidence.a, &a->u.evidence.b));
    assert_true(block_id_compare(&a->u.evidence.a.block_id, &a->u.evidence.b.block_id) < 0);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 9);
    assert_true(drop_reason_is(CS_DROP_CONFLICT_SEEN));
    assert_null(find(CS_ACTION_EVIDENCE));
    cs_free(cs);
}

static void bad_messages_dropped(void **state)
{
    (void)state;
    struct cs *cs = core(3);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    assert_true(drop_reason_is(CS_DROP_STATE)); /* before any height */
    start(cs, 1);
    vote(cs, 0, VOTE_TYPE_PREVOTE, 2, 0, 7);
    assert_true(drop_reason_is(CS_DROP_WRONG_HEIGHT));
    vote(cs, 0, VOTE_TYPE_PREVOTE, 1, CS_MAX_ROUNDS_AHEAD + 1, 7);
    assert_true(drop_reason_is(CS_DROP_ROUND_TOO_FAR));
    struct cs_input in = {.type = CS_INPUT_VOTE};
    in.u.vote = mkvote(0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    in.u.vote.validator_index = 6;
    run(cs, &in);
    assert_true(drop_reason_is(CS_DROP_NOT_VALIDATOR));
    in.u.vote = mkvote(0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    in.u.vote.validator_address[3] ^= 1;
    run(cs, &in);
    assert_true(drop_reason_is(CS_DROP_NOT_VALIDATOR));
    in.u.vote = mkvote(0, VOTE_TYPE_PREVOTE, 1, 0, 7);
    in.u.vote.type = (enum vote_type)9;
    run(cs, &in);
    assert_true(drop_reason_is(CS_DROP_MALFORMED));
    in.u.vote = mkvote(0, VOTE_TYPE_PREVOTE, 1, -3, 7);
    run(cs, &in);
    assert_true(drop_reason_is(CS_DROP_MALFORMED));
    proposal(cs, 2, 1, 0, -1, 7); /* C is not the proposer of round 0 */
    assert_true(drop_reason_is(CS_DROP_NOT_PROPOSER));
    proposal(cs, 0, 1, 0, 0, 7); /* POL round must be below the round */
    assert_true(drop_reason_is(CS_DROP_MALFORMED));
    proposal(cs, 0, 1, 0, -1, 7);
    assert_int_equal(out.n_actions, 0);
    proposal(cs, 0, 1, 0, -1, 7);
    assert_true(drop_reason_is(CS_DROP_DUPLICATE));
    proposal(cs, 0, 1, 0, -1, 8);
    assert_true(drop_reason_is(CS_DROP_CONFLICTING_PROPOSAL));
    /* An answer nobody asked for. */
    struct cs_input v = {.type = CS_INPUT_BLOCK_VALIDATED};
    v.u.validated.height = 1;
    v.u.validated.block_id = bid(5);
    run(cs, &v);
    assert_true(drop_reason_is(CS_DROP_STALE));
    cs_free(cs);
}

/* One validator (power 10 of 40) votes in many future rounds: the round slots are bounded
 * and the current round keeps working. */
static void round_slots_bounded(void **state)
{
    (void)state;
    struct cs *cs = core(3);
    start(cs, 1);
    int dropped = 0;
    for (int r = 1; r <= 60; r++) {
        vote(cs, 0, VOTE_TYPE_PREVOTE, 1, r, 7);
        dropped += drop_reason_is(CS_DROP_ROUND_BOUND);
    }
    assert_true(dropped >= 60 - CS_ROUND_SLOTS);
    assert_int_equal(cs_round(cs), 0);
    proposal(cs, 0, 1, 0, -1, 7);
    block(cs, 1, 7, true);
    sign_back(cs, VOTE_TYPE_PREVOTE, 7);
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 0, 7);
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 0, 7);
    sign_back(cs, VOTE_TYPE_PRECOMMIT, 7);
    /* The slots full of spam cannot hide that others moved on: the round skip counts the
     * latest round of each validator (here 0 at 60, 1 and 2 at 70: skip to 70). */
    vote(cs, 1, VOTE_TYPE_PREVOTE, 1, 70, 0);
    assert_int_equal(cs_round(cs), 60); /* 0 and 1 in rounds >= 60: 20 of 40 */
    vote(cs, 2, VOTE_TYPE_PREVOTE, 1, 70, 0);
    assert_int_equal(cs_round(cs), 70);
    assert_int_equal(cs_locked_round(cs), 0);
    cs_free(cs);
}

static void commit_received_whole(void **state)
{
    (void)state;
    struct cs *cs = core(3);
    start(cs, 1);
    struct vote c[3] = {mkvote(0, VOTE_TYPE_PRECOMMIT, 1, 4, 7),
                        mkvote(1, VOTE_TYPE_PRECOMMIT, 1, 4, 7),
                        mkvote(2, VOTE_TYPE_PRECOMMIT, 1, 4, 7)};
    struct cs_input in = {.type = CS_INPUT_COMMIT};
    in.u.commit.height = 1;
    in.u.commit.round = 4;
    in.u.commit.block_id = bid(7);
    in.u.commit.votes = c;
    in.u.commit.count = 2; /* 20 of 40: not a commit */
    run(cs, &in);
    assert_true(drop_reason_is(CS_DROP_MALFORMED));
    in.u.commit.count = 3;
    run(cs, &in);
    assert_null(find(CS_ACTION_DECIDE)); /* the block is not here yet */
    block(cs, 1, 7, true);
    const struct cs_action *a = find(CS_ACTION_DECIDE);
    assert_non_null(a);
    assert_int_equal(a->u.decide.round, 4);
    assert_int_equal(out.commit_count, 3);
    cs_free(cs);
}

static void start_height_errors(void **state)
{
    (void)state;
    struct cs *cs = core(3);
    start(cs, 1);
    struct cs_input in = {.type = CS_INPUT_START_HEIGHT};
    in.u.start.height = 3;
    in.u.start.vals = &vals;
    in.now_ns = ++t;
    assert_int_equal(cs_step(cs, &in, &out), PX_ESTATE); /* not decided */
    assert_int_equal(cs_height(cs), 1);
    cs_free(cs);
    /* A set larger than the configured capacity. */
    struct cs_config cfg;
    cs_config_default(&cfg);
    cfg.max_validators = 2;
    struct cs_allocator a = {t_alloc, t_free, NULL};
    assert_int_equal(cs_new(&cfg, &a, &cs), 0);
    in.u.start.height = 1;
    assert_int_equal(cs_step(cs, &in, &out), PX_EBOUND);
    assert_int_equal(cs_get_step(cs), CS_STEP_INIT);
    cs_free(cs);
    cfg.max_validators = 0;
    assert_int_equal(cs_new(&cfg, &a, &cs), PX_EINVAL);
}

/* A fresh core (restart) starts at a height with the last commit given by the shell. */
static void fresh_start_with_last_commit(void **state)
{
    (void)state;
    struct cs *cs = core(0);
    struct vote lc[3] = {mkvote(0, VOTE_TYPE_PRECOMMIT, 4, 2, 7),
                         mkvote(1, VOTE_TYPE_PRECOMMIT, 4, 2, 7),
                         mkvote(3, VOTE_TYPE_PRECOMMIT, 4, 2, 7)};
    struct cs_input in = {.type = CS_INPUT_START_HEIGHT};
    in.u.start.height = 5;
    in.u.start.vals = &vals;
    in.u.start.last_vals = &vals;
    in.u.start.last_commit = lc;
    in.u.start.last_commit_count = 3;
    lc[2].round = 1; /* votes of different rounds are not a commit */
    in.now_ns = ++t;
    assert_int_equal(cs_step(cs, &in, &out), PX_EINVAL);
    assert_int_equal(cs_get_step(cs), CS_STEP_INIT);
    lc[2].round = 2;
    run(cs, &in);
    const struct cs_action *a = find(CS_ACTION_BUILD_PROPOSAL);
    assert_non_null(a);
    assert_int_equal(a->u.build.height, 5);
    assert_int_equal(out.commit_height, 4);
    assert_int_equal(out.commit_round, 2);
    assert_int_equal(out.commit_count, 3);
    /* The late fourth precommit of height 4 joins the last commit. */
    vote(cs, 2, VOTE_TYPE_PRECOMMIT, 4, 2, 7);
    assert_int_equal(out.n_actions, 0);
    vote(cs, 2, VOTE_TYPE_PREVOTE, 4, 2, 7);
    assert_true(drop_reason_is(CS_DROP_WRONG_HEIGHT));
    cs_free(cs);
}

static uint64_t rnd_state;

static uint32_t rnd(uint32_t n)
{
    rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rnd_state >> 33) % n;
}

/* Random inputs of every kind, well formed or not: the core never fails a check of its
 * own (the invariants are asserted after every step), never returns an error for a
 * peer's message, and keeps deciding heights. */
static void random_inputs(void **state)
{
    (void)state;
    for (int own = 0; own < 4; own++) {
        struct cs *cs = core(own);
        rnd_state = 0x9e3779b97f4a7c15ull + (uint64_t)own;
        start(cs, 1);
        uint64_t decided = 0;
        for (int k = 0; k < 20000; k++) {
            uint64_t h = cs_height(cs);
            /* Mostly the current round, height and two blocks, so that heights decide;
             * sometimes anything. */
            int32_t r = cs_round(cs) + (rnd(10) == 0 ? 1 : 0) - (rnd(10) == 0 ? 1 : 0);
            uint8_t tag = rnd(6) == 0 ? (uint8_t)rnd(4) : (uint8_t)(1 + rnd(2));
            struct cs_input in;
            memset(&in, 0, sizeof(in));
            switch (rnd(8)) {
            case 0:
            case 1:
            case 2: {
                in.type = rnd(10) == 0 ? CS_INPUT_OWN_VOTE : CS_INPUT_VOTE;
                int idx = (int)rnd(5); /* 4 is out of the set */
                in.u.vote =
                    mkvote(idx < 4 ? idx : 0, (enum vote_type)(rnd(20) == 0 ? 3 : 1 + rnd(2)),
                           rnd(10) == 0 ? h + rnd(3) - 1 : h, r, tag);
                in.u.vote.validator_index = idx;
                break;
            }
            case 3:
                in.type = CS_INPUT_PROPOSAL;
                in.u.proposal.proposal.height = h;
                in.u.proposal.proposal.round = r;
                in.u.proposal.proposal.pol_round = (int32_t)rnd(3) - 1;
                in.u.proposal.proposal.block_id = bid(tag ? tag : 1);
                in.u.proposal.validator_index =
                    rnd(2) ? cs_proposer(cs, r < 0 ? 0 : r) : (int32_t)rnd(4);
                break;
            case 4:
                in.type = CS_INPUT_BLOCK_COMPLETE;
                in.u.block.height = h;
                in.u.block.block_id = bid(tag);
                break;
            case 5:
                in.type = CS_INPUT_BLOCK_VALIDATED;
                in.u.validated.height = h;
                in.u.validated.block_id = bid(tag);
                in.u.validated.valid = rnd(4) != 0;
                break;
            case 6:
                in.type = CS_INPUT_TIMEOUT;
                in.u.timeout.height = h - rnd(2);
                in.u.timeout.round = r;
                in.u.timeout.step = (enum cs_step)(2 + rnd(4));
                break;
            default:
                in.type = CS_INPUT_PROPOSAL_BUILT;
                in.u.built.height = h;
                in.u.built.round = cs_round(cs);
                in.u.built.block_id = bid(tag);
                break;
            }
            run(cs, &in);
            for (;;) {
                const struct cs_action *d = find(CS_ACTION_DECIDE);
                if (d != NULL) {
                    int32_t dr = d->u.decide.round;
                    decided++;
                    start(cs, h + 1);
                    timeout(cs, h, dr, CS_STEP_COMMIT);
                    assert_int_equal(cs_get_step(cs), CS_STEP_PROPOSE);
                }
                const struct cs_action *sv = find(CS_ACTION_SIGN_VOTE);
                if (sv == NULL) {
                    break;
                }
                struct cs_input o = {.type = CS_INPUT_OWN_VOTE};
                o.u.vote = sv->u.vote;
                run(cs, &o);
                h = cs_height(cs);
            }
        }
        print_message("own %d: %llu heights decided, at h=%llu r=%d %s locked %d valid %d\n", own,
                      (unsigned long long)decided, (unsigned long long)cs_height(cs), cs_round(cs),
                      cs_step_name(cs_get_step(cs)), cs_locked_round(cs), cs_valid_round(cs));
        assert_true(decided > 10);
        cs_free(cs);
    }
}

/* Two cores fed the same inputs give the same outputs, byte for byte. */
static void deterministic(void **state)
{
    (void)state;
    static struct cs_output o1, o2;
    struct cs *a = core(1);
    struct cs *b = core(1);
    struct cs_input ins[12];
    int n = 0;
    memset(ins, 0, sizeof(ins));
    ins[n].type = CS_INPUT_START_HEIGHT;
    ins[n].u.start.height = 1;
    ins[n++].u.start.vals = &vals;
    ins[n].type = CS_INPUT_PROPOSAL;
    ins[n].u.proposal.proposal.height = 1;
    ins[n].u.proposal.proposal.pol_round = -1;
    ins[n].u.proposal.proposal.block_id = bid(7);
    ins[n++].u.proposal.validator_index = 0;
    ins[n].type = CS_INPUT_BLOCK_COMPLETE;
    ins[n].u.block.height = 1;
    ins[n++].u.block.block_id = bid(7);
    ins[n].type = CS_INPUT_BLOCK_VALIDATED;
    ins[n].u.validated.height = 1;
    ins[n].u.validated.block_id = bid(7);
    ins[n++].u.validated.valid = true;
    for (int i = 0; i < 4; i++) {
        ins[n].type = CS_INPUT_VOTE;
        ins[n++].u.vote =
            mkvote(i == 1 ? 3 : i, i < 2 ? VOTE_TYPE_PREVOTE : VOTE_TYPE_PRECOMMIT, 1, 0, 7);
    }
    ins[n].type = CS_INPUT_VOTE;
    ins[n++].u.vote = mkvote(0, VOTE_TYPE_PREVOTE, 1, 0, 0); /* evidence */
    ins[n].type = CS_INPUT_TIMEOUT;
    ins[n].u.timeout.height = 1;
    ins[n++].u.timeout.step = CS_STEP_PREVOTE;
    for (int i = 0; i < n; i++) {
        ins[i].now_ns = (uint64_t)(i + 1) * 1000;
        ins[i].wall_ns = 5000 + (uint64_t)i;
        memset(&o1, 0xaa, sizeof(o1));
        memset(&o2, 0x55, sizeof(o2));
        assert_int_equal(cs_step(a, &ins[i], &o1), 0);
        assert_int_equal(cs_step(b, &ins[i], &o2), 0);
        assert_int_equal(o1.n_actions, o2.n_actions);
        assert_memory_equal(o1.actions, o2.actions, o1.n_actions * sizeof(o1.actions[0]));
        assert_int_equal(o1.commit_count, o2.commit_count);
        assert_memory_equal(o1.commit, o2.commit, o1.commit_count * sizeof(o1.commit[0]));
    }
    cs_free(a);
    cs_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(happy_path_as_validator),
        cmocka_unit_test(proposer_builds_with_last_commit),
        cmocka_unit_test(invalid_block_gets_nil),
        cmocka_unit_test(timeouts_grow_and_rounds_advance),
        cmocka_unit_test(lock_and_pol),
        cmocka_unit_test(pol_unlocks),
        cmocka_unit_test(locked_value_needs_no_pol),
        cmocka_unit_test(late_pol_becomes_valid_value),
        cmocka_unit_test(round_skip_needs_one_third),
        cmocka_unit_test(equivocation_and_duplicates),
        cmocka_unit_test(bad_messages_dropped),
        cmocka_unit_test(round_slots_bounded),
        cmocka_unit_test(commit_received_whole),
        cmocka_unit_test(start_height_errors),
        cmocka_unit_test(fresh_start_with_last_commit),
        cmocka_unit_test(random_inputs),
        cmocka_unit_test(deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
