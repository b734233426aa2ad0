/*
 * abci_client: the engine side of ABCI (abci/PROTOCOL.md). Dials the app's address four
 * times — one nng REQ socket per connection (consensus, mempool, query, snapshot) — and
 * makes synchronous calls with a deadline. nng redials in the background with backoff
 * (reconnect_min_ms doubling up to reconnect_max_ms) whenever the app is not there.
 *
 * Calls on different connections may run from different threads at once; calls on one
 * connection are serialised (one request in flight per connection). A request is never
 * re-sent by the library: after a lost connection the caller must run the start-up
 * handshake again (Info, then replay), as PROTOCOL.md says.
 *
 * Never: return a response that does not answer the request sent, or accept a response
 * larger than max_response_bytes.
 */
#ifndef ABCI_CLIENT_H
#define ABCI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "abci.pb-c.h"
#include "abci_codec.h"

#define ABCI_CLIENT_DEFAULT_TIMEOUT_MS 10000
#define ABCI_CLIENT_DEFAULT_RECONNECT_MIN_MS 100
#define ABCI_CLIENT_DEFAULT_RECONNECT_MAX_MS 5000
#define ABCI_CLIENT_DEFAULT_MAX_REQUEST_BYTES (64u * 1024u * 1024u)
#define ABCI_CLIENT_DEFAULT_MAX_RESPONSE_BYTES (64u * 1024u * 1024u)

struct abci_client_config {
    const char *addr;          /* the app's address: tcp://host:port or ipc:///path */
    int timeout_ms;            /* default deadline per call; 0: ABCI_CLIENT_DEFAULT_TIMEOUT_MS */
    int reconnect_min_ms;      /* 0: default */
    int reconnect_max_ms;      /* 0: default */
    size_t max_request_bytes;  /* 0: default; bigger requests fail with PX_ETOOBIG */
    size_t max_response_bytes; /* 0: default; a bigger response drops the connection */
};

struct abci_client;

/* Create the client and start dialling (returns at once, whether the app is up or not).
 * Errors: PX_EINVAL (bad config or address), PX_ENOMEM, PX_EIO. */
int abci_client_new(const struct abci_client_config *cfg, struct abci_client **out);
/* Close all connections and free. No call may be running. */
void abci_client_free(struct abci_client *c);

/* Send `req` on `conn` and wait for its answer (timeout_ms 0: the configured default).
 * On success *out is the decoded Response, whose value_case answers the request (never an
 * Exception); free it with abci_response_free.
 * Errors (abci_client_last_error(c, conn) then holds a sentence):
 *   PX_EINVAL    req is NULL/unset, or its method does not belong on conn
 *   PX_ETOOBIG   the request exceeds max_request_bytes, or the answer is over
 *                max_response_bytes by less than 1 KiB (beyond that nng drops the
 *                connection: PX_ECLOSED), or it decodes too large
 *   PX_ECLOSED   not connected to the app, or the connection dropped during the call
 *   PX_ETIMEDOUT no answer within the deadline (the connection is then unusable until
 *                the app answers or the connection is re-established; treat as app failure)
 *   PX_EDECODE   the answer is not an ABCI Response
 *   PX_EPROTO    the answer is for another method, or breaks a protocol rule (result
 *                count differs from the tx count, PrepareProposal over max_tx_bytes)
 *   PX_EAPP      the app answered with an Exception (its text is in last_error)
 *   PX_ENOMEM */
int abci_client_call(struct abci_client *c, enum abci_conn conn, const Phalanx__Abci__Request *req,
                     int timeout_ms, Phalanx__Abci__Response **out);

/* Called after every successful call with the method's name (abci_method_name) and how
 * long the round trip took, on the calling thread (metrics). Set it before the first
 * call; fn must be thread safe (calls on different connections run at once). */
typedef void (*abci_client_observer_fn)(const char *method, double seconds, void *user);
void abci_client_set_observer(struct abci_client *c, abci_client_observer_fn fn, void *user);

/* True if `conn` currently has a live connection to the app. */
bool abci_client_connected(struct abci_client *c, enum abci_conn conn);
/* Wait until all four connections are up. 0, or PX_ETIMEDOUT. */
int abci_client_wait_connected(struct abci_client *c, int timeout_ms);
/* How many times `conn` has (re)connected since the client was created. A change between
 * two calls means the app may have restarted: run the handshake again. */
unsigned long abci_client_connects(struct abci_client *c, enum abci_conn conn);

/* The sentence describing the last failed call on conn ("" if none). Valid until the
 * next call on that connection. */
const char *abci_client_last_error(struct abci_client *c, enum abci_conn conn);

#endif
