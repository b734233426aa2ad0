/*
 * rpc_methods: the JSON-RPC methods of CometBFT 0.38 that Phalanx serves, each reading
 * the read-only stores (under store_mu) or asking the node through the env callbacks, and
 * answering in CometBFT's JSON shapes. Parameters are checked strictly: a missing,
 * malformed or out-of-range argument is a -32602 error with a sentence, never a crash.
 * Never writes to the stores; every list it returns is paged or bounded.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "blockstore.h"
#include "codec.h"
#include "mempool.h"
#include "p2p.h"
#include "px_encoding.h"
#include "px_clock.h"
#include "px_error.h"
#include "rpc_internal.h"
#include "statestore.h"

#define FAIL(e, c, ...)                                                                            \
    do {                                                                                           \
        (e)->code = (c);                                                                           \
        snprintf((e)->message, sizeof(e)->message, "%s",                                           \
                 (c) == RPC_ERR_PARAMS     ? "Invalid params"                                      \
                 : (c) == RPC_ERR_INTERNAL ? "Internal error"                                      \
                                           : "Server error");                                      \
        snprintf((e)->data, sizeof(e)->data, __VA_ARGS__);                                         \
        return (c);                                                                                \
    } while (0)

/* ---- parameters ---- */

/* An integer given as a JSON number or a string of digits. 1: present, 0: absent. */
static int arg_u64(json_t *params, const char *name, uint64_t *out, struct rpc_error *e)
{
    json_t *v = json_object_get(params, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (s != NULL && s[0] == '"') /* GET form "5" */
        s++;
    if (s != NULL && *s >= '0' && *s <= '9') {
        char *end;
        unsigned long long x = strtoull(s, &end, 10);
        if ((*end == '\0' || (*end == '"' && end[1] == '\0')) && x <= INT64_MAX) {
            *out = x;
            return 1;
        }
    }
    FAIL(e, RPC_ERR_PARAMS, "%s must be a non-negative integer (number or string of digits)", name);
}

static int arg_str(json_t *params, const char *name, const char **out, struct rpc_error *e)
{
    json_t *v = json_object_get(params, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        FAIL(e, RPC_ERR_PARAMS, "%s must be a string", name);
    *out = json_string_value(v);
    return 1;
}

static int arg_bool(json_t *params, const char *name, bool *out, struct rpc_error *e)
{
    json_t *v = json_object_get(params, name);
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
        *out = s[0] == 't';
        return 1;
    }
    FAIL(e, RPC_ERR_PARAMS, "%s must be true or false", name);
}

/* Bytes given as base64 (hex=false) or hex (hex=true); *out malloc'd. */
static int arg_bytes(json_t *params, const char *name, bool hex, size_t max, uint8_t **out,
                     size_t *len, struct rpc_error *e)
{
    const char *s = NULL;
    int p = arg_str(params, name, &s, e);
    if (p <= 0)
        return p;
    size_t n = strlen(s);
    if ((hex ? n / 2 : n / 4 * 3) > max)
        FAIL(e, RPC_ERR_PARAMS, "%s is longer than %zu bytes", name, max);
    uint8_t *b = malloc(n + 1);
    if (b == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "out of memory");
    int err = hex ? px_hex_decode(b, n + 1, len, s, n) : px_base64_decode(b, n + 1, len, s, n);
    if (err < 0) {
        free(b);
        FAIL(e, RPC_ERR_PARAMS, "%s must be %s", name,
             hex ? "hex (even length, 0-9a-fA-F)" : "standard base64 with padding");
    }
    *out = b;
    return 1;
}

/* A 32-byte hash in hex or base64 (CometBFT takes []byte: base64 in JSON, 0x-hex in GET). */
static int arg_hash(json_t *params, const char *name, uint8_t hash[32], struct rpc_error *e)
{
    const char *s = NULL;
    int p = arg_str(params, name, &s, e);
    if (p < 0)
        return p;
    if (p == 0)
        FAIL(e, RPC_ERR_PARAMS, "%s is required", name);
    size_t n = strlen(s), got = 0;
    if (n == 64 && px_hex_decode(hash, 32, &got, s, n) == 0 && got == 32)
        return 1;
    if (px_base64_decode(hash, 32, &got, s, n) == 0 && got == 32)
        return 1;
    FAIL(e, RPC_ERR_PARAMS, "%s must be 32 bytes in base64 or 64 hex digits", name);
}

/* ---- store access ---- */

static void range(struct rpc *r, uint64_t *base, uint64_t *top)
{
    pthread_mutex_lock(&r->store_mu);
    blockstore_range(r->bs, base, top);
    pthread_mutex_unlock(&r->store_mu);
}

/* The height argument: absent or 0 means the latest; must be within the stored range. */
static int height_arg(struct rpc *r, json_t *params, const char *name, uint64_t *h,
                      struct rpc_error *e)
{
    uint64_t base, top, v = 0;
    int p = arg_u64(params, name, &v, e);
    if (p < 0)
        return p;
    range(r, &base, &top);
    if (top == 0)
        FAIL(e, RPC_ERR_INTERNAL, "no block committed yet");
    if (p == 0 || v == 0)
        v = top;
    if (v > top)
        FAIL(e, RPC_ERR_INTERNAL,
             "height %" PRIu64 " must be less than or equal to the "
             "current blockchain height %" PRIu64,
             v, top);
    if (v < base)
        FAIL(e, RPC_ERR_INTERNAL, "height %" PRIu64 " is not available, lowest height is %" PRIu64,
             v, base);
    *h = v;
    return 0;
}

static int load_block(struct rpc *r, uint64_t h, struct block *b, struct rpc_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    pthread_mutex_lock(&r->store_mu);
    int err = blockstore_load_block(r->bs, h, &buf, &len);
    pthread_mutex_unlock(&r->store_mu);
    if (err == PX_ENOTFOUND)
        FAIL(e, RPC_ERR_INTERNAL, "block at height %" PRIu64 " not found", h);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "reading block %" PRIu64 ": %s", h, px_strerror(err));
    err = codec_block_decode(buf, len, b);
    free(buf);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "stored block %" PRIu64 " does not decode: %s", h,
             px_strerror(err));
    return 0;
}

/* The seen commit of h (it names h's block id). */
static int load_commit(struct rpc *r, uint64_t h, struct commit *c, struct rpc_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    pthread_mutex_lock(&r->store_mu);
    int err = blockstore_load_commit(r->bs, h, &buf, &len);
    pthread_mutex_unlock(&r->store_mu);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "commit at height %" PRIu64 " not found: %s", h,
             px_strerror(err));
    err = codec_commit_decode(buf, len, c);
    free(buf);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "stored commit %" PRIu64 " does not decode: %s", h,
             px_strerror(err));
    return 0;
}

static int block_id_of(struct rpc *r, uint64_t h, struct block_id *id, struct rpc_error *e)
{
    struct commit c;
    int err = load_commit(r, h, &c, e);
    if (err < 0)
        return err;
    *id = c.block_id;
    commit_fini(&c);
    return 0;
}

static int load_results(struct rpc *r, uint64_t h, json_t **out, struct rpc_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    pthread_mutex_lock(&r->store_mu);
    int err = statestore_get(r->ss, STATESTORE_RESULTS, h, &buf, &len);
    pthread_mutex_unlock(&r->store_mu);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "no results for height %" PRIu64 ": %s", h, px_strerror(err));
    err = rpc_j_results(buf, len, h, out);
    free(buf);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "stored results of %" PRIu64 " do not decode", h);
    return 0;
}

static int load_validators(struct rpc *r, uint64_t h, struct validator_set *vs, struct rpc_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    pthread_mutex_lock(&r->store_mu);
    int err = statestore_get_latest(r->ss, STATESTORE_VALIDATORS, h, NULL, &buf, &len);
    pthread_mutex_unlock(&r->store_mu);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "no validator set for height %" PRIu64 ": %s", h,
             px_strerror(err));
    err = codec_validator_set_decode(buf, len, vs);
    free(buf);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "stored validator set of %" PRIu64 " does not decode", h);
    return 0;
}

/* page / per_page: CometBFT's rules (per_page 1..100, default 30; page from 1). */
static int paging(json_t *params, uint64_t total, uint64_t *skip, uint64_t *count,
                  struct rpc_error *e)
{
    uint64_t page = 1, per = RPC_DEFAULT_PER_PAGE;
    int err;
    if ((err = arg_u64(params, "page", &page, e)) < 0 ||
        (err = arg_u64(params, "per_page", &per, e)) < 0)
        return err;
    if (per == 0)
        per = RPC_DEFAULT_PER_PAGE;
    if (per > RPC_MAX_PER_PAGE)
        per = RPC_MAX_PER_PAGE;
    uint64_t pages = total == 0 ? 1 : (total + per - 1) / per;
    if (page == 0 || page > pages)
        FAIL(e, RPC_ERR_PARAMS, "page should be within [1, %" PRIu64 "] range, given %" PRIu64,
             pages, page);
    *skip = (page - 1) * per;
    *count = total > *skip ? (total - *skip < per ? total - *skip : per) : 0;
    return 0;
}

/* ---- methods ---- */

static void *app_user(struct rpc *r)
{
    return r->env.abci ? (void *)r->env.abci : r->env.user;
}

/* The signer's health (env.signer_health): 0, or its error with the sentence in why. */
static int signer_health(struct rpc *r, char *why, size_t cap)
{
    why[0] = '\0';
    if (!r->env.signer_health)
        return 0;
    int err = r->env.signer_health(why, cap, r->env.user);
    if (err < 0 && !why[0])
        snprintf(why, cap, "the validator's signer is failing: %s", px_strerror(err));
    return err < 0 ? err : 0;
}

/* CometBFT answers {} when the node is up. A validator whose signer cannot sign is not
 * healthy, whatever else works: then a JSON-RPC error whose data says why. */
static int m_health(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    (void)p;
    char why[sizeof(e->data)];
    if (signer_health(r, why, sizeof(why)) != 0)
        FAIL(e, RPC_ERR_INTERNAL, "%s", why);
    *out = json_object();
    return 0;
}

static json_t *node_info(struct rpc *r)
{
    return json_pack(
        "{s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "protocol_version",
        "p2p", "8", "block", "11", "app", "0", "id", r->env.node_id ? r->env.node_id : "",
        "listen_addr", r->env.p2p_listen_addr ? r->env.p2p_listen_addr : "", "network",
        r->env.chain_id ? r->env.chain_id : "", "version", RPC_VERSION, "channels",
        "40202122233038606100", "moniker", r->env.moniker ? r->env.moniker : "", "other",
        "tx_index", "on", "rpc_address", r->env.rpc_listen_addr ? r->env.rpc_listen_addr : "");
}

static int m_status(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    (void)p;
    struct rpc_status st;
    memset(&st, 0, sizeof st);
    int err = r->env.status(&st, r->env.user);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "node status unavailable: %s", px_strerror(err));
    uint64_t base, top;
    range(r, &base, &top);
    json_t *earliest_hash = json_string(""), *earliest_app = json_string("");
    uint64_t earliest_time = 0;
    struct blockstore_meta meta;
    pthread_mutex_lock(&r->store_mu);
    if (base > 0 && blockstore_load_meta(r->bs, base, &meta) == 0) {
        json_decref(earliest_hash);
        json_decref(earliest_app);
        earliest_hash = rpc_j_hex(meta.hash, 32);
        earliest_app = rpc_j_hex(meta.app_hash, meta.app_hash_len);
        earliest_time = meta.time_ns;
    }
    pthread_mutex_unlock(&r->store_mu);
    /* cosmjs requires a non-empty app hash: before any app hash exists, say 32 zero bytes
     * worth of nothing rather than "". */
    uint8_t zero[32] = {0};
    json_t *app = st.latest_app_hash_len ? rpc_j_hex(st.latest_app_hash, st.latest_app_hash_len)
                                         : rpc_j_hex(zero, sizeof zero);
    json_t *sync = json_object();
    json_object_set_new(sync, "latest_block_hash",
                        st.latest_height ? rpc_j_hex(st.latest_block_hash, 32)
                                         : rpc_j_hex(zero, sizeof zero));
    json_object_set_new(sync, "latest_app_hash", app);
    json_object_set_new(sync, "latest_block_height", rpc_j_u64(st.latest_height));
    json_object_set_new(sync, "latest_block_time", rpc_j_time(st.latest_block_time_ns));
    json_object_set_new(sync, "earliest_block_hash", earliest_hash);
    json_object_set_new(sync, "earliest_app_hash", earliest_app);
    json_object_set_new(sync, "earliest_block_height", rpc_j_u64(base));
    json_object_set_new(sync, "earliest_block_time", rpc_j_time(earliest_time));
    json_object_set_new(sync, "catching_up", json_boolean(st.catching_up));
    /* CometBFT's three fields, and two of ours that clients ignore */
    char why[sizeof(e->data)];
    bool signer_ok = signer_health(r, why, sizeof(why)) == 0;
    json_t *vi = json_pack("{s:o, s:o, s:o, s:b, s:s}", "address",
                           rpc_j_hex(st.validator_address, st.is_validator ? 20 : 0), "pub_key",
                           rpc_j_pubkey(st.validator_pub_key), "voting_power",
                           rpc_j_i64(st.is_validator ? st.voting_power : 0), "signer_ok", signer_ok,
                           "signer_error", why);
    *out = json_pack("{s:o, s:o, s:o}", "node_info", node_info(r), "sync_info", sync,
                     "validator_info", vi);
    return 0;
}

static int m_net_info(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    (void)p, (void)e;
    json_t *peers = json_array();
    size_t n = 0;
    if (r->env.p2p != NULL) {
        size_t cap = 256;
        struct p2p_peer_info *pi = calloc(cap, sizeof *pi);
        if (pi == NULL)
            FAIL(e, RPC_ERR_INTERNAL, "out of memory");
        p2p_peers(r->env.p2p, pi, cap, &n);
        if (n > cap)
            n = cap;
        for (size_t i = 0; i < n; i++) {
            char ip[P2P_ADDR_MAX];
            snprintf(ip, sizeof ip, "%s", pi[i].remote_addr);
            char *colon = strrchr(ip, ':');
            if (colon)
                *colon = '\0';
            json_array_append_new(
                peers, json_pack("{s:{s:s, s:s, s:s, s:s}, s:b, s:{s:o, s:{s:o}, s:{s:o}}, s:s}",
                                 "node_info", "id", pi[i].id, "listen_addr", pi[i].remote_addr,
                                 "network", r->env.chain_id ? r->env.chain_id : "", "version",
                                 RPC_VERSION, "is_outbound", pi[i].outbound, "connection_status",
                                 "Duration", rpc_j_u64(pi[i].connected_ms * 1000000u),
                                 "SendMonitor", "Bytes", rpc_j_u64(pi[i].bytes_out), "RecvMonitor",
                                 "Bytes", rpc_j_u64(pi[i].bytes_in), "remote_ip", ip));
        }
        free(pi);
    }
    json_t *listeners = json_array();
    if (r->env.p2p_listen_addr)
        json_array_append_new(listeners, json_string(r->env.p2p_listen_addr));
    *out = json_pack("{s:b, s:o, s:o, s:o}", "listening", r->env.p2p != NULL, "listeners",
                     listeners, "n_peers", rpc_j_u64(n), "peers", peers);
    return 0;
}

static int m_genesis(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    (void)p;
    if (r->env.genesis_path == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "genesis file not configured");
    struct stat st;
    if (stat(r->env.genesis_path, &st) == 0 && (uint64_t)st.st_size > RPC_GENESIS_MAX_BYTES)
        FAIL(e, RPC_ERR_INTERNAL,
             "genesis response is large (%lld bytes), please use the "
             "genesis_chunked API instead (not served yet)",
             (long long)st.st_size);
    json_error_t je;
    json_t *g = json_load_file(r->env.genesis_path, 0, &je);
    if (g == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "cannot read genesis %s: %s", r->env.genesis_path, je.text);
    *out = json_pack("{s:o}", "genesis", g);
    return 0;
}

static int m_abci_info(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    (void)p;
    if (r->env.app_info == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "no application connection");
    struct rpc_app_info ai;
    memset(&ai, 0, sizeof ai);
    int err = r->env.app_info(&ai, app_user(r));
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "ABCI Info failed: %s", px_strerror(err));
    *out = json_pack("{s:{s:s, s:s, s:o, s:o, s:o}}", "response", "data", ai.data, "version",
                     ai.version, "app_version", rpc_j_u64(ai.app_version), "last_block_height",
                     rpc_j_i64(ai.last_block_height), "last_block_app_hash",
                     rpc_j_b64(ai.last_block_app_hash, ai.last_block_app_hash_len));
    return 0;
}

static int m_abci_query(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    if (r->env.app_query == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "no application connection");
    struct rpc_query q = {.path = ""};
    uint8_t *data = NULL;
    uint64_t h = 0;
    int err;
    if ((err = arg_str(p, "path", &q.path, e)) < 0 ||
        (err = arg_bytes(p, "data", true, 1u << 20, &data, &q.data_len, e)) < 0 ||
        (err = arg_u64(p, "height", &h, e)) < 0 || (err = arg_bool(p, "prove", &q.prove, e)) < 0) {
        free(data);
        return err;
    }
    q.data = data;
    q.height = (int64_t)h;
    struct rpc_query_result res;
    memset(&res, 0, sizeof res);
    err = r->env.app_query(&q, &res, app_user(r));
    free(data);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "ABCI Query failed: %s", px_strerror(err));
    *out = json_pack("{s:{s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:n}}", "response", "code",
                     (json_int_t)res.code, "log", res.log, "info", res.info, "index",
                     rpc_j_i64(res.index), "key", rpc_j_b64(res.key, res.key_len), "value",
                     rpc_j_b64(res.value, res.value_len), "height", rpc_j_i64(res.height),
                     "codespace", res.codespace, "proofOps");
    free(res.key);
    free(res.value);
    return 0;
}

static int tx_arg(json_t *p, uint8_t **tx, size_t *len, struct rpc_error *e)
{
    int err = arg_bytes(p, "tx", false, 64u << 20, tx, len, e);
    if (err == 0)
        FAIL(e, RPC_ERR_PARAMS, "tx is required (base64)");
    if (err > 0 && *len == 0) {
        free(*tx);
        FAIL(e, RPC_ERR_PARAMS, "tx is empty");
    }
    return err < 0 ? err : 0;
}

static int submit(struct rpc *r, const uint8_t *tx, size_t len, struct rpc_tx_check *c,
                  struct rpc_error *e)
{
    if (r->env.submit_tx == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "this node does not accept transactions");
    memset(c, 0, sizeof *c);
    int err = r->env.submit_tx(tx, len, c, r->env.user);
    if (err == PX_EEXIST)
        FAIL(e, RPC_ERR_INTERNAL, "tx already exists in cache");
    if (err == PX_EBOUND)
        FAIL(e, RPC_ERR_INTERNAL, "mempool is full");
    if (err == PX_ETOOBIG)
        FAIL(e, RPC_ERR_INTERNAL, "tx too large");
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "error on broadcastTx: %s", px_strerror(err));
    return 0;
}

static int m_broadcast(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e, bool async)
{
    uint8_t *tx = NULL;
    size_t len = 0;
    int err = tx_arg(p, &tx, &len, e);
    if (err < 0)
        return err;
    uint8_t hash[32];
    crypto_hash_sha256(hash, tx, len);
    struct rpc_tx_check c;
    err = submit(r, tx, len, &c, e);
    free(tx);
    if (err < 0)
        return err;
    if (async) /* CometBFT's async does not report CheckTx's outcome */
        memset(&c, 0, sizeof c);
    *out = json_pack("{s:I, s:o, s:s, s:s, s:o}", "code", (json_int_t)c.code, "data",
                     rpc_j_b64(c.data, c.data_len), "log", c.log, "codespace", c.codespace, "hash",
                     rpc_j_hex(hash, 32));
    return 0;
}

/* The broadcast_tx_commit result of a waiter that is over (its tx committed, or not). */
static int commit_result(struct rpc *r, const struct rpc_waiter *w, json_t **out,
                         struct rpc_error *e)
{
    json_t *tx_result = NULL;
    if (w->done) {
        json_t *res = NULL;
        if (load_results(r, w->height, &res, e) == 0) {
            tx_result = json_incref(rpc_j_tx_result_at(res, w->index));
            json_decref(res);
        }
    } else if (w->check.code == 0) {
        FAIL(e, RPC_ERR_INTERNAL, "timed out waiting for tx to be included in a block");
    }
    if (tx_result == NULL) {
        struct rpc_tx_check none;
        memset(&none, 0, sizeof none);
        tx_result = rpc_j_check(&none);
    }
    *out = json_pack("{s:o, s:o, s:o, s:o}", "check_tx", rpc_j_check(&w->check), "tx_result",
                     tx_result, "hash", rpc_j_hex(w->hash, 32), "height",
                     rpc_j_u64(w->done ? w->height : 0));
    return *out ? 0 : PX_ENOMEM;
}

char *rpc_commit_reply(struct rpc *r, const struct rpc_waiter *w)
{
    json_t *result = NULL;
    struct rpc_error e;
    memset(&e, 0, sizeof e);
    int rc = commit_result(r, w, &result, &e);
    if (rc < 0 && e.code == 0) {
        e.code = RPC_ERR_INTERNAL;
        snprintf(e.message, sizeof e.message, "Internal error");
        snprintf(e.data, sizeof e.data, "%s", px_strerror(rc));
    }
    json_t *j = rpc_reply(w->id, rc == 0 ? result : NULL, rc == 0 ? NULL : &e);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

static void waiter_unlink(struct rpc *r, struct rpc_waiter *w)
{
    for (struct rpc_waiter **pp = &r->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            r->n_waiters--;
            return;
        }
    }
}

/* Register first (so that a fast block cannot be missed), then CheckTx. Accepted: a
 * parkable HTTP request is left with the event thread, which answers it when the tx is in
 * a block or at the deadline (the worker is free meanwhile); otherwise this thread waits. */
static int m_broadcast_commit(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e,
                              struct rpc_park *park)
{
    uint8_t *tx = NULL;
    size_t len = 0;
    int err = tx_arg(p, &tx, &len, e);
    if (err < 0)
        return err;
    struct rpc_waiter *w = calloc(1, sizeof *w);
    if (w == NULL) {
        free(tx);
        return PX_ENOMEM;
    }
    crypto_hash_sha256(w->hash, tx, len);
    uint32_t ms =
        r->env.timeout_broadcast_tx_commit_ms ? r->env.timeout_broadcast_tx_commit_ms : 10000;
    pthread_mutex_lock(&r->mu);
    if (r->n_waiters >= RPC_MAX_WAITERS || r->stopping) {
        pthread_mutex_unlock(&r->mu);
        free(tx);
        free(w);
        FAIL(e, RPC_ERR_INTERNAL, "too many broadcast_tx_commit calls waiting; try later");
    }
    w->next = r->waiters;
    r->waiters = w;
    r->n_waiters++;
    pthread_mutex_unlock(&r->mu);

    err = submit(r, tx, len, &w->check, e);
    free(tx);
    bool ok = err == 0 && w->check.code == 0;
    pthread_mutex_lock(&r->mu);
    if (ok && park != NULL && !r->stopping) {
        w->req = park->req;
        w->id = json_incref(park->id ? park->id : json_null());
        w->deadline_ns = rpc_now_ns() + (uint64_t)ms * 1000000ull;
        park->parked = true;
        pthread_cond_broadcast(&r->cond); /* the event thread learns the new deadline */
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    if (ok) {
        struct timespec ts;
        px_timespec_after(CLOCK_REALTIME, (uint64_t)ms * 1000000ull, &ts);
        while (!w->done && !r->stopping)
            if (pthread_cond_timedwait(&r->waiters_cond, &r->mu, &ts) != 0)
                break;
    }
    waiter_unlink(r, w);
    pthread_mutex_unlock(&r->mu);
    if (err == 0)
        err = commit_result(r, w, out, e);
    free(w);
    return err;
}

static int m_check_tx(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    if (r->env.check_tx == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "check_tx is not available on this node");
    uint8_t *tx = NULL;
    size_t len = 0;
    int err = tx_arg(p, &tx, &len, e);
    if (err < 0)
        return err;
    struct rpc_tx_check c;
    memset(&c, 0, sizeof c);
    err = r->env.check_tx(tx, len, &c, app_user(r));
    free(tx);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "CheckTx failed: %s", px_strerror(err));
    *out = rpc_j_check(&c);
    return 0;
}

static int block_at(struct rpc *r, uint64_t h, json_t **out, struct rpc_error *e)
{
    struct block_id id;
    int err = block_id_of(r, h, &id, e);
    if (err < 0)
        return err;
    struct block b;
    if ((err = load_block(r, h, &b, e)) < 0)
        return err;
    *out = json_pack("{s:o, s:o}", "block_id", rpc_j_block_id(&id), "block", rpc_j_block(&b));
    block_fini(&b);
    return 0;
}

static int m_block(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t h;
    int err = height_arg(r, p, "height", &h, e);
    return err < 0 ? err : block_at(r, h, out, e);
}

static int by_hash(struct rpc *r, json_t *p, uint64_t *h, struct rpc_error *e)
{
    uint8_t hash[32];
    int err = arg_hash(p, "hash", hash, e);
    if (err < 0)
        return err;
    pthread_mutex_lock(&r->store_mu);
    err = blockstore_find_hash(r->bs, hash, h);
    pthread_mutex_unlock(&r->store_mu);
    return err < 0 ? PX_ENOTFOUND : 0;
}

static int m_block_by_hash(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t h;
    int err = by_hash(r, p, &h, e);
    if (err == PX_ENOTFOUND) { /* CometBFT answers an unknown hash with a null block */
        *out = json_pack("{s:n, s:n}", "block_id", "block");
        return 0;
    }
    return err < 0 ? err : block_at(r, h, out, e);
}

static int header_at(struct rpc *r, uint64_t h, json_t **out, struct rpc_error *e)
{
    struct block b;
    int err = load_block(r, h, &b, e);
    if (err < 0)
        return err;
    *out = json_pack("{s:o}", "header", rpc_j_header(&b.header));
    block_fini(&b);
    return 0;
}

static int m_header(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t h;
    int err = height_arg(r, p, "height", &h, e);
    return err < 0 ? err : header_at(r, h, out, e);
}

static int m_header_by_hash(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t h;
    int err = by_hash(r, p, &h, e);
    if (err == PX_ENOTFOUND) {
        *out = json_pack("{s:n}", "header");
        return 0;
    }
    return err < 0 ? err : header_at(r, h, out, e);
}

static int m_commit(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t h, base, top;
    int err = height_arg(r, p, "height", &h, e);
    if (err < 0)
        return err;
    range(r, &base, &top);
    struct block b;
    if ((err = load_block(r, h, &b, e)) < 0)
        return err;
    json_t *header = rpc_j_header(&b.header);
    block_fini(&b);
    json_t *commit = NULL;
    bool canonical = false;
    if (h < top) { /* the canonical commit is the next block's last commit */
        if ((err = load_block(r, h + 1, &b, e)) < 0) {
            json_decref(header);
            return err;
        }
        commit = rpc_j_commit(&b.last_commit);
        block_fini(&b);
        canonical = true;
    } else {
        struct commit c;
        if ((err = load_commit(r, h, &c, e)) < 0) {
            json_decref(header);
            return err;
        }
        commit = rpc_j_commit(&c);
        commit_fini(&c);
    }
    *out = json_pack("{s:{s:o, s:o}, s:b}", "signed_header", "header", header, "commit", commit,
                     "canonical", canonical);
    return 0;
}

static int m_block_results(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t h;
    int err = height_arg(r, p, "height", &h, e);
    return err < 0 ? err : load_results(r, h, out, e);
}

static json_t *block_meta(struct rpc *r, uint64_t h, struct rpc_error *e)
{
    struct block_id id;
    struct block b;
    struct blockstore_meta meta;
    if (block_id_of(r, h, &id, e) < 0 || load_block(r, h, &b, e) < 0)
        return NULL;
    pthread_mutex_lock(&r->store_mu);
    int err = blockstore_load_meta(r->bs, h, &meta);
    pthread_mutex_unlock(&r->store_mu);
    json_t *j = json_pack("{s:o, s:o, s:o, s:o}", "block_id", rpc_j_block_id(&id), "block_size",
                          rpc_j_u64(err == 0 ? meta.size_bytes : 0), "header",
                          rpc_j_header(&b.header), "num_txs", rpc_j_u64(b.tx_count));
    block_fini(&b);
    return j;
}

static int m_blockchain(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t base, top, lo = 0, hi = 0;
    int err;
    if ((err = arg_u64(p, "minHeight", &lo, e)) < 0 || (err = arg_u64(p, "maxHeight", &hi, e)) < 0)
        return err;
    range(r, &base, &top);
    if (hi == 0 || hi > top)
        hi = top;
    if (lo == 0)
        lo = hi >= 20 ? hi - 19 : 1; /* CometBFT: at most 20 metas */
    if (lo < base)
        lo = base;
    if (lo > hi && top != 0)
        FAIL(e, RPC_ERR_PARAMS, "min height %" PRIu64 " can't be greater than max height %" PRIu64,
             lo, hi);
    if (hi - lo >= 20)
        lo = hi - 19;
    json_t *metas = json_array();
    for (uint64_t h = hi; top != 0 && h >= lo && h >= 1; h--) {
        json_t *m = block_meta(r, h, e);
        if (m == NULL) {
            json_decref(metas);
            return e->code;
        }
        json_array_append_new(metas, m);
    }
    *out = json_pack("{s:o, s:o}", "last_height", rpc_j_u64(top), "block_metas", metas);
    return 0;
}

static int m_validators(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t h;
    int err = height_arg(r, p, "height", &h, e);
    if (err < 0)
        return err;
    struct validator_set *vs = malloc(sizeof *vs);
    if (vs == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "out of memory");
    if ((err = load_validators(r, h, vs, e)) < 0) {
        free(vs);
        return err;
    }
    uint64_t skip, count;
    if ((err = paging(p, vs->count, &skip, &count, e)) < 0) {
        free(vs);
        return err;
    }
    json_t *arr = json_array();
    for (uint64_t i = skip; i < skip + count; i++)
        json_array_append_new(arr, rpc_j_validator(&vs->validators[i]));
    *out = json_pack("{s:o, s:o, s:o, s:o}", "block_height", rpc_j_u64(h), "validators", arr,
                     "count", rpc_j_u64(count), "total", rpc_j_u64(vs->count));
    free(vs);
    return 0;
}

static int m_consensus_params(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint64_t h;
    int err = height_arg(r, p, "height", &h, e);
    if (err < 0)
        return err;
    uint8_t *buf = NULL;
    size_t len = 0;
    pthread_mutex_lock(&r->store_mu);
    err = statestore_get_latest(r->ss, STATESTORE_PARAMS, h, NULL, &buf, &len);
    pthread_mutex_unlock(&r->store_mu);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "no consensus params for height %" PRIu64, h);
    json_t *params = NULL;
    err = rpc_j_params(buf, len, &params);
    free(buf);
    if (err < 0)
        FAIL(e, RPC_ERR_INTERNAL, "stored consensus params do not decode");
    *out = json_pack("{s:o, s:o}", "block_height", rpc_j_u64(h), "consensus_params", params);
    return 0;
}

/* The tx at (h, i) as tx / tx_search return it; results may be NULL (loaded here). */
static json_t *tx_json(struct rpc *r, uint64_t h, uint32_t i, const struct block *b,
                       json_t *results, struct rpc_error *e)
{
    json_t *own = NULL;
    if (results == NULL) {
        if (load_results(r, h, &own, e) < 0)
            return NULL;
        results = own;
    }
    json_t *res = rpc_j_tx_result_at(results, i);
    uint8_t hash[32];
    crypto_hash_sha256(hash, b->txs[i].data, b->txs[i].len);
    json_t *j = json_pack("{s:o, s:o, s:I, s:O, s:o}", "hash", rpc_j_hex(hash, 32), "height",
                          rpc_j_u64(h), "index", (json_int_t)i, "tx_result",
                          res ? res : json_null(), "tx", rpc_j_b64(b->txs[i].data, b->txs[i].len));
    json_decref(own);
    return j;
}

static int m_tx(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    uint8_t hash[32];
    int err = arg_hash(p, "hash", hash, e);
    if (err < 0)
        return err;
    uint64_t h;
    uint32_t idx;
    pthread_mutex_lock(&r->store_mu);
    err = blockstore_find_tx(r->bs, hash, &h, &idx);
    pthread_mutex_unlock(&r->store_mu);
    if (err < 0) {
        char hex[65];
        px_hex_encode(hex, sizeof hex, hash, 32, true);
        FAIL(e, RPC_ERR_INTERNAL, "tx (%s) not found", hex);
    }
    struct block b;
    if ((err = load_block(r, h, &b, e)) < 0)
        return err;
    if (idx >= b.tx_count) {
        block_fini(&b);
        FAIL(e, RPC_ERR_INTERNAL, "tx index out of range in block %" PRIu64, h);
    }
    *out = tx_json(r, h, idx, &b, NULL, e);
    block_fini(&b);
    return *out ? 0 : e->code;
}

static int search_args(json_t *p, struct rpc_query_expr *q, bool *desc, struct rpc_error *e)
{
    const char *text = NULL, *order = NULL;
    int err;
    if ((err = arg_str(p, "query", &text, e)) < 0 || (err = arg_str(p, "order_by", &order, e)) < 0)
        return err;
    char why[256];
    if (text == NULL || rpc_query_parse(text, q, why, sizeof why) < 0)
        FAIL(e, RPC_ERR_PARAMS, "query: %s", text ? why : "is required");
    if (order != NULL && *order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
        FAIL(e, RPC_ERR_PARAMS, "order_by must be \"asc\" or \"desc\"");
    *desc = order != NULL && strcmp(order, "desc") == 0;
    return 0;
}

/* Heights a search covers: the stored range narrowed by key's conditions. When the
 * heights are to be scanned (bounded = true) at most RPC_SEARCH_MAX_HEIGHTS of them. */
static int search_range(struct rpc *r, const struct rpc_query_expr *q, const char *key,
                        bool bounded, uint64_t *lo, uint64_t *hi, struct rpc_error *e)
{
    uint64_t base, top;
    range(r, &base, &top);
    *lo = base ? base : 1;
    *hi = top;
    rpc_query_height_range(q, key, lo, hi);
    if (bounded && *hi >= *lo && *hi - *lo >= RPC_SEARCH_MAX_HEIGHTS)
        FAIL(e, RPC_ERR_PARAMS,
             "query would scan %" PRIu64 " heights (limit %d): bound it with "
             "%s conditions, or add an equality on an event attribute",
             *hi - *lo + 1, RPC_SEARCH_MAX_HEIGHTS, key);
    return 0;
}

/* The condition the event index can answer: an equality on an event attribute other
 * than the reserved keys (they are not in the index). NULL if none or no index. */
static const struct rpc_qcond *index_cond(struct rpc *r, const struct rpc_query_expr *q)
{
    if (r->tx_index == NULL)
        return NULL;
    for (size_t i = 0; i < q->n; i++) {
        const struct rpc_qcond *c = &q->c[i];
        if (c->op == RPC_Q_EQ && !c->is_num && strcmp(c->key, "tx.height") != 0 &&
            strcmp(c->key, "tx.hash") != 0 && strcmp(c->key, "tm.event") != 0 &&
            strcmp(c->key, "block.height") != 0)
            return c;
    }
    return NULL;
}

/* Does tx i of height h (results `res`, block b) satisfy q? */
static bool tx_matches(const struct rpc_query_expr *q, uint64_t h, json_t *res,
                       const struct block *b, size_t i)
{
    json_t *txr = json_object_get(res, "txs_results");
    if (i >= json_array_size(txr))
        return false;
    char hs[24], hexhash[65] = "";
    snprintf(hs, sizeof hs, "%" PRIu64, h);
    if (i < b->tx_count) {
        uint8_t th[32];
        crypto_hash_sha256(th, b->txs[i].data, b->txs[i].len);
        px_hex_encode(hexhash, sizeof hexhash, th, 32, true);
    }
    const char *keys[] = {"tx.height", "tx.hash", "tm.event"};
    const char *vals[] = {hs, hexhash, "Tx"};
    return rpc_query_match(q, json_object_get(json_array_get(txr, i), "events"), keys, vals, 3);
}

static int push_hit(uint64_t (**hits)[2], size_t *n, size_t *cap, uint64_t h, uint64_t i)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        void *nh = realloc(*hits, nc * sizeof **hits);
        if (nh == NULL)
            return PX_ENOMEM;
        *hits = nh;
        *cap = nc;
    }
    (*hits)[*n][0] = h;
    (*hits)[*n][1] = i;
    (*n)++;
    return 0;
}

static int m_tx_search(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    struct rpc_query_expr *q = malloc(sizeof *q);
    if (q == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "out of memory");
    bool desc = false;
    uint64_t lo = 1, hi = 0;
    int err = search_args(p, q, &desc, e);
    const struct rpc_qcond *ic = err == 0 ? index_cond(r, q) : NULL;
    if (err == 0)
        err = search_range(r, q, "tx.height", ic == NULL, &lo, &hi, e);
    if (err < 0) {
        free(q);
        return err;
    }
    /* Candidates (height, index; index UINT64_MAX: every tx of the height): tx.hash = 'X'
     * from the block store's index, an attribute equality from the event index, else every
     * height of the range. */
    size_t n_cand = 0;
    uint64_t(*cand)[2] = NULL;
    bool by_hash = false;
    for (size_t i = 0; i < q->n && !by_hash; i++) {
        uint8_t hash[32];
        size_t got;
        uint32_t idx;
        uint64_t hh;
        if (strcmp(q->c[i].key, "tx.hash") == 0 && q->c[i].op == RPC_Q_EQ &&
            px_hex_decode(hash, 32, &got, q->c[i].str, strlen(q->c[i].str)) == 0 && got == 32) {
            by_hash = true;
            pthread_mutex_lock(&r->store_mu);
            int fe = blockstore_find_tx(r->bs, hash, &hh, &idx);
            pthread_mutex_unlock(&r->store_mu);
            cand = malloc(sizeof *cand);
            if (cand && fe == 0 && hh >= lo && hh <= hi) {
                cand[0][0] = hh;
                cand[0][1] = idx;
                n_cand = 1;
            }
        }
    }
    if (!by_hash && ic != NULL) {
        cand = malloc(RPC_INDEX_MAX_HITS * sizeof *cand);
        bool more = false;
        if (cand) {
            pthread_mutex_lock(&r->store_mu);
            err = txindex_find_txs(r->tx_index, ic->key, ic->str, lo, hi, desc, cand,
                                   RPC_INDEX_MAX_HITS, &n_cand, &more);
            pthread_mutex_unlock(&r->store_mu);
        }
        if (cand && err == 0 && more) {
            free(cand);
            free(q);
            FAIL(e, RPC_ERR_PARAMS,
                 "%s = '%s' matches more than %d transactions: narrow the query (e.g. with "
                 "tx.height conditions)",
                 ic->key, ic->str, RPC_INDEX_MAX_HITS);
        }
    } else if (!by_hash) {
        size_t span = hi >= lo ? (size_t)(hi - lo + 1) : 0;
        cand = malloc((span ? span : 1) * sizeof *cand);
        for (size_t k = 0; cand && k < span; k++) {
            cand[k][0] = desc ? hi - k : lo + k;
            cand[k][1] = UINT64_MAX;
        }
        n_cand = span;
    }
    if (cand == NULL || err < 0) {
        free(cand);
        free(q);
        FAIL(e, RPC_ERR_INTERNAL, "cannot search: %s", px_strerror(err ? err : PX_ENOMEM));
    }
    /* Check every candidate against the whole query on the stored results. */
    size_t cap = 0, n = 0;
    uint64_t(*hits)[2] = NULL;
    uint64_t loaded_h = 0;
    json_t *res = NULL;
    struct block b;
    bool have_block = false;
    for (size_t k = 0; k < n_cand && err == 0; k++) {
        uint64_t h = cand[k][0];
        if (h != loaded_h) {
            json_decref(res);
            res = NULL;
            if (have_block)
                block_fini(&b);
            have_block = false;
            loaded_h = h;
            struct rpc_error ignore;
            if (load_results(r, h, &res, &ignore) < 0)
                continue;
            if (load_block(r, h, &b, &ignore) < 0) {
                json_decref(res);
                res = NULL;
                continue;
            }
            have_block = true;
        }
        if (res == NULL || !have_block)
            continue;
        size_t ntx = json_array_size(json_object_get(res, "txs_results"));
        for (size_t i = 0; i < ntx && err == 0; i++) {
            size_t ix = desc ? ntx - 1 - i : i;
            if (cand[k][1] != UINT64_MAX && cand[k][1] != ix)
                continue;
            if (tx_matches(q, h, res, &b, ix))
                err = push_hit(&hits, &n, &cap, h, ix);
        }
    }
    json_decref(res);
    if (have_block)
        block_fini(&b);
    free(cand);
    free(q);
    if (err < 0) {
        free(hits);
        FAIL(e, RPC_ERR_INTERNAL, "out of memory");
    }
    uint64_t skip, count;
    if ((err = paging(p, n, &skip, &count, e)) < 0) {
        free(hits);
        return err;
    }
    json_t *txs = json_array();
    for (uint64_t i = skip; i < skip + count; i++) {
        struct block bb;
        if (load_block(r, hits[i][0], &bb, e) < 0)
            continue;
        json_t *t = tx_json(r, hits[i][0], (uint32_t)hits[i][1], &bb, NULL, e);
        block_fini(&bb);
        if (t)
            json_array_append_new(txs, t);
    }
    free(hits);
    *out = json_pack("{s:o, s:o}", "txs", txs, "total_count", rpc_j_u64(n));
    return 0;
}

static int m_block_search(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    struct rpc_query_expr *q = malloc(sizeof *q);
    if (q == NULL)
        FAIL(e, RPC_ERR_INTERNAL, "out of memory");
    bool desc = false;
    uint64_t lo, hi;
    int err = search_args(p, q, &desc, e);
    const struct rpc_qcond *ic = err == 0 ? index_cond(r, q) : NULL;
    if (err == 0)
        err = search_range(r, q, "block.height", ic == NULL, &lo, &hi, e);
    if (err < 0) {
        free(q);
        return err;
    }
    /* candidate heights: from the event index for an attribute equality, else the range */
    uint64_t *cand = NULL;
    size_t n_cand = 0;
    if (ic != NULL) {
        bool more = false;
        cand = malloc(RPC_INDEX_MAX_HITS * sizeof *cand);
        if (cand) {
            pthread_mutex_lock(&r->store_mu);
            err = txindex_find_blocks(r->tx_index, ic->key, ic->str, lo, hi, desc, cand,
                                      RPC_INDEX_MAX_HITS, &n_cand, &more);
            pthread_mutex_unlock(&r->store_mu);
        }
        if (cand && err == 0 && more) {
            free(cand);
            free(q);
            FAIL(e, RPC_ERR_PARAMS,
                 "%s = '%s' matches more than %d blocks: narrow the query (e.g. with "
                 "block.height conditions)",
                 ic->key, ic->str, RPC_INDEX_MAX_HITS);
        }
    } else {
        size_t span = hi >= lo ? (size_t)(hi - lo + 1) : 0;
        cand = malloc((span ? span : 1) * sizeof *cand);
        for (size_t k = 0; cand && k < span; k++)
            cand[k] = desc ? hi - k : lo + k;
        n_cand = span;
    }
    if (cand == NULL || err < 0) {
        free(cand);
        free(q);
        FAIL(e, RPC_ERR_INTERNAL, "cannot search: %s", px_strerror(err ? err : PX_ENOMEM));
    }
    size_t n = 0, cap = 0;
    uint64_t *hits = NULL;
    for (size_t k = 0; k < n_cand; k++) {
        uint64_t h = cand[k];
        json_t *res = NULL;
        struct rpc_error ignore;
        char hs[24];
        snprintf(hs, sizeof hs, "%" PRIu64, h);
        const char *keys[] = {"block.height", "tm.event"};
        const char *vals[] = {hs, "NewBlock"};
        json_t *events = NULL;
        if (load_results(r, h, &res, &ignore) == 0)
            events = json_object_get(res, "finalize_block_events");
        if (rpc_query_match(q, events, keys, vals, 2)) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                uint64_t *nh = realloc(hits, nc * sizeof *hits);
                if (nh == NULL) {
                    json_decref(res);
                    free(hits);
                    free(cand);
                    free(q);
                    FAIL(e, RPC_ERR_INTERNAL, "out of memory");
                }
                hits = nh;
                cap = nc;
            }
            hits[n++] = h;
        }
        json_decref(res);
    }
    free(cand);
    free(q);
    uint64_t skip, count;
    if ((err = paging(p, n, &skip, &count, e)) < 0) {
        free(hits);
        return err;
    }
    json_t *blocks = json_array();
    for (uint64_t i = skip; i < skip + count; i++) {
        json_t *b = NULL;
        if (block_at(r, hits[i], &b, e) == 0)
            json_array_append_new(blocks, b);
    }
    free(hits);
    *out = json_pack("{s:o, s:o}", "blocks", blocks, "total_count", rpc_j_u64(n));
    return 0;
}

static int unconfirmed(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e, bool list)
{
    uint64_t limit = RPC_DEFAULT_PER_PAGE;
    int err = arg_u64(p, "limit", &limit, e);
    if (err < 0)
        return err;
    if (limit == 0 || limit > RPC_MAX_PER_PAGE)
        limit = RPC_MAX_PER_PAGE;
    struct mempool_stats st;
    memset(&st, 0, sizeof st);
    json_t *txs = list ? json_array() : json_null();
    size_t n = 0;
    if (r->env.mempool != NULL) {
        mempool_stats(r->env.mempool, &st);
        if (list) {
            struct mempool_tx *mt = NULL;
            if (mempool_after(r->env.mempool, 0, (size_t)limit, &mt, &n) == 0) {
                for (size_t i = 0; i < n; i++)
                    json_array_append_new(txs, rpc_j_b64(mt[i].data, mt[i].len));
                mempool_txs_free(mt, n);
            }
        }
    }
    *out = json_pack("{s:o, s:o, s:o, s:o}", "n_txs", rpc_j_u64(list ? n : st.txs), "total",
                     rpc_j_u64(st.txs), "total_bytes", rpc_j_u64(st.bytes), "txs", txs);
    return 0;
}

static int m_unconfirmed_txs(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    return unconfirmed(r, p, out, e, true);
}

static int m_num_unconfirmed_txs(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    return unconfirmed(r, p, out, e, false);
}

static int m_broadcast_sync(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    return m_broadcast(r, p, out, e, false);
}

static int m_broadcast_async(struct rpc *r, json_t *p, json_t **out, struct rpc_error *e)
{
    return m_broadcast(r, p, out, e, true);
}

typedef int (*method_fn)(struct rpc *, json_t *, json_t **, struct rpc_error *);
typedef int (*method_park_fn)(struct rpc *, json_t *, json_t **, struct rpc_error *,
                              struct rpc_park *);

#define L RPC_COST_LIGHT
#define T RPC_COST_TX
#define H RPC_COST_HEAVY
/* cost: the worker pool (rpc_http.c). Light: answered from memory or one store record.
 * Tx: waits for the app's CheckTx. Heavy: scans, large answers, or a query to the app. */
static const struct method {
    const char *name;
    method_fn fn;
    const char *kinds; /* one letter per argument, see rpc_method_args */
    const char *args[6];
    enum rpc_cost cost;
    method_park_fn park_fn; /* instead of fn: may leave the request with the event thread */
} k_methods[] = {
    {"health", m_health, "", {NULL}, L, NULL},
    {"status", m_status, "", {NULL}, L, NULL},
    {"net_info", m_net_info, "", {NULL}, L, NULL},
    {"genesis", m_genesis, "", {NULL}, H, NULL},
    {"abci_info", m_abci_info, "", {NULL}, H, NULL},
    {"abci_query", m_abci_query, "shio", {"path", "data", "height", "prove", NULL}, H, NULL},
    {"broadcast_tx_async", m_broadcast_async, "b", {"tx", NULL}, T, NULL},
    {"broadcast_tx_sync", m_broadcast_sync, "b", {"tx", NULL}, T, NULL},
    {"broadcast_tx_commit", NULL, "b", {"tx", NULL}, T, m_broadcast_commit},
    {"check_tx", m_check_tx, "b", {"tx", NULL}, T, NULL},
    {"block", m_block, "i", {"height", NULL}, L, NULL},
    {"block_by_hash", m_block_by_hash, "h", {"hash", NULL}, L, NULL},
    {"header", m_header, "i", {"height", NULL}, L, NULL},
    {"header_by_hash", m_header_by_hash, "h", {"hash", NULL}, L, NULL},
    {"commit", m_commit, "i", {"height", NULL}, L, NULL},
    {"block_results", m_block_results, "i", {"height", NULL}, L, NULL},
    {"blockchain", m_blockchain, "ii", {"minHeight", "maxHeight", NULL}, H, NULL},
    {"validators", m_validators, "iii", {"height", "page", "per_page", NULL}, L, NULL},
    {"consensus_params", m_consensus_params, "i", {"height", NULL}, L, NULL},
    {"tx", m_tx, "ho", {"hash", "prove", NULL}, L, NULL},
    {"tx_search",
     m_tx_search,
     "soiis",
     {"query", "prove", "page", "per_page", "order_by", NULL},
     H,
     NULL},
    {"block_search",
     m_block_search,
     "siis",
     {"query", "page", "per_page", "order_by", NULL},
     H,
     NULL},
    {"unconfirmed_txs", m_unconfirmed_txs, "i", {"limit", NULL}, H, NULL},
    {"num_unconfirmed_txs", m_num_unconfirmed_txs, "", {NULL}, L, NULL},
};
#undef L
#undef T
#undef H

static const struct method *find(const char *name)
{
    for (size_t i = 0; i < sizeof k_methods / sizeof k_methods[0]; i++)
        if (strcmp(k_methods[i].name, name) == 0)
            return &k_methods[i];
    return NULL;
}

const char *const *rpc_method_args(const char *method, const char **kinds)
{
    static const char *const ws_args[] = {"query", NULL};
    if (strcmp(method, "subscribe") == 0 || strcmp(method, "unsubscribe") == 0) {
        *kinds = "s";
        return ws_args;
    }
    const struct method *m = find(method);
    if (m == NULL)
        return NULL;
    *kinds = m->kinds;
    return m->args;
}

enum rpc_cost rpc_method_cost(const char *method)
{
    const struct method *m = method ? find(method) : NULL;
    return m ? m->cost : RPC_COST_LIGHT; /* unknown: answered with an error at once */
}

int rpc_call(struct rpc *r, const char *method, json_t *params, json_t **result,
             struct rpc_error *err, struct rpc_park *park)
{
    *result = NULL;
    memset(err, 0, sizeof *err);
    const struct method *m = find(method);
    if (m == NULL) {
        err->code = RPC_ERR_METHOD;
        snprintf(err->message, sizeof err->message, "Method not found");
        snprintf(err->data, sizeof err->data, "no method named \"%.200s\"", method);
        return err->code;
    }
    /* Unknown argument names are refused, as CometBFT does. */
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v)
    {
        bool known = false;
        for (size_t i = 0; m->args[i] != NULL; i++)
            known = known || strcmp(m->args[i], key) == 0;
        if (!known) {
            err->code = RPC_ERR_PARAMS;
            snprintf(err->message, sizeof err->message, "Invalid params");
            snprintf(err->data, sizeof err->data, "%s takes no argument named \"%.100s\"", method,
                     key);
            return err->code;
        }
    }
    if (r->env.metrics_std != NULL)
        metrics_add(r->env.metrics_std->rpc_requests, m->name, 1);
    int rc = m->park_fn ? m->park_fn(r, params, result, err, park) : m->fn(r, params, result, err);
    if (rc == 0 && park != NULL && park->parked)
        return 0; /* answered later, from the event thread */
    if (rc == 0 && *result == NULL) {
        err->code = RPC_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "Internal error");
        snprintf(err->data, sizeof err->data, "out of memory");
        return err->code;
    }
    return rc < 0 ? (err->code ? err->code : RPC_ERR_INTERNAL) : 0;
}
