/*
 * pop3.h -- POP3 servers (RFC 1939, RFC 2449 CAPA and extended response
 * codes, RFC 3206, RFC 5034 SASL PLAIN), after POE::Component::Server::POP3.
 *
 * The seed's component: spawn options (alias, address, port, hostname,
 * version, handle_connects), client ids, send_to_client, send_event,
 * shutdown, getsockname, and events that programs register for by name
 * ("registered", "listener_failed", "connection", "disconnected",
 * "cmd_<verb>", or "all"). Unlike the seed, a complete default session
 * (AUTHORIZATION -> TRANSACTION -> UPDATE) is built in; every command's
 * step can be replaced, like the SMTP verbs.
 *
 * Events flow: plugins (plugin.h, PH_HOOK_SERVER) -> registered listeners
 * -> the command handler. Responses flow through PH_HOOK_CLIENT plugins.
 *
 * TLS: with a context (tls.h) the server offers STLS (RFC 2595) and can
 * add implicit-TLS listeners (POP3S, RFC 8314); USER/PASS and AUTH PLAIN
 * then wait for TLS unless auth_plaintext says otherwise.
 */
#ifndef POSTHORN_POP3_H
#define POSTHORN_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <posthorn/auth.h>
#include <posthorn/loop.h>
#include <posthorn/plugin.h>
#include <posthorn/store.h>
#include <posthorn/tls.h>

#ifndef PH_API
#define PH_API
#endif

typedef struct ph_pop3_server  ph_pop3_server;
typedef struct ph_pop3_session ph_pop3_session;

/* Status of a response; the -ERR forms carry RFC 2449/3206 codes. */
enum ph_pop3_status {
    PH_POP3_OK = 0,         /* +OK */
    PH_POP3_ERR,            /* -ERR */
    PH_POP3_ERR_AUTH,       /* -ERR [AUTH] */
    PH_POP3_ERR_IN_USE,     /* -ERR [IN-USE] */
    PH_POP3_ERR_SYS_TEMP,   /* -ERR [SYS/TEMP] */
    PH_POP3_ERR_SYS_PERM,   /* -ERR [SYS/PERM] */
};

/* The seed's `port` default (RFC 1939): pass it to get port 110. */
#define PH_POP3_DEFAULT_PORT 110

/* Zero in a field means its default. */
struct ph_pop3_limits {
    size_t   max_line_len;       /* 255: command line incl. CRLF (RFC
                                    2449 4); over: -ERR, session goes on */
    unsigned max_errors;         /* 10: -ERR replies before the session
                                    is closed with -ERR */
    unsigned idle_timeout;       /* 600 s (RFC 1939 3: at least 10 min):
                                    then close without UPDATE */
    unsigned auth_fail_delay_ms; /* 1000: a failed login is answered after
                                    this; PH_POP3_NO_DELAY for none */
    unsigned max_sessions;       /* 0 = no limit: sessions in all; over
                                    it a connection gets -ERR [SYS/TEMP]
                                    and is closed, with no session and no
                                    event (an implicit-TLS listener just
                                    closes it) */
    unsigned max_sessions_per_addr; /* 0 = no limit: sessions of one
                                    client address (IPv6: its /64); over
                                    it, as above (see limits.h) */
    unsigned max_session_time;   /* 3600 s from connect: then -ERR
                                    [SYS/TEMP] and close (no UPDATE);
                                    PH_POP3_NO_LIMIT for none */
    unsigned max_noop_commands;  /* 100 commands in a row without progress
                                    (NOOP STAT LIST UIDL RSET CAPA): then
                                    -ERR [SYS/TEMP] and close; a +OK to
                                    any other command starts the count
                                    again; PH_POP3_NO_LIMIT for none */
    unsigned tls_handshake_timeout; /* 30 s: from the STLS +OK (or the
                                    connect on a POP3S listener) to the
                                    end of the TLS handshake */
    unsigned max_auth_failures;  /* 3: failed logins in one session; the
                                    last -ERR [AUTH] is followed by close */
    unsigned max_auth_failures_per_addr; /* 10: failed logins from one
                                    client address (IPv6: its /64) within
                                    auth_fail_window; after it every login
                                    gets -ERR [SYS/TEMP] until the window
                                    passes; PH_POP3_NO_LIMIT for none. The
                                    delay also grows with them (at most
                                    8 x auth_fail_delay_ms) */
    unsigned auth_fail_window;   /* 300 s */
};
#define PH_POP3_NO_DELAY (~0u)
#define PH_POP3_NO_LIMIT (~0u)

struct ph_pop3_options {
    const char           *alias;      /* default "pop3d" */
    const char           *address;    /* listen at once (a failure is
                                         logged and the port stays 0);
                                         NULL: call ph_pop3_server_listen()
                                         after ph_pop3_register() to get
                                         the "listener_failed" event */
    unsigned              port;       /* with address; 0 picks a free port
                                         (as for SMTP); the seed's 110 is
                                         PH_POP3_DEFAULT_PORT */
    const char           *hostname;   /* default: this machine's name */
    ph_listener_failed_fn *listener_failed; /* bind/listen failures, as
                                         for SMTP (the "listener_failed"
                                         event is sent as well) */
    void                 *listener_ctx;
    ph_conn_limits       *conn_limits;/* shared with other servers (the
                                         program frees it after them);
                                         NULL: this server's own, from
                                         limits.max_sessions[_per_addr] */
    const char           *version;    /* in the greeting; default
                                         "posthorn <version>" */
    int                   handle_connects; /* seed option, default on; -1:
                                         no greeting, the program sends
                                         its own (ph_pop3_send_to_client) */
    bool                  apop;       /* the program can check APOP (see
                                         ph_pop3_apop_check): a timestamp
                                         goes in the greeting */
    struct ph_pop3_limits limits;
    const struct ph_maildrop_ops *maildrop; /* default: ph_maildir_ops */
    void                 *maildrop_ctx;
    bool                  reuse_port;
    void                 *user_data;
    ph_tls_ctx           *tls;        /* STLS (RFC 2595) is offered with
                                         it, and implicit-TLS listeners
                                         may be added; it must outlive
                                         the server */
    ph_auth_guard        *auth_guard; /* failed logins per address,
                                         shared with other servers (auth.h);
                                         NULL: the server makes its own
                                         from the limits */
    bool                  auth_plaintext; /* allow USER/PASS and AUTH
                                         PLAIN without TLS even though a
                                         context exists (tests, trusted
                                         networks); without a context
                                         they are always allowed. APOP
                                         sends no password: always on */
};

/* ---- authentication --------------------------------------------------- */

/* A login attempt, valid until ph_pop3_auth_reply() for it. */
struct ph_pop3_auth {
    const char *mech;        /* "USER" (USER/PASS), "APOP", "PLAIN" */
    const char *user;        /* authentication identity */
    const char *password;    /* USER/PASS and PLAIN; NULL for APOP */
    const char *authzid;     /* PLAIN's authorization identity, or "" */
    const char *apop_digest; /* APOP: 32 hex digits */
    const char *apop_timestamp; /* APOP: the greeting's <...> */
};

/* The program's check, started by the built-in USER/PASS, APOP and AUTH
   handlers (a replaced one can call ph_pop3_default_handler() to keep
   this). Answer now or later with ph_pop3_auth_reply(); to answer later,
   take ph_pop3_session_ref() first and unref after (a client that left
   meanwhile makes the answer return PH_ECLOSED). */
typedef void ph_pop3_verify_fn(ph_pop3_session *s,
                               const struct ph_pop3_auth *auth, void *ctx);

/* status PH_POP3_OK accepts and opens the maildrop named locator (for
   Maildir: its directory) for the user; anything else refuses (the reply
   waits auth_fail_delay_ms). 0 or enum ph_err. */
PH_API int ph_pop3_auth_reply(ph_pop3_session *s, enum ph_pop3_status st,
                              const char *locator);
/* APOP (RFC 1939 7): true if digest == MD5(timestamp secret), in constant
   time. */
PH_API bool ph_pop3_apop_check(const char *timestamp, const char *secret,
                               const char *digest);

/* ---- events (the seed's register/unregister) -------------------------- */

/* Called for each event registered for; ev is valid during the call. */
typedef void ph_pop3_event_fn(ph_pop3_server *srv, const struct ph_event *ev,
                              void *ctx);

/* Registers fn for events (NULL-terminated names without "pop3d_", or
   "all"); sends it "registered" at once. 0 or enum ph_err. */
PH_API int ph_pop3_register(ph_pop3_server *srv, ph_pop3_event_fn *fn,
                            void *ctx, const char *const *events);
PH_API int ph_pop3_unregister(ph_pop3_server *srv, ph_pop3_event_fn *fn,
                              void *ctx, const char *const *events);

/* ---- command handlers ------------------------------------------------- */

/*
 * A command step: the verb (upper case) and its arguments (split at
 * spaces, at most 8). Reply with ph_pop3_reply() / ph_pop3_reply_lines(),
 * now or later (return PH_PENDING). The state check (-ERR "command
 * not valid in this state") is done before the handler runs.
 */
typedef enum ph_result ph_pop3_handler(ph_pop3_session *s,
                                            const char *verb, size_t argc,
                                            const char *const *argv);

/* Replaces (or adds, or with fn NULL removes) the handler of verb. A new
   verb is allowed in every state. 0 or enum ph_err. */
PH_API int ph_pop3_server_set_handler(ph_pop3_server *srv, const char *verb,
                                      ph_pop3_handler *fn);
/* The library's handler for verb, for overrides to fall back to (the
   seed's SUPER::); for a verb it has none of, the handler of unknown
   verbs ("-ERR Unknown command"). Never NULL. */
PH_API ph_pop3_handler *ph_pop3_default_handler(ph_pop3_server *srv,
                                                const char *verb);

/* ---- server ----------------------------------------------------------- */

PH_API ph_pop3_server *ph_pop3_server_new(ph_loop *loop,
                                          const struct ph_pop3_options *o);
PH_API void ph_pop3_server_free(ph_pop3_server *srv);
PH_API int ph_pop3_server_listen(ph_pop3_server *srv, const char *addr);
/* Adds an implicit-TLS listener (RFC 8314: POP3S, port 995): the TLS
   handshake comes first, then the "connection" event and the greeting.
   Needs opts->tls: without it PH_EINVAL and "listener_failed". */
PH_API int ph_pop3_server_listen_tls(ph_pop3_server *srv, const char *addr);
PH_API void ph_pop3_server_set_verify(ph_pop3_server *srv,
                                      ph_pop3_verify_fn *fn, void *ctx);
/* The seed's methods. session_id: a number unique among the servers of
   this loop (the seed's POE session id). */
PH_API unsigned long ph_pop3_server_id(ph_pop3_server *srv);
PH_API int ph_pop3_server_getsockname(ph_pop3_server *srv, size_t idx,
                                      struct sockaddr_storage *ss_out,
                                      socklen_t *len_out);
PH_API unsigned ph_pop3_server_port(ph_pop3_server *srv);
/* Sessions open now (for a program's graceful stop). */
PH_API unsigned ph_pop3_server_session_count(ph_pop3_server *srv);
/* Stop listening, disconnect every client (no UPDATE). */
PH_API void ph_pop3_server_shutdown(ph_pop3_server *srv);
/* Injects an event (name, NULL-terminated args) into the pipeline and the
   listeners, as if the server had generated it. */
PH_API int ph_pop3_send_event(ph_pop3_server *srv, const char *name,
                              const char *const *args);
/* Sends text (a CRLF is added) to a client by session id; PH_EINVAL if
   no such client. The text passes the PH_HOOK_CLIENT plugins. */
PH_API int ph_pop3_send_to_client(ph_pop3_server *srv,
                                  const char *session_id, const char *text);
PH_API ph_pipeline *ph_pop3_server_pipeline(ph_pop3_server *srv);
PH_API void *ph_pop3_server_data(ph_pop3_server *srv);
PH_API void ph_pop3_server_set_data(ph_pop3_server *srv, void *data);
PH_API const char *ph_pop3_server_alias(ph_pop3_server *srv);
PH_API const char *ph_pop3_server_hostname(ph_pop3_server *srv);
PH_API ph_loop *ph_pop3_server_loop(ph_pop3_server *srv);

/* ---- session ---------------------------------------------------------- */

/* A one-line response: "+OK text", "-ERR [IN-USE] text". */
PH_API int ph_pop3_reply(ph_pop3_session *s, enum ph_pop3_status st,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A multi-line response: "+OK first", the lines dot-stuffed, ".".
   PH_EINVAL, and nothing sent, if a line holds CR or LF. */
PH_API int ph_pop3_reply_lines(ph_pop3_session *s, const char *first,
                               const char *const *lines, size_t n);
/* The session id, as in the log ("5f3a9c01000000a2"), unique in the
   process for its run: the seed's client id. Same type as SMTP's. */
PH_API const char *ph_pop3_session_id(ph_pop3_session *s);
PH_API ph_pop3_server *ph_pop3_session_server(ph_pop3_session *s);
PH_API const char *ph_pop3_session_user(ph_pop3_session *s);
/* Addresses ("" and 0 once the connection is gone). */
PH_API const struct sockaddr *ph_pop3_session_peer(ph_pop3_session *s);
PH_API const struct sockaddr *ph_pop3_session_local(ph_pop3_session *s);
PH_API const char *ph_pop3_session_peer_addr(ph_pop3_session *s);
PH_API unsigned ph_pop3_session_peer_port(ph_pop3_session *s);
PH_API const char *ph_pop3_session_local_addr(ph_pop3_session *s);
PH_API unsigned ph_pop3_session_local_port(ph_pop3_session *s);
/* TLS protocol and cipher, when the connection is encrypted (after STLS
   or on an implicit-TLS listener); false otherwise. */
PH_API bool ph_pop3_session_tls(ph_pop3_session *s, struct ph_tls_info *out);
PH_API void *ph_pop3_session_data(ph_pop3_session *s);
PH_API void ph_pop3_session_set_data(ph_pop3_session *s, void *data);
PH_API void ph_pop3_session_ref(ph_pop3_session *s);
PH_API void ph_pop3_session_unref(ph_pop3_session *s);

#endif
