/*
 * fuzz_kvl_genesis: kvledger's genesis app_state (apps/kvledger/kvl_genesis.h), the JSON
 * the app receives in InitChain. A refusal comes with a sentence; an accepted state is a
 * list of at most KVL_GENESIS_ACCOUNTS_MAX accounts sorted by public key without
 * duplicates.
 *
 * Never opens the app's database.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "kvl_genesis.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kvl_genesis_account *acc = NULL;
    size_t n = 0;
    char err[512];
    err[0] = '\0';
    int rc = kvl_genesis_parse(data, size, &acc, &n, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == PX_EINVAL || rc == PX_ETOOBIG || rc == PX_ENOMEM);
    if (rc == PX_EINVAL)
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    if (rc != 0)
        return 0;
    FUZZ_CHECK(n <= KVL_GENESIS_ACCOUNTS_MAX);
    FUZZ_CHECK((n == 0) == (acc == NULL));
    for (size_t i = 1; i < n; i++)
        FUZZ_CHECK(memcmp(acc[i - 1].pub, acc[i].pub, LEDGER_PUBKEY_LEN) < 0);
    free(acc);
    return 0;
}
