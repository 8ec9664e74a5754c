/*
 * pop3_cmd_auth.c -- the AUTHORIZATION state (RFC 1939 7): USER/PASS,
 * APOP, and AUTH PLAIN (RFC 5034, RFC 4616). The check is the program's
 * (ph_pop3_verify_fn, possibly asynchronous); on success the maildrop is
 * opened and locked; a failure is answered after auth_fail_delay_ms, on a
 * timer, without holding up other sessions. Passwords are never logged
 * and are wiped after use.
 */
#include "pop3/pop3_internal.h"
#include "auth/auth_guard.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

void
pop3_auth_cleanup(ph_pop3_session *s)
{
    if (s->auth.buf != NULL) {
        OPENSSL_cleanse(s->auth.buf, s->auth.buf_len);
        free(s->auth.buf);
    }
    memset(&s->auth, 0, sizeof(s->auth));
    s->auth_pending = false;
}

/* Copies the strings of a login attempt (they come from the line buffer,
   which the next command reuses) into one block. */
static int
auth_copy(ph_pop3_session *s, const char *mech, const char *user,
          const char *pass, const char *authzid, const char *digest)
{
    const char *v[5] = { mech, user, pass ? pass : "", authzid, digest };
    const char **dst[5] = { &s->auth.pub.mech, &s->auth.pub.user,
                            &s->auth.pub.password, &s->auth.pub.authzid,
                            &s->auth.pub.apop_digest };
    size_t      total = 0, off = 0, i;

    pop3_auth_cleanup(s);
    for (i = 0; i < 5; i++)
        total += strlen(v[i]) + 1;
    if ((s->auth.buf = malloc(total)) == NULL)
        return PH_ENOMEM;
    s->auth.buf_len = total;
    for (i = 0; i < 5; i++) {
        size_t n = strlen(v[i]) + 1;
        memcpy(s->auth.buf + off, v[i], n);
        *dst[i] = s->auth.buf + off;
        off += n;
    }
    if (pass == NULL)
        s->auth.pub.password = NULL;
    s->auth.pub.apop_timestamp = s->timestamp;
    return 0;
}

static enum ph_result
start_verify(ph_pop3_session *s)
{
    ph_pop3_server *srv = s->srv;

    s->auth_pending = true;
    if (ph_session_auth_blocked(&s->ss)) {
        s->auth_pending = false;
        pop3_auth_cleanup(s);
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Too many failed logins from "
                      "your address, try again later");
        return PH_OK;
    }
    if (srv->verify == NULL) {
        ph_pop3_auth_reply(s, PH_POP3_ERR_AUTH, NULL);
        return PH_PENDING;
    }
    srv->verify(s, &s->auth.pub, srv->verify_ctx);
    return PH_PENDING;
}

/* A password in clear where TLS could protect it: refused before the
   client sends it (RFC 2595 2.1). APOP is not affected: no password. */
static bool
plaintext_refused(ph_pop3_session *s)
{
    if (pop3_plaintext_ok(s))
        return false;
    ph_pop3_reply(s, PH_POP3_ERR_AUTH, "Plaintext authentication "
                  "disallowed on non-secure connection; use STLS first");
    return true;
}

enum ph_result
pop3_cmd_user(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    if (plaintext_refused(s))
        return PH_OK;
    if (argc != 1) {
        ph_pop3_reply(s, PH_POP3_ERR, "Syntax: USER name");
        return PH_OK;
    }
    free(s->user);
    s->user = strdup(argv[0]);
    ph_pop3_reply(s, s->user ? PH_POP3_OK : PH_POP3_ERR_SYS_TEMP,
                  s->user ? "Send PASS" : "Out of memory");
    return PH_OK;
}

enum ph_result
pop3_cmd_pass(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    if (plaintext_refused(s))
        return PH_OK;
    if (s->user == NULL) {
        ph_pop3_reply(s, PH_POP3_ERR, "Send USER first");
        return PH_OK;
    }
    /* RFC 1939 7: the password may contain spaces; argv[0] is the start
       of the rest of the line, re-joined. */
    if (argc == 0) {
        ph_pop3_reply(s, PH_POP3_ERR, "Syntax: PASS password");
        return PH_OK;
    }
    if (argc > 1) {
        char *p = (char *)argv[0];
        char *end = (char *)argv[argc - 1] + strlen(argv[argc - 1]);
        for (; p < end; p++)
            if (*p == '\0')
                *p = ' ';
    }
    if (auth_copy(s, "USER", s->user, argv[0], "", "") != 0) {
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Out of memory");
        return PH_OK;
    }
    return start_verify(s);
}

enum ph_result
pop3_cmd_apop(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    if (!s->srv->apop) {
        ph_pop3_reply(s, PH_POP3_ERR, "APOP not available");
        return PH_OK;
    }
    if (argc != 2 || strlen(argv[1]) != 32) {
        ph_pop3_reply(s, PH_POP3_ERR, "Syntax: APOP name digest");
        return PH_OK;
    }
    if (auth_copy(s, "APOP", argv[0], NULL, "", argv[1]) != 0) {
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Out of memory");
        return PH_OK;
    }
    free(s->user);
    s->user = strdup(argv[0]);
    return start_verify(s);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd (framing in auth/sasl.c). */
static void
sasl_plain(ph_pop3_session *s, const char *b64, size_t len)
{
    char                 buf[PH_SASL_PLAIN_BUF];
    struct ph_sasl_plain m;

    /* The decoder has wiped buf on failure. */
    if (ph_sasl_plain_decode(b64, len, buf, sizeof(buf), &m) != PH_SASL_OK) {
        ph_pop3_reply(s, PH_POP3_ERR, "Invalid SASL PLAIN response");
        return;
    }
    free(s->user);
    s->user = strdup(m.authcid);
    if (s->user == NULL ||
        auth_copy(s, "PLAIN", m.authcid, m.passwd, m.authzid, "")) {
        OPENSSL_cleanse(buf, sizeof(buf));
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Out of memory");
        return;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    if (start_verify(s) == PH_PENDING && s->awaiting)
        ph_session_wait(&s->ss);
}

/* The client's line after "+ ": the SASL response, or "*" to cancel. */
void
pop3_sasl_line(ph_pop3_session *s, char *line, size_t len)
{
    s->sasl_wait = false;
    s->awaiting = true;
    if (len == 1 && line[0] == '*') {
        ph_pop3_reply(s, PH_POP3_ERR, "AUTH cancelled");
        return;
    }
    sasl_plain(s, line, len);
}

enum ph_result
pop3_cmd_auth(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    if (argc < 1 || argc > 2) {
        ph_pop3_reply(s, PH_POP3_ERR, "Syntax: AUTH mechanism [response]");
        return PH_OK;
    }
    if (strcasecmp(argv[0], "PLAIN") != 0) {
        ph_pop3_reply(s, PH_POP3_ERR, "Unsupported SASL mechanism");
        return PH_OK;
    }
    if (plaintext_refused(s))
        return PH_OK;
    if (argc == 2) {
        /* RFC 5034 4: "=" is an empty initial response (not valid for
           PLAIN, so it is refused like any bad response). */
        bool empty = strcmp(argv[1], "=") == 0;
        sasl_plain(s, empty ? "" : argv[1], empty ? 0 : strlen(argv[1]));
        return s->awaiting ? PH_PENDING : PH_OK;
    }
    /* No initial response: ask for it; the next line is the answer. */
    s->sasl_wait = true;
    pop3_write_line(s, "+ ", 2);
    s->awaiting = false;
    return PH_OK;
}

/* The core's auth_refused: failed logins are answered late, on a timer
   (RFC 1939 13). */
void
pop3_auth_refused(struct ph_session *ss)
{
    ph_pop3_reply(pop3_of(ss), PH_POP3_ERR_AUTH, "Authentication failed");
}

static void
auth_failed(ph_pop3_session *s)
{
    const char *mech = s->auth.pub.mech;

    ph_session_auth_fail(&s->ss, s->srv->limits.auth_fail_delay_ms,
                         mech ? mech : "-", s->user);
    pop3_auth_cleanup(s);
}

static void
open_maildrop(ph_pop3_session *s, const char *locator)
{
    static const enum ph_pop3_status map[] = {
        [PH_DROP_IN_USE] = PH_POP3_ERR_IN_USE,
        [PH_DROP_TEMP] = PH_POP3_ERR_SYS_TEMP,
        [PH_DROP_PERM] = PH_POP3_ERR_SYS_PERM,
    };
    const struct ph_maildrop_ops *md = s->srv->md;
    enum ph_drop_status           st;

    st = md->open(s->srv->md_ctx, s->user, locator ? locator : "", &s->drop);
    if (st != PH_DROP_OK) {
        s->drop = NULL;
        ph_pop3_reply(s, st <= PH_DROP_PERM ? map[st] : PH_POP3_ERR_SYS_TEMP,
                      st == PH_DROP_IN_USE ? "Maildrop is locked by another "
                      "session" : "Unable to open maildrop");
        return;
    }
    s->nmsgs = md->count(s->drop);
    s->deleted = calloc(s->nmsgs ? s->nmsgs : 1, 1);
    if (s->deleted == NULL) {
        md->close(s->drop);
        s->drop = NULL;
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Out of memory");
        return;
    }
    ph_session_set_state(&s->ss, POP3_S_TRANS);
    if (ph_log_enabled(s->ss.loop, PH_LOG_INFO)) {
        char user[96];          /* the client's text, whatever verify took */
        ph_log(s->ss.loop, PH_LOG_INFO, "session=%s event=login user=%s mech=%s "
               "messages=%zu", s->ss.id, ph_log_sanitize(user, sizeof(user),
               s->user, strlen(s->user)), s->auth.pub.mech, s->nmsgs);
    }
    ph_pop3_reply(s, PH_POP3_OK, "Logged in, %zu messages", s->nmsgs);
}

int
ph_pop3_auth_reply(ph_pop3_session *s, enum ph_pop3_status st,
                   const char *locator)
{
    if (s->ss.dead || s->ss.state == POP3_S_CLOSING) {
        s->auth_pending = false;
        return PH_ECLOSED;
    }
    if (!s->auth_pending)
        return PH_ESTATE;
    s->auth_pending = false;
    if (st != PH_POP3_OK || s->srv == NULL)
        auth_failed(s);
    else
        open_maildrop(s, locator);
    pop3_auth_cleanup(s);
    return 0;
}

bool
ph_pop3_apop_check(const char *timestamp, const char *secret,
                   const char *digest)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int  mdlen = 0;
    char          hex[2 * EVP_MAX_MD_SIZE + 1];
    EVP_MD_CTX   *ctx = EVP_MD_CTX_new();
    bool          ok;

    if (ctx == NULL || strlen(digest) != 32)
        goto fail;
    ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) &&
         EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) &&
         EVP_DigestUpdate(ctx, secret, strlen(secret)) &&
         EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok || mdlen != 16)
        return false;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return CRYPTO_memcmp(hex, digest, 32) == 0;     /* constant time */
fail:
    EVP_MD_CTX_free(ctx);
    return false;
}
