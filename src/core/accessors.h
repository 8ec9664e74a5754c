/*
 * accessors.h -- the public functions every protocol server and session
 * has over the core's parts (listen, ports, counts, shutdown, refs, ids,
 * addresses, TLS, per-session data), written once: a protocol file
 * expands PH_CORE_ACCESSORS(smtp) or (pop3). Its server's first member
 * must be `struct ph_server core`, its session's `struct ph_session ss`,
 * and both have `user_data`. Never installed.
 */
#ifndef PH_CORE_ACCESSORS_H
#define PH_CORE_ACCESSORS_H

#include "core/session.h"

#define PH_CORE_SERVER_ACCESSORS(p)                                          \
int ph_##p##_server_listen(ph_##p##_server *srv, const char *addr)           \
{ return ph_server_listen(&srv->core, addr, false); }                        \
int ph_##p##_server_listen_tls(ph_##p##_server *srv, const char *addr)       \
{ return ph_server_listen(&srv->core, addr, true); }                         \
int ph_##p##_server_getsockname(ph_##p##_server *srv, size_t idx,            \
                                struct sockaddr_storage *ss_out,             \
                                socklen_t *len_out)                          \
{ return ph_server_getsockname(&srv->core, idx, ss_out, len_out); }          \
unsigned ph_##p##_server_port(ph_##p##_server *srv)                          \
{ return ph_server_port(&srv->core); }                                       \
unsigned ph_##p##_server_session_count(ph_##p##_server *srv)                 \
{ return srv->core.nsessions; }                                              \
void ph_##p##_server_shutdown(ph_##p##_server *srv)                          \
{ ph_server_shutdown(&srv->core); }                                          \
const char *ph_##p##_server_alias(ph_##p##_server *srv)                      \
{ return srv->core.alias; }                                                  \
const char *ph_##p##_server_hostname(ph_##p##_server *srv)                   \
{ return srv->core.hostname; }                                               \
ph_loop *ph_##p##_server_loop(ph_##p##_server *srv)                          \
{ return srv->core.loop; }                                                   \
void *ph_##p##_server_data(ph_##p##_server *srv)                             \
{ return srv->user_data; }                                                   \
void ph_##p##_server_set_data(ph_##p##_server *srv, void *data)              \
{ srv->user_data = data; }

#define PH_CORE_SESSION_ACCESSORS(p)                                         \
void ph_##p##_session_ref(ph_##p##_session *s)                               \
{ ph_session_ref(&s->ss); }                                                  \
void ph_##p##_session_unref(ph_##p##_session *s)                             \
{ if (s != NULL) ph_session_unref(&s->ss); }                                 \
const char *ph_##p##_session_id(ph_##p##_session *s)                         \
{ return s->ss.id; }                                                         \
ph_##p##_server *ph_##p##_session_server(ph_##p##_session *s)                \
{ return s->srv; }                                                           \
void *ph_##p##_session_data(ph_##p##_session *s)                             \
{ return s->user_data; }                                                     \
void ph_##p##_session_set_data(ph_##p##_session *s, void *data)              \
{ s->user_data = data; }                                                     \
const struct sockaddr *ph_##p##_session_peer(ph_##p##_session *s)            \
{ return ph_session_peer(&s->ss); }                                          \
const struct sockaddr *ph_##p##_session_local(ph_##p##_session *s)           \
{ return ph_session_local(&s->ss); }                                         \
const char *ph_##p##_session_peer_addr(ph_##p##_session *s)                  \
{ return ph_session_peer_addr(&s->ss); }                                     \
unsigned ph_##p##_session_peer_port(ph_##p##_session *s)                     \
{ return ph_session_peer_port(&s->ss); }                                     \
const char *ph_##p##_session_local_addr(ph_##p##_session *s)                 \
{ return ph_session_local_addr(&s->ss); }                                    \
unsigned ph_##p##_session_local_port(ph_##p##_session *s)                    \
{ return ph_session_local_port(&s->ss); }                                    \
bool ph_##p##_session_tls(ph_##p##_session *s, struct ph_tls_info *out)      \
{ return ph_conn_tls_info(s->ss.conn, out); }

#endif
