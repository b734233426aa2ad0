/*
 * fuzz_abci: the ABCI envelope decoders (abci/abci_codec.h): a Request as the app's server
 * reads it from the engine, a Response as the engine's client reads it from the app. Input
 * byte 0 picks which. Whatever decodes has a method, packs again, and the packed bytes
 * decode to a message that packs to the same bytes (protobuf-c keeps unknown fields, so the
 * second packing is the fixed point). The method tables must answer for every method.
 *
 * Never opens a socket.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "abci_codec.h"
#include "fuzz_util.h"
#include "px_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True if m or any message inside it kept unknown fields. protobuf-c 1.4 accepts a field
 * number 0 written as a non-minimal varint (81 00) as an unknown field, then packs it as
 * 01, which it refuses: for such messages only "no crash" is checked. */
static bool has_unknown(const ProtobufCMessage *m)
{
    if (m->n_unknown_fields)
        return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue; /* another member of the oneof is set */
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (arr[k] && has_unknown(arr[k]))
                    return true;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
            if (sub && has_unknown(sub))
                return true;
        }
    }
    return false;
}

static void repack_check(const ProtobufCMessage *m,
                         int (*redecode)(const uint8_t *, size_t, void **), void (*release)(void *))
{
    size_t l1 = protobuf_c_message_get_packed_size(m);
    uint8_t *e1 = malloc(l1 ? l1 : 1);
    FUZZ_CHECK(e1 != NULL);
    FUZZ_CHECK(protobuf_c_message_pack(m, e1) == l1);
    void *again = NULL;
    if (redecode(e1, l1, &again) != 0) {
        FUZZ_CHECK(has_unknown(m)); /* what we pack from known fields must decode */
        free(e1);
        return;
    }
    const ProtobufCMessage *m2 = again;
    size_t l2 = protobuf_c_message_get_packed_size(m2);
    uint8_t *e2 = malloc(l2 ? l2 : 1);
    FUZZ_CHECK(e2 != NULL);
    FUZZ_CHECK(protobuf_c_message_pack(m2, e2) == l2);
    FUZZ_CHECK_BYTES(e1, l1, e2, l2);
    release(again);
    free(e1);
    free(e2);
}

static int req_redecode(const uint8_t *b, size_t l, void **out)
{
    return abci_request_decode(b, l, (Phalanx__Abci__Request **)out);
}
static void req_release(void *m)
{
    abci_request_free(m);
}
static int resp_redecode(const uint8_t *b, size_t l, void **out)
{
    return abci_response_decode(b, l, (Phalanx__Abci__Response **)out);
}
static void resp_release(void *m)
{
    abci_response_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        Phalanx__Abci__Response *resp = NULL;
        int rc = abci_response_decode(msg, len, &resp);
        FUZZ_CHECK(rc == 0 || rc == PX_EDECODE || rc == PX_ETOOBIG);
        if (rc != 0)
            return 0;
        FUZZ_CHECK(resp->value_case != PHALANX__ABCI__RESPONSE__VALUE__NOT_SET);
        repack_check(&resp->base, resp_redecode, resp_release);
        abci_response_free(resp);
    } else {
        Phalanx__Abci__Request *req = NULL;
        int rc = abci_request_decode(msg, len, &req);
        FUZZ_CHECK(rc == 0 || rc == PX_EDECODE || rc == PX_ETOOBIG);
        if (rc != 0)
            return 0;
        FUZZ_CHECK(req->value_case != PHALANX__ABCI__REQUEST__VALUE__NOT_SET);
        const char *name = abci_method_name(req->value_case);
        FUZZ_CHECK(name != NULL);
        /* every method the decoder can produce is named and belongs to a connection */
        bool somewhere = false;
        for (int c = 0; c < ABCI_CONN_COUNT; c++)
            somewhere |= abci_method_allowed((enum abci_conn)c, req->value_case);
        FUZZ_CHECK(strcmp(name, "unknown") != 0 && somewhere);
        (void)abci_response_case_for(req->value_case);
        repack_check(&req->base, req_redecode, req_release);
        abci_request_free(req);
    }
    return 0;
}
