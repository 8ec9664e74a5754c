/*
 * smtp_verbs.c -- the default verb tables (bare, ESMTP, LMTP) and the
 * small default handlers: seed 002's defaults for NOOP, RSET, VRFY, EXPN,
 * HELP, QUIT and UNKNOWN, seed 000's 220 banner and 502 `_default`.
 */
#include "smtp/smtp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static enum ph_result
smtp_cmd_noop(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 250, "2.0.0", "OK");
    return PH_OK;
}

static enum ph_result
smtp_cmd_rset(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 250, "2.0.0", "OK");
    return PH_OK;
}

static enum ph_result
smtp_cmd_vrfy(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 252, "2.5.0",
                  "Cannot VRFY user; try RCPT to attempt delivery");
    return PH_OK;
}

static enum ph_result
smtp_cmd_expn(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 502, "5.5.1", "Sorry, we do not allow this operation");
    return PH_OK;
}

/*
 * The commands HELP lists: what this session can use. STARTTLS, AUTH and
 * BDAT are named where EHLO offers them (RFC 3207 4.2, RFC 4954 4, RFC
 * 3030 2) and only then, so that HELP never advertises a command that
 * would be refused.
 */
static const char *
help_commands(ph_smtp_session *s, bool is_lmtp, char *buf, size_t cap)
{
    const struct { const char *names; bool on; } groups[] = {
        { is_lmtp ? "LHLO" : "HELO EHLO", true },
        { "MAIL RCPT DATA", true },
        { "BDAT", smtp_chunking_offered(s) },
        { "RSET NOOP VRFY HELP", true },
        { "STARTTLS", smtp_tls_offered(s) },
        { "AUTH", smtp_auth_offered(s) },
        { "QUIT", true },
    };
    size_t len = 0;
    int    w;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        if (!groups[i].on)
            continue;
        w = snprintf(buf + len, cap - len, "%s %s",
                     len == 0 ? "Commands:" : "", groups[i].names);
        if (w < 0 || (size_t)w >= cap - len) {
            buf[len] = '\0';    /* whole names only; cap is ample */
            break;
        }
        len += (size_t)w;
    }
    return buf;
}

static enum ph_result
smtp_cmd_help(ph_smtp_session *s, const char *verb, const char *arg)
{
    bool        is_lmtp = s->srv && s->srv->mode == PH_SMTP_MODE_LMTP;
    char        cmds[128];
    const char *lines[3] = {
        "This is posthorn " PH_VERSION_STRING,
        help_commands(s, is_lmtp, cmds, sizeof(cmds)),
        is_lmtp ? "See RFC 2033 for details" : "See RFC 5321 for details",
    };

    ph_smtp_reply_lines(s, 214, "2.0.0", lines, 3);
    return PH_OK;
}

static enum ph_result
smtp_cmd_quit(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 221, "2.0.0", "%s Closing connection",
                  ph_smtp_server_hostname(s->srv));
    return PH_CLOSE;
}

enum ph_result
smtp_default_connect(ph_smtp_session *s, const char *verb, const char *arg)
{
    const char *proto = s->srv->mode == PH_SMTP_MODE_LMTP ? "LMTP" : "ESMTP";

    ph_smtp_reply(s, 220, NULL, "%s %s posthorn", s->srv->core.hostname, proto);
    return PH_OK;
}

enum ph_result
smtp_default_unknown(ph_smtp_session *s, const char *verb, const char *arg)
{
    if (s->srv->mode == PH_SMTP_MODE_BARE)
        ph_smtp_reply(s, 502, "5.5.1", "Error: command not implemented");
    else
        ph_smtp_reply(s, 500, "5.5.2", "Command unrecognized: %s", verb);
    return PH_OK;
}

struct verb_def {
    const char        *name;
    enum smtp_verb_id  id;
    unsigned           flags;
    smtp_check_fn     *check;
    ph_smtp_handler   *handler;
    unsigned           modes;    /* bit per enum ph_smtp_mode */
};

#define M_ESMTP (1u << PH_SMTP_MODE_ESMTP)
#define M_LMTP  (1u << PH_SMTP_MODE_LMTP)
#define M_BOTH  (M_ESMTP | M_LMTP)

/* Per RFC 2920 3.1, RSET, MAIL, RCPT may be pipelined; sequencing below. */
static const struct verb_def default_verbs[] = {
    { "HELO", SMTP_V_HELO, SMTP_F_NEED_ARG | SMTP_F_JUNK, smtp_check_helo,
      smtp_cmd_helo, M_ESMTP },
    { "EHLO", SMTP_V_EHLO, SMTP_F_NEED_ARG | SMTP_F_JUNK, smtp_check_helo,
      smtp_cmd_ehlo, M_ESMTP },
    { "LHLO", SMTP_V_LHLO, SMTP_F_NEED_ARG | SMTP_F_JUNK, smtp_check_helo,
      smtp_cmd_ehlo, M_LMTP },
    /* Between BDAT chunks the envelope is closed (RFC 3030 2): MAIL and
       RCPT get 503; RSET, EHLO/HELO/LHLO (a reset, RFC 5321 4.1.4), NOOP,
       VRFY, HELP and QUIT stay allowed. */
    { "MAIL", SMTP_V_MAIL, SMTP_F_NEED_HELO | SMTP_F_NOT_IN_DATA |
      SMTP_F_NOT_IN_TX | SMTP_F_NEED_ARG, smtp_check_mail, smtp_cmd_mail,
      M_BOTH },
    { "RCPT", SMTP_V_RCPT, SMTP_F_NEED_HELO | SMTP_F_NOT_IN_DATA |
      SMTP_F_NEED_MAIL | SMTP_F_NEED_ARG, smtp_check_rcpt, smtp_cmd_rcpt,
      M_BOTH },
    { "DATA", SMTP_V_DATA, SMTP_F_NEED_HELO | SMTP_F_NEED_MAIL |
      SMTP_F_NEED_RCPT | SMTP_F_NO_ARG, smtp_check_data, smtp_cmd_data,
      M_BOTH },
    /* RFC 3030: no flags, its check sequences it (the chunk must still be
       read when BDAT is refused). */
    { "BDAT", SMTP_V_BDAT, 0, smtp_check_bdat, smtp_cmd_bdat, M_BOTH },
    /* Commands that make no progress (core: max_noop_commands). */
    { "RSET", SMTP_V_RSET, SMTP_F_NO_ARG | SMTP_F_JUNK, NULL, smtp_cmd_rset,
      M_BOTH },
    { "NOOP", SMTP_V_OTHER, SMTP_F_JUNK, NULL, smtp_cmd_noop, M_BOTH },
    { "VRFY", SMTP_V_OTHER, SMTP_F_NEED_ARG | SMTP_F_JUNK, NULL,
      smtp_cmd_vrfy, M_BOTH },
    { "EXPN", SMTP_V_OTHER, SMTP_F_NEED_ARG | SMTP_F_JUNK, NULL,
      smtp_cmd_expn, M_BOTH },
    { "HELP", SMTP_V_OTHER, SMTP_F_JUNK, NULL, smtp_cmd_help, M_BOTH },
    { "QUIT", SMTP_V_QUIT, SMTP_F_NO_ARG, NULL, smtp_cmd_quit, M_BOTH },
    /* RFC 3207: STARTTLS after EHLO, outside a transaction. */
    { "STARTTLS", SMTP_V_STARTTLS, SMTP_F_NEED_HELO | SMTP_F_NOT_IN_TX |
      SMTP_F_NO_ARG, NULL, smtp_cmd_starttls, M_BOTH },
    /* RFC 4954 4: AUTH after EHLO, not inside a transaction. */
    { "AUTH", SMTP_V_AUTH, SMTP_F_NEED_HELO | SMTP_F_NOT_IN_TX |
      SMTP_F_NEED_ARG, NULL, smtp_cmd_auth, M_BOTH },
};
#define NDEFAULT_VERBS (sizeof(default_verbs) / sizeof(default_verbs[0]))

/*
 * Bare mode (seed 000) has no verbs at all: only the banner and the 502
 * default. Verbs the program adds still get the reply commits (a 354
 * reply to its DATA handler starts reading the message).
 */
int
smtp_verbs_init(ph_smtp_server *srv)
{
    unsigned bit = 1u << srv->mode;
    size_t   i;

    srv->verbs = calloc(NDEFAULT_VERBS + 8, sizeof(*srv->verbs));
    if (srv->verbs == NULL)
        return PH_ENOMEM;
    srv->verbs_cap = NDEFAULT_VERBS + 8;
    for (i = 0; i < NDEFAULT_VERBS; i++) {
        const struct verb_def *d = &default_verbs[i];
        struct smtp_verb      *v;
        if (!(d->modes & bit))
            continue;
        v = &srv->verbs[srv->nverbs++];
        strcpy(v->name, d->name);
        v->id = d->id;
        v->flags = d->flags;
        v->check = d->check;
        v->handler = d->handler;
        v->ev_id = -1;
    }
    return 0;
}

/* What a verb commits, even in bare mode where the table starts empty. */
static enum smtp_verb_id
verb_id_of(const char *name)
{
    /* MAIL and RCPT commit parsed paths, which bare mode never makes. */
    for (size_t i = 0; i < NDEFAULT_VERBS; i++)
        if (strcmp(default_verbs[i].name, name) == 0 &&
            default_verbs[i].id != SMTP_V_MAIL &&
            default_verbs[i].id != SMTP_V_RCPT)
            return default_verbs[i].id;
    return SMTP_V_OTHER;
}

struct smtp_verb *
smtp_verb_find(ph_smtp_server *srv, const char *name, size_t len)
{
    for (size_t i = 0; i < srv->nverbs; i++) {
        struct smtp_verb *v = &srv->verbs[i];
        if (strncmp(v->name, name, len) == 0 && v->name[len] == '\0') {
            if (v->id == SMTP_V_OTHER && srv->mode == PH_SMTP_MODE_BARE)
                v->id = verb_id_of(v->name);
            return v;
        }
    }
    return NULL;
}

ph_smtp_handler *
smtp_default_for(enum ph_smtp_mode mode, const char *verb)
{
    if (strcasecmp(verb, "CONNECT") == 0)
        return smtp_default_connect;
    if (mode == PH_SMTP_MODE_BARE)
        return NULL;
    for (size_t i = 0; i < NDEFAULT_VERBS; i++)
        if (strcasecmp(default_verbs[i].name, verb) == 0 &&
            (default_verbs[i].modes & (1u << mode)))
            return default_verbs[i].handler;
    return NULL;
}
