/*
 * part_set: splitting an encoded block into verifiable parts and putting it back together
 * (see part_set.h). Must never store a part whose proof does not lead to the header's
 * root, nor hold more than header.total parts of at most PART_SET_PART_SIZE bytes.
 */
#include "part_set.h"

#include <stdlib.h>
#include <string.h>

#include "px_error.h"

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int part_set_init(struct part_set *ps, const struct part_set_header *h)
{
    memset(ps, 0, sizeof(*ps));
    if (h->total == 0 || h->total > BLOCK_ID_MAX_PARTS || all_zero(h->hash, BLOCK_ID_HASH_SIZE))
        return PX_EINVAL;
    ps->parts = calloc(h->total, sizeof(*ps->parts));
    if (!ps->parts)
        return PX_ENOMEM;
    ps->header = *h;
    return 0;
}

void part_set_fini(struct part_set *ps)
{
    if (ps->parts)
        for (uint32_t i = 0; i < ps->header.total; i++)
            free(ps->parts[i].bytes);
    free(ps->parts);
    memset(ps, 0, sizeof(*ps));
}

int part_set_from_data(struct part_set *ps, const uint8_t *data, size_t len)
{
    memset(ps, 0, sizeof(*ps));
    if (!data || len == 0)
        return PX_EINVAL;
    if (len > (size_t)BLOCK_ID_MAX_PARTS * PART_SET_PART_SIZE)
        return PX_ETOOBIG;
    uint32_t total = (uint32_t)((len + PART_SET_PART_SIZE - 1) / PART_SET_PART_SIZE);
    const uint8_t **items = calloc(total, sizeof(*items));
    size_t *lens = calloc(total, sizeof(*lens));
    struct merkle_proof *proofs = calloc(total, sizeof(*proofs));
    ps->parts = calloc(total, sizeof(*ps->parts));
    int rc = PX_ENOMEM;
    if (!items || !lens || !proofs || !ps->parts)
        goto out;
    ps->header.total = total;
    for (uint32_t i = 0; i < total; i++) {
        size_t off = (size_t)i * PART_SET_PART_SIZE;
        items[i] = data + off;
        lens[i] = len - off < PART_SET_PART_SIZE ? len - off : PART_SET_PART_SIZE;
    }
    rc = merkle_proofs(items, lens, total, ps->header.hash, proofs);
    if (rc != 0)
        goto out;
    for (uint32_t i = 0; i < total; i++) {
        struct part *p = &ps->parts[i];
        p->bytes = malloc(lens[i]);
        if (!p->bytes) {
            rc = PX_ENOMEM;
            goto out;
        }
        memcpy(p->bytes, items[i], lens[i]);
        p->len = lens[i];
        p->index = i;
        p->proof = proofs[i];
        ps->count++;
        ps->byte_size += lens[i];
    }
out:
    free(items);
    free(lens);
    free(proofs);
    if (rc != 0)
        part_set_fini(ps);
    return rc;
}

int part_set_add(struct part_set *ps, const struct part *p)
{
    if (!ps->parts || p->index >= ps->header.total || p->len == 0 || p->len > PART_SET_PART_SIZE ||
        !p->bytes)
        return PX_EINVAL;
    if (p->index + 1 < ps->header.total && p->len != PART_SET_PART_SIZE)
        return PX_EINVAL;
    if (p->proof.total != ps->header.total || p->proof.index != p->index)
        return PX_EINVAL;
    if (ps->parts[p->index].bytes)
        return PX_EEXIST;
    int rc = merkle_proof_verify(&p->proof, ps->header.hash, p->bytes, p->len);
    if (rc != 0)
        return rc;
    struct part *dst = &ps->parts[p->index];
    dst->bytes = malloc(p->len);
    if (!dst->bytes)
        return PX_ENOMEM;
    memcpy(dst->bytes, p->bytes, p->len);
    dst->len = p->len;
    dst->index = p->index;
    dst->proof = p->proof;
    ps->count++;
    ps->byte_size += p->len;
    return 0;
}

bool part_set_is_complete(const struct part_set *ps)
{
    return ps->parts && ps->count == ps->header.total;
}

const struct part *part_set_get(const struct part_set *ps, uint32_t index)
{
    if (!ps->parts || index >= ps->header.total || !ps->parts[index].bytes)
        return NULL;
    return &ps->parts[index];
}

int part_set_assemble(const struct part_set *ps, uint8_t **out, size_t *len)
{
    if (!part_set_is_complete(ps))
        return PX_ESTATE;
    uint8_t *buf = malloc(ps->byte_size);
    if (!buf)
        return PX_ENOMEM;
    size_t off = 0;
    for (uint32_t i = 0; i < ps->header.total; i++) {
        memcpy(buf + off, ps->parts[i].bytes, ps->parts[i].len);
        off += ps->parts[i].len;
    }
    *out = buf;
    *len = off;
    return 0;
}
