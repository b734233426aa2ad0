/*
 * rpc: the CometBFT-compatible JSON-RPC 2.0 server of phalanxd (DESIGN §8), over
 * libmicrohttpd: POST (single or batch) and GET /<method>?arg=value, websocket events at
 * /websocket, and Prometheus /metrics on the instrumentation address. Shapes follow
 * CometBFT 0.38 as @cosmjs/tendermint-rpc reads them (shared/reference/rpc-compat.md).
 *
 * The server reads blocks, commits, validator sets, params and FinalizeBlock results from
 * its own read-only handles on the node's SQLite stores; everything else it asks the node
 * through the callbacks of struct rpc_env. The node only fills the env, starts the server
 * and calls rpc_publish_block after each commit (cheap: it records the height and wakes
 * the RPC's event thread, which reads the stores and fans events out).
 *
 * Bounded: connections (max_open_connections, max_connections_per_ip), time to read a
 * request and to write a response, header and body bytes, websocket clients, their
 * subscriptions and queued events, pages (100 items), search cost (heights scanned). Unsafe methods
 * are off unless rpc.unsafe. Never blocks the node's threads and never writes to the stores.
 */
#ifndef PX_RPC_H
#define PX_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct abci_client;
struct p2p;
struct mempool;

#define RPC_VERSION "0.38.12" /* what node_info.version advertises (cosmjs picks by it) */
#define RPC_MAX_PER_PAGE 100
#define RPC_DEFAULT_PER_PAGE 30
#define RPC_SEARCH_MAX_HEIGHTS 20000 /* most heights one tx_search/block_search scans */
#define RPC_INDEX_MAX_HITS 100000    /* most candidates one search takes from the event index */

/* The node's view of the chain, asked for by status. */
struct rpc_status {
    uint64_t latest_height; /* 0 before the first block */
    uint8_t latest_block_hash[32];
    uint8_t latest_app_hash[128];
    size_t latest_app_hash_len;
    uint64_t latest_block_time_ns;
    uint64_t earliest_height;
    bool catching_up;
    bool is_validator;
    uint8_t validator_address[20];
    uint8_t validator_pub_key[32];
    int64_t voting_power;
};

/* What the app said about a transaction (CheckTx). `data` and strings are copied in. */
struct rpc_tx_check {
    uint32_t code;
    uint8_t data[1024];
    size_t data_len; /* longer data is cut (documented limit) */
    char log[1024];
    char info[256];
    char codespace[64];
    int64_t gas_wanted, gas_used;
};

struct rpc_app_info {
    char data[256];
    char version[64];
    uint64_t app_version;
    int64_t last_block_height;
    uint8_t last_block_app_hash[128];
    size_t last_block_app_hash_len;
};

struct rpc_query {
    const char *path;
    const uint8_t *data;
    size_t data_len;
    int64_t height;
    bool prove;
};

/* Answer of an ABCI Query; key/value malloc'd by the callee, freed by the RPC. */
struct rpc_query_result {
    uint32_t code;
    char log[1024];
    char info[256];
    char codespace[64];
    int64_t index;
    int64_t height;
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
};

struct rpc_env {
    /* ---- plain data (strings are copied by rpc_new) ---- */
    const char *blockstore_path; /* HOME/data/blockstore.db */
    const char *statestore_path; /* HOME/data/state.db */
    const char *genesis_path;    /* HOME/config/genesis.json */
    const char *txindex_path;    /* HOME/data/txindex.db (engine/store/txindex); NULL: searches
                                    read the stored results only */
    const char *node_id;         /* hex */
    const char *moniker;
    const char *chain_id;
    const char *p2p_listen_addr;       /* advertised in node_info.listen_addr */
    const char *rpc_listen_addr;       /* tcp://127.0.0.1:26657 ("" or NULL: no JSON-RPC server) */
    const char *metrics_listen_addr;   /* tcp://127.0.0.1:26660 ("" or NULL: no /metrics) */
    const char *const *cors_origins;   /* allowed origins ("*": any); NULL-terminated or NULL */
    uint32_t max_body_bytes;           /* 0: 1000000 */
    uint32_t max_header_bytes;         /* request line + headers; 0: 65536 */
    uint32_t max_open_connections;     /* HTTP and websocket connections; 0: 900 */
    uint32_t max_connections_per_ip;   /* 0: no limit per client address */
    uint32_t read_timeout_ms;          /* a whole request; 0: 10000 */
    uint32_t write_timeout_ms;         /* a whole response; 0: 10000 */
    uint32_t max_subscription_clients; /* 0: 100 */
    uint32_t max_subscriptions_per_client;   /* 0: 5; at most 64 */
    uint32_t timeout_broadcast_tx_commit_ms; /* 0: 10000 */
    bool unsafe;                     /* unsafe methods: none is served yet, whatever this says */
    struct metrics *metrics;         /* served at /metrics; may be NULL */
    struct metrics_std *metrics_std; /* rpc_requests is counted here; may be NULL */
    struct p2p *p2p;                 /* net_info; may be NULL (no peers) */
    struct mempool *mempool;         /* unconfirmed txs; may be NULL */

    /* ---- what the node implements (called from RPC threads; must be thread safe) ---- */
    void *user; /* last argument of every callback */
    /* Required. 0 or a PX_E code. */
    int (*status)(struct rpc_status *out, void *user);
    /* The validator's signer: 0 while it signs (or cannot be asked); otherwise the PX_E code
     * of its failure with a sentence in why (what failed, where, the fix). While it is not
     * 0, health answers a JSON-RPC error with that sentence and status says so in
     * validator_info (signer_ok, signer_error). NULL: always 0. */
    int (*signer_health)(char *why, size_t why_cap, void *user);
    /* CheckTx + add to the mempool + gossip (mempool_reactor_submit). Returns 0 when the
     * app answered (out->code says accepted or not); PX_E code otherwise (full mempool:
     * PX_EBOUND, duplicate: PX_EEXIST, too big: PX_ETOOBIG). NULL: broadcasts refused. */
    int (*submit_tx)(const uint8_t *tx, size_t len, struct rpc_tx_check *out, void *user);
    /* CheckTx only, nothing added (check_tx method). NULL: method unavailable. */
    int (*check_tx)(const uint8_t *tx, size_t len, struct rpc_tx_check *out, void *user);
    /* ABCI Info / Query on the query connection. rpc_env_use_abci fills them from a
     * client. NULL: methods unavailable. */
    int (*app_info)(struct rpc_app_info *out, void *user);
    int (*app_query)(const struct rpc_query *q, struct rpc_query_result *out, void *user);
    /* When set, app_info / app_query / check_tx get it as their user argument instead of
     * `user` (rpc_env_use_abci sets it with callbacks that call the app through it). */
    struct abci_client *abci;
};

/* Make app_info / app_query / check_tx call the app through `client` (Info, Query,
 * CheckTx on the query and mempool connections). The user pointer is left alone. */
void rpc_env_use_abci(struct rpc_env *env, struct abci_client *client);

struct rpc;

/* Open read-only store handles, copy the env and start the HTTP servers (JSON-RPC and
 * /metrics) and the event thread. Errors: PX_EINVAL (env incomplete), PX_ECONFIG (bad
 * listen address), PX_EIO (cannot listen: address in use), PX_ENOMEM. Nothing is left
 * running on error. */
int rpc_new(const struct rpc_env *env, struct rpc **out);
/* Stop the servers and threads (waiters of broadcast_tx_commit get an error) and free. */
void rpc_free(struct rpc *r);

/* After height was committed (block, results and state saved): emit NewBlock,
 * NewBlockHeader, Tx per transaction and ValidatorSetUpdates, and answer
 * broadcast_tx_commit waiters. Never blocks on I/O; thread safe. */
void rpc_publish_block(struct rpc *r, uint64_t height);
/* Evidence the node accepted (its CometBFT JSON, a "value" of a NewEvidence event). The
 * text is copied. */
void rpc_publish_evidence(struct rpc *r, uint64_t height, const char *evidence_json);

/* The port the JSON-RPC / metrics server listens on (after rpc_new; 0 if none). */
uint16_t rpc_port(const struct rpc *r);
uint16_t rpc_metrics_port(const struct rpc *r);

/* Answer one HTTP request body (a JSON-RPC request or batch) as the POST handler does:
 * *out is the malloc'd response text (NULL for a batch of notifications only). Used by the
 * HTTP and websocket paths and by tests. Errors: PX_ENOMEM. */
int rpc_handle_body(struct rpc *r, const char *body, size_t len, char **out);
/* Answer GET /<method>?query as the GET handler does (uri without the leading '/'). */
int rpc_handle_uri(struct rpc *r, const char *uri, char **out);

#endif
