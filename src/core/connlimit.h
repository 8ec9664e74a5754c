/*
 * connlimit.h -- the core's side of ph_conn_limits (limits.h): a session
 * takes a slot when its connection is accepted and gives it back when it
 * ends. Never installed.
 */
#ifndef PH_CONNLIMIT_H
#define PH_CONNLIMIT_H

#include <stdbool.h>
#include <time.h>

#include <sys/socket.h>

#include "posthorn/posthorn.h"

struct ph_conn_slot;            /* one client address's count */

enum ph_conn_verdict {
    PH_CONN_ACCEPT = 0,
    PH_CONN_OVER_TOTAL,
    PH_CONN_OVER_ADDR,
};

/* Counts a new connection of peer, or says which limit refuses it. On
   accept *slot is what to release (NULL when the address is not counted:
   no per-address limit, or a unix socket). On refusal *log_it says
   whether this is the first refusal of its kind (address, or total) in a
   minute; *refused is how many were refused since the last logged one,
   this one included. */
enum ph_conn_verdict ph_conn_limits_acquire(ph_conn_limits *l,
                                            const struct sockaddr *peer,
                                            time_t now,
                                            struct ph_conn_slot **slot,
                                            bool *log_it, unsigned *refused);
/* Addresses the table holds now (for tests: it must not only grow). */
size_t ph_conn_limits_tracked(const ph_conn_limits *l);
/* The session of slot (as acquire set it; NULL is ok) has ended. */
void ph_conn_limits_release(ph_conn_limits *l, struct ph_conn_slot *slot);

#endif
