/*
 * smtp_cmd_starttls.c -- STARTTLS (RFC 3207) and implicit TLS (RFC 8314)
 * for the SMTP session.
 *
 * The 220 reply commits: the connection drops every byte the client sent
 * so far and starts the handshake once the 220 is written. Then the
 * session forgets what it knew (RFC 3207 4.2: HELO name, AUTH, the
 * transaction) and waits for a new EHLO. A command pipelined behind
 * STARTTLS is never executed (CVE-2011-0411); it is logged.
 */
#include "smtp/smtp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
smtp_is_tls(const ph_smtp_session *s)
{
    return ph_session_tls_on(&s->ss);
}

bool
smtp_tls_offered(const ph_smtp_session *s)
{
    return s->srv != NULL && ph_session_tls_possible(&s->ss);
}

enum ph_result
smtp_cmd_starttls(ph_smtp_session *s, const char *verb, const char *arg)
{
    if (s->srv->core.tls == NULL)
        ph_smtp_reply(s, 502, "5.5.1", "STARTTLS not available");
    else if (!smtp_tls_offered(s))
        ph_smtp_reply(s, 503, "5.5.1", "TLS already active");
    else
        ph_smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
    return PH_OK;
}

/* The 220 is queued: from here no plaintext byte is read as a command. */
void
smtp_tls_commit(ph_smtp_session *s)
{
    if (!smtp_tls_offered(s) || ph_session_start_tls(&s->ss) != 0)
        s->close_after_reply = true;    /* cannot go on in plaintext */
}

/* Handshake done (the core's tls_ready): a fresh start over TLS. */
void
smtp_tls_ready(struct ph_session *ss)
{
    ph_smtp_session *s = smtp_of(ss);
    size_t           max = ss->lr.max;

    /* Shut down (or dying) during the handshake: it only says goodbye. */
    if (s->srv == NULL || s->ss.state == SMTP_S_CLOSING)
        return;
    if (s->srv->core.shutting_down) {
        smtp_session_shutdown(s, true);
        return;
    }
    if (!s->greeted) {          /* implicit TLS: now the greeting */
        smtp_session_greet(s);
        return;
    }
    /* RFC 3207 4.2: discard all knowledge obtained from the client. */
    if (smtp_in_transaction(s))
        smtp_tx_reset(s, true);
    free(s->helo);
    s->helo = NULL;
    s->esmtp = false;
    smtp_auth_reset(s);
    memset(&s->ss.lr, 0, sizeof(s->ss.lr));
    s->ss.lr.max = max;
    ph_session_set_state(&s->ss, SMTP_S_READY);
    ph_session_resume(&s->ss);
}

