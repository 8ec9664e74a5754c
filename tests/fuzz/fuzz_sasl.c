/*
 * fuzz_sasl.c -- the SASL decoders (src/auth/sasl.c): base64 with every
 * cap, PLAIN and one LOGIN step, and the encoder over the raw bytes.
 * Checks that no output passes its cap (canaries, besides ASan), that
 * anything accepted is canonical (encode(decode(x)) == x), that PLAIN's
 * fields obey RFC 4616 and its limits, and that every refusal has wiped
 * what it decoded.
 */
#undef NDEBUG
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CANARY     0xa5
#define CANARY_LEN 16

static bool
all_bytes(const char *p, size_t len, unsigned char v)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] != v)
            return false;
    return true;
}

/* out[0..n) must encode back to exactly in[0..len). */
static void
assert_canonical(const char *out, size_t n, const char *in, size_t len)
{
    size_t cap = PH_BASE64_LEN(n) + 1;
    char  *enc = malloc(cap);

    assert(enc != NULL);
    assert(ph_base64_encode(out, n, enc, cap) == len);
    assert(memcmp(enc, in, len) == 0);
    free(enc);
}

/* Decodes with a cap of exactly what fits and with one byte less. */
static void
check_decode(const char *in, size_t size)
{
    size_t big = size / 4 * 3 + 1;
    char  *out = malloc(big + CANARY_LEN);
    long   n, m;

    assert(out != NULL);
    memset(out, CANARY, big + CANARY_LEN);
    n = ph_base64_decode(in, size, out, big);
    assert(n >= -1 && n < (long)big);
    assert(all_bytes(out + big, CANARY_LEN, CANARY));
    if (n >= 0) {
        assert(size % 4 == 0);
        assert_canonical(out, (size_t)n, in, size);
        if (n > 0) {
            /* One byte short: refused, and nothing written past cap. */
            memset(out, CANARY, big + CANARY_LEN);
            m = ph_base64_decode(in, size, out, (size_t)n - 1);
            assert(m == -1);
            assert(all_bytes(out + n - 1, CANARY_LEN, CANARY));
        }
    }
    free(out);
}

static void
check_plain_fields(const struct ph_sasl_plain *m, const char *buf,
                   const char *in, size_t size)
{
    size_t z = strlen(m->authzid), c = strlen(m->authcid);
    size_t p = strlen(m->passwd);
    char   msg[PH_SASL_PLAIN_BUF];

    assert(m->authzid == buf);
    assert(m->authcid == m->authzid + z + 1);
    assert(m->passwd == m->authcid + c + 1);
    assert(z <= PH_SASL_MAX_FIELD);
    assert(c >= 1 && c <= PH_SASL_MAX_FIELD);
    assert(p >= 1 && p <= PH_SASL_MAX_FIELD);
    /* The fields are the whole message: re-encoded, it is the input. */
    memcpy(msg, buf, z + c + p + 2);
    assert_canonical(msg, z + c + p + 2, in, size);
}

static void
check_plain(const char *in, size_t size)
{
    char                 buf[PH_SASL_PLAIN_BUF + CANARY_LEN];
    struct ph_sasl_plain m;
    enum ph_sasl_status  st;

    memset(buf, CANARY, sizeof(buf));
    st = ph_sasl_plain_decode(in, size, buf, PH_SASL_PLAIN_BUF, &m);
    assert(all_bytes(buf + PH_SASL_PLAIN_BUF, CANARY_LEN, CANARY));
    switch (st) {
    case PH_SASL_OK:
        check_plain_fields(&m, buf, in, size);
        break;
    case PH_SASL_BAD_BASE64:
    case PH_SASL_BAD_MESSAGE:
        assert(m.authzid == NULL && m.authcid == NULL && m.passwd == NULL);
        /* OPENSSL_cleanse() writes zeros over all of cap. */
        assert(all_bytes(buf, PH_SASL_PLAIN_BUF, 0));
        if (st == PH_SASL_BAD_BASE64) {
            char *tmp = malloc(size + 1);
            assert(tmp != NULL);
            assert(ph_base64_decode(in, size, tmp, size + 1) == -1);
            free(tmp);
        }
        break;
    default:
        assert(!"unknown status");
    }
}

static void
check_login(const char *in, size_t size)
{
    char                out[PH_SASL_LOGIN_BUF + CANARY_LEN];
    enum ph_sasl_status st;
    size_t              n;

    memset(out, CANARY, sizeof(out));
    st = ph_sasl_login_decode(in, size, out, PH_SASL_LOGIN_BUF);
    assert(all_bytes(out + PH_SASL_LOGIN_BUF, CANARY_LEN, CANARY));
    if (st == PH_SASL_OK) {
        n = strlen(out);
        assert(n >= 1 && n <= PH_SASL_MAX_FIELD);
        assert_canonical(out, n, in, size);
    } else {
        assert(st == PH_SASL_BAD_BASE64 || st == PH_SASL_BAD_MESSAGE);
        assert(all_bytes(out, PH_SASL_LOGIN_BUF, 0));
    }
}

/* The input as raw bytes: encode, decode back, compare; and a cap one
   byte short gives "". */
static void
check_encode(const uint8_t *data, size_t size)
{
    size_t need = PH_BASE64_LEN(size) + 1;
    char  *enc = malloc(need);
    char  *dec = malloc(size + 1);

    assert(enc != NULL && dec != NULL);
    assert(ph_base64_encode(data, size, enc, need) == need - 1);
    assert(enc[need - 1] == '\0');
    assert(ph_base64_decode(enc, need - 1, dec, size) == (long)size);
    assert(memcmp(dec, data, size) == 0);
    assert(ph_base64_encode(data, size, enc, need - 1) == 0);
    assert(need == 1 || enc[0] == '\0');
    free(enc);
    free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;

    check_decode(in, size);
    check_plain(in, size);
    check_login(in, size);
    check_encode(data, size);
    (void)ph_sasl_is_cancel(in, size);
    (void)ph_sasl_is_empty_response(in, size);
    return 0;
}
