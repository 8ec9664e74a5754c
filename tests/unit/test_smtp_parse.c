/*
 * test_smtp_parse.c -- src/smtp/smtp_parse.c: command line splitting,
 * the BDAT arguments, the reply formatter, enhanced code validation and
 * the error strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_parse.h"

#define S(lit) lit, sizeof(lit) - 1

struct cmd_case {
    const char        *line;
    size_t             len;
    enum ph_parse_err  err;
    const char        *verb;    /* expected on PH_PARSE_OK */
    const char        *arg;
};

static const struct cmd_case cmd_cases[] = {
    { .line = S("HELO example.org"), .verb = "HELO", .arg = "example.org" },
    { .line = S("QUIT"), .verb = "QUIT", .arg = "" },
    { .line = S("quit"), .verb = "quit", .arg = "" },
    { .line = S("NOOP "), .verb = "NOOP", .arg = "" },
    /* Only one SP separates: the rest is the argument, as sent. */
    { .line = S("MAIL  FROM:<a@b>"), .verb = "MAIL", .arg = " FROM:<a@b>" },
    { .line = S("RCPT TO:<a@b> X=1"), .verb = "RCPT", .arg = "TO:<a@b> X=1" },
    { .line = S("X-CUSTOM-1 a b"), .verb = "X-CUSTOM-1", .arg = "a b" },
    { .line = S("ABCDEFGHIJKLMNOPQRST x"), .verb = "ABCDEFGHIJKLMNOPQRST",
      .arg = "x" },
    { .line = S(""), .err = PH_PARSE_EMPTY },
    /* Smuggling: a CR, LF or NUL is never a separator. */
    { .line = S("DATA\r"), .err = PH_PARSE_BAD_CHAR },
    { .line = S("\r"), .err = PH_PARSE_BAD_CHAR },
    { .line = S("\n"), .err = PH_PARSE_BAD_CHAR },
    { .line = S("RSET\nMAIL FROM:<a@b>"), .err = PH_PARSE_BAD_CHAR },
    { .line = S("MAIL FROM:<a@b>\rRCPT"), .err = PH_PARSE_BAD_CHAR },
    { .line = S("NOOP\0x"), .err = PH_PARSE_BAD_CHAR },
    { .line = S("\0"), .err = PH_PARSE_BAD_CHAR },
    { .line = S(" HELO x"), .err = PH_PARSE_BAD_VERB },
    { .line = S(" "), .err = PH_PARSE_BAD_VERB },
    { .line = S("HE_LO x"), .err = PH_PARSE_BAD_VERB },
    { .line = S("HELO:x"), .err = PH_PARSE_BAD_VERB },
    { .line = S("H\tELO"), .err = PH_PARSE_BAD_VERB },
    { .line = S("H\xc3\xa9LO"), .err = PH_PARSE_BAD_VERB },
    { .line = S("ABCDEFGHIJKLMNOPQRSTU x"), .err = PH_PARSE_BAD_VERB },
    { .line = S("ABCDEFGHIJKLMNOPQRSTU"), .err = PH_PARSE_BAD_VERB },
};

static void
test_parse_cmd_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
        const struct cmd_case *c = &cmd_cases[i];
        struct ph_smtp_cmd cmd;
        enum ph_parse_err err;

        err = ph_smtp_parse_cmd(c->line, c->len, &cmd);
        print_message("case %zu\n", i);
        assert_int_equal(err, c->err);
        if (c->err != PH_PARSE_OK) {
            assert_int_equal(cmd.verb.len, 0);
            assert_int_equal(cmd.arg.len, 0);
            continue;
        }
        assert_int_equal(cmd.verb.len, strlen(c->verb));
        assert_memory_equal(cmd.verb.p, c->verb, cmd.verb.len);
        assert_ptr_equal(cmd.verb.p, c->line);
        assert_int_equal(cmd.arg.len, strlen(c->arg));
        assert_memory_equal(cmd.arg.p, c->arg, cmd.arg.len);
        /* spans point into the input */
        assert_true(cmd.arg.p >= c->line && cmd.arg.p <= c->line + c->len);
    }
}

struct reply_case {
    int          code;
    const char  *enh;
    const char  *lines[3];
    size_t       n;
    bool         with_enh;
    const char  *want;    /* NULL: -1 expected */
};

static const struct reply_case reply_cases[] = {
    { .code = 250, .lines = { "OK" }, .n = 1, .want = "250 OK\r\n" },
    { .code = 250, .enh = "2.1.0", .lines = { "OK" }, .n = 1,
      .want = "250 OK\r\n" },
    { .code = 250, .enh = "2.1.0", .lines = { "OK" }, .n = 1,
      .with_enh = true, .want = "250 2.1.0 OK\r\n" },
    { .code = 250, .enh = "2.123.999", .lines = { "OK" }, .n = 1,
      .with_enh = true, .want = "250 2.123.999 OK\r\n" },
    { .code = 250, .enh = "2.0.0", .lines = { "a", "b", "c" }, .n = 3,
      .with_enh = true,
      .want = "250-2.0.0 a\r\n250-2.0.0 b\r\n250 2.0.0 c\r\n" },
    { .code = 250, .lines = { "mx.example", "PIPELINING" }, .n = 2,
      .want = "250-mx.example\r\n250 PIPELINING\r\n" },
    /* class mismatch: 5.x.x on a 4xx reply */
    { .code = 451, .enh = "5.1.1", .lines = { "later" }, .n = 1,
      .with_enh = true, .want = "451 4.0.0 later\r\n" },
    { .code = 550, .enh = "5.1000.1", .lines = { "no" }, .n = 1,
      .with_enh = true, .want = "550 5.0.0 no\r\n" },
    { .code = 550, .enh = "junk", .lines = { "no" }, .n = 1,
      .with_enh = true, .want = "550 5.0.0 no\r\n" },
    { .code = 550, .enh = NULL, .lines = { "no" }, .n = 1,
      .with_enh = true, .want = "550 5.0.0 no\r\n" },
    /* RFC 3463 has no class 3: a 3xx reply gets no enhanced code */
    { .code = 354, .enh = "2.0.0", .lines = { "go" }, .n = 1,
      .with_enh = true, .want = "354 go\r\n" },
    { .code = 334, .enh = NULL, .lines = { "" }, .n = 1,
      .with_enh = true, .want = "334 \r\n" },
    /* empty text: no trailing space */
    { .code = 221, .enh = "2.0.0", .lines = { "" }, .n = 1,
      .with_enh = true, .want = "221 2.0.0\r\n" },
    { .code = 200, .lines = { "x" }, .n = 1, .want = "200 x\r\n" },
    { .code = 599, .lines = { "x" }, .n = 1, .want = "599 x\r\n" },
    { .code = 199, .lines = { "x" }, .n = 1 },
    { .code = 600, .lines = { "x" }, .n = 1 },
    { .code = -250, .lines = { "x" }, .n = 1 },
    { .code = 250, .lines = { "x" }, .n = 0 },
    { .code = 250, .lines = { "a\r\nRSET" }, .n = 1 },
    { .code = 250, .lines = { "a\n" }, .n = 1 },
    { .code = 250, .lines = { "a", "b\r" }, .n = 2 },
    { .code = 250, .lines = { "a", NULL }, .n = 2 },
};

static void
test_format_reply_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const struct reply_case *c = &reply_cases[i];
        char buf[256];
        int  n;

        print_message("case %zu\n", i);
        n = ph_smtp_format_reply(buf, sizeof(buf), c->code, c->enh,
                                 c->lines, c->n, c->with_enh);
        if (c->want == NULL) {
            assert_int_equal(n, -1);
            continue;
        }
        assert_int_equal(n, (int)strlen(c->want));
        assert_memory_equal(buf, c->want, (size_t)n);
    }
}

static void
test_format_reply_small_buffer(void **state)
{
    const char *lines[] = { "first", "second" };
    const char *want = "250-2.0.0 first\r\n250 2.0.0 second\r\n";
    size_t      wlen = strlen(want), cap;
    char        buf[64];

    (void)state;
    /* snprintf needs room for the NUL, so exactly wlen + 1 fits. */
    for (cap = 0; cap <= wlen; cap++)
        assert_int_equal(ph_smtp_format_reply(buf, cap, 250, "2.0.0", lines,
                                              2, true), -1);
    assert_int_equal(ph_smtp_format_reply(buf, wlen + 1, 250, "2.0.0", lines,
                                          2, true), (int)wlen);
    assert_memory_equal(buf, want, wlen);
}

static void
test_enh_valid(void **state)
{
    static const char *const good[] = {
        "2.0.0", "4.7.1", "5.5.2", "2.999.999", "5.1.10", "4.00.000",
    };
    static const char *const bad[] = {
        "", "2", "2.", "2.0", "2.0.", "3.0.0", "1.0.0", "6.0.0", "2.0.0.0",
        "2.1000.0", "2.0.1000", "2..0", "2.0..0", "x.0.0", "2.a.0",
        "2.0.0 ", " 2.0.0", "22.0.0", "2,0,0", "2.-1.0",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(ph_smtp_enh_valid(good[i]));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("bad %s\n", bad[i]);
        assert_false(ph_smtp_enh_valid(bad[i]));
    }
    assert_false(ph_smtp_enh_valid(NULL));
}

struct bdat_case {
    const char        *arg;
    size_t             len;
    enum ph_parse_err  err;
    uint64_t           size;
    bool               last;
};

static const struct bdat_case bdat_cases[] = {
    { S("0"), PH_PARSE_OK, 0, false },
    { S("0 LAST"), PH_PARSE_OK, 0, true },
    { S("1000"), PH_PARSE_OK, 1000, false },
    { S("86 LAST"), PH_PARSE_OK, 86, true },
    { S("86 last"), PH_PARSE_OK, 86, true },
    { S("86 LaSt"), PH_PARSE_OK, 86, true },
    { S("007"), PH_PARSE_OK, 7, false },
    /* Lenient about spaces: they cannot hide where the chunk starts. */
    { S(" 12  LAST "), PH_PARSE_OK, 12, true },
    { S("12 "), PH_PARSE_OK, 12, false },
    { S("18446744073709551615"), PH_PARSE_OK, UINT64_MAX, false },
    { S("00000000000000000001 LAST"), PH_PARSE_OK, 1, true },
    { S(""), PH_PARSE_EMPTY, 0, false },
    { S("   "), PH_PARSE_EMPTY, 0, false },
    { S("18446744073709551616"), PH_PARSE_TOO_LONG, 0, false },
    { S("99999999999999999999"), PH_PARSE_TOO_LONG, 0, false },
    { S("000000000000000000001"), PH_PARSE_TOO_LONG, 0, false },
    { S("LAST"), PH_PARSE_BAD_PARAM, 0, false },
    { S("-1"), PH_PARSE_BAD_PARAM, 0, false },
    { S("+1"), PH_PARSE_BAD_PARAM, 0, false },
    { S("0x10"), PH_PARSE_BAD_PARAM, 0, false },
    { S("10LAST"), PH_PARSE_BAD_PARAM, 0, false },
    { S("10 LASTX"), PH_PARSE_BAD_PARAM, 0, false },
    { S("10 LAS"), PH_PARSE_BAD_PARAM, 0, false },
    { S("10 LAST 5"), PH_PARSE_BAD_PARAM, 0, false },
    { S("10 20"), PH_PARSE_BAD_PARAM, 0, false },
    { S("10\tLAST"), PH_PARSE_BAD_PARAM, 0, false },
    { S("1 0"), PH_PARSE_BAD_PARAM, 0, false },
    { S("10\0"), PH_PARSE_BAD_PARAM, 0, false },
};

static void
test_parse_bdat_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bdat_cases) / sizeof(bdat_cases[0]); i++) {
        const struct bdat_case *c = &bdat_cases[i];
        struct ph_smtp_bdat     b;

        print_message("bdat case %zu: \"%s\"\n", i, c->arg);
        assert_int_equal(ph_smtp_parse_bdat(c->arg, c->len, &b), c->err);
        if (c->err != PH_PARSE_OK)
            continue;
        assert_true(b.size == c->size);
        assert_int_equal(b.last, c->last);
    }
}

/* The length is what counts: bytes past it are not looked at. */
static void
test_parse_bdat_len(void **state)
{
    struct ph_smtp_bdat b;

    (void)state;
    assert_int_equal(ph_smtp_parse_bdat("123 LASTjunk", 8, &b), PH_PARSE_OK);
    assert_true(b.size == 123 && b.last);
    assert_int_equal(ph_smtp_parse_bdat("123 LA", 6, &b), PH_PARSE_BAD_PARAM);
    assert_int_equal(ph_smtp_parse_bdat("45", 1, &b), PH_PARSE_OK);
    assert_true(b.size == 4 && !b.last);
}

static void
test_strerror(void **state)
{
    int e;

    (void)state;
    for (e = 0; e < PH_PARSE__COUNT; e++) {
        const char *s = ph_parse_strerror((enum ph_parse_err)e);
        assert_non_null(s);
        assert_true(s[0] != '\0');
        assert_string_not_equal(s, "unknown error");
    }
    assert_string_equal(ph_parse_strerror(PH_PARSE__COUNT), "unknown error");
    assert_string_equal(ph_parse_strerror((enum ph_parse_err)1000),
                        "unknown error");
    assert_string_equal(ph_parse_strerror(PH_PARSE_OK), "ok");
    assert_string_equal(ph_parse_strerror(PH_PARSE_BAD_DOMAIN), "bad domain");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cmd_table),
        cmocka_unit_test(test_format_reply_table),
        cmocka_unit_test(test_format_reply_small_buffer),
        cmocka_unit_test(test_enh_valid),
        cmocka_unit_test(test_parse_bdat_table),
        cmocka_unit_test(test_parse_bdat_len),
        cmocka_unit_test(test_strerror),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
