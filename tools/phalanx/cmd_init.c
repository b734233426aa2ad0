/*
 * phalanx init: create a node's home directory: config/node.conf (every option at its
 * default), config/node_key.json and config/priv_validator_key.json (fresh Ed25519 keys,
 * mode 0600), config/genesis.json (a single-validator chain with this validator) and
 * data/priv_validator_state.json (nothing signed yet). Never overwrites anything: a home
 * that exists and is not empty is refused; a new home appears whole or not at all.
 */
#include "commands.h"

#include "cli_home.h"
#include "config.h"
#include "ed25519.h"
#include "genesis.h"
#include "keyfile.h"
#include "px_clock.h"
#include "px_encoding.h"
#include "px_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: phalanx init --home DIR [--chain-id ID] [--moniker NAME]\n"
               "\n"
               "Creates a node's home directory DIR with a default config/node.conf, a node key\n"
               "and a validator key (mode 0600), a single-validator config/genesis.json and\n"
               "data/priv_validator_state.json. Refuses a DIR that exists and is not empty.\n"
               "  --chain-id ID   chain id (default: phalanx-chain-XXXXXX, random)\n"
               "  --moniker NAME  this node's name (default: the host name)\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "phalanx init: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

int cmd_init(int argc, char **argv)
{
    const char *home = NULL, *chain_id = NULL, *moniker = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            home = argv[++i];
        } else if (strcmp(argv[i], "--chain-id") == 0 && i + 1 < argc) {
            chain_id = argv[++i];
        } else if (strcmp(argv[i], "--moniker") == 0 && i + 1 < argc) {
            moniker = argv[++i];
        } else {
            fprintf(stderr, "phalanx init: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!home || !home[0]) {
        fprintf(stderr, "phalanx init: --home DIR is required\n");
        usage(stderr);
        return 2;
    }
    if (strlen(home) > 3000)
        return fail("--home is too long");

    /* Check everything the user gave before creating anything. */
    struct config *c = malloc(sizeof(*c));
    struct genesis g;
    memset(&g, 0, sizeof(g));
    if (!c)
        return fail("out of memory");
    config_defaults(c);
    char host[256] = "phalanx-node";
    if (!moniker && gethostname(host, sizeof(host)) == 0)
        host[sizeof(host) - 1] = '\0';
    snprintf(c->moniker, sizeof(c->moniker), "%s", moniker ? moniker : host);
    char err[CONFIG_ERR_MAX > GENESIS_ERR_MAX ? CONFIG_ERR_MAX : GENESIS_ERR_MAX];
    int ret = 1;
    char build[3100] = "";
    bool building = false; /* build is a temporary directory of ours */
    if (config_validate(c, err, sizeof(err)) != 0) {
        fail("bad --moniker: %s", err);
        ret = 2;
        goto out;
    }
    if (chain_id) {
        snprintf(g.chain_id, sizeof(g.chain_id), "%s", chain_id);
        if (strlen(chain_id) > GENESIS_CHAIN_ID_MAX) {
            fail("bad --chain-id: at most %d bytes", GENESIS_CHAIN_ID_MAX);
            ret = 2;
            goto out;
        }
    } else {
        if (ed25519_lib_init() != 0) {
            fail("libsodium failed to initialise");
            goto out;
        }
        uint8_t r[3];
        char hex[PX_HEX_LEN(3)];
        randombytes_buf(r, sizeof(r));
        px_hex_encode(hex, sizeof(hex), r, sizeof(r), false);
        snprintf(g.chain_id, sizeof(g.chain_id), "phalanx-chain-%s", hex);
    }

    /* the genesis checks on the chain id, with a stand-in validator */
    struct genesis_validator stand_in = {.power = 1};
    genesis_address_of(stand_in.pub_key, stand_in.address);
    g.genesis_time_ns = px_clock_wall_ns(px_clock_system());
    g.initial_height = 1;
    genesis_default_params(&g.params);
    g.n_validators = 1;
    g.validators = &stand_in;
    int rc = genesis_validate(&g, err, sizeof(err));
    g.validators = NULL;
    g.n_validators = 0;
    if (rc != 0) {
        fail("bad --chain-id: %s", strchr(err, ':') ? strchr(err, ':') + 2 : err);
        ret = 2;
        goto out;
    }

    /* "dir/" and "dir" are the same home */
    char home_buf[3001];
    snprintf(home_buf, sizeof(home_buf), "%s", home);
    for (size_t n = strlen(home_buf); n > 1 && home_buf[n - 1] == '/'; n--)
        home_buf[n - 1] = '\0';
    home = home_buf;

    rc = cli_home_check_empty(home);
    if (rc == PX_EEXIST) {
        fail("%s exists and is not empty; refusing to overwrite a node's home. Choose another "
             "--home, or move the old one away.",
             home);
        goto out;
    }
    if (rc != 0) {
        fail("cannot read %s: %s", home, px_strerror(rc));
        goto out;
    }

    /* A new home is built in a temporary directory beside it and renamed into place at the
     * end, so that a crash or an error never leaves a half-made home behind. An existing
     * empty directory (a mount point, say) is filled in place. */
    bool in_place = false;
    char herr[CLI_HOME_ERR_MAX];
    if (cli_home_build_dir(home, "init", build, sizeof(build), &in_place, herr, sizeof(herr)) !=
        0) {
        fail("%s", herr);
        goto out;
    }
    building = !in_place;
    struct ed25519_pubkey node_pub, val_pub;
    if (cli_home_make_dirs(build, herr, sizeof(herr)) != 0 ||
        cli_home_write_conf(build, c, herr, sizeof(herr)) != 0 ||
        cli_home_write_keys(build, &node_pub, &val_pub, herr, sizeof(herr)) != 0) {
        fail("%s", herr);
        goto out;
    }

    g.n_validators = 1;
    g.validators = calloc(1, sizeof(*g.validators));
    g.app_state = strdup("{\"accounts\": []}");
    if (!g.validators || !g.app_state) {
        fail("out of memory");
        goto out;
    }
    memcpy(g.validators[0].pub_key, val_pub.bytes, GENESIS_PUBKEY_SIZE);
    genesis_address_of(val_pub.bytes, g.validators[0].address);
    g.validators[0].power = 10;
    snprintf(g.validators[0].name, GENESIS_NAME_MAX, "%.128s", c->moniker);
    if ((rc = cli_home_write_genesis(build, &g, herr, sizeof(herr))) != 0) {
        fail("%s", herr);
        ret = rc == PX_ECONFIG ? 2 : 1;
        goto out;
    }

    if (building) {
        if (cli_home_commit(build, home, herr, sizeof(herr)) != 0) {
            fail("%s", herr);
            goto out;
        }
        building = false;
    }

    char node_id[KEYFILE_NODE_ID_LEN];
    char val_addr[PX_HEX_LEN(GENESIS_ADDRESS_SIZE)];
    keyfile_node_id(&node_pub, node_id);
    px_hex_encode(val_addr, sizeof(val_addr), g.validators[0].address, GENESIS_ADDRESS_SIZE, true);
    printf("initialized %s\n  chain id:          %s\n  moniker:           %s\n"
           "  node id:           %s\n  validator address: %s\n",
           home, g.chain_id, c->moniker, node_id, val_addr);
    ret = 0;
out:
    if (building)
        cli_home_remove_tree(build);
    genesis_fini(&g);
    free(c);
    return ret;
}
