/*
 * evidence: duplicate vote evidence, built, checked and hashed (see evidence.h). Must
 * never accept two votes that do not conflict, or powers that differ from the set's.
 */
#include "evidence.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "merkle.h"
#include "px_error.h"
#include "sha256.h"

static int why_fail(char *why, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int why_fail(char *why, size_t cap, int rc, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int evidence_from_votes(const struct vote *a, const struct vote *b,
                        const struct validator_set *vals, uint64_t timestamp_ns,
                        struct evidence *out)
{
    if (!vote_conflicts(a, b) || vote_validate_basic(a) != 0 || vote_validate_basic(b) != 0)
        return PX_EINVAL;
    int32_t idx = validator_set_find(vals, a->validator_address);
    if (idx < 0)
        return PX_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    if (block_id_compare(&a->block_id, &b->block_id) < 0) {
        out->vote_a = *a;
        out->vote_b = *b;
    } else {
        out->vote_a = *b;
        out->vote_b = *a;
    }
    out->total_voting_power = vals->total_voting_power;
    out->validator_power = vals->validators[idx].voting_power;
    out->timestamp_ns = timestamp_ns;
    return 0;
}

int evidence_validate_basic(const struct evidence *ev)
{
    const struct vote *a = &ev->vote_a, *b = &ev->vote_b;
    if (vote_validate_basic(a) != 0 || vote_validate_basic(b) != 0 || !vote_conflicts(a, b))
        return PX_EINVAL;
    if (a->validator_index != b->validator_index ||
        block_id_compare(&a->block_id, &b->block_id) >= 0)
        return PX_EINVAL;
    if (ev->validator_power <= 0 || ev->total_voting_power <= 0 ||
        ev->validator_power > ev->total_voting_power)
        return PX_EINVAL;
    return 0;
}

int evidence_verify(const struct evidence *ev, const char *chain_id,
                    const struct validator_set *vals, sign_bytes_verify_fn fn, void *user,
                    char *why, size_t why_cap)
{
    if (evidence_validate_basic(ev) != 0)
        return why_fail(why, why_cap, PX_EINVAL,
                        "evidence is malformed (votes must conflict, be ordered and share an "
                        "index)");
    const struct validator *v = validator_set_get(vals, ev->vote_a.validator_index);
    if (!v || memcmp(v->address, ev->vote_a.validator_address, VALIDATOR_ADDRESS_SIZE) != 0)
        return why_fail(why, why_cap, PX_EINVAL,
                        "evidence at height %llu: the offender is not validator %d of that height",
                        (unsigned long long)ev->vote_a.height, ev->vote_a.validator_index);
    if (v->voting_power != ev->validator_power)
        return why_fail(why, why_cap, PX_EINVAL,
                        "evidence at height %llu: validator power %lld, the set says %lld",
                        (unsigned long long)ev->vote_a.height, (long long)ev->validator_power,
                        (long long)v->voting_power);
    if (vals->total_voting_power != ev->total_voting_power)
        return why_fail(why, why_cap, PX_EINVAL,
                        "evidence at height %llu: total power %lld, the set says %lld",
                        (unsigned long long)ev->vote_a.height, (long long)ev->total_voting_power,
                        (long long)vals->total_voting_power);
    int rc = sign_bytes_vote_verify(&ev->vote_a, chain_id, v->pub_key, fn, user);
    if (rc == 0)
        rc = sign_bytes_vote_verify(&ev->vote_b, chain_id, v->pub_key, fn, user);
    if (rc == PX_ECRYPTO)
        return why_fail(why, why_cap, rc, "evidence at height %llu: a vote's signature is invalid",
                        (unsigned long long)ev->vote_a.height);
    if (rc != 0)
        return why_fail(why, why_cap, rc, "evidence: bad chain id");
    return 0;
}

int evidence_hash(const struct evidence *ev, uint8_t out[EVIDENCE_HASH_SIZE])
{
    uint8_t *buf;
    size_t len;
    int rc = codec_duplicate_vote_bytes(ev, &buf, &len);
    if (rc != 0)
        return rc;
    sha256(out, buf, len);
    free(buf);
    return 0;
}

int evidence_list_hash(const struct evidence *evs, size_t n, uint8_t out[EVIDENCE_HASH_SIZE])
{
    if (n == 0) {
        merkle_empty_hash(out);
        return 0;
    }
    uint8_t(*lh)[MERKLE_HASH_SIZE] = malloc(n * sizeof(*lh));
    if (!lh)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf;
        size_t len;
        int rc = codec_duplicate_vote_bytes(&evs[i], &buf, &len);
        if (rc != 0) {
            free(lh);
            return rc;
        }
        merkle_leaf_hash(buf, len, lh[i]);
        free(buf);
    }
    merkle_root_from_leaf_hashes((const uint8_t(*)[MERKLE_HASH_SIZE])lh, n, out);
    free(lh);
    return 0;
}
