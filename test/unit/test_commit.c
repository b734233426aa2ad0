/* Unit tests of commit: building from precommits, verification against a validator set
 * (enough and not enough power, nil votes not counted, bad signature, wrong chain id,
 * wrong height/block/addresses/slot count, unequal power), hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "commit.h"
#include "ed25519.h"
#include "merkle.h"
#include "px_error.h"
#include "sign_bytes.h"

#define NV 4
#define CHAIN "test-chain"

static struct validator_set vs;
static struct ed25519_privkey keys[NV]; /* keys[i] belongs to vs.validators[i] */
static struct block_id bid;

static void setup_set(const int64_t *powers)
{
    struct validator vals[NV];
    struct ed25519_privkey privs[NV];
    memset(vals, 0, sizeof(vals));
    for (int i = 0; i < NV; i++) {
        uint8_t seed[32] = {(uint8_t)(i + 1)};
        struct ed25519_pubkey pub;
        assert_int_equal(ed25519_from_seed(seed, &privs[i], &pub), 0);
        memcpy(vals[i].pub_key, pub.bytes, 32);
        ed25519_address(&pub, vals[i].address);
        vals[i].voting_power = powers[i];
    }
    assert_int_equal(validator_set_init(&vs, vals, NV), 0);
    for (uint32_t i = 0; i < vs.count; i++)
        for (int k = 0; k < NV; k++)
            if (memcmp(vs.validators[i].pub_key, privs[k].bytes + 32, 32) == 0)
                keys[i] = privs[k];
    memset(bid.hash, 0xab, 32);
    bid.parts.total = 3;
    memset(bid.parts.hash, 0xcd, 32);
}

static void precommit(uint32_t i, const struct block_id *id, const char *chain, struct vote *v)
{
    memset(v, 0, sizeof(*v));
    v->type = VOTE_TYPE_PRECOMMIT;
    v->height = 5;
    v->round = 1;
    v->block_id = *id;
    v->timestamp_ns = 1000 + i;
    memcpy(v->validator_address, vs.validators[i].address, 20);
    v->validator_index = (int32_t)i;
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    assert_int_equal(sign_bytes_vote(v, chain, buf, &len), 0);
    assert_int_equal(ed25519_sign(&keys[i], buf, len, v->signature), 0);
}

/* A commit with slots: 'c' commit, 'n' nil, '-' absent. */
static void make_commit(struct commit *c, const char *slots)
{
    assert_int_equal(commit_init(c, 5, 1, &bid, vs.count), 0);
    struct block_id nil;
    block_id_set_nil(&nil);
    for (uint32_t i = 0; i < vs.count; i++) {
        struct vote v;
        if (slots[i] == '-')
            continue;
        precommit(i, slots[i] == 'c' ? &bid : &nil, CHAIN, &v);
        assert_int_equal(commit_add_vote(c, i, &v), 0);
    }
}

static int verify(const struct commit *c, char *why)
{
    return commit_verify(c, CHAIN, &vs, &bid, 5, NULL, NULL, why, 256);
}

static void enough_and_not_enough_power(void **state)
{
    (void)state;
    const int64_t powers[NV] = {10, 10, 10, 10};
    setup_set(powers);
    struct commit c;
    char why[256] = "";
    make_commit(&c, "cccc");
    assert_int_equal(verify(&c, why), 0);
    commit_fini(&c);
    make_commit(&c, "ccc-"); /* 30 of 40 */
    assert_int_equal(verify(&c, why), 0);
    commit_fini(&c);
    make_commit(&c, "cc--"); /* 20 of 40 */
    assert_int_equal(verify(&c, why), PX_EINVAL);
    assert_non_null(strstr(why, "2/3"));
    commit_fini(&c);
    make_commit(&c, "ccn-"); /* a nil precommit does not count */
    assert_int_equal(verify(&c, why), PX_EINVAL);
    commit_fini(&c);
    make_commit(&c, "cccn"); /* but it may be there, validly signed */
    assert_int_equal(verify(&c, why), 0);
    commit_fini(&c);
}

static void unequal_power(void **state)
{
    (void)state;
    const int64_t powers[NV] = {100, 1, 1, 1};
    setup_set(powers);
    /* the set is sorted by power: index 0 holds the 100 */
    assert_int_equal(vs.validators[0].voting_power, 100);
    struct commit c;
    char why[256];
    make_commit(&c, "c---");
    assert_int_equal(verify(&c, why), 0);
    commit_fini(&c);
    make_commit(&c, "-ccc");
    assert_int_equal(verify(&c, why), PX_EINVAL);
    commit_fini(&c);
}

static void bad_signature_and_chain(void **state)
{
    (void)state;
    const int64_t powers[NV] = {10, 10, 10, 10};
    setup_set(powers);
    struct commit c;
    char why[256];
    make_commit(&c, "cccc");
    c.sigs[2].signature[10] ^= 1;
    assert_int_equal(verify(&c, why), PX_ECRYPTO);
    assert_non_null(strstr(why, "validator 2"));
    c.sigs[2].signature[10] ^= 1;
    c.sigs[1].timestamp_ns++; /* the timestamp is signed */
    assert_int_equal(verify(&c, why), PX_ECRYPTO);
    c.sigs[1].timestamp_ns--;
    assert_int_equal(commit_verify(&c, "other-chain", &vs, &bid, 5, NULL, NULL, why, sizeof(why)),
                     PX_ECRYPTO);
    /* an invalid nil signature also fails the commit */
    commit_fini(&c);
    make_commit(&c, "cccn");
    c.sigs[3].signature[0] ^= 1;
    assert_int_equal(verify(&c, why), PX_ECRYPTO);
    commit_fini(&c);
}

static void wrong_shape(void **state)
{
    (void)state;
    const int64_t powers[NV] = {10, 10, 10, 10};
    setup_set(powers);
    struct commit c;
    char why[256];
    make_commit(&c, "cccc");
    assert_int_equal(commit_verify(&c, CHAIN, &vs, &bid, 6, NULL, NULL, why, sizeof(why)),
                     PX_EINVAL);
    struct block_id other = bid;
    other.hash[0] ^= 1;
    assert_int_equal(commit_verify(&c, CHAIN, &vs, &other, 5, NULL, NULL, why, sizeof(why)),
                     PX_EINVAL);
    /* slot 1 claims validator 2's address */
    uint8_t saved[20];
    memcpy(saved, c.sigs[1].validator_address, 20);
    memcpy(c.sigs[1].validator_address, vs.validators[2].address, 20);
    assert_int_equal(verify(&c, why), PX_EINVAL);
    assert_non_null(strstr(why, "slot 1"));
    memcpy(c.sigs[1].validator_address, saved, 20);
    /* one slot fewer than validators */
    c.count--;
    assert_int_equal(verify(&c, why), PX_EINVAL);
    c.count++;
    /* an absent slot with a signature is malformed */
    c.sigs[0].flag = COMMIT_FLAG_ABSENT;
    assert_int_equal(commit_validate_basic(&c), PX_EINVAL);
    assert_int_equal(verify(&c, why), PX_EINVAL);
    commit_fini(&c);
}

static void add_get_and_hash(void **state)
{
    (void)state;
    const int64_t powers[NV] = {10, 10, 10, 10};
    setup_set(powers);
    struct commit c, d;
    make_commit(&c, "cn-c");
    struct vote v, got;
    precommit(0, &bid, CHAIN, &v);
    assert_int_equal(commit_get_vote(&c, 0, &got), 0);
    assert_memory_equal(&v, &got, sizeof(v));
    assert_int_equal(commit_get_vote(&c, 2, &got), PX_EINVAL); /* absent */
    assert_int_equal(commit_get_vote(&c, 1, &got), 0);
    assert_true(block_id_is_nil(&got.block_id));
    /* votes of another height, or for another block, do not go in */
    v.height = 6;
    assert_int_equal(commit_add_vote(&c, 0, &v), PX_EINVAL);
    struct block_id other = bid;
    other.hash[5] ^= 1;
    precommit(2, &other, CHAIN, &v);
    assert_int_equal(commit_add_vote(&c, 2, &v), PX_EINVAL);
    precommit(2, &bid, CHAIN, &v);
    assert_int_equal(commit_add_vote(&c, 1, &v), PX_EINVAL); /* index is not its slot */

    uint8_t h1[32], h2[32];
    assert_int_equal(commit_hash(&c, h1), 0);
    assert_int_equal(commit_copy(&d, &c), 0);
    assert_int_equal(commit_hash(&d, h2), 0);
    assert_memory_equal(h1, h2, 32);
    d.sigs[3].signature[0] ^= 1;
    assert_int_equal(commit_hash(&d, h2), 0);
    assert_memory_not_equal(h1, h2, 32);
    commit_fini(&d);
    commit_fini(&c);

    struct commit e;
    commit_init_empty(&e);
    uint8_t empty[32];
    merkle_empty_hash(empty);
    assert_int_equal(commit_hash(&e, h1), 0);
    assert_memory_equal(h1, empty, 32);
    assert_int_equal(commit_validate_basic(&e), 0);
    assert_int_equal(commit_init(&e, 1, 0, &bid, VALIDATOR_SET_MAX + 1), PX_EBOUND);
}

static int calls;
static int counting(const uint8_t pub[32], const uint8_t *msg, size_t len, const uint8_t sig[64],
                    void *user)
{
    (void)pub;
    (void)msg;
    (void)len;
    (void)sig;
    calls++;
    return *(int *)user;
}

static void custom_verifier(void **state)
{
    (void)state;
    const int64_t powers[NV] = {10, 10, 10, 10};
    setup_set(powers);
    struct commit c;
    make_commit(&c, "ccc-");
    int answer = 0;
    calls = 0;
    assert_int_equal(commit_verify(&c, CHAIN, &vs, &bid, 5, counting, &answer, NULL, 0), 0);
    assert_int_equal(calls, 3);
    answer = PX_ECRYPTO;
    assert_int_equal(commit_verify(&c, CHAIN, &vs, &bid, 5, counting, &answer, NULL, 0),
                     PX_ECRYPTO);
    commit_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enough_and_not_enough_power),
        cmocka_unit_test(unequal_power),
        cmocka_unit_test(bad_signature_and_chain),
        cmocka_unit_test(wrong_shape),
        cmocka_unit_test(add_get_and_hash),
        cmocka_unit_test(custom_verifier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
