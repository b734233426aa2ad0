/*
 * p2p_codec: protobuf-c encoding of AuthSig and Packet (see p2p_codec.h). The only file
 * of engine/p2p that includes generated protobuf code; never lets a protobuf-c struct out.
 */
#include "p2p_codec.h"

#include <string.h>

#include "p2p.pb-c.h"
#include "px_error.h"

int p2p_codec_auth_encode(const struct p2p_auth *a, uint8_t *out, size_t cap, size_t *len)
{
    if (strnlen(a->network, sizeof(a->network)) > P2P_NETWORK_MAX)
        return PX_EINVAL;
    Phalanx__P2p__AuthSig m = PHALANX__P2P__AUTH_SIG__INIT;
    m.pub_key.data = (uint8_t *)a->pk;
    m.pub_key.len = P2P_PUBKEY_BYTES;
    m.sig.data = (uint8_t *)a->sig;
    m.sig.len = P2P_SIG_BYTES;
    m.version = a->version;
    m.network = (char *)a->network;
    size_t n = phalanx__p2p__auth_sig__get_packed_size(&m);
    if (n > cap)
        return PX_ETOOBIG;
    *len = phalanx__p2p__auth_sig__pack(&m, out);
    return 0;
}

int p2p_codec_auth_decode(const uint8_t *in, size_t len, struct p2p_auth *a)
{
    memset(a, 0, sizeof(*a));
    Phalanx__P2p__AuthSig *m = phalanx__p2p__auth_sig__unpack(NULL, len, in);
    if (!m)
        return PX_EDECODE;
    int rc = PX_EDECODE;
    /* a name with a NUL inside reads shorter and then matches no configured network */
    size_t nlen = m->network ? strnlen(m->network, P2P_NETWORK_MAX + 1) : 0;
    if (m->pub_key.len == P2P_PUBKEY_BYTES && m->sig.len == P2P_SIG_BYTES &&
        nlen <= P2P_NETWORK_MAX) {
        memcpy(a->pk, m->pub_key.data, P2P_PUBKEY_BYTES);
        memcpy(a->sig, m->sig.data, P2P_SIG_BYTES);
        a->version = m->version;
        if (nlen)
            memcpy(a->network, m->network, nlen);
        rc = 0;
    }
    phalanx__p2p__auth_sig__free_unpacked(m, NULL);
    return rc;
}

int p2p_codec_packet_encode(const struct p2p_packet *p, uint8_t *out, size_t cap, size_t *len)
{
    Phalanx__P2p__Packet m = PHALANX__P2P__PACKET__INIT;
    Phalanx__P2p__PacketPing ping = PHALANX__P2P__PACKET_PING__INIT;
    Phalanx__P2p__PacketPong pong = PHALANX__P2P__PACKET_PONG__INIT;
    Phalanx__P2p__PacketMsg msg = PHALANX__P2P__PACKET_MSG__INIT;
    switch (p->type) {
    case P2P_PACKET_PING:
        m.sum_case = PHALANX__P2P__PACKET__SUM_PING;
        m.ping = &ping;
        break;
    case P2P_PACKET_PONG:
        m.sum_case = PHALANX__P2P__PACKET__SUM_PONG;
        m.pong = &pong;
        break;
    case P2P_PACKET_MSG:
        m.sum_case = PHALANX__P2P__PACKET__SUM_MSG;
        msg.channel_id = p->channel;
        msg.eof = p->eof;
        msg.data.data = (uint8_t *)p->data;
        msg.data.len = p->len;
        m.msg = &msg;
        break;
    default:
        return PX_EINVAL;
    }
    size_t n = phalanx__p2p__packet__get_packed_size(&m);
    if (n > cap)
        return PX_ETOOBIG;
    *len = phalanx__p2p__packet__pack(&m, out);
    return 0;
}

int p2p_codec_packet_decode(const uint8_t *in, size_t len, struct p2p_packet *out)
{
    memset(out, 0, sizeof(*out));
    Phalanx__P2p__Packet *m = phalanx__p2p__packet__unpack(NULL, len, in);
    if (!m)
        return PX_EDECODE;
    switch (m->sum_case) {
    case PHALANX__P2P__PACKET__SUM_PING:
        out->type = P2P_PACKET_PING;
        break;
    case PHALANX__P2P__PACKET__SUM_PONG:
        out->type = P2P_PACKET_PONG;
        break;
    case PHALANX__P2P__PACKET__SUM_MSG:
        out->type = P2P_PACKET_MSG;
        out->channel = m->msg->channel_id;
        out->eof = m->msg->eof != 0;
        out->data = m->msg->data.data;
        out->len = m->msg->data.len;
        break;
    default:
        phalanx__p2p__packet__free_unpacked(m, NULL);
        return PX_EDECODE;
    }
    out->priv = m;
    return 0;
}

void p2p_codec_packet_free(struct p2p_packet *p)
{
    if (p->priv)
        phalanx__p2p__packet__free_unpacked(p->priv, NULL);
    memset(p, 0, sizeof(*p));
}
