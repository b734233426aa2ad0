/*
 * phalanx abci-test ADDR: the ABCI conformance tool. Dials an app that was just started
 * with an empty state, drives it through a scripted chain (Echo, Info, InitChain, CheckTx
 * and CheckTxBatch of valid and invalid txs, Prepare/ProcessProposal, four blocks of
 * FinalizeBlock + Commit, Query, Info after every commit) and prints PASS/FAIL per step
 * and a summary. Exit status: 0 all passed, 1 a step failed, 2 bad usage.
 *
 * The txs are the key-value txs of apps/kvledger/TXFORMAT.md §1.1, which every
 * conforming test app (kvledger, pykv) implements. The script is fixed (fixed times,
 * hashes, chain id), so two fresh instances of a deterministic app end with the same app
 * hash: the tool prints it, and --expect-app-hash checks it. --after-restart checks an
 * app restarted (e.g. after kill -9) after a full run: its state is back and it goes on.
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
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"

#define HASH_MAX 64

#ifndef PHALANX_VERSION
#define PHALANX_VERSION "unknown"
#endif

struct run {
    struct abci_client *cli;
    int timeout_ms;
    int passed, failed;
    bool verbose;
    const char *chain_id;
    uint8_t hash[HASH_MAX]; /* last app hash returned by FinalizeBlock (or InitChain) */
    size_t hash_len;
    int64_t height;
};

static void report(struct run *r, bool ok, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(struct run *r, bool ok, const char *step, const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    printf("  %s  %-28s %s\n", ok ? "PASS" : "FAIL", step, detail);
    fflush(stdout);
    if (ok)
        r->passed++;
    else
        r->failed++;
}

static void hex(char *out, size_t cap, const uint8_t *b, size_t n)
{
    if (n == 0) {
        snprintf(out, cap, "(empty)");
        return;
    }
    if (px_hex_encode(out, cap, b, n, false) != 0)
        snprintf(out, cap, "(%zu bytes)", n);
}

/* One call; on failure reports the step as failed with the client's sentence. */
static Phalanx__Abci__Response *call(struct run *r, const char *step, enum abci_conn conn,
                                     const Phalanx__Abci__Request *req)
{
    Phalanx__Abci__Response *resp = NULL;
    int rc = abci_client_call(r->cli, conn, req, r->timeout_ms, &resp);
    if (rc != 0) {
        report(r, false, step, "%s (%s)", abci_client_last_error(r->cli, conn), px_strerror(rc));
        return NULL;
    }
    return resp;
}

static ProtobufCBinaryData bin(const char *s)
{
    ProtobufCBinaryData b = {strlen(s), (uint8_t *)s};
    return b;
}

/* ---- steps ---------------------------------------------------------------------- */

static void step_echo(struct run *r)
{
    Phalanx__Abci__RequestEcho e = PHALANX__ABCI__REQUEST_ECHO__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    e.message = "phalanx abci-test";
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_ECHO;
    req.echo = &e;
    int ok = 0;
    for (int c = 0; c < ABCI_CONN_COUNT; c++) {
        Phalanx__Abci__Response *resp = call(r, "echo", (enum abci_conn)c, &req);
        if (resp == NULL)
            return;
        abci_response_free(resp); /* the client checked the echoed text */
        ok++;
    }
    report(r, true, "echo", "answered on all %d connections", ok);
}

static Phalanx__Abci__Response *info(struct run *r, const char *step)
{
    Phalanx__Abci__RequestInfo in = PHALANX__ABCI__REQUEST_INFO__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    in.version = PHALANX_VERSION;
    in.abci_version = "1.0.0";
    in.block_version = 11;
    in.p2p_version = 8;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INFO;
    req.info = &in;
    return call(r, step, ABCI_CONN_QUERY, &req);
}

static bool step_info_fresh(struct run *r)
{
    Phalanx__Abci__Response *resp = info(r, "info (fresh app)");
    if (resp == NULL)
        return false;
    int64_t h = resp->info->last_block_height;
    abci_response_free(resp);
    if (h != 0) {
        report(r, false, "info (fresh app)",
               "last_block_height is %lld, not 0: start the app with an empty home", (long long)h);
        return false;
    }
    report(r, true, "info (fresh app)", "last_block_height 0");
    return true;
}

static bool step_init_chain(struct run *r)
{
    Phalanx__Abci__RequestInitChain ic = PHALANX__ABCI__REQUEST_INIT_CHAIN__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__Timestamp t = PHALANX__ABCI__TIMESTAMP__INIT;
    Phalanx__Abci__ValidatorUpdate v = PHALANX__ABCI__VALIDATOR_UPDATE__INIT;
    Phalanx__Abci__ValidatorUpdate *vs[] = {&v};
    Phalanx__Abci__ConsensusParams cp = PHALANX__ABCI__CONSENSUS_PARAMS__INIT;
    Phalanx__Abci__BlockParams bp = PHALANX__ABCI__BLOCK_PARAMS__INIT;
    uint8_t pk[32];
    for (size_t i = 0; i < sizeof(pk); i++)
        pk[i] = (uint8_t)(0xA0 + i);
    t.seconds = 1700000000;
    v.pub_key.data = pk;
    v.pub_key.len = sizeof(pk);
    v.power = 10;
    v.pub_key_type = "ed25519";
    bp.max_bytes = 4 << 20;
    bp.max_gas = -1;
    cp.block = &bp;
    ic.time = &t;
    ic.chain_id = (char *)r->chain_id;
    ic.consensus_params = &cp;
    ic.n_validators = 1;
    ic.validators = vs;
    ic.initial_height = 1;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN;
    req.init_chain = &ic;
    Phalanx__Abci__Response *resp = call(r, "init_chain", ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return false;
    ProtobufCBinaryData h = resp->init_chain->app_hash;
    if (h.len > HASH_MAX) {
        report(r, false, "init_chain", "app hash of %zu bytes is longer than %d", h.len, HASH_MAX);
        abci_response_free(resp);
        return false;
    }
    memcpy(r->hash, h.data, h.len);
    r->hash_len = h.len;
    char hx[2 * HASH_MAX + 1];
    hex(hx, sizeof(hx), r->hash, r->hash_len);
    report(r, true, "init_chain", "chain %s, app hash %s", r->chain_id, hx);
    abci_response_free(resp);
    return true;
}

/* Info must report r->height and r->hash. */
static void step_info_matches(struct run *r, const char *step)
{
    Phalanx__Abci__Response *resp = info(r, step);
    if (resp == NULL)
        return;
    const Phalanx__Abci__ResponseInfo *in = resp->info;
    char want[2 * HASH_MAX + 1], got[2 * HASH_MAX + 1];
    hex(want, sizeof(want), r->hash, r->hash_len);
    hex(got, sizeof(got), in->last_block_app_hash.data, in->last_block_app_hash.len);
    if (in->last_block_height != r->height)
        report(r, false, step, "last_block_height %lld, expected %lld",
               (long long)in->last_block_height, (long long)r->height);
    else if (r->height > 0 && (in->last_block_app_hash.len != r->hash_len ||
                               memcmp(in->last_block_app_hash.data, r->hash, r->hash_len) != 0))
        report(r, false, step, "last_block_app_hash %s, expected %s (FinalizeBlock's)", got, want);
    else if (r->height == 0 && r->hash_len > 0 && in->last_block_app_hash.len > 0 &&
             (in->last_block_app_hash.len != r->hash_len ||
              memcmp(in->last_block_app_hash.data, r->hash, r->hash_len) != 0))
        report(r, false, step, "last_block_app_hash %s, expected InitChain's %s", got, want);
    else
        report(r, true, step, "height %lld, app hash %s", (long long)r->height, got);
    abci_response_free(resp);
}

struct txcase {
    const char *name;
    ProtobufCBinaryData tx;
    bool valid;
};

static void check_one(struct run *r, const struct txcase *c, Phalanx__Abci__CheckTxType type)
{
    Phalanx__Abci__RequestCheckTx ct = PHALANX__ABCI__REQUEST_CHECK_TX__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    ct.tx = c->tx;
    ct.type = type;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX;
    req.check_tx = &ct;
    char step[64];
    snprintf(step, sizeof(step), "check_tx%s %s",
             type == PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_RECHECK ? " (recheck)" : "",
             c->name);
    Phalanx__Abci__Response *resp = call(r, step, ABCI_CONN_MEMPOOL, &req);
    if (resp == NULL)
        return;
    uint32_t code = resp->check_tx->code;
    const char *lg = resp->check_tx->log ? resp->check_tx->log : "";
    if (c->valid && code != 0)
        report(r, false, step, "code %u for a valid tx (log: %s)", code, lg);
    else if (!c->valid && code == 0)
        report(r, false, step, "code 0 for an invalid tx");
    else if (!c->valid && lg[0] == '\0')
        report(r, false, step, "code %u but an empty log: say what is wrong", code);
    else
        report(r, true, step, "code %u%s%s", code, lg[0] ? ", log: " : "", lg);
    abci_response_free(resp);
}

static void step_check_batch(struct run *r, const struct txcase *cases, size_t n)
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
    Phalanx__Abci__Response *resp = call(r, "check_tx_batch", ABCI_CONN_MEMPOOL, &req);
    if (resp == NULL)
        return; /* the client checked the result count */
    for (size_t i = 0; i < n; i++) {
        uint32_t code = resp->check_tx_batch->results[i]->code;
        if ((code == 0) != cases[i].valid) {
            report(r, false, "check_tx_batch", "tx %zu (%s): code %u", i, cases[i].name, code);
            abci_response_free(resp);
            return;
        }
    }
    report(r, true, "check_tx_batch", "%zu results, codes as expected", n);
    abci_response_free(resp);
}

static void step_prepare(struct run *r, const struct txcase *cases, size_t n)
{
    Phalanx__Abci__RequestPrepareProposal pp = PHALANX__ABCI__REQUEST_PREPARE_PROPOSAL__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__Timestamp t = PHALANX__ABCI__TIMESTAMP__INIT;
    uint8_t proposer[20];
    memset(proposer, 0x42, sizeof(proposer));
    ProtobufCBinaryData txs[8];
    for (size_t i = 0; i < n && i < 8; i++)
        txs[i] = cases[i].tx;
    t.seconds = 1700000001;
    pp.n_txs = n;
    pp.txs = txs;
    pp.max_tx_bytes = (int64_t)cases[0].tx.len; /* room for the first tx only */
    pp.height = 1;
    pp.time = &t;
    pp.proposer_address.data = proposer;
    pp.proposer_address.len = sizeof(proposer);
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL;
    req.prepare_proposal = &pp;
    /* the client library fails the call if the answer exceeds max_tx_bytes */
    Phalanx__Abci__Response *resp = call(r, "prepare_proposal", ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return;
    report(r, true, "prepare_proposal", "%zu txs within max_tx_bytes %lld",
           resp->prepare_proposal->n_txs, (long long)pp.max_tx_bytes);
    abci_response_free(resp);
}

static void block_header(int64_t height, Phalanx__Abci__Timestamp *t, uint8_t hash[32],
                         uint8_t proposer[20])
{
    t->seconds = 1700000000 + height;
    t->nanos = 0;
    memset(hash, (int)(0x10 + height), 32);
    memset(proposer, 0x42, 20);
}

static void step_process(struct run *r, ProtobufCBinaryData *txs, size_t n, int64_t height)
{
    Phalanx__Abci__RequestProcessProposal pp = PHALANX__ABCI__REQUEST_PROCESS_PROPOSAL__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__Timestamp t = PHALANX__ABCI__TIMESTAMP__INIT;
    uint8_t hash[32], proposer[20];
    block_header(height, &t, hash, proposer);
    pp.n_txs = n;
    pp.txs = txs;
    pp.height = height;
    pp.time = &t;
    pp.hash.data = hash;
    pp.hash.len = sizeof(hash);
    pp.proposer_address.data = proposer;
    pp.proposer_address.len = sizeof(proposer);
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL;
    req.process_proposal = &pp;
    char step[64];
    snprintf(step, sizeof(step), "process_proposal h=%lld", (long long)height);
    Phalanx__Abci__Response *resp = call(r, step, ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return;
    if (resp->process_proposal->status != PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_ACCEPT)
        report(r, false, step, "status %d: a block of well-formed key-value txs must be accepted",
               (int)resp->process_proposal->status);
    else
        report(r, true, step, "ACCEPT");
    abci_response_free(resp);
}

/* FinalizeBlock + Commit + Info for one block. want_ok[i]: tx i must succeed. */
static bool step_block(struct run *r, const struct txcase *cases, size_t n, bool expect_change)
{
    int64_t height = r->height + 1;
    ProtobufCBinaryData txs[8];
    for (size_t i = 0; i < n && i < 8; i++)
        txs[i] = cases[i].tx;
    step_process(r, txs, n, height);

    Phalanx__Abci__RequestFinalizeBlock fb = PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__Timestamp t = PHALANX__ABCI__TIMESTAMP__INIT;
    Phalanx__Abci__CommitInfo ci = PHALANX__ABCI__COMMIT_INFO__INIT;
    uint8_t hash[32], proposer[20];
    block_header(height, &t, hash, proposer);
    fb.n_txs = n;
    fb.txs = txs;
    fb.height = height;
    fb.time = &t;
    fb.hash.data = hash;
    fb.hash.len = sizeof(hash);
    fb.proposer_address.data = proposer;
    fb.proposer_address.len = sizeof(proposer);
    fb.decided_last_commit = &ci;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    req.finalize_block = &fb;
    char step[64];
    snprintf(step, sizeof(step), "finalize_block h=%lld", (long long)height);
    Phalanx__Abci__Response *resp = call(r, step, ABCI_CONN_CONSENSUS, &req);
    if (resp == NULL)
        return false;
    const Phalanx__Abci__ResponseFinalizeBlock *res = resp->finalize_block;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        uint32_t code = res->tx_results[i]->code;
        if ((code == 0) != cases[i].valid) {
            report(r, false, step, "tx %zu (%s): code %u, expected %s", i, cases[i].name, code,
                   cases[i].valid ? "0" : "non-zero");
            ok = false;
        }
    }
    if (ok && (res->app_hash.len == 0 || res->app_hash.len > HASH_MAX)) {
        report(r, false, step, "app hash of %zu bytes: expected 1..%d bytes", res->app_hash.len,
               HASH_MAX);
        ok = false;
    }
    if (ok && expect_change && res->app_hash.len == r->hash_len &&
        memcmp(res->app_hash.data, r->hash, r->hash_len) == 0) {
        report(r, false, step, "the app hash did not change although the block changed state");
        ok = false;
    }
    if (!ok) {
        abci_response_free(resp);
        return false;
    }
    memcpy(r->hash, res->app_hash.data, res->app_hash.len);
    r->hash_len = res->app_hash.len;
    char hx[2 * HASH_MAX + 1];
    hex(hx, sizeof(hx), r->hash, r->hash_len);
    report(r, true, step, "%zu txs, codes as expected, app hash %s", n, hx);
    abci_response_free(resp);

    Phalanx__Abci__RequestCommit cm = PHALANX__ABCI__REQUEST_COMMIT__INIT;
    Phalanx__Abci__Request creq = PHALANX__ABCI__REQUEST__INIT;
    creq.value_case = PHALANX__ABCI__REQUEST__VALUE_COMMIT;
    creq.commit = &cm;
    snprintf(step, sizeof(step), "commit h=%lld", (long long)height);
    resp = call(r, step, ABCI_CONN_CONSENSUS, &creq);
    if (resp == NULL)
        return false;
    int64_t retain = resp->commit->retain_height;
    abci_response_free(resp);
    if (retain < 0 || retain > height) {
        report(r, false, step, "retain_height %lld outside 0..%lld", (long long)retain,
               (long long)height);
        return false;
    }
    report(r, true, step, "retain_height %lld", (long long)retain);
    r->height = height;
    snprintf(step, sizeof(step), "info after h=%lld", (long long)height);
    step_info_matches(r, step);
    return true;
}

static void step_query(struct run *r, const char *path, const char *data, bool found,
                       const char *want)
{
    Phalanx__Abci__RequestQuery q = PHALANX__ABCI__REQUEST_QUERY__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    q.path = (char *)path;
    q.data = bin(data);
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_QUERY;
    req.query = &q;
    char step[80];
    snprintf(step, sizeof(step), "query %s %s", path, data);
    Phalanx__Abci__Response *resp = call(r, step, ABCI_CONN_QUERY, &req);
    if (resp == NULL)
        return;
    const Phalanx__Abci__ResponseQuery *a = resp->query;
    size_t wl = want ? strlen(want) : 0;
    if (found && a->code != 0)
        report(r, false, step, "code %u (log: %s), expected 0", a->code, a->log ? a->log : "");
    else if (!found && a->code == 0)
        report(r, false, step, "code 0 for a key that is absent");
    else if (found && (a->value.len != wl || memcmp(a->value.data, want, wl) != 0))
        report(r, false, step, "value of %zu bytes '%.*s', expected '%s'", a->value.len,
               (int)(a->value.len > 60 ? 60 : a->value.len), (const char *)a->value.data, want);
    else if (a->height != r->height)
        report(r, false, step, "answer height %lld, expected the last committed %lld",
               (long long)a->height, (long long)r->height);
    else if (found)
        report(r, true, step, "code 0, value '%s'", want);
    else
        report(r, true, step, "code %u: absent", a->code);
    abci_response_free(resp);
}

/* ---- the script ------------------------------------------------------------------ */

/* After a restart: the state of the full script (height 4, r->hash) must be back, and the
 * chain must go on. */
static void run_after_restart(struct run *r)
{
    r->height = 4;
    int failed = r->failed;
    step_info_matches(r, "info after restart");
    if (r->failed != failed)
        return; /* the rest assumes the committed state is back */
    step_query(r, "/key", "abci-test/k1", true, "v1b");
    step_query(r, "/key", "abci-test/k4", true, "a=b");
    step_query(r, "/height", "", true, "4");
    const struct txcase b5[] = {
        {"set k5", bin("abci-test/k5=v5"), true},
        {"del k1", bin("del:abci-test/k1"), true},
        {"malformed", bin("no equals here"), false},
    };
    if (!step_block(r, b5, 3, true))
        return;
    step_query(r, "/key", "abci-test/k1", false, NULL);
    step_query(r, "/key", "abci-test/k5", true, "v5");
    char hx[2 * HASH_MAX + 1];
    hex(hx, sizeof(hx), r->hash, r->hash_len);
    printf("final app hash: %s\n", hx);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: phalanx abci-test [OPTIONS] ADDR\n"
               "\n"
               "Drives the ABCI app listening on ADDR (tcp://HOST:PORT or ipc:///path), which\n"
               "must have been started with an empty state, through a scripted chain and prints\n"
               "PASS/FAIL per step. Exit status 0 only if every step passes.\n"
               "Transactions are the key-value txs of apps/kvledger/TXFORMAT.md section 1.1.\n"
               "\n"
               "Options:\n"
               "  --chain-id ID            chain id for InitChain (default abci-test-chain)\n"
               "  --timeout-ms N           deadline per call (default 10000)\n"
               "  --connect-timeout-ms N   how long to wait for the app (default 10000)\n"
               "  --expect-app-hash HEX    the final app hash must be HEX (from an earlier run\n"
               "                           against another fresh instance: determinism)\n"
               "  -h, --help               this text\n");
}

static char big_key_tx[320];
static char big_value_tx[9100];
static char huge_tx[16400];

int cmd_abci_test(int argc, char **argv)
{
    static const struct option opts[] = {
        {"chain-id", required_argument, NULL, 'c'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"connect-timeout-ms", required_argument, NULL, 'T'},
        {"expect-app-hash", required_argument, NULL, 'e'},
        {"after-restart", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct run r = {0};
    r.chain_id = "abci-test-chain";
    r.timeout_ms = 10000;
    int connect_ms = 10000;
    const char *expect = NULL;
    bool after_restart = false;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            r.chain_id = optarg;
            break;
        case 't':
            r.timeout_ms = atoi(optarg);
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
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || r.timeout_ms <= 0 || connect_ms <= 0 || strlen(r.chain_id) == 0 ||
        strlen(r.chain_id) > 50) {
        usage(stderr);
        return 2;
    }
    if (after_restart &&
        (expect == NULL ||
         px_hex_decode(r.hash, sizeof(r.hash), &r.hash_len, expect, strlen(expect)) != 0 ||
         r.hash_len == 0)) {
        fprintf(stderr, "phalanx abci-test: --after-restart needs --expect-app-hash HEX (the "
                        "final app hash printed by the first run)\n");
        return 2;
    }
    const char *addr = argv[optind];
    px_log_set_spec("off"); /* failures are reported as steps */

    struct abci_client_config cc = {.addr = addr, .timeout_ms = r.timeout_ms};
    int rc = abci_client_new(&cc, &r.cli);
    if (rc != 0) {
        fprintf(stderr,
                "phalanx abci-test: cannot dial %s: %s (use tcp://HOST:PORT or ipc:///path)\n",
                addr, px_strerror(rc));
        return 2;
    }
    printf("phalanx abci-test: %s\n", addr);
    if (abci_client_wait_connected(r.cli, connect_ms) != 0) {
        report(&r, false, "connect", "no app answered at %s within %d ms: is it running there?",
               addr, connect_ms);
        goto summary;
    }
    report(&r, true, "connect", "four connections up");

    step_echo(&r);
    if (after_restart) {
        run_after_restart(&r);
        goto summary;
    }
    if (!step_info_fresh(&r) || !step_init_chain(&r))
        goto summary; /* the rest needs a fresh, initialised chain */
    step_info_matches(&r, "info after init_chain");

    memset(big_key_tx, 'k', 300);
    memcpy(big_key_tx + 300, "=v", 3);
    memcpy(big_value_tx, "bigvalue=", 9);
    memset(big_value_tx + 9, 'v', 9000);
    memset(huge_tx, 'x', 16390);
    huge_tx[5] = '=';
    const struct txcase checks[] = {
        {"set", bin("abci-test/k1=v1"), true},
        {"set empty value", bin("abci-test/empty="), true},
        {"delete", bin("del:abci-test/k1"), true},
        {"empty tx", {0, (uint8_t *)""}, false},
        {"no '='", bin("just some words"), false},
        {"empty key", bin("=value"), false},
        {"key > 256 bytes", bin(big_key_tx), false},
        {"value > 8192 bytes", bin(big_value_tx), false},
        {"tx > 16384 bytes", bin(huge_tx), false},
        {"key with space", bin("bad key=v"), false},
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        check_one(&r, &checks[i], PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_NEW);
    const struct txcase batch[] = {checks[0], checks[4], checks[1], checks[3]};
    step_check_batch(&r, batch, 4);
    step_prepare(&r, checks, 3);

    const struct txcase b1[] = {
        {"set k1", bin("abci-test/k1=v1"), true},
        {"set k2", bin("abci-test/k2=v2"), true},
        {"malformed", bin("garbage without equals"), false},
        {"del k2", bin("del:abci-test/k2"), true},
    };
    const struct txcase b2[] = {
        {"set k1 again", bin("abci-test/k1=v1b"), true},
        {"set k3", bin("abci-test/k3=v3"), true},
        {"empty key", bin("=x"), false},
    };
    const struct txcase b4[] = {
        {"value with '='", bin("abci-test/k4=a=b"), true},
        {"delete absent", bin("del:abci-test/absent"), true},
    };
    if (!step_block(&r, b1, 4, true) || !step_block(&r, b2, 3, true) ||
        !step_block(&r, NULL, 0, false) || !step_block(&r, b4, 2, true))
        goto summary;

    step_query(&r, "/key", "abci-test/k1", true, "v1b");
    step_query(&r, "/key", "abci-test/k2", false, NULL);
    step_query(&r, "/key", "abci-test/k3", true, "v3");
    step_query(&r, "/key", "abci-test/k4", true, "a=b");
    step_query(&r, "/height", "", true, "4");
    check_one(&r, &checks[0], PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_RECHECK);
    step_info_matches(&r, "info at the end");

    char hx[2 * HASH_MAX + 1];
    hex(hx, sizeof(hx), r.hash, r.hash_len);
    if (expect != NULL) {
        if (strcasecmp(expect, hx) == 0)
            report(&r, true, "determinism", "final app hash equals --expect-app-hash");
        else
            report(&r, false, "determinism", "final app hash %s, expected %s", hx, expect);
    }
    printf("final app hash: %s\n", hx);

summary:
    printf("summary: %d passed, %d failed\n", r.passed, r.failed);
    abci_client_free(r.cli);
    return r.failed == 0 ? 0 : 1;
}
