/*
 * fuzz_smtp_session.c -- bytes from a client into a real session with the
 * library's default handlers (as Dovecot's fuzz-smtp-server.c does): a
 * loop, a server without listeners and one end of a socketpair. The
 * input is written to the other end, then shutdown(SHUT_WR); the loop
 * runs until the session is gone or a bounded number of turns passed.
 * Replies are read and checked to be CRLF lines of "ddd[ -]...".
 */
#undef NDEBUG       /* the checks are the point of a fuzzer */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp/smtp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TURNS 20000

/* What the client has seen so far, checked line by line. */
struct client {
    char   line[4096];
    size_t len;
    size_t nreplies;
};

static void
check_reply_line(const char *p, size_t len)
{
    assert(len >= 5);            /* "ddd" SP/- ... CR LF */
    assert(p[0] >= '2' && p[0] <= '5');
    assert(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9');
    assert(p[3] == ' ' || p[3] == '-' || (p[3] == '\r' && len == 5));
    assert(memchr(p, '\n', len - 1) == NULL);
    assert(p[len - 2] == '\r');
}

static void
client_read(struct client *cl, int fd)
{
    char    buf[4096];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            assert(cl->len < sizeof(cl->line));
            cl->line[cl->len++] = buf[i];
            if (buf[i] == '\n') {
                check_reply_line(cl->line, cl->len);
                cl->nreplies++;
                cl->len = 0;
            }
        }
    }
}

static void
pump(ph_loop *loop, ph_smtp_server *srv, int fd, const uint8_t *data,
     size_t size)
{
    struct client cl = { .len = 0 };
    size_t        off = 0;
    bool          shut = false;
    int           turn;

    for (turn = 0; turn < MAX_TURNS && srv->nsessions > 0; turn++) {
        if (off < size) {
            /* MSG_NOSIGNAL: the session may close before reading all. */
            ssize_t n = send(fd, data + off, size - off,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                off = size;
        } else if (!shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        event_base_loop(ph_loop_base(loop), EVLOOP_NONBLOCK);
        client_read(&cl, fd);
    }
    client_read(&cl, fd);
    /* The greeting always comes first. */
    assert(cl.nreplies >= 1);
}

/* AUTH's check: "u"/"p" logs in, anything else fails (no delay). */
static void
verify(ph_smtp_session *s, const struct ph_smtp_auth *a, void *ctx)
{
    bool ok = strcmp(a->user, "u") == 0 && strcmp(a->password, "p") == 0;

    (void)ctx;
    assert(a->authzid != NULL && a->mech != NULL);
    ph_smtp_auth_reply(s, ok ? PH_SMTP_AUTH_OK : PH_SMTP_AUTH_FAIL, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ph_smtp_options opts = {
        .hostname = "fuzz.example",
        .mode = PH_SMTP_MODE_ESMTP,
        .whole_message = true,
        /* small enough that the fuzzer reaches the limits */
        .limits = { .max_header_len = 256, .max_message_size = 65536,
                    .max_recipients = 4,
                    .auth_fail_delay_ms = PH_SMTP_NO_DELAY },
    };
    ph_loop         *loop = ph_loop_new();
    ph_smtp_server  *srv;
    ph_smtp_session *s;
    int              sv[2];

    assert(loop != NULL);
    srv = ph_smtp_server_new(loop, &opts);
    assert(srv != NULL);
    ph_smtp_server_set_verify(srv, verify, NULL);
    assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    /* What smtp_server.c's accept_session does for a new connection. */
    s = smtp_session_new(srv, sv[0], NULL, 0);
    assert(s != NULL);
    smtp_run_handler(s, SMTP_V_CONNECT, "CONNECT", srv->connect_handler, "",
                     1);
    pump(loop, srv, sv[1], data, size);
    ph_smtp_server_free(srv);
    ph_loop_free(loop);
    close(sv[1]);
    return 0;
}
