/*
 * phalanx query: ask the app through a node's JSON-RPC abci_query (path, data, height)
 * and print the value: as text when it is printable, else hex (--hex forces hex). The
 * default path is kvledger's /key. Exit status 1 when the app answers code != 0.
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

#define QUERY_MAX_BYTES (64u << 10)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: phalanx query [--node tcp://HOST:PORT] [--path PATH] [--height H] [--hex]\n"
            "                     [--data-hex] DATA\n"
            "Asks the app (ABCI Query) at PATH (default /key) about DATA (its bytes, or hex with\n"
            "--data-hex) and prints the value (text if printable, else hex; --hex: always hex).\n"
            "Default node %s.\n",
            RPC_CLIENT_DEFAULT_ADDR);
}

static int printable(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] < 0x20 || b[i] > 0x7e)
            return 0;
    return 1;
}

int cmd_query(int argc, char **argv)
{
    const char *node = RPC_CLIENT_DEFAULT_ADDR, *path = "/key", *height = NULL;
    int hex_out = 0, hex_in = 0;
    static const struct option opts[] = {{"node", required_argument, NULL, 'n'},
                                         {"path", required_argument, NULL, 'p'},
                                         {"height", required_argument, NULL, 'H'},
                                         {"hex", no_argument, NULL, 'x'},
                                         {"data-hex", no_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "n:p:H:xdh", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            node = optarg;
            break;
        case 'p':
            path = optarg;
            break;
        case 'H':
            height = optarg;
            if (strspn(height, "0123456789") != strlen(height) || *height == '\0') {
                fprintf(stderr, "phalanx query: --height takes a block height\n");
                return 2;
            }
            break;
        case 'x':
            hex_out = 1;
            break;
        case 'd':
            hex_in = 1;
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
    size_t alen = strlen(arg);
    if (alen > QUERY_MAX_BYTES) {
        fprintf(stderr, "phalanx query: DATA is longer than %u bytes\n", QUERY_MAX_BYTES);
        return 2;
    }
    char *data_hex = malloc(PX_HEX_LEN(alen));
    if (data_hex == NULL)
        return 1;
    if (hex_in) {
        uint8_t *tmp = malloc(alen + 1);
        size_t n = 0;
        if (tmp == NULL || px_hex_decode(tmp, alen + 1, &n, arg, alen) < 0) {
            fprintf(stderr, "phalanx query: --data-hex needs an even number of hex digits\n");
            free(tmp);
            free(data_hex);
            return 2;
        }
        px_hex_encode(data_hex, PX_HEX_LEN(alen), tmp, n, false);
        free(tmp);
    } else {
        px_hex_encode(data_hex, PX_HEX_LEN(alen), (const uint8_t *)arg, alen, false);
    }
    json_t *params = json_pack("{s:s, s:s}", "path", path, "data", data_hex);
    free(data_hex);
    if (height != NULL)
        json_object_set_new(params, "height", json_string(height));
    json_t *res = NULL;
    char why[512];
    int err = rpc_client_call(node, "abci_query", params, 10000, &res, why, sizeof why);
    json_decref(params);
    if (err < 0) {
        fprintf(stderr, "phalanx query: %s\n", why);
        return 1;
    }
    json_t *r = json_object_get(res, "response");
    json_int_t code = json_integer_value(json_object_get(r, "code"));
    const char *log = json_string_value(json_object_get(r, "log"));
    const char *h = json_string_value(json_object_get(r, "height"));
    const char *v64 = json_string_value(json_object_get(r, "value"));
    if (code != 0) {
        fprintf(stderr, "phalanx query: the app answered code %lld: %s\n", (long long)code,
                log ? log : "");
        json_decref(res);
        return 1;
    }
    size_t vlen = v64 ? strlen(v64) : 0, n = 0;
    uint8_t *val = malloc(vlen + 1);
    if (val == NULL || (v64 && px_base64_decode(val, vlen + 1, &n, v64, vlen) < 0)) {
        fprintf(stderr, "phalanx query: the node's answer has a malformed value\n");
        free(val);
        json_decref(res);
        return 1;
    }
    if (!hex_out && printable(val, n)) {
        printf("%.*s\n", (int)n, (const char *)val);
    } else {
        char *hx = malloc(PX_HEX_LEN(n));
        if (hx != NULL) {
            px_hex_encode(hx, PX_HEX_LEN(n), val, n, false);
            printf("%s\n", hx);
            free(hx);
        }
    }
    fprintf(stderr, "height %s\n", h ? h : "?");
    free(val);
    json_decref(res);
    return 0;
}
