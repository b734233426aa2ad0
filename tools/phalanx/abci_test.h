/*
 * abci_test: what the files of `phalanx abci-test` share (cmd_abci_test.c runs the script;
 * abci_test_model.c is TXFORMAT.md's expected results and app hash; abci_test_order.c the
 * calls an app must refuse; abci_test_genesis.c the genesis edge cases).
 *
 * A step reports PASS or FAIL exactly once, with a line saying what was seen and, on
 * FAIL, what the spec requires. Nothing here changes anything but the app under test.
 */
#ifndef PHALANX_ABCI_TEST_H
#define PHALANX_ABCI_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abci_client.h"

#define ABCI_TEST_HASH_MAX 64
#define ABCI_TEST_NO_ALT (-1)

struct abci_test {
    struct abci_client *cli;
    int timeout_ms;
    int passed, failed;
    const char *chain_id;
    bool own_hash; /* --own-app-hash: the app's hash is not TXFORMAT.md §5's */
    /* the last committed height and the app hash after it (G at height 0) */
    int64_t height;
    uint8_t hash[ABCI_TEST_HASH_MAX];
    size_t hash_len;
};

/* Print one PASS/FAIL line and count it. */
void abci_test_report(struct abci_test *t, bool ok, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Lower-case hex of b[n] into out ("(empty)" for n == 0). */
void abci_test_hex(char *out, size_t cap, const uint8_t *b, size_t n);

/* One call; NULL after reporting `step` as failed with the client's sentence. */
Phalanx__Abci__Response *abci_test_call(struct abci_test *t, const char *step, enum abci_conn conn,
                                        const Phalanx__Abci__Request *req);

/* Fill the request members for a call of that method (borrowed pointers; valid while the
 * arguments are). app_state may be NULL (no bytes). */
void abci_test_init_chain_req(Phalanx__Abci__Request *req, Phalanx__Abci__RequestInitChain *ic,
                              Phalanx__Abci__Timestamp *time, const char *chain_id,
                              int64_t initial_height, const uint8_t *app_state, size_t len);
void abci_test_finalize_req(Phalanx__Abci__Request *req, Phalanx__Abci__RequestFinalizeBlock *fb,
                            Phalanx__Abci__Timestamp *time, Phalanx__Abci__CommitInfo *ci,
                            uint8_t hash[32], uint8_t proposer[20], int64_t height,
                            ProtobufCBinaryData *txs, size_t n);
void abci_test_commit_req(Phalanx__Abci__Request *req, Phalanx__Abci__RequestCommit *c);

/* The call must be answered with an Exception (`rule` names the spec's section); a normal
 * answer, a closed connection or a timeout fails the step. True if it passed. */
bool abci_test_expect_exception(struct abci_test *t, const char *step, const char *rule,
                                enum abci_conn conn, const Phalanx__Abci__Request *req);

/* Info must report t->height and t->hash (at height 0: the hash of InitChain, or empty). */
bool abci_test_info_matches(struct abci_test *t, const char *step);

/* ---- the model of apps/kvledger/TXFORMAT.md (abci_test_model.c) ---------------------- */

/* A tx of the script with the code §1-§2 give it; alt is another code an app without
 * ledger txs (§1.2) may give (8, for a tx starting with LDG1), or ABCI_TEST_NO_ALT. */
struct abci_test_tx {
    const char *name;
    ProtobufCBinaryData tx;
    uint32_t code;
    int alt;
};

/* True if code is what the spec gives c. */
bool abci_test_code_ok(const struct abci_test_tx *c, uint32_t code);

struct abci_test_account {
    uint8_t pub[32];
    uint64_t balance;
};

/* G of §5 for chain_id and accounts (any order: sorted here by raw key bytes). */
void abci_test_genesis_hash(const char *chain_id, const struct abci_test_account *accts, size_t n,
                            uint8_t out[32]);

/* A(h) of §5 from A(h-1) = prev: each tx with the code the app answered (codes[i]); a tx
 * with code 0 writes the KV set or delete of §1.1. */
void abci_test_block_hash(const uint8_t prev[32], int64_t height, const ProtobufCBinaryData *txs,
                          const uint32_t *codes, size_t n, uint8_t out[32]);

/* The hostile txs (several rules broken at once, §1 order); *n gets their count. Built on
 * the first call. */
const struct abci_test_tx *abci_test_hostile_txs(size_t *n);

/* ---- step groups -------------------------------------------------------------------- */

/* Fresh app, before any InitChain: FinalizeBlock and Commit are exceptions. */
bool abci_test_order_before_init(struct abci_test *t);
/* InitChain done, nothing committed: FinalizeBlock at other heights, Commit without a
 * block are exceptions. */
bool abci_test_order_at_genesis(struct abci_test *t);
/* After the first Commit: InitChain, FinalizeBlock of a committed or a too high height,
 * Commit without a block are exceptions. */
bool abci_test_order_after_blocks(struct abci_test *t);

/* InitChain with the genesis edge cases of TXFORMAT.md §3 (accepted ones must give G,
 * refused ones an exception) and initial heights 0 and 5 (InitChain again over an
 * uncommitted block). Leaves the app at height 0 with some genesis: the script then runs
 * its own InitChain. */
bool abci_test_genesis_cases(struct abci_test *t);

#endif
