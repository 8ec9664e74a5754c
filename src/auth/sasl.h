/*
 * sasl.h -- the server side of SASL framing shared by SMTP AUTH (RFC 4954)
 * and POP3 AUTH (RFC 5034): strict base64 (RFC 4648), the PLAIN message
 * (RFC 4616) and one LOGIN step. Pure: no I/O, no allocation, no libevent.
 * Checking the credentials, replies and delays are the sessions' business.
 * Never installed.
 */
#ifndef PH_AUTH_SASL_H
#define PH_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 4616 2: servers MUST accept authzid, authcid and passwd of up to 255
   octets; we accept exactly that much and no more. */
#define PH_SASL_MAX_FIELD 255
/* A buffer that holds any PLAIN message within the limits: three fields,
   two NULs and the terminator (768). */
#define PH_SASL_PLAIN_BUF (3 * PH_SASL_MAX_FIELD + 3)
/* A buffer that holds any LOGIN step within the limit, and its NUL. */
#define PH_SASL_LOGIN_BUF (PH_SASL_MAX_FIELD + 1)
/* Characters base64 needs for n bytes, without the NUL. */
#define PH_BASE64_LEN(n)  (((n) + 2) / 3 * 4)

/*
 * What a decoder made of a client response. Recommended replies:
 *   PH_SASL_BAD_BASE64   SMTP "501 5.5.2", which RFC 4954 4 requires for a
 *                        response that cannot be base64-decoded. Not an
 *                        authentication failure: no credentials were seen.
 *   PH_SASL_BAD_MESSAGE  SMTP "535 5.7.8", and count it with
 *                        ph_auth_guard_failed(). The base64 was fine; the
 *                        mechanism failed (RFC 4422), and RFC 4954 6
 *                        gives 535 for a failed exchange and keeps 501 for
 *                        syntax, undecodable data and cancellation. It
 *                        also keeps a client from probing with malformed
 *                        messages without being counted.
 * POP3 answers both with -ERR (RFC 5034 4).
 */
enum ph_sasl_status {
    PH_SASL_OK = 0,
    PH_SASL_BAD_BASE64,   /* not strict base64, see ph_base64_decode() */
    PH_SASL_BAD_MESSAGE,  /* decoded, but not a valid message (NUL count,
                             empty or over-long field, buffer too small) */
};

/* ---- base64 (RFC 4648 4) ---------------------------------------------- */

/*
 * Decodes in[0..len) into out, writing at most cap bytes. Strict: the
 * length must be a multiple of 4, '=' padding is required and only at the
 * end, every other character is in the base64 alphabet (no whitespace, no
 * base64url), and the unused bits before the padding must be zero (RFC
 * 4648 3.5; this makes the encoding canonical, so encode(decode(x)) == x).
 * Returns the decoded length (0 for empty input), or -1 if the input is
 * invalid or the result would not fit in cap; then out may hold part of
 * the result, and a caller decoding a secret must wipe it.
 */
long ph_base64_decode(const char *in, size_t len, char *out, size_t cap);

/*
 * Encodes in[0..len) into out with padding and a terminating NUL. Returns
 * the length without the NUL. If out cannot hold PH_BASE64_LEN(len) + 1
 * bytes, returns 0 and leaves out as "" (if cap > 0); an empty input also
 * returns 0, so callers that can have both check cap first.
 */
size_t ph_base64_encode(const void *in, size_t len, char *out, size_t cap);

/* ---- SASL responses --------------------------------------------------- */

/*
 * A decoded PLAIN message. Every pointer points into the caller's buf and
 * is NUL-terminated; they stay valid as long as buf does. authzid is ""
 * when the client sent none (RFC 4616 2: it is optional).
 */
struct ph_sasl_plain {
    char *authzid;
    char *authcid;
    char *passwd;
};

/*
 * Decodes one PLAIN response, "[authzid] NUL authcid NUL passwd" (RFC 4616
 * 2), from base64 b64[0..len) into buf[0..cap). Exactly two NULs; authcid
 * and passwd non-empty; each field at most PH_SASL_MAX_FIELD octets. A cap
 * of PH_SASL_PLAIN_BUF fits every valid message; one too big for cap is
 * PH_SASL_BAD_MESSAGE. The bytes are not checked for UTF-8.
 *
 * On PH_SASL_OK, out points into buf and buf holds the password: the
 * caller wipes buf (OPENSSL_cleanse(buf, cap)) once it is done with it.
 * On any error, buf has been wiped and out's pointers are NULL.
 *
 * An empty initial response is sent as "=" (RFC 4954 4, RFC 5034 4);
 * that is the caller's mapping (ph_sasl_is_empty_response()), and an
 * empty message is PH_SASL_BAD_MESSAGE here.
 */
enum ph_sasl_status ph_sasl_plain_decode(const char *b64, size_t len,
                                         char *buf, size_t cap,
                                         struct ph_sasl_plain *out);

/*
 * Decodes one LOGIN step (the user name or the password, each its own
 * base64 line) into out, NUL-terminated. Refuses an empty text, an
 * embedded NUL and more than PH_SASL_MAX_FIELD octets (PH_SASL_BAD_MESSAGE;
 * cap PH_SASL_LOGIN_BUF fits every valid step). On PH_SASL_OK the caller
 * wipes out after use; on any error out has been wiped and is "" (if
 * cap > 0).
 */
enum ph_sasl_status ph_sasl_login_decode(const char *b64, size_t len,
                                         char *out, size_t cap);

/* True for "=", an empty initial response on the AUTH command line (RFC
   4954 4). Only the initial response uses it: an empty continuation is an
   empty line. */
bool ph_sasl_is_empty_response(const char *line, size_t len);

/* True for "*", the client cancelling the exchange (RFC 4954 4: answer
   501; RFC 5034 4: -ERR). */
bool ph_sasl_is_cancel(const char *line, size_t len);

#endif
