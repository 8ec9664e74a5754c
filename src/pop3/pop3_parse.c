/*
 * pop3_parse.c -- POP3 command lines (RFC 1939 3: a keyword, then
 * arguments separated by single spaces) and message numbers. Pure: no
 * I/O, no allocation. Base64 and SASL messages are in auth/sasl.c.
 */
#include "pop3/pop3_parse.h"

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
