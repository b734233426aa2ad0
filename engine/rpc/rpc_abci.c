/*
 * rpc_abci: the env callbacks app_info / app_query / check_tx implemented with the ABCI
 * client (Info and Query on the query connection, CheckTx on the mempool connection), for
 * nodes that let the RPC talk to the app directly. A protobuf edge: ABCI structs stay
 * here. check_tx only asks the app; it never adds to the mempool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abci_client.h"
#include "px_error.h"
#include "rpc.h"

#define RPC_ABCI_TIMEOUT_MS 5000

static int app_info(struct rpc_app_info *out, void *user)
{
    struct abci_client *client = user;
    if (client == NULL)
        return PX_ECLOSED;
    Phalanx__Abci__RequestInfo info = PHALANX__ABCI__REQUEST_INFO__INIT;
    info.version = "phalanx";
    info.abci_version = "1.0.0";
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INFO;
    req.info = &info;
    Phalanx__Abci__Response *resp = NULL;
    int err = abci_client_call(client, ABCI_CONN_QUERY, &req, RPC_ABCI_TIMEOUT_MS, &resp);
    if (err < 0)
        return err;
    const Phalanx__Abci__ResponseInfo *ri = resp->info;
    snprintf(out->data, sizeof out->data, "%s", ri->data ? ri->data : "");
    snprintf(out->version, sizeof out->version, "%s", ri->version ? ri->version : "");
    out->app_version = ri->app_version;
    out->last_block_height = ri->last_block_height;
    size_t n = ri->last_block_app_hash.len;
    if (n > sizeof out->last_block_app_hash)
        n = sizeof out->last_block_app_hash;
    memcpy(out->last_block_app_hash, ri->last_block_app_hash.data, n);
    out->last_block_app_hash_len = n;
    abci_response_free(resp);
    return 0;
}

static int app_query(const struct rpc_query *q, struct rpc_query_result *out, void *user)
{
    struct abci_client *client = user;
    if (client == NULL)
        return PX_ECLOSED;
    Phalanx__Abci__RequestQuery rq = PHALANX__ABCI__REQUEST_QUERY__INIT;
    rq.path = (char *)(q->path ? q->path : "");
    rq.data.data = (uint8_t *)q->data;
    rq.data.len = q->data_len;
    rq.height = q->height;
    rq.prove = q->prove;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_QUERY;
    req.query = &rq;
    Phalanx__Abci__Response *resp = NULL;
    int err = abci_client_call(client, ABCI_CONN_QUERY, &req, RPC_ABCI_TIMEOUT_MS, &resp);
    if (err < 0)
        return err;
    const Phalanx__Abci__ResponseQuery *r = resp->query;
    out->code = r->code;
    snprintf(out->log, sizeof out->log, "%s", r->log ? r->log : "");
    snprintf(out->info, sizeof out->info, "%s", r->info ? r->info : "");
    snprintf(out->codespace, sizeof out->codespace, "%s", r->codespace ? r->codespace : "");
    out->index = r->index;
    out->height = r->height;
    out->key = malloc(r->key.len + 1);
    out->value = malloc(r->value.len + 1);
    if (out->key == NULL || out->value == NULL) {
        free(out->key);
        free(out->value);
        out->key = out->value = NULL;
        abci_response_free(resp);
        return PX_ENOMEM;
    }
    if (r->key.len > 0) /* an absent key has no data pointer */
        memcpy(out->key, r->key.data, r->key.len);
    out->key_len = r->key.len;
    if (r->value.len > 0)
        memcpy(out->value, r->value.data, r->value.len);
    out->value_len = r->value.len;
    abci_response_free(resp);
    return 0;
}

static int check_tx(const uint8_t *tx, size_t len, struct rpc_tx_check *out, void *user)
{
    struct abci_client *client = user;
    if (client == NULL)
        return PX_ECLOSED;
    Phalanx__Abci__RequestCheckTx rc = PHALANX__ABCI__REQUEST_CHECK_TX__INIT;
    rc.tx.data = (uint8_t *)tx;
    rc.tx.len = len;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX;
    req.check_tx = &rc;
    Phalanx__Abci__Response *resp = NULL;
    int err = abci_client_call(client, ABCI_CONN_MEMPOOL, &req, RPC_ABCI_TIMEOUT_MS, &resp);
    if (err < 0)
        return err;
    const Phalanx__Abci__ResponseCheckTx *r = resp->check_tx;
    out->code = r->code;
    size_t n = r->data.len < sizeof out->data ? r->data.len : sizeof out->data;
    memcpy(out->data, r->data.data, n);
    out->data_len = n;
    snprintf(out->log, sizeof out->log, "%s", r->log ? r->log : "");
    snprintf(out->info, sizeof out->info, "%s", r->info ? r->info : "");
    snprintf(out->codespace, sizeof out->codespace, "%s", r->codespace ? r->codespace : "");
    out->gas_wanted = r->gas_wanted;
    out->gas_used = r->gas_used;
    abci_response_free(resp);
    return 0;
}

void rpc_env_use_abci(struct rpc_env *env, struct abci_client *client)
{
    env->abci = client;
    env->app_info = app_info;
    env->app_query = app_query;
    env->check_tx = check_tx;
}
