/* Unit tests of validator_set: sorting, bounds, lookups, thresholds, and the proposer
 * sequence against hand-computed CometBFT priorities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "px_error.h"
#include "validator_set.h"

static struct validator val(uint8_t tag, int64_t power)
{
    struct validator v;
    memset(&v, 0, sizeof(v));
    memset(v.address, tag, sizeof(v.address));
    memset(v.pub_key, tag, sizeof(v.pub_key));
    v.voting_power = power;
    return v;
}

static struct validator_set set;

static void sorted_and_found(void **state)
{
    (void)state;
    struct validator vs[3] = {val('A', 1), val('B', 2), val('C', 3)};
    assert_int_equal(validator_set_init(&set, vs, 3), 0);
    assert_int_equal(set.count, 3);
    assert_int_equal(set.total_voting_power, 6);
    assert_int_equal(set.validators[0].address[0], 'C');
    assert_int_equal(set.validators[1].address[0], 'B');
    assert_int_equal(set.validators[2].address[0], 'A');
    uint8_t addr[VALIDATOR_ADDRESS_SIZE];
    memset(addr, 'B', sizeof(addr));
    assert_int_equal(validator_set_find(&set, addr), 1);
    memset(addr, 'Z', sizeof(addr));
    assert_int_equal(validator_set_find(&set, addr), -1);
    assert_non_null(validator_set_get(&set, 2));
    assert_null(validator_set_get(&set, 3));
    assert_null(validator_set_get(&set, -1));
}

/* Powers A=1, B=2, C=3, total 6. Priorities (C, B, A) after each increment:
 * start 0,0,0 -> +power 3,2,1 -> C: -3,2,1
 *   -> 0,4,2 -> B: 0,-2,2
 *   -> 3,0,3 -> tie C/A, lower address A: 3,0,-3
 *   -> 6,2,-2 -> C: 0,2,-2
 *   -> 3,4,-1 -> B: 3,-2,-1
 *   -> 6,0,0 -> C: 0,0,0   (period of 6: C B A C B C) */
static void proposer_sequence_123(void **state)
{
    (void)state;
    struct validator vs[3] = {val('A', 1), val('B', 2), val('C', 3)};
    assert_int_equal(validator_set_init(&set, vs, 3), 0);
    const char expect[] = "CBACBCCBACBC";
    const int64_t prio_after_a[3] = {3, 0, -3};
    for (size_t i = 0; i < sizeof(expect) - 1; i++) {
        if (i > 0) {
            assert_int_equal(validator_set_increment_proposer_priority(&set, 1), 0);
        }
        assert_int_equal(validator_set_proposer(&set)->address[0], expect[i]);
        if (i == 2) {
            for (int k = 0; k < 3; k++) {
                assert_int_equal(set.validators[k].proposer_priority, prio_after_a[k]);
            }
        }
    }
    /* Increment by k rounds at once: the same as k single increments here. */
    struct validator_set *copy = test_malloc(sizeof(*copy));
    assert_int_equal(validator_set_init(&set, vs, 3), 0);
    validator_set_copy(copy, &set);
    assert_int_equal(validator_set_increment_proposer_priority(copy, 4), 0);
    assert_int_equal(validator_set_proposer(copy)->address[0], 'B');
    assert_int_equal(validator_set_proposer(&set)->address[0], 'C');
    validator_set_copy(copy, &set);
    assert_int_equal(validator_set_increment_proposer_priority(copy, 2), 0);
    assert_int_equal(validator_set_proposer(copy)->address[0], 'A');
    test_free(copy);
    assert_int_equal(validator_set_increment_proposer_priority(&set, 0), PX_EINVAL);
}

/* Equal powers rotate in address order. */
static void equal_powers_round_robin(void **state)
{
    (void)state;
    struct validator vs[4] = {val('D', 10), val('B', 10), val('A', 10), val('C', 10)};
    assert_int_equal(validator_set_init(&set, vs, 4), 0);
    const char expect[] = "ABCDABCD";
    for (size_t i = 0; i < sizeof(expect) - 1; i++) {
        if (i > 0) {
            assert_int_equal(validator_set_increment_proposer_priority(&set, 1), 0);
        }
        assert_int_equal(validator_set_proposer(&set)->address[0], expect[i]);
    }
}

/* Over many rounds each validator proposes in proportion to its power, and priorities
 * stay centered within the window. */
static void proportional_and_bounded(void **state)
{
    (void)state;
    struct validator vs[3] = {val('A', 1), val('B', 10), val('C', 100)};
    assert_int_equal(validator_set_init(&set, vs, 3), 0);
    int counts[256] = {0};
    for (int i = 0; i < 1110; i++) {
        counts[validator_set_proposer(&set)->address[0]]++;
        assert_int_equal(validator_set_increment_proposer_priority(&set, 1), 0);
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (uint32_t k = 0; k < set.count; k++) {
            int64_t p = set.validators[k].proposer_priority;
            lo = p < lo ? p : lo;
            hi = p > hi ? p : hi;
        }
        assert_true(hi - lo <= 2 * set.total_voting_power + set.total_voting_power);
    }
    assert_int_equal(counts['A'], 10);
    assert_int_equal(counts['B'], 100);
    assert_int_equal(counts['C'], 1000);
}

/* A restored set keeps priorities and the stored proposer. */
static void restore_keeps_priorities(void **state)
{
    (void)state;
    struct validator vs[3] = {val('A', 1), val('B', 2), val('C', 3)};
    vs[0].proposer_priority = 3;
    vs[1].proposer_priority = 0;
    vs[2].proposer_priority = -3;
    assert_int_equal(validator_set_restore(&set, vs, 3, NULL), 0);
    assert_int_equal(validator_set_proposer(&set)->address[0], 'A');
    uint8_t addr[VALIDATOR_ADDRESS_SIZE];
    memset(addr, 'C', sizeof(addr));
    assert_int_equal(validator_set_restore(&set, vs, 3, addr), 0);
    assert_int_equal(validator_set_proposer(&set)->address[0], 'C');
    memset(addr, 'Q', sizeof(addr));
    assert_int_equal(validator_set_restore(&set, vs, 3, addr), PX_ENOTFOUND);
}

static void rejects_bad_sets(void **state)
{
    (void)state;
    struct validator vs[2] = {val('A', 1), val('A', 2)};
    assert_int_equal(validator_set_init(&set, vs, 2), PX_EINVAL); /* duplicate */
    /* a duplicate that is not next to its twin in power order (found by fuzzing: A would
     * hold 16 of 23, more than 2/3 alone) */
    struct validator three[3] = {val('A', 13), val('B', 7), val('A', 3)};
    assert_int_equal(validator_set_init(&set, three, 3), PX_EINVAL);
    assert_int_equal(validator_set_restore(&set, three, 3, NULL), PX_EINVAL);
    assert_int_equal(validator_set_init(&set, vs, 0), PX_EINVAL);
    vs[1] = val('B', 0);
    assert_int_equal(validator_set_init(&set, vs, 2), PX_EINVAL); /* zero power */
    vs[1] = val('B', VALIDATOR_SET_MAX_TOTAL_POWER);
    assert_int_equal(validator_set_init(&set, vs, 2), PX_EBOUND); /* total too big */
    static struct validator many[VALIDATOR_SET_MAX + 1];
    for (uint32_t i = 0; i <= VALIDATOR_SET_MAX; i++) {
        many[i] = val(0, 1);
        many[i].address[0] = (uint8_t)(i & 0xff);
        many[i].address[1] = (uint8_t)(i >> 8);
    }
    assert_int_equal(validator_set_init(&set, many, VALIDATOR_SET_MAX + 1), PX_EBOUND);
    assert_int_equal(validator_set_init(&set, many, VALIDATOR_SET_MAX), 0);
}

/* Huge powers: priorities clip, rescale keeps the spread within the window. */
static void huge_powers_rescale(void **state)
{
    (void)state;
    int64_t big = VALIDATOR_SET_MAX_TOTAL_POWER / 4;
    struct validator vs[3] = {val('A', 1), val('B', big), val('C', big)};
    assert_int_equal(validator_set_init(&set, vs, 3), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(validator_set_increment_proposer_priority(&set, 7), 0);
        assert_non_null(validator_set_proposer(&set));
    }
}

static void thresholds(void **state)
{
    (void)state;
    assert_true(validator_set_is_two_thirds(3, 4));
    assert_false(validator_set_is_two_thirds(2, 3));
    assert_true(validator_set_is_two_thirds(5, 7));
    assert_false(validator_set_is_two_thirds(4, 6));
    assert_true(validator_set_is_one_third(2, 4));
    assert_false(validator_set_is_one_third(1, 3));
    assert_true(validator_set_is_one_third(3, 7));
    assert_false(validator_set_is_one_third(2, 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sorted_and_found),         cmocka_unit_test(proposer_sequence_123),
        cmocka_unit_test(equal_powers_round_robin), cmocka_unit_test(proportional_and_bounded),
        cmocka_unit_test(restore_keeps_priorities), cmocka_unit_test(rejects_bad_sets),
        cmocka_unit_test(huge_powers_rescale),      cmocka_unit_test(thresholds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
