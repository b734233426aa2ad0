/*
 * fuzz_cmsg: the consensus gossip messages a peer sends (engine/reactors/cmsg.h), decoded
 * under the reactor's own size bound, and then, as the reactor does, the payload each one
 * carries: an encoded proposal, vote, block part, or a block with its commit. A decoded
 * message must encode again and decode to the same fields and payload bytes.
 *
 * Never touches a reactor, a peer or the consensus state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmsg.h"
#include "codec.h"
#include "cons_reactor.h"
#include "fuzz_util.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode what the message carries, as cons_reactor does; any result but a crash is fine. */
static void decode_payload(const struct cmsg *m)
{
    switch (m->kind) {
    case CMSG_PROPOSAL: {
        struct proposal p;
        (void)codec_proposal_decode(m->a, m->a_len, &p);
        break;
    }
    case CMSG_VOTE: {
        struct vote v;
        (void)codec_vote_decode(m->a, m->a_len, &v);
        break;
    }
    case CMSG_BLOCK_PART: {
        struct part p;
        if (codec_part_decode(m->a, m->a_len, &p) == 0)
            free(p.bytes);
        break;
    }
    case CMSG_BLOCK_RESPONSE: {
        static struct block b;
        struct commit c;
        if (codec_block_decode(m->a, m->a_len, &b) == 0)
            block_fini(&b);
        if (codec_commit_decode(m->b, m->b_len, &c) == 0)
            commit_fini(&c);
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cmsg m1, m2;
    int rc = cmsg_decode(data, size, CONS_REACTOR_MAX_MSG_BYTES, &m1);
    FUZZ_CHECK(rc == 0 || rc == PX_EDECODE || rc == PX_ETOOBIG || rc == PX_ENOMEM);
    if (rc != 0)
        return 0;
    FUZZ_CHECK(m1.kind >= CMSG_NEW_ROUND_STEP && m1.kind <= CMSG_NO_BLOCK);
    FUZZ_CHECK(cmsg_kind_name(m1.kind) != NULL);
    FUZZ_CHECK(m1.a_len <= size && m1.b_len <= size);
    decode_payload(&m1);

    uint8_t *e1 = NULL;
    size_t l1 = 0;
    FUZZ_CHECK(cmsg_encode(&m1, &e1, &l1) == 0);
    FUZZ_CHECK(cmsg_decode(e1, l1, CONS_REACTOR_MAX_MSG_BYTES, &m2) == 0);
    FUZZ_CHECK(m1.kind == m2.kind && m1.height == m2.height && m1.round == m2.round);
    FUZZ_CHECK(m1.step == m2.step && m1.index == m2.index);
    FUZZ_CHECK(m1.base == m2.base && m1.last_height == m2.last_height);
    FUZZ_CHECK_BYTES(m1.a, m1.a_len, m2.a, m2.a_len);
    FUZZ_CHECK_BYTES(m1.b, m1.b_len, m2.b, m2.b_len);
    cmsg_fini(&m2);
    cmsg_fini(&m1);
    free(e1);
    return 0;
}
