/*
 * sign_bytes: CanonicalVote / CanonicalProposal, deterministic and length-prefixed (see
 * sign_bytes.h). protobuf-c packs fields in field-number order and omits proto3 zero
 * scalars, which is the deterministic encoding CometBFT's gogoproto produces for these
 * messages; the nil block id is left out and the timestamp is always present, as there.
 * Must never change a byte of the output for a given input: the unit test pins it.
 */
#include "sign_bytes.h"

#include <string.h>

#include "ed25519.h"
#include "px_error.h"
#include "types.pb-c.h"

struct canonical_bid {
    Phalanx__Types__CanonicalBlockID bid;
    Phalanx__Types__CanonicalPartSetHeader psh;
};

static bool is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static ProtobufCBinaryData hash_bin(const uint8_t *p)
{
    ProtobufCBinaryData b = {BLOCK_ID_HASH_SIZE, (uint8_t *)p};
    if (is_zero(p, BLOCK_ID_HASH_SIZE))
        b = (ProtobufCBinaryData){0, NULL};
    return b;
}

/* NULL for nil: the field is then omitted. */
static Phalanx__Types__CanonicalBlockID *canonical_bid(const struct block_id *id,
                                                       struct canonical_bid *s)
{
    if (block_id_is_nil(id))
        return NULL;
    phalanx__types__canonical_block_id__init(&s->bid);
    phalanx__types__canonical_part_set_header__init(&s->psh);
    s->bid.hash = hash_bin(id->hash);
    s->psh.total = id->parts.total;
    s->psh.hash = hash_bin(id->parts.hash);
    s->bid.part_set_header = &s->psh;
    return &s->bid;
}

static int check_chain_id(const char *chain_id)
{
    if (!chain_id)
        return PX_EINVAL;
    size_t n = strnlen(chain_id, SIGN_BYTES_CHAIN_ID_MAX + 1);
    return n == 0 || n > SIGN_BYTES_CHAIN_ID_MAX ? PX_EINVAL : 0;
}

/* uvarint(len) || message, into buf. */
static int delimited(const ProtobufCMessage *m, uint8_t buf[SIGN_BYTES_MAX], size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t prefix[10];
    size_t pn = 0;
    uint64_t v = n;
    do {
        prefix[pn] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            prefix[pn] |= 0x80;
        pn++;
    } while (v);
    if (pn + n > SIGN_BYTES_MAX)
        return PX_EINVAL;
    memcpy(buf, prefix, pn);
    protobuf_c_message_pack(m, buf + pn);
    *len = pn + n;
    return 0;
}

static void timestamp(uint64_t ns, Phalanx__Types__Timestamp *t)
{
    phalanx__types__timestamp__init(t);
    t->seconds = (int64_t)(ns / 1000000000ull);
    t->nanos = (int32_t)(ns % 1000000000ull);
}

int sign_bytes_vote(const struct vote *v, const char *chain_id, uint8_t buf[SIGN_BYTES_MAX],
                    size_t *len)
{
    if (check_chain_id(chain_id) != 0 || v->height > INT64_MAX)
        return PX_EINVAL;
    Phalanx__Types__CanonicalVote cv;
    Phalanx__Types__Timestamp ts;
    struct canonical_bid bid;
    phalanx__types__canonical_vote__init(&cv);
    cv.type = (Phalanx__Types__SignedMsgType)v->type;
    cv.height = (int64_t)v->height;
    cv.round = v->round;
    cv.block_id = canonical_bid(&v->block_id, &bid);
    timestamp(v->timestamp_ns, &ts);
    cv.timestamp = &ts;
    cv.chain_id = (char *)chain_id;
    return delimited(&cv.base, buf, len);
}

int sign_bytes_proposal(const struct proposal *p, const char *chain_id, uint8_t buf[SIGN_BYTES_MAX],
                        size_t *len)
{
    if (check_chain_id(chain_id) != 0 || p->height > INT64_MAX)
        return PX_EINVAL;
    Phalanx__Types__CanonicalProposal cp;
    Phalanx__Types__Timestamp ts;
    struct canonical_bid bid;
    phalanx__types__canonical_proposal__init(&cp);
    cp.type = PHALANX__TYPES__SIGNED_MSG_TYPE__SIGNED_MSG_TYPE_PROPOSAL;
    cp.height = (int64_t)p->height;
    cp.round = p->round;
    cp.pol_round = p->pol_round;
    cp.block_id = canonical_bid(&p->block_id, &bid);
    timestamp(p->timestamp_ns, &ts);
    cp.timestamp = &ts;
    cp.chain_id = (char *)chain_id;
    return delimited(&cp.base, buf, len);
}

int sign_bytes_check(sign_bytes_verify_fn fn, void *user, const uint8_t pub[32], const uint8_t *msg,
                     size_t len, const uint8_t sig[64])
{
    if (fn)
        return fn(pub, msg, len, sig, user) == 0 ? 0 : PX_ECRYPTO;
    struct ed25519_pubkey pk;
    memcpy(pk.bytes, pub, sizeof(pk.bytes));
    return ed25519_verify(&pk, msg, len, sig);
}

int sign_bytes_vote_verify(const struct vote *v, const char *chain_id, const uint8_t pub[32],
                           sign_bytes_verify_fn fn, void *user)
{
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    int rc = sign_bytes_vote(v, chain_id, buf, &len);
    return rc ? rc : sign_bytes_check(fn, user, pub, buf, len, v->signature);
}

int sign_bytes_proposal_verify(const struct proposal *p, const char *chain_id,
                               const uint8_t pub[32], sign_bytes_verify_fn fn, void *user)
{
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    int rc = sign_bytes_proposal(p, chain_id, buf, &len);
    return rc ? rc : sign_bytes_check(fn, user, pub, buf, len, p->signature);
}
