/*
 * cons_reactor: consensus gossip (DESIGN §6). Tracks, for every peer, where it is
 * (height/round/step, from its NewRoundStep messages) and what it already holds (the
 * proposals, block parts and votes we sent it or it sent us), and on every tick sends each
 * peer what it lacks: the proposal and parts of its round, the votes of its height, and
 * to a peer that is behind, the decided block of its height with the commit that decided
 * it (catch-up). A message lost with a connection is sent again after the reconnect,
 * because the peer's state starts empty.
 *
 * It also sends what the shell publishes (csd_publish: our own signed votes and proposals
 * with their parts) to every peer at once: cons_reactor_new installs itself as the shell's
 * publish hooks, cons_reactor_free removes them.
 *
 * Runs on the consensus thread only. A peer that sends something undecodable or badly
 * signed is banned through p2p_ban_peer with the reason.
 *
 * Requests that cost us work are metered per peer (p2p_bucket.h): a BlockRequest (a block
 * and its commit loaded from the store and sent) is answered at most block_requests_per_s
 * times a second, with bursts of block_request_burst; requests beyond are not answered, and
 * a peer that sends block_request_burst of those before its allowance has filled up again
 * is flooding: it is banned, with the reason logged. What the answers queue for a peer is
 * bounded by the p2p blocksync channel (messages and bytes). The other messages cost at
 * most one block load per peer per tick (catch-up) or are checked and dropped.
 */
#ifndef PX_CONS_REACTOR_H
#define PX_CONS_REACTOR_H

#include "blockstore.h"
#include "csdriver.h"
#include "p2p.h"

#include <stddef.h>
#include <stdint.h>

#define CONS_REACTOR_MAX_PEERS 128
#define CONS_REACTOR_BLOCK_REQUESTS_PER_S 200 /* defaults of cons_reactor_set_limits */
#define CONS_REACTOR_BLOCK_REQUEST_BURST 400
#define CONS_REACTOR_MAX_MSG_BYTES (CODEC_BLOCK_MAX_BYTES + CODEC_COMMIT_MAX_BYTES + 1024)

struct cons_reactor;

int cons_reactor_new(struct csd *d, struct p2p *p2p, struct blockstore *bs,
                     struct cons_reactor **out);
void cons_reactor_free(struct cons_reactor *r);
/* Set the BlockRequest rate limit of every peer (both >= 1; 0 keeps the current value). */
void cons_reactor_set_limits(struct cons_reactor *r, uint32_t block_requests_per_s,
                             uint32_t block_request_burst);

void cons_reactor_peer_up(struct cons_reactor *r, const char *peer_id);
void cons_reactor_peer_down(struct cons_reactor *r, const char *peer_id);
/* A message on one of the consensus channels. */
void cons_reactor_receive(struct cons_reactor *r, const char *peer_id, uint8_t channel,
                          const uint8_t *data, size_t len, uint64_t mono_ns, uint64_t wall_ns);
/* Send what peers lack; call every few tens of milliseconds and after every input. */
void cons_reactor_tick(struct cons_reactor *r, uint64_t mono_ns);

#endif
