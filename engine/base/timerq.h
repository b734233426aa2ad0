/*
 * timerq: pending deadlines of the consensus thread (consensus timeouts, gossip ticks),
 * a binary min-heap of fixed capacity. Single-threaded: only the consensus thread uses
 * it. Equal deadlines fire in the order they were added, so a run is reproducible.
 */
#ifndef PX_TIMERQ_H
#define PX_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

struct timerq_item {
    uint64_t deadline_ns; /* monotonic */
    uint64_t seq;         /* insertion order: tie-break */
    int kind;
    uint64_t a, b, c; /* the caller's payload (e.g. height, round, step) */
};

struct timerq {
    struct timerq_item *heap;
    size_t len, cap;
    uint64_t next_seq;
};

int timerq_init(struct timerq *t, size_t cap);
void timerq_fini(struct timerq *t);
/* PX_EBOUND when full. */
int timerq_add(struct timerq *t, uint64_t deadline_ns, int kind, uint64_t a, uint64_t b,
               uint64_t c);
/* Earliest deadline, or UINT64_MAX when empty. */
uint64_t timerq_next(const struct timerq *t);
/* Remove the earliest item if its deadline is <= now_ns; 1 if one was removed, else 0. */
int timerq_pop_due(struct timerq *t, uint64_t now_ns, struct timerq_item *out);
/* Remove every item of `kind` (e.g. on a new height). */
void timerq_cancel_kind(struct timerq *t, int kind);

#endif
