/* Unit tests of evidence: built from two conflicting votes in either order, validation
 * (non-conflicting votes, wrong order, powers, offender not in the set, bad signature,
 * wrong chain id), hashing of single evidence and lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "ed25519.h"
#include "evidence.h"
#include "merkle.h"
#include "px_error.h"
#include "sign_bytes.h"

#define NV 4
#define CHAIN "test-chain"

static struct validator_set vs;
static struct ed25519_privkey keys[NV];

static void setup_set(void)
{
    struct validator vals[NV];
    struct ed25519_privkey privs[NV];
    memset(vals, 0, sizeof(vals));
    for (int i = 0; i < NV; i++) {
        uint8_t seed[32] = {(uint8_t)(i + 7)};
        struct ed25519_pubkey pub;
        assert_int_equal(ed25519_from_seed(seed, &privs[i], &pub), 0);
        memcpy(vals[i].pub_key, pub.bytes, 32);
        ed25519_address(&pub, vals[i].address);
        vals[i].voting_power = 10 * (i + 1);
    }
    assert_int_equal(validator_set_init(&vs, vals, NV), 0);
    for (uint32_t i = 0; i < vs.count; i++)
        for (int k = 0; k < NV; k++)
            if (memcmp(vs.validators[i].pub_key, privs[k].bytes + 32, 32) == 0)
                keys[i] = privs[k];
}

static void signed_vote(uint32_t i, uint8_t block_byte, struct vote *v)
{
    memset(v, 0, sizeof(*v));
    v->type = VOTE_TYPE_PREVOTE;
    v->height = 8;
    v->round = 0;
    if (block_byte) {
        memset(v->block_id.hash, block_byte, 32);
        v->block_id.parts.total = 1;
        memset(v->block_id.parts.hash, block_byte, 32);
    }
    v->timestamp_ns = 5000;
    memcpy(v->validator_address, vs.validators[i].address, 20);
    v->validator_index = (int32_t)i;
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    assert_int_equal(sign_bytes_vote(v, CHAIN, buf, &len), 0);
    assert_int_equal(ed25519_sign(&keys[i], buf, len, v->signature), 0);
}

static void resign(uint32_t i, struct vote *v)
{
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    assert_int_equal(sign_bytes_vote(v, CHAIN, buf, &len), 0);
    assert_int_equal(ed25519_sign(&keys[i], buf, len, v->signature), 0);
}

static void build_and_verify(void **state)
{
    (void)state;
    setup_set();
    struct vote a, b;
    signed_vote(1, 0x20, &a);
    signed_vote(1, 0x10, &b);
    struct evidence ev, ev2;
    char why[256];
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 777, &ev), 0);
    /* ordered by block id whichever way they came in */
    assert_int_equal(ev.vote_a.block_id.hash[0], 0x10);
    assert_int_equal(evidence_from_votes(&b, &a, &vs, 777, &ev2), 0);
    assert_memory_equal(&ev, &ev2, sizeof(ev));
    assert_int_equal(ev.validator_power, vs.validators[1].voting_power);
    assert_int_equal(ev.total_voting_power, 100);
    assert_int_equal(evidence_validate_basic(&ev), 0);
    assert_int_equal(evidence_verify(&ev, CHAIN, &vs, NULL, NULL, why, sizeof(why)), 0);
    /* a vote for nil against a vote for a block also conflicts */
    signed_vote(2, 0, &a);
    signed_vote(2, 0x30, &b);
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev), 0);
    assert_int_equal(evidence_verify(&ev, CHAIN, &vs, NULL, NULL, why, sizeof(why)), 0);
}

static void refuses_non_conflicting(void **state)
{
    (void)state;
    setup_set();
    struct vote a, b;
    struct evidence ev;
    signed_vote(1, 0x10, &a);
    b = a;
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev), PX_EINVAL); /* same vote */
    signed_vote(1, 0x20, &b);
    b.round = 1;
    resign(1, &b);
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev), PX_EINVAL); /* other round */
    signed_vote(1, 0x20, &b);
    b.type = VOTE_TYPE_PRECOMMIT;
    resign(1, &b);
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev), PX_EINVAL); /* other type */
    signed_vote(2, 0x20, &b);
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev), PX_EINVAL); /* other validator */
    /* an address that is not in the set */
    signed_vote(1, 0x20, &b);
    a.validator_address[0] ^= 1;
    b.validator_address[0] ^= 1;
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev), PX_ENOTFOUND);
}

static void verify_failures(void **state)
{
    (void)state;
    setup_set();
    struct vote a, b;
    signed_vote(3, 0x10, &a);
    signed_vote(3, 0x20, &b);
    struct evidence ev, bad;
    char why[256];
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev), 0);
    assert_int_equal(evidence_verify(&ev, "other-chain", &vs, NULL, NULL, why, sizeof(why)),
                     PX_ECRYPTO);
    bad = ev;
    bad.vote_b.signature[0] ^= 1;
    assert_int_equal(evidence_verify(&bad, CHAIN, &vs, NULL, NULL, why, sizeof(why)), PX_ECRYPTO);
    assert_non_null(strstr(why, "signature"));
    bad = ev;
    bad.validator_power++;
    assert_int_equal(evidence_verify(&bad, CHAIN, &vs, NULL, NULL, why, sizeof(why)), PX_EINVAL);
    assert_non_null(strstr(why, "validator power"));
    bad = ev;
    bad.total_voting_power++;
    assert_int_equal(evidence_verify(&bad, CHAIN, &vs, NULL, NULL, why, sizeof(why)), PX_EINVAL);
    bad = ev;
    bad.vote_a = ev.vote_b;
    bad.vote_b = ev.vote_a; /* wrong order */
    assert_int_equal(evidence_validate_basic(&bad), PX_EINVAL);
    assert_int_equal(evidence_verify(&bad, CHAIN, &vs, NULL, NULL, why, sizeof(why)), PX_EINVAL);
    bad = ev;
    bad.vote_a.validator_index = 0;
    bad.vote_b.validator_index = 0; /* index of another validator */
    assert_int_equal(evidence_verify(&bad, CHAIN, &vs, NULL, NULL, why, sizeof(why)), PX_EINVAL);
    bad = ev;
    bad.validator_power = 0;
    assert_int_equal(evidence_validate_basic(&bad), PX_EINVAL);
}

static void hashes(void **state)
{
    (void)state;
    setup_set();
    struct vote a, b;
    struct evidence ev[2];
    signed_vote(0, 0x10, &a);
    signed_vote(0, 0x20, &b);
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev[0]), 0);
    signed_vote(1, 0x10, &a);
    signed_vote(1, 0x20, &b);
    assert_int_equal(evidence_from_votes(&a, &b, &vs, 1, &ev[1]), 0);
    uint8_t h0[32], h1[32], root[32], again[32], empty[32];
    assert_int_equal(evidence_hash(&ev[0], h0), 0);
    assert_int_equal(evidence_hash(&ev[1], h1), 0);
    assert_memory_not_equal(h0, h1, 32);
    assert_int_equal(evidence_list_hash(ev, 2, root), 0);
    assert_int_equal(evidence_list_hash(ev, 2, again), 0);
    assert_memory_equal(root, again, 32);
    ev[1].timestamp_ns++;
    assert_int_equal(evidence_list_hash(ev, 2, again), 0);
    assert_memory_not_equal(root, again, 32);
    assert_int_equal(evidence_list_hash(NULL, 0, root), 0);
    merkle_empty_hash(empty);
    assert_memory_equal(root, empty, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_and_verify),
        cmocka_unit_test(refuses_non_conflicting),
        cmocka_unit_test(verify_failures),
        cmocka_unit_test(hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
