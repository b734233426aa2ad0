/*
 * indexer: feeds the event index (engine/store/txindex) from the FinalizeBlock results
 * the state store keeps for every height: each tx event attribute as "type.key" = value
 * (and the tx's height/index), each block event attribute likewise. Runs on the consensus
 * thread after a commit, and at start for any height committed but not yet indexed (a
 * crash between the two). Never affects consensus: a failure is logged and retried at the
 * next start.
 */
#ifndef PX_INDEXER_H
#define PX_INDEXER_H

#include "statestore.h"
#include "txindex.h"

#include <stdint.h>

/* Index height h from ss's RESULTS(h). PX_ENOTFOUND if no results are stored for h,
 * PX_EDECODE if they do not decode, store errors. */
int indexer_index_height(struct txindex *x, struct statestore *ss, uint64_t h);

/* Index every height from txindex_height(x)+1 (at least `from`) to `to`. Returns the
 * first error (heights before it are indexed). Logs progress for long runs. */
int indexer_catch_up(struct txindex *x, struct statestore *ss, uint64_t from, uint64_t to);

#endif
