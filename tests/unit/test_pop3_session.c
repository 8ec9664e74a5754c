/*
 * test_pop3_session.c -- the POP3 state machine (RFC 1939) through a real
 * session on a socketpair, with a mock maildrop that records what the
 * session asks of it: states and the verbs allowed in each, deletions
 * only in UPDATE (after QUIT), none on a dropped connection, RSET, and
 * the [IN-USE] / [SYS/TEMP] codes from the maildrop's open.
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
#include <unistd.h>

#include "pop3/pop3_internal.h"

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
    ph_loop        *loop;
    ph_pop3_server *srv;
    struct mock     mock;
    int             fd;
    char            out[8192];
    size_t          out_len;
};

static void
verify(ph_pop3_session *s, const struct ph_pop3_auth *a, void *ctx)
{
    ph_pop3_auth_reply(s, strcmp(a->password, "pw") == 0 ? PH_POP3_OK
                                                         : PH_POP3_ERR_AUTH,
                       "mock");
}

static void
h_start(struct h *h, enum ph_drop_status open_status)
{
    int sv[2];

    memset(h, 0, sizeof(*h));
    h->mock.open_status = open_status;
    h->loop = ph_loop_new();
    h->srv = ph_pop3_server_new(h->loop, &(struct ph_pop3_options){
        .maildrop = &mock_ops, .maildrop_ctx = &h->mock,
        .limits = { .auth_fail_delay_ms = PH_POP3_NO_DELAY } });
    assert_non_null(h->srv);
    ph_pop3_server_set_verify(h->srv, verify, NULL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    assert_non_null(pop3_session_new(h->srv, sv[0], NULL, 0));
    h->fd = sv[1];
}

/* Sends text, runs the loop, returns everything received since. */
static const char *
h_say(struct h *h, const char *text)
{
    ssize_t n;

    if (text)
        assert_int_equal(send(h->fd, text, strlen(text), 0),
                         (ssize_t)strlen(text));
    h->out_len = 0;
    for (int i = 0; i < 20; i++) {
        event_base_loop(ph_loop_base(h->loop), EVLOOP_NONBLOCK);
        while ((n = recv(h->fd, h->out + h->out_len,
                         sizeof(h->out) - 1 - h->out_len,
                         MSG_DONTWAIT)) > 0)
            h->out_len += (size_t)n;
    }
    h->out[h->out_len] = '\0';
    return h->out;
}

static void
h_stop(struct h *h)
{
    ph_pop3_server_free(h->srv);
    ph_loop_free(h->loop);
    close(h->fd);
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
    close(h.fd);                    /* dropped in TRANSACTION */
    h.fd = -1;
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_dele_only_in_update),
        cmocka_unit_test(test_rset_and_drop),
        cmocka_unit_test(test_retr_wire_form),
        cmocka_unit_test(test_open_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
