/*
 * p2p_dup: which of two connections to one peer survives. Both nodes decide alike without
 * talking: keep the connection dialled by the node with the lower id; between two
 * connections of the same direction keep the newer one (its dialler has given up on the
 * older). Pure; never looks at anything but its arguments.
 */
#ifndef P2P_DUP_H
#define P2P_DUP_H

#include <stdbool.h>

/* True if the new connection replaces the old one, false if the new one is closed.
 * Ids are the lower-case hex node ids of this node and of the peer. */
bool p2p_dup_keep_new(const char *self_id, const char *peer_id, bool new_outbound,
                      bool old_outbound);

#endif
