/*
 * blockexec_internal: what the files of block execution (engine/state/blockexec*.c) share;
 * nothing outside them includes it. blockexec_abci.c is the edge towards the app: every
 * ABCI request for a block is built there and every answer read there; the other files
 * hold an answer only as a struct blockexec_abci_answer and never look inside it.
 *
 * All of these run on the consensus thread, synchronously, like the blockexec_* calls
 * they serve. Errors of the app calls: PX_EAPP (the app failed or answered something
 * unusable, logged), PX_ECLOSED (the connection to the app failed), PX_ETIMEDOUT,
 * PX_EPROTO, PX_ENOMEM.
 */
#ifndef PX_BLOCKEXEC_INTERNAL_H
#define PX_BLOCKEXEC_INTERNAL_H

#include "blockexec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes a sentence into why[cap] (nothing when why is NULL or cap is 0). */
void blockexec_say(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- blockexec_apply.c: the records, and steps 2..6 ------------------------------------ */

/* VALIDATORS(height) = vs; PARAMS(height) = p (packed ABCI ConsensusParams). Store errors. */
int blockexec_put_valset(struct statestore *ss, uint64_t height, const struct validator_set *vs);
int blockexec_put_params(struct statestore *ss, uint64_t height, const struct chain_params *p);

/* Steps 2..6 of the commit order for block b (id: its decided id) whose block store record
 * exists; *s becomes the state after b (only on success). app_committed: the app has
 * already committed b (its FinalizeBlock answer is taken from STATESTORE_RESULTS). res may
 * be NULL. Errors as blockexec_apply's. */
int blockexec_finish(struct blockexec *bx, struct chain_state *s, const struct block *b,
                     const struct block_id *id, bool app_committed, struct blockexec_result *res);

/* ---- blockexec_abci.c: the app edge ------------------------------------------------------ */

/* An answer of the app (PrepareProposal, FinalizeBlock), or a FinalizeBlock answer read
 * back from STATESTORE_RESULTS. Zero it before use; release with blockexec_abci_answer_fini.
 * Only blockexec_abci.c reads the fields. */
struct blockexec_abci_answer {
    Phalanx__Abci__Response *resp;                /* from the app, or NULL */
    Phalanx__Abci__ResponseFinalizeBlock *stored; /* unpacked from the state store, or NULL */
};

void blockexec_abci_answer_fini(struct blockexec_abci_answer *a);

/* PrepareProposal for height s->last_height + 1: the candidate txs (the mempool's reap),
 * max_tx_bytes = room, last_commit (NULL at the initial height) signed by
 * s->last_validators, the evidence, time and proposer. On success *out holds the app's
 * answer: read its txs with blockexec_abci_prepared_count / _tx. App errors, PX_ENOMEM. */
int blockexec_abci_prepare(struct blockexec *bx, const struct chain_state *s, uint64_t time_ns,
                           const uint8_t proposer[HEADER_ADDRESS_SIZE],
                           const struct commit *last_commit, const struct evidence *ev, size_t n_ev,
                           const struct mempool_tx *cand, size_t n_cand, uint64_t room,
                           struct blockexec_abci_answer *out);
size_t blockexec_abci_prepared_count(const struct blockexec_abci_answer *a);
/* The i-th tx the app chose (borrowed from *a). */
void blockexec_abci_prepared_tx(const struct blockexec_abci_answer *a, size_t i,
                                const uint8_t **data, size_t *len);

/* ProcessProposal of block b (height s->last_height + 1). Returns 0 if the app accepts,
 * PX_EINVAL if it rejects, PX_EAPP if it answers an unknown status, app errors; each
 * with a sentence in why. */
int blockexec_abci_process(struct blockexec *bx, const struct chain_state *s, const struct block *b,
                           char *why, size_t why_cap);

/* FinalizeBlock of b (hash bh; s is the state before b) at the app; *out holds the answer,
 * whose result count the edge has checked against b's txs (PX_EAPP otherwise). */
int blockexec_abci_finalize(struct blockexec *bx, const struct chain_state *s,
                            const struct block *b, const uint8_t bh[HEADER_HASH_SIZE],
                            struct blockexec_abci_answer *out);

/* Commit at the app (height: for the log). */
int blockexec_abci_commit(struct blockexec *bx, uint64_t height);

/* The app's last committed height and app hash (Info). PX_EAPP for an impossible answer. */
int blockexec_abci_info(struct blockexec *bx, int64_t *height, uint8_t hash[HEADER_APP_HASH_MAX],
                        uint32_t *hash_len);

/* InitChain from the genesis g. update_state: *s is the state built from g and takes the
 * app's validators, params and app hash; otherwise *s is the stored state, and while it is
 * the state after genesis the app's app hash must agree with it (PX_ESTATE). App errors
 * with a sentence in why, PX_ENOMEM. */
int blockexec_abci_init_chain(struct blockexec *bx, const struct genesis *g, struct chain_state *s,
                              bool update_state, char *why, size_t cap);

/* The stored form of a FinalizeBlock answer (STATESTORE_RESULTS): encode gives a malloc'd
 * buffer (PX_ETOOBIG over STATESTORE_MAX_VALUE_BYTES, PX_ENOMEM); decode reads it back into
 * *out, PX_ECORRUPT if it does not decode or does not hold n_txs results (*out must still
 * be released). */
int blockexec_abci_answer_encode(const struct blockexec_abci_answer *a, uint8_t **buf, size_t *len);
int blockexec_abci_answer_decode(struct blockexec_abci_answer *out, const uint8_t *buf, size_t len,
                                 uint32_t n_txs);

/* The app hash of a FinalizeBlock answer; PX_EAPP if it is longer than HEADER_APP_HASH_MAX. */
int blockexec_abci_answer_app_hash(const struct blockexec_abci_answer *a,
                                   uint8_t hash[HEADER_APP_HASH_MAX], uint32_t *len);

/* The state after b from the state before it (*s) and the app's FinalizeBlock answer a;
 * *next must not alias *s. *params_changed: the consensus params changed. Only app faults
 * (PX_EAPP, with a sentence logged) and PX_ENOMEM. */
int blockexec_abci_next_state(const struct chain_state *s, const struct block *b,
                              const struct block_id *id, const struct blockexec_abci_answer *a,
                              struct chain_state *next, bool *params_changed);

/* The report of block `height` from its FinalizeBlock answer (PX_ENOMEM). */
int blockexec_abci_result(struct blockexec_result *res, uint64_t height,
                          const struct blockexec_abci_answer *a);

/* p packed as ABCI ConsensusParams (the STATESTORE_PARAMS record) into buf[cap];
 * PX_EINTERNAL if it does not fit. */
int blockexec_abci_params_encode(const struct chain_params *p, uint8_t *buf, size_t cap,
                                 size_t *len);

#endif
