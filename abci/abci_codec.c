/*
 * abci_codec: bounded decoding of ABCI envelopes and the method tables (see abci_codec.h).
 * Never does I/O; never lets a decoder allocate beyond its bound.
 */
#include "abci_codec.h"

#include <stdlib.h>

#include "px_error.h"

/* Counts what protobuf-c allocates while unpacking and refuses beyond `bound`. Freeing
 * goes straight to free(3) so that the decoded message can later be released with the
 * default allocator, after this struct is gone. */
struct bounded_alloc {
    size_t used;
    size_t bound;
    bool hit;
};

static void *bounded_alloc_fn(void *data, size_t size)
{
    struct bounded_alloc *b = data;
    if (size > b->bound - b->used) {
        b->hit = true;
        return NULL;
    }
    b->used += size;
    return malloc(size);
}

static void bounded_free_fn(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

static int decode(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                  ProtobufCMessage **out)
{
    struct bounded_alloc b = {0, 0, false};
    if (len > (SIZE_MAX - 65536u) / ABCI_DECODE_EXPANSION)
        return PX_ETOOBIG;
    b.bound = len * ABCI_DECODE_EXPANSION + 65536u;
    ProtobufCAllocator a = {bounded_alloc_fn, bounded_free_fn, &b};
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &a, len, buf);
    if (m == NULL)
        return b.hit ? PX_ETOOBIG : PX_EDECODE;
    *out = m;
    return 0;
}

int abci_request_decode(const uint8_t *buf, size_t len, Phalanx__Abci__Request **out)
{
    ProtobufCMessage *m = NULL;
    int rc = decode(&phalanx__abci__request__descriptor, buf, len, &m);
    if (rc != 0)
        return rc;
    Phalanx__Abci__Request *req = (Phalanx__Abci__Request *)m;
    if (req->value_case == PHALANX__ABCI__REQUEST__VALUE__NOT_SET) {
        abci_request_free(req);
        return PX_EDECODE;
    }
    *out = req;
    return 0;
}

int abci_response_decode(const uint8_t *buf, size_t len, Phalanx__Abci__Response **out)
{
    ProtobufCMessage *m = NULL;
    int rc = decode(&phalanx__abci__response__descriptor, buf, len, &m);
    if (rc != 0)
        return rc;
    Phalanx__Abci__Response *resp = (Phalanx__Abci__Response *)m;
    if (resp->value_case == PHALANX__ABCI__RESPONSE__VALUE__NOT_SET) {
        abci_response_free(resp);
        return PX_EDECODE;
    }
    *out = resp;
    return 0;
}

void abci_request_free(Phalanx__Abci__Request *req)
{
    if (req != NULL)
        protobuf_c_message_free_unpacked(&req->base, NULL);
}

void abci_response_free(Phalanx__Abci__Response *resp)
{
    if (resp != NULL)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
}

struct method_info {
    const char *name;
    int conn; /* enum abci_conn, or -1 for any connection */
};

/* Indexed by Phalanx__Abci__Request__ValueCase. */
static const struct method_info methods[] = {
    [PHALANX__ABCI__REQUEST__VALUE_ECHO] = {"echo", -1},
    [PHALANX__ABCI__REQUEST__VALUE_FLUSH] = {"flush", -1},
    [PHALANX__ABCI__REQUEST__VALUE_INFO] = {"info", ABCI_CONN_QUERY},
    [PHALANX__ABCI__REQUEST__VALUE_INIT_CHAIN] = {"init_chain", ABCI_CONN_CONSENSUS},
    [PHALANX__ABCI__REQUEST__VALUE_QUERY] = {"query", ABCI_CONN_QUERY},
    [PHALANX__ABCI__REQUEST__VALUE_CHECK_TX] = {"check_tx", ABCI_CONN_MEMPOOL},
    [PHALANX__ABCI__REQUEST__VALUE_CHECK_TX_BATCH] = {"check_tx_batch", ABCI_CONN_MEMPOOL},
    [PHALANX__ABCI__REQUEST__VALUE_COMMIT] = {"commit", ABCI_CONN_CONSENSUS},
    [PHALANX__ABCI__REQUEST__VALUE_LIST_SNAPSHOTS] = {"list_snapshots", ABCI_CONN_SNAPSHOT},
    [PHALANX__ABCI__REQUEST__VALUE_OFFER_SNAPSHOT] = {"offer_snapshot", ABCI_CONN_SNAPSHOT},
    [PHALANX__ABCI__REQUEST__VALUE_LOAD_SNAPSHOT_CHUNK] = {"load_snapshot_chunk",
                                                           ABCI_CONN_SNAPSHOT},
    [PHALANX__ABCI__REQUEST__VALUE_APPLY_SNAPSHOT_CHUNK] = {"apply_snapshot_chunk",
                                                            ABCI_CONN_SNAPSHOT},
    [PHALANX__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL] = {"prepare_proposal", ABCI_CONN_CONSENSUS},
    [PHALANX__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL] = {"process_proposal", ABCI_CONN_CONSENSUS},
    [PHALANX__ABCI__REQUEST__VALUE_FINALIZE_BLOCK] = {"finalize_block", ABCI_CONN_CONSENSUS},
};

static const struct method_info *method_get(Phalanx__Abci__Request__ValueCase m)
{
    size_t i = (size_t)m;
    if (m <= PHALANX__ABCI__REQUEST__VALUE__NOT_SET || i >= sizeof(methods) / sizeof(methods[0]))
        return NULL;
    return &methods[i];
}

const char *abci_method_name(Phalanx__Abci__Request__ValueCase method)
{
    const struct method_info *mi = method_get(method);
    return mi ? mi->name : "unknown";
}

const char *abci_conn_name(enum abci_conn conn)
{
    switch (conn) {
    case ABCI_CONN_CONSENSUS:
        return "consensus";
    case ABCI_CONN_MEMPOOL:
        return "mempool";
    case ABCI_CONN_QUERY:
        return "query";
    case ABCI_CONN_SNAPSHOT:
        return "snapshot";
    default:
        return "unknown";
    }
}

bool abci_method_allowed(enum abci_conn conn, Phalanx__Abci__Request__ValueCase method)
{
    const struct method_info *mi = method_get(method);
    if (mi == NULL || (int)conn < 0 || conn >= ABCI_CONN_COUNT)
        return false;
    return mi->conn < 0 || mi->conn == (int)conn;
}

Phalanx__Abci__Response__ValueCase abci_response_case_for(Phalanx__Abci__Request__ValueCase method)
{
    if (method_get(method) == NULL)
        return PHALANX__ABCI__RESPONSE__VALUE__NOT_SET;
    return (Phalanx__Abci__Response__ValueCase)((int)method + 1);
}
