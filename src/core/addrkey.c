/*
 * addrkey.c -- see addrkey.h.
 */
#include "core/addrkey.h"

#include <string.h>

#include <netinet/in.h>
#include <openssl/rand.h>

static uint64_t
load_be64(const uint8_t *b)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

bool
ph_addr_key(const struct sockaddr *peer, struct ph_addr_key *k)
{
    struct sockaddr_in  sin;
    struct sockaddr_in6 sin6;

    if (peer == NULL)
        return false;
    if (peer->sa_family == AF_INET) {
        memcpy(&sin, peer, sizeof(sin));    /* no alignment assumptions */
        k->addr = ntohl(sin.sin_addr.s_addr);
        k->family = 4;
        return true;
    }
    if (peer->sa_family != AF_INET6)
        return false;               /* AF_UNIX: local, trusted */
    memcpy(&sin6, peer, sizeof(sin6));
    if (IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr)) {
        /* Its /64 would be ::ffff:0:0 and lump every IPv4 client
           together. */
        k->addr = load_be64(sin6.sin6_addr.s6_addr + 8) & 0xffffffffu;
        k->family = 4;
        return true;
    }
    k->addr = load_be64(sin6.sin6_addr.s6_addr);
    k->family = 6;
    return true;
}

uint64_t
ph_addr_key_seed(const void *table)
{
    uint64_t seed;

    if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) == 1)
        return seed;
    /* No entropy: still different per table and per run (ASLR). */
    return (uint64_t)(uintptr_t)table * 0x9e3779b97f4a7c15u;
}
