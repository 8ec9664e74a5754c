/*
 * smtp_reply.c -- the one place replies are written (RFC 5321 4.2), and
 * what a reply commits: a 2xx to MAIL starts the transaction, a 354 to
 * DATA starts the message, and so on. The outbound plugin hook (issue on
 * plugins) goes in smtp_send_reply().
 */
#include "smtp/smtp_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SMTP_REPLY_MAX 8192

/* RFC 2034 3: no enhanced code in the greeting nor in HELO/EHLO replies;
   RFC 3463 has no class 3. Bare mode (seed 000) sends none at all. */
static bool
wants_enh(const ph_smtp_session *s, int code)
{
    if (s->srv == NULL || s->srv->mode == PH_SMTP_MODE_BARE)
        return false;
    if (code / 100 == 3)
        return false;
    switch (s->cur_id) {
    case SMTP_V_CONNECT: case SMTP_V_HELO: case SMTP_V_EHLO: case SMTP_V_LHLO:
        return false;
    default:
        return true;
    }
}

/* Logs a 4xx/5xx as it went out: its last line's text, after the
   "ddd " and the enhanced code a plugin may have changed. */
static void
log_reply(ph_smtp_session *s, int code, const char *buf, size_t len)
{
    char        text[200];
    const char *last = buf, *p;

    if (!ph_log_enabled(s->ss.loop, PH_LOG_INFO))
        return;
    for (p = buf; p + 2 < buf + len; p++)
        if (p[0] == '\r' && p[1] == '\n')
            last = p + 2;
    last += len - (size_t)(last - buf) >= 4 ? 4 : 0;   /* "ddd " */
    ph_log(s->ss.loop, PH_LOG_INFO, "session=%s event=reply cmd=%s "
           "code=%d text=\"%s\"", s->ss.id, s->cur_verb, code,
           ph_log_sanitize(text, sizeof(text), last,
                           (size_t)(buf + len - last) - 2));
}

/*
 * Writes a reply after the outbound plugins. *code becomes the code that
 * went on the wire (a plugin may rewrite it): what the reply commits is
 * decided from that (ARCHITECTURE: a reply commits what went out). A
 * reply a plugin kept off the wire keeps the code asked for: it still
 * answers the command and commits (a refused BDAT chunk must still be
 * read and dropped, never run as commands).
 */
static int
send_reply(ph_smtp_session *s, int *code, const char *enh,
           const char *const *lines, size_t n)
{
    char buf[SMTP_REPLY_MAX];
    int  len;

    /* After a 421 (or QUIT's 221) nothing more may reach the client. */
    if (s->ss.dead || s->ss.conn == NULL || s->ss.state == SMTP_S_CLOSING)
        return PH_ECLOSED;
    /* Between the 220 to STARTTLS (or an implicit-TLS accept) and the end
       of the handshake no SMTP reply may be written: in plaintext it
       would reach a client speaking TLS. A 421 then is just a close. */
    if (s->ss.tls_starting)
        return PH_ECLOSED;
    int  asked = *code;

    if (s->srv != NULL &&
        ph_pipeline_wants(s->srv->pl, PH_HOOK_CLIENT, s->srv->ev_response)) {
        if (!smtp_plugins_response(s, code, &enh, lines, n, buf,
                                   sizeof(buf), wants_enh(s, *code), &len)) {
            return 0;           /* nothing on the wire; *code: asked */
        }
    } else {
        len = ph_smtp_format_reply(buf, sizeof(buf), *code, enh, lines, n,
                                   wants_enh(s, *code));
    }
    if (len < 0)
        return PH_EINVAL;
    /* The program's 2xx to a message, turned into a refusal by a plugin:
       the program hears tx_abort after all (smtp_reply_done). */
    if (s->cur_id == SMTP_V_EOM && asked / 100 == 2 && *code / 100 != 2)
        s->eom_overridden = true;
    if (*code >= 400)
        log_reply(s, *code, buf, (size_t)len);
    return ph_conn_write(s->ss.conn, buf, (size_t)len);
}

int
smtp_send_reply(ph_smtp_session *s, int code, const char *enh,
                const char *const *lines, size_t n)
{
    return send_reply(s, &code, enh, lines, n);
}

/* The 2xx went out but its effect could not be recorded (ENOMEM, or a
   state the sequencing checks should have kept out): tell the client and
   close (STYLE 5), rather than go on in a wrong state. */
static void
commit_failed(ph_smtp_session *s, int err)
{
    const char *line = err == PH_ENOMEM ? "Out of memory, closing connection"
                                        : "Internal error, closing connection";

    ph_log(s->ss.loop, PH_LOG_ERROR, "session=%s event=commit_failed cmd=%s "
           "error=%d", s->ss.id, s->cur_verb, err);
    smtp_send_reply(s, 421, "4.3.0", &line, 1);
    s->close_after_reply = true;
}

/* A positive reply to these moves a mail along (or secures the session):
   the count of commands without progress starts again. */
static bool
smtp_makes_progress(enum smtp_verb_id id)
{
    switch (id) {
    case SMTP_V_MAIL: case SMTP_V_RCPT: case SMTP_V_DATA: case SMTP_V_BDAT:
    case SMTP_V_EOM: case SMTP_V_AUTH: case SMTP_V_STARTTLS:
        return true;
    default:
        return false;
    }
}

/* What a reply to the current command changes in the session. */
static void
commit(ph_smtp_session *s, int code)
{
    bool ok = code >= 200 && code < 300;
    int  err;

    if (code >= 200 && code < 400 && smtp_makes_progress(s->cur_id))
        ph_session_progress(&s->ss);    /* max_noop_commands starts over */

    switch (s->cur_id) {
    case SMTP_V_CONNECT:
        if (ok)
            ph_session_set_state(&s->ss, SMTP_S_READY);
        else
            s->close_after_reply = true;   /* 421/554 greeting: goodbye */
        break;
    case SMTP_V_HELO: case SMTP_V_EHLO: case SMTP_V_LHLO:
        if (ok)
            smtp_commit_helo(s, s->cur_id, s->path_text);
        break;
    case SMTP_V_MAIL:
        if (ok && (err = smtp_commit_mail(s)) != 0)
            commit_failed(s, err);
        break;
    case SMTP_V_RCPT:
        if (ok && (err = smtp_commit_rcpt(s)) != 0)
            commit_failed(s, err);
        break;
    case SMTP_V_DATA:
        if (code == 354 && (err = smtp_data_begin(s)) != 0)
            commit_failed(s, err);
        break;
    case SMTP_V_BDAT:
        smtp_bdat_commit(s);    /* answered before its chunk: dropped */
        break;
    case SMTP_V_RSET:
        if (ok)
            smtp_tx_reset(s, true);
        break;
    case SMTP_V_QUIT:
        if (ok)
            s->close_after_reply = true;
        break;
    case SMTP_V_STARTTLS:
        if (code == 220)
            smtp_tls_commit(s);
        break;
    case SMTP_V_AUTH:
        if (code == 235)
            smtp_auth_commit(s);
        break;
    case SMTP_V_EOM:
        /* The code the client saw: a plugin's 5xx over the program's 250
           ends the transaction as aborted (tx_abort), not delivered. */
        ph_log(s->ss.loop, PH_LOG_INFO, "session=%s event=message from=<%s> "
               "rcpts=%zu size=%zu code=%d", s->ss.id,
               s->tx.sender ? s->tx.sender : "", s->tx.nrcpts, s->tx.size,
               code);
        if (s->eom_overridden)
            s->data_aborted = false;    /* it heard eom: now tx_abort */
        s->eom_overridden = false;
        smtp_tx_reset(s, !ok && s->srv && s->srv->mode != PH_SMTP_MODE_LMTP);
        break;
    default:
        break;
    }
}

/* Called after each reply; the last expected one completes the command. */
void
smtp_reply_done(ph_smtp_session *s, int code)
{
    if (s->expect == 0)
        return;                 /* unsolicited: nothing to commit */
    bool counts = code >= 400 && s->cur_id != SMTP_V_EOM &&
                  s->cur_id != SMTP_V_CONNECT;

    s->replied++;
    if (s->cur_id == SMTP_V_EOM && s->replied < s->expect)
        return;                 /* LMTP: one reply per recipient */
    commit(s, code);
    s->expect = 0;
    s->replied = 0;
    if (s->close_after_reply) {
        smtp_session_shutdown(s, false);
        return;
    }
    if (counts)
        smtp_count_error(s);
    if (s->ss.state == SMTP_S_CLOSING)
        return;
    if (s->srv != NULL && s->srv->core.shutting_down && !smtp_in_transaction(s)) {
        smtp_session_shutdown(s, true);     /* drained: now the 421 */
        return;
    }
    if (s->ss.waiting && !s->in_dispatch)
        ph_session_resume(&s->ss);  /* an answer came later: read again */
}

static int
reply_lines(ph_smtp_session *s, int code, const char *enh,
            const char *const *lines, size_t n)
{
    int rc;

    if (s->ss.dead)
        return PH_ECLOSED;
    if (code < 200 || code > 599 || n == 0)
        return PH_EINVAL;
    /* One reply per command (n per LMTP message): an extra one would put
       a pipelining client out of step (STYLE 3). */
    if (s->expect == 0)
        return PH_ESTATE;
    rc = send_reply(s, &code, enh, lines, n);     /* code: as sent */
    if (rc == PH_EINVAL)
        return rc;
    smtp_reply_done(s, code);
    return rc;
}

int
ph_smtp_reply_lines(ph_smtp_session *s, int code, const char *enh,
                    const char *const *lines, size_t n)
{
    return reply_lines(s, code, enh, lines, n);
}

int
ph_smtp_reply(ph_smtp_session *s, int code, const char *enh,
              const char *fmt, ...)
{
    char        text[1024];
    const char *line = text;
    va_list     ap;
    int         w;

    if (strchr(fmt, '%') == NULL && strlen(fmt) < 500) {
        line = fmt;             /* fixed text: no formatting pass */
        return reply_lines(s, code, enh, &line, 1);
    }
    va_start(ap, fmt);
    w = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (w < 0)
        return PH_EINVAL;
    /* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets. */
    if ((size_t)w >= 500)
        text[500] = '\0';
    return reply_lines(s, code, enh, &line, 1);
}

int
ph_smtp_reject_message(ph_smtp_session *s, int code, const char *enh,
                       const char *text)
{
    struct smtp_tx *tx = &s->tx;

    if (code < 400 || code > 599 || text == NULL || strpbrk(text, "\r\n"))
        return PH_EINVAL;
    if (s->ss.state != SMTP_S_DATA &&
        (s->ss.state != SMTP_S_BDAT || s->bdat_skip))
        return PH_ESTATE;
    if (tx->err_code != 0)
        return 0;               /* the first error stands */
    tx->err_code = code;
    snprintf(tx->err_enh, sizeof(tx->err_enh), "%s", enh ? enh : "");
    snprintf(tx->err_text, sizeof(tx->err_text), "%s", text);
    smtp_message_abort(s);
    return 0;
}
