/*
 * phalanxd: the consensus engine. Parses the command line and runs the node.
 */
#include "node.h"

#include <stdio.h>
#include <string.h>

#ifndef PHALANX_VERSION
#define PHALANX_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: phalanxd --home DIR [--log-level SPEC]\n\n"
               "Runs a Phalanx node from the home directory DIR (made by 'phalanx init' or\n"
               "'phalanx testnet'): HOME/config/node.conf, genesis.json, node_key.json,\n"
               "priv_validator_key.json, HOME/data/. The application must listen at the\n"
               "address in node.conf (abci.address). Stops cleanly on SIGINT or SIGTERM.\n\n"
               "  --home DIR        the node's home directory\n"
               "  --log-level SPEC  e.g. info or info,consensus=debug (default: node.conf)\n"
               "  --version         print the version\n");
}

int main(int argc, char **argv)
{
    struct node_options o = {NULL, NULL};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("phalanxd %s\n", PHALANX_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            o.home = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            o.log_spec = argv[++i];
        } else {
            fprintf(stderr, "phalanxd: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!o.home) {
        fprintf(stderr, "phalanxd: --home DIR is required\n");
        usage(stderr);
        return 2;
    }
    return node_run(&o);
}
