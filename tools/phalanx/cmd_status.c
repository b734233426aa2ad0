/*
 * phalanx status: ask a node's JSON-RPC `status` and print what an operator looks at
 * first (height, hashes, time, catching up, validator power), or the raw JSON with
 * --json. Only reads; never changes the node.
 */
#include "commands.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "rpc_client.h"

static const char *str(json_t *o, const char *a, const char *b)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, a), b));
    return s ? s : "?";
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: phalanx status [--node tcp://HOST:PORT] [--json] [--timeout MS]\n"
            "Prints the node's latest height, block and app hash, time and sync state\n"
            "(JSON-RPC `status`; default node %s).\n",
            RPC_CLIENT_DEFAULT_ADDR);
}

int cmd_status(int argc, char **argv)
{
    const char *node = RPC_CLIENT_DEFAULT_ADDR;
    int json = 0, timeout_ms = 10000;
    static const struct option opts[] = {{"node", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "n:jt:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            node = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 't':
            if (sscanf(optarg, "%d", &timeout_ms) != 1 || timeout_ms <= 0) {
                fprintf(stderr, "phalanx status: --timeout takes milliseconds (> 0)\n");
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    json_t *res = NULL;
    char why[512];
    if (rpc_client_call(node, "status", NULL, timeout_ms, &res, why, sizeof why) < 0) {
        fprintf(stderr, "phalanx status: %s (is phalanxd running with rpc.listen_addr %s?)\n", why,
                node);
        return 1;
    }
    if (json) {
        json_dumpf(res, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        json_t *sync = json_object_get(res, "sync_info");
        printf("node:        %s (%s) network %s version %s\n", str(res, "node_info", "moniker"),
               str(res, "node_info", "id"), str(res, "node_info", "network"),
               str(res, "node_info", "version"));
        printf("height:      %s\n", str(res, "sync_info", "latest_block_height"));
        printf("block hash:  %s\n", str(res, "sync_info", "latest_block_hash"));
        printf("app hash:    %s\n", str(res, "sync_info", "latest_app_hash"));
        printf("block time:  %s\n", str(res, "sync_info", "latest_block_time"));
        printf("catching up: %s\n",
               json_is_true(json_object_get(sync, "catching_up")) ? "yes" : "no");
        printf("validator:   %s power %s\n", str(res, "validator_info", "address"),
               str(res, "validator_info", "voting_power"));
    }
    json_decref(res);
    return 0;
}
