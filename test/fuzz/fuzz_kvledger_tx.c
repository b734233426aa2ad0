/*
 * fuzz_kvledger_tx: the transaction parsers of the reference app (apps/kvledger), which
 * see every byte a client sends through broadcast_tx: kv_tx_parse (`key=value`,
 * `del:key`) and ledger_tx_decode (the binary LDG1 transfer). Properties: a parsed KV tx
 * points inside the input within its limits and a refusal says why; a ledger tx is
 * fixed-layout, so a decoded transfer encodes back to exactly the input bytes; the two
 * formats never both accept the same bytes.
 *
 * Never opens the app's store; never verifies signatures (that needs no fuzzing).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kv_tx.h"
#include "ledger_tx.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kv_tx kv;
    const char *why = NULL;
    int kv_rc = kv_tx_parse(data, size, &kv, &why);
    FUZZ_CHECK(kv_rc == 0 || kv_rc == PX_EDECODE || kv_rc == PX_ETOOBIG);
    if (kv_rc != 0) {
        FUZZ_CHECK(why != NULL && why[0] != '\0');
    } else {
        FUZZ_CHECK(kv.kind == KV_TX_SET || kv.kind == KV_TX_DELETE);
        FUZZ_CHECK(kv.key_len >= 1 && kv.key_len <= KV_KEY_MAX);
        FUZZ_CHECK(kv.key >= data && kv.key + kv.key_len <= data + size);
        for (size_t i = 0; i < kv.key_len; i++)
            FUZZ_CHECK(kv.key[i] >= 0x21 && kv.key[i] <= 0x7E);
        if (kv.kind == KV_TX_SET) {
            FUZZ_CHECK(kv.value_len <= KV_VALUE_MAX);
            FUZZ_CHECK(kv.value_len == 0 ||
                       (kv.value >= data && kv.value + kv.value_len <= data + size));
        }
    }

    struct ledger_transfer t;
    int l_rc = ledger_tx_decode(data, size, &t);
    FUZZ_CHECK(l_rc == 0 || l_rc == PX_EDECODE || l_rc == PX_EPROTO);
    if (l_rc == 0) {
        FUZZ_CHECK(ledger_tx_is_ledger(data, size));
        FUZZ_CHECK(kv_rc != 0); /* one byte string, one meaning */
        size_t n = strlen(t.chain_id);
        FUZZ_CHECK(n >= 1 && n <= LEDGER_CHAIN_ID_MAX);
        uint8_t out[LEDGER_TX_MAX_LEN];
        size_t out_len = 0;
        FUZZ_CHECK(ledger_tx_encode(&t, out, sizeof(out), &out_len) == 0);
        FUZZ_CHECK_BYTES(out, out_len, data, size);
        uint8_t sb[LEDGER_SIGN_BYTES_MAX];
        size_t sb_len = 0;
        FUZZ_CHECK(ledger_tx_sign_bytes(&t, sb, sizeof(sb), &sb_len) == 0);
    }
    return 0;
}
