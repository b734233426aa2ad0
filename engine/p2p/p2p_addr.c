/*
 * p2p_addr: parsing of peer and listen addresses, reconnect backoff (see p2p_addr.h).
 * Pure: no I/O, no clock, no randomness of its own.
 */
#include "p2p_addr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "px_error.h"

static int host_port_url(const char *hp, char url[P2P_URL_MAX])
{
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp)
        return PX_EINVAL;
    const char *port = colon + 1;
    size_t plen = strlen(port);
    if (plen == 0 || plen > 5)
        return PX_EINVAL;
    unsigned long v = 0;
    for (size_t i = 0; i < plen; i++) {
        if (!isdigit((unsigned char)port[i]))
            return PX_EINVAL;
        v = v * 10 + (unsigned long)(port[i] - '0');
    }
    if (v > 65535)
        return PX_EINVAL;
    for (const char *c = hp; c < colon; c++)
        if (isspace((unsigned char)*c) || *c == '/' || *c == '@')
            return PX_EINVAL;
    int n = snprintf(url, P2P_URL_MAX, "tcp://%s", hp);
    if (n < 0 || n >= P2P_URL_MAX)
        return PX_ETOOBIG;
    return 0;
}

int p2p_addr_listen_url(const char *addr, char url[P2P_URL_MAX])
{
    if (!addr)
        return PX_EINVAL;
    if (strncmp(addr, "tcp://", 6) == 0)
        addr += 6;
    else if (strstr(addr, "://"))
        return PX_EINVAL;
    return host_port_url(addr, url);
}

int p2p_addr_parse_peer(const char *s, char id[P2P_ID_LEN + 1], char url[P2P_URL_MAX])
{
    if (!s)
        return PX_EINVAL;
    const char *at = strchr(s, '@');
    if (!at || at - s != P2P_ID_LEN)
        return PX_EINVAL;
    for (int i = 0; i < P2P_ID_LEN; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return PX_EINVAL;
        id[i] = (char)tolower((unsigned char)s[i]);
    }
    id[P2P_ID_LEN] = '\0';
    const char *rest = at + 1;
    if (strncmp(rest, "tcp://", 6) == 0)
        rest += 6;
    return host_port_url(rest, url);
}

uint32_t p2p_addr_backoff_ms(uint32_t attempt, uint32_t min_ms, uint32_t max_ms, uint32_t jitter)
{
    uint64_t d = min_ms;
    for (uint32_t i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    /* scale by (2^32 + jitter) / 2^33, i.e. into [1/2, 1); d < 2^32 so nothing overflows */
    d = (d >> 1) + ((d * (uint64_t)jitter) >> 33);
    return (uint32_t)d;
}
