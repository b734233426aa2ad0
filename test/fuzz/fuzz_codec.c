/*
 * fuzz_codec: every protobuf decoder of engine/types/codec.h on untrusted bytes. The first
 * input byte picks the decoder, the rest is the message. Beyond not crashing, leaking or
 * over-reading: whatever decodes must encode, and re-decoding that encoding must give a
 * value that encodes to the same bytes (decode → encode → decode → encode is stable).
 *
 * Never calls anything but the codec and the types' own lifetimes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_util.h"
#include "fuzz_vset.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One decoder/encoder pair over a value type T kept in `storage`. */
struct codec_ops {
    int (*decode)(const uint8_t *buf, size_t len, void *out);
    int (*encode)(const void *v, uint8_t **out, size_t *len);
    void (*fini)(void *v); /* NULL: nothing owned */
};

#define PLAIN_OPS(name, type)                                                                      \
    static int name##_dec(const uint8_t *b, size_t l, void *o)                                     \
    {                                                                                              \
        return codec_##name##_decode(b, l, (struct type *)o);                                      \
    }                                                                                              \
    static int name##_enc(const void *v, uint8_t **o, size_t *l)                                   \
    {                                                                                              \
        return codec_##name##_encode((const struct type *)v, o, l);                                \
    }

PLAIN_OPS(vote, vote)
PLAIN_OPS(proposal, proposal)
PLAIN_OPS(block_id, block_id)
PLAIN_OPS(part_set_header, part_set_header)
PLAIN_OPS(header, header)
PLAIN_OPS(commit, commit)
PLAIN_OPS(evidence, evidence)
PLAIN_OPS(validator_set, validator_set)
PLAIN_OPS(block, block)
PLAIN_OPS(part, part)

static void commit_free_fn(void *v)
{
    commit_fini((struct commit *)v);
}
static void block_free_fn(void *v)
{
    block_fini((struct block *)v);
}
static void part_free_fn(void *v)
{
    free(((struct part *)v)->bytes);
    ((struct part *)v)->bytes = NULL;
}

static const struct codec_ops ops[] = {
    {vote_dec, vote_enc, NULL},
    {proposal_dec, proposal_enc, NULL},
    {block_id_dec, block_id_enc, NULL},
    {part_set_header_dec, part_set_header_enc, NULL},
    {header_dec, header_enc, NULL},
    {commit_dec, commit_enc, commit_free_fn},
    {evidence_dec, evidence_enc, NULL},
    {validator_set_dec, validator_set_enc, NULL},
    {block_dec, block_enc, block_free_fn},
    {part_dec, part_enc, part_free_fn},
};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

/* Room for the largest value type (a validator set is ~80 KiB: not on the stack). */
union value {
    struct vote vote;
    struct proposal proposal;
    struct block_id block_id;
    struct part_set_header psh;
    struct header header;
    struct commit commit;
    struct evidence evidence;
    struct validator_set vs;
    struct block block;
    struct part part;
};
static union value v1, v2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct codec_ops *op = &ops[data[0] % N_OPS];
    data++;
    size--;

    memset(&v1, 0, sizeof(v1));
    int rc = op->decode(data, size, &v1);
    FUZZ_CHECK(rc == 0 || rc == PX_EDECODE || rc == PX_ETOOBIG || rc == PX_ENOMEM);
    if (rc != 0)
        return 0;
    if (op->decode == validator_set_dec)
        check_validator_set(&v1.vs);

    uint8_t *e1 = NULL, *e2 = NULL;
    size_t l1 = 0, l2 = 0;
    rc = op->encode(&v1, &e1, &l1);
    FUZZ_CHECK(rc == 0); /* a decoded value must be encodable */
    memset(&v2, 0, sizeof(v2));
    rc = op->decode(e1, l1, &v2);
    FUZZ_CHECK(rc == 0); /* and its encoding must decode */
    rc = op->encode(&v2, &e2, &l2);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK_BYTES(e1, l1, e2, l2);

    free(e1);
    free(e2);
    if (op->fini) {
        op->fini(&v1);
        op->fini(&v2);
    }
    return 0;
}
