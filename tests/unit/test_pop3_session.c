/*
 * test_pop3_session.c -- the POP3 state machine (RFC 1939) through a real
 * session on a socketpair, with a mock maildrop that records what the
 * session asks of it: states and the verbs allowed in each, deletions
 * only in UPDATE (after QUIT), none on a dropped connection, RSET, and
 * the [IN-USE] / [SYS/TEMP] codes from the maildrop's open. TLS: CAPA
 * and the plaintext-login policy with and without a TLS context, STLS
 * with a real handshake (an OpenSSL client on the socketpair), the
 * injection rule (nothing pipelined behind STLS runs), implicit TLS
 * (greeting after the handshake) and a failed handshake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pop3/pop3_internal.h"
#include "tls_testutil.h"

/* ---- a mock maildrop: three messages, records dele/close ------------- */

struct mock {
    enum ph_drop_status open_status;
    int                 deleted[3];
    int                 closed;
};

static const char *const bodies[] = { "a\n", "bb\r\n", "ccc" };
static const char *const uids[] = { "u1", "u2", "u3" };

static enum ph_drop_status
m_open(void *ctx, const char *user, const char *loc, ph_drop **out)
{
    struct mock *m = ctx;

    *out = (ph_drop *)m;
    return m->open_status;
}

static size_t m_count(ph_drop *d) { (void)d; return 3; }

static enum ph_drop_status
m_msg(ph_drop *d, size_t i, struct ph_drop_msg *out)
{
    static const size_t sizes[] = { 3, 4, 3 };

    (void)d;
    out->size = sizes[i];
    out->uid = uids[i];
    return PH_DROP_OK;
}

struct mstream { const char *p; size_t left; };

static enum ph_drop_status
m_stream_open(ph_drop *d, size_t i, ph_drop_stream **st)
{
    struct mstream *ms = malloc(sizeof(*ms));

    ms->p = bodies[i];
    ms->left = strlen(bodies[i]);
    *st = (ph_drop_stream *)ms;
    return PH_DROP_OK;
}

static ssize_t
m_stream_read(ph_drop_stream *st, char *buf, size_t cap)
{
    struct mstream *ms = (struct mstream *)st;
    size_t          n = ms->left < cap ? ms->left : cap;

    memcpy(buf, ms->p, n);
    ms->p += n;
    ms->left -= n;
    return (ssize_t)n;
}

static void m_stream_close(ph_drop_stream *st) { free(st); }

static enum ph_drop_status
m_dele(ph_drop *d, size_t i)
{
    ((struct mock *)d)->deleted[i]++;
    return PH_DROP_OK;
}

static void m_close(ph_drop *d) { ((struct mock *)d)->closed++; }

static const struct ph_maildrop_ops mock_ops = {
    m_open, m_count, m_msg, m_stream_open, m_stream_read, m_stream_close,
    m_dele, m_close,
};

/* ---- harness ----------------------------------------------------------- */

struct h {
    ph_loop         *loop;
    ph_pop3_server  *srv;
    ph_pop3_session *s;
    struct mock      mock;
    struct ttu_client c;        /* the test's side of the socketpair */
};

#define h_say(h, text)     ttu_say(&(h)->c, (text))
#define h_tls_say(h, text) ttu_tls_say(&(h)->c, (text))
#define h_handshake(h)     ttu_handshake(&(h)->c)

static void
verify(ph_pop3_session *s, const struct ph_pop3_auth *a, void *ctx)
{
    ph_pop3_auth_reply(s, strcmp(a->password, "pw") == 0 ? PH_POP3_OK
                                                         : PH_POP3_ERR_AUTH,
                       "mock");
}

enum h_mode { H_PLAIN, H_STLS, H_STLS_PLAINTEXT_OK, H_IMPLICIT };

static void
h_start_mode(struct h *h, enum ph_drop_status open_status, enum h_mode mode)
{
    int fd;

    memset(h, 0, sizeof(*h));
    h->mock.open_status = open_status;
    h->loop = ph_loop_new();
    h->srv = ph_pop3_server_new(h->loop, &(struct ph_pop3_options){
        .maildrop = &mock_ops, .maildrop_ctx = &h->mock,
        .limits = { .auth_fail_delay_ms = PH_POP3_NO_DELAY },
        .tls = mode == H_PLAIN ? NULL : ttu_tls,
        .auth_plaintext = mode == H_STLS_PLAINTEXT_OK });
    assert_non_null(h->srv);
    ph_pop3_server_set_verify(h->srv, verify, NULL);
    fd = ttu_client_open(&h->c, h->loop);
    /* What the core's accept does once the limits let it in. */
    assert_int_equal(pop3_session_accept(&h->srv->core, fd, NULL, 0,
                                         mode == H_IMPLICIT), 0);
    h->s = (ph_pop3_session *)h->srv->core.sessions;   /* the newest */
    assert_non_null(h->s);
}

static void
h_start(struct h *h, enum ph_drop_status open_status)
{
    h_start_mode(h, open_status, H_PLAIN);
}

static void
h_stop(struct h *h)
{
    ph_pop3_server_free(h->srv);
    ph_loop_free(h->loop);
    ttu_client_close(&h->c);
}

static void
login_greeted(struct h *h)
{
    assert_string_equal(h_say(h, "USER me\r\n"), "+OK Send PASS\r\n");
    assert_string_equal(h_say(h, "PASS pw\r\n"),
                        "+OK Logged in, 3 messages\r\n");
}

static void
login(struct h *h)
{
    assert_non_null(strstr(h_say(h, NULL), "+OK"));
    assert_string_equal(h_say(h, "USER me\r\n"), "+OK Send PASS\r\n");
    assert_string_equal(h_say(h, "PASS pw\r\n"),
                        "+OK Logged in, 3 messages\r\n");
}

/* ---- tests ---------------------------------------------------------- */

/* ph_pop3_reply_lines refuses a line with CR or LF before writing
   anything (as ph_smtp_reply_lines does): one reply, no injection. */
static enum ph_result
xlines(ph_pop3_session *s, const char *verb, size_t argc,
       const char *const *argv)
{
    const char *bad[] = { "one", "two\r\n+OK injected" };
    const char *good[] = { ".dot", "plain" };

    assert_int_equal(ph_pop3_reply_lines(s, "never", bad, 2), PH_EINVAL);
    assert_int_equal(ph_pop3_reply_lines(s, "lines", good, 2), 0);
    return PH_OK;
}

static void
test_reply_lines_refuse_crlf(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, PH_DROP_OK);
    assert_int_equal(ph_pop3_server_set_handler(h.srv, "XLINES", xlines), 0);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "XLINES\r\n"),
                        "+OK lines\r\n..dot\r\nplain\r\n.\r\n");
    h_stop(&h);
}

static void
test_states(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, PH_DROP_OK);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "STAT\r\n"),
                        "-ERR Command not valid in this state\r\n");
    assert_string_equal(h_say(&h, "PASS pw\r\n"), "-ERR Send USER first\r\n");
    assert_string_equal(h_say(&h, "USER me\r\n"), "+OK Send PASS\r\n");
    assert_string_equal(h_say(&h, "PASS nope\r\n"),
                        "-ERR [AUTH] Authentication failed\r\n");
    assert_string_equal(h_say(&h, "USER me\r\nPASS pw\r\n"),
                        "+OK Send PASS\r\n+OK Logged in, 3 messages\r\n");
    assert_string_equal(h_say(&h, "USER me\r\n"),
                        "-ERR Command not valid in this state\r\n");
    assert_string_equal(h_say(&h, "STAT\r\n"), "+OK 3 10\r\n");
    assert_string_equal(h_say(&h, "FOO\r\n"), "-ERR Unknown command\r\n");
    h_stop(&h);
}

static void
test_dele_only_in_update(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, PH_DROP_OK);
    login(&h);
    assert_string_equal(h_say(&h, "DELE 2\r\n"), "+OK Message 2 deleted\r\n");
    assert_int_equal(h.mock.deleted[1], 0);         /* only marked */
    assert_string_equal(h_say(&h, "DELE 2\r\n"),
                        "-ERR Message already deleted\r\n");
    assert_string_equal(h_say(&h, "STAT\r\n"), "+OK 2 6\r\n");
    assert_string_equal(h_say(&h, "RETR 2\r\n"),
                        "-ERR Message already deleted\r\n");
    assert_string_equal(h_say(&h, "QUIT\r\n"),
                        "+OK Bye, 1 messages deleted\r\n");
    assert_int_equal(h.mock.deleted[0], 0);
    assert_int_equal(h.mock.deleted[1], 1);
    assert_int_equal(h.mock.deleted[2], 0);
    assert_int_equal(h.mock.closed, 1);
    h_stop(&h);
}

static void
test_rset_and_drop(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, PH_DROP_OK);
    login(&h);
    h_say(&h, "DELE 1\r\nDELE 3\r\n");
    assert_string_equal(h_say(&h, "RSET\r\n"),
                        "+OK Maildrop has 3 messages\r\n");
    assert_string_equal(h_say(&h, "STAT\r\n"), "+OK 3 10\r\n");
    h_say(&h, "DELE 1\r\n");
    ttu_client_close(&h.c);         /* dropped in TRANSACTION */
    h_say(&h, NULL);
    assert_int_equal(h.mock.deleted[0], 0);
    assert_int_equal(h.mock.closed, 1);
    ph_pop3_server_free(h.srv);
    ph_loop_free(h.loop);
}

static void
test_retr_wire_form(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, PH_DROP_OK);
    login(&h);
    assert_string_equal(h_say(&h, "RETR 1\r\n"), "+OK 3 octets\r\na\r\n.\r\n");
    assert_string_equal(h_say(&h, "RETR 3\r\n"),
                        "+OK 3 octets\r\nccc\r\n.\r\n");
    assert_string_equal(h_say(&h, "LIST\r\n"), "+OK Scan listing follows\r\n"
                        "1 3\r\n2 4\r\n3 3\r\n.\r\n");
    assert_string_equal(h_say(&h, "UIDL 2\r\n"), "+OK 2 u2\r\n");
    assert_string_equal(h_say(&h, "RETR 0\r\nRETR x\r\nRETR 4\r\n"),
                        "-ERR No such message\r\n-ERR Invalid message "
                        "number\r\n-ERR No such message\r\n");
    h_stop(&h);
}

static void
test_open_codes(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, PH_DROP_IN_USE);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "USER me\r\nPASS pw\r\n"),
                        "+OK Send PASS\r\n-ERR [IN-USE] Maildrop is locked "
                        "by another session\r\n");
    assert_string_equal(h_say(&h, "STAT\r\n"),
                        "-ERR Command not valid in this state\r\n");
    h_stop(&h);
    h_start(&h, PH_DROP_TEMP);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "USER me\r\nPASS pw\r\n"),
                        "+OK Send PASS\r\n-ERR [SYS/TEMP] Unable to open "
                        "maildrop\r\n");
    h_stop(&h);
}

#define CAPA_HEAD "+OK Capability list follows\r\nTOP\r\n"
#define CAPA_TAIL "IMPLEMENTATION posthorn-" PH_VERSION_STRING "\r\n.\r\n"
#define CAPA_MID  "UIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
#define CAPA_PLAIN CAPA_HEAD "USER\r\n" CAPA_MID "SASL PLAIN\r\n"
#define NO_PLAINTEXT "-ERR [AUTH] Plaintext authentication disallowed on " \
                     "non-secure connection; use STLS first\r\n"

/* No context: CAPA as always, no STLS. */
static void
test_capa_without_tls(void **state)
{
    struct h h;

    (void)state;
    h_start(&h, PH_DROP_OK);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "CAPA\r\n"), CAPA_PLAIN CAPA_TAIL);
    assert_string_equal(h_say(&h, "STLS\r\n"), "-ERR STLS not available\r\n");
    assert_int_equal(ph_pop3_server_listen_tls(h.srv, "127.0.0.1:0"),
                     PH_EINVAL);
    assert_false(ph_pop3_session_tls(h.s, &(struct ph_tls_info){ 0 }));
    login_greeted(&h);
    h_stop(&h);
}

/* A context and no TLS yet: STLS offered, passwords in clear refused
   (APOP is not a password in clear), unless auth_plaintext. */
static void
test_plaintext_policy(void **state)
{
    struct h h;

    (void)state;
    h_start_mode(&h, PH_DROP_OK, H_STLS);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "CAPA\r\n"),
                        CAPA_HEAD CAPA_MID "STLS\r\n" CAPA_TAIL);
    assert_string_equal(h_say(&h, "USER me\r\n"), NO_PLAINTEXT);
    assert_string_equal(h_say(&h, "PASS pw\r\n"), NO_PLAINTEXT);
    assert_string_equal(h_say(&h, "AUTH PLAIN AG1lAHB3\r\n"), NO_PLAINTEXT);
    assert_string_equal(h_say(&h, "AUTH PLAIN\r\n"), NO_PLAINTEXT);
    assert_string_equal(h_say(&h, "AUTH LOGIN\r\n"),
                        "-ERR Unsupported SASL mechanism\r\n");
    assert_string_equal(h_say(&h, "APOP me 0123456789abcdef0123456789abcdef"
                              "\r\n"), "-ERR APOP not available\r\n");
    assert_string_equal(h_say(&h, "STLS now\r\n"), "-ERR Syntax: STLS\r\n");
    assert_null(ph_pop3_session_user(h.s));
    h_stop(&h);

    h_start_mode(&h, PH_DROP_OK, H_STLS_PLAINTEXT_OK);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "CAPA\r\n"),
                        CAPA_PLAIN "STLS\r\n" CAPA_TAIL);
    login_greeted(&h);
    assert_string_equal(h_say(&h, "STLS\r\n"),
                        "-ERR Command not valid in this state\r\n");
    h_stop(&h);
}

/* STLS: +OK, then nothing of what was pipelined behind it runs; after
   the handshake the session has forgotten USER, CAPA shows USER and
   SASL PLAIN but no STLS, and a login works. */
static void
test_stls(void **state)
{
    struct h           h;
    struct ph_tls_info ti;

    (void)state;
    h_start_mode(&h, PH_DROP_OK, H_STLS_PLAINTEXT_OK);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "USER me\r\n"), "+OK Send PASS\r\n");
    assert_string_equal(h_say(&h, "STLS\r\nCAPA\r\n"),
                        "+OK Begin TLS negotiation\r\n");
    h_handshake(&h);
    assert_string_equal(h_tls_say(&h, NULL), "");      /* no CAPA reply */
    assert_int_equal(h.s->ss.conn->tls_discarded, 6);
    assert_true(ph_pop3_session_tls(h.s, &ti));
    assert_non_null(strstr(ti.protocol, "TLS"));
    assert_true(ti.bits >= 128);
    assert_string_equal(h_tls_say(&h, "PASS pw\r\n"),
                        "-ERR Send USER first\r\n");
    assert_string_equal(h_tls_say(&h, "CAPA\r\n"), CAPA_PLAIN CAPA_TAIL);
    assert_string_equal(h_tls_say(&h, "STLS\r\n"),
                        "-ERR Already in TLS\r\n");
    assert_string_equal(h_tls_say(&h, "USER me\r\nPASS pw\r\nSTAT\r\n"),
                        "+OK Send PASS\r\n+OK Logged in, 3 messages\r\n"
                        "+OK 3 10\r\n");
    h_stop(&h);
}

/* Without auth_plaintext, USER is refused before STLS, allowed after. */
static void
test_stls_then_login(void **state)
{
    struct h h;

    (void)state;
    h_start_mode(&h, PH_DROP_OK, H_STLS);
    h_say(&h, NULL);
    assert_string_equal(h_say(&h, "USER me\r\n"), NO_PLAINTEXT);
    assert_string_equal(h_say(&h, "STLS\r\n"),
                        "+OK Begin TLS negotiation\r\n");
    h_handshake(&h);
    assert_int_equal(h.s->ss.conn->tls_discarded, 0);
    assert_string_equal(h_tls_say(&h, "CAPA\r\n"), CAPA_PLAIN CAPA_TAIL);
    assert_string_equal(h_tls_say(&h, "USER me\r\nPASS pw\r\n"),
                        "+OK Send PASS\r\n+OK Logged in, 3 messages\r\n");
    assert_string_equal(h_tls_say(&h, "QUIT\r\n"),
                        "+OK Bye, 0 messages deleted\r\n");
    h_stop(&h);
}

/* Implicit TLS: not a byte before the handshake; then the greeting. */
static void
test_implicit_tls(void **state)
{
    struct h h;

    (void)state;
    h_start_mode(&h, PH_DROP_OK, H_IMPLICIT);
    assert_string_equal(h_say(&h, NULL), "");
    h_handshake(&h);
    assert_non_null(strstr(h_tls_say(&h, NULL), "+OK "));
    assert_string_equal(h_tls_say(&h, "CAPA\r\n"), CAPA_PLAIN CAPA_TAIL);
    assert_string_equal(h_tls_say(&h, "USER me\r\nPASS pw\r\n"),
                        "+OK Send PASS\r\n+OK Logged in, 3 messages\r\n");
    h_stop(&h);
}

/* Plaintext to an implicit-TLS session: the handshake fails, the session
   goes, the server stays. */
static void
test_failed_handshake(void **state)
{
    struct h h;

    (void)state;
    h_start_mode(&h, PH_DROP_OK, H_IMPLICIT);
    assert_int_equal(ph_pop3_server_session_count(h.srv), 1);
    h_say(&h, "USER me\r\n");
    assert_int_equal(ph_pop3_server_session_count(h.srv), 0);
    assert_int_equal(recv(h.c.fd, h.c.out, sizeof(h.c.out), MSG_DONTWAIT), 0);
    h_stop(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_reply_lines_refuse_crlf),
        cmocka_unit_test(test_dele_only_in_update),
        cmocka_unit_test(test_rset_and_drop),
        cmocka_unit_test(test_retr_wire_form),
        cmocka_unit_test(test_open_codes),
        cmocka_unit_test(test_capa_without_tls),
        cmocka_unit_test(test_plaintext_policy),
        cmocka_unit_test(test_stls),
        cmocka_unit_test(test_stls_then_login),
        cmocka_unit_test(test_implicit_tls),
        cmocka_unit_test(test_failed_handshake),
    };
    return cmocka_run_group_tests(tests, ttu_group_setup, ttu_group_teardown);
}
