/*
 * blockexec: see blockexec.h. What the steps of block execution share: the sentence a
 * refusal writes into the caller's `why`, the ranking of errors, and the result report.
 * The steps live one per file: blockexec_build.c (our proposal), blockexec_validate.c (a
 * proposal's verdict), blockexec_apply.c (a decided block, in the commit order, and the
 * records it saves), blockexec_handshake.c (start-up: InitChain or replay), and
 * blockexec_abci.c, the edge where ABCI requests are built and answers read.
 */
#include "blockexec_internal.h"

#include "px_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void blockexec_result_fini(struct blockexec_result *r)
{
    if (r == NULL)
        return;
    free(r->txs);
    memset(r, 0, sizeof(*r));
}

void blockexec_say(char *why, size_t cap, const char *fmt, ...)
{
    if (why == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

bool blockexec_err_is_fatal(int err)
{
    return err == PX_ECORRUPT || err == PX_EIO || err == PX_EPERM || err == PX_EDIVERGED;
}
