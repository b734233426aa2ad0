/*
 * rpc: the server object (see rpc.h): the JSON-RPC envelope, the GET form, and the event
 * thread, which turns the heights the node publishes into websocket events and answers
 * the broadcast_tx_commit calls parked with it (their tx committed, or their deadline
 * passed). HTTP itself (connections, limits, worker pools) is rpc_http.c.
 *
 * JSON-RPC envelope rules (rpc-compat.md): "jsonrpc":"2.0", the request id echoed with its
 * JSON type, errors with HTTP 200. Must never call into the node except through the env
 * callbacks, nor write to the stores.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockstore.h"
#include "codec.h"
#include "px_clock.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "rpc_internal.h"
#include "txindex.h"
#include "statestore.h"

#include <sodium.h>

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

uint64_t rpc_now_ns(void)
{
    return px_clock_mono_ns(px_clock_system());
}

json_t *rpc_handle_one(struct rpc *r, json_t *req, struct rpc_park *park)
{
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
        if (park != NULL)
            park->id = id;
        rc = rpc_call(r, method, named, &result, &err, park);
    }
    json_decref(named);
    if (rc == 0 && park != NULL && park->parked)
        return NULL;
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

int rpc_handle_json(struct rpc *r, json_t *req, struct rpc_park *park, char **out)
{
    *out = NULL;
    if (!json_is_array(req)) {
        bool quiet = is_notification(req);
        json_t *rep = rpc_handle_one(r, req, quiet ? NULL : park);
        json_decref(req);
        if (rep == NULL) /* parked, or no memory */
            return park != NULL && park->parked ? 0 : PX_ENOMEM;
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

int rpc_handle_body(struct rpc *r, const char *body, size_t len, char **out)
{
    *out = NULL;
    json_error_t je;
    json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (req == NULL)
        return dump(error_reply(NULL, RPC_ERR_PARSE, "Parse error", je.text), out);
    return rpc_handle_json(r, req, NULL, out);
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
    return rpc_handle_uri_park(r, uri, NULL, out);
}

int rpc_handle_uri_park(struct rpc *r, const char *uri, struct rpc_park *park, char **out)
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
    rep = req ? rpc_handle_one(r, req, park)
              : error_reply(id, RPC_ERR_INTERNAL, "Internal error", "out of memory");
    json_decref(req);
done:
    free(copy);
    json_decref(id);
    if (rep == NULL) /* parked, or no memory */
        return park != NULL && park->parked ? 0 : PX_ENOMEM;
    return dump(rep, out);
}

const char *rpc_allowed_origin(struct rpc *r, const char *origin)
{
    if (origin == NULL || r->cors == NULL)
        return NULL;
    for (char **o = r->cors; *o; o++)
        if (strcmp(*o, "*") == 0 || strcmp(*o, origin) == 0)
            return strcmp(*o, "*") == 0 ? "*" : origin;
    return NULL;
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

/* Answer the parked waiters taken off the list (under no lock). */
static void answer_parked(struct rpc *r, struct rpc_waiter *list)
{
    while (list) {
        struct rpc_waiter *w = list;
        list = w->next;
        char *text =
            r->stopping && !w->done ? rpc_http_shutting_down_text() : rpc_commit_reply(r, w);
        rpc_http_finish(w->req, text ? 200 : 500, text);
        json_decref(w->id);
        free(w);
    }
}

/* Take off r->waiters the parked waiters that are done, past their deadline (now), or
 * all of them when stopping. Under r->mu. *next_ns: the earliest deadline left. */
static struct rpc_waiter *take_parked(struct rpc *r, uint64_t now, uint64_t *next_ns)
{
    struct rpc_waiter *out = NULL;
    *next_ns = UINT64_MAX;
    for (struct rpc_waiter **pp = &r->waiters; *pp;) {
        struct rpc_waiter *w = *pp;
        if (w->req != NULL && (w->done || now >= w->deadline_ns || r->stopping)) {
            *pp = w->next;
            r->n_waiters--;
            w->next = out;
            out = w;
            continue;
        }
        if (w->req != NULL && w->deadline_ns < *next_ns)
            *next_ns = w->deadline_ns;
        pp = &w->next;
    }
    return out;
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
    uint64_t next_ns;
    struct rpc_waiter *parked = take_parked(r, rpc_now_ns(), &next_ns);
    bool subscribers = r->n_ws_clients > 0;
    pthread_mutex_unlock(&r->mu);
    answer_parked(r, parked);
    if (subscribers)
        publish_events(r, h, &b);
    block_fini(&b);
}

static void *event_main(void *arg)
{
    struct rpc *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        uint64_t next_ns;
        struct rpc_waiter *expired = take_parked(r, rpc_now_ns(), &next_ns);
        if (expired != NULL) {
            pthread_mutex_unlock(&r->mu);
            answer_parked(r, expired);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (r->stopping)
            break;
        if (r->processed >= r->published && r->n_evidence == 0) {
            if (next_ns == UINT64_MAX) {
                pthread_cond_wait(&r->cond, &r->mu);
            } else {
                /* the cond uses CLOCK_REALTIME: turn the monotonic deadline into it */
                uint64_t now = rpc_now_ns();
                if (next_ns <= now)
                    continue;
                struct timespec ts;
                px_timespec_after(CLOCK_REALTIME, next_ns - now, &ts);
                pthread_cond_timedwait(&r->cond, &r->mu, &ts);
            }
            continue;
        }
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
    r->stopping = true; /* no new waiter, parked or not; blocking waits end */
    pthread_cond_broadcast(&r->cond);
    pthread_cond_broadcast(&r->waiters_cond);
    pthread_mutex_unlock(&r->mu);
    /* Order: the workers first (what they hold is answered), then the event thread
     * (answers every parked request), the websockets, and only then libmicrohttpd, which
     * must not stop with a suspended or upgraded connection. */
    rpc_http_quiesce(r->http);
    if (r->event_started)
        pthread_join(r->event_thread, NULL);
    rpc_ws_close_all(r);
    rpc_http_free(r->http);
    rpc_http_free(r->mhttp);
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
    if (err == 0) {
        if (pthread_create(&r->event_thread, NULL, event_main, r) != 0)
            err = PX_ENOMEM;
        else
            r->event_started = true;
    }
    if (err == 0 && r->env.rpc_listen_addr && r->env.rpc_listen_addr[0])
        err = rpc_http_start(r, RPC_HTTP_JSONRPC, r->env.rpc_listen_addr, &r->http);
    if (err == 0 && r->env.metrics_listen_addr && r->env.metrics_listen_addr[0])
        err = rpc_http_start(r, RPC_HTTP_METRICS, r->env.metrics_listen_addr, &r->mhttp);
    if (err < 0) {
        rpc_free(r);
        return err;
    }
    *out = r;
    return 0;
}

uint16_t rpc_port(const struct rpc *r)
{
    return rpc_http_port(r->http);
}

uint16_t rpc_metrics_port(const struct rpc *r)
{
    return rpc_http_port(r->mhttp);
}
