/* Unit tests of vote and block_id: nil, completeness, validation, conflicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "block_id.h"
#include "px_error.h"
#include "vote.h"

static struct block_id bid(uint8_t tag)
{
    struct block_id id;
    memset(id.hash, tag, sizeof(id.hash));
    id.parts.total = 1;
    memset(id.parts.hash, tag, sizeof(id.parts.hash));
    return id;
}

static struct vote good_vote(void)
{
    struct vote v;
    memset(&v, 0, sizeof(v));
    v.type = VOTE_TYPE_PREVOTE;
    v.height = 3;
    v.round = 1;
    v.block_id = bid(7);
    memset(v.validator_address, 9, sizeof(v.validator_address));
    return v;
}

static void block_ids(void **state)
{
    (void)state;
    struct block_id nil, a = bid(1), b = bid(2);
    block_id_set_nil(&nil);
    assert_true(block_id_is_nil(&nil));
    assert_false(block_id_is_complete(&nil));
    assert_int_equal(block_id_validate(&nil), 0);
    assert_true(block_id_is_complete(&a));
    assert_false(block_id_is_nil(&a));
    assert_true(block_id_equal(&a, &a));
    assert_false(block_id_equal(&a, &b));
    assert_true(block_id_compare(&a, &b) < 0);
    assert_true(block_id_compare(&b, &a) > 0);
    struct block_id half = a;
    half.parts.total = 0;
    assert_int_equal(block_id_validate(&half), PX_EINVAL);
    half = nil;
    half.parts.total = 1;
    assert_int_equal(block_id_validate(&half), PX_EINVAL);
    half = a;
    half.parts.total = BLOCK_ID_MAX_PARTS + 1;
    assert_int_equal(block_id_validate(&half), PX_EINVAL);
}

static void validate_basic(void **state)
{
    (void)state;
    struct vote v = good_vote();
    assert_int_equal(vote_validate_basic(&v), 0);
    block_id_set_nil(&v.block_id);
    assert_int_equal(vote_validate_basic(&v), 0);
    v = good_vote();
    v.type = (enum vote_type)3;
    assert_int_equal(vote_validate_basic(&v), PX_EINVAL);
    v = good_vote();
    v.height = 0;
    assert_int_equal(vote_validate_basic(&v), PX_EINVAL);
    v = good_vote();
    v.round = -1;
    assert_int_equal(vote_validate_basic(&v), PX_EINVAL);
    v = good_vote();
    v.validator_index = -1;
    assert_int_equal(vote_validate_basic(&v), PX_EINVAL);
    v = good_vote();
    v.block_id.parts.total = 0;
    assert_int_equal(vote_validate_basic(&v), PX_EINVAL);
    assert_string_equal(vote_type_name(VOTE_TYPE_PRECOMMIT), "precommit");
    assert_string_equal(vote_type_name(VOTE_TYPE_PREVOTE), "prevote");
    assert_string_equal(vote_type_name(0), "unknown");
}

static void conflicts(void **state)
{
    (void)state;
    struct vote a = good_vote(), b = good_vote();
    assert_false(vote_conflicts(&a, &b)); /* same block: duplicate, not a conflict */
    b.timestamp_ns = 99;
    assert_false(vote_conflicts(&a, &b));
    b.block_id = bid(8);
    assert_true(vote_conflicts(&a, &b));
    block_id_set_nil(&b.block_id);
    assert_true(vote_conflicts(&a, &b)); /* block vs nil is a double sign too */
    b = good_vote();
    b.block_id = bid(8);
    b.round = 2;
    assert_false(vote_conflicts(&a, &b));
    b.round = 1;
    b.type = VOTE_TYPE_PRECOMMIT;
    assert_false(vote_conflicts(&a, &b));
    b.type = VOTE_TYPE_PREVOTE;
    b.validator_address[0] = 1;
    assert_false(vote_conflicts(&a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(block_ids),
        cmocka_unit_test(validate_basic),
        cmocka_unit_test(conflicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
