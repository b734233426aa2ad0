/*
 * p2p_codec: the protobuf edge of the p2p layer (proto/p2p.proto). Turns the plaintext of
 * a sealed frame into plain C values and back. Nothing outside this file sees a
 * protobuf-c struct. Never trusts a length it reads: every size is checked against the
 * caller's buffer or the fixed key sizes.
 */
#ifndef P2P_CODEC_H
#define P2P_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p_handshake.h"

/* Encoded size of a PacketMsg header around its data is at most this many bytes. */
#define P2P_PACKET_OVERHEAD 32
#define P2P_PROTOCOL_VERSION 1
#define P2P_NETWORK_MAX 64 /* bytes of a network (chain id) name */

/* The first sealed frame of each side. */
struct p2p_auth {
    uint8_t pk[P2P_PUBKEY_BYTES];
    uint8_t sig[P2P_SIG_BYTES];
    uint32_t version;
    char network[P2P_NETWORK_MAX + 1];
};

/* PX_ETOOBIG: cap too small; PX_EINVAL: network longer than P2P_NETWORK_MAX. */
int p2p_codec_auth_encode(const struct p2p_auth *a, uint8_t *out, size_t cap, size_t *len);
/* PX_EDECODE: not an AuthSig, a key or signature of the wrong length, or a network name
 * that is too long. */
int p2p_codec_auth_decode(const uint8_t *in, size_t len, struct p2p_auth *a);

enum p2p_packet_type {
    P2P_PACKET_PING = 1,
    P2P_PACKET_PONG,
    P2P_PACKET_MSG,
};

/* A decoded packet. For P2P_PACKET_MSG, data points into memory owned by the packet until
 * p2p_codec_packet_free. */
struct p2p_packet {
    enum p2p_packet_type type;
    uint32_t channel;
    bool eof;
    const uint8_t *data;
    size_t len;
    void *priv;
};

/* PX_ETOOBIG if cap is too small. */
int p2p_codec_packet_encode(const struct p2p_packet *p, uint8_t *out, size_t cap, size_t *len);
/* PX_EDECODE: undecodable bytes or an empty packet. PX_ENOMEM. On success the caller
 * frees with p2p_codec_packet_free. */
int p2p_codec_packet_decode(const uint8_t *in, size_t len, struct p2p_packet *out);
void p2p_codec_packet_free(struct p2p_packet *p);

#endif
