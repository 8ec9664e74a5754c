/*
 * test_sasl.c -- src/auth/sasl.c: strict base64 both ways (RFC 4648
 * vectors, padding, alphabet, whitespace, canonical bits, caps, every
 * byte value), the PLAIN message (RFC 4616: NUL count, empty and
 * over-long fields, buffer sizes, wiping on error), one LOGIN step, and
 * the "=" and "*" lines. Messages are built raw and encoded here, so a
 * case reads as the bytes the client meant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/sasl.h"

#define S(lit) lit, sizeof(lit) - 1
#define R(lit) .raw = lit, .raw_len = sizeof(lit) - 1

/* An independent encoder for 1..3 bytes, so the decoder is not only ever
   checked against our own ph_base64_encode(). */
static void
ref_encode_quad(const unsigned char *in, size_t n, char enc[5])
{
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t w = (uint32_t)in[0] << 16 | (n > 1 ? (uint32_t)in[1] << 8 : 0) |
                 (n > 2 ? in[2] : 0);

    enc[0] = alpha[(w >> 18) & 63];
    enc[1] = alpha[(w >> 12) & 63];
    enc[2] = n > 1 ? alpha[(w >> 6) & 63] : '=';
    enc[3] = n > 2 ? alpha[w & 63] : '=';
    enc[4] = '\0';
}

/* True if needle occurs anywhere in buf[0..len). */
static bool
contains(const char *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return true;
    return false;
}

/* ---- ph_base64_decode ------------------------------------------------- */

struct b64_case {
    const char *in;
    long        rc;
    const char *out;    /* rc bytes */
};

static const struct b64_case b64_cases[] = {
    /* RFC 4648 10. */
    { "", 0, "" },
    { "Zg==", 1, "f" },
    { "Zm8=", 2, "fo" },
    { "Zm9v", 3, "foo" },
    { "Zm9vYg==", 4, "foob" },
    { "Zm9vYmE=", 5, "fooba" },
    { "Zm9vYmFy", 6, "foobar" },
    { "YQ==", 1, "a" },
    { "YWI=", 2, "ab" },
    { "YWJj", 3, "abc" },
    { "YWJjZA==", 4, "abcd" },
    { "AGFsaWNlAHdvbmRlcmxhbmQ=", 17, "\0alice\0wonderland" },
    { "Ym9iAGFsaWNlAHdvbmRlcmxhbmQ=", 20, "bob\0alice\0wonderland" },
    { "+/+/", 3, "\xfb\xff\xbf" },
    { "AAAA", 3, "\0\0\0" },
    { "////", 3, "\xff\xff\xff" },
    /* Length not a multiple of 4, or padding missing. */
    { "Y", -1, NULL },
    { "YQ", -1, NULL },
    { "YQ=", -1, NULL },
    { "YWJjZA", -1, NULL },
    { "YWJjZA=", -1, NULL },
    { "YWJjZA===", -1, NULL },
    /* Padding in the wrong place or too much of it. */
    { "=", -1, NULL },
    { "==", -1, NULL },
    { "Y===", -1, NULL },
    { "====", -1, NULL },
    { "=YQ=", -1, NULL },
    { "Y=Q=", -1, NULL },
    { "YW=j", -1, NULL },
    { "YQ==YQ==", -1, NULL },
    { "YQ==YWJj", -1, NULL },
    /* RFC 4648 3.5: non-zero bits under the padding (not canonical). */
    { "YR==", -1, NULL },
    { "YW/=", -1, NULL },
    { "YWJ=", -1, NULL },
    { "Zh==", -1, NULL },
    /* Not in the alphabet. */
    { "YW!j", -1, NULL },
    { "YW-_", -1, NULL },           /* base64url is not base64 */
    { "YW.j", -1, NULL },
    { "\xc3\xa9YQ", -1, NULL },     /* 8-bit */
    /* Whitespace is never skipped. */
    { "YW j", -1, NULL },
    { " YWJ", -1, NULL },
    { "YWJj ", -1, NULL },
    { "YW\nj", -1, NULL },
    { "YW\tj", -1, NULL },
    { "YWJj\r\n", -1, NULL },
    { "YQ==\r\n", -1, NULL },
    { "YWJj    ", -1, NULL },       /* a multiple of 4, still bad */
};

static void
test_base64_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
        const struct b64_case *t = &b64_cases[i];
        char                   out[64];
        long                   rc;

        memset(out, 0x55, sizeof(out));
        rc = ph_base64_decode(t->in, strlen(t->in), out, sizeof(out));
        if (rc != t->rc)
            fail_msg("\"%s\": rc %ld, want %ld", t->in, rc, t->rc);
        if (rc > 0)
            assert_memory_equal(out, t->out, (size_t)rc);
    }
}

/* The length given is what counts: a NUL is just a bad character. */
static void
test_base64_embedded_nul(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(ph_base64_decode(S("YW\0j"), out, sizeof(out)), -1);
    assert_int_equal(ph_base64_decode(S("YWJj\0\0\0\0"), out, sizeof(out)),
                     -1);
    /* Only the first 4 of 8 bytes are looked at. */
    assert_int_equal(ph_base64_decode("YWJj!!!!", 4, out, sizeof(out)), 3);
}

/* The output never exceeds cap: exactly full is fine, one short fails and
   writes nothing. */
static void
test_base64_cap(void **state)
{
    char out[8];

    (void)state;
    memset(out, 0x55, sizeof(out));
    assert_int_equal(ph_base64_decode("YWJj", 4, out, 3), 3);
    assert_int_equal(out[3], 0x55);
    memset(out, 0x55, sizeof(out));
    assert_int_equal(ph_base64_decode("YWJj", 4, out, 2), -1);
    assert_int_equal(out[0], 0x55);
    assert_int_equal(ph_base64_decode("YWJjZA==", 8, out, 3), -1);
    assert_int_equal(ph_base64_decode("YWJjZA==", 8, out, 4), 4);
    assert_int_equal(ph_base64_decode("YQ==", 4, out, 0), -1);
    assert_int_equal(ph_base64_decode("", 0, out, 0), 0);
    assert_int_equal(ph_base64_decode("", 0, NULL, 0), 0);
}

/* Every 0..3-byte input (sampled) decodes from the reference encoding. */
static void
test_base64_decode_reference(void **state)
{
    unsigned char in[3];
    char          enc[5], out[4];

    (void)state;
    for (uint32_t v = 0; v < (1u << 24); v += 4099) {
        in[0] = (unsigned char)(v >> 16);
        in[1] = (unsigned char)(v >> 8);
        in[2] = (unsigned char)v;
        for (size_t n = 1; n <= 3; n++) {
            ref_encode_quad(in, n, enc);
            assert_int_equal(ph_base64_decode(enc, 4, out, sizeof(out)),
                             (long)n);
            assert_memory_equal(out, in, n);
        }
    }
}

/* ---- ph_base64_encode ------------------------------------------------- */

static void
test_base64_encode_vectors(void **state)
{
    static const char *const vec[][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" },
    };
    char out[16];

    (void)state;
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        size_t n = ph_base64_encode(vec[i][0], strlen(vec[i][0]), out,
                                    sizeof(out));
        assert_int_equal(n, strlen(vec[i][1]));
        assert_string_equal(out, vec[i][1]);
        assert_int_equal(n, PH_BASE64_LEN(strlen(vec[i][0])));
    }
}

/* cap counts the NUL: 4 characters need 5 bytes; too small gives "". */
static void
test_base64_encode_cap(void **state)
{
    char out[8];

    (void)state;
    assert_int_equal(ph_base64_encode("abc", 3, out, 5), 4);
    assert_string_equal(out, "YWJj");
    memset(out, 0x55, sizeof(out));
    assert_int_equal(ph_base64_encode("abc", 3, out, 4), 0);
    assert_int_equal(out[0], '\0');
    assert_int_equal(out[1], 0x55);
    memset(out, 0x55, sizeof(out));
    assert_int_equal(ph_base64_encode("abc", 3, out, 0), 0);
    assert_int_equal(out[0], 0x55);         /* cap 0: not touched */
    assert_int_equal(ph_base64_encode("", 0, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(ph_base64_encode("a", 1, out, 4), 0);
    assert_int_equal(ph_base64_encode("a", 1, out, 5), 4);
    assert_string_equal(out, "YQ==");
    /* A length whose encoding would overflow size_t is refused. */
    assert_int_equal(ph_base64_encode("a", SIZE_MAX, out, sizeof(out)), 0);
    assert_string_equal(out, "");
}

/* Every byte value at every position mod 3, every length 0..256: decode
   (encode(x)) == x, and the encoding matches the reference per quad. */
static void
test_base64_roundtrip_all_bytes(void **state)
{
    unsigned char in[258];
    char          enc[PH_BASE64_LEN(sizeof(in)) + 1], out[sizeof(in)];

    (void)state;
    for (size_t shift = 0; shift < 3; shift++) {
        for (size_t i = 0; i < sizeof(in); i++)
            in[i] = (unsigned char)(i + shift * 85);
        for (size_t len = 0; len <= sizeof(in); len++) {
            size_t n = ph_base64_encode(in, len, enc, sizeof(enc));

            assert_int_equal(n, PH_BASE64_LEN(len));
            assert_int_equal(enc[n], '\0');
            assert_int_equal(ph_base64_decode(enc, n, out, sizeof(out)),
                             (long)len);
            assert_memory_equal(out, in, len);
            for (size_t q = 0; q < len; q += 3) {
                char ref[5];

                ref_encode_quad(in + q, len - q < 3 ? len - q : 3, ref);
                assert_memory_equal(enc + q / 3 * 4, ref, 4);
            }
        }
    }
}

/* ---- "=" and "*" ------------------------------------------------------ */

static void
test_empty_and_cancel(void **state)
{
    char                 buf[PH_SASL_PLAIN_BUF];
    struct ph_sasl_plain m;

    (void)state;
    assert_true(ph_sasl_is_empty_response(S("=")));
    assert_false(ph_sasl_is_empty_response(S("==")));
    assert_false(ph_sasl_is_empty_response(S("")));
    assert_false(ph_sasl_is_empty_response(S("*")));
    assert_false(ph_sasl_is_empty_response(S("= ")));
    assert_true(ph_sasl_is_empty_response("=x", 1));   /* len counts */
    assert_true(ph_sasl_is_cancel(S("*")));
    assert_false(ph_sasl_is_cancel(S("**")));
    assert_false(ph_sasl_is_cancel(S("")));
    assert_false(ph_sasl_is_cancel(S("* ")));
    assert_false(ph_sasl_is_cancel(S("=")));
    /* "=" is not base64; the caller maps it to empty, and an empty PLAIN
       message is malformed. */
    assert_int_equal(ph_base64_decode(S("="), buf, sizeof(buf)), -1);
    assert_int_equal(ph_sasl_plain_decode(S("="), buf, sizeof(buf), &m),
                     PH_SASL_BAD_BASE64);
    assert_int_equal(ph_sasl_plain_decode(S(""), buf, sizeof(buf), &m),
                     PH_SASL_BAD_MESSAGE);
    assert_int_equal(ph_sasl_login_decode(S("="), buf, sizeof(buf)),
                     PH_SASL_BAD_BASE64);
    assert_int_equal(ph_sasl_login_decode(S(""), buf, sizeof(buf)),
                     PH_SASL_BAD_MESSAGE);
}

/* ---- PLAIN ------------------------------------------------------------ */

struct plain_case {
    const char         *raw;        /* the message before base64 */
    size_t              raw_len;
    enum ph_sasl_status st;
    const char         *authzid, *authcid, *passwd;
};

#define BAD .st = PH_SASL_BAD_MESSAGE

static const struct plain_case plain_cases[] = {
    { R("\0alice\0wonderland"), .st = PH_SASL_OK,
      .authzid = "", .authcid = "alice", .passwd = "wonderland" },
    { R("bob\0alice\0wonderland"), .st = PH_SASL_OK,
      .authzid = "bob", .authcid = "alice", .passwd = "wonderland" },
    { R("\0a\0b"), .st = PH_SASL_OK,
      .authzid = "", .authcid = "a", .passwd = "b" },
    { R("\0alice\0pass word "), .st = PH_SASL_OK,
      .authzid = "", .authcid = "alice", .passwd = "pass word " },
    { R("\0j\xc3\xb6rg\0p\xc3\xa4ss"), .st = PH_SASL_OK,
      .authzid = "", .authcid = "j\xc3\xb6rg", .passwd = "p\xc3\xa4ss" },
    { R("\0\xff\0\x01"), .st = PH_SASL_OK,
      .authzid = "", .authcid = "\xff", .passwd = "\x01" },
    /* NUL count. */
    { R(""), BAD },
    { R("abc"), BAD },
    { R("alice\0wonderland"), BAD },               /* one NUL */
    { R("\0alice"), BAD },
    { R("\0a\0b\0c"), BAD },                        /* three */
    { R("z\0alice\0won\0derland"), BAD },           /* in the password */
    { R("\0alice\0wonderland\0"), BAD },            /* at the end */
    { R("\0\0\0"), BAD },
    /* Empty authcid or passwd (RFC 4616 2: 1*SAFE). */
    { R("\0\0wonderland"), BAD },
    { R("bob\0\0wonderland"), BAD },
    { R("\0alice\0"), BAD },
    { R("\0\0"), BAD },
};


/* Decodes the base64 of raw; checks the status and the fields. */
static void
check_plain(const struct plain_case *t, size_t idx)
{
    char                 enc[2048], buf[PH_SASL_PLAIN_BUF];
    struct ph_sasl_plain m;
    enum ph_sasl_status  st;
    size_t               n;

    n = ph_base64_encode(t->raw, t->raw_len, enc, sizeof(enc));
    assert_true(n > 0 || t->raw_len == 0);
    memset(buf, 0x55, sizeof(buf));
    st = ph_sasl_plain_decode(enc, n, buf, sizeof(buf), &m);
    if (st != t->st)
        fail_msg("case %zu: status %d, want %d", idx, st, t->st);
    if (st != PH_SASL_OK) {
        assert_null(m.authzid);
        assert_null(m.authcid);
        assert_null(m.passwd);
        return;
    }
    assert_string_equal(m.authzid, t->authzid);
    assert_string_equal(m.authcid, t->authcid);
    assert_string_equal(m.passwd, t->passwd);
    assert_true(m.authzid == buf);      /* pointers into buf */
    assert_true(m.passwd + strlen(m.passwd) < buf + sizeof(buf));
}

static void
test_plain_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++)
        check_plain(&plain_cases[i], i);
}

/* Builds authzid NUL authcid NUL passwd with fields of the given sizes
   ('z', 'c', 'p'), encodes it into enc; returns the encoded length. */
static size_t
plain_of_sizes(size_t zl, size_t cl, size_t pl, char *enc, size_t cap)
{
    char   raw[4096];
    size_t o = 0;

    assert_true(zl + cl + pl + 2 <= sizeof(raw));
    memset(raw + o, 'z', zl);
    o += zl;
    raw[o++] = '\0';
    memset(raw + o, 'c', cl);
    o += cl;
    raw[o++] = '\0';
    memset(raw + o, 'p', pl);
    o += pl;
    return ph_base64_encode(raw, o, enc, cap);
}

/* Each field at most 255 octets (RFC 4616 2); all three at 255 fit
   PH_SASL_PLAIN_BUF exactly. */
static void
test_plain_field_limits(void **state)
{
    static const struct { size_t z, c, p; enum ph_sasl_status st; } v[] = {
        { 255, 1, 1, PH_SASL_OK },
        { 256, 1, 1, PH_SASL_BAD_MESSAGE },
        { 0, 255, 1, PH_SASL_OK },
        { 0, 256, 1, PH_SASL_BAD_MESSAGE },
        { 0, 1, 255, PH_SASL_OK },
        { 0, 1, 256, PH_SASL_BAD_MESSAGE },
        { 255, 255, 255, PH_SASL_OK },
        { 255, 255, 256, PH_SASL_BAD_MESSAGE },
        { 0, 1, 1000, PH_SASL_BAD_MESSAGE },    /* bigger than the buffer */
    };
    char                 enc[4096], buf[PH_SASL_PLAIN_BUF], big[2048];
    struct ph_sasl_plain m;

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = plain_of_sizes(v[i].z, v[i].c, v[i].p, enc, sizeof(enc));

        assert_int_equal(ph_sasl_plain_decode(enc, n, buf, sizeof(buf), &m),
                         v[i].st);
        /* A bigger buffer does not lift the field limit. */
        assert_int_equal(ph_sasl_plain_decode(enc, n, big, sizeof(big), &m),
                         v[i].st);
        if (v[i].st == PH_SASL_OK) {
            assert_int_equal(strlen(m.authzid), v[i].z);
            assert_int_equal(strlen(m.authcid), v[i].c);
            assert_int_equal(strlen(m.passwd), v[i].p);
        }
    }
}

/* cap includes the terminator: a message of n bytes needs n + 1. */
static void
test_plain_cap(void **state)
{
    char                 enc[64], buf[32];
    struct ph_sasl_plain m;
    size_t               n = ph_base64_encode(S("\0alice\0secret"), enc,
                                              sizeof(enc));

    (void)state;
    assert_int_equal(ph_sasl_plain_decode(enc, n, buf, 14, &m), PH_SASL_OK);
    assert_string_equal(m.passwd, "secret");
    assert_int_equal(ph_sasl_plain_decode(enc, n, buf, 13, &m),
                     PH_SASL_BAD_MESSAGE);
    assert_null(m.passwd);
    assert_int_equal(ph_sasl_plain_decode(enc, n, buf, 0, &m),
                     PH_SASL_BAD_MESSAGE);
    /* Bad base64 is reported as such even when it would not fit. */
    assert_int_equal(ph_sasl_plain_decode(S("!!!!!!!!"), buf, 2, &m),
                     PH_SASL_BAD_BASE64);
}

/* Nothing of the secret is left in buf after any error. */
static void
test_plain_wipes_on_error(void **state)
{
    char                 enc[128], buf[PH_SASL_PLAIN_BUF];
    struct ph_sasl_plain m;
    size_t               n;

    (void)state;
    /* Malformed after decoding: a third NUL. */
    n = ph_base64_encode(S("\0alice\0s3cr3tpw\0x"), enc, sizeof(enc));
    assert_int_equal(ph_sasl_plain_decode(enc, n, buf, sizeof(buf), &m),
                     PH_SASL_BAD_MESSAGE);
    assert_false(contains(buf, sizeof(buf), "s3cr3tpw"));
    assert_false(contains(buf, sizeof(buf), "alice"));
    /* Bad base64 after good quads that decoded the password already. */
    n = ph_base64_encode(S("\0alice\0s3cr3tpw1"), enc, sizeof(enc));
    assert_int_equal(n, 24);
    memcpy(enc + n, "!!!!", 5);
    assert_int_equal(ph_sasl_plain_decode(enc, n + 4, buf, sizeof(buf), &m),
                     PH_SASL_BAD_BASE64);
    assert_false(contains(buf, sizeof(buf), "s3cr3t"));
    assert_false(contains(buf, sizeof(buf), "alice"));
    /* Empty authcid. */
    n = ph_base64_encode(S("zid\0\0s3cr3tpw"), enc, sizeof(enc));
    assert_int_equal(ph_sasl_plain_decode(enc, n, buf, sizeof(buf), &m),
                     PH_SASL_BAD_MESSAGE);
    assert_false(contains(buf, sizeof(buf), "s3cr3t"));
}

/* ---- LOGIN ------------------------------------------------------------ */

struct login_case {
    const char         *raw;
    size_t              raw_len;
    enum ph_sasl_status st;
};

static const struct login_case login_cases[] = {
    { R("alice"), .st = PH_SASL_OK },
    { R("alice@example.org"), .st = PH_SASL_OK },
    { R("pass word"), .st = PH_SASL_OK },
    { R("p\xc3\xa4ss"), .st = PH_SASL_OK },
    { R("x"), .st = PH_SASL_OK },
    { R(""), BAD },
    { R("\0"), BAD },
    { R("a\0b"), BAD },
    { R("alice\0"), BAD },
    { R("\0alice"), BAD },
};

static void
test_login_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(login_cases) / sizeof(login_cases[0]);
         i++) {
        const struct login_case *t = &login_cases[i];
        char                     enc[64], out[PH_SASL_LOGIN_BUF];
        size_t n = ph_base64_encode(t->raw, t->raw_len, enc, sizeof(enc));
        enum ph_sasl_status st = ph_sasl_login_decode(enc, n, out,
                                                      sizeof(out));

        if (st != t->st)
            fail_msg("case %zu: status %d, want %d", i, st, t->st);
        if (st == PH_SASL_OK)
            assert_string_equal(out, t->raw);
        else
            assert_string_equal(out, "");
    }
}

static void
test_login_limits(void **state)
{
    char raw[300], enc[512], out[PH_SASL_LOGIN_BUF], big[512];
    size_t n;

    (void)state;
    memset(raw, 'a', sizeof(raw));
    n = ph_base64_encode(raw, 255, enc, sizeof(enc));
    assert_int_equal(ph_sasl_login_decode(enc, n, out, sizeof(out)),
                     PH_SASL_OK);
    assert_int_equal(strlen(out), 255);
    n = ph_base64_encode(raw, 256, enc, sizeof(enc));
    assert_int_equal(ph_sasl_login_decode(enc, n, out, sizeof(out)),
                     PH_SASL_BAD_MESSAGE);
    assert_int_equal(ph_sasl_login_decode(enc, n, big, sizeof(big)),
                     PH_SASL_BAD_MESSAGE);
    /* cap counts the NUL. */
    assert_int_equal(ph_sasl_login_decode(S("YWxpY2U="), out, 6),
                     PH_SASL_OK);
    assert_string_equal(out, "alice");
    assert_int_equal(ph_sasl_login_decode(S("YWxpY2U="), out, 5),
                     PH_SASL_BAD_MESSAGE);
    assert_int_equal(ph_sasl_login_decode(S("YWxpY2U="), out, 0),
                     PH_SASL_BAD_MESSAGE);
    /* Bad base64, and the decoded start is wiped. */
    assert_int_equal(ph_sasl_login_decode(S("YWxpY2U"), out, sizeof(out)),
                     PH_SASL_BAD_BASE64);
    assert_int_equal(ph_sasl_login_decode(S("YWxpY2Vz!!!!"), out,
                                          sizeof(out)),
                     PH_SASL_BAD_BASE64);
    assert_false(contains(out, sizeof(out), "alice"));
    assert_int_equal(ph_sasl_login_decode(S("YWxp Y2U="), out, sizeof(out)),
                     PH_SASL_BAD_BASE64);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_table),
        cmocka_unit_test(test_base64_embedded_nul),
        cmocka_unit_test(test_base64_cap),
        cmocka_unit_test(test_base64_decode_reference),
        cmocka_unit_test(test_base64_encode_vectors),
        cmocka_unit_test(test_base64_encode_cap),
        cmocka_unit_test(test_base64_roundtrip_all_bytes),
        cmocka_unit_test(test_empty_and_cancel),
        cmocka_unit_test(test_plain_table),
        cmocka_unit_test(test_plain_field_limits),
        cmocka_unit_test(test_plain_cap),
        cmocka_unit_test(test_plain_wipes_on_error),
        cmocka_unit_test(test_login_table),
        cmocka_unit_test(test_login_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
