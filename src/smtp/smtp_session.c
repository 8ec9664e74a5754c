/*
 * smtp_session.c -- one SMTP/LMTP session: connection events, the input
 * loop (commands, then DATA), dispatch through the verb table with the
 * sequencing checks done before any handler, and teardown.
 *
 * A command flows: line reader -> ph_smtp_parse_cmd -> verb lookup ->
 * flag check (503/501) -> verb check (parse MAIL/RCPT) -> handler ->
 * ph_smtp_reply -> commit (smtp_reply.c).
 */
#include "smtp/smtp_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

static const char *const state_names[] = {
    "greeting", "ready", "idle", "mail", "rcpt", "data", "bdat", "closing",
};

static void session_read(void *ctx);
static void session_drain(void *ctx);
static void session_event(void *ctx, enum ph_conn_event ev);

static const struct ph_conn_ops session_ops = {
    .on_read = session_read,
    .on_drain = session_drain,
    .on_event = session_event,
    .on_tls = smtp_tls_ready,
};

void
smtp_set_state(ph_smtp_session *s, enum smtp_state next)
{
    if (s->state == next)
        return;
    ph_log(s->loop, PH_LOG_DEBUG, "session=%s state=%s->%s", s->id,
           state_names[s->state], state_names[next]);
    s->state = next;
}

static void
session_free(ph_smtp_session *s)
{
    smtp_message_free(s);
    free(s->hdr_buf);
    free(s->chunk);
    free(s->data_out);
    ph_arena_cleanup(&s->tx_arena);
    free(s->tx.rcpts);
    free(s->line);
    free(s->path_text);
    free(s->helo);
    smtp_auth_reset(s);
    if (s->auth_delay_ev)
        event_free(s->auth_delay_ev);
    free(s);
}

void
ph_smtp_session_ref(ph_smtp_session *s)
{
    s->refs++;
}

void
ph_smtp_session_unref(ph_smtp_session *s)
{
    if (s != NULL && --s->refs == 0)
        session_free(s);
}

static void
unlink_session(ph_smtp_session *s)
{
    ph_smtp_server *srv = s->srv;

    if (srv == NULL || s->unlinked)
        return;
    s->unlinked = true;
    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->nsessions--;
    s->prev = s->next = NULL;
}

static long
elapsed_ms(const struct timeval *t0)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    return (now.tv_sec - t0->tv_sec) * 1000L +
           (now.tv_usec - t0->tv_usec) / 1000L;
}

/* The connection is gone: tell the program, then drop our ref. */
static void
session_finish(ph_smtp_session *s, const char *reason)
{
    ph_smtp_server *srv = s->srv;

    if (s->dead)
        return;
    s->dead = true;
    /* Off the server's list before any program callback runs, so that
       nothing the callback does can find this session half gone. */
    unlink_session(s);
    ph_log(s->loop, PH_LOG_INFO, "session=%s event=disconnect peer=%s "
           "reason=%s transactions=%u errors=%u duration_ms=%ld", s->id,
           s->conn->peer_addr, reason, s->ntx, s->nerrors,
           elapsed_ms(&s->started));
    if (s->tx.sender != NULL || s->state == SMTP_S_DATA)
        smtp_tx_reset(s, true);
    if (s->greeted && srv) {
        /* Plugins hear it; the program's cleanup runs whatever they say. */
        s->srv = srv;
        smtp_plugins_inbound(s, srv->ev_disconnected, "disconnected", NULL,
                             0);
        if (srv->cb.disconnect)
            srv->cb.disconnect(s);
    }
    ph_conn_free(s->conn);
    s->conn = NULL;
    smtp_msgbufs_give_back(s);
    s->srv = NULL;
    ph_smtp_session_unref(s);
}

/*
 * Close: with send_421 the client is told first (timeout, shutdown, too
 * many errors). The session ends when the output is flushed.
 */
void
smtp_session_shutdown(ph_smtp_session *s, bool send_421)
{
    if (s->dead || s->state == SMTP_S_CLOSING)
        return;
    if (send_421) {
        const char *line = "Service closing transmission channel";
        strcpy(s->cur_verb, "-");
        s->expect = 0;
        s->cur_id = SMTP_V_OTHER;
        smtp_send_reply(s, 421, "4.3.2", &line, 1);
    }
    smtp_set_state(s, SMTP_S_CLOSING);
    ph_conn_close_after_flush(s->conn);
}

void
smtp_count_error(ph_smtp_session *s)
{
    const char *line = "Too many errors, closing connection";

    if (s->srv == NULL || ++s->nerrors < s->srv->limits.max_errors)
        return;
    s->expect = 0;
    s->cur_id = SMTP_V_OTHER;
    smtp_send_reply(s, 421, "4.7.0", &line, 1);
    smtp_session_shutdown(s, false);
}

/*
 * Calls a handler and applies its result. expect is how many replies the
 * step awaits (1; the number of recipients for LMTP end-of-message).
 */
void
smtp_run_handler(ph_smtp_session *s, enum smtp_verb_id id, const char *verb,
                 ph_smtp_handler *fn, const char *arg, unsigned expect)
{
    enum ph_result r;

    if (fn != NULL) {
        s->cur_id = id;
        s->expect = expect;
        s->replied = 0;
    }   /* else a plugin took the step: its reply may be out already */
    ph_smtp_session_ref(s);
    s->in_dispatch = true;
    r = fn ? fn(s, verb, arg) : PH_OK;      /* NULL: a plugin took it */
    s->in_dispatch = false;
    if (r == PH_CLOSE) {
        if (s->expect == 0)
            smtp_session_shutdown(s, false);
        else
            s->close_after_reply = true;
    }
    if (s->expect != 0 && !s->dead) {
        if (r == PH_PENDING) {
            s->waiting = true;           /* reply comes later */
            ph_conn_pause_read(s->conn);
        } else {
            /* A handler that returned without its reply(ies). */
            const char *line = "Internal error: handler did not reply";
            ph_log(s->loop, PH_LOG_WARN, "session=%s event=no_reply cmd=%s",
                   s->id, verb);
            while (s->expect != 0 && !s->dead) {
                if (smtp_send_reply(s, 451, "4.3.0", &line, 1) != 0)
                    break;
                smtp_reply_done(s, 451);
            }
        }
    }
    ph_smtp_session_unref(s);
}

static int
flag_check(ph_smtp_session *s, const struct smtp_verb *v, const char *arg)
{
    const char *msg = NULL;
    int         code = 503;

    if (s->srv->mode == PH_SMTP_MODE_BARE)
        return 0;
    if ((v->flags & SMTP_F_NEED_HELO) && s->state < SMTP_S_IDLE)
        msg = s->srv->mode == PH_SMTP_MODE_LMTP ? "Send LHLO first"
                                                : "Send HELO/EHLO first";
    else if ((v->flags & SMTP_F_NOT_IN_DATA) && smtp_data_begun(s))
        msg = "Message data already begun: send the rest by BDAT, or RSET";
    else if ((v->flags & SMTP_F_NOT_IN_TX) && s->tx.sender != NULL)
        msg = "Sender already specified";
    else if ((v->flags & SMTP_F_NEED_MAIL) && s->tx.sender == NULL)
        msg = "Need MAIL command first";
    else if ((v->flags & SMTP_F_NEED_RCPT) && s->tx.nrcpts == 0)
        msg = "Need RCPT command first";
    else if ((v->flags & SMTP_F_NO_ARG) && arg[0] != '\0')
        code = 501, msg = "Syntax error: no arguments allowed";
    else if ((v->flags & SMTP_F_NEED_ARG) && arg[0] == '\0')
        code = 501, msg = "Syntax error: argument required";
    if (msg == NULL)
        return 0;
    s->cur_id = v->id;          /* only a 2xx commits: a 50x changes nothing */
    s->expect = 1;
    ph_smtp_reply(s, code, code == 503 ? "5.5.1" : "5.5.4", "%s", msg);
    return -1;
}

static void
bad_line(ph_smtp_session *s, enum ph_parse_err err)
{
    s->cur_id = SMTP_V_OTHER;
    s->expect = 1;
    strcpy(s->cur_verb, "-");
    if (err == PH_PARSE_BAD_CHAR)
        ph_smtp_reply(s, 500, "5.5.2", "Bare CR, LF or NUL in command "
                      "refused (RFC 5321 2.3.8)");
    else
        ph_smtp_reply(s, 500, "5.5.2", "Syntax error, command "
                      "unrecognized");
}

void
smtp_dispatch_line(ph_smtp_session *s, char *line, size_t len)
{
    struct ph_smtp_cmd cmd;
    struct smtp_verb  *v;
    enum smtp_verb_id  id;
    enum ph_parse_err  err;
    char              *arg;
    size_t             i;

    err = ph_smtp_parse_cmd(line, len, &cmd);
    if (err != PH_PARSE_OK) {
        bad_line(s, err);
        return;
    }
    for (i = 0; i < cmd.verb.len; i++)
        s->cur_verb[i] = (char)toupper((unsigned char)cmd.verb.p[i]);
    s->cur_verb[i] = '\0';
    arg = (char *)cmd.arg.p;
    arg[cmd.arg.len] = '\0';             /* line has room: CRLF was here */
    v = smtp_verb_find(s->srv, s->cur_verb, cmd.verb.len);
    if (v == NULL) {
        s->expect = 1;
        s->cur_id = SMTP_V_OTHER;
        smtp_run_handler(s, SMTP_V_OTHER, s->cur_verb,
                         smtp_plugins_command(s, NULL, arg)
                             ? s->srv->default_handler : NULL, arg, 1);
        return;
    }
    if (flag_check(s, v, arg) != 0)
        return;
    s->cur_id = v->id;
    s->expect = 1;              /* a check's error reply answers the line */
    s->replied = 0;
    if (v->id == SMTP_V_HELO || v->id == SMTP_V_EHLO || v->id == SMTP_V_LHLO)
        memcpy(s->path_text, arg, cmd.arg.len + 1);  /* name to commit */
    if (v->check && v->check(s, arg) != 0)
        return;                          /* it has replied */
    id = v->id;
    if (!smtp_plugins_command(s, v, arg)) {
        smtp_run_handler(s, id, s->cur_verb, NULL, arg, 1);
        return;
    }
    /* A plugin may have changed the verb table (realloc, removal). */
    v = smtp_verb_find(s->srv, s->cur_verb, cmd.verb.len);
    smtp_run_handler(s, id, s->cur_verb,
                     v ? v->handler : s->srv->default_handler, arg, 1);
}

static void
line_too_long(ph_smtp_session *s)
{
    s->cur_id = SMTP_V_OTHER;
    s->expect = 1;
    strcpy(s->cur_verb, "-");
    ph_smtp_reply(s, 500, "5.5.2", "Line too long (max %zu octets)",
                  s->srv->limits.max_line_len);
}

/* Over the command limit, but within the AUTH one: an AUTH command or
   an answer to a 334 passes, anything else is too long. */
static bool
line_over_limit(const ph_smtp_session *s, const char *line, size_t len)
{
    if (len + 2 <= s->srv->limits.max_line_len)
        return false;
    if (s->sasl != SMTP_SASL_NONE)
        return false;
    return !(len > 5 && strncasecmp(line, "AUTH ", 5) == 0);
}

/* One pass over buffered input: as many commands as there are lines. */
static void
session_read(void *ctx)
{
    ph_smtp_session *s = ctx;
    size_t           len;

    ph_smtp_session_ref(s);
    while (!s->dead && !s->waiting && s->state != SMTP_S_CLOSING &&
           s->expect == 0 && !s->tls_starting) {
        if (s->state == SMTP_S_DATA) {
            if (!smtp_data_read(s))
                break;
            continue;
        }
        if (s->state == SMTP_S_BDAT) {
            if (!smtp_bdat_read(s))
                break;
            continue;
        }
        switch (ph_linereader_read(&s->lr, ph_conn_input(s->conn), s->line,
                                   &len)) {
        case PH_LINE_NONE:
            goto out;
        case PH_LINE_TOO_LONG:
            s->sasl = SMTP_SASL_NONE;   /* it also ends an AUTH exchange */
            line_too_long(s);
            break;
        case PH_LINE_OK:
            if (line_over_limit(s, s->line, len))
                line_too_long(s);
            else if (s->sasl != SMTP_SASL_NONE)
                smtp_sasl_line(s, s->line, len);   /* answer to a 334 */
            else
                smtp_dispatch_line(s, s->line, len);
            break;
        }
        /* Pipelining flood with no reading: stop until output drains. */
        if (!s->dead && s->conn && ph_conn_output_high(s->conn)) {
            ph_conn_pause_read(s->conn);
            break;
        }
    }
out:
    ph_smtp_session_unref(s);
}

static void
session_drain(void *ctx)
{
    ph_smtp_session *s = ctx;

    if (!s->dead && !s->waiting && s->conn->read_paused &&
        s->state != SMTP_S_CLOSING)
        ph_conn_resume_read(s->conn);
}

static void
session_event(void *ctx, enum ph_conn_event ev)
{
    ph_smtp_session *s = ctx;

    switch (ev) {
    case PH_CONN_TIMEOUT:
        if (s->conn->timeout_writing) {
            /* It takes no output: a 421 would never be flushed. */
            session_finish(s, "write_timeout");
            return;
        }
        if (s->waiting) {
            /* The program is still working: that is not the client's
               fault, so keep the session. */
            ph_conn_rearm(s->conn);
            return;
        }
        ph_log(s->loop, PH_LOG_INFO, "session=%s event=timeout", s->id);
        s->expect = 0;
        s->cur_id = SMTP_V_OTHER;
        {
            const char *line = "Idle timeout, closing connection";
            smtp_send_reply(s, 421, "4.4.2", &line, 1);
        }
        smtp_session_shutdown(s, false);
        return;
    case PH_CONN_EOF:
        session_finish(s, s->state == SMTP_S_DATA ? "eof_in_data"
                          : s->state == SMTP_S_BDAT ? "eof_in_bdat" : "eof");
        return;
    case PH_CONN_ERROR:
        session_finish(s, "error");
        return;
    case PH_CONN_CLOSED:
        session_finish(s, "closed");
        return;
    case PH_CONN_TLS_FAILED:
        ph_log(s->loop, PH_LOG_INFO, "session=%s event=tls_failed "
               "reason=\"%s\"", s->id, s->conn->tls_error);
        session_finish(s, "tls_failed");
        return;
    }
}

/* The line buffer: the command limit, or RFC 4954's for AUTH lines when
   AUTH is on (other commands are still held to max_line_len). */
static size_t
session_line_max(const ph_smtp_server *srv)
{
    size_t max = srv->limits.max_line_len;

    return srv->verify != NULL && max < SMTP_AUTH_LINE_MAX
           ? SMTP_AUTH_LINE_MAX : max;
}

static int
session_alloc_buffers(ph_smtp_session *s)
{
    size_t max = session_line_max(s->srv);

    s->line = malloc(max + 1);
    s->path_text = malloc(max + 1);
    return (s->line && s->path_text) ? 0 : PH_ENOMEM;
}

ph_smtp_session *
smtp_session_new(ph_smtp_server *srv, evutil_socket_t fd,
                 const struct sockaddr *peer, socklen_t peer_len)
{
    ph_smtp_session *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->srv = srv, session_alloc_buffers(s)) != 0) {
        if (s)
            session_free(s);
        evutil_closesocket(fd);
        return NULL;
    }
    s->loop = srv->loop;
    s->refs = 1;
    s->lr.max = session_line_max(srv);
    s->line_mode = srv->line_mode;
    s->chunk_size = srv->chunk_size;
    gettimeofday(&s->started, NULL);
    ph_loop_new_session_id(srv->loop, s->id);
    s->conn = ph_conn_new(srv->loop, fd, peer, peer_len, &session_ops, s);
    if (s->conn == NULL) {
        session_free(s);
        return NULL;
    }
    ph_conn_set_timeout(s->conn, srv->limits.idle_timeout);
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->nsessions++;
    ph_log(s->loop, PH_LOG_INFO, "session=%s event=connect peer=%s:%u "
           "local=%s:%u server=%s", s->id, s->conn->peer_addr,
           s->conn->peer_port, s->conn->local_addr, s->conn->local_port,
           srv->alias);
    return s;
}

/* From an accepted MAIL until the reply that ends the message. */
bool
smtp_in_transaction(const ph_smtp_session *s)
{
    return s->tx.sender != NULL || s->state == SMTP_S_DATA;
}

/* The first BDAT chunk was taken: the envelope is closed until the
   transaction ends (DATA reads its message in one go, so it has no
   such state between commands). */
bool
smtp_data_begun(const ph_smtp_session *s)
{
    return s->tx.bdat;
}

/* The transaction ends: aborted (RSET, error, disconnect) or delivered. */
void
smtp_tx_reset(ph_smtp_session *s, bool aborted)
{
    bool had_tx = s->tx.sender != NULL || s->state == SMTP_S_DATA;

    if (aborted && had_tx && !s->data_aborted && s->srv &&
        s->srv->cb.tx_abort)
        s->srv->cb.tx_abort(s);
    if (!aborted && had_tx)
        s->ntx++;
    smtp_message_free(s);
    ph_arena_reset(&s->tx_arena);
    free(s->tx.rcpts);
    memset(&s->tx, 0, sizeof(s->tx));
    s->data_aborted = false;
    if (s->state >= SMTP_S_MAIL && s->state <= SMTP_S_BDAT)
        smtp_set_state(s, SMTP_S_IDLE);
}
