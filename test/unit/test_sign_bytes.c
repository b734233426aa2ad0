/* Unit tests of sign_bytes: fixed inputs give fixed bytes (the canonical format must never
 * drift: the expected hex was encoded by hand from the proto rules), the chain id is
 * always inside, bad chain ids are refused, and signatures check through Ed25519 or a
 * caller's function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "ed25519.h"
#include "px_encoding.h"
#include "px_error.h"
#include "sign_bytes.h"

static const uint64_t T = 1700000000ull * 1000000000ull + 123456789ull;

static void hex_of(const uint8_t *b, size_t n, char *out, size_t cap)
{
    assert_int_equal(px_hex_encode(out, cap, b, n, false), 0);
}

static void fixed_block_id(struct block_id *id)
{
    memset(id->hash, 0x11, sizeof(id->hash));
    id->parts.total = 1;
    memset(id->parts.hash, 0x22, sizeof(id->parts.hash));
}

static void fixed_vote(struct vote *v)
{
    memset(v, 0, sizeof(*v));
    v->type = VOTE_TYPE_PRECOMMIT;
    v->height = 10;
    v->round = 2;
    fixed_block_id(&v->block_id);
    v->timestamp_ns = T;
    memset(v->validator_address, 0x33, sizeof(v->validator_address));
    v->validator_index = 3;
}

static void vote_vectors(void **state)
{
    (void)state;
    struct vote v;
    fixed_vote(&v);
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    char hex[2 * SIGN_BYTES_MAX + 1];
    assert_int_equal(sign_bytes_vote(&v, "test-chain", buf, &len), 0);
    hex_of(buf, len, hex, sizeof(hex));
    assert_string_equal(hex, "770802110a0000000000000019020000000000000022480a2011111111111111111"
                             "11111111111111111111111111111111111111111111111122408011220222222"
                             "22222222222222222222222222222222222222222222222222222222222a0b0880"
                             "e2cfaa0610959aef3a320a746573742d636861696e");
    /* validator fields and the signature are not signed */
    v.validator_index = 7;
    memset(v.signature, 0x44, sizeof(v.signature));
    uint8_t buf2[SIGN_BYTES_MAX];
    size_t len2;
    assert_int_equal(sign_bytes_vote(&v, "test-chain", buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);

    /* a nil prevote at round 0: no block id field, no round field */
    fixed_vote(&v);
    v.type = VOTE_TYPE_PREVOTE;
    v.round = 0;
    block_id_set_nil(&v.block_id);
    assert_int_equal(sign_bytes_vote(&v, "test-chain", buf, &len), 0);
    hex_of(buf, len, hex, sizeof(hex));
    assert_string_equal(
        hex, "240801110a000000000000002a0b0880e2cfaa0610959aef3a320a746573742d636861696e");
}

static void proposal_vectors(void **state)
{
    (void)state;
    struct proposal p;
    memset(&p, 0, sizeof(p));
    p.height = 10;
    p.round = 2;
    p.pol_round = 1;
    fixed_block_id(&p.block_id);
    p.timestamp_ns = T;
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    char hex[2 * SIGN_BYTES_MAX + 1];
    assert_int_equal(sign_bytes_proposal(&p, "test-chain", buf, &len), 0);
    hex_of(buf, len, hex, sizeof(hex));
    assert_string_equal(hex,
                        "790820110a0000000000000019020000000000000020012a480a201111111111111111"
                        "1111111111111111111111111111111111111111111111111224080112202222222222"
                        "222222222222222222222222222222222222222222222222222222320b0880e2cfaa06"
                        "10959aef3a3a0a746573742d636861696e");
    p.pol_round = -1; /* int64 varint of -1: ten bytes */
    assert_int_equal(sign_bytes_proposal(&p, "test-chain", buf, &len), 0);
    hex_of(buf, len, hex, sizeof(hex));
    assert_string_equal(hex,
                        "82010820110a0000000000000019020000000000000020ffffffffffffffffff012a48"
                        "0a20111111111111111111111111111111111111111111111111111111111111111112"
                        "2408011220222222222222222222222222222222222222222222222222222222222222"
                        "2222320b0880e2cfaa0610959aef3a3a0a746573742d636861696e");
}

static void chain_id_inside_and_checked(void **state)
{
    (void)state;
    struct vote v;
    fixed_vote(&v);
    uint8_t a[SIGN_BYTES_MAX], b[SIGN_BYTES_MAX];
    size_t la, lb;
    assert_int_equal(sign_bytes_vote(&v, "chain-a", a, &la), 0);
    assert_int_equal(sign_bytes_vote(&v, "chain-b", b, &lb), 0);
    assert_int_equal(la, lb);
    assert_memory_not_equal(a, b, la);
    assert_int_equal(sign_bytes_vote(&v, "", a, &la), PX_EINVAL);
    assert_int_equal(sign_bytes_vote(&v, NULL, a, &la), PX_EINVAL);
    char long_id[52];
    memset(long_id, 'x', 51);
    long_id[51] = '\0';
    assert_int_equal(sign_bytes_vote(&v, long_id, a, &la), PX_EINVAL);
    long_id[50] = '\0'; /* 50: the longest allowed, and it fits */
    assert_int_equal(sign_bytes_vote(&v, long_id, a, &la), 0);
    v.height = (uint64_t)INT64_MAX + 1;
    assert_int_equal(sign_bytes_vote(&v, "c", a, &la), PX_EINVAL);
}

static int calls;
static int counting_verify(const uint8_t pub[32], const uint8_t *msg, size_t len,
                           const uint8_t sig[64], void *user)
{
    (void)user;
    calls++;
    struct ed25519_pubkey pk;
    memcpy(pk.bytes, pub, 32);
    return ed25519_verify(&pk, msg, len, sig);
}

static void verify_signatures(void **state)
{
    (void)state;
    uint8_t seed[32] = {5};
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    assert_int_equal(ed25519_from_seed(seed, &priv, &pub), 0);
    struct vote v;
    fixed_vote(&v);
    uint8_t buf[SIGN_BYTES_MAX];
    size_t len;
    assert_int_equal(sign_bytes_vote(&v, "test-chain", buf, &len), 0);
    assert_int_equal(ed25519_sign(&priv, buf, len, v.signature), 0);
    assert_int_equal(sign_bytes_vote_verify(&v, "test-chain", pub.bytes, NULL, NULL), 0);
    assert_int_equal(sign_bytes_vote_verify(&v, "other-chain", pub.bytes, NULL, NULL), PX_ECRYPTO);
    calls = 0;
    assert_int_equal(sign_bytes_vote_verify(&v, "test-chain", pub.bytes, counting_verify, NULL), 0);
    assert_int_equal(calls, 1);
    v.round = 3; /* a different vote: the signature no longer matches */
    assert_int_equal(sign_bytes_vote_verify(&v, "test-chain", pub.bytes, NULL, NULL), PX_ECRYPTO);

    struct proposal p;
    memset(&p, 0, sizeof(p));
    p.height = 4;
    p.round = 1;
    p.pol_round = -1;
    fixed_block_id(&p.block_id);
    p.timestamp_ns = T;
    assert_int_equal(sign_bytes_proposal(&p, "test-chain", buf, &len), 0);
    assert_int_equal(ed25519_sign(&priv, buf, len, p.signature), 0);
    assert_int_equal(sign_bytes_proposal_verify(&p, "test-chain", pub.bytes, NULL, NULL), 0);
    p.pol_round = 0;
    assert_int_equal(sign_bytes_proposal_verify(&p, "test-chain", pub.bytes, NULL, NULL),
                     PX_ECRYPTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vote_vectors),
        cmocka_unit_test(proposal_vectors),
        cmocka_unit_test(chain_id_inside_and_checked),
        cmocka_unit_test(verify_signatures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
