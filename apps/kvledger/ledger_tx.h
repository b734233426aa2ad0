/*
 * ledger_tx: the binary ledger transaction of kvledger (a signed token transfer), as
 * apps/kvledger/TXFORMAT.md §1.2 defines it byte for byte: encode, decode, the
 * domain-separated sign bytes, sign and verify. Used by the app, the CLI and the load
 * generator. Pure codec: it never reads state, never allocates and never logs.
 */
#ifndef LEDGER_TX_H
#define LEDGER_TX_H

#include <stddef.h>
#include <stdint.h>

#define LEDGER_TX_MAGIC "LDG1"
#define LEDGER_TX_MAGIC_LEN 4
#define LEDGER_TX_TRANSFER 0x01
#define LEDGER_CHAIN_ID_MAX 50
#define LEDGER_PUBKEY_LEN 32
#define LEDGER_SECRET_KEY_LEN 64 /* libsodium's Ed25519 secret key: seed || public key */
#define LEDGER_SIG_LEN 64
/* Encoded length of a transfer whose chain id has chain_id_len bytes. */
#define LEDGER_TX_LEN(chain_id_len) (150 + (size_t)(chain_id_len))
#define LEDGER_TX_MAX_LEN LEDGER_TX_LEN(LEDGER_CHAIN_ID_MAX)
/* The domain tag in front of the signed bytes (followed by one zero byte). */
#define LEDGER_SIGN_DOMAIN "phalanx/kvledger/transfer/v1"
#define LEDGER_SIGN_BYTES_MAX (sizeof(LEDGER_SIGN_DOMAIN) + LEDGER_TX_MAX_LEN - LEDGER_SIG_LEN)

struct ledger_transfer {
    char chain_id[LEDGER_CHAIN_ID_MAX + 1]; /* NUL-terminated, 1..50 bytes */
    uint8_t from[LEDGER_PUBKEY_LEN];
    uint8_t to[LEDGER_PUBKEY_LEN];
    uint64_t amount;
    uint64_t nonce;
    uint8_t sig[LEDGER_SIG_LEN];
};

/* True if tx starts with the ledger magic (then it is a ledger tx, valid or not). */
int ledger_tx_is_ledger(const uint8_t *tx, size_t len);

/* Encode t, signature included as it is, into out[cap]; *out_len gets the length.
 * PX_EINVAL: chain id empty, longer than 50 bytes or not printable ASCII; PX_ETOOBIG: cap too
 * small. */
int ledger_tx_encode(const struct ledger_transfer *t, uint8_t *out, size_t cap, size_t *out_len);

/* Decode a transfer. PX_EDECODE: wrong magic, chain id length or bytes (printable ASCII
 * 0x21..0x7E only), or total length;
 * PX_EPROTO: a type byte other than transfer. On error *out is unspecified. */
int ledger_tx_decode(const uint8_t *tx, size_t len, struct ledger_transfer *out);

/* The bytes the sender signs: domain tag, 0x00, the encoded tx without its signature.
 * PX_EINVAL: bad chain id; PX_ETOOBIG: cap too small (LEDGER_SIGN_BYTES_MAX suffices). */
int ledger_tx_sign_bytes(const struct ledger_transfer *t, uint8_t *out, size_t cap,
                         size_t *out_len);

/* Set t->from to the public half of sk and t->sig to the signature over the sign bytes.
 * PX_EINVAL: bad chain id; PX_ECRYPTO: signing failed. */
int ledger_tx_sign(struct ledger_transfer *t, const uint8_t sk[LEDGER_SECRET_KEY_LEN]);

/* 0 if t->sig is from's valid signature over t's sign bytes; PX_ECRYPTO otherwise
 * (PX_EINVAL: bad chain id). */
int ledger_tx_verify(const struct ledger_transfer *t);

/* One call for clients: build a transfer from sk's account to `to`, sign it and encode it.
 * Errors as ledger_tx_encode and ledger_tx_sign. */
int ledger_tx_build(const char *chain_id, const uint8_t sk[LEDGER_SECRET_KEY_LEN],
                    const uint8_t to[LEDGER_PUBKEY_LEN], uint64_t amount, uint64_t nonce,
                    uint8_t *out, size_t cap, size_t *out_len);

#endif
