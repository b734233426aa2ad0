/*
 * rpc_ws: JSON-RPC over a websocket at /websocket (RFC 6455 server side, on a connection
 * taken from nng's HTTP server with nng_http_hijack) and CometBFT's event subscriptions:
 * subscribe {query}, unsubscribe {query}, unsubscribe_all. Every event is sent as a
 * JSON-RPC response carrying the subscribe request's id: {query, data {type, value},
 * events}. Other methods work over the socket as over HTTP.
 *
 * One reader thread per client (at most max_subscription_clients clients, each with at
 * most max_subscriptions_per_client subscriptions; messages above max_body_bytes close
 * the connection with 1009). Writes are serialised per client with a deadline: a client
 * that does not read is disconnected, it never holds the event thread for long.
 * Must never send a frame that is not a complete JSON-RPC response.
 */
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "rpc_internal.h"

#define WS_WRITE_TIMEOUT_MS 5000
#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

struct ws_sub {
    char text[RPC_QUERY_MAX_LEN + 1];
    struct rpc_query_expr q;
    json_t *id;
};

struct rpc_ws_client {
    struct rpc *r;
    nng_http_conn *conn;
    nng_aio *raio; /* the reader's aio: cancelled to stop it */
    pthread_t thread;
    pthread_mutex_t wmu; /* one frame at a time; guards subs too */
    bool closed;         /* write failed or shutdown: no more frames */
    bool done;           /* reader exited; conn closed; waiting to be joined */
    int refs;            /* publishers using it (under r->mu) */
    size_t n_subs;
    size_t max_subs;
    struct ws_sub *subs;
    struct rpc_ws_client *next;
};

/* ---- SHA-1 (RFC 3174), only for Sec-WebSocket-Accept ---- */

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1(const uint8_t *msg, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t total = ((len + 8) / 64 + 1) * 64;
    uint8_t *buf = calloc(1, total);
    if (buf == NULL) {
        memset(out, 0, 20);
        return;
    }
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        buf[total - 1 - (size_t)i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)buf[off + 4 * (size_t)i] << 24 |
                   (uint32_t)buf[off + 4 * (size_t)i + 1] << 16 |
                   (uint32_t)buf[off + 4 * (size_t)i + 2] << 8 | buf[off + 4 * (size_t)i + 3];
        for (int i = 16; i < 80; i++)
            w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = rol(b, 30);
            b = a;
            a = t;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
    }
    free(buf);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

/* ---- frames ---- */

static int conn_io(nng_http_conn *conn, nng_aio *aio, void *buf, size_t len, bool write,
                   int timeout_ms)
{
    if (len == 0)
        return 0;
    nng_iov iov = {.iov_buf = buf, .iov_len = len};
    nng_aio_set_iov(aio, 1, &iov);
    nng_aio_set_timeout(aio, timeout_ms);
    if (write)
        nng_http_conn_write_all(conn, aio);
    else
        nng_http_conn_read_all(conn, aio);
    nng_aio_wait(aio);
    return nng_aio_result(aio) == 0 ? 0 : PX_ECLOSED;
}

/* Send one unmasked frame (server → client). Called with c->wmu held. */
static int send_frame(struct rpc_ws_client *c, int op, const void *data, size_t len)
{
    if (c->closed)
        return PX_ECLOSED;
    uint8_t hdr[10];
    size_t hl;
    hdr[0] = (uint8_t)(0x80 | op);
    if (len < 126) {
        hdr[1] = (uint8_t)len;
        hl = 2;
    } else if (len <= 0xFFFF) {
        hdr[1] = 126;
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        hl = 4;
    } else {
        hdr[1] = 127;
        for (int i = 0; i < 8; i++)
            hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    nng_aio *aio;
    if (nng_aio_alloc(&aio, NULL, NULL) != 0)
        return PX_ENOMEM;
    int err = conn_io(c->conn, aio, hdr, hl, true, WS_WRITE_TIMEOUT_MS);
    if (err == 0)
        err = conn_io(c->conn, aio, (void *)data, len, true, WS_WRITE_TIMEOUT_MS);
    nng_aio_free(aio);
    if (err < 0) {
        c->closed = true; /* stops the reader: its reads fail from now on */
        nng_aio_stop(c->raio);
    }
    return err;
}

static int send_json(struct rpc_ws_client *c, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        return PX_ENOMEM;
    pthread_mutex_lock(&c->wmu);
    int err = send_frame(c, WS_OP_TEXT, text, strlen(text));
    pthread_mutex_unlock(&c->wmu);
    free(text);
    return err;
}

static void send_close(struct rpc_ws_client *c, uint16_t code)
{
    uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    pthread_mutex_lock(&c->wmu);
    send_frame(c, WS_OP_CLOSE, b, 2);
    c->closed = true;
    pthread_mutex_unlock(&c->wmu);
}

/* Read one message (text, possibly fragmented) into *msg; control frames are handled
 * here. Returns the opcode, or a PX_E code when the connection ends; *close_code gets the
 * close status to send. */
static int read_message(struct rpc_ws_client *c, char **msg, size_t *msg_len, uint16_t *close_code)
{
    size_t max = c->r->env.max_body_bytes ? c->r->env.max_body_bytes : 1000000;
    char *buf = NULL;
    size_t len = 0;
    int first_op = -1;
    *close_code = 1000;
    for (;;) {
        uint8_t h[2];
        if (conn_io(c->conn, c->raio, h, 2, false, NNG_DURATION_INFINITE) < 0)
            goto closed;
        bool fin = h[0] & 0x80;
        int op = h[0] & 0x0F;
        bool masked = h[1] & 0x80;
        uint64_t plen = h[1] & 0x7F;
        if ((h[0] & 0x70) || !masked) { /* no extensions; clients must mask (RFC 6455 5.1) */
            *close_code = 1002;
            goto closed;
        }
        if (plen == 126 || plen == 127) {
            uint8_t ext[8];
            size_t n = plen == 126 ? 2 : 8;
            if (conn_io(c->conn, c->raio, ext, n, false, NNG_DURATION_INFINITE) < 0)
                goto closed;
            plen = 0;
            for (size_t i = 0; i < n; i++)
                plen = plen << 8 | ext[i];
        }
        uint8_t mask[4];
        if (conn_io(c->conn, c->raio, mask, 4, false, NNG_DURATION_INFINITE) < 0)
            goto closed;
        bool control = op & 0x8;
        if ((control && (plen > 125 || !fin)) || plen > max || len + plen > max) {
            *close_code = control ? 1002 : 1009;
            goto closed;
        }
        uint8_t *payload = malloc(plen + 1);
        if (payload == NULL) {
            *close_code = 1011;
            goto closed;
        }
        if (conn_io(c->conn, c->raio, payload, (size_t)plen, false, NNG_DURATION_INFINITE) < 0) {
            free(payload);
            goto closed;
        }
        for (uint64_t i = 0; i < plen; i++)
            payload[i] ^= mask[i % 4];
        if (op == WS_OP_PING) {
            pthread_mutex_lock(&c->wmu);
            send_frame(c, WS_OP_PONG, payload, (size_t)plen);
            pthread_mutex_unlock(&c->wmu);
            free(payload);
            continue;
        }
        if (op == WS_OP_PONG) {
            free(payload);
            continue;
        }
        if (op == WS_OP_CLOSE) {
            free(payload);
            goto closed;
        }
        if ((op == WS_OP_CONT) != (first_op >= 0) || op == WS_OP_BINARY ||
            (op != WS_OP_CONT && op != WS_OP_TEXT)) {
            free(payload);
            *close_code = op == WS_OP_BINARY ? 1003 : 1002;
            goto closed;
        }
        if (first_op < 0)
            first_op = op;
        char *nb = realloc(buf, len + (size_t)plen + 1);
        if (nb == NULL) {
            free(payload);
            *close_code = 1011;
            goto closed;
        }
        buf = nb;
        memcpy(buf + len, payload, (size_t)plen);
        len += (size_t)plen;
        buf[len] = '\0';
        free(payload);
        if (fin) {
            *msg = buf;
            *msg_len = len;
            return first_op;
        }
    }
closed:
    free(buf);
    return PX_ECLOSED;
}

/* ---- subscriptions ---- */

int rpc_ws_call(struct rpc *r, struct rpc_ws_client *c, const char *method, json_t *params,
                json_t *id, json_t **result, struct rpc_error *err)
{
    (void)r;
    *result = NULL;
    const char *text = json_string_value(json_object_get(params, "query"));
    err->code = RPC_ERR_PARAMS;
    snprintf(err->message, sizeof err->message, "Invalid params");
    pthread_mutex_lock(&c->wmu);
    int rc = 0;
    if (strcmp(method, "unsubscribe_all") == 0) {
        if (c->n_subs == 0) {
            snprintf(err->data, sizeof err->data, "subscription not found");
            rc = err->code = RPC_ERR_INTERNAL;
        }
        for (size_t i = 0; i < c->n_subs; i++)
            json_decref(c->subs[i].id);
        c->n_subs = 0;
    } else if (text == NULL) {
        snprintf(err->data, sizeof err->data, "query (a string) is required");
        rc = err->code;
    } else if (strcmp(method, "unsubscribe") == 0) {
        size_t k = 0;
        for (size_t i = 0; i < c->n_subs; i++) {
            if (strcmp(c->subs[i].text, text) == 0)
                json_decref(c->subs[i].id);
            else
                c->subs[k++] = c->subs[i];
        }
        if (k == c->n_subs) {
            snprintf(err->data, sizeof err->data, "subscription not found");
            rc = err->code = RPC_ERR_INTERNAL;
        }
        c->n_subs = k;
    } else { /* subscribe */
        char why[200];
        struct ws_sub *s = c->n_subs < c->max_subs ? &c->subs[c->n_subs] : NULL;
        bool dup = false;
        for (size_t i = 0; i < c->n_subs; i++)
            dup = dup || strcmp(c->subs[i].text, text) == 0;
        if (s == NULL) {
            snprintf(err->data, sizeof err->data,
                     "max_subscriptions_per_client %zu reached; unsubscribe first", c->max_subs);
            rc = err->code = RPC_ERR_INTERNAL;
        } else if (dup) {
            snprintf(err->data, sizeof err->data, "already subscribed");
            rc = err->code = RPC_ERR_INTERNAL;
        } else if (rpc_query_parse(text, &s->q, why, sizeof why) < 0) {
            snprintf(err->data, sizeof err->data, "query: %s", why);
            rc = err->code;
        } else {
            snprintf(s->text, sizeof s->text, "%s", text);
            s->id = json_incref(id ? id : json_null());
            c->n_subs++;
        }
    }
    pthread_mutex_unlock(&c->wmu);
    if (rc == 0) {
        memset(err, 0, sizeof *err);
        *result = json_object();
    } else if (err->code == RPC_ERR_INTERNAL) {
        snprintf(err->message, sizeof err->message, "Internal error");
    }
    return rc;
}

/* {"tm.event":["Tx"], "transfer.amount":["5"], ...} from the events array and extras. */
static json_t *event_map(json_t *events, const char *const *keys, const char *const *vals,
                         size_t n_extra)
{
    json_t *m = json_object();
    for (size_t i = 0; i < n_extra; i++) {
        json_t *a = json_object_get(m, keys[i]);
        if (a == NULL) {
            a = json_array();
            json_object_set_new(m, keys[i], a);
        }
        json_array_append_new(a, json_string(vals[i]));
    }
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        size_t k;
        json_t *at;
        json_array_foreach(json_object_get(ev, "attributes"), k, at)
        {
            const char *key = json_string_value(json_object_get(at, "key"));
            const char *val = json_string_value(json_object_get(at, "value"));
            if (type == NULL || key == NULL || val == NULL)
                continue;
            char ck[256];
            snprintf(ck, sizeof ck, "%s.%s", type, key);
            json_t *a = json_object_get(m, ck);
            if (a == NULL) {
                a = json_array();
                json_object_set_new(m, ck, a);
            }
            json_array_append_new(a, json_string(val));
        }
    }
    return m;
}

void rpc_ws_publish(struct rpc *r, const char *type, json_t *value, json_t *events,
                    const char *const *keys, const char *const *vals, size_t n_extra)
{
    pthread_mutex_lock(&r->mu);
    size_t cap = r->n_ws_clients, n = 0;
    struct rpc_ws_client **list = cap ? malloc(cap * sizeof *list) : NULL;
    for (struct rpc_ws_client *c = r->ws_clients; list && c && n < cap; c = c->next) {
        if (!c->done && !c->closed) {
            c->refs++;
            list[n++] = c;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (n == 0) {
        free(list);
        return;
    }
    json_t *map = event_map(events, keys, vals, n_extra);
    char full_type[64];
    snprintf(full_type, sizeof full_type, "tendermint/event/%s", type);
    for (size_t i = 0; i < n; i++) {
        struct rpc_ws_client *c = list[i];
        /* Matching subscriptions first (under wmu), frames after. */
        json_t *msgs[RPC_WS_MAX_SUBS];
        size_t nm = 0;
        pthread_mutex_lock(&c->wmu);
        for (size_t s = 0; s < c->n_subs && nm < RPC_WS_MAX_SUBS; s++) {
            if (!rpc_query_match(&c->subs[s].q, events, keys, vals, n_extra))
                continue;
            json_t *res = json_pack("{s:s, s:{s:s, s:O}, s:O}", "query", c->subs[s].text, "data",
                                    "type", full_type, "value", value, "events", map);
            msgs[nm++] = rpc_reply(c->subs[s].id, res, NULL);
        }
        pthread_mutex_unlock(&c->wmu);
        for (size_t k = 0; k < nm; k++)
            send_json(c, msgs[k]);
    }
    json_decref(map);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n; i++)
        list[i]->refs--;
    pthread_cond_broadcast(&r->waiters_cond);
    pthread_mutex_unlock(&r->mu);
    free(list);
}

/* ---- lifetime ---- */

static void *reader_main(void *arg)
{
    struct rpc_ws_client *c = arg;
    struct rpc *r = c->r;
    for (;;) {
        char *msg = NULL;
        size_t len = 0;
        uint16_t code;
        int op = read_message(c, &msg, &len, &code);
        if (op < 0) {
            if (!c->closed)
                send_close(c, code);
            break;
        }
        json_error_t je;
        json_t *req = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &je);
        free(msg);
        json_t *rep;
        if (req == NULL) {
            struct rpc_error e = {.code = RPC_ERR_PARSE};
            snprintf(e.message, sizeof e.message, "Parse error");
            snprintf(e.data, sizeof e.data, "%s", je.text);
            rep = rpc_reply(NULL, NULL, &e);
        } else if (json_is_object(req)) {
            const char *m = json_string_value(json_object_get(req, "method"));
            const char *ver = json_string_value(json_object_get(req, "jsonrpc"));
            if (m && ver && strcmp(ver, "2.0") == 0 &&
                (strcmp(m, "subscribe") == 0 || strcmp(m, "unsubscribe") == 0 ||
                 strcmp(m, "unsubscribe_all") == 0)) {
                json_t *params = json_object_get(req, "params");
                json_t *id = json_object_get(req, "id");
                json_t *res = NULL;
                struct rpc_error e;
                memset(&e, 0, sizeof e);
                json_t *p = json_is_object(params) ? params : NULL;
                json_t *tmp = NULL;
                if (json_is_array(params)) {
                    tmp = json_object();
                    if (json_array_size(params) > 0)
                        json_object_set(tmp, "query", json_array_get(params, 0));
                    p = tmp;
                }
                if (p == NULL)
                    p = tmp = json_object();
                int rc = rpc_ws_call(r, c, m, p, id, &res, &e);
                json_decref(tmp);
                rep = rpc_reply(id, rc == 0 ? res : NULL, rc == 0 ? NULL : &e);
            } else {
                rep = rpc_handle_one(r, req, c);
            }
        } else {
            char *text = json_dumps(req, JSON_COMPACT);
            char *out = NULL;
            rep = NULL;
            if (text && rpc_handle_body(r, text, strlen(text), &out) == 0 && out)
                rep = json_loads(out, 0, NULL);
            free(text);
            free(out);
        }
        json_decref(req);
        if (rep != NULL && send_json(c, rep) < 0)
            break;
    }
    /* Wait for publishers to let go, then close the connection. */
    pthread_mutex_lock(&r->mu);
    c->closed = true;
    while (c->refs > 0)
        pthread_cond_wait(&r->waiters_cond, &r->mu);
    r->n_ws_clients--;
    pthread_mutex_unlock(&r->mu);
    nng_http_conn_close(c->conn);
    c->conn = NULL;
    pthread_mutex_lock(&r->mu);
    c->done = true;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void client_free(struct rpc_ws_client *c)
{
    pthread_join(c->thread, NULL);
    for (size_t i = 0; i < c->n_subs; i++)
        json_decref(c->subs[i].id);
    nng_aio_free(c->raio);
    pthread_mutex_destroy(&c->wmu);
    free(c->subs);
    free(c);
}

/* Join and free the clients whose reader has exited. */
static void reap(struct rpc *r)
{
    struct rpc_ws_client *dead = NULL;
    pthread_mutex_lock(&r->mu);
    for (struct rpc_ws_client **pp = &r->ws_clients; *pp;) {
        if ((*pp)->done) {
            struct rpc_ws_client *c = *pp;
            *pp = c->next;
            c->next = dead;
            dead = c;
        } else {
            pp = &(*pp)->next;
        }
    }
    pthread_mutex_unlock(&r->mu);
    while (dead) {
        struct rpc_ws_client *next = dead->next;
        client_free(dead);
        dead = next;
    }
}

static void http_error(nng_aio *aio, uint16_t status, const char *text)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, status);
    nng_http_res_set_header(res, "Content-Type", "text/plain");
    nng_http_res_copy_data(res, text, strlen(text));
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

void rpc_ws_upgrade(struct rpc *r, void *aio_, void *req_, void *conn_)
{
    nng_aio *aio = aio_;
    nng_http_req *req = req_;
    nng_http_conn *conn = conn_;
    reap(r);
    const char *upgrade = nng_http_req_get_header(req, "Upgrade");
    const char *key = nng_http_req_get_header(req, "Sec-WebSocket-Key");
    const char *version = nng_http_req_get_header(req, "Sec-WebSocket-Version");
    if (upgrade == NULL || strcasecmp(upgrade, "websocket") != 0 || key == NULL ||
        strlen(key) > 64 || version == NULL || strcmp(version, "13") != 0) {
        http_error(aio, 400, "websocket upgrade expected (Upgrade: websocket, version 13)\n");
        return;
    }
    uint32_t max_clients = r->env.max_subscription_clients ? r->env.max_subscription_clients : 100;
    struct rpc_ws_client *c = calloc(1, sizeof *c);
    size_t max_subs = r->env.max_subscriptions_per_client ? r->env.max_subscriptions_per_client : 5;
    if (max_subs > RPC_WS_MAX_SUBS)
        max_subs = RPC_WS_MAX_SUBS;
    if (c != NULL)
        c->subs = calloc(max_subs, sizeof *c->subs);
    if (c == NULL || c->subs == NULL || nng_aio_alloc(&c->raio, NULL, NULL) != 0) {
        if (c)
            free(c->subs);
        free(c);
        http_error(aio, 500, "out of memory\n");
        return;
    }
    c->r = r;
    c->max_subs = max_subs;
    pthread_mutex_init(&c->wmu, NULL);
    pthread_mutex_lock(&r->mu);
    bool full = r->n_ws_clients >= max_clients || r->stopping;
    if (!full)
        r->n_ws_clients++;
    pthread_mutex_unlock(&r->mu);
    if (full) {
        nng_aio_free(c->raio);
        pthread_mutex_destroy(&c->wmu);
        free(c->subs);
        free(c);
        http_error(aio, 503, "max_subscription_clients reached\n");
        return;
    }
    /* Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). */
    char cat[128];
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    uint8_t digest[20];
    sha1((const uint8_t *)cat, strlen(cat), digest);
    char accept[PX_BASE64_LEN(20)];
    px_base64_encode(accept, sizeof accept, digest, 20);

    nng_http_res *res = NULL;
    int rv = nng_http_hijack(conn);
    if (rv == 0)
        rv = nng_http_res_alloc(&res);
    if (rv == 0) {
        nng_http_res_set_status(res, 101);
        nng_http_res_set_reason(res, "Switching Protocols");
        nng_http_res_set_header(res, "Upgrade", "websocket");
        nng_http_res_set_header(res, "Connection", "Upgrade");
        nng_http_res_set_header(res, "Sec-WebSocket-Accept", accept);
        nng_aio *waio;
        rv = nng_aio_alloc(&waio, NULL, NULL);
        if (rv == 0) {
            nng_aio_set_timeout(waio, WS_WRITE_TIMEOUT_MS);
            nng_http_conn_write_res(conn, res, waio);
            nng_aio_wait(waio);
            rv = nng_aio_result(waio);
            nng_aio_free(waio);
        }
        nng_http_res_free(res);
    }
    /* The server is done with this request: we own conn and req now. */
    nng_aio_set_output(aio, 0, NULL);
    nng_aio_finish(aio, 0);
    nng_http_req_free(req);
    c->conn = conn;
    pthread_mutex_lock(&r->mu);
    if (rv == 0 && pthread_create(&c->thread, NULL, reader_main, c) == 0) {
        c->next = r->ws_clients;
        r->ws_clients = c;
        pthread_mutex_unlock(&r->mu);
        return;
    }
    r->n_ws_clients--;
    pthread_mutex_unlock(&r->mu);
    nng_http_conn_close(conn);
    nng_aio_free(c->raio);
    pthread_mutex_destroy(&c->wmu);
    free(c->subs);
    free(c);
}

void rpc_ws_close_all(struct rpc *r)
{
    /* nng_aio_stop aborts a read in progress and makes every later one fail at once, so
     * each reader leaves its loop whatever it was doing; then join them all. */
    for (;;) {
        pthread_mutex_lock(&r->mu);
        struct rpc_ws_client *c = r->ws_clients;
        if (c)
            r->ws_clients = c->next;
        pthread_mutex_unlock(&r->mu);
        if (c == NULL)
            break;
        nng_aio_stop(c->raio);
        client_free(c);
    }
}
