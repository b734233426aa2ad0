/*
 * fuzz_walcodec: the node's WAL record payloads (engine/shell/walcodec.h) as replay reads
 * them back from disk: a consensus input or a block record. Whatever decodes must encode
 * again, and that encoding must decode to a value that encodes to the same bytes; a block
 * record's header must be exactly what walcodec_encode_block_header writes for its height
 * and id, and its block must be the rest of the payload.
 *
 * Never feeds the decoded input to a consensus core; never does I/O.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "px_error.h"
#include "walcodec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VOTES_CAP 64u
static struct vote votes1[VOTES_CAP], votes2[VOTES_CAP];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum walcodec_kind kind;
    struct cs_input in1, in2;
    uint64_t height = 0;
    struct block_id id;
    const uint8_t *block = NULL;
    size_t block_len = 0;
    memset(&in1, 0, sizeof(in1));
    int rc = walcodec_decode(data, size, &kind, &in1, votes1, VOTES_CAP, &height, &id, &block,
                             &block_len);
    FUZZ_CHECK(rc == 0 || rc == PX_EDECODE || rc == PX_EBOUND);
    if (rc != 0)
        return 0;

    if (kind == WALCODEC_BLOCK) {
        uint8_t hdr[WALCODEC_BLOCK_HEADER];
        size_t hlen = walcodec_encode_block_header(height, &id, hdr);
        FUZZ_CHECK(hlen <= WALCODEC_BLOCK_HEADER && hlen <= size);
        FUZZ_CHECK(memcmp(hdr, data, hlen) == 0);
        FUZZ_CHECK(block == data + hlen && block_len == size - hlen);
        return 0;
    }
    FUZZ_CHECK(kind == WALCODEC_INPUT);
    if (in1.type == CS_INPUT_COMMIT)
        FUZZ_CHECK(in1.u.commit.count <= VOTES_CAP && in1.u.commit.votes == votes1);
    (void)walcodec_input_height(&in1);

    uint8_t *e1 = NULL, *e2 = NULL;
    size_t l1 = 0, l2 = 0;
    FUZZ_CHECK(walcodec_encode_input(&in1, &e1, &l1) == 0);
    memset(&in2, 0, sizeof(in2));
    rc = walcodec_decode(e1, l1, &kind, &in2, votes2, VOTES_CAP, &height, &id, &block, &block_len);
    FUZZ_CHECK(rc == 0 && kind == WALCODEC_INPUT);
    FUZZ_CHECK(in2.type == in1.type);
    FUZZ_CHECK(walcodec_input_height(&in2) == walcodec_input_height(&in1));
    FUZZ_CHECK(walcodec_encode_input(&in2, &e2, &l2) == 0);
    FUZZ_CHECK_BYTES(e1, l1, e2, l2);
    free(e1);
    free(e2);
    return 0;
}
