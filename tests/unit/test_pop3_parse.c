/*
 * test_pop3_parse.c -- src/pop3/pop3_parse.c: command line splitting,
 * message numbers and TOP's line count (base64 and SASL PLAIN are in
 * test_sasl.c). The functions are pure and whole-line (the line reader
 * frames lines), so each case is one table row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pop3/pop3_parse.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- ph_pop3_parse_cmd ------------------------------------------------- */

struct cmd_case {
    const char *line;
    size_t      len;
    int         rc;
    const char *verb;
    size_t      argc;
    const char *argv[POP3_MAX_ARGS];
};

static const struct cmd_case cmd_cases[] = {
    { .line = S("USER alice"), .verb = "USER", .argc = 1,
      .argv = { "alice" } },
    { .line = S("STAT"), .verb = "STAT" },
    { .line = S("stat"), .verb = "stat" },          /* case kept as sent */
    { .line = S("LIST "), .verb = "LIST" },
    { .line = S("TOP 1 10"), .verb = "TOP", .argc = 2, .argv = { "1", "10" } },
    /* Lenient with spaces: leading, repeated, trailing. */
    { .line = S("  NOOP"), .verb = "NOOP" },
    { .line = S("TOP  1   2  "), .verb = "TOP", .argc = 2,
      .argv = { "1", "2" } },
    { .line = S("PASS secret with spaces"), .verb = "PASS", .argc = 3,
      .argv = { "secret", "with", "spaces" } },
    { .line = S("X 1 2 3 4 5 6 7 8"), .verb = "X", .argc = 8,
      .argv = { "1", "2", "3", "4", "5", "6", "7", "8" } },
    { .line = S("ABCDEFGHIJKLMNOP x"), .verb = "ABCDEFGHIJKLMNOP", .argc = 1,
      .argv = { "x" } },
    { .line = S("AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ="), .verb = "AUTH",
      .argc = 2, .argv = { "PLAIN", "AGFsaWNlAHdvbmRlcmxhbmQ=" } },
    /* Errors. */
    { .line = S(""), .rc = -1 },
    { .line = S("   "), .rc = -1 },
    { .line = S("ABCDEFGHIJKLMNOPQ"), .rc = -1 },       /* verb of 17 */
    { .line = S("X 1 2 3 4 5 6 7 8 9"), .rc = -1 },     /* 9 arguments */
    /* CR, LF and NUL are never separators (no smuggling). */
    { .line = S("NOOP\r"), .rc = -1 },
    { .line = S("NOOP\nDELE 1"), .rc = -1 },
    { .line = S("DELE 1\rQUIT"), .rc = -1 },
    { .line = S("NOOP\0DELE 1"), .rc = -1 },
    { .line = S("\0"), .rc = -1 },
    { .line = S("USER a\n"), .rc = -1 },
};

static void
test_parse_cmd_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
        const struct cmd_case *t = &cmd_cases[i];
        char                   buf[512];
        struct pop3_cmd        cmd;
        int                    rc;

        assert_true(t->len < sizeof(buf));
        memcpy(buf, t->line, t->len);
        buf[t->len] = 'Z';      /* the parser must terminate it itself */
        rc = ph_pop3_parse_cmd(buf, t->len, &cmd);
        if (rc != t->rc)
            fail_msg("case %zu (%.*s): rc %d, want %d", i, (int)t->len,
                     t->line, rc, t->rc);
        if (t->rc != 0)
            continue;
        assert_int_equal(cmd.verb_len, strlen(t->verb));
        assert_memory_equal(cmd.verb, t->verb, cmd.verb_len);
        if (cmd.argc != t->argc)
            fail_msg("case %zu: argc %zu, want %zu", i, cmd.argc, t->argc);
        for (size_t a = 0; a < t->argc; a++)
            assert_string_equal(cmd.argv[a], t->argv[a]);
    }
}

/* Arguments end at NUL; the verb's bytes are followed by NUL or end. */
static void
test_parse_cmd_terminates_words(void **state)
{
    char            buf[] = "RETR 12 x";
    struct pop3_cmd cmd;

    (void)state;
    assert_int_equal(ph_pop3_parse_cmd(buf, sizeof(buf) - 1, &cmd), 0);
    assert_int_equal(cmd.verb_len, 4);
    assert_int_equal(cmd.verb[4], '\0');
    assert_string_equal(cmd.argv[0], "12");
    assert_string_equal(cmd.argv[1], "x");
}

/* ---- ph_pop3_parse_count / ph_pop3_parse_msgnum ---------------------- */

struct num_case {
    const char *text;
    long        count;      /* ph_pop3_parse_count */
    long        msg;        /* ph_pop3_parse_msgnum(text, 5) */
};

static const struct num_case num_cases[] = {
    { "0", 0, -1 },
    { "1", 1, 0 },
    { "5", 5, 4 },
    { "6", 6, -1 },
    { "10", 10, -1 },
    { "123456", 123456, -1 },
    { "", -1, -1 },
    { "-1", -1, -1 },
    { "+1", -1, -1 },
    { " 1", -1, -1 },
    { "1 ", -1, -1 },
    { "1x", -1, -1 },
    { "x1", -1, -1 },
    { "1.0", -1, -1 },
    { "0x1", -1, -1 },
    { "99999999999999999999999", -1, -1 },      /* no overflow */
};

static void
test_numbers_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(num_cases) / sizeof(num_cases[0]); i++) {
        const struct num_case *t = &num_cases[i];
        long c = ph_pop3_parse_count(t->text);
        long m = ph_pop3_parse_msgnum(t->text, 5);

        if (c != t->count || m != t->msg)
            fail_msg("\"%s\": count %ld msg %ld, want %ld %ld", t->text, c,
                     m, t->count, t->msg);
    }
}

static void
test_msgnum_bounds(void **state)
{
    (void)state;
    assert_int_equal(ph_pop3_parse_msgnum("1", 0), -1);     /* empty drop */
    assert_int_equal(ph_pop3_parse_msgnum("1", 1), 0);
    assert_int_equal(ph_pop3_parse_msgnum("100000", 100000), 99999);
    assert_int_equal(ph_pop3_parse_msgnum("100001", 100000), -1);
    /* Large counts are fine up to the parser's cap. */
    assert_int_equal(ph_pop3_parse_count("100000000"), 100000000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cmd_table),
        cmocka_unit_test(test_parse_cmd_terminates_words),
        cmocka_unit_test(test_numbers_table),
        cmocka_unit_test(test_msgnum_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
