/* Hostile peers against a real node (issue 21 #11): a single-validator network (phalanxd +
 * kvledger, net_harness) and peers made in this process that speak the real p2p handshake
 * (the library's own handshake, frame and codec pieces, as the fuzz targets use them). A
 * peer catching up at a normal pace gets every block it asks for and stays connected; a peer
 * that floods BlockRequest is disconnected and banned, with the reason in the node's log,
 * and refused when it comes back; the normal peer and the chain go on meanwhile.
 * argv: phalanx phalanxd kvledger. Exit 77 (skip) when phalanxd is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cmsg.h"
#include "net_harness.h"
#include "p2p.h"
#include "p2p_codec.h"
#include "p2p_frame.h"
#include "p2p_handshake.h"
#include "px_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NETWORK "phalanx-testnet" /* `phalanx testnet`'s chain id */
#define WAIT_MS 20000

static const char *bins[3];

/* --- a peer speaking the protocol --------------------------------------------------- */

struct peer {
    int fd;
    char id[P2P_ID_LEN + 1];
    struct p2p_handshake hs;
    struct p2p_frame_key tx, rx;
    pthread_mutex_t tx_mtx;
    pthread_t reader;
    bool reader_started;
    atomic_bool authed; /* the node's auth frame arrived: it admitted us */
    atomic_bool closed; /* the node closed the connection */
    atomic_uint_fast64_t blocks, no_blocks, sent;
    uint8_t *rx_msg; /* reassembly of a blocksync message */
    size_t rx_len;
};

static bool read_all(int fd, void *b, size_t n)
{
    uint8_t *p = b;
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static bool write_all(int fd, const void *b, size_t n)
{
    const uint8_t *p = b;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool peer_send_packet(struct peer *pe, const struct p2p_packet *pk)
{
    static __thread uint8_t pt[P2P_CHUNK_BYTES + 64], fr[P2P_CHUNK_BYTES + 128];
    size_t n, len;
    if (p2p_codec_packet_encode(pk, pt, sizeof(pt), &n) != 0)
        return false;
    pthread_mutex_lock(&pe->tx_mtx);
    bool ok =
        p2p_frame_seal(&pe->tx, pt, n, fr, sizeof(fr), &len) == 0 && write_all(pe->fd, fr, len);
    pthread_mutex_unlock(&pe->tx_mtx);
    return ok;
}

static void on_blocksync(struct peer *pe, const uint8_t *data, size_t len)
{
    struct cmsg m;
    if (cmsg_decode(data, len, 64u << 20, &m) != 0)
        return;
    if (m.kind == CMSG_BLOCK_RESPONSE)
        atomic_fetch_add(&pe->blocks, 1);
    else if (m.kind == CMSG_NO_BLOCK)
        atomic_fetch_add(&pe->no_blocks, 1);
    cmsg_fini(&m);
}

/* Reads the node's frames: its auth, pings (answered), blocksync answers (counted);
 * everything else is ignored. Ends when the node closes the connection. */
static void *reader_main(void *u)
{
    struct peer *pe = u;
    uint8_t hdr[P2P_FRAME_LEN_BYTES];
    size_t cap = P2P_CHUNK_BYTES + 64 + P2P_FRAME_TAG_BYTES;
    uint8_t *ct = malloc(cap), *pt = malloc(cap);
    while (ct && pt && read_all(pe->fd, hdr, sizeof(hdr))) {
        size_t ct_len, pt_len;
        if (p2p_frame_header(hdr, cap, &ct_len) != 0 || !read_all(pe->fd, ct, ct_len) ||
            p2p_frame_open(&pe->rx, hdr, ct, ct_len, pt, &pt_len) != 0)
            break;
        if (!atomic_load(&pe->authed)) {
            struct p2p_auth a;
            if (p2p_codec_auth_decode(pt, pt_len, &a) != 0 ||
                p2p_handshake_verify(&pe->hs, a.pk, a.sig) != 0)
                break;
            atomic_store(&pe->authed, true);
            continue;
        }
        struct p2p_packet pk;
        if (p2p_codec_packet_decode(pt, pt_len, &pk) != 0)
            break;
        if (pk.type == P2P_PACKET_PING) {
            struct p2p_packet pong = {.type = P2P_PACKET_PONG};
            peer_send_packet(pe, &pong);
        } else if (pk.type == P2P_PACKET_MSG && pk.channel == P2P_CH_BLOCKSYNC) {
            uint8_t *nb = realloc(pe->rx_msg, pe->rx_len + pk.len + 1);
            if (nb) {
                pe->rx_msg = nb;
                memcpy(nb + pe->rx_len, pk.data, pk.len);
                pe->rx_len += pk.len;
                if (pk.eof) {
                    on_blocksync(pe, pe->rx_msg, pe->rx_len);
                    pe->rx_len = 0;
                }
            }
        }
        p2p_codec_packet_free(&pk);
    }
    free(ct);
    free(pt);
    atomic_store(&pe->closed, true);
    return NULL;
}

/* Connect to the node at port with the node key seed_byte * 32 and authenticate. */
static void peer_connect(struct peer *pe, uint16_t port, uint8_t seed_byte)
{
    memset(pe, 0, sizeof(*pe));
    pthread_mutex_init(&pe->tx_mtx, NULL);
    uint8_t seed[32], sk[64];
    memset(seed, seed_byte, sizeof(seed));
    struct p2p_auth a = {.version = P2P_PROTOCOL_VERSION, .network = NETWORK};
    assert_int_equal(p2p_node_key_load(seed, 32, sk, a.pk), 0);
    p2p_node_id(a.pk, pe->id);
    pe->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(pe->fd >= 0);
    struct timeval tv = {.tv_sec = 20};
    setsockopt(pe->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(pe->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    p2p_handshake_init(&pe->hs, NULL);
    uint8_t mine[P2P_HELLO_BYTES], theirs[P2P_HELLO_BYTES];
    p2p_handshake_hello(&pe->hs, mine);
    assert_true(write_all(pe->fd, mine, sizeof(mine)));
    assert_true(read_all(pe->fd, theirs, sizeof(theirs)));
    assert_int_equal(p2p_handshake_recv_hello(&pe->hs, theirs), 0);
    tv.tv_sec = 0; /* from now on the reader waits as long as the connection lasts */
    setsockopt(pe->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    p2p_frame_key_init(&pe->tx, pe->hs.tx_key);
    p2p_frame_key_init(&pe->rx, pe->hs.rx_key);
    assert_int_equal(p2p_handshake_sign(&pe->hs, sk, a.sig), 0);
    uint8_t pt[256], fr[512];
    size_t n, len;
    assert_int_equal(p2p_codec_auth_encode(&a, pt, sizeof(pt), &n), 0);
    assert_int_equal(p2p_frame_seal(&pe->tx, pt, n, fr, sizeof(fr), &len), 0);
    assert_true(write_all(pe->fd, fr, len));
    assert_int_equal(pthread_create(&pe->reader, NULL, reader_main, pe), 0);
    pe->reader_started = true;
}

static void peer_close(struct peer *pe)
{
    shutdown(pe->fd, SHUT_RDWR);
    if (pe->reader_started)
        pthread_join(pe->reader, NULL);
    close(pe->fd);
    free(pe->rx_msg);
    pthread_mutex_destroy(&pe->tx_mtx);
}

static bool request_block(struct peer *pe, uint64_t height)
{
    struct cmsg m = {.kind = CMSG_BLOCK_REQUEST, .height = height};
    uint8_t *buf;
    size_t len;
    if (cmsg_encode(&m, &buf, &len) != 0)
        return false;
    struct p2p_packet pk = {
        .type = P2P_PACKET_MSG, .channel = P2P_CH_BLOCKSYNC, .eof = true, .data = buf, .len = len};
    bool ok = peer_send_packet(pe, &pk);
    free(buf);
    if (ok)
        atomic_fetch_add(&pe->sent, 1);
    return ok;
}

static bool flag_set(void *u)
{
    return atomic_load((atomic_bool *)u);
}

struct answers {
    struct peer *pe;
    uint64_t want;
};

static bool answered(void *u)
{
    struct answers *a = u;
    return atomic_load(&a->pe->blocks) + atomic_load(&a->pe->no_blocks) >= a->want;
}

struct log_wait {
    const char *path;
    const char *a, *b;
};

static bool log_has_both(void *u)
{
    struct log_wait *w = u;
    char *text = pxt_read_file(w->path, NULL);
    bool ok = false;
    for (const char *l = text; l && *l && !ok;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        char line[2048];
        snprintf(line, sizeof(line), "%.*s", (int)len, l);
        ok = strstr(line, w->a) && strstr(line, w->b);
        l += len + (e ? 1 : 0);
    }
    free(text);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* --- the test ----------------------------------------------------------------------- */

static void block_request_flood_banned(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, 1, bins);
    net_start_all(&net);
    assert_true(net_wait_height(&net, 0, 3, 60000));
    uint64_t top = net_height(&net, 0);
    char log[400];
    snprintf(log, sizeof(log), "%s/node0/node.log", net.dir);

    /* a peer catching up at a normal pace (under the default 200 requests a second, and
     * more requests in all than the burst of 400): every request answered, never dropped */
    struct peer good;
    peer_connect(&good, net.base, 0x71);
    assert_true(pxt_wait_until(flag_set, &good.authed, WAIT_MS));
    const uint64_t paced = 600;
    for (uint64_t i = 0; i < paced; i++) {
        assert_true(request_block(&good, 1 + i % top));
        sleep_ms(6); /* the pace is what is tested: what a catching-up peer does */
    }
    struct answers ga = {&good, paced};
    assert_true(pxt_wait_until(answered, &ga, WAIT_MS));
    assert_int_equal(atomic_load(&good.blocks), paced);
    assert_false(atomic_load(&good.closed));

    /* a peer that floods: disconnected, banned, the reason logged */
    struct peer bad;
    peer_connect(&bad, net.base, 0x72);
    assert_true(pxt_wait_until(flag_set, &bad.authed, WAIT_MS));
    uint64_t h0 = net_height(&net, 0);
    for (int i = 0; i < 200000 && !atomic_load(&bad.closed); i++)
        if (!request_block(&bad, 1 + (uint64_t)i % top))
            break;
    bool dropped = pxt_wait_until(flag_set, &bad.closed, WAIT_MS);
    fprintf(stderr, "# flooder sent %llu BlockRequests, got %llu answers, %s\n",
            (unsigned long long)atomic_load(&bad.sent),
            (unsigned long long)(atomic_load(&bad.blocks) + atomic_load(&bad.no_blocks)),
            dropped ? "was dropped" : "was not dropped");
    assert_true(dropped);
    struct log_wait lw = {log, "BlockRequest flood", bad.id};
    assert_true(pxt_wait_until(log_has_both, &lw, WAIT_MS));
    lw.a = "peer banned";
    assert_true(pxt_wait_until(log_has_both, &lw, WAIT_MS));
    /* far fewer answers than requests: the excess was never served */
    assert_true(atomic_load(&bad.blocks) + atomic_load(&bad.no_blocks) < atomic_load(&bad.sent));
    peer_close(&bad);

    /* it comes back with the same key: refused before the node authenticates to it */
    peer_connect(&bad, net.base, 0x72);
    assert_true(pxt_wait_until(flag_set, &bad.closed, WAIT_MS));
    assert_false(atomic_load(&bad.authed));
    peer_close(&bad);

    /* the normal peer is still connected and served, and the chain goes on */
    uint64_t before = atomic_load(&good.blocks);
    for (uint64_t i = 0; i < 20; i++)
        assert_true(request_block(&good, 1 + i % top));
    ga.want = paced + 20;
    assert_true(pxt_wait_until(answered, &ga, WAIT_MS));
    assert_int_equal(atomic_load(&good.blocks), before + 20);
    assert_false(atomic_load(&good.closed));
    assert_true(net_wait_height(&net, 0, h0 + 2, 30000));
    peer_close(&good);
    net_destroy(&net);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s phalanx phalanxd kvledger\n", argv[0]);
        return 2;
    }
    bins[0] = argv[1];
    bins[1] = argv[2];
    bins[2] = argv[3];
    struct stat st;
    if (stat(bins[1], &st) != 0) {
        fprintf(stderr, "SKIP: %s is missing (phalanxd not built)\n", bins[1]);
        return 77;
    }
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(block_request_flood_banned),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pxt_stop_all();
    return rc;
}
