/*
 * merkle: RFC 6962 trees over SHA-256 (see merkle.h). Recursion depth is the tree depth
 * (at most 64); the only allocation is the array of leaf hashes. Must never accept a proof
 * whose shape does not match its (index, total).
 */
#include "merkle.h"

#include <stdlib.h>
#include <string.h>

#include "px_error.h"
#include "sha256.h"

void merkle_empty_hash(uint8_t out[MERKLE_HASH_SIZE])
{
    sha256(out, NULL, 0);
}

void merkle_leaf_hash(const uint8_t *leaf, size_t len, uint8_t out[MERKLE_HASH_SIZE])
{
    static const uint8_t prefix = 0x00;
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, &prefix, 1);
    if (len)
        sha256_update(&h, leaf, len);
    sha256_final(&h, out);
}

void merkle_inner_hash(const uint8_t left[MERKLE_HASH_SIZE], const uint8_t right[MERKLE_HASH_SIZE],
                       uint8_t out[MERKLE_HASH_SIZE])
{
    static const uint8_t prefix = 0x01;
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, &prefix, 1);
    sha256_update(&h, left, MERKLE_HASH_SIZE);
    sha256_update(&h, right, MERKLE_HASH_SIZE);
    sha256_final(&h, out);
}

uint64_t merkle_split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

static void root_rec(const uint8_t (*lh)[MERKLE_HASH_SIZE], size_t n, uint8_t out[MERKLE_HASH_SIZE])
{
    if (n == 1) {
        memcpy(out, lh[0], MERKLE_HASH_SIZE);
        return;
    }
    size_t k = (size_t)merkle_split_point(n);
    uint8_t l[MERKLE_HASH_SIZE], r[MERKLE_HASH_SIZE];
    root_rec(lh, k, l);
    root_rec(lh + k, n - k, r);
    merkle_inner_hash(l, r, out);
}

void merkle_root_from_leaf_hashes(const uint8_t (*leaf_hashes)[MERKLE_HASH_SIZE], size_t n,
                                  uint8_t out[MERKLE_HASH_SIZE])
{
    if (n == 0)
        merkle_empty_hash(out);
    else
        root_rec(leaf_hashes, n, out);
}

static int leaf_hashes(const uint8_t *const *items, const size_t *lens, size_t n,
                       uint8_t (**out)[MERKLE_HASH_SIZE])
{
    uint8_t(*lh)[MERKLE_HASH_SIZE] = malloc((n ? n : 1) * MERKLE_HASH_SIZE);
    if (!lh)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++)
        merkle_leaf_hash(items[i], lens[i], lh[i]);
    *out = lh;
    return 0;
}

int merkle_root(const uint8_t *const *items, const size_t *lens, size_t n,
                uint8_t out[MERKLE_HASH_SIZE])
{
    if (n == 0) {
        merkle_empty_hash(out);
        return 0;
    }
    uint8_t(*lh)[MERKLE_HASH_SIZE];
    int rc = leaf_hashes(items, lens, n, &lh);
    if (rc != 0)
        return rc;
    root_rec(lh, n, out);
    free(lh);
    return 0;
}

/* Root of lh[0..n) (items base..base+n) and, bottom-up, every item's aunts. */
static void proofs_rec(const uint8_t (*lh)[MERKLE_HASH_SIZE], size_t n, struct merkle_proof *pr,
                       uint8_t out[MERKLE_HASH_SIZE])
{
    if (n == 1) {
        memcpy(out, lh[0], MERKLE_HASH_SIZE);
        return;
    }
    size_t k = (size_t)merkle_split_point(n);
    uint8_t l[MERKLE_HASH_SIZE], r[MERKLE_HASH_SIZE];
    proofs_rec(lh, k, pr, l);
    proofs_rec(lh + k, n - k, pr + k, r);
    for (size_t i = 0; i < k; i++)
        memcpy(pr[i].aunts[pr[i].aunt_count++], r, MERKLE_HASH_SIZE);
    for (size_t i = k; i < n; i++)
        memcpy(pr[i].aunts[pr[i].aunt_count++], l, MERKLE_HASH_SIZE);
    merkle_inner_hash(l, r, out);
}

int merkle_proofs(const uint8_t *const *items, const size_t *lens, size_t n,
                  uint8_t root[MERKLE_HASH_SIZE], struct merkle_proof *proofs)
{
    if (n == 0)
        return PX_EINVAL;
    if ((uint64_t)n > (1ull << MERKLE_MAX_AUNTS))
        return PX_ETOOBIG;
    uint8_t(*lh)[MERKLE_HASH_SIZE];
    int rc = leaf_hashes(items, lens, n, &lh);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        proofs[i].total = n;
        proofs[i].index = i;
        proofs[i].aunt_count = 0;
        memcpy(proofs[i].leaf_hash, lh[i], MERKLE_HASH_SIZE);
    }
    proofs_rec(lh, n, proofs, root);
    free(lh);
    return 0;
}

/* CometBFT's computeHashFromAunts: aunts[0..count) bottom-up, the last is the top. */
static int from_aunts(uint64_t index, uint64_t total, const uint8_t leaf[MERKLE_HASH_SIZE],
                      const uint8_t (*aunts)[MERKLE_HASH_SIZE], uint32_t count,
                      uint8_t out[MERKLE_HASH_SIZE])
{
    if (index >= total || total == 0)
        return PX_EINVAL;
    if (total == 1) {
        if (count != 0)
            return PX_EINVAL;
        memcpy(out, leaf, MERKLE_HASH_SIZE);
        return 0;
    }
    if (count == 0)
        return PX_EINVAL;
    uint64_t k = merkle_split_point(total);
    uint8_t sub[MERKLE_HASH_SIZE];
    int rc;
    if (index < k) {
        rc = from_aunts(index, k, leaf, aunts, count - 1, sub);
        if (rc == 0)
            merkle_inner_hash(sub, aunts[count - 1], out);
    } else {
        rc = from_aunts(index - k, total - k, leaf, aunts, count - 1, sub);
        if (rc == 0)
            merkle_inner_hash(aunts[count - 1], sub, out);
    }
    return rc;
}

int merkle_proof_root(const struct merkle_proof *p, uint8_t out[MERKLE_HASH_SIZE])
{
    if (p->aunt_count > MERKLE_MAX_AUNTS)
        return PX_EINVAL;
    return from_aunts(p->index, p->total, p->leaf_hash, p->aunts, p->aunt_count, out);
}

int merkle_proof_verify(const struct merkle_proof *p, const uint8_t root[MERKLE_HASH_SIZE],
                        const uint8_t *leaf, size_t len)
{
    uint8_t lh[MERKLE_HASH_SIZE], got[MERKLE_HASH_SIZE];
    int rc = merkle_proof_root(p, got);
    if (rc != 0)
        return rc;
    merkle_leaf_hash(leaf, len, lh);
    if (memcmp(lh, p->leaf_hash, MERKLE_HASH_SIZE) != 0)
        return PX_ECRYPTO;
    if (memcmp(got, root, MERKLE_HASH_SIZE) != 0)
        return PX_ECRYPTO;
    return 0;
}
