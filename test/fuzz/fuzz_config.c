/*
 * fuzz_config: node.conf as an operator writes it (engine/config/config.h), loaded with
 * config_load from a temporary file. A refusal comes with a sentence; an accepted file
 * gives values that validate, and config_format of them, loaded again, gives equal values.
 *
 * Works only on its own temporary files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config *c1, *c2;
    if (!c1) {
        c1 = malloc(sizeof(*c1));
        c2 = malloc(sizeof(*c2));
        FUZZ_CHECK(c1 && c2);
    }
    fuzz_quiet_logs();
    const char *p = fuzz_tmp_path("node.conf");
    fuzz_write_file(p, data, size);
    char err[CONFIG_ERR_MAX];
    err[0] = '\0';
    int rc = config_load(p, c1, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == PX_ECONFIG || rc == PX_ETOOBIG || rc == PX_ENOMEM);
    if (rc == PX_ECONFIG)
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    if (rc != 0)
        return 0;
    FUZZ_CHECK(config_validate(c1, err, sizeof(err)) == 0);

    char *text = NULL;
    FUZZ_CHECK(config_format(c1, &text) == 0);
    const char *p2 = fuzz_tmp_path("formatted.conf");
    fuzz_write_file(p2, (const uint8_t *)text, strlen(text));
    rc = config_load(p2, c2, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "formatted node.conf refused: %s\n", err);
    FUZZ_CHECK(rc == 0);
    const char *diff = NULL;
    bool same = config_equal(c1, c2, &diff);
    if (!same)
        fprintf(stderr, "option %s differs after format and load\n", diff ? diff : "?");
    FUZZ_CHECK(same);
    free(text);
    return 0;
}
