/*
 * session.c -- the session base both protocols embed (session.h): the
 * connection and its events, refs, the id, the read loop (as many
 * pipelined commands as are buffered, paused while output backs up),
 * timeouts and the maximum session time, the counts of errors and of
 * commands without progress, the failed-AUTH delay, TLS, and teardown.
 */
#include "core/session.h"
#include "auth/auth_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void session_read(void *ctx);
static void session_drain(void *ctx);
static void session_event(void *ctx, enum ph_conn_event ev);
static void session_tls(void *ctx);

static const struct ph_conn_ops conn_ops = {
    .on_read = session_read,
    .on_drain = session_drain,
    .on_event = session_event,
    .on_tls = session_tls,
};

void
ph_session_ref(struct ph_session *ss)
{
    ss->refs++;
}

void
ph_session_unref(struct ph_session *ss)
{
    if (ss == NULL || --ss->refs != 0)
        return;
    if (ss->expire_ev)
        event_free(ss->expire_ev);
    if (ss->delay_ev)
        event_free(ss->delay_ev);
    free(ss->line);
    ss->ops->free(ss);
}

static void
link_session(struct ph_session *ss, struct ph_server *srv)
{
    ss->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = ss;
    srv->sessions = ss;
    srv->nsessions++;
    ss->slot = srv->pending_slot;       /* the accept's count is ours */
    srv->pending = false;
    srv->pending_slot = NULL;
}

static void
unlink_session(struct ph_session *ss)
{
    struct ph_server *srv = ss->srv;

    if (srv == NULL || ss->unlinked)
        return;
    ss->unlinked = true;
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        srv->sessions = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    srv->nsessions--;
    ss->prev = ss->next = NULL;
    ph_conn_limits_release(srv->climits, ss->slot);
    ss->slot = NULL;
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ph_session *ss = arg;

    (void)fd;
    (void)what;
    if (ss->dead)
        return;
    ph_log(ss->loop, PH_LOG_INFO, "session=%s event=session_expired "
           "limit_s=%u", ss->id, ss->srv ? ss->srv->lim.max_session_time
                                         : 0);
    if (ss->tls_starting) {             /* no plaintext to a TLS client */
        ph_session_finish(ss, "session_expired");
        return;
    }
    if (!ss->closing)
        ss->ops->goodbye(ss, PH_GOODBYE_EXPIRED);
    ph_session_close(ss);
}

static int
arm_expiry(struct ph_session *ss, unsigned seconds)
{
    struct timeval tv = { .tv_sec = seconds };

    if (seconds == PH_CORE_NO_LIMIT || seconds == 0)
        return 0;
    ss->expire_ev = evtimer_new(ss->loop->base, expire_cb, ss);
    return ss->expire_ev && evtimer_add(ss->expire_ev, &tv) == 0
           ? 0 : PH_ENOMEM;
}

int
ph_session_init(struct ph_session *ss, struct ph_server *srv,
                evutil_socket_t fd, const struct sockaddr *peer,
                socklen_t peer_len, const struct ph_session_ops *ops)
{
    ss->srv = srv;
    ss->loop = srv->loop;
    ss->ops = ops;
    ss->refs = 1;
    ss->lr.max = srv->lim.line_max;
    ss->line = malloc(srv->lim.line_max + 1);
    gettimeofday(&ss->started, NULL);
    ph_loop_new_session_id(srv->loop, ss->id);
    if (ss->line == NULL || arm_expiry(ss, srv->lim.max_session_time)) {
        evutil_closesocket(fd);
        return PH_ENOMEM;
    }
    ss->conn = ph_conn_new(srv->loop, fd, peer, peer_len, &conn_ops, ss);
    if (ss->conn == NULL)
        return PH_ENOMEM;
    ph_conn_set_timeout(ss->conn, srv->lim.idle_timeout);
    link_session(ss, srv);
    ph_log(ss->loop, PH_LOG_INFO, "session=%s event=connect peer=%s:%u "
           "local=%s:%u server=%s proto=%s", ss->id, ss->conn->peer_addr,
           ss->conn->peer_port, ss->conn->local_addr, ss->conn->local_port,
           srv->alias, srv->proto);
    return 0;
}

void
ph_session_close(struct ph_session *ss)
{
    if (ss->dead || ss->closing)
        return;
    ss->closing = true;
    ph_conn_close_after_flush(ss->conn);
}

static long
elapsed_ms(const struct timeval *t0)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    return (now.tv_sec - t0->tv_sec) * 1000L +
           (now.tv_usec - t0->tv_usec) / 1000L;
}

void
ph_session_finish(struct ph_session *ss, const char *reason)
{
    char more[160] = "";

    if (ss->dead)
        return;
    ss->dead = true;
    /* Off the server's list before any program callback runs, so that
       nothing the callback does can find this session half gone. */
    unlink_session(ss);
    if (ss->expire_ev)
        event_del(ss->expire_ev);
    if (ss->delay_ev)
        event_del(ss->delay_ev);
    if (ss->ops->describe)
        ss->ops->describe(ss, more, sizeof(more));
    ph_log(ss->loop, PH_LOG_INFO, "session=%s event=disconnect peer=%s "
           "reason=%s errors=%u duration_ms=%ld%s%s", ss->id,
           ss->conn->peer_addr, reason, ss->nerrors,
           elapsed_ms(&ss->started), more[0] ? " " : "", more);
    ss->ops->finish(ss, reason);
    ph_conn_free(ss->conn);
    ss->conn = NULL;
    ss->srv = NULL;
    ph_session_unref(ss);
}

enum ph_line_result
ph_session_read_line(struct ph_session *ss, size_t *len_out)
{
    return ph_linereader_read(&ss->lr, ph_conn_input(ss->conn), ss->line,
                              len_out);
}

void
ph_session_wait(struct ph_session *ss)
{
    ss->waiting = true;
    if (ss->conn)
        ph_conn_pause_read(ss->conn);
}

void
ph_session_resume(struct ph_session *ss)
{
    ss->waiting = false;
    if (ss->conn && !ss->dead && !ss->closing)
        ph_conn_resume_read(ss->conn);
}

/* One pass over buffered input: as many commands as there are lines. */
static void
session_read(void *ctx)
{
    struct ph_session *ss = ctx;

    ph_session_ref(ss);
    while (!ss->dead && !ss->closing && !ss->waiting && !ss->tls_starting &&
           ss->ops->can_read(ss)) {
        if (!ss->ops->input(ss))
            break;
        /* Pipelining flood with no reading: stop until output drains. */
        if (!ss->dead && ss->conn && ph_conn_output_high(ss->conn)) {
            ph_conn_pause_read(ss->conn);
            break;
        }
    }
    ph_session_unref(ss);
}

static void
session_drain(void *ctx)
{
    struct ph_session *ss = ctx;

    if (ss->dead || ss->closing)
        return;
    if (ss->ops->drained && ss->ops->drained(ss))
        return;
    if (!ss->waiting && ss->conn->read_paused)
        ph_conn_resume_read(ss->conn);
}

static void
session_timeout(struct ph_session *ss)
{
    if (ss->conn->timeout_writing) {
        /* It takes no output: a goodbye would never be flushed. */
        ph_session_finish(ss, "write_timeout");
        return;
    }
    if (ss->tls_starting) {
        /* Before the handshake: plaintext would only confuse the
           client's TLS stack. */
        ph_log(ss->loop, PH_LOG_INFO, "session=%s event=tls_failed "
               "reason=\"handshake timeout\"", ss->id);
        ph_session_finish(ss, "tls_failed");
        return;
    }
    if (ss->waiting || (ss->ops->busy && ss->ops->busy(ss))) {
        /* The program (or a long response) is at work: not the
           client's idleness. */
        ph_conn_rearm(ss->conn);
        return;
    }
    ph_log(ss->loop, PH_LOG_INFO, "session=%s event=timeout", ss->id);
    if (!ss->closing)
        ss->ops->goodbye(ss, PH_GOODBYE_IDLE);
    ph_session_close(ss);
}

static void
session_event(void *ctx, enum ph_conn_event ev)
{
    struct ph_session *ss = ctx;

    switch (ev) {
    case PH_CONN_TIMEOUT:
        session_timeout(ss);
        return;
    case PH_CONN_EOF:
        ph_session_finish(ss, "eof");
        return;
    case PH_CONN_ERROR:
        ph_session_finish(ss, "error");
        return;
    case PH_CONN_CLOSED:
        ph_session_finish(ss, "closed");
        return;
    case PH_CONN_TLS_FAILED:
        ph_log(ss->loop, PH_LOG_INFO, "session=%s event=tls_failed "
               "reason=\"%s\"", ss->id, ss->conn->tls_error);
        ph_session_finish(ss, "tls_failed");
        return;
    }
}

/* ---- limits -------------------------------------------------------------- */

bool
ph_session_noop(struct ph_session *ss)
{
    unsigned max = ss->srv ? ss->srv->lim.max_noop_commands
                           : PH_CORE_NO_LIMIT;

    if (max == PH_CORE_NO_LIMIT || ++ss->noops <= max)
        return true;
    ph_log(ss->loop, PH_LOG_INFO, "session=%s event=too_many_noops "
           "limit=%u", ss->id, max);
    ss->ops->goodbye(ss, PH_GOODBYE_NOOPS);
    ph_session_close(ss);
    return false;
}

void
ph_session_progress(struct ph_session *ss)
{
    ss->noops = 0;
}

bool
ph_session_error(struct ph_session *ss)
{
    if (ss->srv == NULL || ++ss->nerrors < ss->srv->lim.max_errors)
        return true;
    ph_log(ss->loop, PH_LOG_INFO, "session=%s event=too_many_errors "
           "limit=%u", ss->id, ss->srv->lim.max_errors);
    ss->ops->goodbye(ss, PH_GOODBYE_ERRORS);
    ph_session_close(ss);
    return false;
}

static void
delay_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ph_session *ss = arg;

    (void)fd;
    (void)what;
    if (!ss->dead && ss->delay_fn)
        ss->delay_fn(ss);
}

int
ph_session_delay(struct ph_session *ss, unsigned ms,
                 void (*fn)(struct ph_session *ss))
{
    struct timeval tv = { .tv_sec = ms / 1000,
                          .tv_usec = (ms % 1000) * 1000 };

    if (ss->delay_ev == NULL &&
        (ss->delay_ev = evtimer_new(ss->loop->base, delay_cb, ss)) == NULL)
        return PH_ENOMEM;
    ss->delay_fn = fn;
    return evtimer_add(ss->delay_ev, &tv) == 0 ? 0 : PH_ENOMEM;
}

void
ph_session_set_state(struct ph_session *ss, int next)
{
    if (ss->state != next)
        ph_log(ss->loop, PH_LOG_DEBUG, "session=%s state=%s->%s", ss->id,
               ss->ops->state_names[ss->state], ss->ops->state_names[next]);
    ss->state = next;
}

/* The failure's reply; the last one a session may have closes it. */
static void
auth_answer(struct ph_session *ss)
{
    ss->ops->auth_refused(ss);
    if (ss->dead || ss->srv == NULL ||
        ss->nauth_failures < ss->srv->lim.max_auth_failures)
        return;
    ss->ops->goodbye(ss, PH_GOODBYE_AUTH);
    ph_session_close(ss);
}

void
ph_session_auth_fail(struct ph_session *ss, unsigned base_ms,
                     const char *mech, const char *user)
{
    char     clean[96];         /* client text: no CR/LF into the log */
    unsigned ms;

    ss->nauth_failures++;
    ph_log(ss->loop, PH_LOG_INFO, "session=%s event=auth_failed peer=%s "
           "mech=%s user=%s", ss->id, ph_session_peer_addr(ss),
           mech ? mech : "-", user ? ph_log_sanitize(clean, sizeof(clean),
           user, strlen(user)) : "-");
    /* Recorded for the address; the delay grows with its failures. */
    ms = ph_auth_guard_fail_delay(ss->srv ? ss->srv->guard : NULL,
                                  ph_session_peer(ss), time(NULL), base_ms);
    if (base_ms == 0 || base_ms == PH_CORE_NO_LIMIT ||
        ph_session_delay(ss, ms, auth_answer) != 0)
        auth_answer(ss);
}

bool
ph_session_auth_blocked(struct ph_session *ss)
{
    return ss->srv != NULL &&
           ph_auth_guard_blocked(ss->srv->guard, ph_session_peer(ss),
                                 time(NULL));
}

/* ---- TLS ----------------------------------------------------------------- */

static void
tls_wait(struct ph_session *ss)
{
    ss->tls_starting = true;
    ph_conn_set_timeout(ss->conn, ss->srv->lim.tls_handshake_timeout);
}

int
ph_session_accept_tls(struct ph_session *ss)
{
    int rc = ph_conn_accept_tls(ss->conn, ph_tls_ctx_ssl(ss->srv->tls),
                                ss->srv->lim.tls_handshake_timeout);

    if (rc != 0) {
        ph_log(ss->loop, PH_LOG_ERROR, "session=%s event=tls_failed "
               "reason=\"cannot start TLS\"", ss->id);
        ph_session_finish(ss, "tls_failed");
        return rc;
    }
    tls_wait(ss);
    return 0;
}

int
ph_session_start_tls(struct ph_session *ss)
{
    int rc;

    if (ss->srv == NULL || ss->srv->tls == NULL || ss->conn == NULL)
        return PH_ESTATE;
    rc = ph_conn_start_tls(ss->conn, ph_tls_ctx_ssl(ss->srv->tls),
                           ss->srv->lim.tls_handshake_timeout);
    if (rc == 0)
        tls_wait(ss);
    return rc;
}

bool
ph_session_tls_on(const struct ph_session *ss)
{
    return ss->conn != NULL && ss->conn->tls == PH_CONN_TLS_ON;
}

/* The handshake is done (an implicit-TLS accept, or STARTTLS/STLS). */
static void
session_tls(void *ctx)
{
    struct ph_session *ss = ctx;
    char               who[32];

    ss->tls_starting = false;
    if (ss->dead || ss->srv == NULL)
        return;
    ph_conn_set_timeout(ss->conn, ss->srv->lim.idle_timeout);
    snprintf(who, sizeof(who), "session=%s", ss->id);
    ph_conn_log_tls(ss->conn, who, ss->ops->tls_injected_event);
    ss->ops->tls_ready(ss);
}
