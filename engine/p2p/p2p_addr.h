/*
 * p2p_addr: peer addresses and dial timing, pure functions without I/O.
 * A peer is written "id@host:port" (id: 40 hex digits, the node id); a listen address is
 * "host:port" or "tcp://host:port". Both become the nng URL "tcp://host:port".
 * Reconnect delays grow exponentially with jitter up to a cap. Never accepts a string it
 * cannot represent exactly.
 */
#ifndef P2P_ADDR_H
#define P2P_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "p2p_handshake.h"

#define P2P_URL_MAX 300 /* bytes of an nng URL, including the NUL */

/* "host:port" or "tcp://host:port" -> "tcp://host:port". PX_EINVAL: no port, a port
 * that is not 0..65535, an empty host or another scheme; PX_ETOOBIG: too long. */
int p2p_addr_listen_url(const char *addr, char url[P2P_URL_MAX]);

/* "id@host:port" -> id (lower case) and "tcp://host:port". PX_EINVAL as above, and for an
 * id that is not 40 hex digits. */
int p2p_addr_parse_peer(const char *s, char id[P2P_ID_LEN + 1], char url[P2P_URL_MAX]);

/* Delay before dial number `attempt` (0 = first retry): min_ms * 2^attempt capped at
 * max_ms, then scaled into [1/2, 1] of that by jitter (any 32-bit random value). */
uint32_t p2p_addr_backoff_ms(uint32_t attempt, uint32_t min_ms, uint32_t max_ms, uint32_t jitter);

#endif
