/*
 * smtp_cmd_mail.c -- MAIL (RFC 5321 4.1.1.2) and RCPT (4.1.1.3): path and
 * parameter checks before the handler (501, 503, 552, 553, 555), the
 * default handlers, and what a 2xx reply commits to the transaction.
 * Extensions: SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
 * BINARYMIME (RFC 3030).
 */
#include "smtp/smtp_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Copies arg to path_text, parses it there and NUL-terminates the
   pieces in place, so handlers get plain C strings. */
static enum ph_parse_err
parse_into_session(ph_smtp_session *s, const char *arg, enum ph_path_kind k)
{
    struct ph_smtp_path *p = &s->path;
    size_t               len = strlen(arg), i;
    enum ph_parse_err    err;
    char                *base = s->path_text;

    memcpy(base, arg, len + 1);
    err = ph_smtp_parse_path(base, len, k, p);
    if (err != PH_PARSE_OK)
        return err;
    for (i = 0; i < p->nparams; i++) {
        struct ph_smtp_pparam *pp = &p->params[i];
        ((char *)pp->keyword.p)[pp->keyword.len] = '\0';
        if (pp->has_value)
            ((char *)pp->value.p)[pp->value.len] = '\0';
        s->path_params[i].keyword = pp->keyword.p;
        s->path_params[i].value = pp->has_value ? pp->value.p : NULL;
    }
    s->npath_params = p->nparams;
    ((char *)p->mailbox.p)[p->mailbox.len] = '\0';
    return PH_PARSE_OK;
}

static bool
param_allowed(char **list, size_t n, const char *kw)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], kw) == 0)
            return true;
    return false;
}

static bool
is_dup(ph_smtp_session *s, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcasecmp(s->path_params[j].keyword,
                       s->path_params[i].keyword) == 0)
            return true;
    return false;
}

/* SIZE=<digits> (RFC 1870 6). 0 ok, -1 replied. */
static int
check_size(ph_smtp_session *s, const char *v)
{
    unsigned long long n;
    char              *end;

    if (v == NULL || *v < '0' || *v > '9' || strlen(v) > 20) {
        ph_smtp_reply(s, 501, "5.5.4", "Bad SIZE parameter");
        return -1;
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (*end != '\0') {
        ph_smtp_reply(s, 501, "5.5.4", "Bad SIZE parameter");
        return -1;
    }
    if (errno == ERANGE || n > s->srv->limits.max_message_size) {
        ph_smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum "
                      "message size (%zu)", s->srv->limits.max_message_size);
        return -1;
    }
    return 0;
}

static int
check_mail_param(ph_smtp_session *s, const struct ph_smtp_param *p,
                 bool *utf8)
{
    if (strcasecmp(p->keyword, "SIZE") == 0)
        return check_size(s, p->value);
    if (strcasecmp(p->keyword, "BODY") == 0) {
        if (p->value && (strcasecmp(p->value, "7BIT") == 0 ||
                         strcasecmp(p->value, "8BITMIME") == 0))
            return 0;
        /* RFC 3030 3: with CHUNKING only; DATA then gets 503. */
        if (p->value && strcasecmp(p->value, "BINARYMIME") == 0 &&
            smtp_chunking_offered(s))
            return 0;
        ph_smtp_reply(s, 501, "5.5.4", "Unsupported BODY type");
        return -1;
    }
    if (strcasecmp(p->keyword, "SMTPUTF8") == 0) {
        if (p->value == NULL) {
            *utf8 = true;
            return 0;
        }
        ph_smtp_reply(s, 501, "5.5.4", "SMTPUTF8 takes no value");
        return -1;
    }
    /* RFC 4954 5: AUTH=<mailbox> is accepted where AUTH is offered; we
       trust no other server's word for it, so it changes nothing. */
    if (strcasecmp(p->keyword, "AUTH") == 0 && s->srv->verify != NULL)
        return 0;
    if (param_allowed(s->srv->mail_params, s->srv->nmail_params, p->keyword))
        return 0;
    ph_smtp_reply(s, 555, "5.5.4", "Unsupported parameter %s", p->keyword);
    return -1;
}

/* Checks common to both: parameters need EHLO, and no duplicates. */
static int
check_params_allowed(ph_smtp_session *s)
{
    size_t i;

    if (s->npath_params > 0 && !s->esmtp) {
        ph_smtp_reply(s, 555, "5.5.4", "Parameters need EHLO");
        return -1;
    }
    for (i = 0; i < s->npath_params; i++) {
        if (is_dup(s, i)) {
            ph_smtp_reply(s, 501, "5.5.4", "Duplicate parameter %s",
                          s->path_params[i].keyword);
            return -1;
        }
    }
    return 0;
}

int
smtp_check_mail(ph_smtp_session *s, const char *arg)
{
    enum ph_parse_err err = parse_into_session(s, arg, PH_PATH_MAIL);
    bool              utf8 = false;
    size_t            i;

    /* RFC 6409 4.3 / RFC 4954 6: submission needs a login first. */
    if (s->srv->auth_required && s->auth_user == NULL) {
        ph_smtp_reply(s, 530, "5.7.0", "Authentication required");
        return -1;
    }

    if (err != PH_PARSE_OK) {
        ph_smtp_reply(s, 501, err == PH_PARSE_NO_KEYWORD ? "5.5.4" : "5.1.7",
                      "Bad sender address syntax: %s", ph_parse_strerror(err));
        return -1;
    }
    if (check_params_allowed(s) != 0)
        return -1;
    for (i = 0; i < s->npath_params; i++)
        if (check_mail_param(s, &s->path_params[i], &utf8) != 0)
            return -1;
    if (s->path.has_8bit && !utf8) {
        ph_smtp_reply(s, 553, "5.6.7", "UTF-8 address needs SMTPUTF8");
        return -1;
    }
    return 0;
}

int
smtp_check_rcpt(ph_smtp_session *s, const char *arg)
{
    enum ph_parse_err err = parse_into_session(s, arg, PH_PATH_RCPT);
    size_t            i;

    if (err != PH_PARSE_OK) {
        ph_smtp_reply(s, 501, err == PH_PARSE_NO_KEYWORD ? "5.5.4" : "5.1.3",
                      "Bad recipient address syntax: %s",
                      ph_parse_strerror(err));
        return -1;
    }
    if (check_params_allowed(s) != 0)
        return -1;
    for (i = 0; i < s->npath_params; i++) {
        const char *kw = s->path_params[i].keyword;
        if (!param_allowed(s->srv->rcpt_params, s->srv->nrcpt_params, kw)) {
            ph_smtp_reply(s, 555, "5.5.4", "Unsupported parameter %s", kw);
            return -1;
        }
    }
    if (s->path.has_8bit && !s->tx.smtputf8) {
        ph_smtp_reply(s, 553, "5.6.7", "UTF-8 address needs SMTPUTF8");
        return -1;
    }
    if (s->tx.nrcpts >= s->srv->limits.max_recipients) {
        /* RFC 5321 4.5.3.1.10: 452, the client retries the rest later. */
        ph_smtp_reply(s, 452, "4.5.3", "Too many recipients");
        return -1;
    }
    return 0;
}

enum ph_result
smtp_cmd_mail(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 250, "2.1.0", "<%s> sender ok", ph_smtp_session_path(s));
    return PH_OK;
}

enum ph_result
smtp_cmd_rcpt(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, 250, "2.1.5", "<%s> recipient ok",
                  ph_smtp_session_path(s));
    return PH_OK;
}

/* Copies the checked path's parameters into the transaction arena. */
static struct ph_smtp_param *
copy_params(ph_smtp_session *s, size_t *n_out)
{
    struct ph_smtp_param *v;
    size_t                i, n = s->npath_params;

    *n_out = 0;
    if (n == 0)
        return NULL;
    v = ph_arena_alloc(&s->tx_arena, n * sizeof(*v));
    if (v == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        const struct ph_smtp_param *p = &s->path_params[i];
        v[i].keyword = ph_arena_strndup(&s->tx_arena, p->keyword,
                                        strlen(p->keyword));
        v[i].value = p->value ? ph_arena_strndup(&s->tx_arena, p->value,
                                                 strlen(p->value)) : NULL;
        if (v[i].keyword == NULL || (p->value && v[i].value == NULL))
            return NULL;
    }
    *n_out = n;
    return v;
}

int
smtp_commit_mail(ph_smtp_session *s)
{
    struct smtp_tx *tx = &s->tx;
    const char     *mb = s->path.mailbox.p;
    size_t          i;

    smtp_tx_reset(s, true);
    tx->sender = ph_arena_strndup(&s->tx_arena, mb, strlen(mb));
    tx->mail_params = copy_params(s, &tx->nmail_params);
    if (tx->sender == NULL || (s->npath_params && tx->mail_params == NULL))
        return PH_ENOMEM;
    for (i = 0; i < tx->nmail_params; i++)
        if (strcasecmp(tx->mail_params[i].keyword, "SMTPUTF8") == 0)
            tx->smtputf8 = true;
    ph_session_set_state(&s->ss, SMTP_S_MAIL);
    return 0;
}

int
smtp_commit_rcpt(ph_smtp_session *s)
{
    struct smtp_tx      *tx = &s->tx;
    struct ph_smtp_rcpt *r;
    const char          *mb = s->path.mailbox.p;

    /* The flag check keeps RCPT out once the data has begun; should a
       program's reply get here anyway, the envelope the program saw at
       the first chunk must not grow under it. */
    if (smtp_data_begun(s))
        return PH_ESTATE;
    if (tx->nrcpts == tx->rcpts_cap) {
        size_t cap = tx->rcpts_cap ? tx->rcpts_cap * 2 : 4;
        r = realloc(tx->rcpts, cap * sizeof(*r));
        if (r == NULL)
            return PH_ENOMEM;
        tx->rcpts = r;
        tx->rcpts_cap = cap;
    }
    r = &tx->rcpts[tx->nrcpts];
    r->address = ph_arena_strndup(&s->tx_arena, mb, strlen(mb));
    r->params = copy_params(s, &r->nparams);
    if (r->address == NULL || (s->npath_params && r->params == NULL))
        return PH_ENOMEM;
    tx->nrcpts++;
    ph_session_set_state(&s->ss, SMTP_S_RCPT);
    return 0;
}
