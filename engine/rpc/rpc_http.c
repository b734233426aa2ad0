/*
 * rpc_http: the HTTP/1.1 side of the JSON-RPC and /metrics servers, on libmicrohttpd
 * (DESIGN §10 says why). It owns connections, limits and threads; what a request means is
 * rpc.c's business (rpc_handle_json / rpc_handle_uri) and the websocket protocol is
 * rpc_ws.c's.
 *
 * Threads:
 * - libmicrohttpd's polling thread (poll(2); its epoll mode left connections accepted
 *   after the connection limit was reached unserved in CLOSE-WAIT, 0.9.75) reads requests
 *   and writes responses. Our
 *   callbacks on it never block: they parse the JSON body, answer what needs no work
 *   (OPTIONS, errors, limits, /metrics) and hand every call to a worker pool, suspending
 *   the connection meanwhile.
 * - Three worker pools by cost (rpc_method_cost): light reads (health, status, block ...),
 *   transaction submission (waits for the app's CheckTx) and heavy reads (searches,
 *   blockchain, genesis, queries to the app). A pool serves its queue in order, so a flood
 *   of searches never delays /health. broadcast_tx_commit parks its connection with the
 *   event thread after CheckTx (rpc_park_commit) and gives its worker back.
 * - The sweeper enforces the deadlines libmicrohttpd lacks: a request must arrive whole
 *   within read_timeout_ms of the connection (or of the previous response), and a response
 *   must be taken whole within write_timeout_ms. A connection past its deadline is shut
 *   down (shutdown(2), never close(2): the fd stays libmicrohttpd's until its CLOSED
 *   notification, which takes the same lock, so a shut-down fd is never a reused one).
 *
 * Limits, all from struct rpc_env: connections in all (max_open_connections, websockets
 * included) and per client address (max_connections_per_ip), header bytes (431), body
 * bytes (413, chunked bodies too), and the deadlines above. Every refusal that reaches
 * HTTP is answered with a status and a JSON-RPC error body, except headers so large that
 * they overflow the connection's memory pool (twice max_header_bytes), which
 * libmicrohttpd answers with its own 431 page.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "px_clock.h"
#include "px_error.h"
#include "px_log.h"
#include "rpc_internal.h"

#define MOD "rpc"
#define SWEEP_INTERVAL_MS 200
#define BODY_DISCARD_MAX (4u << 20) /* bytes of a too large body read and dropped */
#define POOL_LIGHT_THREADS 2
#define POOL_TX_THREADS 8
#define POOL_HEAVY_THREADS 2

enum conn_state {
    CONN_READING, /* waiting for a whole request: read deadline */
    CONN_BUSY,    /* a worker or the event thread has the request: no deadline */
    CONN_WRITING, /* response queued: write deadline */
    CONN_UPGRADED /* a websocket now: rpc_ws owns the socket */
};

/* One TCP connection (libmicrohttpd's socket context). Under srv->mu. */
struct http_conn {
    int fd;
    enum conn_state state;
    uint64_t since_ns; /* when the current state began (monotonic) */
    bool cut;          /* shut down by the sweeper */
    struct http_conn *prev, *next;
};

/* One request (libmicrohttpd's con_cls), from its request line to its completion. */
struct rpc_http_req {
    struct rpc_http *srv;
    struct MHD_Connection *conn;
    char *uri; /* raw request target, as sent */
    bool seen; /* first_look has run */
    bool is_post;
    bool too_big;
    char *body;
    size_t len, cap;
    size_t discarded; /* bytes of a too large body dropped */
    char origin[256];
    json_t *json;       /* the parsed body (POST), taken by the worker */
    enum rpc_cost cost; /* which pool */
    bool suspended;     /* with a pool, a worker or the event thread */
    bool ready;         /* out and status are the answer (set before the resume) */
    char *out;          /* malloc'd */
    unsigned int status;
    struct rpc_http_req *next; /* pool queue */
};

struct pool {
    struct rpc_http *srv;
    pthread_t threads[8];
    size_t n_threads;
    struct rpc_http_req *head, *tail;
    pthread_cond_t cond;
};

struct rpc_http {
    struct rpc *r;
    enum rpc_http_kind kind;
    struct MHD_Daemon *d;
    uint16_t port;
    uint64_t read_timeout_ns, write_timeout_ns;
    uint32_t max_header_bytes, max_body_bytes;

    pthread_mutex_t mu;  /* everything below */
    pthread_cond_t cond; /* sweeper: stopping; rpc_http_free: n_suspended fell */
    struct http_conn *conns;
    uint32_t n_conns;
    uint32_t n_suspended;
    uint64_t cut_total; /* connections shut down past a deadline */
    bool stopping;
    struct pool pools[RPC_COST_COUNT];
    pthread_t sweeper;
    bool sweeper_started;
};

static const char k_shutting_down[] =
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":"
    "\"Server error\",\"data\":\"the node is shutting down\"}}";

char *rpc_http_error_text(int code, const char *message, const char *data)
{
    struct rpc_error e;
    memset(&e, 0, sizeof e);
    e.code = code;
    snprintf(e.message, sizeof e.message, "%s", message);
    snprintf(e.data, sizeof e.data, "%s", data ? data : "");
    json_t *j = rpc_reply(NULL, NULL, &e);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

/* ---- connection table and deadlines ---- */

static void conn_set(struct rpc_http *s, struct MHD_Connection *conn, enum conn_state st)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci == NULL || ci->socket_context == NULL)
        return;
    struct http_conn *c = ci->socket_context;
    pthread_mutex_lock(&s->mu);
    if (c->state != CONN_UPGRADED) { /* a websocket stays one: no HTTP deadline applies */
        c->state = st;
        c->since_ns = rpc_now_ns();
    }
    pthread_mutex_unlock(&s->mu);
}

static void notify_conn_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
    struct rpc_http *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *c = calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (c == NULL || ci == NULL) {
            free(c);
            return; /* untracked: only libmicrohttpd's idle timeout applies */
        }
        c->fd = ci->connect_fd;
        c->state = CONN_READING;
        c->since_ns = rpc_now_ns();
        pthread_mutex_lock(&s->mu);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
        pthread_mutex_unlock(&s->mu);
        *socket_context = c;
        return;
    }
    struct http_conn *c = *socket_context; /* MHD_CONNECTION_NOTIFY_CLOSED */
    if (c == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    pthread_mutex_unlock(&s->mu);
    free(c);
    *socket_context = NULL;
}

static void *sweeper_main(void *arg)
{
    struct rpc_http *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec ts;
        px_timespec_after(CLOCK_REALTIME, SWEEP_INTERVAL_MS * 1000000ull, &ts);
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        uint64_t now = rpc_now_ns();
        uint64_t cut = 0;
        for (struct http_conn *c = s->conns; c; c = c->next) {
            uint64_t limit = c->state == CONN_READING   ? s->read_timeout_ns
                             : c->state == CONN_WRITING ? s->write_timeout_ns
                                                        : 0;
            if (limit == 0 || c->cut || now - c->since_ns <= limit)
                continue;
            /* The fd is open and libmicrohttpd's: its CLOSED notification needs s->mu. */
            shutdown(c->fd, SHUT_RDWR);
            c->cut = true;
            cut++;
        }
        if (cut > 0) {
            s->cut_total += cut;
            PX_DEBUG(MOD, "connections past their read or write deadline closed",
                     "count=%" PRIu64 " total=%" PRIu64, cut, s->cut_total);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- responses ---- */

/* Queue body_owned (malloc'd, may be NULL for an empty body) with status. */
static enum MHD_Result respond(struct rpc_http_req *q, struct MHD_Connection *conn,
                               unsigned int status, const char *ctype, char *body_owned)
{
    struct MHD_Response *res =
        body_owned
            ? MHD_create_response_from_buffer(strlen(body_owned), body_owned, MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (res == NULL) {
        free(body_owned);
        return MHD_NO;
    }
    if (ctype)
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    const char *origin = q->origin[0] ? rpc_allowed_origin(q->srv->r, q->origin) : NULL;
    if (origin != NULL) {
        MHD_add_response_header(res, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(res, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(res, "Access-Control-Allow-Headers",
                                "Origin, Accept, Content-Type, X-Requested-With, X-Server-Time");
    }
    conn_set(q->srv, conn, CONN_WRITING);
    enum MHD_Result rc = MHD_queue_response(conn, status, res);
    MHD_destroy_response(res);
    return rc;
}

static enum MHD_Result respond_error(struct rpc_http_req *q, struct MHD_Connection *conn,
                                     unsigned int status, int code, const char *message,
                                     const char *data)
{
    char *text = rpc_http_error_text(code, message, data);
    if (text == NULL)
        return MHD_NO;
    return respond(q, conn, status, "application/json", text);
}

/* ---- pools ---- */

void rpc_http_finish(struct rpc_http_req *q, unsigned int status, char *body_owned)
{
    q->out = body_owned;
    q->status = status;
    q->ready = true;
    MHD_resume_connection(q->conn);
}

static void serve(struct rpc_http *s, struct rpc_http_req *q)
{
    char *out = NULL;
    struct rpc_park park = {.req = q};
    int err;
    if (q->json != NULL) {
        json_t *j = q->json;
        q->json = NULL;
        err = rpc_handle_json(s->r, j, &park, &out);
    } else {
        const char *uri = q->uri;
        while (*uri == '/')
            uri++;
        err = rpc_handle_uri_park(s->r, uri, &park, &out);
    }
    if (park.parked)
        return;                  /* the event thread answers (rpc_http_finish) */
    if (err == 0 && out == NULL) /* notifications only */
        rpc_http_finish(q, 204, NULL);
    else if (err < 0 || out == NULL)
        rpc_http_finish(q, 200,
                        rpc_http_error_text(RPC_ERR_INTERNAL, "Internal error",
                                            px_strerror(err < 0 ? err : PX_ENOMEM)));
    else
        rpc_http_finish(q, 200, out);
}

static void *pool_main(void *arg)
{
    struct pool *p = arg;
    struct rpc_http *s = p->srv;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (p->head == NULL && !s->stopping)
            pthread_cond_wait(&p->cond, &s->mu);
        struct rpc_http_req *q = p->head;
        if (q == NULL || s->stopping)
            break; /* what is left is answered by rpc_http_free */
        p->head = q->next;
        if (p->head == NULL)
            p->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        serve(s, q);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Hand q to its pool, the connection suspended until rpc_http_finish. False when
 * stopping (the caller answers). Called on libmicrohttpd's thread. */
static bool dispatch(struct rpc_http_req *q, struct MHD_Connection *conn)
{
    struct rpc_http *s = q->srv;
    struct pool *p = &s->pools[q->cost];
    conn_set(s, conn, CONN_BUSY);
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    MHD_suspend_connection(conn);
    q->suspended = true;
    s->n_suspended++;
    q->next = NULL;
    if (p->tail)
        p->tail->next = q;
    else
        p->head = q;
    p->tail = q;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&s->mu);
    return true;
}

/* ---- requests ---- */

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct rpc_http *s = cls;
    struct rpc_http_req *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->srv = s;
    q->conn = conn;
    q->uri = strdup(uri ? uri : "/");
    if (q->uri == NULL) {
        free(q);
        return NULL;
    }
    return q;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct rpc_http *s = cls;
    struct rpc_http_req *q = *con_cls;
    conn_set(s, conn, CONN_READING); /* keep-alive: the next request's read deadline */
    if (q == NULL)
        return;
    json_decref(q->json);
    free(q->out);
    free(q->body);
    free(q->uri);
    free(q);
    *con_cls = NULL;
}

struct header_sum {
    size_t bytes;
    const char *origin;
};

static enum MHD_Result header_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    struct header_sum *h = cls;
    h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

static bool path_is(const char *uri, const char *path)
{
    size_t n = strlen(path);
    return strncmp(uri, path, n) == 0 && (uri[n] == '\0' || uri[n] == '?');
}

/* The cost class of a GET /<method>?... or of a parsed body (a batch costs its dearest). */
static enum rpc_cost cost_of(const char *uri, json_t *body)
{
    if (body == NULL) {
        while (*uri == '/')
            uri++;
        char name[64];
        size_t n = strcspn(uri, "?");
        if (n >= sizeof name)
            return RPC_COST_LIGHT; /* no such method: answered at once */
        memcpy(name, uri, n);
        name[n] = '\0';
        return rpc_method_cost(name);
    }
    if (json_is_object(body))
        return rpc_method_cost(json_string_value(json_object_get(body, "method")));
    enum rpc_cost c = RPC_COST_LIGHT;
    size_t i;
    json_t *one;
    json_array_foreach(body, i, one)
    {
        enum rpc_cost k = rpc_method_cost(json_string_value(json_object_get(one, "method")));
        if (k > c)
            c = k;
    }
    return c;
}

static void upgrade_cb(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)con_cls;
    struct rpc_http *s = cls;
    conn_set(s, conn, CONN_UPGRADED);
    rpc_ws_start(s->r, sock, extra_in, extra_in_size, urh);
}

void rpc_http_upgrade_close(void *urh)
{
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* GET /websocket: answer 101 and hand the socket to rpc_ws once it is sent. */
static enum MHD_Result websocket(struct rpc_http *s, struct rpc_http_req *q,
                                 struct MHD_Connection *conn)
{
    const char *upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    const char *version =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    char accept[64];
    if (upgrade == NULL || strcasecmp(upgrade, "websocket") != 0 || key == NULL ||
        version == NULL || strcmp(version, "13") != 0 ||
        rpc_ws_accept_key(key, accept, sizeof accept) < 0)
        return respond_error(q, conn, MHD_HTTP_BAD_REQUEST, RPC_ERR_INVALID_REQUEST,
                             "Invalid Request",
                             "websocket upgrade expected (Upgrade: websocket, version 13)");
    if (!rpc_ws_admit(s->r))
        return respond_error(q, conn, MHD_HTTP_SERVICE_UNAVAILABLE, RPC_ERR_SERVER, "Server error",
                             "max_subscription_clients reached; retry later");
    struct MHD_Response *res = MHD_create_response_for_upgrade(upgrade_cb, s);
    if (res == NULL) {
        rpc_ws_unadmit(s->r);
        return MHD_NO;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
    MHD_add_response_header(res, "Sec-WebSocket-Accept", accept);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, res);
    MHD_destroy_response(res);
    if (rc != MHD_YES)
        rpc_ws_unadmit(s->r);
    return rc;
}

static enum MHD_Result metrics_request(struct rpc_http *s, struct rpc_http_req *q,
                                       struct MHD_Connection *conn, const char *url)
{
    if (strcmp(url, "/metrics") != 0)
        return respond(q, conn, MHD_HTTP_NOT_FOUND, "text/plain", strdup("see /metrics\n"));
    char *text = NULL;
    size_t len = 0;
    if (s->r->env.metrics == NULL || metrics_format(s->r->env.metrics, &text, &len) < 0)
        return respond(q, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                       strdup("metrics unavailable\n"));
    return respond(q, conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text);
}

static enum MHD_Result too_large(struct rpc_http *s, struct rpc_http_req *q,
                                 struct MHD_Connection *conn)
{
    char why[160];
    snprintf(why, sizeof why, "request body over max_body_bytes (%u)", s->max_body_bytes);
    return respond_error(q, conn, MHD_HTTP_CONTENT_TOO_LARGE, RPC_ERR_INVALID_REQUEST,
                         "Invalid Request", why);
}

/* First look at a request, its headers complete: refuse what breaks a limit, answer what
 * needs no worker, and take note of the rest. */
static enum MHD_Result first_look(struct rpc_http *s, struct rpc_http_req *q,
                                  struct MHD_Connection *conn, const char *url, const char *method)
{
    q->seen = true;
    struct header_sum h = {.bytes = strlen(q->uri)};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, header_cb, &h);
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (origin != NULL)
        snprintf(q->origin, sizeof q->origin, "%s", origin);
    if (h.bytes > s->max_header_bytes) {
        char why[160];
        snprintf(why, sizeof why, "request line and headers over max_header_bytes (%u)",
                 s->max_header_bytes);
        return respond_error(q, conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                             RPC_ERR_INVALID_REQUEST, "Invalid Request", why);
    }
    if (s->kind == RPC_HTTP_METRICS)
        return strcmp(method, "GET") == 0 ? metrics_request(s, q, conn, url)
                                          : respond(q, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                                    "text/plain", strdup("use GET\n"));
    if (strcmp(method, "OPTIONS") == 0)
        return respond(q, conn, MHD_HTTP_NO_CONTENT, NULL, NULL);
    q->is_post = strcmp(method, "POST") == 0;
    if (!q->is_post && strcmp(method, "GET") != 0)
        return respond_error(q, conn, MHD_HTTP_METHOD_NOT_ALLOWED, RPC_ERR_INVALID_REQUEST,
                             "Invalid Request", "use GET or POST");
    if (!q->is_post && path_is(url, "/websocket"))
        return websocket(s, q, conn);
    if (!q->is_post && (strcmp(url, "/") == 0 || url[0] == '\0'))
        return respond(q, conn, MHD_HTTP_OK, "application/json",
                       strdup("{\"jsonrpc\":\"2.0\",\"id\":-1,\"result\":{\"endpoints\":"
                              "\"POST JSON-RPC 2.0 here, or GET /<method>?arg=value\"}}"));
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (declared > (unsigned long long)s->max_body_bytes + BODY_DISCARD_MAX)
        return too_large(s, q, conn);
    if (declared > s->max_body_bytes)
        q->too_big = true; /* the body is read and dropped, then answered */
    return MHD_YES;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)version;
    struct rpc_http *s = cls;
    struct rpc_http_req *q = *con_cls;
    if (q == NULL)
        return MHD_NO; /* no memory for it in uri_log_cb */
    if (q->ready) {    /* back from a worker or the event thread */
        pthread_mutex_lock(&s->mu);
        s->n_suspended--;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->mu);
        q->suspended = false;
        char *out = q->out;
        q->out = NULL;
        return respond(q, conn, q->status, out ? "application/json" : NULL, out);
    }
    if (!q->seen)
        return first_look(s, q, conn, url, method);
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->too_big || n > s->max_body_bytes - q->len) {
            /* Read on and drop it, so that the 413 is not lost to a reset (closing with
             * unread bytes); past BODY_DISCARD_MAX, answer and close at once. */
            q->too_big = true;
            q->discarded += n;
            return q->discarded > BODY_DISCARD_MAX ? too_large(s, q, conn) : MHD_YES;
        }
        if (q->len + n + 1 > q->cap) {
            size_t cap = q->cap ? q->cap : 4096;
            while (cap < q->len + n + 1)
                cap *= 2;
            char *b = realloc(q->body, cap);
            if (b == NULL)
                return MHD_NO;
            q->body = b;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload, n);
        q->len += n;
        return MHD_YES;
    }
    /* The request is whole. */
    if (q->too_big)
        return too_large(s, q, conn);
    if (q->is_post) {
        json_error_t je;
        q->json = json_loadb(q->body ? q->body : "", q->len, JSON_REJECT_DUPLICATES, &je);
        free(q->body);
        q->body = NULL;
        if (q->json == NULL)
            return respond_error(q, conn, MHD_HTTP_OK, RPC_ERR_PARSE, "Parse error", je.text);
    }
    q->cost = cost_of(q->uri, q->json);
    if (!dispatch(q, conn))
        return respond(q, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                       strdup(k_shutting_down));
    return MHD_YES;
}

static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[256];
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    PX_DEBUG(MOD, "http", "msg=\"%s\"", text);
}

/* ---- lifetime ---- */

/* tcp://host:port or http://host:port → an IPv4 socket address. */
static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
    const char *rest = NULL;
    if (strncmp(addr, "tcp://", 6) == 0)
        rest = addr + 6;
    else if (strncmp(addr, "http://", 7) == 0)
        rest = addr + 7;
    if (rest == NULL)
        return PX_ECONFIG;
    const char *colon = strrchr(rest, ':');
    if (colon == NULL || colon == rest || (size_t)(colon - rest) >= 64)
        return PX_ECONFIG;
    char host[64];
    memcpy(host, rest, (size_t)(colon - rest));
    host[colon - rest] = '\0';
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port > 65535)
        return PX_ECONFIG;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return PX_ECONFIG;
    return 0;
}

int rpc_http_start(struct rpc *r, enum rpc_http_kind kind, const char *addr, struct rpc_http **out)
{
    *out = NULL;
    struct sockaddr_in sa;
    if (parse_addr(addr, &sa) < 0) {
        PX_ERROR(MOD, "bad listen address", "addr=%s want=tcp://IPV4:PORT", addr);
        return PX_ECONFIG;
    }
    struct rpc_http *s = calloc(1, sizeof *s);
    if (s == NULL)
        return PX_ENOMEM;
    s->r = r;
    s->kind = kind;
    const struct rpc_env *env = &r->env;
    s->max_body_bytes = env->max_body_bytes ? env->max_body_bytes : 1000000;
    s->max_header_bytes = env->max_header_bytes ? env->max_header_bytes : 65536;
    s->read_timeout_ns =
        (uint64_t)(env->read_timeout_ms ? env->read_timeout_ms : 10000) * 1000000ull;
    s->write_timeout_ns =
        (uint64_t)(env->write_timeout_ms ? env->write_timeout_ms : 10000) * 1000000ull;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    int err = 0;
    if (kind == RPC_HTTP_JSONRPC) {
        static const size_t threads[RPC_COST_COUNT] = {POOL_LIGHT_THREADS, POOL_TX_THREADS,
                                                       POOL_HEAVY_THREADS};
        for (size_t i = 0; i < RPC_COST_COUNT; i++) {
            struct pool *p = &s->pools[i];
            p->srv = s;
            pthread_cond_init(&p->cond, NULL);
            for (size_t t = 0; err == 0 && t < threads[i]; t++) {
                if (pthread_create(&p->threads[t], NULL, pool_main, p) != 0)
                    err = PX_ENOMEM;
                else
                    p->n_threads++;
            }
        }
    }
    if (err == 0) {
        if (pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0)
            err = PX_ENOMEM;
        else
            s->sweeper_started = true;
    }
    uint32_t max_conns = env->max_open_connections ? env->max_open_connections : 900;
    uint32_t per_ip = env->max_connections_per_ip;
    if (kind == RPC_HTTP_METRICS) {
        max_conns = 64;
        per_ip = 0;
    }
    /* The pool holds the request line, headers and read buffer: room for the largest
     * headers we accept, so that our own check (first_look) answers those over the limit.
     * It is set up for every connection, in time linear in its size (a 2 MiB pool made a
     * new connection's first answer take 3 ms), hence the 64 KiB default header limit. */
    size_t pool = (size_t)s->max_header_bytes * 2 + 16384;
    unsigned int idle_s =
        (unsigned int)((s->read_timeout_ns > s->write_timeout_ns ? s->read_timeout_ns
                                                                 : s->write_timeout_ns) /
                           1000000000ull +
                       2);
    if (err == 0) {
        unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                             MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
        s->d = MHD_start_daemon(
            flags, 0, NULL, NULL, access_cb, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)max_conns,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
            idle_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_URI_LOG_CALLBACK,
            uri_log_cb, s, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
            MHD_OPTION_NOTIFY_CONNECTION, notify_conn_cb, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb,
            s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 128u, MHD_OPTION_END);
        if (s->d == NULL) {
            PX_ERROR(MOD, "cannot listen", "addr=%s err=%s", addr, strerror(errno));
            err = PX_EIO;
        }
    }
    if (err == 0) {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
        s->port = di ? di->port : 0;
    }
    if (err < 0) {
        rpc_http_free(s);
        return err;
    }
    *out = s;
    return 0;
}

uint16_t rpc_http_port(const struct rpc_http *s)
{
    return s ? s->port : 0;
}

void rpc_http_quiesce(struct rpc_http *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    for (size_t i = 0; i < RPC_COST_COUNT; i++)
        pthread_cond_broadcast(&s->pools[i].cond);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < RPC_COST_COUNT; i++) {
        struct pool *p = &s->pools[i];
        for (size_t t = 0; t < p->n_threads; t++)
            pthread_join(p->threads[t], NULL);
        p->n_threads = 0;
    }
    /* What no worker took is answered now: libmicrohttpd must not stop with a suspended
     * connection. */
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < RPC_COST_COUNT; i++) {
        struct pool *p = &s->pools[i];
        while (p->head) {
            struct rpc_http_req *q = p->head;
            p->head = q->next;
            pthread_mutex_unlock(&s->mu);
            rpc_http_finish(q, MHD_HTTP_SERVICE_UNAVAILABLE, strdup(k_shutting_down));
            pthread_mutex_lock(&s->mu);
        }
        p->tail = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}

char *rpc_http_shutting_down_text(void)
{
    return strdup(k_shutting_down);
}

void rpc_http_free(struct rpc_http *s)
{
    if (s == NULL)
        return;
    rpc_http_quiesce(s);
    /* Every suspended connection has been resumed by now (workers, parked commits and
     * the queues are answered before this is called); wait until libmicrohttpd has
     * queued their answers, a bounded while. */
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < 50 && s->n_suspended > 0; i++) {
        struct timespec ts;
        px_timespec_after(CLOCK_REALTIME, 100 * 1000000ull, &ts);
        pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    if (s->d)
        MHD_stop_daemon(s->d);
    if (s->sweeper_started)
        pthread_join(s->sweeper, NULL);
    for (size_t i = 0; i < RPC_COST_COUNT; i++)
        pthread_cond_destroy(&s->pools[i].cond);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
