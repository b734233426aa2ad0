/*
 * evq: see evq.h. One mutex and one condition variable (monotonic clock); a FIFO list per
 * class. Never blocks a producer.
 */
#include "evq.h"

#include "px_error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fifo {
    struct evq_event *head, *tail;
    size_t len, cap;
    uint64_t dropped;
};

struct evq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct fifo f[EVQ_CLASS_COUNT];
    bool closed;
};

int evq_new(const size_t caps[EVQ_CLASS_COUNT], struct evq **out)
{
    *out = NULL;
    struct evq *q = calloc(1, sizeof(*q));
    if (!q)
        return PX_ENOMEM;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < EVQ_CLASS_COUNT; i++) {
        if (caps[i] == 0) {
            evq_free(q);
            return PX_EINVAL;
        }
        q->f[i].cap = caps[i];
    }
    *out = q;
    return 0;
}

void evq_event_free(struct evq_event *ev)
{
    if (!ev)
        return;
    free(ev->data);
    free(ev);
}

void evq_free(struct evq *q)
{
    if (!q)
        return;
    for (int i = 0; i < EVQ_CLASS_COUNT; i++) {
        struct evq_event *e = q->f[i].head;
        while (e) {
            struct evq_event *n = e->next;
            evq_event_free(e);
            e = n;
        }
    }
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

int evq_push(struct evq *q, enum evq_class cls, struct evq_event *ev)
{
    if ((int)cls < 0 || cls >= EVQ_CLASS_COUNT)
        return PX_EINVAL;
    pthread_mutex_lock(&q->lock);
    struct fifo *f = &q->f[cls];
    int rc = 0;
    if (q->closed) {
        rc = PX_ECLOSED;
    } else if (f->len >= f->cap) {
        f->dropped++;
        rc = PX_EBOUND;
    } else {
        ev->next = NULL;
        if (f->tail)
            f->tail->next = ev;
        else
            f->head = ev;
        f->tail = ev;
        f->len++;
        pthread_cond_signal(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int evq_post(struct evq *q, enum evq_class cls, int kind, uint64_t peer, uint32_t channel,
             uint64_t arg, const void *data, size_t len)
{
    struct evq_event *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return PX_ENOMEM;
    if (len > 0) {
        ev->data = malloc(len);
        if (!ev->data) {
            free(ev);
            return PX_ENOMEM;
        }
        memcpy(ev->data, data, len);
    }
    ev->kind = kind;
    ev->peer = peer;
    ev->channel = channel;
    ev->arg = arg;
    ev->len = len;
    int rc = evq_push(q, cls, ev);
    if (rc)
        evq_event_free(ev);
    return rc;
}

static struct evq_event *take(struct evq *q)
{
    for (int i = 0; i < EVQ_CLASS_COUNT; i++) {
        struct fifo *f = &q->f[i];
        if (f->head) {
            struct evq_event *e = f->head;
            f->head = e->next;
            if (!f->head)
                f->tail = NULL;
            f->len--;
            e->next = NULL;
            return e;
        }
    }
    return NULL;
}

struct evq_event *evq_pop(struct evq *q, uint64_t deadline_mono_ns)
{
    pthread_mutex_lock(&q->lock);
    struct evq_event *e;
    while ((e = take(q)) == NULL && !q->closed && deadline_mono_ns != 0) {
        if (deadline_mono_ns == UINT64_MAX) {
            pthread_cond_wait(&q->cond, &q->lock);
            continue;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
        if (now_ns >= deadline_mono_ns)
            break;
        struct timespec ts = {(time_t)(deadline_mono_ns / 1000000000u),
                              (long)(deadline_mono_ns % 1000000000u)};
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    }
    pthread_mutex_unlock(&q->lock);
    return e;
}

void evq_close(struct evq *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

size_t evq_len(struct evq *q, enum evq_class cls)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->f[cls].len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t evq_dropped(struct evq *q, enum evq_class cls)
{
    pthread_mutex_lock(&q->lock);
    uint64_t n = q->f[cls].dropped;
    pthread_mutex_unlock(&q->lock);
    return n;
}
