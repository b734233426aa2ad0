/*
 * p2p_admit: the eviction rule for inbound connections in handshake (see p2p_admit.h). Pure.
 */
#include "p2p_admit.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void p2p_admit_key(const char *ip, char out[P2P_ADMIT_KEY_MAX])
{
    struct in6_addr a;
    if (strchr(ip, '.') == NULL && inet_pton(AF_INET6, ip, &a) == 1) {
        /* a plain IPv6 address: its /64 (an IPv4-mapped one has a dot and stays whole) */
        const uint8_t *b = a.s6_addr;
        snprintf(out, P2P_ADMIT_KEY_MAX, "%x:%x:%x:%x::/64", (unsigned)(b[0] << 8 | b[1]),
                 (unsigned)(b[2] << 8 | b[3]), (unsigned)(b[4] << 8 | b[5]),
                 (unsigned)(b[6] << 8 | b[7]));
        return;
    }
    snprintf(out, P2P_ADMIT_KEY_MAX, "%s", ip);
}

static size_t count_key(const struct p2p_admit_conn *hs, size_t n, const char *key)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += strcmp(hs[i].key, key) == 0;
    return k;
}

/* Is a (whose address holds na slots) a better victim than b (nb slots)? */
static bool worse(const struct p2p_admit_conn *a, size_t na, const struct p2p_admit_conn *b,
                  size_t nb)
{
    if (na != nb)
        return na > nb;
    if (a->stage != b->stage)
        return a->stage < b->stage;
    return a->created_ms < b->created_ms;
}

int p2p_admit_evict(const struct p2p_admit_conn *hs, size_t n, const char *key, uint32_t max_total,
                    uint32_t max_per_key)
{
    size_t same = count_key(hs, n, key);
    bool own = same >= max_per_key; /* this address is at its share: it pays itself */
    if (!own && n < max_total)
        return -1;
    int victim = -1;
    size_t victim_n = 0;
    for (size_t i = 0; i < n; i++) {
        if (own && strcmp(hs[i].key, key) != 0)
            continue;
        size_t ni = own ? same : count_key(hs, n, hs[i].key);
        if (victim < 0 || worse(&hs[i], ni, &hs[victim], victim_n)) {
            victim = (int)i;
            victim_n = ni;
        }
    }
    return victim;
}
