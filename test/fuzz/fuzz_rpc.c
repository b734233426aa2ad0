/*
 * fuzz_rpc: the JSON-RPC request parser and method dispatch of the RPC server
 * (engine/rpc/rpc.h, rpc_handle_body), which reads whatever an HTTP client POSTs. The
 * server runs once per process on empty stores of a temporary home, without listening on
 * any socket; the node's callbacks are small fakes (a node at height 0; every submitted tx
 * refused by the "app", so no broadcast waits for a block). Properties: every answer is
 * valid JSON; the answer to a single request is an object with "jsonrpc": "2.0", the
 * answer to a batch an array; only a batch of notifications may get no answer.
 *
 * Never opens a socket; works only in its own temporary directory.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blockstore.h"
#include "fuzz_util.h"
#include "px_error.h"
#include "rpc.h"
#include "statestore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rpc *g_rpc;

static int status_cb(struct rpc_status *out, void *user)
{
    (void)user;
    memset(out, 0, sizeof(*out));
    out->latest_block_time_ns = 1700000000000000000ull;
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
    blockstore_close(bs);
    statestore_close(ss);
    static const char gen[] = "{\"genesis_time\":\"2023-11-14T22:13:20Z\",\"chain_id\":\"fuzz-"
                              "chain\",\"initial_height\":\"1\",\"validators\":[],\"app_hash\":"
                              "\"\"}";
    fuzz_write_file(gp, (const uint8_t *)gen, sizeof(gen) - 1);

    struct rpc_env env;
    memset(&env, 0, sizeof(env));
    env.blockstore_path = bsp;
    env.statestore_path = ssp;
    env.genesis_path = gp;
    env.node_id = "0123456789abcdef0123456789abcdef01234567";
    env.moniker = "fuzz";
    env.chain_id = "fuzz-chain";
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_rpc)
        start_rpc();
    char *out = NULL;
    int rc = rpc_handle_body(g_rpc, (const char *)data, size, &out);
    FUZZ_CHECK(rc == 0 || rc == PX_ENOMEM);
    if (rc != 0)
        return 0;
    if (out == NULL) {
        /* only a batch (of notifications) may go unanswered */
        size_t i = 0;
        while (i < size &&
               (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
            i++;
        FUZZ_CHECK(i < size && data[i] == '[');
        return 0;
    }
    json_error_t je;
    json_t *j = json_loads(out, JSON_DECODE_ANY, &je);
    if (!j)
        fprintf(stderr, "fuzz_rpc: answer is not JSON (%s): %.200s\n", je.text, out);
    FUZZ_CHECK(j != NULL);
    if (json_is_object(j)) {
        json_t *ver = json_object_get(j, "jsonrpc");
        FUZZ_CHECK(json_is_string(ver) && strcmp(json_string_value(ver), "2.0") == 0);
        FUZZ_CHECK(json_object_get(j, "result") != NULL || json_object_get(j, "error") != NULL);
    } else {
        FUZZ_CHECK(json_is_array(j));
    }
    json_decref(j);
    free(out);
    return 0;
}
