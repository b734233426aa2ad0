/* Integration test of issue 6: a 4-validator network of real processes on 127.0.0.1.
 * Transactions sent to different nodes are committed; every node has the same block hash
 * and app hash at every height; one validator down → the others go on; two down → no
 * commits and no fork, and commits resume when one returns; a restarted validator catches
 * up; an app killed and restarted → its engine resumes; a peer sending garbage and an
 * oversized frame is dropped while the network keeps committing.
 * argv: phalanx phalanxd kvledger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net_harness.h"
#include "px_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *bins[3];

#define HEIGHTS_TARGET 100

static void send_garbage(uint16_t port, size_t n, bool big_length)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        uint8_t buf[4096];
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)(i * 37 + 11);
        if (big_length) { /* a frame header announcing 2 GiB */
            buf[0] = 0x7f;
            buf[1] = buf[2] = buf[3] = 0xff;
        }
        ssize_t w = write(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
        (void)w;
    }
    close(fd);
}

struct quiet {
    struct net *net;
    int i;
    uint64_t h;
};

static bool advanced(void *u)
{
    struct quiet *q = u;
    return net_height(q->net, q->i) > q->h;
}

struct big_wait {
    struct net *net;
    int node;
    uint64_t after;
};

static bool big_block_seen(void *u)
{
    struct big_wait *w = u;
    uint64_t top = net_height(w->net, w->node);
    for (uint64_t h = w->after + 1; h <= top; h++) {
        uint8_t hash[32], app[64];
        size_t al;
        uint32_t ntx = 0;
        if (net_block(w->net, w->node, h, hash, app, &al, &ntx) == 0 && ntx >= 40)
            return true;
    }
    return false;
}

static void network(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, 4, bins);
    net_start_all(&net);
    for (int i = 0; i < 4; i++) {
        assert_true(net_wait_height(&net, i, 2, 60000));
        assert_true(net_wait_rpc(&net, i, 60000));
    }

    /* transactions to different nodes */
    char key[32], val[32];
    for (int k = 0; k < 40; k++) {
        snprintf(key, sizeof(key), "key%02d", k);
        snprintf(val, sizeof(val), "value%d", k);
        assert_int_equal(net_submit_kv(&net, k % 4, key, val), 0);
    }
    /* every node serves every value once committed */
    for (int k = 0; k < 40; k++) {
        snprintf(key, sizeof(key), "key%02d", k);
        snprintf(val, sizeof(val), "value%d", k);
        for (int i = 0; i < 4; i++) {
            char got[64] = "";
            int found = 0;
            for (int tries = 0; tries < 600 && found != 1; tries++) {
                found = net_query_key(&net, i, key, got, sizeof(got));
                if (found != 1)
                    assert_true(net_wait_height(&net, i, net_height(&net, i) + 1, 10000));
            }
            assert_int_equal(found, 1);
            assert_string_equal(got, val);
        }
    }

    /* blocks of many parts: 8 KB transactions reach every node in blocks of 40 or more
     * (> 320 KB, more than 5 parts of 64 KB each) */
    uint64_t before = net_height(&net, 0);
    static uint8_t big[8200];
    for (int k = 0; k < 160; k++) {
        int n = snprintf((char *)big, sizeof(big), "big%03d=", k);
        memset(big + n, 'a' + k % 26, 8000);
        assert_int_equal(net_submit_tx(&net, k % 2, big, (size_t)n + 8000), 0);
    }
    struct big_wait bw = {&net, 3, before};
    assert_true(pxt_wait_until(big_block_seen, &bw, 120000));

    /* 100 heights */
    for (int i = 0; i < 4; i++)
        assert_true(net_wait_height(&net, i, HEIGHTS_TARGET, 300000));

    /* one validator stopped: the other three go on */
    net_stop_node(&net, 3, SIGTERM);
    uint64_t h = net_height(&net, 0);
    assert_true(net_wait_height(&net, 0, h + 5, 60000));

    /* two stopped: no commits (and no fork) ... */
    net_stop_node(&net, 2, SIGKILL);
    uint64_t h0 = net_height(&net, 0);
    struct quiet q = {&net, 0, h0 + 1}; /* the height in flight may still finish */
    assert_false(pxt_wait_until(advanced, &q, 4000));
    uint64_t stalled = net_height(&net, 0);
    /* ... until one returns */
    net_start_node(&net, 2);
    assert_true(net_wait_height(&net, 0, stalled + 3, 60000));
    /* the one stopped first catches up */
    net_start_node(&net, 3);
    uint64_t now = net_height(&net, 0);
    assert_true(net_wait_height(&net, 3, now, 60000));

    /* an app killed and restarted: its engine resumes */
    net_stop_app(&net, 1, SIGKILL);
    net_start_app(&net, 1);
    now = net_height(&net, 0);
    assert_true(net_wait_height(&net, 1, now + 3, 60000));

    /* garbage and an oversized frame at node 0's p2p port: the network keeps going */
    for (int k = 0; k < 5; k++) {
        send_garbage((uint16_t)net.base, 4096, false);
        send_garbage((uint16_t)net.base, 64, true);
    }
    now = net_height(&net, 1);
    for (int i = 0; i < 4; i++)
        assert_true(net_wait_height(&net, i, now + 3, 60000));

    net_stop_all(&net);
    uint64_t compared = 0;
    for (int i = 1; i < 4; i++)
        compared += net_assert_same_chain(&net, 0, i);
    assert_true(compared >= 3 * HEIGHTS_TARGET);
    char log[400];
    snprintf(log, sizeof(log), "%s/node0/node.log", net.dir);
    char *text = pxt_read_file(log, NULL);
    assert_non_null(text);
    /* the garbage connections were dropped, with the reason logged */
    assert_true(strstr(text, "peer dropped for misbehaving") || strstr(text, "peer banned"));
    free(text);
    net_destroy(&net);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_network PHALANX PHALANXD KVLEDGER\n");
        return 2;
    }
    bins[0] = argv[1];
    bins[1] = argv[2];
    bins[2] = argv[3];
    const struct CMUnitTest tests[] = {cmocka_unit_test(network)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
