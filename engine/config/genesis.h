/*
 * genesis: the chain's genesis document, HOME/config/genesis.json, in CometBFT's JSON shape
 * (so operators' files and tools carry over): genesis_time, chain_id, initial_height,
 * consensus_params, validators, app_hash, app_state. 64-bit integers are accepted as JSON
 * strings (CometBFT's form, which the writer uses) or numbers.
 *
 * Loading is strict and bounded: unknown fields, duplicate keys, wrong types, bad values, a
 * validator address that is not SHA-256(pub_key)[0:20], duplicate validators or too much
 * total power stop with a sentence naming the file, the field and what was expected.
 * app_state is kept as the exact JSON text of the file, for the application. Never logs.
 */
#ifndef PX_GENESIS_H
#define PX_GENESIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GENESIS_CHAIN_ID_MAX 50 /* bytes, as CometBFT */
#define GENESIS_MAX_VALIDATORS 10000
#define GENESIS_NAME_MAX 129                    /* validator name: 128 bytes + NUL */
#define GENESIS_MAX_TOTAL_POWER (INT64_MAX / 8) /* as CometBFT's MaxTotalVotingPower */
#define GENESIS_APP_HASH_MAX 64
#define GENESIS_FILE_MAX (256u * 1024 * 1024)
#define GENESIS_PUBKEY_TYPES_MAX 4
#define GENESIS_ADDRESS_SIZE 20
#define GENESIS_PUBKEY_SIZE 32
#define GENESIS_ERR_MAX 512
#define GENESIS_MAX_BLOCK_BYTES (100 * 1024 * 1024) /* CometBFT's MaxBlockSizeBytes */

/* The only validator key type today. */
#define GENESIS_PUBKEY_TYPE_ED25519 "tendermint/PubKeyEd25519"

struct genesis_validator {
    uint8_t address[GENESIS_ADDRESS_SIZE];
    uint8_t pub_key[GENESIS_PUBKEY_SIZE]; /* Ed25519 */
    int64_t power;
    char name[GENESIS_NAME_MAX];
};

struct genesis_params {
    int64_t block_max_bytes;              /* 1 .. GENESIS_MAX_BLOCK_BYTES */
    int64_t block_max_gas;                /* -1 (no limit) or >= 0 */
    int64_t evidence_max_age_num_blocks;  /* > 0 */
    int64_t evidence_max_age_duration_ns; /* > 0 */
    int64_t evidence_max_bytes;           /* 0 .. block_max_bytes */
    size_t n_pub_key_types;
    char pub_key_types[GENESIS_PUBKEY_TYPES_MAX][16]; /* "ed25519" */
    uint64_t app_version;
};

struct genesis {
    uint64_t genesis_time_ns; /* wall clock, ns since the epoch */
    char chain_id[GENESIS_CHAIN_ID_MAX + 1];
    int64_t initial_height; /* >= 1 */
    struct genesis_params params;
    size_t n_validators;
    struct genesis_validator *validators; /* owned (genesis_fini) */
    uint8_t app_hash[GENESIS_APP_HASH_MAX];
    size_t app_hash_len;
    char *app_state; /* owned: JSON text exactly as in the file; NULL if absent */
};

/* CometBFT's default consensus params (22020096-byte blocks, no gas limit, evidence of
 * 100000 blocks / 48 h / 1 MiB, ed25519 keys). */
void genesis_default_params(struct genesis_params *p);

/* Parse and validate genesis JSON text. `name` is used in error sentences (the path).
 * On success *g owns its memory (genesis_fini). Errors: PX_ECONFIG (with a sentence in
 * err), PX_ENOMEM, PX_ETOOBIG. */
int genesis_parse(const char *text, size_t len, const char *name, struct genesis *g, char *err,
                  size_t err_cap);

/* Read and parse a genesis file. Errors: those of genesis_parse, PX_ENOTFOUND, PX_EIO. */
int genesis_load(const char *path, struct genesis *g, char *err, size_t err_cap);

/* Check a genesis built in code (what genesis_parse checks after reading). PX_ECONFIG. */
int genesis_validate(const struct genesis *g, char *err, size_t err_cap);

/* The JSON text of g (CometBFT's shape, 2-space indent) as a malloc'd string. PX_ENOMEM,
 * PX_EINVAL (app_state is not valid JSON). */
int genesis_format(const struct genesis *g, char **out);

/* Validate, format and write atomically, never over an existing file (mode 0644).
 * PX_EEXIST, PX_ECONFIG (err), PX_EIO, ... */
int genesis_write(const char *path, const struct genesis *g, char *err, size_t err_cap);

/* SHA-256(pub_key)[0:20]. */
void genesis_address_of(const uint8_t pub_key[GENESIS_PUBKEY_SIZE],
                        uint8_t address[GENESIS_ADDRESS_SIZE]);

/* Free what g owns; g is then empty. */
void genesis_fini(struct genesis *g);

#endif
