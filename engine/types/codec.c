/*
 * codec: plain C structs <-> protobuf-c messages of proto/types.proto (see codec.h).
 *
 * Encoding builds protobuf-c messages on the stack (or in one malloc'd array for lists)
 * pointing into the C structs, never copying payloads, then packs them. Decoding checks
 * the input size, unpacks under an allocation budget, checks every field's length and
 * range while copying into the C struct, and frees the protobuf-c message. Must never
 * hand a protobuf-c struct to its callers, trust a length from the wire, or crash on any
 * input.
 */
#include "codec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ed25519.h"
#include "px_error.h"
#include "types.pb-c.h"

typedef Phalanx__Types__Timestamp PbTimestamp;
typedef Phalanx__Types__PartSetHeader PbPartSetHeader;
typedef Phalanx__Types__BlockID PbBlockID;
typedef Phalanx__Types__Consensus PbConsensus;
typedef Phalanx__Types__Header PbHeader;
typedef Phalanx__Types__Data PbData;
typedef Phalanx__Types__Vote PbVote;
typedef Phalanx__Types__CommitSig PbCommitSig;
typedef Phalanx__Types__Commit PbCommit;
typedef Phalanx__Types__Proposal PbProposal;
typedef Phalanx__Types__DuplicateVoteEvidence PbDuplicateVoteEvidence;
typedef Phalanx__Types__Evidence PbEvidence;
typedef Phalanx__Types__EvidenceList PbEvidenceList;
typedef Phalanx__Types__Block PbBlock;
typedef Phalanx__Types__PublicKey PbPublicKey;
typedef Phalanx__Types__Validator PbValidator;
typedef Phalanx__Types__SimpleValidator PbSimpleValidator;
typedef Phalanx__Types__ValidatorSet PbValidatorSet;
typedef Phalanx__Types__Proof PbProof;
typedef Phalanx__Types__Part PbPart;
typedef Phalanx__Types__StringValue PbStringValue;
typedef Phalanx__Types__Int64Value PbInt64Value;
typedef Phalanx__Types__BytesValue PbBytesValue;

#define NS_PER_S 1000000000ull

/* ---- helpers ------------------------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static ProtobufCBinaryData bin(const uint8_t *p, size_t n)
{
    ProtobufCBinaryData b = {n, (uint8_t *)p};
    if (n == 0)
        b.data = NULL;
    return b;
}

/* A hash field: empty on the wire when all zero (nil), else its bytes. */
static ProtobufCBinaryData bin_hash(const uint8_t *p, size_t n)
{
    return all_zero(p, n) ? bin(NULL, 0) : bin(p, n);
}

/* dst[n] = b, which must be exactly n bytes, or empty when allow_empty (dst zeroed). */
static int fixed_bytes(const ProtobufCBinaryData *b, uint8_t *dst, size_t n, bool allow_empty)
{
    if (b->len == 0 && allow_empty) {
        memset(dst, 0, n);
        return 0;
    }
    if (b->len != n || !b->data)
        return PX_EDECODE;
    memcpy(dst, b->data, n);
    return 0;
}

static int pack_alloc(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return PX_ENOMEM;
    size_t got = protobuf_c_message_pack(m, buf);
    if (got != n) {
        free(buf);
        return PX_EINTERNAL;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int pack_fixed(const ProtobufCMessage *m, uint8_t *buf, size_t cap, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n > cap)
        return PX_EINVAL;
    *len = protobuf_c_message_pack(m, buf);
    return 0;
}

/* Unpacking under a budget: protobuf-c allocates per element (and, while scanning, about
 * 64 bytes per field on the wire), so a small input could otherwise ask for many times
 * its size. The budget bounds the bytes live at any moment: frees give bytes back. */
struct budget {
    ProtobufCAllocator a;
    size_t left;
};

#define BUDGET_HDR 16 /* keeps the caller's pointer 16-byte aligned */

static void *budget_alloc(void *data, size_t n)
{
    struct budget *b = data;
    if (n > b->left || n > SIZE_MAX - BUDGET_HDR)
        return NULL;
    uint8_t *p = malloc(n + BUDGET_HDR);
    if (!p)
        return NULL;
    b->left -= n;
    memcpy(p, &n, sizeof(n));
    return p + BUDGET_HDR;
}

static void budget_free(void *data, void *ptr)
{
    struct budget *b = data;
    if (!ptr)
        return;
    uint8_t *p = (uint8_t *)ptr - BUDGET_HDR;
    size_t n;
    memcpy(&n, p, sizeof(n));
    b->left += n;
    free(p);
}

/* Unpack buf as desc if len <= max. Live allocations may reach 4x the input plus 1 MiB
 * plus extra (for messages whose legitimate elements cost more than their wire bytes). */
static int unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                  size_t max, size_t extra, struct budget *b, ProtobufCMessage **out)
{
    if (len > max)
        return PX_ETOOBIG;
    if (!buf && len)
        return PX_EINVAL;
    b->a.alloc = budget_alloc;
    b->a.free = budget_free;
    b->a.allocator_data = b;
    b->left = 4 * len + (1u << 20) + extra;
    static const uint8_t empty[1] = {0};
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &b->a, len, len ? buf : empty);
    if (!m)
        return PX_EDECODE;
    *out = m;
    return 0;
}

static void unpack_free(ProtobufCMessage *m, struct budget *b)
{
    protobuf_c_message_free_unpacked(m, &b->a);
}

/* ---- timestamp, block id ------------------------------------------------------------ */

static void ts_to_pb(uint64_t ns, PbTimestamp *t)
{
    phalanx__types__timestamp__init(t);
    t->seconds = (int64_t)(ns / NS_PER_S);
    t->nanos = (int32_t)(ns % NS_PER_S);
}

static int ts_from_pb(const PbTimestamp *t, uint64_t *ns)
{
    if (!t) {
        *ns = 0;
        return 0;
    }
    if (t->seconds < 0 || t->nanos < 0 || t->nanos >= (int32_t)NS_PER_S)
        return PX_EDECODE;
    uint64_t s = (uint64_t)t->seconds;
    if (s > (UINT64_MAX - (uint64_t)t->nanos) / NS_PER_S)
        return PX_EDECODE;
    *ns = s * NS_PER_S + (uint64_t)t->nanos;
    return 0;
}

struct pb_bid {
    PbBlockID bid;
    PbPartSetHeader psh;
};

static PbBlockID *bid_to_pb(const struct block_id *id, struct pb_bid *s)
{
    phalanx__types__block_id__init(&s->bid);
    phalanx__types__part_set_header__init(&s->psh);
    s->bid.hash = bin_hash(id->hash, BLOCK_ID_HASH_SIZE);
    s->psh.total = id->parts.total;
    s->psh.hash = bin_hash(id->parts.hash, BLOCK_ID_HASH_SIZE);
    s->bid.part_set_header = &s->psh;
    return &s->bid;
}

static int psh_from_pb(const PbPartSetHeader *p, struct part_set_header *h)
{
    memset(h, 0, sizeof(*h));
    if (!p)
        return 0;
    h->total = p->total;
    return fixed_bytes(&p->hash, h->hash, BLOCK_ID_HASH_SIZE, true);
}

/* Any block id that is nil or complete. */
static int bid_from_pb(const PbBlockID *p, struct block_id *id)
{
    memset(id, 0, sizeof(*id));
    if (!p)
        return 0;
    if (fixed_bytes(&p->hash, id->hash, BLOCK_ID_HASH_SIZE, true) != 0 ||
        psh_from_pb(p->part_set_header, &id->parts) != 0)
        return PX_EDECODE;
    return block_id_validate(id) == 0 ? 0 : PX_EDECODE;
}

/* ---- vote, proposal ----------------------------------------------------------------- */

struct pb_vote {
    PbVote v;
    struct pb_bid bid;
    PbTimestamp ts;
};

static int vote_to_pb(const struct vote *v, struct pb_vote *s)
{
    if (v->height > INT64_MAX)
        return PX_EINVAL;
    phalanx__types__vote__init(&s->v);
    s->v.type = (Phalanx__Types__SignedMsgType)v->type;
    s->v.height = (int64_t)v->height;
    s->v.round = v->round;
    s->v.block_id = bid_to_pb(&v->block_id, &s->bid);
    ts_to_pb(v->timestamp_ns, &s->ts);
    s->v.timestamp = &s->ts;
    s->v.validator_address = bin(v->validator_address, VOTE_ADDRESS_SIZE);
    s->v.validator_index = v->validator_index;
    s->v.signature = bin(v->signature, VOTE_SIGNATURE_SIZE);
    return 0;
}

static int vote_from_pb(const PbVote *p, struct vote *v)
{
    memset(v, 0, sizeof(*v));
    if (!vote_type_is_valid((int)p->type) || p->height < 1)
        return PX_EDECODE;
    v->type = (enum vote_type)p->type;
    v->height = (uint64_t)p->height;
    v->round = p->round;
    v->validator_index = p->validator_index;
    if (bid_from_pb(p->block_id, &v->block_id) != 0 || ts_from_pb(p->timestamp, &v->timestamp_ns) ||
        fixed_bytes(&p->validator_address, v->validator_address, VOTE_ADDRESS_SIZE, false) != 0 ||
        fixed_bytes(&p->signature, v->signature, VOTE_SIGNATURE_SIZE, false) != 0)
        return PX_EDECODE;
    return vote_validate_basic(v) == 0 ? 0 : PX_EDECODE;
}

int codec_vote_encode(const struct vote *v, uint8_t **out, size_t *len)
{
    struct pb_vote s;
    int rc = vote_to_pb(v, &s);
    return rc ? rc : pack_alloc(&s.v.base, out, len);
}

int codec_vote_decode(const uint8_t *buf, size_t len, struct vote *out)
{
    struct budget b;
    ProtobufCMessage *m;
    int rc = unpack(&phalanx__types__vote__descriptor, buf, len, CODEC_VOTE_MAX_BYTES, 0, &b, &m);
    if (rc != 0)
        return rc;
    rc = vote_from_pb((PbVote *)m, out);
    unpack_free(m, &b);
    return rc;
}

int codec_proposal_encode(const struct proposal *p, uint8_t **out, size_t *len)
{
    if (p->height > INT64_MAX)
        return PX_EINVAL;
    PbProposal pp;
    struct pb_bid bid;
    PbTimestamp ts;
    phalanx__types__proposal__init(&pp);
    pp.type = PHALANX__TYPES__SIGNED_MSG_TYPE__SIGNED_MSG_TYPE_PROPOSAL;
    pp.height = (int64_t)p->height;
    pp.round = p->round;
    pp.pol_round = p->pol_round;
    pp.block_id = bid_to_pb(&p->block_id, &bid);
    ts_to_pb(p->timestamp_ns, &ts);
    pp.timestamp = &ts;
    pp.signature = bin(p->signature, PROPOSAL_SIGNATURE_SIZE);
    return pack_alloc(&pp.base, out, len);
}

int codec_proposal_decode(const uint8_t *buf, size_t len, struct proposal *out)
{
    struct budget b;
    ProtobufCMessage *m;
    int rc = unpack(&phalanx__types__proposal__descriptor, buf, len, CODEC_PROPOSAL_MAX_BYTES, 0,
                    &b, &m);
    if (rc != 0)
        return rc;
    const PbProposal *p = (const PbProposal *)m;
    memset(out, 0, sizeof(*out));
    rc = PX_EDECODE;
    if (p->type != PHALANX__TYPES__SIGNED_MSG_TYPE__SIGNED_MSG_TYPE_PROPOSAL || p->height < 1)
        goto out;
    out->height = (uint64_t)p->height;
    out->round = p->round;
    out->pol_round = p->pol_round;
    if (bid_from_pb(p->block_id, &out->block_id) != 0 ||
        ts_from_pb(p->timestamp, &out->timestamp_ns) != 0 ||
        fixed_bytes(&p->signature, out->signature, PROPOSAL_SIGNATURE_SIZE, false) != 0 ||
        proposal_validate_basic(out) != 0)
        goto out;
    rc = 0;
out:
    unpack_free(m, &b);
    return rc;
}

int codec_block_id_encode(const struct block_id *id, uint8_t **out, size_t *len)
{
    struct pb_bid s;
    return pack_alloc(&bid_to_pb(id, &s)->base, out, len);
}

int codec_block_id_decode(const uint8_t *buf, size_t len, struct block_id *out)
{
    struct budget b;
    ProtobufCMessage *m;
    int rc = unpack(&phalanx__types__block_id__descriptor, buf, len, CODEC_BLOCK_ID_MAX_BYTES, 0,
                    &b, &m);
    if (rc != 0)
        return rc;
    rc = bid_from_pb((const PbBlockID *)m, out);
    unpack_free(m, &b);
    return rc;
}

int codec_part_set_header_encode(const struct part_set_header *h, uint8_t **out, size_t *len)
{
    PbPartSetHeader p;
    phalanx__types__part_set_header__init(&p);
    p.total = h->total;
    p.hash = bin_hash(h->hash, BLOCK_ID_HASH_SIZE);
    return pack_alloc(&p.base, out, len);
}

int codec_part_set_header_decode(const uint8_t *buf, size_t len, struct part_set_header *out)
{
    struct budget b;
    ProtobufCMessage *m;
    int rc = unpack(&phalanx__types__part_set_header__descriptor, buf, len,
                    CODEC_PART_SET_HEADER_MAX_BYTES, 0, &b, &m);
    if (rc != 0)
        return rc;
    rc = psh_from_pb((const PbPartSetHeader *)m, out);
    if (rc == 0 && out->total > BLOCK_ID_MAX_PARTS)
        rc = PX_EDECODE;
    unpack_free(m, &b);
    return rc;
}

/* ---- header ------------------------------------------------------------------------- */

struct pb_header {
    PbHeader h;
    PbConsensus ver;
    PbTimestamp ts;
    struct pb_bid bid;
};

static int header_to_pb(const struct header *h, struct pb_header *s)
{
    if (header_validate_basic(h) != 0)
        return PX_EINVAL;
    phalanx__types__header__init(&s->h);
    phalanx__types__consensus__init(&s->ver);
    s->ver.block = h->version_block;
    s->ver.app = h->version_app;
    s->h.version = &s->ver;
    s->h.chain_id = (char *)h->chain_id;
    s->h.height = (int64_t)h->height;
    ts_to_pb(h->time_ns, &s->ts);
    s->h.time = &s->ts;
    s->h.last_block_id = bid_to_pb(&h->last_block_id, &s->bid);
    s->h.last_commit_hash = bin(h->last_commit_hash, HEADER_HASH_SIZE);
    s->h.data_hash = bin(h->data_hash, HEADER_HASH_SIZE);
    s->h.validators_hash = bin(h->validators_hash, HEADER_HASH_SIZE);
    s->h.next_validators_hash = bin(h->next_validators_hash, HEADER_HASH_SIZE);
    s->h.consensus_hash = bin(h->consensus_hash, HEADER_HASH_SIZE);
    s->h.app_hash = bin(h->app_hash, h->app_hash_len);
    s->h.last_results_hash = bin(h->last_results_hash, HEADER_HASH_SIZE);
    s->h.evidence_hash = bin(h->evidence_hash, HEADER_HASH_SIZE);
    s->h.proposer_address = bin(h->proposer_address, HEADER_ADDRESS_SIZE);
    return 0;
}

static int header_from_pb(const PbHeader *p, struct header *h)
{
    memset(h, 0, sizeof(*h));
    if (!p->version || !p->chain_id || p->height < 1)
        return PX_EDECODE;
    h->version_block = p->version->block;
    h->version_app = p->version->app;
    size_t cl = strlen(p->chain_id);
    if (cl == 0 || cl > HEADER_CHAIN_ID_MAX)
        return PX_EDECODE;
    memcpy(h->chain_id, p->chain_id, cl + 1);
    h->height = (uint64_t)p->height;
    if (p->app_hash.len > HEADER_APP_HASH_MAX)
        return PX_EDECODE;
    h->app_hash_len = (uint32_t)p->app_hash.len;
    if (p->app_hash.len)
        memcpy(h->app_hash, p->app_hash.data, p->app_hash.len);
    if (ts_from_pb(p->time, &h->time_ns) != 0 || bid_from_pb(p->last_block_id, &h->last_block_id) ||
        fixed_bytes(&p->last_commit_hash, h->last_commit_hash, HEADER_HASH_SIZE, false) ||
        fixed_bytes(&p->data_hash, h->data_hash, HEADER_HASH_SIZE, false) ||
        fixed_bytes(&p->validators_hash, h->validators_hash, HEADER_HASH_SIZE, false) ||
        fixed_bytes(&p->next_validators_hash, h->next_validators_hash, HEADER_HASH_SIZE, false) ||
        fixed_bytes(&p->consensus_hash, h->consensus_hash, HEADER_HASH_SIZE, false) ||
        fixed_bytes(&p->last_results_hash, h->last_results_hash, HEADER_HASH_SIZE, false) ||
        fixed_bytes(&p->evidence_hash, h->evidence_hash, HEADER_HASH_SIZE, false) ||
        fixed_bytes(&p->proposer_address, h->proposer_address, HEADER_ADDRESS_SIZE, false))
        return PX_EDECODE;
    return header_validate_basic(h) == 0 ? 0 : PX_EDECODE;
}

int codec_header_encode(const struct header *h, uint8_t **out, size_t *len)
{
    struct pb_header s;
    int rc = header_to_pb(h, &s);
    return rc ? rc : pack_alloc(&s.h.base, out, len);
}

int codec_header_decode(const uint8_t *buf, size_t len, struct header *out)
{
    struct budget b;
    ProtobufCMessage *m;
    int rc =
        unpack(&phalanx__types__header__descriptor, buf, len, CODEC_HEADER_MAX_BYTES, 0, &b, &m);
    if (rc != 0)
        return rc;
    rc = header_from_pb((const PbHeader *)m, out);
    unpack_free(m, &b);
    return rc;
}

int codec_header_leaves(const struct header *h,
                        uint8_t leaves[CODEC_HEADER_LEAVES][CODEC_HEADER_LEAF_MAX],
                        size_t lens[CODEC_HEADER_LEAVES])
{
    struct pb_header s;
    int rc = header_to_pb(h, &s);
    if (rc != 0)
        return rc;
    PbStringValue sv;
    PbInt64Value iv;
    phalanx__types__string_value__init(&sv);
    phalanx__types__int64_value__init(&iv);
    sv.value = (char *)h->chain_id;
    iv.value = (int64_t)h->height;
    const ProtobufCBinaryData *bytes[9] = {
        &s.h.last_commit_hash,     &s.h.data_hash,      &s.h.validators_hash,
        &s.h.next_validators_hash, &s.h.consensus_hash, &s.h.app_hash,
        &s.h.last_results_hash,    &s.h.evidence_hash,  &s.h.proposer_address,
    };
    const ProtobufCMessage *msgs[5] = {&s.ver.base, &sv.base, &iv.base, &s.ts.base,
                                       &s.bid.bid.base};
    for (int i = 0; i < 5 && rc == 0; i++)
        rc = pack_fixed(msgs[i], leaves[i], CODEC_HEADER_LEAF_MAX, &lens[i]);
    for (int i = 0; i < 9 && rc == 0; i++) {
        PbBytesValue bv;
        phalanx__types__bytes_value__init(&bv);
        bv.value = *bytes[i];
        rc = pack_fixed(&bv.base, leaves[5 + i], CODEC_HEADER_LEAF_MAX, &lens[5 + i]);
    }
    return rc;
}

/* ---- commit ------------------------------------------------------------------------- */

static void commit_sig_to_pb(const struct commit_sig *cs, PbCommitSig *p, PbTimestamp *ts)
{
    phalanx__types__commit_sig__init(p);
    p->block_id_flag = (Phalanx__Types__BlockIDFlag)cs->flag;
    ts_to_pb(cs->timestamp_ns, ts);
    p->timestamp = ts;
    if (cs->flag != COMMIT_FLAG_ABSENT) {
        p->validator_address = bin(cs->validator_address, VOTE_ADDRESS_SIZE);
        p->signature = bin(cs->signature, VOTE_SIGNATURE_SIZE);
    }
}

int codec_commit_sig_bytes(const struct commit_sig *s, uint8_t buf[CODEC_COMMIT_SIG_MAX],
                           size_t *len)
{
    PbCommitSig p;
    PbTimestamp ts;
    commit_sig_to_pb(s, &p, &ts);
    return pack_fixed(&p.base, buf, CODEC_COMMIT_SIG_MAX, len);
}

struct pb_commit {
    PbCommit c;
    struct pb_bid bid;
    PbCommitSig *sigs;
    PbTimestamp *ts;
    PbCommitSig **ptrs;
};

static void pb_commit_free(struct pb_commit *s)
{
    free(s->sigs);
    free(s->ts);
    free(s->ptrs);
}

static int commit_to_pb(const struct commit *c, struct pb_commit *s)
{
    memset(s, 0, sizeof(*s));
    if (c->height > INT64_MAX || c->count > VALIDATOR_SET_MAX || (c->count && !c->sigs))
        return PX_EINVAL;
    phalanx__types__commit__init(&s->c);
    s->c.height = (int64_t)c->height;
    s->c.round = c->round;
    s->c.block_id = bid_to_pb(&c->block_id, &s->bid);
    if (c->count == 0)
        return 0;
    s->sigs = calloc(c->count, sizeof(*s->sigs));
    s->ts = calloc(c->count, sizeof(*s->ts));
    s->ptrs = calloc(c->count, sizeof(*s->ptrs));
    if (!s->sigs || !s->ts || !s->ptrs) {
        pb_commit_free(s);
        return PX_ENOMEM;
    }
    for (uint32_t i = 0; i < c->count; i++) {
        commit_sig_to_pb(&c->sigs[i], &s->sigs[i], &s->ts[i]);
        s->ptrs[i] = &s->sigs[i];
    }
    s->c.n_signatures = c->count;
    s->c.signatures = s->ptrs;
    return 0;
}

/* *c is initialised here; on error it is left empty. */
static int commit_from_pb(const PbCommit *p, struct commit *c)
{
    commit_init_empty(c);
    if (p->n_signatures > VALIDATOR_SET_MAX)
        return PX_ETOOBIG;
    if (p->height < 0)
        return PX_EDECODE;
    struct block_id id;
    if (bid_from_pb(p->block_id, &id) != 0)
        return PX_EDECODE;
    int rc = commit_init(c, (uint64_t)p->height, p->round, &id, (uint32_t)p->n_signatures);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < p->n_signatures; i++) {
        const PbCommitSig *ps = p->signatures[i];
        struct commit_sig *cs = &c->sigs[i];
        rc = PX_EDECODE;
        if ((int)ps->block_id_flag < (int)COMMIT_FLAG_ABSENT ||
            (int)ps->block_id_flag > (int)COMMIT_FLAG_NIL)
            goto fail;
        cs->flag = (enum commit_flag)ps->block_id_flag;
        if (ts_from_pb(ps->timestamp, &cs->timestamp_ns) != 0)
            goto fail;
        bool absent = cs->flag == COMMIT_FLAG_ABSENT;
        if (fixed_bytes(&ps->validator_address, cs->validator_address, VOTE_ADDRESS_SIZE, absent) ||
            fixed_bytes(&ps->signature, cs->signature, VOTE_SIGNATURE_SIZE, absent))
            goto fail;
        if (absent && (ps->validator_address.len || ps->signature.len))
            goto fail;
    }
    if (commit_validate_basic(c) != 0) {
        rc = PX_EDECODE;
        goto fail;
    }
    return 0;
fail:
    commit_fini(c);
    return rc;
}

int codec_commit_encode(const struct commit *c, uint8_t **out, size_t *len)
{
    struct pb_commit s;
    int rc = commit_to_pb(c, &s);
    if (rc != 0)
        return rc;
    rc = pack_alloc(&s.c.base, out, len);
    pb_commit_free(&s);
    return rc;
}

int codec_commit_decode(const uint8_t *buf, size_t len, struct commit *out)
{
    struct budget b;
    ProtobufCMessage *m;
    commit_init_empty(out);
    int rc =
        unpack(&phalanx__types__commit__descriptor, buf, len, CODEC_COMMIT_MAX_BYTES, 0, &b, &m);
    if (rc != 0)
        return rc;
    rc = commit_from_pb((const PbCommit *)m, out);
    unpack_free(m, &b);
    return rc;
}

/* ---- evidence ----------------------------------------------------------------------- */

struct pb_evidence {
    PbEvidence e;
    PbDuplicateVoteEvidence d;
    struct pb_vote a, b;
    PbTimestamp ts;
};

static int evidence_to_pb(const struct evidence *ev, struct pb_evidence *s)
{
    int rc = vote_to_pb(&ev->vote_a, &s->a);
    if (rc == 0)
        rc = vote_to_pb(&ev->vote_b, &s->b);
    if (rc != 0)
        return rc;
    phalanx__types__evidence__init(&s->e);
    phalanx__types__duplicate_vote_evidence__init(&s->d);
    s->d.vote_a = &s->a.v;
    s->d.vote_b = &s->b.v;
    s->d.total_voting_power = ev->total_voting_power;
    s->d.validator_power = ev->validator_power;
    ts_to_pb(ev->timestamp_ns, &s->ts);
    s->d.timestamp = &s->ts;
    s->e.sum_case = PHALANX__TYPES__EVIDENCE__SUM_DUPLICATE_VOTE_EVIDENCE;
    s->e.duplicate_vote_evidence = &s->d;
    return 0;
}

static int evidence_from_pb(const PbEvidence *p, struct evidence *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (p->sum_case != PHALANX__TYPES__EVIDENCE__SUM_DUPLICATE_VOTE_EVIDENCE ||
        !p->duplicate_vote_evidence)
        return PX_EDECODE;
    const PbDuplicateVoteEvidence *d = p->duplicate_vote_evidence;
    if (!d->vote_a || !d->vote_b || vote_from_pb(d->vote_a, &ev->vote_a) != 0 ||
        vote_from_pb(d->vote_b, &ev->vote_b) != 0 || ts_from_pb(d->timestamp, &ev->timestamp_ns))
        return PX_EDECODE;
    ev->total_voting_power = d->total_voting_power;
    ev->validator_power = d->validator_power;
    return evidence_validate_basic(ev) == 0 ? 0 : PX_EDECODE;
}

int codec_evidence_encode(const struct evidence *ev, uint8_t **out, size_t *len)
{
    struct pb_evidence s;
    int rc = evidence_to_pb(ev, &s);
    return rc ? rc : pack_alloc(&s.e.base, out, len);
}

int codec_duplicate_vote_bytes(const struct evidence *ev, uint8_t **out, size_t *len)
{
    struct pb_evidence s;
    int rc = evidence_to_pb(ev, &s);
    return rc ? rc : pack_alloc(&s.d.base, out, len);
}

int codec_evidence_decode(const uint8_t *buf, size_t len, struct evidence *out)
{
    struct budget b;
    ProtobufCMessage *m;
    int rc = unpack(&phalanx__types__evidence__descriptor, buf, len, CODEC_EVIDENCE_MAX_BYTES, 0,
                    &b, &m);
    if (rc != 0)
        return rc;
    rc = evidence_from_pb((const PbEvidence *)m, out);
    unpack_free(m, &b);
    return rc;
}

/* ---- validator set ------------------------------------------------------------------ */

int codec_simple_validator_bytes(const struct validator *v, uint8_t buf[CODEC_SIMPLE_VALIDATOR_MAX],
                                 size_t *len)
{
    PbSimpleValidator sv;
    PbPublicKey pk;
    phalanx__types__simple_validator__init(&sv);
    phalanx__types__public_key__init(&pk);
    pk.sum_case = PHALANX__TYPES__PUBLIC_KEY__SUM_ED25519;
    pk.ed25519 = bin(v->pub_key, VALIDATOR_PUBKEY_SIZE);
    sv.pub_key = &pk;
    sv.voting_power = v->voting_power;
    return pack_fixed(&sv.base, buf, CODEC_SIMPLE_VALIDATOR_MAX, len);
}

int codec_hashed_params_bytes(int64_t block_max_bytes, int64_t block_max_gas,
                              uint8_t buf[CODEC_HASHED_PARAMS_MAX], size_t *len)
{
    Phalanx__Types__HashedParams hp;
    phalanx__types__hashed_params__init(&hp);
    hp.block_max_bytes = block_max_bytes;
    hp.block_max_gas = block_max_gas;
    return pack_fixed(&hp.base, buf, CODEC_HASHED_PARAMS_MAX, len);
}

int codec_validator_set_encode(const struct validator_set *vs, uint8_t **out, size_t *len)
{
    if (vs->count > VALIDATOR_SET_MAX)
        return PX_EINVAL;
    PbValidatorSet p;
    phalanx__types__validator_set__init(&p);
    size_t n = vs->count ? vs->count : 1;
    PbValidator *vals = calloc(n, sizeof(*vals));
    PbPublicKey *pks = calloc(n, sizeof(*pks));
    PbValidator **ptrs = calloc(n, sizeof(*ptrs));
    PbValidator prop;
    PbPublicKey prop_pk;
    int rc = PX_ENOMEM;
    if (!vals || !pks || !ptrs)
        goto out;
    for (uint32_t i = 0; i < vs->count; i++) {
        const struct validator *v = &vs->validators[i];
        phalanx__types__validator__init(&vals[i]);
        phalanx__types__public_key__init(&pks[i]);
        pks[i].sum_case = PHALANX__TYPES__PUBLIC_KEY__SUM_ED25519;
        pks[i].ed25519 = bin(v->pub_key, VALIDATOR_PUBKEY_SIZE);
        vals[i].address = bin(v->address, VALIDATOR_ADDRESS_SIZE);
        vals[i].pub_key = &pks[i];
        vals[i].voting_power = v->voting_power;
        vals[i].proposer_priority = v->proposer_priority;
        ptrs[i] = &vals[i];
    }
    p.n_validators = vs->count;
    p.validators = ptrs;
    const struct validator *pv = validator_set_proposer(vs);
    if (pv) {
        phalanx__types__validator__init(&prop);
        phalanx__types__public_key__init(&prop_pk);
        prop_pk.sum_case = PHALANX__TYPES__PUBLIC_KEY__SUM_ED25519;
        prop_pk.ed25519 = bin(pv->pub_key, VALIDATOR_PUBKEY_SIZE);
        prop.address = bin(pv->address, VALIDATOR_ADDRESS_SIZE);
        prop.pub_key = &prop_pk;
        prop.voting_power = pv->voting_power;
        prop.proposer_priority = pv->proposer_priority;
        p.proposer = &prop;
    }
    p.total_voting_power = vs->total_voting_power;
    rc = pack_alloc(&p.base, out, len);
out:
    free(vals);
    free(pks);
    free(ptrs);
    return rc;
}

static int validator_from_pb(const PbValidator *p, struct validator *v)
{
    memset(v, 0, sizeof(*v));
    if (!p->pub_key || p->pub_key->sum_case != PHALANX__TYPES__PUBLIC_KEY__SUM_ED25519)
        return PX_EDECODE;
    if (fixed_bytes(&p->address, v->address, VALIDATOR_ADDRESS_SIZE, false) ||
        fixed_bytes(&p->pub_key->ed25519, v->pub_key, VALIDATOR_PUBKEY_SIZE, false))
        return PX_EDECODE;
    struct ed25519_pubkey pk;
    uint8_t addr[CRYPTO_ADDRESS_SIZE];
    memcpy(pk.bytes, v->pub_key, sizeof(pk.bytes));
    ed25519_address(&pk, addr);
    if (memcmp(addr, v->address, VALIDATOR_ADDRESS_SIZE) != 0)
        return PX_EDECODE;
    v->voting_power = p->voting_power;
    v->proposer_priority = p->proposer_priority;
    return 0;
}

int codec_validator_set_decode(const uint8_t *buf, size_t len, struct validator_set *out)
{
    struct budget b;
    ProtobufCMessage *m;
    int rc = unpack(&phalanx__types__validator_set__descriptor, buf, len,
                    CODEC_VALIDATOR_SET_MAX_BYTES, 0, &b, &m);
    if (rc != 0)
        return rc;
    const PbValidatorSet *p = (const PbValidatorSet *)m;
    struct validator *vals = NULL;
    uint8_t prop_addr[VALIDATOR_ADDRESS_SIZE];
    if (p->n_validators > VALIDATOR_SET_MAX) {
        rc = PX_ETOOBIG;
        goto out;
    }
    rc = PX_EDECODE;
    if (p->n_validators == 0)
        goto out;
    vals = calloc(p->n_validators, sizeof(*vals));
    if (!vals) {
        rc = PX_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->n_validators; i++)
        if (validator_from_pb(p->validators[i], &vals[i]) != 0)
            goto out;
    if (p->proposer &&
        fixed_bytes(&p->proposer->address, prop_addr, VALIDATOR_ADDRESS_SIZE, false) != 0)
        goto out;
    rc =
        validator_set_restore(out, vals, (uint32_t)p->n_validators, p->proposer ? prop_addr : NULL);
    if (rc == PX_EBOUND)
        rc = PX_ETOOBIG;
    else if (rc != 0 && rc != PX_ENOMEM)
        rc = PX_EDECODE;
    else if (rc == 0 && out->total_voting_power != p->total_voting_power)
        rc = PX_EDECODE;
out:
    free(vals);
    unpack_free(m, &b);
    return rc;
}

/* ---- block -------------------------------------------------------------------------- */

int codec_block_encode(const struct block *b, uint8_t **out, size_t *len)
{
    if (b->tx_count > BLOCK_MAX_TXS || b->evidence_count > BLOCK_MAX_EVIDENCE)
        return PX_EINVAL;
    struct pb_header hs;
    int rc = header_to_pb(&b->header, &hs);
    if (rc != 0)
        return rc;
    PbBlock pb;
    PbData data;
    PbEvidenceList evl;
    struct pb_commit cs;
    phalanx__types__block__init(&pb);
    phalanx__types__data__init(&data);
    phalanx__types__evidence_list__init(&evl);
    rc = commit_to_pb(&b->last_commit, &cs);
    if (rc != 0)
        return rc;
    ProtobufCBinaryData *txs = calloc(b->tx_count ? b->tx_count : 1, sizeof(*txs));
    struct pb_evidence *evs = calloc(b->evidence_count ? b->evidence_count : 1, sizeof(*evs));
    PbEvidence **evp = calloc(b->evidence_count ? b->evidence_count : 1, sizeof(*evp));
    rc = PX_ENOMEM;
    if (!txs || !evs || !evp)
        goto out;
    for (uint32_t i = 0; i < b->tx_count; i++)
        txs[i] = bin(b->txs[i].data, b->txs[i].len);
    data.n_txs = b->tx_count;
    data.txs = txs;
    for (uint32_t i = 0; i < b->evidence_count; i++) {
        rc = evidence_to_pb(&b->evidence[i], &evs[i]);
        if (rc != 0)
            goto out;
        evp[i] = &evs[i].e;
    }
    evl.n_evidence = b->evidence_count;
    evl.evidence = evp;
    pb.header = &hs.h;
    pb.data = &data;
    pb.evidence = &evl;
    pb.last_commit = &cs.c;
    rc = pack_alloc(&pb.base, out, len);
out:
    free(txs);
    free(evs);
    free(evp);
    pb_commit_free(&cs);
    return rc;
}

static int block_from_pb(const PbBlock *p, struct block *b)
{
    /* the encoder always writes all four: a missing one is a truncated block */
    if (!p->header || !p->data || !p->evidence || !p->last_commit)
        return PX_EDECODE;
    int rc = header_from_pb(p->header, &b->header);
    if (rc != 0)
        return rc;
    if (p->data) {
        if (p->data->n_txs > BLOCK_MAX_TXS)
            return PX_ETOOBIG;
        size_t total = 0;
        for (size_t i = 0; i < p->data->n_txs; i++) {
            total += p->data->txs[i].len;
            if (total > BLOCK_MAX_BYTES)
                return PX_ETOOBIG;
        }
        if (p->data->n_txs) {
            b->txs = calloc(p->data->n_txs, sizeof(*b->txs));
            if (!b->txs)
                return PX_ENOMEM;
        }
        for (size_t i = 0; i < p->data->n_txs; i++) {
            const ProtobufCBinaryData *t = &p->data->txs[i];
            b->txs[i].data = malloc(t->len ? t->len : 1);
            if (!b->txs[i].data)
                return PX_ENOMEM;
            if (t->len)
                memcpy(b->txs[i].data, t->data, t->len);
            b->txs[i].len = t->len;
            b->tx_count++;
        }
    }
    if (p->evidence) {
        if (p->evidence->n_evidence > BLOCK_MAX_EVIDENCE)
            return PX_ETOOBIG;
        if (p->evidence->n_evidence) {
            b->evidence = calloc(p->evidence->n_evidence, sizeof(*b->evidence));
            if (!b->evidence)
                return PX_ENOMEM;
        }
        for (size_t i = 0; i < p->evidence->n_evidence; i++) {
            rc = evidence_from_pb(p->evidence->evidence[i], &b->evidence[i]);
            if (rc != 0)
                return rc;
            b->evidence_count++;
        }
    }
    if (p->last_commit) {
        rc = commit_from_pb(p->last_commit, &b->last_commit);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int codec_block_decode(const uint8_t *buf, size_t len, struct block *out)
{
    struct budget b;
    ProtobufCMessage *m;
    block_init(out);
    /* each tx costs a ProtobufCBinaryData and ~64 bytes of scan state beyond its bytes */
    int rc = unpack(&phalanx__types__block__descriptor, buf, len, CODEC_BLOCK_MAX_BYTES,
                    (size_t)BLOCK_MAX_TXS * 96u, &b, &m);
    if (rc != 0)
        return rc;
    rc = block_from_pb((const PbBlock *)m, out);
    unpack_free(m, &b);
    if (rc != 0)
        block_fini(out);
    return rc;
}

/* ---- parts -------------------------------------------------------------------------- */

int codec_part_encode(const struct part *pt, uint8_t **out, size_t *len)
{
    if (pt->proof.aunt_count > MERKLE_MAX_AUNTS || pt->proof.total > INT64_MAX ||
        pt->len > PART_SET_PART_SIZE)
        return PX_EINVAL;
    PbPart p;
    PbProof pr;
    ProtobufCBinaryData aunts[MERKLE_MAX_AUNTS];
    phalanx__types__part__init(&p);
    phalanx__types__proof__init(&pr);
    p.index = pt->index;
    p.bytes = bin(pt->bytes, pt->len);
    pr.total = (int64_t)pt->proof.total;
    pr.index = (int64_t)pt->proof.index;
    pr.leaf_hash = bin(pt->proof.leaf_hash, MERKLE_HASH_SIZE);
    for (uint32_t i = 0; i < pt->proof.aunt_count; i++)
        aunts[i] = bin(pt->proof.aunts[i], MERKLE_HASH_SIZE);
    pr.n_aunts = pt->proof.aunt_count;
    pr.aunts = aunts;
    p.proof = &pr;
    return pack_alloc(&p.base, out, len);
}

int codec_part_decode(const uint8_t *buf, size_t len, struct part *out)
{
    struct budget b;
    ProtobufCMessage *m;
    memset(out, 0, sizeof(*out));
    int rc = unpack(&phalanx__types__part__descriptor, buf, len, CODEC_PART_MAX_BYTES, 0, &b, &m);
    if (rc != 0)
        return rc;
    const PbPart *p = (const PbPart *)m;
    rc = PX_EDECODE;
    if (!p->proof || p->bytes.len == 0 || p->bytes.len > PART_SET_PART_SIZE ||
        p->proof->n_aunts > MERKLE_MAX_AUNTS || p->proof->total < 1 || p->proof->index < 0 ||
        p->proof->index >= p->proof->total || (uint64_t)p->proof->index != p->index ||
        p->proof->total > (int64_t)BLOCK_ID_MAX_PARTS)
        goto out;
    if (fixed_bytes(&p->proof->leaf_hash, out->proof.leaf_hash, MERKLE_HASH_SIZE, false) != 0)
        goto out;
    for (size_t i = 0; i < p->proof->n_aunts; i++)
        if (fixed_bytes(&p->proof->aunts[i], out->proof.aunts[i], MERKLE_HASH_SIZE, false) != 0)
            goto out;
    out->proof.aunt_count = (uint32_t)p->proof->n_aunts;
    out->proof.total = (uint64_t)p->proof->total;
    out->proof.index = (uint64_t)p->proof->index;
    out->index = p->index;
    out->bytes = malloc(p->bytes.len);
    if (!out->bytes) {
        rc = PX_ENOMEM;
        goto out;
    }
    memcpy(out->bytes, p->bytes.data, p->bytes.len);
    out->len = p->bytes.len;
    rc = 0;
out:
    unpack_free(m, &b);
    return rc;
}
