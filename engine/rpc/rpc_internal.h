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

/* A broadcast_tx_commit call waiting for its tx in a block. */
struct rpc_waiter {
    uint8_t hash[32];
    bool done;
    uint64_t height;
    uint32_t index;
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

    /* HTTP */
    void *http;    /* nng_http_server * */
    void *handler; /* nng_http_handler * */
    void *mhttp;   /* metrics server */
    uint16_t port, metrics_port;

    /* workers: requests in flight */
    pthread_mutex_t mu;
    pthread_cond_t cond;      /* event thread: published moved, or stopping */
    pthread_cond_t jobs_cond; /* workers: a job queued, or stopping */
    bool stopping;
    struct rpc_job *jobs_head, *jobs_tail;
    uint32_t jobs_queued;
    uint32_t in_flight;
    pthread_t workers[RPC_WORKERS];
    size_t n_workers;

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
 * new reference. Returns 0, or fills err and returns its code (negative). */
int rpc_call(struct rpc *r, const char *method, json_t *params, json_t **result,
             struct rpc_error *err);
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

/* ---- rpc_ws.c ---- */
/* Take over the connection of a websocket upgrade request (in a worker). */
void rpc_ws_upgrade(struct rpc *r, void *aio, void *req, void *conn);
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
/* Answer one request object (called by HTTP and websocket). ws may be NULL. */
json_t *rpc_handle_one(struct rpc *r, json_t *req, struct rpc_ws_client *ws);

#endif
