/*
 * sasl.c -- strict base64 (RFC 4648 4, canonical per 3.5) and the SASL
 * responses a server decodes: PLAIN (RFC 4616) and one LOGIN step. Pure;
 * the only library call is OPENSSL_cleanse(), so that a decoded password
 * is wiped on every error path even when the compiler sees no later read.
 */
#include "auth/sasl.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

/* Internal results of b64_decode(): PLAIN tells a bad encoding (501) from
   a message that is merely too big for the buffer. */
#define B64_BAD     (-1)
#define B64_TOO_BIG (-2)

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;                  /* '=' too: the caller places padding */
}

/* Decodes one quad q[4] into 1..3 bytes at o (if not NULL); pad is how
   many of its last characters are '='. Returns the byte count, or
   B64_BAD. */
static int
b64_quad(const char *q, size_t pad, unsigned char *o)
{
    int      v[4] = { 0, 0, 0, 0 };
    uint32_t w;

    for (size_t k = 0; k < 4 - pad; k++)
        if ((v[k] = b64_value((unsigned char)q[k])) < 0)
            return B64_BAD;
    /* RFC 4648 3.5: the bits that pad out the last byte must be zero, or
       two encodings would decode alike (and the fuzzer's round trip, and
       any comparison of encoded values, would break). */
    if ((pad == 2 && (v[1] & 0x0f) != 0) || (pad == 1 && (v[2] & 0x03) != 0))
        return B64_BAD;
    w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
        (uint32_t)v[3];
    if (o != NULL) {
        o[0] = (unsigned char)(w >> 16);
        if (pad < 2)
            o[1] = (unsigned char)(w >> 8);
        if (pad < 1)
            o[2] = (unsigned char)w;
    }
    return (int)(3 - pad);
}

/*
 * The decoder behind the public calls. The output size is known from the
 * padding before anything is written, so a result that would not fit
 * writes nothing and is told apart from a bad encoding (B64_TOO_BIG comes
 * only when the whole input is valid).
 */
static long
b64_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t pad = 0, need, i, o = 0;
    bool   fits;

    if (len % 4 != 0)
        return B64_BAD;
    if (len == 0)
        return 0;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    need = len / 4 * 3 - pad;
    fits = need <= cap && need <= (size_t)LONG_MAX;
    for (i = 0; i < len; i += 4) {
        size_t qpad = i + 4 == len ? pad : 0;
        int    n = b64_quad(in + i, qpad,
                            fits ? (unsigned char *)out + o : NULL);

        if (n < 0)
            return B64_BAD;     /* includes '=' before the last quad */
        o += (size_t)n;
    }
    return fits ? (long)o : B64_TOO_BIG;
}

long
ph_base64_decode(const char *in, size_t len, char *out, size_t cap)
{
    long n = b64_decode(in, len, out, cap);

    return n < 0 ? -1 : n;
}

size_t
ph_base64_encode(const void *in, size_t len, char *out, size_t cap)
{
    const unsigned char *p = in;
    size_t               i, o = 0;

    /* The first test keeps PH_BASE64_LEN(len) from overflowing. */
    if (len > (SIZE_MAX - 4) / 4 * 3 || PH_BASE64_LEN(len) >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return 0;
    }
    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64_alphabet[w >> 18];
        out[o++] = b64_alphabet[(w >> 12) & 63];
        out[o++] = b64_alphabet[(w >> 6) & 63];
        out[o++] = b64_alphabet[w & 63];
    }
    if (i < len) {
        uint32_t w = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            w |= (uint32_t)p[i + 1] << 8;
        out[o++] = b64_alphabet[w >> 18];
        out[o++] = b64_alphabet[(w >> 12) & 63];
        out[o++] = i + 1 < len ? b64_alphabet[(w >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* Decodes into buf and terminates it: the common first step of PLAIN and
   LOGIN. On error nothing decoded is left in buf. */
static enum ph_sasl_status
sasl_decode_text(const char *b64, size_t len, char *buf, size_t cap,
                 size_t *len_out)
{
    long n;

    if (cap == 0)
        return PH_SASL_BAD_MESSAGE;
    n = b64_decode(b64, len, buf, cap - 1);
    if (n < 0) {
        /* A bad quad late in the input leaves the earlier ones decoded. */
        OPENSSL_cleanse(buf, cap);
        buf[0] = '\0';
        return n == B64_TOO_BIG ? PH_SASL_BAD_MESSAGE : PH_SASL_BAD_BASE64;
    }
    buf[n] = '\0';
    *len_out = (size_t)n;
    return PH_SASL_OK;
}

static bool
field_ok(size_t len)
{
    return len >= 1 && len <= PH_SASL_MAX_FIELD;
}

/* Splits msg[0..len) (terminated at len) at its NULs (RFC 4616 2). */
static enum ph_sasl_status
plain_split(char *msg, size_t len, struct ph_sasl_plain *out)
{
    char *end = msg + len;
    char *nul1, *nul2;

    if ((nul1 = memchr(msg, '\0', len)) == NULL)
        return PH_SASL_BAD_MESSAGE;
    if ((nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1))) == NULL)
        return PH_SASL_BAD_MESSAGE;
    /* A third NUL would make the password end early, silently. */
    if (memchr(nul2 + 1, '\0', (size_t)(end - nul2 - 1)) != NULL)
        return PH_SASL_BAD_MESSAGE;
    if ((size_t)(nul1 - msg) > PH_SASL_MAX_FIELD ||
        !field_ok((size_t)(nul2 - nul1 - 1)) ||
        !field_ok((size_t)(end - nul2 - 1)))
        return PH_SASL_BAD_MESSAGE;
    out->authzid = msg;         /* "" when absent: msg starts with NUL */
    out->authcid = nul1 + 1;
    out->passwd = nul2 + 1;
    return PH_SASL_OK;
}

enum ph_sasl_status
ph_sasl_plain_decode(const char *b64, size_t len, char *buf, size_t cap,
                     struct ph_sasl_plain *out)
{
    enum ph_sasl_status st;
    size_t              n;

    memset(out, 0, sizeof(*out));
    st = sasl_decode_text(b64, len, buf, cap, &n);
    if (st != PH_SASL_OK)
        return st;
    st = plain_split(buf, n, out);
    if (st != PH_SASL_OK) {
        OPENSSL_cleanse(buf, cap);
        memset(out, 0, sizeof(*out));
    }
    return st;
}

enum ph_sasl_status
ph_sasl_login_decode(const char *b64, size_t len, char *out, size_t cap)
{
    enum ph_sasl_status st;
    size_t              n;

    st = sasl_decode_text(b64, len, out, cap, &n);
    if (st != PH_SASL_OK)
        return st;
    /* A NUL would cut the name or password short where the caller reads
       it as a C string; LOGIN has no field separator to excuse one. */
    if (!field_ok(n) || memchr(out, '\0', n) != NULL) {
        OPENSSL_cleanse(out, cap);
        out[0] = '\0';
        return PH_SASL_BAD_MESSAGE;
    }
    return PH_SASL_OK;
}

bool
ph_sasl_is_empty_response(const char *line, size_t len)
{
    return len == 1 && line[0] == '=';
}

bool
ph_sasl_is_cancel(const char *line, size_t len)
{
    return len == 1 && line[0] == '*';
}
