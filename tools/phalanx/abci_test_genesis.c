/*
 * abci_test_genesis: InitChain with the genesis edge cases of apps/kvledger/TXFORMAT.md §3
 * — the empty forms (null, {}, ...), balances at the bounds of the string and number
 * forms, every form the rules refuse, accounts listed against the order of their raw key
 * bytes, bad chain ids — and the initial heights 0 (means 1) and 5, the second InitChain
 * arriving over an uncommitted block (PROTOCOL.md §5.4). An accepted genesis must give
 * G of §5 (unless --own-app-hash), a refused one an Exception.
 *
 * InitChain may be repeated at height 0, so all of this runs before the script's own
 * InitChain; nothing is committed here.
 */
#include "abci_test.h"

#include <stdio.h>
#include <string.h>

#define RULE "TXFORMAT.md §3"
#define HEIGHT_RULE "the first height is the initial height: PROTOCOL.md §5.4"

/* Raw keys 32 x 0x00 and 32 x 0xFC: as base64 text "/Pz8..." sorts before "AAAA...", as
 * bytes after it. */
#define K00 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define KFC "/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pz8/Pw="
#define ONE(key, bal) "{\"accounts\":[{\"pub_key\":\"" key "\",\"balance\":" bal "}]}"

struct gcase {
    const char *name;
    const char *chain_id; /* NULL: the script's */
    const char *app_state;
    bool accepted;
    struct abci_test_account accts[2];
    size_t n;
};

static const struct gcase cases[] = {
    /* accepted: no accounts */
    {"empty bytes", NULL, "", true, {{{0}, 0}}, 0},
    {"null", NULL, "null", true, {{{0}, 0}}, 0},
    {"null with spaces", NULL, " null\n", true, {{{0}, 0}}, 0},
    {"{}", NULL, "{}", true, {{{0}, 0}}, 0},
    {"accounts null", NULL, "{\"accounts\":null}", true, {{{0}, 0}}, 0},
    {"accounts []", NULL, "{\"accounts\": [ ]}", true, {{{0}, 0}}, 0},
    {"escaped member name", NULL, "{\"\\u0061ccounts\":[]}", true, {{{0}, 0}}, 0},
    /* accepted: accounts (G sorts them by raw bytes; 0xFC.. after 0x00..) */
    {"sorted by raw key bytes",
     NULL,
     "{\"accounts\":[{\"pub_key\":\"" KFC "\",\"balance\":\"5\"},{\"pub_key\":\"" K00
     "\",\"balance\":\"0\"}]}",
     true,
     {{{0}, 5}, {{0}, 0}},
     2},
    {"balance 2^64-1 as a string",
     NULL,
     ONE(K00, "\"18446744073709551615\""),
     true,
     {{{0}, UINT64_MAX}},
     1},
    {"balance 2^53-1 as a number",
     NULL,
     ONE(K00, "9007199254740991"),
     true,
     {{{0}, 9007199254740991ull}},
     1},
    {"balance 0 as a number", NULL, ONE(K00, "0"), true, {{{0}, 0}}, 1},
    {"balance with an escape", NULL, ONE(K00, "\"\\u0031\""), true, {{{0}, 1}}, 1},
    /* refused: balances */
    {"number 2^53", NULL, ONE(K00, "9007199254740992"), false, {{{0}, 0}}, 0},
    {"number 2^64-1", NULL, ONE(K00, "18446744073709551615"), false, {{{0}, 0}}, 0},
    {"number -0", NULL, ONE(K00, "-0"), false, {{{0}, 0}}, 0},
    {"number -1", NULL, ONE(K00, "-1"), false, {{{0}, 0}}, 0},
    {"number 1.0", NULL, ONE(K00, "1.0"), false, {{{0}, 0}}, 0},
    {"number 1e3", NULL, ONE(K00, "1e3"), false, {{{0}, 0}}, 0},
    {"string 2^64", NULL, ONE(K00, "\"18446744073709551616\""), false, {{{0}, 0}}, 0},
    {"string \"01\"", NULL, ONE(K00, "\"01\""), false, {{{0}, 0}}, 0},
    {"string \"+1\"", NULL, ONE(K00, "\"+1\""), false, {{{0}, 0}}, 0},
    {"string \" 1\"", NULL, ONE(K00, "\" 1\""), false, {{{0}, 0}}, 0},
    {"string \"\"", NULL, ONE(K00, "\"\""), false, {{{0}, 0}}, 0},
    {"balance true", NULL, ONE(K00, "true"), false, {{{0}, 0}}, 0},
    {"balance missing", NULL, "{\"accounts\":[{\"pub_key\":\"" K00 "\"}]}", false, {{{0}, 0}}, 0},
    /* refused: keys */
    {"pub_key missing", NULL, "{\"accounts\":[{\"balance\":\"1\"}]}", false, {{{0}, 0}}, 0},
    {"non-canonical base64",
     NULL,
     ONE("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", "\"1\""),
     false,
     {{{0}, 0}},
     0},
    {"unpadded base64",
     NULL,
     ONE("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "\"1\""),
     false,
     {{{0}, 0}},
     0},
    {"url-safe base64",
     NULL,
     ONE("_Pz8_Pz8_Pz8_Pz8_Pz8_Pz8_Pz8_Pz8_Pz8_Pz8_Pw=", "\"1\""),
     false,
     {{{0}, 0}},
     0},
    {"31-byte key",
     NULL,
     ONE("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", "\"1\""),
     false,
     {{{0}, 0}},
     0},
    {"same key twice",
     NULL,
     "{\"accounts\":[{\"pub_key\":\"" K00 "\",\"balance\":\"1\"},{\"pub_key\":\"" K00
     "\",\"balance\":\"2\"}]}",
     false,
     {{{0}, 0}},
     0},
    /* refused: shape */
    {"unknown account field",
     NULL,
     "{\"accounts\":[{\"pub_key\":\"" K00 "\",\"balance\":\"1\",\"nonce\":\"0\"}]}",
     false,
     {{{0}, 0}},
     0},
    {"unknown top-level field", NULL, "{\"accounts\":[],\"validators\":[]}", false, {{{0}, 0}}, 0},
    {"repeated member", NULL, "{\"accounts\":[],\"accounts\":[]}", false, {{{0}, 0}}, 0},
    {"repeated account member",
     NULL,
     "{\"accounts\":[{\"pub_key\":\"" K00 "\",\"balance\":\"1\",\"balance\":\"1\"}]}",
     false,
     {{{0}, 0}},
     0},
    {"accounts not an array", NULL, "{\"accounts\":{}}", false, {{{0}, 0}}, 0},
    {"top-level array", NULL, "[]", false, {{{0}, 0}}, 0},
    {"top-level string", NULL, "\"accounts\"", false, {{{0}, 0}}, 0},
    {"not JSON", NULL, "{\"accounts\":[", false, {{{0}, 0}}, 0},
    {"trailing comma", NULL, "{\"accounts\":[],}", false, {{{0}, 0}}, 0},
    {"UTF-8 byte order mark", NULL, "\xef\xbb\xbfnull", false, {{{0}, 0}}, 0},
    /* refused: chain ids (1..50 bytes of 0x21..0x7E) */
    {"chain id empty", "", "", false, {{{0}, 0}}, 0},
    {"chain id with a space", "abci test", "", false, {{{0}, 0}}, 0},
    {"chain id non-ASCII", "caf\xc3\xa9", "", false, {{{0}, 0}}, 0},
    {"chain id of 51 bytes",
     "ccccccccccccccccccccccccccccccccccccccccccccccccccc",
     "",
     false,
     {{{0}, 0}},
     0},
};

/* The raw keys of an accepted case, which the table cannot spell. */
static void case_accounts(const struct gcase *c, struct abci_test_account *out)
{
    memcpy(out, c->accts, sizeof(c->accts));
    if (strcmp(c->name, "sorted by raw key bytes") == 0)
        memset(out[0].pub, 0xfc, 32); /* K00 stays zero */
}

/* InitChain answered normally (NULL after reporting the failure) or, when refused is set,
 * with an Exception (then NULL; *refused_ok says whether it was). */
static Phalanx__Abci__Response *init_chain(struct abci_test *t, const char *step,
                                           const char *chain_id, int64_t initial_height,
                                           const char *app_state, bool *refused_ok)
{
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestInitChain ic;
    Phalanx__Abci__Timestamp ts;
    abci_test_init_chain_req(&req, &ic, &ts, chain_id, initial_height, (const uint8_t *)app_state,
                             strlen(app_state));
    if (refused_ok) {
        *refused_ok = abci_test_expect_exception(t, step, RULE, ABCI_CONN_CONSENSUS, &req);
        return NULL;
    }
    return abci_test_call(t, step, ABCI_CONN_CONSENSUS, &req);
}

/* The answer's hash is want (or, with --own-app-hash, any hash): reports step. */
static bool hash_is(struct abci_test *t, const char *step, ProtobufCBinaryData got,
                    const uint8_t want[32], const char *what)
{
    char g[2 * ABCI_TEST_HASH_MAX + 1], w[2 * ABCI_TEST_HASH_MAX + 1];
    abci_test_hex(g, sizeof(g), got.data, got.len);
    if (t->own_hash) {
        abci_test_report(t, true, step, "accepted, app hash %s", g);
        return true;
    }
    abci_test_hex(w, sizeof(w), want, 32);
    bool ok = got.len == 32 && memcmp(got.data, want, 32) == 0;
    if (ok)
        abci_test_report(t, true, step, "app hash %s", g);
    else
        abci_test_report(t, false, step, "app hash %s, expected %s (%s)", g, w, what);
    return ok;
}

/* FinalizeBlock(height) of one KV tx on top of genesis hash g; not committed. */
static bool finalize_on(struct abci_test *t, const char *step, int64_t height, const uint8_t g[32])
{
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestFinalizeBlock fb;
    Phalanx__Abci__Timestamp ts;
    Phalanx__Abci__CommitInfo ci;
    uint8_t hash[32], proposer[20];
    ProtobufCBinaryData tx = {strlen("abci-test/ih=1"), (uint8_t *)"abci-test/ih=1"};
    abci_test_finalize_req(&req, &fb, &ts, &ci, hash, proposer, height, &tx, 1);
    Phalanx__Abci__Response *resp = abci_test_call(t, step, ABCI_CONN_CONSENSUS, &req);
    if (!resp)
        return false;
    uint32_t code =
        resp->finalize_block->n_tx_results == 1 ? resp->finalize_block->tx_results[0]->code : 1u;
    uint8_t want[32];
    abci_test_block_hash(g, height, &tx, &code, 1, want);
    bool ok;
    if (code != 0) {
        abci_test_report(t, false, step, "tx abci-test/ih=1: code %u, expected 0", code);
        ok = false;
    } else {
        ok = hash_is(t, step, resp->finalize_block->app_hash, want,
                     "TXFORMAT.md §5, the first block's height is the initial height");
    }
    abci_response_free(resp);
    return ok;
}

static bool initial_heights(struct abci_test *t)
{
    uint8_t g[32];
    abci_test_genesis_hash(t->chain_id, NULL, 0, g);
    Phalanx__Abci__Response *resp =
        init_chain(t, "init_chain initial_height 0", t->chain_id, 0, "", NULL);
    if (!resp)
        return false;
    bool ok =
        hash_is(t, "init_chain initial_height 0", resp->init_chain->app_hash, g, "TXFORMAT.md §5");
    if (t->own_hash && resp->init_chain->app_hash.len == 32)
        memcpy(g, resp->init_chain->app_hash.data, 32);
    abci_response_free(resp);
    Phalanx__Abci__Request req;
    Phalanx__Abci__RequestFinalizeBlock fb;
    Phalanx__Abci__Timestamp ts;
    Phalanx__Abci__CommitInfo ci;
    uint8_t hash[32], proposer[20];
    abci_test_finalize_req(&req, &fb, &ts, &ci, hash, proposer, 2, NULL, 0);
    ok = abci_test_expect_exception(t, "finalize_block h=2 (0 means 1)", HEIGHT_RULE,
                                    ABCI_CONN_CONSENSUS, &req) &&
         ok;
    ok = finalize_on(t, "finalize_block h=1 (0 means 1)", 1, g) && ok;
    /* block 1 is open: InitChain again must be accepted and drop it */
    resp = init_chain(t, "init_chain again, block 1 open", t->chain_id, 5, "", NULL);
    if (!resp)
        return false;
    ok = hash_is(t, "init_chain again, block 1 open", resp->init_chain->app_hash, g,
                 "the same genesis as before") &&
         ok;
    abci_response_free(resp);
    abci_test_finalize_req(&req, &fb, &ts, &ci, hash, proposer, 1, NULL, 0);
    ok = abci_test_expect_exception(t, "finalize_block h=1 (initial 5)", HEIGHT_RULE,
                                    ABCI_CONN_CONSENSUS, &req) &&
         ok;
    return finalize_on(t, "finalize_block h=5 (initial 5)", 5, g) && ok;
}

bool abci_test_genesis_cases(struct abci_test *t)
{
    bool ok = true;
    uint8_t empty_hash[32];
    bool have_empty = false;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct gcase *c = &cases[i];
        char step[80];
        snprintf(step, sizeof(step), "genesis %s", c->name);
        const char *chain = c->chain_id ? c->chain_id : t->chain_id;
        if (!c->accepted) {
            bool refused = false;
            init_chain(t, step, chain, 1, c->app_state, &refused);
            ok = refused && ok;
            continue;
        }
        Phalanx__Abci__Response *resp = init_chain(t, step, chain, 1, c->app_state, NULL);
        if (!resp) {
            ok = false;
            continue;
        }
        ProtobufCBinaryData got = resp->init_chain->app_hash;
        struct abci_test_account accts[2];
        case_accounts(c, accts);
        uint8_t want[32];
        abci_test_genesis_hash(chain, accts, c->n, want);
        if (t->own_hash && c->n == 0) {
            /* the empty forms are one genesis: one hash */
            if (!have_empty && got.len == 32) {
                memcpy(empty_hash, got.data, 32);
                have_empty = true;
            }
            if (have_empty && (got.len != 32 || memcmp(got.data, empty_hash, 32) != 0)) {
                abci_test_report(t, false, step,
                                 "app hash differs from that of the other empty forms: they "
                                 "all mean no accounts (TXFORMAT.md §3)");
                ok = false;
                abci_response_free(resp);
                continue;
            }
        }
        ok = hash_is(t, step, got, want, "TXFORMAT.md §5, accounts sorted by raw key bytes") && ok;
        abci_response_free(resp);
    }
    return initial_heights(t) && ok;
}
