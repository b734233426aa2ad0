/*
 * genesis: genesis.json parsing, validation and writing (see genesis.h). Must never accept
 * a field it does not know, a validator whose address does not belong to its key, or a
 * document larger than GENESIS_FILE_MAX; never changes app_state's text.
 */
#include "genesis.h"

#include "fileio.h"
#include "px_clock.h"
#include "px_encoding.h"
#include "px_error.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    const char *name;
    char *err;
    size_t cap;
};

static int bad(struct ctx *x, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(struct ctx *x, const char *field, const char *fmt, ...)
{
    if (x->err && x->cap) {
        char what[GENESIS_ERR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        snprintf(x->err, x->cap, "%s: %s: %s", x->name, field, what);
    }
    return PX_ECONFIG;
}

void genesis_address_of(const uint8_t pub_key[GENESIS_PUBKEY_SIZE],
                        uint8_t address[GENESIS_ADDRESS_SIZE])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, pub_key, GENESIS_PUBKEY_SIZE);
    memcpy(address, h, GENESIS_ADDRESS_SIZE);
}

void genesis_default_params(struct genesis_params *p)
{
    memset(p, 0, sizeof(*p));
    p->block_max_bytes = 22020096;
    p->block_max_gas = -1;
    p->evidence_max_age_num_blocks = 100000;
    p->evidence_max_age_duration_ns = 172800000000000LL;
    p->evidence_max_bytes = 1048576;
    p->n_pub_key_types = 1;
    snprintf(p->pub_key_types[0], sizeof(p->pub_key_types[0]), "ed25519");
    p->app_version = 0;
}

void genesis_fini(struct genesis *g)
{
    if (!g)
        return;
    free(g->validators);
    free(g->app_state);
    memset(g, 0, sizeof(*g));
}

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a fractional number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static bool printable_no_space(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool no_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* An int64 given as a JSON integer or as a string of digits (CometBFT's form). */
static int get_int64(struct ctx *x, const json_t *v, const char *field, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        const char *p = s[0] == '-' ? s + 1 : s;
        if (*p && strlen(p) <= 19 && strspn(p, "0123456789") == strlen(p)) {
            errno = 0;
            long long n = strtoll(s, NULL, 10);
            if (errno == 0) {
                *out = (int64_t)n;
                return 0;
            }
        }
        return bad(x, field, "expected a 64-bit integer (a string of digits), got \"%.40s\"", s);
    }
    return bad(x, field, "expected a 64-bit integer (a string of digits), got %s", type_of(v));
}

static int check_keys(struct ctx *x, const json_t *obj, const char *field,
                      const char *const allowed[])
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        (void)val;
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            char f[160];
            snprintf(f, sizeof(f), "%s%s%.60s", field, field[0] ? "." : "", key);
            return bad(x, f,
                       "unknown field (a typo? expected one of the fields CometBFT's "
                       "genesis has)");
        }
    }
    return 0;
}

static int want_object(struct ctx *x, const json_t *v, const char *field)
{
    return json_is_object(v) ? 0 : bad(x, field, "expected an object, got %s", type_of(v));
}

/* ---- consensus params ------------------------------------------------------------------ */

static int parse_params(struct ctx *x, const json_t *cp, struct genesis_params *p)
{
    static const char *const top[] = {"block", "evidence", "validator", "version", "abci", NULL};
    static const char *const block[] = {"max_bytes", "max_gas", NULL};
    static const char *const evid[] = {"max_age_num_blocks", "max_age_duration", "max_bytes", NULL};
    static const char *const val[] = {"pub_key_types", NULL};
    static const char *const ver[] = {"app", NULL};
    static const char *const abci[] = {"vote_extensions_enable_height", NULL};
    int rc;
    if ((rc = want_object(x, cp, "consensus_params")) != 0 ||
        (rc = check_keys(x, cp, "consensus_params", top)) != 0)
        return rc;
    const json_t *b = json_object_get(cp, "block");
    if (b) {
        const json_t *v;
        if ((rc = want_object(x, b, "consensus_params.block")) != 0 ||
            (rc = check_keys(x, b, "consensus_params.block", block)) != 0)
            return rc;
        if ((v = json_object_get(b, "max_bytes")) &&
            (rc = get_int64(x, v, "consensus_params.block.max_bytes", &p->block_max_bytes)) != 0)
            return rc;
        if ((v = json_object_get(b, "max_gas")) &&
            (rc = get_int64(x, v, "consensus_params.block.max_gas", &p->block_max_gas)) != 0)
            return rc;
    }
    const json_t *e = json_object_get(cp, "evidence");
    if (e) {
        const json_t *v;
        if ((rc = want_object(x, e, "consensus_params.evidence")) != 0 ||
            (rc = check_keys(x, e, "consensus_params.evidence", evid)) != 0)
            return rc;
        if ((v = json_object_get(e, "max_age_num_blocks")) &&
            (rc = get_int64(x, v, "consensus_params.evidence.max_age_num_blocks",
                            &p->evidence_max_age_num_blocks)) != 0)
            return rc;
        if ((v = json_object_get(e, "max_age_duration")) &&
            (rc = get_int64(x, v, "consensus_params.evidence.max_age_duration",
                            &p->evidence_max_age_duration_ns)) != 0)
            return rc;
        if ((v = json_object_get(e, "max_bytes")) &&
            (rc = get_int64(x, v, "consensus_params.evidence.max_bytes", &p->evidence_max_bytes)) !=
                0)
            return rc;
    }
    const json_t *vl = json_object_get(cp, "validator");
    if (vl) {
        if ((rc = want_object(x, vl, "consensus_params.validator")) != 0 ||
            (rc = check_keys(x, vl, "consensus_params.validator", val)) != 0)
            return rc;
        const json_t *t = json_object_get(vl, "pub_key_types");
        if (t) {
            if (!json_is_array(t) || json_array_size(t) == 0 ||
                json_array_size(t) > GENESIS_PUBKEY_TYPES_MAX)
                return bad(x, "consensus_params.validator.pub_key_types",
                           "expected a list of 1 to %d key types such as [\"ed25519\"]",
                           GENESIS_PUBKEY_TYPES_MAX);
            p->n_pub_key_types = json_array_size(t);
            for (size_t i = 0; i < p->n_pub_key_types; i++) {
                const json_t *s = json_array_get(t, i);
                if (!json_is_string(s) || strlen(json_string_value(s)) >= 16)
                    return bad(x, "consensus_params.validator.pub_key_types",
                               "entry %zu: expected a key type name such as \"ed25519\"", i);
                snprintf(p->pub_key_types[i], sizeof(p->pub_key_types[i]), "%s",
                         json_string_value(s));
            }
        }
    }
    const json_t *vr = json_object_get(cp, "version");
    if (vr) {
        if ((rc = want_object(x, vr, "consensus_params.version")) != 0 ||
            (rc = check_keys(x, vr, "consensus_params.version", ver)) != 0)
            return rc;
        const json_t *a = json_object_get(vr, "app");
        int64_t app = 0;
        if (a && (rc = get_int64(x, a, "consensus_params.version.app", &app)) != 0)
            return rc;
        if (app < 0)
            return bad(x, "consensus_params.version.app", "expected 0 or more, got %" PRId64, app);
        p->app_version = (uint64_t)app;
    }
    const json_t *ab = json_object_get(cp, "abci");
    if (ab) {
        if ((rc = want_object(x, ab, "consensus_params.abci")) != 0 ||
            (rc = check_keys(x, ab, "consensus_params.abci", abci)) != 0)
            return rc;
        const json_t *h = json_object_get(ab, "vote_extensions_enable_height");
        int64_t veh = 0;
        if (h && (rc = get_int64(x, h, "consensus_params.abci.vote_extensions_enable_height",
                                 &veh)) != 0)
            return rc;
        if (veh != 0)
            return bad(x, "consensus_params.abci.vote_extensions_enable_height",
                       "expected 0 (vote extensions are not supported), got %" PRId64, veh);
    }
    return 0;
}

/* ---- validators ----------------------------------------------------------------------- */

static int parse_validator(struct ctx *x, const json_t *v, size_t i, struct genesis_validator *out,
                           bool *has_address)
{
    static const char *const keys[] = {"address", "pub_key", "power", "name", NULL};
    static const char *const pk_keys[] = {"type", "value", NULL};
    char f[96];
    int rc;
    snprintf(f, sizeof(f), "validators[%zu]", i);
    if ((rc = want_object(x, v, f)) != 0 || (rc = check_keys(x, v, f, keys)) != 0)
        return rc;
    memset(out, 0, sizeof(*out));

    const json_t *pk = json_object_get(v, "pub_key");
    snprintf(f, sizeof(f), "validators[%zu].pub_key", i);
    if (!pk)
        return bad(x, f, "missing: expected {\"type\": \"%s\", \"value\": BASE64}",
                   GENESIS_PUBKEY_TYPE_ED25519);
    if ((rc = want_object(x, pk, f)) != 0 || (rc = check_keys(x, pk, f, pk_keys)) != 0)
        return rc;
    const json_t *t = json_object_get(pk, "type");
    snprintf(f, sizeof(f), "validators[%zu].pub_key.type", i);
    if (!json_is_string(t) || strcmp(json_string_value(t), GENESIS_PUBKEY_TYPE_ED25519) != 0)
        return bad(x, f, "expected \"%s\", got %s%.60s%s", GENESIS_PUBKEY_TYPE_ED25519,
                   json_is_string(t) ? "\"" : "", json_is_string(t) ? json_string_value(t) : "",
                   json_is_string(t) ? "\"" : (t ? type_of(t) : "nothing"));
    const json_t *pv = json_object_get(pk, "value");
    snprintf(f, sizeof(f), "validators[%zu].pub_key.value", i);
    size_t n = 0;
    if (!json_is_string(pv) ||
        px_base64_decode(out->pub_key, sizeof(out->pub_key), &n, json_string_value(pv),
                         strlen(json_string_value(pv))) != 0 ||
        n != GENESIS_PUBKEY_SIZE)
        return bad(x, f, "expected base64 of a 32-byte Ed25519 public key");

    const json_t *pw = json_object_get(v, "power");
    snprintf(f, sizeof(f), "validators[%zu].power", i);
    if (!pw)
        return bad(x, f, "missing: expected a voting power above 0");
    if ((rc = get_int64(x, pw, f, &out->power)) != 0)
        return rc;
    if (out->power <= 0 || out->power > GENESIS_MAX_TOTAL_POWER)
        return bad(x, f, "expected a voting power from 1 to %" PRId64 ", got %" PRId64,
                   (int64_t)GENESIS_MAX_TOTAL_POWER, out->power);

    const json_t *nm = json_object_get(v, "name");
    snprintf(f, sizeof(f), "validators[%zu].name", i);
    if (nm) {
        if (!json_is_string(nm) || strlen(json_string_value(nm)) >= GENESIS_NAME_MAX ||
            !no_control(json_string_value(nm)))
            return bad(x, f, "expected a string of at most %d bytes without control characters",
                       GENESIS_NAME_MAX - 1);
        snprintf(out->name, sizeof(out->name), "%s", json_string_value(nm));
    }

    const json_t *ad = json_object_get(v, "address");
    snprintf(f, sizeof(f), "validators[%zu].address", i);
    *has_address = false;
    genesis_address_of(out->pub_key, out->address);
    if (ad) {
        uint8_t given[GENESIS_ADDRESS_SIZE];
        if (!json_is_string(ad) ||
            px_hex_decode(given, sizeof(given), &n, json_string_value(ad),
                          strlen(json_string_value(ad))) != 0 ||
            n != GENESIS_ADDRESS_SIZE)
            return bad(x, f, "expected 40 hex characters");
        char want[PX_HEX_LEN(GENESIS_ADDRESS_SIZE)];
        px_hex_encode(want, sizeof(want), out->address, GENESIS_ADDRESS_SIZE, true);
        if (memcmp(given, out->address, GENESIS_ADDRESS_SIZE) != 0)
            return bad(x, f,
                       "expected %s, the first 20 bytes of SHA-256 of pub_key.value; the "
                       "address does not belong to the key",
                       want);
        *has_address = true;
    }
    return 0;
}

/* ---- validation ------------------------------------------------------------------------ */

static int validate(struct ctx *x, const struct genesis *g)
{
    if (g->genesis_time_ns == 0)
        return bad(x, "genesis_time", "expected an RFC 3339 time after 1970");
    size_t n = strlen(g->chain_id);
    if (n == 0 || n > GENESIS_CHAIN_ID_MAX || !printable_no_space(g->chain_id))
        return bad(x, "chain_id",
                   "expected 1 to %d bytes without spaces or control characters, got \"%.60s\"",
                   GENESIS_CHAIN_ID_MAX, g->chain_id);
    if (g->initial_height < 1)
        return bad(x, "initial_height", "expected 1 or more, got %" PRId64, g->initial_height);
    const struct genesis_params *p = &g->params;
    if (p->block_max_bytes < 1 || p->block_max_bytes > GENESIS_MAX_BLOCK_BYTES)
        return bad(x, "consensus_params.block.max_bytes", "expected 1 to %d, got %" PRId64,
                   GENESIS_MAX_BLOCK_BYTES, p->block_max_bytes);
    if (p->block_max_gas < -1)
        return bad(x, "consensus_params.block.max_gas",
                   "expected -1 (no limit) or 0 or more, got %" PRId64, p->block_max_gas);
    if (p->evidence_max_age_num_blocks < 1)
        return bad(x, "consensus_params.evidence.max_age_num_blocks",
                   "expected 1 or more, got %" PRId64, p->evidence_max_age_num_blocks);
    if (p->evidence_max_age_duration_ns < 1)
        return bad(x, "consensus_params.evidence.max_age_duration",
                   "expected a duration above 0 (nanoseconds), got %" PRId64,
                   p->evidence_max_age_duration_ns);
    if (p->evidence_max_bytes < 0 || p->evidence_max_bytes > p->block_max_bytes)
        return bad(x, "consensus_params.evidence.max_bytes",
                   "expected 0 to block.max_bytes (%" PRId64 "), got %" PRId64, p->block_max_bytes,
                   p->evidence_max_bytes);
    bool ed25519 = false;
    if (p->n_pub_key_types < 1 || p->n_pub_key_types > GENESIS_PUBKEY_TYPES_MAX)
        return bad(x, "consensus_params.validator.pub_key_types", "expected 1 to %d key types",
                   GENESIS_PUBKEY_TYPES_MAX);
    for (size_t i = 0; i < p->n_pub_key_types; i++) {
        if (strcmp(p->pub_key_types[i], "ed25519") != 0)
            return bad(x, "consensus_params.validator.pub_key_types",
                       "entry %zu: expected \"ed25519\" (the only key type supported), got "
                       "\"%s\"",
                       i, p->pub_key_types[i]);
        ed25519 = true;
    }
    if (g->n_validators > GENESIS_MAX_VALIDATORS)
        return bad(x, "validators", "expected at most %d validators, got %zu",
                   GENESIS_MAX_VALIDATORS, g->n_validators);
    if (g->n_validators > 0 && !ed25519)
        return bad(x, "consensus_params.validator.pub_key_types",
                   "expected \"ed25519\" among the types: the validators use it");
    int64_t total = 0;
    for (size_t i = 0; i < g->n_validators; i++) {
        const struct genesis_validator *v = &g->validators[i];
        char f[64];
        snprintf(f, sizeof(f), "validators[%zu].power", i);
        if (v->power <= 0 || v->power > GENESIS_MAX_TOTAL_POWER)
            return bad(x, f, "expected a voting power from 1 to %" PRId64 ", got %" PRId64,
                       (int64_t)GENESIS_MAX_TOTAL_POWER, v->power);
        total += v->power;
        if (total > GENESIS_MAX_TOTAL_POWER)
            return bad(x, "validators",
                       "expected a total voting power of at most %" PRId64
                       " (reached at validators[%zu])",
                       (int64_t)GENESIS_MAX_TOTAL_POWER, i);
        uint8_t addr[GENESIS_ADDRESS_SIZE];
        genesis_address_of(v->pub_key, addr);
        snprintf(f, sizeof(f), "validators[%zu].address", i);
        if (memcmp(addr, v->address, sizeof(addr)) != 0)
            return bad(x, f, "expected the first 20 bytes of SHA-256 of the public key");
        snprintf(f, sizeof(f), "validators[%zu].name", i);
        if (!no_control(v->name))
            return bad(x, f, "expected no control characters");
        for (size_t k = 0; k < i; k++)
            if (memcmp(g->validators[k].pub_key, v->pub_key, GENESIS_PUBKEY_SIZE) == 0) {
                snprintf(f, sizeof(f), "validators[%zu]", i);
                return bad(x, f,
                           "expected each validator once: same public key as "
                           "validators[%zu]",
                           k);
            }
    }
    if (g->app_hash_len > GENESIS_APP_HASH_MAX)
        return bad(x, "app_hash", "expected at most %d bytes", GENESIS_APP_HASH_MAX);
    return 0;
}

int genesis_validate(const struct genesis *g, char *err, size_t err_cap)
{
    struct ctx x = {"genesis", err, err_cap};
    return validate(&x, g);
}

/* ---- app_state's exact text ---------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < end ? p + 1 : end;
}

/* The text is valid JSON (jansson said so): skip one value. */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return end;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if (*p == '}' || *p == ']')
                depth--;
            p++;
            if (depth == 0)
                return p;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
           *p != '\t' && *p != '\r')
        p++;
    return p;
}

/* Find the text of top-level key `key` (written without escapes). */
static bool raw_value(const char *text, size_t len, const char *key, const char **vs, size_t *vn)
{
    const char *p = text, *end = text + len;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return false;
    p++;
    size_t klen = strlen(key);
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return false;
        const char *ks = p + 1;
        p = skip_string(p, end);
        bool match = (size_t)(p - 1 - ks) == klen && memcmp(ks, key, klen) == 0;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return false;
        p = skip_ws(p + 1, end);
        const char *s = p;
        p = skip_value(p, end);
        if (match) {
            *vs = s;
            *vn = (size_t)(p - s);
            return true;
        }
        p = skip_ws(p, end);
        if (p >= end || *p != ',')
            return false;
        p++;
    }
}

/* ---- parse ------------------------------------------------------------------------------ */

int genesis_parse(const char *text, size_t len, const char *name, struct genesis *g, char *err,
                  size_t err_cap)
{
    static const char *const top[] = {"genesis_time",     "chain_id",   "initial_height",
                                      "consensus_params", "validators", "app_hash",
                                      "app_state",        NULL};
    struct ctx x = {name ? name : "genesis", err, err_cap};
    memset(g, 0, sizeof(*g));
    if (len > GENESIS_FILE_MAX)
        return PX_ETOOBIG;
    if (sodium_init() < 0)
        return PX_EINTERNAL;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (err && err_cap)
            snprintf(err, err_cap, "%s:%d:%d: not valid JSON: %s", x.name, je.line, je.column,
                     je.text);
        return PX_ECONFIG;
    }
    int rc = 0;
    const json_t *v;
    genesis_default_params(&g->params);
    g->initial_height = 1;
    if (!json_is_object(root)) {
        rc = bad(&x, "(document)", "expected a JSON object, got %s", type_of(root));
        goto out;
    }
    if ((rc = check_keys(&x, root, "", top)) != 0)
        goto out;

    v = json_object_get(root, "genesis_time");
    if (!json_is_string(v) || px_time_parse(json_string_value(v), &g->genesis_time_ns) != 0 ||
        g->genesis_time_ns == 0) {
        rc = bad(&x, "genesis_time",
                 "expected an RFC 3339 time such as \"2026-01-01T00:00:00Z\", got %s%.60s%s",
                 json_is_string(v) ? "\"" : "", json_is_string(v) ? json_string_value(v) : "",
                 json_is_string(v) ? "\"" : (v ? type_of(v) : "nothing"));
        goto out;
    }
    v = json_object_get(root, "chain_id");
    if (!json_is_string(v) || strlen(json_string_value(v)) > GENESIS_CHAIN_ID_MAX ||
        !json_string_value(v)[0]) {
        rc = bad(&x, "chain_id", "expected a string of 1 to %d bytes", GENESIS_CHAIN_ID_MAX);
        goto out;
    }
    snprintf(g->chain_id, sizeof(g->chain_id), "%s", json_string_value(v));
    if ((v = json_object_get(root, "initial_height")) &&
        (rc = get_int64(&x, v, "initial_height", &g->initial_height)) != 0)
        goto out;
    if ((v = json_object_get(root, "consensus_params")) && !json_is_null(v) &&
        (rc = parse_params(&x, v, &g->params)) != 0)
        goto out;

    v = json_object_get(root, "validators");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v)) {
            rc = bad(&x, "validators", "expected a list of validators, got %s", type_of(v));
            goto out;
        }
        size_t n = json_array_size(v);
        if (n > GENESIS_MAX_VALIDATORS) {
            rc = bad(&x, "validators", "expected at most %d validators, got %zu",
                     GENESIS_MAX_VALIDATORS, n);
            goto out;
        }
        if (n > 0 && !(g->validators = calloc(n, sizeof(*g->validators)))) {
            rc = PX_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            bool has_addr;
            if ((rc = parse_validator(&x, json_array_get(v, i), i, &g->validators[i], &has_addr)) !=
                0)
                goto out;
            g->n_validators = i + 1;
        }
    }
    v = json_object_get(root, "app_hash");
    if (v && !json_is_null(v)) {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (!s ||
            px_hex_decode(g->app_hash, sizeof(g->app_hash), &g->app_hash_len, s, strlen(s)) != 0) {
            rc = bad(&x, "app_hash", "expected hex of at most %d bytes (\"\" for none)",
                     GENESIS_APP_HASH_MAX);
            goto out;
        }
    }
    v = json_object_get(root, "app_state");
    if (v) {
        const char *vs;
        size_t vn;
        if (raw_value(text, len, "app_state", &vs, &vn)) {
            g->app_state = strndup(vs, vn);
        } else {
            /* the key was written with escapes: fall back to jansson's rendering */
            g->app_state = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        }
        if (!g->app_state) {
            rc = PX_ENOMEM;
            goto out;
        }
    }
    rc = validate(&x, g);
out:
    json_decref(root);
    if (rc != 0)
        genesis_fini(g);
    return rc;
}

int genesis_load(const char *path, struct genesis *g, char *err, size_t err_cap)
{
    char *text;
    size_t len;
    memset(g, 0, sizeof(*g));
    int rc = fileio_read_all(path, GENESIS_FILE_MAX, &text, &len);
    if (rc != 0) {
        if (err && err_cap)
            snprintf(err, err_cap, "%s: cannot read the genesis file: %s", path, px_strerror(rc));
        return rc;
    }
    rc = genesis_parse(text, len, path, g, err, err_cap);
    free(text);
    return rc;
}

/* ---- writing --------------------------------------------------------------------------- */

static json_t *str_int(int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRId64, v);
    return json_string(b);
}

int genesis_format(const struct genesis *g, char **out)
{
    char t[40];
    int n = px_time_format(t, sizeof(t), g->genesis_time_ns, 9);
    if (n < 0)
        return n;
    /* Go's RFC3339Nano drops trailing zeros of the fraction (and the dot) */
    char *z = t + n - 1; /* at 'Z' */
    char *q = z - 1;
    while (*q == '0')
        q--;
    if (*q == '.')
        q--;
    memmove(q + 1, z, 2);

    json_t *root = json_object();
    json_t *types = json_array();
    json_t *vals = json_array();
    json_t *app_state = NULL;
    int rc = PX_ENOMEM;
    if (!root || !types || !vals)
        goto out;
    for (size_t i = 0; i < g->params.n_pub_key_types; i++)
        json_array_append_new(types, json_string(g->params.pub_key_types[i]));
    for (size_t i = 0; i < g->n_validators; i++) {
        const struct genesis_validator *v = &g->validators[i];
        char addr[PX_HEX_LEN(GENESIS_ADDRESS_SIZE)];
        char pk[PX_BASE64_LEN(GENESIS_PUBKEY_SIZE)];
        px_hex_encode(addr, sizeof(addr), v->address, GENESIS_ADDRESS_SIZE, true);
        px_base64_encode(pk, sizeof(pk), v->pub_key, GENESIS_PUBKEY_SIZE);
        json_t *o = json_pack("{s:s, s:{s:s, s:s}, s:o, s:s}", "address", addr, "pub_key", "type",
                              GENESIS_PUBKEY_TYPE_ED25519, "value", pk, "power", str_int(v->power),
                              "name", v->name);
        if (!o || json_array_append_new(vals, o) != 0)
            goto out;
    }
    char hash[PX_HEX_LEN(GENESIS_APP_HASH_MAX)];
    px_hex_encode(hash, sizeof(hash), g->app_hash, g->app_hash_len, true);
    if (g->app_state) {
        json_error_t je;
        app_state = json_loads(g->app_state, JSON_DECODE_ANY, &je);
        if (!app_state) {
            rc = PX_EINVAL;
            goto out;
        }
    }
    const struct genesis_params *p = &g->params;
    json_t *params = json_pack(
        "{s:{s:o, s:o}, s:{s:o, s:o, s:o}, s:{s:O}, s:{s:o}, s:{s:s}}", "block", "max_bytes",
        str_int(p->block_max_bytes), "max_gas", str_int(p->block_max_gas), "evidence",
        "max_age_num_blocks", str_int(p->evidence_max_age_num_blocks), "max_age_duration",
        str_int(p->evidence_max_age_duration_ns), "max_bytes", str_int(p->evidence_max_bytes),
        "validator", "pub_key_types", types, "version", "app", str_int((int64_t)p->app_version),
        "abci", "vote_extensions_enable_height", "0");
    if (!params)
        goto out;
    if (json_object_set_new(root, "genesis_time", json_string(t)) != 0 ||
        json_object_set_new(root, "chain_id", json_string(g->chain_id)) != 0 ||
        json_object_set_new(root, "initial_height", str_int(g->initial_height)) != 0 ||
        json_object_set_new(root, "consensus_params", params) != 0 ||
        json_object_set(root, "validators", vals) != 0 ||
        json_object_set_new(root, "app_hash", json_string(hash)) != 0)
        goto out;
    if (app_state && json_object_set(root, "app_state", app_state) != 0)
        goto out;
    char *s = json_dumps(root, JSON_INDENT(2));
    if (!s)
        goto out;
    size_t sl = strlen(s);
    char *withnl = realloc(s, sl + 2);
    if (!withnl) {
        free(s);
        goto out;
    }
    withnl[sl] = '\n';
    withnl[sl + 1] = '\0';
    *out = withnl;
    rc = 0;
out:
    json_decref(root);
    json_decref(types);
    json_decref(vals);
    json_decref(app_state);
    return rc;
}

int genesis_write(const char *path, const struct genesis *g, char *err, size_t err_cap)
{
    struct ctx x = {path, err, err_cap};
    int rc = validate(&x, g);
    if (rc != 0)
        return rc;
    char *text;
    rc = genesis_format(g, &text);
    if (rc != 0)
        return rc;
    rc = fileio_write_atomic(path, text, strlen(text), 0644, FILEIO_NOREPLACE);
    free(text);
    if (rc != 0 && err && err_cap)
        snprintf(err, err_cap, "%s: cannot write the genesis file: %s", path, px_strerror(rc));
    return rc;
}
