/*
 * kvledger: the reference application's binary. Opens the state machine (kvledger.h)
 * under --home, serves it over ABCI on --listen with the abci_server library, and stops
 * cleanly on SIGINT or SIGTERM (the request being served is answered first; an
 * uncommitted block is discarded, as after a crash).
 *
 * This file only converts between protobuf-c structs and the state machine's own types;
 * it never decides what a transaction means.
 */
#include "abci_server.h"
#include "kvledger.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "kvledger"
#define KVLEDGER_VERSION "0.1.0"

static struct abci_server *g_server;

static void on_signal(int sig)
{
    (void)sig;
    if (g_server)
        abci_server_stop(g_server);
}

static int app_info(struct abci_call *call, const Phalanx__Abci__RequestInfo *req,
                    Phalanx__Abci__ResponseInfo *resp, void *user)
{
    (void)req;
    struct kvledger_info info;
    kvledger_info(user, &info);
    resp->data = "kvledger";
    resp->version = KVLEDGER_VERSION;
    resp->app_version = KVL_APP_VERSION;
    resp->last_block_height = info.height;
    if (info.app_hash_len) {
        resp->last_block_app_hash.data = abci_call_memdup(call, info.app_hash, info.app_hash_len);
        if (!resp->last_block_app_hash.data)
            return PX_ENOMEM;
        resp->last_block_app_hash.len = info.app_hash_len;
    }
    return 0;
}

static int app_init_chain(struct abci_call *call, const Phalanx__Abci__RequestInitChain *req,
                          Phalanx__Abci__ResponseInitChain *resp, void *user)
{
    uint8_t *hash = abci_call_alloc(call, KVL_HASH_LEN);
    if (!hash)
        return PX_ENOMEM;
    char err[256];
    int rc =
        kvledger_init_chain(user, req->chain_id, req->initial_height, req->app_state_bytes.data,
                            req->app_state_bytes.len, hash, err, sizeof(err));
    if (rc) {
        abci_call_set_error(call, "kvledger InitChain: %s", err);
        return rc;
    }
    /* validators and consensus params: empty/absent = keep genesis */
    resp->app_hash.data = hash;
    resp->app_hash.len = KVL_HASH_LEN;
    return 0;
}

static int app_query(struct abci_call *call, const Phalanx__Abci__RequestQuery *req,
                     Phalanx__Abci__ResponseQuery *resp, void *user)
{
    struct kvledger_query_result *q = abci_call_alloc(call, sizeof(*q));
    if (!q)
        return PX_ENOMEM;
    int rc = kvledger_query(user, req->path, req->data.data, req->data.len, req->height, q);
    if (rc) {
        abci_call_set_error(call, "kvledger Query: %s", px_strerror(rc));
        return rc;
    }
    resp->code = q->code;
    resp->log = q->log;
    resp->height = q->height;
    resp->key = req->data;
    resp->value.data = q->value;
    resp->value.len = q->value_len;
    return 0;
}

static int app_check_tx(struct abci_call *call, const Phalanx__Abci__RequestCheckTx *req,
                        Phalanx__Abci__ResponseCheckTx *resp, void *user)
{
    struct kvledger_result *r = abci_call_alloc(call, sizeof(*r));
    if (!r)
        return PX_ENOMEM;
    bool recheck = req->type == PHALANX__ABCI__CHECK_TX_TYPE__CHECK_TX_TYPE_RECHECK;
    int rc = kvledger_check_tx(user, req->tx.data, req->tx.len, recheck, r);
    if (rc) {
        abci_call_set_error(call, "kvledger CheckTx: %s", px_strerror(rc));
        return rc;
    }
    resp->code = r->code;
    resp->log = r->log;
    resp->gas_wanted = 1;
    return 0;
}

/* One event with nattr indexed attributes; NULL when call memory runs out. */
static Phalanx__Abci__Event *make_event(struct abci_call *call, const char *type, size_t nattr,
                                        const char *const *keys, const char *const *vals)
{
    Phalanx__Abci__Event *ev = abci_call_alloc(call, sizeof(*ev));
    Phalanx__Abci__EventAttribute *attrs = abci_call_alloc(call, nattr * sizeof(*attrs));
    Phalanx__Abci__EventAttribute **ptrs = abci_call_alloc(call, nattr * sizeof(*ptrs));
    if (!ev || !attrs || !ptrs)
        return NULL;
    phalanx__abci__event__init(ev);
    ev->type = (char *)type;
    for (size_t i = 0; i < nattr; i++) {
        phalanx__abci__event_attribute__init(&attrs[i]);
        attrs[i].key = (char *)keys[i];
        attrs[i].value = abci_call_strdup(call, vals[i]);
        if (!attrs[i].value)
            return NULL;
        attrs[i].index = 1;
        ptrs[i] = &attrs[i];
    }
    ev->n_attributes = nattr;
    ev->attributes = ptrs;
    return ev;
}

/* The event of a successful tx (not hashed: PROTOCOL.md §6): "kv" {key, op} or
 * "transfer" {sender, recipient, amount} (keys in base64). 0 or PX_ENOMEM. */
static int tx_events(struct abci_call *call, const uint8_t *tx, const struct kvledger_result *r,
                     Phalanx__Abci__ExecTxResult *out)
{
    Phalanx__Abci__Event *ev = NULL;
    if (r->kind == KVL_TX_KV_SET || r->kind == KVL_TX_KV_DELETE) {
        char key[KV_KEY_MAX + 1];
        memcpy(key, tx + r->key_off, r->key_len); /* printable ASCII: valid UTF-8 */
        key[r->key_len] = '\0';
        const char *keys[] = {"key", "op"};
        const char *vals[] = {key, r->kind == KVL_TX_KV_SET ? "set" : "delete"};
        ev = make_event(call, "kv", 2, keys, vals);
    } else if (r->kind == KVL_TX_TRANSFER) {
        char from[PX_BASE64_LEN(LEDGER_PUBKEY_LEN)], to[PX_BASE64_LEN(LEDGER_PUBKEY_LEN)];
        char amount[24];
        px_base64_encode(from, sizeof(from), r->from, LEDGER_PUBKEY_LEN);
        px_base64_encode(to, sizeof(to), r->to, LEDGER_PUBKEY_LEN);
        snprintf(amount, sizeof(amount), "%" PRIu64, r->amount);
        const char *keys[] = {"sender", "recipient", "amount"};
        const char *vals[] = {from, to, amount};
        ev = make_event(call, "transfer", 3, keys, vals);
    } else {
        return 0;
    }
    Phalanx__Abci__Event **list = abci_call_alloc(call, sizeof(*list));
    if (!ev || !list)
        return PX_ENOMEM;
    list[0] = ev;
    out->n_events = 1;
    out->events = list;
    return 0;
}

static int app_finalize_block(struct abci_call *call,
                              const Phalanx__Abci__RequestFinalizeBlock *req,
                              Phalanx__Abci__ResponseFinalizeBlock *resp, void *user)
{
    size_t n = req->n_txs;
    if (n > KVL_BLOCK_TXS_MAX) {
        abci_call_set_error(call, "kvledger FinalizeBlock: %zu txs, more than %d", n,
                            KVL_BLOCK_TXS_MAX);
        return PX_ETOOBIG;
    }
    const uint8_t **txs = abci_call_alloc(call, (n ? n : 1) * sizeof(*txs));
    size_t *lens = abci_call_alloc(call, (n ? n : 1) * sizeof(*lens));
    struct kvledger_result *res = abci_call_alloc(call, (n ? n : 1) * sizeof(*res));
    Phalanx__Abci__ExecTxResult **out = abci_call_alloc(call, (n ? n : 1) * sizeof(*out));
    Phalanx__Abci__ExecTxResult *items = abci_call_alloc(call, (n ? n : 1) * sizeof(*items));
    uint8_t *hash = abci_call_alloc(call, KVL_HASH_LEN);
    if (!txs || !lens || !res || !out || !items || !hash)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        txs[i] = req->txs[i].data;
        lens[i] = req->txs[i].len;
    }
    int rc = kvledger_finalize_block(user, req->height, txs, lens, n, res, hash);
    if (rc) {
        struct kvledger_info info;
        kvledger_info(user, &info);
        abci_call_set_error(call,
                            "kvledger FinalizeBlock of height %" PRId64 " failed: %s "
                            "(last committed height %" PRId64 ")",
                            req->height, px_strerror(rc), info.height);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        phalanx__abci__exec_tx_result__init(&items[i]);
        items[i].code = res[i].code;
        items[i].log = res[i].log;
        items[i].gas_wanted = 1;
        items[i].gas_used = 1;
        if (tx_events(call, txs[i], &res[i], &items[i]) != 0)
            return PX_ENOMEM;
        out[i] = &items[i];
    }
    resp->n_tx_results = n;
    resp->tx_results = n ? out : NULL;
    resp->app_hash.data = hash;
    resp->app_hash.len = KVL_HASH_LEN;
    return 0;
}

static int app_commit(struct abci_call *call, const Phalanx__Abci__RequestCommit *req,
                      Phalanx__Abci__ResponseCommit *resp, void *user)
{
    (void)req;
    int64_t height = 0;
    int rc = kvledger_commit(user, &height);
    if (rc) {
        abci_call_set_error(call,
                            "kvledger Commit: %s (no block was finalized, or the disk "
                            "write failed; see the app's log)",
                            px_strerror(rc));
        return rc;
    }
    resp->retain_height = 0; /* keep every block */
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kvledger --listen ADDR --home DIR [--log-level L]\n"
               "\n"
               "The Phalanx reference application: a key-value store and a token ledger\n"
               "(transaction format: apps/kvledger/TXFORMAT.md), served over ABCI.\n"
               "\n"
               "  --listen ADDR     where the engine dials: tcp://127.0.0.1:26658 or\n"
               "                    ipc:///path/app.sock (a bare host:port means tcp://)\n"
               "  --home DIR        state directory; the database is DIR/data/kvledger.db\n"
               "  --log-level L     trace|debug|info|warn|error, or a spec such as\n"
               "                    info,kvledger=debug (default info)\n"
               "  -h, --help        this text\n"
               "\n"
               "SIGINT or SIGTERM stop it cleanly; after a crash it resumes at its last\n"
               "committed block.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"home", required_argument, NULL, 'H'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = NULL, *home = NULL, *level = "info";
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'H':
            home = optarg;
            break;
        case 'L':
            level = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || !listen || !home || !listen[0] || !home[0]) {
        fprintf(stderr, "kvledger: --listen and --home are required (run 'kvledger --help')\n");
        return 2;
    }
    if (px_log_set_spec(level) != 0) {
        fprintf(stderr,
                "kvledger: bad --log-level '%s' (use trace, debug, info, warn, error or "
                "a spec like info,kvledger=debug)\n",
                level);
        return 2;
    }
    char addr[512];
    int n = strstr(listen, "://") ? snprintf(addr, sizeof(addr), "%s", listen)
                                  : snprintf(addr, sizeof(addr), "tcp://%s", listen);
    if (n < 0 || (size_t)n >= sizeof(addr)) {
        fprintf(stderr, "kvledger: --listen address too long\n");
        return 2;
    }

    struct kvledger *app;
    int rc = kvledger_open(home, &app);
    if (rc) {
        fprintf(stderr, "kvledger: cannot open the state under %s: %s (see the log above)\n", home,
                px_strerror(rc));
        return 1;
    }
    struct abci_app cbs = {
        .info = app_info,
        .init_chain = app_init_chain,
        .query = app_query,
        .check_tx = app_check_tx,
        .finalize_block = app_finalize_block,
        .commit = app_commit,
    };
    struct abci_server_config cfg = {.listen_addr = addr};
    struct abci_server *srv;
    rc = abci_server_new(&cfg, &cbs, app, &srv);
    if (rc) {
        fprintf(stderr, "kvledger: cannot listen on %s: %s%s\n", addr, px_strerror(rc),
                rc == PX_EEXIST ? " (another process uses it; pick another --listen)" : "");
        kvledger_close(app);
        return 1;
    }
    g_server = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct kvledger_info info;
    kvledger_info(app, &info);
    PX_INFO(MOD, "listening", "addr=%s home=%s height=%" PRId64, addr, home, info.height);
    rc = abci_server_run(srv);
    g_server = NULL;
    unsigned long served = 0, refused = 0;
    abci_server_stats(srv, &served, &refused);
    abci_server_free(srv);
    kvledger_info(app, &info);
    kvledger_close(app);
    if (rc) {
        PX_ERROR(MOD, "the ABCI server failed", "err=\"%s\"", px_strerror(rc));
        return 1;
    }
    PX_INFO(MOD, "stopped", "height=%" PRId64 " served=%lu refused=%lu", info.height, served,
            refused);
    return 0;
}
