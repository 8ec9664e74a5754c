/*
 * smtp_header.c -- splits a message into headers and body (RFC 5322 2.2,
 * seed 002's HEADER/EOH/BODY). Headers are unfolded: the CRLF before a
 * continuation line's WSP is removed. The header section ends at an
 * empty line (not passed on) or at the first line that is not a header
 * field (passed to the body), as seed 002 says. Pure, incremental.
 */
#include "smtp/smtp_parse.h"

#include <string.h>

void
ph_smtp_header_init(struct ph_smtp_header_splitter *h, char *buf, size_t cap,
                    const struct ph_smtp_header_cb *cb)
{
    memset(h, 0, sizeof(*h));
    h->buf = buf;
    h->cap = cap;
    h->cb = *cb;
}

/* Length of the field name if line is "name:..." (RFC 5322 ftext). */
static size_t
field_name_len(const char *line, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == ':')
            return i;
        if (c < 33 || c > 126)
            return 0;
    }
    return 0;
}

static void
flush_pending(struct ph_smtp_header_splitter *h)
{
    const char *v;
    size_t      nlen, vlen;

    if (!h->has_pending)
        return;
    nlen = field_name_len(h->buf, h->pending_len);
    v = h->buf + nlen + 1;
    vlen = h->pending_len - nlen - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    if (h->cb.header)
        h->cb.header(h->cb.ctx, h->buf, nlen, v, vlen);
    h->has_pending = false;
    h->pending_len = 0;
}

static void
enter_body(struct ph_smtp_header_splitter *h)
{
    flush_pending(h);
    h->in_body = true;
    if (h->cb.eoh)
        h->cb.eoh(h->cb.ctx);
}

static void
to_body(struct ph_smtp_header_splitter *h, const char *p, size_t len)
{
    if (len > 0 && h->cb.body)
        h->cb.body(h->cb.ctx, p, len);
}

/* One complete line (CRLF stripped) sits at buf[pending_len..+line_len). */
static void
end_of_line(struct ph_smtp_header_splitter *h)
{
    char  *line = h->buf + h->pending_len;
    size_t len = h->line_len;

    h->line_len = 0;
    if (len == 0) {
        enter_body(h);                   /* the blank line is not body */
        return;
    }
    if ((line[0] == ' ' || line[0] == '\t') && h->has_pending) {
        h->pending_len += len;           /* unfold: drop the CRLF only */
        return;
    }
    if (field_name_len(line, len) > 0) {
        flush_pending(h);
        memmove(h->buf, line, len);
        h->pending_len = len;
        h->has_pending = true;
        return;
    }
    /* Not a header: it starts the body, with its line end. */
    enter_body(h);
    to_body(h, line, len);
    to_body(h, "\r\n", 2);
}

/* The header outgrew buf: give up on headers, pass the bytes on. */
static void
overflow(struct ph_smtp_header_splitter *h)
{
    size_t line_len = h->line_len;
    const char *line = h->buf + h->pending_len;

    h->line_len = 0;
    enter_body(h);
    to_body(h, line, line_len);
}

/*
 * buf is full. If the line being read is not a continuation (its first
 * byte, or ch when it is empty, is not WSP), the held header is complete:
 * deliver it to make room, so a short header is not pushed into the body
 * only because the one before it was long.
 */
static bool
make_room(struct ph_smtp_header_splitter *h, char ch)
{
    char *line = h->buf + h->pending_len;
    char  first = h->line_len > 0 ? line[0] : ch;

    if (!h->has_pending || first == ' ' || first == '\t')
        return false;
    flush_pending(h);
    memmove(h->buf, line, h->line_len);
    return true;
}

void
ph_smtp_header_feed(struct ph_smtp_header_splitter *h, const char *p,
                    size_t len)
{
    size_t i;

    for (i = 0; i < len && !h->in_body; i++) {
        size_t used = h->pending_len + h->line_len;
        char   ch = p[i];

        /* A CR held at the end of buf is completed by this LF. */
        if (ch == '\n' && h->line_len > 0 && h->buf[used - 1] == '\r') {
            h->line_len--;
            end_of_line(h);
            continue;
        }
        if (used == h->cap) {
            if (!make_room(h, ch)) {
                overflow(h);
                break;
            }
            used = h->line_len;
        }
        h->buf[used] = ch;
        h->line_len++;
    }
    if (h->in_body)
        to_body(h, p + i, len - i);
}

void
ph_smtp_header_finish(struct ph_smtp_header_splitter *h)
{
    if (h->in_body)
        return;
    if (h->line_len > 0) {
        /* A last line without CRLF: a header if it looks like one. */
        char  *line = h->buf + h->pending_len;
        size_t len = h->line_len;
        if ((line[0] == ' ' || line[0] == '\t') && h->has_pending) {
            h->pending_len += len;
            h->line_len = 0;
        } else if (field_name_len(line, len) > 0) {
            flush_pending(h);
            memmove(h->buf, line, len);
            h->pending_len = len;
            h->has_pending = true;
            h->line_len = 0;
        } else {
            overflow(h);
            return;
        }
    }
    enter_body(h);
}
