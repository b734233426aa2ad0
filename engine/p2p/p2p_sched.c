/*
 * p2p_sched: priority-weighted choice of the next channel to frame (see p2p_sched.h).
 * Pure: no I/O, no clock, no allocation.
 */
#include "p2p_sched.h"

int p2p_sched_pick(const struct p2p_sched_chan *ch, size_t n)
{
    int best = -1;
    double best_v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ch[i].ready)
            continue;
        double v = ch[i].recent / (double)(ch[i].priority ? ch[i].priority : 1);
        if (best < 0 || v < best_v) {
            best = (int)i;
            best_v = v;
        }
    }
    return best;
}

void p2p_sched_decay(struct p2p_sched_chan *ch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ch[i].recent *= 0.8;
}
