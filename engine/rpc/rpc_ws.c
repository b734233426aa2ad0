/*
 * rpc_ws: JSON-RPC over a websocket at /websocket (RFC 6455 server side, on the socket
 * libmicrohttpd hands over after our 101 answer) and CometBFT's event subscriptions:
 * subscribe {query}, unsubscribe {query}, unsubscribe_all. Every event is sent as a
 * JSON-RPC response carrying the subscribe request's id: {query, data {type, value},
 * events}. Other methods work over the socket as over HTTP.
 *
 * Two threads per client (at most max_subscription_clients clients, each with at most
 * max_subscriptions_per_client subscriptions; messages above max_body_bytes close the
 * connection with 1009): a reader that answers requests, and a writer that owns every
 * write. Between them and the event thread sits a bounded queue of frames
 * (WS_QUEUE_MAX_FRAMES, WS_QUEUE_MAX_BYTES): publishing only appends to it, so it never
 * blocks, and a client whose queue is full, or that does not take a frame within
 * write_timeout_ms, is dropped with a log line. Must never send a frame that is not a
 * complete JSON-RPC response, and never touch the socket after handing it back
 * (rpc_http_upgrade_close).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "rpc_internal.h"

#define WS_QUEUE_MAX_FRAMES 1024
#define WS_QUEUE_MAX_BYTES (16u << 20)
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

struct ws_frame {
    size_t len;
    struct ws_frame *next;
    uint8_t bytes[]; /* header + payload, ready to write */
};

struct rpc_ws_client {
    struct rpc *r;
    int fd;
    void *urh; /* libmicrohttpd's handle: closes the connection */
    pthread_t reader, writer;
    bool writer_started;

    pthread_mutex_t mu;  /* everything below, and subs */
    pthread_cond_t cond; /* writer: a frame queued, or closing */
    struct ws_frame *head, *tail;
    size_t q_frames, q_bytes;
    bool closing;   /* no more frames; the writer sends what is queued, then exits */
    bool dead;      /* the socket failed or was shut down: nothing more is sent */
    bool fd_closed; /* handed back to libmicrohttpd: never touch fd again */
    size_t n_subs;
    size_t max_subs;
    struct ws_sub *subs;

    /* under r->mu */
    bool done; /* both threads over; waiting to be joined and freed */
    int refs;  /* publishers using it */
    struct rpc_ws_client *next;

    /* the reader's own */
    uint8_t rbuf[4096];
    size_t rpos, rlen;
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

/* ---- the socket ---- */

/* Shut the socket down (wakes the reader and the writer). Under c->mu. */
static void kill_locked(struct rpc_ws_client *c)
{
    c->dead = true;
    if (!c->fd_closed)
        shutdown(c->fd, SHUT_RDWR);
    pthread_cond_broadcast(&c->cond);
}

/* Read exactly len bytes (the buffered bytes first). PX_ECLOSED when the peer or a
 * shutdown ends the connection. */
static int read_exact(struct rpc_ws_client *c, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        if (c->rpos < c->rlen) {
            size_t n = c->rlen - c->rpos < len ? c->rlen - c->rpos : len;
            memcpy(p, c->rbuf + c->rpos, n);
            c->rpos += n;
            p += n;
            len -= n;
            continue;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            return PX_ECLOSED;
        ssize_t got = recv(c->fd, c->rbuf, sizeof c->rbuf, 0);
        if (got == 0)
            return PX_ECLOSED;
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            return PX_ECLOSED;
        }
        c->rpos = 0;
        c->rlen = (size_t)got;
    }
    return 0;
}

/* Write all of buf within timeout_ms. PX_ETIMEDOUT or PX_ECLOSED. */
static int write_all(int fd, const uint8_t *buf, size_t len, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return PX_ECLOSED;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long spent = (long)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms)
            return PX_ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, (int)(timeout_ms - spent)) < 0 && errno != EINTR)
            return PX_ECLOSED;
    }
    return 0;
}

/* Queue one unmasked frame (server → client). Never blocks: a client whose queue is full
 * is dropped (it does not read). PX_ECLOSED when closing or dropped. */
static int enqueue(struct rpc_ws_client *c, int op, const void *data, size_t len)
{
    struct ws_frame *f = malloc(sizeof *f + 10 + len);
    if (f == NULL)
        return PX_ENOMEM;
    uint8_t *h = f->bytes;
    size_t hl;
    h[0] = (uint8_t)(0x80 | op);
    if (len < 126) {
        h[1] = (uint8_t)len;
        hl = 2;
    } else if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    memcpy(h + hl, data, len);
    f->len = hl + len;
    f->next = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->closing || c->dead) {
        pthread_mutex_unlock(&c->mu);
        free(f);
        return PX_ECLOSED;
    }
    if (c->q_frames >= WS_QUEUE_MAX_FRAMES || c->q_bytes + f->len > WS_QUEUE_MAX_BYTES) {
        PX_WARN("rpc", "websocket client dropped: it does not read what it is sent",
                "queued_frames=%zu queued_bytes=%zu", c->q_frames, c->q_bytes);
        kill_locked(c);
        pthread_mutex_unlock(&c->mu);
        free(f);
        return PX_ECLOSED;
    }
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    c->q_frames++;
    c->q_bytes += f->len;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static int send_json(struct rpc_ws_client *c, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        return PX_ENOMEM;
    int err = enqueue(c, WS_OP_TEXT, text, strlen(text));
    free(text);
    return err;
}

static void *writer_main(void *arg)
{
    struct rpc_ws_client *c = arg;
    int timeout_ms = (int)(c->r->env.write_timeout_ms ? c->r->env.write_timeout_ms : 10000);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->head == NULL && !c->closing && !c->dead)
            pthread_cond_wait(&c->cond, &c->mu);
        struct ws_frame *f = c->head;
        if (c->dead || f == NULL)
            break; /* failed, or closing with nothing left to send */
        c->head = f->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->q_frames--;
        c->q_bytes -= f->len;
        pthread_mutex_unlock(&c->mu);
        int err = write_all(c->fd, f->bytes, f->len, timeout_ms);
        free(f);
        pthread_mutex_lock(&c->mu);
        if (err < 0) {
            if (err == PX_ETIMEDOUT)
                PX_WARN("rpc", "websocket client dropped: a frame was not taken in time",
                        "write_timeout_ms=%d", timeout_ms);
            kill_locked(c);
        }
    }
    while (c->head) { /* dead: what is left is never sent */
        struct ws_frame *f = c->head;
        c->head = f->next;
        free(f);
    }
    c->tail = NULL;
    c->q_frames = c->q_bytes = 0;
    pthread_mutex_unlock(&c->mu);
    return NULL;
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
        if (read_exact(c, h, 2) < 0)
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
            if (read_exact(c, ext, n) < 0)
                goto closed;
            plen = 0;
            for (size_t i = 0; i < n; i++)
                plen = plen << 8 | ext[i];
        }
        uint8_t mask[4];
        if (read_exact(c, mask, 4) < 0)
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
        if (read_exact(c, payload, (size_t)plen) < 0) {
            free(payload);
            goto closed;
        }
        for (uint64_t i = 0; i < plen; i++)
            payload[i] ^= mask[i % 4];
        if (op == WS_OP_PING) {
            enqueue(c, WS_OP_PONG, payload, (size_t)plen);
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
    pthread_mutex_lock(&c->mu);
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
    pthread_mutex_unlock(&c->mu);
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
        if (!c->done) {
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
        /* Matching subscriptions first (under mu), frames after: queued, never written
         * here, so a client that does not read costs this thread nothing. */
        json_t *msgs[RPC_WS_MAX_SUBS];
        size_t nm = 0;
        pthread_mutex_lock(&c->mu);
        for (size_t s = 0; !c->dead && s < c->n_subs && nm < RPC_WS_MAX_SUBS; s++) {
            if (!rpc_query_match(&c->subs[s].q, events, keys, vals, n_extra))
                continue;
            json_t *res = json_pack("{s:s, s:{s:s, s:O}, s:O}", "query", c->subs[s].text, "data",
                                    "type", full_type, "value", value, "events", map);
            msgs[nm++] = rpc_reply(c->subs[s].id, res, NULL);
        }
        pthread_mutex_unlock(&c->mu);
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

/* subscribe / unsubscribe / unsubscribe_all, answered here; anything else as over HTTP. */
static json_t *answer(struct rpc_ws_client *c, json_t *req)
{
    struct rpc *r = c->r;
    const char *m = json_string_value(json_object_get(req, "method"));
    const char *ver = json_string_value(json_object_get(req, "jsonrpc"));
    if (!(m && ver && strcmp(ver, "2.0") == 0 &&
          (strcmp(m, "subscribe") == 0 || strcmp(m, "unsubscribe") == 0 ||
           strcmp(m, "unsubscribe_all") == 0)))
        return rpc_handle_one(r, req, NULL);
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
    return rpc_reply(id, rc == 0 ? res : NULL, rc == 0 ? NULL : &e);
}

static void *reader_main(void *arg)
{
    struct rpc_ws_client *c = arg;
    struct rpc *r = c->r;
    uint16_t code = 1000;
    for (;;) {
        char *msg = NULL;
        size_t len = 0;
        if (read_message(c, &msg, &len, &code) < 0)
            break;
        json_error_t je;
        json_t *req = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &je);
        json_t *rep = NULL;
        if (req == NULL) {
            struct rpc_error e = {.code = RPC_ERR_PARSE};
            snprintf(e.message, sizeof e.message, "Parse error");
            snprintf(e.data, sizeof e.data, "%s", je.text);
            rep = rpc_reply(NULL, NULL, &e);
        } else if (json_is_object(req)) {
            rep = answer(c, req);
        } else {
            char *out = NULL;
            if (rpc_handle_body(r, msg, len, &out) == 0 && out)
                rep = json_loads(out, 0, NULL);
            free(out);
        }
        free(msg);
        json_decref(req);
        if (rep != NULL && send_json(c, rep) < 0)
            break;
    }
    /* A close frame if the socket still works, then the writer sends what is queued. */
    uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    enqueue(c, WS_OP_CLOSE, b, 2);
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->writer, NULL);
    /* Wait for publishers to let go, then hand the socket back. */
    pthread_mutex_lock(&r->mu);
    while (c->refs > 0)
        pthread_cond_wait(&r->waiters_cond, &r->mu);
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_lock(&c->mu);
    c->fd_closed = true;
    pthread_mutex_unlock(&c->mu);
    rpc_http_upgrade_close(c->urh);
    pthread_mutex_lock(&r->mu);
    r->n_ws_clients--;
    c->done = true;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void client_free(struct rpc_ws_client *c)
{
    for (size_t i = 0; i < c->n_subs; i++)
        json_decref(c->subs[i].id);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c->subs);
    free(c);
}

/* Join and free the clients whose threads are over. */
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
        pthread_join(dead->reader, NULL);
        client_free(dead);
        dead = next;
    }
}

int rpc_ws_accept_key(const char *key, char *out, size_t cap)
{
    uint8_t raw[32];
    size_t n = 0;
    if (strlen(key) != 24 || px_base64_decode(raw, sizeof raw, &n, key, strlen(key)) < 0 ||
        n != 16 || cap < PX_BASE64_LEN(20))
        return PX_EINVAL;
    /* Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2). */
    char cat[128];
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    uint8_t digest[20];
    sha1((const uint8_t *)cat, strlen(cat), digest);
    px_base64_encode(out, cap, digest, 20);
    return 0;
}

bool rpc_ws_admit(struct rpc *r)
{
    reap(r);
    uint32_t max_clients = r->env.max_subscription_clients ? r->env.max_subscription_clients : 100;
    pthread_mutex_lock(&r->mu);
    bool ok = r->n_ws_clients < max_clients && !r->stopping;
    if (ok)
        r->n_ws_clients++;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

void rpc_ws_unadmit(struct rpc *r)
{
    pthread_mutex_lock(&r->mu);
    r->n_ws_clients--;
    pthread_mutex_unlock(&r->mu);
}

void rpc_ws_start(struct rpc *r, int fd, const char *extra, size_t extra_len, void *urh)
{
    size_t max_subs = r->env.max_subscriptions_per_client ? r->env.max_subscriptions_per_client : 5;
    if (max_subs > RPC_WS_MAX_SUBS)
        max_subs = RPC_WS_MAX_SUBS;
    struct rpc_ws_client *c = calloc(1, sizeof *c);
    if (c != NULL)
        c->subs = calloc(max_subs, sizeof *c->subs);
    if (c == NULL || c->subs == NULL || extra_len > sizeof c->rbuf) {
        if (c)
            free(c->subs);
        free(c);
        rpc_http_upgrade_close(urh);
        rpc_ws_unadmit(r);
        return;
    }
    c->r = r;
    c->fd = fd;
    c->urh = urh;
    c->max_subs = max_subs;
    memcpy(c->rbuf, extra, extra_len);
    c->rlen = extra_len;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (pthread_create(&c->writer, NULL, writer_main, c) != 0) {
        client_free(c);
        rpc_http_upgrade_close(urh);
        rpc_ws_unadmit(r);
        return;
    }
    if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
        pthread_mutex_lock(&c->mu);
        c->dead = true;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->writer, NULL);
        client_free(c);
        rpc_http_upgrade_close(urh);
        rpc_ws_unadmit(r);
        return;
    }
    pthread_mutex_lock(&r->mu);
    c->next = r->ws_clients;
    r->ws_clients = c;
    pthread_mutex_unlock(&r->mu);
}

void rpc_ws_close_all(struct rpc *r)
{
    /* Shutting the socket down ends the reader's wait and the writer's; each client then
     * closes itself, and is joined here. */
    pthread_mutex_lock(&r->mu);
    for (struct rpc_ws_client *c = r->ws_clients; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        kill_locked(c);
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&r->mu);
    for (;;) {
        pthread_mutex_lock(&r->mu);
        struct rpc_ws_client *c = r->ws_clients;
        if (c)
            r->ws_clients = c->next;
        pthread_mutex_unlock(&r->mu);
        if (c == NULL)
            break;
        pthread_join(c->reader, NULL);
        client_free(c);
    }
}
