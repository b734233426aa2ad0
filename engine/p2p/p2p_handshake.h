/*
 * p2p_handshake: the cryptography of the authenticated key exchange, without I/O.
 *
 * Each side sends a plaintext hello: the magic "PXP1" and a fresh X25519 public key. The
 * side whose ephemeral key sorts lower takes the crypto_kx client role, the other the
 * server role; crypto_kx derives one key per direction from the shared secret and both
 * public keys. The transcript hash is SHA-256("phalanx/p2p/handshake/v1" || lower key ||
 * higher key); each side signs it with its Ed25519 node key and sends its node public key
 * and signature in its first sealed frame (p2p_codec_auth_*). A signature checks only
 * against this connection's transcript, so it cannot be replayed on another connection.
 * Never does I/O, never keeps a secret after p2p_handshake_fini.
 */
#ifndef P2P_HANDSHAKE_H
#define P2P_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P2P_HELLO_BYTES 36 /* "PXP1" + 32-byte X25519 public key */
#define P2P_HELLO_MAGIC "PXP1"
#define P2P_PUBKEY_BYTES 32
#define P2P_SECKEY_BYTES 64
#define P2P_SIG_BYTES 64
#define P2P_TRANSCRIPT_BYTES 32
#define P2P_ID_BYTES 20
#define P2P_ID_LEN 40 /* hex characters of a node id */

struct p2p_handshake {
    uint8_t eph_pk[32];
    uint8_t eph_sk[32];
    uint8_t peer_eph_pk[32];
    uint8_t transcript[P2P_TRANSCRIPT_BYTES];
    uint8_t rx_key[32]; /* opens frames from the peer */
    uint8_t tx_key[32]; /* seals frames to the peer */
    bool done;          /* the peer's hello was accepted: keys and transcript are set */
};

/* Start a handshake with a fresh ephemeral key (eph_seed NULL) or one derived from a
 * 32-byte seed (tests). */
void p2p_handshake_init(struct p2p_handshake *hs, const uint8_t *eph_seed);
void p2p_handshake_fini(struct p2p_handshake *hs);

/* Our hello, P2P_HELLO_BYTES bytes. */
void p2p_handshake_hello(const struct p2p_handshake *hs, uint8_t out[P2P_HELLO_BYTES]);

/* Take the peer's hello: derive the direction keys and the transcript hash.
 * Errors: PX_EPROTO (bad magic), PX_ECRYPTO (the peer echoed our own key, or a weak
 * point), PX_ESTATE (already done). */
int p2p_handshake_recv_hello(struct p2p_handshake *hs, const uint8_t in[P2P_HELLO_BYTES]);

/* Sign the transcript with the node's libsodium secret key (64 bytes). PX_ESTATE if the
 * peer's hello has not been taken yet. */
int p2p_handshake_sign(const struct p2p_handshake *hs, const uint8_t node_sk[P2P_SECKEY_BYTES],
                       uint8_t sig[P2P_SIG_BYTES]);

/* Check the peer's signature over the transcript. PX_ECRYPTO if it does not verify,
 * PX_ESTATE before the peer's hello. */
int p2p_handshake_verify(const struct p2p_handshake *hs, const uint8_t peer_pk[P2P_PUBKEY_BYTES],
                         const uint8_t sig[P2P_SIG_BYTES]);

/* Node id of an Ed25519 public key: lower-case hex of the first 20 bytes of its SHA-256
 * (out holds P2P_ID_LEN + 1 bytes). */
void p2p_node_id(const uint8_t pk[P2P_PUBKEY_BYTES], char out[P2P_ID_LEN + 1]);

/* Expand a node key given as a 32-byte seed or a 64-byte libsodium secret key into the
 * secret key and public key. PX_EINVAL: another length, or a 64-byte key whose public half
 * does not match its seed. */
int p2p_node_key_load(const uint8_t *key, size_t key_len, uint8_t sk[P2P_SECKEY_BYTES],
                      uint8_t pk[P2P_PUBKEY_BYTES]);

#endif
