/* Unit tests of libphalanx-abci: the bounded codec, and client <-> server round trips of
 * every method over ipc:// in a temp dir, default answers, exceptions, garbage and
 * wrong-method answers, oversized messages both ways, timeouts, the app going away
 * (before and during a call) and reconnecting to a restarted app. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "abci_client.h"
#include "abci_codec.h"
#include "abci_server.h"
#include "px_error.h"
#include "px_log.h"
#include "px_test.h"

/* ---- a small test app ----------------------------------------------------------- */

struct tapp {
    int64_t height;
    int64_t pending_height;
    uint8_t hash[8];
    unsigned finalize_calls;
};

static int t_info(struct abci_call *call, const Phalanx__Abci__RequestInfo *req,
                  Phalanx__Abci__ResponseInfo *resp, void *user)
{
    struct tapp *a = user;
    resp->version = abci_call_strdup(call, req->version);
    resp->data = "tapp";
    resp->app_version = 3;
    resp->last_block_height = a->height;
    resp->last_block_app_hash.data = abci_call_memdup(call, a->hash, sizeof(a->hash));
    resp->last_block_app_hash.len = sizeof(a->hash);
    return 0;
}

static int t_init_chain(struct abci_call *call, const Phalanx__Abci__RequestInitChain *req,
                        Phalanx__Abci__ResponseInitChain *resp, void *user)
{
    struct tapp *a = user;
    (void)call;
    memset(a->hash, 0x11, sizeof(a->hash));
    resp->app_hash.data = a->hash;
    resp->app_hash.len = sizeof(a->hash);
    resp->n_validators = req->n_validators; /* echo them back, pointing into req */
    resp->validators = req->validators;
    return 0;
}

static int t_query(struct abci_call *call, const Phalanx__Abci__RequestQuery *req,
                   Phalanx__Abci__ResponseQuery *resp, void *user)
{
    (void)user;
    if (strcmp(req->path, "/big") == 0 || strcmp(req->path, "/mid") == 0) {
        size_t n = strcmp(req->path, "/big") == 0 ? 2u << 20 : 100u << 10;
        resp->value.data = abci_call_alloc(call, n);
        if (resp->value.data == NULL)
            return PX_ENOMEM;
        resp->value.len = n;
        return 0;
    }
    resp->key = req->data;
    resp->value.data = abci_call_memdup(call, req->data.data, req->data.len);
    resp->value.len = req->data.len;
    resp->height = 42;
    return 0;
}

static int t_check_tx(struct abci_call *call, const Phalanx__Abci__RequestCheckTx *req,
                      Phalanx__Abci__ResponseCheckTx *resp, void *user)
{
    (void)user;
    if (req->tx.len == 4 && memcmp(req->tx.data, "boom", 4) == 0) {
        abci_call_set_error(call, "store on fire");
        return PX_EIO;
    }
    resp->code = (req->tx.len > 0 && req->tx.data[0] == 'b') ? 1 : 0;
    resp->log = resp->code ? "bad tx" : "";
    resp->gas_wanted = (int64_t)req->tx.len;
    return 0;
}

static int t_finalize(struct abci_call *call, const Phalanx__Abci__RequestFinalizeBlock *req,
                      Phalanx__Abci__ResponseFinalizeBlock *resp, void *user)
{
    struct tapp *a = user;
    a->finalize_calls++;
    Phalanx__Abci__ExecTxResult **r = abci_call_alloc(call, (req->n_txs + 1) * sizeof(*r));
    if (r == NULL)
        return PX_ENOMEM;
    for (size_t i = 0; i < req->n_txs; i++) {
        r[i] = abci_call_alloc(call, sizeof(*r[i]));
        if (r[i] == NULL)
            return PX_ENOMEM;
        phalanx__abci__exec_tx_result__init(r[i]);
        r[i]->code = req->txs[i].len > 0 && req->txs[i].data[0] == 'b' ? 1 : 0;
        r[i]->gas_used = 5;
    }
    /* the height "13" answers one result too many: a protocol violation */
    resp->n_tx_results = req->height == 13 ? req->n_txs + 1 : req->n_txs;
    if (req->height == 13)
        r[req->n_txs] = r[0];
    resp->tx_results = r;
    a->pending_height = req->height;
    for (size_t i = 0; i < sizeof(a->hash); i++)
        a->hash[i] = (uint8_t)(a->hash[i] * 31 + (uint8_t)req->height + (uint8_t)req->n_txs);
    resp->app_hash.data = abci_call_memdup(call, a->hash, sizeof(a->hash));
    resp->app_hash.len = sizeof(a->hash);
    return 0;
}

static int t_commit(struct abci_call *call, const Phalanx__Abci__RequestCommit *req,
                    Phalanx__Abci__ResponseCommit *resp, void *user)
{
    struct tapp *a = user;
    (void)call;
    (void)req;
    a->height = a->pending_height;
    resp->retain_height = a->height > 5 ? a->height - 5 : 0;
    return 0;
}

static int t_list_snapshots(struct abci_call *call, const Phalanx__Abci__RequestListSnapshots *req,
                            Phalanx__Abci__ResponseListSnapshots *resp, void *user)
{
    (void)req;
    (void)user;
    Phalanx__Abci__Snapshot **v = abci_call_alloc(call, sizeof(*v));
    Phalanx__Abci__Snapshot *s = abci_call_alloc(call, sizeof(*s));
    if (v == NULL || s == NULL)
        return PX_ENOMEM;
    phalanx__abci__snapshot__init(s);
    s->height = 10;
    s->format = 1;
    s->chunks = 3;
    v[0] = s;
    resp->n_snapshots = 1;
    resp->snapshots = v;
    return 0;
}

static const struct abci_app tapp_callbacks = {
    .info = t_info,
    .init_chain = t_init_chain,
    .query = t_query,
    .check_tx = t_check_tx,
    .finalize_block = t_finalize,
    .commit = t_commit,
    .list_snapshots = t_list_snapshots,
};

/* ---- fixture: a server thread and a client over ipc:// ------------------------- */

struct fx {
    char dir[256];
    char addr[300];
    struct tapp app;
    struct abci_server *srv;
    pthread_t thr;
    bool running;
    struct abci_client *cli;
};

static void *server_thread(void *arg)
{
    struct fx *f = arg;
    abci_server_run(f->srv);
    return NULL;
}

static void server_start(struct fx *f, const struct abci_app *app, size_t max_resp)
{
    struct abci_server_config cfg = {
        .listen_addr = f->addr, .max_response_bytes = max_resp, .max_request_bytes = 1u << 20};
    assert_int_equal(abci_server_new(&cfg, app, &f->app, &f->srv), 0);
    assert_int_equal(pthread_create(&f->thr, NULL, server_thread, f), 0);
    f->running = true;
}

static void server_end(struct fx *f)
{
    if (!f->running)
        return;
    abci_server_stop(f->srv);
    pthread_join(f->thr, NULL);
    abci_server_free(f->srv);
    f->srv = NULL;
    f->running = false;
}

static void client_start(struct fx *f, size_t max_resp)
{
    struct abci_client_config cc = {.addr = f->addr,
                                    .timeout_ms = 5000,
                                    .reconnect_min_ms = 10,
                                    .reconnect_max_ms = 100,
                                    .max_request_bytes = 4u << 20,
                                    .max_response_bytes = max_resp};
    assert_int_equal(abci_client_new(&cc, &f->cli), 0);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(pxt_tmpdir("abci", f->dir, sizeof(f->dir)), 0);
    snprintf(f->addr, sizeof(f->addr), "ipc://%s/app.sock", f->dir);
    px_log_set_spec(getenv("ABCI_TEST_LOG") ? getenv("ABCI_TEST_LOG") : "error");
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    abci_client_free(f->cli);
    server_end(f);
    pxt_rmtree(f->dir);
    free(f);
    return 0;
}

static void start_both(struct fx *f)
{
    server_start(f, &tapp_callbacks, 1u << 20);
    client_start(f, 4u << 20);
    assert_int_equal(abci_client_wait_connected(f->cli, 5000), 0);
}

/* ---- codec ------------------------------------------------------------------- */

static void codec_garbage_and_bounds(void **state)
{
    (void)state;
    Phalanx__Abci__Request *req = NULL;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(abci_request_decode(junk, sizeof(junk), &req), PX_EDECODE);
    /* a valid but empty message has no method: refused */
    assert_int_equal(abci_request_decode(junk, 0, &req), PX_EDECODE);
    Phalanx__Abci__Response *resp = NULL;
    assert_int_equal(abci_response_decode(junk, sizeof(junk), &resp), PX_EDECODE);

    /* Many empty Misbehavior entries: 2 bytes each on the wire, ~70 bytes decoded. */
    size_t n = 200000;
    Phalanx__Abci__RequestFinalizeBlock fb = PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    Phalanx__Abci__Misbehavior m = PHALANX__ABCI__MISBEHAVIOR__INIT;
    Phalanx__Abci__Misbehavior **mv = calloc(n, sizeof(*mv));
    assert_non_null(mv);
    for (size_t i = 0; i < n; i++)
        mv[i] = &m;
    fb.n_misbehavior = n;
    fb.misbehavior = mv;
    Phalanx__Abci__Request r = PHALANX__ABCI__REQUEST__INIT;
    r.value_case = PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    r.finalize_block = &fb;
    size_t len = phalanx__abci__request__get_packed_size(&r);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    phalanx__abci__request__pack(&r, buf);
    assert_int_equal(abci_request_decode(buf, len, &req), PX_ETOOBIG);

    /* the same with a few entries decodes */
    fb.n_misbehavior = 3;
    len = phalanx__abci__request__pack(&r, buf);
    assert_int_equal(abci_request_decode(buf, len, &req), 0);
    assert_int_equal(req->value_case, PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK);
    assert_int_equal(req->finalize_block->n_misbehavior, 3);
    abci_request_free(req);
    free(buf);
    free(mv);
}

static void codec_method_tables(void **state)
{
    (void)state;
    assert_string_equal(abci_method_name(PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK),
                        "finalize_block");
    assert_string_equal(abci_method_name((Phalanx__Abci__Request__ValueCase)99), "unknown");
    assert_true(abci_method_allowed(ABCI_CONN_CONSENSUS, PHALANX__ABCI__REQUEST__VALUE_COMMIT));
    assert_false(abci_method_allowed(ABCI_CONN_MEMPOOL, PHALANX__ABCI__REQUEST__VALUE_COMMIT));
    assert_true(abci_method_allowed(ABCI_CONN_SNAPSHOT, PHALANX__ABCI__REQUEST__VALUE_ECHO));
    assert_true(abci_method_allowed(ABCI_CONN_QUERY, PHALANX__ABCI__REQUEST__VALUE_INFO));
    assert_false(abci_method_allowed(ABCI_CONN_QUERY, PHALANX__ABCI__REQUEST__VALUE__NOT_SET));
    assert_int_equal(abci_response_case_for(PHALANX__ABCI__REQUEST__VALUE_ECHO),
                     PHALANX__ABCI__RESPONSE__VALUE_ECHO);
    assert_int_equal(abci_response_case_for(PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK),
                     PHALANX__ABCI__RESPONSE__VALUE_FINALIZE_BLOCK);
    assert_int_equal(abci_response_case_for(PHALANX__ABCI__REQUEST__VALUE_APPLY_SNAPSHOT_CHUNK),
                     PHALANX__ABCI__RESPONSE__VALUE_APPLY_SNAPSHOT_CHUNK);
}

/* ---- round trips --------------------------------------------------------------- */

#define REQ(var, member, T, INIT, CASE)                                                            \
    T var##_m = INIT;                                                                              \
    Phalanx__Abci__Request var = PHALANX__ABCI__REQUEST__INIT;                                     \
    var.value_case = CASE;                                                                         \
    var.member = &var##_m

static void round_trip_every_method(void **state)
{
    struct fx *f = *state;
    start_both(f);
    Phalanx__Abci__Response *r = NULL;

    REQ(echo, echo, Phalanx__Abci__RequestEcho, PHALANX__ABCI__REQUEST_ECHO__INIT,
        PHALANX__ABCI__REQUEST__VALUE_ECHO);
    echo_m.message = "hello";
    for (int c = 0; c < ABCI_CONN_COUNT; c++) {
        assert_int_equal(abci_client_call(f->cli, (enum abci_conn)c, &echo, 0, &r), 0);
        assert_string_equal(r->echo->message, "hello");
        abci_response_free(r);
    }

    REQ(flush, flush, Phalanx__Abci__RequestFlush, PHALANX__ABCI__REQUEST_FLUSH__INIT,
        PHALANX__ABCI__REQUEST__VALUE_FLUSH);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &flush, 0, &r), 0);
    assert_int_equal(r->value_case, PHALANX__ABCI__RESPONSE__VALUE_FLUSH);
    abci_response_free(r);

    REQ(info, info, Phalanx__Abci__RequestInfo, PHALANX__ABCI__REQUEST_INFO__INIT,
        PHALANX__ABCI__REQUEST__VALUE_INFO);
    info_m.version = "0.1.0";
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &info, 0, &r), 0);
    assert_string_equal(r->info->version, "0.1.0");
    assert_string_equal(r->info->data, "tapp");
    assert_int_equal(r->info->app_version, 3);
    assert_int_equal(r->info->last_block_height, 0);
    abci_response_free(r);

    REQ(ic, init_chain, Phalanx__Abci__RequestInitChain, PHALANX__ABCI__REQUEST_INIT_CHAIN__INIT,
        PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN);
    Phalanx__Abci__ValidatorUpdate vu = PHALANX__ABCI__VALIDATOR_UPDATE__INIT;
    uint8_t pk[32];
    memset(pk, 7, sizeof(pk));
    vu.pub_key.data = pk;
    vu.pub_key.len = sizeof(pk);
    vu.power = 10;
    Phalanx__Abci__ValidatorUpdate *vus[] = {&vu};
    ic_m.chain_id = "test-chain";
    ic_m.n_validators = 1;
    ic_m.validators = vus;
    ic_m.initial_height = 1;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_CONSENSUS, &ic, 0, &r), 0);
    assert_int_equal(r->init_chain->app_hash.len, 8);
    assert_int_equal(r->init_chain->n_validators, 1);
    assert_int_equal(r->init_chain->validators[0]->power, 10);
    assert_memory_equal(r->init_chain->validators[0]->pub_key.data, pk, 32);
    abci_response_free(r);

    REQ(ct, check_tx, Phalanx__Abci__RequestCheckTx, PHALANX__ABCI__REQUEST_CHECK_TX__INIT,
        PHALANX__ABCI__REQUEST__VALUE_CHECK_TX);
    ct_m.tx.data = (uint8_t *)"good";
    ct_m.tx.len = 4;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &ct, 0, &r), 0);
    assert_int_equal(r->check_tx->code, 0);
    assert_int_equal(r->check_tx->gas_wanted, 4);
    abci_response_free(r);
    ct_m.tx.data = (uint8_t *)"bad";
    ct_m.tx.len = 3;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &ct, 0, &r), 0);
    assert_int_equal(r->check_tx->code, 1);
    assert_string_equal(r->check_tx->log, "bad tx");
    abci_response_free(r);

    /* CheckTxBatch falls back to check_tx per tx, in order */
    REQ(cb, check_tx_batch, Phalanx__Abci__RequestCheckTxBatch,
        PHALANX__ABCI__REQUEST_CHECK_TX_BATCH__INIT, PHALANX__ABCI__REQUEST__VALUE_CHECK_TX_BATCH);
    ProtobufCBinaryData txs[3] = {{1, (uint8_t *)"a"}, {2, (uint8_t *)"bb"}, {3, (uint8_t *)"ccc"}};
    cb_m.n_txs = 3;
    cb_m.txs = txs;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &cb, 0, &r), 0);
    assert_int_equal(r->check_tx_batch->n_results, 3);
    assert_int_equal(r->check_tx_batch->results[0]->code, 0);
    assert_int_equal(r->check_tx_batch->results[1]->code, 1);
    assert_int_equal(r->check_tx_batch->results[2]->gas_wanted, 3);
    abci_response_free(r);

    /* PrepareProposal default: the prefix that fits max_tx_bytes, each tx counted with its
     * framing in the block (PROTOCOL.md §4): "a" and "bb" take 12 + 13 bytes */
    REQ(pp, prepare_proposal, Phalanx__Abci__RequestPrepareProposal,
        PHALANX__ABCI__REQUEST_PREPARE_PROPOSAL__INIT,
        PHALANX__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL);
    pp_m.n_txs = 3;
    pp_m.txs = txs;
    pp_m.height = 1;
    const struct {
        int64_t max;
        size_t n;
    } fits[] = {{25 + 13, 2}, {25, 2}, {24, 1}, {11, 0}, {0, 0}, {-1, 0}, {39, 3}};
    for (size_t i = 0; i < sizeof(fits) / sizeof(fits[0]); i++) {
        pp_m.max_tx_bytes = fits[i].max;
        assert_int_equal(abci_client_call(f->cli, ABCI_CONN_CONSENSUS, &pp, 0, &r), 0);
        assert_int_equal(r->prepare_proposal->n_txs, fits[i].n);
        if (fits[i].n >= 2)
            assert_memory_equal(r->prepare_proposal->txs[1].data, "bb", 2);
        abci_response_free(r);
    }

    REQ(proc, process_proposal, Phalanx__Abci__RequestProcessProposal,
        PHALANX__ABCI__REQUEST_PROCESS_PROPOSAL__INIT,
        PHALANX__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL);
    proc_m.n_txs = 3;
    proc_m.txs = txs;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_CONSENSUS, &proc, 0, &r), 0);
    assert_int_equal(r->process_proposal->status,
                     PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_ACCEPT);
    abci_response_free(r);

    REQ(fb, finalize_block, Phalanx__Abci__RequestFinalizeBlock,
        PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT, PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK);
    Phalanx__Abci__Timestamp ts = PHALANX__ABCI__TIMESTAMP__INIT;
    ts.seconds = 1700000000;
    fb_m.n_txs = 3;
    fb_m.txs = txs;
    fb_m.height = 1;
    fb_m.time = &ts;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_CONSENSUS, &fb, 0, &r), 0);
    assert_int_equal(r->finalize_block->n_tx_results, 3);
    assert_int_equal(r->finalize_block->tx_results[1]->code, 1);
    assert_int_equal(r->finalize_block->tx_results[2]->gas_used, 5);
    assert_int_equal(r->finalize_block->app_hash.len, 8);
    uint8_t hash1[8];
    memcpy(hash1, r->finalize_block->app_hash.data, 8);
    abci_response_free(r);

    REQ(cm, commit, Phalanx__Abci__RequestCommit, PHALANX__ABCI__REQUEST_COMMIT__INIT,
        PHALANX__ABCI__REQUEST__VALUE_COMMIT);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_CONSENSUS, &cm, 0, &r), 0);
    assert_int_equal(r->value_case, PHALANX__ABCI__RESPONSE__VALUE_COMMIT);
    abci_response_free(r);

    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &info, 0, &r), 0);
    assert_int_equal(r->info->last_block_height, 1);
    assert_memory_equal(r->info->last_block_app_hash.data, hash1, 8);
    abci_response_free(r);

    REQ(q, query, Phalanx__Abci__RequestQuery, PHALANX__ABCI__REQUEST_QUERY__INIT,
        PHALANX__ABCI__REQUEST__VALUE_QUERY);
    q_m.path = "/key";
    q_m.data.data = (uint8_t *)"k1";
    q_m.data.len = 2;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &q, 0, &r), 0);
    assert_int_equal(r->query->value.len, 2);
    assert_memory_equal(r->query->value.data, "k1", 2);
    assert_int_equal(r->query->height, 42);
    abci_response_free(r);

    REQ(ls, list_snapshots, Phalanx__Abci__RequestListSnapshots,
        PHALANX__ABCI__REQUEST_LIST_SNAPSHOTS__INIT, PHALANX__ABCI__REQUEST__VALUE_LIST_SNAPSHOTS);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_SNAPSHOT, &ls, 0, &r), 0);
    assert_int_equal(r->list_snapshots->n_snapshots, 1);
    assert_int_equal(r->list_snapshots->snapshots[0]->chunks, 3);
    abci_response_free(r);

    /* snapshot methods without callbacks: the defaults */
    REQ(os, offer_snapshot, Phalanx__Abci__RequestOfferSnapshot,
        PHALANX__ABCI__REQUEST_OFFER_SNAPSHOT__INIT, PHALANX__ABCI__REQUEST__VALUE_OFFER_SNAPSHOT);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_SNAPSHOT, &os, 0, &r), 0);
    assert_int_equal(r->offer_snapshot->result,
                     PHALANX__ABCI__OFFER_SNAPSHOT_RESULT__OFFER_SNAPSHOT_RESULT_ABORT);
    abci_response_free(r);
    REQ(lc, load_snapshot_chunk, Phalanx__Abci__RequestLoadSnapshotChunk,
        PHALANX__ABCI__REQUEST_LOAD_SNAPSHOT_CHUNK__INIT,
        PHALANX__ABCI__REQUEST__VALUE_LOAD_SNAPSHOT_CHUNK);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_SNAPSHOT, &lc, 0, &r), 0);
    assert_int_equal(r->load_snapshot_chunk->chunk.len, 0);
    abci_response_free(r);
    REQ(ac, apply_snapshot_chunk, Phalanx__Abci__RequestApplySnapshotChunk,
        PHALANX__ABCI__REQUEST_APPLY_SNAPSHOT_CHUNK__INIT,
        PHALANX__ABCI__REQUEST__VALUE_APPLY_SNAPSHOT_CHUNK);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_SNAPSHOT, &ac, 0, &r), 0);
    assert_int_equal(r->apply_snapshot_chunk->result,
                     PHALANX__ABCI__APPLY_SNAPSHOT_CHUNK_RESULT__APPLY_SNAPSHOT_CHUNK_RESULT_ABORT);
    abci_response_free(r);

    unsigned long served = 0, refused = 0;
    abci_server_stats(f->srv, &served, &refused);
    assert_int_equal(served, 26); /* 7 PrepareProposals */
    assert_int_equal(refused, 0);
}

struct observed {
    int calls;
    char last[32];
    double seconds;
};

static void observer(const char *method, double seconds, void *user)
{
    struct observed *o = user;
    o->calls++;
    snprintf(o->last, sizeof(o->last), "%s", method);
    o->seconds = seconds;
}

/* The observer sees every successful call with its method and duration, and no failure. */
static void observer_sees_successful_calls(void **state)
{
    struct fx *f = *state;
    start_both(f);
    struct observed o = {0};
    abci_client_set_observer(f->cli, observer, &o);
    Phalanx__Abci__Response *r = NULL;
    REQ(echo, echo, Phalanx__Abci__RequestEcho, PHALANX__ABCI__REQUEST_ECHO__INIT,
        PHALANX__ABCI__REQUEST__VALUE_ECHO);
    echo_m.message = "timed";
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &echo, 0, &r), 0);
    abci_response_free(r);
    assert_int_equal(o.calls, 1);
    assert_string_equal(o.last, abci_method_name(PHALANX__ABCI__REQUEST__VALUE_ECHO));
    assert_true(o.seconds >= 0 && o.seconds < 60);
    /* a method refused on this connection is not a call the app answered */
    REQ(fb, finalize_block, Phalanx__Abci__RequestFinalizeBlock,
        PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT, PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &fb, 0, &r), PX_EINVAL);
    assert_int_equal(o.calls, 1);
}

static void defaults_of_an_empty_app(void **state)
{
    struct fx *f = *state;
    static const struct abci_app empty = {0};
    server_start(f, &empty, 0);
    client_start(f, 0);
    assert_int_equal(abci_client_wait_connected(f->cli, 5000), 0);
    Phalanx__Abci__Response *r = NULL;
    REQ(q, query, Phalanx__Abci__RequestQuery, PHALANX__ABCI__REQUEST_QUERY__INIT,
        PHALANX__ABCI__REQUEST__VALUE_QUERY);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &q, 0, &r), 0);
    assert_int_equal(r->query->code, 1);
    abci_response_free(r);
    REQ(fb, finalize_block, Phalanx__Abci__RequestFinalizeBlock,
        PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT, PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK);
    ProtobufCBinaryData txs[2] = {{1, (uint8_t *)"a"}, {1, (uint8_t *)"b"}};
    fb_m.n_txs = 2;
    fb_m.txs = txs;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_CONSENSUS, &fb, 0, &r), 0);
    assert_int_equal(r->finalize_block->n_tx_results, 2);
    assert_int_equal(r->finalize_block->tx_results[1]->code, 0);
    abci_response_free(r);
    REQ(cb, check_tx_batch, Phalanx__Abci__RequestCheckTxBatch,
        PHALANX__ABCI__REQUEST_CHECK_TX_BATCH__INIT, PHALANX__ABCI__REQUEST__VALUE_CHECK_TX_BATCH);
    cb_m.n_txs = 2;
    cb_m.txs = txs;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &cb, 0, &r), 0);
    assert_int_equal(r->check_tx_batch->n_results, 2);
    abci_response_free(r);
}

struct reconn {
    struct abci_client *c;
    enum abci_conn conn;
    unsigned long before;
};

static bool reconnected(void *user)
{
    struct reconn *r = user;
    return abci_client_connects(r->c, r->conn) > r->before && abci_client_connected(r->c, r->conn);
}

static void exceptions_and_protocol_errors(void **state)
{
    struct fx *f = *state;
    start_both(f);
    Phalanx__Abci__Response *r = NULL;

    /* the app's callback fails: Exception with its text */
    REQ(ct, check_tx, Phalanx__Abci__RequestCheckTx, PHALANX__ABCI__REQUEST_CHECK_TX__INIT,
        PHALANX__ABCI__REQUEST__VALUE_CHECK_TX);
    ct_m.tx.data = (uint8_t *)"boom";
    ct_m.tx.len = 4;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &ct, 0, &r), PX_EAPP);
    assert_non_null(strstr(abci_client_last_error(f->cli, ABCI_CONN_MEMPOOL), "store on fire"));

    /* a method on the wrong connection is refused locally */
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_CONSENSUS, &ct, 0, &r), PX_EINVAL);
    Phalanx__Abci__Request unset = PHALANX__ABCI__REQUEST__INIT;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &unset, 0, &r), PX_EINVAL);

    /* the app returns the wrong number of tx results */
    REQ(fb, finalize_block, Phalanx__Abci__RequestFinalizeBlock,
        PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT, PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK);
    ProtobufCBinaryData txs[1] = {{1, (uint8_t *)"a"}};
    fb_m.n_txs = 1;
    fb_m.txs = txs;
    fb_m.height = 13;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_CONSENSUS, &fb, 0, &r), PX_EPROTO);
    assert_non_null(strstr(abci_client_last_error(f->cli, ABCI_CONN_CONSENSUS), "2 tx results"));

    /* a response over the server's bound becomes an Exception */
    REQ(q, query, Phalanx__Abci__RequestQuery, PHALANX__ABCI__REQUEST_QUERY__INIT,
        PHALANX__ABCI__REQUEST__VALUE_QUERY);
    q_m.path = "/big";
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &q, 0, &r), PX_EAPP);
    assert_non_null(strstr(abci_client_last_error(f->cli, ABCI_CONN_QUERY), "exceeds the limit"));

    /* a request of exactly the server's bound (1 MiB) is served: the SP header does not
     * count against it */
    ct_m.tx.len = (1u << 20) - 16;
    ct_m.tx.data = calloc(1, 1u << 20);
    assert_non_null(ct_m.tx.data);
    ct_m.tx.len += (1u << 20) - phalanx__abci__request__get_packed_size(&ct);
    assert_int_equal(phalanx__abci__request__get_packed_size(&ct), 1u << 20);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &ct, 0, &r), 0);
    assert_int_equal(r->check_tx->gas_wanted, (int64_t)ct_m.tx.len);
    abci_response_free(r);
    free(ct_m.tx.data);

    /* a request over the client's bound is not sent */
    ct_m.tx.len = 5u << 20;
    ct_m.tx.data = calloc(1, ct_m.tx.len);
    assert_non_null(ct_m.tx.data);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &ct, 0, &r), PX_ETOOBIG);
    /* a request within the client's bound but over the server's (1 MiB): the server drops
     * the connection */
    ct_m.tx.len = 2u << 20;
    struct reconn rcn = {f->cli, ABCI_CONN_MEMPOOL,
                         abci_client_connects(f->cli, ABCI_CONN_MEMPOOL)};
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &ct, 0, &r), PX_ECLOSED);
    free(ct_m.tx.data);
    /* the connection comes back by itself and works */
    assert_true(pxt_wait_until(reconnected, &rcn, 5000));
    ct_m.tx.data = (uint8_t *)"ok";
    ct_m.tx.len = 2;
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &ct, 0, &r), 0);
    abci_response_free(r);

    unsigned long served = 0, refused = 0;
    abci_server_stats(f->srv, &served, &refused);
    assert_int_equal(refused, 2);
}

static void response_over_client_bound(void **state)
{
    struct fx *f = *state;
    server_start(f, &tapp_callbacks, 1u << 20);
    client_start(f, 64u << 10);
    assert_int_equal(abci_client_wait_connected(f->cli, 5000), 0);
    Phalanx__Abci__Response *r = NULL;
    REQ(q, query, Phalanx__Abci__RequestQuery, PHALANX__ABCI__REQUEST_QUERY__INIT,
        PHALANX__ABCI__REQUEST__VALUE_QUERY);
    q_m.path = "/mid"; /* 100 KiB */
    struct reconn rc = {f->cli, ABCI_CONN_QUERY, abci_client_connects(f->cli, ABCI_CONN_QUERY)};
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &q, 0, &r), PX_ECLOSED);
    q_m.path = "/key";
    assert_true(pxt_wait_until(reconnected, &rc, 5000));
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &q, 0, &r), 0);
    abci_response_free(r);
}

static bool all_down(void *user)
{
    struct abci_client *c = user;
    for (int i = 0; i < ABCI_CONN_COUNT; i++)
        if (abci_client_connected(c, (enum abci_conn)i))
            return false;
    return true;
}

static void app_gone_then_back(void **state)
{
    struct fx *f = *state;
    start_both(f);
    Phalanx__Abci__Response *r = NULL;
    REQ(info, info, Phalanx__Abci__RequestInfo, PHALANX__ABCI__REQUEST_INFO__INIT,
        PHALANX__ABCI__REQUEST__VALUE_INFO);
    unsigned long before = abci_client_connects(f->cli, ABCI_CONN_QUERY);
    assert_int_equal(before, 1);

    server_end(f);
    assert_true(pxt_wait_until(all_down, f->cli, 5000));
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &info, 0, &r), PX_ECLOSED);
    assert_non_null(strstr(abci_client_last_error(f->cli, ABCI_CONN_QUERY), "not connected"));

    f->app.height = 77;
    server_start(f, &tapp_callbacks, 1u << 20);
    assert_int_equal(abci_client_wait_connected(f->cli, 5000), 0);
    assert_true(abci_client_connects(f->cli, ABCI_CONN_QUERY) > before);
    assert_int_equal(abci_client_call(f->cli, ABCI_CONN_QUERY, &info, 0, &r), 0);
    assert_int_equal(r->info->last_block_height, 77);
    abci_response_free(r);
}

/* ---- a fake app that misbehaves on the wire ------------------------------------- */

enum fake_mode { FAKE_GARBAGE, FAKE_WRONG_METHOD, FAKE_SILENT, FAKE_DIE };

struct fake {
    nng_socket sock;
    enum fake_mode mode;
    pthread_t thr;
};

static void *fake_thread(void *arg)
{
    struct fake *fk = arg;
    nng_msg *m = NULL;
    if (nng_recvmsg(fk->sock, &m, 0) != 0)
        return NULL;
    nng_msg_clear(m); /* the REP socket keeps the request id for the reply */
    switch (fk->mode) {
    case FAKE_GARBAGE:
        nng_msg_append(m, "\xff\xff\xff\x01garbage", 11);
        if (nng_sendmsg(fk->sock, m, 0) != 0)
            nng_msg_free(m);
        break;
    case FAKE_WRONG_METHOD: {
        Phalanx__Abci__ResponseCommit c = PHALANX__ABCI__RESPONSE_COMMIT__INIT;
        Phalanx__Abci__Response r = PHALANX__ABCI__RESPONSE__INIT;
        r.value_case = PHALANX__ABCI__RESPONSE__VALUE_COMMIT;
        r.commit = &c;
        uint8_t buf[64];
        size_t n = phalanx__abci__response__pack(&r, buf);
        nng_msg_append(m, buf, n);
        if (nng_sendmsg(fk->sock, m, 0) != 0)
            nng_msg_free(m);
        break;
    }
    case FAKE_SILENT:
        nng_msg_free(m);
        break;
    case FAKE_DIE:
        nng_msg_free(m);
        nng_close(fk->sock);
        break;
    }
    return NULL;
}

static void fake_start(struct fx *f, struct fake *fk, enum fake_mode mode)
{
    fk->mode = mode;
    assert_int_equal(nng_rep0_open(&fk->sock), 0);
    assert_int_equal(nng_listen(fk->sock, f->addr, NULL, 0), 0);
    assert_int_equal(pthread_create(&fk->thr, NULL, fake_thread, fk), 0);
}

static void fake_end(struct fake *fk)
{
    pthread_join(fk->thr, NULL);
    if (fk->mode != FAKE_DIE)
        nng_close(fk->sock);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void bad_answers(void **state)
{
    struct fx *f = *state;
    static const struct {
        enum fake_mode mode;
        int want;
        const char *text;
    } cases[] = {
        {FAKE_GARBAGE, PX_EDECODE, "not an ABCI Response"},
        {FAKE_WRONG_METHOD, PX_EPROTO, "different method"},
        {FAKE_SILENT, PX_ETIMEDOUT, "within 300 ms"},
        {FAKE_DIE, PX_ECLOSED, "was lost"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fake fk;
        fake_start(f, &fk, cases[i].mode);
        client_start(f, 0);
        assert_int_equal(abci_client_wait_connected(f->cli, 5000), 0);
        REQ(echo, echo, Phalanx__Abci__RequestEcho, PHALANX__ABCI__REQUEST_ECHO__INIT,
            PHALANX__ABCI__REQUEST__VALUE_ECHO);
        echo_m.message = "x";
        Phalanx__Abci__Response *r = NULL;
        /* FAKE_DIE: the answer must come when the app dies, far before the deadline */
        int timeout = cases[i].mode == FAKE_SILENT ? 300 : 4000;
        long long t0 = now_ms();
        int rc = abci_client_call(f->cli, ABCI_CONN_MEMPOOL, &echo, timeout, &r);
        long long took = now_ms() - t0;
        assert_int_equal(rc, cases[i].want);
        assert_null(r);
        assert_non_null(strstr(abci_client_last_error(f->cli, ABCI_CONN_MEMPOOL), cases[i].text));
        if (cases[i].mode == FAKE_DIE)
            assert_true(took < 3000);
        abci_client_free(f->cli);
        f->cli = NULL;
        fake_end(&fk);
    }
}

static void server_refuses_garbage(void **state)
{
    struct fx *f = *state;
    server_start(f, &tapp_callbacks, 0);
    nng_socket req;
    assert_int_equal(nng_req0_open(&req), 0);
    assert_int_equal(nng_dial(req, f->addr, NULL, 0), 0);
    assert_int_equal(nng_send(req, "\xff\xff\xff\x01", 4, 0), 0);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(nng_recv(req, &buf, &len, NNG_FLAG_ALLOC), 0);
    Phalanx__Abci__Response *r = NULL;
    assert_int_equal(abci_response_decode((uint8_t *)buf, len, &r), 0);
    assert_int_equal(r->value_case, PHALANX__ABCI__RESPONSE__VALUE_EXCEPTION);
    assert_non_null(strstr(r->exception->error, "does not decode"));
    abci_response_free(r);
    nng_free(buf, len);
    nng_close(req);

    struct abci_server *dup = NULL;
    struct abci_server_config cfg = {.listen_addr = f->addr};
    assert_int_equal(abci_server_new(&cfg, &tapp_callbacks, NULL, &dup), PX_EEXIST);
    cfg.listen_addr = "bogus://nowhere";
    assert_int_equal(abci_server_new(&cfg, &tapp_callbacks, NULL, &dup), PX_EINVAL);
    assert_null(dup);
}

static struct abci_server *signal_target;

static void on_sigusr1(int sig)
{
    (void)sig;
    abci_server_stop(signal_target); /* only sets an atomic flag: async-signal-safe */
}

static void stop_from_a_signal_handler(void **state)
{
    struct fx *f = *state;
    start_both(f);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    signal_target = f->srv;
    assert_int_equal(pthread_kill(f->thr, SIGUSR1), 0);
    /* abci_server_run returns by itself (within its 100 ms poll) */
    assert_int_equal(pthread_join(f->thr, NULL), 0);
    f->running = false;
    abci_server_free(f->srv);
    f->srv = NULL;
    signal(SIGUSR1, SIG_DFL);
    assert_true(pxt_wait_until(all_down, f->cli, 5000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_garbage_and_bounds),
        cmocka_unit_test(codec_method_tables),
        cmocka_unit_test_setup_teardown(round_trip_every_method, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(observer_sees_successful_calls, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(defaults_of_an_empty_app, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(exceptions_and_protocol_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(response_over_client_bound, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(app_gone_then_back, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(bad_answers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(server_refuses_garbage, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(stop_from_a_signal_handler, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("abci", tests, NULL, NULL);
}
