/*
 * fuzz_genesis: genesis.json as an operator (or a tool) hands it to the node
 * (engine/config/genesis.h). The input is the file's text, not NUL-terminated. A refusal
 * comes with a sentence; an accepted genesis validates, formats, and its formatted text
 * parses to a genesis that formats to the same text.
 *
 * Never reads or writes a file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "genesis.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct genesis g1, g2;
    char err[GENESIS_ERR_MAX];
    err[0] = '\0';
    int rc = genesis_parse((const char *)data, size, "fuzz/genesis.json", &g1, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == PX_ECONFIG || rc == PX_ENOMEM || rc == PX_ETOOBIG);
    if (rc == PX_ECONFIG)
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    if (rc != 0)
        return 0;
    FUZZ_CHECK(g1.n_validators <= GENESIS_MAX_VALIDATORS);
    FUZZ_CHECK(strlen(g1.chain_id) <= GENESIS_CHAIN_ID_MAX);
    FUZZ_CHECK(g1.app_hash_len <= GENESIS_APP_HASH_MAX);
    FUZZ_CHECK(genesis_validate(&g1, err, sizeof(err)) == 0);

    char *t1 = NULL, *t2 = NULL;
    FUZZ_CHECK(genesis_format(&g1, &t1) == 0);
    rc = genesis_parse(t1, strlen(t1), "fuzz/formatted.json", &g2, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "formatted genesis refused: %s\n", err);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(genesis_format(&g2, &t2) == 0);
    FUZZ_CHECK(strcmp(t1, t2) == 0);
    free(t1);
    free(t2);
    genesis_fini(&g1);
    genesis_fini(&g2);
    return 0;
}
