/*
 * abci_codec: the byte edge of ABCI shared by the server and the client: bounded decoding
 * of Request/Response envelopes, method names, which connection carries which method, and
 * the rule that a Response answers a Request.
 *
 * Decoding never allocates more than the bound it is given, whatever the bytes say; the
 * decoded messages are freed with abci_request_free / abci_response_free. This file does
 * no I/O.
 */
#ifndef ABCI_CODEC_H
#define ABCI_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abci.pb-c.h"

/* The four connections an engine opens to its app (PROTOCOL.md §3). */
enum abci_conn {
    ABCI_CONN_CONSENSUS = 0,
    ABCI_CONN_MEMPOOL = 1,
    ABCI_CONN_QUERY = 2,
    ABCI_CONN_SNAPSHOT = 3,
    ABCI_CONN_COUNT = 4,
};

/* Decoded structures may take at most this many times the encoded size (plus 64 KiB):
 * protobuf-c turns each 2-byte empty `bytes` element into a 16-byte descriptor. */
#define ABCI_DECODE_EXPANSION 24u

/* What one tx costs against RequestPrepareProposal.max_tx_bytes (PROTOCOL.md §4): its
 * length plus this many bytes for its framing inside the block (a protobuf field tag and
 * a length varint, at most 11 bytes), as the engine counts when it checks the answer. The
 * txs of an answer fit when the sum of (len + ABCI_TX_FRAMING_BYTES) is at most
 * max_tx_bytes; a max_tx_bytes of 0 or less leaves room for none. */
#define ABCI_TX_FRAMING_BYTES 11u

/* Decode one Request / Response. Errors: PX_EDECODE (not a valid message, or no method
 * set), PX_ETOOBIG (decoding would allocate more than the bound). */
int abci_request_decode(const uint8_t *buf, size_t len, Phalanx__Abci__Request **out);
int abci_response_decode(const uint8_t *buf, size_t len, Phalanx__Abci__Response **out);
void abci_request_free(Phalanx__Abci__Request *req);
void abci_response_free(Phalanx__Abci__Response *resp);

/* "echo", "finalize_block", … ("unknown" for anything else). */
const char *abci_method_name(Phalanx__Abci__Request__ValueCase method);
const char *abci_conn_name(enum abci_conn conn);

/* True if `method` may be sent on `conn`: Echo and Flush on any connection, the others
 * on their own (PROTOCOL.md §3). */
bool abci_method_allowed(enum abci_conn conn, Phalanx__Abci__Request__ValueCase method);

/* The Response member that answers a Request member (our numbering: request + 1). */
Phalanx__Abci__Response__ValueCase abci_response_case_for(Phalanx__Abci__Request__ValueCase method);

#endif
