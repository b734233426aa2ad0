/* Unit tests of voteset: power (not counts), 2/3 majority and "any", duplicates,
 * equivocation reported once, bad indexes, capacity bound, copy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "px_error.h"
#include "voteset.h"

#define CAP 8

static struct validator_set vals;
static struct vote votes[CAP];
static struct vote votes2[CAP];
static uint8_t flags[CAP];
static struct voteset_tally tallies[2 * CAP + 1];
static struct voteset vs;

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

/* Powers 1, 1, 1, 3 (total 6) for validators 'A'..'D'; sorted: D, A, B, C. */
static int setup(void **state)
{
    (void)state;
    struct validator v[4];
    memset(v, 0, sizeof(v));
    for (int i = 0; i < 4; i++) {
        memset(v[i].address, 'A' + i, VALIDATOR_ADDRESS_SIZE);
        v[i].voting_power = i == 3 ? 3 : 1;
    }
    assert_int_equal(validator_set_init(&vals, v, 4), 0);
    voteset_init(&vs, votes, votes2, flags, tallies, CAP);
    assert_int_equal(voteset_reset(&vs, 5, 2, VOTE_TYPE_PREVOTE, &vals), 0);
    return 0;
}

static struct vote mk(int32_t index, uint8_t block)
{
    struct vote v;
    memset(&v, 0, sizeof(v));
    v.type = VOTE_TYPE_PREVOTE;
    v.height = 5;
    v.round = 2;
    v.block_id = bid(block);
    v.validator_index = index;
    memcpy(v.validator_address, vals.validators[index].address, VOTE_ADDRESS_SIZE);
    return v;
}

static enum voteset_result add(struct vote v)
{
    enum voteset_result res;
    assert_int_equal(voteset_add(&vs, &v, &res, NULL), 0);
    return res;
}

static void power_not_counts(void **state)
{
    (void)state;
    struct block_id out;
    /* Three validators of power 1 (3 of 4 by count) are only half the power. */
    assert_int_equal(add(mk(1, 7)), VOTESET_ADDED);
    assert_int_equal(add(mk(2, 7)), VOTESET_ADDED);
    assert_int_equal(add(mk(3, 7)), VOTESET_ADDED);
    assert_false(voteset_has_two_thirds_majority(&vs, &out));
    assert_false(voteset_has_two_thirds_any(&vs));
    assert_int_equal(voteset_power_for(&vs, &(struct block_id){0}), 0);
    /* The power-3 validator votes for another block: 6 of 6 any, no majority. */
    assert_int_equal(add(mk(0, 8)), VOTESET_ADDED);
    assert_true(voteset_has_two_thirds_any(&vs));
    assert_false(voteset_has_two_thirds_majority(&vs, &out));
    struct block_id b7 = bid(7);
    assert_int_equal(voteset_power_for(&vs, &b7), 3);
}

static void majority_needs_more_than_two_thirds(void **state)
{
    (void)state;
    struct block_id out;
    assert_int_equal(add(mk(0, 7)), VOTESET_ADDED); /* 3 */
    assert_false(voteset_has_two_thirds_majority(&vs, &out));
    assert_int_equal(add(mk(1, 7)), VOTESET_ADDED); /* 4 of 6 = 2/3: not more */
    assert_false(voteset_has_two_thirds_majority(&vs, &out));
    assert_int_equal(add(mk(2, 7)), VOTESET_ADDED); /* 5 of 6 */
    assert_true(voteset_has_two_thirds_majority(&vs, &out));
    struct block_id b7 = bid(7);
    assert_true(block_id_equal(&out, &b7));
}

static void nil_majority(void **state)
{
    (void)state;
    struct block_id out;
    assert_int_equal(add(mk(0, 0)), VOTESET_ADDED);
    assert_int_equal(add(mk(1, 0)), VOTESET_ADDED);
    assert_int_equal(add(mk(2, 0)), VOTESET_ADDED);
    assert_true(voteset_has_two_thirds_majority(&vs, &out));
    assert_true(block_id_is_nil(&out));
}

static void duplicates_ignored(void **state)
{
    (void)state;
    assert_int_equal(add(mk(0, 7)), VOTESET_ADDED);
    struct vote again = mk(0, 7);
    again.timestamp_ns = 42; /* same block: still a duplicate */
    assert_int_equal(add(again), VOTESET_DUPLICATE);
    assert_int_equal(vs.sum, 3);
    assert_int_equal(vs.n_votes, 1);
}

static void equivocation_reported_once(void **state)
{
    (void)state;
    assert_int_equal(add(mk(0, 7)), VOTESET_ADDED);
    enum voteset_result res;
    const struct vote *existing = NULL;
    struct vote other = mk(0, 8);
    assert_int_equal(voteset_add(&vs, &other, &res, &existing), 0);
    assert_int_equal(res, VOTESET_CONFLICT);
    assert_non_null(existing);
    assert_true(vote_conflicts(existing, &other));
    /* Both votes count for their own block; the validator counts once in the sum. */
    struct block_id b7 = bid(7), b8 = bid(8), b9 = bid(9);
    assert_int_equal(voteset_power_for(&vs, &b7), 3);
    assert_int_equal(voteset_power_for(&vs, &b8), 3);
    assert_int_equal(vs.sum, 3);
    assert_int_equal(add(mk(0, 8)), VOTESET_DUPLICATE); /* the second vote again */
    assert_int_equal(add(mk(0, 9)), VOTESET_CONFLICT_SEEN);
    assert_int_equal(add(mk(0, 0)), VOTESET_CONFLICT_SEEN);
    assert_int_equal(add(mk(0, 7)), VOTESET_DUPLICATE);
    assert_int_equal(voteset_power_for(&vs, &b9), 0);
    assert_int_equal(vs.sum, 3);
    assert_non_null(voteset_get_for(&vs, 0, &b7));
    assert_non_null(voteset_get_for(&vs, 0, &b8));
    assert_null(voteset_get_for(&vs, 0, &b9));
    assert_true(block_id_equal(&voteset_get(&vs, 0)->block_id, &b7));
}

/* A node that saw a Byzantine validator's other vote first still sees the quorum the rest
 * of the network saw: 1 + 1 honest plus the power-3 equivocator's second vote. */
static void second_vote_completes_quorum(void **state)
{
    (void)state;
    struct block_id out, b7 = bid(7);
    assert_int_equal(add(mk(0, 9)), VOTESET_ADDED); /* what it showed us first */
    assert_int_equal(add(mk(1, 7)), VOTESET_ADDED);
    assert_int_equal(add(mk(2, 7)), VOTESET_ADDED);
    assert_false(voteset_has_two_thirds_majority(&vs, &out));
    assert_int_equal(add(mk(0, 7)), VOTESET_CONFLICT);
    assert_true(voteset_has_two_thirds_majority(&vs, &out));
    assert_true(block_id_equal(&out, &b7));
}

/* Junk votes sent first cannot crowd out the vote for the block others support: a third
 * vote replaces the second when its block has more support, and only then. */
static void third_vote_replaces_junk(void **state)
{
    (void)state;
    struct block_id out, b7 = bid(7), b8 = bid(8);
    assert_int_equal(add(mk(0, 9)), VOTESET_ADDED);         /* junk */
    assert_int_equal(add(mk(0, 8)), VOTESET_CONFLICT);      /* junk */
    assert_int_equal(add(mk(0, 6)), VOTESET_CONFLICT_SEEN); /* no support: ignored */
    assert_int_equal(add(mk(1, 7)), VOTESET_ADDED);
    assert_int_equal(add(mk(2, 7)), VOTESET_ADDED);
    assert_int_equal(add(mk(0, 7)), VOTESET_REPLACED); /* 7 has 2 of support, 8 has 0 */
    assert_int_equal(voteset_power_for(&vs, &b8), 0);
    assert_int_equal(voteset_power_for(&vs, &b7), 5);
    assert_true(voteset_has_two_thirds_majority(&vs, &out));
    assert_true(block_id_equal(&out, &b7));
    assert_int_equal(add(mk(0, 8)), VOTESET_CONFLICT_SEEN); /* a majority never moves */
    assert_int_equal(vs.sum, 5);
    assert_non_null(voteset_get_for(&vs, 0, &b7));
    assert_null(voteset_get_for(&vs, 0, &b8));
}

static void rejects_foreign_votes(void **state)
{
    (void)state;
    enum voteset_result res;
    struct vote v = mk(1, 7);
    v.validator_index = 4; /* out of the set */
    assert_int_equal(voteset_add(&vs, &v, &res, NULL), PX_EINVAL);
    v = mk(1, 7);
    v.validator_address[0] ^= 1; /* address does not match the index */
    assert_int_equal(voteset_add(&vs, &v, &res, NULL), PX_EINVAL);
    v = mk(1, 7);
    v.round = 3;
    assert_int_equal(voteset_add(&vs, &v, &res, NULL), PX_EINVAL);
    v = mk(1, 7);
    v.type = VOTE_TYPE_PRECOMMIT;
    assert_int_equal(voteset_add(&vs, &v, &res, NULL), PX_EINVAL);
    v = mk(1, 7);
    v.height = 6;
    assert_int_equal(voteset_add(&vs, &v, &res, NULL), PX_EINVAL);
    v = mk(1, 7);
    v.validator_index = -1;
    assert_int_equal(voteset_add(&vs, &v, &res, NULL), PX_EINVAL);
    assert_int_equal(vs.sum, 0);
}

static void capacity_bound(void **state)
{
    (void)state;
    static struct validator many[CAP + 1];
    static struct validator_set big;
    memset(many, 0, sizeof(many));
    for (int i = 0; i < CAP + 1; i++) {
        many[i].address[0] = (uint8_t)(i + 1);
        many[i].voting_power = 1;
    }
    assert_int_equal(validator_set_init(&big, many, CAP + 1), 0);
    assert_int_equal(voteset_reset(&vs, 1, 0, VOTE_TYPE_PRECOMMIT, &big), PX_EBOUND);
    assert_int_equal(validator_set_init(&big, many, CAP), 0);
    assert_int_equal(voteset_reset(&vs, 1, 0, VOTE_TYPE_PRECOMMIT, &big), 0);
    /* Every validator votes a different block: tallies hold them all. */
    for (int i = 0; i < CAP; i++) {
        struct vote v;
        memset(&v, 0, sizeof(v));
        v.type = VOTE_TYPE_PRECOMMIT;
        v.height = 1;
        v.validator_index = i;
        v.block_id = bid((uint8_t)(i + 1));
        memcpy(v.validator_address, big.validators[i].address, VOTE_ADDRESS_SIZE);
        enum voteset_result res;
        assert_int_equal(voteset_add(&vs, &v, &res, NULL), 0);
        assert_int_equal(res, VOTESET_ADDED);
    }
    assert_int_equal(vs.n_tallies, CAP);
    assert_true(voteset_has_two_thirds_any(&vs));
    assert_false(voteset_has_two_thirds_majority(&vs, NULL));
}

static void copy_keeps_everything(void **state)
{
    (void)state;
    assert_int_equal(add(mk(0, 7)), VOTESET_ADDED);
    assert_int_equal(add(mk(1, 7)), VOTESET_ADDED);
    assert_int_equal(add(mk(2, 7)), VOTESET_ADDED);
    static struct vote v2[CAP], w2[CAP];
    static uint8_t f2[CAP];
    static struct voteset_tally t2[2 * CAP + 1];
    struct voteset dst;
    voteset_init(&dst, v2, w2, f2, t2, CAP);
    assert_int_equal(voteset_copy(&dst, &vs), 0);
    assert_true(voteset_has_two_thirds_majority(&dst, NULL));
    assert_true(voteset_has(&dst, 2));
    assert_false(voteset_has(&dst, 3));
    assert_non_null(voteset_get(&dst, 1));
    assert_null(voteset_get(&dst, 3));
    struct voteset small;
    voteset_init(&small, v2, w2, f2, t2, 2);
    assert_int_equal(voteset_copy(&small, &vs), PX_EBOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(power_not_counts, setup),
        cmocka_unit_test_setup(majority_needs_more_than_two_thirds, setup),
        cmocka_unit_test_setup(nil_majority, setup),
        cmocka_unit_test_setup(duplicates_ignored, setup),
        cmocka_unit_test_setup(equivocation_reported_once, setup),
        cmocka_unit_test_setup(second_vote_completes_quorum, setup),
        cmocka_unit_test_setup(third_vote_replaces_junk, setup),
        cmocka_unit_test_setup(rejects_foreign_votes, setup),
        cmocka_unit_test_setup(capacity_bound, setup),
        cmocka_unit_test_setup(copy_keeps_everything, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
