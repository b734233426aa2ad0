/*
 * p2p_frame: sealing and opening of the frames of an authenticated connection.
 *
 * A frame on the wire is a 4-byte big-endian length L followed by L bytes of
 * ChaCha20-Poly1305 (IETF) ciphertext with its 16-byte tag; the length bytes are the
 * associated data. Each direction has its own key and a 64-bit counter that is the nonce
 * (4 zero bytes, then the counter little-endian) and grows by one per frame, so a frame
 * that is replayed, reordered, dropped or altered fails to open. This file never does I/O
 * and never reuses a nonce: a key whose counter is spent refuses to seal.
 */
#ifndef P2P_FRAME_H
#define P2P_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P2P_FRAME_KEY_BYTES 32
#define P2P_FRAME_LEN_BYTES 4
#define P2P_FRAME_TAG_BYTES 16
#define P2P_FRAME_OVERHEAD (P2P_FRAME_LEN_BYTES + P2P_FRAME_TAG_BYTES)

/* One direction of a connection. */
struct p2p_frame_key {
    uint8_t key[P2P_FRAME_KEY_BYTES];
    uint64_t counter; /* nonce of the next frame */
    bool spent;       /* the counter wrapped: no further frame may use this key */
};

void p2p_frame_key_init(struct p2p_frame_key *k, const uint8_t key[P2P_FRAME_KEY_BYTES]);
/* Wipe the key material. */
void p2p_frame_key_fini(struct p2p_frame_key *k);

/* Seal pt_len bytes of plaintext into out (length prefix, ciphertext, tag) and advance
 * the counter. pt may not overlap out. *out_len = pt_len + P2P_FRAME_OVERHEAD.
 * Errors: PX_ETOOBIG (cap too small, or the frame length does not fit 32 bits),
 * PX_EBOUND (the counter is spent). */
int p2p_frame_seal(struct p2p_frame_key *k, const uint8_t *pt, size_t pt_len, uint8_t *out,
                   size_t cap, size_t *out_len);

/* Read a frame's length prefix. *ct_len gets the number of ciphertext bytes that follow.
 * Errors: PX_ETOOBIG (more than max_ct_len: an oversized frame), PX_EPROTO (shorter than
 * a tag). */
int p2p_frame_header(const uint8_t hdr[P2P_FRAME_LEN_BYTES], size_t max_ct_len, size_t *ct_len);

/* Open ct (ct_len bytes that followed hdr) into out, which must hold ct_len - 16 bytes,
 * and advance the counter. out may not overlap ct. Errors: PX_ECRYPTO (wrong key, wrong
 * counter or altered bytes; the counter does not move), PX_EPROTO (shorter than a tag),
 * PX_EBOUND (counter spent). */
int p2p_frame_open(struct p2p_frame_key *k, const uint8_t hdr[P2P_FRAME_LEN_BYTES],
                   const uint8_t *ct, size_t ct_len, uint8_t *out, size_t *pt_len);

#endif
