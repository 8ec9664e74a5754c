/*
 * loop.h -- the event loop, listeners and the log hook.
 *
 * A ph_loop wraps one libevent event_base. Servers (smtp.h) attach their
 * listeners to a loop; several servers may share one loop. One loop runs
 * in one thread; for more cores run one loop per process or thread and
 * share ports with SO_REUSEPORT (ph_smtp_options.reuse_port).
 */
#ifndef POSTHORN_LOOP_H
#define POSTHORN_LOOP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* As in posthorn.h (token for token, so the second definition is a
   harmless repeat): this header, and event.h which includes it, may then
   come first in a program. */
#ifndef PH_API
#if defined(PH_BUILDING)
#define PH_API __attribute__((visibility("default")))
#else
#define PH_API
#endif
#endif

typedef struct ph_loop ph_loop;

enum ph_log_level {
    PH_LOG_ERROR = 0,
    PH_LOG_WARN  = 1,
    PH_LOG_INFO  = 2,
    PH_LOG_DEBUG = 3,
};

/*
 * The log hook receives one finished line, without newline, in
 * `key=value` style. The library never prints on its own: with no hook
 * set, log lines are dropped.
 */
typedef void ph_log_fn(void *ctx, enum ph_log_level level, const char *line);

/* New loop with its own event_base; NULL on ENOMEM. Sets SIGPIPE to
   SIG_IGN if it is at its default (writes to a reset peer must fail with
   EPIPE, not kill the process). A program with an event_base of its own
   uses ph_loop_new_with_base() (event.h) instead. */
PH_API ph_loop *ph_loop_new(void);
/* Frees the loop and its signal events; servers on it must have been
   freed first, and the loop is not running. A base the loop does not own
   (ph_loop_new_with_base) is left to the program, which frees it after
   the loop. NULL is ok. */
PH_API void ph_loop_free(ph_loop *loop);
/* Runs the base (event_base_dispatch) until ph_loop_stop() or until
   nothing is left to wait for. On a program's base its own events run
   too; the program may just as well dispatch the base itself. Not while
   the base is already running. 0 or PH_EIO. */
PH_API int ph_loop_run(ph_loop *loop);
/* event_base_loopbreak: whatever runs the base -- ph_loop_run() or, on
   a program's base, its own event_base_dispatch() -- returns after the
   current callback. Safe anywhere; nothing happens if the base is not
   running (the next run starts afresh). */
PH_API void ph_loop_stop(ph_loop *loop);

/*
 * Signals, delivered from the loop (not from a signal handler), so fn may
 * call anything. Typical use: SIGTERM/SIGINT -> ph_smtp_server_shutdown()
 * and ph_loop_clear_signals(), after which ph_loop_run() returns once the
 * last session has flushed (on a program's base: once the program's own
 * events are gone too). At most 16 per loop. 0 or enum ph_err. These are
 * libevent signal events on the loop's base, so the program's own
 * evsignal events for the same signal fire as well; libevent gives
 * signals to one base per process (the last to add one).
 */
typedef void ph_signal_fn(void *ctx, int signum);
PH_API int ph_loop_add_signal(ph_loop *loop, int signum, ph_signal_fn *fn,
                              void *ctx);
/* Stops watching every signal added above (safe inside fn). */
PH_API void ph_loop_clear_signals(ph_loop *loop);

/* Lines at or below `level` go to fn(ctx, ...). fn NULL: logging off. */
PH_API void ph_loop_set_log(ph_loop *loop, enum ph_log_level level,
                            ph_log_fn *fn, void *ctx);
/* A ready-made hook: writes "level line\n" to stderr. ctx unused. */
PH_API void ph_log_stderr(void *ctx, enum ph_log_level level,
                          const char *line);

/*
 * Parses "127.0.0.1:2525", "[::1]:2525", "*:25", ":25" (all IPv4),
 * "[::]:25", or "unix:/path/to/socket" into a sockaddr. Returns 0 or
 * PH_EADDR. A listener on a unix socket removes a stale socket file at
 * that path first (never any other kind of file).
 */
PH_API int ph_addr_parse(const char *text, struct sockaddr_storage *ss_out,
                         socklen_t *len_out);
/* Writes "1.2.3.4:25" / "[::1]:25" into buf. Returns buf. */
PH_API char *ph_addr_format(const struct sockaddr *sa, char *buf,
                            size_t buf_len);

/*
 * A failed bind or listen, as the POP3 seed's `listener_failed`:
 * the operation ("socket", "bind", "listen"), errno and its text.
 */
typedef void ph_listener_failed_fn(void *ctx, const char *operation,
                                   int errnum, const char *errstr);

#endif
