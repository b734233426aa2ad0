/*
 * cmsg: see cmsg.h. Decoded protobuf-c messages are kept alive in m->owned so that a and
 * b point into them without a copy.
 */
#include "cmsg.h"

#include "consensus.pb-c.h"
#include "px_error.h"

#include <stdlib.h>
#include <string.h>

typedef Phalanx__Consensus__Message Msg;

const char *cmsg_kind_name(enum cmsg_kind k)
{
    static const char *const names[] = {
        "?",        "new_round_step", "proposal",       "block_part", "vote",
        "has_vote", "block_request",  "block_response", "no_block"};
    return ((int)k >= 1 && k <= CMSG_NO_BLOCK) ? names[k] : "?";
}

int cmsg_encode(const struct cmsg *m, uint8_t **out, size_t *len)
{
    Msg msg = PHALANX__CONSENSUS__MESSAGE__INIT;
    Phalanx__Consensus__NewRoundStep nrs = PHALANX__CONSENSUS__NEW_ROUND_STEP__INIT;
    Phalanx__Consensus__ProposalMsg prop = PHALANX__CONSENSUS__PROPOSAL_MSG__INIT;
    Phalanx__Consensus__BlockPartMsg part = PHALANX__CONSENSUS__BLOCK_PART_MSG__INIT;
    Phalanx__Consensus__VoteMsg vote = PHALANX__CONSENSUS__VOTE_MSG__INIT;
    Phalanx__Consensus__HasVote hv = PHALANX__CONSENSUS__HAS_VOTE__INIT;
    Phalanx__Consensus__BlockRequest req = PHALANX__CONSENSUS__BLOCK_REQUEST__INIT;
    Phalanx__Consensus__BlockResponse resp = PHALANX__CONSENSUS__BLOCK_RESPONSE__INIT;
    Phalanx__Consensus__NoBlockResponse nb = PHALANX__CONSENSUS__NO_BLOCK_RESPONSE__INIT;
    ProtobufCBinaryData a = {m->a_len, (uint8_t *)m->a};
    ProtobufCBinaryData b = {m->b_len, (uint8_t *)m->b};
    switch (m->kind) {
    case CMSG_NEW_ROUND_STEP:
        nrs.height = m->height;
        nrs.round = m->round;
        nrs.step = m->step;
        nrs.store_base = m->base;
        nrs.last_height = m->last_height;
        msg.sum_case = PHALANX__CONSENSUS__MESSAGE__SUM_NEW_ROUND_STEP;
        msg.new_round_step = &nrs;
        break;
    case CMSG_PROPOSAL:
        prop.proposal = a;
        msg.sum_case = PHALANX__CONSENSUS__MESSAGE__SUM_PROPOSAL;
        msg.proposal = &prop;
        break;
    case CMSG_BLOCK_PART:
        part.height = m->height;
        part.round = m->round;
        part.part = a;
        msg.sum_case = PHALANX__CONSENSUS__MESSAGE__SUM_BLOCK_PART;
        msg.block_part = &part;
        break;
    case CMSG_VOTE:
        vote.vote = a;
        msg.sum_case = PHALANX__CONSENSUS__MESSAGE__SUM_VOTE;
        msg.vote = &vote;
        break;
    case CMSG_HAS_VOTE:
        hv.height = m->height;
        hv.round = m->round;
        hv.type = m->step;
        hv.index = m->index;
        msg.sum_case = PHALANX__CONSENSUS__MESSAGE__SUM_HAS_VOTE;
        msg.has_vote = &hv;
        break;
    case CMSG_BLOCK_REQUEST:
        req.height = m->height;
        msg.sum_case = PHALANX__CONSENSUS__MESSAGE__SUM_BLOCK_REQUEST;
        msg.block_request = &req;
        break;
    case CMSG_BLOCK_RESPONSE:
        resp.height = m->height;
        resp.block = a;
        resp.commit = b;
        msg.sum_case = PHALANX__CONSENSUS__MESSAGE__SUM_BLOCK_RESPONSE;
        msg.block_response = &resp;
        break;
    case CMSG_NO_BLOCK:
        nb.height = m->height;
        msg.sum_case = PHALANX__CONSENSUS__MESSAGE__SUM_NO_BLOCK_RESPONSE;
        msg.no_block_response = &nb;
        break;
    default:
        return PX_EINVAL;
    }
    size_t n = phalanx__consensus__message__get_packed_size(&msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return PX_ENOMEM;
    phalanx__consensus__message__pack(&msg, buf);
    *out = buf;
    *len = n;
    return 0;
}

static int need(const ProtobufCBinaryData *d)
{
    return d->len > 0 ? 0 : PX_EDECODE;
}

int cmsg_decode(const uint8_t *buf, size_t len, size_t max_len, struct cmsg *m)
{
    memset(m, 0, sizeof(*m));
    if (len > max_len)
        return PX_ETOOBIG;
    Msg *msg = phalanx__consensus__message__unpack(NULL, len, buf);
    if (!msg)
        return PX_EDECODE;
    int err = 0;
    switch (msg->sum_case) {
    case PHALANX__CONSENSUS__MESSAGE__SUM_NEW_ROUND_STEP:
        m->kind = CMSG_NEW_ROUND_STEP;
        m->height = msg->new_round_step->height;
        m->round = msg->new_round_step->round;
        m->step = msg->new_round_step->step;
        m->base = msg->new_round_step->store_base;
        m->last_height = msg->new_round_step->last_height;
        break;
    case PHALANX__CONSENSUS__MESSAGE__SUM_PROPOSAL:
        m->kind = CMSG_PROPOSAL;
        err = need(&msg->proposal->proposal);
        m->a = msg->proposal->proposal.data;
        m->a_len = msg->proposal->proposal.len;
        break;
    case PHALANX__CONSENSUS__MESSAGE__SUM_BLOCK_PART:
        m->kind = CMSG_BLOCK_PART;
        m->height = msg->block_part->height;
        m->round = msg->block_part->round;
        err = need(&msg->block_part->part);
        m->a = msg->block_part->part.data;
        m->a_len = msg->block_part->part.len;
        break;
    case PHALANX__CONSENSUS__MESSAGE__SUM_VOTE:
        m->kind = CMSG_VOTE;
        err = need(&msg->vote->vote);
        m->a = msg->vote->vote.data;
        m->a_len = msg->vote->vote.len;
        break;
    case PHALANX__CONSENSUS__MESSAGE__SUM_HAS_VOTE:
        m->kind = CMSG_HAS_VOTE;
        m->height = msg->has_vote->height;
        m->round = msg->has_vote->round;
        m->step = msg->has_vote->type;
        m->index = msg->has_vote->index;
        break;
    case PHALANX__CONSENSUS__MESSAGE__SUM_BLOCK_REQUEST:
        m->kind = CMSG_BLOCK_REQUEST;
        m->height = msg->block_request->height;
        break;
    case PHALANX__CONSENSUS__MESSAGE__SUM_BLOCK_RESPONSE:
        m->kind = CMSG_BLOCK_RESPONSE;
        m->height = msg->block_response->height;
        err = need(&msg->block_response->block);
        if (!err)
            err = need(&msg->block_response->commit);
        m->a = msg->block_response->block.data;
        m->a_len = msg->block_response->block.len;
        m->b = msg->block_response->commit.data;
        m->b_len = msg->block_response->commit.len;
        break;
    case PHALANX__CONSENSUS__MESSAGE__SUM_NO_BLOCK_RESPONSE:
        m->kind = CMSG_NO_BLOCK;
        m->height = msg->no_block_response->height;
        break;
    default:
        err = PX_EDECODE;
    }
    if (err) {
        phalanx__consensus__message__free_unpacked(msg, NULL);
        memset(m, 0, sizeof(*m));
        return err;
    }
    m->owned = msg;
    return 0;
}

void cmsg_fini(struct cmsg *m)
{
    if (m->owned)
        phalanx__consensus__message__free_unpacked(m->owned, NULL);
    memset(m, 0, sizeof(*m));
}
