/*
 * phalanx: the command line for operators, developers and testers. Dispatches to the
 * subcommand named by the first argument; never does the work itself.
 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#ifndef PHALANX_VERSION
#define PHALANX_VERSION "unknown"
#endif

const struct phalanx_command phalanx_commands[] = {
    {"version", "print the version of phalanx", cmd_version},
    {"keygen", "write a new validator or node key file", cmd_keygen},
    {"init", "create a node's home: config, keys, single-validator genesis", cmd_init},
    {"inspect-wal", "list and check a consensus WAL; --repair truncates a bad one",
     cmd_inspect_wal},
    {"abci-test", "drive an ABCI app through a scripted chain (conformance)", cmd_abci_test},
    {"testnet", "create the homes of a local N-validator network on 127.0.0.1", cmd_testnet},
    {"rollback", "move a stopped node's state back one height (--hard: its block too)",
     cmd_rollback},
    {"load", "open-loop load generator: send txs at a rate, report commits and latency", cmd_load},
    {"status", "print a node's height, hashes and sync state (JSON-RPC)", cmd_status},
    {"tx", "send a transaction to a node (broadcast_tx_sync/async/commit)", cmd_tx},
    {"query", "ask the app through a node (abci_query)", cmd_query},
    {NULL, NULL, NULL},
};

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: phalanx version\nPrints the version of phalanx.\n");
        return 0;
    }
    printf("phalanx %s\n", PHALANX_VERSION);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: phalanx COMMAND [OPTIONS]\n\n"
               "Commands:\n");
    for (const struct phalanx_command *c = phalanx_commands; c->name; c++)
        fprintf(f, "  %-14s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'phalanx COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    for (const struct phalanx_command *c = phalanx_commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "phalanx: unknown command '%s' (run 'phalanx --help' for the list)\n", argv[1]);
    return 2;
}
