/*
 * phalanx keygen: create a new Ed25519 key file in CometBFT's format, a validator's
 * consensus key (priv_validator_key.json) or a node's p2p key (node_key.json), and print
 * its address and public key. Never overwrites an existing file and never prints the
 * private key.
 */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "keyfile.h"
#include "px_encoding.h"
#include "px_error.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: phalanx keygen [--type validator|node] [--out FILE]\n"
               "Writes a new Ed25519 key file (mode 0600) and prints its address and public\n"
               "key. --type validator (default) writes a consensus key like\n"
               "priv_validator_key.json; --type node writes a p2p key like node_key.json and\n"
               "also prints the node id. --out defaults to ./priv_validator_key.json or\n"
               "./node_key.json. An existing file is never overwritten.\n");
}

int cmd_keygen(int argc, char **argv)
{
    enum keyfile_kind kind = KEYFILE_VALIDATOR;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if ((strcmp(argv[i], "--type") == 0 || strcmp(argv[i], "--out") == 0) && i + 1 >= argc) {
            fprintf(stderr, "phalanx keygen: %s needs a value\n", argv[i]);
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--type") == 0) {
            const char *t = argv[++i];
            if (strcmp(t, "validator") == 0) {
                kind = KEYFILE_VALIDATOR;
            } else if (strcmp(t, "node") == 0) {
                kind = KEYFILE_NODE;
            } else {
                fprintf(stderr,
                        "phalanx keygen: unknown key type '%s' (use 'validator' or 'node')\n", t);
                return 2;
            }
        } else if (strcmp(argv[i], "--out") == 0) {
            out = argv[++i];
        } else {
            fprintf(stderr, "phalanx keygen: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!out)
        out = kind == KEYFILE_VALIDATOR ? "priv_validator_key.json" : "node_key.json";

    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    if (ed25519_generate(&priv, &pub) != 0) {
        fprintf(stderr, "phalanx keygen: cannot generate a key: libsodium failed to start\n");
        return 1;
    }
    char err[KEYFILE_ERR_MAX];
    int rc = keyfile_write(out, kind, &priv, err, sizeof(err));
    ed25519_privkey_wipe(&priv);
    if (rc != 0) {
        fprintf(stderr, "phalanx keygen: %s\n", err);
        return 1;
    }
    uint8_t addr[CRYPTO_ADDRESS_SIZE];
    char addr_hex[PX_HEX_LEN(CRYPTO_ADDRESS_SIZE)], pub_b64[PX_BASE64_LEN(ED25519_PUBKEY_SIZE)];
    ed25519_address(&pub, addr);
    px_hex_encode(addr_hex, sizeof(addr_hex), addr, sizeof(addr), true);
    px_base64_encode(pub_b64, sizeof(pub_b64), pub.bytes, sizeof(pub.bytes));
    printf("wrote %s\n", out);
    printf("address: %s\n", addr_hex);
    printf("pub_key: %s\n", pub_b64);
    if (kind == KEYFILE_NODE) {
        char id[KEYFILE_NODE_ID_LEN];
        keyfile_node_id(&pub, id);
        printf("node_id: %s\n", id);
    }
    return 0;
}
