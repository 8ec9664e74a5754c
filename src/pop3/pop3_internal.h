/*
 * pop3_internal.h -- the POP3 server and session objects, the verb table
 * and what the pop3_*.c files share. Never installed.
 *
 * Ownership: server -> sessions -> maildrop (open from login to the end
 * of the session) -> the stream of the message being sent.
 */
#ifndef PH_POP3_INTERNAL_H
#define PH_POP3_INTERNAL_H

#include "auth/sasl.h"
#include "core/session.h"
#include "plugin/plugin_internal.h"
#include "pop3/pop3_parse.h"

/* Multi-line output is produced in steps of about this much, and resumes
   when the socket has taken it (STYLE 3: a cursor, never all in memory). */
#define POP3_OUT_STEP      (64 * 1024)
/* A response line with its CRLF (RFC 2449 4). */
#define POP3_LINE_MAX      512

/* The session's state (kept in the core's ss.state). */
enum pop3_state {
    POP3_S_AUTH = 0,     /* AUTHORIZATION */
    POP3_S_TRANS,        /* TRANSACTION */
    POP3_S_UPDATE,       /* after QUIT in TRANSACTION */
    POP3_S_CLOSING,
};

/* Where a verb is allowed (STYLE 3: data, not code). */
#define POP3_M_AUTH  0x1u
#define POP3_M_TRANS 0x2u
#define POP3_M_ANY   (POP3_M_AUTH | POP3_M_TRANS)
#define POP3_F_JUNK  0x4u   /* makes no progress (max_noop_commands) */

struct pop3_verb {
    char             name[POP3_MAX_VERB + 1];   /* upper case */
    ph_pop3_handler *handler;
    unsigned         states;
    int              ev_id;      /* "cmd_<verb>" in the pipeline, or -1 */
};

/* A program's listener (the seed's registered session). */
struct pop3_listener {
    ph_pop3_event_fn *fn;
    void             *ctx;
    bool              all;
    int              *ids;       /* registered event ids */
    size_t            nids;
};

/* Longest SASL answer line after "+ ", CRLF included. */
#define POP3_SASL_LINE_MAX 2048

struct ph_pop3_server {
    struct ph_server              core; /* listeners, sessions, limits */
    char                         *version;
    struct ph_pop3_limits         limits;
    bool                          greet, apop;
    bool                          auth_plaintext;
    const struct ph_maildrop_ops *md;
    void                         *md_ctx;
    void                         *user_data;
    struct pop3_verb             *verbs;
    size_t                        nverbs, verbs_cap;
    ph_pop3_verify_fn            *verify;
    void                         *verify_ctx;
    ph_pipeline                  *pl;
    struct pop3_listener         *lsn;
    size_t                        nlsn;
    int                           ev_connection, ev_disconnected,
                                  ev_response, ev_listener_failed;
    unsigned long                 id;
};

/* What a multi-line response still has to send. */
enum pop3_cursor_kind {
    POP3_CUR_NONE = 0,
    POP3_CUR_MSG,        /* RETR / TOP: a message stream */
    POP3_CUR_LIST,       /* LIST without argument */
    POP3_CUR_UIDL,       /* UIDL without argument */
};

struct pop3_cursor {
    enum pop3_cursor_kind kind;
    ph_drop_stream       *st;
    size_t                next;        /* LIST/UIDL: next index */
    bool                  bol;         /* at the start of a line */
    bool                  prev_cr;
    bool                  top;         /* TOP: stop after body_left lines */
    bool                  in_body;
    unsigned long         body_left;
    bool                  line_empty;  /* current line has no bytes yet */
};

/* A login being checked: copies, valid until the answer. */
struct pop3_auth_req {
    struct ph_pop3_auth pub;
    char               *buf;           /* holds the strings of pub */
    size_t              buf_len;       /* all of it, wiped at the end */
};

struct ph_pop3_session {
    struct ph_session     ss;           /* first: the core's part */
    ph_pop3_server       *srv;          /* NULL once the server died */
    bool                  awaiting;     /* a command awaits its response */
    bool                  close_after;  /* close once it is written */
    bool                  sasl_wait;    /* AUTH PLAIN: expecting "+ " data */
    bool                  announced;    /* "connection" was sent */
    bool                  wire_err;     /* the last line sent was -ERR */
    bool                  cur_progress; /* the command is not NOOP-like */
    char                  cur_verb[POP3_MAX_VERB + 1];
    char                 *user;         /* from USER; then the login */
    char                  timestamp[128];/* APOP greeting <...> */
    struct pop3_auth_req  auth;
    bool                  auth_pending;
    ph_drop              *drop;
    size_t                nmsgs;
    unsigned char        *deleted;      /* one byte per message */
    struct pop3_cursor    cur;
    char                 *scratch;      /* conversion buffer */
    void                 *user_data;
};

/* The protocol session of a core session (ss is its first member). */
static inline ph_pop3_session *
pop3_of(struct ph_session *ss)
{
    return (ph_pop3_session *)ss;
}

/* pop3_session.c */
/* The core accepted a connection (tls: greet after the handshake). */
int pop3_session_accept(struct ph_server *core, evutil_socket_t fd,
                        const struct sockaddr *peer, socklen_t peer_len,
                        bool tls);
void pop3_session_close(ph_pop3_session *s);
void pop3_command_done(ph_pop3_session *s, bool is_error);

/* pop3_reply.c */
int pop3_write_line(ph_pop3_session *s, const char *line, size_t len);
int pop3_status_line(ph_pop3_session *s, enum ph_pop3_status st,
                     const char *text);
void pop3_cursor_start(ph_pop3_session *s, enum pop3_cursor_kind kind);
/* Produces up to POP3_OUT_STEP of a multi-line response; true when the
   terminating "." has been written. */
bool pop3_cursor_step(ph_pop3_session *s);
void pop3_cursor_reset(ph_pop3_session *s);

/* pop3_events.c */
/* True if a plugin or a listener wants event id. */
bool pop3_event_wanted(ph_pop3_server *srv, int id);
void pop3_event_sink(void *server, struct ph_event *ev);
/* Plugins then listeners; false if a plugin ate it. */
bool pop3_event_dispatch(ph_pop3_server *srv, struct ph_event *ev);
void pop3_listeners_free(ph_pop3_server *srv);

/* pop3_cmd_*.c: the default handlers */
ph_pop3_handler pop3_cmd_user, pop3_cmd_pass, pop3_cmd_apop, pop3_cmd_auth,
                pop3_cmd_capa, pop3_cmd_quit, pop3_cmd_stat, pop3_cmd_list,
                pop3_cmd_retr, pop3_cmd_dele, pop3_cmd_noop, pop3_cmd_rset,
                pop3_cmd_top, pop3_cmd_uidl, pop3_cmd_stls;
void pop3_sasl_line(ph_pop3_session *s, char *line, size_t len);
void pop3_auth_cleanup(ph_pop3_session *s);
void pop3_auth_refused(struct ph_session *ss);
void pop3_update(ph_pop3_session *s);

/* pop3_session.c: TLS (STLS, RFC 2595; POP3S, RFC 8314) */
/* A context exists and this connection is not TLS yet. */
bool pop3_tls_offered(const ph_pop3_session *s);
/* USER/PASS and AUTH PLAIN may be used now (RFC 2595 2.1). */
bool pop3_plaintext_ok(const ph_pop3_session *s);
/* The +OK to STLS is queued: switch, or close if that cannot be. */
void pop3_tls_commit(ph_pop3_session *s);

#endif
