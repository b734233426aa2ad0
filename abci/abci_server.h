/*
 * abci_server: the application side of ABCI (abci/PROTOCOL.md). An app fills a struct
 * abci_app with callbacks; the library listens on an nng address (tcp:// or ipc://),
 * accepts the engine's four connections on that one listener, decodes each request,
 * checks its size, calls the app's callback and sends the encoded response.
 *
 * Callbacks take and fill the protobuf-c structs generated from proto/abci.proto (this
 * library is the codec edge; an app converts to its own structs inside its callbacks).
 * Rules every app can rely on:
 *   - callbacks are called from the thread running abci_server_run, one at a time, never
 *     concurrently (requests from all four connections are served in arrival order), so
 *     an app needs no locks of its own for them;
 *   - `req` is borrowed for the call; `resp` is already initialised (protobuf-c __init)
 *     and is filled by the callback. Every pointer stored into `resp` (strings, bytes,
 *     arrays of pointers, sub-messages) must stay valid until the response is sent: take
 *     it from abci_call_alloc / abci_call_strdup / abci_call_memdup (freed by the library
 *     after sending), or point into `req` (which outlives the response), or to static data;
 *   - a callback returns 0, or a negative PX_E code: then the engine receives an
 *     Exception whose text is what abci_call_set_error set (or px_strerror of the code);
 *   - a NULL callback gets the default answer of CometBFT's BaseApplication: Info empty,
 *     InitChain empty, Query code 1 "no query handler", CheckTx code 0, PrepareProposal
 *     the longest prefix of the request's txs that fits max_tx_bytes (each tx counted
 *     with ABCI_TX_FRAMING_BYTES, abci_codec.h), ProcessProposal ACCEPT, FinalizeBlock one
 *     code-0 result per tx and an empty app hash, Commit retain 0, snapshots: none/ABORT.
 *     CheckTxBatch without its own callback calls check_tx once per tx, in order.
 *     Echo and Flush are answered by the library.
 *
 * Never: call the app concurrently, let a request or a response larger than the
 * configured bounds through, or keep any response memory after it is sent.
 */
#ifndef ABCI_SERVER_H
#define ABCI_SERVER_H

#include <stddef.h>

#include "abci.pb-c.h"

/* Default bounds (both overridable in struct abci_server_config). */
#define ABCI_DEFAULT_MAX_REQUEST_BYTES (64u * 1024u * 1024u)  /* a block of txs + framing */
#define ABCI_DEFAULT_MAX_RESPONSE_BYTES (64u * 1024u * 1024u) /* tx results + events */
#define ABCI_DEFAULT_CALL_ARENA_BYTES (256u * 1024u * 1024u)  /* abci_call_alloc per call */

/* Short names for the generated types. */
typedef Phalanx__Abci__Request abci_request;
typedef Phalanx__Abci__Response abci_response;

/* One request being served: owns the memory of its response. */
struct abci_call;

/* Zeroed memory that lives until the response has been sent. NULL when the call's arena
 * bound (config.call_arena_bytes) is hit or memory is short: the callback should then
 * return PX_ENOMEM. */
void *abci_call_alloc(struct abci_call *call, size_t size);
/* Copies into call memory (NULL as above; abci_call_strdup(NULL) gives ""). */
char *abci_call_strdup(struct abci_call *call, const char *s);
void *abci_call_memdup(struct abci_call *call, const void *data, size_t len);
/* Sets the text of the Exception sent if the callback returns an error (printf format). */
void abci_call_set_error(struct abci_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The callbacks. `user` is the pointer given to abci_server_new. */
struct abci_app {
    int (*info)(struct abci_call *call, const Phalanx__Abci__RequestInfo *req,
                Phalanx__Abci__ResponseInfo *resp, void *user);
    int (*init_chain)(struct abci_call *call, const Phalanx__Abci__RequestInitChain *req,
                      Phalanx__Abci__ResponseInitChain *resp, void *user);
    int (*query)(struct abci_call *call, const Phalanx__Abci__RequestQuery *req,
                 Phalanx__Abci__ResponseQuery *resp, void *user);
    int (*check_tx)(struct abci_call *call, const Phalanx__Abci__RequestCheckTx *req,
                    Phalanx__Abci__ResponseCheckTx *resp, void *user);
    int (*check_tx_batch)(struct abci_call *call, const Phalanx__Abci__RequestCheckTxBatch *req,
                          Phalanx__Abci__ResponseCheckTxBatch *resp, void *user);
    int (*prepare_proposal)(struct abci_call *call,
                            const Phalanx__Abci__RequestPrepareProposal *req,
                            Phalanx__Abci__ResponsePrepareProposal *resp, void *user);
    int (*process_proposal)(struct abci_call *call,
                            const Phalanx__Abci__RequestProcessProposal *req,
                            Phalanx__Abci__ResponseProcessProposal *resp, void *user);
    int (*finalize_block)(struct abci_call *call, const Phalanx__Abci__RequestFinalizeBlock *req,
                          Phalanx__Abci__ResponseFinalizeBlock *resp, void *user);
    int (*commit)(struct abci_call *call, const Phalanx__Abci__RequestCommit *req,
                  Phalanx__Abci__ResponseCommit *resp, void *user);
    int (*list_snapshots)(struct abci_call *call, const Phalanx__Abci__RequestListSnapshots *req,
                          Phalanx__Abci__ResponseListSnapshots *resp, void *user);
    int (*offer_snapshot)(struct abci_call *call, const Phalanx__Abci__RequestOfferSnapshot *req,
                          Phalanx__Abci__ResponseOfferSnapshot *resp, void *user);
    int (*load_snapshot_chunk)(struct abci_call *call,
                               const Phalanx__Abci__RequestLoadSnapshotChunk *req,
                               Phalanx__Abci__ResponseLoadSnapshotChunk *resp, void *user);
    int (*apply_snapshot_chunk)(struct abci_call *call,
                                const Phalanx__Abci__RequestApplySnapshotChunk *req,
                                Phalanx__Abci__ResponseApplySnapshotChunk *resp, void *user);
};

struct abci_server_config {
    const char *listen_addr;   /* "tcp://127.0.0.1:26658" or "ipc:///path/app.sock" */
    size_t max_request_bytes;  /* 0: ABCI_DEFAULT_MAX_REQUEST_BYTES */
    size_t max_response_bytes; /* 0: ABCI_DEFAULT_MAX_RESPONSE_BYTES */
    size_t call_arena_bytes;   /* 0: ABCI_DEFAULT_CALL_ARENA_BYTES */
};

struct abci_server;

/* Create a server and start listening on cfg->listen_addr (so a caller may dial as soon
 * as this returns). `app` is copied; `user` is passed to every callback.
 * Errors: PX_EINVAL (NULL or malformed address), PX_EEXIST (address in use), PX_EIO
 * (cannot listen), PX_ENOMEM. On error *out is untouched. */
int abci_server_new(const struct abci_server_config *cfg, const struct abci_app *app, void *user,
                    struct abci_server **out);

/* Serve requests until abci_server_stop is called; then return 0 within ~100 ms (the
 * request being served, if any, is finished and answered first). Call from one thread.
 * Errors: PX_EIO (the socket failed), PX_ESTATE (already running or freed). */
int abci_server_run(struct abci_server *s);

/* Ask abci_server_run to return. Safe from any thread and from a signal handler (it only
 * sets an atomic flag). */
void abci_server_stop(struct abci_server *s);

/* Close the listener and free the server. Must not run while abci_server_run runs. */
void abci_server_free(struct abci_server *s);

/* Counters, for logs and tests: requests served and requests refused (undecodable,
 * unknown method, oversized response). */
void abci_server_stats(const struct abci_server *s, unsigned long *served, unsigned long *refused);

#endif
