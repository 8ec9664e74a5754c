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
   EPIPE, not kill the process). */
PH_API ph_loop *ph_loop_new(void);
/* Frees the loop; servers on it must have been freed first. NULL is ok. */
PH_API void ph_loop_free(ph_loop *loop);
/* Runs until ph_loop_stop() or until nothing is left to wait for. */
PH_API int ph_loop_run(ph_loop *loop);
/* Makes ph_loop_run() return after the current callback; safe anywhere. */
PH_API void ph_loop_stop(ph_loop *loop);

/*
 * Signals, delivered from the loop (not from a signal handler), so fn may
 * call anything. Typical use: SIGTERM/SIGINT -> ph_smtp_server_shutdown()
 * and ph_loop_clear_signals(), after which ph_loop_run() returns once the
 * last session has flushed. At most 16 per loop. 0 or enum ph_err.
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
