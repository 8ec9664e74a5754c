/* log.c -- the log hook: one key=value line per event, never a secret. */
#include "core/core_internal.h"

#include <stdio.h>

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
ph_loop_set_log(ph_loop *loop, enum ph_log_level level, ph_log_fn *fn,
                void *ctx)
{
    loop->log_level = level;
    loop->log_fn = fn;
    loop->log_ctx = ctx;
}

void
ph_log_stderr(void *ctx, enum ph_log_level level, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s %s\n",
            (unsigned)level < 4 ? level_names[level] : "?", line);
}

void
ph_log(ph_loop *loop, enum ph_log_level level, const char *fmt, ...)
{
    char    line[1024];
    va_list ap;

    if (!ph_log_enabled(loop, level))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);   /* truncation is fine here */
    va_end(ap);
    loop->log_fn(loop->log_ctx, level, line);
}

char *
ph_log_sanitize(char *dst, size_t cap, const char *src, size_t len)
{
    size_t i;

    if (cap == 0)
        return dst;
    for (i = 0; i < len && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 32 || c == 127) ? '?' : (char)c;
    }
    dst[i] = '\0';
    return dst;
}
