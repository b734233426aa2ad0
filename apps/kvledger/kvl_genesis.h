/*
 * kvl_genesis: read kvledger's genesis app_state (TXFORMAT.md §3),
 *     {"accounts": [{"pub_key": "<base64 of 32 bytes>", "balance": "1000"}, ...]}
 * into a list of accounts sorted by public key. Strict: an unknown field, a duplicate
 * key or a bad balance is an error that names the account. Never touches the database.
 */
#ifndef KVL_GENESIS_H
#define KVL_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger_tx.h"

#define KVL_GENESIS_ACCOUNTS_MAX 100000
#define KVL_GENESIS_BYTES_MAX (32u << 20)

struct kvl_genesis_account {
    uint8_t pub[LEDGER_PUBKEY_LEN];
    uint64_t balance;
};

/* Parse json[len] (len 0: no accounts). On success *out is a malloc'd array (NULL when
 * *n is 0) sorted by pub, owned by the caller (free()). Errors: PX_EINVAL (err gets a
 * sentence), PX_ETOOBIG (more than the limits above), PX_ENOMEM. */
int kvl_genesis_parse(const uint8_t *json, size_t len, struct kvl_genesis_account **out, size_t *n,
                      char *err, size_t errcap);

#endif
