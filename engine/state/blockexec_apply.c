/*
 * blockexec_apply: a decided block executed in the commit order of blockexec.h (DESIGN
 * §7), and the records it saves. It must never overwrite a stored block, and never save a
 * state that the app has not committed. Resuming after a crash or a failed step is the
 * same call again (each step is idempotent); blockexec_finish is also how the handshake
 * completes a height whose state was not saved.
 *
 * Records it writes (all heights are block heights):
 *   STATESTORE_RESULTS(H)    ResponseFinalizeBlock of H, packed as proto/abci.proto says
 *   STATESTORE_STATE(H)      chainstate_encode of the state after H (H = initial-1 at genesis)
 *   STATESTORE_VALIDATORS(h) codec_validator_set_encode of the set that signs h: written for
 *                            H+2 after each H (initial and initial+1 at genesis)
 *   STATESTORE_PARAMS(h)     packed ABCI ConsensusParams in force from h on; written at the
 *                            initial height and at H+1 when block H changed them (readers
 *                            use statestore_get_latest)
 */
#include "blockexec_internal.h"

#include "codec.h"
#include "px_encoding.h"
#include "px_error.h"
#include "px_log.h"
#include "sha256.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "blockexec"

/* A store call on the commit path failed with err: when no retry can mend it, say which
 * file and what to do (the caller stops the node); returns err. */
static int store_failed(const char *store, const char *path, const char *what, uint64_t height,
                        int err)
{
    if (!blockexec_err_is_fatal(err))
        return err;
    char msg[768];
    snprintf(msg, sizeof(msg),
             "the %s cannot be used (%s): if its disk is full or read-only, fix that and "
             "restart the node; if it is damaged, " BLOCKEXEC_STORE_FIX,
             store, px_strerror(err));
    px_log(PX_LOG_ERROR, MOD, msg, "file=%s step=\"%s\" height=%" PRIu64, path, what, height);
    return err;
}

static int bs_failed(struct blockexec *bx, const char *what, uint64_t height, int err)
{
    return store_failed("block store", blockstore_path(bx->bs), what, height, err);
}

static int ss_failed(struct blockexec *bx, const char *what, uint64_t height, int err)
{
    return store_failed("state store", statestore_path(bx->ss), what, height, err);
}

int blockexec_put_valset(struct statestore *ss, uint64_t height, const struct validator_set *vs)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    int err = codec_validator_set_encode(vs, &enc, &len);
    if (err)
        return err;
    err = statestore_put(ss, STATESTORE_VALIDATORS, height, enc, len);
    free(enc);
    return err;
}

int blockexec_put_params(struct statestore *ss, uint64_t height, const struct chain_params *p)
{
    uint8_t buf[256];
    size_t len = 0;
    int err = blockexec_abci_params_encode(p, buf, sizeof(buf), &len);
    if (err)
        return err;
    return statestore_put(ss, STATESTORE_PARAMS, height, buf, len);
}

/* Step 5: the state after `height` with its validators/params records, in one group. */
static int save_state(struct statestore *ss, const struct chain_state *ns, bool params_changed)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    int err = chainstate_encode(ns, &enc, &len);
    if (err)
        return err;
    if ((err = statestore_begin(ss)) != 0) {
        free(enc);
        return err;
    }
    err = statestore_put(ss, STATESTORE_STATE, ns->last_height, enc, len);
    free(enc);
    if (!err)
        err = blockexec_put_valset(ss, ns->last_height + 2, &ns->next_validators);
    if (!err && params_changed)
        err = blockexec_put_params(ss, ns->last_height + 1, &ns->params);
    if (!err)
        err = statestore_commit(ss);
    if (err) {
        statestore_rollback(ss);
        px_log(PX_LOG_ERROR, MOD, "saving the state failed", "height=%" PRIu64 " err=%s",
               ns->last_height, px_strerror(err));
    }
    return err;
}

static int tx_hashes_of(const struct block *b, uint8_t (**out)[32])
{
    *out = NULL;
    if (b->tx_count == 0)
        return 0;
    uint8_t(*h)[32] = calloc(b->tx_count, 32);
    if (!h)
        return PX_ENOMEM;
    for (uint32_t i = 0; i < b->tx_count; i++)
        sha256(h[i], b->txs[i].data, b->txs[i].len);
    *out = h;
    return 0;
}

/* Steps 2..6 for block b whose block store record exists. app_committed: the app has
 * already committed b (its FinalizeBlock answer is taken from STATESTORE_RESULTS). */
int blockexec_finish(struct blockexec *bx, struct chain_state *s, const struct block *b,
                     const struct block_id *id, bool app_committed, struct blockexec_result *res)
{
    bool paused = false; /* the mempool's check gate, closed for Commit */
    uint64_t height = b->header.height;
    struct blockexec_abci_answer fb; /* the app's FinalizeBlock answer, fresh or stored */
    memset(&fb, 0, sizeof(fb));
    uint8_t *rbytes = NULL;
    size_t rlen = 0;
    int err;
    struct chain_state *ns = malloc(sizeof(*ns));
    if (!ns)
        return PX_ENOMEM;
    if (app_committed) {
        err = statestore_get(bx->ss, STATESTORE_RESULTS, height, &rbytes, &rlen);
        if (err == PX_ENOTFOUND) {
            px_log(PX_LOG_ERROR, MOD,
                   "the app committed a height whose results are not stored: restore the "
                   "state store or reset the app",
                   "height=%" PRIu64 " err=%s", height, px_strerror(err));
            err = PX_ESTATE;
            goto out;
        }
        if (err) {
            err = ss_failed(bx, "read the results", height, err);
            goto out;
        }
        if (blockexec_abci_answer_decode(&fb, rbytes, rlen, b->tx_count) != 0) {
            err = ss_failed(bx, "decode the stored results", height, PX_ECORRUPT);
            goto out;
        }
    } else {
        uint8_t bh[HEADER_HASH_SIZE];
        memcpy(bh, id->hash, HEADER_HASH_SIZE);
        if ((err = blockexec_abci_finalize(bx, s, b, bh, &fb)) != 0) /* step 2 */
            goto out;
    }
    bool params_changed = false;
    if ((err = blockexec_abci_next_state(s, b, id, &fb, ns, &params_changed)) != 0)
        goto out;
    if (!app_committed) {
        if ((err = blockexec_abci_answer_encode(&fb, &rbytes, &rlen)) != 0)
            goto out;
        if ((err = statestore_put(bx->ss, STATESTORE_RESULTS, height, rbytes, rlen)) != 0) {
            err = ss_failed(bx, "save the results", height, err); /* step 3 */
            goto out;
        }
        /* no new CheckTx from here until the pool is rechecked against the new state */
        if (bx->mp) {
            mempool_pause_checks(bx->mp);
            paused = true;
        }
        if ((err = blockexec_abci_commit(bx, height)) != 0) /* step 4 */
            goto out;
    }
    if ((err = save_state(bx->ss, ns, params_changed)) != 0) { /* step 5 */
        err = ss_failed(bx, "save the state", height, err);
        goto out;
    }
    if (bx->mp) { /* step 6 */
        uint8_t(*th)[32] = NULL;
        if ((err = tx_hashes_of(b, &th)) != 0)
            goto out;
        mempool_update(bx->mp, height, (const uint8_t(*)[32])th, b->tx_count);
        free(th);
        if (paused && bx->mempool_recheck)
            paused = false; /* the recheck after this block opens the gate */
    }
    if (res && (err = blockexec_abci_result(res, height, &fb)) != 0) {
        blockexec_result_fini(res);
        memcpy(s, ns, sizeof(*s)); /* the height is done; only the report failed */
        goto out;
    }
    memcpy(s, ns, sizeof(*s));
    px_log(PX_LOG_DEBUG, MOD, "block executed", "height=%" PRIu64 " txs=%u app_hash_len=%u", height,
           b->tx_count, ns->app_hash_len);
out:
    if (paused)
        mempool_resume_checks(bx->mp);
    blockexec_abci_answer_fini(&fb);
    free(rbytes);
    free(ns);
    return err;
}

int blockexec_apply(struct blockexec *bx, struct chain_state *s, const struct block *b,
                    const uint8_t *enc, size_t enc_len, const struct block_id *id,
                    const struct commit *seen_commit, struct blockexec_result *res)
{
    uint64_t height = b->header.height;
    uint8_t bh[HEADER_HASH_SIZE];
    int err = block_hash(b, bh);
    if (err)
        return err;
    if (memcmp(bh, id->hash, HEADER_HASH_SIZE) != 0 || !block_id_is_complete(id)) {
        px_log(PX_LOG_ERROR, MOD, "block id does not name this block", "height=%" PRIu64, height);
        return PX_EINVAL;
    }
    /* a different block stored at this height: refuse before anything else */
    struct blockstore_meta have;
    err = blockstore_load_meta(bx->bs, height, &have);
    if (err == 0 && memcmp(have.hash, bh, HEADER_HASH_SIZE) != 0) {
        px_log(PX_LOG_ERROR, MOD, "refusing to apply a block other than the one stored",
               "height=%" PRIu64, height);
        return PX_ECONFLICT;
    }
    if (err && err != PX_ENOTFOUND)
        return bs_failed(bx, "read the stored block", height, err);
    if (height != s->last_height + 1) {
        px_log(PX_LOG_ERROR, MOD, "block is not for the next height",
               "height=%" PRIu64 " state_height=%" PRIu64, height, s->last_height);
        return PX_EINVAL;
    }
    if (seen_commit == NULL || seen_commit->height != height ||
        !block_id_equal(&seen_commit->block_id, id) || b->tx_count > BLOCKSTORE_MAX_TXS)
        return PX_EINVAL;
    /* The network decided this block, and its header carries the app hash the network
     * agreed on after the previous height; ours differs: our app computed another state.
     * Going on would build on it, so this is fatal (nothing is stored). */
    if (b->header.app_hash_len != s->app_hash_len ||
        memcmp(b->header.app_hash, s->app_hash, s->app_hash_len) != 0) {
        char agreed[2 * sizeof(b->header.app_hash) + 1], ours[2 * sizeof(s->app_hash) + 1];
        px_hex_encode(agreed, sizeof(agreed), b->header.app_hash, b->header.app_hash_len, true);
        px_hex_encode(ours, sizeof(ours), s->app_hash, s->app_hash_len, true);
        px_log(PX_LOG_ERROR, MOD,
               "the app's state differs from the network's: the decided block carries another "
               "app hash than our app returned; stopping. Restore the app's state from a "
               "backup taken at or before the height, or resync the node (remove the app's "
               "state and the node's data, keep the keys and priv_validator_state.json)",
               "height=%" PRIu64 " agreed_app_hash=%s our_app_hash=%s", height - 1, agreed, ours);
        return PX_EDIVERGED;
    }

    /* step 1: block + seen commit, durable */
    uint8_t *cenc = NULL;
    size_t clen = 0;
    if ((err = codec_commit_encode(seen_commit, &cenc, &clen)) != 0)
        return err;
    uint8_t(*th)[32] = NULL;
    if ((err = tx_hashes_of(b, &th)) != 0) {
        free(cenc);
        return err;
    }
    struct blockstore_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.height = height;
    memcpy(meta.hash, bh, HEADER_HASH_SIZE);
    meta.time_ns = b->header.time_ns;
    meta.num_txs = b->tx_count;
    meta.size_bytes = enc_len;
    /* the meta holds up to 64 bytes of app hash (a listing); the block holds all of it */
    meta.app_hash_len =
        (uint8_t)(b->header.app_hash_len > sizeof(meta.app_hash) ? sizeof(meta.app_hash)
                                                                 : b->header.app_hash_len);
    memcpy(meta.app_hash, b->header.app_hash, meta.app_hash_len);
    memcpy(meta.proposer_address, b->header.proposer_address, HEADER_ADDRESS_SIZE);
    err = blockstore_save(bx->bs, &meta, enc, enc_len, cenc, clen, (const uint8_t(*)[32])th);
    free(cenc);
    free(th);
    if (err) {
        px_log(PX_LOG_ERROR, MOD, "saving the block failed", "height=%" PRIu64 " err=%s", height,
               px_strerror(err));
        return bs_failed(bx, "save the block", height, err);
    }

    /* Resuming after a failure of ours at steps 3..5: results saved means FinalizeBlock
     * ran; whether Commit did, the app's Info says. */
    bool app_committed = false;
    uint8_t *rb = NULL;
    size_t rl = 0;
    err = statestore_get(bx->ss, STATESTORE_RESULTS, height, &rb, &rl);
    free(rb);
    if (err == 0) {
        int64_t a = 0;
        uint8_t ah[HEADER_APP_HASH_MAX];
        uint32_t al = 0;
        if ((err = blockexec_abci_info(bx, &a, ah, &al)) != 0)
            return err;
        if ((uint64_t)a == height)
            app_committed = true;
        else if ((uint64_t)a != s->last_height) {
            px_log(PX_LOG_ERROR, MOD, "the app is at an unexpected height: run the handshake",
                   "height=%" PRIu64 " app_height=%" PRId64, height, a);
            return PX_ESTATE;
        }
    } else if (err != PX_ENOTFOUND) {
        return ss_failed(bx, "read the results", height, err);
    }
    return blockexec_finish(bx, s, b, id, app_committed, res);
}
