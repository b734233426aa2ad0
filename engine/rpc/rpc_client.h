/*
 * rpc_client: a small blocking JSON-RPC 2.0 client over HTTP (nng's HTTP client), for
 * the `phalanx status | tx | query` commands and tests. One call = one connection, one
 * POST, one answer. Never retries: the caller decides.
 */
#ifndef PX_RPC_CLIENT_H
#define PX_RPC_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#define RPC_CLIENT_DEFAULT_ADDR "tcp://127.0.0.1:26657"

/* Call `method` with `params` (a JSON object, borrowed; NULL: {}) on the server at addr
 * (tcp://HOST:PORT or http://HOST:PORT). On success *result is a new reference to the
 * answer's "result". why (may be NULL) gets a sentence on failure.
 * Errors: PX_ECONFIG (bad address), PX_ECLOSED (cannot connect or connection lost),
 * PX_ETIMEDOUT, PX_EPROTO (the answer is not a JSON-RPC 2.0 response with our id),
 * PX_EAPP (the server answered with a JSON-RPC error: its message and data are in why),
 * PX_ENOMEM. */
int rpc_client_call(const char *addr, const char *method, json_t *params, int timeout_ms,
                    json_t **result, char *why, size_t why_cap);

#endif
