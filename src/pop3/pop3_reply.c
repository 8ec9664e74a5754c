/*
 * pop3_reply.c -- responses: status lines (RFC 1939 3, RFC 2449 8 and
 * RFC 3206 response codes) through the PH_HOOK_CLIENT plugins (the seed's
 * POP3C "response"), and multi-line responses produced by a cursor:
 * LIST, UIDL, and RETR/TOP streamed from the maildrop with LF -> CRLF and
 * dot-stuffing, a step at a time as the socket takes them.
 */
#include "pop3/pop3_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_prefix[] = {
    [PH_POP3_OK]           = "+OK",
    [PH_POP3_ERR]          = "-ERR",
    [PH_POP3_ERR_AUTH]     = "-ERR [AUTH]",
    [PH_POP3_ERR_IN_USE]   = "-ERR [IN-USE]",
    [PH_POP3_ERR_SYS_TEMP] = "-ERR [SYS/TEMP]",
    [PH_POP3_ERR_SYS_PERM] = "-ERR [SYS/PERM]",
};

/*
 * The "response" event has the shape SMTP's has (status or code, the
 * response code, the text): "-ERR [SYS/TEMP] text" is "-ERR", "SYS/TEMP"
 * (RFC 2449 8, without brackets; "" if none), "text" ("" if none).
 * split_line cuts a copy of the line in buf into them.
 */
struct pop3_parts {
    char        buf[512];
    const char *status, *code, *text;
};

static void
split_line(const char *line, size_t len, struct pop3_parts *p)
{
    char *sp, *end;

    snprintf(p->buf, sizeof(p->buf), "%.*s", (int)len, line);
    p->status = p->buf;
    p->code = p->text = "";
    if ((sp = strchr(p->buf, ' ')) == NULL)
        return;
    *sp++ = '\0';
    if (sp[0] == '[' && (end = strchr(sp, ']')) != NULL &&
        (end[1] == ' ' || end[1] == '\0')) {
        *end = '\0';
        p->code = sp + 1;
        sp = end[1] ? end + 2 : end + 1;
    }
    p->text = sp;
}

/* The line as the plugins left it, into out; false if they broke it (a
   part missing, or CR/LF that would inject a second response). */
static bool
join_line(const struct ph_event *ev, char *out, size_t cap)
{
    if (ev->argc < 3)
        return false;
    for (size_t i = 0; i < 3; i++)
        if (strpbrk(ev->argv[i], "\r\n") != NULL)
            return false;
    snprintf(out, cap, "%s%s%s%s%s%s", ev->argv[0],
             ev->argv[1][0] ? " [" : "", ev->argv[1],
             ev->argv[1][0] ? "]" : "", ev->argv[2][0] ? " " : "",
             ev->argv[2]);
    return true;
}

/* One line through the "response" plugins: 1 and the line to send in
   out, or 0 if a plugin suppressed it. */
static int
response_event(ph_pop3_session *s, const char *line, size_t len, char *out,
               size_t cap)
{
    struct pop3_parts p;
    struct ph_event   ev;
    int               keep;

    split_line(line, len, &p);
    ph_event_init(&ev, s->srv->pl, PH_HOOK_CLIENT, "response", s, s->ss.id);
    ph_event_add_arg(&ev, p.status);
    ph_event_add_arg(&ev, p.code);
    ph_event_add_arg(&ev, p.text);
    keep = ph_pipeline_dispatch(s->srv->pl, &ev);
    if (keep && !join_line(&ev, out, cap))
        snprintf(out, cap, "%.*s", (int)len, line);
    ph_event_cleanup(&ev);
    return keep;
}

/* One line to the client, after the "response" plugins (which may
   rewrite or suppress it). */
int
pop3_write_line(ph_pop3_session *s, const char *line, size_t len)
{
    ph_pop3_server *srv = s->srv;
    char            out[POP3_LINE_MAX - 1];     /* 510 + CRLF (RFC 2449 4) */
    int             rc;

    if (s->ss.dead || s->ss.conn == NULL || s->ss.state == POP3_S_CLOSING)
        return PH_ECLOSED;
    /* After the +OK to STLS (or before an implicit-TLS handshake) the
       client reads TLS records only: a line now would break them. */
    if (s->ss.tls_starting)
        return PH_ESTATE;
    /* The status that goes out decides what the response commits (an
       error, STLS's switch); suppressed: the one asked for. */
    s->wire_err = len >= 4 && memcmp(line, "-ERR", 4) == 0;
    if (srv && ph_pipeline_wants(srv->pl, PH_HOOK_CLIENT, srv->ev_response)) {
        if (!response_event(s, line, len, out, sizeof(out)))
            return 0;           /* suppressed: nothing on the wire */
        s->wire_err = strncmp(out, "-ERR", 4) == 0;
        rc = ph_conn_write(s->ss.conn, out, strlen(out));
    } else {
        rc = ph_conn_write(s->ss.conn, line, len);
    }
    return rc == 0 ? ph_conn_write(s->ss.conn, "\r\n", 2) : rc;
}

int
pop3_status_line(ph_pop3_session *s, enum ph_pop3_status st, const char *text)
{
    char line[512];
    int  n;

    if ((unsigned)st > PH_POP3_ERR_SYS_PERM || strpbrk(text, "\r\n"))
        return PH_EINVAL;
    n = snprintf(line, sizeof(line), "%s%s%s", status_prefix[st],
                 text[0] ? " " : "", text);
    if (n < 0)
        return PH_EINVAL;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;   /* RFC 2449 4: responses up to 512 */
    return pop3_write_line(s, line, (size_t)n);
}

int
ph_pop3_reply(ph_pop3_session *s, enum ph_pop3_status st, const char *fmt,
              ...)
{
    char    text[480];
    va_list ap;
    int     rc;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    rc = pop3_status_line(s, st, text);
    if (rc != PH_EINVAL)
        pop3_command_done(s, s->wire_err);     /* as it went out */
    return rc;
}

int
ph_pop3_reply_lines(ph_pop3_session *s, const char *first,
                    const char *const *lines, size_t n)
{
    int rc;

    /* As ph_smtp_reply_lines: a line with CR or LF would be two lines on
       the wire (or end the response early), so the whole reply is
       refused before anything is written. */
    for (size_t i = 0; i < n; i++)
        if (lines[i] == NULL || strpbrk(lines[i], "\r\n"))
            return PH_EINVAL;
    rc = pop3_status_line(s, PH_POP3_OK, first);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (lines[i][0] == '.')
            ph_conn_write(s->ss.conn, ".", 1);     /* RFC 1939 3 stuffing */
        rc = ph_conn_write(s->ss.conn, lines[i], strlen(lines[i]));
        if (rc == 0)
            rc = ph_conn_write(s->ss.conn, "\r\n", 2);
    }
    if (rc == 0)
        rc = ph_conn_write(s->ss.conn, ".\r\n", 3);
    if (rc != PH_EINVAL)
        pop3_command_done(s, s->wire_err);
    return rc;
}

/* Bytes read from a message per conversion step; the output can be at
   most twice that (every LF gains a CR, every line a stuffed dot). */
#define POP3_IN_STEP (32 * 1024)

void
pop3_cursor_start(ph_pop3_session *s, enum pop3_cursor_kind kind)
{
    s->cur.kind = kind;
    s->cur.next = 0;
    s->cur.bol = true;
    s->cur.prev_cr = false;
    s->cur.in_body = false;
    s->cur.line_empty = true;
}

void
pop3_cursor_reset(ph_pop3_session *s)
{
    if (s->cur.st != NULL && s->srv != NULL)
        s->srv->md->stream_close(s->cur.st);
    memset(&s->cur, 0, sizeof(s->cur));
}

/* A line just ended: TOP counts body lines after the blank line. */
static void
end_of_line(struct pop3_cursor *c)
{
    if (c->top) {
        if (!c->in_body && c->line_empty)
            c->in_body = true;
        else if (c->in_body && c->body_left > 0)
            c->body_left--;
    }
    c->bol = true;
    c->prev_cr = false;
    c->line_empty = true;
}

/*
 * Converts raw message bytes to the wire form: CRLF line ends (a bare LF
 * gains a CR) and a dot doubled at the start of a line (RFC 1939 3).
 * Returns output length; *done when TOP has sent enough lines.
 */
static size_t
convert(struct pop3_cursor *c, const char *in, size_t len, char *out,
        bool *done)
{
    size_t i = 0, o = 0;

    while (i < len) {
        const char *nl;
        size_t      end, n;

        if (c->top && c->in_body && c->bol && c->body_left == 0) {
            *done = true;
            break;
        }
        if (c->bol && in[i] == '.')
            out[o++] = '.';
        nl = memchr(in + i, '\n', len - i);
        end = nl ? (size_t)(nl - in) : len;
        n = end - i;
        if (n > 0) {
            memcpy(out + o, in + i, n);
            o += n;
            /* "\r" alone before the LF still leaves the line empty */
            if (!(c->line_empty && n == 1 && in[i] == '\r'))
                c->line_empty = false;
            c->prev_cr = in[end - 1] == '\r';
            c->bol = false;
        }
        if (nl == NULL)
            break;
        if (!c->prev_cr)
            out[o++] = '\r';
        out[o++] = '\n';
        end_of_line(c);
        i = end + 1;
    }
    if (c->top && c->in_body && c->bol && c->body_left == 0)
        *done = true;
    return o;
}

static bool
finish_multiline(ph_pop3_session *s)
{
    if (!s->cur.bol)
        ph_conn_write(s->ss.conn, "\r\n", 2);   /* message without final EOL */
    ph_conn_write(s->ss.conn, ".\r\n", 3);
    pop3_cursor_reset(s);
    return true;
}

static bool
step_message(ph_pop3_session *s)
{
    const struct ph_maildrop_ops *md = s->srv->md;
    char  *in = s->scratch, *out = s->scratch + POP3_IN_STEP;
    size_t written = 0;

    while (written < POP3_OUT_STEP) {
        bool    done = false;
        ssize_t n = md->stream_read(s->cur.st, in, POP3_IN_STEP);
        size_t  o;

        if (n < 0) {
            /* +OK is gone already: all we can do is hang up. */
            ph_log(s->ss.loop, PH_LOG_ERROR, "session=%s event=read_error", s->ss.id);
            pop3_cursor_reset(s);
            pop3_session_close(s);
            return true;
        }
        if (n == 0)
            return finish_multiline(s);
        o = convert(&s->cur, in, (size_t)n, out, &done);
        ph_conn_write(s->ss.conn, out, o);
        written += o;
        if (done)
            return finish_multiline(s);
    }
    return false;
}

static bool
step_list(ph_pop3_session *s)
{
    const struct ph_maildrop_ops *md = s->srv->md;
    size_t written = 0;

    while (s->cur.next < s->nmsgs && written < POP3_OUT_STEP) {
        struct ph_drop_msg m;
        char               line[128];
        size_t             i = s->cur.next++;
        int                n;

        if (s->deleted[i] || md->msg(s->drop, i, &m) != PH_DROP_OK)
            continue;
        if (s->cur.kind == POP3_CUR_LIST)
            n = snprintf(line, sizeof(line), "%zu %zu\r\n", i + 1, m.size);
        else
            n = snprintf(line, sizeof(line), "%zu %s\r\n", i + 1, m.uid);
        if (n > 0 && (size_t)n < sizeof(line)) {
            ph_conn_write(s->ss.conn, line, (size_t)n);
            written += (size_t)n;
        }
    }
    if (s->cur.next < s->nmsgs)
        return false;
    ph_conn_write(s->ss.conn, ".\r\n", 3);
    pop3_cursor_reset(s);
    return true;
}

bool
pop3_cursor_step(ph_pop3_session *s)
{
    if (s->ss.dead || s->srv == NULL) {
        pop3_cursor_reset(s);
        return true;
    }
    switch (s->cur.kind) {
    case POP3_CUR_MSG:
        return step_message(s);
    case POP3_CUR_LIST:
    case POP3_CUR_UIDL:
        return step_list(s);
    default:
        return true;
    }
}
