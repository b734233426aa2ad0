/*
 * px_bytes: little-endian byte writers and readers for our own fixed layouts (the node's
 * state record, its WAL payloads). The writer grows a malloc'd buffer and remembers an
 * allocation failure instead of reporting each one; the reader never reads past its end
 * and remembers that it tried. Check `oom` / `bad` once at the end.
 */
#ifndef PX_BYTES_H
#define PX_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_wbuf {
    uint8_t *p; /* malloc'd; the caller takes it (or frees it) at the end */
    size_t len, cap;
    bool oom;
};

void px_wbuf_put(struct px_wbuf *w, const void *data, size_t n);
void px_wbuf_u8(struct px_wbuf *w, uint8_t v);
void px_wbuf_u32(struct px_wbuf *w, uint32_t v);
void px_wbuf_u64(struct px_wbuf *w, uint64_t v);

struct px_rbuf {
    const uint8_t *p;
    size_t len, off;
    bool bad; /* a read went past the end: every later read gives zeroes */
};

/* n bytes at the cursor (NULL and bad set if fewer are left). */
const uint8_t *px_rbuf_take(struct px_rbuf *r, size_t n);
/* Copy n bytes to dst (zeroes if fewer are left). */
void px_rbuf_get(struct px_rbuf *r, void *dst, size_t n);
uint8_t px_rbuf_u8(struct px_rbuf *r);
uint32_t px_rbuf_u32(struct px_rbuf *r);
uint64_t px_rbuf_u64(struct px_rbuf *r);

#endif
