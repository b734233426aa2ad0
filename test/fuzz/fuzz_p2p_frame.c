/*
 * fuzz_p2p_frame: the framing of an authenticated p2p connection (engine/p2p/p2p_frame.h).
 * Input byte 0 picks the mode:
 *   even: the rest is a byte stream from a peer: read length prefixes with p2p_frame_header
 *         (bounded) and open each frame with a fixed receive key, as a connection does;
 *         nothing a stranger sends may open or move the counter.
 *   odd:  the rest is plaintext: seal it, open it with the peer's copy of the key (same
 *         bytes back), then alter one byte chosen by the input, or replay the frame: the
 *         open must fail with PX_ECRYPTO and leave the counter where it was.
 *
 * Never does I/O; the keys are fixed test values.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "p2p_frame.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CT (64u * 1024u + P2P_FRAME_TAG_BYTES)

static const uint8_t key_bytes[P2P_FRAME_KEY_BYTES] = {
    0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88, 0x97, 0xa6, 0xb5, 0xc4, 0xd3, 0xe2, 0xf1, 0x00,
    0x01, 0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0};

static void stream_case(const uint8_t *data, size_t size)
{
    struct p2p_frame_key k;
    p2p_frame_key_init(&k, key_bytes);
    uint8_t *out = malloc(MAX_CT);
    FUZZ_CHECK(out != NULL);
    size_t off = 0;
    while (size - off >= P2P_FRAME_LEN_BYTES) {
        const uint8_t *hdr = data + off;
        size_t ct_len = 0;
        int rc = p2p_frame_header(hdr, MAX_CT, &ct_len);
        FUZZ_CHECK(rc == 0 || rc == PX_EPROTO || rc == PX_ETOOBIG);
        if (rc != 0)
            break;
        FUZZ_CHECK(ct_len >= P2P_FRAME_TAG_BYTES && ct_len <= MAX_CT);
        off += P2P_FRAME_LEN_BYTES;
        if (size - off < ct_len)
            break;
        uint64_t before = k.counter;
        size_t pt_len = 0;
        rc = p2p_frame_open(&k, hdr, data + off, ct_len, out, &pt_len);
        /* forging a Poly1305 tag is not something a fuzzer does */
        FUZZ_CHECK(rc == PX_ECRYPTO);
        FUZZ_CHECK(k.counter == before);
        off += ct_len;
    }
    free(out);
    p2p_frame_key_fini(&k);
}

static void roundtrip_case(const uint8_t *data, size_t size)
{
    if (size > MAX_CT - P2P_FRAME_TAG_BYTES)
        size = MAX_CT - P2P_FRAME_TAG_BYTES;
    struct p2p_frame_key tx, rx;
    p2p_frame_key_init(&tx, key_bytes);
    p2p_frame_key_init(&rx, key_bytes);
    /* start both sides at a counter taken from the input (wrap-around included) */
    uint64_t start = 0;
    for (size_t i = 0; i < 8 && i < size; i++)
        start = (start << 8) | data[i];
    tx.counter = rx.counter = start;

    size_t cap = size + P2P_FRAME_OVERHEAD;
    uint8_t *frame = malloc(cap);
    uint8_t *pt = malloc(size ? size : 1);
    FUZZ_CHECK(frame && pt);
    size_t flen = 0;
    int rc = p2p_frame_seal(&tx, data, size, frame, cap, &flen);
    FUZZ_CHECK(rc == 0 || (rc == PX_EBOUND && tx.spent));
    if (rc == 0) {
        FUZZ_CHECK(flen == size + P2P_FRAME_OVERHEAD);
        size_t ct_len = 0;
        FUZZ_CHECK(p2p_frame_header(frame, MAX_CT, &ct_len) == 0);
        FUZZ_CHECK(ct_len == flen - P2P_FRAME_LEN_BYTES);

        /* an altered byte (length prefix, ciphertext or tag) never opens */
        size_t at = size ? (size_t)data[size - 1] * 257u % flen : 0;
        frame[at] ^= 0x01;
        size_t pt_len = 0;
        uint64_t before = rx.counter;
        rc = p2p_frame_open(&rx, frame, frame + P2P_FRAME_LEN_BYTES, ct_len, pt, &pt_len);
        FUZZ_CHECK(rc == PX_ECRYPTO || (at < P2P_FRAME_LEN_BYTES && rc == PX_EPROTO));
        FUZZ_CHECK(rx.counter == before);
        frame[at] ^= 0x01;

        /* the frame as sealed opens, once */
        rc = p2p_frame_open(&rx, frame, frame + P2P_FRAME_LEN_BYTES, ct_len, pt, &pt_len);
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK_BYTES(pt, pt_len, data, size);
        FUZZ_CHECK(rx.counter == tx.counter || (rx.spent && tx.spent));
        if (!rx.spent) {
            before = rx.counter;
            rc = p2p_frame_open(&rx, frame, frame + P2P_FRAME_LEN_BYTES, ct_len, pt, &pt_len);
            FUZZ_CHECK(rc == PX_ECRYPTO); /* a replay */
            FUZZ_CHECK(rx.counter == before);
        }
    }
    free(frame);
    free(pt);
    p2p_frame_key_fini(&tx);
    p2p_frame_key_fini(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int sodium_ready;
    if (!sodium_ready) {
        FUZZ_CHECK(sodium_init() >= 0);
        sodium_ready = 1;
    }
    if (size < 1)
        return 0;
    if (data[0] & 1)
        roundtrip_case(data + 1, size - 1);
    else
        stream_case(data + 1, size - 1);
    return 0;
}
