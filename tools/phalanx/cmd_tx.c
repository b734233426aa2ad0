/*
 * phalanx tx: send one transaction to a node's JSON-RPC (broadcast_tx_sync by default,
 * --async or --commit) and print its hash and what the app said. The transaction is the
 * argument's bytes (e.g. kvledger's "key=value"), or hex with --hex. Exit status 1 when
 * the app rejects it (code != 0) or the call fails.
 */
#include "commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "px_encoding.h"
#include "px_error.h"
#include "rpc_client.h"

#define TX_MAX_BYTES (1u << 20)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: phalanx tx [--node tcp://HOST:PORT] [--async | --commit] [--hex] TX\n"
            "Sends TX (its bytes, or hex with --hex) with broadcast_tx_sync (default: CheckTx\n"
            "answer), --async (no answer) or --commit (waits for the block). Default node %s.\n",
            RPC_CLIENT_DEFAULT_ADDR);
}

static void print_result(const char *what, json_t *r)
{
    json_int_t code = json_integer_value(json_object_get(r, "code"));
    const char *log = json_string_value(json_object_get(r, "log"));
    printf("%s: code %lld%s%s\n", what, (long long)code, log && *log ? " log " : "",
           log && *log ? log : "");
}

int cmd_tx(int argc, char **argv)
{
    const char *node = RPC_CLIENT_DEFAULT_ADDR;
    const char *method = "broadcast_tx_sync";
    int hex = 0;
    static const struct option opts[] = {
        {"node", required_argument, NULL, 'n'}, {"async", no_argument, NULL, 'a'},
        {"commit", no_argument, NULL, 'c'},     {"hex", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "n:acxh", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            node = optarg;
            break;
        case 'a':
            method = "broadcast_tx_async";
            break;
        case 'c':
            method = "broadcast_tx_commit";
            break;
        case 'x':
            hex = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *arg = argv[optind];
    size_t alen = strlen(arg), len = alen;
    if (alen == 0 || alen > 2 * TX_MAX_BYTES) {
        fprintf(stderr, "phalanx tx: the transaction must have 1 to %u bytes\n", TX_MAX_BYTES);
        return 2;
    }
    uint8_t *tx = malloc(alen + 1);
    char *b64 = malloc(PX_BASE64_LEN(alen));
    if (tx == NULL || b64 == NULL) {
        free(tx);
        free(b64);
        fprintf(stderr, "phalanx tx: out of memory\n");
        return 1;
    }
    if (hex) {
        if (px_hex_decode(tx, alen, &len, arg, alen) < 0 || len == 0) {
            fprintf(stderr, "phalanx tx: --hex needs an even number of hex digits\n");
            free(tx);
            free(b64);
            return 2;
        }
    } else {
        memcpy(tx, arg, alen);
    }
    px_base64_encode(b64, PX_BASE64_LEN(alen), tx, len);
    free(tx);
    json_t *params = json_pack("{s:s}", "tx", b64);
    free(b64);
    json_t *res = NULL;
    char why[512];
    int err = rpc_client_call(node, method, params, 60000, &res, why, sizeof why);
    json_decref(params);
    if (err < 0) {
        fprintf(stderr, "phalanx tx: %s\n", why);
        return 1;
    }
    const char *hash = json_string_value(json_object_get(res, "hash"));
    printf("hash: %s\n", hash ? hash : "?");
    int rc = 0;
    if (strcmp(method, "broadcast_tx_commit") == 0) {
        json_t *ct = json_object_get(res, "check_tx");
        json_t *dt = json_object_get(res, "tx_result");
        const char *h = json_string_value(json_object_get(res, "height"));
        print_result("check_tx", ct);
        print_result("tx_result", dt);
        printf("height: %s\n", h ? h : "?");
        rc = json_integer_value(json_object_get(ct, "code")) != 0 ||
             json_integer_value(json_object_get(dt, "code")) != 0;
    } else if (strcmp(method, "broadcast_tx_sync") == 0) {
        print_result("check_tx", res);
        rc = json_integer_value(json_object_get(res, "code")) != 0;
    }
    json_decref(res);
    return rc;
}
