/*
 * config: the node's configuration, HOME/config/node.conf (libconfig syntax), as a plain C
 * struct. Every option has a default in code; the annotated conf/node.conf is exactly what
 * config_format writes for the defaults, and a unit test keeps the two equal.
 *
 * Loading is strict: an unknown option, an option set twice, a wrong type, a value out of
 * range or a malformed address stops with a sentence naming the file, the line and what
 * was expected. The loader never changes global state (not even log levels): it only
 * fills the struct. Everything a file can make grow is bounded (string lengths, list
 * lengths).
 */
#ifndef PX_CONFIG_H
#define PX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_STR_MAX 256            /* bytes of any string option, including the NUL */
#define CONFIG_LIST_MAX 16            /* entries of a string list */
#define CONFIG_PEERS_MAX 64           /* persistent peers */
#define CONFIG_NODE_ID_LEN 41         /* 40 hex characters + NUL */
#define CONFIG_HOST_MAX 254           /* a DNS name (253) + NUL */
#define CONFIG_ERR_MAX 512            /* a buffer this large holds every error sentence */
#define CONFIG_FILE_MAX (1024 * 1024) /* a larger node.conf is refused */

struct config_peer {
    char id[CONFIG_NODE_ID_LEN]; /* lower-case hex of the peer's node key address */
    char host[CONFIG_HOST_MAX];  /* DNS name, IPv4 or IPv6 (without brackets) */
    uint16_t port;
};

struct config_list {
    size_t n;
    char item[CONFIG_LIST_MAX][CONFIG_STR_MAX];
};

struct config_p2p {
    char listen_addr[CONFIG_STR_MAX];   /* tcp://HOST:PORT */
    char external_addr[CONFIG_STR_MAX]; /* "" or tcp://HOST:PORT advertised to peers */
    size_t n_persistent_peers;
    struct config_peer persistent_peers[CONFIG_PEERS_MAX];
    uint32_t max_inbound_peers;
    uint32_t max_outbound_peers;
    uint32_t max_inbound_peers_per_ip;
    uint32_t max_inbound_handshakes;
    uint32_t max_inbound_handshakes_per_ip;
    uint32_t handshake_timeout_ms;
    uint32_t dial_timeout_ms;
    uint64_t send_rate_bytes_per_s;
    uint64_t recv_rate_bytes_per_s;
    uint32_t max_frame_bytes;
    uint64_t ban_duration_ms;
    uint32_t refused_log_interval_ms;
    uint32_t block_requests_per_s;
    uint32_t block_request_burst;
    bool pex;
};

struct config_rpc {
    char listen_addr[CONFIG_STR_MAX]; /* "" (off) or tcp://HOST:PORT */
    struct config_list cors_allowed_origins;
    uint32_t max_body_bytes;
    uint32_t max_header_bytes;
    uint32_t max_open_connections;
    uint32_t max_connections_per_ip;
    uint32_t max_subscription_clients;
    uint32_t max_subscriptions_per_client;
    bool unsafe;
    uint32_t read_timeout_ms;
    uint32_t write_timeout_ms;
    uint32_t timeout_broadcast_tx_commit_ms;
};

struct config_consensus {
    char wal_file[CONFIG_STR_MAX]; /* relative to HOME unless absolute */
    uint32_t wal_max_record_bytes;
    uint32_t timeout_propose_ms;
    uint32_t timeout_propose_delta_ms;
    uint32_t timeout_prevote_ms;
    uint32_t timeout_prevote_delta_ms;
    uint32_t timeout_precommit_ms;
    uint32_t timeout_precommit_delta_ms;
    uint32_t timeout_commit_ms;
    bool create_empty_blocks;
    uint32_t create_empty_blocks_interval_ms;
    uint32_t double_sign_check_height;
};

struct config_mempool {
    uint32_t max_txs;
    uint64_t max_txs_bytes;
    uint32_t max_tx_bytes;
    uint32_t cache_size_txs;
    bool recheck;
    bool broadcast;
};

struct config_abci {
    char address[CONFIG_STR_MAX]; /* tcp://HOST:PORT or ipc://PATH */
    uint32_t connect_timeout_ms;
    uint32_t call_timeout_ms;
};

struct config_storage {
    char db_dir[CONFIG_STR_MAX]; /* relative to HOME unless absolute */
    uint64_t retain_blocks;      /* 0: keep every block */
};

struct config_instrumentation {
    bool prometheus;
    char prometheus_listen_addr[CONFIG_STR_MAX];
    char namespace_[CONFIG_STR_MAX]; /* "namespace" in the file */
};

struct config_log {
    char level[CONFIG_STR_MAX]; /* a px_log spec: "info,consensus=debug" */
    char format[CONFIG_STR_MAX];
};

struct config_blocksync {
    bool enable;
};

struct config_statesync {
    bool enable;
    struct config_list rpc_servers; /* tcp://HOST:PORT of at least two nodes */
    uint64_t trust_height;
    char trust_hash[CONFIG_STR_MAX]; /* hex of the header hash at trust_height */
    uint64_t trust_period_ms;
};

struct config {
    char moniker[CONFIG_STR_MAX];
    struct config_p2p p2p;
    struct config_rpc rpc;
    struct config_consensus consensus;
    struct config_mempool mempool;
    struct config_abci abci;
    struct config_storage storage;
    struct config_instrumentation instrumentation;
    struct config_log log;
    struct config_blocksync blocksync;
    struct config_statesync statesync;
};

/* Fill c with the defaults. */
void config_defaults(struct config *c);

/* Load a node.conf: defaults, then every option the file sets. On error c is left with
 * defaults and err gets "FILE:LINE: OPTION: expected ..., got ..." (or the syntax error).
 * Errors: PX_ENOTFOUND (no file), PX_ETOOBIG, PX_EIO, PX_ECONFIG (syntax, unknown option,
 * wrong type, bad value), PX_ENOMEM. */
int config_load(const char *path, struct config *c, char *err, size_t err_cap);
/* config_load, also telling how many options the file sets in *n_set (0 for an empty file
 * or one of comments only: every option at its default; the node warns about that). */
int config_load_count(const char *path, struct config *c, size_t *n_set, char *err, size_t err_cap);

/* Check the values of c (what config_load does after reading). PX_ECONFIG with a sentence
 * naming the option (file and line are unknown here). */
int config_validate(const struct config *c, char *err, size_t err_cap);

/* The annotated file (every option with its meaning and default) holding the values of c,
 * as a malloc'd string. PX_ENOMEM. */
int config_format(const struct config *c, char **out);

/* True if a and b hold the same values. *first_diff (may be NULL) gets the name of the
 * first option that differs. */
bool config_equal(const struct config *a, const struct config *b, const char **first_diff);

/* Options the code knows, "section.name" (or "moniker"); for tests and tools. */
size_t config_option_count(void);
const char *config_option_name(size_t i);

/* path itself if absolute, else HOME/path. PX_ETOOBIG if it does not fit. */
int config_resolve_path(const char *home, const char *path, char *out, size_t cap);

#endif
