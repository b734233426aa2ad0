/*
 * txindex: the index of events by attribute, for the RPC's tx_search and block_search
 * (SQLite, WAL mode, its own file HOME/data/txindex.db). For every committed height it
 * holds each transaction event attribute as (height, tx index, "type.key", value) and each
 * block event attribute as (height, "type.key", value), so that a query with an equality
 * on an event attribute finds its candidates without reading every stored result.
 *
 * One writer (the node's consensus thread, after each commit); readers (RPC) open their
 * own read-only handle. Indexing a height is one transaction and idempotent, so a crash
 * between a commit and its indexing is repaired by indexing the missing heights at start.
 * The index is a cache of the stored results: it never decides anything.
 */
#ifndef PX_TXINDEX_H
#define PX_TXINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TXINDEX_KEY_MAX 256   /* "type.key" bytes kept; longer ones are not indexed */
#define TXINDEX_VALUE_MAX 512 /* value bytes kept; longer ones are not indexed */

struct txindex;

int txindex_open(const char *path, bool readonly, struct txindex **out);
void txindex_close(struct txindex *x);

/* Highest height indexed (0: none). */
uint64_t txindex_height(struct txindex *x);

/* Index one height: begin, add the attributes, commit (which also records the height as
 * indexed). Adding a height again replaces what it had. */
int txindex_begin(struct txindex *x, uint64_t height);
int txindex_add_tx(struct txindex *x, uint32_t tx_index, const char *key, const char *value);
int txindex_add_block(struct txindex *x, const char *key, const char *value);
int txindex_commit(struct txindex *x);
void txindex_rollback(struct txindex *x);

/* Transactions (height, index) with an attribute key = value, heights in [lo, hi],
 * ascending (or descending), at most cap of them in out; *n gets how many were written
 * and *more whether others exist beyond cap. */
int txindex_find_txs(struct txindex *x, const char *key, const char *value, uint64_t lo,
                     uint64_t hi, bool desc, uint64_t (*out)[2], size_t cap, size_t *n, bool *more);
/* Heights whose block events have key = value, as above. */
int txindex_find_blocks(struct txindex *x, const char *key, const char *value, uint64_t lo,
                        uint64_t hi, bool desc, uint64_t *out, size_t cap, size_t *n, bool *more);

#endif
