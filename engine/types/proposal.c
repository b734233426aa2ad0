/*
 * proposal: validation of proposals (see proposal.h). Pure; never allocates, never
 * verifies signatures.
 */
#include "proposal.h"

#include "px_error.h"

int proposal_validate_basic(const struct proposal *p)
{
    if (p->height == 0 || p->round < 0 || p->pol_round < -1 || p->pol_round >= p->round) {
        return PX_EINVAL;
    }
    if (!block_id_is_complete(&p->block_id)) {
        return PX_EINVAL;
    }
    return 0;
}
