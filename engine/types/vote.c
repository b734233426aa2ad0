/*
 * vote: validation and comparison of votes (see vote.h). Pure functions; never allocates,
 * never verifies signatures (the shell does that before the core sees a vote).
 */
#include "vote.h"

#include <string.h>

#include "px_error.h"

bool vote_type_is_valid(int type)
{
    return type == VOTE_TYPE_PREVOTE || type == VOTE_TYPE_PRECOMMIT;
}

const char *vote_type_name(int type)
{
    switch (type) {
    case VOTE_TYPE_PREVOTE:
        return "prevote";
    case VOTE_TYPE_PRECOMMIT:
        return "precommit";
    default:
        return "unknown";
    }
}

int vote_validate_basic(const struct vote *v)
{
    if (!vote_type_is_valid((int)v->type) || v->height == 0 || v->round < 0 ||
        v->validator_index < 0) {
        return PX_EINVAL;
    }
    return block_id_validate(&v->block_id);
}

bool vote_conflicts(const struct vote *a, const struct vote *b)
{
    return a->type == b->type && a->height == b->height && a->round == b->round &&
           memcmp(a->validator_address, b->validator_address, VOTE_ADDRESS_SIZE) == 0 &&
           !block_id_equal(&a->block_id, &b->block_id);
}
