/*
 * p2p_handshake: ephemeral X25519 exchange, direction keys, transcript signatures (see
 * p2p_handshake.h). Never does I/O; wipes its secrets in p2p_handshake_fini.
 */
#include "p2p_handshake.h"

#include <sodium.h>
#include <string.h>

#include "px_encoding.h"
#include "px_error.h"

#define TRANSCRIPT_LABEL "phalanx/p2p/handshake/v1"

void p2p_handshake_init(struct p2p_handshake *hs, const uint8_t *eph_seed)
{
    memset(hs, 0, sizeof(*hs));
    if (eph_seed)
        crypto_kx_seed_keypair(hs->eph_pk, hs->eph_sk, eph_seed);
    else
        crypto_kx_keypair(hs->eph_pk, hs->eph_sk);
}

void p2p_handshake_fini(struct p2p_handshake *hs)
{
    sodium_memzero(hs, sizeof(*hs));
}

void p2p_handshake_hello(const struct p2p_handshake *hs, uint8_t out[P2P_HELLO_BYTES])
{
    memcpy(out, P2P_HELLO_MAGIC, 4);
    memcpy(out + 4, hs->eph_pk, 32);
}

int p2p_handshake_recv_hello(struct p2p_handshake *hs, const uint8_t in[P2P_HELLO_BYTES])
{
    if (hs->done)
        return PX_ESTATE;
    if (memcmp(in, P2P_HELLO_MAGIC, 4) != 0)
        return PX_EPROTO;
    const uint8_t *peer = in + 4;
    int cmp = memcmp(hs->eph_pk, peer, 32);
    if (cmp == 0)
        return PX_ECRYPTO; /* a reflected hello */
    int rc;
    if (cmp < 0) /* our key is lower: we are the crypto_kx client */
        rc = crypto_kx_client_session_keys(hs->rx_key, hs->tx_key, hs->eph_pk, hs->eph_sk, peer);
    else
        rc = crypto_kx_server_session_keys(hs->rx_key, hs->tx_key, hs->eph_pk, hs->eph_sk, peer);
    if (rc != 0)
        return PX_ECRYPTO; /* low-order point */
    memcpy(hs->peer_eph_pk, peer, 32);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)TRANSCRIPT_LABEL, strlen(TRANSCRIPT_LABEL));
    crypto_hash_sha256_update(&st, cmp < 0 ? hs->eph_pk : peer, 32);
    crypto_hash_sha256_update(&st, cmp < 0 ? peer : hs->eph_pk, 32);
    crypto_hash_sha256_final(&st, hs->transcript);
    sodium_memzero(hs->eph_sk, sizeof(hs->eph_sk));
    hs->done = true;
    return 0;
}

int p2p_handshake_sign(const struct p2p_handshake *hs, const uint8_t node_sk[P2P_SECKEY_BYTES],
                       uint8_t sig[P2P_SIG_BYTES])
{
    if (!hs->done)
        return PX_ESTATE;
    crypto_sign_detached(sig, NULL, hs->transcript, sizeof(hs->transcript), node_sk);
    return 0;
}

int p2p_handshake_verify(const struct p2p_handshake *hs, const uint8_t peer_pk[P2P_PUBKEY_BYTES],
                         const uint8_t sig[P2P_SIG_BYTES])
{
    if (!hs->done)
        return PX_ESTATE;
    if (crypto_sign_verify_detached(sig, hs->transcript, sizeof(hs->transcript), peer_pk) != 0)
        return PX_ECRYPTO;
    return 0;
}

void p2p_node_id(const uint8_t pk[P2P_PUBKEY_BYTES], char out[P2P_ID_LEN + 1])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, pk, P2P_PUBKEY_BYTES);
    px_hex_encode(out, P2P_ID_LEN + 1, h, P2P_ID_BYTES, false);
}

int p2p_node_key_load(const uint8_t *key, size_t key_len, uint8_t sk[P2P_SECKEY_BYTES],
                      uint8_t pk[P2P_PUBKEY_BYTES])
{
    if (key_len != 32 && key_len != 64)
        return PX_EINVAL;
    if (crypto_sign_seed_keypair(pk, sk, key) != 0)
        return PX_EINVAL;
    if (key_len == 64 && sodium_memcmp(key + 32, pk, 32) != 0) {
        sodium_memzero(sk, P2P_SECKEY_BYTES);
        return PX_EINVAL;
    }
    return 0;
}
