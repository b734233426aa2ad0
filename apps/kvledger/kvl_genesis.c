/*
 * kvl_genesis: parse the genesis app_state with jansson (see kvl_genesis.h). Reads only
 * the bytes given; the returned list is the caller's.
 */
#include "kvl_genesis.h"

#include "px_encoding.h"
#include "px_error.h"

#include <errno.h>
#include <jansson.h>
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
    } else if (json_is_integer(bal) && json_integer_value(bal) >= 0) {
        out->balance = (uint64_t)json_integer_value(bal);
        return 0;
    }
    snprintf(err, errcap,
             "app_state.accounts[%zu].balance must be a decimal string (or integer) "
             "0..18446744073709551615",
             i);
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
    json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
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
