/*
 * pop3_parse.c -- POP3 command lines (RFC 1939 3: a keyword, then
 * arguments separated by single spaces), message numbers, and base64 for
 * SASL (RFC 4648). Pure: no I/O, no allocation.
 */
#include "pop3/pop3_internal.h"

#include <string.h>

int
ph_pop3_parse_cmd(char *line, size_t len, struct pop3_cmd *out)
{
    size_t i = 0;
    char  *p;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < len; i++)
        if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0')
            return -1;          /* never a separator (cf. SMTP smuggling) */
    line[len] = '\0';
    p = line;
    while (*p == ' ')
        p++;
    out->verb = p;
    while (*p != '\0' && *p != ' ')
        p++;
    out->verb_len = (size_t)(p - out->verb);
    if (out->verb_len == 0 || out->verb_len > POP3_MAX_VERB)
        return -1;
    while (*p != '\0') {
        *p++ = '\0';            /* terminate the previous word */
        while (*p == ' ')
            p++;                /* be lenient with extra spaces */
        if (*p == '\0')
            break;
        if (out->argc == POP3_MAX_ARGS)
            return -1;
        out->argv[out->argc++] = p;
        while (*p != '\0' && *p != ' ')
            p++;
    }
    return 0;
}

long
ph_pop3_parse_count(const char *text)
{
    unsigned long v = 0;
    const char   *p = text;

    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > 100000000ul)
            return -1;          /* absurd; avoids overflow */
        v = v * 10 + (unsigned long)(*p - '0');
    }
    return *p == '\0' ? (long)v : -1;
}

long
ph_pop3_parse_msgnum(const char *text, size_t nmsgs)
{
    long n = ph_pop3_parse_count(text);

    if (n < 1 || (size_t)n > nmsgs)
        return -1;
    return n - 1;
}

static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long
ph_base64_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t   i, o = 0, pad = 0;
    unsigned acc = 0;
    int      bits = 0, v;

    if (len % 4 != 0)
        return -1;
    for (i = 0; i < len; i++) {
        if (in[i] == '=') {
            if (i < len - 2 || (i == len - 2 && in[len - 1] != '='))
                return -1;      /* '=' only at the very end */
            pad++;
            continue;
        }
        if ((v = b64_value((unsigned char)in[i])) < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    return pad > 2 ? -1 : (long)o;
}
