/*
 * privval: the file signer, the one place where the validator's consensus key signs
 * (DESIGN §7). It keeps the last signed height/round/step (HRS), sign bytes and signature in
 * HOME/data/priv_validator_state.json (CometBFT's format) and:
 *
 *  - persists the new state (statefile: fill a scratch file, fsync, swap it with the state
 *    file, fsync the directory) BEFORE it releases a signature; the write opens no file
 *    descriptor, so a process out of them still signs;
 *  - refuses any (height, round, step) below the last one, and different sign bytes at the
 *    same HRS (PX_ECONFLICT);
 *  - returns the stored signature again for identical sign bytes at the same HRS;
 *  - fails closed: a signature whose state could not be made durable is refused. When the
 *    cause is transient (out of file descriptors, disk full: privval_err_is_transient) the
 *    next request tries again; any other error (an I/O error) stops the signer, which then
 *    refuses every request with that error until the process starts again and reloads the
 *    state from disk. privval_health says which, in a sentence for /health;
 *  - holds an exclusive lock (STATE_PATH.lock) so two processes never share one state.
 *
 * Steps are ordered as CometBFT's: propose (1) < prevote (2) < precommit (3). Sign bytes
 * are opaque here (the types module builds them); CometBFT's acceptance of a vote that
 * differs only in its timestamp is left to the caller (privval_last_signed): identical
 * bytes only.
 * Never logs, prints or copies private key bytes outside this object.
 */
#ifndef PX_PRIVVAL_H
#define PX_PRIVVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statefile.h"

enum privval_step {
    PRIVVAL_STEP_NONE = 0, /* only in the initial state: nothing signed yet */
    PRIVVAL_STEP_PROPOSE = 1,
    PRIVVAL_STEP_PREVOTE = 2,
    PRIVVAL_STEP_PRECOMMIT = 3,
};

#define PRIVVAL_SIGN_BYTES_MAX 65536         /* larger sign bytes are refused */
#define PRIVVAL_STATE_FILE_MAX (512u * 1024) /* a larger state file is refused */
#define PRIVVAL_SIG_SIZE 64
#define PRIVVAL_PUBKEY_SIZE 32
#define PRIVVAL_ADDRESS_SIZE 20
#define PRIVVAL_ERR_MAX 512

struct privval;

/* Write the initial state (height 0, nothing signed) to state_path, mode 0600, never over
 * an existing file. Errors: PX_EEXIST, PX_EIO, PX_EPERM, PX_ENOTFOUND (no directory). */
int privval_state_create(const char *state_path);

/* Open the signer: load the key (CometBFT priv_validator_key.json, mode 0600) and the
 * state; the state must exist (privval_state_create) so that a lost state file is never
 * mistaken for a fresh validator. On failure err gets a sentence naming the file and what
 * to do. Errors: PX_ENOTFOUND (key or state missing), PX_EDECODE / PX_ECRYPTO (bad key
 * file), PX_ECORRUPT (state unreadable, or its signature is not the key's signature of its
 * sign bytes), PX_EAGAIN (another process has this signer open), PX_EPERM, PX_EIO,
 * PX_ENOFD, PX_ENOSPC, PX_ENOMEM. Holds four descriptors while open: the lock, the state
 * directory, the state file and its scratch file. On success *out belongs to the caller
 * (privval_free). */
int privval_open(const char *key_path, const char *state_path, struct privval **out, char *err,
                 size_t err_cap);

/* Sign sign_bytes at (height, round, step); on success sig holds the signature, already
 * durable in the state file. Errors (sig untouched, nothing signed):
 *   PX_EINVAL    height < 1, round < 0, step not propose/prevote/precommit, len 0 or above
 *                PRIVVAL_SIGN_BYTES_MAX;
 *   PX_ECONFLICT (height, round, step) below the last signed, or the same with different
 *                sign bytes (or with no stored signature);
 *   PX_ENOFD, PX_ENOSPC, PX_EAGAIN, PX_ENOMEM
 *                transient: the state could not be made durable (or memory was short) now;
 *                the signer keeps working and a later request may succeed;
 *   PX_EIO, PX_EPERM, PX_ENOTFOUND, ...
 *                the state could not be made durable and the signer stopped
 *                (privval_failed); this and every later request get this same code. */
int privval_sign(struct privval *pv, int64_t height, int32_t round, enum privval_step step,
                 const uint8_t *sign_bytes, size_t len, uint8_t sig[PRIVVAL_SIG_SIZE]);

/* The last signed height, round and step (0, 0, NONE if nothing yet). */
void privval_last(const struct privval *pv, int64_t *height, int32_t *round,
                  enum privval_step *step);
/* The last signed sign bytes and signature (borrowed: valid until the next privval_sign or
 * privval_free). PX_ENOTFOUND if nothing is stored. For the node to reuse a vote it signed
 * before a restart when its new request differs only in the timestamp (CometBFT's rule,
 * which needs the vote codec; the signer itself compares bytes only). */
int privval_last_signed(const struct privval *pv, const uint8_t **sign_bytes, size_t *len,
                        const uint8_t **sig);
void privval_pubkey(const struct privval *pv, uint8_t out[PRIVVAL_PUBKEY_SIZE]);
void privval_address(const struct privval *pv, uint8_t out[PRIVVAL_ADDRESS_SIZE]);
/* True once a non-transient error stopped the signer (until privval_free and a new open). */
bool privval_failed(const struct privval *pv);
/* True for the errors of privval_sign after which the signer keeps working and the same
 * request may succeed later (see privval_sign). */
bool privval_err_is_transient(int err);
/* 0 while the signer signs: nothing tried yet, or its last write of the state succeeded.
 * Otherwise the error of the last failed write (transient, or the one that stopped it),
 * with a sentence in why (may be NULL): the file, the cause, the height/round/step
 * refused, and the fix. */
int privval_health(const struct privval *pv, char *why, size_t why_cap);
/* Writes of the state that failed since privval_open. */
uint64_t privval_failures(const struct privval *pv);
/* Make steps of the state writes fail (statefile.h). Tests and the simulator only. */
void privval_set_fault(struct privval *pv, statefile_fault_fn fn, void *user);

/* Wipe the key, release the lock, free. NULL is fine. */
void privval_free(struct privval *pv);

#endif
