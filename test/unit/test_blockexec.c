/* Unit tests of blockexec against an in-process app (abci_server over ipc:// in a temp dir):
 * a tiny deterministic app whose state is a hash chain over the executed txs, with its
 * committed height/hash kept per height so a test can rewind it (a crash that lost
 * commits). Covers build → validate → apply over several heights (stores, tx index,
 * results, mempool), every refusal of validate with its sentence, a conflicting block at a
 * stored height, the handshake cases (fresh, app behind, crash between block and state
 * with the app before or after Commit, app ahead, non-deterministic app), and validator
 * updates taking effect at H+2. Must never leave a process, socket or temp dir behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "abci_client.h"
#include "abci_server.h"
#include "blockexec.h"
#include "codec.h"
#include "csdriver.h"
#include "ed25519.h"
#include "keyfile.h"
#include "merkle.h"
#include "part_set.h"
#include "px_error.h"
#include "px_log.h"
#include "px_test.h"
#include "sha256.h"
#include "sign_bytes.h"
#include "wal.h"
#include "walcodec.h"

#define CHAIN "blockexec-chain"
#define NKEYS 8 /* key seeds; the genesis holds the first NGEN */
#define NGEN 4
#define MAXH 64
#define SEC 1000000000ull
#define GENESIS_TIME (1700000000ull * SEC)

static struct ed25519_privkey keys[NKEYS];
static struct ed25519_pubkey pubs[NKEYS];

/* ---- the app ---------------------------------------------------------------------------- */

struct kv {
    int64_t height; /* committed */
    uint8_t hash[32];
    int64_t p_height; /* executed, not committed */
    uint8_t p_hash[32];
    uint8_t hist[MAXH][32]; /* committed hash per height */
    uint8_t genesis_hash[32];
    unsigned init_calls, finalize_calls, commit_calls, process_calls, prepare_calls;
    size_t misbehavior_seen; /* Misbehavior entries in FinalizeBlock requests */
    int64_t misbehavior_height, misbehavior_power;
    bool salt;                /* non-deterministic: different hashes from now on */
    size_t prepare_empty;     /* PrepareProposal appends this many empty txs */
    size_t expect_validators; /* InitChain must bring this many (the genesis') */
    size_t init_returns;      /* InitChain answers the first this many keys as validators */
};

static int kv_info(struct abci_call *call, const Phalanx__Abci__RequestInfo *req,
                   Phalanx__Abci__ResponseInfo *resp, void *user)
{
    struct kv *a = user;
    (void)req;
    resp->last_block_height = a->height;
    if (a->height > 0 || a->init_calls > 0) {
        resp->last_block_app_hash.data = abci_call_memdup(call, a->hash, 32);
        resp->last_block_app_hash.len = 32;
    }
    return 0;
}

static int kv_init_chain(struct abci_call *call, const Phalanx__Abci__RequestInitChain *req,
                         Phalanx__Abci__ResponseInitChain *resp, void *user)
{
    struct kv *a = user;
    (void)call;
    a->init_calls++;
    if (req->n_validators != a->expect_validators || strcmp(req->chain_id, CHAIN) != 0 ||
        req->initial_height != 1 || req->app_state_bytes.len != 2) {
        abci_call_set_error(call, "unexpected InitChain");
        return PX_EINVAL;
    }
    if (a->init_returns > 0) {
        resp->validators = abci_call_alloc(call, a->init_returns * sizeof(*resp->validators));
        if (!resp->validators)
            return PX_ENOMEM;
        for (size_t i = 0; i < a->init_returns; i++) {
            Phalanx__Abci__ValidatorUpdate *u = abci_call_alloc(call, sizeof(*u));
            if (!u)
                return PX_ENOMEM;
            phalanx__abci__validator_update__init(u);
            u->pub_key.data = pubs[i].bytes;
            u->pub_key.len = 32;
            u->power = 10;
            resp->validators[i] = u;
        }
        resp->n_validators = a->init_returns;
    }
    sha256(a->genesis_hash, CHAIN, strlen(CHAIN));
    memcpy(a->hash, a->genesis_hash, 32);
    a->height = 0;
    resp->app_hash.data = a->genesis_hash;
    resp->app_hash.len = 32;
    return 0;
}

static int kv_prepare(struct abci_call *call, const Phalanx__Abci__RequestPrepareProposal *req,
                      Phalanx__Abci__ResponsePrepareProposal *resp, void *user)
{
    struct kv *a = user;
    a->prepare_calls++;
    size_t n = req->n_txs + a->prepare_empty;
    resp->txs = abci_call_alloc(call, (n + 1) * sizeof(*resp->txs));
    if (!resp->txs)
        return PX_ENOMEM;
    /* drop "drop-me", keep the rest in order, then the empty ones */
    size_t k = 0;
    for (size_t i = 0; i < req->n_txs; i++)
        if (!(req->txs[i].len == 7 && memcmp(req->txs[i].data, "drop-me", 7) == 0))
            resp->txs[k++] = req->txs[i];
    for (size_t i = 0; i < a->prepare_empty; i++) {
        resp->txs[k].data = (uint8_t *)"";
        resp->txs[k++].len = 0;
    }
    resp->n_txs = k;
    return 0;
}

static int kv_process(struct abci_call *call, const Phalanx__Abci__RequestProcessProposal *req,
                      Phalanx__Abci__ResponseProcessProposal *resp, void *user)
{
    struct kv *a = user;
    (void)call;
    a->process_calls++;
    resp->status = PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_ACCEPT;
    for (size_t i = 0; i < req->n_txs; i++)
        if (req->txs[i].len == 9 && memcmp(req->txs[i].data, "reject-me", 9) == 0)
            resp->status = PHALANX__ABCI__PROPOSAL_STATUS__PROPOSAL_STATUS_REJECT;
    return 0;
}

static int kv_finalize(struct abci_call *call, const Phalanx__Abci__RequestFinalizeBlock *req,
                       Phalanx__Abci__ResponseFinalizeBlock *resp, void *user)
{
    struct kv *a = user;
    a->finalize_calls++;
    if (req->height != a->height + 1) {
        abci_call_set_error(call, "FinalizeBlock %lld on committed %lld", (long long)req->height,
                            (long long)a->height);
        return PX_ESTATE;
    }
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, a->hash, 32);
    sha256_update(&h, &req->height, sizeof(req->height));
    if (a->salt)
        sha256_update(&h, "salt", 4);
    Phalanx__Abci__ExecTxResult **r = abci_call_alloc(call, (req->n_txs + 1) * sizeof(*r));
    Phalanx__Abci__ValidatorUpdate **vu = abci_call_alloc(call, (req->n_txs + 1) * sizeof(*vu));
    if (!r || !vu)
        return PX_ENOMEM;
    size_t nvu = 0;
    for (size_t i = 0; i < req->n_txs; i++) {
        const ProtobufCBinaryData *tx = &req->txs[i];
        uint64_t len = tx->len;
        sha256_update(&h, &len, sizeof(len));
        sha256_update(&h, tx->data, tx->len);
        r[i] = abci_call_alloc(call, sizeof(*r[i]));
        if (!r[i])
            return PX_ENOMEM;
        phalanx__abci__exec_tx_result__init(r[i]);
        r[i]->code = tx->len >= 3 && memcmp(tx->data, "bad", 3) == 0 ? 1 : 0;
        r[i]->data.data = tx->data;
        r[i]->data.len = tx->len ? 1 : 0;
        r[i]->gas_wanted = (int64_t)tx->len;
        r[i]->gas_used = (int64_t)tx->len / 2;
        r[i]->log = "not hashed";
        /* "val:S:P": validator of key seed S gets power P */
        unsigned s, p;
        char buf[32] = "";
        memcpy(buf, tx->data, tx->len < sizeof(buf) - 1 ? tx->len : sizeof(buf) - 1);
        if (sscanf(buf, "val:%u:%u", &s, &p) == 2 && s < NKEYS) {
            vu[nvu] = abci_call_alloc(call, sizeof(*vu[nvu]));
            if (!vu[nvu])
                return PX_ENOMEM;
            phalanx__abci__validator_update__init(vu[nvu]);
            vu[nvu]->pub_key.data = pubs[s].bytes;
            vu[nvu]->pub_key.len = 32;
            vu[nvu]->power = p;
            nvu++;
        }
    }
    sha256_final(&h, a->p_hash);
    a->p_height = req->height;
    a->misbehavior_seen += req->n_misbehavior;
    if (req->n_misbehavior) {
        a->misbehavior_height = req->misbehavior[0]->height;
        a->misbehavior_power = req->misbehavior[0]->validator->power;
    }
    resp->n_tx_results = req->n_txs;
    resp->tx_results = r;
    resp->n_validator_updates = nvu;
    resp->validator_updates = vu;
    resp->app_hash.data = abci_call_memdup(call, a->p_hash, 32);
    resp->app_hash.len = 32;
    return 0;
}

static int kv_commit(struct abci_call *call, const Phalanx__Abci__RequestCommit *req,
                     Phalanx__Abci__ResponseCommit *resp, void *user)
{
    struct kv *a = user;
    (void)req;
    (void)resp;
    a->commit_calls++;
    if (a->p_height != a->height + 1) {
        abci_call_set_error(call, "Commit without FinalizeBlock");
        return PX_ESTATE;
    }
    a->height = a->p_height;
    memcpy(a->hash, a->p_hash, 32);
    memcpy(a->hist[a->height], a->hash, 32);
    return 0;
}

static const struct abci_app kv_app = {
    .info = kv_info,
    .init_chain = kv_init_chain,
    .prepare_proposal = kv_prepare,
    .process_proposal = kv_process,
    .finalize_block = kv_finalize,
    .commit = kv_commit,
};

/* A crash of the app that lost its commits above height k. */
static void kv_rewind(struct kv *a, int64_t k)
{
    a->height = k;
    a->p_height = 0;
    memcpy(a->hash, k == 0 ? a->genesis_hash : a->hist[k], 32);
}

/* ---- fixture ---------------------------------------------------------------------------- */

struct fx {
    char dir[256];
    char addr[300];
    char bs_path[400];
    struct kv app;
    struct abci_server *srv;
    pthread_t thr;
    struct abci_client *cli;
    struct blockstore *bs;
    struct statestore *ss;
    struct mempool *mp;
    struct blockexec bx;
    struct genesis g;
    struct chain_state *s;
    struct commit last_commit; /* commit of s->last_height (empty at 0) */
    uint64_t now_ns;
};

static void *server_thread(void *arg)
{
    struct fx *f = arg;
    abci_server_run(f->srv);
    return NULL;
}

static void make_genesis(struct genesis *g)
{
    memset(g, 0, sizeof(*g));
    g->genesis_time_ns = GENESIS_TIME;
    snprintf(g->chain_id, sizeof(g->chain_id), "%s", CHAIN);
    g->initial_height = 1;
    genesis_default_params(&g->params);
    g->n_validators = NGEN;
    g->validators = calloc(NGEN, sizeof(*g->validators));
    assert_non_null(g->validators);
    for (int i = 0; i < NGEN; i++) {
        memcpy(g->validators[i].pub_key, pubs[i].bytes, 32);
        genesis_address_of(pubs[i].bytes, g->validators[i].address);
        g->validators[i].power = 10;
        snprintf(g->validators[i].name, sizeof(g->validators[i].name), "v%d", i);
    }
    g->app_state = strdup("{}");
    assert_non_null(g->app_state);
}

static void open_stores(struct fx *f, const char *tag)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s-blocks.db", f->dir, tag);
    snprintf(f->bs_path, sizeof(f->bs_path), "%s", p);
    assert_int_equal(blockstore_open(p, &f->bs), 0);
    snprintf(p, sizeof(p), "%s/%s-state.db", f->dir, tag);
    assert_int_equal(statestore_open(p, &f->ss), 0);
    struct mempool_config mc = {
        .max_txs = 1000, .max_bytes = 1u << 20, .max_tx_bytes = 1u << 16, .cache_size = 1000};
    assert_int_equal(mempool_new(&mc, &f->mp), 0);
    f->bx.bs = f->bs;
    f->bx.ss = f->ss;
    f->bx.mp = f->mp;
}

static void close_stores(struct fx *f)
{
    blockstore_close(f->bs);
    statestore_close(f->ss);
    mempool_free(f->mp);
    f->bs = NULL;
    f->ss = NULL;
    f->mp = NULL;
}

static int setup(void **state)
{
    for (int i = 0; i < NKEYS; i++) {
        uint8_t seed[32] = {(uint8_t)(i + 7), 0x42};
        assert_int_equal(ed25519_from_seed(seed, &keys[i], &pubs[i]), 0);
    }
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(pxt_tmpdir("blockexec", f->dir, sizeof(f->dir)), 0);
    snprintf(f->addr, sizeof(f->addr), "ipc://%s/app.sock", f->dir);
    px_log_set_spec(getenv("BLOCKEXEC_TEST_LOG") ? getenv("BLOCKEXEC_TEST_LOG") : "error");
    struct abci_server_config sc = {.listen_addr = f->addr};
    assert_int_equal(abci_server_new(&sc, &kv_app, &f->app, &f->srv), 0);
    assert_int_equal(pthread_create(&f->thr, NULL, server_thread, f), 0);
    struct abci_client_config cc = {
        .addr = f->addr, .timeout_ms = 10000, .reconnect_min_ms = 10, .reconnect_max_ms = 100};
    assert_int_equal(abci_client_new(&cc, &f->cli), 0);
    assert_int_equal(abci_client_wait_connected(f->cli, 10000), 0);
    f->bx.app = f->cli;
    f->app.expect_validators = NGEN;
    open_stores(f, "a");
    make_genesis(&f->g);
    f->s = calloc(1, sizeof(*f->s));
    assert_non_null(f->s);
    commit_init_empty(&f->last_commit);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    abci_client_free(f->cli);
    abci_server_stop(f->srv);
    pthread_join(f->thr, NULL);
    abci_server_free(f->srv);
    close_stores(f);
    genesis_fini(&f->g);
    commit_fini(&f->last_commit);
    free(f->s);
    pxt_rmtree(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static const struct ed25519_privkey *key_of(const uint8_t pub[32])
{
    for (int i = 0; i < NKEYS; i++)
        if (memcmp(pubs[i].bytes, pub, 32) == 0)
            return &keys[i];
    fail_msg("no key for a validator");
    return NULL;
}

/* A commit of every validator of vals for (height, id). */
static void sign_commit(struct commit *c, const struct validator_set *vals, uint64_t height,
                        const struct block_id *id, uint64_t time_ns)
{
    assert_int_equal(commit_init(c, height, 0, id, vals->count), 0);
    for (uint32_t i = 0; i < vals->count; i++) {
        struct vote v;
        memset(&v, 0, sizeof(v));
        v.type = VOTE_TYPE_PRECOMMIT;
        v.height = height;
        v.round = 0;
        v.block_id = *id;
        v.timestamp_ns = time_ns + i;
        memcpy(v.validator_address, vals->validators[i].address, 20);
        v.validator_index = (int32_t)i;
        uint8_t buf[SIGN_BYTES_MAX];
        size_t len;
        assert_int_equal(sign_bytes_vote(&v, CHAIN, buf, &len), 0);
        assert_int_equal(ed25519_sign(key_of(vals->validators[i].pub_key), buf, len, v.signature),
                         0);
        assert_int_equal(commit_add_vote(c, i, &v), 0);
    }
}

static void block_id_of(const struct block *b, const uint8_t *enc, size_t len, struct block_id *id)
{
    assert_int_equal(block_hash(b, id->hash), 0);
    struct part_set ps;
    assert_int_equal(part_set_from_data(&ps, enc, len), 0);
    id->parts = ps.header;
    part_set_fini(&ps);
}

static void add_tx(struct fx *f, const char *tx)
{
    assert_int_equal(mempool_precheck(f->mp, (const uint8_t *)tx, strlen(tx)), 0);
    assert_int_equal(mempool_insert(f->mp, (const uint8_t *)tx, strlen(tx), 1, 0), 0);
}

static const uint8_t *proposer_of(const struct chain_state *s)
{
    return validator_set_proposer(&s->validators)->address;
}

struct built {
    struct block b;
    uint8_t *enc;
    size_t len;
    struct block_id id;
};

static void built_fini(struct built *x)
{
    block_fini(&x->b);
    free(x->enc);
    x->enc = NULL;
}

static int build(struct fx *f, const struct commit *last_commit, struct built *x)
{
    block_init(&x->b);
    x->enc = NULL;
    f->now_ns = f->s->last_block_time_ns + SEC;
    int err =
        blockexec_build(&f->bx, f->s, f->now_ns, proposer_of(f->s),
                        f->s->last_height ? last_commit : NULL, NULL, 0, &x->b, &x->enc, &x->len);
    if (err == 0)
        block_id_of(&x->b, x->enc, x->len, &x->id);
    return err;
}

/* build → validate → apply one height; the block's txs come from the mempool. */
static void commit_height(struct fx *f, struct blockexec_result *res)
{
    struct built x;
    assert_int_equal(build(f, &f->last_commit, &x), 0);
    char why[256];
    int err = blockexec_validate(&f->bx, f->s, &x.b, proposer_of(f->s), f->now_ns, 5 * SEC, why,
                                 sizeof(why));
    if (err)
        fail_msg("validate: %s (%s)", px_strerror(err), why);
    struct commit seen;
    sign_commit(&seen, &f->s->validators, x.b.header.height, &x.id, f->now_ns);
    assert_int_equal(blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, res), 0);
    commit_fini(&f->last_commit);
    f->last_commit = seen;
    built_fini(&x);
}

static void fresh_handshake(struct fx *f)
{
    char why[256];
    int err = blockexec_handshake(&f->bx, &f->g, f->s, why, sizeof(why));
    if (err)
        fail_msg("handshake: %s (%s)", px_strerror(err), why);
}

/* the state stored at h, decoded */
static void stored_state(struct fx *f, uint64_t h, struct chain_state *out)
{
    uint8_t *v = NULL;
    size_t l = 0;
    assert_int_equal(statestore_get(f->ss, STATESTORE_STATE, h, &v, &l), 0);
    assert_int_equal(chainstate_decode(v, l, out), 0);
    free(v);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void chain_advances(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    assert_int_equal(f->app.init_calls, 1);
    assert_int_equal(f->s->last_height, 0);
    assert_memory_equal(f->s->app_hash, f->app.genesis_hash, 32);

    const char *txs[5][3] = {{"alice=1", "bob=2", "bad-tx"},
                             {"carol=3", "drop-me", NULL},
                             {NULL},
                             {"dave=4", NULL},
                             {"erin=5", "frank=6", NULL}};
    for (int h = 1; h <= 5; h++) {
        for (int i = 0; i < 3 && txs[h - 1][i]; i++)
            add_tx(f, txs[h - 1][i]);
        struct blockexec_result res;
        commit_height(f, &res);
        assert_int_equal(f->s->last_height, (uint64_t)h);
        assert_int_equal(res.height, (uint64_t)h);
        assert_int_equal(f->app.height, h);
        assert_memory_equal(f->s->app_hash, f->app.hash, 32);
        assert_memory_equal(res.app_hash, f->app.hash, 32);
        uint64_t base, top;
        blockstore_range(f->bs, &base, &top);
        assert_int_equal(top, (uint64_t)h);
        if (h == 1) {
            assert_int_equal(res.n_txs, 3);
            assert_int_equal(res.txs[2].code, 1); /* "bad-tx" */
            assert_int_equal(res.txs[0].gas_wanted, 7);
            assert_int_equal(res.txs[0].gas_used, 3);
        }
        if (h == 2)
            assert_int_equal(res.n_txs, 1); /* the app dropped "drop-me" */
        blockexec_result_fini(&res);
        struct mempool_stats st;
        mempool_stats(f->mp, &st);
        assert_int_equal(st.txs, h >= 2 ? 1 : 0); /* "drop-me" stays pending */
        /* the state record of every height is stored */
        struct chain_state *cs = malloc(sizeof(*cs));
        stored_state(f, (uint64_t)h, cs);
        assert_memory_equal(cs->app_hash, f->s->app_hash, 32);
        assert_true(block_id_equal(&cs->last_block_id, &f->s->last_block_id));
        free(cs);
    }
    /* the tx index */
    uint8_t th[32];
    uint64_t height;
    uint32_t index;
    sha256(th, "frank=6", 7);
    assert_int_equal(blockstore_find_tx(f->bs, th, &height, &index), 0);
    assert_int_equal(height, 5);
    assert_int_equal(index, 1);
    sha256(th, "drop-me", 7);
    assert_int_equal(blockstore_find_tx(f->bs, th, &height, &index), PX_ENOTFOUND);

    /* results of height 1 saved as the FinalizeBlock answer; last_results_hash by hand */
    uint8_t *v = NULL;
    size_t l = 0;
    assert_int_equal(statestore_get(f->ss, STATESTORE_RESULTS, 1, &v, &l), 0);
    Phalanx__Abci__ResponseFinalizeBlock *fb =
        phalanx__abci__response_finalize_block__unpack(NULL, l, v);
    free(v);
    assert_non_null(fb);
    assert_int_equal(fb->n_tx_results, 3);
    assert_string_equal(fb->tx_results[0]->log, "not hashed");
    phalanx__abci__response_finalize_block__free_unpacked(fb, NULL);
    /* tx "alice=1": code 0 (omitted), data "a" (0x12 0x01 'a'), gas_wanted 7 (0x28 0x07),
     * gas_used 3 (0x30 0x03); "bob=2": data "b", 5, 2; "bad-tx": code 1, "b", 6, 3 */
    const uint8_t l0[] = {0x12, 0x01, 'a', 0x28, 0x07, 0x30, 0x03};
    const uint8_t l1[] = {0x12, 0x01, 'b', 0x28, 0x05, 0x30, 0x02};
    const uint8_t l2[] = {0x08, 0x01, 0x12, 0x01, 'b', 0x28, 0x06, 0x30, 0x03};
    const uint8_t *items[3] = {l0, l1, l2};
    size_t lens[3] = {sizeof(l0), sizeof(l1), sizeof(l2)};
    uint8_t want[32];
    assert_int_equal(merkle_root(items, lens, 3, want), 0);
    struct chain_state *s1 = malloc(sizeof(*s1));
    stored_state(f, 1, s1);
    assert_memory_equal(s1->last_results_hash, want, 32);
    free(s1);
    /* and block 2's header carries it */
    struct blockstore_meta meta;
    assert_int_equal(blockstore_load_meta(f->bs, 2, &meta), 0);
    assert_int_equal(meta.num_txs, 1);
    assert_int_equal(f->app.init_calls, 1);

    /* a restart with everything in step: no InitChain, no replay */
    unsigned fin = f->app.finalize_calls;
    fresh_handshake(f);
    assert_int_equal(f->s->last_height, 5);
    assert_int_equal(f->app.init_calls, 1);
    assert_int_equal(f->app.finalize_calls, fin);
}

static void expect_invalid(struct fx *f, const struct block *b, const uint8_t *proposer,
                           const char *needle)
{
    char why[256] = "";
    int err = blockexec_validate(&f->bx, f->s, b, proposer, f->now_ns, 5 * SEC, why, sizeof(why));
    assert_int_equal(err, PX_EINVAL);
    if (strstr(why, needle) == NULL)
        fail_msg("why '%s' does not say '%s'", why, needle);
}

static void validate_refuses(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    add_tx(f, "x=1");
    commit_height(f, NULL);
    commit_height(f, NULL);

    add_tx(f, "y=2");
    struct built x;
    assert_int_equal(build(f, &f->last_commit, &x), 0);
    char why[256];
    assert_int_equal(
        blockexec_validate(&f->bx, f->s, &x.b, proposer_of(f->s), f->now_ns, SEC, why, sizeof(why)),
        0);
    struct block t;

#define TAMPER(stmt, needle)                                                                       \
    do {                                                                                           \
        uint8_t *e2 = NULL;                                                                        \
        size_t l2 = 0;                                                                             \
        assert_int_equal(codec_block_encode(&x.b, &e2, &l2), 0);                                   \
        assert_int_equal(codec_block_decode(e2, l2, &t), 0);                                       \
        free(e2);                                                                                  \
        stmt;                                                                                      \
        expect_invalid(f, &t, proposer_of(f->s), needle);                                          \
        block_fini(&t);                                                                            \
    } while (0)

    TAMPER(t.header.app_hash[0] ^= 1, "app_hash differs");
    TAMPER(t.header.last_block_id.hash[3] ^= 1, "last_block_id");
    TAMPER(t.header.validators_hash[0] ^= 1, "validators_hash differs");
    TAMPER(t.header.next_validators_hash[0] ^= 1, "next_validators_hash differs");
    TAMPER(t.header.consensus_hash[0] ^= 1, "consensus_hash differs");
    TAMPER(t.header.last_results_hash[0] ^= 1, "last_results_hash differs");
    TAMPER(t.header.time_ns = f->s->last_block_time_ns, "time is not after");
    TAMPER(t.header.time_ns = f->now_ns + 60 * SEC, "in the future");
    TAMPER(t.header.height++, "height");
    TAMPER(t.header.chain_id[0] = 'X', "chain_id");
    TAMPER(t.txs[0].data[0] ^= 1, "data_hash");
    TAMPER(t.last_commit.sigs[0].signature[0] ^= 1, "not consistent");

    /* wrong proposer */
    expect_invalid(f, &x.b, pubs[7].bytes /* any other 20 bytes */, "proposer");
    built_fini(&x);

    /* a bad signature in a last commit whose hash the header does carry */
    struct commit bad;
    assert_int_equal(commit_copy(&bad, &f->last_commit), 0);
    bad.sigs[1].signature[5] ^= 0x20;
    assert_int_equal(build(f, &bad, &x), 0);
    expect_invalid(f, &x.b, proposer_of(f->s), "last commit is invalid");
    built_fini(&x);
    commit_fini(&bad);
    /* a commit without 2/3 of the power (two of four slots absent) */
    assert_int_equal(commit_copy(&bad, &f->last_commit), 0);
    for (int i = 0; i < 2; i++) {
        memset(&bad.sigs[i], 0, sizeof(bad.sigs[i]));
        bad.sigs[i].flag = COMMIT_FLAG_ABSENT;
    }
    assert_int_equal(build(f, &bad, &x), 0);
    expect_invalid(f, &x.b, proposer_of(f->s), "last commit is invalid");
    built_fini(&x);
    /* a commit for another block is refused already when building */
    bad.block_id.hash[0] ^= 1;
    assert_int_equal(build(f, &bad, &x), PX_EINVAL);
    block_fini(&x.b);
    commit_fini(&bad);

    /* the app says no */
    unsigned pc = f->app.process_calls;
    add_tx(f, "reject-me");
    assert_int_equal(build(f, &f->last_commit, &x), 0);
    expect_invalid(f, &x.b, proposer_of(f->s), "app rejected the proposal");
    assert_int_equal(f->app.process_calls, pc + 1);
    built_fini(&x);
}

static void conflict_at_stored_height(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    commit_height(f, NULL);
    struct chain_state *before = malloc(sizeof(*before));
    memcpy(before, f->s, sizeof(*before));
    struct commit c_before;
    assert_int_equal(commit_copy(&c_before, &f->last_commit), 0);
    add_tx(f, "first");
    commit_height(f, NULL);

    /* a different block 2, built on the state after 1 */
    struct chain_state *after = malloc(sizeof(*after));
    memcpy(after, f->s, sizeof(*after));
    memcpy(f->s, before, sizeof(*before));
    add_tx(f, "second");
    struct built x;
    assert_int_equal(build(f, &c_before, &x), 0);
    struct commit seen;
    sign_commit(&seen, &f->s->validators, 2, &x.id, f->now_ns);
    unsigned fin = f->app.finalize_calls;
    assert_int_equal(blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, NULL),
                     PX_ECONFLICT);
    assert_int_equal(f->app.finalize_calls, fin);
    assert_int_equal(f->s->last_height, 1); /* untouched */
    /* also from the state after 2 (the height is behind the state) */
    assert_int_equal(blockexec_apply(&f->bx, after, &x.b, x.enc, x.len, &x.id, &seen, NULL),
                     PX_ECONFLICT);
    uint8_t th[32];
    uint64_t h;
    uint32_t i;
    sha256(th, "second", 6);
    assert_int_equal(blockstore_find_tx(f->bs, th, &h, &i), PX_ENOTFOUND);
    commit_fini(&seen);
    commit_fini(&c_before);
    built_fini(&x);
    free(before);
    free(after);
}

/* The network decided block 3 with the app hash it agreed on after 2; our app returned
 * another one after 2 (it diverged): applying it is fatal and changes nothing. */
static void diverged_app_is_fatal(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    commit_height(f, NULL);
    commit_height(f, NULL);
    struct built x;
    assert_int_equal(build(f, &f->last_commit, &x), 0);
    struct commit seen;
    sign_commit(&seen, &f->s->validators, x.b.header.height, &x.id, f->now_ns);
    f->s->app_hash[0] ^= 0x01; /* what our app said after height 2 */
    unsigned fin = f->app.finalize_calls;
    int err = blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, NULL);
    assert_int_equal(err, PX_EDIVERGED);
    assert_true(blockexec_err_is_fatal(err));
    assert_int_equal(f->app.finalize_calls, fin);
    assert_int_equal(f->s->last_height, 2);
    struct blockstore_meta m;
    assert_int_equal(blockstore_load_meta(f->bs, 3, &m), PX_ENOTFOUND);
    /* with the agreed hash it applies */
    f->s->app_hash[0] ^= 0x01;
    assert_int_equal(blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, NULL), 0);
    assert_int_equal(f->s->last_height, 3);
    commit_fini(&seen);
    built_fini(&x);
}

static void handshake_app_behind(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    for (int h = 1; h <= 6; h++) {
        char tx[32];
        snprintf(tx, sizeof(tx), "k%d=v", h);
        add_tx(f, tx);
        commit_height(f, NULL);
    }
    uint8_t want[32];
    memcpy(want, f->app.hash, 32);
    kv_rewind(&f->app, 2);
    unsigned fin = f->app.finalize_calls, com = f->app.commit_calls;
    fresh_handshake(f);
    assert_int_equal(f->app.finalize_calls, fin + 4);
    assert_int_equal(f->app.commit_calls, com + 4);
    assert_int_equal(f->app.height, 6);
    assert_memory_equal(f->app.hash, want, 32);
    assert_int_equal(f->s->last_height, 6);

    /* wiped app (height 0): InitChain again, then replay of everything */
    kv_rewind(&f->app, 0);
    fresh_handshake(f);
    assert_int_equal(f->app.init_calls, 2);
    assert_int_equal(f->app.height, 6);
    assert_memory_equal(f->app.hash, want, 32);

    /* an app at the right height with another hash */
    f->app.hash[0] ^= 1;
    char why0[256] = "";
    assert_int_equal(blockexec_handshake(&f->bx, &f->g, f->s, why0, sizeof(why0)), PX_ESTATE);
    assert_non_null(strstr(why0, "app's hash at height 6 differs"));
    f->app.hash[0] ^= 1;

    /* a non-deterministic app: the replayed hash differs */
    kv_rewind(&f->app, 3);
    f->app.salt = true;
    char why[256] = "";
    assert_int_equal(blockexec_handshake(&f->bx, &f->g, f->s, why, sizeof(why)), PX_ESTATE);
    assert_non_null(strstr(why, "differs"));
    f->app.salt = false;
}

static void remove_state_record(struct fx *f, uint64_t h)
{
    assert_int_equal(statestore_begin(f->ss), 0);
    assert_int_equal(statestore_delete(f->ss, STATESTORE_STATE, h), 0);
    assert_int_equal(statestore_delete(f->ss, STATESTORE_VALIDATORS, h + 2), 0);
    assert_int_equal(statestore_commit(f->ss), 0);
}

static void handshake_crash_between_block_and_state(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    add_tx(f, "a=1");
    commit_height(f, NULL);
    add_tx(f, "b=2");
    add_tx(f, "c=3");
    commit_height(f, NULL);
    struct chain_state *want = malloc(sizeof(*want));
    memcpy(want, f->s, sizeof(*want));

    /* the app committed 2, the state of 2 was not saved: finish from RESULTS(2) */
    remove_state_record(f, 2);
    unsigned fin = f->app.finalize_calls, com = f->app.commit_calls;
    fresh_handshake(f);
    assert_int_equal(f->app.finalize_calls, fin); /* no re-execution */
    assert_int_equal(f->app.commit_calls, com);
    assert_int_equal(f->s->last_height, 2);
    assert_memory_equal(f->s->app_hash, want->app_hash, 32);
    assert_memory_equal(f->s->last_results_hash, want->last_results_hash, 32);
    assert_true(block_id_equal(&f->s->last_block_id, &want->last_block_id));
    struct chain_state *got = malloc(sizeof(*got));
    stored_state(f, 2, got);
    assert_memory_equal(got->app_hash, want->app_hash, 32);

    /* the app did not commit 2 (crash before Commit): block 2 is executed again */
    remove_state_record(f, 2);
    kv_rewind(&f->app, 1);
    fresh_handshake(f);
    assert_int_equal(f->app.finalize_calls, fin + 1);
    assert_int_equal(f->app.commit_calls, com + 1);
    assert_int_equal(f->app.height, 2);
    assert_int_equal(f->s->last_height, 2);
    assert_memory_equal(f->s->app_hash, want->app_hash, 32);
    stored_state(f, 2, got);
    assert_memory_equal(got->last_results_hash, want->last_results_hash, 32);
    assert_int_equal(got->next_validators.count, want->next_validators.count);

    /* and the same through blockexec_apply resuming: state at 1, block 2 stored */
    remove_state_record(f, 2);
    struct chain_state *s1 = malloc(sizeof(*s1));
    stored_state(f, 1, s1);
    uint8_t *enc = NULL, *cenc = NULL;
    size_t len = 0, clen = 0;
    assert_int_equal(blockstore_load_block(f->bs, 2, &enc, &len), 0);
    assert_int_equal(blockstore_load_commit(f->bs, 2, &cenc, &clen), 0);
    struct block b;
    struct commit seen;
    struct block_id id;
    assert_int_equal(codec_block_decode(enc, len, &b), 0);
    assert_int_equal(codec_commit_decode(cenc, clen, &seen), 0);
    block_id_of(&b, enc, len, &id);
    fin = f->app.finalize_calls;
    assert_int_equal(blockexec_apply(&f->bx, s1, &b, enc, len, &id, &seen, NULL), 0);
    assert_int_equal(f->app.finalize_calls, fin); /* the app had committed 2 */
    assert_memory_equal(s1->app_hash, want->app_hash, 32);
    block_fini(&b);
    commit_fini(&seen);
    free(enc);
    free(cenc);
    free(s1);
    free(got);
    free(want);
}

static void handshake_app_ahead(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    commit_height(f, NULL);
    commit_height(f, NULL);
    commit_height(f, NULL);
    /* the engine's data restored from an older backup: empty stores, app at 3 */
    close_stores(f);
    open_stores(f, "b");
    char why[256] = "";
    assert_int_equal(blockexec_handshake(&f->bx, &f->g, f->s, why, sizeof(why)), PX_ESTATE);
    if (!strstr(why, "ahead of the engine at height 3"))
        fail_msg("why: %s", why);
    assert_int_equal(f->app.init_calls, 1);
}

static void validator_update_at_h_plus_2(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    commit_height(f, NULL);
    add_tx(f, "val:5:7"); /* a new validator at height 2 */
    add_tx(f, "val:0:0"); /* and one leaves */
    struct blockexec_result res;
    commit_height(f, &res);
    assert_int_equal(res.n_validator_updates, 2);
    blockexec_result_fini(&res);
    int32_t in_next = validator_set_find(&f->s->next_validators, f->g.validators[0].address);
    uint8_t addr5[20];
    ed25519_address(&pubs[5], addr5);
    /* after 2: validators (sign 3) unchanged, next (sign 4) changed */
    assert_int_equal(f->s->validators.count, NGEN);
    assert_true(validator_set_find(&f->s->validators, addr5) < 0);
    assert_true(validator_set_find(&f->s->next_validators, addr5) >= 0);
    assert_true(in_next < 0);
    assert_int_equal(f->s->next_validators.total_voting_power, 37);
    commit_height(f, NULL); /* 3 */
    assert_true(validator_set_find(&f->s->validators, addr5) >= 0);
    assert_int_equal(f->s->validators.total_voting_power, 37);
    assert_int_equal(f->s->last_validators.count, NGEN);
    commit_height(f, NULL); /* 4: signed by the new set */
    commit_height(f, NULL); /* 5: its last commit is by the new set */
    assert_int_equal(f->s->last_height, 5);
    /* the validators record of height 4 holds the new set */
    uint8_t *v = NULL;
    size_t l = 0;
    assert_int_equal(statestore_get(f->ss, STATESTORE_VALIDATORS, 4, &v, &l), 0);
    struct validator_set *vs = malloc(sizeof(*vs));
    assert_int_equal(codec_validator_set_decode(v, l, vs), 0);
    assert_true(validator_set_find(vs, addr5) >= 0);
    free(vs);
    free(v);
    /* an update the app may not make: removing everyone */
    add_tx(f, "val:1:0");
    add_tx(f, "val:2:0");
    add_tx(f, "val:3:0");
    add_tx(f, "val:5:0");
    struct built x;
    assert_int_equal(build(f, &f->last_commit, &x), 0);
    struct commit seen;
    sign_commit(&seen, &f->s->validators, 6, &x.id, f->now_ns);
    unsigned com = f->app.commit_calls;
    assert_int_equal(blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, NULL),
                     PX_EAPP);
    assert_int_equal(f->app.commit_calls, com); /* never committed */
    assert_int_equal(f->s->last_height, 5);
    commit_fini(&seen);
    built_fini(&x);
}

static void build_overflow(void **state)
{
    struct fx *f = *state;
    f->g.params.block_max_bytes = 8192;
    f->g.params.evidence_max_bytes = 1024;
    fresh_handshake(f);
    /* the app adds more empty txs than the block can frame (their bare size is 0, so the
     * client's max_tx_bytes check lets them through) */
    f->app.prepare_empty = 1000;
    struct built x;
    assert_int_equal(build(f, &f->last_commit, &x), PX_ETOOBIG);
    assert_null(x.enc);
    assert_int_equal(x.b.tx_count, 0);
    block_fini(&x.b);
    f->app.prepare_empty = 0;
}

/* A mempool holding more than one block: the reap must stop where the txs with their
 * framing in the block fill it (issue 21: the proposer freed an interior pointer of the
 * reaped array when it trimmed what the framing pushed over, and crashed), the block must
 * fit, and what is left must come in the next block, in order. */
static void build_full_mempool(void **state)
{
    struct fx *f = *state;
    f->g.params.block_max_bytes = 8192;
    f->g.params.evidence_max_bytes = 1024;
    fresh_handshake(f);
    enum { N = 100, LEN = 100 }; /* 10,000 bare bytes, room for about 6,000 */
    for (int i = 0; i < N; i++) {
        char tx[LEN + 1];
        memset(tx, 'v', LEN);
        tx[LEN] = 0;
        char key[16];
        snprintf(key, sizeof(key), "tx%03d=", i);
        memcpy(tx, key, 6);
        add_tx(f, tx);
    }
    struct built x;
    assert_int_equal(build(f, &f->last_commit, &x), 0);
    assert_true(x.len <= 8192);
    assert_true(x.b.tx_count > 0);
    assert_true(x.b.tx_count < N);
    /* FIFO: the first txs, in order */
    for (uint32_t i = 0; i < x.b.tx_count; i++) {
        char want[16];
        snprintf(want, sizeof(want), "tx%03u=", i);
        assert_memory_equal(x.b.txs[i].data, want, 6);
    }
    uint32_t first = x.b.tx_count;
    built_fini(&x);
    /* committing it leaves the rest for the next blocks */
    struct blockexec_result res;
    commit_height(f, &res);
    assert_int_equal(res.n_txs, first);
    blockexec_result_fini(&res);
    struct mempool_stats st;
    mempool_stats(f->mp, &st);
    assert_int_equal(st.txs, N - first);
    commit_height(f, NULL);
    mempool_stats(f->mp, &st);
    assert_true(st.txs < N - first);
}

/* Remove a database with its -wal and -shm files. */
static void remove_db(struct fx *f, const char *name)
{
    char p[400];
    const char *ext[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/%s%s", f->dir, name, ext[i]);
        unlink(p);
    }
}

static void expect_refused(struct fx *f, int want, const char *const needles[])
{
    char why[2048] = "";
    int err = blockexec_handshake(&f->bx, &f->g, f->s, why, sizeof(why));
    if (err != want)
        fail_msg("handshake: %s, wanted %s (%s)", px_strerror(err), px_strerror(want), why);
    for (size_t i = 0; needles[i]; i++)
        if (!strstr(why, needles[i]))
            fail_msg("why '%s' does not say '%s'", why, needles[i]);
}

/* Issue 21: a node whose blockstore.db was deleted started without its history (it could
 * serve no block to peers and its first proposal failed); the handshake now refuses a
 * block store behind the state store, and says what to do. */
static void handshake_refuses_lost_block_store(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    for (int h = 1; h <= 4; h++)
        commit_height(f, NULL);
    close_stores(f);
    remove_db(f, "a-blocks.db");
    open_stores(f, "a");
    unsigned fin = f->app.finalize_calls, info_before = f->app.init_calls;
    char bs[400];
    snprintf(bs, sizeof(bs), "%s/a-blocks.db", f->dir);
    const char *const want[] = {"block store",
                                bs,
                                "is empty but the state store",
                                "at height 4",
                                "restore blockstore.db and state.db from one backup",
                                "resync the node",
                                NULL};
    expect_refused(f, PX_ESTATE, want);
    assert_int_equal(f->app.finalize_calls, fin);
    assert_int_equal(f->app.init_calls, info_before);
}

static void handshake_refuses_stores_out_of_step(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    for (int h = 1; h <= 5; h++)
        commit_height(f, NULL);
    /* one apart (a crash between the block and the state) still starts */
    remove_state_record(f, 5);
    fresh_handshake(f);
    assert_int_equal(f->s->last_height, 5);
    /* the state store older than the block store by more than that */
    remove_state_record(f, 5);
    remove_state_record(f, 4);
    const char *const older_state[] = {"state store", "ends at height 3 but the block store",
                                       "at 5", "resync the node", NULL};
    expect_refused(f, PX_ESTATE, older_state);
    /* the block store behind the state store */
    assert_int_equal(blockstore_delete_top(f->bs), 0);
    assert_int_equal(blockstore_delete_top(f->bs), 0);
    assert_int_equal(blockstore_delete_top(f->bs), 0);
    const char *const older_blocks[] = {"block store", "ends at height 2 but the state store",
                                        "at 3", "blockstore.db is older", NULL};
    expect_refused(f, PX_ESTATE, older_blocks);
}

/* Issue 21: "validators": [] with an app that names none in InitChain said only "the
 * genesis cannot start a chain (invalid argument)"; and an app that does name them could
 * not start such a chain at all. */
static void genesis_without_validators(void **state)
{
    struct fx *f = *state;
    f->g.n_validators = 0;
    f->app.expect_validators = 0;
    const char *const want[] = {"no validators", "genesis.json", "InitChain", NULL};
    expect_refused(f, PX_ECONFIG, want);
    uint8_t *v = NULL;
    size_t l = 0;
    assert_int_equal(statestore_get(f->ss, STATESTORE_STATE, 0, &v, &l), PX_ENOTFOUND);
    /* the app names them: the chain starts with its set */
    f->app.init_returns = NGEN;
    fresh_handshake(f);
    assert_int_equal(f->s->validators.count, NGEN);
    assert_int_equal(f->s->next_validators.count, NGEN);
    commit_height(f, NULL);
    commit_height(f, NULL);
    assert_int_equal(f->s->last_height, 2);
    /* and restarts from the stored state */
    fresh_handshake(f);
    assert_int_equal(f->s->validators.count, NGEN);
}

/* Overwrite every page of a database but the first (the header and schema): any read of
 * a table fails as damaged. */
static void damage_db(struct fx *f, const char *name)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s", f->dir, name);
    size_t len = 0;
    char *all = pxt_read_file(p, &len);
    assert_non_null(all);
    free(all);
    assert_true(len > 4096);
    assert_int_equal(pxt_damage_file(p, 4096, len - 4096, 7), 0);
}

/* Issue 21: a damaged store made the commit of every decided block fail "(will retry)"
 * forever; the error is ranked fatal (the node stops) and names the file. */
static void commit_on_damaged_store_is_fatal(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    for (int h = 1; h <= 3; h++)
        commit_height(f, NULL);
    for (int which = 0; which < 2; which++) {
        close_stores(f);
        damage_db(f, which == 0 ? "a-blocks.db" : "a-state.db");
        open_stores(f, "a");
        struct built x;
        assert_int_equal(build(f, &f->last_commit, &x), 0);
        struct commit seen;
        sign_commit(&seen, &f->s->validators, x.b.header.height, &x.id, f->now_ns);
        unsigned com = f->app.commit_calls;
        int err = blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, NULL);
        if (!blockexec_err_is_fatal(err))
            fail_msg("apply on a damaged %s: %s, not fatal",
                     which == 0 ? "block store" : "state store", px_strerror(err));
        assert_int_equal(f->app.commit_calls, com);
        assert_int_equal(f->s->last_height, 3);
        commit_fini(&seen);
        built_fini(&x);
        if (which == 0) { /* a sound (empty) block store for the state store's turn */
            close_stores(f);
            remove_db(f, "a-blocks.db");
            open_stores(f, "a");
        }
    }
    /* transient faults are not fatal */
    assert_false(blockexec_err_is_fatal(PX_EAGAIN));
    assert_false(blockexec_err_is_fatal(PX_ECLOSED));
    assert_false(blockexec_err_is_fatal(PX_ETIMEDOUT));
    assert_false(blockexec_err_is_fatal(PX_EAPP));
}

static void count_commit(const struct chain_state *s, const struct block *b, size_t block_bytes,
                         const struct block_id *id, int32_t round,
                         const struct blockexec_result *res, void *user)
{
    (void)s;
    (void)b;
    (void)block_bytes;
    (void)id;
    (void)round;
    (void)res;
    (*(unsigned *)user)++;
}

/* Step the shell on simulated time (straight to its next deadline) until `until` says so
 * or csd_tick fails; at most `steps` steps. Returns the last csd_tick result. */
static int run_shell(struct csd *d, uint64_t *mono, uint64_t *wall, int steps,
                     bool (*until)(void *), void *user)
{
    for (int i = 0; i < steps && !until(user); i++) {
        uint64_t next = csd_next_deadline(d);
        uint64_t step = next > *mono && next != UINT64_MAX ? next - *mono : 1000000;
        *mono += step;
        *wall += step;
        int err = csd_tick(d, *mono, *wall);
        if (err)
            return err;
    }
    return 0;
}

static bool two_committed(void *user)
{
    return *(unsigned *)user >= 2;
}

static bool never(void *user)
{
    (void)user;
    return false;
}

/* A one-validator consensus shell over the fixture: its signer and WAL in f->dir, commits
 * counted in *commits. The caller frees *d, then *pv. */
static void single_validator_shell(struct fx *f, char wpath[300], unsigned *commits,
                                   struct privval **pv, struct csd **d)
{
    f->g.n_validators = 1;
    f->app.expect_validators = 1;
    fresh_handshake(f);
    char kpath[300], spath[300], err[PRIVVAL_ERR_MAX];
    snprintf(kpath, sizeof(kpath), "%s/pv_key.json", f->dir);
    snprintf(spath, sizeof(spath), "%s/pv_state.json", f->dir);
    snprintf(wpath, 300, "%s/cs.wal", f->dir);
    assert_int_equal(keyfile_write(kpath, KEYFILE_VALIDATOR, &keys[0], NULL, 0), 0);
    assert_int_equal(privval_state_create(spath), 0);
    *pv = NULL;
    if (privval_open(kpath, spath, pv, err, sizeof(err)) != 0)
        fail_msg("privval: %s", err);
    struct csd_config cc;
    memset(&cc, 0, sizeof(cc));
    cs_config_default(&cc.core);
    cc.core.timeout_commit_ms = 1;
    cc.wal_path = wpath;
    cc.max_future_ns = 10 * SEC;
    *commits = 0;
    struct csd_hooks hooks = {count_commit, NULL, commits}; /* copied by csd_new */
    *d = NULL;
    assert_int_equal(csd_new(&cc, &f->bx, f->s, *pv, &hooks, d), 0);
}

/* Issue 21, end to end in the node's consensus shell: a single-validator chain commits,
 * then its block store is damaged under it; the next decided block cannot be committed
 * and the shell reports it (the node stops) instead of retrying forever. */
static void consensus_stops_on_damaged_store(void **state)
{
    struct fx *f = *state;
    char wpath[300];
    unsigned commits;
    struct privval *pv;
    struct csd *d;
    single_validator_shell(f, wpath, &commits, &pv, &d);
    uint64_t mono = SEC, wall = GENESIS_TIME + 10 * SEC;
    assert_int_equal(csd_start(d, mono, wall), 0);
    assert_int_equal(run_shell(d, &mono, &wall, 1000, two_committed, &commits), 0);
    assert_true(commits >= 2);
    uint64_t h = f->s->last_height;

    /* the disk damages the block store while the node runs (the handle is opened again so
     * that no page cached from before hides the damage) */
    blockstore_close(f->bs);
    damage_db(f, "a-blocks.db");
    assert_int_equal(blockstore_open(f->bs_path, &f->bs), 0);
    f->bx.bs = f->bs;
    int rc = run_shell(d, &mono, &wall, 200, never, NULL);
    if (rc == 0)
        fail_msg("the shell went on (%u commits, retrying) over a damaged block store", commits);
    assert_true(blockexec_err_is_fatal(rc));
    assert_int_equal(f->s->last_height, h);
    /* and it stays stopped */
    assert_int_equal(csd_tick(d, mono + SEC, wall + SEC), rc);
    csd_free(d);
    privval_free(pv);
}

/* What the shell published, and whether each was in the WAL when it was (issue 11). */
struct published {
    const char *wal_path;
    unsigned votes, votes_durable, proposals, proposals_durable, proposals_with_parts;
};

/* Is our own `type` input (OWN_VOTE or OWN_PROPOSAL) with this signature in the WAL file? */
static bool in_wal(const char *path, enum cs_input_type type, const uint8_t *sig, size_t sig_len)
{
    struct wal_options wo = {0};
    struct wal_reader *r = NULL;
    assert_int_equal(wal_reader_open(path, 0, &wo, &r), 0);
    struct vote *votes = calloc(VALIDATOR_SET_MAX, sizeof(*votes));
    assert_non_null(votes);
    bool found = false;
    for (;;) {
        struct wal_record rec;
        bool end = false;
        assert_int_equal(wal_reader_next(r, &rec, &end), 0);
        if (end)
            break;
        enum walcodec_kind k;
        struct cs_input in;
        uint64_t bh;
        struct block_id bid;
        const uint8_t *blk;
        size_t bl;
        if (rec.kind != WAL_KIND_INPUT ||
            walcodec_decode(rec.payload, rec.len, &k, &in, votes, VALIDATOR_SET_MAX, &bh, &bid,
                            &blk, &bl) != 0 ||
            k != WALCODEC_INPUT || in.type != type)
            continue;
        const uint8_t *s =
            type == CS_INPUT_OWN_VOTE ? in.u.vote.signature : in.u.proposal.proposal.signature;
        if (memcmp(s, sig, sig_len) == 0)
            found = true;
    }
    free(votes);
    wal_reader_close(r);
    return found;
}

static void on_publish_vote(const struct vote *v, void *user)
{
    struct published *pb = user;
    pb->votes++;
    if (in_wal(pb->wal_path, CS_INPUT_OWN_VOTE, v->signature, sizeof(v->signature)))
        pb->votes_durable++;
}

static void on_publish_proposal(const struct proposal *p, const struct part_set *parts, void *user)
{
    struct published *pb = user;
    pb->proposals++;
    if (in_wal(pb->wal_path, CS_INPUT_OWN_PROPOSAL, p->signature, sizeof(p->signature)))
        pb->proposals_durable++;
    if (parts && part_set_is_complete(parts) && parts->header.total == p->block_id.parts.total &&
        memcmp(parts->header.hash, p->block_id.parts.hash, BLOCK_ID_HASH_SIZE) == 0)
        pb->proposals_with_parts++;
}

/* Issue 11: the shell publishes our own vote and proposal (typed, through csd_publish) only
 * once they are durable in the WAL; a proposal comes with the parts of its block. */
static void own_messages_published_after_wal(void **state)
{
    struct fx *f = *state;
    char wpath[300];
    unsigned commits;
    struct privval *pv;
    struct csd *d;
    single_validator_shell(f, wpath, &commits, &pv, &d);
    struct published pb = {.wal_path = wpath};
    struct csd_publish pub = {on_publish_vote, on_publish_proposal, &pb};
    csd_set_publish(d, &pub);
    uint64_t mono = SEC, wall = GENESIS_TIME + 10 * SEC;
    assert_int_equal(csd_start(d, mono, wall), 0);
    assert_int_equal(run_shell(d, &mono, &wall, 1000, two_committed, &commits), 0);
    assert_true(commits >= 2);
    /* each height: our proposal, prevote and precommit */
    assert_true(pb.votes >= 2 * commits);
    assert_true(pb.proposals >= commits);
    if (pb.votes_durable != pb.votes || pb.proposals_durable != pb.proposals)
        fail_msg("published before logged: %u of %u votes, %u of %u proposals in the WAL",
                 pb.votes_durable, pb.votes, pb.proposals_durable, pb.proposals);
    assert_int_equal(pb.proposals_with_parts, pb.proposals);
    /* removed hooks: nothing more is published */
    csd_set_publish(d, NULL);
    unsigned before = pb.votes;
    commits = 0;
    assert_int_equal(run_shell(d, &mono, &wall, 1000, two_committed, &commits), 0);
    assert_true(commits >= 2);
    assert_int_equal(pb.votes, before);
    csd_free(d);
    privval_free(pv);
}

/* Two conflicting prevotes of validator `idx` of the set that signed height h. */
static void make_evidence(struct fx *f, uint64_t h, uint32_t idx, uint64_t time_ns,
                          struct evidence *ev)
{
    struct chain_state *sh = malloc(sizeof(*sh));
    stored_state(f, h - 1, sh);
    const struct validator_set *vals = &sh->validators; /* signs h */
    struct vote va, vb;
    memset(&va, 0, sizeof(va));
    va.type = VOTE_TYPE_PREVOTE;
    va.height = h;
    va.timestamp_ns = time_ns;
    memcpy(va.validator_address, vals->validators[idx].address, 20);
    va.validator_index = (int32_t)idx;
    vb = va;
    memset(va.block_id.hash, 0x31, 32);
    va.block_id.parts.total = 1;
    memset(va.block_id.parts.hash, 0x32, 32);
    struct vote *vs[2] = {&va, &vb};
    for (int k = 0; k < 2; k++) {
        uint8_t buf[SIGN_BYTES_MAX];
        size_t len;
        assert_int_equal(sign_bytes_vote(vs[k], CHAIN, buf, &len), 0);
        assert_int_equal(
            ed25519_sign(key_of(vals->validators[idx].pub_key), buf, len, vs[k]->signature), 0);
    }
    assert_int_equal(evidence_from_votes(&va, &vb, vals, time_ns, ev), 0);
    free(sh);
}

static void evidence_checked_and_passed_on(void **state)
{
    struct fx *f = *state;
    fresh_handshake(f);
    commit_height(f, NULL);
    commit_height(f, NULL);
    struct blockstore_meta m1;
    assert_int_equal(blockstore_load_meta(f->bs, 1, &m1), 0);
    struct evidence ev[2];
    make_evidence(f, 1, 2, m1.time_ns, &ev[0]);
    make_evidence(f, 1, 1, m1.time_ns + 1, &ev[1]); /* a time other than block 1's */

    char why[256];
    struct built x;
    for (int bad = 1; bad >= 0; bad--) {
        block_init(&x.b);
        f->now_ns = f->s->last_block_time_ns + SEC;
        assert_int_equal(blockexec_build(&f->bx, f->s, f->now_ns, proposer_of(f->s),
                                         &f->last_commit, &ev[bad], 1, &x.b, &x.enc, &x.len),
                         0);
        block_id_of(&x.b, x.enc, x.len, &x.id);
        int err = blockexec_validate(&f->bx, f->s, &x.b, proposer_of(f->s), f->now_ns, SEC, why,
                                     sizeof(why));
        if (bad) {
            assert_int_equal(err, PX_EINVAL);
            assert_non_null(strstr(why, "carries a time"));
            built_fini(&x);
        } else if (err) {
            fail_msg("validate: %s", why);
        }
    }
    struct commit seen;
    sign_commit(&seen, &f->s->validators, 3, &x.id, f->now_ns);
    assert_int_equal(blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, NULL), 0);
    assert_int_equal(f->app.misbehavior_seen, 1);
    assert_int_equal(f->app.misbehavior_height, 1);
    assert_int_equal(f->app.misbehavior_power, 10);
    commit_fini(&f->last_commit);
    f->last_commit = seen;
    built_fini(&x);

    /* a forged signature in the evidence */
    struct blockstore_meta m2;
    assert_int_equal(blockstore_load_meta(f->bs, 2, &m2), 0);
    make_evidence(f, 2, 0, m2.time_ns, &ev[0]);
    ev[0].vote_b.signature[9] ^= 1;
    block_init(&x.b);
    f->now_ns = f->s->last_block_time_ns + SEC;
    assert_int_equal(blockexec_build(&f->bx, f->s, f->now_ns, proposer_of(f->s), &f->last_commit,
                                     &ev[0], 1, &x.b, &x.enc, &x.len),
                     0);
    assert_int_equal(
        blockexec_validate(&f->bx, f->s, &x.b, proposer_of(f->s), f->now_ns, SEC, why, sizeof(why)),
        PX_EINVAL);
    assert_non_null(strstr(why, "evidence 0 is invalid"));
    built_fini(&x);
}

/* ---- the real kvledger, killed with SIGKILL around our calls -------------------------- */

struct kvl {
    char bin[600];
    char home[400];
    char addr[400];
    char log[400];
    pid_t pid;
    struct abci_client *cli;
};

static bool kvl_down(void *user)
{
    struct kvl *k = user;
    return !abci_client_connected(k->cli, ABCI_CONN_CONSENSUS);
}

static void kvl_start(struct kvl *k)
{
    const char *argv[] = {k->bin, "--listen", k->addr, "--home", k->home, NULL};
    k->pid = pxt_spawn(argv, k->log);
    assert_true(k->pid > 0);
    assert_int_equal(abci_client_wait_connected(k->cli, 60000), 0);
}

static void kvl_kill(struct kvl *k)
{
    assert_int_equal(pxt_stop(k->pid, SIGKILL, 10000, NULL), 0);
    k->pid = 0;
    assert_true(pxt_wait_until(kvl_down, k, 10000));
}

/* 24 heights against kvledger; the app is killed before block execution (the block is
 * saved, FinalizeBlock fails: the handshake after its restart executes it), right after
 * a height (the handshake finds all in step), and after a stored state is wiped from the
 * app's view (its home removed: InitChain and a full replay). */
static void kvledger_kill9(void **state)
{
    struct fx *f = *state;
    struct kvl k;
    memset(&k, 0, sizeof(k));
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    /* build-dir/test/unit/test_blockexec -> build-dir/apps/kvledger/kvledger */
    snprintf(k.bin, sizeof(k.bin), "%s/../../apps/kvledger/kvledger", dirname(exe));
    if (access(k.bin, X_OK) != 0) {
        print_message("kvledger is not built (%s): ninja apps/kvledger/kvledger\n", k.bin);
        skip();
    }
    snprintf(k.home, sizeof(k.home), "%s/kvhome", f->dir);
    snprintf(k.addr, sizeof(k.addr), "ipc://%s/kvl.sock", f->dir);
    snprintf(k.log, sizeof(k.log), "%s/kvledger.log", f->dir);
    struct abci_client_config cc = {
        .addr = k.addr, .timeout_ms = 20000, .reconnect_min_ms = 10, .reconnect_max_ms = 100};
    assert_int_equal(abci_client_new(&cc, &k.cli), 0);
    kvl_start(&k);
    close_stores(f);
    open_stores(f, "kvl");
    f->bx.app = k.cli;
    fresh_handshake(f);

    int kills = 0;
    for (int h = 1; h <= 24; h++) {
        char tx[32];
        snprintf(tx, sizeof(tx), "key%d=value%d", h % 5, h);
        add_tx(f, tx);
        struct built x;
        assert_int_equal(build(f, &f->last_commit, &x), 0);
        char why[256];
        if (blockexec_validate(&f->bx, f->s, &x.b, proposer_of(f->s), f->now_ns, SEC, why,
                               sizeof(why)) != 0)
            fail_msg("validate at %d: %s", h, why);
        struct commit seen;
        sign_commit(&seen, &f->s->validators, (uint64_t)h, &x.id, f->now_ns);
        if (h % 5 == 2) {
            kvl_kill(&k);
            kills++;
            int err = blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, NULL);
            assert_true(err == PX_ECLOSED || err == PX_ETIMEDOUT);
            assert_int_equal(f->s->last_height, (uint64_t)h - 1);
            kvl_start(&k);
            fresh_handshake(f); /* finishes h */
        } else {
            assert_int_equal(blockexec_apply(&f->bx, f->s, &x.b, x.enc, x.len, &x.id, &seen, NULL),
                             0);
        }
        assert_int_equal(f->s->last_height, (uint64_t)h);
        if (h % 5 == 4) {
            kvl_kill(&k);
            kills++;
            kvl_start(&k);
            fresh_handshake(f);
            assert_int_equal(f->s->last_height, (uint64_t)h);
        }
        if (h == 17) { /* the app's data lost: InitChain and replay of 1..17 */
            kvl_kill(&k);
            kills++;
            assert_int_equal(pxt_rmtree(k.home), 0);
            kvl_start(&k);
            fresh_handshake(f);
            assert_int_equal(f->s->last_height, (uint64_t)h);
        }
        commit_fini(&f->last_commit);
        f->last_commit = seen;
        built_fini(&x);
    }
    print_message("kvledger killed %d times over 24 heights\n", kills);
    kvl_kill(&k);
    abci_client_free(k.cli);
    f->bx.app = f->cli;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(chain_advances, setup, teardown),
        cmocka_unit_test_setup_teardown(validate_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(diverged_app_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(conflict_at_stored_height, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_app_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_crash_between_block_and_state, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_app_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(validator_update_at_h_plus_2, setup, teardown),
        cmocka_unit_test_setup_teardown(build_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(build_full_mempool, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_refuses_lost_block_store, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_refuses_stores_out_of_step, setup, teardown),
        cmocka_unit_test_setup_teardown(genesis_without_validators, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_on_damaged_store_is_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(consensus_stops_on_damaged_store, setup, teardown),
        cmocka_unit_test_setup_teardown(own_messages_published_after_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(evidence_checked_and_passed_on, setup, teardown),
        cmocka_unit_test_setup_teardown(kvledger_kill9, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
