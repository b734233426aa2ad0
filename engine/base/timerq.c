/*
 * timerq: see timerq.h. Never allocates after init.
 */
#include "timerq.h"

#include "px_error.h"

#include <stdbool.h>
#include <stdlib.h>

int timerq_init(struct timerq *t, size_t cap)
{
    t->heap = calloc(cap, sizeof(*t->heap));
    t->len = 0;
    t->cap = cap;
    t->next_seq = 0;
    return t->heap ? 0 : PX_ENOMEM;
}

void timerq_fini(struct timerq *t)
{
    free(t->heap);
    t->heap = NULL;
    t->len = t->cap = 0;
}

static bool before(const struct timerq_item *x, const struct timerq_item *y)
{
    return x->deadline_ns < y->deadline_ns || (x->deadline_ns == y->deadline_ns && x->seq < y->seq);
}

static void swap(struct timerq_item *x, struct timerq_item *y)
{
    struct timerq_item tmp = *x;
    *x = *y;
    *y = tmp;
}

static void sift_up(struct timerq *t, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&t->heap[i], &t->heap[p]))
            break;
        swap(&t->heap[i], &t->heap[p]);
        i = p;
    }
}

static void sift_down(struct timerq *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->len && before(&t->heap[l], &t->heap[m]))
            m = l;
        if (r < t->len && before(&t->heap[r], &t->heap[m]))
            m = r;
        if (m == i)
            return;
        swap(&t->heap[i], &t->heap[m]);
        i = m;
    }
}

int timerq_add(struct timerq *t, uint64_t deadline_ns, int kind, uint64_t a, uint64_t b, uint64_t c)
{
    if (t->len == t->cap)
        return PX_EBOUND;
    t->heap[t->len] = (struct timerq_item){deadline_ns, t->next_seq++, kind, a, b, c};
    sift_up(t, t->len);
    t->len++;
    return 0;
}

uint64_t timerq_next(const struct timerq *t)
{
    return t->len ? t->heap[0].deadline_ns : UINT64_MAX;
}

int timerq_pop_due(struct timerq *t, uint64_t now_ns, struct timerq_item *out)
{
    if (t->len == 0 || t->heap[0].deadline_ns > now_ns)
        return 0;
    *out = t->heap[0];
    t->heap[0] = t->heap[--t->len];
    sift_down(t, 0);
    return 1;
}

void timerq_cancel_kind(struct timerq *t, int kind)
{
    size_t k = 0;
    for (size_t i = 0; i < t->len; i++)
        if (t->heap[i].kind != kind)
            t->heap[k++] = t->heap[i];
    t->len = k;
    for (size_t i = t->len / 2 + 1; i-- > 0;)
        sift_down(t, i);
}
