/* Unit tests of block: building block 1 and block 2 (with the last commit and evidence),
 * sending it as parts and back, consistency checks catching tampered transactions, evidence and
 * commits, the data hash computed by hand, the validators hash, and the size bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "ed25519.h"
#include "merkle.h"
#include "px_error.h"
#include "sha256.h"
#include "sign_bytes.h"

#define NV 4
#define CHAIN "block-chain"

static struct validator_set vs;
static struct ed25519_privkey keys[NV];

static void setup_set(void)
{
    struct validator vals[NV];
    struct ed25519_privkey privs[NV];
    memset(vals, 0, sizeof(vals));
    for (int i = 0; i < NV; i++) {
        uint8_t seed[32] = {(uint8_t)(i + 40)};
        struct ed25519_pubkey pub;
        assert_int_equal(ed25519_from_seed(seed, &privs[i], &pub), 0);
        memcpy(vals[i].pub_key, pub.bytes, 32);
        ed25519_address(&pub, vals[i].address);
        vals[i].voting_power = 10;
    }
    assert_int_equal(validator_set_init(&vs, vals, NV), 0);
    for (uint32_t i = 0; i < vs.count; i++)
        for (int k = 0; k < NV; k++)
            if (memcmp(vs.validators[i].pub_key, privs[k].bytes + 32, 32) == 0)
                keys[i] = privs[k];
}

static void sign_vote(uint32_t i, struct vote *v)
{
    memcpy(v->validator_address, vs.validators[i].address, 20);
    v->validator_index = (int32_t)i;
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    assert_int_equal(sign_bytes_vote(v, CHAIN, buf, &len), 0);
    assert_int_equal(ed25519_sign(&keys[i], buf, len, v->signature), 0);
}

static void params(struct block_params *p, uint64_t height)
{
    memset(p, 0, sizeof(*p));
    p->chain_id = CHAIN;
    p->height = height;
    p->time_ns = 1700000000ull * 1000000000ull + height;
    p->validators = &vs;
    p->next_validators = &vs;
    memset(p->consensus_hash, 0x77, 32);
    static const uint8_t app_hash[4] = {1, 2, 3, 4};
    p->app_hash = app_hash;
    p->app_hash_len = sizeof(app_hash);
    memcpy(p->proposer_address, vs.validators[0].address, 20);
}

static const uint8_t *txs[3] = {(const uint8_t *)"alice=1", (const uint8_t *)"bob=2",
                                (const uint8_t *)""};
static const size_t lens[3] = {7, 5, 0};

/* block 1, its id, and a full commit for it */
static void block_one(struct block *b1, struct block_id *id1, struct commit *c1)
{
    struct block_params p;
    params(&p, 1);
    block_init(b1);
    assert_int_equal(block_make(b1, &p, txs, lens, 3, NULL, 0), 0);
    assert_int_equal(block_hash(b1, id1->hash), 0);
    id1->parts.total = 1;
    memset(id1->parts.hash, 0x55, 32);
    assert_int_equal(commit_init(c1, 1, 0, id1, vs.count), 0);
    for (uint32_t i = 0; i < vs.count; i++) {
        struct vote v = {.type = VOTE_TYPE_PRECOMMIT, .height = 1, .round = 0};
        v.block_id = *id1;
        v.timestamp_ns = 99 + i;
        sign_vote(i, &v);
        assert_int_equal(commit_add_vote(c1, i, &v), 0);
    }
}

static void build_and_check(void **state)
{
    (void)state;
    setup_set();
    struct block b1, b2;
    struct block_id id1;
    struct commit c1;
    block_one(&b1, &id1, &c1);
    assert_int_equal(block_validate_basic(&b1), 0);
    assert_int_equal(b1.tx_count, 3);
    assert_int_equal(b1.last_commit.height, 0);
    assert_int_equal(commit_verify(&c1, CHAIN, &vs, &id1, 1, NULL, NULL, NULL, 0), 0);

    /* the data hash: merkle of the SHA-256 of each tx, by hand */
    uint8_t th[3][32], want[32];
    const uint8_t *items[3] = {th[0], th[1], th[2]};
    size_t ls[3] = {32, 32, 32};
    for (int i = 0; i < 3; i++)
        sha256(th[i], txs[i], lens[i]);
    assert_int_equal(merkle_root(items, ls, 3, want), 0);
    assert_memory_equal(b1.header.data_hash, want, 32);

    /* block 2 carries block 1's commit and a piece of evidence from height 1 */
    struct vote va = {.type = VOTE_TYPE_PREVOTE, .height = 1, .round = 0};
    struct vote vb = va;
    memset(va.block_id.hash, 0x31, 32);
    va.block_id.parts.total = 1;
    memset(va.block_id.parts.hash, 0x31, 32);
    sign_vote(2, &va);
    sign_vote(2, &vb);
    struct evidence ev;
    assert_int_equal(evidence_from_votes(&va, &vb, &vs, b1.header.time_ns, &ev), 0);

    struct block_params p;
    params(&p, 2);
    p.last_block_id = id1;
    p.last_commit = &c1;
    block_init(&b2);
    assert_int_equal(block_make(&b2, &p, txs, lens, 2, &ev, 1), 0);
    assert_int_equal(block_validate_basic(&b2), 0);
    uint8_t h2[32], hh[32];
    assert_int_equal(block_hash(&b2, h2), 0);
    assert_int_equal(header_hash(&b2.header, hh), 0);
    assert_memory_equal(h2, hh, 32);
    uint8_t ch[32];
    assert_int_equal(commit_hash(&c1, ch), 0);
    assert_memory_equal(b2.header.last_commit_hash, ch, 32);

    /* tampering is caught */
    b2.txs[1].data[0] ^= 1;
    assert_int_equal(block_validate_basic(&b2), PX_EINVAL);
    b2.txs[1].data[0] ^= 1;
    b2.evidence[0].timestamp_ns++;
    assert_int_equal(block_validate_basic(&b2), PX_EINVAL);
    b2.evidence[0].timestamp_ns--;
    b2.last_commit.sigs[0].timestamp_ns++;
    assert_int_equal(block_validate_basic(&b2), PX_EINVAL);
    b2.last_commit.sigs[0].timestamp_ns--;
    assert_int_equal(block_validate_basic(&b2), 0);
    b2.header.last_block_id.hash[0] ^= 1; /* commit no longer for the last block */
    assert_int_equal(block_validate_basic(&b2), PX_EINVAL);
    b2.header.last_block_id.hash[0] ^= 1;

    /* a block 2 without its last commit cannot be made */
    struct block b3;
    p.last_commit = NULL;
    block_init(&b3);
    assert_int_equal(block_make(&b3, &p, txs, lens, 1, NULL, 0), PX_EINVAL);
    assert_int_equal(b3.tx_count, 0);
    /* nor a block carrying evidence from its own height */
    params(&p, 1);
    block_init(&b3);
    assert_int_equal(block_make(&b3, &p, txs, lens, 1, &ev, 1), PX_EINVAL);

    /* block 2 travels as parts and comes back the same block, under its id */
    struct part_set ps, rx;
    struct block_id id2, other_id;
    assert_int_equal(block_to_parts(&b2, &ps, &id2), 0);
    assert_memory_equal(id2.hash, h2, 32);
    assert_true(block_id_is_complete(&id2));
    assert_int_equal(part_set_init(&rx, &id2.parts), 0);
    struct block got;
    assert_int_equal(block_from_parts(&rx, &id2, &got), PX_ESTATE);
    for (uint32_t i = 0; i < ps.header.total; i++)
        assert_int_equal(part_set_add(&rx, part_set_get(&ps, i)), 0);
    assert_int_equal(block_from_parts(&rx, &id2, &got), 0);
    uint8_t hg[32];
    assert_int_equal(block_hash(&got, hg), 0);
    assert_memory_equal(hg, h2, 32);
    assert_int_equal(got.tx_count, 2);
    block_fini(&got);
    other_id = id2;
    other_id.hash[0] ^= 1;
    assert_int_equal(block_from_parts(&rx, &other_id, &got), PX_ECRYPTO);
    part_set_fini(&rx);
    part_set_fini(&ps);

    block_fini(&b2);
    block_fini(&b1);
    commit_fini(&c1);
}

static void validators_hash(void **state)
{
    (void)state;
    setup_set();
    uint8_t a[32], b[32];
    assert_int_equal(block_validators_hash(&vs, a), 0);
    struct validator_set *copy = malloc(sizeof(*copy));
    validator_set_copy(copy, &vs);
    assert_int_equal(block_validators_hash(copy, b), 0);
    assert_memory_equal(a, b, 32);
    copy->validators[3].proposer_priority += 5; /* priorities are not hashed */
    assert_int_equal(block_validators_hash(copy, b), 0);
    assert_memory_equal(a, b, 32);
    copy->validators[3].voting_power++; /* power is */
    assert_int_equal(block_validators_hash(copy, b), 0);
    assert_memory_not_equal(a, b, 32);
    free(copy);
}

static void bounds(void **state)
{
    (void)state;
    setup_set();
    struct block b;
    struct block_params p;
    params(&p, 1);
    size_t n = BLOCK_MAX_TXS + 1;
    const uint8_t **many = calloc(n, sizeof(*many));
    size_t *ls = calloc(n, sizeof(*ls));
    assert_non_null(many);
    assert_non_null(ls);
    for (size_t i = 0; i < n; i++)
        many[i] = (const uint8_t *)"x";
    block_init(&b);
    assert_int_equal(block_make(&b, &p, many, ls, n, NULL, 0), PX_ETOOBIG);
    /* bytes over the limit */
    ls[0] = BLOCK_MAX_BYTES;
    ls[1] = 1;
    assert_int_equal(block_make(&b, &p, many, ls, 2, NULL, 0), PX_ETOOBIG);
    free(many);
    free(ls);
    p.chain_id = "";
    assert_int_equal(block_make(&b, &p, NULL, NULL, 0, NULL, 0), PX_EINVAL);
    /* an empty block is fine */
    params(&p, 1);
    assert_int_equal(block_make(&b, &p, NULL, NULL, 0, NULL, 0), 0);
    uint8_t empty[32];
    merkle_empty_hash(empty);
    assert_memory_equal(b.header.data_hash, empty, 32);
    assert_memory_equal(b.header.evidence_hash, empty, 32);
    assert_memory_equal(b.header.last_commit_hash, empty, 32);
    block_fini(&b);
}

static void consensus_hash(void **state)
{
    (void)state;
    /* SHA-256 of HashedParams{1: 22020096, 2: -1} written by hand */
    const uint8_t enc[] = {0x08, 0x80, 0x80, 0xc0, 0x0a, 0x10, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    uint8_t want[32], got[32];
    sha256(want, enc, sizeof(enc));
    block_consensus_hash(22020096, -1, got);
    assert_memory_equal(got, want, 32);
    block_consensus_hash(22020097, -1, got);
    assert_memory_not_equal(got, want, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_and_check),
        cmocka_unit_test(validators_hash),
        cmocka_unit_test(bounds),
        cmocka_unit_test(consensus_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
