/*
 * limits.h -- connection limits shared by any number of servers, SMTP and
 * POP3 alike: sessions in all, and sessions per client address (an IPv4
 * address, an IPv6 /64; unix-socket clients count only in the total).
 *
 * Each server makes its own from its limits (max_sessions,
 * max_sessions_per_addr) unless the program passes one in its options
 * (`conn_limits`): then the numbers of that object count for every server
 * given it -- posthornd gives one to all its listeners, so that one client
 * address holds at most N sessions of the whole daemon. The program frees
 * it after the servers.
 *
 * A connection over a limit never becomes a session: the listener writes
 * one line (SMTP `421 4.7.0`, POP3 `-ERR [SYS/TEMP]`; nothing on an
 * implicit-TLS port) and closes it. Refusals are logged at warn at most
 * once a minute per address (and once a minute for the total), with the
 * number refused since the last such line.
 */
#ifndef POSTHORN_LIMITS_H
#define POSTHORN_LIMITS_H

typedef struct ph_conn_limits ph_conn_limits;

/* max_total: sessions in all (0: no limit); max_per_addr: per client
   address (0: no limit). NULL on ENOMEM. */
PH_API ph_conn_limits *ph_conn_limits_new(unsigned max_total,
                                          unsigned max_per_addr);
/* After every server using it is freed. NULL is ok. */
PH_API void ph_conn_limits_free(ph_conn_limits *l);
/* Sessions counted now, in all. */
PH_API unsigned ph_conn_limits_count(const ph_conn_limits *l);

#endif
