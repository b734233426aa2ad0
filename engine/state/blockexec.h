/*
 * blockexec: everything between the consensus core and the application for one block —
 * building our proposal, judging a peer's proposal, executing a decided block in the
 * order of DESIGN §7, and the start-up handshake that brings the app and the node's
 * stores back in step after any crash.
 *
 * Runs on the consensus thread, synchronously (each call waits for the app, bounded by
 * call_timeout_ms). Never signs; never touches the consensus core.
 *
 * Commit order (blockexec_apply), each step idempotent under replay:
 *   1. block + seen commit saved in the block store (durable)
 *   2. FinalizeBlock at the app
 *   3. its response saved in the state store (STATESTORE_RESULTS, height)
 *   4. Commit at the app (durable there)
 *   5. the new chain state saved (STATESTORE_STATE, height; validators/params records)
 *   6. the mempool updated (committed txs removed)
 */
#ifndef PX_BLOCKEXEC_H
#define PX_BLOCKEXEC_H

#include "abci_client.h"
#include "block.h"
#include "blockstore.h"
#include "chainstate.h"
#include "commit.h"
#include "evidence.h"
#include "genesis.h"
#include "mempool.h"
#include "statestore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blockexec {
    struct abci_client *app;
    struct blockstore *bs;
    struct statestore *ss;
    struct mempool *mp; /* may be NULL (no mempool: empty blocks) */
    /* true: after a block the mempool's check gate stays closed until the mempool
     * reactor's recheck opens it; false: blockexec opens it after the mempool update */
    bool mempool_recheck;
    uint32_t call_timeout_ms; /* per ABCI call; 0: the client's default */
};

/* Per-transaction outcome of an executed block, for events, the RPC and logs. */
struct blockexec_tx_result {
    uint32_t code;
    int64_t gas_wanted, gas_used;
};

struct blockexec_result {
    uint64_t height;
    uint32_t n_txs;
    struct blockexec_tx_result *txs; /* n_txs entries, malloc'd; blockexec_result_fini */
    uint32_t n_validator_updates;
    uint8_t app_hash[HEADER_APP_HASH_MAX];
    uint32_t app_hash_len;
};

void blockexec_result_fini(struct blockexec_result *r);

/* What an operator does about a node whose block store or state store is damaged, lost or
 * out of step with the other (the end of the messages that report it; README "Recovering
 * a node" says the same). */
#define BLOCKEXEC_STORE_FIX                                                                        \
    "restore blockstore.db and state.db from one backup (taken together, with the node "           \
    "stopped), or resync the node: stop it, move blockstore.db, state.db, txindex.db and "         \
    "cs.wal out of its data directory (keep priv_validator_state.json), reset its app's data, "    \
    "and start it to catch up from its peers"

/* Ranked errors: true for an error of blockexec_apply that no retry can mend — a store
 * that is damaged (PX_ECORRUPT), cannot be read or written (PX_EIO: I/O error, disk full)
 * or is read-only (PX_EPERM), or a decided block whose header carries another app hash
 * than our app returned (PX_EDIVERGED: our app's state differs from the network's);
 * blockexec_apply has logged which file or which hashes, and what to do. The
 * caller stops the node. Everything else (the app away or slow, a busy database) is worth
 * another try. Apart from PX_EDIVERGED, blockexec never returns these codes for a fault
 * of the app. */
bool blockexec_err_is_fatal(int err);

/* Build our proposal for height s->last_height + 1: reap the mempool (up to the block
 * byte and gas limits), ask the app (PrepareProposal), and make the block with every
 * header field from the state. last_commit: the commit of s->last_height (NULL at the
 * initial height). time_ns: the block time (the caller makes it later than the last
 * block's). `out` must be block_init'ed; *enc gets the encoded block (malloc'd).
 * Errors: PX_EAPP/PX_ECLOSED/PX_ETIMEDOUT (app), PX_ETOOBIG (the app's txs overflow the
 * block), PX_ENOMEM. */
int blockexec_build(struct blockexec *bx, const struct chain_state *s, uint64_t time_ns,
                    const uint8_t proposer[HEADER_ADDRESS_SIZE], const struct commit *last_commit,
                    const struct evidence *ev, size_t n_ev, struct block *out, uint8_t **enc,
                    size_t *enc_len);

/* Judge a proposed block for height s->last_height + 1: header fields against the state
 * (chain id, height, last block id, validators/next validators/consensus/app/last results
 * hashes, proposer = expected_proposer, time later than the last block and not beyond
 * now_wall_ns + max_future_ns), data and evidence hashes, the last commit (2/3+ of
 * s->last_validators, good signatures), then ProcessProposal at the app.
 * Returns 0 if valid; PX_EINVAL if invalid (why says what, e.g. "app_hash differs");
 * other negative codes for local faults (app unreachable: not a verdict). */
int blockexec_validate(struct blockexec *bx, const struct chain_state *s, const struct block *b,
                       const uint8_t expected_proposer[HEADER_ADDRESS_SIZE], uint64_t now_wall_ns,
                       uint64_t max_future_ns, char *why, size_t why_cap);

/* Execute the decided block b (encoded: enc) with id `id`, decided by seen_commit, in the
 * commit order above; *s becomes the state after it (only on success). res may be NULL.
 * Errors: PX_ECONFLICT (a different block is stored at this height: refuse, never
 * overwrite), app errors (PX_EAPP, PX_ECLOSED, PX_ETIMEDOUT, PX_EPROTO), store errors
 * (PX_EAGAIN when busy; fatal ones, see blockexec_err_is_fatal). On error nothing after
 * the failed step was done; calling again with the same block resumes safely. */
int blockexec_apply(struct blockexec *bx, struct chain_state *s, const struct block *b,
                    const uint8_t *enc, size_t enc_len, const struct block_id *id,
                    const struct commit *seen_commit, struct blockexec_result *res);

/* Start-up handshake (DESIGN §5): load the latest state from the state store (or build it
 * from genesis and InitChain the app when the chain has not started), ask the app for Info
 * and bring it to the store's height by replaying stored blocks (FinalizeBlock + Commit),
 * finishing a height whose block was saved but whose state was not. On success *s is the
 * current state and the app, block store and state store agree on its height and app
 * hash. Errors: PX_ESTATE (the app is ahead of the stores, or its app hash differs from
 * the chain's after replay, or the block store is behind the state store — emptied or
 * replaced — or more than one height ahead of it: why says which files, heights and what
 * to do), PX_ECONFIG (no validators: none in the genesis and none from InitChain), app
 * errors, store errors. A fresh node (both stores empty) and a crash between saving a
 * block and saving the state after it (block store one ahead) are the states it starts
 * from. Progress of long replays is logged (done/total, rate). */
int blockexec_handshake(struct blockexec *bx, const struct genesis *g, struct chain_state *s,
                        char *why, size_t why_cap);

#endif
