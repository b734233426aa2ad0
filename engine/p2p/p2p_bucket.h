/*
 * p2p_bucket: a token bucket that meters one kind of request from one peer, for the
 * reactors (a peer asking us for work: blocks to load and send).
 *
 * The bucket holds up to `burst` tokens and refills at `rate_per_s`; a request takes one. A
 * request that finds the bucket empty is over the limit: it should not be served, and it is
 * counted in `over`. The count is forgotten when the bucket is full again (the peer stayed
 * within its rate for burst/rate seconds), so an honest peer that overshoots once is not
 * punished later; a peer whose `over` reaches its limit is flooding and should be dropped.
 *
 * Pure: time comes in as an argument (monotonic nanoseconds); never allocates.
 */
#ifndef P2P_BUCKET_H
#define P2P_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

enum p2p_bucket_verdict {
    P2P_BUCKET_OK = 0, /* serve it */
    P2P_BUCKET_OVER,   /* over the rate: do not serve it */
    P2P_BUCKET_ABUSE,  /* over the rate for `max_over` requests since the bucket was last
                          full: drop the peer */
};

struct p2p_bucket {
    double tokens;
    uint64_t last_ns;
    uint64_t over; /* requests over the rate since the bucket was last full */
    bool started;
};

/* An empty struct p2p_bucket (all zero) starts full at its first request. */
enum p2p_bucket_verdict p2p_bucket_take(struct p2p_bucket *b, uint64_t now_ns, uint32_t rate_per_s,
                                        uint32_t burst, uint64_t max_over);

#endif
