/*
 * kv_tx: parse kvledger's ASCII key-value transactions (see kv_tx.h, TXFORMAT.md §1.1).
 * Never reads past len and never writes anything but *out and *why.
 */
#include "kv_tx.h"

#include "ledger_tx.h"
#include "px_error.h"

#include <string.h>

static int fail(const char **why, const char *text, int err)
{
    if (why)
        *why = text;
    return err;
}

static int check_key(const uint8_t *key, size_t len, const char **why)
{
    if (len == 0)
        return fail(why, "the key is empty", PX_EDECODE);
    if (len > KV_KEY_MAX)
        return fail(why, "the key is longer than 256 bytes", PX_ETOOBIG);
    for (size_t i = 0; i < len; i++)
        if (key[i] < 0x21 || key[i] > 0x7e || key[i] == '=')
            return fail(why, "the key has a byte outside printable ASCII 0x21..0x7E", PX_EDECODE);
    if (ledger_tx_is_ledger(key, len))
        return fail(why, "a key may not start with LDG1", PX_EDECODE);
    return 0;
}

int kv_tx_parse(const uint8_t *tx, size_t len, struct kv_tx *out, const char **why)
{
    if (len > KV_TX_MAX)
        return fail(why, "the transaction is longer than 16384 bytes", PX_ETOOBIG);
    if (len == 0)
        return fail(why, "the transaction is empty", PX_EDECODE);
    const uint8_t *eq = memchr(tx, '=', len);
    if (eq) {
        size_t klen = (size_t)(eq - tx);
        int rc = check_key(tx, klen, why);
        if (rc)
            return rc;
        size_t vlen = len - klen - 1;
        if (vlen > KV_VALUE_MAX)
            return fail(why, "the value is longer than 8192 bytes", PX_ETOOBIG);
        out->kind = KV_TX_SET;
        out->key = tx;
        out->key_len = klen;
        out->value = eq + 1;
        out->value_len = vlen;
        return 0;
    }
    size_t plen = strlen(KV_TX_DELETE_PREFIX);
    if (len >= plen && memcmp(tx, KV_TX_DELETE_PREFIX, plen) == 0) {
        int rc = check_key(tx + plen, len - plen, why);
        if (rc)
            return rc;
        out->kind = KV_TX_DELETE;
        out->key = tx + plen;
        out->key_len = len - plen;
        out->value = NULL;
        out->value_len = 0;
        return 0;
    }
    return fail(why, "not a kvledger transaction: expected key=value, del:key or a LDG1 ledger tx",
                PX_EDECODE);
}
