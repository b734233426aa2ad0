/*
 * fuzz_rpc: the JSON-RPC request parser and method dispatch of the RPC server
 * (engine/rpc/rpc.h, rpc_handle_body), which reads whatever an HTTP client POSTs. The
 * server runs once per process on stores of a temporary home holding a small chain (3
 * blocks with txs, seen commits, validators, params and FinalizeBlock results with
 * events), without listening on any socket. Every input is tried both as a POST body and,
 * up to its first NUL, as a GET URI (rpc_handle_uri: "method?arg=value&..."); the node's callbacks
 * are small fakes (every submitted tx refused by the "app", so no broadcast waits for a block).
 * Properties: every answer is valid JSON; the answer to a single request is an object with
 * "jsonrpc": "2.0", the answer to a batch an array; only notifications (requests without an
 * "id") get no answer.
 *
 * Never opens a socket; works only in its own temporary directory.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abci.pb-c.h"
#include "blockstore.h"
#include "codec.h"
#include "fuzz_util.h"
#include "px_error.h"
#include "rpc.h"
#include "statestore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rpc *g_rpc;

#define CHAIN "fuzz-chain"
#define NVAL 4
#define HEIGHTS 3
#define TXS 2
static struct validator_set g_vals;
static struct block_id g_ids[HEIGHTS + 1];

static void save_results(struct statestore *ss, uint64_t h)
{
    Phalanx__Abci__ResponseFinalizeBlock f = PHALANX__ABCI__RESPONSE_FINALIZE_BLOCK__INIT;
    Phalanx__Abci__ExecTxResult res[TXS], *resp[TXS];
    Phalanx__Abci__Event ev[TXS], *evp[TXS];
    Phalanx__Abci__EventAttribute at[TXS], *atp[TXS];
    for (uint32_t i = 0; i < TXS; i++) {
        phalanx__abci__exec_tx_result__init(&res[i]);
        phalanx__abci__event__init(&ev[i]);
        phalanx__abci__event_attribute__init(&at[i]);
        at[i].key = "sender";
        at[i].value = i % 2 ? "bob" : "alice";
        at[i].index = 1;
        atp[i] = &at[i];
        ev[i].type = "transfer";
        ev[i].n_attributes = 1;
        ev[i].attributes = &atp[i];
        evp[i] = &ev[i];
        res[i].code = i;
        res[i].log = i ? "bad nonce" : "ok";
        res[i].n_events = 1;
        res[i].events = &evp[i];
        resp[i] = &res[i];
    }
    f.n_tx_results = TXS;
    f.tx_results = resp;
    uint8_t apphash[32];
    memset(apphash, (int)h, sizeof(apphash));
    f.app_hash.data = apphash;
    f.app_hash.len = sizeof(apphash);
    size_t len = phalanx__abci__response_finalize_block__get_packed_size(&f);
    uint8_t *buf = malloc(len);
    FUZZ_CHECK(buf != NULL);
    phalanx__abci__response_finalize_block__pack(&f, buf);
    FUZZ_CHECK(statestore_put(ss, STATESTORE_RESULTS, h, buf, len) == 0);
    free(buf);
}

static void sign_slots(struct commit *c, uint64_t time_ns)
{
    for (uint32_t i = 0; i < NVAL; i++) {
        c->sigs[i].flag = i == 3 ? COMMIT_FLAG_ABSENT : COMMIT_FLAG_COMMIT;
        if (i == 3)
            continue;
        memcpy(c->sigs[i].validator_address, g_vals.validators[i].address, 20);
        c->sigs[i].timestamp_ns = time_ns + i;
        memset(c->sigs[i].signature, 0x40 + (int)i, 64);
    }
}

/* Block h (1..HEIGHTS) with TXS txs, its seen commit and its results. */
static void add_block(struct blockstore *bs, struct statestore *ss, uint64_t h)
{
    char bufs[TXS][64];
    const uint8_t *txs[TXS];
    size_t lens[TXS];
    uint8_t th[TXS][32];
    for (uint32_t i = 0; i < TXS; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "key%u-%u=value", (unsigned)h, i);
        txs[i] = (const uint8_t *)bufs[i];
        lens[i] = strlen(bufs[i]);
        crypto_hash_sha256(th[i], txs[i], lens[i]);
    }
    struct commit last;
    commit_init_empty(&last);
    if (h > 1) {
        FUZZ_CHECK(commit_init(&last, h - 1, 0, &g_ids[h - 1], NVAL) == 0);
        sign_slots(&last, 1700000000000000000ull + h * 1000000000ull);
    }
    struct block_params p;
    memset(&p, 0, sizeof(p));
    p.chain_id = CHAIN;
    p.height = h;
    p.time_ns = 1700000000000000000ull + h * 1000000000ull + 123456789ull;
    if (h > 1)
        p.last_block_id = g_ids[h - 1];
    p.last_commit = h > 1 ? &last : NULL;
    p.validators = &g_vals;
    p.next_validators = &g_vals;
    uint8_t app[32];
    memset(app, (int)h, sizeof(app));
    p.app_hash = app;
    p.app_hash_len = sizeof(app);
    memcpy(p.proposer_address, g_vals.validators[h % NVAL].address, 20);
    struct block b;
    block_init(&b);
    FUZZ_CHECK(block_make(&b, &p, txs, lens, TXS, NULL, 0) == 0);
    commit_fini(&last);
    struct part_set ps;
    FUZZ_CHECK(block_to_parts(&b, &ps, &g_ids[h]) == 0);
    part_set_fini(&ps);
    uint8_t *enc, *cenc;
    size_t enc_len, clen;
    FUZZ_CHECK(codec_block_encode(&b, &enc, &enc_len) == 0);
    struct commit seen;
    FUZZ_CHECK(commit_init(&seen, h, 0, &g_ids[h], NVAL) == 0);
    sign_slots(&seen, p.time_ns + 1);
    FUZZ_CHECK(codec_commit_encode(&seen, &cenc, &clen) == 0);
    commit_fini(&seen);
    struct blockstore_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.height = h;
    memcpy(meta.hash, g_ids[h].hash, 32);
    meta.time_ns = p.time_ns;
    meta.num_txs = TXS;
    meta.size_bytes = enc_len;
    meta.app_hash_len = sizeof(app);
    memcpy(meta.app_hash, app, sizeof(app));
    memcpy(meta.proposer_address, p.proposer_address, 20);
    FUZZ_CHECK(blockstore_save(bs, &meta, enc, enc_len, cenc, clen, (const uint8_t(*)[32])th) == 0);
    free(enc);
    free(cenc);
    block_fini(&b);
    save_results(ss, h);
}

static void make_chain(struct blockstore *bs, struct statestore *ss)
{
    FUZZ_CHECK(sodium_init() >= 0);
    struct validator v[NVAL];
    memset(v, 0, sizeof(v));
    for (int i = 0; i < NVAL; i++) {
        memset(v[i].pub_key, i + 1, 32);
        uint8_t hash[32];
        crypto_hash_sha256(hash, v[i].pub_key, 32);
        memcpy(v[i].address, hash, 20);
        v[i].voting_power = 10 * (i + 1);
    }
    FUZZ_CHECK(validator_set_init(&g_vals, v, NVAL) == 0);
    uint8_t *enc;
    size_t len;
    FUZZ_CHECK(codec_validator_set_encode(&g_vals, &enc, &len) == 0);
    FUZZ_CHECK(statestore_put(ss, STATESTORE_VALIDATORS, 1, enc, len) == 0);
    free(enc);
    Phalanx__Abci__ConsensusParams cp = PHALANX__ABCI__CONSENSUS_PARAMS__INIT;
    Phalanx__Abci__BlockParams bp = PHALANX__ABCI__BLOCK_PARAMS__INIT;
    bp.max_bytes = 22020096;
    bp.max_gas = -1;
    cp.block = &bp;
    uint8_t pbuf[64];
    size_t plen = phalanx__abci__consensus_params__pack(&cp, pbuf);
    FUZZ_CHECK(statestore_put(ss, STATESTORE_PARAMS, 1, pbuf, plen) == 0);
    for (uint64_t h = 1; h <= HEIGHTS; h++)
        add_block(bs, ss, h);
}

static int status_cb(struct rpc_status *out, void *user)
{
    (void)user;
    memset(out, 0, sizeof(*out));
    out->latest_height = HEIGHTS;
    memcpy(out->latest_block_hash, g_ids[HEIGHTS].hash, 32);
    out->latest_block_time_ns = 1700000000000000000ull + HEIGHTS * 1000000000ull;
    out->earliest_height = 1;
    return 0;
}

static int submit_cb(const uint8_t *tx, size_t len, struct rpc_tx_check *out, void *user)
{
    (void)tx;
    (void)len;
    (void)user;
    out->code = 1; /* refused: broadcast_tx_commit returns at once */
    snprintf(out->log, sizeof(out->log), "refused by the fuzz app");
    return 0;
}

static int info_cb(struct rpc_app_info *out, void *user)
{
    (void)user;
    snprintf(out->data, sizeof(out->data), "fuzz");
    snprintf(out->version, sizeof(out->version), "1.0.0");
    return 0;
}

static int query_cb(const struct rpc_query *q, struct rpc_query_result *out, void *user)
{
    (void)q;
    (void)user;
    out->code = 1;
    snprintf(out->log, sizeof(out->log), "no such path");
    return 0;
}

static void stop_rpc(void)
{
    rpc_free(g_rpc);
    g_rpc = NULL;
}

static void start_rpc(void)
{
    fuzz_quiet_logs();
    char bsp[600], ssp[600], gp[600];
    snprintf(bsp, sizeof(bsp), "%s", fuzz_tmp_path("blockstore.db"));
    snprintf(ssp, sizeof(ssp), "%s", fuzz_tmp_path("state.db"));
    snprintf(gp, sizeof(gp), "%s", fuzz_tmp_path("genesis.json"));
    struct blockstore *bs;
    struct statestore *ss;
    FUZZ_CHECK(blockstore_open(bsp, &bs) == 0);
    FUZZ_CHECK(statestore_open(ssp, &ss) == 0);
    make_chain(bs, ss);
    blockstore_close(bs);
    statestore_close(ss);
    static const char gen[] = "{\"genesis_time\":\"2023-11-14T22:13:20Z\",\"chain_id\":\"" CHAIN
                              "\",\"initial_height\":\"1\",\"validators\":[],\"app_hash\":"
                              "\"\"}";
    fuzz_write_file(gp, (const uint8_t *)gen, sizeof(gen) - 1);

    struct rpc_env env;
    memset(&env, 0, sizeof(env));
    env.blockstore_path = bsp;
    env.statestore_path = ssp;
    env.genesis_path = gp;
    env.node_id = "0123456789abcdef0123456789abcdef01234567";
    env.moniker = "fuzz";
    env.chain_id = CHAIN;
    env.p2p_listen_addr = "tcp://127.0.0.1:26656";
    env.rpc_listen_addr = "";     /* no HTTP server: requests come through rpc_handle_body */
    env.metrics_listen_addr = ""; /* no /metrics */
    env.max_body_bytes = 1000000;
    env.timeout_broadcast_tx_commit_ms = 10;
    env.status = status_cb;
    env.submit_tx = submit_cb;
    env.check_tx = submit_cb;
    env.app_info = info_cb;
    env.app_query = query_cb;
    int rc = rpc_new(&env, &g_rpc);
    if (rc != 0)
        fprintf(stderr, "fuzz_rpc: rpc_new: %s\n", px_strerror(rc));
    FUZZ_CHECK(rc == 0);
    atexit(stop_rpc);
}

/* A JSON-RPC answer object: valid JSON, "jsonrpc": "2.0", a result or an error. */
static void check_answer_object(json_t *j)
{
    FUZZ_CHECK(json_is_object(j));
    json_t *ver = json_object_get(j, "jsonrpc");
    FUZZ_CHECK(json_is_string(ver) && strcmp(json_string_value(ver), "2.0") == 0);
    FUZZ_CHECK(json_object_get(j, "result") != NULL || json_object_get(j, "error") != NULL);
}

static json_t *parse_answer(const char *out)
{
    json_error_t je;
    json_t *j = json_loads(out, JSON_DECODE_ANY, &je);
    if (!j)
        fprintf(stderr, "fuzz_rpc: answer is not JSON (%s): %.200s\n", je.text, out);
    FUZZ_CHECK(j != NULL);
    return j;
}

static void uri_case(const uint8_t *data, size_t size)
{
    static char uri[65536];
    size_t n = strnlen((const char *)data, size < sizeof(uri) - 1 ? size : sizeof(uri) - 1);
    memcpy(uri, data, n);
    uri[n] = '\0';
    char *out = NULL;
    int rc = rpc_handle_uri(g_rpc, uri, &out);
    FUZZ_CHECK(rc == 0 || rc == PX_ENOMEM);
    if (rc != 0)
        return;
    FUZZ_CHECK(out != NULL);
    json_t *j = parse_answer(out);
    check_answer_object(j);
    json_decref(j);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_rpc)
        start_rpc();
    uri_case(data, size);
    char *out = NULL;
    int rc = rpc_handle_body(g_rpc, (const char *)data, size, &out);
    FUZZ_CHECK(rc == 0 || rc == PX_ENOMEM);
    if (rc != 0)
        return 0;
    if (out == NULL) {
        /* only notifications (requests without an "id") go unanswered */
        json_t *in = json_loadb((const char *)data, size, 0, NULL);
        FUZZ_CHECK(in != NULL);
        if (json_is_array(in)) {
            size_t i;
            json_t *item;
            json_array_foreach(in, i, item)
            {
                FUZZ_CHECK(json_is_object(item) && json_object_get(item, "id") == NULL);
            }
        } else {
            FUZZ_CHECK(json_is_object(in) && json_object_get(in, "id") == NULL);
        }
        json_decref(in);
        return 0;
    }
    json_t *j = parse_answer(out);
    if (json_is_array(j)) {
        size_t i;
        json_t *item;
        json_array_foreach(j, i, item)
        {
            check_answer_object(item);
        }
    } else {
        check_answer_object(j);
    }
    json_decref(j);
    free(out);
    return 0;
}
