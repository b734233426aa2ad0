/*
 * bench-abci-apply: the application's ceiling. Drives a fresh app (kvledger, or any app
 * speaking our ABCI) through the engine's own ABCI client with InitChain, then blocks of
 * many transactions (FinalizeBlock + Commit), and times them: how many txs per second the
 * app can apply with no consensus, network or mempool in front of it. KV txs of a given
 * size, or ledger transfers signed by accounts it funds at genesis.
 *
 * A benchmark, not a test: it prints numbers (text or one JSON object) and asserts none;
 * it fails only when the app does not answer or refuses a transaction it built. It talks
 * only to the address given and never keeps more than one block of txs in memory.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abci_client.h"
#include "ed25519.h"
#include "ledger_tx.h"
#include "px_encoding.h"
#include "px_error.h"

#define APPLY_MAX_BLOCKS 100000
#define APPLY_MAX_TXS 100000 /* per block */
#define APPLY_MAX_SIZE 16384
#define APPLY_CHAIN_ID "bench-apply"

struct opts {
    const char *addr;
    unsigned long blocks, txs, size;
    bool transfer, json;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-abci-apply --app ADDR [--blocks B] [--txs N] [--size BYTES]\n"
               "                        [--kind kv|transfer] [--json]\n\n"
               "Times InitChain, then B blocks of N txs (FinalizeBlock + Commit) against a\n"
               "fresh app at ADDR (tcp://127.0.0.1:PORT or ipc:///path) and prints the\n"
               "app's apply rate. Defaults: 20 blocks of 5000 txs of 250 bytes, kind kv.\n");
}

static bool parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int call(struct abci_client *c, const Phalanx__Abci__Request *req,
                Phalanx__Abci__Response **resp, const char *what)
{
    int rv = abci_client_call(c, ABCI_CONN_CONSENSUS, req, 60000, resp);
    if (rv != 0)
        fprintf(stderr, "bench-abci-apply: %s failed: %s (%s)\n", what, px_strerror(rv),
                abci_client_last_error(c, ABCI_CONN_CONSENSUS));
    return rv;
}

/* Genesis app_state funding each of the n keys (transfers), or "{}". */
static char *app_state(const struct ed25519_pubkey *pubs, size_t n)
{
    size_t cap = 64 + n * 96;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t len = (size_t)snprintf(s, cap, "{\"accounts\": [");
    for (size_t i = 0; i < n; i++) {
        char b64[PX_BASE64_LEN(32)];
        px_base64_encode(b64, sizeof(b64), pubs[i].bytes, 32);
        len += (size_t)snprintf(s + len, cap - len, "%s{\"pub_key\": \"%s\", \"balance\": \"%s\"}",
                                i ? ", " : "", b64, "1000000000000");
    }
    snprintf(s + len, cap - len, "]}");
    return s;
}

static int init_chain(struct abci_client *c, const char *state)
{
    Phalanx__Abci__RequestInitChain ic = PHALANX__ABCI__REQUEST_INIT_CHAIN__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__Timestamp t = PHALANX__ABCI__TIMESTAMP__INIT;
    Phalanx__Abci__ValidatorUpdate v = PHALANX__ABCI__VALIDATOR_UPDATE__INIT;
    Phalanx__Abci__ValidatorUpdate *vs[] = {&v};
    Phalanx__Abci__ConsensusParams cp = PHALANX__ABCI__CONSENSUS_PARAMS__INIT;
    Phalanx__Abci__BlockParams bp = PHALANX__ABCI__BLOCK_PARAMS__INIT;
    uint8_t pk[32];
    for (size_t i = 0; i < sizeof(pk); i++)
        pk[i] = (uint8_t)(0xB0 + i);
    t.seconds = 1700000000;
    v.pub_key.data = pk;
    v.pub_key.len = sizeof(pk);
    v.power = 10;
    v.pub_key_type = "ed25519";
    bp.max_bytes = 64 << 20;
    bp.max_gas = -1;
    cp.block = &bp;
    ic.time = &t;
    ic.chain_id = APPLY_CHAIN_ID;
    ic.consensus_params = &cp;
    ic.n_validators = 1;
    ic.validators = vs;
    ic.initial_height = 1;
    ic.app_state_bytes.data = (uint8_t *)state;
    ic.app_state_bytes.len = strlen(state);
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN;
    req.init_chain = &ic;
    Phalanx__Abci__Response *resp;
    int rv = call(c, &req, &resp, "InitChain");
    if (rv == 0)
        abci_response_free(resp);
    return rv;
}

struct block_time {
    uint64_t finalize_ns, commit_ns;
};

/* One block: FinalizeBlock(txs) then Commit; every tx must succeed. */
static int apply_block(struct abci_client *c, int64_t height, ProtobufCBinaryData *txs, size_t n,
                       struct block_time *bt)
{
    Phalanx__Abci__RequestFinalizeBlock fb = PHALANX__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    Phalanx__Abci__Request req = PHALANX__ABCI__REQUEST__INIT;
    Phalanx__Abci__Timestamp t = PHALANX__ABCI__TIMESTAMP__INIT;
    Phalanx__Abci__CommitInfo ci = PHALANX__ABCI__COMMIT_INFO__INIT;
    uint8_t hash[32], proposer[20];
    memset(hash, 0, sizeof(hash));
    memcpy(hash, &height, sizeof(height));
    memset(proposer, 0xB0, sizeof(proposer));
    t.seconds = 1700000000 + height;
    fb.n_txs = n;
    fb.txs = txs;
    fb.height = height;
    fb.time = &t;
    fb.hash.data = hash;
    fb.hash.len = sizeof(hash);
    fb.proposer_address.data = proposer;
    fb.proposer_address.len = sizeof(proposer);
    fb.decided_last_commit = &ci;
    req.value_case = PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    req.finalize_block = &fb;
    Phalanx__Abci__Response *resp;
    uint64_t t0 = now_ns();
    int rv = call(c, &req, &resp, "FinalizeBlock");
    if (rv != 0)
        return rv;
    uint64_t t1 = now_ns();
    for (size_t i = 0; i < resp->finalize_block->n_tx_results; i++) {
        const Phalanx__Abci__ExecTxResult *r = resp->finalize_block->tx_results[i];
        if (r->code != 0) {
            fprintf(stderr, "bench-abci-apply: height %" PRId64 " tx %zu refused: code %u: %s\n",
                    height, i, r->code, r->log ? r->log : "");
            abci_response_free(resp);
            return PX_EAPP;
        }
    }
    abci_response_free(resp);
    Phalanx__Abci__RequestCommit cm = PHALANX__ABCI__REQUEST_COMMIT__INIT;
    Phalanx__Abci__Request creq = PHALANX__ABCI__REQUEST__INIT;
    creq.value_case = PHALANX__ABCI__REQUEST__VALUE_COMMIT;
    creq.commit = &cm;
    rv = call(c, &creq, &resp, "Commit");
    if (rv != 0)
        return rv;
    abci_response_free(resp);
    bt->finalize_ns = t1 - t0;
    bt->commit_ns = now_ns() - t1;
    return 0;
}

static int run(const struct opts *o)
{
    if (ed25519_lib_init() != 0)
        return 1;
    struct abci_client_config cfg = {.addr = o->addr, .timeout_ms = 60000};
    struct abci_client *c;
    int rv = abci_client_new(&cfg, &c);
    if (rv != 0) {
        fprintf(stderr, "bench-abci-apply: cannot use app address '%s': %s\n", o->addr,
                px_strerror(rv));
        return 1;
    }
    size_t nkeys = o->transfer ? o->txs : 0;
    struct ed25519_privkey *keys = calloc(nkeys ? nkeys : 1, sizeof(*keys));
    struct ed25519_pubkey *pubs = calloc(nkeys ? nkeys : 1, sizeof(*pubs));
    ProtobufCBinaryData *txs = calloc(o->txs, sizeof(*txs));
    size_t txcap = o->transfer ? LEDGER_TX_MAX_LEN : o->size;
    uint8_t *buf = malloc(o->txs * txcap);
    char *state = NULL;
    int status = 1;
    uint8_t to[32];
    memset(to, 0x5A, sizeof(to));
    if (!keys || !pubs || !txs || !buf)
        goto out;
    for (size_t k = 0; k < nkeys; k++)
        if (ed25519_generate(&keys[k], &pubs[k]) != 0)
            goto out;
    if (nkeys) {
        struct ed25519_privkey rk;
        struct ed25519_pubkey rp;
        if (ed25519_generate(&rk, &rp) != 0)
            goto out;
        memcpy(to, rp.bytes, sizeof(to));
    }
    state = app_state(pubs, nkeys);
    if (!state)
        goto out;
    if (abci_client_wait_connected(c, 10000) != 0) {
        fprintf(stderr, "bench-abci-apply: no app answers at %s within 10 s\n", o->addr);
        goto out;
    }
    if (init_chain(c, state) != 0)
        goto out;
    uint64_t fin_total = 0, com_total = 0, build_total = 0, worst_ns = 0;
    for (unsigned long b = 0; b < o->blocks; b++) {
        uint64_t tb = now_ns();
        for (size_t i = 0; i < o->txs; i++) {
            uint8_t *p = buf + i * txcap;
            size_t len;
            if (o->transfer) {
                rv = ledger_tx_build(APPLY_CHAIN_ID, keys[i].bytes, to, 1, b, p, txcap, &len);
                if (rv != 0)
                    goto out;
            } else {
                int n = snprintf((char *)p, txcap, "apply-%lu-%zu=", b, i);
                for (size_t j = (size_t)n; j < o->size; j++)
                    p[j] = (uint8_t)('a' + (i + j) % 26);
                len = o->size;
            }
            txs[i].data = p;
            txs[i].len = len;
        }
        build_total += now_ns() - tb;
        struct block_time bt;
        if (apply_block(c, (int64_t)b + 1, txs, o->txs, &bt) != 0)
            goto out;
        fin_total += bt.finalize_ns;
        com_total += bt.commit_ns;
        if (bt.finalize_ns + bt.commit_ns > worst_ns)
            worst_ns = bt.finalize_ns + bt.commit_ns;
        if (!o->json)
            fprintf(stderr, "  block %lu: finalize %.1f ms, commit %.1f ms\n", b + 1,
                    (double)bt.finalize_ns / 1e6, (double)bt.commit_ns / 1e6);
    }
    double secs = (double)(fin_total + com_total) / 1e9;
    double total_txs = (double)o->blocks * (double)o->txs;
    double rate = secs > 0 ? total_txs / secs : 0;
    double fin_ms = (double)fin_total / 1e6 / (double)o->blocks;
    double com_ms = (double)com_total / 1e6 / (double)o->blocks;
    const char *kind = o->transfer ? "transfer" : "kv";
    if (o->json) {
        printf("{\"kind\":\"%s\",\"blocks\":%lu,\"txs_per_block\":%lu,\"size\":%lu,"
               "\"apply_tps\":%.1f,\"finalize_ms_per_block\":%.2f,\"commit_ms_per_block\":%.2f,"
               "\"worst_block_ms\":%.2f,\"client_build_s\":%.3f}\n",
               kind, o->blocks, o->txs, o->transfer ? (unsigned long)LEDGER_TX_LEN(11) : o->size,
               rate, fin_ms, com_ms, (double)worst_ns / 1e6, (double)build_total / 1e9);
    } else {
        printf("%s: %lu blocks of %lu txs: %.0f tx/s applied (FinalizeBlock %.1f ms + Commit "
               "%.1f ms per block, worst block %.1f ms)\n",
               kind, o->blocks, o->txs, rate, fin_ms, com_ms, (double)worst_ns / 1e6);
    }
    status = 0;
out:
    abci_client_free(c);
    if (keys)
        sodium_memzero(keys, (nkeys ? nkeys : 1) * sizeof(*keys));
    free(keys);
    free(pubs);
    free(txs);
    free(buf);
    free(state);
    return status;
}

int main(int argc, char **argv)
{
    struct opts o = {.blocks = 20, .txs = 5000, .size = 250};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            o.json = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        bool ok = v != NULL;
        if (ok && strcmp(a, "--app") == 0)
            o.addr = v;
        else if (ok && strcmp(a, "--blocks") == 0)
            ok = parse_ulong(v, 1, APPLY_MAX_BLOCKS, &o.blocks);
        else if (ok && strcmp(a, "--txs") == 0)
            ok = parse_ulong(v, 1, APPLY_MAX_TXS, &o.txs);
        else if (ok && strcmp(a, "--size") == 0)
            ok = parse_ulong(v, 24, APPLY_MAX_SIZE, &o.size);
        else if (ok && strcmp(a, "--kind") == 0 &&
                 (strcmp(v, "kv") == 0 || strcmp(v, "transfer") == 0))
            o.transfer = strcmp(v, "transfer") == 0;
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "bench-abci-apply: bad option '%s %s' (run with --help)\n", a,
                    v ? v : "");
            return 2;
        }
    }
    if (!o.addr) {
        fprintf(stderr, "bench-abci-apply: --app ADDR is required (run with --help)\n");
        return 2;
    }
    return run(&o);
}
