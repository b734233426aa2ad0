/* Unit tests of proposal: basic validation including the POL round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "proposal.h"
#include "px_error.h"

static struct proposal good(void)
{
    struct proposal p;
    memset(&p, 0, sizeof(p));
    p.height = 1;
    p.round = 2;
    p.pol_round = -1;
    memset(p.block_id.hash, 1, sizeof(p.block_id.hash));
    p.block_id.parts.total = 3;
    memset(p.block_id.parts.hash, 2, sizeof(p.block_id.parts.hash));
    return p;
}

static void validate_basic(void **state)
{
    (void)state;
    struct proposal p = good();
    assert_int_equal(proposal_validate_basic(&p), 0);
    p.pol_round = 1;
    assert_int_equal(proposal_validate_basic(&p), 0);
    p.pol_round = 2; /* must be below the round */
    assert_int_equal(proposal_validate_basic(&p), PX_EINVAL);
    p.pol_round = -2;
    assert_int_equal(proposal_validate_basic(&p), PX_EINVAL);
    p = good();
    p.height = 0;
    assert_int_equal(proposal_validate_basic(&p), PX_EINVAL);
    p = good();
    p.round = -1;
    assert_int_equal(proposal_validate_basic(&p), PX_EINVAL);
    p = good();
    memset(&p.block_id, 0, sizeof(p.block_id)); /* nil is never proposed */
    assert_int_equal(proposal_validate_basic(&p), PX_EINVAL);
    p = good();
    p.round = 0;
    p.pol_round = 0;
    assert_int_equal(proposal_validate_basic(&p), PX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validate_basic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
