/* Unit tests of genesis.json: the shipped sample loads, write/parse round trip, app_state kept
 * byte for byte, and each validation error names the file, the field and what was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "genesis.h"
#include "px_error.h"
#include "px_test.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A genesis with two validators whose keys come from fixed seeds. */
static void make_genesis(struct genesis *g)
{
    memset(g, 0, sizeof(*g));
    assert_int_equal(sodium_init() >= 0, 1);
    g->genesis_time_ns = 1764000000ull * 1000000000ull + 500000000ull;
    snprintf(g->chain_id, sizeof(g->chain_id), "phalanx-test-1");
    g->initial_height = 1;
    genesis_default_params(&g->params);
    g->n_validators = 2;
    g->validators = calloc(2, sizeof(*g->validators));
    assert_non_null(g->validators);
    for (int i = 0; i < 2; i++) {
        uint8_t seed[32], sk[64];
        memset(seed, i + 1, sizeof(seed));
        crypto_sign_seed_keypair(g->validators[i].pub_key, sk, seed);
        genesis_address_of(g->validators[i].pub_key, g->validators[i].address);
        g->validators[i].power = 10 * (i + 1);
        snprintf(g->validators[i].name, GENESIS_NAME_MAX, "val%d", i);
    }
    g->app_state = strdup("{\"accounts\": [1, 2]}");
}

static json_t *base_json(void)
{
    struct genesis g;
    make_genesis(&g);
    char *text;
    assert_int_equal(genesis_format(&g, &text), 0);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    free(text);
    genesis_fini(&g);
    return j;
}

static void sample_file_loads(void **state)
{
    (void)state;
    const char *root = getenv("PX_SOURCE_ROOT");
    assert_non_null(root);
    char path[512];
    snprintf(path, sizeof(path), "%s/conf/genesis.json", root);
    struct genesis g;
    char err[GENESIS_ERR_MAX] = "";
    int rc = genesis_load(path, &g, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_true(g.n_validators >= 1);
    assert_int_equal(g.initial_height, 1);
    assert_non_null(g.app_state);
    genesis_fini(&g);
}

static void round_trip_and_raw_app_state(void **state)
{
    (void)state;
    struct genesis g, back;
    make_genesis(&g);
    char *text;
    assert_int_equal(genesis_format(&g, &text), 0);
    assert_non_null(strstr(text, "\"genesis_time\": \"2025-11-24T16:00:00.5Z\""));
    assert_non_null(strstr(text, "\"power\": \"20\""));
    char err[GENESIS_ERR_MAX] = "";
    int rc = genesis_parse(text, strlen(text), "g.json", &back, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(back.genesis_time_ns, g.genesis_time_ns);
    assert_string_equal(back.chain_id, g.chain_id);
    assert_int_equal(back.n_validators, 2);
    assert_memory_equal(back.validators, g.validators, 2 * sizeof(*g.validators));
    assert_memory_equal(&back.params, &g.params, sizeof(g.params));
    genesis_fini(&back);
    free(text);

    /* app_state is the file's text exactly, whatever its spacing and number forms */
    const char *doc = "{\"genesis_time\":\"2026-01-01T00:00:00Z\",\"chain_id\":\"c\","
                      "\"app_state\" :  { \"b\" : 1.50, \"a\": [ \"}\\\"\" ] } ,"
                      "\"initial_height\": 7, \"app_hash\": \"0A0b\"}";
    rc = genesis_parse(doc, strlen(doc), "g.json", &back, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_string_equal(back.app_state, "{ \"b\" : 1.50, \"a\": [ \"}\\\"\" ] }");
    assert_int_equal(back.initial_height, 7);
    assert_int_equal(back.n_validators, 0); /* the app may set them in InitChain */
    assert_int_equal(back.app_hash_len, 2);
    assert_int_equal(back.params.block_max_bytes, 22020096); /* defaults */
    genesis_fini(&back);

    /* the writer refuses to replace a file */
    char dir[256], path[300];
    assert_int_equal(pxt_tmpdir("genesis", dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/genesis.json", dir);
    assert_int_equal(genesis_write(path, &g, err, sizeof(err)), 0);
    assert_int_equal(genesis_write(path, &g, err, sizeof(err)), PX_EEXIST);
    assert_int_equal(genesis_load(path, &back, err, sizeof(err)), 0);
    genesis_fini(&back);
    snprintf(path, sizeof(path), "%s/none.json", dir);
    assert_int_equal(genesis_load(path, &back, err, sizeof(err)), PX_ENOTFOUND);
    pxt_rmtree(dir);
    genesis_fini(&g);
}

/* Set (or with value NULL delete) the member at a '/' path; numbers index arrays. */
static void set_path(json_t *root, const char *path, json_t *value)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = root;
    char *save = NULL;
    char *tok = strtok_r(buf, "/", &save);
    for (;;) {
        char *next = strtok_r(NULL, "/", &save);
        bool idx = tok[0] >= '0' && tok[0] <= '9';
        if (!next) {
            if (idx) {
                assert_int_equal(json_array_set_new(cur, (size_t)atoi(tok), value), 0);
            } else if (value) {
                assert_int_equal(json_object_set_new(cur, tok, value), 0);
            } else {
                json_object_del(cur, tok);
            }
            return;
        }
        cur = idx ? json_array_get(cur, (size_t)atoi(tok)) : json_object_get(cur, tok);
        assert_non_null(cur);
        tok = next;
    }
}

struct bad_case {
    const char *path;
    const char *value; /* JSON text; NULL deletes */
    const char *want;  /* substring of the error after "g.json: " */
};

static const struct bad_case bad_cases[] = {
    {"genesis_time", "\"yesterday\"", "genesis_time: expected an RFC 3339 time"},
    {"genesis_time", NULL, "genesis_time: expected an RFC 3339 time"},
    {"genesis_time", "\"1969-12-31T00:00:00Z\"", "genesis_time: expected an RFC 3339 time"},
    {"chain_id", "\"\"", "chain_id: expected a string of 1 to 50 bytes"},
    {"chain_id", "\"012345678901234567890123456789012345678901234567890\"",
     "chain_id: expected a string of 1 to 50 bytes"},
    {"chain_id", "\"a b\"", "chain_id: expected 1 to 50 bytes without spaces"},
    {"chain_id", "7", "chain_id: expected a string"},
    {"initial_height", "\"0\"", "initial_height: expected 1 or more, got 0"},
    {"initial_height", "\"1x\"", "initial_height: expected a 64-bit integer"},
    {"initial_height", "1.5",
     "initial_height: expected a 64-bit integer (a string of digits), "
     "got a fractional number"},
    {"initial_height", "\"99999999999999999999\"", "initial_height: expected a 64-bit integer"},
    {"consensus_params/block/max_bytes", "\"0\"",
     "consensus_params.block.max_bytes: expected 1 to 104857600, got 0"},
    {"consensus_params/block/max_bytes", "\"104857601\"",
     "consensus_params.block.max_bytes: expected 1 to 104857600"},
    {"consensus_params/block/max_gas", "\"-2\"",
     "consensus_params.block.max_gas: expected -1 (no limit) or 0 or more, got -2"},
    {"consensus_params/evidence/max_age_num_blocks", "\"0\"",
     "consensus_params.evidence.max_age_num_blocks: expected 1 or more"},
    {"consensus_params/evidence/max_age_duration", "\"-1\"",
     "consensus_params.evidence.max_age_duration: expected a duration above 0"},
    {"consensus_params/evidence/max_bytes", "\"22020097\"",
     "consensus_params.evidence.max_bytes: expected 0 to block.max_bytes (22020096)"},
    {"consensus_params/validator/pub_key_types", "[\"secp256k1\"]",
     "consensus_params.validator.pub_key_types: entry 0: expected \"ed25519\""},
    {"consensus_params/validator/pub_key_types", "[]",
     "consensus_params.validator.pub_key_types: expected a list of 1 to 4"},
    {"consensus_params/abci/vote_extensions_enable_height", "\"5\"",
     "consensus_params.abci.vote_extensions_enable_height: expected 0"},
    {"consensus_params/block/time_iota_ms", "\"1000\"",
     "consensus_params.block.time_iota_ms: unknown field"},
    {"consensus_params/block", "3", "consensus_params.block: expected an object, got an integer"},
    {"chain-id", "\"x\"", "chain-id: unknown field"},
    {"validators", "{}", "validators: expected a list of validators, got an object"},
    {"validators/0/address", "\"0000000000000000000000000000000000000000\"",
     "validators[0].address: expected "},
    {"validators/1/address", "\"xyz\"", "validators[1].address: expected 40 hex characters"},
    {"validators/0/pub_key/type", "\"tendermint/PubKeySecp256k1\"",
     "validators[0].pub_key.type: expected \"tendermint/PubKeyEd25519\", got "
     "\"tendermint/PubKeySecp256k1\""},
    {"validators/0/pub_key/value", "\"AAAA\"",
     "validators[0].pub_key.value: expected base64 of a 32-byte Ed25519 public key"},
    {"validators/0/pub_key/value", "\"not base64!\"",
     "validators[0].pub_key.value: expected base64"},
    {"validators/0/pub_key", NULL, "validators[0].pub_key: missing"},
    {"validators/1/power", "\"0\"", "validators[1].power: expected a voting power from 1 to"},
    {"validators/1/power", "\"-5\"", "validators[1].power: expected a voting power from 1 to"},
    {"validators/1/power", NULL, "validators[1].power: missing"},
    {"validators/0/power", "\"1152921504606846976\"",
     "validators[0].power: expected a voting "
     "power from 1 to 1152921504606846975"},
    {"validators/0/power", "\"1152921504606846975\"",
     "validators: expected a total voting power of at most 1152921504606846975 (reached at "
     "validators[1])"},
    {"validators/0/name", "\"a\\nb\"", "validators[0].name: expected a string of at most 128"},
    {"validators/0/extra", "1", "validators[0].extra: unknown field"},
    {"app_hash", "\"zz\"", "app_hash: expected hex of at most 64 bytes"},
};

static void each_validation_error(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        json_t *j = base_json();
        json_t *v = NULL;
        if (b->value) {
            json_error_t je;
            v = json_loads(b->value, JSON_DECODE_ANY, &je);
            assert_non_null(v);
        }
        set_path(j, b->path, v);
        char *text = json_dumps(j, 0);
        json_decref(j);
        struct genesis g;
        char err[GENESIS_ERR_MAX] = "";
        int rc = genesis_parse(text, strlen(text), "g.json", &g, err, sizeof(err));
        free(text);
        if (rc != PX_ECONFIG || strncmp(err, "g.json: ", 8) != 0 || !strstr(err, b->want))
            fail_msg("case %zu (%s): rc=%d err='%s', wanted '%s'", i, b->path, rc, err, b->want);
    }
}

static void duplicates_and_bad_json(void **state)
{
    (void)state;
    json_t *j = base_json();
    json_t *vals = json_object_get(j, "validators");
    json_array_append_new(vals, json_deep_copy(json_array_get(vals, 0)));
    char *text = json_dumps(j, 0);
    json_decref(j);
    struct genesis g;
    char err[GENESIS_ERR_MAX] = "";
    assert_int_equal(genesis_parse(text, strlen(text), "g.json", &g, err, sizeof(err)), PX_ECONFIG);
    assert_non_null(strstr(err, "g.json: validators[2]: expected each validator once: same "
                                "public key as validators[0]"));
    free(text);

    const char *cases[][2] = {
        {"{\n  \"chain_id\": \"a\",\n  \"chain_id\": \"b\"\n}", "g.json:3:"},
        {"{\n\"chain_id\": ", "g.json:2:"},
        {"[1, 2]", "g.json: (document): expected a JSON object, got an array"},
    };
    for (size_t i = 0; i < 3; i++) {
        int rc = genesis_parse(cases[i][0], strlen(cases[i][0]), "g.json", &g, err, sizeof(err));
        if (rc != PX_ECONFIG || strstr(err, cases[i][1]) != err)
            fail_msg("json case %zu: rc=%d err='%s'", i, rc, err);
    }
    /* a genesis built in code is checked by genesis_validate: a wrong address */
    make_genesis(&g);
    g.validators[1].address[0] ^= 1;
    assert_int_equal(genesis_validate(&g, err, sizeof(err)), PX_ECONFIG);
    assert_non_null(strstr(err, "validators[1].address"));
    genesis_fini(&g);
}

/* Random damage to a genesis document: accepted (and then valid) or refused with the
 * file's name; never a crash (ASan watches). PX_SEED replays. */
static void random_damage_never_crashes(void **state)
{
    (void)state;
    struct genesis g;
    make_genesis(&g);
    char *orig;
    assert_int_equal(genesis_format(&g, &orig), 0);
    genesis_fini(&g);
    size_t len = strlen(orig);
    const char *e = getenv("PX_SEED");
    unsigned seed = e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)time(NULL);
    printf("# genesis damage test: seed=%u (PX_SEED)\n", seed);
    srandom(seed);
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    static const char junk[] = "{}[]:,\"\\-0123456789eE.AZaz \n";
    int accepted = 0;
    for (int i = 0; i < 1000; i++) {
        memcpy(buf, orig, len);
        size_t n = len;
        int flips = 1 + (int)(random() % 3);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t)random() % n;
            buf[at] = (char)((random() % 2) ? junk[random() % (sizeof(junk) - 1)] : random() % 256);
        }
        if (random() % 5 == 0)
            n = (size_t)random() % n;
        char err[GENESIS_ERR_MAX] = "";
        int rc = genesis_parse(buf, n, "g.json", &g, err, sizeof(err));
        if (rc == 0) {
            accepted++;
            assert_int_equal(genesis_validate(&g, err, sizeof(err)), 0);
            genesis_fini(&g);
        } else if (rc != PX_ECONFIG || strncmp(err, "g.json", 6) != 0) {
            fail_msg("damage %d: rc=%d err='%s'", i, rc, err);
        }
    }
    printf("# genesis damage test: %d of 1000 damaged documents still valid\n", accepted);
    free(buf);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sample_file_loads),
        cmocka_unit_test(round_trip_and_raw_app_state),
        cmocka_unit_test(each_validation_error),
        cmocka_unit_test(duplicates_and_bad_json),
        cmocka_unit_test(random_damage_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
