/*
 * smtp_cmd_data.c -- DATA (RFC 5321 4.1.1.4): the 354 default, reading
 * the message through the DATA reader until CRLF.CRLF, and the end of
 * message: a sticky error reply, or the program's EOM -- one reply per
 * recipient in LMTP mode (RFC 2033 4.2). BDAT LAST ends a message here
 * too (smtp_cmd_bdat.c).
 */
#include "smtp/smtp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


enum ph_result
smtp_cmd_data(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 354, NULL, "Enter mail, end with \".\" on a line by "
                  "itself");
    return PH_OK;
}

/* What a new message needs, for DATA and for the first BDAT chunk: the
   buffers, a fresh reader (its flags are read at the end) and the sink. */
int
smtp_data_prepare(ph_smtp_session *s)
{
    smtp_msgbufs_take(s);
    if (s->data_out == NULL)
        s->data_out = malloc(SMTP_DATA_SLICE + 2);
    if (s->data_out == NULL)
        return PH_ENOMEM;
    ph_smtp_data_init(&s->dr, s->srv->limits.max_text_line_len);
    /* Stop at a refusal reason, so nothing after it reaches the program. */
    s->dr.stop_on_flag = true;
    s->tx.size = 0;
    s->tx.err_code = 0;
    s->data_aborted = false;
    smtp_message_begin(s);
    return s->hdr_buf == NULL ? PH_ENOMEM : 0;
}

int
smtp_data_begin(ph_smtp_session *s)
{
    int rc = smtp_data_prepare(s);

    if (rc == 0)
        ph_session_set_state(&s->ss, SMTP_S_DATA);
    return rc;
}

static void
set_data_error(ph_smtp_session *s, int code, const char *enh,
               const char *text)
{
    if (s->tx.err_code == 0)
        ph_smtp_reject_message(s, code, enh, text);
}

/* Flags from the DATA reader that refuse the message (STYLE 6: sticky). */
static void
check_reader_flags(ph_smtp_session *s)
{
    if ((s->dr.bare_cr || s->dr.bare_lf) &&
        s->srv->bare_eol == PH_SMTP_BARE_EOL_REJECT)
        set_data_error(s, 550, "5.6.0", "Message refused: bare CR or LF "
                       "in message data (RFC 5321 2.3.8)");
    else if (s->dr.long_line)
        set_data_error(s, 500, "5.5.2", "Message refused: line too long "
                       "(RFC 5321 4.5.3.1.6)");
}

static enum ph_result
eom_step(ph_smtp_session *s, const char *verb, const char *arg)
{
    size_t i, n;

    if (s->srv->cb.eom)
        return s->srv->cb.eom(s);
    n = s->srv->mode == PH_SMTP_MODE_LMTP ? s->tx.nrcpts : 1;
    for (i = 0; i < n; i++)
        ph_smtp_reply(s, 250, "2.0.0", "Message accepted for delivery");
    return PH_OK;
}

/* The end of a message, by the final dot or by BDAT LAST. */
void
smtp_data_end(ph_smtp_session *s)
{
    struct smtp_tx *tx = &s->tx;
    unsigned        expect = 1, i;

    smtp_message_end(s);
    check_reader_flags(s);
    if (s->srv->mode == PH_SMTP_MODE_LMTP)
        expect = (unsigned)tx->nrcpts;
    strcpy(s->cur_verb, "EOM");
    if (tx->err_code == 0) {
        char        size[24];
        const char *args[1] = { size };
        bool        go_on;

        /* The program hears eom; from now on never tx_abort as well. */
        s->data_aborted = true;
        s->cur_id = SMTP_V_EOM;     /* a plugin may answer it */
        s->expect = expect;
        s->replied = 0;
        snprintf(size, sizeof(size), "%zu", tx->size);
        go_on = smtp_plugins_inbound(s, s->srv->ev_eom, "eom", args, 1) &&
                smtp_step_open(s);
        smtp_run_handler(s, SMTP_V_EOM, "EOM", go_on ? eom_step : NULL, "",
                         expect);
        return;
    }
    s->cur_id = SMTP_V_EOM;
    s->expect = expect;
    s->replied = 0;
    for (i = 0; i < expect && s->expect != 0 && !s->ss.dead; i++)
        ph_smtp_reply(s, tx->err_code, tx->err_enh[0] ? tx->err_enh : NULL,
                      "%s", tx->err_text);
}

/* Runs the bytes of one input slice through reader and message sink. */
static size_t
feed_slice(ph_smtp_session *s, const char *p, size_t len)
{
    size_t used = 0, out_len, n;

    while (used < len && !ph_smtp_data_done(&s->dr) && !s->ss.dead &&
           s->ss.state == SMTP_S_DATA) {
        size_t take = len - used < SMTP_DATA_SLICE ? len - used : SMTP_DATA_SLICE;
        n = ph_smtp_data_feed(&s->dr, p + used, take, s->data_out,
                              &out_len);
        used += n;
        /* Flags first: the bytes that raised one are not handed on. */
        if (s->tx.err_code == 0)
            check_reader_flags(s);
        if (out_len > 0 && s->tx.err_code == 0)
            smtp_message_bytes(s, s->data_out, out_len);
    }
    return used;
}

bool
smtp_data_read(ph_smtp_session *s)
{
    struct evbuffer       *in = ph_conn_input(s->ss.conn);
    struct evbuffer_iovec  v[8];
    int                    n, i;
    size_t                 used;

    for (;;) {
        n = evbuffer_peek(in, -1, NULL, v, 8);
        if (n <= 0)
            return false;
        used = 0;
        for (i = 0; i < n && i < 8 && !ph_smtp_data_done(&s->dr) &&
                    s->ss.state == SMTP_S_DATA; i++)
            used += feed_slice(s, v[i].iov_base, v[i].iov_len);
        if (s->ss.dead)
            return false;
        evbuffer_drain(in, used);
        if (s->ss.state != SMTP_S_DATA)
            return false;       /* closed by the program meanwhile */
        if (ph_smtp_data_done(&s->dr)) {
            smtp_data_end(s);
            return true;
        }
        if (s->ss.dead || s->ss.state != SMTP_S_DATA)
            return false;
    }
}
