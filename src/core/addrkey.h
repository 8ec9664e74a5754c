/*
 * addrkey.h -- which client addresses count as one, for every per-address
 * limit (failed logins, connections): an IPv4 address; the first 64 bits
 * of an IPv6 address (one host usually has a whole /64 to rotate
 * through); an IPv4-mapped IPv6 address (a dual-stack listener's IPv4
 * client) as its IPv4 address. Unix-domain peers have no key: local,
 * never counted. Pure; never installed.
 */
#ifndef PH_ADDRKEY_H
#define PH_ADDRKEY_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

struct ph_addr_key {
    uint64_t addr;
    uint8_t  family;            /* 4 or 6; 0 marks "none" */
};

/* The key of peer, or false for NULL and anything not IPv4/IPv6. */
bool ph_addr_key(const struct sockaddr *peer, struct ph_addr_key *k);

static inline bool
ph_addr_key_eq(const struct ph_addr_key *a, const struct ph_addr_key *b)
{
    return a->family == b->family && a->addr == b->addr;
}

/* A seeded hash of k (splitmix64's finaliser): with a per-table random
   seed a client cannot pick addresses that all land in one bucket. */
static inline uint64_t
ph_addr_key_hash(const struct ph_addr_key *k, uint64_t seed)
{
    uint64_t x = (k->addr ^ seed) + k->family * 0x9e3779b97f4a7c15u;

    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* A random 64-bit seed for a table (distinct per table even without
   entropy: salted with the table's address). */
uint64_t ph_addr_key_seed(const void *table);

#endif
