/*
 * log.c -- posthornd's own log lines (the library logs through
 * ph_log_stderr): "level key=value ...", one per line on stderr, and the
 * cleaning of client text that goes into them.
 */
#include "posthornd/posthornd.h"

#include <stdarg.h>
#include <stdio.h>

const char *
pd_clean(const char *in, char *buf, size_t cap)
{
    size_t i;

    for (i = 0; in[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        buf[i] = (c <= 0x20 || c == '"' || c == 0x7f) ? '?' : (char)c;
    }
    buf[i] = '\0';
    return buf;
}

void
pd_logl(const char *level, const char *fmt, ...)
{
    va_list ap;

    fputs(level, stderr);
    fputc(' ', stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
