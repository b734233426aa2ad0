/*
 * blockexec_validate: the verdict on a proposed block (blockexec_validate, see
 * blockexec.h): every header field against the chain state, the data and evidence hashes,
 * the evidence itself against the stores, the last commit's signatures, then the app's
 * ProcessProposal (blockexec_abci.c). A verdict is PX_EINVAL with a sentence in `why`;
 * any other error is a local fault, never a verdict on the proposer. Reads the stores,
 * never writes them.
 */
#include "blockexec_internal.h"

#include "codec.h"
#include "ed25519.h"
#include "px_error.h"
#include "px_log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MOD "blockexec"

static int verify_cb(const uint8_t pub[32], const uint8_t *msg, size_t len, const uint8_t sig[64],
                     void *user)
{
    (void)user;
    struct ed25519_pubkey pk;
    memcpy(pk.bytes, pub, sizeof(pk.bytes));
    return ed25519_verify(&pk, msg, len, sig);
}

static bool hash_eq(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, HEADER_HASH_SIZE) == 0;
}

static int check_evidence(struct blockexec *bx, const struct chain_state *s, const struct block *b,
                          char *why, size_t cap)
{
    int64_t bytes = 0;
    for (uint32_t i = 0; i < b->evidence_count; i++) {
        const struct evidence *e = &b->evidence[i];
        uint8_t *eb = NULL;
        size_t el = 0;
        int err = codec_evidence_encode(e, &eb, &el);
        if (err)
            return err;
        free(eb);
        bytes += (int64_t)el;
        for (uint32_t k = 0; k < i; k++)
            if (memcmp(&b->evidence[k].vote_a, &e->vote_a, sizeof(e->vote_a)) == 0) {
                blockexec_say(why, cap, "evidence %u is listed twice", i);
                return PX_EINVAL;
            }
        uint64_t h = e->vote_a.height;
        if (h >= b->header.height || h < s->initial_height) {
            blockexec_say(why, cap, "evidence %u is for height %" PRIu64 ", not a past height", i,
                          h);
            return PX_EINVAL;
        }
        uint64_t age_blocks = b->header.height - h;
        uint64_t age_ns =
            b->header.time_ns > e->timestamp_ns ? b->header.time_ns - e->timestamp_ns : 0;
        if (age_blocks > (uint64_t)s->params.evidence_max_age_num_blocks &&
            age_ns > (uint64_t)s->params.evidence_max_age_duration_ns) {
            blockexec_say(why, cap, "evidence %u from height %" PRIu64 " has expired", i, h);
            return PX_EINVAL;
        }
        struct blockstore_meta meta;
        err = blockstore_load_meta(bx->bs, h, &meta);
        if (err == 0 && meta.time_ns != e->timestamp_ns) {
            blockexec_say(why, cap, "evidence %u carries a time other than block %" PRIu64 "'s", i,
                          h);
            return PX_EINVAL;
        }
        if (err && err != PX_ENOTFOUND)
            return err;
        uint8_t *vb = NULL;
        size_t vl = 0;
        err = statestore_get_latest(bx->ss, STATESTORE_VALIDATORS, h, NULL, &vb, &vl);
        if (err == PX_ENOTFOUND) {
            blockexec_say(why, cap, "evidence %u: no validator set known for height %" PRIu64, i,
                          h);
            return PX_EINVAL;
        }
        if (err)
            return err;
        struct validator_set *vs = malloc(sizeof(*vs));
        if (!vs) {
            free(vb);
            return PX_ENOMEM;
        }
        err = codec_validator_set_decode(vb, vl, vs);
        free(vb);
        if (err) {
            free(vs);
            px_log(PX_LOG_ERROR, MOD, "stored validator set does not decode", "height=%" PRIu64, h);
            return PX_ECORRUPT;
        }
        char ewhy[160] = "";
        err = evidence_verify(e, s->chain_id, vs, verify_cb, NULL, ewhy, sizeof(ewhy));
        free(vs);
        if (err == PX_EINVAL || err == PX_ECRYPTO) {
            blockexec_say(why, cap, "evidence %u is invalid: %s", i, ewhy);
            return PX_EINVAL;
        }
        if (err)
            return err;
    }
    if (bytes > s->params.evidence_max_bytes) {
        blockexec_say(why, cap, "evidence takes %" PRId64 " bytes, over max %" PRId64, bytes,
                      s->params.evidence_max_bytes);
        return PX_EINVAL;
    }
    return 0;
}

int blockexec_validate(struct blockexec *bx, const struct chain_state *s, const struct block *b,
                       const uint8_t expected_proposer[HEADER_ADDRESS_SIZE], uint64_t now_wall_ns,
                       uint64_t max_future_ns, char *why, size_t why_cap)
{
    const struct header *h = &b->header;
    uint8_t want[HEADER_HASH_SIZE];
    int err;
    blockexec_say(why, why_cap, "valid");
    if (header_validate_basic(h) != 0) {
        blockexec_say(why, why_cap, "header is malformed");
        return PX_EINVAL;
    }
    if (strcmp(h->chain_id, s->chain_id) != 0) {
        blockexec_say(why, why_cap, "chain_id differs: '%s', expected '%s'", h->chain_id,
                      s->chain_id);
        return PX_EINVAL;
    }
    if (h->height != s->last_height + 1) {
        blockexec_say(why, why_cap, "height is %" PRIu64 ", expected %" PRIu64, h->height,
                      s->last_height + 1);
        return PX_EINVAL;
    }
    if (h->version_block != HEADER_BLOCK_PROTOCOL || h->version_app != s->params.app_version) {
        blockexec_say(why, why_cap, "version differs (block %" PRIu64 ", app %" PRIu64 ")",
                      h->version_block, h->version_app);
        return PX_EINVAL;
    }
    if (!block_id_equal(&h->last_block_id, &s->last_block_id)) {
        blockexec_say(why, why_cap, "last_block_id differs from the last committed block");
        return PX_EINVAL;
    }
    if ((err = block_validators_hash(&s->validators, want)) != 0)
        return err;
    if (!hash_eq(want, h->validators_hash)) {
        blockexec_say(why, why_cap, "validators_hash differs");
        return PX_EINVAL;
    }
    if ((err = block_validators_hash(&s->next_validators, want)) != 0)
        return err;
    if (!hash_eq(want, h->next_validators_hash)) {
        blockexec_say(why, why_cap, "next_validators_hash differs");
        return PX_EINVAL;
    }
    chainstate_params_hash(&s->params, want);
    if (!hash_eq(want, h->consensus_hash)) {
        blockexec_say(why, why_cap, "consensus_hash differs");
        return PX_EINVAL;
    }
    if (h->app_hash_len != s->app_hash_len || memcmp(h->app_hash, s->app_hash, s->app_hash_len)) {
        blockexec_say(why, why_cap, "app_hash differs from the app's hash after height %" PRIu64,
                      s->last_height);
        return PX_EINVAL;
    }
    if (!hash_eq(s->last_results_hash, h->last_results_hash)) {
        blockexec_say(why, why_cap, "last_results_hash differs");
        return PX_EINVAL;
    }
    if (memcmp(h->proposer_address, expected_proposer, HEADER_ADDRESS_SIZE) != 0) {
        blockexec_say(why, why_cap, "proposer_address is not the expected proposer");
        return PX_EINVAL;
    }
    if (h->time_ns <= s->last_block_time_ns) {
        blockexec_say(why, why_cap, "time is not after the last block's");
        return PX_EINVAL;
    }
    if (h->time_ns > now_wall_ns && h->time_ns - now_wall_ns > max_future_ns) {
        blockexec_say(why, why_cap, "time is %" PRIu64 " ms in the future",
                      (h->time_ns - now_wall_ns) / 1000000u);
        return PX_EINVAL;
    }
    if ((err = block_data_hash(b->txs, b->tx_count, want)) != 0)
        return err;
    if (!hash_eq(want, h->data_hash)) {
        blockexec_say(why, why_cap, "data_hash does not match the transactions");
        return PX_EINVAL;
    }
    if ((err = evidence_list_hash(b->evidence, b->evidence_count, want)) != 0) {
        if (err != PX_EINVAL)
            return err;
        blockexec_say(why, why_cap, "evidence is malformed");
        return PX_EINVAL;
    }
    if (!hash_eq(want, h->evidence_hash)) {
        blockexec_say(why, why_cap, "evidence_hash does not match the evidence");
        return PX_EINVAL;
    }
    if ((err = block_validate_basic(b)) != 0) {
        if (err != PX_EINVAL)
            return err;
        blockexec_say(why, why_cap, "block is not consistent (last commit hash or shape)");
        return PX_EINVAL;
    }
    if (h->height == s->initial_height) {
        if (b->last_commit.height != 0 || b->last_commit.count != 0) {
            blockexec_say(why, why_cap, "the first block carries a last commit");
            return PX_EINVAL;
        }
    } else {
        char cwhy[160] = "";
        err = commit_verify(&b->last_commit, s->chain_id, &s->last_validators, &s->last_block_id,
                            s->last_height, verify_cb, NULL, cwhy, sizeof(cwhy));
        if (err == PX_EINVAL || err == PX_ECRYPTO) {
            blockexec_say(why, why_cap, "last commit is invalid: %s", cwhy);
            return PX_EINVAL;
        }
        if (err)
            return err;
    }
    if ((err = check_evidence(bx, s, b, why, why_cap)) != 0)
        return err;

    if ((err = blockexec_abci_process(bx, s, b, why, why_cap)) != 0)
        return err;
    blockexec_say(why, why_cap, "valid");
    return 0;
}
