/*
 * statestore: the execution state on disk (SQLite, WAL mode): for each height, records of a
 * few kinds — the node's state after the height (chain id, last block id, validator sets,
 * consensus params, app hash: encoded by the node), the validator set and consensus params
 * in force at the height, and the app's FinalizeBlock results. Records are opaque bytes.
 *
 * One writer thread. Several puts can be made atomic with statestore_begin/commit, which
 * the commit path uses so that a crash leaves a height's records all there or all absent.
 * Keeping the state of every height (not just the last) is what makes `phalanx rollback`
 * a deletion of the top height.
 */
#ifndef PX_STATESTORE_H
#define PX_STATESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct statestore;

enum statestore_kind {
    STATESTORE_STATE = 1,      /* the node's state after committing `height` */
    STATESTORE_VALIDATORS = 2, /* validator set that signs `height` */
    STATESTORE_PARAMS = 3,     /* consensus params in force at `height` */
    STATESTORE_RESULTS = 4,    /* FinalizeBlock response for `height` */
};

#define STATESTORE_MAX_VALUE_BYTES (64u << 20)

int statestore_open(const char *path, struct statestore **out);
int statestore_open_readonly(const char *path, struct statestore **out);
void statestore_close(struct statestore *ss);
/* The database file. */
const char *statestore_path(const struct statestore *ss);

/* Start-up check: the structure of the whole file (SQLite's quick_check, a read of every
 * page) when the database holds at most full_check_max_bytes, and in any case the latest
 * record of every kind (what the node reads first). *full (may be NULL) tells whether the
 * whole file was checked. 0 if sound (an empty store is); PX_ECORRUPT (damaged: detail
 * says what was found), PX_EIO (cannot be read), PX_ENOMEM. */
int statestore_check(struct statestore *ss, uint64_t full_check_max_bytes, bool *full, char *detail,
                     size_t cap);

/* Group the following puts/deletes into one durable transaction. Nested begin is
 * PX_ESTATE. On any error between them, call statestore_rollback. */
int statestore_begin(struct statestore *ss);
int statestore_commit(struct statestore *ss);
void statestore_rollback(struct statestore *ss);

/* Store (or replace) the record of a kind at a height. PX_ETOOBIG over the limit. */
int statestore_put(struct statestore *ss, enum statestore_kind kind, uint64_t height,
                   const uint8_t *value, size_t len);
/* The record at exactly `height` (malloc'd, caller frees). PX_ENOTFOUND if absent. */
int statestore_get(struct statestore *ss, enum statestore_kind kind, uint64_t height,
                   uint8_t **value, size_t *len);
/* The record of the highest height <= `height` (UINT64_MAX: the latest); its height goes
 * to *found (may be NULL). PX_ENOTFOUND if none. */
int statestore_get_latest(struct statestore *ss, enum statestore_kind kind, uint64_t height,
                          uint64_t *found, uint8_t **value, size_t *len);
int statestore_delete(struct statestore *ss, enum statestore_kind kind, uint64_t height);
/* Delete every record below retain_height except, per kind, the latest one below it (a
 * validator set stored only when it changed still answers get_latest). */
int statestore_prune(struct statestore *ss, uint64_t retain_height);

#endif
