/*
 * Integration test of issue 21's remote crash: a 4-validator network of real processes
 * (net_harness) flooded with legal 8,000-byte KV transactions through broadcast_tx_async at
 * every node (`phalanx load --size 8000`), faster than the chain commits them, so that the
 * mempools hold more than one block. The proposer used to reap by bare bytes, trim what
 * each tx's framing pushed over the block, and free an interior pointer of the reaped array
 * while doing so: glibc "double free or corruption" and a dead node. The genesis
 * block.max_bytes is chosen so that a full block is exactly that case (128 txs of 8,000
 * bytes fit by their bytes, only 127 with their framing) whatever the size of the last
 * commit, instead of needing the default 21 MiB block and 3,000 tx/s.
 *
 * After the flood every node must still run, every node must commit further heights, a
 * block must have been full (the mempool did hold more than a block), the nodes must agree,
 * and no child may have printed a sanitizer report (net_destroy checks the logs). About
 * 20 s; never leaves a process or a directory behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "net_harness.h"
#include "px_test.h"

#define N 4
#define TX_BYTES 8000
/* 128 * 8000 = 1,024,000 <= room < 128 * 8011 = 1,025,408, where room is block.max_bytes
 * minus the header bound (2,112 bytes) and the framed last commit (none at height 1; well
 * under 1,000 bytes for 4 validators), as blockexec_build counts it. */
#define BLOCK_MAX_BYTES 1027400

static const char *bins[3];

/* Set consensus_params.block.max_bytes in node i's genesis.json (a string, as CometBFT
 * writes it), and evidence.max_bytes to 64 KiB (it may not exceed the block). Every node
 * gets the same file. */
static void set_block_max_bytes(struct net *net, int i, long long v)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/node%d/config/genesis.json", net->dir, i);
    json_error_t jerr;
    json_t *g = json_load_file(path, 0, &jerr);
    if (!g)
        fail_msg("cannot read %s: %s", path, jerr.text);
    json_t *block = json_object_get(json_object_get(g, "consensus_params"), "block");
    assert_non_null(block);
    char num[32];
    snprintf(num, sizeof(num), "%lld", v);
    assert_int_equal(json_object_set_new(block, "max_bytes", json_string(num)), 0);
    json_t *ev = json_object_get(json_object_get(g, "consensus_params"), "evidence");
    assert_non_null(ev);
    assert_int_equal(json_object_set_new(ev, "max_bytes", json_string("65536")), 0);
    assert_int_equal(json_dump_file(g, path, JSON_INDENT(2)), 0);
    json_decref(g);
}

static void flood_keeps_every_node_alive(void **state)
{
    (void)state;
    struct net net;
    net_create(&net, N, bins);
    for (int i = 0; i < N; i++)
        set_block_max_bytes(&net, i, BLOCK_MAX_BYTES);
    net_start_all(&net);
    for (int i = 0; i < N; i++) {
        if (!net_wait_height(&net, i, 2, 60000))
            fail_msg("node %d did not commit height 2 (logs in %s)", i, net.dir);
        assert_true(net_wait_rpc(&net, i, 20000));
    }

    char nodes[256], log[400];
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(nodes + len, sizeof(nodes) - len, "%s127.0.0.1:%u", i ? "," : "",
                                net.base + 10 * i + 1);
    snprintf(log, sizeof(log), "%s/load.log", net.dir);
    /* 1,000 tx/s of 8,000 bytes for 4 s over all four nodes: about 30 blocks' worth */
    const char *argv[] = {bins[0],         "load", "--nodes", nodes,  "--rate",    "1000",
                          "--duration",    "4",    "--size",  "8000", "--timeout", "3",
                          "--connections", "8",    "--json",  NULL};
    int status = 0;
    assert_int_equal(pxt_run(argv, log, 60000, &status, NULL), 0);

    uint64_t top = 0;
    for (int i = 0; i < N; i++) {
        if (!pxt_running(net.node[i], &status))
            fail_msg("node %d died under the flood (status %d; its log: %s/node%d/node.log)", i,
                     status, net.dir, i);
        uint64_t h = net_height(&net, i);
        if (h > top)
            top = h;
    }
    /* the chain goes on at every node */
    for (int i = 0; i < N; i++)
        if (!net_wait_height(&net, i, top + 3, 60000))
            fail_msg("node %d stopped committing at height %llu (logs in %s)", i,
                     (unsigned long long)net_height(&net, i), net.dir);
    /* a full block: the mempool held more than one block's bytes when it was built */
    uint32_t most = 0;
    for (uint64_t h = 1; h <= top + 3; h++) {
        uint8_t hash[32], app[64];
        size_t al;
        uint32_t ntx = 0;
        assert_int_equal(net_block(&net, 0, h, hash, app, &al, &ntx), 0);
        if (ntx > most)
            most = ntx;
    }
    print_message("flood: heights to %llu, fullest block %u txs\n", (unsigned long long)top + 3,
                  most);
    if (most < 120)
        fail_msg("no full block (fullest: %u txs of %d bytes): the flood did not fill the "
                 "mempools; see %s",
                 most, TX_BYTES, log);
    assert_true(most <= 127); /* 128 do not fit with their framing */
    for (int i = 1; i < N; i++)
        net_assert_same_chain(&net, 0, i);
    net_destroy(&net);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_flood PHALANX PHALANXD KVLEDGER\n");
        return 2;
    }
    bins[0] = argv[1];
    bins[1] = argv[2];
    bins[2] = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flood_keeps_every_node_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
