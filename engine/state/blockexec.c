/*
 * blockexec: see blockexec.h. This file is the engine's edge towards the app for one block:
 * it turns our plain C blocks, commits and evidence into ABCI protobuf-c requests and the
 * app's answers back into plain C (results, validator updates, params) — no other engine
 * file outside abci/ sees ABCI structs. It must never sign, never touch the consensus
 * core, never overwrite a stored block, and never save a state that the app has not
 * committed.
 *
 * Records it writes (all heights are block heights):
 *   STATESTORE_RESULTS(H)    ResponseFinalizeBlock of H, packed as proto/abci.proto says
 *   STATESTORE_STATE(H)      chainstate_encode of the state after H (H = initial-1 at genesis)
 *   STATESTORE_VALIDATORS(h) codec_validator_set_encode of the set that signs h: written for
 *                            H+2 after each H (initial and initial+1 at genesis)
 *   STATESTORE_PARAMS(h)     packed ABCI ConsensusParams in force from h on; written at the
 *                            initial height and at H+1 when block H changed them (readers
 *                            use statestore_get_latest)
 *
 * last_results_hash: merkle root (engine/types/merkle.h) over, for each tx in block order,
 * the protobuf encoding of an ExecTxResult holding only the deterministic fields code (1),
 * data (2), gas_wanted (5), gas_used (6) — proto3 rules, zero values omitted, fields in
 * number order — which is byte for byte CometBFT's deterministicExecTxResult marshalling.
 */
#include "blockexec.h"

#include "codec.h"
#include "ed25519.h"
#include "merkle.h"
#include "px_clock.h"
#include "px_error.h"
#include "px_log.h"
#include "sha256.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "blockexec"
#define ABCI_VERSION "1.0.0"
#define ENGINE_VERSION "phalanxd"
/* Room in an encoded block besides the txs, the last commit and the evidence: the
 * header (at most CODEC_HEADER_MAX_BYTES) and the block's own framing. */
#define BLOCK_OVERHEAD_BYTES (CODEC_HEADER_MAX_BYTES + 64u)
/* Framing of one tx inside the block's data: field tag + length varint. */
#define TX_FRAMING_BYTES 11u
/* Most txs in one block: the block's own bound and the block store's index bound. */
#define MAX_BLOCK_TXS                                                                              \
    ((uint32_t)BLOCK_MAX_TXS < (uint32_t)BLOCKSTORE_MAX_TXS ? (uint32_t)BLOCK_MAX_TXS              \
                                                            : (uint32_t)BLOCKSTORE_MAX_TXS)
#define PROGRESS_EVERY 100u

typedef Phalanx__Abci__Request abci_req;
typedef Phalanx__Abci__Response abci_resp;

void blockexec_result_fini(struct blockexec_result *r)
{
    if (r == NULL)
        return;
    free(r->txs);
    memset(r, 0, sizeof(*r));
}

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t cap, const char *fmt, ...)
{
    if (why == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

static int verify_cb(const uint8_t pub[32], const uint8_t *msg, size_t len, const uint8_t sig[64],
                     void *user)
{
    (void)user;
    struct ed25519_pubkey pk;
    memcpy(pk.bytes, pub, sizeof(pk.bytes));
    return ed25519_verify(&pk, msg, len, sig);
}

static int call_app(struct blockexec *bx, enum abci_conn conn, const abci_req *req, abci_resp **out)
{
    int err = abci_client_call(bx->app, conn, req, (int)bx->call_timeout_ms, out);
    if (err) {
        char q[512];
        px_log(PX_LOG_ERROR, MOD, "app call failed", "method=%s err=%s detail=%s",
               abci_method_name(req->value_case), px_strerror(err),
               px_log_quote(q, sizeof(q), abci_client_last_error(bx->app, conn)));
        *out = NULL;
        /* the connection to the app failed: PX_EIO from blockexec names a store */
        if (err == PX_EIO)
            err = PX_ECLOSED;
    }
    return err;
}

bool blockexec_err_is_fatal(int err)
{
    return err == PX_ECORRUPT || err == PX_EIO || err == PX_EPERM;
}

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

/* ---- plain C -> ABCI ---------------------------------------------------------------- */

static Phalanx__Abci__Timestamp ts_of(uint64_t ns)
{
    Phalanx__Abci__Timestamp t = PHALANX__ABCI__TIMESTAMP__INIT;
    t.seconds = (int64_t)(ns / 1000000000u);
    t.nanos = (int32_t)(ns % 1000000000u);
    return t;
}

/* Storage behind a CommitInfo and a Misbehavior list built from a block. */
struct abci_block_info {
    Phalanx__Abci__CommitInfo ci;
    Phalanx__Abci__VoteInfo *votes;
    Phalanx__Abci__VoteInfo **vote_ptrs;
    Phalanx__Abci__Validator *vals;
    Phalanx__Abci__Misbehavior *mis;
    Phalanx__Abci__Misbehavior **mis_ptrs;
    Phalanx__Abci__Validator *mis_vals;
    Phalanx__Abci__Timestamp *mis_times;
    size_t n_mis;
    ProtobufCBinaryData *txs;
    size_t n_txs;
};

static void block_info_fini(struct abci_block_info *bi)
{
    free(bi->votes);
    free(bi->vote_ptrs);
    free(bi->vals);
    free(bi->mis);
    free(bi->mis_ptrs);
    free(bi->mis_vals);
    free(bi->mis_times);
    free(bi->txs);
    memset(bi, 0, sizeof(*bi));
}

/* CommitInfo of commit c signed by vals (absent slots listed as ABSENT, as CometBFT). */
static int commit_info(struct abci_block_info *bi, const struct commit *c,
                       const struct validator_set *vals)
{
    Phalanx__Abci__CommitInfo init = PHALANX__ABCI__COMMIT_INFO__INIT;
    bi->ci = init;
    if (c == NULL || c->height == 0)
        return 0;
    if (c->count != vals->count)
        return PX_EINVAL;
    size_t n = c->count;
    bi->votes = calloc(n, sizeof(*bi->votes));
    bi->vote_ptrs = calloc(n, sizeof(*bi->vote_ptrs));
    bi->vals = calloc(n, sizeof(*bi->vals));
    if (!bi->votes || !bi->vote_ptrs || !bi->vals)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Phalanx__Abci__VoteInfo vi = PHALANX__ABCI__VOTE_INFO__INIT;
        Phalanx__Abci__Validator v = PHALANX__ABCI__VALIDATOR__INIT;
        bi->vals[i] = v;
        bi->vals[i].address.data = (uint8_t *)vals->validators[i].address;
        bi->vals[i].address.len = VALIDATOR_ADDRESS_SIZE;
        bi->vals[i].power = vals->validators[i].voting_power;
        bi->votes[i] = vi;
        bi->votes[i].validator = &bi->vals[i];
        bi->votes[i].block_id_flag = (Phalanx__Abci__BlockIDFlag)c->sigs[i].flag;
        bi->vote_ptrs[i] = &bi->votes[i];
    }
    bi->ci.round = c->round;
    bi->ci.n_votes = n;
    bi->ci.votes = bi->vote_ptrs;
    return 0;
}

static int misbehavior(struct abci_block_info *bi, const struct evidence *ev, size_t n)
{
    bi->n_mis = n;
    if (n == 0)
        return 0;
    bi->mis = calloc(n, sizeof(*bi->mis));
    bi->mis_ptrs = calloc(n, sizeof(*bi->mis_ptrs));
    bi->mis_vals = calloc(n, sizeof(*bi->mis_vals));
    bi->mis_times = calloc(n, sizeof(*bi->mis_times));
    if (!bi->mis || !bi->mis_ptrs || !bi->mis_vals || !bi->mis_times)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Phalanx__Abci__Misbehavior m = PHALANX__ABCI__MISBEHAVIOR__INIT;
        Phalanx__Abci__Validator v = PHALANX__ABCI__VALIDATOR__INIT;
        bi->mis_vals[i] = v;
        bi->mis_vals[i].address.data = (uint8_t *)ev[i].vote_a.validator_address;
        bi->mis_vals[i].address.len = VOTE_ADDRESS_SIZE;
        bi->mis_vals[i].power = ev[i].validator_power;
        bi->mis_times[i] = ts_of(ev[i].timestamp_ns);
        bi->mis[i] = m;
        bi->mis[i].type = PHALANX__ABCI__MISBEHAVIOR_TYPE__MISBEHAVIOR_TYPE_DUPLICATE_VOTE;
        bi->mis[i].validator = &bi->mis_vals[i];
        bi->mis[i].height = (int64_t)ev[i].vote_a.height;
        bi->mis[i].time = &bi->mis_times[i];
        bi->mis[i].total_voting_power = ev[i].total_voting_power;
        bi->mis_ptrs[i] = &bi->mis[i];
    }
    return 0;
}

static int tx_list(struct abci_block_info *bi, const struct block *b)
{
    bi->n_txs = b->tx_count;
    if (b->tx_count == 0)
        return 0;
    bi->txs = calloc(b->tx_count, sizeof(*bi->txs));
    if (!bi->txs)
        return PX_ENOMEM;
    for (uint32_t i = 0; i < b->tx_count; i++) {
        bi->txs[i].data = b->txs[i].data;
        bi->txs[i].len = b->txs[i].len;
    }
    return 0;
}

/* Everything of block b the app sees (txs, last commit signed by last_vals, evidence). */
static int block_info(struct abci_block_info *bi, const struct block *b,
                      const struct validator_set *last_vals)
{
    memset(bi, 0, sizeof(*bi));
    int err = commit_info(bi, &b->last_commit, last_vals);
    if (!err)
        err = misbehavior(bi, b->evidence, b->evidence_count);
    if (!err)
        err = tx_list(bi, b);
    if (err)
        block_info_fini(bi);
    return err;
}

/* ---- app answers -> plain C ------------------------------------------------------------ */

static int params_from_abci(struct chain_params *p, const Phalanx__Abci__ConsensusParams *u,
                            char *why, size_t cap)
{
    struct chain_params n = *p;
    if (u->block) {
        n.block_max_bytes = u->block->max_bytes;
        n.block_max_gas = u->block->max_gas;
    }
    if (u->evidence) {
        n.evidence_max_age_num_blocks = u->evidence->max_age_num_blocks;
        n.evidence_max_age_duration_ns = u->evidence->max_age_duration_ns;
        n.evidence_max_bytes = u->evidence->max_bytes;
    }
    if (u->version)
        n.app_version = u->version->app;
    if (u->validator) {
        for (size_t i = 0; i < u->validator->n_pub_key_types; i++)
            if (strcmp(u->validator->pub_key_types[i], "ed25519") != 0) {
                say(why, cap,
                    "the app asked for validator key type '%.32s'; only ed25519 is "
                    "supported",
                    u->validator->pub_key_types[i]);
                return PX_EAPP;
            }
    }
    if (n.block_max_bytes < 1 || (uint64_t)n.block_max_bytes > BLOCK_MAX_BYTES ||
        n.block_max_gas < -1 || n.evidence_max_age_num_blocks <= 0 ||
        n.evidence_max_age_duration_ns <= 0 || n.evidence_max_bytes < 0 ||
        n.evidence_max_bytes > n.block_max_bytes) {
        say(why, cap,
            "the app returned invalid consensus params (block max_bytes %" PRId64
            ", max_gas %" PRId64 ", evidence max_bytes %" PRId64 ")",
            n.block_max_bytes, n.block_max_gas, n.evidence_max_bytes);
        return PX_EAPP;
    }
    *p = n;
    return 0;
}

static int pubkey_of_update(const Phalanx__Abci__ValidatorUpdate *u, uint8_t out[32], char *why,
                            size_t cap)
{
    if (u->pub_key_type && u->pub_key_type[0] && strcmp(u->pub_key_type, "ed25519") != 0) {
        say(why, cap, "validator update with key type '%.32s'; only ed25519 is supported",
            u->pub_key_type);
        return PX_EAPP;
    }
    if (u->pub_key.len != VALIDATOR_PUBKEY_SIZE) {
        say(why, cap, "validator update with a %zu-byte public key; ed25519 keys have 32",
            u->pub_key.len);
        return PX_EAPP;
    }
    memcpy(out, u->pub_key.data, VALIDATOR_PUBKEY_SIZE);
    return 0;
}

static void address_of(const uint8_t pub[32], uint8_t addr[VALIDATOR_ADDRESS_SIZE])
{
    struct ed25519_pubkey pk;
    memcpy(pk.bytes, pub, 32);
    ed25519_address(&pk, addr);
}

/* next = cur with the app's changes (power 0 removes), priorities as CometBFT's
 * UpdateWithChangeSet: kept for validators that stay, -1.125 * total power for new ones,
 * then rescaled and centred (done by the increment the caller makes). */
static int apply_val_updates(struct validator_set *next, const struct validator_set *cur,
                             Phalanx__Abci__ValidatorUpdate *const *ups, size_t n, char *why,
                             size_t cap)
{
    if (n > VALIDATOR_SET_MAX) {
        say(why, cap, "the app returned %zu validator updates, over the bound %u", n,
            VALIDATOR_SET_MAX);
        return PX_EAPP;
    }
    struct validator *list = calloc(VALIDATOR_SET_MAX + n, sizeof(*list));
    uint8_t(*seen)[VALIDATOR_ADDRESS_SIZE] = calloc(n ? n : 1, VALIDATOR_ADDRESS_SIZE);
    bool *is_new = calloc(VALIDATOR_SET_MAX + n, sizeof(bool));
    int err = 0;
    if (!list || !seen || !is_new) {
        err = PX_ENOMEM;
        goto out;
    }
    uint32_t count = cur->count;
    memcpy(list, cur->validators, cur->count * sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        uint8_t pub[32], addr[VALIDATOR_ADDRESS_SIZE];
        if ((err = pubkey_of_update(ups[i], pub, why, cap)) != 0)
            goto out;
        address_of(pub, addr);
        for (size_t k = 0; k < i; k++)
            if (memcmp(seen[k], addr, VALIDATOR_ADDRESS_SIZE) == 0) {
                say(why, cap, "the app updated one validator twice in one block");
                err = PX_EAPP;
                goto out;
            }
        memcpy(seen[i], addr, VALIDATOR_ADDRESS_SIZE);
        int64_t power = ups[i]->power;
        if (power < 0 || power > VALIDATOR_SET_MAX_TOTAL_POWER) {
            say(why, cap, "the app returned a validator power of %" PRId64, power);
            err = PX_EAPP;
            goto out;
        }
        uint32_t at = count;
        for (uint32_t k = 0; k < count; k++)
            if (memcmp(list[k].address, addr, VALIDATOR_ADDRESS_SIZE) == 0)
                at = k;
        if (power == 0) {
            if (at == count) {
                say(why, cap, "the app removed a validator that is not in the set");
                err = PX_EAPP;
                goto out;
            }
            list[at] = list[count - 1];
            is_new[at] = is_new[count - 1];
            count--;
            continue;
        }
        if (at == count) {
            if (count >= VALIDATOR_SET_MAX) {
                say(why, cap, "the app's updates make more than %u validators", VALIDATOR_SET_MAX);
                err = PX_EAPP;
                goto out;
            }
            memset(&list[at], 0, sizeof(list[at]));
            memcpy(list[at].address, addr, VALIDATOR_ADDRESS_SIZE);
            memcpy(list[at].pub_key, pub, VALIDATOR_PUBKEY_SIZE);
            is_new[at] = true;
            count++;
        }
        list[at].voting_power = power;
    }
    if (count == 0) {
        say(why, cap, "the app's validator updates remove every validator");
        err = PX_EAPP;
        goto out;
    }
    __int128 total = 0;
    for (uint32_t k = 0; k < count; k++)
        total += list[k].voting_power;
    if (total > VALIDATOR_SET_MAX_TOTAL_POWER) {
        say(why, cap, "the app's validator updates exceed the total voting power bound");
        err = PX_EAPP;
        goto out;
    }
    int64_t start = -((int64_t)total + ((int64_t)total >> 3));
    for (uint32_t k = 0; k < count; k++)
        if (is_new[k])
            list[k].proposer_priority = start;
    err = validator_set_restore(next, list, count, NULL);
    if (err) {
        say(why, cap, "the app's validator updates give an invalid set (%s)", px_strerror(err));
        err = PX_EAPP;
    }
out:
    free(list);
    free(seen);
    free(is_new);
    return err;
}

/* CometBFT's deterministic ExecTxResult bytes (see the top of this file). */
static int results_hash(const Phalanx__Abci__ResponseFinalizeBlock *fb,
                        uint8_t out[HEADER_HASH_SIZE])
{
    size_t n = fb->n_tx_results;
    if (n == 0) {
        merkle_empty_hash(out);
        return 0;
    }
    uint8_t(*leaves)[MERKLE_HASH_SIZE] = calloc(n, MERKLE_HASH_SIZE);
    if (!leaves)
        return PX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const Phalanx__Abci__ExecTxResult *r = fb->tx_results[i];
        Phalanx__Abci__ExecTxResult d = PHALANX__ABCI__EXEC_TX_RESULT__INIT;
        d.code = r->code;
        d.data = r->data;
        d.gas_wanted = r->gas_wanted;
        d.gas_used = r->gas_used;
        size_t len = phalanx__abci__exec_tx_result__get_packed_size(&d);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) {
            free(leaves);
            return PX_ENOMEM;
        }
        phalanx__abci__exec_tx_result__pack(&d, buf);
        merkle_leaf_hash(buf, len, leaves[i]);
        free(buf);
    }
    merkle_root_from_leaf_hashes((const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n, out);
    free(leaves);
    return 0;
}

/* ---- build ------------------------------------------------------------------------------ */

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

    int err = 0;
    abci_resp *resp = NULL;
    struct abci_block_info bi;
    memset(&bi, 0, sizeof(bi));
    ProtobufCBinaryData *cand = n_mtx ? calloc(n_mtx, sizeof(*cand)) : NULL;
    if (n_mtx && !cand) {
        err = PX_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_mtx; i++) {
        cand[i].data = mtx[i].data;
        cand[i].len = mtx[i].len;
    }
    if ((err = commit_info(&bi, last_commit, &s->last_validators)) != 0 ||
        (err = misbehavior(&bi, ev, n_ev)) != 0)
        goto out;
    uint8_t nvh[HEADER_HASH_SIZE];
    if ((err = block_validators_hash(&s->next_validators, nvh)) != 0)
        goto out;

    Phalanx__Abci__RequestPrepareProposal pp = PHALANX__ABCI__REQUEST_PREPARE_PROPOSAL__INIT;
    Phalanx__Abci__Timestamp t = ts_of(time_ns);
    pp.max_tx_bytes = (int64_t)room;
    pp.n_txs = n_mtx;
    pp.txs = cand;
    pp.local_last_commit = &bi.ci;
    pp.n_misbehavior = bi.n_mis;
    pp.misbehavior = bi.mis_ptrs;
    pp.height = (int64_t)height;
    pp.time = &t;
    pp.next_validators_hash.data = nvh;
    pp.next_validators_hash.len = sizeof(nvh);
    pp.proposer_address.data = (uint8_t *)proposer;
    pp.proposer_address.len = HEADER_ADDRESS_SIZE;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL;
    req.prepare_proposal = &pp;
    if ((err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp)) != 0)
        goto out;

    const Phalanx__Abci__ResponsePrepareProposal *pr = resp->prepare_proposal;
    uint64_t total = 0;
    for (size_t i = 0; i < pr->n_txs; i++)
        total += framed(pr->txs[i].len);
    if (pr->n_txs > MAX_BLOCK_TXS || total > room) {
        px_log(PX_LOG_ERROR, MOD, "the app's PrepareProposal overflows the block",
               "height=%" PRIu64 " txs=%zu bytes=%" PRIu64 " room=%" PRIu64, height, pr->n_txs,
               total, room);
        err = PX_ETOOBIG;
        goto out;
    }
    const uint8_t **ptrs = pr->n_txs ? calloc(pr->n_txs, sizeof(*ptrs)) : NULL;
    size_t *lens = pr->n_txs ? calloc(pr->n_txs, sizeof(*lens)) : NULL;
    if (pr->n_txs && (!ptrs || !lens)) {
        free(ptrs);
        free(lens);
        err = PX_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < pr->n_txs; i++) {
        ptrs[i] = pr->txs[i].data;
        lens[i] = pr->txs[i].len;
    }
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
    err = block_make(out, &bp, (const uint8_t *const *)ptrs, lens, pr->n_txs, ev, n_ev);
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
    abci_response_free(resp);
    block_info_fini(&bi);
    free(cand);
    mempool_txs_free(mtx, n_mtx);
    return err;
}

/* ---- validate ------------------------------------------------------------------------- */

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
                say(why, cap, "evidence %u is listed twice", i);
                return PX_EINVAL;
            }
        uint64_t h = e->vote_a.height;
        if (h >= b->header.height || h < s->initial_height) {
            say(why, cap, "evidence %u is for height %" PRIu64 ", not a past height", i, h);
            return PX_EINVAL;
        }
        uint64_t age_blocks = b->header.height - h;
        uint64_t age_ns =
            b->header.time_ns > e->timestamp_ns ? b->header.time_ns - e->timestamp_ns : 0;
        if (age_blocks > (uint64_t)s->params.evidence_max_age_num_blocks &&
            age_ns > (uint64_t)s->params.evidence_max_age_duration_ns) {
            say(why, cap, "evidence %u from height %" PRIu64 " has expired", i, h);
            return PX_EINVAL;
        }
        struct blockstore_meta meta;
        err = blockstore_load_meta(bx->bs, h, &meta);
        if (err == 0 && meta.time_ns != e->timestamp_ns) {
            say(why, cap, "evidence %u carries a time other than block %" PRIu64 "'s", i, h);
            return PX_EINVAL;
        }
        if (err && err != PX_ENOTFOUND)
            return err;
        uint8_t *vb = NULL;
        size_t vl = 0;
        err = statestore_get_latest(bx->ss, STATESTORE_VALIDATORS, h, NULL, &vb, &vl);
        if (err == PX_ENOTFOUND) {
            say(why, cap, "evidence %u: no validator set known for height %" PRIu64, i, h);
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
            say(why, cap, "evidence %u is invalid: %s", i, ewhy);
            return PX_EINVAL;
        }
        if (err)
            return err;
    }
    if (bytes > s->params.evidence_max_bytes) {
        say(why, cap, "evidence takes %" PRId64 " bytes, over max %" PRId64, bytes,
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
    say(why, why_cap, "valid");
    if (header_validate_basic(h) != 0) {
        say(why, why_cap, "header is malformed");
        return PX_EINVAL;
    }
    if (strcmp(h->chain_id, s->chain_id) != 0) {
        say(why, why_cap, "chain_id differs: '%s', expected '%s'", h->chain_id, s->chain_id);
        return PX_EINVAL;
    }
    if (h->height != s->last_height + 1) {
        say(why, why_cap, "height is %" PRIu64 ", expected %" PRIu64, h->height,
            s->last_height + 1);
        return PX_EINVAL;
    }
    if (h->version_block != HEADER_BLOCK_PROTOCOL || h->version_app != s->params.app_version) {
        say(why, why_cap, "version differs (block %" PRIu64 ", app %" PRIu64 ")", h->version_block,
            h->version_app);
        return PX_EINVAL;
    }
    if (!block_id_equal(&h->last_block_id, &s->last_block_id)) {
        say(why, why_cap, "last_block_id differs from the last committed block");
        return PX_EINVAL;
    }
    if ((err = block_validators_hash(&s->validators, want)) != 0)
        return err;
    if (!hash_eq(want, h->validators_hash)) {
        say(why, why_cap, "validators_hash differs");
        return PX_EINVAL;
    }
    if ((err = block_validators_hash(&s->next_validators, want)) != 0)
        return err;
    if (!hash_eq(want, h->next_validators_hash)) {
        say(why, why_cap, "next_validators_hash differs");
        return PX_EINVAL;
    }
    chainstate_params_hash(&s->params, want);
    if (!hash_eq(want, h->consensus_hash)) {
        say(why, why_cap, "consensus_hash differs");
        return PX_EINVAL;
    }
    if (h->app_hash_len != s->app_hash_len || memcmp(h->app_hash, s->app_hash, s->app_hash_len)) {
        say(why, why_cap, "app_hash differs from the app's hash after height %" PRIu64,
            s->last_height);
        return PX_EINVAL;
    }
    if (!hash_eq(s->last_results_hash, h->last_results_hash)) {
        say(why, why_cap, "last_results_hash differs");
        return PX_EINVAL;
    }
    if (memcmp(h->proposer_address, expected_proposer, HEADER_ADDRESS_SIZE) != 0) {
        say(why, why_cap, "proposer_address is not the expected proposer");
        return PX_EINVAL;
    }
    if (h->time_ns <= s->last_block_time_ns) {
        say(why, why_cap, "time is not after the last block's");
        return PX_EINVAL;
    }
    if (h->time_ns > now_wall_ns && h->time_ns - now_wall_ns > max_future_ns) {
        say(why, why_cap, "time is %" PRIu64 " ms in the future",
            (h->time_ns - now_wall_ns) / 1000000u);
        return PX_EINVAL;
    }
    if ((err = block_data_hash(b->txs, b->tx_count, want)) != 0)
        return err;
    if (!hash_eq(want, h->data_hash)) {
        say(why, why_cap, "data_hash does not match the transactions");
        return PX_EINVAL;
    }
    if ((err = evidence_list_hash(b->evidence, b->evidence_count, want)) != 0) {
        if (err != PX_EINVAL)
            return err;
        say(why, why_cap, "evidence is malformed");
        return PX_EINVAL;
    }
    if (!hash_eq(want, h->evidence_hash)) {
        say(why, why_cap, "evidence_hash does not match the evidence");
        return PX_EINVAL;
    }
    if ((err = block_validate_basic(b)) != 0) {
        if (err != PX_EINVAL)
            return err;
        say(why, why_cap, "block is not consistent (last commit hash or shape)");
        return PX_EINVAL;
    }
    if (h->height == s->initial_height) {
        if (b->last_commit.height != 0 || b->last_commit.count != 0) {
            say(why, why_cap, "the first block carries a last commit");
            return PX_EINVAL;
        }
    } else {
        char cwhy[160] = "";
        err = commit_verify(&b->last_commit, s->chain_id, &s->last_validators, &s->last_block_id,
                            s->last_height, verify_cb, NULL, cwhy, sizeof(cwhy));
        if (err == PX_EINVAL || err == PX_ECRYPTO) {
            say(why, why_cap, "last commit is invalid: %s", cwhy);
            return PX_EINVAL;
        }
        if (err)
            return err;
    }
    if ((err = check_evidence(bx, s, b, why, why_cap)) != 0)
        return err;

    struct abci_block_info bi;
    if ((err = block_info(&bi, b, &s->last_validators)) != 0)
        return err;
    uint8_t bh[HEADER_HASH_SIZE];
    if ((err = block_hash(b, bh)) != 0) {
        block_info_fini(&bi);
        return err;
    }
    Phalanx__Abci__RequestProcessProposal pp = PHALANX__ABCI__REQUEST_PROCESS_PROPOSAL__INIT;
    Phalanx__Abci__Timestamp t = ts_of(h->time_ns);
    pp.n_txs = bi.n_txs;
    pp.txs = bi.txs;
    pp.proposed_last_commit = &bi.ci;
    pp.n_misbehavior = bi.n_mis;
    pp.misbehavior = bi.mis_ptrs;
    pp.hash.data = bh;
    pp.hash.len = sizeof(bh);
    pp.height = (int64_t)h->height;
    pp.time = &t;
    pp.next_validators_hash.data = (uint8_t *)h->next_validators_hash;
    pp.next_validators_hash.len = HEADER_HASH_SIZE;
    pp.proposer_address.data = (uint8_t *)h->proposer_address;
    pp.proposer_address.len = HEADER_ADDRESS_SIZE;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL;
    req.process_proposal = &pp;
    abci_resp *resp = NULL;
    err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp);
    block_info_fini(&bi);
    if (err) {
        say(why, why_cap, "the app could not judge the proposal (%s)", px_strerror(err));
        return err;
    }
    Phalanx__Abci__ProposalStatus st = resp->process_proposal->status;
    abci_response_free(resp);
    if (st == PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_REJECT) {
        say(why, why_cap, "app rejected the proposal");
        return PX_EINVAL;
    }
    if (st != PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_ACCEPT) {
        say(why, why_cap, "the app answered ProcessProposal with an unknown status");
        px_log(PX_LOG_ERROR, MOD, "ProcessProposal answered an unknown status", "height=%" PRIu64,
               h->height);
        return PX_EAPP;
    }
    say(why, why_cap, "valid");
    return 0;
}

/* ---- apply ------------------------------------------------------------------------------- */

/* FinalizeBlock of b at the app; *out is the app's Response (abci_response_free). */
static int finalize(struct blockexec *bx, const struct chain_state *s, const struct block *b,
                    const uint8_t bh[HEADER_HASH_SIZE], abci_resp **out)
{
    struct abci_block_info bi;
    int err = block_info(&bi, b, &s->last_validators);
    if (err)
        return err;
    Phalanx__Abci__RequestFinalizeBlock fb = PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    Phalanx__Abci__Timestamp t = ts_of(b->header.time_ns);
    fb.n_txs = bi.n_txs;
    fb.txs = bi.txs;
    fb.decided_last_commit = &bi.ci;
    fb.n_misbehavior = bi.n_mis;
    fb.misbehavior = bi.mis_ptrs;
    fb.hash.data = (uint8_t *)bh;
    fb.hash.len = HEADER_HASH_SIZE;
    fb.height = (int64_t)b->header.height;
    fb.time = &t;
    fb.next_validators_hash.data = (uint8_t *)b->header.next_validators_hash;
    fb.next_validators_hash.len = HEADER_HASH_SIZE;
    fb.proposer_address.data = (uint8_t *)b->header.proposer_address;
    fb.proposer_address.len = HEADER_ADDRESS_SIZE;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    req.finalize_block = &fb;
    err = call_app(bx, ABCI_CONN_CONSENSUS, &req, out);
    block_info_fini(&bi);
    if (err)
        return err;
    if ((*out)->finalize_block->n_tx_results != b->tx_count) {
        px_log(PX_LOG_ERROR, MOD, "FinalizeBlock answered the wrong number of results",
               "height=%" PRIu64 " txs=%u results=%zu", b->header.height, b->tx_count,
               (*out)->finalize_block->n_tx_results);
        abci_response_free(*out);
        *out = NULL;
        return PX_EAPP;
    }
    return 0;
}

static int app_commit(struct blockexec *bx, uint64_t height)
{
    Phalanx__Abci__RequestCommit c = PHALANX__ABCI__REQUEST_COMMIT__INIT;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_COMMIT;
    req.commit = &c;
    abci_resp *resp = NULL;
    int err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp);
    if (err)
        return err;
    if (resp->commit->retain_height > 0)
        px_log(PX_LOG_DEBUG, MOD, "app retain height ignored (pruning is not wired yet)",
               "height=%" PRIu64 " retain_height=%" PRId64, height, resp->commit->retain_height);
    abci_response_free(resp);
    return 0;
}

/* Last committed height and hash of the app (Info). */
static int app_info(struct blockexec *bx, int64_t *height, uint8_t hash[HEADER_APP_HASH_MAX],
                    uint32_t *hash_len)
{
    Phalanx__Abci__RequestInfo in = PHALANX__ABCI__REQUEST_INFO__INIT;
    in.version = ENGINE_VERSION;
    in.abci_version = ABCI_VERSION;
    in.block_version = HEADER_BLOCK_PROTOCOL;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INFO;
    req.info = &in;
    abci_resp *resp = NULL;
    int err = call_app(bx, ABCI_CONN_QUERY, &req, &resp);
    if (err)
        return err;
    const Phalanx__Abci__ResponseInfo *r = resp->info;
    if (r->last_block_height < 0 || r->last_block_app_hash.len > HEADER_APP_HASH_MAX) {
        px_log(PX_LOG_ERROR, MOD, "Info answered an impossible height or hash",
               "height=%" PRId64 " hash_len=%zu", r->last_block_height, r->last_block_app_hash.len);
        abci_response_free(resp);
        return PX_EAPP;
    }
    *height = r->last_block_height;
    *hash_len = (uint32_t)r->last_block_app_hash.len;
    if (*hash_len)
        memcpy(hash, r->last_block_app_hash.data, *hash_len);
    abci_response_free(resp);
    return 0;
}

/* The state after b from the state before it (*s) and the app's answer; *next must not
 * alias *s. Only app faults (PX_EAPP, with a sentence logged) and PX_ENOMEM. */
static int next_state(const struct chain_state *s, const struct block *b, const struct block_id *id,
                      const Phalanx__Abci__ResponseFinalizeBlock *fb, struct chain_state *next,
                      bool *params_changed)
{
    char why[256] = "";
    int err = 0;
    uint64_t height = b->header.height;
    if (fb->app_hash.len > HEADER_APP_HASH_MAX) {
        snprintf(why, sizeof(why), "app hash of %zu bytes, over %u", fb->app_hash.len,
                 HEADER_APP_HASH_MAX);
        err = PX_EAPP;
        goto fail;
    }
    memcpy(next, s, sizeof(*next));
    if (fb->n_validator_updates > 0) {
        err = apply_val_updates(&next->next_validators, &s->next_validators, fb->validator_updates,
                                fb->n_validator_updates, why, sizeof(why));
        if (err)
            goto fail;
    }
    if ((err = validator_set_increment_proposer_priority(&next->next_validators, 1)) != 0)
        goto fail;
    validator_set_copy(&next->validators, &s->next_validators);
    validator_set_copy(&next->last_validators, &s->validators);
    *params_changed = false;
    if (fb->consensus_param_updates) {
        struct chain_params before = next->params;
        err = params_from_abci(&next->params, fb->consensus_param_updates, why, sizeof(why));
        if (err)
            goto fail;
        *params_changed = memcmp(&before, &next->params, sizeof(before)) != 0;
    }
    next->last_height = height;
    next->last_block_id = *id;
    next->last_block_time_ns = b->header.time_ns;
    memcpy(next->app_hash, fb->app_hash.data, fb->app_hash.len);
    next->app_hash_len = (uint32_t)fb->app_hash.len;
    if ((err = results_hash(fb, next->last_results_hash)) != 0)
        return err;
    return 0;
fail:
    if (err == PX_EAPP)
        px_log(PX_LOG_ERROR, MOD, "the app's FinalizeBlock answer is unusable",
               "height=%" PRIu64 " why=\"%s\"", height, why);
    return err;
}

static int put_encoded_valset(struct statestore *ss, uint64_t height,
                              const struct validator_set *vs)
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

static int put_params(struct statestore *ss, uint64_t height, const struct chain_params *p)
{
    Phalanx__Abci__ConsensusParams cp = PHALANX__ABCI__CONSENSUS_PARAMS__INIT;
    Phalanx__Abci__BlockParams bp = PHALANX__ABCI__BLOCK_PARAMS__INIT;
    Phalanx__Abci__EvidenceParams ep = PHALANX__ABCI__EVIDENCE_PARAMS__INIT;
    Phalanx__Abci__ValidatorParams vp = PHALANX__ABCI__VALIDATOR_PARAMS__INIT;
    Phalanx__Abci__VersionParams ver = PHALANX__ABCI__VERSION_PARAMS__INIT;
    char *types[1] = {"ed25519"};
    bp.max_bytes = p->block_max_bytes;
    bp.max_gas = p->block_max_gas;
    ep.max_age_num_blocks = p->evidence_max_age_num_blocks;
    ep.max_age_duration_ns = p->evidence_max_age_duration_ns;
    ep.max_bytes = p->evidence_max_bytes;
    vp.n_pub_key_types = 1;
    vp.pub_key_types = types;
    ver.app = p->app_version;
    cp.block = &bp;
    cp.evidence = &ep;
    cp.validator = &vp;
    cp.version = &ver;
    uint8_t buf[256];
    size_t len = phalanx__abci__consensus_params__get_packed_size(&cp);
    if (len > sizeof(buf))
        return PX_EINTERNAL;
    phalanx__abci__consensus_params__pack(&cp, buf);
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
        err = put_encoded_valset(ss, ns->last_height + 2, &ns->next_validators);
    if (!err && params_changed)
        err = put_params(ss, ns->last_height + 1, &ns->params);
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

static int fill_result(struct blockexec_result *res, uint64_t height,
                       const Phalanx__Abci__ResponseFinalizeBlock *fb)
{
    memset(res, 0, sizeof(*res));
    res->height = height;
    res->n_txs = (uint32_t)fb->n_tx_results;
    if (fb->n_tx_results) {
        res->txs = calloc(fb->n_tx_results, sizeof(*res->txs));
        if (!res->txs)
            return PX_ENOMEM;
    }
    for (size_t i = 0; i < fb->n_tx_results; i++) {
        res->txs[i].code = fb->tx_results[i]->code;
        res->txs[i].gas_wanted = fb->tx_results[i]->gas_wanted;
        res->txs[i].gas_used = fb->tx_results[i]->gas_used;
    }
    res->n_validator_updates = (uint32_t)fb->n_validator_updates;
    res->app_hash_len =
        (uint32_t)(fb->app_hash.len > HEADER_APP_HASH_MAX ? HEADER_APP_HASH_MAX : fb->app_hash.len);
    memcpy(res->app_hash, fb->app_hash.data, res->app_hash_len);
    return 0;
}

/* Steps 2..6 for block b whose block store record exists. app_committed: the app has
 * already committed b (its FinalizeBlock answer is taken from STATESTORE_RESULTS). */
static int finish(struct blockexec *bx, struct chain_state *s, const struct block *b,
                  const struct block_id *id, bool app_committed, struct blockexec_result *res)
{
    bool paused = false; /* the mempool's check gate, closed for Commit */
    uint64_t height = b->header.height;
    abci_resp *resp = NULL;
    Phalanx__Abci__ResponseFinalizeBlock *saved = NULL;
    const Phalanx__Abci__ResponseFinalizeBlock *fb;
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
        saved = phalanx__abci__response_finalize_block__unpack(NULL, rlen, rbytes);
        if (!saved || saved->n_tx_results != b->tx_count) {
            err = ss_failed(bx, "decode the stored results", height, PX_ECORRUPT);
            goto out;
        }
        fb = saved;
    } else {
        uint8_t bh[HEADER_HASH_SIZE];
        memcpy(bh, id->hash, HEADER_HASH_SIZE);
        if ((err = finalize(bx, s, b, bh, &resp)) != 0) /* step 2 */
            goto out;
        fb = resp->finalize_block;
    }
    bool params_changed = false;
    if ((err = next_state(s, b, id, fb, ns, &params_changed)) != 0)
        goto out;
    if (!app_committed) {
        rlen = phalanx__abci__response_finalize_block__get_packed_size(fb);
        if (rlen > STATESTORE_MAX_VALUE_BYTES) {
            err = PX_ETOOBIG;
            goto out;
        }
        rbytes = malloc(rlen ? rlen : 1);
        if (!rbytes) {
            err = PX_ENOMEM;
            goto out;
        }
        phalanx__abci__response_finalize_block__pack(fb, rbytes);
        if ((err = statestore_put(bx->ss, STATESTORE_RESULTS, height, rbytes, rlen)) != 0) {
            err = ss_failed(bx, "save the results", height, err); /* step 3 */
            goto out;
        }
        /* no new CheckTx from here until the pool is rechecked against the new state */
        if (bx->mp) {
            mempool_pause_checks(bx->mp);
            paused = true;
        }
        if ((err = app_commit(bx, height)) != 0) /* step 4 */
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
    if (res && (err = fill_result(res, height, fb)) != 0) {
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
    abci_response_free(resp);
    if (saved)
        phalanx__abci__response_finalize_block__free_unpacked(saved, NULL);
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
        if ((err = app_info(bx, &a, ah, &al)) != 0)
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
    return finish(bx, s, b, id, app_committed, res);
}

/* ---- handshake ------------------------------------------------------------------------ */

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

static int init_chain(struct blockexec *bx, const struct genesis *g, struct chain_state *s,
                      bool update_state, char *why, size_t cap)
{
    size_t nv = g->n_validators; /* 0: the app must give them */
    Phalanx__Abci__ValidatorUpdate *vu = calloc(nv ? nv : 1, sizeof(*vu));
    Phalanx__Abci__ValidatorUpdate **vp = calloc(nv ? nv : 1, sizeof(*vp));
    if (!vu || !vp) {
        free(vu);
        free(vp);
        return PX_ENOMEM;
    }
    for (size_t i = 0; i < nv; i++) {
        Phalanx__Abci__ValidatorUpdate u = PHALANX__ABCI__VALIDATOR_UPDATE__INIT;
        vu[i] = u;
        vu[i].pub_key.data = g->validators[i].pub_key;
        vu[i].pub_key.len = GENESIS_PUBKEY_SIZE;
        vu[i].power = g->validators[i].power;
        vu[i].pub_key_type = "ed25519";
        vp[i] = &vu[i];
    }
    Phalanx__Abci__ConsensusParams cp = PHALANX__ABCI__CONSENSUS_PARAMS__INIT;
    Phalanx__Abci__BlockParams bp = PHALANX__ABCI__BLOCK_PARAMS__INIT;
    Phalanx__Abci__EvidenceParams ep = PHALANX__ABCI__EVIDENCE_PARAMS__INIT;
    Phalanx__Abci__ValidatorParams valp = PHALANX__ABCI__VALIDATOR_PARAMS__INIT;
    Phalanx__Abci__VersionParams ver = PHALANX__ABCI__VERSION_PARAMS__INIT;
    char *types[GENESIS_PUBKEY_TYPES_MAX];
    for (size_t i = 0; i < g->params.n_pub_key_types && i < GENESIS_PUBKEY_TYPES_MAX; i++)
        types[i] = (char *)g->params.pub_key_types[i];
    bp.max_bytes = g->params.block_max_bytes;
    bp.max_gas = g->params.block_max_gas;
    ep.max_age_num_blocks = g->params.evidence_max_age_num_blocks;
    ep.max_age_duration_ns = g->params.evidence_max_age_duration_ns;
    ep.max_bytes = g->params.evidence_max_bytes;
    valp.n_pub_key_types = g->params.n_pub_key_types < GENESIS_PUBKEY_TYPES_MAX
                               ? g->params.n_pub_key_types
                               : GENESIS_PUBKEY_TYPES_MAX;
    valp.pub_key_types = types;
    ver.app = g->params.app_version;
    cp.block = &bp;
    cp.evidence = &ep;
    cp.validator = &valp;
    cp.version = &ver;
    Phalanx__Abci__Timestamp t = ts_of(g->genesis_time_ns);
    Phalanx__Abci__RequestInitChain ic = PHALANX__ABCI__REQUEST_INIT_CHAIN__INIT;
    ic.time = &t;
    ic.chain_id = (char *)g->chain_id;
    ic.consensus_params = &cp;
    ic.n_validators = nv;
    ic.validators = vp;
    ic.app_state_bytes.data = (uint8_t *)g->app_state;
    ic.app_state_bytes.len = g->app_state ? strlen(g->app_state) : 0;
    ic.initial_height = g->initial_height;
    abci_req req = PHALANX__ABCI__REQUEST__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN;
    req.init_chain = &ic;
    abci_resp *resp = NULL;
    int err = call_app(bx, ABCI_CONN_CONSENSUS, &req, &resp);
    free(vu);
    free(vp);
    if (err) {
        say(why, cap, "InitChain failed at the app (%s)", px_strerror(err));
        return err;
    }
    const Phalanx__Abci__ResponseInitChain *r = resp->init_chain;
    px_log(PX_LOG_INFO, MOD, "InitChain done", "chain_id=%s validators=%zu app_hash_len=%zu",
           g->chain_id, r->n_validators, r->app_hash.len);
    if (r->app_hash.len > HEADER_APP_HASH_MAX) {
        say(why, cap, "InitChain answered an app hash of %zu bytes (at most %u)", r->app_hash.len,
            HEADER_APP_HASH_MAX);
        abci_response_free(resp);
        return PX_EAPP;
    }
    if (!update_state) {
        /* the state after genesis is already stored: the app must agree with it */
        uint32_t len = r->app_hash.len ? (uint32_t)r->app_hash.len : s->app_hash_len;
        const uint8_t *h = r->app_hash.len ? r->app_hash.data : s->app_hash;
        bool same = len == s->app_hash_len && memcmp(h, s->app_hash, len) == 0;
        abci_response_free(resp);
        if (!same && s->last_height + 1 == s->initial_height) {
            say(why, cap,
                "the app's InitChain app hash differs from the stored genesis state; "
                "the app's genesis differs from the chain's: reset the app with the "
                "chain's genesis");
            return PX_ESTATE;
        }
        return 0;
    }
    if (r->n_validators > 0) {
        if (r->n_validators > VALIDATOR_SET_MAX) {
            abci_response_free(resp);
            say(why, cap, "InitChain answered %zu validators (at most %u)", r->n_validators,
                VALIDATOR_SET_MAX);
            return PX_EAPP;
        }
        struct validator *vals = calloc(r->n_validators, sizeof(*vals));
        if (!vals) {
            abci_response_free(resp);
            return PX_ENOMEM;
        }
        for (size_t i = 0; i < r->n_validators && !err; i++) {
            err = pubkey_of_update(r->validators[i], vals[i].pub_key, why, cap);
            address_of(vals[i].pub_key, vals[i].address);
            vals[i].voting_power = r->validators[i]->power;
        }
        if (!err) {
            err = validator_set_init(&s->validators, vals, (uint32_t)r->n_validators);
            if (err) {
                say(why, cap, "InitChain answered an invalid validator set (%s)", px_strerror(err));
                err = PX_EAPP;
            }
        }
        free(vals);
        if (!err) {
            validator_set_copy(&s->next_validators, &s->validators);
            err = validator_set_increment_proposer_priority(&s->next_validators, 1);
        }
    }
    if (!err && r->consensus_params)
        err = params_from_abci(&s->params, r->consensus_params, why, cap);
    if (!err && r->app_hash.len > 0) {
        memcpy(s->app_hash, r->app_hash.data, r->app_hash.len);
        s->app_hash_len = (uint32_t)r->app_hash.len;
    }
    abci_response_free(resp);
    return err;
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
        err = put_encoded_valset(bx->ss, s->initial_height, &s->validators);
    if (!err)
        err = put_encoded_valset(bx->ss, s->initial_height + 1, &s->next_validators);
    if (!err)
        err = put_params(bx->ss, s->initial_height, &s->params);
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
            say(why, cap,
                "cannot replay height %" PRIu64 ": the state of height %" PRIu64
                " is not stored (%s); restore the node's data or reset the app",
                h, h - 1, px_strerror(err));
            err = err == PX_ENOTFOUND ? PX_ESTATE : err;
            break;
        }
        struct block_id id;
        block_init(b);
        if ((err = load_block(bx, h, b, &id)) != 0) {
            say(why, cap,
                "cannot replay height %" PRIu64 ": the block is not in the block "
                "store (%s); restore the node's data or reset the app",
                h, px_strerror(err));
            err = err == PX_ENOTFOUND ? PX_ESTATE : err;
            break;
        }
        abci_resp *resp = NULL;
        err = finalize(bx, st, b, id.hash, &resp);
        block_fini(b);
        if (err) {
            say(why, cap, "replaying height %" PRIu64 " failed at the app (%s)", h,
                px_strerror(err));
            break;
        }
        const Phalanx__Abci__ResponseFinalizeBlock *fb = resp->finalize_block;
        if (fb->app_hash.len > HEADER_APP_HASH_MAX) {
            abci_response_free(resp);
            say(why, cap, "replaying height %" PRIu64 ": the app hash is too long", h);
            err = PX_EAPP;
            break;
        }
        memcpy(last_hash, fb->app_hash.data, fb->app_hash.len);
        *last_len = (uint32_t)fb->app_hash.len;
        abci_response_free(resp);
        if ((err = app_commit(bx, h)) != 0) {
            say(why, cap, "replaying height %" PRIu64 ": Commit failed at the app (%s)", h,
                px_strerror(err));
            break;
        }
        if (h < to && load_state_at(bx, h, st) == 0 &&
            (st->app_hash_len != *last_len || memcmp(st->app_hash, last_hash, *last_len) != 0)) {
            say(why, cap,
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
    say(why, why_cap, "ok");
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
            say(why, why_cap,
                "the stored state of height %" PRIu64 " does not decode; "
                "restore the state store from a backup",
                found);
            err = PX_ECORRUPT;
            goto out;
        }
        if (strcmp(cur->chain_id, g->chain_id) != 0) {
            say(why, why_cap, "the stored chain is '%s' but the genesis is for '%s'", cur->chain_id,
                g->chain_id);
            err = PX_ESTATE;
            goto out;
        }
        stored = true;
    } else if (err == PX_ENOTFOUND) {
        if ((err = chainstate_from_genesis(cur, g)) != 0) {
            say(why, why_cap, "the genesis cannot start a chain (%s)", px_strerror(err));
            goto out;
        }
    } else {
        say(why, why_cap, "cannot read the state store %s (%s): " BLOCKEXEC_STORE_FIX,
            statestore_path(bx->ss), px_strerror(err));
        goto out;
    }
    /* The block store holds every block up to the state's height, and at most one more
     * (a crash between steps 1 and 5): behind it, the node could neither serve its history
     * to peers nor check it, and its next proposal would fail; both empty is a new node. */
    uint64_t S = cur->last_height;
    uint64_t base = 0, top = 0;
    if ((err = blockstore_bounds(bx->bs, &base, &top)) != 0) {
        say(why, why_cap, "cannot read the block store %s (%s): " BLOCKEXEC_STORE_FIX,
            blockstore_path(bx->bs), px_strerror(err));
        goto out;
    }
    if (top == 0 && S >= cur->initial_height) {
        say(why, why_cap,
            "the block store %s is empty but the state store %s is at height %" PRIu64
            ": blockstore.db was deleted or replaced; " BLOCKEXEC_STORE_FIX,
            blockstore_path(bx->bs), statestore_path(bx->ss), S);
        err = PX_ESTATE;
        goto out;
    }
    uint64_t B = top == 0 ? S : top;
    if (B < S) {
        say(why, why_cap,
            "the block store %s ends at height %" PRIu64 " but the state store %s at %" PRIu64
            ": blockstore.db is older than state.db; " BLOCKEXEC_STORE_FIX,
            blockstore_path(bx->bs), top, statestore_path(bx->ss), S);
        err = PX_ESTATE;
        goto out;
    }
    if (B > S + 1) {
        say(why, why_cap,
            "the state store %s ends at height %" PRIu64 " but the block store %s at %" PRIu64
            ": state.db is older than blockstore.db; " BLOCKEXEC_STORE_FIX,
            statestore_path(bx->ss), S, blockstore_path(bx->bs), top);
        err = PX_ESTATE;
        goto out;
    }

    int64_t a_raw = 0;
    uint8_t ah[HEADER_APP_HASH_MAX];
    uint32_t al = 0;
    if ((err = app_info(bx, &a_raw, ah, &al)) != 0) {
        say(why, why_cap, "Info failed at the app (%s)", px_strerror(err));
        goto out;
    }
    uint64_t A = (uint64_t)a_raw;
    px_log(PX_LOG_INFO, MOD, "handshake",
           "app_height=%" PRIu64 " state_height=%" PRIu64 " store_height=%" PRIu64, A, S, B);
    if (A > B) {
        say(why, why_cap,
            "the app is ahead of the engine at height %" PRIu64 " (the engine's "
            "stores end at %" PRIu64 "); restore its data or reset it",
            A, B);
        err = PX_ESTATE;
        goto out;
    }
    if (A == 0) {
        if ((err = init_chain(bx, g, cur, !stored, why, why_cap)) != 0)
            goto out;
        if (!stored && cur->validators.count == 0) {
            say(why, why_cap,
                "there are no validators: genesis.json lists none (\"validators\": []) and "
                "the app's InitChain answered none; list the chain's validators in "
                "genesis.json, as phalanx init and phalanx testnet write them, or make the "
                "app return them from InitChain");
            err = PX_ECONFIG;
            goto out;
        }
        if (!stored && (err = save_genesis_state(bx, cur)) != 0) {
            say(why, why_cap, "saving the genesis state failed (%s)", px_strerror(err));
            goto out;
        }
        A = cur->initial_height - 1;
        if (S == A) {
            al = cur->app_hash_len;
            memcpy(ah, cur->app_hash, al);
        }
    } else if (!stored || A < cur->initial_height - 1) {
        say(why, why_cap,
            "the app is at height %" PRIu64 " but the chain has not started "
            "here; reset the app",
            A);
        err = PX_ESTATE;
        goto out;
    }
    if (A < S) {
        if (top == 0 || A + 1 < base) {
            say(why, why_cap,
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
            say(why, why_cap,
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
            say(why, why_cap, "cannot load block %" PRIu64 " (%s)", B, px_strerror(err));
            goto out;
        }
        px_log(PX_LOG_INFO, MOD, "finishing a height whose state was not saved",
               "height=%" PRIu64 " app_committed=%d", B, A == B);
        err = finish(bx, cur, b, &id, A == B, NULL);
        block_fini(b);
        free(b);
        if (err) {
            say(why, why_cap, "finishing height %" PRIu64 " failed (%s)", B, px_strerror(err));
            goto out;
        }
        if (A == B && (al != cur->app_hash_len || memcmp(ah, cur->app_hash, al) != 0)) {
            say(why, why_cap,
                "the app's hash at height %" PRIu64 " differs from the results it answered "
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
