/*
 * abci_test_order: the calls PROTOCOL.md §5.4 says an app MUST answer with an Exception —
 * FinalizeBlock before InitChain or at a height other than the next one, Commit without a
 * finalized block, InitChain after a Commit — each followed by Info, which must show that
 * nothing changed. An engine with a bug, or one that reconnected and lost its place
 * (issue 12), sends exactly these; an app that executes them anyway commits a wrong
 * state.
 *
 * Only sends requests and reads answers; never leaves a block open.
 */
#include "abci_test.h"

#include <stdio.h>
#include <string.h>

#define RULE "PROTOCOL.md §5.4"

static bool finalize_refused(struct abci_test *t, const char *step, int64_t height)
{
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestFinalizeBlock fb;
    Phalanx__Abci__Timestamp ts;
    Phalanx__Abci__CommitInfo ci;
    uint8_t hash[32], proposer[20];
    ProtobufCBinaryData tx = {strlen("abci-test/never=1"), (uint8_t *)"abci-test/never=1"};
    abci_test_finalize_req(&req, &fb, &ts, &ci, hash, proposer, height, &tx, 1);
    return abci_test_expect_exception(t, step, RULE, ABCI_CONN_CONSENSUS, &req);
}

static bool commit_refused(struct abci_test *t, const char *step)
{
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestCommit c;
    abci_test_commit_req(&req, &c);
    return abci_test_expect_exception(t, step, RULE, ABCI_CONN_CONSENSUS, &req);
}

bool abci_test_order_before_init(struct abci_test *t)
{
    bool ok = finalize_refused(t, "finalize_block before init", 1);
    ok = commit_refused(t, "commit before init") && ok;
    return abci_test_info_matches(t, "info after refused calls") && ok;
}

bool abci_test_order_at_genesis(struct abci_test *t)
{
    bool ok = finalize_refused(t, "finalize_block h=2 (want 1)", 2);
    ok = finalize_refused(t, "finalize_block h=0", 0) && ok;
    ok = finalize_refused(t, "finalize_block h=-1", -1) && ok;
    ok = commit_refused(t, "commit without a block") && ok;
    return abci_test_info_matches(t, "info after refused calls") && ok;
}

bool abci_test_order_after_blocks(struct abci_test *t)
{
    char step[96];
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestInitChain ic;
    Phalanx__Abci__Timestamp ts;
    abci_test_init_chain_req(&req, &ic, &ts, t->chain_id, 1, NULL, 0);
    bool ok =
        abci_test_expect_exception(t, "init_chain after a commit", RULE, ABCI_CONN_CONSENSUS, &req);
    snprintf(step, sizeof(step), "finalize_block h=%lld (committed)", (long long)t->height);
    ok = finalize_refused(t, step, t->height) && ok;
    snprintf(step, sizeof(step), "finalize_block h=%lld (want %lld)", (long long)t->height + 2,
             (long long)t->height + 1);
    ok = finalize_refused(t, step, t->height + 2) && ok;
    ok = commit_refused(t, "commit without a block") && ok;
    return abci_test_info_matches(t, "info after refused calls") && ok;
}
