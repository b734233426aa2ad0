/* Unit tests of merkle: roots against values computed by hand from the RFC 6962 rules and
 * against CometBFT's published vectors, split points, proofs for every index of many tree
 * sizes, and rejection of tampered or malformed proofs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "merkle.h"
#include "px_encoding.h"
#include "px_error.h"
#include "sha256.h"

static void to_hex(const uint8_t h[32], char out[65])
{
    px_hex_encode(out, 65, h, 32, false);
}

/* H(0x00 || x) written out by hand */
static void leaf(const void *x, size_t n, uint8_t out[32])
{
    uint8_t buf[64];
    buf[0] = 0;
    memcpy(buf + 1, x, n);
    sha256(out, buf, n + 1);
}

/* H(0x01 || l || r) written out by hand */
static void inner(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    uint8_t buf[65];
    buf[0] = 1;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    sha256(out, buf, 65);
}

static void split_points(void **state)
{
    (void)state;
    assert_int_equal(merkle_split_point(2), 1);
    assert_int_equal(merkle_split_point(3), 2);
    assert_int_equal(merkle_split_point(4), 2);
    assert_int_equal(merkle_split_point(5), 4);
    assert_int_equal(merkle_split_point(8), 4);
    assert_int_equal(merkle_split_point(9), 8);
    assert_int_equal(merkle_split_point(1601), 1024);
}

static void hand_computed_roots(void **state)
{
    (void)state;
    uint8_t got[32], want[32], a[32], b[32], c[32], ab[32];
    char s[65];
    /* empty: SHA-256 of nothing */
    assert_int_equal(merkle_root(NULL, NULL, 0, got), 0);
    to_hex(got, s);
    assert_string_equal(s, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    const uint8_t *items[5] = {(const uint8_t *)"a", (const uint8_t *)"b", (const uint8_t *)"c"};
    size_t lens[5] = {1, 1, 1};
    /* one item: its leaf hash */
    assert_int_equal(merkle_root(items, lens, 1, got), 0);
    leaf("a", 1, want);
    assert_memory_equal(got, want, 32);
    /* three items: split 2 + 1 */
    leaf("a", 1, a);
    leaf("b", 1, b);
    leaf("c", 1, c);
    inner(a, b, ab);
    inner(ab, c, want);
    assert_int_equal(merkle_root(items, lens, 3, got), 0);
    assert_memory_equal(got, want, 32);
    /* an empty leaf is H(0x00): CometBFT's "single_empty" vector */
    const uint8_t *e[1] = {(const uint8_t *)""};
    size_t el[1] = {0};
    assert_int_equal(merkle_root(e, el, 1, got), 0);
    to_hex(got, s);
    assert_string_equal(s, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    /* CometBFT's vectors from crypto/merkle/tree_test.go */
    const uint8_t one[3] = {1, 2, 3};
    const uint8_t *o[1] = {one};
    size_t ol[1] = {3};
    assert_int_equal(merkle_root(o, ol, 1, got), 0);
    to_hex(got, s);
    assert_string_equal(s, "054edec1d0211f624fed0cbca9d4f9400b0e491c43742af2c5b0abebf0c990d8");
    const uint8_t m[5][2] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}};
    const uint8_t *mi[5] = {m[0], m[1], m[2], m[3], m[4]};
    size_t ml[5] = {2, 2, 2, 2, 2};
    assert_int_equal(merkle_root(mi, ml, 5, got), 0);
    to_hex(got, s);
    assert_string_equal(s, "f326493eceab4f2d9ffbc78c59432a0a005d6ea98392045c74df5d14a113be18");
    /* and the same five by hand: ((0,1),(2,3)),4 */
    uint8_t l[5][32], n01[32], n23[32], n0123[32];
    for (int i = 0; i < 5; i++)
        leaf(m[i], 2, l[i]);
    inner(l[0], l[1], n01);
    inner(l[2], l[3], n23);
    inner(n01, n23, n0123);
    inner(n0123, l[4], want);
    assert_memory_equal(got, want, 32);
    /* from leaf hashes gives the same root */
    merkle_root_from_leaf_hashes((const uint8_t(*)[32])l, 5, got);
    assert_memory_equal(got, want, 32);
}

static void proofs_every_size(void **state)
{
    (void)state;
    enum { MAXN = 70 };
    uint8_t data[MAXN][4];
    const uint8_t *items[MAXN];
    size_t lens[MAXN];
    for (int i = 0; i < MAXN; i++) {
        memcpy(data[i], &i, 4);
        items[i] = data[i];
        lens[i] = 4;
    }
    struct merkle_proof *pr = calloc(MAXN, sizeof(*pr));
    assert_non_null(pr);
    for (size_t n = 1; n <= MAXN; n++) {
        uint8_t root[32], root2[32];
        assert_int_equal(merkle_proofs(items, lens, n, root, pr), 0);
        assert_int_equal(merkle_root(items, lens, n, root2), 0);
        assert_memory_equal(root, root2, 32);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(pr[i].total, n);
            assert_int_equal(pr[i].index, i);
            assert_int_equal(merkle_proof_verify(&pr[i], root, items[i], 4), 0);
            /* another item's bytes do not verify at this index */
            if (n > 1)
                assert_int_equal(merkle_proof_verify(&pr[i], root, items[(i + 1) % n], 4),
                                 PX_ECRYPTO);
        }
    }
    free(pr);
}

static void tampered_proofs(void **state)
{
    (void)state;
    uint8_t data[7][1] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}};
    const uint8_t *items[7];
    size_t lens[7];
    for (int i = 0; i < 7; i++) {
        items[i] = data[i];
        lens[i] = 1;
    }
    struct merkle_proof pr[7];
    uint8_t root[32];
    assert_int_equal(merkle_proofs(items, lens, 7, root, pr), 0);
    struct merkle_proof p = pr[5];
    assert_int_equal(merkle_proof_verify(&p, root, items[5], 1), 0);
    p.aunts[0][0] ^= 1;
    assert_int_equal(merkle_proof_verify(&p, root, items[5], 1), PX_ECRYPTO);
    p = pr[5];
    p.index = 4; /* same aunts, other position */
    assert_int_not_equal(merkle_proof_verify(&p, root, items[5], 1), 0);
    p = pr[5];
    p.index = 7; /* out of range */
    assert_int_equal(merkle_proof_verify(&p, root, items[5], 1), PX_EINVAL);
    p = pr[5];
    p.aunt_count--; /* too few aunts */
    assert_int_not_equal(merkle_proof_verify(&p, root, items[5], 1), 0);
    p = pr[5];
    p.aunt_count = MERKLE_MAX_AUNTS + 1;
    assert_int_equal(merkle_proof_verify(&p, root, items[5], 1), PX_EINVAL);
    p = pr[5];
    p.total = 0;
    assert_int_equal(merkle_proof_verify(&p, root, items[5], 1), PX_EINVAL);
    p = pr[5];
    uint8_t other_root[32];
    memcpy(other_root, root, 32);
    other_root[31] ^= 1;
    assert_int_equal(merkle_proof_verify(&p, other_root, items[5], 1), PX_ECRYPTO);
    assert_int_equal(merkle_proofs(items, lens, 0, root, pr), PX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_points),
        cmocka_unit_test(hand_computed_roots),
        cmocka_unit_test(proofs_every_size),
        cmocka_unit_test(tampered_proofs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
