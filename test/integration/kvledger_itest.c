/*
 * kvledger_itest: see kvledger_itest.h. Every process it starts is stopped by PID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kvledger_itest.h"

#include "abci_codec.h"
#include "px_error.h"
#include "px_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void kvl_node_init(struct kvl_node *n, const char *exe, const char *tag)
{
    memset(n, 0, sizeof(*n));
    n->exe = exe;
    n->pid = -1;
    assert_int_equal(pxt_tmpdir(tag, n->home, sizeof(n->home)), 0);
    snprintf(n->log, sizeof(n->log), "%s/kvledger.log", n->home);
    uint16_t port = pxt_free_port();
    assert_int_not_equal(port, 0);
    snprintf(n->addr, sizeof(n->addr), "tcp://127.0.0.1:%u", (unsigned)port);
}

static void dump_log(const struct kvl_node *n)
{
    size_t len;
    char *text = pxt_read_file(n->log, &len);
    if (text) {
        fprintf(stderr, "---- %s ----\n%s---- end ----\n", n->log, text);
        free(text);
    }
}

void kvl_node_start(struct kvl_node *n)
{
    const char *argv[] = {n->exe,  "--listen",    n->addr, "--home",
                          n->home, "--log-level", "debug", NULL};
    n->pid = pxt_spawn(argv, n->log);
    assert_true(n->pid > 0);
    struct abci_client_config cfg = {
        .addr = n->addr, .timeout_ms = 10000, .reconnect_min_ms = 10, .reconnect_max_ms = 100};
    assert_int_equal(abci_client_new(&cfg, &n->client), 0);
    if (abci_client_wait_connected(n->client, 10000) != 0) {
        dump_log(n);
        fail_msg("kvledger did not accept connections on %s within 10 s", n->addr);
    }
}

void kvl_node_stop(struct kvl_node *n, int sig)
{
    if (n->client) {
        abci_client_free(n->client);
        n->client = NULL;
    }
    if (n->pid <= 0)
        return;
    int status = 0;
    assert_int_equal(pxt_stop(n->pid, sig, 10000, &status), 0);
    n->pid = -1;
    if (sig == SIGTERM) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            dump_log(n);
            fail_msg("kvledger did not exit cleanly on SIGTERM (status 0x%x)", status);
        }
    } else {
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == sig);
    }
}

void kvl_node_fini(struct kvl_node *n)
{
    if (n->client || n->pid > 0)
        kvl_node_stop(n, SIGKILL);
    pxt_rmtree(n->home);
}

static int call(struct kvl_node *n, enum abci_conn conn, Phalanx__Abci__Request *req,
                Phalanx__Abci__Response **resp)
{
    int rc = abci_client_call(n->client, conn, req, 0, resp);
    if (n->tolerate_loss && (rc == PX_ECLOSED || rc == PX_ETIMEDOUT))
        return rc;
    if (rc != 0 && rc != PX_EAPP) {
        dump_log(n);
        fail_msg("ABCI call failed: %s: %s", px_strerror(rc),
                 abci_client_last_error(n->client, conn));
    }
    return rc;
}

void kvl_info(struct kvl_node *n, int64_t *height, uint8_t *hash, size_t *hash_len)
{
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__RequestInfo info = PHALANX__ABCI__REQUEST_INFO__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INFO;
    req.info = &info;
    Phalanx__Abci__Response *resp;
    assert_int_equal(call(n, ABCI_CONN_QUERY, &req, &resp), 0);
    *height = resp->info->last_block_height;
    *hash_len = resp->info->last_block_app_hash.len;
    assert_true(*hash_len <= 32);
    if (*hash_len)
        memcpy(hash, resp->info->last_block_app_hash.data, *hash_len);
    assert_string_equal(resp->info->data, "kvledger");
    abci_response_free(resp);
}

void kvl_init_chain(struct kvl_node *n, const char *chain_id, const char *app_state,
                    uint8_t hash[32])
{
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__RequestInitChain ic = PHALANX__ABCI__REQUEST_INIT_CHAIN__INIT;
    ic.chain_id = (char *)chain_id;
    ic.initial_height = 1;
    ic.app_state_bytes.data = (uint8_t *)app_state;
    ic.app_state_bytes.len = strlen(app_state);
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN;
    req.init_chain = &ic;
    Phalanx__Abci__Response *resp;
    assert_int_equal(call(n, ABCI_CONN_CONSENSUS, &req, &resp), 0);
    assert_int_equal(resp->init_chain->app_hash.len, 32);
    memcpy(hash, resp->init_chain->app_hash.data, 32);
    abci_response_free(resp);
}

uint32_t kvl_check_tx(struct kvl_node *n, const uint8_t *tx, size_t len)
{
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__RequestCheckTx ct = PHALANX__ABCI__REQUEST_CHECK_TX__INIT;
    ct.tx.data = (uint8_t *)tx;
    ct.tx.len = len;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX;
    req.check_tx = &ct;
    Phalanx__Abci__Response *resp;
    assert_int_equal(call(n, ABCI_CONN_MEMPOOL, &req, &resp), 0);
    uint32_t code = resp->check_tx->code;
    if (code != 0)
        assert_true(strlen(resp->check_tx->log) > 0);
    abci_response_free(resp);
    return code;
}

int kvl_finalize(struct kvl_node *n, int64_t height, const uint8_t *const *txs, const size_t *lens,
                 size_t ntx, uint32_t *codes, uint8_t hash[32])
{
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__RequestFinalizeBlock fb = PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    ProtobufCBinaryData bin[16];
    assert_true(ntx <= 16);
    for (size_t i = 0; i < ntx; i++) {
        bin[i].data = (uint8_t *)txs[i];
        bin[i].len = lens[i];
    }
    fb.n_txs = ntx;
    fb.txs = ntx ? bin : NULL;
    fb.height = height;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    req.finalize_block = &fb;
    Phalanx__Abci__Response *resp;
    int rc = call(n, ABCI_CONN_CONSENSUS, &req, &resp);
    if (rc)
        return rc;
    assert_int_equal(resp->finalize_block->n_tx_results, ntx);
    for (size_t i = 0; i < ntx; i++) {
        const Phalanx__Abci__ExecTxResult *r = resp->finalize_block->tx_results[i];
        if (codes)
            codes[i] = r->code;
        /* a successful tx carries one event ("kv" or "transfer"), a failed one none */
        assert_int_equal(r->n_events, r->code == 0 ? 1 : 0);
        if (r->code == 0)
            assert_true(strcmp(r->events[0]->type, "kv") == 0 ||
                        strcmp(r->events[0]->type, "transfer") == 0);
    }
    assert_int_equal(resp->finalize_block->app_hash.len, 32);
    memcpy(hash, resp->finalize_block->app_hash.data, 32);
    abci_response_free(resp);
    return 0;
}

int kvl_commit(struct kvl_node *n)
{
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__RequestCommit cm = PHALANX__ABCI__REQUEST_COMMIT__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_COMMIT;
    req.commit = &cm;
    Phalanx__Abci__Response *resp;
    int rc = call(n, ABCI_CONN_CONSENSUS, &req, &resp);
    if (rc == 0)
        abci_response_free(resp);
    return rc;
}

uint32_t kvl_query(struct kvl_node *n, const char *path, const uint8_t *data, size_t len, char *val,
                   size_t cap)
{
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__RequestQuery q = PHALANX__ABCI__REQUEST_QUERY__INIT;
    q.path = (char *)path;
    q.data.data = (uint8_t *)data;
    q.data.len = len;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_QUERY;
    req.query = &q;
    Phalanx__Abci__Response *resp;
    assert_int_equal(call(n, ABCI_CONN_QUERY, &req, &resp), 0);
    uint32_t code = resp->query->code;
    size_t vl = resp->query->value.len;
    assert_true(vl < cap);
    if (vl)
        memcpy(val, resp->query->value.data, vl);
    val[vl] = '\0';
    abci_response_free(resp);
    return code;
}
