/*
 * kvledger_itest: helpers shared by kvledger's integration tests. Starts the real
 * `kvledger` binary by PID on a free 127.0.0.1 port in a temporary home, connects an
 * abci_client to it, and wraps the ABCI calls the tests make. Tests only: it never
 * leaves a process behind (pxt_spawn kills leftovers at exit).
 */
#ifndef KVLEDGER_ITEST_H
#define KVLEDGER_ITEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "abci_client.h"

struct kvl_node {
    const char *exe; /* path of the kvledger binary */
    char home[512];
    char log[600];
    char addr[64];
    pid_t pid;
    struct abci_client *client;
    bool tolerate_loss; /* calls return PX_ECLOSED/PX_ETIMEDOUT instead of failing */
};

/* Make the temp home (once) and pick a free port. */
void kvl_node_init(struct kvl_node *n, const char *exe, const char *tag);
/* Start kvledger and connect; fails the test if it is not serving within 10 s. */
void kvl_node_start(struct kvl_node *n);
/* Stop with sig (SIGTERM: clean, expects exit status 0; SIGKILL: crash). */
void kvl_node_stop(struct kvl_node *n, int sig);
/* Stop if running and remove the home. */
void kvl_node_fini(struct kvl_node *n);

/* Calls (fail the test on a transport error or an exception unless stated). */
void kvl_info(struct kvl_node *n, int64_t *height, uint8_t *hash, size_t *hash_len);
void kvl_init_chain(struct kvl_node *n, const char *chain_id, const char *app_state,
                    uint8_t hash[32]);
uint32_t kvl_check_tx(struct kvl_node *n, const uint8_t *tx, size_t len);
/* FinalizeBlock; returns the abci_client result (0 or PX_EAPP...). codes[i] and hash are
 * filled on success. */
int kvl_finalize(struct kvl_node *n, int64_t height, const uint8_t *const *txs, const size_t *lens,
                 size_t ntx, uint32_t *codes, uint8_t hash[32]);
int kvl_commit(struct kvl_node *n);
/* Query: returns the code; value copied into val[cap] (NUL-terminated). */
uint32_t kvl_query(struct kvl_node *n, const char *path, const uint8_t *data, size_t len, char *val,
                   size_t cap);

#endif
