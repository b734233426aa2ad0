/*
 * kv_tx: the ASCII key-value transactions of kvledger, `key=value` (set) and `del:key`
 * (delete), as TXFORMAT.md §1.1 defines them. Parsing only: the result points into the
 * caller's bytes; it never copies, allocates or reads state.
 */
#ifndef KV_TX_H
#define KV_TX_H

#include <stddef.h>
#include <stdint.h>

#define KV_TX_MAX 16384   /* any transaction, ledger or KV */
#define KV_KEY_MAX 256    /* bytes of a key */
#define KV_VALUE_MAX 8192 /* bytes of a value */
#define KV_TX_DELETE_PREFIX "del:"

enum kv_tx_kind {
    KV_TX_SET = 1,
    KV_TX_DELETE = 2,
};

struct kv_tx {
    enum kv_tx_kind kind;
    const uint8_t *key; /* into the parsed bytes */
    size_t key_len;
    const uint8_t *value; /* KV_TX_SET only; may be empty */
    size_t value_len;
};

/* Parse tx. PX_ETOOBIG: tx, key or value longer than its limit; PX_EDECODE: neither form,
 * an empty key, a key byte outside 0x21..0x7E, or a key starting with the ledger magic.
 * *why gets a static sentence for the log on error (why may be NULL). */
int kv_tx_parse(const uint8_t *tx, size_t len, struct kv_tx *out, const char **why);

#endif
