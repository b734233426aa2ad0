/*
 * kvl_genesis: parse the genesis app_state with jansson (see kvl_genesis.h). Reads only
 * the bytes given; the returned list is the caller's.
 */
#include "kvl_genesis.h"

#include "px_encoding.h"
#include "px_error.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_account(const void *a, const void *b)
{
    const struct kvl_genesis_account *x = a, *y = b;
    return memcmp(x->pub, y->pub, LEDGER_PUBKEY_LEN);
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
        return PX_EINVAL;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return PX_EINVAL;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return PX_EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_account(json_t *a, size_t i, struct kvl_genesis_account *out, char *err,
                         size_t errcap)
{
    if (!json_is_object(a)) {
        snprintf(err, errcap, "app_state.accounts[%zu] is not an object", i);
        return PX_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v)
    {
        if (strcmp(k, "pub_key") != 0 && strcmp(k, "balance") != 0) {
            snprintf(err, errcap, "app_state.accounts[%zu] has an unknown field \"%.40s\"", i, k);
            return PX_EINVAL;
        }
    }
    json_t *pk = json_object_get(a, "pub_key");
    size_t n = 0;
    if (!json_is_string(pk) ||
        px_base64_decode(out->pub, sizeof(out->pub), &n, json_string_value(pk),
                         json_string_length(pk)) != 0 ||
        n != LEDGER_PUBKEY_LEN) {
        snprintf(err, errcap,
                 "app_state.accounts[%zu].pub_key must be the base64 of a 32-byte Ed25519 "
                 "public key",
                 i);
        return PX_EINVAL;
    }
    json_t *bal = json_object_get(a, "balance");
    if (json_is_string(bal)) {
        if (parse_u64(json_string_value(bal), &out->balance) == 0)
            return 0;
        snprintf(err, errcap,
                 "app_state.accounts[%zu].balance \"%.40s\" is not a decimal number "
                 "0..18446744073709551615 (digits only: no sign, spaces or leading zeros)",
                 i, json_string_value(bal));
        return PX_EINVAL;
    }
    if (json_is_integer(bal)) {
        json_int_t iv = json_integer_value(bal);
        if (iv >= 0 && (uint64_t)iv <= KVL_GENESIS_JSON_INT_MAX) {
            out->balance = (uint64_t)iv;
            return 0;
        }
        if (iv < 0)
            snprintf(err, errcap, "app_state.accounts[%zu].balance is negative", i);
        else
            snprintf(err, errcap,
                     "app_state.accounts[%zu].balance is the JSON number %lld, above 2^53-1 "
                     "(9007199254740991), which many JSON parsers round: write it as the "
                     "decimal string \"%lld\"",
                     i, (long long)iv, (long long)iv);
        return PX_EINVAL;
    }
    if (json_is_real(bal)) {
        snprintf(err, errcap,
                 "app_state.accounts[%zu].balance is a JSON number with a fraction or an "
                 "exponent: write a decimal string such as \"1000\"",
                 i);
        return PX_EINVAL;
    }
    snprintf(err, errcap,
             "app_state.accounts[%zu].balance %s: it must be a decimal string such as \"1000\" "
             "(or a JSON integer 0..9007199254740991)",
             i, bal ? "has the wrong type" : "is missing");
    return PX_EINVAL;
}

/* After a successful parse the only JSON numbers are balances, each a non-negative
 * integer: a '-' outside a string can only be the sign of "-0", which jansson reads as 0
 * but the rules refuse (a number balance is digits only). */
static bool has_minus_outside_strings(const uint8_t *json, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (json[i] == '\\')
                i++;
            else if (json[i] == '"')
                in_string = false;
        } else if (json[i] == '"') {
            in_string = true;
        } else if (json[i] == '-') {
            return true;
        }
    }
    return false;
}

int kvl_genesis_check_chain_id(const char *chain_id, char *err, size_t errcap)
{
    size_t n = chain_id ? strlen(chain_id) : 0;
    bool ok = n >= 1 && n <= LEDGER_CHAIN_ID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)chain_id[i] >= 0x21 && (unsigned char)chain_id[i] <= 0x7e;
    if (ok)
        return 0;
    snprintf(err, errcap,
             "the chain id must be 1..%d bytes of printable ASCII 0x21..0x7E (transfers carry "
             "it), not \"%.60s\"",
             LEDGER_CHAIN_ID_MAX, chain_id ? chain_id : "");
    return PX_EINVAL;
}

int kvl_genesis_parse(const uint8_t *json, size_t len, struct kvl_genesis_account **out, size_t *n,
                      char *err, size_t errcap)
{
    *out = NULL;
    *n = 0;
    if (len == 0)
        return 0;
    if (len > KVL_GENESIS_BYTES_MAX) {
        snprintf(err, errcap, "app_state is larger than %u bytes", KVL_GENESIS_BYTES_MAX);
        return PX_ETOOBIG;
    }
    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root && json_error_code(&jerr) == json_error_numeric_overflow) {
        snprintf(err, errcap,
                 "app_state has a JSON number too large to read exactly (line %d column %d): "
                 "write balances as decimal strings such as \"18446744073709551615\"",
                 jerr.line, jerr.column);
        return PX_EINVAL;
    }
    if (!root) {
        snprintf(err, errcap, "app_state is not valid JSON: %s (line %d column %d)", jerr.text,
                 jerr.line, jerr.column);
        return PX_EINVAL;
    }
    int rc = 0;
    struct kvl_genesis_account *list = NULL;
    size_t count = 0;
    if (json_is_null(root))
        goto done;
    if (!json_is_object(root)) {
        snprintf(err, errcap, "app_state must be a JSON object {\"accounts\": [...]}");
        rc = PX_EINVAL;
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "accounts") != 0) {
            snprintf(err, errcap, "app_state has an unknown field \"%.40s\" (only \"accounts\")",
                     k);
            rc = PX_EINVAL;
            goto done;
        }
    }
    json_t *accounts = json_object_get(root, "accounts");
    if (!accounts || json_is_null(accounts))
        goto done;
    if (!json_is_array(accounts)) {
        snprintf(err, errcap, "app_state.accounts must be an array");
        rc = PX_EINVAL;
        goto done;
    }
    count = json_array_size(accounts);
    if (count > KVL_GENESIS_ACCOUNTS_MAX) {
        snprintf(err, errcap, "app_state has %zu accounts, more than %d", count,
                 KVL_GENESIS_ACCOUNTS_MAX);
        rc = PX_ETOOBIG;
        goto done;
    }
    if (count == 0)
        goto done;
    list = calloc(count, sizeof(*list));
    if (!list) {
        rc = PX_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        rc = parse_account(json_array_get(accounts, i), i, &list[i], err, errcap);
        if (rc)
            goto done;
    }
    qsort(list, count, sizeof(*list), cmp_account);
    for (size_t i = 1; i < count; i++) {
        if (memcmp(list[i - 1].pub, list[i].pub, LEDGER_PUBKEY_LEN) == 0) {
            char b64[PX_BASE64_LEN(LEDGER_PUBKEY_LEN)];
            px_base64_encode(b64, sizeof(b64), list[i].pub, LEDGER_PUBKEY_LEN);
            snprintf(err, errcap, "app_state lists the account %s twice", b64);
            rc = PX_EINVAL;
            goto done;
        }
    }
    if (has_minus_outside_strings(json, len)) {
        snprintf(err, errcap,
                 "app_state writes a balance as -0: a JSON number balance is "
                 "digits only (no sign)");
        rc = PX_EINVAL;
        goto done;
    }
done:
    json_decref(root);
    if (rc) {
        free(list);
        return rc;
    }
    *out = list;
    *n = list ? count : 0;
    return 0;
}
