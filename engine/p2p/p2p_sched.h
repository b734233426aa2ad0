/*
 * p2p_sched: which channel of a peer sends the next frame. Each channel remembers the
 * bytes it framed lately (decaying); the next frame goes to the ready channel with the
 * fewest recent bytes per unit of priority, so under load the link is shared in proportion
 * to priority and no channel starves. Pure; never allocates.
 */
#ifndef P2P_SCHED_H
#define P2P_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct p2p_sched_chan {
    double recent;    /* bytes framed lately */
    uint8_t priority; /* >= 1 */
    bool ready;       /* has something queued */
};

/* Index of the channel to frame from next, or -1 when none is ready. Ties go to the lower
 * index. */
int p2p_sched_pick(const struct p2p_sched_chan *ch, size_t n);

/* Age the recent byte counts (called every P2P_SCHED_DECAY_MS). */
#define P2P_SCHED_DECAY_MS 200
void p2p_sched_decay(struct p2p_sched_chan *ch, size_t n);

#endif
