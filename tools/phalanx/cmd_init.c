/*
 * phalanx init: create a node's home directory: config/node.conf (every option at its
 * default), config/node_key.json and config/priv_validator_key.json (fresh Ed25519 keys,
 * mode 0600), config/genesis.json (a single-validator chain with this validator) and
 * data/priv_validator_state.json (nothing signed yet). Never overwrites anything: a home
 * that exists and is not empty is refused; a new home appears whole or not at all.
 */
#include "commands.h"

#include "config.h"
#include "ed25519.h"
#include "fileio.h"
#include "genesis.h"
#include "keyfile.h"
#include "privval.h"
#include "px_clock.h"
#include "px_encoding.h"
#include "px_error.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* 0 if dir does not exist or is an empty directory. */
static int check_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return errno == ENOTDIR ? PX_EEXIST : px_err_from_errno(errno);
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            rc = PX_EEXIST;
            break;
        }
    closedir(d);
    return rc;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove a half-built home (only the temporary directory this run created). */
static void remove_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_key(const char *path, enum keyfile_kind kind, struct ed25519_pubkey *pub_out)
{
    struct ed25519_privkey priv;
    struct ed25519_pubkey pub;
    if (ed25519_generate(&priv, &pub) != 0)
        return fail("cannot generate a key (libsodium failed to initialise)");
    char err[KEYFILE_ERR_MAX] = "";
    int rc = keyfile_write(path, kind, &priv, err, sizeof(err));
    ed25519_privkey_wipe(&priv);
    if (rc != 0)
        return fail("%s", err[0] ? err : px_strerror(rc));
    *pub_out = pub;
    return 0;
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

    rc = check_empty(home);
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
    struct stat st;
    bool in_place = stat(home, &st) == 0;
    if (in_place) {
        snprintf(build, sizeof(build), "%s", home);
    } else {
        snprintf(build, sizeof(build), "%s.init-XXXXXX", home);
        if (!mkdtemp(build)) {
            fail("cannot create a directory beside %s: %s", home, strerror(errno));
            goto out;
        }
        building = true;
    }
    char config_dir[3200], data_dir[3200], path[3300];
    snprintf(config_dir, sizeof(config_dir), "%s/config", build);
    snprintf(data_dir, sizeof(data_dir), "%s/data", build);
    if ((rc = fileio_mkdir(build, 0700)) != 0 || (rc = fileio_mkdir(config_dir, 0700)) != 0 ||
        (rc = fileio_mkdir(data_dir, 0700)) != 0) {
        fail("cannot create the directories of %s: %s", home, px_strerror(rc));
        goto out;
    }

    char *text;
    if (config_format(c, &text) != 0) {
        fail("out of memory");
        goto out;
    }
    snprintf(path, sizeof(path), "%s/node.conf", config_dir);
    rc = fileio_write_atomic(path, text, strlen(text), 0644, FILEIO_NOREPLACE);
    free(text);
    if (rc != 0) {
        fail("cannot write %s: %s", path, px_strerror(rc));
        goto out;
    }

    struct ed25519_pubkey node_pub, val_pub;
    snprintf(path, sizeof(path), "%s/node_key.json", config_dir);
    if (write_key(path, KEYFILE_NODE, &node_pub) != 0)
        goto out;
    snprintf(path, sizeof(path), "%s/priv_validator_key.json", config_dir);
    if (write_key(path, KEYFILE_VALIDATOR, &val_pub) != 0)
        goto out;

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
    snprintf(path, sizeof(path), "%s/genesis.json", config_dir);
    if ((rc = genesis_write(path, &g, err, sizeof(err))) != 0) {
        fail("%s", err);
        ret = rc == PX_ECONFIG ? 2 : 1;
        goto out;
    }

    snprintf(path, sizeof(path), "%s/priv_validator_state.json", data_dir);
    if ((rc = privval_state_create(path)) != 0) {
        fail("cannot write %s: %s", path, px_strerror(rc));
        goto out;
    }

    if (building) {
        int dfd = open(build, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bool synced = dfd >= 0 && fsync(dfd) == 0;
        if (dfd >= 0)
            close(dfd);
        if (!synced || rename(build, home) != 0) {
            fail("cannot move the new home into place at %s: %s", home,
                 synced ? strerror(errno) : "fsync failed");
            goto out;
        }
        building = false;
        if ((rc = fileio_fsync_parent(home)) != 0) {
            fail("cannot sync the directory that holds %s: %s", home, px_strerror(rc));
            goto out;
        }
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
        remove_tree(build);
    genesis_fini(&g);
    free(c);
    return ret;
}
