/*
 * smtp_access.c -- what handlers may read and set on a session: peer and
 * local addresses, HELO name, the path under decision, the transaction,
 * per-session data, chunking, close and ref.
 */
#include "smtp/smtp_internal.h"
#include "core/accessors.h"

#include <string.h>

PH_CORE_SESSION_ACCESSORS(smtp)

const char *ph_smtp_session_helo(ph_smtp_session *s) { return s->helo; }
bool ph_smtp_session_is_esmtp(ph_smtp_session *s) { return s->esmtp; }

const char *
ph_smtp_session_path(ph_smtp_session *s)
{
    if (s->cur_id != SMTP_V_MAIL && s->cur_id != SMTP_V_RCPT)
        return NULL;
    return s->path.mailbox.p;
}

const struct ph_smtp_param *
ph_smtp_session_path_params(ph_smtp_session *s, size_t *n_out)
{
    if (s->cur_id != SMTP_V_MAIL && s->cur_id != SMTP_V_RCPT) {
        *n_out = 0;
        return NULL;
    }
    *n_out = s->npath_params;
    return s->npath_params ? s->path_params : NULL;
}

const char *
ph_smtp_session_sender(ph_smtp_session *s)
{
    return s->tx.sender;
}

const struct ph_smtp_param *
ph_smtp_session_mail_params(ph_smtp_session *s, size_t *n_out)
{
    *n_out = s->tx.nmail_params;
    return s->tx.mail_params;
}

size_t
ph_smtp_session_rcpt_count(ph_smtp_session *s)
{
    return s->tx.nrcpts;
}

const struct ph_smtp_rcpt *
ph_smtp_session_rcpt(ph_smtp_session *s, size_t i)
{
    return i < s->tx.nrcpts ? &s->tx.rcpts[i] : NULL;
}

size_t
ph_smtp_session_message_size(ph_smtp_session *s)
{
    return s->tx.size;
}

const char *
ph_smtp_message(ph_smtp_session *s, size_t *len_out)
{
    *len_out = s->tx.msg_len;
    if (s->srv == NULL || !s->srv->whole_message)
        return NULL;
    /* An empty message still gets a valid pointer. */
    return s->tx.msg ? s->tx.msg : "";
}

void
ph_smtp_session_set_chunking(ph_smtp_session *s, bool line_mode,
                             size_t chunk_size)
{
    smtp_message_set_chunking(s, line_mode, chunk_size);
}

void
ph_smtp_session_close(ph_smtp_session *s)
{
    if (s->ss.dead)
        return;
    if (s->expect != 0)
        s->close_after_reply = true;    /* after the awaited reply */
    else
        smtp_session_shutdown(s, false);
}
