/*
 * p2p: the node's network of authenticated peers, for the reactors and the node.
 *
 * One TCP listener (nng stream listener) and one dialer per persistent peer ("id@host:port",
 * redialled with capped exponential backoff and jitter). Every connection runs the secret
 * handshake of p2p_handshake.h and then carries sealed frames (p2p_frame.h); a message of
 * up to a channel's max_msg_bytes travels as chunks of at most P2P_CHUNK_BYTES, so a large
 * blocksync message never holds back a vote: each frame goes to the channel that has sent
 * least relative to its priority.
 *
 * Threads: callbacks run on nng's threads and on the p2p maintenance thread, never two at
 * once for one peer (callbacks of different peers may run at the same time), in the order
 * peer_up, recv..., peer_down for each connection of a peer. They
 * must not block: the node copies what it needs and enqueues it for its own thread. They
 * may call p2p_send / p2p_broadcast / p2p_peers / p2p_stats, never p2p_stop or p2p_free.
 * After p2p_stop returns no callback runs.
 *
 * Inbound connections are admitted as p2p.c describes (a handshake budget with eviction,
 * peer limits in total and per address once the dialler has authenticated, persistent
 * peers always admitted); lines about connections that never became peers are rate
 * limited and summarised.
 *
 * Never delivers a byte that did not authenticate, never lets a peer make it allocate
 * beyond the configured bounds, never connects to itself.
 */
#ifndef P2P_H
#define P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p_handshake.h"

#define P2P_CHUNK_BYTES 65536 /* data bytes per frame */
#define P2P_MAX_CHANNELS 16
#define P2P_ADDR_MAX 64 /* "ip:port" text of a remote address, with its NUL */

/* Channel numbers (CometBFT's, which operators' tooling knows). */
enum p2p_channel_id {
    P2P_CH_CONSENSUS_STATE = 0x20,
    P2P_CH_CONSENSUS_DATA = 0x21, /* proposals and block parts */
    P2P_CH_CONSENSUS_VOTE = 0x22,
    P2P_CH_MEMPOOL = 0x30,
    P2P_CH_EVIDENCE = 0x38,
    P2P_CH_BLOCKSYNC = 0x40,
    P2P_CH_STATESYNC = 0x60,
};

struct p2p_channel_config {
    uint8_t id;
    uint8_t priority;          /* 1..255; higher gets a larger share of the link */
    uint32_t send_queue_msgs;  /* messages queued per peer before sends are refused */
    uint32_t max_msg_bytes;    /* largest message in either direction */
    uint32_t send_queue_bytes; /* bytes queued per peer before sends are refused (a message
                                  into an empty queue always fits); 0: no bound but
                                  send_queue_msgs * max_msg_bytes */
};

/* A message from an authenticated peer. data is borrowed for the call only. */
typedef void (*p2p_recv_fn)(const char *peer_id, uint8_t channel, const uint8_t *data, size_t len,
                            void *user);
/* A peer finished its handshake (up) or its connection ended (down). */
typedef void (*p2p_peer_fn)(const char *peer_id, bool outbound, void *user);

struct p2p_config {
    const char *network;     /* chain id: peers of another network are refused (NULL: "");
                                at most 64 bytes */
    const char *listen_addr; /* "host:port" or "tcp://host:port"; port 0: any */
    const uint8_t *node_key; /* 32-byte Ed25519 seed or 64-byte secret key */
    size_t node_key_len;
    const char *const *persistent_peers; /* "id@host:port" each */
    size_t n_persistent_peers;
    uint32_t max_inbound;            /* authenticated peers that dialled us; persistent peers are
                                        admitted beyond it (they still count) */
    uint32_t max_outbound;           /* connections dialled */
    uint32_t max_inbound_per_ip;     /* authenticated inbound peers from one address (an IPv6
                                        address: its /64); persistent peers are exempt */
    uint32_t max_inbound_handshakes; /* inbound connections not yet authenticated (they take
                                        no peer slot); a new one beyond evicts one of them
                                        (p2p_admit.h says which) */
    uint32_t max_inbound_handshakes_per_ip; /* ... of those from one address */
    uint32_t handshake_timeout_ms;          /* time from accept or dial to authenticated */
    uint32_t dial_backoff_min_ms;           /* first redial delay; doubles per failure */
    uint32_t dial_backoff_max_ms;           /* cap of the redial delay */
    uint32_t ban_ms;                        /* how long a misbehaving peer is refused */
    bool ban_ip;                            /* also refuse the address of a peer that failed before
                                               authenticating (garbage, bad handshake) */
    bool ban_loopback;                /* ... even a loopback address (127.0.0.0/8, ::1), which local
                                         testnets and sentries share with honest peers */
    uint32_t ping_interval_ms;        /* ping a peer silent this long */
    uint32_t pong_timeout_ms;         /* drop a peer silent this long */
    uint32_t refused_log_interval_ms; /* lines about connections that never became peers
                                         (refused, dropped, banned): at most one per reason
                                         per this interval, then a summary with the count;
                                         0: every line */
    const struct p2p_channel_config *channels; /* NULL: p2p_default_channels */
    size_t n_channels;
    p2p_recv_fn recv_cb;
    p2p_peer_fn peer_up_cb;
    p2p_peer_fn peer_down_cb;
    void *user;
};

/* Defaults: listen 0.0.0.0:26656, 40 inbound peers (4 per address), 10 outbound, 16
 * inbound connections in handshake (8 per address), handshake 5 s, backoff 500 ms .. 60 s,
 * ban 10 min (ids; addresses too, except loopback ones), ping 10 s, pong timeout 45 s (also:
 * a peer that reads nothing for that long is dropped), refused-connection lines summarised
 * every 10 s, the default channels.
 * The caller still sets node_key and the callbacks. */
void p2p_config_default(struct p2p_config *cfg);
/* The seven channels with their default priority, queue and size limits. */
const struct p2p_channel_config *p2p_default_channels(size_t *n);

struct p2p_channel_stats {
    uint8_t id;
    uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
    uint64_t dropped; /* broadcast copies dropped on a full queue */
};

struct p2p_stats {
    uint32_t peers, inbound, outbound, handshaking;
    uint64_t refused_banned; /* inbound connections refused: address or id banned */
    uint64_t refused_full;   /* inbound connections refused: max_inbound reached */
    uint64_t refused_per_ip; /* inbound connections refused: max_inbound_per_ip reached */
    uint64_t evicted;        /* inbound connections in handshake evicted for newer ones */
    uint64_t misbehaved;     /* connections dropped for what the peer sent */
    uint64_t bans;           /* ids or addresses banned since start */
    uint64_t dials, dial_failures;
    size_t n_channels;
    struct p2p_channel_stats channels[P2P_MAX_CHANNELS];
};

struct p2p_peer_info {
    char id[P2P_ID_LEN + 1];
    char remote_addr[P2P_ADDR_MAX];
    bool outbound;
    bool persistent;
    uint64_t connected_ms; /* for how long */
    uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
};

struct p2p;

/* Check the config and derive the node id; nothing is opened yet. The config is copied
 * (strings too). Errors: PX_ECONFIG (bad address, key, peer, channel or limit; a log line
 * says which), PX_ENOMEM. */
int p2p_new(const struct p2p_config *cfg, struct p2p **out);
/* Listen and start dialling. PX_EIO (cannot listen, e.g. address in use), PX_ESTATE
 * (already started), PX_ENOMEM. */
int p2p_start(struct p2p *p);
/* Close every connection (peer_down for each peer that was up) and stop all threads.
 * Idempotent. */
void p2p_stop(struct p2p *p);
/* Stop if needed and free. NULL is fine. */
void p2p_free(struct p2p *p);

const char *p2p_id(const struct p2p *p);
/* The bound listening port (useful with port 0); 0 before p2p_start. */
uint16_t p2p_listen_port(const struct p2p *p);

/* Queue a copy of data for one peer. Errors: PX_ENOTFOUND (no such peer up),
 * PX_EINVAL (unknown channel, empty message), PX_ETOOBIG (over the channel's
 * max_msg_bytes), PX_EAGAIN (that peer's queue for the channel is full: try later),
 * PX_ENOMEM, PX_ECLOSED (stopped). */
int p2p_send(struct p2p *p, const char *peer_id, uint8_t channel, const void *data, size_t len);
/* Queue one shared copy of data for every peer that is up; a peer whose queue is full
 * misses it (counted in the channel's dropped). *n_sent (may be NULL) gets the number of
 * peers queued. Errors as p2p_send, except PX_ENOTFOUND and PX_EAGAIN. */
int p2p_broadcast(struct p2p *p, uint8_t channel, const void *data, size_t len, size_t *n_sent);

void p2p_stats(struct p2p *p, struct p2p_stats *out);
/* Up to cap peers that are up; *n gets the number written. */
void p2p_peers(struct p2p *p, struct p2p_peer_info *out, size_t cap, size_t *n);
/* For the reactors: the peer sent something impossible or undecodable at their level.
 * Disconnects it, refuses its id for ban_ms and logs reason. May be called from a
 * callback. PX_ENOTFOUND if peer_id is neither connected nor a 40-character id. */
int p2p_ban_peer(struct p2p *p, const char *peer_id, const char *reason);
/* True while the id or address (IP text) is banned. */
bool p2p_is_banned(struct p2p *p, const char *id_or_ip);

#endif
