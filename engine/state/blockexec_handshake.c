/*
 * blockexec_handshake: the start-up handshake (blockexec_handshake, see blockexec.h;
 * DESIGN §5): the stored state or the genesis, the block store checked against the state
 * store, the app's Info, then InitChain at genesis, a replay of stored blocks to an app
 * that is behind, and the completion of a height whose block was saved but whose state
 * was not. It refuses, with the files, heights and fix in `why`, every state it cannot
 * mend; it never rewrites a stored block or state.
 */
#include "blockexec_internal.h"

#include "codec.h"
#include "px_clock.h"
#include "px_error.h"
#include "px_log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MOD "blockexec"
#define PROGRESS_EVERY 100u

static int load_block(struct blockexec *bx, uint64_t height, struct block *b, struct block_id *id)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    int err = blockstore_load_block(bx->bs, height, &enc, &len);
    if (err)
        return err;
    err = codec_block_decode(enc, len, b);
    if (err) {
        free(enc);
        px_log(PX_LOG_ERROR, MOD, "stored block does not decode", "height=%" PRIu64, height);
        return PX_ECORRUPT;
    }
    free(enc);
    /* the block id as decided: the stored seen commit's, which must name this block */
    uint8_t *cenc = NULL;
    size_t clen = 0;
    struct commit c;
    if ((err = blockstore_load_commit(bx->bs, height, &cenc, &clen)) != 0) {
        block_fini(b);
        return err;
    }
    err = codec_commit_decode(cenc, clen, &c);
    free(cenc);
    if (err) {
        block_fini(b);
        px_log(PX_LOG_ERROR, MOD, "stored commit does not decode", "height=%" PRIu64, height);
        return PX_ECORRUPT;
    }
    *id = c.block_id;
    commit_fini(&c);
    uint8_t bh[HEADER_HASH_SIZE];
    if ((err = block_hash(b, bh)) != 0) {
        block_fini(b);
        return err;
    }
    if (memcmp(bh, id->hash, HEADER_HASH_SIZE) != 0 || !block_id_is_complete(id)) {
        block_fini(b);
        px_log(PX_LOG_ERROR, MOD, "stored commit is not for the stored block", "height=%" PRIu64,
               height);
        return PX_ECORRUPT;
    }
    return 0;
}

/* The state stored at exactly `height` (ENOTFOUND if none). */
static int load_state_at(struct blockexec *bx, uint64_t height, struct chain_state *s)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    int err = statestore_get(bx->ss, STATESTORE_STATE, height, &enc, &len);
    if (err)
        return err;
    err = chainstate_decode(enc, len, s);
    free(enc);
    return err ? PX_ECORRUPT : 0;
}

/* Save the genesis state (after InitChain): STATE(initial-1), the validators of the first
 * two heights and the params of the first. */
static int save_genesis_state(struct blockexec *bx, const struct chain_state *s)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    int err = chainstate_encode(s, &enc, &len);
    if (err)
        return err;
    if ((err = statestore_begin(bx->ss)) != 0) {
        free(enc);
        return err;
    }
    err = statestore_put(bx->ss, STATESTORE_STATE, s->last_height, enc, len);
    free(enc);
    if (!err)
        err = blockexec_put_valset(bx->ss, s->initial_height, &s->validators);
    if (!err)
        err = blockexec_put_valset(bx->ss, s->initial_height + 1, &s->next_validators);
    if (!err)
        err = blockexec_put_params(bx->ss, s->initial_height, &s->params);
    if (!err)
        err = statestore_commit(bx->ss);
    if (err)
        statestore_rollback(bx->ss);
    return err;
}

/* Replay stored blocks from..to (FinalizeBlock + Commit) to an app at from-1; the chain's
 * app hash after each height is the next stored state's (checked where stored). */
static int replay(struct blockexec *bx, const struct chain_state *cur, uint64_t from, uint64_t to,
                  uint8_t last_hash[HEADER_APP_HASH_MAX], uint32_t *last_len, char *why, size_t cap)
{
    uint64_t total = to - from + 1;
    uint64_t t0 = px_clock_mono_ns(px_clock_system());
    px_log(PX_LOG_INFO, MOD, "replaying blocks to the app",
           "from=%" PRIu64 " to=%" PRIu64 " total=%" PRIu64, from, to, total);
    struct chain_state *st = malloc(sizeof(*st));
    struct block *b = malloc(sizeof(*b));
    if (!st || !b) {
        free(st);
        free(b);
        return PX_ENOMEM;
    }
    int err = 0;
    for (uint64_t h = from; h <= to; h++) {
        /* the state before h gives the last validators the app sees in the commit info */
        if (h == cur->last_height + 1) {
            memcpy(st, cur, sizeof(*st));
        } else if ((err = load_state_at(bx, h - 1, st)) != 0) {
            blockexec_say(why, cap,
                          "cannot replay height %" PRIu64 ": the state of height %" PRIu64
                          " is not stored (%s); restore the node's data or reset the app",
                          h, h - 1, px_strerror(err));
            err = err == PX_ENOTFOUND ? PX_ESTATE : err;
            break;
        }
        struct block_id id;
        block_init(b);
        if ((err = load_block(bx, h, b, &id)) != 0) {
            blockexec_say(why, cap,
                          "cannot replay height %" PRIu64 ": the block is not in the block "
                          "store (%s); restore the node's data or reset the app",
                          h, px_strerror(err));
            err = err == PX_ENOTFOUND ? PX_ESTATE : err;
            break;
        }
        struct blockexec_abci_answer fb;
        memset(&fb, 0, sizeof(fb));
        err = blockexec_abci_finalize(bx, st, b, id.hash, &fb);
        block_fini(b);
        if (err) {
            blockexec_say(why, cap, "replaying height %" PRIu64 " failed at the app (%s)", h,
                          px_strerror(err));
            break;
        }
        err = blockexec_abci_answer_app_hash(&fb, last_hash, last_len);
        blockexec_abci_answer_fini(&fb);
        if (err) {
            blockexec_say(why, cap, "replaying height %" PRIu64 ": the app hash is too long", h);
            break;
        }
        if ((err = blockexec_abci_commit(bx, h)) != 0) {
            blockexec_say(why, cap, "replaying height %" PRIu64 ": Commit failed at the app (%s)",
                          h, px_strerror(err));
            break;
        }
        if (h < to && load_state_at(bx, h, st) == 0 &&
            (st->app_hash_len != *last_len || memcmp(st->app_hash, last_hash, *last_len) != 0)) {
            blockexec_say(why, cap,
                          "the app's hash after replaying height %" PRIu64 " differs from the "
                          "chain's: the app is not deterministic or its data is damaged; reset "
                          "the app and let it replay",
                          h);
            err = PX_ESTATE;
            break;
        }
        uint64_t done = h - from + 1;
        if (done % PROGRESS_EVERY == 0 || h == to) {
            uint64_t dt = px_clock_mono_ns(px_clock_system()) - t0;
            double rate = dt ? (double)done * 1e9 / (double)dt : 0.0;
            double eta = rate > 0 ? (double)(total - done) / rate : 0.0;
            px_log(PX_LOG_INFO, MOD, "replay progress",
                   "done=%" PRIu64 " total=%" PRIu64 " rate=%.1f/s eta=%.0fs", done, total, rate,
                   eta);
        }
    }
    free(st);
    free(b);
    return err;
}

int blockexec_handshake(struct blockexec *bx, const struct genesis *g, struct chain_state *s,
                        char *why, size_t why_cap)
{
    blockexec_say(why, why_cap, "ok");
    struct chain_state *cur = malloc(sizeof(*cur));
    if (!cur)
        return PX_ENOMEM;
    int err = 0;
    bool stored = false;
    uint8_t *enc = NULL;
    size_t len = 0;
    uint64_t found = 0;
    err = statestore_get_latest(bx->ss, STATESTORE_STATE, UINT64_MAX, &found, &enc, &len);
    if (err == 0) {
        err = chainstate_decode(enc, len, cur);
        free(enc);
        if (err || cur->last_height != found) {
            blockexec_say(why, why_cap,
                          "the stored state of height %" PRIu64 " does not decode; "
                          "restore the state store from a backup",
                          found);
            err = PX_ECORRUPT;
            goto out;
        }
        if (strcmp(cur->chain_id, g->chain_id) != 0) {
            blockexec_say(why, why_cap, "the stored chain is '%s' but the genesis is for '%s'",
                          cur->chain_id, g->chain_id);
            err = PX_ESTATE;
            goto out;
        }
        stored = true;
    } else if (err == PX_ENOTFOUND) {
        if ((err = chainstate_from_genesis(cur, g)) != 0) {
            blockexec_say(why, why_cap, "the genesis cannot start a chain (%s)", px_strerror(err));
            goto out;
        }
    } else {
        blockexec_say(why, why_cap, "cannot read the state store %s (%s): " BLOCKEXEC_STORE_FIX,
                      statestore_path(bx->ss), px_strerror(err));
        goto out;
    }
    /* The block store holds every block up to the state's height, and at most one more
     * (a crash between steps 1 and 5): behind it, the node could neither serve its history
     * to peers nor check it, and its next proposal would fail; both empty is a new node. */
    uint64_t S = cur->last_height;
    uint64_t base = 0, top = 0;
    if ((err = blockstore_bounds(bx->bs, &base, &top)) != 0) {
        blockexec_say(why, why_cap, "cannot read the block store %s (%s): " BLOCKEXEC_STORE_FIX,
                      blockstore_path(bx->bs), px_strerror(err));
        goto out;
    }
    if (top == 0 && S >= cur->initial_height) {
        blockexec_say(why, why_cap,
                      "the block store %s is empty but the state store %s is at height %" PRIu64
                      ": blockstore.db was deleted or replaced; " BLOCKEXEC_STORE_FIX,
                      blockstore_path(bx->bs), statestore_path(bx->ss), S);
        err = PX_ESTATE;
        goto out;
    }
    uint64_t B = top == 0 ? S : top;
    if (B < S) {
        blockexec_say(why, why_cap,
                      "the block store %s ends at height %" PRIu64
                      " but the state store %s at %" PRIu64
                      ": blockstore.db is older than state.db; " BLOCKEXEC_STORE_FIX,
                      blockstore_path(bx->bs), top, statestore_path(bx->ss), S);
        err = PX_ESTATE;
        goto out;
    }
    if (B > S + 1) {
        blockexec_say(why, why_cap,
                      "the state store %s ends at height %" PRIu64
                      " but the block store %s at %" PRIu64
                      ": state.db is older than blockstore.db; " BLOCKEXEC_STORE_FIX,
                      statestore_path(bx->ss), S, blockstore_path(bx->bs), top);
        err = PX_ESTATE;
        goto out;
    }

    int64_t a_raw = 0;
    uint8_t ah[HEADER_APP_HASH_MAX];
    uint32_t al = 0;
    if ((err = blockexec_abci_info(bx, &a_raw, ah, &al)) != 0) {
        blockexec_say(why, why_cap, "Info failed at the app (%s)", px_strerror(err));
        goto out;
    }
    uint64_t A = (uint64_t)a_raw;
    px_log(PX_LOG_INFO, MOD, "handshake",
           "app_height=%" PRIu64 " state_height=%" PRIu64 " store_height=%" PRIu64, A, S, B);
    if (A > B) {
        blockexec_say(why, why_cap,
                      "the app is ahead of the engine at height %" PRIu64 " (the engine's "
                      "stores end at %" PRIu64 "); restore its data or reset it",
                      A, B);
        err = PX_ESTATE;
        goto out;
    }
    if (A == 0) {
        if ((err = blockexec_abci_init_chain(bx, g, cur, !stored, why, why_cap)) != 0)
            goto out;
        if (!stored && cur->validators.count == 0) {
            blockexec_say(
                why, why_cap,
                "there are no validators: genesis.json lists none (\"validators\": []) and "
                "the app's InitChain answered none; list the chain's validators in "
                "genesis.json, as phalanx init and phalanx testnet write them, or make the "
                "app return them from InitChain");
            err = PX_ECONFIG;
            goto out;
        }
        if (!stored && (err = save_genesis_state(bx, cur)) != 0) {
            blockexec_say(why, why_cap, "saving the genesis state failed (%s)", px_strerror(err));
            goto out;
        }
        A = cur->initial_height - 1;
        if (S == A) {
            al = cur->app_hash_len;
            memcpy(ah, cur->app_hash, al);
        }
    } else if (!stored || A < cur->initial_height - 1) {
        blockexec_say(why, why_cap,
                      "the app is at height %" PRIu64 " but the chain has not started "
                      "here; reset the app",
                      A);
        err = PX_ESTATE;
        goto out;
    }
    if (A < S) {
        if (top == 0 || A + 1 < base) {
            blockexec_say(why, why_cap,
                          "the app is at height %" PRIu64 " but the block store starts at %" PRIu64
                          "; the blocks to replay were pruned: restore the app from a "
                          "snapshot or reset it",
                          A, base);
            err = PX_ESTATE;
            goto out;
        }
        if ((err = replay(bx, cur, A + 1, S, ah, &al, why, why_cap)) != 0)
            goto out;
        A = S;
    }
    if (A == S) {
        if (al != cur->app_hash_len || memcmp(ah, cur->app_hash, al) != 0) {
            blockexec_say(why, why_cap,
                          "the app's hash at height %" PRIu64 " differs from the chain's: the "
                          "app is not deterministic or its data is damaged; reset the app",
                          S);
            err = PX_ESTATE;
            goto out;
        }
    }
    if (B == S + 1) {
        /* the block of B was saved but not the state after it: finish B */
        struct block *b = malloc(sizeof(*b));
        if (!b) {
            err = PX_ENOMEM;
            goto out;
        }
        block_init(b);
        struct block_id id;
        if ((err = load_block(bx, B, b, &id)) != 0) {
            free(b);
            blockexec_say(why, why_cap, "cannot load block %" PRIu64 " (%s)", B, px_strerror(err));
            goto out;
        }
        px_log(PX_LOG_INFO, MOD, "finishing a height whose state was not saved",
               "height=%" PRIu64 " app_committed=%d", B, A == B);
        err = blockexec_finish(bx, cur, b, &id, A == B, NULL);
        block_fini(b);
        free(b);
        if (err) {
            blockexec_say(why, why_cap, "finishing height %" PRIu64 " failed (%s)", B,
                          px_strerror(err));
            goto out;
        }
        if (A == B && (al != cur->app_hash_len || memcmp(ah, cur->app_hash, al) != 0)) {
            blockexec_say(why, why_cap,
                          "the app's hash at height %" PRIu64
                          " differs from the results it answered "
                          "for that height: its data is damaged; reset the app",
                          B);
            err = PX_ESTATE;
            goto out;
        }
    }
    memcpy(s, cur, sizeof(*s));
    px_log(PX_LOG_INFO, MOD, "handshake done", "height=%" PRIu64 " app_hash_len=%u", s->last_height,
           s->app_hash_len);
out:
    if (err)
        px_log(PX_LOG_ERROR, MOD, "handshake failed", "err=%s why=\"%s\"", px_strerror(err),
               why ? why : "");
    free(cur);
    return err;
}
