/*
 * pop3load.c -- POP3 load generator for bench/pop3_bench.sh.
 *
 * usage: pop3load [-a ADDR] -p PORT [-u USER] [-w PASS] [-c CONNS]
 *                 [-n SESSIONS] [-t SECONDS] [-m login|stat|retr]
 *                 [-e NMSGS] [-q]
 *
 * USER may contain "%d": connection slot k (1..CONNS) then logs in as USER
 * with %d replaced by k (one user per slot, for servers that lock a
 * maildrop per session).
 *
 * Runs CONNS sessions at a time on one poll(2) loop until SESSIONS sessions
 * have been started or SECONDS have passed (both bounds always apply; a
 * session still running at the time limit is counted as "cut", not as ok).
 * One session, by mode:
 *   login  greeting, USER, PASS, QUIT
 *   stat   greeting, USER, PASS, STAT, QUIT
 *   retr   greeting, USER, PASS, STAT, RETR 1 .. RETR n (one at a time,
 *          n from STAT), QUIT
 * A session fails on: connect error, -ERR or any reply not starting "+OK",
 * a status line over 512 bytes or not ending in CRLF, the connection closing
 * before the QUIT reply, a bare LF or a malformed terminator in a RETR body,
 * a STAT count different from -e NMSGS (when given), and, in retr mode,
 * retrieved octets (after removing dot-stuffing and the ".CRLF" terminator)
 * that do not add up to the octets STAT announced.
 *
 * Output: one line of key=value on stdout (see the printf at the end):
 * sessions ok / failed / cut, logins, messages, octets, wall time,
 * logins_per_s, msgs_per_s, MB_per_s (message octets / 10^6 / s), the
 * client's own CPU seconds. The first few failure reasons go to stderr.
 * Exit status: 0 if no session failed and none was cut, 1 otherwise,
 * 2 on usage errors. Loopback only: ADDR must be in 127.0.0.0/8.
 *
 * Build: cc -O2 -o pop3load pop3load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadutil.h"

enum mode { M_LOGIN, M_STAT, M_RETR };
enum step { S_GREET, S_USER, S_PASS, S_STAT, S_RETR, S_QUIT };
/* where a RETR body is: inside a line, at a line start, after a line-start
 * ".", after a line-start ".\r" */
enum body { B_MID, B_BOL, B_DOT, B_DOTCR };

#define LINE_MAX_LEN 512
#define RBUF_LEN (256 * 1024)

struct sess {
    int fd;             /* -1: slot free */
    int slot;           /* index among the CONNS slots */
    enum step step;
    int in_body;        /* reading a RETR body */
    enum body bst;
    int prev_cr;        /* last body byte was CR */
    long nmsgs, cur;    /* STAT count, RETR number in progress */
    uint64_t stat_octets, got_octets, msg_start;
    size_t llen;
    char line[LINE_MAX_LEN];
};

static struct {
    enum mode mode;
    const char *user, *pass;
    long expect_msgs; /* -1: do not check */
    int quiet;
} opt = { M_RETR, "bench", "bench", -1, 0 };

static struct {
    long started, ok, failed, logins, msgs;
    uint64_t octets, wire;
    int reported;
} st;

static void end_session(struct sess *s, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void end_session(struct sess *s, int ok, const char *fmt, ...)
{
    if (ok) {
        st.ok++;
    } else {
        st.failed++;
        if (!opt.quiet && st.reported < 5) {
            va_list ap;
            va_start(ap, fmt);
            fprintf(stderr, "pop3load: session failed (step %d, msg %ld): ", (int)s->step, s->cur);
            vfprintf(stderr, fmt, ap);
            fputc('\n', stderr);
            va_end(ap);
            st.reported++;
        }
    }
    close(s->fd);
    s->fd = -1;
}

/* Commands are a few bytes and the server answers each before we send the
 * next, so the socket buffer is empty: anything but a full write is an
 * error. Returns 0 or -1 (session ended). */
static int cmd(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cmd(struct sess *s, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) {
        end_session(s, 0, "command too long");
        return -1;
    }
    ssize_t w = send(s->fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (w != n) {
        end_session(s, 0, "send: %s", w < 0 ? strerror(errno) : "short write");
        return -1;
    }
    return 0;
}

static struct sockaddr_in target;

static int start_session(struct sess *s, int slot)
{
    memset(s, 0, sizeof *s);
    s->slot = slot;
    st.started++;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        st.failed++;
        if (!opt.quiet && st.reported++ < 5)
            fprintf(stderr, "pop3load: socket: %s\n", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (const struct sockaddr *)&target, sizeof target) < 0 &&
        errno != EINPROGRESS) {
        end_session(s, 0, "connect: %s", strerror(errno));
        return -1;
    }
    s->step = S_GREET;
    return 0;
}

static int next_retr_or_quit(struct sess *s)
{
    if (s->cur < s->nmsgs) {
        s->cur++;
        s->step = S_RETR;
        return cmd(s, "RETR %ld\r\n", s->cur);
    }
    if (opt.mode == M_RETR && s->got_octets != s->stat_octets) {
        end_session(s, 0, "retrieved %llu octets, STAT said %llu",
                    (unsigned long long)s->got_octets, (unsigned long long)s->stat_octets);
        return -1;
    }
    s->step = S_QUIT;
    return cmd(s, "QUIT\r\n");
}

/* A complete status line (CRLF stripped). 0 or -1 (session ended). */
static int on_status(struct sess *s, const char *l)
{
    if (strncmp(l, "+OK", 3) != 0 || (l[3] != '\0' && l[3] != ' ')) {
        end_session(s, 0, "reply \"%.80s\"", l);
        return -1;
    }
    switch (s->step) {
    case S_GREET:
        s->step = S_USER;
        if (strstr(opt.user, "%d")) { /* one user per connection slot */
            char u[200];
            snprintf(u, sizeof u, "%.*s%d%s", (int)(strstr(opt.user, "%d") - opt.user),
                     opt.user, s->slot + 1, strstr(opt.user, "%d") + 2);
            return cmd(s, "USER %s\r\n", u);
        }
        return cmd(s, "USER %s\r\n", opt.user);
    case S_USER:
        s->step = S_PASS;
        return cmd(s, "PASS %s\r\n", opt.pass);
    case S_PASS:
        st.logins++;
        if (opt.mode == M_LOGIN) {
            s->step = S_QUIT;
            return cmd(s, "QUIT\r\n");
        }
        s->step = S_STAT;
        return cmd(s, "STAT\r\n");
    case S_STAT: {
        long n;
        unsigned long long oct;
        if (sscanf(l + 3, " %ld %llu", &n, &oct) != 2 || n < 0) {
            end_session(s, 0, "bad STAT reply \"%.80s\"", l);
            return -1;
        }
        if (opt.expect_msgs >= 0 && n != opt.expect_msgs) {
            end_session(s, 0, "STAT: %ld messages, expected %ld", n, opt.expect_msgs);
            return -1;
        }
        s->nmsgs = opt.mode == M_RETR ? n : 0;
        s->stat_octets = oct;
        return next_retr_or_quit(s);
    }
    case S_RETR:
        s->in_body = 1;
        s->msg_start = s->got_octets;
        s->bst = B_BOL;
        s->prev_cr = 0;
        return 0;
    case S_QUIT:
        end_session(s, 1, "ok");
        return -1;
    }
    return 0;
}

/* Consumes RETR body bytes up to and including the terminating ".\r\n".
 * Returns the bytes used, or (size_t)-1 if the session ended. */
static size_t on_body(struct sess *s, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        switch (s->bst) {
        case B_MID: {
            const char *nl = memchr(p + i, '\n', n - i);
            size_t stop = nl ? (size_t)(nl - p) : n; /* index of LF or end */
            if (stop > i)
                s->prev_cr = p[stop - 1] == '\r';
            s->got_octets += stop - i;
            i = stop;
            if (nl) {
                if (!s->prev_cr) {
                    end_session(s, 0, "bare LF in message body");
                    return (size_t)-1;
                }
                s->got_octets++;
                i++;
                s->bst = B_BOL;
            }
            break;
        }
        case B_BOL:
            if (p[i] == '.') {
                s->bst = B_DOT;
                i++;
            } else {
                s->bst = B_MID;
                s->prev_cr = 0;
            }
            break;
        case B_DOT:
            if (p[i] == '\r') {
                s->bst = B_DOTCR;
                i++;
            } else { /* a stuffed dot: not part of the message */
                s->bst = B_MID;
                s->prev_cr = 0;
            }
            break;
        case B_DOTCR:
            if (p[i] != '\n') {
                end_session(s, 0, "malformed terminator in message body");
                return (size_t)-1;
            }
            i++;
            s->in_body = 0;
            st.msgs++;
            st.octets += s->got_octets - s->msg_start;
            if (next_retr_or_quit(s) < 0)
                return (size_t)-1;
            return i;
        }
    }
    return i;
}

static void on_readable(struct sess *s)
{
    static char buf[RBUF_LEN];
    ssize_t r = recv(s->fd, buf, sizeof buf, 0);
    if (r < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        end_session(s, 0, "recv: %s", strerror(errno));
        return;
    }
    if (r == 0) {
        end_session(s, 0, "connection closed by the server");
        return;
    }
    st.wire += (uint64_t)r;
    size_t i = 0, n = (size_t)r;
    while (i < n) {
        if (s->in_body) {
            size_t used = on_body(s, buf + i, n - i);
            if (used == (size_t)-1)
                return;
            i += used;
            continue;
        }
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t take = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
        if (s->llen + take >= sizeof s->line) {
            end_session(s, 0, "status line over %d bytes", LINE_MAX_LEN);
            return;
        }
        memcpy(s->line + s->llen, buf + i, take);
        s->llen += take;
        i += take;
        if (!nl)
            break;
        if (s->llen < 2 || s->line[s->llen - 2] != '\r') {
            end_session(s, 0, "status line without CRLF");
            return;
        }
        s->line[s->llen - 2] = '\0';
        s->llen = 0;
        if (on_status(s, s->line) < 0)
            return;
        /* Only a RETR body may follow a status line in the same read: the
         * server cannot have answered the command we have just sent. */
        if (i < n && !s->in_body) {
            end_session(s, 0, "unexpected data after \"%.80s\"", s->line);
            return;
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: pop3load [-a ADDR] -p PORT [-u USER] [-w PASS] [-c CONNS] [-n SESSIONS]\n"
                    "                [-t SECONDS] [-m login|stat|retr] [-e NMSGS] [-q]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 0, conns = 1, c;
    long max_sessions = 100;
    double tlimit = 30;
    while ((c = getopt(argc, argv, "a:p:u:w:c:n:t:m:e:q")) != -1) {
        switch (c) {
        case 'a': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'u': opt.user = optarg; break;
        case 'w': opt.pass = optarg; break;
        case 'c': conns = atoi(optarg); break;
        case 'n': max_sessions = atol(optarg); break;
        case 't': tlimit = atof(optarg); break;
        case 'e': opt.expect_msgs = atol(optarg); break;
        case 'q': opt.quiet = 1; break;
        case 'm':
            if (!strcmp(optarg, "login")) opt.mode = M_LOGIN;
            else if (!strcmp(optarg, "stat")) opt.mode = M_STAT;
            else if (!strcmp(optarg, "retr")) opt.mode = M_RETR;
            else usage();
            break;
        default: usage();
        }
    }
    if (optind != argc || port <= 0 || port > 65535 || conns < 1 || conns > 10000 ||
        max_sessions < 1 || !(tlimit > 0))
        usage();
    if (loopback_target(&target, addr, port) != 0) {
        fprintf(stderr, "pop3load: %s is not a loopback address\n", addr);
        return 2;
    }

    struct sess *ss = calloc((size_t)conns, sizeof *ss);
    struct pollfd *pf = calloc((size_t)conns, sizeof *pf);
    if (!ss || !pf)
        return 2;
    for (int k = 0; k < conns; k++)
        ss[k].fd = -1;

    double t0 = now(), deadline = t0 + tlimit, t;
    for (;;) {
        t = now();
        /* refill free slots while sessions remain and time is left */
        int active = 0;
        for (int k = 0; k < conns; k++) {
            while (ss[k].fd < 0 && st.started < max_sessions && t < deadline)
                start_session(&ss[k], k);
            if (ss[k].fd >= 0)
                active++;
        }
        if (active == 0 || t >= deadline)
            break;
        int np = 0;
        for (int k = 0; k < conns; k++)
            if (ss[k].fd >= 0)
                pf[np++] = (struct pollfd){ .fd = ss[k].fd, .events = POLLIN };
        int ms = (int)((deadline - t) * 1000.0) + 1;
        int r = poll(pf, (nfds_t)np, ms);
        if (r < 0 && errno != EINTR) {
            perror("pop3load: poll");
            break;
        }
        if (r <= 0)
            continue;
        /* pf[] is in slot order among the active slots */
        int j = 0;
        for (int k = 0; k < conns && j < np; k++) {
            if (ss[k].fd < 0 || ss[k].fd != pf[j].fd)
                continue;
            if (pf[j].revents & (POLLIN | POLLHUP | POLLERR))
                on_readable(&ss[k]);
            j++;
        }
    }
    double el = now() - t0;
    long cut = 0;
    for (int k = 0; k < conns; k++)
        if (ss[k].fd >= 0) {
            close(ss[k].fd);
            cut++;
        }
    double cpu = cpu_self_s();
    static const char *const names[] = { "login", "stat", "retr" };
    printf("mode=%s conns=%d started=%ld sessions_ok=%ld sessions_failed=%ld cut=%ld "
           "logins=%ld msgs=%ld octets=%llu wire_bytes=%llu elapsed_s=%.4f "
           "logins_per_s=%.1f msgs_per_s=%.1f MB_per_s=%.2f client_cpu_s=%.3f\n",
           names[opt.mode], conns, st.started, st.ok, st.failed, cut, st.logins, st.msgs,
           (unsigned long long)st.octets, (unsigned long long)st.wire, el,
           (double)st.logins / el, (double)st.msgs / el, (double)st.octets / 1e6 / el, cpu);
    free(ss);
    free(pf);
    return st.failed || cut ? 1 : 0;
}
