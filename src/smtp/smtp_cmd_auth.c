/*
 * smtp_cmd_auth.c -- AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN
 * mechanisms: the 334 exchange, the program's verify callback, failure
 * delays and limits.
 *
 * While a 334 is outstanding the AUTH command has no final reply yet
 * (expect == 0) and the session reads the client's next line as the SASL
 * answer (s->sasl). Once the credentials are complete the verify
 * callback runs and the AUTH command waits for ph_smtp_auth_reply() like
 * any pending handler. A failure is answered after a delay that grows
 * with the failures seen from that address.
 */
#include "smtp/smtp_internal.h"
#include "auth/sasl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

bool
smtp_auth_offered(const ph_smtp_session *s)
{
    const ph_smtp_server *srv = s->srv;

    return srv != NULL && srv->verify != NULL &&
           (srv->core.tls == NULL || srv->auth_plaintext || smtp_is_tls(s));
}

/* Drops an exchange in progress (not a login already made). */
static void
sasl_end(ph_smtp_session *s)
{
    s->sasl = SMTP_SASL_NONE;
    free(s->sasl_user);
    s->sasl_user = NULL;
}

void
smtp_auth_reset(ph_smtp_session *s)
{
    sasl_end(s);
    free(s->auth_user);
    s->auth_user = NULL;
    s->auth_checking = false;
}

/* A 334 challenge: the AUTH command stays open, the next line answers. */
static void
ask(ph_smtp_session *s, enum smtp_sasl_step step, const char *challenge)
{
    s->sasl = step;
    smtp_send_reply(s, 334, NULL, &challenge, 1);
    s->expect = 0;
}

static void
start_verify(ph_smtp_session *s, const char *authzid, const char *user,
             const char *password)
{
    struct ph_smtp_auth a = { s->sasl_mech, authzid, user, password };
    ph_smtp_server     *srv = s->srv;

    /* Checked here, before every password, not only when AUTH starts:
       sessions parked at a 334 must not get guesses past the limit. */
    if (ph_session_auth_blocked(&s->ss)) {
        sasl_end(s);
        ph_smtp_reply(s, 454, "4.7.0", "Too many failed logins from your "
                      "address, try again later");
        return;
    }
    free(s->sasl_user);
    if ((s->sasl_user = strdup(user)) == NULL) {
        ph_smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
        return;
    }
    s->auth_checking = true;
    srv->verify(s, &a, srv->verify_ctx);
}

static void
plain_response(ph_smtp_session *s, const char *b64, size_t len)
{
    char                 buf[PH_SASL_PLAIN_BUF];
    struct ph_sasl_plain p;

    switch (ph_sasl_plain_decode(b64, len, buf, sizeof(buf), &p)) {
    case PH_SASL_OK:
        start_verify(s, p.authzid, p.authcid, p.passwd);
        OPENSSL_cleanse(buf, sizeof(buf));
        return;
    case PH_SASL_BAD_BASE64:
        ph_smtp_reply(s, 501, "5.5.2", "Invalid base64 data");
        return;
    case PH_SASL_BAD_MESSAGE:
        s->auth_checking = true;        /* a failed login, counted */
        ph_smtp_auth_reply(s, PH_SMTP_AUTH_FAIL, NULL);
        return;
    }
}

static void
login_step(ph_smtp_session *s, enum smtp_sasl_step step, const char *b64,
           size_t len)
{
    char text[PH_SASL_LOGIN_BUF];

    switch (ph_sasl_login_decode(b64, len, text, sizeof(text))) {
    case PH_SASL_BAD_BASE64:
        ph_smtp_reply(s, 501, "5.5.2", "Invalid base64 data");
        return;
    case PH_SASL_BAD_MESSAGE:
        s->auth_checking = true;
        ph_smtp_auth_reply(s, PH_SMTP_AUTH_FAIL, NULL);
        return;
    case PH_SASL_OK:
        break;
    }
    if (step == SMTP_SASL_LOGIN_USER) {
        free(s->sasl_user);
        if ((s->sasl_user = strdup(text)) == NULL)
            ph_smtp_reply(s, 454, "4.7.0", "Temporary authentication "
                          "failure");
        else
            ask(s, SMTP_SASL_LOGIN_PASS, "UGFzc3dvcmQ6");  /* Password: */
    } else {
        char *user = s->sasl_user;
        s->sasl_user = NULL;
        start_verify(s, "", user, text);
        free(user);
    }
    OPENSSL_cleanse(text, sizeof(text));
}

/* Why AUTH cannot start now; NULL if it can. Replies itself. */
static bool
auth_refused(ph_smtp_session *s)
{
    ph_smtp_server *srv = s->srv;

    if (srv->verify == NULL)
        ph_smtp_reply(s, 502, "5.5.1", "AUTH not available");
    else if (s->auth_user != NULL)
        ph_smtp_reply(s, 503, "5.5.1", "Already authenticated");
    else if (!smtp_auth_offered(s))
        ph_smtp_reply(s, 538, "5.7.11", "Encryption required for "
                      "requested authentication mechanism");
    else if (ph_session_auth_blocked(&s->ss))
        ph_smtp_reply(s, 454, "4.7.0", "Too many failed logins from your "
                      "address, try again later");
    else
        return false;
    return true;
}

enum ph_result
smtp_cmd_auth(ph_smtp_session *s, const char *verb, const char *arg)
{
    size_t      mlen = strcspn(arg, " ");
    const char *initial = arg[mlen] == ' ' ? arg + mlen + 1 : NULL;
    size_t      i;

    if (auth_refused(s))
        return PH_OK;
    if (mlen == 0 || mlen > PH_SMTP_MAX_MECH ||
        (initial != NULL && strchr(initial, ' ') != NULL)) {
        ph_smtp_reply(s, 501, "5.5.4", "Syntax: AUTH mechanism "
                      "[initial-response]");
        return PH_OK;
    }
    for (i = 0; i < mlen; i++)
        s->sasl_mech[i] = (char)toupper((unsigned char)arg[i]);
    s->sasl_mech[mlen] = '\0';
    if (initial != NULL && ph_sasl_is_empty_response(initial,
                                                     strlen(initial)))
        initial = "";
    if (strcmp(s->sasl_mech, "PLAIN") == 0) {
        if (initial == NULL)
            ask(s, SMTP_SASL_PLAIN, "");
        else
            plain_response(s, initial, strlen(initial));
    } else if (strcmp(s->sasl_mech, "LOGIN") == 0) {
        if (initial == NULL)
            ask(s, SMTP_SASL_LOGIN_USER, "VXNlcm5hbWU6");  /* Username: */
        else
            login_step(s, SMTP_SASL_LOGIN_USER, initial, strlen(initial));
    } else {
        ph_smtp_reply(s, 504, "5.5.4", "Unrecognized authentication type");
    }
    if (initial != NULL && initial[0] != '\0')  /* in the line buffer */
        OPENSSL_cleanse((char *)initial, strlen(initial));
    return s->expect != 0 ? PH_PENDING : PH_OK;
}

/* The client's line after a 334. */
void
smtp_sasl_line(ph_smtp_session *s, char *line, size_t len)
{
    enum smtp_sasl_step step = s->sasl;

    s->sasl = SMTP_SASL_NONE;
    s->cur_id = SMTP_V_AUTH;
    s->expect = 1;
    s->replied = 0;
    strcpy(s->cur_verb, "AUTH");
    if (ph_sasl_is_cancel(line, len)) {
        sasl_end(s);
        ph_smtp_reply(s, 501, "5.0.0", "Authentication cancelled");
    } else if (step == SMTP_SASL_PLAIN) {
        plain_response(s, line, len);
    } else {
        login_step(s, step, line, len);
    }
    OPENSSL_cleanse(line, len);
    if (s->expect != 0 && !s->ss.dead)
        ph_session_wait(&s->ss);           /* the check answers later */
}

/* ---- the answer ------------------------------------------------------- */

/* The core's auth_refused, after the failure delay. */
void
smtp_auth_refused(struct ph_session *ss)
{
    ph_smtp_reply(smtp_of(ss), 535, "5.7.8",
                  "Authentication credentials invalid");
}

static void
auth_failed(ph_smtp_session *s)
{
    char *user = s->sasl_user;

    s->sasl_user = NULL;        /* sasl_end would free it before the log */
    sasl_end(s);
    ph_session_auth_fail(&s->ss, s->srv->limits.auth_fail_delay_ms,
                         s->sasl_mech, user);
    free(user);
}

int
ph_smtp_auth_reply(ph_smtp_session *s, enum ph_smtp_auth_status st,
                   const char *identity)
{
    if (s == NULL || !s->auth_checking)
        return PH_ESTATE;
    s->auth_checking = false;
    if (s->ss.dead || s->srv == NULL)
        return PH_ECLOSED;
    switch (st) {
    case PH_SMTP_AUTH_OK:
        if (identity != NULL) {
            char *copy = strdup(identity);
            if (copy == NULL)
                return ph_smtp_reply(s, 454, "4.7.0", "Temporary "
                                     "authentication failure");
            free(s->sasl_user);
            s->sasl_user = copy;
        }
        return ph_smtp_reply(s, 235, "2.7.0", "Authentication successful");
    case PH_SMTP_AUTH_TEMPFAIL:
        sasl_end(s);
        return ph_smtp_reply(s, 454, "4.7.0", "Temporary authentication "
                             "failure");
    case PH_SMTP_AUTH_FAIL:
    default:
        auth_failed(s);
        return 0;
    }
}

/* The 235 is out: the session is now known by this name. */
void
smtp_auth_commit(ph_smtp_session *s)
{
    free(s->auth_user);
    s->auth_user = s->sasl_user;
    s->sasl_user = NULL;
    if (ph_log_enabled(s->ss.loop, PH_LOG_INFO)) {
        char user[96];
        ph_log(s->ss.loop, PH_LOG_INFO, "session=%s event=auth mech=%s user=%s",
               s->ss.id, s->sasl_mech, s->auth_user ? ph_log_sanitize(user,
               sizeof(user), s->auth_user, strlen(s->auth_user)) : "-");
    }
}

const char *
ph_smtp_session_auth_user(ph_smtp_session *s)
{
    return s->auth_user;
}
