/*
 * rpc_internal: what the files of engine/rpc share and nobody else sees: the server
 * object, the JSON encoders of the chain's types (CometBFT 0.38 shapes), the method
 * table and the event query language. Never included outside engine/rpc.
 */
#ifndef PX_RPC_INTERNAL_H
#define PX_RPC_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "commit.h"
#include "header.h"
#include "rpc.h"
#include "txindex.h"
#include "validator_set.h"

struct blockstore;
struct statestore;

/* JSON-RPC 2.0 error codes. */
#define RPC_ERR_PARSE (-32700)
#define RPC_ERR_INVALID_REQUEST (-32600)
#define RPC_ERR_METHOD (-32601)
#define RPC_ERR_PARAMS (-32602)
#define RPC_ERR_INTERNAL (-32603)
#define RPC_ERR_SERVER (-32000)

#define RPC_MAX_BATCH 100 /* requests in one batch */
#define RPC_MAX_WAITERS 1000
#define RPC_WS_MAX_SUBS 64                /* max_subscriptions_per_client is capped here */
#define RPC_GENESIS_MAX_BYTES (16u << 20) /* larger: CometBFT says use genesis_chunked */

/* A method's failure: JSON-RPC code, message and data (a sentence). */
struct rpc_error {
    int code;
    char message[64];
    char data[512];
};

struct rpc_http;
struct rpc_http_req;

/* Which worker pool serves a method (rpc_http.c). */
enum rpc_cost { RPC_COST_LIGHT, RPC_COST_TX, RPC_COST_HEAVY, RPC_COST_COUNT };

/* A single HTTP request being answered by a worker: a method that would wait long
 * (broadcast_tx_commit) may leave it with the event thread instead (parked = true), which
 * answers it with rpc_http_finish. NULL where nothing can be parked (batches, websocket). */
struct rpc_park {
    struct rpc_http_req *req;
    json_t *id; /* borrowed: the request's id */
    bool parked;
};

/* A broadcast_tx_commit call waiting for its tx in a block (on r->waiters, under r->mu). */
struct rpc_waiter {
    uint8_t hash[32];
    bool done;
    uint64_t height;
    uint32_t index;
    struct rpc_tx_check check; /* what CheckTx said */
    /* parked only: the request to answer, its id (owned) and when to give up */
    struct rpc_http_req *req;
    json_t *id;
    uint64_t deadline_ns;
    struct rpc_waiter *next;
};

struct rpc_ws_client;

struct rpc {
    struct rpc_env env; /* strings point into the copies below */
    char *strs[12];
    char **cors;

    pthread_mutex_t store_mu; /* the store handles are used by one thread at a time */
    struct blockstore *bs;
    struct statestore *ss;
    struct txindex *tx_index; /* may be NULL */

    /* HTTP (rpc_http.c) */
    struct rpc_http *http;  /* JSON-RPC and websocket */
    struct rpc_http *mhttp; /* /metrics */

    pthread_mutex_t mu;
    pthread_cond_t cond; /* event thread: published moved, a parked waiter, or stopping */
    bool stopping;

    /* events */
    pthread_t event_thread;
    bool event_started;
    uint64_t published; /* highest height published by the node */
    uint64_t processed; /* highest height whose events were sent */
    struct rpc_waiter *waiters;
    uint32_t n_waiters;
    pthread_cond_t waiters_cond;
    char *evidence_q[16];
    uint64_t evidence_h[16];
    size_t n_evidence;

    /* websocket clients (rpc_ws.c) */
    struct rpc_ws_client *ws_clients;
    uint32_t n_ws_clients;
};

/* ---- rpc_json.c: encoders ---- */
json_t *rpc_j_u64(uint64_t v);                     /* "12" */
json_t *rpc_j_i64(int64_t v);                      /* "-3" */
json_t *rpc_j_hex(const uint8_t *b, size_t n);     /* upper-case hex, "" for n = 0 */
json_t *rpc_j_b64(const uint8_t *b, size_t n);     /* standard base64 with padding */
json_t *rpc_j_time(uint64_t wall_ns);              /* RFC 3339, 9 digits when needed */
json_t *rpc_j_pubkey(const uint8_t pub[32]);       /* {"type":..., "value": b64} */
json_t *rpc_j_block_id(const struct block_id *id); /* nil: hash "", parts total 0 */
json_t *rpc_j_header(const struct header *h);
json_t *rpc_j_commit(const struct commit *c);
json_t *rpc_j_block(const struct block *b);
json_t *rpc_j_validator(const struct validator *v);
/* FinalizeBlock results of a height (the stored ResponseFinalizeBlock bytes) as the
 * block_results fields, and one tx's TxData. Errors: PX_EDECODE, PX_ENOMEM. */
int rpc_j_results(const uint8_t *buf, size_t len, uint64_t height, json_t **out);
json_t *rpc_j_tx_result_at(json_t *results, uint32_t index); /* borrowed, NULL if absent */
json_t *rpc_j_check(const struct rpc_tx_check *c);           /* TxData of a CheckTx */
/* Stored ConsensusParams bytes → CometBFT's consensus_params JSON. PX_EDECODE. */
int rpc_j_params(const uint8_t *buf, size_t len, json_t **out);

/* ---- rpc_methods.c ---- */
/* Run `method` with named params (a JSON object, never NULL). On success *result is a
 * new reference, or NULL with park->parked set (answered later). Returns 0, or fills err
 * and returns its code (negative). park may be NULL. */
int rpc_call(struct rpc *r, const char *method, json_t *params, json_t **result,
             struct rpc_error *err, struct rpc_park *park);
/* The pool for a method (RPC_COST_LIGHT for unknown names and NULL). */
enum rpc_cost rpc_method_cost(const char *method);
/* The whole JSON-RPC reply text of a parked broadcast_tx_commit that is over (its tx in a
 * block, or the deadline passed). malloc'd; NULL without memory. */
char *rpc_commit_reply(struct rpc *r, const struct rpc_waiter *w);
/* Names of a method's positional arguments (for array params and GET); NULL if unknown.
 * kinds[i]: 'i' integer, 's' string, 'b' bytes as base64, 'h' bytes as hex, 'o' bool. */
const char *const *rpc_method_args(const char *method, const char **kinds);

/* ---- rpc_query.c: CometBFT's event query language (the common operators) ---- */
#define RPC_QUERY_MAX_CONDS 16
#define RPC_QUERY_MAX_LEN 512
enum rpc_qop { RPC_Q_EQ, RPC_Q_LT, RPC_Q_LE, RPC_Q_GT, RPC_Q_GE, RPC_Q_CONTAINS, RPC_Q_EXISTS };
struct rpc_qcond {
    char key[128];
    enum rpc_qop op;
    bool is_num;
    double num;
    char str[256];
};
struct rpc_query_expr {
    size_t n;
    struct rpc_qcond c[RPC_QUERY_MAX_CONDS];
};
/* Parse "tm.event = 'Tx' AND transfer.amount > 5". PX_EINVAL with a sentence in why. */
int rpc_query_parse(const char *text, struct rpc_query_expr *q, char *why, size_t why_cap);
/* True if the events (CometBFT JSON array of {type, attributes}) plus the extra
 * composite keys given (keys[i] = vals[i], e.g. "tx.height") satisfy every condition. */
bool rpc_query_match(const struct rpc_query_expr *q, json_t *events, const char *const *keys,
                     const char *const *vals, size_t n_extra);
/* Narrow [*lo, *hi] by the conditions on `key` (e.g. "tx.height"). */
void rpc_query_height_range(const struct rpc_query_expr *q, const char *key, uint64_t *lo,
                            uint64_t *hi);

/* ---- rpc_http.c: the HTTP servers (libmicrohttpd) ---- */
enum rpc_http_kind { RPC_HTTP_JSONRPC, RPC_HTTP_METRICS };
/* Listen on addr (tcp://IPV4:PORT) with the env's limits. PX_ECONFIG, PX_EIO, PX_ENOMEM. */
int rpc_http_start(struct rpc *r, enum rpc_http_kind kind, const char *addr, struct rpc_http **out);
uint16_t rpc_http_port(const struct rpc_http *s);
/* Stop taking work: new requests get "shutting down", queued ones are answered so, the
 * workers are joined. */
void rpc_http_quiesce(struct rpc_http *s);
/* Quiesce, stop listening, close every connection and free. Parked requests and
 * websockets must be over before (rpc_free does that). */
void rpc_http_free(struct rpc_http *s);
/* The answer to a suspended request (worker or event thread): status and a malloc'd JSON
 * body (taken; NULL: empty). Resumes its connection. */
void rpc_http_finish(struct rpc_http_req *q, unsigned int status, char *body_owned);
/* {"jsonrpc":"2.0","id":null,"error":{...}} as malloc'd text. */
char *rpc_http_error_text(int code, const char *message, const char *data);
char *rpc_http_shutting_down_text(void);
/* Close an upgraded (websocket) connection; urh is libmicrohttpd's handle. */
void rpc_http_upgrade_close(void *urh);

/* ---- rpc_ws.c ---- */
/* Sec-WebSocket-Accept for a client's key. PX_EINVAL for a key that is not 16 bytes of
 * base64. */
int rpc_ws_accept_key(const char *key, char *out, size_t cap);
/* Take a client slot (max_subscription_clients); false when full or stopping. */
bool rpc_ws_admit(struct rpc *r);
void rpc_ws_unadmit(struct rpc *r);
/* The 101 answer has gone: serve the websocket on fd (bytes already read first). Called
 * on libmicrohttpd's thread; never blocks. Closes the connection itself on failure. */
void rpc_ws_start(struct rpc *r, int fd, const char *extra, size_t extra_len, void *urh);
/* Fan one event out to matching subscriptions: data {type, value}, events. */
void rpc_ws_publish(struct rpc *r, const char *type, json_t *value, json_t *events,
                    const char *const *keys, const char *const *vals, size_t n_extra);
void rpc_ws_close_all(struct rpc *r);
/* Websocket subscribe / unsubscribe / unsubscribe_all, answered in place. */
int rpc_ws_call(struct rpc *r, struct rpc_ws_client *c, const char *method, json_t *params,
                json_t *id, json_t **result, struct rpc_error *err);

/* ---- rpc.c ---- */
/* The envelope of one reply {"jsonrpc":"2.0","id":id,"result"|"error"}. Steals result. */
json_t *rpc_reply(json_t *id, json_t *result, const struct rpc_error *err);
/* Answer one request object (HTTP and websocket). NULL when parked (park may be NULL). */
json_t *rpc_handle_one(struct rpc *r, json_t *req, struct rpc_park *park);
/* rpc_handle_body on a parsed body (taken). A single request may be parked: then *out is
 * NULL and park->parked is set. */
int rpc_handle_json(struct rpc *r, json_t *req, struct rpc_park *park, char **out);
/* rpc_handle_uri, with parking as rpc_handle_json. */
int rpc_handle_uri_park(struct rpc *r, const char *uri, struct rpc_park *park, char **out);
/* The Access-Control-Allow-Origin value for a request's Origin, or NULL (not allowed). */
const char *rpc_allowed_origin(struct rpc *r, const char *origin);
/* Monotonic nanoseconds. */
uint64_t rpc_now_ns(void);

#endif
