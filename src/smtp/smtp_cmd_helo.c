/*
 * smtp_cmd_helo.c -- HELO, EHLO (RFC 5321 4.1.1.1) and LHLO (RFC 2033
 * 4.1): the greeting commands and the EHLO extension list. A 2xx reply
 * records the client's name and clears any transaction (RFC 5321 4.1.4).
 */
#include "smtp/smtp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 5321 4.1.1.1: "HELO" SP Domain, "EHLO" SP (Domain/address-literal).
   We are lenient about the name's syntax but want exactly one word. */
int
smtp_check_helo(ph_smtp_session *s, const char *arg)
{
    const char *sp = strchr(arg, ' ');

    if (sp != NULL && sp[strspn(sp, " ")] != '\0') {
        ph_smtp_reply(s, 501, "5.5.4", "Syntax: %s hostname", s->cur_verb);
        return -1;
    }
    return 0;
}

void
smtp_commit_helo(ph_smtp_session *s, enum smtp_verb_id id, const char *arg)
{
    size_t len = strcspn(arg, " ");
    char  *name = malloc(len + 1);

    if (name != NULL) {
        memcpy(name, arg, len);
        name[len] = '\0';
        free(s->helo);
        s->helo = name;
    }
    s->esmtp = id != SMTP_V_HELO;
    smtp_tx_reset(s, true);
    ph_session_set_state(&s->ss, SMTP_S_IDLE);
}

enum ph_result
smtp_cmd_helo(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 250, NULL, "%s", ph_smtp_server_hostname(s->srv));
    return PH_OK;
}

#define EHLO_MAX_LINES 24

enum ph_result
smtp_cmd_ehlo(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_server *srv = s->srv;
    const char     *lines[EHLO_MAX_LINES];
    char            first[320], size[40];
    size_t          n = 0, i;

    snprintf(first, sizeof(first), "%s Hello %.200s [%s], pleased to meet "
             "you", srv->core.hostname, arg, ph_smtp_session_peer_addr(s));
    lines[n++] = first;
    lines[n++] = "PIPELINING";
    snprintf(size, sizeof(size), "SIZE %zu", srv->limits.max_message_size);
    lines[n++] = size;
    lines[n++] = "8BITMIME";
    lines[n++] = "ENHANCEDSTATUSCODES";
    lines[n++] = "SMTPUTF8";
    if (smtp_chunking_offered(s)) {
        lines[n++] = "CHUNKING";
        lines[n++] = "BINARYMIME";
    }
    if (smtp_tls_offered(s))
        lines[n++] = "STARTTLS";
    if (smtp_auth_offered(s))
        lines[n++] = "AUTH PLAIN LOGIN";
    for (i = 0; i < srv->next_lines && n < EHLO_MAX_LINES; i++)
        lines[n++] = srv->ext_lines[i];
    ph_smtp_reply_lines(s, 250, NULL, lines, n);
    return PH_OK;
}
