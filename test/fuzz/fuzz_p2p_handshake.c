/*
 * fuzz_p2p_handshake: the key exchange of a p2p connection (engine/p2p/p2p_handshake.h)
 * against a peer that sends anything. Input: the peer's 36-byte hello, then its node public
 * key and signature (short inputs are zero-padded). Properties: a hello is taken only with
 * the magic and a usable key; a stranger's signature never verifies; and an honest peer whose
 * ephemeral seed comes from the input always agrees with us: its send key is our receive key
 * and back, the transcripts match, and each side's signature verifies on the other side.
 *
 * Never does I/O; node keys are fixed test seeds.
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "p2p_handshake.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NEED (P2P_HELLO_BYTES + P2P_PUBKEY_BYTES + P2P_SIG_BYTES)

static uint8_t our_sk[P2P_SECKEY_BYTES], our_pk[P2P_PUBKEY_BYTES];
static uint8_t peer_sk[P2P_SECKEY_BYTES], peer_pk[P2P_PUBKEY_BYTES];

static void keys_once(void)
{
    static int ready;
    if (ready)
        return;
    FUZZ_CHECK(sodium_init() >= 0);
    uint8_t seed[32];
    memset(seed, 0x01, sizeof(seed));
    FUZZ_CHECK(p2p_node_key_load(seed, sizeof(seed), our_sk, our_pk) == 0);
    memset(seed, 0x02, sizeof(seed));
    FUZZ_CHECK(p2p_node_key_load(seed, sizeof(seed), peer_sk, peer_pk) == 0);
    ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keys_once();
    uint8_t in[NEED];
    memset(in, 0, sizeof(in));
    memcpy(in, data, size < NEED ? size : NEED);
    static const uint8_t our_seed[32] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                         7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

    /* a hostile peer */
    struct p2p_handshake us;
    p2p_handshake_init(&us, our_seed);
    int rc = p2p_handshake_recv_hello(&us, in);
    FUZZ_CHECK(rc == 0 || rc == PX_EPROTO || rc == PX_ECRYPTO);
    if (memcmp(in, P2P_HELLO_MAGIC, 4) != 0)
        FUZZ_CHECK(rc == PX_EPROTO);
    uint8_t sig[P2P_SIG_BYTES];
    if (rc == 0) {
        FUZZ_CHECK(us.done);
        FUZZ_CHECK(p2p_handshake_recv_hello(&us, in) == PX_ESTATE);
        FUZZ_CHECK(p2p_handshake_sign(&us, our_sk, sig) == 0);
        rc = p2p_handshake_verify(&us, in + P2P_HELLO_BYTES, in + P2P_HELLO_BYTES + 32);
        FUZZ_CHECK(rc == PX_ECRYPTO); /* nobody forges Ed25519 */
    } else {
        FUZZ_CHECK(!us.done);
        FUZZ_CHECK(p2p_handshake_sign(&us, our_sk, sig) == PX_ESTATE);
    }
    p2p_handshake_fini(&us);

    /* an honest peer with an ephemeral key from the input */
    uint8_t seed[32];
    crypto_generichash(seed, sizeof(seed), data, size, NULL, 0);
    struct p2p_handshake a, b;
    p2p_handshake_init(&a, our_seed);
    p2p_handshake_init(&b, seed);
    uint8_t ha[P2P_HELLO_BYTES], hb[P2P_HELLO_BYTES];
    p2p_handshake_hello(&a, ha);
    p2p_handshake_hello(&b, hb);
    int ra = p2p_handshake_recv_hello(&a, hb);
    int rb = p2p_handshake_recv_hello(&b, ha);
    if (memcmp(a.eph_pk, b.eph_pk, 32) == 0) {
        FUZZ_CHECK(ra == PX_ECRYPTO && rb == PX_ECRYPTO); /* our own key echoed */
    } else {
        FUZZ_CHECK(ra == 0 && rb == 0);
        FUZZ_CHECK(memcmp(a.tx_key, b.rx_key, 32) == 0 && memcmp(a.rx_key, b.tx_key, 32) == 0);
        FUZZ_CHECK(memcmp(a.tx_key, a.rx_key, 32) != 0);
        FUZZ_CHECK(memcmp(a.transcript, b.transcript, P2P_TRANSCRIPT_BYTES) == 0);
        uint8_t sa[P2P_SIG_BYTES], sb[P2P_SIG_BYTES];
        FUZZ_CHECK(p2p_handshake_sign(&a, our_sk, sa) == 0);
        FUZZ_CHECK(p2p_handshake_sign(&b, peer_sk, sb) == 0);
        FUZZ_CHECK(p2p_handshake_verify(&b, our_pk, sa) == 0);
        FUZZ_CHECK(p2p_handshake_verify(&a, peer_pk, sb) == 0);
        FUZZ_CHECK(p2p_handshake_verify(&a, our_pk, sb) == PX_ECRYPTO);
    }
    p2p_handshake_fini(&a);
    p2p_handshake_fini(&b);
    return 0;
}
