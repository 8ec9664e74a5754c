/*
 * smtp_pump.c -- see smtp_pump.h.
 */
#undef NDEBUG       /* the checks are the point of a fuzzer */
#include "smtp_pump.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_TURNS 20000

/* What the client has seen so far, checked line by line. */
struct client {
    char                  line[4096 + 1];     /* + NUL */
    size_t                len;
    struct smtp_pump_seen seen;
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
client_line(struct client *cl)
{
    check_reply_line(cl->line, cl->len);
    cl->seen.nreplies++;
    cl->line[cl->len] = '\0';
    if (memcmp(cl->line, "250 ", 4) == 0 &&
        strstr(cl->line, "stored as") != NULL)
        cl->seen.nstored++;
    cl->len = 0;
}

static void
client_read(struct client *cl, int fd)
{
    char    buf[4096];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            assert(cl->len < sizeof(cl->line) - 1);
            cl->line[cl->len++] = buf[i];
            if (buf[i] == '\n')
                client_line(cl);
        }
    }
}

static void
pump(ph_loop *loop, ph_smtp_server *srv, int fd, const uint8_t *data,
     size_t size, struct client *cl)
{
    size_t off = 0;
    bool   shut = false;
    int    turn;

    for (turn = 0; turn < MAX_TURNS && srv->core.nsessions > 0; turn++) {
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
        client_read(cl, fd);
    }
    client_read(cl, fd);
}

void
smtp_pump_session(ph_loop *loop, ph_smtp_server *srv, const uint8_t *data,
                  size_t size, struct smtp_pump_seen *seen)
{
    struct client    cl = { .len = 0 };
    ph_smtp_session *s;
    int              sv[2];

    assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    /* What smtp_server.c's accept_common does for a new connection. */
    s = smtp_session_new(srv, sv[0], NULL, 0);
    assert(s != NULL);
    smtp_session_greet(s);
    pump(loop, srv, sv[1], data, size, &cl);
    close(sv[1]);
    /* The greeting always comes first. */
    assert(cl.seen.nreplies >= 1);
    if (seen != NULL)
        *seen = cl.seen;
}
