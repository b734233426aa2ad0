/*
 * cli_home: the pieces of a node's home directory that `phalanx init` and `phalanx testnet`
 * both make (DESIGN §1 layout): the directories, the node and validator keys (mode 0600),
 * the signer's initial state, node.conf and genesis.json; and the "build beside, rename
 * into place" steps that make a new home (or a whole testnet) appear whole or not at all.
 *
 * Never overwrites a file: every write is exclusive, so a mistake can never destroy a key
 * or a signer state. Never prints: failures come back as a sentence in err (naming the
 * path) for the subcommand to show.
 */
#ifndef PHALANX_CLI_HOME_H
#define PHALANX_CLI_HOME_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "ed25519.h"
#include "genesis.h"
#include "keyfile.h"

#define CLI_HOME_ERR_MAX 1024 /* a buffer this large holds every error sentence */
#define CLI_HOME_PATH_MAX 3000

/* 0 if dir does not exist or is an empty directory; PX_EEXIST if it holds anything or is
 * not a directory; another PX_E code if it cannot be read. */
int cli_home_check_empty(const char *dir);

/* Remove a tree this run made (rm -rf, not following symbolic links). */
void cli_home_remove_tree(const char *dir);

/* Where to build `final`: an existing empty directory is filled in place (*in_place true,
 * build = final); otherwise a fresh directory FINAL.PURPOSE-XXXXXX beside it is created
 * (mode 0700) to be renamed over later with cli_home_commit. Errors: PX_ETOOBIG (path too
 * long), PX_EIO and errno-derived codes, with a sentence in err. */
int cli_home_build_dir(const char *final, const char *purpose, char *build, size_t build_cap,
                       bool *in_place, char *err, size_t err_cap);

/* fsync build, rename it to final, fsync final's parent. PX_EIO (err). */
int cli_home_commit(const char *build, const char *final, char *err, size_t err_cap);

/* Make home/, home/config/ and home/data/ (mode 0700) unless they exist. */
int cli_home_make_dirs(const char *home, char *err, size_t err_cap);

/* A fresh Ed25519 key written to path in the format of kind; its public key to *pub.
 * PX_EEXIST (path exists: nothing written), PX_EINTERNAL (no randomness), PX_EIO, ... */
int cli_home_write_new_key(const char *path, enum keyfile_kind kind, struct ed25519_pubkey *pub,
                           char *err, size_t err_cap);

/* The node's identity and signer: config/node_key.json, config/priv_validator_key.json
 * (fresh keys) and data/priv_validator_state.json (nothing signed yet). The public keys go
 * to *node_pub and *val_pub. */
int cli_home_write_keys(const char *home, struct ed25519_pubkey *node_pub,
                        struct ed25519_pubkey *val_pub, char *err, size_t err_cap);

/* config/node.conf holding c (validated first: PX_ECONFIG with the option named). */
int cli_home_write_conf(const char *home, const struct config *c, char *err, size_t err_cap);

/* config/genesis.json holding g (validated first: PX_ECONFIG). */
int cli_home_write_genesis(const char *home, const struct genesis *g, char *err, size_t err_cap);

#endif
