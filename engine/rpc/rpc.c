/*
 * rpc: the server object (see rpc.h). nng's HTTP server accepts requests on its own
 * threads; the handler only checks the method and queues the request for one of
 * RPC_WORKERS worker threads (a bounded queue: max_open_connections requests in flight,
 * beyond that the answer is a JSON-RPC "server busy" error), so that a slow store read or
 * a broadcast_tx_commit wait never holds an nng thread. The event thread turns the heights
 * the node publishes into broadcast_tx_commit answers.
 *
 * JSON-RPC envelope rules (rpc-compat.md): "jsonrpc":"2.0", the request id echoed with its
 * JSON type, errors with HTTP 200. Must never call into the node except through the env
 * callbacks, nor write to the stores.
 */
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockstore.h"
#include "codec.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "rpc_internal.h"
#include "txindex.h"
#include "statestore.h"

#include <sodium.h>

struct rpc_job {
    nng_aio *aio;
    nng_http_req *req;
    nng_http_conn *conn;
    struct rpc_job *next;
};

/* ---- envelope ---- */

json_t *rpc_reply(json_t *id, json_t *result, const struct rpc_error *err)
{
    json_t *j = json_object();
    json_object_set_new(j, "jsonrpc", json_string("2.0"));
    json_object_set(j, "id", id ? id : json_null());
    if (err != NULL) {
        json_t *e = json_pack("{s:i, s:s}", "code", err->code, "message", err->message);
        if (err->data[0])
            json_object_set_new(e, "data", json_string(err->data));
        json_object_set_new(j, "error", e);
        json_decref(result);
    } else {
        json_object_set_new(j, "result", result ? result : json_object());
    }
    return j;
}

static json_t *error_reply(json_t *id, int code, const char *msg, const char *data)
{
    struct rpc_error e;
    memset(&e, 0, sizeof e);
    e.code = code;
    snprintf(e.message, sizeof e.message, "%s", msg);
    snprintf(e.data, sizeof e.data, "%s", data ? data : "");
    return rpc_reply(id, NULL, &e);
}

json_t *rpc_handle_one(struct rpc *r, json_t *req, struct rpc_ws_client *ws)
{
    (void)ws;
    if (!json_is_object(req))
        return error_reply(NULL, RPC_ERR_INVALID_REQUEST, "Invalid Request",
                           "a request must be a JSON object");
    json_t *id = json_object_get(req, "id");
    if (id != NULL && !json_is_integer(id) && !json_is_string(id) && !json_is_null(id))
        return error_reply(NULL, RPC_ERR_INVALID_REQUEST, "Invalid Request",
                           "id must be a number or a string");
    const char *ver = json_string_value(json_object_get(req, "jsonrpc"));
    if (ver == NULL || strcmp(ver, "2.0") != 0)
        return error_reply(id, RPC_ERR_INVALID_REQUEST, "Invalid Request",
                           "jsonrpc must be \"2.0\"");
    const char *method = json_string_value(json_object_get(req, "method"));
    if (method == NULL)
        return error_reply(id, RPC_ERR_INVALID_REQUEST, "Invalid Request",
                           "method must be a string");
    json_t *params = json_object_get(req, "params");
    json_t *named = NULL;
    if (params == NULL || json_is_null(params)) {
        named = json_object();
    } else if (json_is_object(params)) {
        named = json_incref(params);
    } else if (json_is_array(params)) {
        const char *kinds = "";
        const char *const *args = rpc_method_args(method, &kinds);
        if (args == NULL)
            return error_reply(id, RPC_ERR_METHOD, "Method not found", method);
        named = json_object();
        size_t i;
        json_t *v;
        json_array_foreach(params, i, v)
        {
            if (args[i] == NULL || i >= strlen(kinds)) {
                json_decref(named);
                return error_reply(id, RPC_ERR_PARAMS, "Invalid params",
                                   "too many positional params");
            }
            json_object_set(named, args[i], v);
        }
    } else {
        return error_reply(id, RPC_ERR_PARAMS, "Invalid params",
                           "params must be an object or an array");
    }
    json_t *result = NULL;
    struct rpc_error err;
    memset(&err, 0, sizeof err);
    int rc;
    if (strcmp(method, "subscribe") == 0 || strcmp(method, "unsubscribe") == 0 ||
        strcmp(method, "unsubscribe_all") == 0) {
        err.code = RPC_ERR_METHOD;
        snprintf(err.message, sizeof err.message, "Method not found");
        snprintf(err.data, sizeof err.data, "%s is only available over the websocket", method);
        rc = err.code;
    } else {
        rc = rpc_call(r, method, named, &result, &err);
    }
    json_decref(named);
    return rpc_reply(id, rc == 0 ? result : NULL, rc == 0 ? NULL : &err);
}

static int dump(json_t *j, char **out)
{
    *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return *out ? 0 : PX_ENOMEM;
}

/* A notification: a request object without an "id" member (JSON-RPC 2.0 §4.1): it is
 * carried out, but never answered. */
static bool is_notification(json_t *req)
{
    return json_is_object(req) && json_object_get(req, "id") == NULL &&
           json_is_string(json_object_get(req, "method"));
}

int rpc_handle_body(struct rpc *r, const char *body, size_t len, char **out)
{
    *out = NULL;
    json_error_t je;
    json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (req == NULL)
        return dump(error_reply(NULL, RPC_ERR_PARSE, "Parse error", je.text), out);
    if (!json_is_array(req)) {
        bool quiet = is_notification(req);
        json_t *rep = rpc_handle_one(r, req, NULL);
        json_decref(req);
        if (quiet) {
            json_decref(rep);
            return 0; /* *out stays NULL: nothing to send */
        }
        return dump(rep, out);
    }
    size_t n = json_array_size(req);
    if (n == 0 || n > RPC_MAX_BATCH) {
        json_decref(req);
        char why[64];
        snprintf(why, sizeof why, "a batch holds 1 to %d requests", RPC_MAX_BATCH);
        return dump(error_reply(NULL, RPC_ERR_INVALID_REQUEST, "Invalid Request", why), out);
    }
    json_t *reps = json_array();
    size_t i;
    json_t *one;
    json_array_foreach(req, i, one)
    {
        json_t *rep = rpc_handle_one(r, one, NULL);
        if (is_notification(one))
            json_decref(rep);
        else
            json_array_append_new(reps, rep);
    }
    json_decref(req);
    if (json_array_size(reps) == 0) { /* only notifications: no answer at all */
        json_decref(reps);
        return 0;
    }
    return dump(reps, out);
}

/* %XX and '+' decoding in place. */
static void url_decode(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && p[1] && p[2]) {
            uint8_t b;
            size_t got;
            if (px_hex_decode(&b, 1, &got, p + 1, 2) == 0) {
                *w++ = (char)b;
                p += 2;
                continue;
            }
        }
        *w++ = *p == '+' ? ' ' : *p;
    }
    *w = '\0';
}

/* A GET argument in CometBFT's URI form to its JSON-RPC form: "quoted" strings, 0x-hex
 * bytes, bare numbers and booleans. NULL if malformed. */
static json_t *uri_value(char kind, const char *v)
{
    size_t n = strlen(v);
    bool quoted = n >= 2 && v[0] == '"' && v[n - 1] == '"';
    bool hex = n >= 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
    if (kind == 'b' || kind == 'h') {
        const uint8_t *raw = NULL;
        size_t raw_len = 0;
        uint8_t *buf = malloc(n + 1);
        if (buf == NULL)
            return NULL;
        if (hex) {
            if (px_hex_decode(buf, n + 1, &raw_len, v + 2, n - 2) < 0) {
                free(buf);
                return NULL;
            }
            raw = buf;
        } else if (quoted) {
            raw = (const uint8_t *)v + 1;
            raw_len = n - 2;
        } else {
            free(buf);
            return json_string(v); /* already in the JSON-RPC form */
        }
        json_t *j = kind == 'b' ? rpc_j_b64(raw, raw_len) : rpc_j_hex(raw, raw_len);
        free(buf);
        return j;
    }
    if (quoted)
        return json_stringn(v + 1, n - 2);
    if (kind == 'o' && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
        return json_boolean(v[0] == 't');
    return json_string(v);
}

int rpc_handle_uri(struct rpc *r, const char *uri, char **out)
{
    *out = NULL;
    json_t *id = json_integer(-1);
    char *copy = strdup(uri);
    if (copy == NULL) {
        json_decref(id);
        return PX_ENOMEM;
    }
    char *q = strchr(copy, '?');
    if (q)
        *q++ = '\0';
    const char *method = copy;
    const char *kinds = "";
    const char *const *args = rpc_method_args(method, &kinds);
    json_t *rep;
    if (args == NULL || strcmp(method, "subscribe") == 0 || strcmp(method, "unsubscribe") == 0) {
        rep = error_reply(id, RPC_ERR_METHOD, "Method not found", method);
        goto done;
    }
    json_t *params = json_object();
    char *save = NULL;
    for (char *kv = q ? strtok_r(q, "&", &save) : NULL; kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        url_decode(kv);
        url_decode(eq + 1);
        char kind = 0;
        for (size_t i = 0; args[i] && kinds[i]; i++)
            if (strcmp(args[i], kv) == 0)
                kind = kinds[i];
        json_t *v = kind ? uri_value(kind, eq + 1) : json_string(eq + 1);
        if (v == NULL) {
            json_decref(params);
            char why[160];
            snprintf(why, sizeof why, "%.60s: bad value (use \"text\", 0xHEX or a number)", kv);
            rep = error_reply(id, RPC_ERR_PARAMS, "Invalid params", why);
            goto done;
        }
        json_object_set_new(params, kv, v);
    }
    json_t *req = json_pack("{s:s, s:O, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                            "params", params);
    rep = req ? rpc_handle_one(r, req, NULL)
              : error_reply(id, RPC_ERR_INTERNAL, "Internal error", "out of memory");
    json_decref(req);
done:
    free(copy);
    json_decref(id);
    return dump(rep, out);
}

/* ---- HTTP ---- */

static const char *allowed_origin(struct rpc *r, nng_http_req *req)
{
    const char *origin = nng_http_req_get_header(req, "Origin");
    if (origin == NULL || r->cors == NULL)
        return NULL;
    for (char **o = r->cors; *o; o++)
        if (strcmp(*o, "*") == 0 || strcmp(*o, origin) == 0)
            return strcmp(*o, "*") == 0 ? "*" : origin;
    return NULL;
}

static void respond(struct rpc *r, nng_aio *aio, nng_http_req *req, uint16_t status,
                    const char *ctype, const char *body)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, status);
    if (ctype)
        nng_http_res_set_header(res, "Content-Type", ctype);
    const char *origin = r ? allowed_origin(r, req) : NULL;
    if (origin != NULL) {
        nng_http_res_set_header(res, "Access-Control-Allow-Origin", origin);
        nng_http_res_set_header(res, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        nng_http_res_set_header(res, "Access-Control-Allow-Headers",
                                "Origin, Accept, Content-Type, X-Requested-With, X-Server-Time");
    }
    if (body != NULL && nng_http_res_copy_data(res, body, strlen(body)) != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void serve(struct rpc *r, nng_aio *aio, nng_http_req *req, nng_http_conn *conn)
{
    const char *method = nng_http_req_get_method(req);
    const char *uri = nng_http_req_get_uri(req);
    if (strcmp(method, "GET") == 0 &&
        (strcmp(uri, "/websocket") == 0 || strncmp(uri, "/websocket?", 11) == 0)) {
        rpc_ws_upgrade(r, aio, req, conn);
        return;
    }
    char *out = NULL;
    int err;
    if (strcmp(method, "POST") == 0) {
        void *body;
        size_t len;
        nng_http_req_get_data(req, &body, &len);
        err = rpc_handle_body(r, body ? body : "", len, &out);
    } else {
        while (*uri == '/')
            uri++;
        if (*uri == '\0' || *uri == '?') {
            respond(r, aio, req, 200, "application/json",
                    "{\"jsonrpc\":\"2.0\",\"id\":-1,\"result\":{\"endpoints\":\"POST JSON-RPC 2.0 "
                    "here, or GET /<method>?arg=value\"}}");
            return;
        }
        err = rpc_handle_uri(r, uri, &out);
    }
    if (err == 0 && out == NULL) { /* notifications only: nothing to answer */
        respond(r, aio, req, 204, NULL, NULL);
        return;
    }
    if (err < 0 || out == NULL) {
        free(out);
        respond(r, aio, req, 200, "application/json",
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":"
                "\"Internal error\",\"data\":\"out of memory\"}}");
        return;
    }
    respond(r, aio, req, 200, "application/json", out);
    free(out);
}

static void *worker_main(void *arg)
{
    struct rpc *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->jobs_head == NULL && !r->stopping)
            pthread_cond_wait(&r->jobs_cond, &r->mu);
        struct rpc_job *j = r->jobs_head;
        if (j == NULL)
            break; /* stopping and nothing left */
        r->jobs_head = j->next;
        if (r->jobs_head == NULL)
            r->jobs_tail = NULL;
        r->jobs_queued--;
        pthread_mutex_unlock(&r->mu);
        serve(r, j->aio, j->req, j->conn);
        free(j);
        pthread_mutex_lock(&r->mu);
        r->in_flight--;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void http_cb(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    struct rpc *r = nng_http_handler_get_data(h);
    const char *method = nng_http_req_get_method(req);
    if (strcmp(method, "OPTIONS") == 0) {
        respond(r, aio, req, 204, NULL, NULL);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        respond(r, aio, req, 405, "text/plain", "use GET or POST\n");
        return;
    }
    uint32_t limit = r->env.max_open_connections ? r->env.max_open_connections : 900;
    struct rpc_job *j = malloc(sizeof *j);
    pthread_mutex_lock(&r->mu);
    if (j == NULL || r->stopping || r->in_flight >= limit) {
        pthread_mutex_unlock(&r->mu);
        free(j);
        respond(r, aio, req, 200, "application/json",
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":"
                "\"Server error\",\"data\":\"too many requests in flight; retry later\"}}");
        return;
    }
    j->aio = aio;
    j->req = req;
    j->conn = nng_aio_get_input(aio, 2);
    j->next = NULL;
    if (r->jobs_tail)
        r->jobs_tail->next = j;
    else
        r->jobs_head = j;
    r->jobs_tail = j;
    r->jobs_queued++;
    r->in_flight++;
    pthread_cond_signal(&r->jobs_cond);
    pthread_mutex_unlock(&r->mu);
}

static void metrics_cb(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    struct rpc *r = nng_http_handler_get_data(h);
    char *text = NULL;
    size_t len = 0;
    if (r->env.metrics == NULL || metrics_format(r->env.metrics, &text, &len) < 0) {
        respond(NULL, aio, req, 503, "text/plain", "metrics unavailable\n");
        return;
    }
    respond(NULL, aio, req, 200, "text/plain; version=0.0.4; charset=utf-8", text);
    free(text);
}

/* tcp://host:port → http://host:port. */
static int to_http_url(const char *addr, char *out, size_t cap)
{
    const char *rest = NULL;
    if (strncmp(addr, "tcp://", 6) == 0)
        rest = addr + 6;
    else if (strncmp(addr, "http://", 7) == 0)
        rest = addr + 7;
    if (rest == NULL || *rest == '\0' || strchr(rest, '/') != NULL)
        return PX_ECONFIG;
    if ((size_t)snprintf(out, cap, "http://%s", rest) >= cap)
        return PX_ECONFIG;
    return 0;
}

static int start_server(struct rpc *r, const char *addr, const char *path, bool tree,
                        void (*cb)(nng_aio *), size_t max_body, void **server_out, uint16_t *port)
{
    char url_text[300];
    if (to_http_url(addr, url_text, sizeof url_text) < 0) {
        PX_ERROR("rpc", "bad listen address", "addr=%s want=tcp://HOST:PORT", addr);
        return PX_ECONFIG;
    }
    nng_url *url;
    if (nng_url_parse(&url, url_text) != 0)
        return PX_ECONFIG;
    nng_http_server *srv = NULL;
    nng_http_handler *h = NULL;
    int rv = nng_http_server_hold(&srv, url);
    nng_url_free(url);
    if (rv != 0)
        return rv == NNG_ENOMEM ? PX_ENOMEM : PX_ECONFIG;
    if ((rv = nng_http_handler_alloc(&h, path, cb)) != 0 ||
        (rv = nng_http_handler_set_method(h, NULL)) != 0 ||
        (tree && (rv = nng_http_handler_set_tree(h)) != 0) ||
        (rv = nng_http_handler_collect_body(h, true, max_body)) != 0 ||
        (rv = nng_http_handler_set_data(h, r, NULL)) != 0 ||
        (rv = nng_http_server_add_handler(srv, h)) != 0) {
        if (h)
            nng_http_handler_free(h);
        nng_http_server_release(srv);
        return PX_ENOMEM;
    }
    if ((rv = nng_http_server_start(srv)) != 0) {
        PX_ERROR("rpc", "cannot listen", "addr=%s err=%s", addr, nng_strerror(rv));
        nng_http_server_release(srv);
        return PX_EIO;
    }
    nng_sockaddr sa;
    *port = 0;
    if (nng_http_server_get_addr(srv, &sa) == 0 && sa.s_family == NNG_AF_INET)
        *port = (uint16_t)((sa.s_in.sa_port >> 8) | ((sa.s_in.sa_port & 0xff) << 8));
    *server_out = srv;
    return 0;
}

static void stop_server(void *srv)
{
    if (srv != NULL) {
        nng_http_server_stop(srv);
        nng_http_server_release(srv);
    }
}

/* ---- events ---- */

/* NewBlock, NewBlockHeader, Tx (one per transaction) and ValidatorSetUpdates of height h
 * to the websocket subscribers whose query matches. */
static void publish_events(struct rpc *r, uint64_t h, const struct block *b)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *results = NULL;
    struct commit seen;
    bool have_id = false;
    pthread_mutex_lock(&r->store_mu);
    if (statestore_get(r->ss, STATESTORE_RESULTS, h, &buf, &len) == 0) {
        if (rpc_j_results(buf, len, h, &results) < 0)
            results = NULL;
        free(buf);
    }
    buf = NULL;
    if (blockstore_load_commit(r->bs, h, &buf, &len) == 0) {
        have_id = codec_commit_decode(buf, len, &seen) == 0;
        free(buf);
    }
    pthread_mutex_unlock(&r->store_mu);
    struct block_id id;
    block_id_set_nil(&id);
    if (have_id) {
        id = seen.block_id;
        commit_fini(&seen);
    }
    json_t *empty = json_array();
    json_t *bevents = results ? json_object_get(results, "finalize_block_events") : empty;
    char hs[24];
    snprintf(hs, sizeof hs, "%llu", (unsigned long long)h);
    const char *bkeys[] = {"tm.event", "block.height"};
    const char *bvals[] = {"NewBlock", hs};
    json_t *rfb =
        json_pack("{s:O, s:O, s:O, s:O}", "events", bevents, "txs_results",
                  results ? json_object_get(results, "txs_results") : empty, "validator_updates",
                  results ? json_object_get(results, "validator_updates") : empty, "app_hash",
                  results ? json_object_get(results, "app_hash") : empty);
    json_t *v = json_pack("{s:o, s:o, s:o}", "block", rpc_j_block(b), "block_id",
                          rpc_j_block_id(&id), "result_finalize_block", rfb);
    if (v)
        rpc_ws_publish(r, "NewBlock", v, bevents, bkeys, bvals, 2);
    json_decref(v);
    bvals[0] = "NewBlockHeader";
    v = json_pack("{s:o}", "header", rpc_j_header(&b->header));
    if (v)
        rpc_ws_publish(r, "NewBlockHeader", v, bevents, bkeys, bvals, 2);
    json_decref(v);
    for (uint32_t i = 0; i < b->tx_count; i++) {
        json_t *res = results ? rpc_j_tx_result_at(results, i) : NULL;
        if (res == NULL)
            break;
        uint8_t hash[32];
        char hex[65];
        crypto_hash_sha256(hash, b->txs[i].data, b->txs[i].len);
        px_hex_encode(hex, sizeof hex, hash, 32, true);
        const char *tkeys[] = {"tm.event", "tx.hash", "tx.height"};
        const char *tvals[] = {"Tx", hex, hs};
        v = json_pack("{s:{s:s, s:I, s:o, s:O}}", "TxResult", "height", hs, "index", (json_int_t)i,
                      "tx", rpc_j_b64(b->txs[i].data, b->txs[i].len), "result", res);
        if (v)
            rpc_ws_publish(r, "Tx", v, json_object_get(res, "events"), tkeys, tvals, 3);
        json_decref(v);
    }
    json_t *vu = results ? json_object_get(results, "validator_updates") : NULL;
    if (json_array_size(vu) > 0) {
        const char *vkeys[] = {"tm.event", "block.height"};
        const char *vvals[] = {"ValidatorSetUpdates", hs};
        v = json_pack("{s:O}", "validator_updates", vu);
        if (v)
            rpc_ws_publish(r, "ValidatorSetUpdates", v, empty, vkeys, vvals, 2);
        json_decref(v);
    }
    json_decref(empty);
    json_decref(results);
}

static void publish_evidence_now(struct rpc *r, uint64_t h, const char *text)
{
    json_t *ev = json_loads(text, 0, NULL);
    if (ev == NULL) {
        PX_WARN("rpc", "evidence to publish is not JSON", "height=%llu", (unsigned long long)h);
        return;
    }
    char hs[24];
    snprintf(hs, sizeof hs, "%llu", (unsigned long long)h);
    const char *keys[] = {"tm.event", "block.height"};
    const char *vals[] = {"NewEvidence", hs};
    json_t *v = json_pack("{s:o, s:s}", "evidence", ev, "height", hs);
    json_t *none = json_array();
    if (v)
        rpc_ws_publish(r, "NewEvidence", v, none, keys, vals, 2);
    json_decref(v);
    json_decref(none);
}

static void process_height(struct rpc *r, uint64_t h)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    pthread_mutex_lock(&r->store_mu);
    int err = blockstore_load_block(r->bs, h, &buf, &len);
    pthread_mutex_unlock(&r->store_mu);
    if (err < 0) {
        PX_WARN("rpc", "published block not readable", "height=%llu err=%s", (unsigned long long)h,
                px_strerror(err));
        return;
    }
    struct block b;
    err = codec_block_decode(buf, len, &b);
    free(buf);
    if (err < 0)
        return;
    pthread_mutex_lock(&r->mu);
    for (uint32_t i = 0; i < b.tx_count && r->waiters != NULL; i++) {
        uint8_t hash[32];
        crypto_hash_sha256(hash, b.txs[i].data, b.txs[i].len);
        for (struct rpc_waiter *w = r->waiters; w; w = w->next) {
            if (!w->done && memcmp(w->hash, hash, 32) == 0) {
                w->done = true;
                w->height = h;
                w->index = i;
            }
        }
    }
    pthread_cond_broadcast(&r->waiters_cond);
    bool subscribers = r->n_ws_clients > 0;
    pthread_mutex_unlock(&r->mu);
    if (subscribers)
        publish_events(r, h, &b);
    block_fini(&b);
}

static void *event_main(void *arg)
{
    struct rpc *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->processed >= r->published && r->n_evidence == 0 && !r->stopping)
            pthread_cond_wait(&r->cond, &r->mu);
        if (r->stopping)
            break;
        if (r->n_evidence > 0) {
            char *text = r->evidence_q[0];
            uint64_t eh = r->evidence_h[0];
            memmove(r->evidence_q, r->evidence_q + 1, (r->n_evidence - 1) * sizeof(char *));
            memmove(r->evidence_h, r->evidence_h + 1, (r->n_evidence - 1) * sizeof(uint64_t));
            r->n_evidence--;
            pthread_mutex_unlock(&r->mu);
            publish_evidence_now(r, eh, text);
            free(text);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        uint64_t h = r->processed + 1;
        if (r->processed == 0 || r->published - r->processed > 1000)
            h = r->published; /* start (or fall behind): only the newest height */
        pthread_mutex_unlock(&r->mu);
        process_height(r, h);
        pthread_mutex_lock(&r->mu);
        r->processed = h;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

void rpc_publish_block(struct rpc *r, uint64_t height)
{
    pthread_mutex_lock(&r->mu);
    if (height > r->published) {
        r->published = height;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->mu);
}

void rpc_publish_evidence(struct rpc *r, uint64_t height, const char *evidence_json)
{
    if (evidence_json == NULL)
        return;
    char *copy = strdup(evidence_json);
    pthread_mutex_lock(&r->mu);
    size_t cap = sizeof r->evidence_q / sizeof r->evidence_q[0];
    if (copy == NULL || r->n_evidence == cap || r->stopping) {
        pthread_mutex_unlock(&r->mu);
        free(copy);
        PX_WARN("rpc", "NewEvidence event dropped (queue full)", "height=%llu",
                (unsigned long long)height);
        return;
    }
    r->evidence_q[r->n_evidence] = copy;
    r->evidence_h[r->n_evidence++] = height;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

/* ---- lifetime ---- */

static char *dup_or_null(struct rpc *r, size_t slot, const char *s)
{
    if (s == NULL)
        return NULL;
    r->strs[slot] = strdup(s);
    return r->strs[slot];
}

void rpc_free(struct rpc *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_broadcast(&r->cond);
    pthread_cond_broadcast(&r->jobs_cond);
    pthread_cond_broadcast(&r->waiters_cond);
    pthread_mutex_unlock(&r->mu);
    /* Workers answer what is queued (new requests are refused while stopping) and exit;
     * only then the servers stop, so no aio of theirs is left unanswered. */
    for (size_t i = 0; i < r->n_workers; i++)
        pthread_join(r->workers[i], NULL);
    stop_server(r->http);
    stop_server(r->mhttp);
    if (r->event_started)
        pthread_join(r->event_thread, NULL);
    rpc_ws_close_all(r);
    for (size_t i = 0; i < r->n_evidence; i++)
        free(r->evidence_q[i]);
    if (r->bs)
        blockstore_close(r->bs);
    if (r->ss)
        statestore_close(r->ss);
    txindex_close(r->tx_index);
    for (size_t i = 0; i < sizeof r->strs / sizeof r->strs[0]; i++)
        free(r->strs[i]);
    if (r->cors) {
        for (char **o = r->cors; *o; o++)
            free(*o);
        free(r->cors);
    }
    pthread_cond_destroy(&r->waiters_cond);
    pthread_cond_destroy(&r->cond);
    pthread_cond_destroy(&r->jobs_cond);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->store_mu);
    free(r);
}

int rpc_new(const struct rpc_env *env, struct rpc **out)
{
    *out = NULL;
    if (env == NULL || env->status == NULL || env->blockstore_path == NULL ||
        env->statestore_path == NULL)
        return PX_EINVAL;
    if (sodium_init() < 0)
        return PX_EINTERNAL;
    struct rpc *r = calloc(1, sizeof *r);
    if (r == NULL)
        return PX_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->store_mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    pthread_cond_init(&r->jobs_cond, NULL);
    pthread_cond_init(&r->waiters_cond, NULL);
    r->env = *env;
    r->env.blockstore_path = dup_or_null(r, 0, env->blockstore_path);
    r->env.statestore_path = dup_or_null(r, 1, env->statestore_path);
    r->env.genesis_path = dup_or_null(r, 2, env->genesis_path);
    r->env.node_id = dup_or_null(r, 3, env->node_id);
    r->env.moniker = dup_or_null(r, 4, env->moniker);
    r->env.chain_id = dup_or_null(r, 5, env->chain_id);
    r->env.p2p_listen_addr = dup_or_null(r, 6, env->p2p_listen_addr);
    r->env.rpc_listen_addr = dup_or_null(r, 7, env->rpc_listen_addr);
    r->env.metrics_listen_addr = dup_or_null(r, 8, env->metrics_listen_addr);
    r->env.cors_origins = NULL;
    int err = 0;
    if (env->cors_origins != NULL) {
        size_t n = 0;
        while (env->cors_origins[n])
            n++;
        r->cors = calloc(n + 1, sizeof *r->cors);
        if (r->cors == NULL)
            err = PX_ENOMEM;
        for (size_t i = 0; err == 0 && i < n; i++)
            if ((r->cors[i] = strdup(env->cors_origins[i])) == NULL)
                err = PX_ENOMEM;
    }
    for (size_t i = 0; err == 0 && i < 9; i++) {
        static const size_t off[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
        const char *src[] = {env->blockstore_path, env->statestore_path, env->genesis_path,
                             env->node_id,         env->moniker,         env->chain_id,
                             env->p2p_listen_addr, env->rpc_listen_addr, env->metrics_listen_addr};
        if (src[i] != NULL && r->strs[off[i]] == NULL)
            err = PX_ENOMEM;
    }
    if (err == 0 && (err = blockstore_open_readonly(r->env.blockstore_path, &r->bs)) < 0)
        PX_ERROR("rpc", "cannot open the block store", "path=%s err=%s", r->env.blockstore_path,
                 px_strerror(err));
    if (err == 0 && (err = statestore_open_readonly(r->env.statestore_path, &r->ss)) < 0)
        PX_ERROR("rpc", "cannot open the state store", "path=%s err=%s", r->env.statestore_path,
                 px_strerror(err));
    /* the event index is optional: without it searches read the stored results */
    if (err == 0 && env->txindex_path != NULL &&
        txindex_open(env->txindex_path, true, &r->tx_index) < 0) {
        PX_WARN("rpc", "no event index: searches will scan the stored results", "path=%s",
                env->txindex_path);
        r->tx_index = NULL;
    }
    for (size_t i = 0; err == 0 && i < RPC_WORKERS; i++) {
        if (pthread_create(&r->workers[i], NULL, worker_main, r) != 0)
            err = PX_ENOMEM;
        else
            r->n_workers++;
    }
    if (err == 0) {
        if (pthread_create(&r->event_thread, NULL, event_main, r) != 0)
            err = PX_ENOMEM;
        else
            r->event_started = true;
    }
    size_t max_body = env->max_body_bytes ? env->max_body_bytes : 1000000;
    if (err == 0 && r->env.rpc_listen_addr && r->env.rpc_listen_addr[0])
        err = start_server(r, r->env.rpc_listen_addr, "/", true, http_cb, max_body, &r->http,
                           &r->port);
    if (err == 0 && r->env.metrics_listen_addr && r->env.metrics_listen_addr[0])
        err = start_server(r, r->env.metrics_listen_addr, "/metrics", false, metrics_cb, 0,
                           &r->mhttp, &r->metrics_port);
    if (err < 0) {
        rpc_free(r);
        return err;
    }
    *out = r;
    return 0;
}

uint16_t rpc_port(const struct rpc *r)
{
    return r->port;
}

uint16_t rpc_metrics_port(const struct rpc *r)
{
    return r->metrics_port;
}
