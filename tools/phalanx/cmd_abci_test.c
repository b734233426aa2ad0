/*
 * phalanx abci-test ADDR: the ABCI conformance tool. Dials an app that was just started
 * with an empty state and drives it through a scripted chain, printing PASS/FAIL per step
 * and a summary. Exit status: 0 all passed, 1 a step failed, 2 bad usage.
 *
 * The script: Echo; Info on a fresh app; the calls an app must refuse before InitChain
 * (abci_test_order.c); InitChain with the genesis edge cases and initial heights
 * (abci_test_genesis.c); the script's own InitChain; the calls it must refuse at height 0;
 * CheckTx and CheckTxBatch of valid, invalid and hostile txs with their exact codes;
 * Prepare/ProcessProposal; four blocks of FinalizeBlock + Commit (one repeated before its
 * Commit, one full of hostile txs) with Info after each; the calls it must refuse after a
 * Commit; Query; snapshots; RecheckTx. --after-restart instead checks an app restarted
 * (e.g. after kill -9) after a full run: its state is back and it goes on at height 5.
 *
 * The txs, codes, genesis and app hash are those of apps/kvledger/TXFORMAT.md, which every
 * conforming test app implements (kvledger, pykv); abci_test_model.c computes the
 * expected app hashes from that spec (--own-app-hash skips the comparison for an app with
 * a hash of its own). The script is fixed (times, hashes, chain id), so two fresh
 * instances of a deterministic app end with the same app hash: the tool prints it, and
 * --expect-app-hash checks it.
 *
 * It must never change anything but the app under test, nor pass a step it did not check.
 */
#include "commands.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "abci_client.h"
#include "abci_codec.h"
#include "abci_test.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"

#define HASH_MAX ABCI_TEST_HASH_MAX
#define BLOCK_TXS_MAX 40

#ifndef PHALANX_VERSION
#define PHALANX_VERSION "unknown"
#endif

/* TXFORMAT.md §2 and §4 codes the script checks. */
enum {
    CODE_OK = 0,
    CODE_MALFORMED = 1,
    CODE_TOO_LARGE = 2,
    CODE_NOT_FOUND = 20,
    CODE_BAD_QUERY = 21,
};

/* ---- shared helpers (abci_test.h) ----------------------------------------------------- */

void abci_test_report(struct abci_test *t, bool ok, const char *step, const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    printf("  %s  %-36s %s\n", ok ? "PASS" : "FAIL", step, detail);
    fflush(stdout);
    if (ok)
        t->passed++;
    else
        t->failed++;
}

void abci_test_hex(char *out, size_t cap, const uint8_t *b, size_t n)
{
    if (n == 0) {
        snprintf(out, cap, "(empty)");
        return;
    }
    if (px_hex_encode(out, cap, b, n, false) != 0)
        snprintf(out, cap, "(%zu bytes)", n);
}

Phalanx__Abci__Response *abci_test_call(struct abci_test *t, const char *step, enum abci_conn conn,
                                        const Phalanx__Abci__Request *req)
{
    Phalanx__Abci__Response *resp = NULL;
    int rc = abci_client_call(t->cli, conn, req, t->timeout_ms, &resp);
    if (rc != 0) {
        abci_test_report(t, false, step, "%s (%s)", abci_client_last_error(t->cli, conn),
                         px_strerror(rc));
        if (rc == PX_ECLOSED || rc == PX_ETIMEDOUT)
            abci_client_wait_connected(t->cli, t->timeout_ms); /* for the next step */
        return NULL;
    }
    return resp;
}

void abci_test_init_chain_req(Phalanx__Abci__Request *req, Phalanx__Abci__RequestInitChain *ic,
                              Phalanx__Abci__Timestamp *time, const char *chain_id,
                              int64_t initial_height, const uint8_t *app_state, size_t len)
{
    phalanx__abci__request__init(req);
    phalanx__abci__request_init_chain__init(ic);
    phalanx__abci__timestamp__init(time);
    time->seconds = 1700000000;
    ic->time = time;
    ic->chain_id = (char *)chain_id;
    ic->initial_height = initial_height;
    ic->app_state_bytes.data = (uint8_t *)app_state;
    ic->app_state_bytes.len = app_state ? len : 0;
    req->value_case = PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN;
    req->init_chain = ic;
}

void abci_test_finalize_req(Phalanx__Abci__Request *req, Phalanx__Abci__RequestFinalizeBlock *fb,
                            Phalanx__Abci__Timestamp *time, Phalanx__Abci__CommitInfo *ci,
                            uint8_t hash[32], uint8_t proposer[20], int64_t height,
                            ProtobufCBinaryData *txs, size_t n)
{
    phalanx__abci__request__init(req);
    phalanx__abci__request_finalize_block__init(fb);
    phalanx__abci__timestamp__init(time);
    phalanx__abci__commit_info__init(ci);
    time->seconds = 1700000000 + height;
    memset(hash, (int)(0x10 + (height & 0x3f)), 32);
    memset(proposer, 0x42, 20);
    fb->n_txs = n;
    fb->txs = txs;
    fb->height = height;
    fb->time = time;
    fb->hash.data = hash;
    fb->hash.len = 32;
    fb->proposer_address.data = proposer;
    fb->proposer_address.len = 20;
    fb->decided_last_commit = ci;
    req->value_case = PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    req->finalize_block = fb;
}

void abci_test_commit_req(Phalanx__Abci__Request *req, Phalanx__Abci__RequestCommit *c)
{
    phalanx__abci__request__init(req);
    phalanx__abci__request_commit__init(c);
    req->value_case = PHALANX__ABCI__REQUEST__VALUE_COMMIT;
    req->commit = c;
}

bool abci_test_expect_exception(struct abci_test *t, const char *step, const char *rule,
                                enum abci_conn conn, const Phalanx__Abci__Request *req)
{
    Phalanx__Abci__Response *resp = NULL;
    int rc = abci_client_call(t->cli, conn, req, t->timeout_ms, &resp);
    if (rc == 0) {
        abci_response_free(resp);
        abci_test_report(t, false, step, "answered normally; the app MUST answer an exception (%s)",
                         rule);
        return false;
    }
    const char *why = abci_client_last_error(t->cli, conn);
    if (rc == PX_EAPP) {
        const char *text = strstr(why, "exception: ");
        abci_test_report(t, true, step, "exception: %.200s", text ? text + 11 : why);
        return true;
    }
    abci_test_report(t, false, step, "%s (%s), not an exception (%s)", why, px_strerror(rc), rule);
    abci_client_wait_connected(t->cli, t->timeout_ms); /* for the next step */
    return false;
}

static Phalanx__Abci__Response *info(struct abci_test *t, const char *step)
{
    /* what the engine sends (PROTOCOL.md §4, Info) */
    Phalanx__Abci__RequestInfo in = PHALANX__ABCI__REQUEST_INFO__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    in.version = "phalanx abci-test " PHALANX_VERSION;
    in.abci_version = "1.0.0";
    in.block_version = 1;
    in.p2p_version = 0;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INFO;
    req.info = &in;
    return abci_test_call(t, step, ABCI_CONN_QUERY, &req);
}

bool abci_test_info_matches(struct abci_test *t, const char *step)
{
    Phalanx__Abci__Response *resp = info(t, step);
    if (resp == NULL)
        return false;
    const Phalanx__Abci__ResponseInfo *in = resp->info;
    char want[2 * HASH_MAX + 1], got[2 * HASH_MAX + 1];
    abci_test_hex(want, sizeof(want), t->hash, t->hash_len);
    abci_test_hex(got, sizeof(got), in->last_block_app_hash.data, in->last_block_app_hash.len);
    bool same =
        in->last_block_app_hash.len == t->hash_len &&
        (t->hash_len == 0 || memcmp(in->last_block_app_hash.data, t->hash, t->hash_len) == 0);
    bool ok = false;
    if (in->last_block_height != t->height)
        abci_test_report(t, false, step, "last_block_height %lld, expected %lld",
                         (long long)in->last_block_height, (long long)t->height);
    else if (t->height > 0 && !same)
        abci_test_report(t, false, step, "last_block_app_hash %s, expected %s (FinalizeBlock's)",
                         got, want);
    else if (t->height == 0 && t->hash_len > 0 && in->last_block_app_hash.len > 0 && !same)
        abci_test_report(t, false, step, "last_block_app_hash %s, expected InitChain's %s", got,
                         want);
    else
        ok = true;
    if (ok)
        abci_test_report(t, true, step, "height %lld, app hash %s", (long long)t->height, got);
    abci_response_free(resp);
    return ok;
}

/* ---- steps ---------------------------------------------------------------------- */

static ProtobufCBinaryData bin(const char *s)
{
    ProtobufCBinaryData b = {strlen(s), (uint8_t *)s};
    return b;
}

static void step_echo(struct abci_test *t)
{
    Phalanx__Abci__RequestEcho e = PHALANX__ABCI__REQUEST_ECHO__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    e.message = "phalanx abci-test";
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_ECHO;
    req.echo = &e;
    int ok = 0;
    for (int c = 0; c < ABCI_CONN_COUNT; c++) {
        Phalanx__Abci__Response *resp = abci_test_call(t, "echo", (enum abci_conn)c, &req);
        if (resp == NULL)
            return;
        abci_response_free(resp); /* the client checked the echoed text */
        ok++;
    }
    abci_test_report(t, true, "echo", "answered on all %d connections", ok);
}

static bool step_info_fresh(struct abci_test *t)
{
    Phalanx__Abci__Response *resp = info(t, "info (fresh app)");
    if (resp == NULL)
        return false;
    int64_t h = resp->info->last_block_height;
    abci_response_free(resp);
    if (h != 0) {
        abci_test_report(t, false, "info (fresh app)",
                         "last_block_height is %lld, not 0: start the app with an empty home",
                         (long long)h);
        return false;
    }
    abci_test_report(t, true, "info (fresh app)", "last_block_height 0");
    return true;
}

static bool step_init_chain(struct abci_test *t)
{
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestInitChain ic;
    Phalanx__Abci__Timestamp ts;
    Phalanx__Abci__ValidatorUpdate v = PHALANX__ABCI__VALIDATOR_UPDATE__INIT;
    Phalanx__Abci__ValidatorUpdate *vs[] = {&v};
    Phalanx__Abci__ConsensusParams cp = PHALANX__ABCI__CONSENSUS_PARAMS__INIT;
    Phalanx__Abci__BlockParams bp = PHALANX__ABCI__BLOCK_PARAMS__INIT;
    uint8_t pk[32];
    for (size_t i = 0; i < sizeof(pk); i++)
        pk[i] = (uint8_t)(0xA0 + i);
    abci_test_init_chain_req(&req, &ic, &ts, t->chain_id, 1, NULL, 0);
    v.pub_key.data = pk;
    v.pub_key.len = sizeof(pk);
    v.power = 10;
    v.pub_key_type = "ed25519";
    bp.max_bytes = 4 << 20;
    bp.max_gas = -1;
    cp.block = &bp;
    ic.consensus_params = &cp;
    ic.n_validators = 1;
    ic.validators = vs;
    Phalanx__Abci__Response *resp = abci_test_call(t, "init_chain", ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return false;
    ProtobufCBinaryData h = resp->init_chain->app_hash;
    if (h.len > HASH_MAX) {
        abci_test_report(t, false, "init_chain", "app hash of %zu bytes is longer than %d", h.len,
                         HASH_MAX);
        abci_response_free(resp);
        return false;
    }
    memcpy(t->hash, h.data, h.len);
    t->hash_len = h.len;
    abci_response_free(resp);
    char hx[2 * HASH_MAX + 1], want[2 * HASH_MAX + 1];
    abci_test_hex(hx, sizeof(hx), t->hash, t->hash_len);
    uint8_t g[32];
    abci_test_genesis_hash(t->chain_id, NULL, 0, g);
    if (!t->own_hash && (t->hash_len != 32 || memcmp(t->hash, g, 32) != 0)) {
        abci_test_hex(want, sizeof(want), g, 32);
        abci_test_report(t, false, "init_chain", "app hash %s, expected %s (TXFORMAT.md §5)", hx,
                         want);
        return false;
    }
    abci_test_report(t, true, "init_chain", "chain %s, app hash %s", t->chain_id, hx);
    return true;
}

static void check_one(struct abci_test *t, const struct abci_test_tx *c,
                      Phalanx__Abci__CheckTxType type)
{
    Phalanx__Abci__RequestCheckTx ct = PHALANX__ABCI__REQUEST_CHECK_TX__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    ct.tx = c->tx;
    ct.type = type;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX;
    req.check_tx = &ct;
    char step[80];
    snprintf(step, sizeof(step), "check_tx%s %s",
             type == PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_RECHECK ? " (recheck)" : "",
             c->name);
    Phalanx__Abci__Response *resp = abci_test_call(t, step, ABCI_CONN_MEMPOOL, &req);
    if (resp == NULL)
        return;
    uint32_t code = resp->check_tx->code;
    const char *lg = resp->check_tx->log ? resp->check_tx->log : "";
    if (!abci_test_code_ok(c, code))
        abci_test_report(t, false, step, "code %u, expected %u (TXFORMAT.md §1-2)%s%s", code,
                         c->code, lg[0] ? "; log: " : "", lg);
    else if (code != 0 && lg[0] == '\0')
        abci_test_report(t, false, step, "code %u but an empty log: say what is wrong", code);
    else
        abci_test_report(t, true, step, "code %u%s%s", code, lg[0] ? ", log: " : "", lg);
    abci_response_free(resp);
}

static void step_check_batch(struct abci_test *t, const struct abci_test_tx *cases, size_t n)
{
    Phalanx__Abci__RequestCheckTxBatch cb = PHALANX__ABCI__REQUEST_CHECK_TX_BATCH__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    ProtobufCBinaryData txs[8];
    for (size_t i = 0; i < n && i < 8; i++)
        txs[i] = cases[i].tx;
    cb.n_txs = n;
    cb.txs = txs;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX_BATCH;
    req.check_tx_batch = &cb;
    Phalanx__Abci__Response *resp = abci_test_call(t, "check_tx_batch", ABCI_CONN_MEMPOOL, &req);
    if (resp == NULL)
        return; /* the client checked the result count */
    for (size_t i = 0; i < n; i++) {
        uint32_t code = resp->check_tx_batch->results[i]->code;
        if (!abci_test_code_ok(&cases[i], code)) {
            abci_test_report(t, false, "check_tx_batch", "tx %zu (%s): code %u, expected %u", i,
                             cases[i].name, code, cases[i].code);
            abci_response_free(resp);
            return;
        }
    }
    abci_test_report(t, true, "check_tx_batch", "%zu results, codes as expected", n);
    abci_response_free(resp);
}

/* PrepareProposal with room for `room` bytes: the answer must fit, each tx counted with
 * its framing in the block (PROTOCOL.md §4; the client counts bare lengths only). */
static void step_prepare(struct abci_test *t, const char *step, const struct abci_test_tx *cases,
                         size_t n, int64_t room)
{
    Phalanx__Abci__RequestPrepareProposal pp = PHALANX__ABCI__REQUEST_PREPARE_PROPOSAL__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__Timestamp ts = PHALANX__ABCI__TIMESTAMP__INIT;
    uint8_t proposer[20];
    memset(proposer, 0x42, sizeof(proposer));
    ProtobufCBinaryData txs[8];
    for (size_t i = 0; i < n && i < 8; i++)
        txs[i] = cases[i].tx;
    ts.seconds = 1700000001;
    pp.n_txs = n;
    pp.txs = txs;
    pp.max_tx_bytes = room;
    pp.height = 1;
    pp.time = &ts;
    pp.proposer_address.data = proposer;
    pp.proposer_address.len = sizeof(proposer);
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL;
    req.prepare_proposal = &pp;
    Phalanx__Abci__Response *resp = abci_test_call(t, step, ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return;
    const Phalanx__Abci__ResponsePrepareProposal *pr = resp->prepare_proposal;
    uint64_t total = 0;
    for (size_t i = 0; i < pr->n_txs; i++)
        total += pr->txs[i].len + ABCI_TX_FRAMING_BYTES;
    if (total > (room > 0 ? (uint64_t)room : 0))
        abci_test_report(t, false, step,
                         "%zu txs take %llu bytes counted with %u bytes of framing each, over "
                         "max_tx_bytes %lld (PROTOCOL.md §4)",
                         pr->n_txs, (unsigned long long)total, ABCI_TX_FRAMING_BYTES,
                         (long long)room);
    else
        abci_test_report(t, true, step,
                         "%zu txs, %llu bytes with framing, within max_tx_bytes %lld", pr->n_txs,
                         (unsigned long long)total, (long long)room);
    abci_response_free(resp);
}

static void step_process(struct abci_test *t, ProtobufCBinaryData *txs, size_t n, int64_t height)
{
    Phalanx__Abci__RequestProcessProposal pp = PHALANX__ABCI__REQUEST_PROCESS_PROPOSAL__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__Timestamp ts = PHALANX__ABCI__TIMESTAMP__INIT;
    uint8_t hash[32], proposer[20];
    ts.seconds = 1700000000 + height;
    memset(hash, (int)(0x10 + (height & 0x3f)), sizeof(hash));
    memset(proposer, 0x42, sizeof(proposer));
    pp.n_txs = n;
    pp.txs = txs;
    pp.height = height;
    pp.time = &ts;
    pp.hash.data = hash;
    pp.hash.len = sizeof(hash);
    pp.proposer_address.data = proposer;
    pp.proposer_address.len = sizeof(proposer);
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL;
    req.process_proposal = &pp;
    char step[64];
    snprintf(step, sizeof(step), "process_proposal h=%lld", (long long)height);
    Phalanx__Abci__Response *resp = abci_test_call(t, step, ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return;
    if (resp->process_proposal->status != PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_ACCEPT)
        abci_test_report(t, false, step,
                         "status %d: a block of well-formed key-value txs must be accepted",
                         (int)resp->process_proposal->status);
    else
        abci_test_report(t, true, step, "ACCEPT");
    abci_response_free(resp);
}

/* FinalizeBlock(t->height + 1) of cases; checks every result (code, data, gas: TXFORMAT.md
 * §2) and the app hash (§5, from t->hash). *out gets the app hash. */
static bool finalize(struct abci_test *t, const char *step, const struct abci_test_tx *cases,
                     size_t n, bool expect_change, uint8_t out[HASH_MAX], size_t *out_len)
{
    int64_t height = t->height + 1;
    ProtobufCBinaryData txs[BLOCK_TXS_MAX];
    uint32_t codes[BLOCK_TXS_MAX];
    if (n > BLOCK_TXS_MAX)
        abort(); /* the script's blocks are small */
    for (size_t i = 0; i < n; i++)
        txs[i] = cases[i].tx;
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestFinalizeBlock fb;
    Phalanx__Abci__Timestamp ts;
    Phalanx__Abci__CommitInfo ci;
    uint8_t bhash[32], proposer[20];
    abci_test_finalize_req(&req, &fb, &ts, &ci, bhash, proposer, height, txs, n);
    Phalanx__Abci__Response *resp = abci_test_call(t, step, ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return false;
    const Phalanx__Abci__ResponseFinalizeBlock *res = resp->finalize_block;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        const Phalanx__Abci__ExecTxResult *r = res->tx_results[i];
        codes[i] = r->code;
        if (!abci_test_code_ok(&cases[i], r->code)) {
            abci_test_report(t, false, step, "tx %zu (%s): code %u, expected %u (TXFORMAT.md §1-2)",
                             i, cases[i].name, r->code, cases[i].code);
            ok = false;
        } else if (r->data.len != 0 || r->gas_wanted != 1 || r->gas_used != 1) {
            abci_test_report(t, false, step,
                             "tx %zu (%s): data of %zu bytes, gas_wanted %lld, gas_used %lld; "
                             "expected no data and gas 1/1 for every tx (TXFORMAT.md §2: "
                             "these fields are hashed into the next header)",
                             i, cases[i].name, r->data.len, (long long)r->gas_wanted,
                             (long long)r->gas_used);
            ok = false;
        }
    }
    char hx[2 * HASH_MAX + 1], want_hx[2 * HASH_MAX + 1];
    abci_test_hex(hx, sizeof(hx), res->app_hash.data, res->app_hash.len);
    if (ok && (res->app_hash.len == 0 || res->app_hash.len > HASH_MAX)) {
        abci_test_report(t, false, step, "app hash of %zu bytes: expected 1..%d bytes",
                         res->app_hash.len, HASH_MAX);
        ok = false;
    }
    if (ok && expect_change && res->app_hash.len == t->hash_len &&
        memcmp(res->app_hash.data, t->hash, t->hash_len) == 0) {
        abci_test_report(t, false, step,
                         "the app hash did not change although the block changed state");
        ok = false;
    }
    if (ok && !t->own_hash) {
        uint8_t want[32];
        abci_test_block_hash(t->hash, height, txs, codes, n, want);
        if (t->hash_len != 32 || res->app_hash.len != 32 ||
            memcmp(res->app_hash.data, want, 32) != 0) {
            abci_test_hex(want_hx, sizeof(want_hx), want, 32);
            abci_test_report(t, false, step, "app hash %s, expected %s (TXFORMAT.md §5)", hx,
                             want_hx);
            ok = false;
        }
    }
    if (ok) {
        memcpy(out, res->app_hash.data, res->app_hash.len);
        *out_len = res->app_hash.len;
        abci_test_report(t, true, step, "%zu txs, results as expected, app hash %s", n, hx);
    }
    abci_response_free(resp);
    return ok;
}

static bool commit(struct abci_test *t, int64_t height)
{
    char step[64];
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestCommit cm;
    abci_test_commit_req(&req, &cm);
    snprintf(step, sizeof(step), "commit h=%lld", (long long)height);
    Phalanx__Abci__Response *resp = abci_test_call(t, step, ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return false;
    int64_t retain = resp->commit->retain_height;
    abci_response_free(resp);
    if (retain < 0 || retain > height) {
        abci_test_report(t, false, step, "retain_height %lld outside 0..%lld", (long long)retain,
                         (long long)height);
        return false;
    }
    abci_test_report(t, true, step, "retain_height %lld", (long long)retain);
    return true;
}

/* ProcessProposal, FinalizeBlock (twice if `repeat`: the second, as after an engine
 * restart before Commit, must give the same answer; PROTOCOL.md §6.4), Commit and Info
 * for the next height. */
static bool step_block(struct abci_test *t, const struct abci_test_tx *cases, size_t n,
                       bool expect_change, bool repeat)
{
    int64_t height = t->height + 1;
    ProtobufCBinaryData txs[BLOCK_TXS_MAX];
    for (size_t i = 0; i < n && i < BLOCK_TXS_MAX; i++)
        txs[i] = cases[i].tx;
    step_process(t, txs, n, height);
    char step[64];
    snprintf(step, sizeof(step), "finalize_block h=%lld", (long long)height);
    uint8_t h1[HASH_MAX], h2[HASH_MAX];
    size_t l1 = 0, l2 = 0;
    if (!finalize(t, step, cases, n, expect_change, h1, &l1))
        return false;
    if (repeat) {
        snprintf(step, sizeof(step), "finalize_block h=%lld again", (long long)height);
        if (!finalize(t, step, cases, n, expect_change, h2, &l2))
            return false;
        if (l1 != l2 || memcmp(h1, h2, l1) != 0) {
            abci_test_report(t, false, step,
                             "a different app hash the second time: FinalizeBlock before Commit "
                             "must execute again from the committed state (PROTOCOL.md §6.4)");
            return false;
        }
    }
    if (!commit(t, height))
        return false;
    t->height = height;
    memcpy(t->hash, h1, l1);
    t->hash_len = l1;
    snprintf(step, sizeof(step), "info after h=%lld", (long long)height);
    abci_test_info_matches(t, step);
    return true;
}

static void step_query(struct abci_test *t, const char *path, ProtobufCBinaryData data,
                       int64_t height, uint32_t want_code, const char *want)
{
    Phalanx__Abci__RequestQuery q = PHALANX__ABCI__REQUEST_QUERY__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    q.path = (char *)path;
    q.data = data;
    q.height = height;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_QUERY;
    req.query = &q;
    char step[80];
    if (height != 0)
        snprintf(step, sizeof(step), "query %s height %lld", path, (long long)height);
    else if (data.len <= 40)
        snprintf(step, sizeof(step), "query %s %.*s", path, (int)data.len, (const char *)data.data);
    else
        snprintf(step, sizeof(step), "query %s (%zu bytes)", path, data.len);
    Phalanx__Abci__Response *resp = abci_test_call(t, step, ABCI_CONN_QUERY, &req);
    if (resp == NULL)
        return;
    const Phalanx__Abci__ResponseQuery *a = resp->query;
    size_t wl = want ? strlen(want) : 0;
    if (a->code != want_code)
        abci_test_report(t, false, step, "code %u (log: %s), expected %u (TXFORMAT.md §4)", a->code,
                         a->log ? a->log : "", want_code);
    else if (a->key.len != data.len || (data.len && memcmp(a->key.data, data.data, data.len)))
        abci_test_report(t, false, step,
                         "answer key of %zu bytes: it must be the request's data "
                         "(TXFORMAT.md §4)",
                         a->key.len);
    else if (want_code != CODE_OK && a->value.len != 0)
        abci_test_report(t, false, step, "a value of %zu bytes with code %u: expected none",
                         a->value.len, a->code);
    else if (want && (a->value.len != wl || memcmp(a->value.data, want, wl) != 0))
        abci_test_report(t, false, step, "value of %zu bytes '%.*s', expected '%s'", a->value.len,
                         (int)(a->value.len > 60 ? 60 : a->value.len), (const char *)a->value.data,
                         want);
    else if (a->height != t->height)
        abci_test_report(t, false, step, "answer height %lld, expected the last committed %lld",
                         (long long)a->height, (long long)t->height);
    else if (want)
        abci_test_report(t, true, step, "code 0, value '%s'", want);
    else
        abci_test_report(t, true, step, "code %u", a->code);
    abci_response_free(resp);
}

static void step_key(struct abci_test *t, const char *key, const char *want)
{
    step_query(t, "/key", bin(key), 0, want ? CODE_OK : CODE_NOT_FOUND, want);
}

/* An app without snapshots lists none and answers OfferSnapshot ABORT (PROTOCOL.md §4). */
static void step_snapshots(struct abci_test *t)
{
    Phalanx__Abci__RequestListSnapshots ls = PHALANX__ABCI__REQUEST_LIST_SNAPSHOTS__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_LIST_SNAPSHOTS;
    req.list_snapshots = &ls;
    Phalanx__Abci__Response *resp = abci_test_call(t, "list_snapshots", ABCI_CONN_SNAPSHOT, &req);
    if (resp == NULL)
        return;
    size_t n = resp->list_snapshots->n_snapshots;
    abci_response_free(resp);
    abci_test_report(t, true, "list_snapshots", "%zu snapshots", n);
    if (n > 0)
        return; /* an app with snapshots decides its own offers */
    Phalanx__Abci__RequestOfferSnapshot os = PHALANX__ABCI__REQUEST_OFFER_SNAPSHOT__INIT;
    Phalanx__Abci__Snapshot snap = PHALANX__ABCI__SNAPSHOT__INIT;
    uint8_t h[32];
    memset(h, 0x5a, sizeof(h));
    snap.height = 3;
    snap.format = 1;
    snap.chunks = 1;
    snap.hash.data = h;
    snap.hash.len = sizeof(h);
    os.snapshot = &snap;
    os.app_hash.data = h;
    os.app_hash.len = sizeof(h);
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_OFFER_SNAPSHOT;
    req.offer_snapshot = &os;
    resp = abci_test_call(t, "offer_snapshot", ABCI_CONN_SNAPSHOT, &req);
    if (resp == NULL)
        return;
    int r = (int)resp->offer_snapshot->result;
    abci_response_free(resp);
    if (r != PHALANX__ABCI__OFFER_SNAPSHOT_RESULT__OFFER_SNAPSHOT_RESULT_ABORT)
        abci_test_report(t, false, "offer_snapshot",
                         "result %d; an app without snapshots MUST answer ABORT (PROTOCOL.md §4)",
                         r);
    else
        abci_test_report(t, true, "offer_snapshot", "ABORT (no snapshots)");
}

/* ---- the script ------------------------------------------------------------------ */

static char big_key_tx[320];
static char big_value_tx[9100];
static char huge_tx[16400];
static char key_257[258];

static void build_big_txs(void)
{
    memset(big_key_tx, 'k', 300);
    memcpy(big_key_tx + 300, "=v", 3);
    memcpy(big_value_tx, "bigvalue=", 9);
    memset(big_value_tx + 9, 'v', 9000);
    memset(huge_tx, 'x', 16390);
    huge_tx[5] = '=';
    memset(key_257, 'k', 257);
}

static void after_restart_block(struct abci_test *t)
{
    const struct abci_test_tx b5[] = {
        {"set k5", bin("abci-test/k5=v5"), CODE_OK, ABCI_TEST_NO_ALT},
        {"del k1", bin("del:abci-test/k1"), CODE_OK, ABCI_TEST_NO_ALT},
        {"malformed", bin("no equals here"), CODE_MALFORMED, ABCI_TEST_NO_ALT},
    };
    if (!step_block(t, b5, 3, true, false))
        return;
    step_key(t, "abci-test/k1", NULL);
    step_key(t, "abci-test/k5", "v5");
}

/* After a restart: the state of the full script (height 4, t->hash) must be back, the
 * app must still refuse out-of-order calls, and the chain must go on. */
static void run_after_restart(struct abci_test *t)
{
    t->height = 4;
    int failed = t->failed;
    abci_test_info_matches(t, "info after restart");
    if (t->failed != failed)
        return; /* the rest assumes the committed state is back */
    step_key(t, "abci-test/k1", "v1b");
    step_key(t, "abci-test/k4", "a=b");
    step_key(t, "del:abci-test/k9", "v9");
    step_query(t, "/height", bin(""), 0, CODE_OK, "4");
    if (!abci_test_order_after_blocks(t))
        return;
    after_restart_block(t);
    char hx[2 * HASH_MAX + 1];
    abci_test_hex(hx, sizeof(hx), t->hash, t->hash_len);
    printf("final app hash: %s\n", hx);
}

static void run_fresh(struct abci_test *t, const char *expect)
{
    if (!step_info_fresh(t))
        return; /* the rest needs a fresh app */
    if (!abci_test_order_before_init(t))
        return; /* the rest assumes refused calls change nothing */
    abci_test_genesis_cases(t);
    if (!step_init_chain(t))
        return; /* the rest needs an initialised chain */
    abci_test_info_matches(t, "info after init_chain");
    if (!abci_test_order_at_genesis(t))
        return;

    const struct abci_test_tx checks[] = {
        {"set", bin("abci-test/k1=v1"), CODE_OK, ABCI_TEST_NO_ALT},
        {"set empty value", bin("abci-test/empty="), CODE_OK, ABCI_TEST_NO_ALT},
        {"delete", bin("del:abci-test/k1"), CODE_OK, ABCI_TEST_NO_ALT},
        {"empty tx", {0, (uint8_t *)""}, CODE_MALFORMED, ABCI_TEST_NO_ALT},
        {"no '='", bin("just some words"), CODE_MALFORMED, ABCI_TEST_NO_ALT},
        {"empty key", bin("=value"), CODE_MALFORMED, ABCI_TEST_NO_ALT},
        {"key > 256 bytes", bin(big_key_tx), CODE_TOO_LARGE, ABCI_TEST_NO_ALT},
        {"value > 8192 bytes", bin(big_value_tx), CODE_TOO_LARGE, ABCI_TEST_NO_ALT},
        {"tx > 16384 bytes", bin(huge_tx), CODE_TOO_LARGE, ABCI_TEST_NO_ALT},
        {"key with space", bin("bad key=v"), CODE_MALFORMED, ABCI_TEST_NO_ALT},
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        check_one(t, &checks[i], PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_NEW);
    size_t n_hostile;
    const struct abci_test_tx *hostile = abci_test_hostile_txs(&n_hostile);
    for (size_t i = 0; i < n_hostile; i++)
        check_one(t, &hostile[i], PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_NEW);
    const struct abci_test_tx batch[] = {checks[0], checks[4], checks[1], checks[3]};
    step_check_batch(t, batch, 4);
    /* room for the first tx with its framing, or for all three by their bare lengths: an
     * app that forgets the framing returns too much */
    step_prepare(t, "prepare_proposal", checks, 3,
                 (int64_t)(checks[0].tx.len + ABCI_TX_FRAMING_BYTES + checks[1].tx.len + 5));
    step_prepare(t, "prepare_proposal no room", checks, 3, 0);

    const struct abci_test_tx b1[] = {
        {"set k1", bin("abci-test/k1=v1"), CODE_OK, ABCI_TEST_NO_ALT},
        {"set k2", bin("abci-test/k2=v2"), CODE_OK, ABCI_TEST_NO_ALT},
        {"malformed", bin("garbage without equals"), CODE_MALFORMED, ABCI_TEST_NO_ALT},
        {"del k2", bin("del:abci-test/k2"), CODE_OK, ABCI_TEST_NO_ALT},
    };
    struct abci_test_tx b2[BLOCK_TXS_MAX] = {
        {"set k1 again", bin("abci-test/k1=v1b"), CODE_OK, ABCI_TEST_NO_ALT},
        {"set k3", bin("abci-test/k3=v3"), CODE_OK, ABCI_TEST_NO_ALT},
        {"empty key", bin("=x"), CODE_MALFORMED, ABCI_TEST_NO_ALT},
    };
    /* the hostile txs go into block 2 too, except those where an app without ledger txs
     * answers another code (the chain would then differ from kvledger's, rightly) */
    size_t n2 = 3;
    for (size_t i = 0; i < n_hostile && n2 < BLOCK_TXS_MAX; i++)
        if (hostile[i].alt == ABCI_TEST_NO_ALT)
            b2[n2++] = hostile[i];
    const struct abci_test_tx b4[] = {
        {"value with '='", bin("abci-test/k4=a=b"), CODE_OK, ABCI_TEST_NO_ALT},
        {"delete absent", bin("del:abci-test/absent"), CODE_OK, ABCI_TEST_NO_ALT},
    };
    if (!step_block(t, b1, 4, true, true) || !abci_test_order_after_blocks(t) ||
        !step_block(t, b2, n2, true, false) || !step_block(t, NULL, 0, false, false) ||
        !step_block(t, b4, 2, true, false))
        return;

    step_key(t, "abci-test/k1", "v1b");
    step_key(t, "abci-test/k2", NULL);
    step_key(t, "abci-test/k3", "v3");
    step_key(t, "abci-test/k4", "a=b");
    step_key(t, "del:abci-test/k9", "v9");
    step_key(t, "abci-test/v", "LDG1");
    step_key(t, "bad key", NULL); /* no such key can exist; asking is not bad data */
    step_query(t, "/height", bin(""), 0, CODE_OK, "4");
    step_query(t, "/key", bin(""), 0, CODE_BAD_QUERY, NULL);
    step_query(t, "/key", bin(key_257), 0, CODE_BAD_QUERY, NULL);
    step_query(t, "/no-such-path", bin("x"), 0, CODE_BAD_QUERY, NULL);
    step_query(t, "/key", bin("abci-test/k1"), 2, CODE_BAD_QUERY, NULL);
    step_snapshots(t);
    check_one(t, &checks[0], PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_RECHECK);
    abci_test_info_matches(t, "info at the end");

    char hx[2 * HASH_MAX + 1];
    abci_test_hex(hx, sizeof(hx), t->hash, t->hash_len);
    if (expect != NULL) {
        if (strcasecmp(expect, hx) == 0)
            abci_test_report(t, true, "determinism", "final app hash equals --expect-app-hash");
        else
            abci_test_report(t, false, "determinism", "final app hash %s, expected %s", hx, expect);
    }
    printf("final app hash: %s\n", hx);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: phalanx abci-test [OPTIONS] ADDR\n"
            "\n"
            "Drives the ABCI app listening on ADDR (tcp://HOST:PORT or ipc:///path), which\n"
            "must have been started with an empty state, through a scripted chain and prints\n"
            "PASS/FAIL per step. Exit status 0 only if every step passes. The transactions,\n"
            "result codes, genesis and app hash are those of apps/kvledger/TXFORMAT.md; the\n"
            "call-order rules those of abci/PROTOCOL.md section 5.4.\n"
            "\n"
            "Options:\n"
            "  --chain-id ID            chain id for InitChain (default abci-test-chain)\n"
            "  --timeout-ms N           deadline per call (default 10000)\n"
            "  --connect-timeout-ms N   how long to wait for the app (default 10000)\n"
            "  --expect-app-hash HEX    the final app hash must be HEX (from an earlier run\n"
            "                           against another fresh instance: determinism)\n"
            "  --after-restart          the app was restarted on the state of a full run\n"
            "                           (e.g. after kill -9): check that Info reports height 4\n"
            "                           and --expect-app-hash HEX (required), that the keys are\n"
            "                           there, and that the chain goes on at height 5\n"
            "  --own-app-hash           the app computes its own app hash, not the one of\n"
            "                           TXFORMAT.md section 5: do not compare hash values\n"
            "  -h, --help               this text\n");
}

int cmd_abci_test(int argc, char **argv)
{
    static const struct option opts[] = {
        {"chain-id", required_argument, NULL, 'c'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"connect-timeout-ms", required_argument, NULL, 'T'},
        {"expect-app-hash", required_argument, NULL, 'e'},
        {"after-restart", no_argument, NULL, 'r'},
        {"own-app-hash", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct abci_test t;
    memset(&t, 0, sizeof(t));
    t.chain_id = "abci-test-chain";
    t.timeout_ms = 10000;
    int connect_ms = 10000;
    const char *expect = NULL;
    bool after_restart = false;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            t.chain_id = optarg;
            break;
        case 't':
            t.timeout_ms = atoi(optarg);
            break;
        case 'T':
            connect_ms = atoi(optarg);
            break;
        case 'e':
            expect = optarg;
            break;
        case 'r':
            after_restart = true;
            break;
        case 'o':
            t.own_hash = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    size_t clen = strlen(t.chain_id);
    bool chain_ok = clen >= 1 && clen <= 50;
    for (size_t i = 0; chain_ok && i < clen; i++)
        chain_ok = t.chain_id[i] >= 0x21 && t.chain_id[i] <= 0x7e;
    if (optind != argc - 1 || t.timeout_ms <= 0 || connect_ms <= 0 || !chain_ok) {
        if (!chain_ok)
            fprintf(stderr, "phalanx abci-test: --chain-id must be 1..50 bytes of printable "
                            "ASCII without spaces (TXFORMAT.md section 3)\n");
        usage(stderr);
        return 2;
    }
    if (after_restart &&
        (expect == NULL ||
         px_hex_decode(t.hash, sizeof(t.hash), &t.hash_len, expect, strlen(expect)) != 0 ||
         t.hash_len == 0)) {
        fprintf(stderr, "phalanx abci-test: --after-restart needs --expect-app-hash HEX (the "
                        "final app hash printed by the first run)\n");
        return 2;
    }
    const char *addr = argv[optind];
    px_log_set_spec("off"); /* failures are reported as steps */
    build_big_txs();

    struct abci_client_config cc = {.addr = addr, .timeout_ms = t.timeout_ms};
    int rc = abci_client_new(&cc, &t.cli);
    if (rc != 0) {
        fprintf(stderr,
                "phalanx abci-test: cannot dial %s: %s (use tcp://HOST:PORT or ipc:///path)\n",
                addr, px_strerror(rc));
        return 2;
    }
    printf("phalanx abci-test: %s\n", addr);
    if (abci_client_wait_connected(t.cli, connect_ms) != 0) {
        abci_test_report(&t, false, "connect",
                         "no app answered at %s within %d ms: is it running there?", addr,
                         connect_ms);
    } else {
        abci_test_report(&t, true, "connect", "four connections up");
        step_echo(&t);
        if (after_restart)
            run_after_restart(&t);
        else
            run_fresh(&t, expect);
    }
    printf("summary: %d passed, %d failed\n", t.passed, t.failed);
    abci_client_free(t.cli);
    return t.failed == 0 ? 0 : 1;
}
