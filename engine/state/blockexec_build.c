/*
 * blockexec_build: our proposal for the next height (blockexec_build, see blockexec.h):
 * the room left by the header, the last commit and the evidence, the mempool reaped into
 * it, the app's PrepareProposal (blockexec_abci.c), and the block made from the state. The
 * block it returns always fits the block size limit; it never trims what the app chose.
 */
#include "blockexec_internal.h"

#include "codec.h"
#include "px_error.h"
#include "px_log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MOD "blockexec"
/* Room in an encoded block besides the txs, the last commit and the evidence: the
 * header (at most CODEC_HEADER_MAX_BYTES) and the block's own framing. */
#define BLOCK_OVERHEAD_BYTES (CODEC_HEADER_MAX_BYTES + 64u)
/* Framing of one tx inside the block's data: field tag + length varint. */
#define TX_FRAMING_BYTES 11u
/* Most txs in one block: the block's own bound and the block store's index bound. */
#define MAX_BLOCK_TXS                                                                              \
    ((uint32_t)BLOCK_MAX_TXS < (uint32_t)BLOCKSTORE_MAX_TXS ? (uint32_t)BLOCK_MAX_TXS              \
                                                            : (uint32_t)BLOCKSTORE_MAX_TXS)

static size_t framed(size_t len)
{
    return len + TX_FRAMING_BYTES;
}

int blockexec_build(struct blockexec *bx, const struct chain_state *s, uint64_t time_ns,
                    const uint8_t proposer[HEADER_ADDRESS_SIZE], const struct commit *last_commit,
                    const struct evidence *ev, size_t n_ev, struct block *out, uint8_t **enc,
                    size_t *enc_len)
{
    uint64_t height = s->last_height + 1;
    if (n_ev > BLOCK_MAX_EVIDENCE)
        return PX_ETOOBIG;
    /* room for the txs: the block limit minus header, last commit and evidence */
    uint64_t used = BLOCK_OVERHEAD_BYTES;
    if (last_commit && last_commit->height > 0) {
        uint8_t *cb = NULL;
        size_t cl = 0;
        int err = codec_commit_encode(last_commit, &cb, &cl);
        if (err)
            return err;
        free(cb);
        used += cl + TX_FRAMING_BYTES;
    }
    for (size_t i = 0; i < n_ev; i++) {
        uint8_t *eb = NULL;
        size_t el = 0;
        int err = codec_evidence_encode(&ev[i], &eb, &el);
        if (err)
            return err;
        free(eb);
        used += el + TX_FRAMING_BYTES;
    }
    uint64_t limit = (uint64_t)s->params.block_max_bytes;
    if (limit > BLOCK_MAX_BYTES)
        limit = BLOCK_MAX_BYTES;
    if (used >= limit) {
        px_log(PX_LOG_ERROR, MOD, "no room for transactions in the block",
               "height=%" PRIu64 " used=%" PRIu64 " max=%" PRIu64, height, used, limit);
        return PX_ETOOBIG;
    }
    uint64_t room = limit - used;

    struct mempool_tx *mtx = NULL;
    size_t n_mtx = 0;
    if (bx->mp) {
        /* the reap counts each tx with its framing in the block: what it returns fits */
        int err = mempool_reap(bx->mp, room, TX_FRAMING_BYTES, s->params.block_max_gas,
                               MAX_BLOCK_TXS, &mtx, &n_mtx);
        if (err)
            return err;
    }

    struct blockexec_abci_answer pr;
    memset(&pr, 0, sizeof(pr));
    int err = blockexec_abci_prepare(bx, s, time_ns, proposer, last_commit, ev, n_ev, mtx, n_mtx,
                                     room, &pr);
    if (err)
        goto out;

    size_t n_txs = blockexec_abci_prepared_count(&pr);
    uint64_t total = 0;
    for (size_t i = 0; i < n_txs; i++) {
        const uint8_t *data;
        size_t len;
        blockexec_abci_prepared_tx(&pr, i, &data, &len);
        total += framed(len);
    }
    if (n_txs > MAX_BLOCK_TXS || total > room) {
        px_log(PX_LOG_ERROR, MOD, "the app's PrepareProposal overflows the block",
               "height=%" PRIu64 " txs=%zu bytes=%" PRIu64 " room=%" PRIu64, height, n_txs, total,
               room);
        err = PX_ETOOBIG;
        goto out;
    }
    const uint8_t **ptrs = n_txs ? calloc(n_txs, sizeof(*ptrs)) : NULL;
    size_t *lens = n_txs ? calloc(n_txs, sizeof(*lens)) : NULL;
    if (n_txs && (!ptrs || !lens)) {
        free(ptrs);
        free(lens);
        err = PX_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_txs; i++)
        blockexec_abci_prepared_tx(&pr, i, &ptrs[i], &lens[i]);
    struct block_params bp;
    memset(&bp, 0, sizeof(bp));
    bp.chain_id = s->chain_id;
    bp.height = height;
    bp.time_ns = time_ns;
    bp.last_block_id = s->last_block_id;
    bp.last_commit = (last_commit && last_commit->height > 0) ? last_commit : NULL;
    bp.validators = &s->validators;
    bp.next_validators = &s->next_validators;
    chainstate_params_hash(&s->params, bp.consensus_hash);
    bp.app_hash = s->app_hash;
    bp.app_hash_len = s->app_hash_len;
    memcpy(bp.last_results_hash, s->last_results_hash, HEADER_HASH_SIZE);
    memcpy(bp.proposer_address, proposer, HEADER_ADDRESS_SIZE);
    bp.version_app = s->params.app_version;
    err = block_make(out, &bp, (const uint8_t *const *)ptrs, lens, n_txs, ev, n_ev);
    free(ptrs);
    free(lens);
    if (err)
        goto out;
    err = codec_block_encode(out, enc, enc_len);
    if (!err && *enc_len > limit) {
        px_log(PX_LOG_ERROR, MOD, "the built block is over the size limit",
               "height=%" PRIu64 " bytes=%zu max=%" PRIu64, height, *enc_len, limit);
        free(*enc);
        *enc = NULL;
        err = PX_ETOOBIG;
    }
    if (err) {
        block_fini(out);
        block_init(out);
    }
out:
    blockexec_abci_answer_fini(&pr);
    mempool_txs_free(mtx, n_mtx);
    return err;
}
