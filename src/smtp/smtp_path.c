/*
 * smtp_path.c -- MAIL FROM / RCPT TO argument parsing: RFC 5321 4.1.2
 * paths (source routes accepted and ignored, 4.1.1.3), quoted local parts,
 * address literals, esmtp-params; RFC 6531 UTF-8 mailboxes. Pure.
 */
#include "smtp/smtp_parse.h"

#include <string.h>
#include <strings.h>

static bool
is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9');
}

/* RFC 5322 atext, plus any 8-bit byte (checked as UTF-8 later). The NUL
   test matters: strchr() finds the terminator, so NUL would pass. */
static bool
is_atext(unsigned char c)
{
    return is_alnum(c) || c >= 0x80 ||
           (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool
ph_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        unsigned c = *p++, need, cp;
        if (c < 0x80)
            continue;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1; cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2; cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3; cp = c & 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) < need)
            return false;
        for (; need > 0; need--, p++) {
            if ((*p & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (*p & 0x3F);
        }
        if ((c == 0xE0 && cp < 0x800) || (c == 0xF0 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
    }
    return true;
}

/* Dot-string: Atom *("." Atom). Returns the end, or NULL. */
static const char *
scan_dot_string(const char *p, const char *end)
{
    const char *atom;

    for (;;) {
        for (atom = p; p < end && is_atext((unsigned char)*p); p++)
            ;
        if (p == atom)
            return NULL;
        if (p < end && *p == '.' && p + 1 < end && *(p + 1) != '@') {
            p++;
            continue;
        }
        return p;
    }
}

/* Quoted-string per RFC 5321 (qtextSMTP / quoted-pairSMTP). */
static const char *
scan_quoted(const char *p, const char *end)
{
    if (p >= end || *p++ != '"')
        return NULL;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c == '\\') {
            if (p + 1 >= end || (unsigned char)p[1] < 32 ||
                (unsigned char)p[1] > 126)
                return NULL;
            p += 2;
        } else if ((c >= 32 && c <= 126) || c >= 0x80) {
            p++;
        } else {
            return NULL;
        }
    }
    return p < end ? p + 1 : NULL;
}

/* Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]. */
static const char *
scan_domain(const char *p, const char *end)
{
    for (;;) {
        const char *label = p;
        while (p < end && (is_alnum((unsigned char)*p) ||
                           (unsigned char)*p >= 0x80 || *p == '-'))
            p++;
        if (p == label || *label == '-' || p[-1] == '-')
            return NULL;
        if (p < end && *p == '.') {
            p++;
            continue;
        }
        return p;
    }
}

/* address-literal: "[" 1*dcontent "]", dcontent = %d33-90 / %d94-126. */
static const char *
scan_addr_literal(const char *p, const char *end)
{
    const char *start = ++p;

    while (p < end && *p != ']') {
        unsigned char c = (unsigned char)*p++;
        if (c < 33 || c > 126 || c == '[' || c == '\\')
            return NULL;
    }
    if (p >= end || p == start)
        return NULL;
    return p + 1;
}

static const char *
scan_any_domain(const char *p, const char *end)
{
    if (p < end && *p == '[')
        return scan_addr_literal(p, end);
    return scan_domain(p, end);
}

/* A-d-l ":" -- a source route, accepted and ignored (RFC 5321 C). */
static const char *
skip_source_route(const char *p, const char *end)
{
    if (p >= end || *p != '@')
        return p;
    for (;;) {
        p = scan_any_domain(p + 1, end);
        if (p == NULL || p >= end)
            return NULL;
        if (*p == ':')
            return p + 1;
        if (*p != ',' || p + 1 >= end || p[1] != '@')
            return NULL;
        p++;
    }
}

static enum ph_parse_err
parse_mailbox(const char *p, const char *end, enum ph_path_kind kind,
              struct ph_smtp_path *out)
{
    const char *q, *at;

    q = (p < end && *p == '"') ? scan_quoted(p, end) : scan_dot_string(p, end);
    if (q == NULL)
        return PH_PARSE_BAD_LOCAL;
    out->local.p = p;
    out->local.len = (size_t)(q - p);
    if (q == end && kind == PH_PATH_RCPT && out->local.len == 10 &&
        strncasecmp(p, "postmaster", 10) == 0) {
        out->is_postmaster = true;      /* RFC 5321 4.1.1.3 <Postmaster> */
    } else {
        if (q >= end || *q != '@')
            return PH_PARSE_BAD_LOCAL;
        at = q + 1;
        q = scan_any_domain(at, end);
        if (q == NULL || q != end)
            return PH_PARSE_BAD_DOMAIN;
        out->domain.p = at;
        out->domain.len = (size_t)(end - at);
    }
    out->mailbox.p = p;
    out->mailbox.len = (size_t)(end - p);
    if (out->local.len > PH_SMTP_MAX_LOCAL ||
        out->domain.len > PH_SMTP_MAX_DOMAIN)
        return PH_PARSE_TOO_LONG;
    return PH_PARSE_OK;
}

static bool
has_8bit(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] >= 0x80)
            return true;
    return false;
}

/* esmtp-param *(SP esmtp-param); extra spaces tolerated. */
static enum ph_parse_err
parse_params(const char *p, const char *end, struct ph_smtp_path *out)
{
    while (p < end) {
        struct ph_smtp_pparam *pp;
        const char *k = p;

        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        if (k == p)
            return PH_PARSE_BAD_PARAM;   /* no space before the param */
        if (out->nparams == PH_SMTP_MAX_PARAMS)
            return PH_PARSE_TOO_MANY_PARAMS;
        pp = &out->params[out->nparams++];
        for (k = p; p < end && (is_alnum((unsigned char)*p) ||
                                (p > k && *p == '-')); p++)
            ;
        if (p == k || (p < end && *p != '=' && *p != ' '))
            return PH_PARSE_BAD_PARAM;
        pp->keyword.p = k;
        pp->keyword.len = (size_t)(p - k);
        if (p < end && *p == '=') {
            const char *v = ++p;
            while (p < end && *p != ' ' && *p != '=' &&
                   ((unsigned char)*p > 32 && (unsigned char)*p != 127))
                p++;
            if (p == v || (p < end && *p != ' '))
                return PH_PARSE_BAD_PARAM;
            if (!ph_utf8_valid(v, (size_t)(p - v)))
                return PH_PARSE_BAD_UTF8;
            pp->value.p = v;
            pp->value.len = (size_t)(p - v);
            pp->has_value = true;
        }
    }
    return PH_PARSE_OK;
}

/*
 * The '>' that closes the path. A quoted local part may hold one, also
 * after a source route ("<@r:\"a>b\"@d>"); if the quoted string is
 * broken, the first '>' will do and parse_mailbox reports the error.
 */
static const char *
find_close(const char *p, const char *end)
{
    const char *q = skip_source_route(p, end);

    if (q != NULL && q < end && *q == '"') {
        q = scan_quoted(q, end);
        if (q != NULL)
            p = q;
    }
    return memchr(p, '>', (size_t)(end - p));
}

enum ph_parse_err
ph_smtp_parse_path(const char *arg, size_t len, enum ph_path_kind kind,
                   struct ph_smtp_path *out)
{
    const char *p = arg, *end = arg + len, *kw, *close;
    size_t      kwlen;
    enum ph_parse_err err;

    memset(out, 0, sizeof(*out));
    kw = kind == PH_PATH_MAIL ? "FROM:" : "TO:";
    kwlen = strlen(kw);
    if (len < kwlen || strncasecmp(p, kw, kwlen) != 0)
        return PH_PARSE_NO_KEYWORD;
    p += kwlen;
    while (p < end && *p == ' ')        /* "FROM: <a@b>": tolerated */
        p++;
    if (p >= end || *p != '<')
        return PH_PARSE_BAD_PATH;
    close = find_close(p + 1, end);
    /* RFC 5321 4.1.2: only SP separates the path from its parameters. */
    if (close == NULL || (close + 1 < end && close[1] != ' '))
        return PH_PARSE_BAD_PATH;
    if ((size_t)(close - p + 1) > PH_SMTP_MAX_PATH)
        return PH_PARSE_TOO_LONG;
    if (close == p + 1) {
        if (kind != PH_PATH_MAIL)
            return PH_PARSE_NULL_NOT_OK;
        out->is_null = true;
        out->mailbox.p = close;
    } else {
        const char *mb = skip_source_route(p + 1, close);
        if (mb == NULL)
            return PH_PARSE_BAD_PATH;
        err = parse_mailbox(mb, close, kind, out);
        if (err != PH_PARSE_OK)
            return err;
        out->has_8bit = has_8bit(out->mailbox.p, out->mailbox.len);
        if (out->has_8bit && !ph_utf8_valid(out->mailbox.p, out->mailbox.len))
            return PH_PARSE_BAD_UTF8;
    }
    return parse_params(close + 1, end, out);
}
