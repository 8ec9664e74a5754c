/*
 * fuzz_pop3_cmd.c -- the pure POP3 parsers: command splitting, message
 * numbers, counts and base64 (SASL). Checks that the split stays inside
 * the line and never lets CR, LF or NUL through.
 */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "pop3/pop3_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_cmd(const uint8_t *data, size_t size)
{
    struct pop3_cmd cmd;
    char           *line = malloc(size + 1);
    size_t          i;

    assert(line != NULL);
    memcpy(line, data, size);
    if (ph_pop3_parse_cmd(line, size, &cmd) == 0) {
        assert(cmd.verb_len >= 1 && cmd.verb_len <= POP3_MAX_VERB);
        assert(cmd.verb >= line && cmd.verb + cmd.verb_len <= line + size);
        assert(cmd.argc <= POP3_MAX_ARGS);
        for (i = 0; i < cmd.argc; i++) {
            assert(cmd.argv[i] > line && cmd.argv[i] < line + size);
            assert(cmd.argv[i][0] != '\0' && cmd.argv[i][0] != ' ');
            assert(strpbrk(cmd.argv[i], "\r\n ") == NULL);
        }
    }
    free(line);
}

static void
check_numbers(const uint8_t *data, size_t size)
{
    char buf[32];
    long n;
    size_t len = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;

    memcpy(buf, data, len);
    buf[len] = '\0';
    n = ph_pop3_parse_count(buf);
    assert(n >= -1);
    n = ph_pop3_parse_msgnum(buf, 10);
    assert(n >= -1 && n < 10);
}

static void
check_base64(const uint8_t *data, size_t size)
{
    char out[256];
    long n = ph_base64_decode((const char *)data, size, out, sizeof(out));

    assert(n >= -1 && n <= (long)sizeof(out));
    if (n >= 0)
        assert((size_t)n <= size / 4 * 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_cmd(data, size);
    check_numbers(data, size);
    check_base64(data, size);
    return 0;
}
