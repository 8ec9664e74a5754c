/*
 * test_smtp_header.c -- src/smtp/smtp_header.c: header/body split,
 * unfolding (RFC 5322 2.2.3), end of headers, overflow of the header
 * buffer. Every vector runs whole, split at every byte boundary and one
 * byte at a time; all runs must give the same events.
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

/* Everything the splitter reported, in a comparable form. */
struct rec {
    char   headers[1024];   /* "name=value\n" per header */
    size_t headers_len;
    char   body[1024];
    size_t body_len;
    int    neoh;
    bool   order_ok;        /* no header after EOH, no body before it */
};

static void
rec_append(char *dst, size_t *len, size_t cap, const char *p, size_t n)
{
    assert_true(*len + n <= cap);
    memcpy(dst + *len, p, n);
    *len += n;
}

static void
on_header(void *ctx, const char *name, size_t name_len, const char *value,
          size_t value_len)
{
    struct rec *r = ctx;

    if (r->neoh != 0)
        r->order_ok = false;
    rec_append(r->headers, &r->headers_len, sizeof(r->headers), name,
               name_len);
    rec_append(r->headers, &r->headers_len, sizeof(r->headers), "=", 1);
    rec_append(r->headers, &r->headers_len, sizeof(r->headers), value,
               value_len);
    rec_append(r->headers, &r->headers_len, sizeof(r->headers), "\n", 1);
}

static void
on_eoh(void *ctx)
{
    struct rec *r = ctx;

    r->neoh++;
}

static void
on_body(void *ctx, const char *p, size_t len)
{
    struct rec *r = ctx;

    if (r->neoh != 1 || len == 0)
        r->order_ok = false;
    rec_append(r->body, &r->body_len, sizeof(r->body), p, len);
}

struct hdr_case {
    const char *in;
    size_t      in_len;
    size_t      cap;       /* header buffer; 0 means 256 */
    const char *headers;
    const char *body;
    size_t      body_len;
};

static const struct hdr_case hdr_cases[] = {
    { .in = S("Subject: hello\r\nTo:  x@y\r\n\r\nbody\r\n"),
      .headers = "Subject=hello\nTo=x@y\n", .body = S("body\r\n") },
    { .in = S("A:1\r\nB:\t 2 \r\nC:\r\nD: \r\n\r\n"),
      .headers = "A=1\nB=2 \nC=\nD=\n", .body = S("") },
    /* unfolding removes the CRLF and keeps the WSP */
    { .in = S("Subject: a\r\n b\r\n\tc\r\n\r\nB"),
      .headers = "Subject=a b\tc\n", .body = S("B") },
    { .in = S("X: 1\r\n  \r\nY: 2\r\n\r\n"),
      .headers = "X=1  \nY=2\n", .body = S("") },
    /* the blank line is not body; later blank lines are */
    { .in = S("A: 1\r\n\r\n\r\nx\r\n"), .headers = "A=1\n",
      .body = S("\r\nx\r\n") },
    { .in = S("\r\nbody"), .headers = "", .body = S("body") },
    /* a line that is not a header field ends the headers, and is body */
    { .in = S("A: 1\r\nnot a header\r\nrest\r\n"), .headers = "A=1\n",
      .body = S("not a header\r\nrest\r\n") },
    { .in = S("A: 1\r\nBad Name: x\r\n\r\n"), .headers = "A=1\n",
      .body = S("Bad Name: x\r\n\r\n") },
    { .in = S("From x@y Mon\r\nA: 1\r\n"), .headers = "",
      .body = S("From x@y Mon\r\nA: 1\r\n") },
    { .in = S(": empty name\r\n"), .headers = "",
      .body = S(": empty name\r\n") },
    /* continuation at the very start: nothing to continue */
    { .in = S(" x\r\nA: 1\r\n\r\n"), .headers = "",
      .body = S(" x\r\nA: 1\r\n\r\n") },
    /* bare CR and LF stay inside the line */
    { .in = S("A: x\ry\r\n\r\n"), .headers = "A=x\ry\n", .body = S("") },
    { .in = S("A: x\ny\r\n\r\nb"), .headers = "A=x\ny\n", .body = S("b") },
    /* finish() without a blank line */
    { .in = S("A: 1\r\nB: 2"), .headers = "A=1\nB=2\n", .body = S("") },
    { .in = S("A: 1\r\nB: 2\r\n"), .headers = "A=1\nB=2\n", .body = S("") },
    { .in = S("A: 1\r\n 2"), .headers = "A=1 2\n", .body = S("") },
    { .in = S("A: 1\r\nxyz"), .headers = "A=1\n", .body = S("xyz") },
    { .in = S(""), .headers = "", .body = S("") },
    { .in = S("A: 1\r"), .headers = "A=1\r\n", .body = S("") },
    /* header buffer overflow: EOH, the line goes to the body intact */
    { .in = S("Subject: 0123456789abcdef\r\n\r\nbody"), .cap = 16,
      .headers = "", .body = S("Subject: 0123456789abcdef\r\n\r\nbody") },
    { .in = S("A: 1\r\nB: 0123456789abcdef\r\n\r\nbody"), .cap = 16,
      .headers = "A=1\n", .body = S("B: 0123456789abcdef\r\n\r\nbody") },
    { .in = S("A: 1\r\n 0123456789abcdef\r\n\r\nbody"), .cap = 16,
      .headers = "A=1\n", .body = S(" 0123456789abcdef\r\n\r\nbody") },
    /* a full buffer is emptied by the next header, not overflowed */
    { .in = S("A: 0123456789\r\nB: 0123456789\r\n\r\nbody"), .cap = 16,
      .headers = "A=0123456789\nB=0123456789\n", .body = S("body") },
    { .in = S("A: 0123456789ab\r\n\r\nbody"), .cap = 16,
      .headers = "A=0123456789ab\n", .body = S("body") },
    /* the CR needs a byte too: 15 + CR fits in 16, 16 + CR does not */
    { .in = S("A: 0123456789abc\r\n\r\nbody"), .cap = 16,
      .headers = "", .body = S("A: 0123456789abc\r\n\r\nbody") },
    { .in = S("A: 0123456789abcd\r\n\r\nbody"), .cap = 16,
      .headers = "", .body = S("A: 0123456789abcd\r\n\r\nbody") },
    { .in = S("A: 0123456789ab\r\n 1\r\n\r\n"), .cap = 16,
      .headers = "A=0123456789ab\n", .body = S(" 1\r\n\r\n") },
    { .in = S("A: 0123456789ab\r\n\r\n"), .cap = 16,
      .headers = "A=0123456789ab\n", .body = S("") },
    { .in = S("A: 0123456789ab\r\nB: 1\r\n\r\n"), .cap = 16,
      .headers = "A=0123456789ab\nB=1\n", .body = S("") },
    { .in = S("A: 0\r\n 1\r\n 2\r\n 3\r\n 4\r\n 5\r\n 6\r\n 7\r\n\r\nb"),
      .cap = 16, .headers = "A=0 1 2 3 4 5\n",
      .body = S(" 6\r\n 7\r\n\r\nb") },
};

static void
run_cuts(const struct hdr_case *c, const size_t *cuts, size_t ncuts,
         struct rec *r)
{
    struct ph_smtp_header_cb       cb = {
        .header = on_header, .eoh = on_eoh, .body = on_body, .ctx = r,
    };
    struct ph_smtp_header_splitter h;
    size_t                         cap = c->cap ? c->cap : 256, from = 0, k;
    char                          *buf = malloc(cap);  /* exact, for ASan */

    assert_non_null(buf);
    memset(r, 0, sizeof(*r));
    r->order_ok = true;
    ph_smtp_header_init(&h, buf, cap, &cb);
    for (k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : c->in_len;
        ph_smtp_header_feed(&h, c->in + from, to - from);
        from = to;
    }
    ph_smtp_header_finish(&h);
    ph_smtp_header_finish(&h);          /* a second finish does nothing */
    free(buf);
}

static void
check_rec(const struct hdr_case *c, const struct rec *r)
{
    assert_true(r->order_ok);
    assert_int_equal(r->neoh, 1);
    assert_int_equal(r->headers_len, strlen(c->headers));
    assert_memory_equal(r->headers, c->headers, r->headers_len);
    assert_int_equal(r->body_len, c->body_len);
    assert_memory_equal(r->body, c->body, c->body_len);
}

static void
run_case(const struct hdr_case *c)
{
    struct rec r;
    size_t     cuts[256], i;

    run_cuts(c, NULL, 0, &r);
    check_rec(c, &r);
    for (i = 0; i <= c->in_len; i++) {
        cuts[0] = i;
        run_cuts(c, cuts, 1, &r);
        check_rec(c, &r);
    }
    assert_true(c->in_len <= sizeof(cuts) / sizeof(cuts[0]));
    for (i = 0; i < c->in_len; i++)
        cuts[i] = i + 1;
    run_cuts(c, cuts, c->in_len, &r);
    check_rec(c, &r);
}

static void
test_header_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
        print_message("case %zu\n", i);
        run_case(&hdr_cases[i]);
    }
}

/* Callbacks may be NULL: the splitter only counts on what is set. */
static void
test_header_null_callbacks(void **state)
{
    struct ph_smtp_header_cb       cb = { .ctx = NULL };
    struct ph_smtp_header_splitter h;
    char                           buf[8];

    (void)state;
    ph_smtp_header_init(&h, buf, sizeof(buf), &cb);
    ph_smtp_header_feed(&h, S("A: 1\r\nB: 0123456789\r\n\r\nbody"));
    ph_smtp_header_finish(&h);
    assert_true(h.in_body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_table),
        cmocka_unit_test(test_header_null_callbacks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
