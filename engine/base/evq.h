/*
 * evq: the node's event queue. Producers on any thread (nng callbacks, RPC, signal
 * handling through a pipe-free flag, worker pools) push events; the one consensus thread
 * pops them, waiting at most until its next timer deadline. Bounded per priority class
 * so that a flood of one kind (mempool gossip) cannot starve another (votes) or make the
 * node allocate without bound; a full class rejects the push with PX_EBOUND and the
 * producer drops (the sender will re-send: gossip repairs loss).
 *
 * An event owns its payload (malloc'd `data`, freed by evq_event_free) once pushed.
 */
#ifndef PX_EVQ_H
#define PX_EVQ_H

#include <stddef.h>
#include <stdint.h>

enum evq_class {
    EVQ_CLASS_CONTROL = 0, /* shutdown, app events, timers: never dropped below capacity */
    EVQ_CLASS_CONSENSUS,   /* proposals, votes, block parts, peer state */
    EVQ_CLASS_BULK,        /* mempool, block sync */
    EVQ_CLASS_COUNT
};

struct evq_event {
    int kind;         /* the node's own event kinds */
    uint64_t peer;    /* a peer handle, or 0 */
    uint32_t channel; /* p2p channel, or 0 */
    uint64_t arg;     /* small payload */
    uint8_t *data;    /* owned payload, may be NULL */
    size_t len;
    struct evq_event *next;
};

struct evq;

/* caps: capacity per class (events). */
int evq_new(const size_t caps[EVQ_CLASS_COUNT], struct evq **out);
/* Frees the queue and every event still in it. */
void evq_free(struct evq *q);

/* Push an event (the queue takes ownership of ev and ev->data on success only).
 * PX_EBOUND if the class is full, PX_ECLOSED after evq_close. */
int evq_push(struct evq *q, enum evq_class cls, struct evq_event *ev);
/* Allocate and push in one go; data is copied. */
int evq_post(struct evq *q, enum evq_class cls, int kind, uint64_t peer, uint32_t channel,
             uint64_t arg, const void *data, size_t len);
/* Pop the next event, highest class first, waiting until deadline_mono_ns (monotonic
 * clock; 0: do not wait; UINT64_MAX: no deadline). Returns NULL on timeout or when the
 * queue is closed and empty. */
struct evq_event *evq_pop(struct evq *q, uint64_t deadline_mono_ns);
/* Wake the consumer and refuse further pushes. */
void evq_close(struct evq *q);
size_t evq_len(struct evq *q, enum evq_class cls);
uint64_t evq_dropped(struct evq *q, enum evq_class cls);

void evq_event_free(struct evq_event *ev);

#endif
