/*
 * p2p_admit: which inbound connections a node keeps when strangers crowd it (DESIGN §6).
 *
 * A connection that has not authenticated costs a slot of a small handshake budget, never a
 * peer slot. When a new connection arrives and the budget (or the share of its address) is
 * full, one connection in handshake is evicted: the new one is always admitted, so a flood
 * of connections that never finish cannot lock out an honest peer that does. The victim is
 * the connection that has shown least: it belongs to the address holding most handshake
 * slots, among those it has made the least progress (an unfinished hello before a finished
 * one), and among those it is the oldest. An honest peer finishes its hello within one
 * round trip and its handshake within two, so it is not evicted while slower connections
 * are around.
 *
 * Addresses are compared by key: an IPv4 address as text, an IPv6 address by its /64
 * prefix (one subscriber usually holds a whole /64).
 *
 * Pure: looks at nothing but its arguments, never allocates.
 */
#ifndef P2P_ADMIT_H
#define P2P_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#define P2P_ADMIT_KEY_MAX 48 /* an address key, with its NUL */

/* How far a connection in handshake has got. */
enum p2p_admit_stage {
    P2P_ADMIT_HELLO = 0, /* its hello is not complete yet */
    P2P_ADMIT_AUTH = 1,  /* hello done; its authentication frame is awaited */
};

struct p2p_admit_conn {
    const char *key; /* address key (p2p_admit_key) */
    enum p2p_admit_stage stage;
    uint64_t created_ms;
};

/* The address key of an IP address in text form (inet_ntop's): IPv4 and IPv4-mapped IPv6
 * addresses as they are, other IPv6 addresses as their /64 prefix ("2001:db8:1:2::/64").
 * Text that is not an address is copied (cut to fit). */
void p2p_admit_key(const char *ip, char out[P2P_ADMIT_KEY_MAX]);

/* A connection from address `key` arrives while the n connections of hs are in handshake.
 * Returns the index in hs of the one to evict first so that the new one fits within max_total
 * connections in handshake and max_per_key per address, or -1 if it fits already. At most one
 * eviction is needed when the limits held before; the caller may call again until -1. */
int p2p_admit_evict(const struct p2p_admit_conn *hs, size_t n, const char *key, uint32_t max_total,
                    uint32_t max_per_key);

#endif
