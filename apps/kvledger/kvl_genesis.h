/*
 * kvl_genesis: read kvledger's genesis app_state (TXFORMAT.md §3),
 *     {"accounts": [{"pub_key": "<base64 of 32 bytes>", "balance": "1000"}, ...]}
 * into a list of accounts sorted by the raw bytes of their public keys, and check the
 * chain id InitChain gives. Strict, exactly as §3 lists the rules: an unknown field, a
 * duplicate JSON key or account, a key that is not canonical padded base64 of 32 bytes, or
 * a balance that is not a decimal string 0..2^64-1 or a digits-only JSON integer
 * 0..2^53-1 is an error that names the account. `phalanx testnet --app-state` uses the
 * same functions, so a genesis it writes is one kvledger accepts. Never touches the
 * database.
 */
#ifndef KVL_GENESIS_H
#define KVL_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger_tx.h"

#define KVL_GENESIS_ACCOUNTS_MAX 100000
#define KVL_GENESIS_BYTES_MAX (32u << 20)
/* The largest balance written as a JSON number: 2^53-1, what every JSON parser reads
 * exactly (larger balances are decimal strings). */
#define KVL_GENESIS_JSON_INT_MAX 9007199254740991ull

struct kvl_genesis_account {
    uint8_t pub[LEDGER_PUBKEY_LEN];
    uint64_t balance;
};

/* Parse json[len]; len 0, JSON null, {}, and an absent or null "accounts" all mean no
 * accounts. On success *out is a malloc'd array (NULL when *n is 0) sorted by pub (raw
 * bytes, memcmp), owned by the caller (free()). Errors: PX_EINVAL (err gets a
 * sentence), PX_ETOOBIG (more than the limits above), PX_ENOMEM. */
int kvl_genesis_parse(const uint8_t *json, size_t len, struct kvl_genesis_account **out, size_t *n,
                      char *err, size_t errcap);

/* 0 if chain_id is 1..LEDGER_CHAIN_ID_MAX bytes of printable ASCII 0x21..0x7E (the bytes
 * a transfer carries, TXFORMAT.md §1.2); else PX_EINVAL and err gets a sentence. */
int kvl_genesis_check_chain_id(const char *chain_id, char *err, size_t errcap);

#endif
