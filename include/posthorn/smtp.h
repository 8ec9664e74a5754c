/*
 * smtp.h -- SMTP, ESMTP and LMTP servers (RFC 5321, RFC 2033).
 *
 * Concepts from the seeds: a server is spawned with Address/Port/Hostname/
 * Alias (POE::Component::Server::SMTP); every command verb goes to one
 * handler in a verb table, unknown verbs to a default handler; the ESMTP
 * session (Apache2::Protocol::ESMTP) has a default for every step --
 * CONNECT, HELO, EHLO, MAIL, RCPT, DATA, HEADER, EOH, BODY, EOM, EXPN,
 * VRFY, NOOP, RSET, HELP, QUIT -- and each can be replaced.
 *
 * Threading: a server and its sessions belong to the thread running their
 * loop. No call here is thread-safe; none blocks.
 */
#ifndef POSTHORN_SMTP_H
#define POSTHORN_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <posthorn/auth.h>
#include <posthorn/loop.h>
#include <posthorn/plugin.h>
#include <posthorn/reply.h>
#include <posthorn/tls.h>

#ifndef PH_API
#define PH_API
#endif

typedef struct ph_smtp_server  ph_smtp_server;
typedef struct ph_smtp_session ph_smtp_session;

enum ph_smtp_mode {
    PH_SMTP_MODE_ESMTP = 0, /* seed 002's full session with every default */
    PH_SMTP_MODE_BARE  = 1, /* seed 000: a 220 banner and a 502 default */
    PH_SMTP_MODE_LMTP  = 2, /* RFC 2033: LHLO, one reply per recipient */
};

/*
 * Bytes in DATA that are not part of a CRLF pair. They never end a line
 * or the message (SMTP smuggling); this chooses what happens to them.
 */
enum ph_smtp_bare_eol {
    PH_SMTP_BARE_EOL_REJECT = 0, /* default: the message gets 550 5.6.0 */
    PH_SMTP_BARE_EOL_KEEP   = 1, /* kept as message bytes, unchanged */
};

/*
 * Limits. Zero in any field means "the default" given after it. Each
 * comment says what the client sees when the limit is hit.
 */
struct ph_smtp_limits {
    size_t   max_line_len;      /* 512: command line incl. CRLF (RFC 5321
                                   4.5.3.1.4); over: 500 5.5.2, goes on */
    size_t   max_text_line_len; /* 1000: DATA line incl. CRLF (4.5.3.1.6);
                                   over: the message gets 500 5.5.2 */
    size_t   max_message_size;  /* 10485760: advertised as SIZE; MAIL
                                   SIZE= over it and a larger message:
                                   552 5.3.4 */
    unsigned max_recipients;    /* 100: RCPT after it: 452 4.5.3 */
    unsigned max_errors;        /* 20: 4xx/5xx replies to commands before
                                   421 4.7.0 and close */
    unsigned idle_timeout;      /* 300 s without input: 421 4.4.2 and
                                   close */
    size_t   max_header_len;    /* 65536: an unfolded header longer than
                                   this ends the header section (EOH) and
                                   the rest goes to BODY */
    unsigned max_sessions;      /* 0 = no limit: sessions in all; over
                                   it a connection gets 421 4.7.0 and is
                                   closed (no session, no CONNECT) */
    unsigned max_sessions_per_addr; /* 0 = no limit: sessions of one
                                   client address (IPv6: its /64); over
                                   it, as above (see limits.h) */
    unsigned max_session_time;  /* 3600 s from connect: then 421 4.4.2
                                   and close; PH_SMTP_NO_LIMIT for none */
    unsigned max_noop_commands; /* 100 commands in a row that make no
                                   progress (NOOP RSET VRFY EXPN HELP
                                   HELO EHLO LHLO): then 421 4.7.0 and
                                   close; a 2xx/3xx to MAIL, RCPT, DATA,
                                   BDAT, AUTH or STARTTLS starts the count
                                   again; PH_SMTP_NO_LIMIT for none */
    unsigned max_auth_failures; /* 3: failed AUTHs in one session; the
                                   last 535 is followed by 421 4.7.0 and
                                   close */
    unsigned auth_fail_delay_ms;/* 1000: a failed AUTH is answered after
                                   this (times the failures from that
                                   address, at most 8x); PH_SMTP_NO_DELAY
                                   for none */
    unsigned max_auth_failures_per_addr; /* 10: failures from one client
                                   address (IPv6: its /64) within
                                   auth_fail_window; after it AUTH gets
                                   454 4.7.0 until the window passes;
                                   PH_SMTP_NO_LIMIT for none */
    unsigned auth_fail_window;  /* 300 s */
    unsigned tls_handshake_timeout; /* 30 s for the TLS handshake */
};
#define PH_SMTP_NO_DELAY (~0u)
#define PH_SMTP_NO_LIMIT (~0u)

/*
 * Server options: the seed's spawn(%args). Fill with designated
 * initializers; omitted fields take their defaults.
 */
struct ph_smtp_options {
    const char           *alias;     /* name in logs; default "smtpd" */
    const char           *address;   /* listen here at once ("127.0.0.1",
                                        "::1"); NULL: call
                                        ph_smtp_server_listen() yourself */
    unsigned              port;      /* with address; 0 picks a free port */
    const char           *hostname;  /* banner/EHLO name; default: this
                                        machine's name */
    enum ph_smtp_mode     mode;
    struct ph_smtp_limits limits;
    bool                  line_mode; /* seed 002 chunkmode false: BODY gets
                                        one line at a time */
    size_t                chunk_size;/* seed 002 chunksize: BODY chunks of
                                        at most this; default 65536 */
    bool                  whole_message; /* also keep the message in one
                                        buffer, see ph_smtp_message() */
    enum ph_smtp_bare_eol bare_eol;
    bool                  reuse_port; /* SO_REUSEPORT on listeners */
    void                 *user_data;  /* per-server data, see
                                         ph_smtp_server_data() */
    ph_conn_limits       *conn_limits; /* shared with other servers (the
                                         program frees it after them);
                                         NULL: this server's own, from
                                         limits.max_sessions[_per_addr] */
    ph_listener_failed_fn *listener_failed; /* bind/listen failures */
    void                 *listener_ctx;
    ph_tls_ctx           *tls;        /* STARTTLS (RFC 3207) is offered
                                         with it, and implicit-TLS
                                         listeners may be added; it must
                                         outlive the server */
    bool                  auth_plaintext; /* offer AUTH on connections
                                         without TLS even though a TLS
                                         context exists (tests, trusted
                                         networks); without a context
                                         AUTH is always plaintext */
    ph_auth_guard        *auth_guard; /* failed logins per address,
                                         shared with other servers (auth.h);
                                         NULL: the server makes its own
                                         from the limits */
    bool                  auth_required; /* MAIL before AUTH: 530 5.7.0
                                         (submission, RFC 6409 4.3) */
};

/*
 * A command handler: the seed's ARG0 (the verb, upper case) and ARG1 (the
 * text after the verb and one space, "" if none). Both are valid until
 * the handler returns; a PH_PENDING handler copies what it needs.
 *
 * In ESMTP and LMTP mode the session checks sequencing (503) and, for
 * MAIL and RCPT, parses the path and parameters (501/555) before the
 * handler runs; the handler reads the result with
 * ph_smtp_session_path()/_params(). A 2xx reply to MAIL starts the
 * transaction, a 2xx reply to RCPT adds the recipient, a 354 reply to
 * DATA starts reading the message, a 2xx to HELO/EHLO/LHLO records the
 * name. Any other reply leaves the state unchanged.
 *
 * BDAT (RFC 3030 CHUNKING) is read by the library. Its handler runs at
 * the first chunk of a message only, like DATA's: it prepares, then
 * takes the chunk by calling ph_smtp_default_handler(srv, "BDAT"), which
 * sends no reply -- each chunk is answered once read, and the LAST one
 * by eom. Any reply before the chunk is read (the handler's, a cmd_bdat
 * plugin's, a 503) refuses it: its octets are read and dropped and the
 * transaction ends. A malformed size gets 501 and the connection is
 * closed, as the chunk's end cannot be found. Removing the BDAT verb
 * withdraws CHUNKING and BINARYMIME from EHLO.
 */
typedef enum ph_result ph_smtp_handler(ph_smtp_session *s, const char *verb,
                                       const char *arg);

/*
 * The message callbacks (seed 002's HEADER, EOH, BODY, EOM). Pointers
 * handed to them are valid until the callback returns. No reply is sent
 * for header/eoh/body; eom must reply (or return PH_PENDING and reply
 * later). In LMTP mode eom replies once per accepted recipient, in RCPT
 * order. A NULL member keeps the default. BDAT chunks come through the
 * same callbacks as DATA (raw: no dot-stuffing to remove), and eom
 * answers the LAST chunk.
 */
struct ph_smtp_callbacks {
    /* One header, unfolded (CRLF before WSP removed), value without the
       leading blanks and the final CRLF. name and value are not
       NUL-terminated: use the lengths. */
    void (*header)(ph_smtp_session *s, const char *name, size_t name_len,
                   const char *value, size_t value_len);
    /* End of headers: a blank line, or a line that is not a header. */
    void (*eoh)(ph_smtp_session *s);
    /* Body bytes, dot-unstuffed, CRLF line ends as received. */
    void (*body)(ph_smtp_session *s, const char *chunk, size_t len);
    /* The message bytes as received (dot-unstuffed, headers not
       unfolded), in order, before they are split into header/body: what
       a program that stores the message unchanged wants. */
    void (*data)(ph_smtp_session *s, const char *p, size_t len);
    /* End of message. Default: 250 2.0.0 (one per recipient in LMTP). */
    enum ph_result (*eom)(ph_smtp_session *s);
    /* The transaction was dropped without eom: RSET, a new HELO, a size
       or syntax error in the data, or the client vanishing -- or after
       eom, when a "response" plugin turned the program's 2xx to the
       message into a 4xx/5xx (the client was told it was not taken). */
    void (*tx_abort)(ph_smtp_session *s);
    /* The seed's on_disconnect: last call for this session. Not called
       for a connection refused by a connection limit (it never became
       a session) nor before CONNECT ran. */
    void (*disconnect)(ph_smtp_session *s);
};

/* One ESMTP parameter of MAIL or RCPT (RFC 5321 4.1.2), NUL-terminated.
   value is NULL for a keyword without "=". */
struct ph_smtp_param {
    const char *keyword;
    const char *value;
};

/* One accepted recipient. Valid until the transaction ends. */
struct ph_smtp_rcpt {
    const char                 *address;  /* without < >; "postmaster" ok */
    const struct ph_smtp_param *params;
    size_t                      nparams;
};

/* ---- authentication (RFC 4954) ----------------------------------------- */

/* A SASL login (PLAIN or LOGIN). Valid only while the verify callback
   runs: the password is wiped when it returns, so a callback answering
   later copies what it needs. */
struct ph_smtp_auth {
    const char *mech;        /* "PLAIN" or "LOGIN" */
    const char *authzid;     /* PLAIN's authorization identity, or "" */
    const char *user;        /* authentication identity */
    const char *password;
};

enum ph_smtp_auth_status {
    PH_SMTP_AUTH_OK = 0,     /* 235 2.7.0 */
    PH_SMTP_AUTH_FAIL,       /* 535 5.7.8, after the failure delay */
    PH_SMTP_AUTH_TEMPFAIL,   /* 454 4.7.0 (the check could not be made) */
};

/* The program's check, started by the built-in AUTH. Answer now or later
   with ph_smtp_auth_reply(); to answer later, copy what you need and
   ph_smtp_session_ref() the session. */
typedef void ph_smtp_verify_fn(ph_smtp_session *s,
                               const struct ph_smtp_auth *auth, void *ctx);

/* identity: the name the session is known by from now on (NULL: the
   authentication identity). 0 or enum ph_err (PH_ESTATE: no check is
   waiting for an answer). */
PH_API int ph_smtp_auth_reply(ph_smtp_session *s,
                              enum ph_smtp_auth_status st,
                              const char *identity);

/* ---- server ---------------------------------------------------------- */

/* New server on loop. With opts->address it starts listening at once (a
   failure goes to opts->listener_failed; the server is still returned).
   NULL on ENOMEM or bad options. */
PH_API ph_smtp_server *ph_smtp_server_new(ph_loop *loop,
                                          const struct ph_smtp_options *opts);
/* Closes listeners and sessions (no reply; each session's disconnect
   callback runs) and frees. NULL is ok. Not from inside a callback of
   this server's sessions: stop the loop first, or use a timer. */
PH_API void ph_smtp_server_free(ph_smtp_server *srv);
/* Adds a listener on "addr:port" (see ph_addr_parse). 0 or enum ph_err;
   failures also go to listener_failed. */
PH_API int ph_smtp_server_listen(ph_smtp_server *srv, const char *addr);
/* Adds an implicit-TLS listener (RFC 8314: SMTPS, port 465): the TLS
   handshake comes first, then the greeting. Needs opts->tls. */
PH_API int ph_smtp_server_listen_tls(ph_smtp_server *srv, const char *addr);
/* Turns AUTH PLAIN/LOGIN on: the check for every login. Without it the
   server offers no AUTH and answers it with 502. */
PH_API void ph_smtp_server_set_verify(ph_smtp_server *srv,
                                      ph_smtp_verify_fn *fn, void *ctx);
/* Bound address of listener idx (the POP3 seed's getsockname). */
PH_API int ph_smtp_server_getsockname(ph_smtp_server *srv, size_t idx,
                                      struct sockaddr_storage *ss_out,
                                      socklen_t *len_out);
/* Port of the first listener, 0 if none. */
PH_API unsigned ph_smtp_server_port(ph_smtp_server *srv);
/* Sessions open now (for a program's graceful stop). */
PH_API unsigned ph_smtp_server_session_count(ph_smtp_server *srv);
/* Stops listening. Sessions outside a transaction get 421 4.3.2 and are
   closed after flushing; a session in a transaction (from an accepted
   MAIL to the reply ending the message) or awaiting a handler's answer
   may finish it and gets the 421 right after. Idle timeouts drop to at
   most 5 s. The server stays allocated until ph_smtp_server_free(). */
PH_API void ph_smtp_server_shutdown(ph_smtp_server *srv);

/* Sets the handler of a verb (case-insensitive, 1-20 letters, digits or
   '-'). Replacing a known verb keeps its sequencing checks; a new verb
   (e.g. "XCLIENT") is allowed in every state. "CONNECT" is the greeting
   step. fn NULL removes a verb. 0 or enum ph_err. */
PH_API int ph_smtp_server_set_handler(ph_smtp_server *srv, const char *verb,
                                      ph_smtp_handler *fn);
/* Handler for unknown verbs (seed 001 `_default`, seed 002 UNKNOWN). */
PH_API void ph_smtp_server_set_default_handler(ph_smtp_server *srv,
                                               ph_smtp_handler *fn);
/* The library's own handler for verb in this server's mode, so that an
   override can fall back to it (seed 002's SUPER::); for a verb it has
   none of (any verb in bare mode but CONNECT), the server's handler of
   unknown verbs (500, or seed 000's 502 in bare mode). Never NULL. */
PH_API ph_smtp_handler *ph_smtp_default_handler(ph_smtp_server *srv,
                                                const char *verb);
PH_API void ph_smtp_server_set_callbacks(ph_smtp_server *srv,
                                         const struct ph_smtp_callbacks *cb);
/* An extra EHLO keyword line ("DSN", "XCLIENT NAME ADDR"), and the MAIL
   (for_rcpt false) or RCPT parameter keywords it brings. Unknown
   parameters otherwise get 555 5.5.4. */
PH_API int ph_smtp_server_add_extension(ph_smtp_server *srv,
                                        const char *ehlo_line);
PH_API int ph_smtp_server_allow_param(ph_smtp_server *srv, bool for_rcpt,
                                      const char *keyword);
/* The server's plugin pipeline (plugin.h). Inbound events (args start
   with the session id): "connection" (peer addr, peer port, local addr,
   local port), "cmd_<verb>" for table verbs and "unknown" otherwise
   (verb, argument text -- for AUTH only the mechanism, never the
   credentials; after the sequencing checks, before the handler),
   "header" (name, value), "eom" (size), "disconnected". A plugin that
   eats a command or eom must have replied with ph_smtp_reply() (else the
   client gets 451 4.3.0). Outbound: "response" (code, enhanced code or
   "", lines...), which plugins may rewrite or suppress. */
PH_API ph_pipeline *ph_smtp_server_pipeline(ph_smtp_server *srv);
PH_API void *ph_smtp_server_data(ph_smtp_server *srv);
PH_API void ph_smtp_server_set_data(ph_smtp_server *srv, void *data);
PH_API const char *ph_smtp_server_hostname(ph_smtp_server *srv);
PH_API const char *ph_smtp_server_alias(ph_smtp_server *srv);
PH_API ph_loop *ph_smtp_server_loop(ph_smtp_server *srv);

/* ---- replies --------------------------------------------------------- */

/*
 * Sends one reply. code 200-599; enh the RFC 3463 code ("2.1.0") or NULL
 * (then "X.0.0" of the code's class is used where enhanced codes are
 * sent). Text with CR or LF is refused (PH_EINVAL, nothing sent). Pending
 * replies are written together when the current input batch is done.
 * Returns 0, PH_ECLOSED if the client has gone (harmless), or PH_ESTATE
 * if no reply is awaited (a second reply to one command, or a reply from
 * a header/body callback: nothing is sent).
 */
PH_API int ph_smtp_reply(ph_smtp_session *s, int code, const char *enh,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A multi-line reply (RFC 5321 4.2.1: "250-a", "250 b"). */
PH_API int ph_smtp_reply_lines(ph_smtp_session *s, int code, const char *enh,
                               const char *const *lines, size_t nlines);
/* Marks the message as refused: the rest of DATA is read and dropped, and
   this reply is sent at the end instead of calling eom. With BDAT: the
   rest of the chunk, the reply ends it and the transaction. */
PH_API int ph_smtp_reject_message(ph_smtp_session *s, int code,
                                  const char *enh, const char *text);

/* ---- session --------------------------------------------------------- */

PH_API ph_smtp_server *ph_smtp_session_server(ph_smtp_session *s);
/* A short unique id ("a3f09c2b0000001"), valid for the session's life. */
PH_API const char *ph_smtp_session_id(ph_smtp_session *s);
PH_API const struct sockaddr *ph_smtp_session_peer(ph_smtp_session *s);
PH_API const struct sockaddr *ph_smtp_session_local(ph_smtp_session *s);
/* Numeric address text ("127.0.0.1", "::1") and port. */
PH_API const char *ph_smtp_session_peer_addr(ph_smtp_session *s);
PH_API unsigned ph_smtp_session_peer_port(ph_smtp_session *s);
PH_API const char *ph_smtp_session_local_addr(ph_smtp_session *s);
PH_API unsigned ph_smtp_session_local_port(ph_smtp_session *s);
/* TLS protocol and cipher, when the connection is encrypted (after
   STARTTLS or on an implicit-TLS listener). */
PH_API bool ph_smtp_session_tls(ph_smtp_session *s, struct ph_tls_info *out);
/* The identity a successful AUTH established, NULL before. */
PH_API const char *ph_smtp_session_auth_user(ph_smtp_session *s);
/* Name given with HELO/EHLO/LHLO, NULL before. */
PH_API const char *ph_smtp_session_helo(ph_smtp_session *s);
PH_API bool ph_smtp_session_is_esmtp(ph_smtp_session *s);
/* The path being checked in a MAIL or RCPT handler (without < >; "" for
   the null sender), and its parameters. Valid until the handler returns
   (a pending handler: until it replies). */
PH_API const char *ph_smtp_session_path(ph_smtp_session *s);
PH_API const struct ph_smtp_param *ph_smtp_session_path_params(
    ph_smtp_session *s, size_t *n_out);
/* The transaction: sender (NULL before MAIL), its parameters, recipients.
   Valid until the transaction ends (EOM reply, RSET, new MAIL). */
PH_API const char *ph_smtp_session_sender(ph_smtp_session *s);
PH_API const struct ph_smtp_param *ph_smtp_session_mail_params(
    ph_smtp_session *s, size_t *n_out);
PH_API size_t ph_smtp_session_rcpt_count(ph_smtp_session *s);
PH_API const struct ph_smtp_rcpt *ph_smtp_session_rcpt(ph_smtp_session *s,
                                                       size_t i);
/* Size of the message so far (dot-unstuffed bytes). */
PH_API size_t ph_smtp_session_message_size(ph_smtp_session *s);
/* With whole_message: the message so far, dot-unstuffed, in one buffer
   (complete in eom), valid until the transaction ends or more data is
   read. NULL when the server was made without whole_message. */
PH_API const char *ph_smtp_message(ph_smtp_session *s, size_t *len_out);

PH_API void *ph_smtp_session_data(ph_smtp_session *s);
PH_API void ph_smtp_session_set_data(ph_smtp_session *s, void *data);
/* Seed 002's chunkmode/chunksize. Takes effect at once, also inside a
   message (seed 002 switches in EOH): what is buffered goes out first. */
PH_API void ph_smtp_session_set_chunking(ph_smtp_session *s, bool line_mode,
                                         size_t chunk_size);
/* Seed 002's `disconnect`: close once the replies so far are written. */
PH_API void ph_smtp_session_close(ph_smtp_session *s);
/* Keeps the session struct alive (not the connection) across a pending
   wait. Every ref needs an unref. A session whose client went away still
   accepts ph_smtp_reply() (it returns PH_ECLOSED). */
PH_API void ph_smtp_session_ref(ph_smtp_session *s);
PH_API void ph_smtp_session_unref(ph_smtp_session *s);

#endif
