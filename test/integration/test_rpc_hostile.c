/* Hostile JSON-RPC clients against a live single-validator network (issue 21, findings 2
 * and 4), real processes on 127.0.0.1 (net_harness):
 * - fd exhaustion: phalanxd starts with a soft limit of 256 file descriptors and
 * max_open_connections = 64; 300 connections that each send "GET /hea" and stay open must not stop
 * the chain (the signer needs fds to make its state durable), and once they are gone /health
 * answers;
 * - websocket subscribers that never read: ten of them, their buffers filled by blocks of
 *   large txs, while a good subscriber gets every NewBlock in order and broadcast_tx_commit
 *   calls all commit (publishing used to wait 5 s on each stuck client in turn).
 * argv: phalanx phalanxd kvledger. Exit 77 (skip) when phalanxd is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net_harness.h"
#include "px_encoding.h"
#include "px_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *bins[3];

static uint16_t rpc_port(struct net *net)
{
    return (uint16_t)(net->base + 1);
}

/* Replace "key = old;" by "key = value;" in node i's node.conf. */
static void set_option(struct net *net, int i, const char *key, const char *value)
{
    char path[400];
    snprintf(path, sizeof path, "%s/node%d/config/node.conf", net->dir, i);
    char *text = pxt_read_file(path, NULL);
    assert_non_null(text);
    char pat[128];
    snprintf(pat, sizeof pat, "  %s = ", key);
    char *at = strstr(text, pat);
    assert_non_null(at);
    char *end = strchr(at, ';');
    assert_non_null(end);
    size_t cap = strlen(text) + strlen(value) + 64;
    char *out = malloc(cap);
    snprintf(out, cap, "%.*s%s%s%s", (int)(at - text), text, pat, value, end);
    assert_int_equal(pxt_write_file(path, out, strlen(out)), 0);
    free(out);
    free(text);
}

static bool health_ok(void *user)
{
    char body[256];
    return net_http_get(*(uint16_t *)user, "/health", body, sizeof body, 2000) == 200;
}

static void test_fd_flood(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, 1, bins);
    set_option(&net, 0, "max_open_connections", "64");
    set_option(&net, 0, "max_connections_per_ip", "0");
    set_option(&net, 0, "read_timeout_ms", "60000");
    net_start_app(&net, 0);
    /* The node (only it) starts with a soft limit of 256 file descriptors. */
    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    small = saved;
    small.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &small), 0);
    net_start_node(&net, 0);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    assert_true(net_wait_height(&net, 0, 2, 120000));

    /* Connects do not wait: beyond the node's cap its listen queue fills and the kernel
     * stops answering them. Those established within 3 s send "GET /hea" and stay. */
    int fds[300];
    for (int i = 0; i < 300; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fds[i] >= 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons(rpc_port(&net));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fds[i], (struct sockaddr *)&sa, sizeof sa);
        assert_true(rc == 0 || errno == EINPROGRESS);
    }
    /* Wait (at most 3 s) until each connect has finished, one way or the other. */
    bool done[300] = {false};
    int opened = 0, pending = 300;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd[300];
        int idx[300], n = 0;
        for (int i = 0; i < 300; i++)
            if (!done[i]) {
                pfd[n] = (struct pollfd){.fd = fds[i], .events = POLLOUT};
                idx[n++] = i;
            }
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left =
            3000 - ((long)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (pending == 0 || left <= 0 || poll(pfd, (nfds_t)n, (int)left) <= 0)
            break;
        for (int k = 0; k < n; k++) {
            if (!(pfd[k].revents & (POLLOUT | POLLERR | POLLHUP)))
                continue;
            int i = idx[k], soerr = 1;
            socklen_t sl = sizeof soerr;
            done[i] = true;
            pending--;
            if (getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0 &&
                send(fds[i], "GET /hea", 8, MSG_NOSIGNAL) == 8)
                opened++;
        }
    }
    assert_true(opened > 64);
    /* With every connection slot held, the validator keeps signing and committing. */
    uint64_t h = net_height(&net, 0);
    if (!net_wait_height(&net, 0, h + 5, 60000))
        fail_msg("the chain stopped under %d idle RPC connections at height %llu", opened,
                 (unsigned long long)net_height(&net, 0));
    for (int i = 0; i < 300; i++)
        close(fds[i]);
    uint16_t port = rpc_port(&net);
    assert_true(pxt_wait_until(health_ok, &port, 30000));
    h = net_height(&net, 0);
    assert_true(net_wait_height(&net, 0, h + 2, 60000));
    net_destroy(&net);
}

/* ---- a small websocket client ---- */

static int ws_open(uint16_t port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {15, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *req = "GET /websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    char resp[1024];
    size_t n = 0;
    while (n + 1 < sizeof resp && (n < 4 || memcmp(resp + n - 4, "\r\n\r\n", 4) != 0)) {
        if (recv(fd, resp + n, 1, 0) != 1)
            break;
        n++;
    }
    resp[n] = '\0';
    if (strncmp(resp, "HTTP/1.1 101", 12) != 0)
        fail_msg("websocket refused: %s", resp);
    return fd;
}

static int ws_send(int fd, const char *text)
{
    size_t len = strlen(text);
    uint8_t frame[1024];
    assert_true(len < 126 + 0xFFFF && len + 8 <= sizeof frame);
    size_t hl = 2;
    frame[0] = 0x81;
    if (len < 126) {
        frame[1] = (uint8_t)(0x80 | len);
    } else {
        frame[1] = 0x80 | 126;
        frame[2] = (uint8_t)(len >> 8);
        frame[3] = (uint8_t)len;
        hl = 4;
    }
    uint8_t mask[4] = {1, 2, 3, 4};
    memcpy(frame + hl, mask, 4);
    for (size_t i = 0; i < len; i++)
        frame[hl + 4 + i] = (uint8_t)text[i] ^ mask[i % 4];
    ssize_t n = send(fd, frame, hl + 4 + len, MSG_NOSIGNAL);
    return n == (ssize_t)(hl + 4 + len) ? 0 : -1;
}

static bool recv_all(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(fd, buf + got, n - got, 0);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

/* One text frame's payload (malloc'd), or NULL when the connection ends or times out. */
static char *ws_recv_text(int fd)
{
    for (;;) {
        uint8_t h[2];
        if (!recv_all(fd, h, 2))
            return NULL;
        uint64_t len = h[1] & 0x7F;
        if (len >= 126) {
            uint8_t ext[8];
            size_t k = len == 126 ? 2 : 8;
            if (!recv_all(fd, ext, k))
                return NULL;
            len = 0;
            for (size_t i = 0; i < k; i++)
                len = len << 8 | ext[i];
        }
        char *buf = malloc(len + 1);
        if (!recv_all(fd, (uint8_t *)buf, (size_t)len)) {
            free(buf);
            return NULL;
        }
        buf[len] = '\0';
        if ((h[0] & 0x0F) == 1)
            return buf;
        free(buf);
    }
}

static uint64_t event_height(const char *text)
{
    const char *p = strstr(text, "\"height\":\"");
    return p ? strtoull(p + 10, NULL, 10) : 0;
}

static void test_ws_stuck_subscribers(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, 1, bins);
    set_option(&net, 0, "max_subscription_clients", "20");
    set_option(&net, 0, "write_timeout_ms", "2000");
    net_start_all(&net);
    assert_true(net_wait_height(&net, 0, 2, 120000));
    uint16_t port = rpc_port(&net);

    /* Ten subscribers that never read, with small receive buffers. */
    int bad[10];
    for (int i = 0; i < 10; i++) {
        bad[i] = ws_open(port, 2048);
        assert_int_equal(ws_send(bad[i], "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"subscribe\","
                                         "\"params\":{\"query\":\"tm.event='NewBlock'\"}}"),
                         0);
    }
    int good = ws_open(port, 0);
    assert_int_equal(ws_send(good, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"subscribe\","
                                   "\"params\":{\"query\":\"tm.event='NewBlock'\"}}"),
                     0);
    char *ack = ws_recv_text(good);
    assert_non_null(ack);
    free(ack);

    /* Blocks of large transactions fill every stuck subscriber's buffers. */
    uint64_t h0 = net_height(&net, 0);
    char *big = malloc(8000);
    for (int i = 0; i < 300; i++) { /* 2.4 MB, 3.2 MB of events for each subscriber */
        int k = snprintf(big, 8000, "big-%d=", i);
        memset(big + k, 'v', 7990 - (size_t)k);
        big[7990] = '\0';
        assert_int_equal(net_submit_tx(&net, 0, (const uint8_t *)big, strlen(big)), 0);
    }
    free(big);
    assert_true(net_wait_height(&net, 0, h0 + 3, 60000));

    /* Five broadcast_tx_commit calls commit (none "timed out"), and the good subscriber
     * sees consecutive NewBlock events meanwhile (SO_RCVTIMEO 15 s per frame). */
    for (int i = 0; i < 5; i++) {
        char tx[64], b64[128], body[256], out[4096];
        snprintf(tx, sizeof tx, "hostile-%d=v", i);
        px_base64_encode(b64, sizeof b64, (const uint8_t *)tx, strlen(tx));
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"broadcast_tx_commit\","
                 "\"params\":{\"tx\":\"%s\"}}",
                 b64);
        int st = net_http_post(port, body, out, sizeof out, 30000);
        if (st != 200 || strstr(out, "\"error\"") != NULL || strstr(out, "\"height\":\"0\""))
            fail_msg("broadcast_tx_commit %d: HTTP %d %s", i, st, out);
    }
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        char *ev = ws_recv_text(good);
        if (ev == NULL)
            fail_msg("the good subscriber got no NewBlock (after %d)", i);
        uint64_t h = event_height(ev);
        free(ev);
        assert_true(h > 0);
        if (last != 0)
            assert_int_equal(h, last + 1);
        last = h;
    }
    close(good);
    for (int i = 0; i < 10; i++)
        close(bad[i]);
    net_destroy(&net);
}

int main(int argc, char **argv)
{
    if (argc < 4 || access(argv[2], X_OK) != 0) {
        fprintf(stderr, "usage: %s PHALANX PHALANXD KVLEDGER (skipped)\n", argv[0]);
        return 77;
    }
    bins[0] = argv[1];
    bins[1] = argv[2];
    bins[2] = argv[3];
    pxt_quiet_logs();
    if (getenv("PXT_FILTER"))
        cmocka_set_test_filter(getenv("PXT_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_flood),
        cmocka_unit_test(test_ws_stuck_subscribers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
