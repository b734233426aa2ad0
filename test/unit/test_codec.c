/* Unit tests of codec: round trips of every type, and bad input: every truncation, random
 * garbage, random mutations of valid encodings (ASan/UBSan watch for crashes and leaks),
 * inputs over the size limits, lists over their bounds, wrong field lengths and values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ed25519.h"
#include "px_error.h"
#include "sign_bytes.h"
#include "types.pb-c.h"

#define NV 4
#define CHAIN "codec-chain"

static struct validator_set vs;
static struct ed25519_privkey keys[NV];

static void setup_set(void)
{
    struct validator vals[NV];
    struct ed25519_privkey privs[NV];
    memset(vals, 0, sizeof(vals));
    for (int i = 0; i < NV; i++) {
        uint8_t seed[32] = {(uint8_t)(i + 60)};
        struct ed25519_pubkey pub;
        assert_int_equal(ed25519_from_seed(seed, &privs[i], &pub), 0);
        memcpy(vals[i].pub_key, pub.bytes, 32);
        ed25519_address(&pub, vals[i].address);
        vals[i].voting_power = 5 + i;
    }
    assert_int_equal(validator_set_init(&vs, vals, NV), 0);
    assert_int_equal(validator_set_increment_proposer_priority(&vs, 3), 0);
    for (uint32_t i = 0; i < vs.count; i++)
        for (int k = 0; k < NV; k++)
            if (memcmp(vs.validators[i].pub_key, privs[k].bytes + 32, 32) == 0)
                keys[i] = privs[k];
}

static void some_block_id(struct block_id *id, uint8_t b)
{
    memset(id->hash, b, 32);
    id->parts.total = 2;
    memset(id->parts.hash, (uint8_t)(b + 1), 32);
}

static void make_vote(uint32_t i, uint64_t height, uint8_t block_byte, struct vote *v)
{
    memset(v, 0, sizeof(*v));
    v->type = VOTE_TYPE_PRECOMMIT;
    v->height = height;
    v->round = 2;
    if (block_byte)
        some_block_id(&v->block_id, block_byte);
    v->timestamp_ns = 1700000000123456789ull;
    memcpy(v->validator_address, vs.validators[i].address, 20);
    v->validator_index = (int32_t)i;
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    assert_int_equal(sign_bytes_vote(v, CHAIN, buf, &len), 0);
    assert_int_equal(ed25519_sign(&keys[i], buf, len, v->signature), 0);
}

/* block at height 2: 3 txs, one evidence, a commit of height 1 with one absent slot */
static void make_block(struct block *b)
{
    struct block_id id1;
    some_block_id(&id1, 0x40);
    struct commit c;
    assert_int_equal(commit_init(&c, 1, 2, &id1, vs.count), 0);
    for (uint32_t i = 0; i < 3; i++) {
        struct vote v;
        make_vote(i, 1, i == 2 ? 0 : 0x40, &v);
        assert_int_equal(commit_add_vote(&c, i, &v), 0);
    }
    struct vote va, vb;
    make_vote(3, 1, 0x10, &va);
    make_vote(3, 1, 0x20, &vb);
    struct evidence ev;
    assert_int_equal(evidence_from_votes(&va, &vb, &vs, 42, &ev), 0);
    struct block_params p = {.chain_id = CHAIN, .height = 2, .time_ns = 1700000001000000000ull};
    p.last_block_id = id1;
    p.last_commit = &c;
    p.validators = &vs;
    p.next_validators = &vs;
    memcpy(p.proposer_address, vs.validators[1].address, 20);
    const uint8_t *txs[3] = {(const uint8_t *)"k=v", (const uint8_t *)"", (const uint8_t *)"xyz"};
    size_t lens[3] = {3, 0, 3};
    block_init(b);
    assert_int_equal(block_make(b, &p, txs, lens, 3, &ev, 1), 0);
    commit_fini(&c);
}

/* ---- round trips ---- */

static void round_trip_vote_proposal(void **state)
{
    (void)state;
    setup_set();
    struct vote v, got;
    uint8_t *buf, *buf2;
    size_t len, len2;
    for (int nil = 0; nil < 2; nil++) {
        make_vote(1, 77, nil ? 0 : 0x33, &v);
        assert_int_equal(codec_vote_encode(&v, &buf, &len), 0);
        assert_true(len <= CODEC_VOTE_MAX_BYTES);
        assert_int_equal(codec_vote_decode(buf, len, &got), 0);
        assert_memory_equal(&v, &got, sizeof(v));
        assert_int_equal(codec_vote_encode(&got, &buf2, &len2), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(buf, buf2, len);
        free(buf);
        free(buf2);
    }
    struct proposal p = {.height = 9, .round = 3, .pol_round = 1, .timestamp_ns = 12345};
    struct proposal pg;
    some_block_id(&p.block_id, 0x66);
    memset(p.signature, 0x5a, 64);
    assert_int_equal(codec_proposal_encode(&p, &buf, &len), 0);
    assert_int_equal(codec_proposal_decode(buf, len, &pg), 0);
    assert_memory_equal(&p, &pg, sizeof(p));
    free(buf);
    p.pol_round = -1;
    assert_int_equal(codec_proposal_encode(&p, &buf, &len), 0);
    assert_int_equal(codec_proposal_decode(buf, len, &pg), 0);
    assert_int_equal(pg.pol_round, -1);
    free(buf);

    struct block_id id, idg;
    some_block_id(&id, 9);
    assert_int_equal(codec_block_id_encode(&id, &buf, &len), 0);
    assert_int_equal(codec_block_id_decode(buf, len, &idg), 0);
    assert_memory_equal(&id, &idg, sizeof(id));
    free(buf);
    struct part_set_header psh = id.parts, pshg;
    assert_int_equal(codec_part_set_header_encode(&psh, &buf, &len), 0);
    assert_int_equal(codec_part_set_header_decode(buf, len, &pshg), 0);
    assert_memory_equal(&psh, &pshg, sizeof(psh));
    free(buf);
}

static void round_trip_block_and_parts(void **state)
{
    (void)state;
    setup_set();
    struct block b, got;
    make_block(&b);
    uint8_t *buf, *buf2;
    size_t len, len2;
    assert_int_equal(codec_block_encode(&b, &buf, &len), 0);
    assert_int_equal(codec_block_decode(buf, len, &got), 0);
    assert_int_equal(block_validate_basic(&got), 0);
    assert_memory_equal(&b.header, &got.header, sizeof(b.header));
    assert_int_equal(got.tx_count, 3);
    assert_int_equal(got.txs[2].len, 3);
    assert_memory_equal(got.txs[2].data, "xyz", 3);
    assert_int_equal(got.txs[1].len, 0);
    assert_int_equal(got.evidence_count, 1);
    assert_memory_equal(&b.evidence[0], &got.evidence[0], sizeof(struct evidence));
    assert_int_equal(got.last_commit.count, vs.count);
    assert_memory_equal(b.last_commit.sigs, got.last_commit.sigs,
                        vs.count * sizeof(struct commit_sig));
    uint8_t h1[32], h2[32];
    assert_int_equal(block_hash(&b, h1), 0);
    assert_int_equal(block_hash(&got, h2), 0);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(codec_block_encode(&got, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf2);

    /* header, commit, evidence alone */
    struct header hg;
    assert_int_equal(codec_header_encode(&b.header, &buf2, &len2), 0);
    assert_int_equal(codec_header_decode(buf2, len2, &hg), 0);
    assert_memory_equal(&b.header, &hg, sizeof(hg));
    free(buf2);
    struct commit cg;
    assert_int_equal(codec_commit_encode(&b.last_commit, &buf2, &len2), 0);
    assert_int_equal(codec_commit_decode(buf2, len2, &cg), 0);
    assert_int_equal(cg.count, vs.count);
    assert_int_equal(cg.sigs[3].flag, COMMIT_FLAG_ABSENT);
    assert_int_equal(cg.sigs[2].flag, COMMIT_FLAG_NIL);
    assert_memory_equal(b.last_commit.sigs, cg.sigs, vs.count * sizeof(struct commit_sig));
    commit_fini(&cg);
    free(buf2);
    struct evidence eg;
    assert_int_equal(codec_evidence_encode(&b.evidence[0], &buf2, &len2), 0);
    assert_int_equal(codec_evidence_decode(buf2, len2, &eg), 0);
    assert_memory_equal(&b.evidence[0], &eg, sizeof(eg));
    free(buf2);

    /* the encoded block travels as parts and comes back whole */
    struct part_set ps;
    assert_int_equal(part_set_from_data(&ps, buf, len), 0);
    uint8_t *whole;
    size_t whole_len;
    assert_int_equal(part_set_assemble(&ps, &whole, &whole_len), 0);
    struct block again;
    assert_int_equal(codec_block_decode(whole, whole_len, &again), 0);
    block_fini(&again);
    free(whole);
    part_set_fini(&ps);

    free(buf);
    block_fini(&got);
    block_fini(&b);
}

static void round_trip_validator_set(void **state)
{
    (void)state;
    setup_set();
    uint8_t *buf;
    size_t len;
    assert_int_equal(codec_validator_set_encode(&vs, &buf, &len), 0);
    struct validator_set *got = malloc(sizeof(*got));
    assert_int_equal(codec_validator_set_decode(buf, len, got), 0);
    assert_int_equal(got->count, vs.count);
    assert_int_equal(got->total_voting_power, vs.total_voting_power);
    assert_int_equal(got->proposer_index, vs.proposer_index);
    assert_memory_equal(got->validators, vs.validators, vs.count * sizeof(struct validator));
    free(got);
    free(buf);
}

/* ---- bad input ---- */

typedef int (*decode_fn)(const uint8_t *buf, size_t len, void *out);

static int dec_vote(const uint8_t *b, size_t n, void *o)
{
    return codec_vote_decode(b, n, o);
}
static int dec_proposal(const uint8_t *b, size_t n, void *o)
{
    return codec_proposal_decode(b, n, o);
}
static int dec_header(const uint8_t *b, size_t n, void *o)
{
    return codec_header_decode(b, n, o);
}
static int dec_commit(const uint8_t *b, size_t n, void *o)
{
    int rc = codec_commit_decode(b, n, o);
    if (rc == 0)
        commit_fini(o);
    return rc;
}
static int dec_evidence(const uint8_t *b, size_t n, void *o)
{
    return codec_evidence_decode(b, n, o);
}
static int dec_valset(const uint8_t *b, size_t n, void *o)
{
    return codec_validator_set_decode(b, n, o);
}
static int dec_block(const uint8_t *b, size_t n, void *o)
{
    int rc = codec_block_decode(b, n, o);
    if (rc == 0)
        block_fini(o);
    return rc;
}
static int dec_part(const uint8_t *b, size_t n, void *o)
{
    int rc = codec_part_decode(b, n, o);
    if (rc == 0)
        free(((struct part *)o)->bytes);
    return rc;
}
static int dec_block_id(const uint8_t *b, size_t n, void *o)
{
    return codec_block_id_decode(b, n, o);
}

struct sample {
    const char *name;
    decode_fn dec;
    uint8_t *buf;
    size_t len;
    size_t max;
    int prefixes_must_fail; /* every strict prefix is refused */
};

static union {
    struct vote v;
    struct proposal p;
    struct header h;
    struct commit c;
    struct evidence e;
    struct validator_set vs;
    struct block b;
    struct part pt;
    struct block_id id;
} scratch;

static int make_samples(struct sample *s)
{
    setup_set();
    struct vote v;
    make_vote(0, 3, 0x21, &v);
    struct block b;
    make_block(&b);
    struct proposal p = {.height = 3, .round = 1, .pol_round = 0, .timestamp_ns = 1};
    some_block_id(&p.block_id, 0x22);
    memset(p.signature, 1, 64);
    struct part_set ps;
    uint8_t data[100];
    memset(data, 3, sizeof(data));
    assert_int_equal(part_set_from_data(&ps, data, sizeof(data)), 0);
    int n = 0;
    s[n] = (struct sample){"vote", dec_vote, 0, 0, CODEC_VOTE_MAX_BYTES, 1};
    assert_int_equal(codec_vote_encode(&v, &s[n].buf, &s[n].len), 0);
    n++;
    s[n] = (struct sample){"proposal", dec_proposal, 0, 0, CODEC_PROPOSAL_MAX_BYTES, 1};
    assert_int_equal(codec_proposal_encode(&p, &s[n].buf, &s[n].len), 0);
    n++;
    s[n] = (struct sample){"header", dec_header, 0, 0, CODEC_HEADER_MAX_BYTES, 1};
    assert_int_equal(codec_header_encode(&b.header, &s[n].buf, &s[n].len), 0);
    n++;
    /* a commit cut after a whole signature is a smaller well-formed commit */
    s[n] = (struct sample){"commit", dec_commit, 0, 0, CODEC_COMMIT_MAX_BYTES, 0};
    assert_int_equal(codec_commit_encode(&b.last_commit, &s[n].buf, &s[n].len), 0);
    n++;
    s[n] = (struct sample){"evidence", dec_evidence, 0, 0, CODEC_EVIDENCE_MAX_BYTES, 1};
    assert_int_equal(codec_evidence_encode(&b.evidence[0], &s[n].buf, &s[n].len), 0);
    n++;
    s[n] = (struct sample){"validator set", dec_valset, 0, 0, CODEC_VALIDATOR_SET_MAX_BYTES, 1};
    assert_int_equal(codec_validator_set_encode(&vs, &s[n].buf, &s[n].len), 0);
    n++;
    s[n] = (struct sample){"block", dec_block, 0, 0, CODEC_BLOCK_MAX_BYTES, 1};
    assert_int_equal(codec_block_encode(&b, &s[n].buf, &s[n].len), 0);
    n++;
    s[n] = (struct sample){"part", dec_part, 0, 0, CODEC_PART_MAX_BYTES, 1};
    assert_int_equal(codec_part_encode(part_set_get(&ps, 0), &s[n].buf, &s[n].len), 0);
    n++;
    s[n] = (struct sample){"block id", dec_block_id, 0, 0, CODEC_BLOCK_ID_MAX_BYTES, 0};
    assert_int_equal(codec_block_id_encode(&v.block_id, &s[n].buf, &s[n].len), 0);
    n++;
    part_set_fini(&ps);
    block_fini(&b);
    return n;
}

static void free_samples(struct sample *s, int n)
{
    for (int i = 0; i < n; i++)
        free(s[i].buf);
}

static void truncated(void **state)
{
    (void)state;
    struct sample s[9];
    int n = make_samples(s);
    for (int i = 0; i < n; i++) {
        assert_int_equal(s[i].dec(s[i].buf, s[i].len, &scratch), 0);
        int failed = 0;
        for (size_t cut = 0; cut < s[i].len; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any over-read */
            memcpy(copy, s[i].buf, cut);
            int rc = s[i].dec(copy, cut, &scratch);
            free(copy);
            if (rc != 0)
                failed++;
            if (s[i].prefixes_must_fail && rc == 0)
                fail_msg("%s: a prefix of %zu of %zu bytes decoded", s[i].name, cut, s[i].len);
            assert_true(rc == 0 || rc == PX_EDECODE || rc == PX_ETOOBIG);
        }
        assert_true(failed > 0);
    }
    free_samples(s, n);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void garbage_and_mutations(void **state)
{
    (void)state;
    struct sample s[9];
    int n = make_samples(s);
    uint8_t junk[400];
    for (int i = 0; i < n; i++) {
        /* random bytes: never a valid message (required fields, exact lengths) */
        for (int k = 0; k < 3000; k++) {
            size_t len = next_rand() % sizeof(junk);
            for (size_t j = 0; j < len; j++)
                junk[j] = (uint8_t)next_rand();
            int rc = s[i].dec(junk, len, &scratch);
            if (s[i].prefixes_must_fail)
                assert_int_not_equal(rc, 0);
        }
        /* valid encodings with one to three bytes changed: anything but a crash */
        uint8_t *copy = malloc(s[i].len);
        for (int k = 0; k < 2000; k++) {
            memcpy(copy, s[i].buf, s[i].len);
            int flips = 1 + (int)(next_rand() % 3);
            for (int f = 0; f < flips; f++)
                copy[next_rand() % s[i].len] = (uint8_t)next_rand();
            int rc = s[i].dec(copy, s[i].len, &scratch);
            assert_true(rc == 0 || rc == PX_EDECODE || rc == PX_ETOOBIG);
        }
        free(copy);
    }
    free_samples(s, n);
}

static void over_size_limits(void **state)
{
    (void)state;
    struct sample s[9];
    int n = make_samples(s);
    for (int i = 0; i < n; i++) {
        if (s[i].max > (1u << 20))
            continue; /* the block limit is checked below without 100 MiB of zeros */
        uint8_t *big = calloc(1, s[i].max + 1);
        assert_int_equal(s[i].dec(big, s[i].max + 1, &scratch), PX_ETOOBIG);
        free(big);
    }
    assert_int_equal(codec_block_decode((const uint8_t *)"", CODEC_BLOCK_MAX_BYTES + 1, &scratch.b),
                     PX_ETOOBIG);
    free_samples(s, n);
}

static void pack_msg(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    *out = malloc(*len ? *len : 1);
    protobuf_c_message_pack(m, *out);
}

static void lists_over_bounds(void **state)
{
    (void)state;
    setup_set();
    uint8_t *buf;
    size_t len;
    /* a commit with one more slot than a validator set may have */
    size_t n = VALIDATOR_SET_MAX + 1;
    Phalanx__Types__CommitSig *sigs = calloc(n, sizeof(*sigs));
    Phalanx__Types__CommitSig **ptrs = calloc(n, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        phalanx__types__commit_sig__init(&sigs[i]);
        sigs[i].block_id_flag = PHALANX__TYPES__BLOCK_IDFLAG__BLOCK_ID_FLAG_ABSENT;
        ptrs[i] = &sigs[i];
    }
    Phalanx__Types__Commit c = PHALANX__TYPES__COMMIT__INIT;
    c.height = 1;
    c.n_signatures = n;
    c.signatures = ptrs;
    pack_msg(&c.base, &buf, &len);
    assert_int_equal(codec_commit_decode(buf, len, &scratch.c), PX_ETOOBIG);
    free(buf);
    free(sigs);
    free(ptrs);

    /* a validator set of VALIDATOR_SET_MAX + 1 */
    Phalanx__Types__Validator *vals = calloc(n, sizeof(*vals));
    Phalanx__Types__Validator **vptr = calloc(n, sizeof(*vptr));
    for (size_t i = 0; i < n; i++) {
        phalanx__types__validator__init(&vals[i]);
        vals[i].voting_power = 1;
        vptr[i] = &vals[i];
    }
    Phalanx__Types__ValidatorSet set = PHALANX__TYPES__VALIDATOR_SET__INIT;
    set.n_validators = n;
    set.validators = vptr;
    pack_msg(&set.base, &buf, &len);
    assert_int_equal(codec_validator_set_decode(buf, len, &scratch.vs), PX_ETOOBIG);
    free(buf);
    free(vals);
    free(vptr);

    /* a block with BLOCK_MAX_TXS + 1 (empty) transactions and a valid header */
    struct block b;
    make_block(&b);
    uint8_t *hdr;
    size_t hdr_len;
    assert_int_equal(codec_header_encode(&b.header, &hdr, &hdr_len), 0);
    block_fini(&b);
    Phalanx__Types__Header *ph = phalanx__types__header__unpack(NULL, hdr_len, hdr);
    assert_non_null(ph);
    size_t ntx = BLOCK_MAX_TXS + 1;
    ProtobufCBinaryData *txs = calloc(ntx, sizeof(*txs));
    Phalanx__Types__Data data = PHALANX__TYPES__DATA__INIT;
    data.n_txs = ntx;
    data.txs = txs;
    Phalanx__Types__EvidenceList evl = PHALANX__TYPES__EVIDENCE_LIST__INIT;
    Phalanx__Types__Commit lc = PHALANX__TYPES__COMMIT__INIT;
    Phalanx__Types__Block pb = PHALANX__TYPES__BLOCK__INIT;
    pb.header = ph;
    pb.data = &data;
    pb.evidence = &evl;
    pb.last_commit = &lc;
    pack_msg(&pb.base, &buf, &len);
    assert_int_equal(codec_block_decode(buf, len, &scratch.b), PX_ETOOBIG);
    free(buf);
    free(txs);

    /* and BLOCK_MAX_EVIDENCE + 1 pieces of evidence */
    size_t nev = BLOCK_MAX_EVIDENCE + 1;
    Phalanx__Types__Evidence *evs = calloc(nev, sizeof(*evs));
    Phalanx__Types__Evidence **evp = calloc(nev, sizeof(*evp));
    for (size_t i = 0; i < nev; i++) {
        phalanx__types__evidence__init(&evs[i]);
        evp[i] = &evs[i];
    }
    data.n_txs = 0;
    evl.n_evidence = nev;
    evl.evidence = evp;
    pack_msg(&pb.base, &buf, &len);
    assert_int_equal(codec_block_decode(buf, len, &scratch.b), PX_ETOOBIG);
    free(buf);
    free(evs);
    free(evp);
    phalanx__types__header__free_unpacked(ph, NULL);
    free(hdr);

    /* a part with more aunts than any tree of parts has */
    Phalanx__Types__Part part = PHALANX__TYPES__PART__INIT;
    Phalanx__Types__Proof proof = PHALANX__TYPES__PROOF__INIT;
    uint8_t h32[32] = {1}, byte = 7;
    ProtobufCBinaryData aunts[MERKLE_MAX_AUNTS + 1];
    for (int i = 0; i <= MERKLE_MAX_AUNTS; i++)
        aunts[i] = (ProtobufCBinaryData){32, h32};
    proof.total = 4;
    proof.index = 0;
    proof.leaf_hash = (ProtobufCBinaryData){32, h32};
    proof.n_aunts = MERKLE_MAX_AUNTS + 1;
    proof.aunts = aunts;
    part.bytes = (ProtobufCBinaryData){1, &byte};
    part.proof = &proof;
    pack_msg(&part.base, &buf, &len);
    assert_int_equal(codec_part_decode(buf, len, &scratch.pt), PX_EDECODE);
    free(buf);
}

/* Encode v's protobuf form after `patch` changed it, and decode as a vote. */
static int vote_with(void (*patch)(Phalanx__Types__Vote *))
{
    struct vote v;
    make_vote(0, 3, 0x21, &v);
    uint8_t *buf;
    size_t len;
    assert_int_equal(codec_vote_encode(&v, &buf, &len), 0);
    Phalanx__Types__Vote *pv = phalanx__types__vote__unpack(NULL, len, buf);
    free(buf);
    assert_non_null(pv);
    patch(pv);
    pack_msg(&pv->base, &buf, &len);
    phalanx__types__vote__free_unpacked(pv, NULL);
    int rc = codec_vote_decode(buf, len, &scratch.v);
    free(buf);
    return rc;
}

static void short_address(Phalanx__Types__Vote *v)
{
    v->validator_address.len = 19;
}
static void short_hash(Phalanx__Types__Vote *v)
{
    v->block_id->hash.len = 31;
}
static void no_signature(Phalanx__Types__Vote *v)
{
    v->signature.len = 0;
}
static void negative_height(Phalanx__Types__Vote *v)
{
    v->height = -1;
}
static void bad_nanos(Phalanx__Types__Vote *v)
{
    v->timestamp->nanos = 1000000000;
}
static void bad_type(Phalanx__Types__Vote *v)
{
    v->type = PHALANX__TYPES__SIGNED_MSG_TYPE__SIGNED_MSG_TYPE_PROPOSAL;
}
static void half_block_id(Phalanx__Types__Vote *v)
{
    v->block_id->part_set_header->total = 0;
}
static void negative_round(Phalanx__Types__Vote *v)
{
    v->round = -1;
}
static void unchanged(Phalanx__Types__Vote *v)
{
    (void)v;
}

static void wrong_fields(void **state)
{
    (void)state;
    setup_set();
    assert_int_equal(vote_with(unchanged), 0);
    assert_int_equal(vote_with(short_address), PX_EDECODE);
    assert_int_equal(vote_with(short_hash), PX_EDECODE);
    assert_int_equal(vote_with(no_signature), PX_EDECODE);
    assert_int_equal(vote_with(negative_height), PX_EDECODE);
    assert_int_equal(vote_with(bad_nanos), PX_EDECODE);
    assert_int_equal(vote_with(bad_type), PX_EDECODE);
    assert_int_equal(vote_with(half_block_id), PX_EDECODE);
    assert_int_equal(vote_with(negative_round), PX_EDECODE);

    /* a validator whose address is not its key's */
    uint8_t *buf;
    size_t len;
    assert_int_equal(codec_validator_set_encode(&vs, &buf, &len), 0);
    Phalanx__Types__ValidatorSet *ps = phalanx__types__validator_set__unpack(NULL, len, buf);
    free(buf);
    ps->validators[1]->address.data[0] ^= 1;
    pack_msg(&ps->base, &buf, &len);
    assert_int_equal(codec_validator_set_decode(buf, len, &scratch.vs), PX_EDECODE);
    free(buf);
    ps->validators[1]->address.data[0] ^= 1;
    ps->total_voting_power++; /* a total that is not the sum */
    pack_msg(&ps->base, &buf, &len);
    assert_int_equal(codec_validator_set_decode(buf, len, &scratch.vs), PX_EDECODE);
    free(buf);
    phalanx__types__validator_set__free_unpacked(ps, NULL);

    /* an absent commit slot that carries a signature */
    struct block b;
    make_block(&b);
    assert_int_equal(codec_commit_encode(&b.last_commit, &buf, &len), 0);
    block_fini(&b);
    Phalanx__Types__Commit *pc = phalanx__types__commit__unpack(NULL, len, buf);
    free(buf);
    uint8_t sig[64] = {1};
    pc->signatures[3]->signature = (ProtobufCBinaryData){64, sig};
    ProtobufCBinaryData saved = pc->signatures[3]->signature;
    pack_msg(&pc->base, &buf, &len);
    assert_int_equal(codec_commit_decode(buf, len, &scratch.c), PX_EDECODE);
    free(buf);
    pc->signatures[3]->signature = (ProtobufCBinaryData){0, NULL};
    (void)saved;
    pc->signatures[0]->block_id_flag = 7; /* unknown flag */
    pack_msg(&pc->base, &buf, &len);
    assert_int_equal(codec_commit_decode(buf, len, &scratch.c), PX_EDECODE);
    free(buf);
    phalanx__types__commit__free_unpacked(pc, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_vote_proposal), cmocka_unit_test(round_trip_block_and_parts),
        cmocka_unit_test(round_trip_validator_set), cmocka_unit_test(truncated),
        cmocka_unit_test(garbage_and_mutations),    cmocka_unit_test(over_size_limits),
        cmocka_unit_test(lists_over_bounds),        cmocka_unit_test(wrong_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
