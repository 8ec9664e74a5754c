/*
 * core_internal.h -- the core's private interface: loop internals, the
 * connection object protocol code uses instead of sockets, the CRLF line
 * reader, listeners and logging. Never installed.
 */
#ifndef PH_CORE_INTERNAL_H
#define PH_CORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "posthorn/posthorn.h"
#include "posthorn/event.h"
#include "posthorn/tls.h"

struct ssl_ctx_st;
/* The SSL_CTX in use now (changes on reload). */
struct ssl_ctx_st *ph_tls_ctx_ssl(ph_tls_ctx *t);

#define PH_LOOP_MAX_SIGNALS 16

struct ph_loop_signal {
    struct event *ev;
    ph_signal_fn *fn;
    void         *ctx;
    int           signum;
};

struct ph_loop {
    struct event_base *base;
    struct ph_loop_signal signals[PH_LOOP_MAX_SIGNALS];
    size_t             nsignals;
    bool               own_base;
    enum ph_log_level  log_level;
    ph_log_fn         *log_fn;
    void              *log_ctx;
    uint32_t           id_salt;     /* makes session ids differ per run */
    uint64_t           next_id;
};

/* Formats and sends one log line if level is enabled. */
void ph_log(ph_loop *loop, enum ph_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline bool
ph_log_enabled(const ph_loop *loop, enum ph_log_level level)
{
    return loop->log_fn != NULL && level <= loop->log_level;
}
/* Copies client text for a log line: non-printables become '?', at most
   cap-1 bytes. Returns dst. */
char *ph_log_sanitize(char *dst, size_t cap, const char *src, size_t len);
/* Writes a fresh session id ("5f3a9c01000000a2") into buf[17]. */
void ph_loop_new_session_id(ph_loop *loop, char buf[17]);

/* ---- listeners -------------------------------------------------------- */

typedef void ph_accept_fn(void *ctx, evutil_socket_t fd,
                          const struct sockaddr *peer, socklen_t peer_len);

struct ph_listener {
    struct evconnlistener  *lev;
    struct event           *retry_ev;   /* re-enable after EMFILE */
    ph_loop                *loop;
    ph_accept_fn           *accept_fn;
    void                   *ctx;
    struct sockaddr_storage addr;       /* as bound (port 0 resolved) */
    socklen_t               addr_len;
};

/* Binds and listens on addr. On failure calls failed_fn (if set) with the
   operation and errno, and returns PH_EIO. */
int ph_listener_open(struct ph_listener *l, ph_loop *loop, const char *addr,
                     bool reuse_port, ph_accept_fn *fn, void *ctx,
                     ph_listener_failed_fn *failed_fn, void *failed_ctx);
void ph_listener_close(struct ph_listener *l);
/* The TCP port a listener got (0 for a unix socket). */
unsigned ph_listener_port(const struct ph_listener *l);
/* getsockname for listener idx of an array of n. 0 or PH_EINVAL. */
int ph_listener_sockname(const struct ph_listener *ls, size_t n, size_t idx,
                         struct sockaddr_storage *ss_out, socklen_t *len_out);

/* ---- connections ------------------------------------------------------ */

enum ph_conn_event {
    PH_CONN_EOF,       /* peer closed */
    PH_CONN_ERROR,     /* socket error */
    PH_CONN_TIMEOUT,   /* idle timeout, reading or writing */
    PH_CONN_CLOSED,    /* close-after-flush completed */
    PH_CONN_TLS_FAILED,/* handshake failed; the reason: c->tls_error */
};

enum ph_conn_tls {
    PH_CONN_TLS_OFF = 0,
    PH_CONN_TLS_PENDING,   /* STARTTLS accepted: the reply is being sent */
    PH_CONN_TLS_HANDSHAKE, /* OpenSSL is negotiating */
    PH_CONN_TLS_ON,
};

struct ph_conn_ops {
    void (*on_read)(void *ctx);                        /* input arrived */
    void (*on_drain)(void *ctx);                       /* output empty */
    void (*on_event)(void *ctx, enum ph_conn_event ev);
    void (*on_tls)(void *ctx);                         /* handshake done */
};

struct ph_conn {
    struct bufferevent     *bev;     /* later replaced by a TLS filter */
    ph_loop                *loop;
    const struct ph_conn_ops *ops;
    void                   *ctx;
    struct event           *defer_ev; /* deferred read / close check */
    struct evbuffer        *out;      /* replies of this batch */
    struct event           *flush_ev; /* writes `out` after the batch */
    struct sockaddr_storage peer, local;
    char                    peer_addr[46], local_addr[46];
    unsigned                peer_port, local_port;
    unsigned                timeout_s;
    bool                    read_paused;
    bool                    closing;  /* close after flush requested */
    bool                    dead;     /* socket gone; only free remains */
    bool                    timeout_writing; /* last timeout: output
                                         not taken (else: no input) */
    bool                    direct;   /* plain socket: write it directly
                                         (TLS turns this off) */
    enum ph_conn_tls        tls;
    struct ssl_ctx_st      *tls_ctx;  /* ref held while PENDING */
    struct event           *tls_deadline; /* handshake must end by then */
    size_t                  tls_discarded; /* plaintext dropped at the
                                         switch (STARTTLS injection) */
    char                    tls_error[128];
};

/* Takes ownership of fd. peer may be NULL (then getpeername). NULL on
   ENOMEM (fd is closed then). */
struct ph_conn *ph_conn_new(ph_loop *loop, evutil_socket_t fd,
                            const struct sockaddr *peer, socklen_t peer_len,
                            const struct ph_conn_ops *ops, void *ctx);
void ph_conn_free(struct ph_conn *c);
/* Implicit TLS (RFC 8314): the handshake starts at once; output written
   before it completes is sent after it. ops->on_tls when done. */
int ph_conn_accept_tls(struct ph_conn *c, struct ssl_ctx_st *ctx,
                       unsigned deadline_s);
/* STARTTLS/STLS: every byte received so far, and all that arrives until
   the switch, is discarded; once the output queued now (the "go ahead"
   reply) is written, the handshake starts. ops->on_tls when done. The
   caller stops reading until then. 0 or PH_ENOMEM/PH_ECLOSED.
   Both: the handshake must be over deadline_s seconds from now (not an
   idle timeout a byte at a time could stretch), else PH_CONN_TLS_FAILED. */
int ph_conn_start_tls(struct ph_conn *c, struct ssl_ctx_st *ctx,
                      unsigned deadline_s);
/* Protocol and cipher once TLS is on; false otherwise. */
bool ph_conn_tls_info(struct ph_conn *c, struct ph_tls_info *out);
/* Logs "WHO event=tls protocol=.. cipher=.. bits=.." and, if plaintext
   was dropped at the switch, a warning "WHO event=INJECTED discarded=N".
   who is the session's log key ("session=ID", "pop3=N"). */
void ph_conn_log_tls(struct ph_conn *c, const char *who,
                     const char *injected);
static inline struct evbuffer *
ph_conn_input(struct ph_conn *c)
{
    return bufferevent_get_input(c->bev);
}
size_t ph_conn_output_len(struct ph_conn *c);
int ph_conn_write(struct ph_conn *c, const void *p, size_t len);
void ph_conn_set_timeout(struct ph_conn *c, unsigned seconds);
void ph_conn_pause_read(struct ph_conn *c);
void ph_conn_rearm(struct ph_conn *c);
void ph_conn_resume_read(struct ph_conn *c);
/* Stops reading; once output is written, ops->on_event(PH_CONN_CLOSED). */
void ph_conn_close_after_flush(struct ph_conn *c);
/* Calls on_read again from the loop (after a pause, or a pending reply). */
void ph_conn_schedule_read(struct ph_conn *c);
/* True when unsent output is above the high-water mark. */
bool ph_conn_output_high(struct ph_conn *c);

/* ---- strict CRLF line reader ----------------------------------------- */

enum ph_line_result {
    PH_LINE_NONE = 0,  /* no complete line yet */
    PH_LINE_OK,        /* line_out holds a line, CRLF stripped */
    PH_LINE_TOO_LONG,  /* a line over max was read and dropped */
};

struct ph_linereader {
    size_t max;        /* incl. CRLF */
    size_t scanned;    /* bytes already searched for CRLF */
    bool   discarding; /* inside an over-long line */
};

/*
 * Takes the next CRLF-terminated line out of in. Only CR LF ends a line: a
 * bare LF or CR stays inside it (the parser then refuses it). line_out
 * must hold max bytes. An over-long line is drained as it arrives and
 * reported once, when its CRLF comes.
 */
enum ph_line_result ph_linereader_read(struct ph_linereader *lr,
                                       struct evbuffer *in, char *line_out,
                                       size_t *len_out);

#endif
