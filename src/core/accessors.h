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
void ph_##p##_server_set_verify(ph_##p##_server *srv,                       \
                                ph_##p##_verify_fn *fn, void *ctx)           \
{                                                                            \
    srv->verify = fn;                                                        \
    srv->verify_ctx = ctx;                                                   \
    ph_server_guard_for_verify(&srv->core, fn != NULL,                       \
                               srv->limits.max_auth_failures_per_addr,       \
                               srv->limits.auth_fail_window);                \
}                                                                            \
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

/*
 * The defaults the two protocols' limits share (struct ph_smtp_limits and
 * struct ph_pop3_limits name these fields alike), and the core's copy of
 * its part. The protocol fills its own fields first (line length, errors,
 * idle timeout), then this.
 */
#define PH_CORE_LIMITS_FILL(c, l)                                            \
    do {                                                                     \
        if ((l)->max_line_len < 16)                                          \
            (l)->max_line_len = 16;                                          \
        if ((l)->auth_fail_delay_ms == 0)                                    \
            (l)->auth_fail_delay_ms = 1000;                                  \
        if ((l)->tls_handshake_timeout == 0)                                 \
            (l)->tls_handshake_timeout = 30;                                 \
        if ((l)->max_auth_failures == 0)                                     \
            (l)->max_auth_failures = 3;                                      \
        if ((l)->max_auth_failures_per_addr == 0)                            \
            (l)->max_auth_failures_per_addr = 10;                            \
        if ((l)->auth_fail_window == 0)                                      \
            (l)->auth_fail_window = 300;                                     \
        if ((l)->max_session_time == 0)                                      \
            (l)->max_session_time = 3600;                                    \
        if ((l)->max_noop_commands == 0)                                     \
            (l)->max_noop_commands = 100;                                    \
        (c)->idle_timeout = (l)->idle_timeout;                               \
        (c)->max_session_time = (l)->max_session_time;                       \
        (c)->max_noop_commands = (l)->max_noop_commands;                     \
        (c)->max_errors = (l)->max_errors;                                   \
        (c)->max_auth_failures = (l)->max_auth_failures;                     \
        (c)->tls_handshake_timeout = (l)->tls_handshake_timeout;             \
        (c)->line_max = (l)->max_line_len;                                   \
    } while (0)

/* The option fields both protocols' options name alike, into the core. */
#define PH_CORE_OPTIONS(c, o)                                                \
    do {                                                                     \
        (c)->reuse_port = (o)->reuse_port;                                   \
        (c)->failed_fn = (o)->listener_failed;                               \
        (c)->failed_ctx = (o)->listener_ctx;                                 \
        (c)->tls = (o)->tls;                                                 \
        (c)->guard = (o)->auth_guard;                                        \
        (c)->shared_guard = (o)->auth_guard != NULL;                         \
    } while (0)

#endif
