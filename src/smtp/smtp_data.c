/*
 * smtp_data.c -- the DATA reader: finds the end of data and removes dot
 * stuffing (RFC 5321 4.5.2), incrementally, over chunks of any size.
 *
 * Only CR LF "." CR LF ends the data (RFC 5321 4.1.1.4). A bare LF or CR
 * never starts a new line, so "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n" and
 * "\r\n.\r" cannot end the message (SMTP smuggling); they are flagged in
 * bare_cr/bare_lf and the session decides (reject, or keep the bytes).
 */
#include "smtp/smtp_parse.h"

#include <string.h>

void
ph_smtp_data_init(struct ph_smtp_data_reader *r, size_t max_line_len)
{
    memset(r, 0, sizeof(*r));
    r->state = PH_DATA_BOL;
    r->max_line_len = max_line_len;
}

static void
count_line(struct ph_smtp_data_reader *r, size_t n)
{
    r->line_len += n;
    if (r->max_line_len != 0 && r->line_len > r->max_line_len)
        r->long_line = true;
}

/* Copies a run of ordinary bytes (no CR, no LF) in the TEXT state. Two
   memchr scans beat a byte loop: message lines are mostly long runs. */
static size_t
copy_run(const char *in, size_t len, char *out)
{
    const char *cr = memchr(in, '\r', len);
    size_t      n = cr ? (size_t)(cr - in) : len;
    const char *lf = memchr(in, '\n', n);

    if (lf != NULL)
        n = (size_t)(lf - in);
    memcpy(out, in, n);
    return n;
}

static bool
flags_of(const struct ph_smtp_data_reader *r)
{
    return r->bare_cr || r->bare_lf || r->long_line;
}

size_t
ph_smtp_data_feed(struct ph_smtp_data_reader *r, const char *in, size_t len,
                  char *out, size_t *out_len)
{
    size_t i = 0, o = 0, n;
    bool   flagged = flags_of(r);

    while (i < len && r->state != PH_DATA_DONE) {
        char ch = in[i];

        if (r->stop_on_flag && !flagged && flags_of(r))
            break;              /* first refusal reason: tell the caller */

        switch (r->state) {
        case PH_DATA_BOL:
            r->line_len = 0;
            if (ch == '.') {
                r->state = PH_DATA_DOT;      /* hold the dot back */
                count_line(r, 1);
                i++;
                break;
            }
            r->state = PH_DATA_TEXT;
            break;                           /* reprocess as TEXT */
        case PH_DATA_TEXT:
            if (ch == '\r') {
                r->state = PH_DATA_CR;
                count_line(r, 1);
                i++;
            } else if (ch == '\n') {
                r->bare_lf = true;           /* stays inside the line */
                out[o++] = ch;
                count_line(r, 1);
                i++;
            } else {
                n = copy_run(in + i, len - i, out + o);
                o += n;
                i += n;
                count_line(r, n);
            }
            break;
        case PH_DATA_CR:
            if (ch == '\n') {
                out[o++] = '\r';
                out[o++] = '\n';
                count_line(r, 1);
                r->state = PH_DATA_BOL;
                i++;
            } else {
                r->bare_cr = true;           /* CR not before LF */
                out[o++] = '\r';
                r->state = PH_DATA_TEXT;     /* reprocess ch */
            }
            break;
        case PH_DATA_DOT:
            if (ch == '\r') {
                r->state = PH_DATA_DOT_CR;
                count_line(r, 1);
                i++;
            } else {
                r->state = PH_DATA_TEXT;     /* the dot is dropped */
            }
            break;
        case PH_DATA_DOT_CR:
            if (ch == '\n') {
                r->state = PH_DATA_DONE;
                i++;
            } else {
                /* ".\r" then not LF: the dot is stuffing, the CR bare. */
                r->bare_cr = true;
                out[o++] = '\r';
                r->state = PH_DATA_TEXT;
            }
            break;
        case PH_DATA_DONE:
            break;
        }
    }
    *out_len = o;
    return i;
}
