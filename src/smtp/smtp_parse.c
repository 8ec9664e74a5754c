/*
 * smtp_parse.c -- SMTP command line splitting (RFC 5321 4.1.1) and the
 * reply formatter (RFC 5321 4.2.1, RFC 2034). Pure: no I/O.
 */
#include "smtp/smtp_parse.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const parse_errstr[PH_PARSE__COUNT] = {
    [PH_PARSE_OK]              = "ok",
    [PH_PARSE_EMPTY]           = "empty command",
    [PH_PARSE_BAD_CHAR]        = "bare CR, LF or NUL in command",
    [PH_PARSE_BAD_VERB]        = "bad command verb",
    [PH_PARSE_NO_KEYWORD]      = "syntax: MAIL FROM:<address> or RCPT TO:<address>",
    [PH_PARSE_BAD_PATH]        = "bad path syntax",
    [PH_PARSE_BAD_LOCAL]       = "bad local part",
    [PH_PARSE_BAD_DOMAIN]      = "bad domain",
    [PH_PARSE_NULL_NOT_OK]     = "null path not allowed here",
    [PH_PARSE_TOO_LONG]        = "path too long",
    [PH_PARSE_BAD_PARAM]       = "bad parameter syntax",
    [PH_PARSE_TOO_MANY_PARAMS] = "too many parameters",
    [PH_PARSE_BAD_UTF8]        = "invalid UTF-8",
};

const char *
ph_parse_strerror(enum ph_parse_err err)
{
    if ((unsigned)err >= PH_PARSE__COUNT || parse_errstr[err] == NULL)
        return "unknown error";
    return parse_errstr[err];
}

static bool
is_verb_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '-';
}

enum ph_parse_err
ph_smtp_parse_cmd(const char *line, size_t len, struct ph_smtp_cmd *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    /* A CR, LF or NUL can only be here if framing let a bare one through:
       never treat it as a separator (SMTP smuggling). */
    for (i = 0; i < len; i++) {
        if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0')
            return PH_PARSE_BAD_CHAR;
    }
    if (len == 0)
        return PH_PARSE_EMPTY;
    for (i = 0; i < len && line[i] != ' '; i++) {
        if (!is_verb_char((unsigned char)line[i]))
            return PH_PARSE_BAD_VERB;
    }
    if (i == 0 || i > PH_SMTP_MAX_VERB)
        return PH_PARSE_BAD_VERB;
    out->verb.p = line;
    out->verb.len = i;
    if (i < len) {
        out->arg.p = line + i + 1;
        out->arg.len = len - i - 1;
    } else {
        out->arg.p = line + len;
        out->arg.len = 0;
    }
    return PH_PARSE_OK;
}

static size_t
skip_spaces(const char *p, size_t i, size_t len)
{
    while (i < len && p[i] == ' ')
        i++;
    return i;
}

/* RFC 3030 2: "BDAT" SP chunk-size [ SP end-marker ]. */
enum ph_parse_err
ph_smtp_parse_bdat(const char *arg, size_t len, struct ph_smtp_bdat *out)
{
    size_t   i = skip_spaces(arg, 0, len), start, digits = 0;
    uint64_t n = 0;

    memset(out, 0, sizeof(*out));
    if (i == len)
        return PH_PARSE_EMPTY;
    for (; i < len && arg[i] >= '0' && arg[i] <= '9'; i++) {
        unsigned d = (unsigned)(arg[i] - '0');

        if (++digits > PH_SMTP_MAX_BDAT_DIGITS || n > (UINT64_MAX - d) / 10)
            return PH_PARSE_TOO_LONG;
        n = n * 10 + d;
    }
    if (digits == 0)
        return PH_PARSE_BAD_PARAM;
    start = i;
    i = skip_spaces(arg, i, len);
    if (i < len) {
        /* "10LAST" is not "10 LAST". */
        if (i == start || len - i < 4 || strncasecmp(arg + i, "LAST", 4) != 0)
            return PH_PARSE_BAD_PARAM;
        if (skip_spaces(arg, i + 4, len) != len)
            return PH_PARSE_BAD_PARAM;
        out->last = true;
    }
    out->size = n;
    return PH_PARSE_OK;
}

bool
ph_smtp_enh_valid(const char *enh)
{
    const char *p = enh;
    int part, digits;

    if (enh == NULL || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
        p[1] != '.')
        return false;
    p += 2;
    for (part = 0; part < 2; part++) {
        for (digits = 0; *p >= '0' && *p <= '9'; p++)
            digits++;
        if (digits < 1 || digits > 3)
            return false;
        if (part == 0 && *p++ != '.')
            return false;
    }
    return *p == '\0';
}

static bool
text_ok(const char *t)
{
    return strpbrk(t, "\r\n") == NULL;
}

int
ph_smtp_format_reply(char *buf, size_t cap, int code, const char *enh,
                     const char *const *lines, size_t n, bool with_enh)
{
    char   cls[8];
    size_t off = 0, i, elen;

    if (code < 200 || code > 599 || n == 0 || cap > INT_MAX)
        return -1;
    /* RFC 3463 has no class 3: "3.0.0" would not be a valid code (see
       ph_smtp_enh_valid), so a 3xx reply goes without one. */
    if (code / 100 == 3)
        with_enh = false;
    if (with_enh && (!ph_smtp_enh_valid(enh) || enh[0] - '0' != code / 100)) {
        snprintf(cls, sizeof(cls), "%d.0.0", code / 100);
        enh = cls;
    }
    elen = with_enh ? strlen(enh) : 0;
    for (i = 0; i < n; i++) {
        const char *t = lines[i];
        size_t      tlen;

        if (t == NULL || !text_ok(t))
            return -1;
        tlen = strlen(t);
        /* "ddd" sep [enh " "] text CRLF, and room for the final NUL */
        if (cap - off < 4 + elen + 1 + tlen + 3)
            return -1;
        buf[off++] = (char)('0' + code / 100);
        buf[off++] = (char)('0' + code / 10 % 10);
        buf[off++] = (char)('0' + code % 10);
        buf[off++] = i + 1 < n ? '-' : ' ';
        if (elen > 0) {
            memcpy(buf + off, enh, elen);
            off += elen;
            if (tlen > 0)
                buf[off++] = ' ';
        }
        memcpy(buf + off, t, tlen);
        off += tlen;
        buf[off++] = '\r';
        buf[off++] = '\n';
    }
    buf[off] = '\0';
    return (int)off;
}
