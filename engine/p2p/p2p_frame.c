/*
 * p2p_frame: ChaCha20-Poly1305 frames with per-direction counter nonces (see p2p_frame.h).
 * Never does I/O; never seals two frames under one nonce.
 */
#include "p2p_frame.h"

#include <sodium.h>
#include <string.h>

#include "px_error.h"

static void nonce_of(uint64_t counter, uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES])
{
    memset(nonce, 0, crypto_aead_chacha20poly1305_IETF_NPUBBYTES);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void advance(struct p2p_frame_key *k)
{
    if (k->counter == UINT64_MAX)
        k->spent = true;
    else
        k->counter++;
}

void p2p_frame_key_init(struct p2p_frame_key *k, const uint8_t key[P2P_FRAME_KEY_BYTES])
{
    memcpy(k->key, key, P2P_FRAME_KEY_BYTES);
    k->counter = 0;
    k->spent = false;
}

void p2p_frame_key_fini(struct p2p_frame_key *k)
{
    sodium_memzero(k, sizeof(*k));
}

int p2p_frame_seal(struct p2p_frame_key *k, const uint8_t *pt, size_t pt_len, uint8_t *out,
                   size_t cap, size_t *out_len)
{
    if (k->spent)
        return PX_EBOUND;
    if (pt_len > UINT32_MAX - P2P_FRAME_TAG_BYTES || cap < P2P_FRAME_OVERHEAD ||
        pt_len > cap - P2P_FRAME_OVERHEAD)
        return PX_ETOOBIG;
    uint32_t ct_len = (uint32_t)(pt_len + P2P_FRAME_TAG_BYTES);
    out[0] = (uint8_t)(ct_len >> 24);
    out[1] = (uint8_t)(ct_len >> 16);
    out[2] = (uint8_t)(ct_len >> 8);
    out[3] = (uint8_t)ct_len;
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    nonce_of(k->counter, nonce);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out + P2P_FRAME_LEN_BYTES, &clen, pt, pt_len, out,
                                              P2P_FRAME_LEN_BYTES, NULL, nonce, k->key);
    advance(k);
    *out_len = P2P_FRAME_LEN_BYTES + (size_t)clen;
    return 0;
}

int p2p_frame_header(const uint8_t hdr[P2P_FRAME_LEN_BYTES], size_t max_ct_len, size_t *ct_len)
{
    uint32_t n = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) | ((uint32_t)hdr[2] << 8) |
                 (uint32_t)hdr[3];
    if (n < P2P_FRAME_TAG_BYTES)
        return PX_EPROTO;
    if (n > max_ct_len)
        return PX_ETOOBIG;
    *ct_len = n;
    return 0;
}

int p2p_frame_open(struct p2p_frame_key *k, const uint8_t hdr[P2P_FRAME_LEN_BYTES],
                   const uint8_t *ct, size_t ct_len, uint8_t *out, size_t *pt_len)
{
    if (k->spent)
        return PX_EBOUND;
    if (ct_len < P2P_FRAME_TAG_BYTES)
        return PX_EPROTO;
    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    nonce_of(k->counter, nonce);
    unsigned long long mlen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct, ct_len, hdr,
                                                  P2P_FRAME_LEN_BYTES, nonce, k->key) != 0)
        return PX_ECRYPTO;
    advance(k);
    *pt_len = (size_t)mlen;
    return 0;
}
