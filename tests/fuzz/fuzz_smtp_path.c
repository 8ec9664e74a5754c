/*
 * fuzz_smtp_path.c -- ph_smtp_parse_path. The first byte picks MAIL or
 * RCPT; the rest is the argument. Checks that every span lies inside the
 * input and that an accepted path keeps the RFC 5321 4.5.3.1 limits.
 */
/* The checks are the point of a fuzzer: keep them in release builds. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtp/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_span(struct ph_span sp, const char *arg, size_t len)
{
    if (sp.len == 0)
        return;
    assert(sp.p >= arg && sp.p + sp.len <= arg + len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ph_smtp_path path;
    enum ph_path_kind   kind;
    enum ph_parse_err   err;
    const char         *arg;
    size_t              len, i;

    if (size < 1)
        return 0;
    kind = (data[0] & 1) ? PH_PATH_RCPT : PH_PATH_MAIL;
    arg = (const char *)data + 1;
    len = size - 1;
    err = ph_smtp_parse_path(arg, len, kind, &path);
    assert((unsigned)err < PH_PARSE__COUNT);
    if (err != PH_PARSE_OK)
        return 0;
    check_span(path.mailbox, arg, len);
    check_span(path.local, arg, len);
    check_span(path.domain, arg, len);
    assert(path.local.len <= PH_SMTP_MAX_LOCAL);
    assert(path.domain.len <= PH_SMTP_MAX_DOMAIN);
    assert(path.mailbox.len + 2 <= PH_SMTP_MAX_PATH);
    assert(!path.is_null || (kind == PH_PATH_MAIL && path.mailbox.len == 0));
    assert(!path.is_postmaster || kind == PH_PATH_RCPT);
    assert(path.is_null || path.is_postmaster || path.domain.len > 0);
    assert(ph_utf8_valid(path.mailbox.p, path.mailbox.len));
    /* Nothing that could end a line or a string may reach a handler. */
    for (i = 0; i < path.mailbox.len; i++)
        assert(path.mailbox.p[i] != '\0' && path.mailbox.p[i] != '\r' &&
               path.mailbox.p[i] != '\n');
    assert(path.nparams <= PH_SMTP_MAX_PARAMS);
    for (i = 0; i < path.nparams; i++) {
        check_span(path.params[i].keyword, arg, len);
        check_span(path.params[i].value, arg, len);
        assert(path.params[i].keyword.len > 0);
        assert(path.params[i].has_value == (path.params[i].value.len > 0));
        if (path.params[i].has_value)
            assert(memchr(path.params[i].value.p, '=',
                          path.params[i].value.len) == NULL);
    }
    return 0;
}
