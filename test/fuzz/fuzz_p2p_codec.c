/*
 * fuzz_p2p_codec: the plaintext decoders of a p2p connection (engine/p2p/p2p_codec.h): the
 * AuthSig of the handshake and the Packet (ping, pong, channel message) of every frame. The
 * first input byte picks the decoder. Whatever decodes must encode again and decode to the
 * same values.
 *
 * Never opens a socket; touches nothing but the codec.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "p2p_codec.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void auth_case(const uint8_t *data, size_t size)
{
    struct p2p_auth a, b;
    if (p2p_codec_auth_decode(data, size, &a) != 0)
        return;
    FUZZ_CHECK(strlen(a.network) <= P2P_NETWORK_MAX);
    uint8_t buf[512];
    size_t len = 0;
    FUZZ_CHECK(p2p_codec_auth_encode(&a, buf, sizeof(buf), &len) == 0);
    FUZZ_CHECK(p2p_codec_auth_decode(buf, len, &b) == 0);
    FUZZ_CHECK(memcmp(a.pk, b.pk, sizeof(a.pk)) == 0);
    FUZZ_CHECK(memcmp(a.sig, b.sig, sizeof(a.sig)) == 0);
    FUZZ_CHECK(a.version == b.version);
    FUZZ_CHECK(strcmp(a.network, b.network) == 0);
}

static void packet_case(const uint8_t *data, size_t size)
{
    struct p2p_packet p, q;
    int rc = p2p_codec_packet_decode(data, size, &p);
    FUZZ_CHECK(rc == 0 || rc == PX_EDECODE || rc == PX_ENOMEM);
    if (rc != 0)
        return;
    FUZZ_CHECK(p.type == P2P_PACKET_PING || p.type == P2P_PACKET_PONG || p.type == P2P_PACKET_MSG);
    /* data is a view into memory of the decoded packet and cannot be larger than the input */
    FUZZ_CHECK(p.len <= size);
    size_t cap = p.len + P2P_PACKET_OVERHEAD;
    uint8_t *buf = malloc(cap);
    FUZZ_CHECK(buf != NULL);
    size_t len = 0;
    FUZZ_CHECK(p2p_codec_packet_encode(&p, buf, cap, &len) == 0);
    FUZZ_CHECK(p2p_codec_packet_decode(buf, len, &q) == 0);
    FUZZ_CHECK(p.type == q.type);
    if (p.type == P2P_PACKET_MSG) {
        FUZZ_CHECK(p.channel == q.channel && p.eof == q.eof);
        FUZZ_CHECK_BYTES(p.data, p.len, q.data, q.len);
    }
    p2p_codec_packet_free(&q);
    p2p_codec_packet_free(&p);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        auth_case(data + 1, size - 1);
    else
        packet_case(data + 1, size - 1);
    return 0;
}
