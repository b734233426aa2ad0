/* Unit tests of engine/p2p's cryptography: frame seal/open with counter nonces (tampered,
 * replayed, reordered frames rejected), the handshake with fixed keys (direction keys,
 * transcript, signatures, wrong identities), node ids and node keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "p2p_codec.h"
#include "p2p_frame.h"
#include "p2p_handshake.h"
#include "px_encoding.h"
#include "px_error.h"

#include <sodium.h>
#include <string.h>

static void fill(uint8_t *b, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v + i);
}

static void keys(struct p2p_frame_key *tx, struct p2p_frame_key *rx)
{
    uint8_t k[32];
    fill(k, sizeof(k), 7);
    p2p_frame_key_init(tx, k);
    p2p_frame_key_init(rx, k);
}

static void frame_round_trip(void **state)
{
    (void)state;
    struct p2p_frame_key tx, rx;
    keys(&tx, &rx);
    uint8_t pt[1000], fr[1100], out[1000];
    for (size_t n = 0; n <= sizeof(pt); n += 250) {
        fill(pt, n, (uint8_t)n);
        size_t len = 0, ct = 0, got = 0;
        assert_int_equal(p2p_frame_seal(&tx, pt, n, fr, sizeof(fr), &len), 0);
        assert_int_equal(len, n + P2P_FRAME_OVERHEAD);
        assert_int_equal(p2p_frame_header(fr, 2000, &ct), 0);
        assert_int_equal(ct, n + P2P_FRAME_TAG_BYTES);
        assert_int_equal(p2p_frame_open(&rx, fr, fr + 4, ct, out, &got), 0);
        assert_int_equal(got, n);
        assert_memory_equal(pt, out, n);
    }
    assert_int_equal(tx.counter, 5);
    assert_int_equal(rx.counter, 5);
}

static void frame_nonce_is_the_counter(void **state)
{
    (void)state;
    struct p2p_frame_key tx, rx;
    keys(&tx, &rx);
    uint8_t pt[16] = {0}, a[64], b[64];
    size_t la, lb;
    assert_int_equal(p2p_frame_seal(&tx, pt, sizeof(pt), a, sizeof(a), &la), 0);
    assert_int_equal(p2p_frame_seal(&tx, pt, sizeof(pt), b, sizeof(b), &lb), 0);
    /* same plaintext, next nonce: different ciphertext */
    assert_int_equal(la, lb);
    assert_memory_not_equal(a + 4, b + 4, la - 4);
    /* the same as libsodium with nonce = 4 zero bytes || counter little-endian */
    uint8_t nonce[12] = {0}, ref[64];
    nonce[4] = 1;
    unsigned long long rl = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(ref, &rl, pt, sizeof(pt), b, 4, NULL, nonce, tx.key);
    assert_int_equal(rl, lb - 4);
    assert_memory_equal(ref, b + 4, rl);
}

static void frame_tampered_replayed_reordered(void **state)
{
    (void)state;
    struct p2p_frame_key tx, rx;
    keys(&tx, &rx);
    uint8_t pt[32], f0[64], f1[64], out[64];
    fill(pt, sizeof(pt), 1);
    size_t l0, l1, got;
    assert_int_equal(p2p_frame_seal(&tx, pt, sizeof(pt), f0, sizeof(f0), &l0), 0);
    assert_int_equal(p2p_frame_seal(&tx, pt, sizeof(pt), f1, sizeof(f1), &l1), 0);
    /* reordered: frame 1 before frame 0 */
    assert_int_equal(p2p_frame_open(&rx, f1, f1 + 4, l1 - 4, out, &got), PX_ECRYPTO);
    assert_int_equal(rx.counter, 0);
    /* tampered: one flipped bit of ciphertext, of the tag, of the length prefix */
    for (size_t pos = 0; pos < l0; pos += (pos < 4 ? 3 : 17)) {
        uint8_t bad[64];
        memcpy(bad, f0, l0);
        bad[pos] ^= 0x10;
        assert_int_equal(p2p_frame_open(&rx, bad, bad + 4, l0 - 4, out, &got), PX_ECRYPTO);
    }
    assert_int_equal(p2p_frame_open(&rx, f0, f0 + 4, l0 - 4, out, &got), 0);
    /* replayed: frame 0 again */
    assert_int_equal(p2p_frame_open(&rx, f0, f0 + 4, l0 - 4, out, &got), PX_ECRYPTO);
    assert_int_equal(p2p_frame_open(&rx, f1, f1 + 4, l1 - 4, out, &got), 0);
    assert_memory_equal(out, pt, sizeof(pt));
    /* a different key opens nothing */
    struct p2p_frame_key other;
    uint8_t k2[32];
    fill(k2, 32, 99);
    p2p_frame_key_init(&other, k2);
    assert_int_equal(p2p_frame_seal(&tx, pt, sizeof(pt), f0, sizeof(f0), &l0), 0);
    other.counter = 2;
    assert_int_equal(p2p_frame_open(&other, f0, f0 + 4, l0 - 4, out, &got), PX_ECRYPTO);
}

static void frame_limits(void **state)
{
    (void)state;
    struct p2p_frame_key tx, rx;
    keys(&tx, &rx);
    uint8_t pt[100] = {0}, fr[200];
    size_t len, ct;
    assert_int_equal(p2p_frame_seal(&tx, pt, 100, fr, 119, &len), PX_ETOOBIG);
    assert_int_equal(p2p_frame_seal(&tx, pt, 100, fr, 120, &len), 0);
    assert_int_equal(p2p_frame_header(fr, 115, &ct), PX_ETOOBIG);
    assert_int_equal(p2p_frame_header(fr, 116, &ct), 0);
    const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff}, tiny[4] = {0, 0, 0, 15};
    assert_int_equal(p2p_frame_header(huge, 1 << 20, &ct), PX_ETOOBIG);
    assert_int_equal(p2p_frame_header(tiny, 1 << 20, &ct), PX_EPROTO);
    /* a spent counter refuses to seal rather than reuse a nonce */
    tx.counter = UINT64_MAX;
    assert_int_equal(p2p_frame_seal(&tx, pt, 1, fr, sizeof(fr), &len), 0);
    assert_true(tx.spent);
    assert_int_equal(p2p_frame_seal(&tx, pt, 1, fr, sizeof(fr), &len), PX_EBOUND);
}

/* Two sides with fixed ephemeral seeds. */
static void pair(struct p2p_handshake *a, struct p2p_handshake *b)
{
    uint8_t sa[32], sb[32], ha[P2P_HELLO_BYTES], hb[P2P_HELLO_BYTES];
    fill(sa, 32, 1);
    fill(sb, 32, 2);
    p2p_handshake_init(a, sa);
    p2p_handshake_init(b, sb);
    p2p_handshake_hello(a, ha);
    p2p_handshake_hello(b, hb);
    assert_memory_equal(ha, "PXP1", 4);
    assert_int_equal(p2p_handshake_recv_hello(a, hb), 0);
    assert_int_equal(p2p_handshake_recv_hello(b, ha), 0);
}

static void handshake_fixed_keys(void **state)
{
    (void)state;
    struct p2p_handshake a, b;
    pair(&a, &b);
    assert_memory_equal(a.tx_key, b.rx_key, 32);
    assert_memory_equal(a.rx_key, b.tx_key, 32);
    assert_memory_not_equal(a.tx_key, a.rx_key, 32);
    assert_memory_equal(a.transcript, b.transcript, 32);
    /* transcript = SHA-256(label || lower ephemeral key || higher ephemeral key) */
    const uint8_t *lo = memcmp(a.eph_pk, b.eph_pk, 32) < 0 ? a.eph_pk : b.eph_pk;
    const uint8_t *hi = lo == a.eph_pk ? b.eph_pk : a.eph_pk;
    uint8_t msg[24 + 64], want[32];
    memcpy(msg, "phalanx/p2p/handshake/v1", 24);
    memcpy(msg + 24, lo, 32);
    memcpy(msg + 56, hi, 32);
    crypto_hash_sha256(want, msg, sizeof(msg));
    assert_memory_equal(a.transcript, want, 32);
    /* fixed seeds give fixed values: the wire format must not drift (another
     * implementation checks itself against these) */
    char hex[65];
    px_hex_encode(hex, sizeof(hex), a.transcript, 32, false);
    assert_string_equal(hex, "d1e65f1f45854ba21a0c516d6b0b0df24053a7b0d28373f56cc7184d78838648");
    px_hex_encode(hex, sizeof(hex), a.tx_key, 32, false);
    assert_string_equal(hex, "88aa9df7738b10b220eb3994026303da1d811aa2c59cde8016b0a0c2971ce7b2");
    /* the ephemeral secret is wiped once the keys exist */
    uint8_t zero[32] = {0};
    assert_memory_equal(a.eph_sk, zero, 32);
    p2p_handshake_fini(&a);
    p2p_handshake_fini(&b);
}

static void handshake_signatures(void **state)
{
    (void)state;
    struct p2p_handshake a, b;
    pair(&a, &b);
    uint8_t seed_a[32], seed_c[32], sk_a[64], pk_a[32], sk_c[64], pk_c[32];
    fill(seed_a, 32, 10);
    fill(seed_c, 32, 30);
    assert_int_equal(p2p_node_key_load(seed_a, 32, sk_a, pk_a), 0);
    assert_int_equal(p2p_node_key_load(seed_c, 32, sk_c, pk_c), 0);
    uint8_t sig[64];
    assert_int_equal(p2p_handshake_sign(&a, sk_a, sig), 0);
    assert_int_equal(p2p_handshake_verify(&b, pk_a, sig), 0);
    /* claimed to be another node: rejected */
    assert_int_equal(p2p_handshake_verify(&b, pk_c, sig), PX_ECRYPTO);
    /* a signature made on another connection (other transcript): rejected */
    struct p2p_handshake x, y;
    uint8_t sx[32], sy[32], hx[P2P_HELLO_BYTES], hy[P2P_HELLO_BYTES];
    fill(sx, 32, 3);
    fill(sy, 32, 4);
    p2p_handshake_init(&x, sx);
    p2p_handshake_init(&y, sy);
    p2p_handshake_hello(&x, hx);
    p2p_handshake_hello(&y, hy);
    assert_int_equal(p2p_handshake_recv_hello(&x, hy), 0);
    uint8_t sig_x[64];
    assert_int_equal(p2p_handshake_sign(&x, sk_a, sig_x), 0);
    assert_int_equal(p2p_handshake_verify(&b, pk_a, sig_x), PX_ECRYPTO);
    sig[5] ^= 1;
    assert_int_equal(p2p_handshake_verify(&b, pk_a, sig), PX_ECRYPTO);
    /* nothing to sign before the peer's hello */
    assert_int_equal(p2p_handshake_sign(&y, sk_a, sig), PX_ESTATE);
    assert_int_equal(p2p_handshake_verify(&y, pk_a, sig), PX_ESTATE);
}

static void handshake_bad_hellos(void **state)
{
    (void)state;
    struct p2p_handshake a, b;
    uint8_t sa[32], ha[P2P_HELLO_BYTES], bad[P2P_HELLO_BYTES];
    fill(sa, 32, 1);
    p2p_handshake_init(&a, sa);
    p2p_handshake_hello(&a, ha);
    /* a reflected hello (our own key) */
    assert_int_equal(p2p_handshake_recv_hello(&a, ha), PX_ECRYPTO);
    /* garbage magic */
    memcpy(bad, ha, sizeof(bad));
    memcpy(bad, "GET ", 4);
    assert_int_equal(p2p_handshake_recv_hello(&a, bad), PX_EPROTO);
    /* the all-zero point gives no shared secret */
    memset(bad, 0, sizeof(bad));
    memcpy(bad, "PXP1", 4);
    assert_int_equal(p2p_handshake_recv_hello(&a, bad), PX_ECRYPTO);
    assert_false(a.done);
    p2p_handshake_init(&b, NULL);
    uint8_t hb[P2P_HELLO_BYTES];
    p2p_handshake_hello(&b, hb);
    assert_int_equal(p2p_handshake_recv_hello(&a, hb), 0);
    assert_int_equal(p2p_handshake_recv_hello(&a, hb), PX_ESTATE);
}

static void node_id_and_keys(void **state)
{
    (void)state;
    uint8_t seed[32], sk[64], pk[32], sk2[64], pk2[32];
    fill(seed, 32, 10);
    assert_int_equal(p2p_node_key_load(seed, 32, sk, pk), 0);
    /* the 64-byte libsodium form gives the same key */
    assert_int_equal(p2p_node_key_load(sk, 64, sk2, pk2), 0);
    assert_memory_equal(pk, pk2, 32);
    /* a 64-byte key whose public half does not match its seed */
    sk[40] ^= 1;
    assert_int_equal(p2p_node_key_load(sk, 64, sk2, pk2), PX_EINVAL);
    assert_int_equal(p2p_node_key_load(seed, 31, sk2, pk2), PX_EINVAL);
    /* id = hex of the first 20 bytes of SHA-256(pubkey) */
    char id[P2P_ID_LEN + 1], want[P2P_ID_LEN + 1];
    p2p_node_id(pk, id);
    uint8_t h[32];
    crypto_hash_sha256(h, pk, 32);
    px_hex_encode(want, sizeof(want), h, 20, false);
    assert_string_equal(id, want);
    assert_string_equal(id, "61ecf13c6762e2e6301812baaf9e14d2245bf50d");
}

static void codec_auth_and_packets(void **state)
{
    (void)state;
    struct p2p_auth a = {.version = P2P_PROTOCOL_VERSION, .network = "phalanx-test-1"}, b;
    uint8_t buf[256];
    fill(a.pk, 32, 1);
    fill(a.sig, 64, 2);
    size_t n = 0;
    assert_int_equal(p2p_codec_auth_encode(&a, buf, sizeof(buf), &n), 0);
    assert_int_equal(p2p_codec_auth_decode(buf, n, &b), 0);
    assert_memory_equal(a.pk, b.pk, 32);
    assert_memory_equal(a.sig, b.sig, 64);
    assert_int_equal(b.version, P2P_PROTOCOL_VERSION);
    assert_string_equal(b.network, "phalanx-test-1");
    assert_int_equal(p2p_codec_auth_encode(&a, buf, 10, &n), PX_ETOOBIG);
    /* a key of the wrong length is refused */
    const uint8_t short_key[] = {0x0a, 0x02, 0x01, 0x02, 0x12, 0x01, 0x00};
    assert_int_equal(p2p_codec_auth_decode(short_key, sizeof(short_key), &b), PX_EDECODE);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(p2p_codec_auth_decode(junk, sizeof(junk), &b), PX_EDECODE);
    /* a network name longer than 64 bytes is refused; 64 is fine */
    uint8_t wire[200];
    size_t k = 0;
    wire[k++] = 0x0a;
    wire[k++] = 32;
    memcpy(wire + k, a.pk, 32);
    k += 32;
    wire[k++] = 0x12;
    wire[k++] = 64;
    memcpy(wire + k, a.sig, 64);
    k += 64;
    wire[k++] = 0x22;
    wire[k++] = 65;
    memset(wire + k, 'n', 65);
    assert_int_equal(p2p_codec_auth_decode(wire, k + 65, &b), PX_EDECODE);
    wire[k - 1] = 64;
    assert_int_equal(p2p_codec_auth_decode(wire, k + 64, &b), 0);
    assert_int_equal(strlen(b.network), 64);

    uint8_t data[300];
    fill(data, sizeof(data), 5);
    struct p2p_packet p = {
        .type = P2P_PACKET_MSG, .channel = 0x22, .eof = true, .data = data, .len = sizeof(data)};
    uint8_t enc[400];
    assert_int_equal(p2p_codec_packet_encode(&p, enc, sizeof(enc), &n), 0);
    assert_true(n <= sizeof(data) + P2P_PACKET_OVERHEAD);
    struct p2p_packet d;
    assert_int_equal(p2p_codec_packet_decode(enc, n, &d), 0);
    assert_int_equal(d.type, P2P_PACKET_MSG);
    assert_int_equal(d.channel, 0x22);
    assert_true(d.eof);
    assert_int_equal(d.len, sizeof(data));
    assert_memory_equal(d.data, data, sizeof(data));
    p2p_codec_packet_free(&d);
    struct p2p_packet ping = {.type = P2P_PACKET_PING};
    assert_int_equal(p2p_codec_packet_encode(&ping, enc, sizeof(enc), &n), 0);
    assert_int_equal(p2p_codec_packet_decode(enc, n, &d), 0);
    assert_int_equal(d.type, P2P_PACKET_PING);
    p2p_codec_packet_free(&d);
    /* an empty packet (no oneof set) and junk are undecodable */
    assert_int_equal(p2p_codec_packet_decode(enc, 0, &d), PX_EDECODE);
    assert_int_equal(p2p_codec_packet_decode(junk, sizeof(junk), &d), PX_EDECODE);
}

/* What a peer controls reaches these decoders; seeded random and mutated inputs must only
 * ever decode or be refused (ASan and UBSan watch the rest). */
static void decoders_survive_random_bytes(void **state)
{
    (void)state;
    uint8_t seed[randombytes_SEEDBYTES] = {42};
    uint8_t pool[1 << 16];
    randombytes_buf_deterministic(pool, sizeof(pool), seed);
    struct p2p_auth a = {.version = 1, .network = "n"};
    uint8_t good_auth[256];
    size_t auth_len;
    assert_int_equal(p2p_codec_auth_encode(&a, good_auth, sizeof(good_auth), &auth_len), 0);
    uint8_t data[100] = {1};
    struct p2p_packet msg = {.type = P2P_PACKET_MSG, .channel = 0x21, .data = data, .len = 100};
    uint8_t good_pkt[256];
    size_t pkt_len;
    assert_int_equal(p2p_codec_packet_encode(&msg, good_pkt, sizeof(good_pkt), &pkt_len), 0);
    int decoded = 0, refused = 0;
    for (size_t i = 0; i < 20000; i++) {
        size_t off = (i * 7919) % (sizeof(pool) - 300);
        size_t len = pool[off] % 200;
        uint8_t buf[300];
        memcpy(buf, pool + off + 1, len);
        struct p2p_auth out;
        struct p2p_packet pk;
        if (p2p_codec_auth_decode(buf, len, &out) == 0)
            decoded++;
        else
            refused++;
        if (p2p_codec_packet_decode(buf, len, &pk) == 0) {
            assert_true(pk.len <= len);
            p2p_codec_packet_free(&pk);
        }
        /* mutations of valid messages: one byte changed, or cut short */
        memcpy(buf, good_auth, auth_len);
        buf[pool[off] % auth_len] = pool[off + 1];
        (void)p2p_codec_auth_decode(buf, pool[off + 2] % 2 ? auth_len : pool[off + 3] % auth_len,
                                    &out);
        memcpy(buf, good_pkt, pkt_len);
        buf[pool[off] % pkt_len] = pool[off + 1];
        if (p2p_codec_packet_decode(buf, pool[off + 2] % 2 ? pkt_len : pool[off + 3] % pkt_len,
                                    &pk) == 0) {
            assert_true(pk.len <= pkt_len);
            p2p_codec_packet_free(&pk);
        }
        size_t ct;
        int rc = p2p_frame_header(buf, 65584, &ct);
        assert_true(rc == 0 ? ct >= 16 && ct <= 65584 : rc == PX_ETOOBIG || rc == PX_EPROTO);
    }
    assert_true(refused > 0);
    (void)decoded;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_round_trip),
        cmocka_unit_test(frame_nonce_is_the_counter),
        cmocka_unit_test(frame_tampered_replayed_reordered),
        cmocka_unit_test(frame_limits),
        cmocka_unit_test(handshake_fixed_keys),
        cmocka_unit_test(handshake_signatures),
        cmocka_unit_test(handshake_bad_hellos),
        cmocka_unit_test(node_id_and_keys),
        cmocka_unit_test(codec_auth_and_packets),
        cmocka_unit_test(decoders_survive_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
