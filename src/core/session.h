/*
 * session.h -- the session core that SMTP/LMTP and POP3 share: a server
 * base (listeners, the sessions it holds, connection limits, shutdown)
 * and a session base (the connection and its lifetime, refs, the id, the
 * read loop with pipelining and back-pressure, idle timeout, maximum
 * session time, commands without progress, errors, the failed-AUTH
 * delay, TLS). A protocol embeds `struct ph_server` in its server and
 * `struct ph_session` in its session and supplies a table of operations;
 * the core calls up only through that table. Never installed.
 *
 * Flow: listener accept -> connection limits -> ops->accept (the protocol
 * makes its session, calling ph_session_init) -> conn events -> the read
 * loop -> ops->input (the protocol reads a line or data, dispatches
 * through its verb table) ... -> ph_session_finish -> ops->finish ->
 * last unref -> ops->free.
 */
#ifndef PH_CORE_SESSION_H
#define PH_CORE_SESSION_H

#include <sys/time.h>

#include "core/connlimit.h"
#include "core/core_internal.h"

#define PH_SERVER_MAX_LISTENERS 8
/* Seconds a closing session may take to flush its goodbye at shutdown. */
#define PH_SHUTDOWN_FLUSH_S 5

struct ph_server;
struct ph_session;

/* What both protocols' limits have (filled in by the protocol). */
struct ph_core_limits {
    unsigned idle_timeout;          /* seconds */
    unsigned max_session_time;      /* seconds; PH_CORE_NO_LIMIT: none */
    unsigned max_noop_commands;     /* in a row; PH_CORE_NO_LIMIT: none */
    unsigned max_errors;
    unsigned max_auth_failures;     /* in one session */
    unsigned tls_handshake_timeout;
    size_t   line_max;              /* the line buffer, CRLF included */
};
#define PH_CORE_NO_LIMIT (~0u)

struct ph_session_ops {
    /* Log key prefix of the protocol's log lines ("session"). */
    const char *tls_injected_event;  /* warn event name for plaintext
                                        dropped at a STARTTLS/STLS switch */
    const char *const *state_names;  /* the protocol's states, for logs */
    /* Another step of input may be taken (no reply awaited, no multi-line
       output under way). */
    bool (*can_read)(struct ph_session *ss);
    /* Takes one step of input (a line, or data). False: stop reading
       until called again (nothing complete yet, or the protocol paused). */
    bool (*input)(struct ph_session *ss);
    /* Output drained; true if the protocol took it (multi-line output),
       else the core resumes reading. NULL: never taken. */
    bool (*drained)(struct ph_session *ss);
    /* No reply may time out: the protocol is busy for the client
       (multi-line output under way). NULL: never. */
    bool (*busy)(struct ph_session *ss);
    /* Write the goodbye for `why` (an enum ph_goodbye); the core closes
       after it. */
    void (*goodbye)(struct ph_session *ss, int why);
    /* The TLS handshake is done (implicit TLS: greet now). */
    void (*tls_ready)(struct ph_session *ss);
    /* The disconnect log line's protocol fields ("transactions=1"). */
    void (*describe)(struct ph_session *ss, char *buf, size_t cap);
    /* The connection is gone: the protocol's cleanup and events. */
    void (*finish)(struct ph_session *ss, const char *reason);
    /* Graceful shutdown reaches this session (PH_GOODBYE_SHUTDOWN now,
       or later when a transaction ends: the protocol decides). */
    void (*shutdown)(struct ph_session *ss);
    /* A failed login's reply (535 / -ERR [AUTH]), once its delay is
       over (ph_session_auth_fail). */
    void (*auth_refused)(struct ph_session *ss);
    /* Last ref gone. */
    void (*free)(struct ph_session *ss);
};

enum ph_goodbye {
    PH_GOODBYE_IDLE = 0,       /* idle timeout */
    PH_GOODBYE_EXPIRED,        /* max_session_time */
    PH_GOODBYE_NOOPS,          /* max_noop_commands */
    PH_GOODBYE_ERRORS,         /* max_errors */
    PH_GOODBYE_SHUTDOWN,       /* the server stops */
    PH_GOODBYE_AUTH,           /* max_auth_failures */
};

struct ph_session {
    struct ph_server            *srv;     /* NULL once the server died */
    ph_loop                     *loop;
    struct ph_conn              *conn;    /* NULL once closed */
    const struct ph_session_ops *ops;
    struct ph_session           *prev, *next;
    unsigned                     refs;
    char                         id[17];
    int                          state;   /* the protocol's state enum */
    bool                         dead;    /* connection gone */
    bool                         closing; /* close after flush asked */
    bool                         waiting; /* a handler's answer pending */
    bool                         tls_starting; /* read nothing until the
                                                  handshake is over */
    bool                         unlinked;
    unsigned                     nerrors;
    unsigned                     nauth_failures;
    unsigned                     noops;   /* commands without progress */
    struct ph_linereader         lr;
    char                        *line;    /* lr.max + 1 */
    struct timeval               started;
    struct event                *expire_ev;   /* max_session_time */
    struct event                *delay_ev;    /* failed-AUTH delay */
    void                       (*delay_fn)(struct ph_session *ss);
    struct ph_conn_slot         *slot;    /* in the connection limits */
};

/* What a protocol's accept does: make its session (ph_session_init),
   then greet or start implicit TLS (the session may be gone again when
   it returns, if that failed). 0, or PH_ENOMEM (fd closed, no session). */
typedef int ph_server_accept_fn(struct ph_server *srv, evutil_socket_t fd,
                                const struct sockaddr *peer,
                                socklen_t peer_len, bool tls);

struct ph_server {
    ph_loop               *loop;
    const char            *proto;       /* "smtp", "lmtp", "pop3" */
    char                  *alias, *hostname;
    ph_server_accept_fn   *accept;
    const char            *refusal;     /* line (CRLF) for a connection
                                           over a limit */
    struct ph_core_limits  lim;
    struct ph_listener     listeners[PH_SERVER_MAX_LISTENERS];
    size_t                 nlisteners;
    bool                   reuse_port;
    bool                   shutting_down;
    struct ph_session     *sessions;    /* doubly linked */
    unsigned               nsessions;
    ph_conn_limits        *climits;
    bool                   own_climits;
    bool                   pending;     /* counted, not yet a session */
    struct ph_conn_slot   *pending_slot;
    ph_tls_ctx            *tls;
    struct ph_auth_guard  *guard;       /* failed AUTH per address */
    bool                   shared_guard;
    ph_listener_failed_fn *failed_fn;   /* the program's callback for a
                                           failed bind/listen (options) */
    void                  *failed_ctx;
    /* ...and the protocol's "listener_failed" event (the POP3 seed's),
       which plugins (and POP3 listeners) hear. Both get every failure. */
    void                 (*failed_event)(struct ph_server *srv,
                                         const char *op, int errnum,
                                         const char *text);
};

/* ---- server (server.c) ------------------------------------------------ */

/* Fills the base: alias and hostname (NULL: defaults), connection limits
   (the program's shared object, or our own of max_total/max_per_addr).
   0 or PH_ENOMEM (then ph_server_cleanup). */
int  ph_server_init(struct ph_server *srv, ph_loop *loop, const char *proto,
                    const char *alias, const char *hostname,
                    ph_conn_limits *shared, unsigned max_total,
                    unsigned max_per_addr);
void ph_server_cleanup(struct ph_server *srv);
/* Adds a listener (tls: implicit TLS, needs srv->tls). Failures go to
   failed_fn and the log. 0 or enum ph_err. */
int  ph_server_listen(struct ph_server *srv, const char *addr, bool tls);
void ph_server_close_listeners(struct ph_server *srv);
/* The seeds' spawn(address, port): listen at once (IPv6 in brackets). */
int  ph_server_listen_at(struct ph_server *srv, const char *address,
                         unsigned port);
int  ph_server_getsockname(struct ph_server *srv, size_t idx,
                           struct sockaddr_storage *ss_out,
                           socklen_t *len_out);
unsigned ph_server_port(struct ph_server *srv);
/* A guard for AUTH failures, unless the program shares one. */
void ph_server_guard_for_verify(struct ph_server *srv, bool on,
                                unsigned max_per_addr, unsigned window_s);
/* Stops listening and tells each session (ops->shutdown). */
void ph_server_shutdown(struct ph_server *srv);
/* Ends every session without a word (server free). */
void ph_server_drop_sessions(struct ph_server *srv);

/* ---- session (session.c) ---------------------------------------------- */

/* Makes the connection, links the session into srv, logs the connect.
   0, or PH_ENOMEM (fd closed; nothing linked). */
int  ph_session_init(struct ph_session *ss, struct ph_server *srv,
                     evutil_socket_t fd, const struct sockaddr *peer,
                     socklen_t peer_len, const struct ph_session_ops *ops);
void ph_session_ref(struct ph_session *ss);
void ph_session_unref(struct ph_session *ss);
/* Close once the output is written (reads nothing more). */
void ph_session_close(struct ph_session *ss);
/* The connection is gone: log, unlink, ops->finish, free the conn. */
void ph_session_finish(struct ph_session *ss, const char *reason);
/* The next CRLF line of input into ss->line. */
enum ph_line_result ph_session_read_line(struct ph_session *ss,
                                         size_t *len_out);
/* A handler answers later: stop reading until ph_session_resume. */
void ph_session_wait(struct ph_session *ss);
void ph_session_resume(struct ph_session *ss);
/* A command that makes no progress (NOOP, RSET, ...): false once the
   limit is passed (ops->goodbye(PH_GOODBYE_NOOPS) has then run). */
bool ph_session_noop(struct ph_session *ss);
/* A command that made progress: the count starts again. */
void ph_session_progress(struct ph_session *ss);
/* An error reply: false once max_errors is reached (goodbye ran). */
bool ph_session_error(struct ph_session *ss);
/* Runs fn after ms (one at a time; a new one replaces the old). */
int  ph_session_delay(struct ph_session *ss, unsigned ms,
                      void (*fn)(struct ph_session *ss));
/* A failed login (logged with mech and user, which may be NULL): counted
   for the session and the peer's address; ops->auth_refused answers it
   after base_ms grown with that address's failures (auth_guard.h), at
   once for 0 or PH_CORE_NO_LIMIT; after max_auth_failures the session
   then says goodbye (PH_GOODBYE_AUTH) and closes. */
void ph_session_auth_fail(struct ph_session *ss, unsigned base_ms,
                          const char *mech, const char *user);
/* Moves the protocol's state machine (logged at debug:
   "state=mail->rcpt", from ops->state_names). */
void ph_session_set_state(struct ph_session *ss, int next);
/* True once the peer's address is over its failed-login limit. */
bool ph_session_auth_blocked(struct ph_session *ss);
/* Implicit TLS at accept; STARTTLS/STLS once the go-ahead is queued.
   Nothing is read until ops->tls_ready. 0 or enum ph_err. */
int  ph_session_accept_tls(struct ph_session *ss);
int  ph_session_start_tls(struct ph_session *ss);
bool ph_session_tls_on(const struct ph_session *ss);
static inline const struct sockaddr *
ph_session_peer(const struct ph_session *ss)
{
    return ss->conn ? (const struct sockaddr *)&ss->conn->peer : NULL;
}
static inline const struct sockaddr *
ph_session_local(const struct ph_session *ss)
{
    return ss->conn ? (const struct sockaddr *)&ss->conn->local : NULL;
}
/* Numeric address text ("" once closed) and port (0). */
static inline const char *
ph_session_peer_addr(const struct ph_session *ss)
{
    return ss->conn ? ss->conn->peer_addr : "";
}
static inline unsigned
ph_session_peer_port(const struct ph_session *ss)
{
    return ss->conn ? ss->conn->peer_port : 0;
}
static inline const char *
ph_session_local_addr(const struct ph_session *ss)
{
    return ss->conn ? ss->conn->local_addr : "";
}
static inline unsigned
ph_session_local_port(const struct ph_session *ss)
{
    return ss->conn ? ss->conn->local_port : 0;
}
/* The connection could switch to TLS now (STARTTLS/STLS to offer). */
static inline bool
ph_session_tls_possible(const struct ph_session *ss)
{
    return ss->srv != NULL && ss->srv->tls != NULL && ss->conn != NULL &&
           ss->conn->tls == PH_CONN_TLS_OFF;
}

#endif
