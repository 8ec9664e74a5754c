/*
 * auth_guard.h -- a per-server limiter of failed AUTH attempts by client
 * address, for SMTP and POP3 alike (RFC 4954 and RFC 5034 recommend
 * slowing down password guessing). It only counts and answers; the
 * sessions decide the reply, the delay and whether to close. Pure: no I/O,
 * no timers, no global state (time is passed in). Never installed.
 */
#ifndef PH_AUTH_GUARD_H
#define PH_AUTH_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <sys/socket.h>

#include "posthorn/posthorn.h"  /* ph_auth_guard_new/free are public */

/*
 * Owned by the server that made it; one per server (or shared by servers
 * of one loop), never by two threads at once: there is no locking.
 *
 * Addresses: IPv4 per address; IPv6 per /64 (one host usually has a whole
 * /64 to rotate through); an IPv4-mapped IPv6 address (::ffff:a.b.c.d, a
 * dual-stack listener) counts as its IPv4 address. Unix-domain and other
 * families, and a NULL peer, are never counted or blocked.
 *
 * Window: failures of an address are counted while each comes less than
 * window_s seconds after the one before; after window_s seconds without a
 * failure the count starts again from zero. So a blocked client stays
 * blocked until window_s seconds after its last failure, and no address
 * gets more than max failures into any window_s seconds (slow guessing
 * just stretches the run).
 *
 * Memory is fixed at creation: an open-addressing table of nslots slots,
 * holding at most 3/4 of nslots addresses (to keep probes short). When it
 * is full, the address whose last failure is oldest is forgotten; expired
 * ones are always the oldest, so live entries go only under a flood of
 * distinct addresses, and then the least recently failing ones first.
 *
 * `now` is seconds on any clock that does not go backwards (time(NULL), or
 * CLOCK_MONOTONIC seconds); if it does go back, entries simply live longer.
 */
struct ph_auth_guard;

#define PH_AUTH_GUARD_SLOTS 4096

/* A guard with PH_AUTH_GUARD_SLOTS slots. max_failures_per_addr 0 (or
   window_s 0) disables it: never blocked, nothing recorded, no table.
   NULL on ENOMEM. */
PH_API struct ph_auth_guard *ph_auth_guard_new(
    unsigned max_failures_per_addr, unsigned window_s);
/* The same with nslots slots, rounded up to a power of two, at least 4 and
   at most 1 << 24 (clamped). */
struct ph_auth_guard *ph_auth_guard_new_sized(unsigned max_failures_per_addr,
                                              unsigned window_s,
                                              size_t nslots);
/* Frees g; NULL does nothing. */
PH_API void ph_auth_guard_free(struct ph_auth_guard *g);

/* True when peer's address (see above) has max or more recent failures.
   Check it before verifying credentials, and refuse without verifying. */
bool ph_auth_guard_blocked(struct ph_auth_guard *g,
                           const struct sockaddr *peer, time_t now);
/* Records one failed authentication of peer at now. */
void ph_auth_guard_failed(struct ph_auth_guard *g,
                          const struct sockaddr *peer, time_t now);
/* The recent failure count of peer (0 when expired, unknown, disabled or
   not an IP address), e.g. to grow the reply delay with it. */
unsigned ph_auth_guard_failures(struct ph_auth_guard *g,
                                const struct sockaddr *peer, time_t now);
/* Records a failed login of peer (g may be NULL) and returns how long
   to wait before saying so: base_ms times its recent failures, at least
   1 and at most PH_AUTH_GUARD_MAX_FACTOR times. The caller handles "no
   delay" values of base_ms itself. */
#define PH_AUTH_GUARD_MAX_FACTOR 8
unsigned ph_auth_guard_fail_delay(struct ph_auth_guard *g,
                                  const struct sockaddr *peer, time_t now,
                                  unsigned base_ms);

#endif
