/*
 * indexer: see indexer.h. The only file of engine/state that reads the packed FinalizeBlock
 * responses' events (protobuf-c at the edge).
 */
#include "indexer.h"

#include "abci.pb-c.h"
#include "px_error.h"
#include "px_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "indexer"

typedef Phalanx__Abci__Event Event;

static int add_events(struct txindex *x, Event **events, size_t n, int64_t tx_index)
{
    for (size_t e = 0; e < n; e++) {
        const Event *ev = events[e];
        if (!ev->type || !ev->type[0])
            continue;
        for (size_t a = 0; a < ev->n_attributes; a++) {
            const Phalanx__Abci__EventAttribute *at = ev->attributes[a];
            if (!at->key || !at->key[0])
                continue;
            char key[TXINDEX_KEY_MAX + 2];
            int kl = snprintf(key, sizeof(key), "%s.%s", ev->type, at->key);
            if (kl < 0 || (size_t)kl >= sizeof(key))
                continue; /* too long to index: searches read the results instead */
            const char *value = at->value ? at->value : "";
            int err = tx_index >= 0 ? txindex_add_tx(x, (uint32_t)tx_index, key, value)
                                    : txindex_add_block(x, key, value);
            if (err)
                return err;
        }
    }
    return 0;
}

int indexer_index_height(struct txindex *x, struct statestore *ss, uint64_t h)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int err = statestore_get(ss, STATESTORE_RESULTS, h, &buf, &len);
    if (err)
        return err;
    Phalanx__Abci__ResponseFinalizeBlock *r =
        phalanx__abci__response_finalize_block__unpack(NULL, len, buf);
    free(buf);
    if (!r)
        return PX_EDECODE;
    err = txindex_begin(x, h);
    if (!err)
        err = add_events(x, r->events, r->n_events, -1);
    for (size_t i = 0; !err && i < r->n_tx_results; i++)
        err = add_events(x, r->tx_results[i]->events, r->tx_results[i]->n_events, (int64_t)i);
    if (!err)
        err = txindex_commit(x);
    else
        txindex_rollback(x);
    phalanx__abci__response_finalize_block__free_unpacked(r, NULL);
    return err;
}

int indexer_catch_up(struct txindex *x, struct statestore *ss, uint64_t from, uint64_t to)
{
    uint64_t h = txindex_height(x) + 1;
    if (h < from)
        h = from;
    uint64_t total = to >= h ? to - h + 1 : 0, done = 0;
    for (; h <= to; h++, done++) {
        int err = indexer_index_height(x, ss, h);
        if (err == PX_ENOTFOUND)
            continue; /* pruned, or never executed here (state sync): nothing to index */
        if (err) {
            PX_WARN(MOD, "cannot index a height", "height=%llu err=\"%s\"", (unsigned long long)h,
                    px_strerror(err));
            return err;
        }
        if (total >= 1000 && done % 1000 == 0)
            PX_INFO(MOD, "indexing past heights", "done=%llu total=%llu", (unsigned long long)done,
                    (unsigned long long)total);
    }
    return 0;
}
