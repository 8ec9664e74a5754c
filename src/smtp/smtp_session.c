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

static void
session_free(struct ph_session *ss)
{
    ph_smtp_session *s = smtp_of(ss);

    smtp_message_free(s);
    free(s->hdr_buf);
    free(s->chunk);
    free(s->data_out);
    ph_arena_cleanup(&s->tx_arena);
    free(s->tx.rcpts);
    free(s->path_text);
    free(s->helo);
    smtp_auth_reset(s);
    free(s);
}

/* For the logs: state changes and the disconnect line (enum smtp_state). */
static const char *const state_names[] = {
    "greeting", "ready", "idle", "mail", "rcpt", "data", "bdat", "closing",
};

static void
session_describe(struct ph_session *ss, char *buf, size_t cap)
{
    ph_smtp_session *s = smtp_of(ss);

    snprintf(buf, cap, "state=%s transactions=%u", state_names[s->ss.state],
             s->ntx);
}

/* The connection is gone (the core logged it): end the transaction, tell
   the plugins and the program. */
static void
session_finish(struct ph_session *ss, const char *reason)
{
    ph_smtp_session *s = smtp_of(ss);
    ph_smtp_server  *srv = s->srv;

    if (s->tx.sender != NULL || s->ss.state == SMTP_S_DATA)
        smtp_tx_reset(s, true);
    if (s->greeted && srv) {
        /* Plugins hear it; the program's cleanup runs whatever they say. */
        smtp_plugins_inbound(s, srv->ev_disconnected, "disconnected", NULL,
                             0);
        if (srv->cb.disconnect)
            srv->cb.disconnect(s);
    }
    smtp_msgbufs_give_back(s);
    s->srv = NULL;
}

/* A 421 that answers no command: it completes nothing. */
static void
say_421(ph_smtp_session *s, const char *enh, const char *line)
{
    strcpy(s->cur_verb, "-");
    s->expect = 0;
    s->cur_id = SMTP_V_OTHER;
    smtp_send_reply(s, 421, enh, &line, 1);
}

/*
 * Close: with send_421 the client is told first (shutdown). The session
 * ends when the output is flushed.
 */
void
smtp_session_shutdown(ph_smtp_session *s, bool send_421)
{
    if (s->ss.dead || s->ss.state == SMTP_S_CLOSING)
        return;
    if (send_421)
        say_421(s, "4.3.2", "Service closing transmission channel");
    ph_session_set_state(&s->ss, SMTP_S_CLOSING);
    ph_session_close(&s->ss);
}

/* The core closes the session after this line (session.h). */
static void
session_goodbye(struct ph_session *ss, int why)
{
    ph_smtp_session *s = smtp_of(ss);

    switch (why) {
    case PH_GOODBYE_IDLE:
        say_421(s, "4.4.2", "Idle timeout, closing connection");
        break;
    case PH_GOODBYE_EXPIRED:
        say_421(s, "4.4.2", "Session time limit exceeded, closing "
                "connection");
        break;
    case PH_GOODBYE_NOOPS:
        say_421(s, "4.7.0", "Too many commands without progress, closing "
                "connection");
        break;
    case PH_GOODBYE_ERRORS:
        say_421(s, "4.7.0", "Too many errors, closing connection");
        break;
    case PH_GOODBYE_AUTH:
        say_421(s, "4.7.0", "Too many failed logins, closing connection");
        break;
    default:
        say_421(s, "4.3.2", "Service closing transmission channel");
        break;
    }
    ph_session_set_state(&s->ss, SMTP_S_CLOSING);
}

void
smtp_count_error(ph_smtp_session *s)
{
    if (s->srv != NULL && !ph_session_error(&s->ss))
        ph_session_set_state(&s->ss, SMTP_S_CLOSING);
}

/* Graceful shutdown: a transaction under way, or a command awaiting its
   answer, may finish: smtp_reply_done() says 421 right after (no message
   is cut off by a restart). Mid-handshake the 421 goes out over TLS once
   it is done (smtp_tls_ready), never in plaintext to a TLS client. */
static void
session_shutdown(struct ph_session *ss)
{
    ph_smtp_session *s = smtp_of(ss);

    if (smtp_in_transaction(s) || s->expect != 0 || ss->tls_starting)
        return;
    smtp_session_shutdown(s, true);
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
    if (s->expect != 0 && !s->ss.dead) {
        if (r == PH_PENDING) {
            ph_session_wait(&s->ss);     /* reply comes later */
        } else {
            /* A handler that returned without its reply(ies). */
            const char *line = "Internal error: handler did not reply";
            ph_log(s->ss.loop, PH_LOG_WARN, "session=%s event=no_reply cmd=%s",
                   s->ss.id, verb);
            while (s->expect != 0 && !s->ss.dead) {
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
    if ((v->flags & SMTP_F_NEED_HELO) && s->ss.state < SMTP_S_IDLE)
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
    if ((v->flags & SMTP_F_JUNK) && !ph_session_noop(&s->ss))
        return;                 /* 421 sent, closing */
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

/* Another step may be taken: no reply is awaited. */
static bool
session_can_read(struct ph_session *ss)
{
    ph_smtp_session *s = smtp_of(ss);

    return s->expect == 0 && s->ss.state != SMTP_S_CLOSING;
}

/* One step of input: message data, or one command line. */
static bool
session_input(struct ph_session *ss)
{
    ph_smtp_session *s = smtp_of(ss);
    size_t           len;

    if (s->ss.state == SMTP_S_DATA)
        return smtp_data_read(s);
    if (s->ss.state == SMTP_S_BDAT)
        return smtp_bdat_read(s);
    switch (ph_session_read_line(ss, &len)) {
    case PH_LINE_NONE:
        return false;
    case PH_LINE_TOO_LONG:
        s->sasl = SMTP_SASL_NONE;       /* it also ends an AUTH exchange */
        line_too_long(s);
        break;
    case PH_LINE_OK:
        if (line_over_limit(s, ss->line, len))
            line_too_long(s);
        else if (s->sasl != SMTP_SASL_NONE)
            smtp_sasl_line(s, ss->line, len);      /* answer to a 334 */
        else
            smtp_dispatch_line(s, ss->line, len);
        break;
    }
    return true;
}

const struct ph_session_ops smtp_session_ops = {
    .state_names = state_names,
    .tls_injected_event = "starttls_pipelining",
    .can_read = session_can_read,
    .input = session_input,
    .goodbye = session_goodbye,
    .tls_ready = smtp_tls_ready,
    .describe = session_describe,
    .finish = session_finish,
    .shutdown = session_shutdown,
    .auth_refused = smtp_auth_refused,
    .free = session_free,
};

/* The line buffer: the command limit, or RFC 4954's for AUTH lines when
   AUTH is on (other commands are still held to max_line_len). */
static size_t
session_line_max(const ph_smtp_server *srv)
{
    size_t max = srv->limits.max_line_len;

    return srv->verify != NULL && max < SMTP_AUTH_LINE_MAX
           ? SMTP_AUTH_LINE_MAX : max;
}

ph_smtp_session *
smtp_session_new(ph_smtp_server *srv, evutil_socket_t fd,
                 const struct sockaddr *peer, socklen_t peer_len)
{
    ph_smtp_session *s = calloc(1, sizeof(*s));

    srv->core.lim.line_max = session_line_max(srv);   /* verify may be new */
    if (s == NULL ||
        (s->path_text = malloc(srv->core.lim.line_max + 1)) == NULL) {
        free(s);
        evutil_closesocket(fd);
        return NULL;
    }
    s->srv = srv;
    s->line_mode = srv->line_mode;
    s->chunk_size = srv->chunk_size;
    if (ph_session_init(&s->ss, &srv->core, fd, peer, peer_len,
                        &smtp_session_ops) != 0) {
        /* Not linked: nothing else holds it. */
        s->ss.refs = 1;
        ph_session_unref(&s->ss);
        return NULL;
    }
    return s;
}

/* From an accepted MAIL until the reply that ends the message. */
bool
smtp_in_transaction(const ph_smtp_session *s)
{
    return s->tx.sender != NULL || s->ss.state == SMTP_S_DATA;
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
    bool had_tx = s->tx.sender != NULL || s->ss.state == SMTP_S_DATA;

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
    if (s->ss.state >= SMTP_S_MAIL && s->ss.state <= SMTP_S_BDAT)
        ph_session_set_state(&s->ss, SMTP_S_IDLE);
}
