/*
 * px_bytes: see px_bytes.h.
 */
#include "px_bytes.h"

#include <stdlib.h>
#include <string.h>

void px_wbuf_put(struct px_wbuf *w, const void *data, size_t n)
{
    if (w->oom || n == 0)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *np = realloc(w->p, cap);
        if (!np) {
            w->oom = true;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

void px_wbuf_u8(struct px_wbuf *w, uint8_t v)
{
    px_wbuf_put(w, &v, 1);
}

void px_wbuf_u32(struct px_wbuf *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    px_wbuf_put(w, b, 4);
}

void px_wbuf_u64(struct px_wbuf *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    px_wbuf_put(w, b, 8);
}

const uint8_t *px_rbuf_take(struct px_rbuf *r, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

void px_rbuf_get(struct px_rbuf *r, void *dst, size_t n)
{
    const uint8_t *p = px_rbuf_take(r, n);
    if (p)
        memcpy(dst, p, n);
    else
        memset(dst, 0, n);
}

uint8_t px_rbuf_u8(struct px_rbuf *r)
{
    uint8_t v;
    px_rbuf_get(r, &v, 1);
    return v;
}

uint32_t px_rbuf_u32(struct px_rbuf *r)
{
    uint8_t b[4];
    px_rbuf_get(r, b, 4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

uint64_t px_rbuf_u64(struct px_rbuf *r)
{
    uint8_t b[8];
    px_rbuf_get(r, b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}
