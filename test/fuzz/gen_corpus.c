/*
 * gen_corpus: writes the seed corpora of the fuzz targets (test/fuzz/corpus/<target>/)
 * from valid values built with the project's own encoders, so that every fuzzer starts
 * from well-formed messages of each kind and mutates from there. Signatures and keys are
 * fixed test bytes (the decoders check sizes, not signatures). Deterministic: the same
 * build writes the same files.
 *
 * usage: fuzz_gen_corpus OUT_DIR SOURCE_ROOT   (tools/fuzz --seed-corpus runs it)
 * Never writes outside OUT_DIR (and one temporary WAL file inside it).
 */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abci_codec.h"
#include "chainstate.h"
#include "cmsg.h"
#include "codec.h"
#include "config.h"
#include "genesis.h"
#include "kv_tx.h"
#include "ledger_tx.h"
#include "p2p_codec.h"
#include "p2p_frame.h"
#include "px_error.h"
#include "wal.h"
#include "walcodec.h"

static const char *out_dir;

static void die(const char *what, int rc)
{
    fprintf(stderr, "gen_corpus: %s failed: %d\n", what, rc);
    exit(1);
}

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            die(#call, rc_);                                                                       \
    } while (0)

/* Write prefix (if any) then data to OUT_DIR/target/name. */
static void emit(const char *target, const char *name, int prefix, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die("mkdir", -errno);
    snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path, -errno);
    if (prefix >= 0)
        fputc(prefix, f);
    if (len && fwrite(data, 1, len, f) != len)
        die("fwrite", -1);
    if (fclose(f) != 0)
        die("fclose", -1);
}

static void emit_free(const char *target, const char *name, int prefix, uint8_t *data, size_t len)
{
    emit(target, name, prefix, data, len);
    free(data);
}

/* ---- the types ----------------------------------------------------------------------- */

#define CHAIN "fuzz-chain"
#define N_VALS 4

static struct validator_set vs;
static struct block_id bid1;

static void make_set(void)
{
    struct validator vals[N_VALS];
    memset(vals, 0, sizeof(vals));
    for (int i = 0; i < N_VALS; i++) {
        memset(vals[i].pub_key, 0x10 + i, sizeof(vals[i].pub_key));
        uint8_t h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, vals[i].pub_key, sizeof(vals[i].pub_key));
        memcpy(vals[i].address, h, sizeof(vals[i].address));
        vals[i].voting_power = 10 + i;
    }
    OK(validator_set_init(&vs, vals, N_VALS));
}

static void make_vote(struct vote *v, enum vote_type type, uint64_t height, int32_t round,
                      uint32_t idx, const struct block_id *id)
{
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->height = height;
    v->round = round;
    if (id)
        v->block_id = *id;
    v->timestamp_ns = 1700000000000000000ull + height * 1000 + idx;
    memcpy(v->validator_address, vs.validators[idx].address, VOTE_ADDRESS_SIZE);
    v->validator_index = (int32_t)idx;
    memset(v->signature, 0xA0 + (int)idx, VOTE_SIGNATURE_SIZE);
}

static void make_commit(struct commit *c, uint64_t height, const struct block_id *id)
{
    OK(commit_init(c, height, 0, id, vs.count));
    for (uint32_t i = 0; i + 1 < vs.count; i++) {
        struct vote v;
        make_vote(&v, VOTE_TYPE_PRECOMMIT, height, 0, i, id);
        OK(commit_add_vote(c, i, &v));
    }
}

static void block_params_for(struct block_params *p, uint64_t height)
{
    static const uint8_t app_hash[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memset(p, 0, sizeof(*p));
    p->chain_id = CHAIN;
    p->height = height;
    p->time_ns = 1700000000000000000ull + height;
    p->validators = &vs;
    p->next_validators = &vs;
    block_consensus_hash(22020096, -1, p->consensus_hash);
    p->app_hash = app_hash;
    p->app_hash_len = sizeof(app_hash);
    memcpy(p->proposer_address, vs.validators[0].address, HEADER_ADDRESS_SIZE);
}

static struct block b1, b2;
static struct commit c1;
static struct evidence ev;
static uint8_t *b2_enc;
static size_t b2_len;

static void gen_types(void)
{
    static const uint8_t *const txs[] = {(const uint8_t *)"name=satoshi",
                                         (const uint8_t *)"del:name", (const uint8_t *)"a=b"};
    static const size_t lens[] = {12, 8, 3};
    struct block_params p;
    block_params_for(&p, 1);
    block_init(&b1);
    OK(block_make(&b1, &p, txs, lens, 3, NULL, 0));
    struct part_set ps1;
    OK(block_to_parts(&b1, &ps1, &bid1));
    make_commit(&c1, 1, &bid1);

    struct vote va, vb;
    struct block_id other = bid1;
    other.hash[0] ^= 0xFF;
    make_vote(&va, VOTE_TYPE_PREVOTE, 1, 0, 1, &bid1);
    make_vote(&vb, VOTE_TYPE_PREVOTE, 1, 0, 1, &other);
    OK(evidence_from_votes(&va, &vb, &vs, p.time_ns, &ev));

    block_params_for(&p, 2);
    p.last_block_id = bid1;
    p.last_commit = &c1;
    block_init(&b2);
    OK(block_make(&b2, &p, txs, lens, 2, &ev, 1));
    struct part_set ps2;
    struct block_id bid2;
    OK(block_to_parts(&b2, &ps2, &bid2));

    uint8_t *e;
    size_t n;
    struct vote v;
    make_vote(&v, VOTE_TYPE_PREVOTE, 5, 1, 2, &bid1);
    OK(codec_vote_encode(&v, &e, &n));
    emit_free("codec", "vote-prevote", 0, e, n);
    make_vote(&v, VOTE_TYPE_PRECOMMIT, 5, 0, 0, NULL);
    OK(codec_vote_encode(&v, &e, &n));
    emit_free("codec", "vote-precommit-nil", 0, e, n);

    struct proposal pr = {.height = 2,
                          .round = 1,
                          .pol_round = 0,
                          .block_id = bid2,
                          .timestamp_ns = 1700000000000000002ull};
    memset(pr.signature, 0xCC, sizeof(pr.signature));
    OK(codec_proposal_encode(&pr, &e, &n));
    emit_free("codec", "proposal", 1, e, n);
    OK(codec_block_id_encode(&bid1, &e, &n));
    emit_free("codec", "block-id", 2, e, n);
    OK(codec_part_set_header_encode(&bid1.parts, &e, &n));
    emit_free("codec", "part-set-header", 3, e, n);
    OK(codec_header_encode(&b2.header, &e, &n));
    emit_free("codec", "header", 4, e, n);
    OK(codec_commit_encode(&c1, &e, &n));
    emit_free("codec", "commit", 5, e, n);
    OK(codec_evidence_encode(&ev, &e, &n));
    emit_free("codec", "evidence", 6, e, n);
    OK(codec_validator_set_encode(&vs, &e, &n));
    emit_free("codec", "validator-set", 7, e, n);
    OK(codec_block_encode(&b1, &e, &n));
    emit_free("codec", "block-1", 8, e, n);
    OK(codec_block_encode(&b2, &b2_enc, &b2_len));
    emit("codec", "block-2", 8, b2_enc, b2_len);
    OK(codec_part_encode(&ps2.parts[0], &e, &n));
    emit_free("codec", "part", 9, e, n);

    /* the gossip messages that carry them */
    struct cmsg m = {.kind = CMSG_NEW_ROUND_STEP,
                     .height = 2,
                     .round = 1,
                     .step = 3,
                     .base = 1,
                     .last_height = 1};
    OK(cmsg_encode(&m, &e, &n));
    emit_free("cmsg", "new-round-step", -1, e, n);
    uint8_t *inner;
    size_t inner_len;
    OK(codec_proposal_encode(&pr, &inner, &inner_len));
    m = (struct cmsg){.kind = CMSG_PROPOSAL, .a = inner, .a_len = inner_len};
    OK(cmsg_encode(&m, &e, &n));
    emit_free("cmsg", "proposal", -1, e, n);
    free(inner);
    OK(codec_part_encode(&ps2.parts[0], &inner, &inner_len));
    m = (struct cmsg){
        .kind = CMSG_BLOCK_PART, .height = 2, .round = 1, .a = inner, .a_len = inner_len};
    OK(cmsg_encode(&m, &e, &n));
    emit_free("cmsg", "block-part", -1, e, n);
    free(inner);
    make_vote(&v, VOTE_TYPE_PRECOMMIT, 2, 1, 3, &bid2);
    OK(codec_vote_encode(&v, &inner, &inner_len));
    m = (struct cmsg){.kind = CMSG_VOTE, .a = inner, .a_len = inner_len};
    OK(cmsg_encode(&m, &e, &n));
    emit_free("cmsg", "vote", -1, e, n);
    free(inner);
    m = (struct cmsg){.kind = CMSG_HAS_VOTE, .height = 2, .round = 1, .step = 2, .index = 3};
    OK(cmsg_encode(&m, &e, &n));
    emit_free("cmsg", "has-vote", -1, e, n);
    m = (struct cmsg){.kind = CMSG_BLOCK_REQUEST, .height = 1};
    OK(cmsg_encode(&m, &e, &n));
    emit_free("cmsg", "block-request", -1, e, n);
    uint8_t *cenc;
    size_t clen;
    OK(codec_block_encode(&b1, &inner, &inner_len));
    OK(codec_commit_encode(&c1, &cenc, &clen));
    m = (struct cmsg){.kind = CMSG_BLOCK_RESPONSE,
                      .height = 1,
                      .a = inner,
                      .a_len = inner_len,
                      .b = cenc,
                      .b_len = clen};
    OK(cmsg_encode(&m, &e, &n));
    emit_free("cmsg", "block-response", -1, e, n);
    free(inner);
    free(cenc);
    m = (struct cmsg){.kind = CMSG_NO_BLOCK, .height = 9};
    OK(cmsg_encode(&m, &e, &n));
    emit_free("cmsg", "no-block", -1, e, n);

    /* the node's WAL payloads */
    struct cs_input in;
    memset(&in, 0, sizeof(in));
    in.now_ns = 123456789;
    in.wall_ns = 1700000000000000000ull;
    in.type = CS_INPUT_START_HEIGHT;
    in.u.start.height = 2;
    OK(walcodec_encode_input(&in, &e, &n));
    emit_free("walcodec", "start-height", -1, e, n);
    in.type = CS_INPUT_PROPOSAL;
    in.u.proposal.proposal = pr;
    in.u.proposal.validator_index = 0;
    OK(walcodec_encode_input(&in, &e, &n));
    emit_free("walcodec", "proposal", -1, e, n);
    in.type = CS_INPUT_OWN_VOTE;
    in.u.vote = v;
    OK(walcodec_encode_input(&in, &e, &n));
    emit_free("walcodec", "own-vote", -1, e, n);
    in.type = CS_INPUT_BLOCK_COMPLETE;
    in.u.block.height = 2;
    in.u.block.block_id = bid2;
    OK(walcodec_encode_input(&in, &e, &n));
    emit_free("walcodec", "block-complete", -1, e, n);
    in.type = CS_INPUT_TIMEOUT;
    in.u.timeout.height = 2;
    in.u.timeout.round = 1;
    in.u.timeout.step = 2;
    OK(walcodec_encode_input(&in, &e, &n));
    emit_free("walcodec", "timeout", -1, e, n);
    in.type = CS_INPUT_BLOCK_VALIDATED;
    in.u.validated.height = 2;
    in.u.validated.block_id = bid2;
    in.u.validated.valid = true;
    OK(walcodec_encode_input(&in, &e, &n));
    emit_free("walcodec", "block-validated", -1, e, n);
    struct vote cv[3];
    for (uint32_t i = 0; i < 3; i++)
        make_vote(&cv[i], VOTE_TYPE_PRECOMMIT, 2, 0, i, &bid2);
    in.type = CS_INPUT_COMMIT;
    in.u.commit.height = 2;
    in.u.commit.round = 0;
    in.u.commit.block_id = bid2;
    in.u.commit.votes = cv;
    in.u.commit.count = 3;
    OK(walcodec_encode_input(&in, &e, &n));
    emit_free("walcodec", "commit", -1, e, n);
    uint8_t hdr[WALCODEC_BLOCK_HEADER];
    size_t hlen = walcodec_encode_block_header(2, &bid2, hdr);
    uint8_t *rec = malloc(hlen + b2_len);
    if (!rec)
        die("malloc", PX_ENOMEM);
    memcpy(rec, hdr, hlen);
    memcpy(rec + hlen, b2_enc, b2_len);
    emit_free("walcodec", "block", -1, rec, hlen + b2_len);

    part_set_fini(&ps1);
    part_set_fini(&ps2);
}

/* ---- p2p ---------------------------------------------------------------------------------- */

static void gen_p2p(void)
{
    uint8_t buf[4096];
    size_t n;
    struct p2p_auth a;
    memset(&a, 0, sizeof(a));
    memset(a.pk, 0x21, sizeof(a.pk));
    memset(a.sig, 0x42, sizeof(a.sig));
    a.version = P2P_PROTOCOL_VERSION;
    strcpy(a.network, CHAIN);
    OK(p2p_codec_auth_encode(&a, buf, sizeof(buf), &n));
    emit("p2p_codec", "auth", 1, buf, n);
    struct p2p_packet p = {.type = P2P_PACKET_PING};
    OK(p2p_codec_packet_encode(&p, buf, sizeof(buf), &n));
    emit("p2p_codec", "ping", 0, buf, n);
    p.type = P2P_PACKET_PONG;
    OK(p2p_codec_packet_encode(&p, buf, sizeof(buf), &n));
    emit("p2p_codec", "pong", 0, buf, n);
    p = (struct p2p_packet){.type = P2P_PACKET_MSG,
                            .channel = 0x22,
                            .eof = true,
                            .data = (const uint8_t *)"hello",
                            .len = 5};
    OK(p2p_codec_packet_encode(&p, buf, sizeof(buf), &n));
    emit("p2p_codec", "msg", 0, buf, n);

    /* frames: a plaintext to seal (odd), and a stream sealed under another key (even) */
    emit("p2p_frame", "plaintext", 1, buf, n);
    uint8_t key[P2P_FRAME_KEY_BYTES];
    memset(key, 0x42, sizeof(key));
    struct p2p_frame_key k;
    p2p_frame_key_init(&k, key);
    uint8_t stream[8192];
    size_t off = 0, flen;
    for (int i = 0; i < 3; i++) {
        OK(p2p_frame_seal(&k, buf, n, stream + off, sizeof(stream) - off, &flen));
        off += flen;
    }
    emit("p2p_frame", "stream", 0, stream, off);
    p2p_frame_key_fini(&k);
}

/* ---- ABCI ----------------------------------------------------------------------------- */

static void emit_msg(const char *name, int prefix, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        die("malloc", PX_ENOMEM);
    protobuf_c_message_pack(m, buf);
    emit_free("abci", name, prefix, buf, n);
}

static void gen_abci(void)
{
    ProtobufCBinaryData txs[2] = {{12, (uint8_t *)"name=satoshi"}, {8, (uint8_t *)"del:name"}};

    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__RequestEcho echo = PHALANX__ABCI__REQUEST_ECHO__INIT;
    echo.message = "hello";
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_ECHO;
    req.echo = &echo;
    emit_msg("req-echo", 0, &req.base);

    Phalanx__Abci__RequestInfo info = PHALANX__ABCI__REQUEST_INFO__INIT;
    info.version = "0.1.0";
    info.block_version = 1;
    info.abci_version = "1.0.0";
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INFO;
    req.info = &info;
    emit_msg("req-info", 0, &req.base);

    Phalanx__Abci__RequestCheckTx ct = PHALANX__ABCI__REQUEST_CHECK_TX__INIT;
    ct.tx = txs[0];
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX;
    req.check_tx = &ct;
    emit_msg("req-check-tx", 0, &req.base);

    Phalanx__Abci__RequestCheckTxBatch ctb = PHALANX__ABCI__REQUEST_CHECK_TX_BATCH__INIT;
    ctb.n_txs = 2;
    ctb.txs = txs;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_CHECK_TX_BATCH;
    req.check_tx_batch = &ctb;
    emit_msg("req-check-tx-batch", 0, &req.base);

    Phalanx__Abci__Timestamp ts = PHALANX__ABCI__TIMESTAMP__INIT;
    ts.seconds = 1700000000;
    ts.nanos = 5;
    Phalanx__Abci__RequestFinalizeBlock fb = PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    fb.n_txs = 2;
    fb.txs = txs;
    fb.height = 2;
    fb.time = &ts;
    fb.hash = (ProtobufCBinaryData){32, bid1.hash};
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    req.finalize_block = &fb;
    emit_msg("req-finalize-block", 0, &req.base);

    Phalanx__Abci__RequestCommit cm = PHALANX__ABCI__REQUEST_COMMIT__INIT;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_COMMIT;
    req.commit = &cm;
    emit_msg("req-commit", 0, &req.base);

    Phalanx__Abci__Response resp = PHALANX__ABCI__RESPONSE__INIT;
    Phalanx__Abci__ResponseEcho recho = PHALANX__ABCI__RESPONSE_ECHO__INIT;
    recho.message = "hello";
    resp.value_case = PHALANX__ABCI__RESPONSE__VALUE_ECHO;
    resp.echo = &recho;
    emit_msg("resp-echo", 1, &resp.base);

    Phalanx__Abci__ResponseException ex = PHALANX__ABCI__RESPONSE_EXCEPTION__INIT;
    ex.error = "boom";
    resp.value_case = PHALANX__ABCI__RESPONSE__VALUE_EXCEPTION;
    resp.exception = &ex;
    emit_msg("resp-exception", 1, &resp.base);

    static uint8_t app_hash[32] = {9, 9, 9};
    Phalanx__Abci__ResponseInfo rinfo = PHALANX__ABCI__RESPONSE_INFO__INIT;
    rinfo.data = "kvledger";
    rinfo.last_block_height = 7;
    rinfo.last_block_app_hash = (ProtobufCBinaryData){32, app_hash};
    resp.value_case = PHALANX__ABCI__RESPONSE__VALUE_INFO;
    resp.info = &rinfo;
    emit_msg("resp-info", 1, &resp.base);

    Phalanx__Abci__ResponseCheckTx rct = PHALANX__ABCI__RESPONSE_CHECK_TX__INIT;
    rct.code = 1;
    rct.log = "bad tx";
    Phalanx__Abci__ResponseCheckTx *rcts[2] = {&rct, &rct};
    Phalanx__Abci__ResponseCheckTxBatch rctb = PHALANX__ABCI__RESPONSE_CHECK_TX_BATCH__INIT;
    rctb.n_results = 2;
    rctb.results = rcts;
    resp.value_case = PHALANX__ABCI__RESPONSE__VALUE_CHECK_TX_BATCH;
    resp.check_tx_batch = &rctb;
    emit_msg("resp-check-tx-batch", 1, &resp.base);

    Phalanx__Abci__ExecTxResult r0 = PHALANX__ABCI__EXEC_TX_RESULT__INIT;
    Phalanx__Abci__ExecTxResult *rs[2] = {&r0, &r0};
    Phalanx__Abci__ResponseFinalizeBlock rfb = PHALANX__ABCI__RESPONSE_FINALIZE_BLOCK__INIT;
    rfb.n_tx_results = 2;
    rfb.tx_results = rs;
    rfb.app_hash = (ProtobufCBinaryData){32, app_hash};
    resp.value_case = PHALANX__ABCI__RESPONSE__VALUE_FINALIZE_BLOCK;
    resp.finalize_block = &rfb;
    emit_msg("resp-finalize-block", 1, &resp.base);
}

/* ---- files: WAL, chain state, genesis, node.conf --------------------------------------- */

static void emit_file(const char *target, const char *name, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, -errno);
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    emit(target, name, -1, buf, n);
}

static void gen_wal(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tmp-cs.wal", out_dir);
    unlink(path);
    struct wal *w;
    OK(wal_open(path, NULL, &w));
    OK(wal_append(w, WAL_KIND_INPUT, "\x01\x01\x01", 3, false));
    OK(wal_end_height(w, 1));
    OK(wal_append(w, WAL_KIND_INPUT, "abcdef", 6, true));
    OK(wal_append(w, WAL_KIND_OWN_MESSAGE, "own", 3, true));
    OK(wal_append(w, WAL_KIND_TIMEOUT, "t", 1, false));
    OK(wal_close(w));
    emit_file("wal", "three-heights", path);
    /* a torn tail: half a record appended */
    FILE *f = fopen(path, "ab");
    if (!f)
        die("fopen", -errno);
    fwrite("\x10\x00\x00\x00\xde\xad", 1, 6, f);
    fclose(f);
    emit_file("wal", "torn-tail", path);
    unlink(path);
}

static void gen_state_and_config(const char *src_root)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/conf/genesis.json", src_root);
    emit_file("genesis", "conf-genesis.json", path);
    snprintf(path, sizeof(path), "%s/conf/node.conf", src_root);
    emit_file("config", "conf-node.conf", path);
    static const char small_conf[] =
        "moniker = \"fuzz\";\n"
        "p2p = { listen_addr = \"tcp://0.0.0.0:26656\";\n"
        "  persistent_peers = [\"0123456789abcdef0123456789abcdef01234567@127.0.0.1:26666\"]; };\n"
        "consensus = { timeout_commit_ms = 500; create_empty_blocks = false; };\n"
        "log = { level = \"info,consensus=debug\"; };\n";
    emit("config", "small.conf", -1, small_conf, sizeof(small_conf) - 1);

    /* a genesis of our own 4 validators, and the chain state made from it */
    struct genesis g;
    memset(&g, 0, sizeof(g));
    g.genesis_time_ns = 1700000000000000000ull;
    strcpy(g.chain_id, CHAIN);
    g.initial_height = 1;
    genesis_default_params(&g.params);
    struct genesis_validator gv[N_VALS];
    memset(gv, 0, sizeof(gv));
    for (int i = 0; i < N_VALS; i++) {
        memcpy(gv[i].pub_key, vs.validators[i].pub_key, GENESIS_PUBKEY_SIZE);
        genesis_address_of(gv[i].pub_key, gv[i].address);
        gv[i].power = vs.validators[i].voting_power;
        snprintf(gv[i].name, sizeof(gv[i].name), "val%d", i);
    }
    g.n_validators = N_VALS;
    g.validators = gv;
    g.app_state = "{\"accounts\":[]}";
    char *text;
    OK(genesis_format(&g, &text));
    emit("genesis", "four-validators.json", -1, text, strlen(text));
    free(text);

    struct chain_state *s = calloc(1, sizeof(*s));
    if (!s)
        die("calloc", PX_ENOMEM);
    OK(chainstate_from_genesis(s, &g));
    uint8_t *e;
    size_t n;
    OK(chainstate_encode(s, &e, &n));
    emit_free("chainstate", "genesis-state", -1, e, n);
    s->last_height = 1;
    s->last_block_id = bid1;
    validator_set_copy(&s->last_validators, &s->validators);
    s->app_hash_len = 8;
    memset(s->app_hash, 7, 8);
    OK(chainstate_encode(s, &e, &n));
    emit_free("chainstate", "height-1", -1, e, n);
    free(s);
}

/* ---- kvledger transactions ------------------------------------------------------------- */

static void gen_kvledger(void)
{
    emit("kvledger_tx", "set", -1, "name=satoshi", 12);
    emit("kvledger_tx", "set-empty", -1, "k=", 2);
    emit("kvledger_tx", "delete", -1, "del:name", 8);
    uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
        sk[crypto_sign_SECRETKEYBYTES];
    memset(seed, 0x5E, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    uint8_t to[LEDGER_PUBKEY_LEN];
    memset(to, 0x77, sizeof(to));
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t n;
    OK(ledger_tx_build(CHAIN, sk, to, 1000, 0, tx, sizeof(tx), &n));
    emit("kvledger_tx", "ledger-transfer", -1, tx, n);
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s OUT_DIR SOURCE_ROOT\n", argv[0]);
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        die("mkdir", -errno);
    if (sodium_init() < 0)
        die("sodium_init", -1);
    make_set();
    gen_types();
    gen_p2p();
    gen_abci();
    gen_wal();
    gen_state_and_config(argv[2]);
    gen_kvledger();
    free(b2_enc);
    block_fini(&b1);
    block_fini(&b2);
    commit_fini(&c1);
    printf("gen_corpus: seeds written under %s\n", out_dir);
    return 0;
}
