/*
 * ledger_tx: encode, decode, sign and verify kvledger's transfer transaction (see
 * ledger_tx.h and TXFORMAT.md §1.2). Reads exactly the bytes it is given and writes only
 * into the caller's buffers; it never touches application state.
 */
#include "ledger_tx.h"

#include "px_error.h"

#include <sodium.h>
#include <string.h>

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int chain_id_len(const struct ledger_transfer *t, size_t *len)
{
    size_t n = strnlen(t->chain_id, sizeof(t->chain_id));
    if (n == 0 || n > LEDGER_CHAIN_ID_MAX)
        return PX_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t->chain_id[i] < 0x21 || (unsigned char)t->chain_id[i] > 0x7e)
            return PX_EINVAL;
    *len = n;
    return 0;
}

int ledger_tx_is_ledger(const uint8_t *tx, size_t len)
{
    return len >= LEDGER_TX_MAGIC_LEN && memcmp(tx, LEDGER_TX_MAGIC, LEDGER_TX_MAGIC_LEN) == 0;
}

int ledger_tx_encode(const struct ledger_transfer *t, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t l;
    int rc = chain_id_len(t, &l);
    if (rc)
        return rc;
    size_t total = LEDGER_TX_LEN(l);
    if (cap < total)
        return PX_ETOOBIG;
    uint8_t *p = out;
    memcpy(p, LEDGER_TX_MAGIC, LEDGER_TX_MAGIC_LEN);
    p += LEDGER_TX_MAGIC_LEN;
    *p++ = LEDGER_TX_TRANSFER;
    *p++ = (uint8_t)l;
    memcpy(p, t->chain_id, l);
    p += l;
    memcpy(p, t->from, LEDGER_PUBKEY_LEN);
    p += LEDGER_PUBKEY_LEN;
    memcpy(p, t->to, LEDGER_PUBKEY_LEN);
    p += LEDGER_PUBKEY_LEN;
    put_u64(p, t->amount);
    p += 8;
    put_u64(p, t->nonce);
    p += 8;
    memcpy(p, t->sig, LEDGER_SIG_LEN);
    p += LEDGER_SIG_LEN;
    *out_len = (size_t)(p - out);
    return 0;
}

int ledger_tx_decode(const uint8_t *tx, size_t len, struct ledger_transfer *out)
{
    if (len < 6 || !ledger_tx_is_ledger(tx, len))
        return PX_EDECODE;
    if (tx[4] != LEDGER_TX_TRANSFER)
        return PX_EPROTO;
    size_t l = tx[5];
    if (l == 0 || l > LEDGER_CHAIN_ID_MAX || len != LEDGER_TX_LEN(l))
        return PX_EDECODE;
    const uint8_t *p = tx + 6;
    memcpy(out->chain_id, p, l);
    out->chain_id[l] = '\0';
    /* printable ASCII only: no NUL (it would differ from what was signed), and logs and
     * protobuf strings that quote it stay valid text */
    for (size_t i = 0; i < l; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return PX_EDECODE;
    p += l;
    memcpy(out->from, p, LEDGER_PUBKEY_LEN);
    p += LEDGER_PUBKEY_LEN;
    memcpy(out->to, p, LEDGER_PUBKEY_LEN);
    p += LEDGER_PUBKEY_LEN;
    out->amount = get_u64(p);
    p += 8;
    out->nonce = get_u64(p);
    p += 8;
    memcpy(out->sig, p, LEDGER_SIG_LEN);
    return 0;
}

int ledger_tx_sign_bytes(const struct ledger_transfer *t, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t tx[LEDGER_TX_MAX_LEN];
    size_t n;
    int rc = ledger_tx_encode(t, tx, sizeof(tx), &n);
    if (rc)
        return rc;
    size_t body = n - LEDGER_SIG_LEN;
    size_t total = sizeof(LEDGER_SIGN_DOMAIN) + body; /* sizeof counts the 0x00 */
    if (cap < total)
        return PX_ETOOBIG;
    memcpy(out, LEDGER_SIGN_DOMAIN, sizeof(LEDGER_SIGN_DOMAIN));
    memcpy(out + sizeof(LEDGER_SIGN_DOMAIN), tx, body);
    *out_len = total;
    return 0;
}

int ledger_tx_sign(struct ledger_transfer *t, const uint8_t sk[LEDGER_SECRET_KEY_LEN])
{
    if (sodium_init() < 0)
        return PX_ECRYPTO;
    if (crypto_sign_ed25519_sk_to_pk(t->from, sk) != 0)
        return PX_ECRYPTO;
    uint8_t msg[LEDGER_SIGN_BYTES_MAX];
    size_t n;
    int rc = ledger_tx_sign_bytes(t, msg, sizeof(msg), &n);
    if (rc)
        return rc;
    if (crypto_sign_ed25519_detached(t->sig, NULL, msg, n, sk) != 0)
        return PX_ECRYPTO;
    return 0;
}

int ledger_tx_verify(const struct ledger_transfer *t)
{
    if (sodium_init() < 0)
        return PX_ECRYPTO;
    uint8_t msg[LEDGER_SIGN_BYTES_MAX];
    size_t n;
    int rc = ledger_tx_sign_bytes(t, msg, sizeof(msg), &n);
    if (rc)
        return rc;
    if (crypto_sign_ed25519_verify_detached(t->sig, msg, n, t->from) != 0)
        return PX_ECRYPTO;
    return 0;
}

int ledger_tx_build(const char *chain_id, const uint8_t sk[LEDGER_SECRET_KEY_LEN],
                    const uint8_t to[LEDGER_PUBKEY_LEN], uint64_t amount, uint64_t nonce,
                    uint8_t *out, size_t cap, size_t *out_len)
{
    struct ledger_transfer t;
    memset(&t, 0, sizeof(t));
    size_t l = strlen(chain_id);
    if (l == 0 || l > LEDGER_CHAIN_ID_MAX)
        return PX_EINVAL;
    memcpy(t.chain_id, chain_id, l);
    memcpy(t.to, to, LEDGER_PUBKEY_LEN);
    t.amount = amount;
    t.nonce = nonce;
    int rc = ledger_tx_sign(&t, sk);
    if (rc)
        return rc;
    return ledger_tx_encode(&t, out, cap, out_len);
}
