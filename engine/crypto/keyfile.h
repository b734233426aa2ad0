/*
 * keyfile: Ed25519 key files in CometBFT's JSON format, so operators' tools and habits
 * carry over:
 *
 *   priv_validator_key.json  {"address": HEX, "pub_key": {"type": "tendermint/PubKeyEd25519",
 *                             "value": B64}, "priv_key": {"type": "tendermint/PrivKeyEd25519",
 *                             "value": B64 of seed||pubkey}}
 *   node_key.json            {"priv_key": {"type": "tendermint/PrivKeyEd25519", "value": B64}}
 *
 * Files are written atomically (temporary file, fsync, rename without replacing, fsync of
 * the directory) with mode 0600, and never over an existing file. Loading refuses a file
 * group or others can read, bad JSON, wrong lengths and a public key or address that does
 * not belong to the private key, with a sentence naming the file and what is wrong.
 * Never prints or logs private key bytes.
 */
#ifndef PX_CRYPTO_KEYFILE_H
#define PX_CRYPTO_KEYFILE_H

#include <stddef.h>

#include "ed25519.h"

#define KEYFILE_MAX_BYTES 65536 /* a larger file is refused without being parsed */
#define KEYFILE_ERR_MAX 512     /* a buffer this large holds every error sentence */

enum keyfile_kind {
    KEYFILE_VALIDATOR, /* priv_validator_key.json */
    KEYFILE_NODE,      /* node_key.json */
};

/* Write priv (whose second half must be its public key) to path in the format of kind.
 * Errors: PX_EEXIST (path exists: nothing written), PX_EINVAL (inconsistent key),
 * PX_EIO / PX_EPERM / PX_ENOTFOUND (file system; no temporary file is left behind).
 * err (may be NULL) receives a sentence on failure. */
int keyfile_write(const char *path, enum keyfile_kind kind, const struct ed25519_privkey *priv,
                  char *err, size_t err_cap);

/* Load a key file of the given kind. On success *priv and *pub hold the key.
 * Errors: PX_ENOTFOUND (no such file), PX_EPERM (group/other can read it, or cannot be
 * opened), PX_ETOOBIG (larger than KEYFILE_MAX_BYTES), PX_EDECODE (not JSON, missing or
 * wrong fields, bad base64/hex, wrong lengths), PX_ECRYPTO (public key or address does not
 * belong to the private key), PX_EIO. err (may be NULL) receives a sentence on failure. */
int keyfile_load(const char *path, enum keyfile_kind kind, struct ed25519_privkey *priv,
                 struct ed25519_pubkey *pub, char *err, size_t err_cap);

/* The node id of a node key: lower-case hex of its address (CometBFT's form), 41 bytes. */
#define KEYFILE_NODE_ID_LEN (CRYPTO_ADDRESS_SIZE * 2 + 1)
void keyfile_node_id(const struct ed25519_pubkey *pub, char out[KEYFILE_NODE_ID_LEN]);

#endif
