/*
 * fuzz_chainstate: the chain state record of the state store (engine/state/chainstate.h),
 * as a node reads it back from disk at start and on rollback. Whatever decodes has a
 * non-empty validator set and bounded lengths, encodes again, and that encoding decodes to
 * a state that encodes to the same bytes.
 *
 * Never opens a store; the states are on the heap (they are large).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chainstate.h"
#include "fuzz_util.h"
#include "fuzz_vset.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct chain_state *s1, *s2;
    if (!s1) {
        s1 = malloc(sizeof(*s1));
        s2 = malloc(sizeof(*s2));
        FUZZ_CHECK(s1 && s2);
    }
    int rc = chainstate_decode(data, size, s1);
    FUZZ_CHECK(rc == 0 || rc == PX_EDECODE || rc == PX_ENOMEM);
    if (rc != 0)
        return 0;
    check_validator_set(&s1->validators);
    /* the decoder lets the other two sets be empty (last_validators is, before block 1) */
    if (s1->next_validators.count)
        check_validator_set(&s1->next_validators);
    if (s1->last_validators.count)
        check_validator_set(&s1->last_validators);
    FUZZ_CHECK(s1->app_hash_len <= HEADER_APP_HASH_MAX);
    FUZZ_CHECK(strlen(s1->chain_id) <= HEADER_CHAIN_ID_MAX);

    uint8_t *e1 = NULL, *e2 = NULL;
    size_t l1 = 0, l2 = 0;
    FUZZ_CHECK(chainstate_encode(s1, &e1, &l1) == 0);
    FUZZ_CHECK(chainstate_decode(e1, l1, s2) == 0);
    FUZZ_CHECK(chainstate_encode(s2, &e2, &l2) == 0);
    FUZZ_CHECK_BYTES(e1, l1, e2, l2);
    free(e1);
    free(e2);
    return 0;
}
