/*
 * fuzz_smtp_cmd.c -- ph_smtp_parse_cmd, ph_smtp_parse_bdat and
 * ph_smtp_format_reply. Checks that spans stay inside the input, that a
 * CR, LF or NUL never gets through (SMTP smuggling), that a BDAT size
 * comes only with success, and that a formatted reply is well framed.
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
check_cmd(const char *line, size_t len)
{
    struct ph_smtp_cmd cmd;
    enum ph_parse_err  err = ph_smtp_parse_cmd(line, len, &cmd);
    size_t             i;

    assert((unsigned)err < PH_PARSE__COUNT);
    if (err != PH_PARSE_OK)
        return;
    assert(cmd.verb.p == line);
    assert(cmd.verb.len >= 1 && cmd.verb.len <= PH_SMTP_MAX_VERB);
    assert(cmd.arg.p >= line && cmd.arg.p + cmd.arg.len == line + len);
    assert(cmd.verb.len == len || line[cmd.verb.len] == ' ');
    for (i = 0; i < len; i++)
        assert(line[i] != '\r' && line[i] != '\n' && line[i] != '\0');
}

/* BDAT's argument: a size and LAST only come with PH_PARSE_OK. */
static void
check_bdat(const char *arg, size_t len)
{
    struct ph_smtp_bdat b;
    enum ph_parse_err   err = ph_smtp_parse_bdat(arg, len, &b);

    assert(err == PH_PARSE_OK || err == PH_PARSE_EMPTY ||
           err == PH_PARSE_TOO_LONG || err == PH_PARSE_BAD_PARAM);
    if (err != PH_PARSE_OK)
        assert(b.size == 0 && !b.last);
}

/* Input: code (2 bytes), enh length (1 byte), enh, then lines split at
   NUL. The output must be CRLF-framed lines that all start with code. */
static void
check_reply(const uint8_t *data, size_t size)
{
    char        enh[16], text[256], buf[512];
    const char *lines[8];
    size_t      n = 0, elen, i, tlen;
    int         code, w;

    if (size < 3)
        return;
    code = 150 + (data[0] << 8 | data[1]) % 500;
    elen = data[2] % sizeof(enh);
    data += 3;
    size -= 3;
    if (elen > size)
        elen = size;
    memcpy(enh, data, elen);
    enh[elen] = '\0';
    data += elen;
    size -= elen;
    tlen = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, tlen);
    text[tlen] = '\0';
    /* Split at NUL by hand: strings stop at the first one anyway. */
    lines[n++] = text;
    for (i = 0; i < tlen && n < 8; i++)
        if (data[i] == '\0')
            lines[n++] = text + i + 1;
    w = ph_smtp_format_reply(buf, sizeof(buf), code, enh, lines, n,
                             (elen & 1) != 0);
    if (w < 0)
        return;
    assert(code >= 200 && code <= 599);
    assert((size_t)w < sizeof(buf) && w >= 6);
    assert(buf[w - 2] == '\r' && buf[w - 1] == '\n');
    for (i = 0; i < (size_t)w; i++) {
        if (buf[i] == '\n')
            assert(i > 0 && buf[i - 1] == '\r');
        if (buf[i] == '\r')
            assert(i + 1 < (size_t)w && buf[i + 1] == '\n');
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_cmd((const char *)data, size);
    check_bdat((const char *)data, size);
    check_reply(data, size);
    (void)ph_smtp_enh_valid(size > 0 && data[size - 1] == '\0'
                            ? (const char *)data : "2.0.0");
    return 0;
}
