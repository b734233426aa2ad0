/*
 * p2p_dup: the duplicate-connection rule (see p2p_dup.h). Pure.
 */
#include "p2p_dup.h"

#include <string.h>

bool p2p_dup_keep_new(const char *self_id, const char *peer_id, bool new_outbound,
                      bool old_outbound)
{
    if (new_outbound == old_outbound)
        return true;
    /* the surviving connection is the one the lower id dialled: ours if we are lower */
    bool keep_outbound = strcmp(self_id, peer_id) < 0;
    return new_outbound == keep_outbound;
}
