/*
 * p2p_bucket: a token bucket with a count of requests over the rate (see p2p_bucket.h). Pure.
 */
#include "p2p_bucket.h"

enum p2p_bucket_verdict p2p_bucket_take(struct p2p_bucket *b, uint64_t now_ns, uint32_t rate_per_s,
                                        uint32_t burst, uint64_t max_over)
{
    if (!b->started) {
        b->started = true;
        b->tokens = (double)burst;
        b->last_ns = now_ns;
    }
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) * (double)rate_per_s / 1e9;
        b->last_ns = now_ns;
    }
    if (b->tokens >= (double)burst) {
        b->tokens = (double)burst;
        b->over = 0;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return P2P_BUCKET_OK;
    }
    b->over++;
    return b->over >= max_over ? P2P_BUCKET_ABUSE : P2P_BUCKET_OVER;
}
