/*
 * net_harness: see net_harness.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net_harness.h"

#include "blockstore.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

void net_create(struct net *net, int n, const char *const bins[3])
{
    memset(net, 0, sizeof(*net));
    assert_true(n >= 1 && n <= NET_MAX);
    net->n = n;
    net->phalanx = bins[0];
    net->phalanxd = bins[1];
    net->kvledger = bins[2];
    char tmp[200];
    assert_int_equal(pxt_tmpdir("net", tmp, sizeof(tmp)), 0);
    snprintf(net->dir, sizeof(net->dir), "%s/testnet", tmp);
    net->base = pxt_free_port_range(n, 10);
    assert_true(net->base != 0);
    char nbuf[8], pbuf[8], log[300];
    snprintf(nbuf, sizeof(nbuf), "%d", n);
    snprintf(pbuf, sizeof(pbuf), "%u", net->base);
    snprintf(log, sizeof(log), "%s/testnet.log", tmp);
    const char *argv[] = {net->phalanx, "testnet",     "--validators", nbuf, "--out",
                          net->dir,     "--base-port", pbuf,           NULL};
    int status = 0;
    char *out = NULL;
    int err = pxt_run(argv, log, 60000, &status, &out);
    if (err || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "phalanx testnet failed (%d):\n%s\n", err, out ? out : "");
        free(out);
        fail();
    }
    free(out);
}

void net_start_app(struct net *net, int i)
{
    char addr[64], home[320], log[340];
    snprintf(addr, sizeof(addr), "tcp://127.0.0.1:%u", net->base + 10 * i + 2);
    snprintf(home, sizeof(home), "%s/node%d/app", net->dir, i);
    snprintf(log, sizeof(log), "%s/node%d/app.log", net->dir, i);
    const char *argv[] = {net->kvledger, "--listen", addr, "--home", home, NULL};
    net->app[i] = pxt_spawn(argv, log);
    assert_true(net->app[i] > 0);
}

void net_start_node(struct net *net, int i)
{
    char home[320], log[340];
    snprintf(home, sizeof(home), "%s/node%d", net->dir, i);
    snprintf(log, sizeof(log), "%s/node%d/node.log", net->dir, i);
    const char *argv[] = {net->phalanxd, "--home", home, NULL};
    net->node[i] = pxt_spawn(argv, log);
    assert_true(net->node[i] > 0);
}

void net_start_all(struct net *net)
{
    for (int i = 0; i < net->n; i++)
        net_start_app(net, i);
    for (int i = 0; i < net->n; i++)
        net_start_node(net, i);
}

void net_stop_node(struct net *net, int i, int sig)
{
    if (net->node[i] > 0)
        pxt_stop(net->node[i], sig, 20000, NULL);
    net->node[i] = 0;
}

void net_stop_app(struct net *net, int i, int sig)
{
    if (net->app[i] > 0)
        pxt_stop(net->app[i], sig, 20000, NULL);
    net->app[i] = 0;
}

void net_stop_all(struct net *net)
{
    for (int i = 0; i < net->n; i++)
        net_stop_node(net, i, SIGTERM);
    for (int i = 0; i < net->n; i++)
        net_stop_app(net, i, SIGTERM);
}

/* A sanitizer report in a child's log fails the test: the children run with the same
 * sanitizers as the tests, and their reports would otherwise go unseen. */
static void check_logs(struct net *net)
{
    static const char *const logs[] = {"node.log", "app.log"};
    for (int i = 0; i < net->n; i++) {
        for (int k = 0; k < 2; k++) {
            char path[400];
            snprintf(path, sizeof(path), "%s/node%d/%s", net->dir, i, logs[k]);
            char *text = pxt_read_file(path, NULL);
            if (!text)
                continue;
            const char *bad = strstr(text, "runtime error:");
            if (!bad)
                bad = strstr(text, "ERROR: AddressSanitizer");
            if (!bad)
                bad = strstr(text, "ERROR: LeakSanitizer");
            if (bad) /* the report with its first stacks */
                fprintf(stderr, "sanitizer report in %s:\n%.4000s\n", path, bad);
            free(text);
            assert_null(bad);
        }
    }
}

void net_destroy(struct net *net)
{
    net_stop_all(net);
    check_logs(net);
    if (getenv("PX_KEEP_TESTNET")) {
        fprintf(stderr, "testnet kept in %s\n", net->dir);
        return;
    }
    char parent[256];
    snprintf(parent, sizeof(parent), "%s", net->dir);
    char *slash = strrchr(parent, '/');
    if (slash)
        *slash = '\0';
    pxt_rmtree(parent);
}

static int open_store(struct net *net, int i, struct blockstore **bs)
{
    char path[340];
    snprintf(path, sizeof(path), "%s/node%d/data/blockstore.db", net->dir, i);
    if (access(path, R_OK) != 0)
        return PX_ENOTFOUND;
    return blockstore_open_readonly(path, bs);
}

uint64_t net_height(struct net *net, int i)
{
    struct blockstore *bs;
    if (open_store(net, i, &bs) != 0)
        return 0;
    uint64_t base, top;
    blockstore_range(bs, &base, &top);
    blockstore_close(bs);
    return top;
}

struct wait_h {
    struct net *net;
    int i;
    uint64_t h;
};

static bool reached(void *u)
{
    struct wait_h *w = u;
    return net_height(w->net, w->i) >= w->h;
}

bool net_wait_height(struct net *net, int i, uint64_t h, int timeout_ms)
{
    struct wait_h w = {net, i, h};
    return pxt_wait_until(reached, &w, timeout_ms);
}

int net_block(struct net *net, int i, uint64_t h, uint8_t hash[32], uint8_t app_hash[64],
              size_t *app_hash_len, uint32_t *num_txs)
{
    struct blockstore *bs;
    int err = open_store(net, i, &bs);
    if (err)
        return err;
    struct blockstore_meta m;
    err = blockstore_load_meta(bs, h, &m);
    blockstore_close(bs);
    if (err)
        return err;
    memcpy(hash, m.hash, 32);
    memcpy(app_hash, m.app_hash, m.app_hash_len);
    *app_hash_len = m.app_hash_len;
    if (num_txs)
        *num_txs = m.num_txs;
    return 0;
}

uint64_t net_assert_same_chain(struct net *net, int a, int b)
{
    uint64_t top = net_height(net, a), tb = net_height(net, b);
    if (tb < top)
        top = tb;
    for (uint64_t h = 1; h <= top; h++) {
        uint8_t ha[32], hb[32], aa[64], ab[64];
        size_t la = 0, lb = 0; /* set by net_block; gcc -O3 cannot see the asserts stop */
        assert_int_equal(net_block(net, a, h, ha, aa, &la, NULL), 0);
        assert_int_equal(net_block(net, b, h, hb, ab, &lb, NULL), 0);
        if (memcmp(ha, hb, 32) != 0 || la != lb || memcmp(aa, ab, la) != 0) {
            fprintf(stderr, "nodes %d and %d differ at height %llu\n", a, b, (unsigned long long)h);
            fail();
        }
    }
    return top;
}

/* One HTTP/1.1 exchange (Connection: close) with the request text given. */
static int http_exchange(uint16_t port, const char *req, size_t req_len, char *out, size_t cap,
                         int timeout_ms);

int net_http_get(uint16_t port, const char *path, char *out, size_t cap, int timeout_ms)
{
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof(req))
        return PX_ETOOBIG;
    return http_exchange(port, req, (size_t)n, out, cap, timeout_ms);
}

int net_http_post(uint16_t port, const char *json, char *out, size_t cap, int timeout_ms)
{
    size_t jl = strlen(json);
    char *req = malloc(jl + 256);
    if (!req)
        return PX_ENOMEM;
    int n = snprintf(req, jl + 256,
                     "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     jl, json);
    int st = http_exchange(port, req, (size_t)n, out, cap, timeout_ms);
    free(req);
    return st;
}

int net_submit_tx(struct net *net, int i, const uint8_t *tx, size_t len)
{
    size_t bl = PX_BASE64_LEN(len);
    char *b64 = malloc(bl), *json = malloc(bl + 128);
    int st = PX_ENOMEM;
    if (b64 && json && px_base64_encode(b64, bl, tx, len) == 0) {
        snprintf(json, bl + 128,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"broadcast_tx_sync\","
                 "\"params\":{\"tx\":\"%s\"}}",
                 b64);
        char body[4096];
        st = net_http_post((uint16_t)(net->base + 10 * i + 1), json, body, sizeof(body), 10000);
        if (st != 200 || !strstr(body, "\"code\":0"))
            fprintf(stderr, "broadcast_tx_sync at node %d: HTTP %d: %.300s\n", i, st, body);
        if (st == 200)
            st = strstr(body, "\"code\":0") ? 0 : PX_EAPP;
        else if (st > 0)
            st = PX_EPROTO;
    }
    free(b64);
    free(json);
    return st;
}

static int http_exchange(uint16_t port, const char *req, size_t req_len, char *out, size_t cap,
                         int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return PX_EIO;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return PX_ECLOSED;
    }
    if (write(fd, req, req_len) != (ssize_t)req_len) {
        close(fd);
        return PX_EIO;
    }
    static char buf[1 << 20];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof(buf) - 1)
            break;
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return PX_EPROTO;
    const char *body = strstr(buf, "\r\n\r\n");
    body = body ? body + 4 : "";
    snprintf(out, cap, "%s", body);
    return status;
}

static void url_hex(char *out, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (cap < 2 * n + 1) {
        out[0] = '\0';
        return;
    }
    px_hex_encode(out, cap, (const uint8_t *)s, n, false);
}

int net_submit_kv(struct net *net, int i, const char *key, const char *value)
{
    char tx[512], hex[1100], path[1200], body[4096];
    snprintf(tx, sizeof(tx), "%s=%s", key, value);
    url_hex(hex, sizeof(hex), tx);
    snprintf(path, sizeof(path), "/broadcast_tx_sync?tx=0x%s", hex);
    int st = net_http_get((uint16_t)(net->base + 10 * i + 1), path, body, sizeof(body), 5000);
    if (st != 200)
        return st < 0 ? st : PX_EPROTO;
    return strstr(body, "\"code\":0") || strstr(body, "\"code\": 0") ? 0 : PX_EAPP;
}

int net_query_key(struct net *net, int i, const char *key, char *value, size_t cap)
{
    char hex[600], path[800], body[8192];
    url_hex(hex, sizeof(hex), key);
    snprintf(path, sizeof(path), "/abci_query?path=\"/key\"&data=0x%s", hex);
    int st = net_http_get((uint16_t)(net->base + 10 * i + 1), path, body, sizeof(body), 5000);
    if (st != 200)
        return st < 0 ? st : PX_EPROTO;
    if (strstr(body, "\"error\"") || !strstr(body, "\"response\""))
        return PX_EAPP; /* the node could not ask its app (e.g. reconnecting) */
    const char *v = strstr(body, "\"value\":\"");
    if (!v)
        return 0;
    v += 9;
    const char *e = strchr(v, '"');
    if (!e || e == v)
        return 0;
    uint8_t raw[1024];
    size_t rl;
    if (px_base64_decode(raw, sizeof(raw), &rl, v, (size_t)(e - v)) != 0)
        return PX_EDECODE;
    if (rl >= cap)
        rl = cap - 1;
    memcpy(value, raw, rl);
    value[rl] = '\0';
    return 1;
}

struct rpc_wait {
    struct net *net;
    int i;
};

static bool rpc_up(void *u)
{
    struct rpc_wait *w = u;
    char body[256];
    return net_http_get((uint16_t)(w->net->base + 10 * w->i + 1), "/health", body, sizeof(body),
                        1000) == 200;
}

bool net_wait_rpc(struct net *net, int i, int timeout_ms)
{
    struct rpc_wait w = {net, i};
    return pxt_wait_until(rpc_up, &w, timeout_ms);
}
