/*
 * csdriver: the shell around the consensus core (DESIGN §3, §7). It owns the core and
 * everything the core must not do: the consensus WAL (every input logged before the core
 * sees it; our signed messages fsynced before they leave), the signer, block contents of
 * the current height (assembled from parts, or built by us), signature checks of peers'
 * votes and proposals, the app calls of each height (through blockexec) and the timers.
 *
 * Single-threaded: only the node's consensus thread calls it. Output order of every step
 * is the core's: persist → sign → send → app → timers.
 *
 * Restart: csd_start replays the WAL records of the height after the last committed one
 * through a fresh core, without re-sending or re-asking the app for what the log already
 * holds the answer to; then carries out whatever was left unanswered (a vote the signer
 * already signed is signed again with identical bytes and gets the same signature).
 */
#ifndef PX_CSDRIVER_H
#define PX_CSDRIVER_H

#include "blockexec.h"
#include "chainstate.h"
#include "cs.h"
#include "part_set.h"
#include "privval.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct csd_config {
    struct cs_config core; /* timeouts; own_address is set from the signer */
    const char *wal_path;
    uint32_t wal_max_record_bytes; /* 0: the WAL's default */
    uint64_t max_future_ns;        /* a proposed block's time may be this far ahead of ours */
};

struct csd_hooks {
    /* A block was committed in `round`: s is the state after it. The height's votes are
     * still readable through csd_vote during the call. */
    void (*committed)(const struct chain_state *s, const struct block *b, size_t block_bytes,
                      const struct block_id *id, int32_t round, const struct blockexec_result *res,
                      void *user);
    /* A peer's signature was checked, taking `seconds` (metrics; may be NULL). */
    void (*sig_verified)(double seconds, void *user);
    void *user;
};

/* What the shell publishes to the peers: typed messages; the consensus reactor encodes
 * them and chooses the channels (the shell knows neither). Called only live, never during
 * replay, and only once the message is durable: our own vote or proposal is in the WAL,
 * fsynced, before its callback runs (persist → sign → send). Called on the consensus thread
 * from inside csd_* calls: a callback must not call back into the shell except its views.
 * Either callback may be NULL. */
struct csd_publish {
    /* Our signed vote, for every peer (gossip repairs anything lost). */
    void (*vote_cb)(const struct vote *v, void *user);
    /* Our signed proposal with the parts of its block (parts: NULL if we hold none). */
    void (*proposal_cb)(const struct proposal *p, const struct part_set *parts, void *user);
    void *user;
};

struct csd;

/* state: the node's chain state (updated in place at every commit; the caller keeps it
 * alive). pv: the signer, or NULL for a node that is not a validator. */
int csd_new(const struct csd_config *cfg, struct blockexec *bx, struct chain_state *state,
            struct privval *pv, const struct csd_hooks *hooks, struct csd **out);
void csd_free(struct csd *d);
/* Set the publish hooks (copied), or with NULL remove them: nothing is published then. */
void csd_set_publish(struct csd *d, const struct csd_publish *pub);

/* Open the WAL, replay the current height, start. Errors: WAL errors (PX_ECORRUPT with a
 * log line naming the repair command), PX_ENOMEM. */
int csd_start(struct csd *d, uint64_t mono_ns, uint64_t wall_ns);

/* Messages from peers, already decoded. 0: taken (or harmlessly ignored: another height);
 * PX_ECRYPTO: bad signature or a proof that fails — the peer misbehaves; PX_EINVAL:
 * malformed. */
int csd_on_proposal(struct csd *d, const struct proposal *p, uint64_t mono_ns, uint64_t wall_ns);
int csd_on_vote(struct csd *d, const struct vote *v, uint64_t mono_ns, uint64_t wall_ns);
int csd_on_part(struct csd *d, uint64_t height, int32_t round, const struct part *p,
                uint64_t mono_ns, uint64_t wall_ns);
/* A decided block for our height with the commit that decided it (catch-up). */
int csd_on_decided(struct csd *d, const uint8_t *block, size_t block_len, const uint8_t *commit,
                   size_t commit_len, uint64_t mono_ns, uint64_t wall_ns);

/* Fire due timers and retries. Non-zero: consensus cannot go on (a WAL write failed, or
 * a decided block cannot be committed because a store is damaged or unwritable, see
 * blockexec_err_is_fatal, or our own signed vote or proposal could not be queued, a bug;
 * the reason is logged): the caller stops the node. */
int csd_tick(struct csd *d, uint64_t mono_ns, uint64_t wall_ns);
uint64_t csd_next_deadline(const struct csd *d);

/* Views for gossip and status. */
uint64_t csd_height(const struct csd *d);
int32_t csd_round(const struct csd *d);
enum cs_step csd_step(const struct csd *d);
uint32_t csd_nvals(const struct csd *d);
/* The proposal of `round` at our height, or NULL. */
const struct proposal *csd_proposal(const struct csd *d, int32_t round);
/* The parts we hold of the block proposed in `round` (NULL if none). */
const struct part_set *csd_parts(const struct csd *d, int32_t round);
/* The vote of validator `index` of type `type` in `round` at our height, or NULL. */
const struct vote *csd_vote(const struct csd *d, int32_t round, enum vote_type type,
                            uint32_t index);
/* Rounds with anything stored, ascending; returns how many (at most cap). */
size_t csd_rounds(const struct csd *d, int32_t *rounds, size_t cap);

struct csd_stats {
    uint64_t heights_committed;
    uint64_t rounds_started;
    uint64_t votes_in, votes_bad, proposals_in, parts_in;
    uint64_t signed_votes, signed_proposals, sign_refusals;
    uint64_t evidence;
};
void csd_stats(const struct csd *d, struct csd_stats *st);

#endif
