/*
 * test_smtp_data.c -- src/smtp/smtp_data.c: end of data, dot-unstuffing
 * and the SMTP smuggling variants (RFC 5321 4.1.1.4, 4.5.2). Every vector
 * runs whole, split at every byte boundary and one byte at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_parse.h"

#define S(lit) lit, sizeof(lit) - 1

struct data_case {
    const char *in;
    size_t      in_len;
    size_t      max_line;
    const char *out;        /* expected message bytes */
    size_t      out_len;
    size_t      consumed;   /* 0: all of in */
    bool        done;
    bool        bare_cr, bare_lf, long_line;
};

/* What one run produced. */
struct data_result {
    char   out[512];
    size_t out_len;
    size_t consumed;
    struct ph_smtp_data_reader r;
};

static const struct data_case data_cases[] = {
    { .in = S(".\r\n"), .out = S(""), .done = true },
    { .in = S("a\r\n.\r\n"), .out = S("a\r\n"), .done = true },
    { .in = S("\r\n.\r\n"), .out = S("\r\n"), .done = true },
    { .in = S("..x\r\n.\r\n"), .out = S(".x\r\n"), .done = true },
    { .in = S(".x\r\n.\r\n"), .out = S("x\r\n"), .done = true },
    { .in = S("a\r\n..\r\n.\r\n"), .out = S("a\r\n.\r\n"), .done = true },
    { .in = S("a\r\n...\r\n.\r\n"), .out = S("a\r\n..\r\n"), .done = true },
    { .in = S("a.b\r\n.\r\n"), .out = S("a.b\r\n"), .done = true },
    /* bytes after the end are the next command: not consumed */
    { .in = S("a\r\n.\r\nQUIT\r\n"), .out = S("a\r\n"), .consumed = 6,
      .done = true },
    { .in = S(".\r\n.\r\n"), .out = S(""), .consumed = 3, .done = true },
    /* not finished yet */
    { .in = S("a\r\n."), .out = S("a\r\n") },
    { .in = S("a\r\n.\r"), .out = S("a\r\n") },
    { .in = S("a\r"), .out = S("a") },          /* the CR is held */
    { .in = S(""), .out = S("") },
    /* smuggling: none of these ends the data */
    { .in = S("a\n.\nMAIL FROM:<x@y>\r\n"),
      .out = S("a\n.\nMAIL FROM:<x@y>\r\n"), .bare_lf = true },
    { .in = S("a\r.\rMAIL FROM:<x@y>\r\n"),
      .out = S("a\r.\rMAIL FROM:<x@y>\r\n"), .bare_cr = true },
    { .in = S("a\n.\r\nMAIL FROM:<x@y>\r\n"),
      .out = S("a\n.\r\nMAIL FROM:<x@y>\r\n"), .bare_lf = true },
    /* after CRLF the dot is stuffing; the LF stays, bare */
    { .in = S("a\r\n.\nMAIL FROM:<x@y>\r\n"),
      .out = S("a\r\n\nMAIL FROM:<x@y>\r\n"), .bare_lf = true },
    { .in = S("a\r\n.\rMAIL FROM:<x@y>\r\n"),
      .out = S("a\r\n\rMAIL FROM:<x@y>\r\n"), .bare_cr = true },
    /* ... and the real end still works after them */
    { .in = S("a\n.\nb\r\n.\r\nQUIT\r\n"), .out = S("a\n.\nb\r\n"),
      .consumed = 10, .done = true, .bare_lf = true },
    { .in = S("a\r.\rb\r\n.\r\n"), .out = S("a\r.\rb\r\n"), .done = true,
      .bare_cr = true },
    { .in = S("a\r\n.\rb\r\n.\r\n"), .out = S("a\r\n\rb\r\n"),
      .done = true, .bare_cr = true },
    { .in = S("\n.\n"), .out = S("\n.\n"), .bare_lf = true },
    { .in = S("\r.\r"), .out = S("\r."), .bare_cr = true },
    { .in = S(".\n"), .out = S("\n"), .bare_lf = true },
    { .in = S(".\r.\r\n"), .out = S("\r.\r\n"), .bare_cr = true },
    { .in = S("a\r\r\n.\r\n"), .out = S("a\r\r\n"), .done = true,
      .bare_cr = true },
    { .in = S("a\0b\r\n.\r\n"), .out = S("a\0b\r\n"), .done = true },
    /* max_line_len counts the CRLF (and a stuffing dot) */
    { .in = S("abc\r\n.\r\n"), .max_line = 5, .out = S("abc\r\n"),
      .done = true },
    { .in = S("abcd\r\n.\r\n"), .max_line = 5, .out = S("abcd\r\n"),
      .done = true, .long_line = true },
    { .in = S("..bc\r\n.\r\n"), .max_line = 5, .out = S(".bc\r\n"),
      .done = true, .long_line = true },
    { .in = S("abc\r\nabc\r\nabcd\r\n"), .max_line = 5,
      .out = S("abc\r\nabc\r\nabcd\r\n"), .long_line = true },
    { .in = S("abc\r\nab\ncd\r\n"), .max_line = 5,
      .out = S("abc\r\nab\ncd\r\n"), .long_line = true, .bare_lf = true },
    { .in = S("abcdefgh\r\n.\r\n"), .max_line = 0, .out = S("abcdefgh\r\n"),
      .done = true },
};

/* Feeds pieces at the cut points; stops at the end of data. */
static void
run_cuts(const struct data_case *c, const size_t *cuts, size_t ncuts,
         struct data_result *res)
{
    size_t from = 0, k;

    memset(res, 0, sizeof(*res));
    ph_smtp_data_init(&res->r, c->max_line);
    for (k = 0; k <= ncuts && !ph_smtp_data_done(&res->r); k++) {
        size_t to = k < ncuts ? cuts[k] : c->in_len, n, olen;
        char  *out = malloc(to - from + 2);   /* exactly as documented */

        assert_non_null(out);
        n = ph_smtp_data_feed(&res->r, c->in + from, to - from, out, &olen);
        assert_true(n <= to - from);
        assert_true(olen <= to - from + 2);
        assert_true(res->out_len + olen <= sizeof(res->out));
        memcpy(res->out + res->out_len, out, olen);
        free(out);
        res->out_len += olen;
        res->consumed += n;
        if (n < to - from)
            assert_true(ph_smtp_data_done(&res->r));
        from = to;
    }
}

static void
check_result(const struct data_case *c, const struct data_result *res)
{
    assert_int_equal(res->out_len, c->out_len);
    assert_memory_equal(res->out, c->out, c->out_len);
    assert_int_equal(res->consumed, c->consumed ? c->consumed : c->in_len);
    assert_int_equal(ph_smtp_data_done(&res->r), c->done);
    assert_int_equal(res->r.bare_cr, c->bare_cr);
    assert_int_equal(res->r.bare_lf, c->bare_lf);
    assert_int_equal(res->r.long_line, c->long_line);
}

static void
run_case(const struct data_case *c)
{
    struct data_result res;
    size_t             cuts[256], i;

    run_cuts(c, NULL, 0, &res);
    check_result(c, &res);
    for (i = 0; i <= c->in_len; i++) {
        cuts[0] = i;
        run_cuts(c, cuts, 1, &res);
        check_result(c, &res);
    }
    assert_true(c->in_len <= sizeof(cuts) / sizeof(cuts[0]));
    for (i = 0; i < c->in_len; i++)
        cuts[i] = i + 1;
    run_cuts(c, cuts, c->in_len, &res);
    check_result(c, &res);
}

static void
test_data_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
        print_message("case %zu\n", i);
        run_case(&data_cases[i]);
    }
}

static void
test_data_done_consumes_nothing(void **state)
{
    struct ph_smtp_data_reader r;
    char                       out[16];
    size_t                     olen = 99;

    (void)state;
    ph_smtp_data_init(&r, 0);
    assert_int_equal(ph_smtp_data_feed(&r, S(".\r\n"), out, &olen), 3);
    assert_int_equal(olen, 0);
    assert_true(ph_smtp_data_done(&r));
    olen = 99;
    assert_int_equal(ph_smtp_data_feed(&r, S("more"), out, &olen), 0);
    assert_int_equal(olen, 0);
}

/* The held CR comes out with the next call: out needs len + 2. */
static void
test_data_held_bytes(void **state)
{
    struct ph_smtp_data_reader r;
    char                       out[8];
    size_t                     olen;

    (void)state;
    ph_smtp_data_init(&r, 0);
    assert_int_equal(ph_smtp_data_feed(&r, S("a\r"), out, &olen), 2);
    assert_int_equal(olen, 1);
    assert_int_equal(ph_smtp_data_feed(&r, S("\n"), out, &olen), 1);
    assert_int_equal(olen, 2);
    assert_memory_equal(out, "\r\n", 2);
    assert_int_equal(ph_smtp_data_feed(&r, S(".\r"), out, &olen), 2);
    assert_int_equal(olen, 0);
    assert_int_equal(ph_smtp_data_feed(&r, S("x"), out, &olen), 1);
    assert_int_equal(olen, 2);
    assert_memory_equal(out, "\rx", 2);
    assert_true(r.bare_cr);
    assert_false(ph_smtp_data_done(&r));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_table),
        cmocka_unit_test(test_data_done_consumes_nothing),
        cmocka_unit_test(test_data_held_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
