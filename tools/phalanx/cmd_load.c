/*
 * phalanx load: an open-loop load generator for a running network. Transactions are due on
 * a fixed schedule (tx i at start + i/rate) and are written whatever the answers are; the
 * latency of a tx is measured from its scheduled time, so a slow node cannot hide its
 * queueing (no coordinated omission). Submission is JSON-RPC broadcast_tx_async (or _sync)
 * over HTTP/1.1 keep-alive connections (our own small client on plain sockets, one request
 * at a time per connection, due txs queued behind it), spread over the nodes given. A second thread
 * follows commits on the first node (/status, then /block?height=H) and matches each committed tx
 * by its SHA-256 against a fixed-size table of txs in flight.
 *
 * Memory is bounded whatever the network does: the in-flight table, each connection's
 * output buffer and queue of unanswered requests, response sizes and the latency
 * histogram all have fixed caps; a tx that finds no room is counted as skipped, a tx not
 * committed within --timeout is counted as lost. Sends only to the addresses given.
 */
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ed25519.h"
#include "keyfile.h"
#include "ledger_tx.h"
#include "px_encoding.h"
#include "px_error.h"

#define LOAD_MAX_NODES 16
#define LOAD_MAX_CONNS 64
#define LOAD_MAX_FAUCETS 256
#define LOAD_MAX_RATE 200000.0
#define LOAD_MAX_DURATION_S 3600
#define LOAD_MAX_TIMEOUT_S 600
#define LOAD_MAX_TX_BYTES 16384 /* kvledger's KVL_TX_MAX */
#define LOAD_MAX_KV_BYTES                                                                          \
    8192                     /* kvledger takes values up to 8192 bytes: a KV tx this long fits     \
                              */
#define LOAD_MIN_KV_BYTES 48 /* room for the longest unique key "ld-RUNID-SEQ" and '=' */
#define LOAD_TABLE_MAX (1u << 21)
#define LOAD_PIPE_MAX 4096 /* queued and unanswered requests per connection */
/* Requests written ahead of their answers on one connection. 1: nng's HTTP server (the
 * node's RPC) drops a keep-alive connection when requests are pipelined, so each
 * connection carries one request at a time and --connections sets the parallelism. */
#define LOAD_WINDOW 1
#define LOAD_OUTBUF_BYTES (8u << 20)   /* unsent request bytes per connection */
#define LOAD_INBUF_BYTES (256u << 10)  /* one broadcast answer must fit */
#define LOAD_GET_MAX_BYTES (64u << 20) /* one /block answer must fit */
#define LOAD_FOLLOW_POLL_MS 20
#define LOAD_ERR_MAX 512

/* ------------------------------------------------------------------ time */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ options */

enum load_kind { LOAD_KV, LOAD_TRANSFER };

struct load_node {
    char host[128];
    char port[8];
};

struct load_opts {
    struct load_node nodes[LOAD_MAX_NODES];
    int n_nodes;
    double rate;
    unsigned duration_s;
    size_t size;
    enum load_kind kind;
    const char *faucets[LOAD_MAX_FAUCETS];
    int n_faucets;
    char chain_id[LEDGER_CHAIN_ID_MAX + 1];
    int connections;
    unsigned timeout_s;
    bool json;
    const char *method; /* broadcast_tx_async (default) or broadcast_tx_sync */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: phalanx load --nodes HOST:PORT[,HOST:PORT...] --rate TPS --duration S\n"
            "                    [--size BYTES] [--kind kv|transfer] [--faucet FILE...]\n"
            "                    [--chain-id ID] [--connections N] [--timeout S] [--sync]\n"
            "                    [--json]\n\n"
            "Sends transactions to the nodes' JSON-RPC (broadcast_tx_async) at a fixed rate\n"
            "whatever the answers (open loop), follows the commits on the first node and\n"
            "reports sent, accepted, rejected (with the first error), committed, committed\n"
            "tx/s and submit-to-commit latency p50/p90/p99/max, measured from each tx's\n"
            "scheduled time.\n\n"
            "  --nodes LIST       RPC addresses, comma-separated (up to %d)\n"
            "  --rate TPS         offered load, tx/s (0: only follow blocks; max %.0f)\n"
            "  --duration S       seconds of sending (1..%d)\n"
            "  --size BYTES       KV tx size (default 250; %d..%d)\n"
            "  --kind KIND        kv: distinct key=value txs (default); transfer: kvledger\n"
            "                     ledger transfers signed with the faucet keys\n"
            "  --faucet FILE      a faucet key file (CometBFT key format); repeat, or give\n"
            "                     several after one --faucet (up to %d); transfer only\n"
            "  --chain-id ID      chain id for transfers (default: the node's, from /status)\n"
            "  --connections N    HTTP connections, spread over the nodes, each carrying one\n"
            "                     request at a time (default 16; max %d)\n"
            "  --timeout S        a tx not committed this long after its time is lost\n"
            "                     (default 30; max %d)\n"
            "  --sync             submit with broadcast_tx_sync, which reports CheckTx's\n"
            "                     verdict (async, the default, answers code 0 whatever it is)\n"
            "  --json             one JSON object on stdout instead of the text report\n",
            LOAD_MAX_NODES, LOAD_MAX_RATE, LOAD_MAX_DURATION_S, LOAD_MIN_KV_BYTES,
            LOAD_MAX_KV_BYTES, LOAD_MAX_FAUCETS, LOAD_MAX_CONNS, LOAD_MAX_TIMEOUT_S);
}

static int bad_usage(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "phalanx load: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (run 'phalanx load --help')\n");
    return 2;
}

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_nodes(const char *list, struct load_opts *o)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[160];
        if (len == 0 || len >= sizeof(item) || o->n_nodes == LOAD_MAX_NODES)
            return PX_EINVAL;
        memcpy(item, p, len);
        item[len] = '\0';
        char *colon = strrchr(item, ':');
        unsigned long port;
        if (!colon || colon == item || !parse_ulong(colon + 1, 1, 65535, &port))
            return PX_EINVAL;
        *colon = '\0';
        struct load_node *n = &o->nodes[o->n_nodes++];
        if (strlen(item) >= sizeof(n->host))
            return PX_EINVAL;
        strcpy(n->host, item);
        snprintf(n->port, sizeof(n->port), "%lu", port);
        p += len;
        if (*p == ',')
            p++;
    }
    return o->n_nodes > 0 ? 0 : PX_EINVAL;
}

/* Returns -1 on success (go on), else the exit status. */
static int parse_opts(int argc, char **argv, struct load_opts *o)
{
    bool have_rate = false, have_duration = false;
    unsigned long v;
    o->size = 250;
    o->kind = LOAD_KV;
    o->timeout_s = 30;
    o->method = "broadcast_tx_async";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--sync") == 0) {
            o->method = "broadcast_tx_sync";
            continue;
        }
        if (i + 1 >= argc)
            return bad_usage("%s needs a value%s", a, "");
        const char *val = argv[++i];
        if (strcmp(a, "--nodes") == 0) {
            if (parse_nodes(val, o) != 0)
                return bad_usage("--nodes: expected HOST:PORT[,HOST:PORT...], got '%s'%s", val, "");
        } else if (strcmp(a, "--rate") == 0) {
            char *end;
            errno = 0;
            o->rate = strtod(val, &end);
            if (errno || *end || !(o->rate >= 0) || o->rate > LOAD_MAX_RATE)
                return bad_usage("--rate: expected a number of tx/s from 0 to 200000, got '%s'%s",
                                 val, "");
            have_rate = true;
        } else if (strcmp(a, "--duration") == 0) {
            if (!parse_ulong(val, 1, LOAD_MAX_DURATION_S, &v))
                return bad_usage("--duration: expected seconds from 1 to 3600, got '%s'%s", val,
                                 "");
            o->duration_s = (unsigned)v;
            have_duration = true;
        } else if (strcmp(a, "--size") == 0) {
            if (!parse_ulong(val, LOAD_MIN_KV_BYTES, LOAD_MAX_KV_BYTES, &v))
                return bad_usage("--size: expected bytes from 48 to 8192, got '%s'%s", val, "");
            o->size = v;
        } else if (strcmp(a, "--kind") == 0) {
            if (strcmp(val, "kv") == 0)
                o->kind = LOAD_KV;
            else if (strcmp(val, "transfer") == 0)
                o->kind = LOAD_TRANSFER;
            else
                return bad_usage("--kind: expected kv or transfer, got '%s'%s", val, "");
        } else if (strcmp(a, "--faucet") == 0) {
            /* one or more files: every following argument that is not an option */
            for (;;) {
                if (o->n_faucets == LOAD_MAX_FAUCETS)
                    return bad_usage("--faucet: at most 256 key files%s%s", "", "");
                o->faucets[o->n_faucets++] = val;
                if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                    break;
                val = argv[++i];
            }
        } else if (strcmp(a, "--chain-id") == 0) {
            if (strlen(val) == 0 || strlen(val) > LEDGER_CHAIN_ID_MAX)
                return bad_usage("--chain-id: expected 1 to 50 characters, got '%s'%s", val, "");
            strcpy(o->chain_id, val);
        } else if (strcmp(a, "--connections") == 0) {
            if (!parse_ulong(val, 1, LOAD_MAX_CONNS, &v))
                return bad_usage("--connections: expected a number from 1 to 64, got '%s'%s", val,
                                 "");
            o->connections = (int)v;
        } else if (strcmp(a, "--timeout") == 0) {
            if (!parse_ulong(val, 1, LOAD_MAX_TIMEOUT_S, &v))
                return bad_usage("--timeout: expected seconds from 1 to 600, got '%s'%s", val, "");
            o->timeout_s = (unsigned)v;
        } else {
            return bad_usage("unknown option '%s'%s", a, "");
        }
    }
    if (o->n_nodes == 0 || !have_rate || !have_duration)
        return bad_usage("--nodes, --rate and --duration are required%s%s", "", "");
    if (o->kind == LOAD_TRANSFER && o->n_faucets == 0 && o->rate > 0)
        return bad_usage("--kind transfer needs at least one --faucet key file%s%s", "", "");
    if (o->kind == LOAD_KV && o->n_faucets > 0)
        return bad_usage("--faucet is for --kind transfer only%s%s", "", "");
    if (o->connections == 0)
        o->connections = o->n_nodes > 16 ? o->n_nodes : 16;
    return -1;
}

/* ------------------------------------------------------------------ HTTP */

/* Connect to host:port (blocking connect, then the socket is made non-blocking if asked).
 * Returns the fd or a negative PX_E code; err receives a sentence. */
static int tcp_connect(const struct load_node *n, bool nonblock, char *err, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int rv = getaddrinfo(n->host, n->port, &hints, &res);
    if (rv != 0) {
        snprintf(err, cap, "cannot resolve %s: %s", n->host, gai_strerror(rv));
        return PX_EINVAL;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, cap, "cannot connect to %s:%s: %s (is the node running with its RPC on?)",
                 n->host, n->port, strerror(errno));
        return PX_EIO;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (nonblock)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Look for one whole HTTP response in buf[0..len). 0: complete, *status, *body_off and
 * *body_len set, the response takes body_off + body_len bytes; PX_EAGAIN: need more bytes;
 * PX_EPROTO: not an HTTP/1.x response we read (chunked bodies are not used by the node);
 * PX_ETOOBIG: a body over max. */
static int http_parse(const char *buf, size_t len, size_t max, int *status, size_t *body_off,
                      size_t *body_len, bool *close_after)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return len > 65536 ? PX_EPROTO : PX_EAGAIN;
    size_t hlen = (size_t)(end - buf) + 4;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return PX_EPROTO;
    *status = atoi(buf + 9);
    size_t clen = 0;
    bool have_len = false;
    *close_after = false;
    const char *line = memchr(buf, '\n', hlen);
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end + 2 - line));
        if (!eol)
            break;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            clen = strtoul(line + 15, NULL, 10);
            have_len = true;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            return PX_EPROTO;
        } else if (strncasecmp(line, "Connection:", 11) == 0) {
            const char *v = line + 11;
            while (*v == ' ')
                v++;
            if (strncasecmp(v, "close", 5) == 0)
                *close_after = true;
        }
        line = eol;
    }
    if (!have_len)
        return PX_EPROTO;
    if (clen > max)
        return PX_ETOOBIG;
    if (len - hlen < clen)
        return PX_EAGAIN;
    *body_off = hlen;
    *body_len = clen;
    return 0;
}

/* A blocking keep-alive connection for GETs (setup and the commit follower). */
struct hget {
    const struct load_node *node;
    int fd;
    char *buf;
    size_t cap, len;
};

static void hget_close(struct hget *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    h->len = 0;
}

static void hget_fini(struct hget *h)
{
    hget_close(h);
    free(h->buf);
    h->buf = NULL;
}

/* GET path; on success *out is the parsed JSON body (caller decrefs). Reconnects once when
 * a kept-alive connection was closed. Errors: PX_EIO, PX_ETIMEDOUT, PX_EPROTO, PX_EDECODE,
 * PX_ETOOBIG, PX_ENOMEM; err gets a sentence. */
static int hget_json(struct hget *h, const char *path, int timeout_ms, json_t **out, char *err,
                     size_t errcap)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->fd < 0) {
            int fd = tcp_connect(h->node, false, err, errcap);
            if (fd < 0)
                return fd;
            h->fd = fd;
            struct timeval tv = {.tv_sec = timeout_ms / 1000,
                                 .tv_usec = (timeout_ms % 1000) * 1000};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        char req[1024];
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: keep-alive\r\n\r\n", path,
                         h->node->host, h->node->port);
        if (n < 0 || (size_t)n >= sizeof(req)) {
            snprintf(err, errcap, "request path too long");
            return PX_EINVAL;
        }
        if (send(h->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
            hget_close(h);
            continue;
        }
        h->len = 0;
        for (;;) {
            int status;
            size_t off, blen;
            bool close_after;
            int rv = h->len ? http_parse(h->buf, h->len, LOAD_GET_MAX_BYTES, &status, &off, &blen,
                                         &close_after)
                            : PX_EAGAIN;
            if (rv == 0) {
                json_error_t jerr;
                json_t *j = json_loadb(h->buf + off, blen, 0, &jerr);
                h->len = 0;
                if (close_after)
                    hget_close(h);
                if (!j) {
                    snprintf(err, errcap, "GET %s: answer is not JSON (HTTP %d): %s", path, status,
                             jerr.text);
                    return PX_EDECODE;
                }
                *out = j;
                return 0;
            }
            if (rv != PX_EAGAIN) {
                snprintf(err, errcap, "GET %s: %s", path,
                         rv == PX_ETOOBIG ? "answer too large" : "not an HTTP answer we read");
                hget_close(h);
                return rv;
            }
            if (h->cap - h->len < 65536) {
                size_t ncap = h->cap ? h->cap * 2 : 262144;
                if (ncap > LOAD_GET_MAX_BYTES + 65536) {
                    snprintf(err, errcap, "GET %s: answer too large", path);
                    hget_close(h);
                    return PX_ETOOBIG;
                }
                char *nb = realloc(h->buf, ncap);
                if (!nb)
                    return PX_ENOMEM;
                h->buf = nb;
                h->cap = ncap;
            }
            ssize_t r = recv(h->fd, h->buf + h->len, h->cap - h->len, 0);
            if (r > 0) {
                h->len += (size_t)r;
                continue;
            }
            bool timed_out = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
            bool nothing_yet = h->len == 0;
            hget_close(h);
            if (timed_out) {
                snprintf(err, errcap, "GET %s: no answer from %s:%s within %d ms", path,
                         h->node->host, h->node->port, timeout_ms);
                return PX_ETIMEDOUT;
            }
            if (nothing_yet && attempt == 0)
                break; /* a kept-alive connection the server had closed: redial once */
            snprintf(err, errcap, "GET %s: connection to %s:%s closed", path, h->node->host,
                     h->node->port);
            return PX_EIO;
        }
    }
    snprintf(err, errcap, "GET %s: cannot reach %s:%s", path, h->node->host, h->node->port);
    return PX_EIO;
}

/* The "result" member of a JSON-RPC answer, or NULL with err set from "error". */
static json_t *rpc_result(json_t *j, const char *what, char *err, size_t errcap)
{
    json_t *res = json_object_get(j, "result");
    if (json_is_object(res))
        return res;
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *data = json_string_value(json_object_get(e, "data"));
    snprintf(err, errcap, "%s: %s%s%s", what, msg ? msg : "no result in the answer",
             data ? ": " : "", data ? data : "");
    return NULL;
}

static bool json_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = x;
    return true;
}

/* ------------------------------------------------------------------ in-flight table */

struct flight {
    uint8_t hash[32];
    uint64_t due_ns; /* scheduled send time; 0: empty slot */
};

/* Open addressing (linear probing) keyed by tx hash; deleted slots become tombstones and
 * the whole table is rebuilt at every sweep, which also expires txs older than the timeout.
 * Guarded by mu: the sender inserts and removes rejected txs, the follower removes
 * committed ones. */
#define FLIGHT_TOMB UINT64_MAX

struct table {
    pthread_mutex_t mu;
    struct flight *slots, *spare;
    size_t cap, mask, live, used; /* used: live + tombstones */
};

static int table_init(struct table *t, size_t want)
{
    size_t cap = 1024;
    while (cap < want * 2 && cap < LOAD_TABLE_MAX)
        cap *= 2;
    t->slots = calloc(cap, sizeof(*t->slots));
    t->spare = calloc(cap, sizeof(*t->spare));
    if (!t->slots || !t->spare)
        return PX_ENOMEM;
    t->cap = cap;
    t->mask = cap - 1;
    t->live = t->used = 0;
    pthread_mutex_init(&t->mu, NULL);
    return 0;
}

static void table_fini(struct table *t)
{
    free(t->slots);
    free(t->spare);
    pthread_mutex_destroy(&t->mu);
}

static size_t slot_of(const uint8_t hash[32], size_t mask)
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    return (size_t)h & mask;
}

/* Caller holds mu. PX_EBOUND when the table is at its load limit. */
static int table_insert(struct table *t, const uint8_t hash[32], uint64_t due_ns)
{
    if (t->used + 1 > t->cap / 4 * 3)
        return PX_EBOUND;
    for (size_t i = slot_of(hash, t->mask);; i = (i + 1) & t->mask) {
        if (t->slots[i].due_ns == 0) {
            memcpy(t->slots[i].hash, hash, 32);
            t->slots[i].due_ns = due_ns;
            t->live++;
            t->used++;
            return 0;
        }
    }
}

/* Caller holds mu. Removes and returns the due time, or 0 if absent. */
static uint64_t table_take(struct table *t, const uint8_t hash[32])
{
    for (size_t i = slot_of(hash, t->mask);; i = (i + 1) & t->mask) {
        struct flight *f = &t->slots[i];
        if (f->due_ns == 0)
            return 0;
        if (f->due_ns != FLIGHT_TOMB && memcmp(f->hash, hash, 32) == 0) {
            uint64_t due = f->due_ns;
            f->due_ns = FLIGHT_TOMB;
            t->live--;
            return due;
        }
    }
}

/* Caller holds mu. Drop txs due before `older_than` (returns how many) and rebuild. */
static uint64_t table_sweep(struct table *t, uint64_t older_than)
{
    uint64_t expired = 0;
    memset(t->spare, 0, t->cap * sizeof(*t->spare));
    size_t live = 0;
    for (size_t i = 0; i < t->cap; i++) {
        struct flight *f = &t->slots[i];
        if (f->due_ns == 0 || f->due_ns == FLIGHT_TOMB)
            continue;
        if (f->due_ns < older_than) {
            expired++;
            continue;
        }
        size_t j = slot_of(f->hash, t->mask);
        while (t->spare[j].due_ns != 0)
            j = (j + 1) & t->mask;
        t->spare[j] = *f;
        live++;
    }
    struct flight *tmp = t->slots;
    t->slots = t->spare;
    t->spare = tmp;
    t->live = t->used = live;
    return expired;
}

/* ------------------------------------------------------------------ shared state */

struct stats {
    uint64_t sent, accepted, rejected, unanswered, skipped, committed, lost;
    char first_error[LOAD_ERR_MAX];
    /* latency histogram, 1 ms buckets up to the timeout */
    uint32_t *hist;
    size_t hist_n;
    uint64_t lat_max_ns;
    uint64_t first_commit_ns, last_commit_ns;
    uint64_t our_blocks; /* blocks that carried at least one of our txs */
    /* blocks seen by the follower */
    uint64_t blocks, block_txs, height_first, height_last;
    uint64_t first_block_ns, last_block_ns;
};

struct load {
    struct load_opts o;
    struct table table;
    struct stats st; /* commit fields guarded by table.mu */
    uint64_t t0_ns;
    uint64_t start_height;
    atomic_bool stop_follow;
    char follow_err[LOAD_ERR_MAX];
    /* transfers */
    struct ed25519_privkey keys[LOAD_MAX_FAUCETS];
    uint64_t nonces[LOAD_MAX_FAUCETS];
    uint8_t recipient[32];
    char run_id[17];
};

static void note_error(struct stats *st, const char *msg)
{
    if (!st->first_error[0])
        snprintf(st->first_error, sizeof(st->first_error), "%s", msg);
}

/* ------------------------------------------------------------------ the commit follower */

static void follow_block(struct load *l, json_t *block, uint64_t height, uint64_t seen_ns)
{
    json_t *txs = json_object_get(json_object_get(block, "data"), "txs");
    size_t n = json_is_array(txs) ? json_array_size(txs) : 0;
    uint8_t *raw = malloc(LOAD_MAX_TX_BYTES * 2);
    pthread_mutex_lock(&l->table.mu);
    struct stats *st = &l->st;
    if (st->blocks == 0) {
        st->height_first = height;
        st->first_block_ns = seen_ns;
    }
    st->blocks++;
    st->height_last = height;
    st->last_block_ns = seen_ns;
    st->block_txs += n;
    uint64_t before = st->committed;
    for (size_t i = 0; raw && i < n; i++) {
        const char *b64 = json_string_value(json_array_get(txs, i));
        size_t len;
        if (!b64 || px_base64_decode(raw, LOAD_MAX_TX_BYTES * 2, &len, b64, strlen(b64)) != 0)
            continue;
        uint8_t h[32];
        sha256(h, raw, len);
        uint64_t due = table_take(&l->table, h);
        if (!due)
            continue;
        uint64_t lat = seen_ns > due ? seen_ns - due : 0;
        size_t b = (size_t)(lat / 1000000u);
        st->hist[b < st->hist_n ? b : st->hist_n - 1]++;
        if (lat > st->lat_max_ns)
            st->lat_max_ns = lat;
        st->committed++;
    }
    if (st->committed > before) {
        if (st->our_blocks++ == 0)
            st->first_commit_ns = seen_ns;
        st->last_commit_ns = seen_ns;
    }
    pthread_mutex_unlock(&l->table.mu);
    free(raw);
}

static void *follow_main(void *arg)
{
    struct load *l = arg;
    struct hget h = {.node = &l->o.nodes[0], .fd = -1};
    uint64_t next = l->start_height + 1;
    char err[LOAD_ERR_MAX];
    while (!atomic_load(&l->stop_follow)) {
        json_t *j = NULL;
        uint64_t latest = 0;
        if (hget_json(&h, "/status", 5000, &j, err, sizeof(err)) == 0) {
            json_t *res = rpc_result(j, "status", err, sizeof(err));
            json_u64(json_object_get(json_object_get(res, "sync_info"), "latest_block_height"),
                     &latest);
            json_decref(j);
        } else {
            snprintf(l->follow_err, sizeof(l->follow_err), "%s", err);
        }
        while (next <= latest && !atomic_load(&l->stop_follow)) {
            char path[64];
            snprintf(path, sizeof(path), "/block?height=%" PRIu64, next);
            if (hget_json(&h, path, 10000, &j, err, sizeof(err)) != 0) {
                snprintf(l->follow_err, sizeof(l->follow_err), "%s", err);
                break;
            }
            json_t *res = rpc_result(j, "block", err, sizeof(err));
            if (!res) {
                snprintf(l->follow_err, sizeof(l->follow_err), "%s", err);
                json_decref(j);
                break;
            }
            follow_block(l, json_object_get(res, "block"), next, now_ns());
            json_decref(j);
            next++;
        }
        sleep_ms(LOAD_FOLLOW_POLL_MS);
    }
    hget_fini(&h);
    return NULL;
}

/* ------------------------------------------------------------------ the sender */

struct pend {
    uint8_t hash[32];
    int key; /* faucet key index, -1 for KV */
    uint64_t nonce;
    size_t req_len;  /* bytes of its HTTP request in the connection's output buffer */
    uint64_t due_ns; /* its scheduled time */
};

struct conn {
    const struct load_node *node;
    int fd;
    char *out;
    size_t out_len, out_off;
    char *in;
    size_t in_len;
    struct pend *pend; /* ring of unanswered requests, in send order */
    size_t pend_head, pend_n;
    size_t started;    /* entries from pend_head whose request is being or was written */
    size_t allow_end;  /* bytes of out that may be written: the end of the last started one */
    uint64_t retry_ns; /* when to redial after a failure */
};

/* Forget the queued requests not started yet: skipped, out of the table. */
static void unqueue(struct load *l, struct conn *c)
{
    l->st.skipped += c->pend_n - c->started; /* never written, so never in the table */
    c->pend_n = c->started;
}

static void conn_drop(struct load *l, struct conn *c, const char *why)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    /* requests written but unanswered may still have reached the node: they stay in the
     * table and count as committed if they commit; queued ones were never sent */
    l->st.unanswered += c->started;
    if (c->started)
        note_error(&l->st, why);
    unqueue(l, c);
    c->pend_n = 0;
    c->pend_head = 0;
    c->started = 0;
    c->allow_end = 0;
    c->out_len = c->out_off = 0;
    c->in_len = 0;
    c->retry_ns = now_ns() + 200000000u;
}

static void answer(struct load *l, struct conn *c, int status, const char *body, size_t len)
{
    if (c->started == 0)
        return; /* an answer to nothing we asked: ignored */
    struct pend p = c->pend[c->pend_head];
    c->pend_head = (c->pend_head + 1) % LOAD_PIPE_MAX;
    c->pend_n--;
    c->started--;
    char err[LOAD_ERR_MAX] = "";
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    bool ok = false;
    uint64_t code = 0;
    if (!j) {
        snprintf(err, sizeof(err), "HTTP %d from %s:%s, not JSON", status, c->node->host,
                 c->node->port);
    } else {
        json_t *res = rpc_result(j, l->o.method, err, sizeof(err));
        if (res) {
            json_u64(json_object_get(res, "code"), &code);
            ok = code == 0;
            if (!ok) {
                const char *log = json_string_value(json_object_get(res, "log"));
                snprintf(err, sizeof(err), "code %" PRIu64 ": %s", code, log ? log : "");
            }
        }
        json_decref(j);
    }
    if (ok) {
        l->st.accepted++;
        return;
    }
    l->st.rejected++;
    note_error(&l->st, err);
    pthread_mutex_lock(&l->table.mu);
    table_take(&l->table, p.hash);
    pthread_mutex_unlock(&l->table.mu);
    /* a refused transfer leaves a gap: its key goes on from the lowest refused nonce (the
     * later ones in flight are refused meanwhile). A nonce is sent again only after its
     * previous tx was refused, and with another amount, so the bytes differ. Only the
     * sync method reports refusals: with async a gap stays until the tx times out. */
    if (p.key >= 0 && p.nonce < l->nonces[p.key])
        l->nonces[p.key] = p.nonce;
}

static void conn_read(struct load *l, struct conn *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->in + c->in_len, LOAD_INBUF_BYTES - c->in_len, 0);
        if (r == 0) {
            conn_drop(l, c, "the node closed the connection");
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            conn_drop(l, c, "connection to the node failed");
            return;
        }
        c->in_len += (size_t)r;
        size_t off = 0;
        for (;;) {
            int status;
            size_t boff, blen;
            bool close_after;
            int rv = http_parse(c->in + off, c->in_len - off, LOAD_INBUF_BYTES, &status, &boff,
                                &blen, &close_after);
            if (rv == PX_EAGAIN)
                break;
            if (rv != 0) {
                conn_drop(l, c, "the node's answer is not an HTTP response we read");
                return;
            }
            answer(l, c, status, c->in + off + boff, blen);
            off += boff + blen;
            if (close_after) {
                conn_drop(l, c, "the node closed the connection (Connection: close)");
                return;
            }
        }
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        if (c->in_len == LOAD_INBUF_BYTES) {
            conn_drop(l, c, "an answer of the node is too large");
            return;
        }
    }
}

/* Start the queued requests the window allows: each enters the in-flight table as it is
 * written. One queued for longer than the timeout, or finding the table full, is dropped
 * unwritten (skipped); a transfer's dropped nonce is sent again by the next tx of its key. */
static void conn_write(struct load *l, struct conn *c)
{
    uint64_t now = now_ns(), timeout_ns = (uint64_t)l->o.timeout_s * 1000000000u;
    while (c->started < c->pend_n && c->started < LOAD_WINDOW) {
        struct pend *p = &c->pend[(c->pend_head + c->started) % LOAD_PIPE_MAX];
        int rv = PX_ETIMEDOUT;
        if (now - p->due_ns < timeout_ns) {
            pthread_mutex_lock(&l->table.mu);
            rv = table_insert(&l->table, p->hash, p->due_ns);
            pthread_mutex_unlock(&l->table.mu);
        }
        if (rv != 0 && c->started == 0) {
            /* at the head with nothing of it written: its bytes are skipped over */
            c->out_off += p->req_len;
            c->allow_end += p->req_len;
            if (p->key >= 0 && p->nonce < l->nonces[p->key])
                l->nonces[p->key] = p->nonce;
            c->pend_head = (c->pend_head + 1) % LOAD_PIPE_MAX;
            c->pend_n--;
            l->st.skipped++;
            continue;
        }
        c->allow_end += p->req_len;
        c->started++;
        l->st.sent++;
    }
    while (c->out_off < c->allow_end) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->allow_end - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            conn_drop(l, c, "sending to the node failed");
            return;
        }
        c->out_off += (size_t)w;
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = c->allow_end = 0;
    } else if (c->out_off > LOAD_OUTBUF_BYTES / 2) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->allow_end -= c->out_off;
        c->out_off = 0;
    }
}

/* Build tx number seq into buf; key and *nonce say which faucet nonce it used. */
static int make_tx(struct load *l, uint64_t seq, int key, uint8_t *buf, size_t cap, size_t *len,
                   uint64_t *nonce)
{
    if (l->o.kind == LOAD_KV) {
        int n = snprintf((char *)buf, cap, "ld-%s-%" PRIu64 "=", l->run_id, seq);
        if (n < 0 || (size_t)n >= cap || (size_t)n > l->o.size)
            return PX_ETOOBIG;
        for (size_t i = (size_t)n; i < l->o.size; i++)
            buf[i] = (uint8_t)('a' + (seq + i) % 26);
        *len = l->o.size;
        *nonce = 0;
        return 0;
    }
    *nonce = l->nonces[key];
    return ledger_tx_build(l->o.chain_id, l->keys[key].bytes, l->recipient, 1 + seq % 1000, *nonce,
                           buf, cap, len);
}

/* Queue tx number seq (due at due_ns). Returns 0, or PX_EBOUND when there was no room
 * (counted as skipped by the caller). */
static int submit(struct load *l, struct conn *conns, uint64_t seq, uint64_t due_ns)
{
    int key = -1;
    struct conn *c;
    if (l->o.kind == LOAD_TRANSFER) {
        key = (int)(seq % (uint64_t)l->o.n_faucets);
        c = &conns[key % l->o.connections]; /* one key, one connection: nonces in order */
    } else {
        c = &conns[seq % (uint64_t)l->o.connections];
    }
    if (c->fd < 0 || c->pend_n == LOAD_PIPE_MAX)
        return PX_EBOUND;
    uint8_t tx[LOAD_MAX_TX_BYTES];
    size_t len;
    uint64_t nonce;
    int rv = make_tx(l, seq, key, tx, sizeof(tx), &len, &nonce);
    if (rv != 0)
        return rv;
    char b64[PX_BASE64_LEN(LOAD_MAX_TX_BYTES)];
    px_base64_encode(b64, sizeof(b64), tx, len);
    char body[sizeof(b64) + 128];
    int blen = snprintf(body, sizeof(body),
                        "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64
                        ",\"method\":\"%s\",\"params\":{\"tx\":\"%s\"}}",
                        seq, l->o.method, b64);
    char head[256];
    int hlen = snprintf(head, sizeof(head),
                        "POST / HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n",
                        c->node->host, c->node->port, blen);
    size_t need = (size_t)hlen + (size_t)blen;
    if (c->out_len + need > LOAD_OUTBUF_BYTES)
        return PX_EBOUND;
    struct pend *p = &c->pend[(c->pend_head + c->pend_n) % LOAD_PIPE_MAX];
    sha256(p->hash, tx, len);
    p->key = key;
    p->nonce = nonce;
    p->req_len = need;
    p->due_ns = due_ns;
    memcpy(c->out + c->out_len, head, (size_t)hlen);
    memcpy(c->out + c->out_len + (size_t)hlen, body, (size_t)blen);
    c->out_len += need;
    c->pend_n++;
    if (key >= 0)
        l->nonces[key]++;
    return 0;
}

/* ------------------------------------------------------------------ setup */

static int setup_chain(struct load *l, char *err, size_t errcap)
{
    struct hget h = {.node = &l->o.nodes[0], .fd = -1};
    json_t *j;
    int rv = hget_json(&h, "/status", 5000, &j, err, errcap);
    if (rv != 0) {
        hget_fini(&h);
        return rv;
    }
    json_t *res = rpc_result(j, "status", err, errcap);
    if (!res) {
        json_decref(j);
        hget_fini(&h);
        return PX_EPROTO;
    }
    json_u64(json_object_get(json_object_get(res, "sync_info"), "latest_block_height"),
             &l->start_height);
    const char *net =
        json_string_value(json_object_get(json_object_get(res, "node_info"), "network"));
    if (!l->o.chain_id[0] && net && strlen(net) <= LEDGER_CHAIN_ID_MAX)
        strcpy(l->o.chain_id, net);
    json_decref(j);
    /* transfers: start each faucet key at its account's committed nonce */
    for (int k = 0; l->o.kind == LOAD_TRANSFER && k < l->o.n_faucets; k++) {
        char hex[PX_HEX_LEN(32)], path[160];
        px_hex_encode(hex, sizeof(hex), l->keys[k].bytes + 32, 32, false);
        snprintf(path, sizeof(path), "/abci_query?path=%%22/account%%22&data=0x%s", hex);
        if (hget_json(&h, path, 5000, &j, err, errcap) != 0) {
            fprintf(stderr, "phalanx load: warning: %s; starting key %d at nonce 0\n", err, k);
            continue;
        }
        json_t *resp = json_object_get(json_object_get(j, "result"), "response");
        const char *v64 = json_string_value(json_object_get(resp, "value"));
        uint8_t val[512];
        size_t vlen;
        if (v64 && px_base64_decode(val, sizeof(val) - 1, &vlen, v64, strlen(v64)) == 0) {
            val[vlen] = '\0';
            json_t *acct = json_loadb((const char *)val, vlen, 0, NULL);
            json_u64(json_object_get(acct, "nonce"), &l->nonces[k]);
            json_decref(acct);
        }
        json_decref(j);
    }
    hget_fini(&h);
    if (l->o.kind == LOAD_TRANSFER && !l->o.chain_id[0]) {
        snprintf(err, errcap, "the node's /status gave no chain id: pass --chain-id");
        return PX_EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------ report */

static double hist_pct(const struct stats *st, double p)
{
    if (st->committed == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(p * (double)st->committed), acc = 0;
    if (want == 0)
        want = 1;
    for (size_t i = 0; i < st->hist_n; i++) {
        acc += st->hist[i];
        if (acc >= want)
            return (double)(i + 1); /* the bucket's upper bound, ms */
    }
    return (double)st->hist_n;
}

static uint64_t o_duration_ns(const struct load *l)
{
    return (uint64_t)l->o.duration_s * 1000000000u;
}

/* Bytes of one tx: --size for KV, the fixed transfer length for the chain id. */
static size_t tx_size(const struct load *l)
{
    return l->o.kind == LOAD_KV ? l->o.size : LEDGER_TX_LEN(strlen(l->o.chain_id));
}

static void report(struct load *l, uint64_t end_send_ns)
{
    struct stats *st = &l->st;
    /* Committed tx/s: over the blocks that carried our txs, from the first to the last,
     * plus one mean interval between them (the first block also carries an interval's
     * worth of txs); with a single such block, over the sending time. */
    double span_s = (double)o_duration_ns(l) / 1e9;
    if (st->our_blocks > 1) {
        double between = (double)(st->last_commit_ns - st->first_commit_ns) / 1e9;
        span_s = between + between / (double)(st->our_blocks - 1);
    }
    double tps = span_s > 0 ? (double)st->committed / span_s : 0;
    double send_s = (double)(end_send_ns - l->t0_ns) / 1e9;
    double block_span = (double)(st->last_block_ns - st->first_block_ns) / 1e9;
    double block_rate =
        st->blocks > 1 && block_span > 0 ? (double)(st->blocks - 1) / block_span : 0;
    double p50 = hist_pct(st, 0.50), p90 = hist_pct(st, 0.90), p99 = hist_pct(st, 0.99);
    double max_ms = (double)st->lat_max_ns / 1e6;
    if (p50 > max_ms)
        p50 = max_ms;
    if (p90 > max_ms)
        p90 = max_ms;
    if (p99 > max_ms)
        p99 = max_ms;
    const char *kind = l->o.kind == LOAD_KV ? "kv" : "transfer";
    if (l->o.json) {
        json_t *j = json_pack(
            "{s:s, s:s, s:f, s:i, s:i, s:i, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, s:f, "
            "s:{s:f, s:f, s:f, s:f}, s:I, s:I, s:f, s:I, s:I, s:s?}",
            "method", l->o.method, "kind", kind, "rate", l->o.rate, "duration_s",
            (int)l->o.duration_s, "size", (int)tx_size(l), "connections", l->o.connections,
            "send_s", send_s, "sent", (json_int_t)st->sent, "accepted", (json_int_t)st->accepted,
            "rejected", (json_int_t)st->rejected, "unanswered", (json_int_t)st->unanswered,
            "skipped", (json_int_t)st->skipped, "committed", (json_int_t)st->committed, "lost",
            (json_int_t)st->lost, "first_error", st->first_error[0] ? st->first_error : NULL,
            "committed_tps", tps, "latency_ms", "p50", p50, "p90", p90, "p99", p99, "max", max_ms,
            "blocks", (json_int_t)st->blocks, "block_txs", (json_int_t)st->block_txs, "block_rate",
            block_rate, "height_first", (json_int_t)st->height_first, "height_last",
            (json_int_t)st->height_last, "follow_error", l->follow_err[0] ? l->follow_err : NULL);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
        return;
    }
    printf("load: %s txs of %zu bytes at %.0f tx/s for %u s over %d connections to %d node(s)\n",
           kind, tx_size(l), l->o.rate, l->o.duration_s, l->o.connections, l->o.n_nodes);
    printf("  sent        %" PRIu64 " (skipped for lack of room: %" PRIu64 ")\n", st->sent,
           st->skipped);
    printf("  accepted    %" PRIu64 "\n", st->accepted);
    printf("  rejected    %" PRIu64 "%s%s\n", st->rejected,
           st->first_error[0] ? "; first error: " : "", st->first_error);
    printf("  unanswered  %" PRIu64 "\n", st->unanswered);
    printf("  committed   %" PRIu64 " (lost after %u s: %" PRIu64 ")\n", st->committed,
           l->o.timeout_s, st->lost);
    printf("  committed   %.1f tx/s\n", tps);
    printf("  latency ms  p50 %.0f  p90 %.0f  p99 %.0f  max %.1f (submit to commit seen)\n", p50,
           p90, p99, max_ms);
    printf("  blocks      %" PRIu64 " (heights %" PRIu64 "..%" PRIu64 ", %.2f blocks/s, %" PRIu64
           " txs)\n",
           st->blocks, st->height_first, st->height_last, block_rate, st->block_txs);
    if (l->follow_err[0])
        printf("  follower    last error: %s\n", l->follow_err);
}

/* ------------------------------------------------------------------ main */

static int load_faucets(struct load *l)
{
    char err[KEYFILE_ERR_MAX];
    for (int k = 0; k < l->o.n_faucets; k++) {
        struct ed25519_pubkey pub;
        int rv =
            keyfile_load(l->o.faucets[k], KEYFILE_VALIDATOR, &l->keys[k], &pub, err, sizeof(err));
        if (rv != 0) {
            fprintf(stderr, "phalanx load: %s\n", err);
            return rv;
        }
    }
    struct ed25519_privkey rpriv;
    struct ed25519_pubkey rpub;
    if (ed25519_generate(&rpriv, &rpub) != 0)
        return PX_EINTERNAL;
    memcpy(l->recipient, rpub.bytes, 32);
    sodium_memzero(&rpriv, sizeof(rpriv));
    return 0;
}

static int run(struct load *l)
{
    char err[LOAD_ERR_MAX];
    struct load_opts *o = &l->o;
    if (ed25519_lib_init() != 0)
        return 1;
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof(rnd));
    px_hex_encode(l->run_id, sizeof(l->run_id), rnd, sizeof(rnd), false);
    if (o->kind == LOAD_TRANSFER && load_faucets(l) != 0)
        return 1;
    if (setup_chain(l, err, sizeof(err)) != 0) {
        fprintf(stderr, "phalanx load: %s\n", err);
        return 1;
    }
    double want = o->rate * (double)(o->timeout_s + 2) + 1024;
    if (table_init(&l->table, want > (double)LOAD_TABLE_MAX ? LOAD_TABLE_MAX : (size_t)want) != 0)
        return 1;
    l->st.hist_n = (size_t)o->timeout_s * 1000u + 1;
    l->st.hist = calloc(l->st.hist_n, sizeof(*l->st.hist));
    struct conn *conns = calloc((size_t)o->connections, sizeof(*conns));
    int status = 1;
    if (!l->st.hist || !conns)
        goto out;
    for (int i = 0; i < o->connections; i++) {
        struct conn *c = &conns[i];
        c->node = &o->nodes[i % o->n_nodes];
        c->out = malloc(LOAD_OUTBUF_BYTES);
        c->in = malloc(LOAD_INBUF_BYTES);
        c->pend = calloc(LOAD_PIPE_MAX, sizeof(*c->pend));
        if (!c->out || !c->in || !c->pend)
            goto out;
        c->fd = tcp_connect(c->node, true, err, sizeof(err));
        if (c->fd < 0) {
            fprintf(stderr, "phalanx load: %s\n", err);
            goto out;
        }
    }
    if (!o->json)
        fprintf(stderr, "phalanx load: %s at %.0f tx/s for %u s, from height %" PRIu64 "\n",
                o->kind == LOAD_KV ? "kv" : "transfer", o->rate, o->duration_s, l->start_height);

    pthread_t follower;
    l->t0_ns = now_ns();
    if (pthread_create(&follower, NULL, follow_main, l) != 0)
        goto out;
    const uint64_t total = (uint64_t)llround(o->rate * (double)o->duration_s);
    const uint64_t period_ns = 1000000000u;
    const uint64_t send_end = l->t0_ns + (uint64_t)o->duration_s * 1000000000u;
    const uint64_t timeout_ns = (uint64_t)o->timeout_s * 1000000000u;
    uint64_t seq = 0, next_sweep = l->t0_ns + period_ns, next_progress = l->t0_ns + period_ns;
    uint64_t end_send_ns = send_end;
    struct pollfd pfd[LOAD_MAX_CONNS];
    for (;;) {
        uint64_t now = now_ns();
        /* due transactions, each stamped with its scheduled time */
        uint64_t due_count = total;
        if (now < send_end)
            due_count = (uint64_t)(o->rate * (double)(now - l->t0_ns) / 1e9);
        if (due_count > total)
            due_count = total;
        while (seq < due_count) {
            uint64_t due = l->t0_ns + (uint64_t)((double)seq / o->rate * 1e9);
            if (submit(l, conns, seq, due) != 0)
                l->st.skipped++;
            seq++;
        }
        for (int i = 0; i < o->connections; i++)
            if (conns[i].fd >= 0)
                conn_write(l, &conns[i]);
        /* redial connections that failed */
        for (int i = 0; i < o->connections; i++)
            if (conns[i].fd < 0 && now >= conns[i].retry_ns) {
                conns[i].fd = tcp_connect(conns[i].node, true, err, sizeof(err));
                if (conns[i].fd < 0) {
                    note_error(&l->st, err);
                    conns[i].retry_ns = now + 500000000u;
                }
            }
        if (now >= next_sweep) {
            pthread_mutex_lock(&l->table.mu);
            if (now > timeout_ns)
                l->st.lost += table_sweep(&l->table, now - timeout_ns);
            size_t live = l->table.live;
            uint64_t committed = l->st.committed;
            pthread_mutex_unlock(&l->table.mu);
            next_sweep = now + period_ns / 2;
            if (!o->json && now >= next_progress) {
                fprintf(stderr,
                        "  %3.0fs sent %" PRIu64 " accepted %" PRIu64 " rejected %" PRIu64
                        " committed %" PRIu64 " in flight %zu\n",
                        (double)(now - l->t0_ns) / 1e9, l->st.sent, l->st.accepted, l->st.rejected,
                        committed, live);
                next_progress += period_ns;
            }
            if (now >= send_end && seq >= total) {
                bool answered = true;
                for (int i = 0; i < o->connections; i++)
                    answered = answered && conns[i].pend_n == 0;
                if ((live == 0 && answered) || now >= send_end + timeout_ns)
                    break;
            }
        }
        if (now >= send_end && seq >= total && end_send_ns == send_end)
            end_send_ns = now;
        /* wait for answers, room to write, or the next due tx */
        nfds_t n = 0;
        for (int i = 0; i < o->connections; i++) {
            if (conns[i].fd < 0)
                continue;
            pfd[n].fd = conns[i].fd;
            pfd[n].events = POLLIN | (conns[i].allow_end > conns[i].out_off ? POLLOUT : 0);
            pfd[n].revents = 0;
            n++;
        }
        int wait_ms = 2;
        if (seq >= total)
            wait_ms = 50;
        if (poll(pfd, n, wait_ms) < 0 && errno != EINTR)
            break;
        n = 0;
        for (int i = 0; i < o->connections; i++) {
            if (conns[i].fd < 0)
                continue;
            short re = pfd[n++].revents;
            if (re & (POLLIN | POLLHUP | POLLERR))
                conn_read(l, &conns[i]);
            if (conns[i].fd >= 0)
                conn_write(l, &conns[i]); /* the rest of a request, or the next queued one */
        }
    }
    for (int i = 0; i < o->connections; i++)
        unqueue(l, &conns[i]); /* due but never written before the end: skipped */
    /* give the follower one more poll to see the last blocks, then stop it */
    sleep_ms(LOAD_FOLLOW_POLL_MS * 3);
    atomic_store(&l->stop_follow, true);
    pthread_join(follower, NULL);
    pthread_mutex_lock(&l->table.mu);
    l->st.lost += l->table.live; /* still uncommitted at the end */
    pthread_mutex_unlock(&l->table.mu);
    report(l, end_send_ns);
    status = 0;
out:
    for (int i = 0; conns && i < o->connections; i++) {
        if (conns[i].fd > 0)
            close(conns[i].fd);
        free(conns[i].out);
        free(conns[i].in);
        free(conns[i].pend);
    }
    free(conns);
    free(l->st.hist);
    if (l->table.slots)
        table_fini(&l->table);
    sodium_memzero(l->keys, sizeof(l->keys));
    return status;
}

int cmd_load(int argc, char **argv)
{
    struct load *l = calloc(1, sizeof(*l));
    if (!l) {
        fprintf(stderr, "phalanx load: out of memory\n");
        return 1;
    }
    int rv = parse_opts(argc, argv, &l->o);
    if (rv < 0)
        rv = run(l);
    free(l);
    return rv;
}
