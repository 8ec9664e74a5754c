/*
 * test_smtp_auth.c -- SMTP AUTH (RFC 4954) and STARTTLS (RFC 3207) through
 * a real session on a socketpair, for what the wire alone does not show:
 * the struct ph_smtp_auth the verify callback gets (mechanism upper case,
 * authzid "" for LOGIN), the return values of ph_smtp_auth_reply()
 * (PH_ESTATE with no check waiting or on a second answer, PH_ECLOSED once
 * the client has gone), the identity it sets, ph_smtp_session_auth_user()
 * and ph_smtp_session_tls() before and after STARTTLS (the login is
 * forgotten, the failure count is not), and the exact bytes of the
 * 535/421 ending. The peer is a Unix socket: the per-address guard never
 * counts it, so only the per-session limit applies here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth/sasl.h"
#include "smtp/smtp_internal.h"
#include "tls_testutil.h"

/* ---- what verify saw, and how it answers ------------------------------ */

enum answer { ANSWER_NOW, ANSWER_LATER, ANSWER_IDENTITY };

struct seen {
    int              calls;
    char             mech[16], authzid[256], user[256], password[256];
    enum answer      answer;
    ph_smtp_session *held;      /* ANSWER_LATER: ref'd, answered by test */
    int              second_rc; /* a second answer from inside verify */
};

static void
verify(ph_smtp_session *s, const struct ph_smtp_auth *a, void *ctx)
{
    struct seen *w = ctx;
    bool         ok = strcmp(a->user, "alice") == 0 &&
                      strcmp(a->password, "wonderland") == 0;

    w->calls++;
    snprintf(w->mech, sizeof(w->mech), "%s", a->mech);
    snprintf(w->authzid, sizeof(w->authzid), "%s", a->authzid);
    snprintf(w->user, sizeof(w->user), "%s", a->user);
    snprintf(w->password, sizeof(w->password), "%s", a->password);
    switch (w->answer) {
    case ANSWER_LATER:
        ph_smtp_session_ref(s);
        w->held = s;
        return;
    case ANSWER_IDENTITY:
        assert_int_equal(ph_smtp_auth_reply(s, PH_SMTP_AUTH_OK,
                                            "Alice@Example"), 0);
        break;
    case ANSWER_NOW:
        assert_int_equal(ph_smtp_auth_reply(s, ok ? PH_SMTP_AUTH_OK
                                                  : PH_SMTP_AUTH_FAIL,
                                            NULL), 0);
        break;
    }
    w->second_rc = ph_smtp_auth_reply(s, PH_SMTP_AUTH_OK, NULL);
}

/* ---- harness ----------------------------------------------------------- */

struct h {
    ph_loop         *loop;
    ph_smtp_server  *srv;
    ph_smtp_session *s;
    struct seen      seen;
    struct ttu_client c;
};

#define h_say(h, text)     ttu_say(&(h)->c, (text))
#define h_tls_say(h, text) ttu_tls_say(&(h)->c, (text))
#define h_handshake(h)     ttu_handshake(&(h)->c)

struct h_opts {
    bool     tls, auth_plaintext, no_verify;
    unsigned max_failures;
};

static void
h_start(struct h *h, const struct h_opts *o)
{
    int fd;

    memset(h, 0, sizeof(*h));
    h->loop = ph_loop_new();
    assert_non_null(h->loop);
    h->srv = ph_smtp_server_new(h->loop, &(struct ph_smtp_options){
        .hostname = "unit.example",
        .limits = { .auth_fail_delay_ms = PH_SMTP_NO_DELAY,
                    .max_auth_failures = o->max_failures },
        .tls = o->tls ? ttu_tls : NULL,
        .auth_plaintext = o->auth_plaintext });
    assert_non_null(h->srv);
    if (!o->no_verify)
        ph_smtp_server_set_verify(h->srv, verify, &h->seen);
    fd = ttu_client_open(&h->c, h->loop);
    /* What smtp_server.c's accept does for a plaintext listener. */
    h->s = smtp_session_new(h->srv, fd, NULL, 0);
    assert_non_null(h->s);
    smtp_session_greet(h->s);
}

static void
h_stop(struct h *h)
{
    ph_smtp_server_free(h->srv);
    if (h->seen.held != NULL)
        ph_smtp_session_unref(h->seen.held);
    ph_loop_free(h->loop);
    ttu_client_close(&h->c);
}

/* "AUTH PLAIN <base64 of authzid NUL user NUL password>\r\n" */
static const char *
auth_plain(char *buf, size_t cap, const char *authzid, const char *user,
           const char *password)
{
    char   raw[800];
    size_t n = 0;
    int    w;

    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%s", authzid) + 1;
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%s", user) + 1;
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%s", password);
    w = snprintf(buf, cap, "AUTH PLAIN ");
    assert_true(w > 0 && (size_t)w < cap);
    assert_true(ph_base64_encode(raw, n, buf + w, cap - (size_t)w - 2) > 0);
    strcat(buf, "\r\n");
    return buf;
}

static void
greet_ehlo(struct h *h)
{
    assert_string_equal(h_say(h, NULL), "220 unit.example ESMTP posthorn\r\n");
    assert_non_null(strstr(h_say(h, "EHLO c.example\r\n"), "250 "));
}

#define OK235 "235 2.7.0 Authentication successful\r\n"
#define FAIL535 "535 5.7.8 Authentication credentials invalid\r\n"

/* ---- tests ------------------------------------------------------------- */

static void
test_verify_sees_plain(void **state)
{
    struct h h;
    char     cmd[512];

    (void)state;
    h_start(&h, &(struct h_opts){ 0 });
    greet_ehlo(&h);
    assert_null(ph_smtp_session_auth_user(h.s));
    /* Mechanism names are case-insensitive; verify gets upper case. */
    auth_plain(cmd, sizeof(cmd), "boss", "alice", "wonderland");
    memcpy(cmd, "auth plain", 10);
    assert_string_equal(h_say(&h, cmd), OK235);
    assert_int_equal(h.seen.calls, 1);
    assert_string_equal(h.seen.mech, "PLAIN");
    assert_string_equal(h.seen.authzid, "boss");
    assert_string_equal(h.seen.user, "alice");
    assert_string_equal(h.seen.password, "wonderland");
    /* A second answer from the same check: refused, nothing sent. */
    assert_int_equal(h.seen.second_rc, PH_ESTATE);
    assert_string_equal(ph_smtp_session_auth_user(h.s), "alice");
    /* No check waiting: PH_ESTATE, and no reply goes out. */
    assert_int_equal(ph_smtp_auth_reply(h.s, PH_SMTP_AUTH_OK, NULL),
                     PH_ESTATE);
    assert_int_equal(ph_smtp_auth_reply(NULL, PH_SMTP_AUTH_OK, NULL),
                     PH_ESTATE);
    assert_string_equal(h_say(&h, "NOOP\r\n"), "250 2.0.0 OK\r\n");
    h_stop(&h);
}

static void
test_verify_sees_login(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, &(struct h_opts){ 0 });
    greet_ehlo(&h);
    assert_string_equal(h_say(&h, "AUTH login\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_string_equal(h_say(&h, "YWxpY2U=\r\n"), "334 UGFzc3dvcmQ6\r\n");
    assert_string_equal(h_say(&h, "d29uZGVybGFuZA==\r\n"), OK235);
    assert_string_equal(h.seen.mech, "LOGIN");
    assert_string_equal(h.seen.authzid, "");
    assert_string_equal(h.seen.user, "alice");
    assert_string_equal(h.seen.password, "wonderland");
    assert_string_equal(ph_smtp_session_auth_user(h.s), "alice");
    h_stop(&h);
}

static void
test_identity(void **state)
{
    struct h h;
    char     cmd[512];

    (void)state;
    h_start(&h, &(struct h_opts){ 0 });
    h.seen.answer = ANSWER_IDENTITY;
    greet_ehlo(&h);
    assert_string_equal(h_say(&h, auth_plain(cmd, sizeof(cmd), "", "bob",
                                             "x")), OK235);
    assert_string_equal(ph_smtp_session_auth_user(h.s), "Alice@Example");
    h_stop(&h);
}

/* An answer later: nothing is read meanwhile, the pipelined NOOP waits;
   after the answer both replies go out in order. */
static void
test_answer_later(void **state)
{
    struct h h;
    char     cmd[512], two[600];

    (void)state;
    h_start(&h, &(struct h_opts){ 0 });
    h.seen.answer = ANSWER_LATER;
    greet_ehlo(&h);
    snprintf(two, sizeof(two), "%sNOOP\r\n",
             auth_plain(cmd, sizeof(cmd), "", "alice", "wonderland"));
    assert_string_equal(h_say(&h, two), "");
    assert_non_null(h.seen.held);
    assert_null(ph_smtp_session_auth_user(h.s));
    assert_int_equal(ph_smtp_auth_reply(h.seen.held, PH_SMTP_AUTH_OK, NULL),
                     0);
    assert_int_equal(ph_smtp_auth_reply(h.seen.held, PH_SMTP_AUTH_OK, NULL),
                     PH_ESTATE);
    assert_string_equal(h_say(&h, NULL), OK235 "250 2.0.0 OK\r\n");
    assert_string_equal(ph_smtp_session_auth_user(h.s), "alice");
    ph_smtp_session_unref(h.seen.held);
    h.seen.held = NULL;
    h_stop(&h);
}

/* The client leaves while the check runs: the late answer is harmless
   (PH_ECLOSED) and the held session pointer stays valid. */
static void
test_answer_after_client_left(void **state)
{
    struct h         h;
    char             cmd[512];
    ph_smtp_session *s;

    (void)state;
    h_start(&h, &(struct h_opts){ 0 });
    h.seen.answer = ANSWER_LATER;
    greet_ehlo(&h);
    h_say(&h, auth_plain(cmd, sizeof(cmd), "", "alice", "wonderland"));
    s = h.seen.held;
    assert_non_null(s);
    ttu_client_close(&h.c);
    for (int i = 0; i < 20; i++)
        event_base_loop(ph_loop_base(h.loop), EVLOOP_NONBLOCK);
    assert_int_equal(ph_smtp_server_session_count(h.srv), 0);
    assert_int_equal(ph_smtp_auth_reply(s, PH_SMTP_AUTH_OK, NULL),
                     PH_ECLOSED);
    assert_int_equal(ph_smtp_auth_reply(s, PH_SMTP_AUTH_OK, NULL),
                     PH_ESTATE);
    assert_int_equal(ph_smtp_reply(s, 250, NULL, "late"), PH_ECLOSED);
    h_stop(&h);
}

static void
test_no_verify(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, &(struct h_opts){ .no_verify = true });
    assert_non_null(h_say(&h, NULL));
    assert_null(strstr(h_say(&h, "EHLO c\r\n"), "AUTH"));
    assert_string_equal(h_say(&h, "AUTH PLAIN\r\n"),
                        "502 5.5.1 AUTH not available\r\n");
    h_stop(&h);
}

/* max_auth_failures 2: 535, then 535 + 421 and the connection closes;
   a command pipelined behind the last failure gets no reply. */
static void
test_failure_limit(void **state)
{
    struct h h;
    char     cmd[512], two[600];

    (void)state;
    h_start(&h, &(struct h_opts){ .max_failures = 2 });
    greet_ehlo(&h);
    assert_string_equal(h_say(&h, auth_plain(cmd, sizeof(cmd), "", "alice",
                                             "x")), FAIL535);
    snprintf(two, sizeof(two), "%sNOOP\r\n",
             auth_plain(cmd, sizeof(cmd), "", "alice", "y"));
    assert_string_equal(h_say(&h, two), FAIL535 "421 4.7.0 Too many failed "
                        "logins, closing connection\r\n");
    assert_int_equal(recv(h.c.fd, h.c.out, sizeof(h.c.out), MSG_DONTWAIT), 0);
    assert_int_equal(h.seen.calls, 2);
    h_stop(&h);
}

/* STARTTLS with auth_plaintext: the login made before is forgotten, the
   failures counted before are not (max 2: one before, one after). */
static void
test_starttls_forgets_login_not_failures(void **state)
{
    struct h           h;
    struct ph_tls_info ti;
    char               cmd[512];

    (void)state;
    h_start(&h, &(struct h_opts){ .tls = true, .auth_plaintext = true,
                                  .max_failures = 2 });
    greet_ehlo(&h);
    assert_false(ph_smtp_session_tls(h.s, &ti));
    assert_string_equal(h_say(&h, auth_plain(cmd, sizeof(cmd), "", "alice",
                                             "x")), FAIL535);
    assert_string_equal(h_say(&h, auth_plain(cmd, sizeof(cmd), "", "alice",
                                             "wonderland")), OK235);
    assert_string_equal(ph_smtp_session_auth_user(h.s), "alice");
    assert_string_equal(h_say(&h, "STARTTLS\r\n"),
                        "220 2.0.0 Ready to start TLS\r\n");
    h_handshake(&h);
    assert_string_equal(h_tls_say(&h, NULL), "");
    assert_true(ph_smtp_session_tls(h.s, &ti));
    assert_string_equal(ti.protocol, "TLSv1.3");
    assert_true(ti.bits >= 128);
    assert_null(ph_smtp_session_auth_user(h.s));
    assert_null(ph_smtp_session_helo(h.s));
    assert_non_null(strstr(h_tls_say(&h, "EHLO c\r\n"), "250 AUTH PLAIN "
                           "LOGIN\r\n"));
    assert_string_equal(h_tls_say(&h, auth_plain(cmd, sizeof(cmd), "",
                                                 "alice", "z")),
                        FAIL535 "421 4.7.0 Too many failed logins, closing "
                        "connection\r\n");
    h_stop(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_sees_plain),
        cmocka_unit_test(test_verify_sees_login),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_answer_later),
        cmocka_unit_test(test_answer_after_client_left),
        cmocka_unit_test(test_no_verify),
        cmocka_unit_test(test_failure_limit),
        cmocka_unit_test(test_starttls_forgets_login_not_failures),
    };
    return cmocka_run_group_tests(tests, ttu_group_setup, ttu_group_teardown);
}
