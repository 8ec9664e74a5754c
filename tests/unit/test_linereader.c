/*
 * test_linereader.c -- src/core/linereader.c: strict CRLF framing over an
 * evbuffer (RFC 5321 2.3.8), the length limit at max and max + 1, and
 * draining of an over-long line that arrives in pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_internal.h"

#define MAXLINE 10

struct fixture {
    struct evbuffer     *in;
    struct ph_linereader lr;
    char                 line[MAXLINE];
    size_t               len;
};

static int
setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    f.in = evbuffer_new();
    if (f.in == NULL)
        return -1;
    f.lr.max = MAXLINE;
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    evbuffer_free(f->in);
    return 0;
}

static void
add(struct fixture *f, const char *s)
{
    assert_int_equal(evbuffer_add(f->in, s, strlen(s)), 0);
}

static enum ph_line_result
rd(struct fixture *f)
{
    f->len = 12345;
    return ph_linereader_read(&f->lr, f->in, f->line, &f->len);
}

static void
expect_line(struct fixture *f, const char *want)
{
    assert_int_equal(rd(f), PH_LINE_OK);
    assert_int_equal(f->len, strlen(want));
    assert_memory_equal(f->line, want, f->len);
}

static void
test_crlf_lines(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(rd(f), PH_LINE_NONE);
    add(f, "HELO x\r\nQUIT\r\n\r\nNO");
    expect_line(f, "HELO x");
    expect_line(f, "QUIT");
    expect_line(f, "");
    assert_int_equal(rd(f), PH_LINE_NONE);
    assert_int_equal(evbuffer_get_length(f->in), 2);
    add(f, "OP\r\n");
    expect_line(f, "NOOP");
    assert_int_equal(evbuffer_get_length(f->in), 0);
}

static void
test_limit(void **state)
{
    struct fixture *f = *state;

    add(f, "12345678\r\n");              /* max, with the CRLF */
    expect_line(f, "12345678");
    add(f, "123456789\r\nok\r\n");       /* max + 1 */
    assert_int_equal(rd(f), PH_LINE_TOO_LONG);
    expect_line(f, "ok");
    assert_int_equal(rd(f), PH_LINE_NONE);
}

static void
test_limit_in_pieces(void **state)
{
    struct fixture *f = *state;

    add(f, "123456789");
    assert_int_equal(rd(f), PH_LINE_NONE);
    add(f, "\r");
    assert_int_equal(rd(f), PH_LINE_NONE);
    add(f, "\n");
    assert_int_equal(rd(f), PH_LINE_TOO_LONG);
    assert_int_equal(rd(f), PH_LINE_NONE);
    add(f, "1234567");
    assert_int_equal(rd(f), PH_LINE_NONE);
    add(f, "8\r");
    assert_int_equal(rd(f), PH_LINE_NONE);
    add(f, "\n");
    expect_line(f, "12345678");
}

static void
test_bare_lf_and_cr_inside(void **state)
{
    struct fixture *f = *state;

    add(f, "a\nb\r\n");
    expect_line(f, "a\nb");
    add(f, "a\rb\r\n");
    expect_line(f, "a\rb");
    add(f, "\n\n\r\n");
    expect_line(f, "\n\n");
    add(f, "x\r\r\n");
    expect_line(f, "x\r");
}

static void
test_byte_at_a_time(void **state)
{
    struct fixture *f = *state;
    const char     *in = "MAIL x\r\nRCPT\r\n";
    size_t          i;
    int             nlines = 0;

    for (i = 0; in[i] != '\0'; i++) {
        enum ph_line_result r;
        assert_int_equal(evbuffer_add(f->in, in + i, 1), 0);
        r = rd(f);
        if (i == 7) {
            assert_int_equal(r, PH_LINE_OK);
            assert_memory_equal(f->line, "MAIL x", 6);
            nlines++;
        } else if (i == 13) {
            assert_int_equal(r, PH_LINE_OK);
            assert_memory_equal(f->line, "RCPT", 4);
            nlines++;
        } else {
            assert_int_equal(r, PH_LINE_NONE);
        }
    }
    assert_int_equal(nlines, 2);
}

/* A client cannot make us buffer an endless line. */
static void
test_long_line_drained(void **state)
{
    struct fixture *f = *state;
    int             i;

    for (i = 0; i < 1000; i++) {
        add(f, "xxxxxxx");
        assert_int_equal(rd(f), PH_LINE_NONE);
        assert_true(evbuffer_get_length(f->in) <= MAXLINE);
    }
    add(f, "x\r");
    assert_int_equal(rd(f), PH_LINE_NONE);
    assert_true(evbuffer_get_length(f->in) <= MAXLINE);
    add(f, "\nQUIT\r\n");
    assert_int_equal(rd(f), PH_LINE_TOO_LONG);   /* once */
    expect_line(f, "QUIT");
    assert_int_equal(rd(f), PH_LINE_NONE);
    /* and a bare LF in the long line did not end it */
    for (i = 0; i < 10; i++)
        add(f, "ab\ncd\n");
    add(f, "\r\nok\r\n");
    assert_int_equal(rd(f), PH_LINE_TOO_LONG);
    expect_line(f, "ok");
}

/* The CRLF of an over-long line split between two pieces. */
static void
test_long_line_split_crlf(void **state)
{
    struct fixture *f = *state;

    add(f, "0123456789abcdef\r");
    assert_int_equal(rd(f), PH_LINE_NONE);
    add(f, "\n");
    assert_int_equal(rd(f), PH_LINE_TOO_LONG);
    add(f, "a\r\n");
    expect_line(f, "a");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crlf_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_in_pieces, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bare_lf_and_cr_inside, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_byte_at_a_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_line_drained, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_line_split_crlf, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
