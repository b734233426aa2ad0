/*
 * net_harness: a local network of real processes for integration tests — `phalanx testnet`
 * homes in a temp dir, one kvledger and one phalanxd per validator on 127.0.0.1 ports
 * free at the start, each started and stopped by PID. Observes nodes through their block
 * stores (read-only SQLite handles, valid while the node runs) and submits transactions
 * through their JSON-RPC. Tests only; every process is killed at exit whatever happens.
 */
#ifndef NET_HARNESS_H
#define NET_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NET_MAX 8

struct net {
    char dir[256];
    int n;
    uint16_t base; /* node i: p2p base+10i, rpc +1, app +2, metrics +4 */
    const char *phalanx, *phalanxd, *kvledger;
    pid_t app[NET_MAX], node[NET_MAX];
};

/* Make the homes (phalanx testnet) with binaries from argv (phalanx, phalanxd, kvledger).
 * Fails the test on error. */
void net_create(struct net *net, int n, const char *const bins[3]);
void net_start_app(struct net *net, int i);
void net_start_node(struct net *net, int i);
void net_start_all(struct net *net);
/* Stop with sig (SIGTERM clean, SIGKILL crash); waits for the exit. */
void net_stop_node(struct net *net, int i, int sig);
void net_stop_app(struct net *net, int i, int sig);
void net_stop_all(struct net *net);
/* Stop everything and remove the directory (keeps it if PX_KEEP_TESTNET is set). */
void net_destroy(struct net *net);

/* Highest stored block height of node i (0 if none or not readable yet). */
uint64_t net_height(struct net *net, int i);
/* Wait until node i has height >= h. */
bool net_wait_height(struct net *net, int i, uint64_t h, int timeout_ms);
/* Block hash and app hash (in the header) of node i at height h. 0 or PX_E code. */
int net_block(struct net *net, int i, uint64_t h, uint8_t hash[32], uint8_t app_hash[64],
              size_t *app_hash_len, uint32_t *num_txs);
/* Fail the test unless nodes a and b have the same block and app hash at every height both
 * have; returns how many heights were compared. */
uint64_t net_assert_same_chain(struct net *net, int a, int b);

/* HTTP GET http://127.0.0.1:port/path; the body goes to out (NUL-terminated, cut to cap).
 * Returns the HTTP status, or a negative PX_E code. */
int net_http_get(uint16_t port, const char *path, char *out, size_t cap, int timeout_ms);
/* HTTP POST of a JSON body to http://127.0.0.1:port/; like net_http_get. */
int net_http_post(uint16_t port, const char *json, char *out, size_t cap, int timeout_ms);
/* broadcast_tx_sync of any tx bytes at node i (POST, base64). 0 if accepted (code 0). */
int net_submit_tx(struct net *net, int i, const uint8_t *tx, size_t len);

/* Wait until node i's JSON-RPC answers /health. */
bool net_wait_rpc(struct net *net, int i, int timeout_ms);
/* broadcast_tx_async of a KV tx "key=value" at node i. 0 if the node answered with code 0. */
int net_submit_kv(struct net *net, int i, const char *key, const char *value);
/* Ask node i's app (abci_query /key) through RPC: 1 found with value, 0 absent, <0 error
 * (PX_EAPP: the node answered with an error, e.g. its app is reconnecting). */
int net_query_key(struct net *net, int i, const char *key, char *value, size_t cap);

#endif
