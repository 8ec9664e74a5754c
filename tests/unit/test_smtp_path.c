/*
 * test_smtp_path.c -- src/smtp/smtp_path.c: MAIL FROM / RCPT TO paths,
 * esmtp-params, RFC 5321 4.5.3.1 length limits, RFC 6531 UTF-8 and
 * ph_utf8_valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "smtp/smtp_parse.h"

struct kv {
    const char *k;
    const char *v;   /* NULL: keyword without value */
};

struct path_case {
    const char        *arg;
    enum ph_path_kind  kind;
    enum ph_parse_err  err;
    const char        *mailbox;  /* checked on PH_PARSE_OK */
    const char        *local;
    const char        *domain;
    bool               is_null;
    bool               is_postmaster;
    bool               has_8bit;
    size_t             nparams;
    struct kv          params[4];
};

#define S(lit) lit, sizeof(lit) - 1
#define M PH_PATH_MAIL
#define R PH_PATH_RCPT

static const struct path_case path_cases[] = {
    { .arg = "FROM:<a@b.example>", .kind = M, .mailbox = "a@b.example",
      .local = "a", .domain = "b.example" },
    { .arg = "TO:<first.last@sub.b-c.example>", .kind = R,
      .mailbox = "first.last@sub.b-c.example", .local = "first.last",
      .domain = "sub.b-c.example" },
    { .arg = "from:<a@b>", .kind = M, .mailbox = "a@b", .local = "a",
      .domain = "b" },
    { .arg = "To:<a@b>", .kind = R, .mailbox = "a@b", .local = "a",
      .domain = "b" },
    { .arg = "FROM: <a@b>", .kind = M, .mailbox = "a@b", .local = "a",
      .domain = "b" },
    { .arg = "TO:   <a@b>", .kind = R, .mailbox = "a@b", .local = "a",
      .domain = "b" },
    { .arg = "FROM:<!#$%&'*+-/=?^_`{|}~@x>", .kind = M,
      .mailbox = "!#$%&'*+-/=?^_`{|}~@x", .local = "!#$%&'*+-/=?^_`{|}~",
      .domain = "x" },
    /* the null reverse-path */
    { .arg = "FROM:<>", .kind = M, .is_null = true, .mailbox = "",
      .local = "", .domain = "" },
    { .arg = "FROM:<> SIZE=0", .kind = M, .is_null = true, .mailbox = "",
      .local = "", .domain = "", .nparams = 1,
      .params = { { "SIZE", "0" } } },
    { .arg = "TO:<>", .kind = R, .err = PH_PARSE_NULL_NOT_OK },
    /* RFC 5321 4.1.1.3: <Postmaster> without a domain, RCPT only */
    { .arg = "TO:<postmaster>", .kind = R, .is_postmaster = true,
      .mailbox = "postmaster", .local = "postmaster", .domain = "" },
    { .arg = "TO:<Postmaster>", .kind = R, .is_postmaster = true,
      .mailbox = "Postmaster", .local = "Postmaster", .domain = "" },
    { .arg = "TO:<postmaster@x.example>", .kind = R,
      .mailbox = "postmaster@x.example", .local = "postmaster",
      .domain = "x.example" },
    { .arg = "FROM:<postmaster>", .kind = M, .err = PH_PARSE_BAD_LOCAL },
    { .arg = "TO:<postmistress>", .kind = R, .err = PH_PARSE_BAD_LOCAL },
    /* quoted local parts */
    { .arg = "FROM:<\"john doe\"@x>", .kind = M,
      .mailbox = "\"john doe\"@x", .local = "\"john doe\"", .domain = "x" },
    { .arg = "TO:<\"a\\\"b\\\\c\"@x>", .kind = R,
      .mailbox = "\"a\\\"b\\\\c\"@x", .local = "\"a\\\"b\\\\c\"",
      .domain = "x" },
    { .arg = "TO:<\"a>b\"@x> NOTIFY=NEVER", .kind = R,
      .mailbox = "\"a>b\"@x", .local = "\"a>b\"", .domain = "x",
      .nparams = 1, .params = { { "NOTIFY", "NEVER" } } },
    { .arg = "TO:<\"a@b\"@x>", .kind = R, .mailbox = "\"a@b\"@x",
      .local = "\"a@b\"", .domain = "x" },
    { .arg = "TO:<\"unterminated@x>", .kind = R, .err = PH_PARSE_BAD_LOCAL },
    { .arg = "TO:<\"a>b@x>", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:<\"a\tb\"@x>", .kind = R, .err = PH_PARSE_BAD_LOCAL },
    /* source routes: accepted, ignored (RFC 5321 appendix C) */
    { .arg = "TO:<@a,@b:u@d>", .kind = R, .mailbox = "u@d", .local = "u",
      .domain = "d" },
    { .arg = "FROM:<@relay.example:u@d.example>", .kind = M,
      .mailbox = "u@d.example", .local = "u", .domain = "d.example" },
    { .arg = "TO:<@[10.0.0.1],@b:u@d>", .kind = R, .mailbox = "u@d",
      .local = "u", .domain = "d" },
    { .arg = "TO:<@r:\"a>b\"@x>", .kind = R, .mailbox = "\"a>b\"@x",
      .local = "\"a>b\"", .domain = "x" },
    { .arg = "TO:<@a,b:u@d>", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:<@a u@d>", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:<@:u@d>", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:<@a>", .kind = R, .err = PH_PARSE_BAD_PATH },
    /* address literals */
    { .arg = "TO:<u@[127.0.0.1]>", .kind = R, .mailbox = "u@[127.0.0.1]",
      .local = "u", .domain = "[127.0.0.1]" },
    { .arg = "TO:<u@[IPv6:::1]>", .kind = R, .mailbox = "u@[IPv6:::1]",
      .local = "u", .domain = "[IPv6:::1]" },
    { .arg = "TO:<u@[]>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@[1.2.3.4>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@[1 2]>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@[1.2.3.4]x>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    /* domain labels */
    { .arg = "TO:<u@-a.example>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@a-.example>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@a.-b>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@a.b->", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@a--b.example>", .kind = R, .mailbox = "u@a--b.example",
      .local = "u", .domain = "a--b.example" },
    { .arg = "TO:<u@a..b>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@a.>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    { .arg = "TO:<u@a_b>", .kind = R, .err = PH_PARSE_BAD_DOMAIN },
    /* local part syntax */
    { .arg = "TO:<@x>", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:<a..b@x>", .kind = R, .err = PH_PARSE_BAD_LOCAL },
    { .arg = "TO:<.a@x>", .kind = R, .err = PH_PARSE_BAD_LOCAL },
    { .arg = "TO:<a.@x>", .kind = R, .err = PH_PARSE_BAD_LOCAL },
    { .arg = "TO:<a b@x>", .kind = R, .err = PH_PARSE_BAD_LOCAL },
    { .arg = "TO:<ab>", .kind = R, .err = PH_PARSE_BAD_LOCAL },
    /* framing around the path */
    { .arg = "TO:a@b", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:a@b>", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:<a@b", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:   ", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:<a@b>x", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO:<a@b><c@d>", .kind = R, .err = PH_PARSE_BAD_PATH },
    { .arg = "FROM:<>x", .kind = M, .err = PH_PARSE_BAD_PATH },
    { .arg = "TO <a@b>", .kind = R, .err = PH_PARSE_NO_KEYWORD },
    { .arg = "TO", .kind = R, .err = PH_PARSE_NO_KEYWORD },
    { .arg = "", .kind = M, .err = PH_PARSE_NO_KEYWORD },
    { .arg = "FROM:<a@b>", .kind = R, .err = PH_PARSE_NO_KEYWORD },
    { .arg = "TO:<a@b>", .kind = M, .err = PH_PARSE_NO_KEYWORD },
    { .arg = " FROM:<a@b>", .kind = M, .err = PH_PARSE_NO_KEYWORD },
    /* parameters (RFC 5321 4.1.2 esmtp-param) */
    { .arg = "FROM:<a@b> SIZE=10 BODY=8BITMIME SMTPUTF8", .kind = M,
      .mailbox = "a@b", .local = "a", .domain = "b", .nparams = 3,
      .params = { { "SIZE", "10" }, { "BODY", "8BITMIME" },
                  { "SMTPUTF8", NULL } } },
    { .arg = "FROM:<a@b>  SIZE=10  ", .kind = M, .mailbox = "a@b",
      .local = "a", .domain = "b", .nparams = 1,
      .params = { { "SIZE", "10" } } },
    { .arg = "FROM:<a@b> X-A-1=v+2B", .kind = M, .mailbox = "a@b",
      .local = "a", .domain = "b", .nparams = 1,
      .params = { { "X-A-1", "v+2B" } } },
    { .arg = "FROM:<a@b> SIZE=", .kind = M, .err = PH_PARSE_BAD_PARAM },
    { .arg = "FROM:<a@b> SIZE=1=2", .kind = M, .err = PH_PARSE_BAD_PARAM },
    { .arg = "FROM:<a@b> =1", .kind = M, .err = PH_PARSE_BAD_PARAM },
    { .arg = "FROM:<a@b> -X=1", .kind = M, .err = PH_PARSE_BAD_PARAM },
    { .arg = "FROM:<a@b> S_Z=1", .kind = M, .err = PH_PARSE_BAD_PARAM },
    { .arg = "FROM:<a@b> SIZE:1", .kind = M, .err = PH_PARSE_BAD_PARAM },
    { .arg = "FROM:<a@b> SIZE=\x7f", .kind = M, .err = PH_PARSE_BAD_PARAM },
    { .arg = "FROM:<a@b> SIZE=\t1", .kind = M, .err = PH_PARSE_BAD_PARAM },
    { .arg = "FROM:<a@b> X=\xc3\xa9", .kind = M, .mailbox = "a@b",
      .local = "a", .domain = "b", .nparams = 1,
      .params = { { "X", "\xc3\xa9" } } },
    { .arg = "FROM:<a@b> X=\xc3", .kind = M, .err = PH_PARSE_BAD_UTF8 },
    /* RFC 6531 UTF-8 mailboxes */
    { .arg = "TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", .kind = R,
      .mailbox = "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
      .local = "j\xc3\xb6rg", .domain = "b\xc3\xbc" "cher.example",
      .has_8bit = true },
    { .arg = "TO:<\"\xe2\x82\xac\"@x>", .kind = R,
      .mailbox = "\"\xe2\x82\xac\"@x", .local = "\"\xe2\x82\xac\"",
      .domain = "x", .has_8bit = true },
    { .arg = "TO:<j\xf6rg@x>", .kind = R, .err = PH_PARSE_BAD_UTF8 },
    { .arg = "TO:<u@\xc0\xaf>", .kind = R, .err = PH_PARSE_BAD_UTF8 },
    { .arg = "TO:<\xed\xa0\x80@x>", .kind = R, .err = PH_PARSE_BAD_UTF8 },
};

static void
check_span(struct ph_span sp, const char *want)
{
    assert_int_equal(sp.len, strlen(want));
    if (sp.len > 0)
        assert_memory_equal(sp.p, want, sp.len);
}

static void
check_case(const struct path_case *c)
{
    struct ph_smtp_path path;
    enum ph_parse_err   err;
    size_t              i;

    err = ph_smtp_parse_path(c->arg, strlen(c->arg), c->kind, &path);
    assert_int_equal(err, c->err);
    if (err != PH_PARSE_OK)
        return;
    check_span(path.mailbox, c->mailbox);
    check_span(path.local, c->local);
    check_span(path.domain, c->domain);
    assert_int_equal(path.is_null, c->is_null);
    assert_int_equal(path.is_postmaster, c->is_postmaster);
    assert_int_equal(path.has_8bit, c->has_8bit);
    assert_int_equal(path.nparams, c->nparams);
    for (i = 0; i < c->nparams; i++) {
        check_span(path.params[i].keyword, c->params[i].k);
        assert_int_equal(path.params[i].has_value, c->params[i].v != NULL);
        check_span(path.params[i].value, c->params[i].v ? c->params[i].v
                                                        : "");
    }
}

static void
test_path_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        print_message("case %zu: %s\n", i, path_cases[i].arg);
        check_case(&path_cases[i]);
    }
}

static enum ph_parse_err
parse_rcpt(const char *arg, struct ph_smtp_path *out)
{
    return ph_smtp_parse_path(arg, strlen(arg), PH_PATH_RCPT, out);
}

static void
test_path_too_many_params(void **state)
{
    struct ph_smtp_path path;
    char                arg[512];
    size_t              off, i;

    (void)state;
    off = (size_t)snprintf(arg, sizeof(arg), "TO:<a@b>");
    for (i = 0; i < PH_SMTP_MAX_PARAMS; i++)
        off += (size_t)snprintf(arg + off, sizeof(arg) - off, " P%zu=%zu",
                                i, i);
    assert_int_equal(parse_rcpt(arg, &path), PH_PARSE_OK);
    assert_int_equal(path.nparams, PH_SMTP_MAX_PARAMS);
    check_span(path.params[15].keyword, "P15");
    check_span(path.params[15].value, "15");
    snprintf(arg + off, sizeof(arg) - off, " X");
    assert_int_equal(parse_rcpt(arg, &path), PH_PARSE_TOO_MANY_PARAMS);
}

/* "TO:<" + local + "@" + domain + ">", with runs of 'a' / labels. */
static enum ph_parse_err
parse_sized(size_t local_len, size_t domain_len, struct ph_smtp_path *out)
{
    char   arg[1024];
    size_t off = 0, i;

    memcpy(arg, "TO:<", 4);
    off = 4;
    for (i = 0; i < local_len; i++)
        arg[off++] = 'l';
    arg[off++] = '@';
    /* labels of 9 letters and a dot, so the domain stays valid */
    for (i = 0; i < domain_len; i++)
        arg[off++] = (i % 10 == 9 && i + 1 < domain_len) ? '.' : 'd';
    arg[off++] = '>';
    return ph_smtp_parse_path(arg, off, PH_PATH_RCPT, out);
}

static void
test_path_limits(void **state)
{
    struct ph_smtp_path path;

    (void)state;
    assert_int_equal(parse_sized(64, 10, &path), PH_PARSE_OK);
    assert_int_equal(path.local.len, 64);
    assert_int_equal(parse_sized(65, 10, &path), PH_PARSE_TOO_LONG);
    /* The path limit (256 with the brackets) is tighter than the domain
       limit: "<l@" + 252 + ">" is the longest path with a 1-byte local. */
    assert_int_equal(parse_sized(1, 252, &path), PH_PARSE_OK);
    assert_int_equal(path.domain.len, 252);
    assert_int_equal(path.mailbox.len, 254);
    assert_int_equal(parse_sized(1, 253, &path), PH_PARSE_TOO_LONG);
    assert_int_equal(parse_sized(64, 189, &path), PH_PARSE_OK);
    assert_int_equal(parse_sized(64, 190, &path), PH_PARSE_TOO_LONG);
    assert_int_equal(parse_sized(1, 255, &path), PH_PARSE_TOO_LONG);
    assert_int_equal(parse_sized(1, 256, &path), PH_PARSE_TOO_LONG);
}

static void
test_path_source_route_length(void **state)
{
    struct ph_smtp_path path;
    char                arg[600];
    size_t              off;

    (void)state;
    /* The source route counts toward the 256-octet path. */
    off = (size_t)snprintf(arg, sizeof(arg), "TO:<@");
    memset(arg + off, 'r', 240);
    off += 240;
    off += (size_t)snprintf(arg + off, sizeof(arg) - off, ":u@d>");
    assert_int_equal(ph_smtp_parse_path(arg, off, PH_PATH_RCPT, &path),
                     PH_PARSE_OK);
    check_span(path.mailbox, "u@d");
    off = (size_t)snprintf(arg, sizeof(arg), "TO:<@");
    memset(arg + off, 'r', 250);
    off += 250;
    off += (size_t)snprintf(arg + off, sizeof(arg) - off, ":u@d>");
    assert_int_equal(ph_smtp_parse_path(arg, off, PH_PATH_RCPT, &path),
                     PH_PARSE_TOO_LONG);
}

static void
test_path_spans_point_into_input(void **state)
{
    struct ph_smtp_path path;
    const char         *arg = "TO:<@r:u@d> A=1";

    (void)state;
    assert_int_equal(parse_rcpt(arg, &path), PH_PARSE_OK);
    assert_ptr_equal(path.mailbox.p, arg + 7);
    assert_ptr_equal(path.local.p, arg + 7);
    assert_ptr_equal(path.domain.p, arg + 9);
    assert_ptr_equal(path.params[0].keyword.p, arg + 12);
    assert_ptr_equal(path.params[0].value.p, arg + 14);
}

/* NUL never belongs to a path: a handler would see a cut C string. */
static void
test_path_nul(void **state)
{
    static const struct {
        const char        *arg;
        size_t             len;
        enum ph_parse_err  err;
    } cases[] = {
        { S("TO:<a\0b@x>"), PH_PARSE_BAD_LOCAL },
        { S("TO:<\0@x>"), PH_PARSE_BAD_LOCAL },
        { S("TO:<\"a\0b\"@x>"), PH_PARSE_BAD_LOCAL },
        { S("TO:<ab@x\0>"), PH_PARSE_BAD_DOMAIN },
        { S("TO:<ab@[1\0]>"), PH_PARSE_BAD_DOMAIN },
        { S("TO:<@r\0:ab@x>"), PH_PARSE_BAD_PATH },
        { S("TO:<ab@x> A=\0"), PH_PARSE_BAD_PARAM },
        { S("TO:<ab@x> A\0"), PH_PARSE_BAD_PARAM },
        { S("TO\0<ab@x>"), PH_PARSE_NO_KEYWORD },
    };
    struct ph_smtp_path path;
    size_t              i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("nul case %zu\n", i);
        assert_int_equal(ph_smtp_parse_path(cases[i].arg, cases[i].len,
                                            PH_PATH_RCPT, &path),
                         cases[i].err);
    }
}

struct utf8_case {
    const char *s;
    size_t      len;
    bool        ok;
};

#define U(lit, ok) { lit, sizeof(lit) - 1, ok }

static const struct utf8_case utf8_cases[] = {
    U("", true),
    U("plain ascii", true),
    U("\xc2\x80", true),                 /* U+0080 */
    U("\xdf\xbf", true),                 /* U+07FF */
    U("\xe0\xa0\x80", true),             /* U+0800 */
    U("\xef\xbf\xbf", true),             /* U+FFFF */
    U("\xed\x9f\xbf", true),             /* U+D7FF */
    U("\xee\x80\x80", true),             /* U+E000 */
    U("\xf0\x90\x80\x80", true),         /* U+10000 */
    U("\xf4\x8f\xbf\xbf", true),         /* U+10FFFF */
    U("\xc0\x80", false),                /* overlong NUL */
    U("\xc1\xbf", false),                /* overlong */
    U("\xe0\x80\xaf", false),            /* overlong '/' */
    U("\xe0\x9f\xbf", false),            /* overlong U+07FF */
    U("\xf0\x80\x80\xaf", false),        /* overlong */
    U("\xf0\x8f\xbf\xbf", false),        /* overlong U+FFFF */
    U("\xed\xa0\x80", false),            /* U+D800 */
    U("\xed\xbf\xbf", false),            /* U+DFFF */
    U("\xf4\x90\x80\x80", false),        /* U+110000 */
    U("\xf5\x80\x80\x80", false),
    U("\xf8\x88\x80\x80\x80", false),
    U("\xff", false),
    U("\x80", false),                    /* lone continuation */
    U("a\xbf", false),
    U("\xc3", false),                    /* truncated */
    U("\xe2\x82", false),
    U("\xf0\x9f\x98", false),
    U("\xc3(", false),                   /* bad continuation */
    U("\xe2(\xa1", false),
    U("\xe2\x82\xac\xe2\x82", false),    /* valid then truncated */
};

static void
test_utf8_valid(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        print_message("utf8 case %zu\n", i);
        assert_int_equal(ph_utf8_valid(utf8_cases[i].s, utf8_cases[i].len),
                         utf8_cases[i].ok);
    }
    /* length is honoured: the truncated sequence is outside it */
    assert_true(ph_utf8_valid("ab\xc3", 2));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_table),
        cmocka_unit_test(test_path_too_many_params),
        cmocka_unit_test(test_path_limits),
        cmocka_unit_test(test_path_source_route_length),
        cmocka_unit_test(test_path_spans_point_into_input),
        cmocka_unit_test(test_path_nul),
        cmocka_unit_test(test_utf8_valid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
