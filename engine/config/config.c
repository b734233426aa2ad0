/*
 * config: node.conf loading, checking and formatting (see config.h).
 *
 * One table, `opts`, lists every option: where it lives in struct config, its type, its
 * range or syntax, its default and its meaning. Defaults, loading, checking, comparing and
 * the annotated file are all driven by that table, so they cannot disagree. This file never
 * touches global state (log levels, the environment) and never accepts an option it does
 * not know.
 */
#include "config.h"

#include "fileio.h"
#include "px_error.h"
#include "px_log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

enum opt_type { T_STR, T_U32, T_U64, T_BOOL, T_LIST, T_PEERS };

/* Syntax checks for strings (and for the elements of lists). */
enum str_check {
    S_MONIKER,
    S_TCP,          /* tcp://HOST:PORT */
    S_TCP_OR_EMPTY, /* "" or tcp://HOST:PORT */
    S_ABCI,         /* tcp://HOST:PORT or ipc://PATH */
    S_PATH,
    S_LOGSPEC,
    S_LOGFORMAT,
    S_IDENT,
    S_HASH_OR_EMPTY,
    S_CORS,
    S_PEER,
};

struct opt {
    const char *section; /* NULL: top level */
    const char *name;
    enum opt_type type;
    size_t off;
    uint64_t min, max;    /* T_U32, T_U64 */
    enum str_check check; /* T_STR, T_LIST elements */
    const char *def_str;  /* T_STR */
    uint64_t def_num;     /* T_U32, T_U64, T_BOOL */
    const char *doc;
};

#define OFF(f) offsetof(struct config, f)
#define STR(sec, n, f, chk, def, doc)                                                              \
    {                                                                                              \
        sec, n, T_STR, OFF(f), 0, 0, chk, def, 0, doc                                              \
    }
#define U32(sec, n, f, lo, hi, def, doc)                                                           \
    {                                                                                              \
        sec, n, T_U32, OFF(f), lo, hi, 0, NULL, def, doc                                           \
    }
#define U64(sec, n, f, lo, hi, def, doc)                                                           \
    {                                                                                              \
        sec, n, T_U64, OFF(f), lo, hi, 0, NULL, def, doc                                           \
    }
#define BOOL(sec, n, f, def, doc)                                                                  \
    {                                                                                              \
        sec, n, T_BOOL, OFF(f), 0, 1, 0, NULL, def, doc                                            \
    }
#define LIST(sec, n, f, chk, doc)                                                                  \
    {                                                                                              \
        sec, n, T_LIST, OFF(f), 0, 0, chk, NULL, 0, doc                                            \
    }

#define DAY_MS (24ull * 3600 * 1000)

static const struct opt opts[] = {
    STR(NULL, "moniker", moniker, S_MONIKER, "phalanx-node",
        "A name for this node, shown to peers and in the RPC status (1 to 128 bytes,\n"
        "no control characters). `phalanx init` sets it to --moniker."),

    STR("p2p", "listen_addr", p2p.listen_addr, S_TCP, "tcp://0.0.0.0:26656",
        "Address to listen on for connections from other engines."),
    STR("p2p", "external_addr", p2p.external_addr, S_TCP_OR_EMPTY, "",
        "Address advertised to peers; \"\" means listen_addr."),
    {"p2p", "persistent_peers", T_PEERS, OFF(p2p.n_persistent_peers), 0, 0, S_PEER, NULL, 0,
     "Peers to keep connected to, redialled with backoff: a list of\n"
     "\"NODE_ID@HOST:PORT\" (NODE_ID: 40 hex characters, the address of the peer's\n"
     "node key, which `phalanx init` prints). At most 64."},
    U32("p2p", "max_inbound_peers", p2p.max_inbound_peers, 0, 1000, 40,
        "Most authenticated peers that dialled us. Connections still in the handshake\n"
        "do not count (see max_inbound_handshakes); persistent_peers are admitted even\n"
        "beyond this limit."),
    U32("p2p", "max_outbound_peers", p2p.max_outbound_peers, 0, 1000, 10,
        "Most connections we dial ourselves (persistent peers included)."),
    U32("p2p", "max_inbound_peers_per_ip", p2p.max_inbound_peers_per_ip, 1, 1000, 4,
        "Most authenticated peers that dialled us from one IP address (an IPv6 address\n"
        "counts by its /64), so that one host cannot take every inbound slot with\n"
        "made-up node ids. persistent_peers are exempt: a local testnet, whose nodes\n"
        "all share 127.0.0.1 and list each other (`phalanx testnet` does), is not\n"
        "limited. Raise it for several non-persistent nodes behind one address."),
    U32("p2p", "max_inbound_handshakes", p2p.max_inbound_handshakes, 1, 1024, 16,
        "Most inbound connections still in the handshake (not yet authenticated). When\n"
        "it is full, a new connection evicts the one that has shown least: from the\n"
        "address holding most of these slots, the least advanced, the oldest. A flood\n"
        "of connections that never finish cannot lock honest peers out."),
    U32("p2p", "max_inbound_handshakes_per_ip", p2p.max_inbound_handshakes_per_ip, 1, 1024, 8,
        "Most inbound connections in the handshake from one IP address; beyond, a new\n"
        "one from that address evicts its own least advanced, oldest one."),
    U32("p2p", "handshake_timeout_ms", p2p.handshake_timeout_ms, 100, 600000, 5000,
        "Time allowed for the authenticated key exchange of a new connection (two\n"
        "round trips; a connection slower than this is dropped)."),
    U32("p2p", "dial_timeout_ms", p2p.dial_timeout_ms, 100, 600000, 3000,
        "Time allowed for a TCP connection to a peer to open. NOT APPLIED YET: the dial\n"
        "waits for the system's TCP connect timeout."),
    U64("p2p", "send_rate_bytes_per_s", p2p.send_rate_bytes_per_s, 1024, 1ull << 34, 5120000,
        "Most bytes per second sent to one peer. NOT APPLIED YET: no send rate limit."),
    U64("p2p", "recv_rate_bytes_per_s", p2p.recv_rate_bytes_per_s, 1024, 1ull << 34, 5120000,
        "Most bytes per second received from one peer. NOT APPLIED YET: no receive rate\n"
        "limit (BlockRequests are rate-limited: block_requests_per_s)."),
    U32("p2p", "max_frame_bytes", p2p.max_frame_bytes, 1024, 64u << 20, 1048576,
        "Largest frame a peer may send. NOT APPLIED YET: frames carry at most 64 KiB of\n"
        "data (P2P_CHUNK_BYTES) and messages are bounded per channel."),
    U64("p2p", "ban_duration_ms", p2p.ban_duration_ms, 0, 30 * DAY_MS, 600000,
        "How long a misbehaving peer is refused after being disconnected."),
    U32("p2p", "refused_log_interval_ms", p2p.refused_log_interval_ms, 0, 3600000, 10000,
        "Lines about connections that never became peers (refused, dropped or banned\n"
        "before or at the handshake): at most one per reason per this interval, then\n"
        "one summary line with the count. 0: a line for every one."),
    U32("p2p", "block_requests_per_s", p2p.block_requests_per_s, 1, 1000000, 200,
        "Most BlockRequests of one peer answered per second (each loads a block and\n"
        "its commit); the excess is not answered."),
    U32("p2p", "block_request_burst", p2p.block_request_burst, 1, 1000000, 400,
        "BlockRequests of one peer answered at once beyond the rate; a peer that sends\n"
        "this many unanswerable ones before its allowance fills up again is banned."),
    BOOL("p2p", "pex", p2p.pex, 0,
         "Peer exchange (learning peers from peers). NOT IMPLEMENTED YET: whatever this\n"
         "says, only persistent peers and peers that dial us are used."),

    STR("rpc", "listen_addr", rpc.listen_addr, S_TCP_OR_EMPTY, "tcp://127.0.0.1:26657",
        "Address of the JSON-RPC server; \"\" turns it off. Keep it on 127.0.0.1 unless\n"
        "a proxy in front of it limits who can call it."),
    LIST("rpc", "cors_allowed_origins", rpc.cors_allowed_origins, S_CORS,
         "Origins allowed to call from a browser: \"*\" or \"http(s)://...\". At most 16."),
    U32("rpc", "max_body_bytes", rpc.max_body_bytes, 1024, 256u << 20, 1000000,
        "Largest request body (chunked bodies too); a larger request is answered with\n"
        "HTTP 413 and a JSON-RPC error."),
    U32("rpc", "max_header_bytes", rpc.max_header_bytes, 1024, 16u << 20, 65536,
        "Largest request line plus headers; larger is answered with HTTP 431. Each\n"
        "connection reserves about twice this; send large transactions by POST."),
    U32("rpc", "max_open_connections", rpc.max_open_connections, 1, 100000, 900,
        "Most simultaneous connections (HTTP and websocket); beyond it new connections\n"
        "are refused."),
    U32("rpc", "max_connections_per_ip", rpc.max_connections_per_ip, 0, 100000, 100,
        "Most simultaneous connections from one client address (0: no limit per\n"
        "address). A proxy in front of the node counts as one address."),
    U32("rpc", "max_subscription_clients", rpc.max_subscription_clients, 0, 100000, 100,
        "Most websocket clients with subscriptions."),
    U32("rpc", "max_subscriptions_per_client", rpc.max_subscriptions_per_client, 0, 1000, 5,
        "Most event subscriptions of one websocket client."),
    BOOL("rpc", "unsafe", rpc.unsafe, 0,
         "Enable the unsafe methods (dial_peers, unsafe_flush_mempool)."),
    U32("rpc", "read_timeout_ms", rpc.read_timeout_ms, 100, 3600000, 10000,
        "Time allowed to read a whole request, counted from the connection (or from the\n"
        "previous response on a keep-alive connection); then the connection is closed."),
    U32("rpc", "write_timeout_ms", rpc.write_timeout_ms, 100, 3600000, 10000,
        "Time allowed to write a whole response, or one websocket frame; then the\n"
        "connection is closed."),
    U32("rpc", "timeout_broadcast_tx_commit_ms", rpc.timeout_broadcast_tx_commit_ms, 100, 3600000,
        10000, "How long broadcast_tx_commit waits for the transaction to commit."),

    STR("consensus", "wal_file", consensus.wal_file, S_PATH, "data/cs.wal",
        "The consensus write-ahead log (relative to the home directory unless absolute)."),
    U32("consensus", "wal_max_record_bytes", consensus.wal_max_record_bytes, 1024, 256u << 20,
        16777216, "Largest record of the write-ahead log."),
    U32("consensus", "timeout_propose_ms", consensus.timeout_propose_ms, 1, 3600000, 3000,
        "How long to wait for a proposal in round 0 before prevoting nil."),
    U32("consensus", "timeout_propose_delta_ms", consensus.timeout_propose_delta_ms, 0, 3600000,
        500, "Added to timeout_propose_ms for each further round."),
    U32("consensus", "timeout_prevote_ms", consensus.timeout_prevote_ms, 1, 3600000, 1000,
        "How long to wait, after +2/3 prevotes for anything, for a +2/3 majority."),
    U32("consensus", "timeout_prevote_delta_ms", consensus.timeout_prevote_delta_ms, 0, 3600000,
        500, "Added to timeout_prevote_ms for each further round."),
    U32("consensus", "timeout_precommit_ms", consensus.timeout_precommit_ms, 1, 3600000, 1000,
        "How long to wait, after +2/3 precommits for anything, for a +2/3 majority."),
    U32("consensus", "timeout_precommit_delta_ms", consensus.timeout_precommit_delta_ms, 0, 3600000,
        500, "Added to timeout_precommit_ms for each further round."),
    U32("consensus", "timeout_commit_ms", consensus.timeout_commit_ms, 0, 3600000, 1000,
        "How long to gather late precommits after a commit before starting the next height."),
    BOOL("consensus", "create_empty_blocks", consensus.create_empty_blocks, 1,
         "Propose blocks without transactions. Off: wait for a transaction (or for\n"
         "create_empty_blocks_interval_ms)."),
    U32("consensus", "create_empty_blocks_interval_ms", consensus.create_empty_blocks_interval_ms,
        0, 86400000, 0, "With create_empty_blocks on, the least time between empty blocks."),
    U32("consensus", "double_sign_check_height", consensus.double_sign_check_height, 0, 1000000, 0,
        "At start, look this many recent heights back for our own signature and refuse\n"
        "to start if one is found (another instance of this validator may be running).\n"
        "0: no check."),

    U32("mempool", "max_txs", mempool.max_txs, 1, 10000000, 5000,
        "Most transactions held in the mempool."),
    U64("mempool", "max_txs_bytes", mempool.max_txs_bytes, 1024, 1ull << 40, 1073741824,
        "Most bytes of transactions held in the mempool."),
    U32("mempool", "max_tx_bytes", mempool.max_tx_bytes, 1, 256u << 20, 1048576,
        "Largest transaction accepted (at most max_txs_bytes)."),
    U32("mempool", "cache_size_txs", mempool.cache_size_txs, 0, 10000000, 10000,
        "Hashes of recently seen transactions kept to drop duplicates quickly."),
    BOOL("mempool", "recheck", mempool.recheck, 1,
         "After each block, check the remaining transactions with the app again."),
    BOOL("mempool", "broadcast", mempool.broadcast, 1,
         "Gossip transactions to peers. Off: keep them to ourselves."),

    STR("abci", "address", abci.address, S_ABCI, "tcp://127.0.0.1:26658",
        "Where the application listens: tcp://HOST:PORT or ipc://PATH."),
    U32("abci", "connect_timeout_ms", abci.connect_timeout_ms, 100, 3600000, 10000,
        "How long to wait for the application to accept a connection at start-up."),
    U32("abci", "call_timeout_ms", abci.call_timeout_ms, 100, 86400000, 60000,
        "How long one call to the application may take before it counts as gone."),

    STR("storage", "db_dir", storage.db_dir, S_PATH, "data",
        "Directory of blockstore.db and state.db (relative to the home directory unless\n"
        "absolute)."),
    U64("storage", "retain_blocks", storage.retain_blocks, 0, UINT64_MAX >> 1, 0,
        "Keep only this many most recent blocks (older ones are pruned); 0 keeps all."),

    BOOL("instrumentation", "prometheus", instrumentation.prometheus, 0,
         "Serve Prometheus metrics at http://prometheus_listen_addr/metrics."),
    STR("instrumentation", "prometheus_listen_addr", instrumentation.prometheus_listen_addr, S_TCP,
        "tcp://127.0.0.1:26660", "Address of the metrics server."),
    STR("instrumentation", "namespace", instrumentation.namespace_, S_IDENT, "phalanx",
        "Prefix of every metric name ([A-Za-z_][A-Za-z0-9_]*)."),

    STR("log", "level", log.level, S_LOGSPEC, "info",
        "Log levels: a default level, then module=level pairs, e.g.\n"
        "\"info,consensus=debug,p2p=warn\". Levels: trace, debug, info, warn, error, off."),
    STR("log", "format", log.format, S_LOGFORMAT, "plain",
        "Line format. \"plain\": `TIME LEVEL MODULE MESSAGE key=value ...` (the only one)."),

    BOOL("blocksync", "enable", blocksync.enable, 1,
         "When behind, fetch committed blocks from peers before joining consensus."),

    BOOL("statesync", "enable", statesync.enable, 0,
         "Start from an application snapshot offered by peers instead of replaying every\n"
         "block. Needs rpc_servers, trust_height and trust_hash."),
    LIST("statesync", "rpc_servers", statesync.rpc_servers, S_TCP,
         "RPC servers (tcp://HOST:PORT, at least two) used to verify the snapshot's\n"
         "light-client headers."),
    U64("statesync", "trust_height", statesync.trust_height, 0, UINT64_MAX >> 1, 0,
        "Height of a header trusted by social consensus."),
    STR("statesync", "trust_hash", statesync.trust_hash, S_HASH_OR_EMPTY, "",
        "Hash (64 hex characters) of the header at trust_height."),
    U64("statesync", "trust_period_ms", statesync.trust_period_ms, 1, 365 * DAY_MS, 7 * DAY_MS,
        "How long a trusted header stays trusted."),
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const struct {
    const char *name;
    const char *doc;
} sections[] = {
    {"p2p", "Peer-to-peer networking with other engines."},
    {"rpc", "The JSON-RPC server (CometBFT's methods) and its websocket events."},
    {"consensus", "The consensus algorithm: timeouts grow by their delta each round."},
    {"mempool", "Transactions waiting for a block."},
    {"abci", "The connection to the application."},
    {"storage", "Block and state stores."},
    {"instrumentation", "Metrics."},
    {"log", "Logging (one line per event on standard error)."},
    {"blocksync", "Catching up by downloading blocks. NOT IMPLEMENTED YET: these options\n"
                  "are parsed and have no effect; a node behind catches up through consensus\n"
                  "gossip (one decided block per round trip)."},
    {"statesync", "Catching up from an application snapshot. NOT IMPLEMENTED YET: these\n"
                  "options are parsed and have no effect; a new node replays every block."},
};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

size_t config_option_count(void)
{
    return N_OPTS;
}

const char *config_option_name(size_t i)
{
    static char names[N_OPTS][64];
    if (i >= N_OPTS)
        return NULL;
    if (!names[i][0]) {
        if (opts[i].section)
            snprintf(names[i], sizeof(names[i]), "%s.%s", opts[i].section, opts[i].name);
        else
            snprintf(names[i], sizeof(names[i]), "%s", opts[i].name);
    }
    return names[i];
}

static void *field(struct config *c, const struct opt *o)
{
    return (char *)c + o->off;
}

static const void *cfield(const struct config *c, const struct opt *o)
{
    return (const char *)c + o->off;
}

static struct config_peer *peers_of(struct config *c)
{
    return c->p2p.persistent_peers;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        void *f = field(c, o);
        switch (o->type) {
        case T_STR:
            snprintf(f, CONFIG_STR_MAX, "%s", o->def_str);
            break;
        case T_U32:
            *(uint32_t *)f = (uint32_t)o->def_num;
            break;
        case T_U64:
            *(uint64_t *)f = o->def_num;
            break;
        case T_BOOL:
            *(bool *)f = o->def_num != 0;
            break;
        case T_LIST:
        case T_PEERS:
            break; /* empty */
        }
    }
}

int config_resolve_path(const char *home, const char *path, char *out, size_t cap)
{
    int n =
        path[0] == '/' ? snprintf(out, cap, "%s", path) : snprintf(out, cap, "%s/%s", home, path);
    return (n < 0 || (size_t)n >= cap) ? PX_ETOOBIG : 0;
}

/* ---- syntax checks ----------------------------------------------------------------- */

static bool is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool valid_hostname(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        char ch = h[i];
        if (ch == '.' || ch == '\0') {
            if (label == 0 || label > 63 || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)ch) || ch == '-'))
            return false;
        if (label == 0 && ch == '-')
            return false;
        label++;
    }
    return true;
}

/* Split "HOST:PORT" or "[V6]:PORT". */
static bool parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon;
    const char *hs = s;
    size_t hn;
    bool v6 = false;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        hs = s + 1;
        hn = (size_t)(close - hs);
        colon = close + 1;
        v6 = true;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        hn = (size_t)(colon - s);
    }
    if (hn == 0 || hn >= cap)
        return false;
    memcpy(host, hs, hn);
    host[hn] = '\0';
    const char *p = colon + 1;
    size_t pn = strlen(p);
    if (pn == 0 || pn > 5)
        return false;
    unsigned long v = 0;
    for (size_t i = 0; i < pn; i++) {
        if (!isdigit((unsigned char)p[i]))
            return false;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    unsigned char buf[16];
    if (v6)
        return inet_pton(AF_INET6, host, buf) == 1;
    if (inet_pton(AF_INET, host, buf) == 1)
        return true;
    /* all digits and dots but not a valid IPv4 address: a typo, not a name */
    if (strspn(host, "0123456789.") == strlen(host))
        return false;
    return valid_hostname(host);
}

static bool valid_tcp(const char *s)
{
    char host[CONFIG_HOST_MAX];
    uint16_t port;
    return strncmp(s, "tcp://", 6) == 0 && parse_hostport(s + 6, host, sizeof(host), &port);
}

static bool parse_peer(const char *s, struct config_peer *p)
{
    const char *at = strchr(s, '@');
    if (!at || at - s != 40)
        return false;
    char id[CONFIG_NODE_ID_LEN];
    memcpy(id, s, 40);
    id[40] = '\0';
    if (!is_hex(id, 40))
        return false;
    struct config_peer tmp;
    if (!parse_hostport(at + 1, tmp.host, sizeof(tmp.host), &tmp.port))
        return false;
    for (int i = 0; i < 40; i++)
        tmp.id[i] = (char)tolower((unsigned char)id[i]);
    tmp.id[40] = '\0';
    if (p)
        *p = tmp;
    return true;
}

static bool valid_logspec(const char *s)
{
    char buf[CONFIG_STR_MAX];
    snprintf(buf, sizeof(buf), "%s", s);
    size_t modules = 0;
    bool first = true;
    char *save = NULL;
    if (buf[0] == '\0')
        return false;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        enum px_log_level lvl;
        char *eq = strchr(tok, '=');
        if (!eq) {
            if (!first || px_log_level_parse(tok, &lvl) != 0)
                return false;
        } else {
            *eq = '\0';
            size_t n = strlen(tok);
            if (n == 0 || n >= PX_LOG_MODULE_NAME_MAX || px_log_level_parse(eq + 1, &lvl) != 0)
                return false;
            if (++modules > PX_LOG_MODULE_MAX)
                return false;
        }
        first = false;
    }
    /* strtok_r skips empty tokens: refuse ",," and a leading or trailing comma */
    return s[0] != ',' && s[strlen(s) - 1] != ',' && !strstr(s, ",,");
}

static bool valid_ident(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

static bool has_ctl_or_space(const char *s, bool allow_space)
{
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f || (!allow_space && ch == ' '))
            return true;
    }
    return false;
}

/* NULL if s is fine for chk, else what was expected. */
static const char *check_str(enum str_check chk, const char *s)
{
    switch (chk) {
    case S_MONIKER:
        return (s[0] && strlen(s) <= 128 && !has_ctl_or_space(s, true))
                   ? NULL
                   : "1 to 128 bytes without control characters";
    case S_TCP:
        return valid_tcp(s) ? NULL : "an address tcp://HOST:PORT (port 1-65535)";
    case S_TCP_OR_EMPTY:
        return (!s[0] || valid_tcp(s)) ? NULL : "\"\" or an address tcp://HOST:PORT";
    case S_ABCI:
        if (valid_tcp(s))
            return NULL;
        if (strncmp(s, "ipc://", 6) == 0 && s[6] && strlen(s + 6) < 108 &&
            !has_ctl_or_space(s + 6, false))
            return NULL;
        return "tcp://HOST:PORT or ipc://PATH (PATH at most 107 bytes)";
    case S_PATH:
        return (s[0] && !has_ctl_or_space(s, true)) ? NULL
                                                    : "a non-empty path without control characters";
    case S_LOGSPEC:
        return valid_logspec(s) ? NULL
                                : "a level (trace, debug, info, warn, error, off) optionally "
                                  "followed by ,module=level pairs";
    case S_LOGFORMAT:
        return strcmp(s, "plain") == 0 ? NULL : "\"plain\"";
    case S_IDENT:
        return valid_ident(s) ? NULL : "a name made of [A-Za-z_][A-Za-z0-9_]*";
    case S_HASH_OR_EMPTY:
        return (!s[0] || is_hex(s, 64)) ? NULL : "\"\" or 64 hex characters";
    case S_CORS:
        if (strcmp(s, "*") == 0)
            return NULL;
        if ((strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) &&
            !has_ctl_or_space(s, false) && strlen(s) > 8)
            return NULL;
        return "\"*\" or an origin http(s)://HOST[:PORT]";
    case S_PEER:
        return parse_peer(s, NULL) ? NULL : "NODE_ID@HOST:PORT with a 40-hex-character NODE_ID";
    }
    return "a valid value";
}

/* ---- checking ---------------------------------------------------------------------- */

struct failure {
    size_t opt;   /* index into opts */
    size_t index; /* element of a list, or SIZE_MAX */
    char msg[CONFIG_ERR_MAX];
};

static bool fail_at(struct failure *f, size_t opt, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool fail_at(struct failure *f, size_t opt, size_t index, const char *fmt, ...)
{
    f->opt = opt;
    f->index = index;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
    va_end(ap);
    return false;
}

/* Check one option's value in c. */
static bool check_opt(const struct config *c, size_t i, struct failure *f)
{
    const struct opt *o = &opts[i];
    const void *p = cfield(c, o);
    switch (o->type) {
    case T_STR: {
        const char *s = p;
        const char *want = check_str(o->check, s);
        if (want)
            return fail_at(f, i, SIZE_MAX, "expected %s, got \"%.100s\"", want, s);
        return true;
    }
    case T_U32:
    case T_U64: {
        uint64_t v = o->type == T_U32 ? *(const uint32_t *)p : *(const uint64_t *)p;
        if (v < o->min || v > o->max)
            return fail_at(f, i, SIZE_MAX,
                           "expected an integer from %" PRIu64 " to %" PRIu64 ", got %" PRIu64,
                           o->min, o->max, v);
        return true;
    }
    case T_BOOL:
        return true;
    case T_LIST: {
        const struct config_list *l = p;
        if (l->n > CONFIG_LIST_MAX)
            return fail_at(f, i, SIZE_MAX, "expected at most %d entries", CONFIG_LIST_MAX);
        for (size_t k = 0; k < l->n; k++) {
            const char *want = check_str(o->check, l->item[k]);
            if (want)
                return fail_at(f, i, k, "entry %zu: expected %s, got \"%.100s\"", k + 1, want,
                               l->item[k]);
        }
        return true;
    }
    case T_PEERS: {
        if (c->p2p.n_persistent_peers > CONFIG_PEERS_MAX)
            return fail_at(f, i, SIZE_MAX, "expected at most %d peers", CONFIG_PEERS_MAX);
        for (size_t k = 0; k < c->p2p.n_persistent_peers; k++) {
            const struct config_peer *pe = &c->p2p.persistent_peers[k];
            if (!is_hex(pe->id, 40) || pe->port == 0 || !pe->host[0])
                return fail_at(f, i, k, "entry %zu: expected NODE_ID@HOST:PORT", k + 1);
        }
        return true;
    }
    }
    return true;
}

static size_t opt_index(const char *section, const char *name)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        bool same_sec = (!section && !opts[i].section) ||
                        (section && opts[i].section && strcmp(section, opts[i].section) == 0);
        if (same_sec && strcmp(name, opts[i].name) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* Rules between options. */
static bool check_cross(const struct config *c, struct failure *f)
{
    if (c->mempool.max_tx_bytes > c->mempool.max_txs_bytes)
        return fail_at(f, opt_index("mempool", "max_tx_bytes"), SIZE_MAX,
                       "expected at most mempool.max_txs_bytes (%" PRIu64 "), got %" PRIu32,
                       c->mempool.max_txs_bytes, c->mempool.max_tx_bytes);
    if (c->statesync.enable) {
        if (c->statesync.rpc_servers.n < 2)
            return fail_at(f, opt_index("statesync", "rpc_servers"), SIZE_MAX,
                           "expected at least two servers when statesync.enable is true");
        if (c->statesync.trust_height == 0)
            return fail_at(f, opt_index("statesync", "trust_height"), SIZE_MAX,
                           "expected a height above 0 when statesync.enable is true");
        if (!c->statesync.trust_hash[0])
            return fail_at(f, opt_index("statesync", "trust_hash"), SIZE_MAX,
                           "expected 64 hex characters when statesync.enable is true");
    }
    if (strcmp(c->p2p.listen_addr, c->rpc.listen_addr) == 0)
        return fail_at(f, opt_index("rpc", "listen_addr"), SIZE_MAX,
                       "expected an address different from p2p.listen_addr");
    return true;
}

static bool check_all(const struct config *c, struct failure *f)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (!check_opt(c, i, f))
            return false;
    return check_cross(c, f);
}

static int set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return PX_ECONFIG;
}

int config_validate(const struct config *c, char *err, size_t err_cap)
{
    struct failure f;
    if (check_all(c, &f))
        return 0;
    return set_err(err, err_cap, "%s: %s", config_option_name(f.opt), f.msg);
}

/* ---- loading ----------------------------------------------------------------------- */

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "something else";
    }
}

/* Setting names seen by lex_check, to name a setting written twice (libconfig only says
 * "duplicate setting name"). names[scope_start[d]..n) are those of the group open at depth
 * d; deeper groups than LEX_DEPTH_MAX and names past LEX_NAMES_MAX are not tracked (then
 * libconfig's own message stands). */
#define LEX_DEPTH_MAX 8
#define LEX_NAMES_MAX 512

struct lex_name {
    const char *p;
    size_t len;
    unsigned line;
};

struct lex_names {
    struct lex_name names[LEX_NAMES_MAX];
    size_t n;
    size_t scope_start[LEX_DEPTH_MAX + 1];
    struct lex_name scope[LEX_DEPTH_MAX + 1]; /* the group's own name (len 0 at the top) */
    size_t depth;
    unsigned untracked;   /* groups open deeper than LEX_DEPTH_MAX */
    struct lex_name next; /* a group name whose '{' comes next */
};

struct loader {
    const char *path;
    struct config *c;
    unsigned lines[N_OPTS];
    size_t n_set; /* options the file sets */
    char *err;
    size_t cap;
    struct lex_names lex;
};

static int load_fail(struct loader *L, unsigned line, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int load_fail(struct loader *L, unsigned line, const char *name, const char *fmt, ...)
{
    char what[CONFIG_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return set_err(L->err, L->cap, "%s:%u: %s: %s", L->path, line, name, what);
}

static int get_string(struct loader *L, const config_setting_t *s, unsigned line, const char *name,
                      char *dst)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return load_fail(L, line, name, "expected a string, got %s",
                         type_name(config_setting_type(s)));
    const char *v = config_setting_get_string(s);
    if (strlen(v) >= CONFIG_STR_MAX)
        return load_fail(L, line, name, "expected at most %d bytes, got %zu", CONFIG_STR_MAX - 1,
                         strlen(v));
    strcpy(dst, v);
    return 0;
}

static int apply(struct loader *L, size_t i, const config_setting_t *s)
{
    const struct opt *o = &opts[i];
    const char *name = config_option_name(i);
    unsigned line = config_setting_source_line(s);
    void *p = field(L->c, o);
    int t = config_setting_type(s);
    L->lines[i] = line;
    L->n_set++;
    switch (o->type) {
    case T_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return load_fail(L, line, name, "expected true or false, got %s", type_name(t));
        *(bool *)p = config_setting_get_bool(s) != 0;
        break;
    case T_U32:
    case T_U64: {
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return load_fail(L, line, name,
                             "expected an integer from %" PRIu64 " to %" PRIu64 ", got %s", o->min,
                             o->max, type_name(t));
        long long v = config_setting_get_int64(s);
        if (v < 0 || (uint64_t)v < o->min || (uint64_t)v > o->max)
            return load_fail(L, line, name,
                             "expected an integer from %" PRIu64 " to %" PRIu64 ", got %lld",
                             o->min, o->max, v);
        if (o->type == T_U32)
            *(uint32_t *)p = (uint32_t)v;
        else
            *(uint64_t *)p = (uint64_t)v;
        break;
    }
    case T_STR: {
        int rc = get_string(L, s, line, name, p);
        if (rc != 0)
            return rc;
        break;
    }
    case T_LIST:
    case T_PEERS: {
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return load_fail(L, line, name, "expected a list of strings [\"...\", ...], got %s",
                             type_name(t));
        size_t n = (size_t)config_setting_length(s);
        size_t max = o->type == T_LIST ? CONFIG_LIST_MAX : CONFIG_PEERS_MAX;
        if (n > max)
            return load_fail(L, line, name, "expected at most %zu entries, got %zu", max, n);
        for (size_t k = 0; k < n; k++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)k);
            char v[CONFIG_STR_MAX];
            int rc = get_string(L, e, line, name, v);
            if (rc != 0)
                return rc;
            if (o->type == T_LIST) {
                strcpy(((struct config_list *)p)->item[k], v);
            } else if (!parse_peer(v, &peers_of(L->c)[k])) {
                return load_fail(L, line, name, "entry %zu: expected %s, got \"%.100s\"", k + 1,
                                 check_str(S_PEER, v), v);
            }
        }
        if (o->type == T_LIST)
            ((struct config_list *)p)->n = n;
        else
            L->c->p2p.n_persistent_peers = n;
        break;
    }
    }
    struct failure f;
    if (!check_opt(L->c, i, &f))
        return load_fail(L, line, name, "%s", f.msg);
    return 0;
}

static bool is_section(const char *name)
{
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (strcmp(name, sections[i].name) == 0)
            return true;
    return false;
}

static int walk(struct loader *L, const config_setting_t *root)
{
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        unsigned line = config_setting_source_line(s);
        if (is_section(name)) {
            if (!config_setting_is_group(s))
                return load_fail(L, line, name, "expected a group %s = { ... }, got %s", name,
                                 type_name(config_setting_type(s)));
            for (int k = 0; k < config_setting_length(s); k++) {
                const config_setting_t *c = config_setting_get_elem(s, (unsigned)k);
                size_t idx = opt_index(name, config_setting_name(c));
                if (idx == SIZE_MAX)
                    return set_err(L->err, L->cap,
                                   "%s:%u: unknown option '%s.%s' (conf/node.conf lists every "
                                   "option)",
                                   L->path, config_setting_source_line(c), name,
                                   config_setting_name(c));
                int rc = apply(L, idx, c);
                if (rc != 0)
                    return rc;
            }
            continue;
        }
        size_t idx = opt_index(NULL, name);
        if (idx == SIZE_MAX)
            return set_err(L->err, L->cap,
                           "%s:%u: unknown option '%s' (conf/node.conf lists every option)",
                           L->path, line, name);
        int rc = apply(L, idx, s);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The identifier at name (len bytes, on `line`) ends at p: if '=' or ':' follows, it names
 * a setting of the group open now; a second one of the same name is refused here, with
 * both lines (libconfig would say "duplicate setting name" and not which). */
static int lex_name(struct loader *L, const char *name, size_t len, const char *p, unsigned line)
{
    struct lex_names *x = &L->lex;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p != '=' && *p != ':')
        return 0; /* a value (true, false) */
    for (p++; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
        ;
    bool group = *p == '{';
    x->next.len = 0;
    if (group)
        x->next = (struct lex_name){name, len, line};
    if (x->untracked)
        return 0;
    for (size_t i = x->scope_start[x->depth]; i < x->n; i++) {
        const struct lex_name *seen = &x->names[i];
        if (seen->len != len || memcmp(seen->p, name, len) != 0)
            continue;
        const struct lex_name *in = &x->scope[x->depth];
        if (group)
            return set_err(L->err, L->cap,
                           "%s:%u: the group %.*s = { ... } appears twice (first at line %u): "
                           "put all its options in one group",
                           L->path, line, (int)len, name, seen->line);
        return set_err(
            L->err, L->cap, "%s:%u: %.*s%s%.*s is set twice (first at line %u): keep one of them",
            L->path, line, (int)in->len, in->p, in->len ? "." : "", (int)len, name, seen->line);
    }
    if (x->n < LEX_NAMES_MAX)
        x->names[x->n++] = (struct lex_name){name, len, line};
    return 0;
}

static void lex_open(struct lex_names *x)
{
    if (x->untracked || x->depth == LEX_DEPTH_MAX) {
        x->untracked++;
    } else {
        x->depth++;
        x->scope_start[x->depth] = x->n;
        x->scope[x->depth] = x->next;
    }
    x->next.len = 0;
}

static void lex_close(struct lex_names *x)
{
    if (x->untracked) {
        x->untracked--;
    } else if (x->depth > 0) { /* (an unbalanced '}' is libconfig's syntax error) */
        x->n = x->scope_start[x->depth];
        x->depth--;
    }
}

/* Things libconfig 1.5 does that an operator would not expect, refused before it parses:
 * @include reads any file it names, with no bound; a decimal or hex integer above the
 * 32-bit range without the L suffix silently becomes a wrong number; a string left open
 * to the end of the file leaks its text inside the parser; and a setting written twice is
 * "duplicate setting name" without the name. */
static int lex_check(struct loader *L, const char *text)
{
    unsigned line = 1;
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            line++;
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
                if (*p == '\n')
                    line++;
            if (*p)
                p += 2;
        } else if (*p == '"') {
            /* (libconfig 1.5 also leaks the text of a string left open at the end) */
            unsigned start = line;
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (*p == '\n')
                    line++;
            }
            if (!*p)
                return set_err(L->err, L->cap,
                               "%s:%u: a string opened here is never closed: expected a "
                               "closing \"",
                               L->path, start);
            p++;
        } else if (*p == '@') {
            return set_err(L->err, L->cap,
                           "%s:%u: @include is not supported: put every option in this file",
                           L->path, line);
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            const char *name = p;
            while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
                p++;
            int rc = lex_name(L, name, (size_t)(p - name), p, line);
            if (rc != 0)
                return rc;
        } else if (*p == '{') {
            lex_open(&L->lex);
            p++;
        } else if (*p == '}') {
            lex_close(&L->lex);
            p++;
        } else if (isdigit((unsigned char)*p)) {
            bool neg = p > text && p[-1] == '-';
            const char *start = p;
            uint64_t v = 0;
            bool big = false;
            if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                for (p += 2; isxdigit((unsigned char)*p); p++) {
                    big |= v > (UINT64_MAX >> 4);
                    v = v * 16 + (uint64_t)(isdigit((unsigned char)*p)
                                                ? *p - '0'
                                                : tolower((unsigned char)*p) - 'a' + 10);
                }
            } else {
                for (; isdigit((unsigned char)*p); p++) {
                    big |= v > UINT64_MAX / 10 - 1;
                    v = v * 10 + (uint64_t)(*p - '0');
                }
                if (*p == '.' || *p == 'e' || *p == 'E') { /* a float */
                    while (isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '+')
                        p++;
                    continue;
                }
            }
            if (*p != 'L' && (big || v > (neg ? 2147483648ull : 2147483647ull)))
                return set_err(L->err, L->cap,
                               "%s:%u: integer %.*s is outside the 32-bit range: write it with "
                               "an L suffix (%.*sL), as libconfig requires",
                               L->path, line, (int)(p - start), start, (int)(p - start), start);
        } else {
            p++;
        }
    }
    return 0;
}

int config_load(const char *path, struct config *c, char *err, size_t err_cap)
{
    return config_load_count(path, c, NULL, err, err_cap);
}

int config_load_count(const char *path, struct config *c, size_t *n_set, char *err, size_t err_cap)
{
    if (n_set)
        *n_set = 0;
    config_defaults(c);
    char *text;
    size_t len;
    int rc = fileio_read_all(path, CONFIG_FILE_MAX, &text, &len);
    if (rc != 0) {
        set_err(err, err_cap, "%s: cannot read the configuration: %s", path, px_strerror(rc));
        return rc == PX_EINVAL ? PX_ECONFIG : rc;
    }
    if (memchr(text, '\0', len)) {
        free(text);
        return set_err(err, err_cap, "%s: expected a text file (it holds a NUL byte)", path);
    }
    struct loader *L = calloc(1, sizeof(*L));
    if (!L) {
        free(text);
        return PX_ENOMEM;
    }
    L->path = path;
    L->c = c;
    L->err = err;
    L->cap = err_cap;
    rc = lex_check(L, text);
    config_t cf;
    config_init(&cf);
    /* libconfig 1.5's parser leaks the string token it stops at on a syntax error (its
     * grammar has no %destructor): a few bytes, once, before the node exits over a bad
     * file. Under AddressSanitizer that known leak is kept out of the leak report. */
#if defined(__SANITIZE_ADDRESS__)
    __lsan_disable();
#endif
    int parsed = rc == 0 ? config_read_string(&cf, text) : CONFIG_TRUE;
#if defined(__SANITIZE_ADDRESS__)
    __lsan_enable();
#endif
    if (rc == 0 && parsed != CONFIG_TRUE) {
        rc = set_err(err, err_cap,
                     "%s:%d: %s: expected libconfig syntax (name = value; or name = { ... };)",
                     path, config_error_line(&cf), config_error_text(&cf));
    }
    if (rc == 0)
        rc = walk(L, config_root_setting(&cf));
    if (rc == 0) {
        struct failure f;
        if (!check_cross(c, &f))
            rc = load_fail(L, L->lines[f.opt], config_option_name(f.opt), "%s", f.msg);
    }
    config_destroy(&cf);
    if (rc == 0 && n_set)
        *n_set = L->n_set;
    free(L);
    free(text);
    if (rc != 0)
        config_defaults(c);
    return rc;
}

/* ---- comparing and formatting -------------------------------------------------------- */

bool config_equal(const struct config *a, const struct config *b, const char **first_diff)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        const void *pa = cfield(a, o);
        const void *pb = cfield(b, o);
        bool same = true;
        switch (o->type) {
        case T_STR:
            same = strcmp(pa, pb) == 0;
            break;
        case T_U32:
            same = *(const uint32_t *)pa == *(const uint32_t *)pb;
            break;
        case T_U64:
            same = *(const uint64_t *)pa == *(const uint64_t *)pb;
            break;
        case T_BOOL:
            same = *(const bool *)pa == *(const bool *)pb;
            break;
        case T_LIST: {
            const struct config_list *la = pa, *lb = pb;
            same = la->n == lb->n;
            for (size_t k = 0; same && k < la->n; k++)
                same = strcmp(la->item[k], lb->item[k]) == 0;
            break;
        }
        case T_PEERS:
            same = a->p2p.n_persistent_peers == b->p2p.n_persistent_peers;
            for (size_t k = 0; same && k < a->p2p.n_persistent_peers; k++) {
                const struct config_peer *x = &a->p2p.persistent_peers[k];
                const struct config_peer *y = &b->p2p.persistent_peers[k];
                same = strcmp(x->id, y->id) == 0 && strcmp(x->host, y->host) == 0 &&
                       x->port == y->port;
            }
            break;
        }
        if (!same) {
            if (first_diff)
                *first_diff = config_option_name(i);
            return false;
        }
    }
    return true;
}

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        /* no pointer arithmetic on the NULL of an empty buffer (undefined behaviour) */
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n) * 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

static void sb_quoted(struct sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            sb_printf(b, "\\x%02x", *p);
        else
            sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

static void sb_comment(struct sbuf *b, const char *indent, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        sb_printf(b, "%s# %.*s\n", indent, (int)n, p);
        p += n;
        if (*p == '\n')
            p++;
    }
}

static void sb_value(struct sbuf *b, const struct config *c, const struct opt *o)
{
    const void *p = cfield(c, o);
    switch (o->type) {
    case T_STR:
        sb_quoted(b, p);
        break;
    case T_U32:
        sb_printf(b, "%" PRIu32, *(const uint32_t *)p);
        break;
    case T_U64: {
        uint64_t v = *(const uint64_t *)p;
        /* libconfig needs the L suffix above the 32-bit range */
        sb_printf(b, "%" PRIu64 "%s", v, v > INT32_MAX ? "L" : "");
        break;
    }
    case T_BOOL:
        sb_printf(b, "%s", *(const bool *)p ? "true" : "false");
        break;
    case T_LIST: {
        const struct config_list *l = p;
        sb_printf(b, "[");
        for (size_t k = 0; k < l->n; k++) {
            sb_printf(b, "%s", k ? ", " : " ");
            sb_quoted(b, l->item[k]);
        }
        sb_printf(b, "%s]", l->n ? " " : "");
        break;
    }
    case T_PEERS:
        sb_printf(b, "[");
        for (size_t k = 0; k < c->p2p.n_persistent_peers; k++) {
            const struct config_peer *pe = &c->p2p.persistent_peers[k];
            char one[CONFIG_STR_MAX + 64];
            bool v6 = strchr(pe->host, ':') != NULL;
            snprintf(one, sizeof(one), "%s@%s%s%s:%u", pe->id, v6 ? "[" : "", pe->host,
                     v6 ? "]" : "", pe->port);
            sb_printf(b, "%s", k ? ",\n    " : "\n    ");
            sb_quoted(b, one);
        }
        sb_printf(b, "%s]", c->p2p.n_persistent_peers ? "\n  " : "");
        break;
    }
}

static void sb_default(struct sbuf *b, const struct opt *o)
{
    switch (o->type) {
    case T_STR:
        sb_printf(b, "Default: ");
        sb_quoted(b, o->def_str);
        break;
    case T_U32:
    case T_U64:
        sb_printf(b, "Default: %" PRIu64 " (range %" PRIu64 "..%" PRIu64 ")", o->def_num, o->min,
                  o->max);
        break;
    case T_BOOL:
        sb_printf(b, "Default: %s", o->def_num ? "true" : "false");
        break;
    case T_LIST:
    case T_PEERS:
        sb_printf(b, "Default: [] (none)");
        break;
    }
    sb_printf(b, ".\n");
}

static void format_opt(struct sbuf *b, const struct config *c, const struct opt *o,
                       const char *indent)
{
    sb_comment(b, indent, o->doc);
    sb_printf(b, "%s# ", indent);
    sb_default(b, o);
    sb_printf(b, "%s%s = ", indent, o->name);
    sb_value(b, c, o);
    sb_printf(b, ";\n");
}

int config_format(const struct config *c, char **out)
{
    struct sbuf b = {0};
    sb_printf(&b, "# node.conf: the configuration of a Phalanx node (libconfig syntax).\n"
                  "#\n"
                  "# Every option is listed with its meaning and default. An unknown option, a\n"
                  "# wrong type or a bad value stops the node at start-up with this file's name,\n"
                  "# the line and what was expected. Durations end in _ms, sizes in _bytes.\n"
                  "# Integers above 2147483647 need an L suffix (libconfig's 64-bit form).\n\n");
    for (size_t i = 0; i < N_OPTS; i++)
        if (!opts[i].section)
            format_opt(&b, c, &opts[i], "");
    for (size_t s = 0; s < N_SECTIONS; s++) {
        sb_printf(&b, "\n");
        sb_comment(&b, "", sections[s].doc);
        sb_printf(&b, "%s = {\n", sections[s].name);
        bool first = true;
        for (size_t i = 0; i < N_OPTS; i++) {
            if (!opts[i].section || strcmp(opts[i].section, sections[s].name) != 0)
                continue;
            if (!first)
                sb_printf(&b, "\n");
            first = false;
            format_opt(&b, c, &opts[i], "  ");
        }
        sb_printf(&b, "};\n");
    }
    if (b.oom) {
        free(b.p);
        return PX_ENOMEM;
    }
    *out = b.p;
    return 0;
}
