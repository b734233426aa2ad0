/*
 * phalanx testnet: make the homes of a local network of N validators on 127.0.0.1
 * (DIR/node0 .. DIR/node<N-1>), each with its own keys, signer state and node.conf (ports
 * base + 10*i + {0 p2p, 1 rpc, 2 app, 4 metrics}, every other node as a persistent peer,
 * short consensus timeouts), one shared genesis.json with all N validators, and funded
 * "faucet" accounts for kvledger whose keys are saved in DIR/faucet/.
 *
 * Never overwrites anything: a DIR that exists and is not empty is refused, and the whole
 * network is built beside DIR and renamed into place, so an error or a crash never leaves
 * half a testnet behind. Never starts a process (tools/up does that).
 */
#include "commands.h"

#include "cli_home.h"
#include "config.h"
#include "ed25519.h"
#include "fileio.h"
#include "genesis.h"
#include "keyfile.h"
#include "kvl_genesis.h"
#include "px_clock.h"
#include "px_encoding.h"
#include "px_error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TESTNET_MAX_VALIDATORS (CONFIG_PEERS_MAX + 1) /* every other node is a peer */
#define TESTNET_MAX_FAUCETS 1000
#define TESTNET_DEFAULT_BASE_PORT 26600
#define TESTNET_DEFAULT_FAUCETS 4
#define TESTNET_FAUCET_BALANCE "1000000000000"
#define TESTNET_POWER 10
#define TESTNET_APP_STATE_MAX (64u * 1024 * 1024)

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: phalanx testnet --validators N --out DIR [--chain-id ID] [--base-port P]\n"
        "                       [--app-state FILE] [--faucets K]\n"
        "\n"
        "Creates the homes of a local network of N validators on 127.0.0.1: DIR/node0 ..\n"
        "DIR/node<N-1>, each with a node key, a validator key, signer state and a node.conf\n"
        "whose persistent peers are all the other nodes, and one genesis.json with the N\n"
        "validators (power %d each). Node i uses the ports P+10*i (p2p), P+10*i+1 (rpc),\n"
        "P+10*i+2 (its app, e.g. kvledger) and P+10*i+4 (Prometheus metrics).\n"
        "Refuses a DIR that exists and is not empty.\n"
        "  --validators N   number of validators, 1..%d\n"
        "  --out DIR        where to create the network\n"
        "  --chain-id ID    chain id (default: phalanx-testnet)\n"
        "  --base-port P    first port (default: %d)\n"
        "  --app-state FILE the genesis app_state (JSON) instead of the faucet accounts;\n"
        "                   checked as kvledger reads it (apps/kvledger/TXFORMAT.md §3)\n"
        "  --faucets K      faucet accounts funded with %s tokens each in the app_state\n"
        "                   for kvledger, keys in DIR/faucet/key<k>.json (default: %d; 0..%d)\n",
        TESTNET_POWER, TESTNET_MAX_VALIDATORS, TESTNET_DEFAULT_BASE_PORT, TESTNET_FAUCET_BALANCE,
        TESTNET_DEFAULT_FAUCETS, TESTNET_MAX_FAUCETS);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "phalanx testnet: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "phalanx testnet: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return 2;
}

/* A decimal integer in [lo, hi], the whole string. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    if (!s || s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static void port_addr(char *out, size_t cap, unsigned port)
{
    snprintf(out, cap, "tcp://127.0.0.1:%u", port);
}

/* node.conf of node i: defaults, then what a local network needs. */
static void node_config(struct config *c, size_t i, size_t n, unsigned base,
                        char (*node_ids)[KEYFILE_NODE_ID_LEN])
{
    unsigned p = base + 10u * (unsigned)i;
    config_defaults(c);
    snprintf(c->moniker, sizeof(c->moniker), "node%zu", i);
    port_addr(c->p2p.listen_addr, sizeof(c->p2p.listen_addr), p);
    port_addr(c->rpc.listen_addr, sizeof(c->rpc.listen_addr), p + 1);
    port_addr(c->abci.address, sizeof(c->abci.address), p + 2);
    c->instrumentation.prometheus = true;
    port_addr(c->instrumentation.prometheus_listen_addr,
              sizeof(c->instrumentation.prometheus_listen_addr), p + 4);
    c->p2p.n_persistent_peers = 0;
    for (size_t j = 0; j < n; j++) {
        if (j == i)
            continue;
        struct config_peer *peer = &c->p2p.persistent_peers[c->p2p.n_persistent_peers++];
        snprintf(peer->id, sizeof(peer->id), "%s", node_ids[j]);
        snprintf(peer->host, sizeof(peer->host), "127.0.0.1");
        peer->port = (uint16_t)(base + 10u * (unsigned)j);
    }
    /* every other node is dialled (outbound) and dials us (inbound) */
    if (c->p2p.max_outbound_peers < n - 1)
        c->p2p.max_outbound_peers = (uint32_t)(n - 1);
    if (c->p2p.max_inbound_peers < n - 1)
        c->p2p.max_inbound_peers = (uint32_t)(n - 1);
    /* Loopback: messages take microseconds, so rounds can be short. */
    c->consensus.timeout_propose_ms = 1000;
    c->consensus.timeout_propose_delta_ms = 500;
    c->consensus.timeout_prevote_ms = 500;
    c->consensus.timeout_prevote_delta_ms = 500;
    c->consensus.timeout_precommit_ms = 500;
    c->consensus.timeout_precommit_delta_ms = 500;
    c->consensus.timeout_commit_ms = 300;
}

/* {"accounts":[{"pub_key":"B64","balance":"..."},...]} for kvledger (TXFORMAT.md §3). */
static int faucet_app_state(const struct ed25519_pubkey *pubs, size_t k, char **out)
{
    size_t per = PX_BASE64_LEN(ED25519_PUBKEY_SIZE) + sizeof(TESTNET_FAUCET_BALANCE) + 64;
    size_t cap = 32 + k * per;
    char *s = malloc(cap);
    if (!s)
        return PX_ENOMEM;
    size_t len = (size_t)snprintf(s, cap, "{\"accounts\": [");
    for (size_t i = 0; i < k; i++) {
        char b64[PX_BASE64_LEN(ED25519_PUBKEY_SIZE)];
        px_base64_encode(b64, sizeof(b64), pubs[i].bytes, ED25519_PUBKEY_SIZE);
        len += (size_t)snprintf(s + len, cap - len, "%s{\"pub_key\": \"%s\", \"balance\": \"%s\"}",
                                i ? ", " : "", b64, TESTNET_FAUCET_BALANCE);
    }
    snprintf(s + len, cap - len, "]}");
    *out = s;
    return 0;
}

struct opts {
    size_t n;
    const char *out;
    const char *chain_id;
    unsigned base;
    const char *app_state_file;
    size_t faucets;
};

static int parse(int argc, char **argv, struct opts *o, bool *help)
{
    unsigned long v;
    bool have_n = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            return 0;
        }
        if (!val)
            return bad_usage("unknown or incomplete option '%s'", a);
        i++;
        if (strcmp(a, "--validators") == 0) {
            if (!parse_uint(val, 1, TESTNET_MAX_VALIDATORS, &v))
                return bad_usage("--validators: expected a number from 1 to %d, got '%s'",
                                 TESTNET_MAX_VALIDATORS, val);
            o->n = v;
            have_n = true;
        } else if (strcmp(a, "--out") == 0) {
            o->out = val;
        } else if (strcmp(a, "--chain-id") == 0) {
            o->chain_id = val;
        } else if (strcmp(a, "--base-port") == 0) {
            if (!parse_uint(val, 1024, 65535, &v))
                return bad_usage("--base-port: expected a port from 1024 to 65535, got '%s'", val);
            o->base = (unsigned)v;
        } else if (strcmp(a, "--app-state") == 0) {
            o->app_state_file = val;
        } else if (strcmp(a, "--faucets") == 0) {
            if (!parse_uint(val, 0, TESTNET_MAX_FAUCETS, &v))
                return bad_usage("--faucets: expected a number from 0 to %d, got '%s'",
                                 TESTNET_MAX_FAUCETS, val);
            o->faucets = v;
        } else {
            return bad_usage("unknown option '%s'", a);
        }
    }
    if (!have_n)
        return bad_usage("--validators N is required");
    if (!o->out || !o->out[0])
        return bad_usage("--out DIR is required");
    if (strlen(o->out) > CLI_HOME_PATH_MAX - 64)
        return bad_usage("--out is too long");
    if (strlen(o->chain_id) > GENESIS_CHAIN_ID_MAX)
        return bad_usage("--chain-id: at most %d bytes", GENESIS_CHAIN_ID_MAX);
    unsigned top = o->base + 10u * (unsigned)(o->n - 1) + 4;
    if (top > 65535)
        return bad_usage("--base-port %u leaves no room for %zu nodes (the last would use port "
                         "%u); choose a base of at most %u",
                         o->base, o->n, top, 65535 - 10u * (unsigned)(o->n - 1) - 4);
    if (o->app_state_file)
        o->faucets = 0;
    return 0;
}

int cmd_testnet(int argc, char **argv)
{
    struct opts o = {.chain_id = "phalanx-testnet",
                     .base = TESTNET_DEFAULT_BASE_PORT,
                     .faucets = TESTNET_DEFAULT_FAUCETS};
    bool help = false;
    int rc = parse(argc, argv, &o, &help);
    if (help) {
        usage(stdout);
        return 0;
    }
    if (rc != 0)
        return rc;

    int ret = 1;
    char err[CLI_HOME_ERR_MAX];
    char out[CLI_HOME_PATH_MAX];
    char build[CLI_HOME_PATH_MAX + 32] = "";
    char path[CLI_HOME_PATH_MAX + 128];
    bool building = false;
    struct genesis g;
    memset(&g, 0, sizeof(g));
    struct config *c = malloc(sizeof(*c));
    char(*node_ids)[KEYFILE_NODE_ID_LEN] = calloc(o.n, sizeof(*node_ids));
    struct ed25519_pubkey *faucet_pubs = calloc(o.faucets ? o.faucets : 1, sizeof(*faucet_pubs));
    g.validators = calloc(o.n, sizeof(*g.validators));
    if (!c || !node_ids || !faucet_pubs || !g.validators) {
        fail("out of memory");
        goto out;
    }
    g.n_validators = o.n;

    /* "dir/" and "dir" are the same network */
    snprintf(out, sizeof(out), "%s", o.out);
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
        out[n - 1] = '\0';

    /* Everything the user gave is checked before anything is created. */
    snprintf(g.chain_id, sizeof(g.chain_id), "%s", o.chain_id);
    g.genesis_time_ns = px_clock_wall_ns(px_clock_system());
    g.initial_height = 1;
    genesis_default_params(&g.params);
    for (size_t i = 0; i < o.n; i++) { /* stand-ins until the keys exist */
        g.validators[i].pub_key[0] = (uint8_t)i;
        genesis_address_of(g.validators[i].pub_key, g.validators[i].address);
        g.validators[i].power = TESTNET_POWER;
        snprintf(g.validators[i].name, GENESIS_NAME_MAX, "node%zu", i);
    }
    char gerr[GENESIS_ERR_MAX];
    if (genesis_validate(&g, gerr, sizeof(gerr)) != 0) {
        const char *why = strncmp(gerr, "genesis: ", 9) == 0 ? gerr + 9 : gerr;
        ret = bad_usage("bad --chain-id: %s", why);
        goto out;
    }
    if (kvl_genesis_check_chain_id(g.chain_id, gerr, sizeof(gerr)) != 0) {
        ret = bad_usage("bad --chain-id for kvledger: %s", gerr);
        goto out;
    }
    if (o.app_state_file) {
        size_t len;
        rc = fileio_read_all(o.app_state_file, TESTNET_APP_STATE_MAX, &g.app_state, &len);
        if (rc != 0) {
            fail("cannot read --app-state %s: %s", o.app_state_file, px_strerror(rc));
            goto out;
        }
        /* kvledger's own parser: what it would refuse at InitChain is refused here */
        struct kvl_genesis_account *accts = NULL;
        size_t n_accts = 0;
        char kerr[512];
        rc = kvl_genesis_parse((const uint8_t *)g.app_state, len, &accts, &n_accts, kerr,
                               sizeof(kerr));
        free(accts);
        if (rc == PX_ENOMEM) {
            fail("out of memory");
            goto out;
        } else if (rc != 0) {
            ret = bad_usage("--app-state %s is not an app_state kvledger accepts "
                            "(apps/kvledger/TXFORMAT.md §3): %s",
                            o.app_state_file, kerr);
            goto out;
        }
        char *text = NULL;
        rc = genesis_format(&g, &text);
        free(text);
        if (rc == PX_EINVAL) {
            ret = bad_usage("--app-state %s is not valid JSON", o.app_state_file);
            goto out;
        } else if (rc != 0) {
            fail("%s", px_strerror(rc));
            goto out;
        }
    }
    rc = cli_home_check_empty(out);
    if (rc == PX_EEXIST) {
        fail("%s exists and is not empty; refusing to overwrite it. Choose another --out, or "
             "remove the old network first.",
             out);
        goto out;
    } else if (rc != 0) {
        fail("cannot read %s: %s", out, px_strerror(rc));
        goto out;
    }

    bool in_place = false;
    if (cli_home_build_dir(out, "testnet", build, sizeof(build), &in_place, err, sizeof(err)) !=
        0) {
        fail("%s", err);
        goto out;
    }
    building = !in_place;

    /* Keys first: every node.conf names the other nodes' ids. */
    for (size_t i = 0; i < o.n; i++) {
        struct ed25519_pubkey node_pub, val_pub;
        snprintf(path, sizeof(path), "%s/node%zu", build, i);
        if (cli_home_make_dirs(path, err, sizeof(err)) != 0 ||
            cli_home_write_keys(path, &node_pub, &val_pub, err, sizeof(err)) != 0) {
            fail("%s", err);
            goto out;
        }
        keyfile_node_id(&node_pub, node_ids[i]);
        memcpy(g.validators[i].pub_key, val_pub.bytes, GENESIS_PUBKEY_SIZE);
        genesis_address_of(val_pub.bytes, g.validators[i].address);
    }
    if (o.faucets) {
        snprintf(path, sizeof(path), "%s/faucet", build);
        if ((rc = fileio_mkdir(path, 0700)) != 0) {
            fail("cannot create %s: %s", path, px_strerror(rc));
            goto out;
        }
        for (size_t k = 0; k < o.faucets; k++) {
            snprintf(path, sizeof(path), "%s/faucet/key%zu.json", build, k);
            if (cli_home_write_new_key(path, KEYFILE_VALIDATOR, &faucet_pubs[k], err,
                                       sizeof(err)) != 0) {
                fail("%s", err);
                goto out;
            }
        }
    }
    if (!g.app_state && faucet_app_state(faucet_pubs, o.faucets, &g.app_state) != 0) {
        fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < o.n; i++) {
        snprintf(path, sizeof(path), "%s/node%zu", build, i);
        node_config(c, i, o.n, o.base, node_ids);
        if (cli_home_write_conf(path, c, err, sizeof(err)) != 0 ||
            cli_home_write_genesis(path, &g, err, sizeof(err)) != 0) {
            fail("%s", err);
            goto out;
        }
    }
    if (building) {
        if (cli_home_commit(build, out, err, sizeof(err)) != 0) {
            fail("%s", err);
            goto out;
        }
        building = false;
    }

    printf("created a %zu-validator testnet in %s\n  chain id: %s\n", o.n, out, g.chain_id);
    printf("  %-6s %-40s %6s %6s %6s %8s\n", "node", "node id", "p2p", "rpc", "app", "metrics");
    for (size_t i = 0; i < o.n; i++) {
        unsigned p = o.base + 10u * (unsigned)i;
        printf("  node%-2zu %-40s %6u %6u %6u %8u\n", i, node_ids[i], p, p + 1, p + 2, p + 4);
    }
    if (o.faucets)
        printf("  faucet keys: %s/faucet/key0.json .. key%zu.json (%s tokens each)\n", out,
               o.faucets - 1, TESTNET_FAUCET_BALANCE);
    else
        printf("  app_state: from %s\n", o.app_state_file ? o.app_state_file : "(no accounts)");
    printf("start node i with:\n  kvledger --listen tcp://127.0.0.1:%u --home %s/node<i>/app\n"
           "  phalanxd --home %s/node<i>\n(node i's app port is %u + 10*i)\n",
           o.base + 2, out, out, o.base + 2);
    ret = 0;
out:
    if (building)
        cli_home_remove_tree(build);
    genesis_fini(&g);
    free(faucet_pubs);
    free(node_ids);
    free(c);
    return ret;
}
