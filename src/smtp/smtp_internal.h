/*
 * smtp_internal.h -- the SMTP server and session objects, the verb table
 * and the functions the smtp_*.c files share. Never installed.
 *
 * Ownership: server -> sessions (list) -> transaction (arena) ->
 * recipients. A session is freed when its connection is gone and its
 * last ref is dropped.
 */
#ifndef PH_SMTP_INTERNAL_H
#define PH_SMTP_INTERNAL_H

#include "core/arena.h"
#include "core/session.h"
#include "plugin/plugin_internal.h"
#include "smtp/smtp_parse.h"

/* Message buffer sets kept for reuse after sessions end (STYLE 5). */
#define SMTP_BUF_CACHE 32

/* The per-session buffers DATA needs, recycled through the server. */
struct smtp_msgbufs {
    char  *hdr;       /* max_header_len */
    char  *chunk;     /* chunk_cap */
    size_t chunk_cap;
    char  *data_out;  /* DATA_SLICE + 2 */
};

/* The session's state (kept in the core's ss.state). */
enum smtp_state {
    SMTP_S_GREETING = 0, /* connected, banner not yet accepted */
    SMTP_S_READY,        /* banner sent, no HELO/EHLO/LHLO yet */
    SMTP_S_IDLE,         /* greeted, no transaction */
    SMTP_S_MAIL,         /* MAIL accepted */
    SMTP_S_RCPT,         /* at least one RCPT accepted */
    SMTP_S_DATA,         /* reading the message */
    SMTP_S_BDAT,         /* reading a BDAT chunk (RFC 3030) */
    SMTP_S_CLOSING,      /* close after flush */
};

/* Which command a reply completes: decides what a reply code commits. */
enum smtp_verb_id {
    SMTP_V_OTHER = 0,
    SMTP_V_CONNECT,
    SMTP_V_HELO,
    SMTP_V_EHLO,
    SMTP_V_LHLO,
    SMTP_V_MAIL,
    SMTP_V_RCPT,
    SMTP_V_DATA,
    SMTP_V_BDAT,
    SMTP_V_RSET,
    SMTP_V_QUIT,
    SMTP_V_EOM,          /* end of message: not a verb, a step */
    SMTP_V_STARTTLS,
    SMTP_V_AUTH,
};

/* Sequencing flags, checked before any handler runs (STYLE 3). */
#define SMTP_F_NEED_HELO  0x01u  /* 503 before HELO/EHLO/LHLO */
#define SMTP_F_NEED_MAIL  0x02u  /* 503 without MAIL */
#define SMTP_F_NEED_RCPT  0x04u  /* 503 without an accepted RCPT */
#define SMTP_F_NO_ARG     0x08u  /* 501 if an argument is given */
#define SMTP_F_NEED_ARG   0x10u  /* 501 without an argument */
#define SMTP_F_NOT_IN_TX  0x20u  /* 503 inside a transaction (MAIL) */
#define SMTP_F_JUNK       0x80u  /* makes no progress: counted against
                                    max_noop_commands (core) */
#define SMTP_F_NOT_IN_DATA 0x40u /* 503 once the message data has begun:
                                    between BDAT chunks (RFC 3030 2) */

/* RFC 4422 3.1: a SASL mechanism name has 1 to 20 characters. */
#define PH_SMTP_MAX_MECH 20
/* RFC 4954 4: AUTH lines (the command and the answers to 334) may be
   up to 12288 octets, whatever the command line limit is. */
#define SMTP_AUTH_LINE_MAX 12288

/* Where an AUTH exchange waits for the client's next line. */
enum smtp_sasl_step {
    SMTP_SASL_NONE = 0,
    SMTP_SASL_PLAIN,        /* 334 sent: the PLAIN response */
    SMTP_SASL_LOGIN_USER,   /* 334 Username: */
    SMTP_SASL_LOGIN_PASS,   /* 334 Password: */
};

struct smtp_session_s;
typedef int smtp_check_fn(ph_smtp_session *s, const char *arg);

struct smtp_verb {
    char               name[PH_SMTP_MAX_VERB + 1]; /* upper case */
    enum smtp_verb_id  id;
    unsigned           flags;
    smtp_check_fn     *check;    /* parse/validate; replies on failure */
    ph_smtp_handler   *handler;  /* the program's or the default */
    int                ev_id;    /* "cmd_<verb>" in the pipeline, or -1 */
};

struct ph_smtp_server {
    struct ph_server         core;         /* listeners, sessions, limits */
    enum ph_smtp_mode        mode;
    struct ph_smtp_limits    limits;       /* defaults filled in */
    bool                     line_mode, whole_message;
    size_t                   chunk_size;
    enum ph_smtp_bare_eol    bare_eol;
    void                    *user_data;
    struct smtp_verb        *verbs;
    size_t                   nverbs, verbs_cap;
    ph_smtp_handler         *default_handler;
    ph_smtp_handler         *connect_handler;
    struct ph_smtp_callbacks cb;
    char                   **ext_lines;    /* extra EHLO keywords */
    size_t                   next_lines;
    char                   **mail_params, **rcpt_params;
    size_t                   nmail_params, nrcpt_params;
    ph_pipeline             *pl;
    bool                     auth_plaintext, auth_required;
    ph_smtp_verify_fn       *verify;       /* AUTH on when set */
    void                    *verify_ctx;
    int                      ev_connection, ev_unknown, ev_header, ev_eom,
                             ev_disconnected, ev_response;
    struct smtp_msgbufs      buf_cache[SMTP_BUF_CACHE];
    size_t                   nbuf_cache;
};

/* The transaction: everything in it lives in the session's tx arena. */
struct smtp_tx {
    char                 *sender;         /* NULL: no transaction */
    struct ph_smtp_param *mail_params;
    size_t                nmail_params;
    struct ph_smtp_rcpt  *rcpts;          /* heap array */
    size_t                nrcpts, rcpts_cap;
    bool                  smtputf8;
    size_t                size;           /* message bytes so far */
    /* sticky DATA error: reply at end of data instead of eom */
    int                   err_code;
    char                  err_enh[12];
    char                  err_text[160];
    char                 *msg;            /* whole_message buffer */
    size_t                msg_len, msg_cap;
    bool                  bdat;           /* the message comes by BDAT */
};

struct ph_smtp_session {
    struct ph_session        ss;           /* first: the core's part */
    ph_smtp_server          *srv;          /* NULL once the server died */
    bool                     esmtp;
    bool                     close_after_reply;
    bool                     in_dispatch;  /* inside a handler call */
    unsigned                 expect;       /* replies the command awaits */
    unsigned                 replied;      /* replies sent for it */
    enum smtp_verb_id        cur_id;       /* command being answered */
    char                     cur_verb[PH_SMTP_MAX_VERB + 1];
    char                    *helo;         /* heap */
    /* the MAIL/RCPT being decided (handler reads it) */
    struct ph_smtp_path      path;
    char                    *path_text;    /* heap, max_line_len + 1 */
    struct ph_smtp_param     path_params[PH_SMTP_MAX_PARAMS];
    size_t                   npath_params;
    struct ph_arena          tx_arena;
    struct smtp_tx           tx;
    /* DATA reading */
    struct ph_smtp_data_reader     dr;
    struct ph_smtp_header_splitter hs;
    char                    *hdr_buf;      /* max_header_len */
    char                    *data_out;     /* unstuffed output scratch */
    char                    *chunk;        /* BODY chunk being filled */
    size_t                   chunk_len, chunk_size, chunk_cap;
    bool                     line_mode;
    bool                     in_body_cb;   /* inside cb.body */
    bool                     chunking_pending, next_line_mode;
    size_t                   next_chunk_size;
    bool                     greeted;      /* CONNECT step ran */
    bool                     data_aborted; /* tx_abort already called */
    bool                     eom_overridden; /* a plugin refused the
                                              program's 2xx to EOM */
    /* BDAT chunk (smtp_cmd_bdat.c) */
    uint64_t                 bdat_size, bdat_left;
    bool                     bdat_last;
    bool                     bdat_armed;   /* parsed; not yet taken or
                                              refused */
    bool                     bdat_skip;    /* refused: read and drop it */
    enum smtp_state          bdat_back;    /* state after a dropped one */
    void                    *user_data;
    unsigned                 ntx;          /* transactions completed */
    /* AUTH (smtp_cmd_auth.c) */
    enum smtp_sasl_step      sasl;         /* next line is a SASL answer */
    bool                     auth_checking;/* verify runs, answer awaited */
    char                    *auth_user;    /* after 235 */
    char                    *sasl_user;    /* LOGIN: user, before password */
    char                     sasl_mech[PH_SMTP_MAX_MECH + 1];
};

/* The protocol session of a core session (ss is its first member). */
static inline ph_smtp_session *
smtp_of(struct ph_session *ss)
{
    return (ph_smtp_session *)ss;
}

/* smtp_session.c */
ph_smtp_session *smtp_session_new(ph_smtp_server *srv, evutil_socket_t fd,
                                  const struct sockaddr *peer,
                                  socklen_t peer_len);
extern const struct ph_session_ops smtp_session_ops;
void smtp_session_shutdown(ph_smtp_session *s, bool send_421);
void smtp_count_error(ph_smtp_session *s);
void smtp_run_handler(ph_smtp_session *s, enum smtp_verb_id id,
                      const char *verb, ph_smtp_handler *fn,
                      const char *arg, unsigned expect);
void smtp_dispatch_line(ph_smtp_session *s, char *line, size_t len);
void smtp_tx_reset(ph_smtp_session *s, bool aborted);
bool smtp_in_transaction(const ph_smtp_session *s);
bool smtp_data_begun(const ph_smtp_session *s);

/* smtp_server.c */
void smtp_session_greet(ph_smtp_session *s);

/* smtp_cmd_starttls.c */
enum ph_result smtp_cmd_starttls(ph_smtp_session *s, const char *verb,
                                 const char *arg);
void smtp_tls_commit(ph_smtp_session *s);
void smtp_tls_ready(struct ph_session *ss);
bool smtp_tls_offered(const ph_smtp_session *s);
bool smtp_is_tls(const ph_smtp_session *s);

/* smtp_cmd_auth.c */
enum ph_result smtp_cmd_auth(ph_smtp_session *s, const char *verb,
                             const char *arg);
void smtp_sasl_line(ph_smtp_session *s, char *line, size_t len);
bool smtp_auth_offered(const ph_smtp_session *s);
void smtp_auth_commit(ph_smtp_session *s);
void smtp_auth_reset(ph_smtp_session *s);
void smtp_auth_refused(struct ph_session *ss);

/* smtp_reply.c */
int smtp_send_reply(ph_smtp_session *s, int code, const char *enh,
                    const char *const *lines, size_t n);
void smtp_reply_done(ph_smtp_session *s, int code);

/* smtp_verbs.c: the default verb tables */
int  smtp_verbs_init(ph_smtp_server *srv);
struct smtp_verb *smtp_verb_find(ph_smtp_server *srv, const char *name,
                                 size_t len);
ph_smtp_handler *smtp_default_for(enum ph_smtp_mode mode, const char *verb);
enum ph_result smtp_default_unknown(ph_smtp_session *s, const char *verb,
                                    const char *arg);
enum ph_result smtp_default_connect(ph_smtp_session *s, const char *verb,
                                    const char *arg);

/* smtp_plugins.c */
int  smtp_plugins_init(ph_smtp_server *srv);
bool smtp_plugins_inbound(ph_smtp_session *s, int ev_id, const char *name,
                          const char *const *args, size_t n);
bool smtp_step_open(ph_smtp_session *s);
bool smtp_plugins_command(ph_smtp_session *s, struct smtp_verb *v,
                          const char *arg);
bool smtp_plugins_header(ph_smtp_session *s, const char *name, size_t nlen,
                         const char *value, size_t vlen);
bool smtp_plugins_response(ph_smtp_session *s, int *code, const char **enh,
                           const char *const *lines, size_t n, char *buf,
                           size_t cap, bool with_enh, int *len_out);

/* smtp_cmd_helo.c */
enum ph_result smtp_cmd_helo(ph_smtp_session *s, const char *verb,
                             const char *arg);
enum ph_result smtp_cmd_ehlo(ph_smtp_session *s, const char *verb,
                             const char *arg);
int smtp_check_helo(ph_smtp_session *s, const char *arg);
void smtp_commit_helo(ph_smtp_session *s, enum smtp_verb_id id,
                      const char *arg);

/* smtp_cmd_mail.c */
int smtp_check_mail(ph_smtp_session *s, const char *arg);
int smtp_check_rcpt(ph_smtp_session *s, const char *arg);
enum ph_result smtp_cmd_mail(ph_smtp_session *s, const char *verb,
                             const char *arg);
enum ph_result smtp_cmd_rcpt(ph_smtp_session *s, const char *verb,
                             const char *arg);
int smtp_commit_mail(ph_smtp_session *s);
int smtp_commit_rcpt(ph_smtp_session *s);

/* smtp_cmd_data.c; input is fed to the DATA reader in slices of this */
#define SMTP_DATA_SLICE 16384
enum ph_result smtp_cmd_data(ph_smtp_session *s, const char *verb,
                             const char *arg);
int  smtp_data_prepare(ph_smtp_session *s);
int  smtp_data_begin(ph_smtp_session *s);
void smtp_data_end(ph_smtp_session *s);
/* Feeds buffered input in DATA state; true when the message ended. */
bool smtp_data_read(ph_smtp_session *s);

/* smtp_cmd_bdat.c: CHUNKING and BINARYMIME (RFC 3030) */
bool smtp_chunking_offered(ph_smtp_session *s);
int  smtp_check_bdat(ph_smtp_session *s, const char *arg);
int  smtp_check_data(ph_smtp_session *s, const char *arg);
enum ph_result smtp_cmd_bdat(ph_smtp_session *s, const char *verb,
                             const char *arg);
void smtp_bdat_commit(ph_smtp_session *s);
/* Reads the chunk in BDAT state; true when it ended. */
bool smtp_bdat_read(ph_smtp_session *s);

/* smtp_message.c: header/body callbacks, chunking, whole message */
void smtp_message_begin(ph_smtp_session *s);
void smtp_message_bytes(ph_smtp_session *s, const char *p, size_t len);
void smtp_message_end(ph_smtp_session *s);
void smtp_message_abort(ph_smtp_session *s);
void smtp_message_free(ph_smtp_session *s);
/* DATA buffers: taken from the server's cache, given back at the end. */
void smtp_msgbufs_take(ph_smtp_session *s);
void smtp_msgbufs_give_back(ph_smtp_session *s);
void smtp_msgbufs_cache_free(ph_smtp_server *srv);
void smtp_message_set_chunking(ph_smtp_session *s, bool line_mode,
                               size_t chunk_size);

#endif
