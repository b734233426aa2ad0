/*
 * block: building, hashing and checking blocks (see block.h). Must never produce a
 * block whose header hashes do not match its contents, nor accept one.
 */
#include "block.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "merkle.h"
#include "px_error.h"
#include "sha256.h"

void block_init(struct block *b)
{
    memset(b, 0, sizeof(*b));
    commit_init_empty(&b->last_commit);
}

void block_fini(struct block *b)
{
    for (uint32_t i = 0; i < b->tx_count; i++)
        free(b->txs[i].data);
    free(b->txs);
    free(b->evidence);
    commit_fini(&b->last_commit);
    block_init(b);
}

int block_data_hash(const struct block_tx *txs, size_t n, uint8_t out[HEADER_HASH_SIZE])
{
    if (n == 0) {
        merkle_empty_hash(out);
        return 0;
    }
    uint8_t(*lh)[MERKLE_HASH_SIZE] = malloc(n * sizeof(*lh));
    if (!lh)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint8_t th[SHA256_SIZE];
        sha256(th, txs[i].data, txs[i].len);
        merkle_leaf_hash(th, sizeof(th), lh[i]);
    }
    merkle_root_from_leaf_hashes((const uint8_t(*)[MERKLE_HASH_SIZE])lh, n, out);
    free(lh);
    return 0;
}

int block_validators_hash(const struct validator_set *vals, uint8_t out[HEADER_HASH_SIZE])
{
    if (vals->count == 0) {
        merkle_empty_hash(out);
        return 0;
    }
    uint8_t(*lh)[MERKLE_HASH_SIZE] = malloc(vals->count * sizeof(*lh));
    if (!lh)
        return PX_ENOMEM;
    for (uint32_t i = 0; i < vals->count; i++) {
        uint8_t buf[CODEC_SIMPLE_VALIDATOR_MAX];
        size_t len = 0;
        int rc = codec_simple_validator_bytes(&vals->validators[i], buf, &len);
        if (rc != 0) {
            free(lh);
            return rc;
        }
        merkle_leaf_hash(buf, len, lh[i]);
    }
    merkle_root_from_leaf_hashes((const uint8_t(*)[MERKLE_HASH_SIZE])lh, vals->count, out);
    free(lh);
    return 0;
}

int block_make(struct block *b, const struct block_params *p, const uint8_t *const *txs,
               const size_t *lens, size_t n, const struct evidence *evidence, size_t n_evidence)
{
    if (!p || !p->chain_id || !p->validators || !p->next_validators ||
        p->app_hash_len > HEADER_APP_HASH_MAX || (n && (!txs || !lens)) ||
        (n_evidence && !evidence))
        return PX_EINVAL;
    if (n > BLOCK_MAX_TXS || n_evidence > BLOCK_MAX_EVIDENCE)
        return PX_ETOOBIG;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > BLOCK_MAX_BYTES - total)
            return PX_ETOOBIG;
        total += lens[i];
    }
    size_t cl = strlen(p->chain_id);
    if (cl == 0 || cl > HEADER_CHAIN_ID_MAX)
        return PX_EINVAL;

    struct header *h = &b->header;
    int rc = PX_ENOMEM;
    h->version_block = HEADER_BLOCK_PROTOCOL;
    h->version_app = p->version_app;
    memcpy(h->chain_id, p->chain_id, cl + 1);
    h->height = p->height;
    h->time_ns = p->time_ns;
    h->last_block_id = p->last_block_id;
    memcpy(h->consensus_hash, p->consensus_hash, HEADER_HASH_SIZE);
    if (p->app_hash_len)
        memcpy(h->app_hash, p->app_hash, p->app_hash_len);
    h->app_hash_len = (uint32_t)p->app_hash_len;
    memcpy(h->last_results_hash, p->last_results_hash, HEADER_HASH_SIZE);
    memcpy(h->proposer_address, p->proposer_address, HEADER_ADDRESS_SIZE);

    if (n) {
        b->txs = calloc(n, sizeof(*b->txs));
        if (!b->txs)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            b->txs[i].data = malloc(lens[i] ? lens[i] : 1);
            if (!b->txs[i].data)
                goto fail;
            if (lens[i])
                memcpy(b->txs[i].data, txs[i], lens[i]);
            b->txs[i].len = lens[i];
            b->tx_count++;
        }
    }
    if (n_evidence) {
        b->evidence = malloc(n_evidence * sizeof(*b->evidence));
        if (!b->evidence)
            goto fail;
        memcpy(b->evidence, evidence, n_evidence * sizeof(*evidence));
        b->evidence_count = (uint32_t)n_evidence;
    }
    if (p->last_commit && (rc = commit_copy(&b->last_commit, p->last_commit)) != 0)
        goto fail;
    if ((rc = block_data_hash(b->txs, b->tx_count, h->data_hash)) != 0 ||
        (rc = evidence_list_hash(b->evidence, b->evidence_count, h->evidence_hash)) != 0 ||
        (rc = commit_hash(&b->last_commit, h->last_commit_hash)) != 0 ||
        (rc = block_validators_hash(p->validators, h->validators_hash)) != 0 ||
        (rc = block_validators_hash(p->next_validators, h->next_validators_hash)) != 0)
        goto fail;
    rc = block_validate_basic(b);
    if (rc == 0)
        return 0;
fail:
    block_fini(b);
    return rc;
}

int block_hash(const struct block *b, uint8_t out[HEADER_HASH_SIZE])
{
    return header_hash(&b->header, out);
}

int block_validate_basic(const struct block *b)
{
    const struct header *h = &b->header;
    if (header_validate_basic(h) != 0)
        return PX_EINVAL;
    if (b->tx_count > BLOCK_MAX_TXS || b->evidence_count > BLOCK_MAX_EVIDENCE)
        return PX_EINVAL;
    size_t total = 0;
    for (uint32_t i = 0; i < b->tx_count; i++) {
        if (b->txs[i].len > BLOCK_MAX_BYTES - total)
            return PX_EINVAL;
        total += b->txs[i].len;
    }
    const struct commit *lc = &b->last_commit;
    if (commit_validate_basic(lc) != 0)
        return PX_EINVAL;
    if (h->height == 1) {
        if (lc->height != 0)
            return PX_EINVAL;
    } else if (lc->height != h->height - 1 || !block_id_equal(&lc->block_id, &h->last_block_id)) {
        return PX_EINVAL;
    }
    for (uint32_t i = 0; i < b->evidence_count; i++)
        if (evidence_validate_basic(&b->evidence[i]) != 0 ||
            b->evidence[i].vote_a.height >= h->height)
            return PX_EINVAL;

    uint8_t got[HEADER_HASH_SIZE];
    int rc = block_data_hash(b->txs, b->tx_count, got);
    if (rc != 0)
        return rc;
    if (memcmp(got, h->data_hash, HEADER_HASH_SIZE) != 0)
        return PX_EINVAL;
    if ((rc = evidence_list_hash(b->evidence, b->evidence_count, got)) != 0)
        return rc;
    if (memcmp(got, h->evidence_hash, HEADER_HASH_SIZE) != 0)
        return PX_EINVAL;
    if ((rc = commit_hash(lc, got)) != 0)
        return rc;
    if (memcmp(got, h->last_commit_hash, HEADER_HASH_SIZE) != 0)
        return PX_EINVAL;
    return 0;
}

int block_to_parts(const struct block *b, struct part_set *ps, struct block_id *id)
{
    memset(ps, 0, sizeof(*ps));
    int rc = block_validate_basic(b);
    if (rc != 0)
        return rc;
    uint8_t *buf;
    size_t len;
    rc = codec_block_encode(b, &buf, &len);
    if (rc != 0)
        return rc;
    rc = part_set_from_data(ps, buf, len);
    free(buf);
    if (rc != 0)
        return rc;
    rc = block_hash(b, id->hash);
    if (rc != 0) {
        part_set_fini(ps);
        return rc;
    }
    id->parts = ps->header;
    return 0;
}

int block_from_parts(const struct part_set *ps, const struct block_id *id, struct block *out)
{
    block_init(out);
    if (id && memcmp(&id->parts, &ps->header, sizeof(id->parts)) != 0)
        return PX_ECRYPTO;
    uint8_t *buf;
    size_t len;
    int rc = part_set_assemble(ps, &buf, &len);
    if (rc != 0)
        return rc;
    rc = codec_block_decode(buf, len, out);
    free(buf);
    if (rc != 0)
        return rc;
    rc = block_validate_basic(out);
    uint8_t h[HEADER_HASH_SIZE];
    if (rc == 0)
        rc = block_hash(out, h);
    if (rc == 0 && id && memcmp(h, id->hash, HEADER_HASH_SIZE) != 0)
        rc = PX_ECRYPTO;
    if (rc != 0)
        block_fini(out);
    return rc;
}

void block_consensus_hash(int64_t block_max_bytes, int64_t block_max_gas,
                          uint8_t out[HEADER_HASH_SIZE])
{
    uint8_t buf[CODEC_HASHED_PARAMS_MAX];
    size_t len = 0;
    /* two int64 varints always fit */
    (void)codec_hashed_params_bytes(block_max_bytes, block_max_gas, buf, &len);
    sha256(out, buf, len);
}
