/*
 * test_passwd.c -- the passwd-file users (src/auth/passwd.c) through
 * auth.h: every scheme, comments and line ends, load errors with their
 * exact "FILE:LINE: reason", lookups (bare, ambiguous, case), the domain
 * list and the make_line round trip. Hashes are made here with libxcrypt.
 * Each test writes its files into its own mkdtemp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <crypt.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posthorn/posthorn.h"

/* In every error-case line, so a test can see it never reaches err. */
#define SECRET "s3cr3t"

struct fx {
    char dir[PATH_MAX];
    char path[PATH_MAX]; /* the last file written */
    char err[256];
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/ph-passwd-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx     *f = *state;
    struct dirent *de;
    DIR           *dir = opendir(f->dir);

    while (dir != NULL && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            unlinkat(dirfd(dir), de->d_name, 0);
    }
    if (dir != NULL)
        closedir(dir);
    rmdir(f->dir);
    free(f);
    return 0;
}

static const char *
write_bytes(struct fx *f, const char *name, const char *data, size_t len)
{
    FILE *fp;
    int   ret = snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);

    assert_true(ret > 0 && (size_t)ret < sizeof(f->path));
    fp = fopen(f->path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

static ph_passwd *
load_text(struct fx *f, const char *text)
{
    ph_passwd *pw;

    write_bytes(f, "users", text, strlen(text));
    pw = ph_passwd_load(f->path, f->err, sizeof(f->err));
    if (pw == NULL)
        fail_msg("load failed: %s", f->err);
    return pw;
}

/* A hash of password with a fresh salt for prefix ("$6$", "$y$", ...). */
static void
make_hash(const char *prefix, const char *password, char *out, size_t cap)
{
    char               salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    const char        *h;

    assert_non_null(cd);
    assert_non_null(
        crypt_gensalt_rn(prefix, 0, NULL, 0, salt, (int)sizeof(salt)));
    h = crypt_rn(password, salt, cd, (int)sizeof(*cd));
    assert_non_null(h);
    assert_true(strlen(h) < cap);
    strcpy(out, h);
    free(cd);
}

/* err must be exactly "PATH:LINE: reason" for the last file written. */
static void
assert_err(const struct fx *f, int line, const char *reason)
{
    char want[PATH_MAX + 256];
    int  ret = snprintf(want, sizeof(want), "%s:%d: %s", f->path, line, reason);

    assert_true(ret > 0 && (size_t)ret < sizeof(want));
    assert_string_equal(f->err, want);
}

static void
test_schemes(void **state)
{
    static const struct {
        const char *scheme, *prefix;
    } cases[] = {
        { "SHA512-CRYPT", "$6$" },
        { "sha256-crypt", "$5$" }, /* scheme names ignore case */
        { "BLF-CRYPT", "$2b$" },
        { "CRYPT", "$y$" }, /* yescrypt: only as {CRYPT} */
        { "Crypt", "$6$" },
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char       hash[CRYPT_OUTPUT_SIZE], text[512];
        ph_passwd *pw;

        make_hash(cases[i].prefix, "right pw", hash, sizeof(hash));
        snprintf(text, sizeof(text), "u@d:{%s}%s\n", cases[i].scheme, hash);
        pw = load_text(f, text);
        assert_true(ph_passwd_verify(pw, "u@d", "right pw"));
        assert_false(ph_passwd_verify(pw, "u@d", "wrong pw"));
        assert_false(ph_passwd_verify(pw, "u@d", ""));
        assert_false(ph_passwd_verify(pw, "u@d", NULL));
        ph_passwd_free(pw);
    }
}

/* Every way two strings can differ, through the constant-time compare. */
static void
test_plain(void **state)
{
    struct fx *f = *state;
    ph_passwd *pw = load_text(f, "u@d:{PLAIN}secret\nv@d:{plain}a:b\n");

    assert_true(ph_passwd_verify(pw, "u@d", "secret"));
    assert_false(ph_passwd_verify(pw, "u@d", "Secret"));  /* first byte */
    assert_false(ph_passwd_verify(pw, "u@d", "secreT"));  /* last byte */
    assert_false(ph_passwd_verify(pw, "u@d", "secre"));   /* prefix */
    assert_false(ph_passwd_verify(pw, "u@d", "secrets")); /* longer */
    assert_false(ph_passwd_verify(pw, "u@d", ""));
    /* A ':' ends the field: "a:b" is the secret "a" and an ignored uid. */
    assert_true(ph_passwd_verify(pw, "v@d", "a"));
    assert_false(ph_passwd_verify(pw, "v@d", "a:b"));
    ph_passwd_free(pw);
}

static void
test_bare_crypt(void **state)
{
    struct fx *f = *state;
    char       hash[CRYPT_OUTPUT_SIZE], text[512];
    ph_passwd *pw;

    make_hash("$6$", "pw6", hash, sizeof(hash));
    snprintf(text, sizeof(text), "six@d:%s\n", hash);
    make_hash("$y$", "pwy", hash, sizeof(hash));
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "yes@d:%s\n",
             hash);
    pw = load_text(f, text);
    assert_int_equal(ph_passwd_count(pw), 2);
    assert_true(ph_passwd_verify(pw, "six@d", "pw6"));
    assert_false(ph_passwd_verify(pw, "six@d", "pwy"));
    assert_true(ph_passwd_verify(pw, "yes@d", "pwy"));
    assert_false(ph_passwd_verify(pw, "yes@d", "pw6"));
    ph_passwd_free(pw);
}

static void
test_comments_blank_crlf(void **state)
{
    struct fx *f = *state;
    ph_passwd *pw = load_text(f, "# users\r\n"
                                 "\r\n"
                                 "\n"
                                 "  \t\n"
                                 "  # indented comment\n"
                                 "u@d:{PLAIN}x\r\n"
                                 "#v@d:{PLAIN}commented out\n"
                                 "w@d:{PLAIN}y"); /* no final newline */

    assert_int_equal(ph_passwd_count(pw), 2);
    assert_true(ph_passwd_verify(pw, "u@d", "x")); /* not "x\r" */
    assert_false(ph_passwd_verify(pw, "u@d", "x\r"));
    assert_true(ph_passwd_verify(pw, "w@d", "y"));
    assert_null(ph_passwd_lookup(pw, "v@d"));
    assert_null(ph_passwd_lookup(pw, "#v@d"));
    ph_passwd_free(pw);
}

static void
test_extra_fields(void **state)
{
    struct fx *f = *state;
    char       hash[CRYPT_OUTPUT_SIZE], text[512];
    ph_passwd *pw;

    make_hash("$6$", "pw", hash, sizeof(hash));
    snprintf(text, sizeof(text),
             "u@d:{PLAIN}pw:1000:1000:Some User:/home/u:/bin/sh:"
             "userdb_quota_rule=*:storage=1G\r\n"
             "h@d:%s:::::\n"
             "e@d:{PLAIN}x:\n",
             hash);
    pw = load_text(f, text);
    assert_int_equal(ph_passwd_count(pw), 3);
    assert_true(ph_passwd_verify(pw, "u@d", "pw"));
    assert_false(ph_passwd_verify(pw, "u@d", "pw:1000"));
    assert_true(ph_passwd_verify(pw, "h@d", "pw"));
    assert_true(ph_passwd_verify(pw, "e@d", "x"));
    ph_passwd_free(pw);
}

static void
test_errors(void **state)
{
    static const struct {
        const char *text;
        int         line;
        const char *reason;
    } cases[] = {
        { "# c\nnoat:{PLAIN}" SECRET "\n", 2, "user name has no '@'" },
        { "@d:{PLAIN}" SECRET "\n", 1, "empty local part in user name" },
        { "u@:{PLAIN}" SECRET "\n", 1, "empty domain in user name" },
        { "a@b@c:{PLAIN}" SECRET, 1, "user name has more than one '@'" },
        { "a b@c:{PLAIN}" SECRET, 1,
          "space or control character in user name" },
        { "u@d:{PLAIN}x\n\nv@d:{MD5}" SECRET "\n", 3,
          "unknown password scheme" },
        { "u@d:{" SECRET "\n", 1, "'{' without '}' in password field" },
        { "u@d{PLAIN}" SECRET "\n", 1, "missing ':' after user name" },
        { "u@d:{PLAIN}\n", 1, "empty password" },
        { "u@d:{PLAIN}:" SECRET "\n", 1, "empty password" },
        { "u@d:" SECRET "\n", 1,
          "password has no {SCHEME} and is not a crypt(3) hash" },
        { "u@d:{SHA512-CRYPT}$5$" SECRET "$x\n", 1,
          "hash does not match its {SCHEME}" },
        { "u@d:{BLF-CRYPT}$6$" SECRET "$x\n", 1,
          "hash does not match its {SCHEME}" },
        { "u@d:{CRYPT}!" SECRET "\n", 1, "not a hash that crypt(3) supports" },
        { "u@d:$zz$" SECRET "$x\n", 1, "not a hash that crypt(3) supports" },
        { "a@d:{PLAIN}x\nb@d:{PLAIN}y\r\nA@D:{PLAIN}" SECRET "\n", 3,
          "duplicate user A@d (first on line 1)" },
        { "b@x:{PLAIN}1\na@x:{PLAIN}2\nB@x:{PLAIN}3\nA@X:{PLAIN}4\n", 3,
          "duplicate user B@x (first on line 1)" },
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_bytes(f, "users", cases[i].text, strlen(cases[i].text));
        assert_null(ph_passwd_load(f->path, f->err, sizeof(f->err)));
        assert_err(f, cases[i].line, cases[i].reason);
        assert_null(strstr(f->err, SECRET));
        /* err is optional. */
        assert_null(ph_passwd_load(f->path, NULL, 0));
    }
}

static void
test_nul_byte(void **state)
{
    static const char text[] = "u@d:{PLAIN}x\nv@d:{PLAIN}a\0b\n";
    struct fx        *f = *state;

    write_bytes(f, "users", text, sizeof(text) - 1);
    assert_null(ph_passwd_load(f->path, f->err, sizeof(f->err)));
    assert_err(f, 2, "NUL byte in line");
}

static void
test_missing_file(void **state)
{
    struct fx *f = *state;
    char       path[PATH_MAX + 16], want[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/no-such-file", f->dir);
    assert_null(ph_passwd_load(path, f->err, sizeof(f->err)));
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(f->err, want);
    /* A short err buffer gets a truncated, terminated message. */
    assert_null(ph_passwd_load(path, f->err, 5));
    assert_int_equal(strlen(f->err), 4);
}

static void
test_empty_file(void **state)
{
    struct fx *f = *state;
    ph_passwd *pw = load_text(f, "");

    assert_int_equal(ph_passwd_count(pw), 0);
    assert_int_equal(ph_passwd_domain_count(pw), 0);
    assert_null(ph_passwd_domain(pw, 0));
    assert_null(ph_passwd_lookup(pw, "u@d"));
    assert_null(ph_passwd_lookup(pw, "u"));
    assert_false(ph_passwd_verify(pw, "u@d", "x"));
    assert_false(ph_passwd_has(pw, "u", "d"));
    ph_passwd_free(pw);
}

static void
test_lookup_bare(void **state)
{
    struct fx *f = *state;
    ph_passwd *pw = load_text(f, "alice@a:{PLAIN}pa\n"
                                 "alice@b:{PLAIN}pb\n"
                                 "bob@a:{PLAIN}pbob\n");

    assert_null(ph_passwd_lookup(pw, "alice")); /* ambiguous */
    assert_string_equal(ph_passwd_lookup(pw, "bob"), "bob@a");
    assert_string_equal(ph_passwd_lookup(pw, "alice@a"), "alice@a");
    assert_string_equal(ph_passwd_lookup(pw, "alice@b"), "alice@b");
    assert_null(ph_passwd_lookup(pw, "carol"));
    assert_null(ph_passwd_lookup(pw, "alice@c"));
    assert_null(ph_passwd_lookup(pw, "alice@a@b"));
    assert_null(ph_passwd_lookup(pw, "@a"));
    assert_null(ph_passwd_lookup(pw, "alice@"));
    assert_null(ph_passwd_lookup(pw, ""));
    assert_null(ph_passwd_lookup(pw, "ali"));
    assert_null(ph_passwd_lookup(pw, NULL));
    /* Ambiguous means no login, even with a right password. */
    assert_false(ph_passwd_verify(pw, "alice", "pa"));
    assert_false(ph_passwd_verify(pw, "alice", "pb"));
    assert_true(ph_passwd_verify(pw, "alice@b", "pb"));
    assert_false(ph_passwd_verify(pw, "alice@b", "pa"));
    assert_true(ph_passwd_verify(pw, "bob", "pbob"));
    assert_false(ph_passwd_verify(pw, "nobody", "pa"));
    assert_false(ph_passwd_verify(pw, NULL, "pa"));
    ph_passwd_free(pw);
}

static void
test_domain_case(void **state)
{
    struct fx *f = *state;
    ph_passwd *pw = load_text(f, "u@Example.COM:{PLAIN}pw\n");

    assert_string_equal(ph_passwd_lookup(pw, "u@example.com"), "u@example.com");
    assert_string_equal(ph_passwd_lookup(pw, "u@EXAMPLE.com"), "u@example.com");
    assert_string_equal(ph_passwd_lookup(pw, "u"), "u@example.com");
    assert_string_equal(ph_passwd_domain(pw, 0), "example.com");
    assert_true(ph_passwd_has(pw, "u", "EXAMPLE.COM"));
    assert_true(ph_passwd_has(pw, "u", "example.com"));
    assert_false(ph_passwd_has(pw, "u", "example.co"));
    assert_false(ph_passwd_has(pw, "u", "example.comm"));
    assert_true(ph_passwd_verify(pw, "u@eXample.Com", "pw"));
    ph_passwd_free(pw);
}

/* Documented: the local part is kept as written, matched without case. */
static void
test_local_case(void **state)
{
    struct fx *f = *state;
    ph_passwd *pw = load_text(f, "Alice@x:{PLAIN}pw\nbob@x:{PLAIN}pb\n");

    assert_string_equal(ph_passwd_lookup(pw, "alice@x"), "Alice@x");
    assert_string_equal(ph_passwd_lookup(pw, "ALICE@X"), "Alice@x");
    assert_string_equal(ph_passwd_lookup(pw, "aLiCe"), "Alice@x");
    assert_string_equal(ph_passwd_lookup(pw, "BOB"), "bob@x");
    assert_true(ph_passwd_has(pw, "ALICE", "x"));
    assert_true(ph_passwd_has(pw, "alice", "X"));
    assert_false(ph_passwd_has(pw, "alic", "x"));
    assert_false(ph_passwd_has(pw, "alice@x", "x"));
    assert_true(ph_passwd_verify(pw, "aLiCe@X", "pw"));
    assert_false(ph_passwd_verify(pw, "aLiCe@X", "PW")); /* not the secret */
    ph_passwd_free(pw);
}

static void
test_domains_order(void **state)
{
    struct fx *f = *state;
    ph_passwd *pw = load_text(f, "z@c.org:{PLAIN}1\n"
                                 "y@a.net:{PLAIN}2\n"
                                 "x@C.org:{PLAIN}3\n"
                                 "# comment\n"
                                 "w@B.com:{PLAIN}4\n"
                                 "v@a.net:{PLAIN}5\n"
                                 "u@b.COM:{PLAIN}6\n");

    assert_int_equal(ph_passwd_count(pw), 6);
    assert_int_equal(ph_passwd_domain_count(pw), 3);
    assert_string_equal(ph_passwd_domain(pw, 0), "c.org");
    assert_string_equal(ph_passwd_domain(pw, 1), "a.net");
    assert_string_equal(ph_passwd_domain(pw, 2), "b.com");
    assert_null(ph_passwd_domain(pw, 3));
    assert_true(ph_passwd_has(pw, "x", "c.org"));
    assert_true(ph_passwd_has(pw, "u", "b.com"));
    assert_false(ph_passwd_has(pw, "u", "a.net"));
    ph_passwd_free(pw);
}

/* Enough users that the sorted lookups have something to search. */
static void
test_many_users(void **state)
{
    struct fx *f = *state;
    char      *text = malloc(200 * 40), user[32], pass[32];
    size_t     len = 0;
    ph_passwd *pw;

    assert_non_null(text);
    for (int i = 0; i < 200; i++)
        len += (size_t)snprintf(text + len, 200 * 40 - len,
                                "user%d@dom%d.test:{PLAIN}pw%d\n", i, i % 7, i);
    pw = load_text(f, text);
    free(text);
    assert_int_equal(ph_passwd_count(pw), 200);
    assert_int_equal(ph_passwd_domain_count(pw), 7);
    for (int i = 0; i < 200; i++) {
        snprintf(user, sizeof(user), "USER%d@dom%d.TEST", i, i % 7);
        snprintf(pass, sizeof(pass), "pw%d", i);
        assert_true(ph_passwd_verify(pw, user, pass));
        snprintf(user, sizeof(user), "user%d", i);
        assert_non_null(ph_passwd_lookup(pw, user));
    }
    assert_string_equal(ph_passwd_domain(pw, 6), "dom6.test");
    ph_passwd_free(pw);
}

/* Unknown users are refused (and cost a dummy check, not asserted). */
static void
test_unknown_user(void **state)
{
    struct fx *f = *state;
    char       hash[CRYPT_OUTPUT_SIZE], text[512];
    ph_passwd *pw;

    make_hash("$2b$", "pw", hash, sizeof(hash));
    snprintf(text, sizeof(text), "p@d:{PLAIN}plain\nh@d:%s\n", hash);
    pw = load_text(f, text);
    assert_false(ph_passwd_verify(pw, "nobody@d", "pw"));
    assert_false(ph_passwd_verify(pw, "nobody", "plain"));
    assert_false(ph_passwd_verify(pw, "h@e", "pw"));
    assert_true(ph_passwd_verify(pw, "h", "pw"));
    ph_passwd_free(pw);

    assert_false(ph_passwd_verify(NULL, "u@d", "pw"));
    assert_null(ph_passwd_lookup(NULL, "u@d"));
    assert_false(ph_passwd_has(NULL, "u", "d"));
    assert_int_equal(ph_passwd_count(NULL), 0);
    assert_int_equal(ph_passwd_domain_count(NULL), 0);
    assert_null(ph_passwd_domain(NULL, 0));
    ph_passwd_free(NULL);
}

static void
test_make_line(void **state)
{
    struct fx  *f = *state;
    char        line[512], line2[512], text[520];
    const char *p;
    ph_passwd  *pw;

    assert_int_equal(
        ph_passwd_make_line("demo@localhost", "pass word", line, sizeof(line)),
        0);
    p = "demo@localhost:{SHA512-CRYPT}$6$";
    assert_memory_equal(line, p, strlen(p));
    p = line + strlen(p);
    assert_int_equal(strcspn(p, "$"), 16); /* 16 salt characters */
    assert_null(strchr(line, '\n'));
    /* A fresh salt each time. */
    assert_int_equal(ph_passwd_make_line("demo@localhost", "pass word", line2,
                                         sizeof(line2)),
                     0);
    assert_string_not_equal(line, line2);

    snprintf(text, sizeof(text), "%s\n", line);
    pw = load_text(f, text);
    assert_true(ph_passwd_verify(pw, "demo@localhost", "pass word"));
    assert_true(ph_passwd_verify(pw, "demo", "pass word"));
    assert_false(ph_passwd_verify(pw, "demo@localhost", "password"));
    ph_passwd_free(pw);
}

static void
test_make_line_errors(void **state)
{
    char line[512], small[40];

    (void)state;
    strcpy(small, "junk");
    assert_int_equal(
        ph_passwd_make_line("demo@localhost", "pw", small, sizeof(small)),
        PH_ELIMIT);
    assert_string_equal(small, "");
    /* Exactly the length needed, and one byte less. */
    assert_int_equal(ph_passwd_make_line("u@d", "pw", line, sizeof(line)), 0);
    assert_int_equal(ph_passwd_make_line("u@d", "pw", line, strlen(line) + 1),
                     0);
    assert_int_equal(ph_passwd_make_line("u@d", "pw", line, strlen(line)),
                     PH_ELIMIT);
    assert_int_equal(ph_passwd_make_line("nodomain", "pw", line, sizeof(line)),
                     PH_EINVAL);
    assert_int_equal(ph_passwd_make_line("a:b@c", "pw", line, sizeof(line)),
                     PH_EINVAL);
    assert_int_equal(ph_passwd_make_line("a@b\n", "pw", line, sizeof(line)),
                     PH_EINVAL);
    assert_int_equal(ph_passwd_make_line(NULL, "pw", line, sizeof(line)),
                     PH_EINVAL);
    assert_int_equal(ph_passwd_make_line("u@d", NULL, line, sizeof(line)),
                     PH_EINVAL);
    assert_int_equal(ph_passwd_make_line("u@d", "pw", NULL, 10), PH_EINVAL);
    assert_int_equal(ph_passwd_make_line("u@d", "pw", line, 0), PH_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schemes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bare_crypt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments_blank_crlf, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extra_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_bare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domains_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_make_line, setup, teardown),
        cmocka_unit_test(test_make_line_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
