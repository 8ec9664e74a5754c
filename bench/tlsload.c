/*
 * tlsload.c -- SMTP-over-TLS load generator for bench/tls_bench.sh.
 *
 * usage: tlsload [-s ADDR] -p PORT [-m handshake|implicit|messages]
 *                [-c CONNS] [-n COUNT] [-t SECONDS] [-M MSGS] [-l BYTES]
 *                [-a USER:PASS] [-f FROM] [-r RCPT] [-2] [-P] [-R]
 *
 * CONNS threads, one blocking connection each (pthreads; no verification
 * of the server's certificate; TLS 1.2 or 1.3, OpenSSL's defaults, -2 caps
 * it at TLS 1.2). What one thread does, by mode:
 *   handshake  connect, 220, EHLO, STARTTLS, 220, TLS handshake, EHLO,
 *              QUIT, 221, close_notify, close -- again and again
 *   implicit   connect, TLS handshake, 220, EHLO, QUIT, 221, close_notify,
 *              close -- again and again (SMTPS, RFC 8314)
 *   messages   one session: connect, 220, EHLO, STARTTLS, 220, handshake,
 *              EHLO (-P: no STARTTLS, plaintext throughout), AUTH PLAIN when
 *              -a is given (235 expected), then MSGS times MAIL FROM, RCPT
 *              TO, DATA, a message of BYTES bytes (CRLF lines of at most 78
 *              characters, no line starts with a dot), "." (250 expected
 *              for each), then QUIT, 221
 * -R (handshake, implicit): every connection after a thread's first offers
 * the TLS session (TLS 1.3 ticket or TLS 1.2 session) that thread last
 * received; "resumed" counts the handshakes the server accepted it in.
 *
 * Bounds, both always applied: handshake and implicit stop starting
 * connections once COUNT handshakes have been started or SECONDS have
 * passed (a connection already under way is finished and counted); in
 * messages mode each thread stops before its next message once SECONDS
 * have passed, sends QUIT and the run is counted as cut (exit status 1).
 * Every socket has a 15 s send/receive timeout, so a server that stops
 * answering fails the run instead of hanging it.
 *
 * Any protocol error -- a connect error, a reply code other than the one
 * expected, a reply line over 1000 bytes or without CRLF, data pipelined
 * behind the STARTTLS reply (RFC 3207 5), a failed handshake, a connection
 * closed early -- stops the whole run: the reply (or the error) is printed
 * on stderr and the exit status is 1.
 *
 * Output: one line of key=value on stdout (see the printf at the end):
 * handshakes, resumed, messages, octets, wall time, hs_per_s, msgs_per_s,
 * MB_per_s (message bytes / 10^6 / s), the client's own CPU seconds, and
 * the TLS version, cipher suite and key-exchange group of the first
 * handshake. Exit status: 0 on success, 1 on a failed or cut run, 2 on
 * usage errors. Loopback only: ADDR must be in 127.0.0.0/8.
 *
 * Build: cc -O2 -pthread -o tlsload tlsload.c $(pkg-config --cflags --libs openssl)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "loadutil.h"

enum mode { M_HANDSHAKE, M_IMPLICIT, M_MESSAGES };

#define REPLY_MAX 1000

static struct {
    enum mode mode;
    int conns, tls12, plain, resume;
    long count, msgs, len;
    double tlimit;
    const char *auth, *from, *rcpt;
} opt = { M_HANDSHAKE, 1, 0, 0, 0, 1000, 100, 4096, 30, NULL,
          "a@x.test", "bench@bench.test" };

static struct sockaddr_in target;
static SSL_CTX *ctx;
static char *message;           /* the DATA payload, dot terminator included */
static size_t message_len;      /* without the terminator */
static char auth_line[600];
static double deadline;

static atomic_long started, handshakes, resumed, msgs, failures, cut;
static atomic_int stop;         /* a failure: every thread stops */
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t info_lock = PTHREAD_MUTEX_INITIALIZER;
static char info_proto[32] = "-", info_cipher[64] = "-", info_group[32] = "-";
static atomic_int info_set;

/* One connection: the socket, its TLS state once started, a read buffer. */
struct conn {
    int fd;
    SSL *ssl;
    int id;                     /* thread number, for messages */
    SSL_SESSION *sess;          /* -R: the last session received */
    size_t off, len;
    char buf[16384];
    char line[REPLY_MAX + 1];   /* the last reply line, for errors */
};

static void fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    atomic_store(&stop, 1);
    if (atomic_fetch_add(&failures, 1) >= 5)
        return;
    pthread_mutex_lock(&err_lock);
    fprintf(stderr, "tlsload: connection %d: ", c->id);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    unsigned long e;
    char eb[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, eb, sizeof eb);
        fprintf(stderr, "tlsload:   %s\n", eb);
    }
    pthread_mutex_unlock(&err_lock);
}

static int conn_open(struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail(c, "socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = { 15, 0 };
    int one = 1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&target, sizeof target) != 0) {
        fail(c, "connect: %s", strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->ssl = NULL;
    c->off = c->len = 0;
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);   /* sends close_notify; does not wait */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            size_t done = 0;
            if (SSL_write_ex(c->ssl, p, n, &done) != 1) {
                fail(c, "TLS write failed (SSL error %d)", SSL_get_error(c->ssl, 0));
                return -1;
            }
            w = (ssize_t)done;
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                fail(c, "send: %s", strerror(errno));
                return -1;
            }
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int cmd(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cmd(struct conn *c, const char *fmt, ...)
{
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof b)
        return -1;
    return conn_write(c, b, (size_t)n);
}

static int fill(struct conn *c)
{
    if (c->off > 0 && c->off == c->len)
        c->off = c->len = 0;
    if (c->len == sizeof c->buf) {
        if (c->off == 0)
            return -1;
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    for (;;) {
        if (c->ssl) {
            size_t got = 0;
            if (SSL_read_ex(c->ssl, c->buf + c->len, sizeof c->buf - c->len, &got) == 1) {
                c->len += got;
                return 0;
            }
            int e = SSL_get_error(c->ssl, 0);
            fail(c, "TLS read failed (SSL error %d%s) after \"%.200s\"", e,
                 e == SSL_ERROR_ZERO_RETURN ? ": close_notify" : "", c->line);
            return -1;
        }
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            fail(c, "%s after \"%.200s\"", r == 0 ? "connection closed" : strerror(errno), c->line);
            return -1;
        }
        c->len += (size_t)r;
        return 0;
    }
}

/* Reads one reply (all lines of a multiline one); 0 if its code is want. */
static int reply(struct conn *c, int want, const char *what)
{
    for (;;) {
        char *nl;
        while ((nl = memchr(c->buf + c->off, '\n', c->len - c->off)) == NULL) {
            if (c->len - c->off > REPLY_MAX) {
                fail(c, "%s: reply line over %d bytes", what, REPLY_MAX);
                return -1;
            }
            if (fill(c) != 0)
                return -1;
        }
        size_t n = (size_t)(nl - (c->buf + c->off)) + 1;
        if (n > REPLY_MAX) {
            fail(c, "%s: reply line over %d bytes", what, REPLY_MAX);
            return -1;
        }
        memcpy(c->line, c->buf + c->off, n - 1);
        c->line[n - 1] = '\0';
        c->off += n;
        /* "ddd", "ddd text" or "ddd-text" (RFC 5321 4.2), then CRLF */
        if (n < 5 || c->line[n - 2] != '\r' || c->line[0] < '2' || c->line[0] > '5' ||
            c->line[1] < '0' || c->line[1] > '9' || c->line[2] < '0' || c->line[2] > '9' ||
            (n > 5 && c->line[3] != ' ' && c->line[3] != '-')) {
            fail(c, "%s: malformed reply line \"%.200s\"", what, c->line);
            return -1;
        }
        c->line[n - 2] = '\0';
        if (c->line[3] == '-')
            continue;
        int code = atoi(c->line);
        if (code != want) {
            fail(c, "%s: expected %d, got \"%.300s\"", what, want, c->line);
            return -1;
        }
        return 0;
    }
}

static int new_session_cb(SSL *ssl, SSL_SESSION *s)
{
    struct conn *c = SSL_get_app_data(ssl);
    if (c == NULL || !opt.resume)
        return 0;
    if (c->sess)
        SSL_SESSION_free(c->sess);
    c->sess = s;
    return 1;                   /* we keep the reference */
}

static int tls_start(struct conn *c)
{
    if (c->off != c->len) {
        fail(c, "%zu bytes pipelined behind the reply \"%.200s\"", c->len - c->off, c->line);
        return -1;
    }
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        fail(c, "SSL_new failed");
        return -1;
    }
    SSL_set_app_data(c->ssl, c);
    if (opt.resume && c->sess)
        SSL_set_session(c->ssl, c->sess);
    int r = SSL_connect(c->ssl);
    if (r != 1) {
        fail(c, "TLS handshake failed (SSL error %d)", SSL_get_error(c->ssl, r));
        return -1;
    }
    atomic_fetch_add(&handshakes, 1);
    if (SSL_session_reused(c->ssl))
        atomic_fetch_add(&resumed, 1);
    if (!info_set) {
        pthread_mutex_lock(&info_lock);
        if (!info_set) {
            int g = SSL_get_negotiated_group(c->ssl);
            const char *gn = g ? SSL_group_to_name(c->ssl, g) : NULL;
            snprintf(info_proto, sizeof info_proto, "%s", SSL_get_version(c->ssl));
            snprintf(info_cipher, sizeof info_cipher, "%s", SSL_get_cipher_name(c->ssl));
            snprintf(info_group, sizeof info_group, "%s", gn ? gn : "-");
            info_set = 1;
        }
        pthread_mutex_unlock(&info_lock);
    }
    return 0;
}

/* connect, greeting, EHLO, and STARTTLS/implicit TLS with the second EHLO */
static int session_start(struct conn *c, int tls, int implicit)
{
    if (conn_open(c) != 0)
        return -1;
    if (implicit) {
        if (tls_start(c) != 0 || reply(c, 220, "greeting") != 0)
            return -1;
    } else if (reply(c, 220, "greeting") != 0)
        return -1;
    if (cmd(c, "EHLO tlsload.test\r\n") != 0 || reply(c, 250, "EHLO") != 0)
        return -1;
    if (tls && !implicit) {
        if (cmd(c, "STARTTLS\r\n") != 0 || reply(c, 220, "STARTTLS") != 0 || tls_start(c) != 0)
            return -1;
        if (cmd(c, "EHLO tlsload.test\r\n") != 0 || reply(c, 250, "EHLO after STARTTLS") != 0)
            return -1;
    }
    return 0;
}

static int session_quit(struct conn *c)
{
    if (cmd(c, "QUIT\r\n") != 0 || reply(c, 221, "QUIT") != 0)
        return -1;
    conn_close(c);
    return 0;
}

static void *worker(void *arg)
{
    struct conn *c = arg;

    if (opt.mode != M_MESSAGES) {
        while (!atomic_load(&stop) && now() < deadline &&
               atomic_fetch_add(&started, 1) < opt.count) {
            if (session_start(c, 1, opt.mode == M_IMPLICIT) != 0 || session_quit(c) != 0)
                break;
        }
        conn_close(c);
        return NULL;
    }

    atomic_fetch_add(&started, 1);
    if (session_start(c, !opt.plain, 0) != 0)
        goto out;
    if (opt.auth && (cmd(c, "%s", auth_line) != 0 || reply(c, 235, "AUTH PLAIN") != 0))
        goto out;
    for (long i = 0; i < opt.msgs; i++) {
        if (atomic_load(&stop))
            goto out;
        if (now() >= deadline) {
            atomic_fetch_add(&cut, 1);
            break;
        }
        if (cmd(c, "MAIL FROM:<%s>\r\n", opt.from) != 0 || reply(c, 250, "MAIL") != 0 ||
            cmd(c, "RCPT TO:<%s>\r\n", opt.rcpt) != 0 || reply(c, 250, "RCPT") != 0 ||
            cmd(c, "DATA\r\n") != 0 || reply(c, 354, "DATA") != 0 ||
            conn_write(c, message, message_len + 3) != 0 || reply(c, 250, "end of DATA") != 0)
            goto out;
        atomic_fetch_add(&msgs, 1);
    }
    session_quit(c);
out:
    conn_close(c);
    return NULL;
}

/* Headers, then body lines of at most 76 letters + CRLF: exactly len
 * bytes, then ".\r\n". */
static int build_message(void)
{
    char hdr[256];
    int h = snprintf(hdr, sizeof hdr,
                     "From: <%s>\r\nTo: <%s>\r\nSubject: tlsload\r\n"
                     "Message-ID: <tlsload@tlsload.test>\r\n\r\n", opt.from, opt.rcpt);
    if (h < 0 || (size_t)h >= sizeof hdr || opt.len < h + 2)
        return -1;
    message = malloc((size_t)opt.len + 3);
    if (!message)
        return -1;
    memcpy(message, hdr, (size_t)h);
    size_t p = (size_t)h, n = (size_t)opt.len;
    while (p < n) {             /* n - p is never 1: see the 79 case */
        size_t left = n - p, l = left > 78 ? (left == 79 ? 75 : 76) : left - 2;
        for (size_t k = 0; k < l; k++)
            message[p + k] = (char)('a' + (p + k) % 26);
        p += l;
        message[p++] = '\r';
        message[p++] = '\n';
    }
    memcpy(message + n, ".\r\n", 3);
    message_len = n;
    return 0;
}

static void build_auth(void)
{
    const char *colon = strchr(opt.auth, ':');
    unsigned char raw[400];
    size_t ul = (size_t)(colon - opt.auth), pl = strlen(colon + 1);
    raw[0] = '\0';
    memcpy(raw + 1, opt.auth, ul);
    raw[1 + ul] = '\0';
    memcpy(raw + 2 + ul, colon + 1, pl);
    char b64[560];
    int n = EVP_EncodeBlock((unsigned char *)b64, raw, (int)(2 + ul + pl));
    snprintf(auth_line, sizeof auth_line, "AUTH PLAIN %.*s\r\n", n, b64);
}

static void usage(void)
{
    fprintf(stderr, "usage: tlsload [-s ADDR] -p PORT [-m handshake|implicit|messages] [-c CONNS]\n"
                    "               [-n COUNT] [-t SECONDS] [-M MSGS] [-l BYTES] [-a USER:PASS]\n"
                    "               [-f FROM] [-r RCPT] [-2] [-P] [-R]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int port = 0, c;
    while ((c = getopt(argc, argv, "s:p:m:c:n:t:M:l:a:f:r:2PR")) != -1) {
        switch (c) {
        case 's': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': opt.conns = atoi(optarg); break;
        case 'n': opt.count = atol(optarg); break;
        case 't': opt.tlimit = atof(optarg); break;
        case 'M': opt.msgs = atol(optarg); break;
        case 'l': opt.len = atol(optarg); break;
        case 'a': opt.auth = optarg; break;
        case 'f': opt.from = optarg; break;
        case 'r': opt.rcpt = optarg; break;
        case '2': opt.tls12 = 1; break;
        case 'P': opt.plain = 1; break;
        case 'R': opt.resume = 1; break;
        case 'm':
            if (!strcmp(optarg, "handshake")) opt.mode = M_HANDSHAKE;
            else if (!strcmp(optarg, "implicit")) opt.mode = M_IMPLICIT;
            else if (!strcmp(optarg, "messages")) opt.mode = M_MESSAGES;
            else usage();
            break;
        default: usage();
        }
    }
    if (optind != argc || port <= 0 || port > 65535 || opt.conns < 1 || opt.conns > 1000 ||
        opt.count < 1 || opt.msgs < 1 || opt.len < 100 || opt.len > (64L << 20) ||
        !(opt.tlimit > 0) || (opt.plain && opt.mode != M_MESSAGES) ||
        (opt.resume && opt.mode == M_MESSAGES) ||
        (opt.auth && (!strchr(opt.auth, ':') || strlen(opt.auth) > 300)) ||
        strlen(opt.from) > 300 || strlen(opt.rcpt) > 300)
        usage();
    if (loopback_target(&target, addr, port) != 0) {
        fprintf(stderr, "tlsload: %s is not a loopback address\n", addr);
        return 2;
    }
    if (opt.mode == M_MESSAGES && build_message() != 0) {
        fprintf(stderr, "tlsload: cannot build a %ld-byte message\n", opt.len);
        return 2;
    }
    if (opt.auth)
        build_auth();
    signal(SIGPIPE, SIG_IGN);   /* close_notify to a server that has closed */

    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        fprintf(stderr, "tlsload: SSL_CTX_new failed\n");
        return 2;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (opt.tls12)
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    if (opt.resume) {
        /* sessions go to new_session_cb (TLS 1.3 tickets arrive after the
         * handshake); no internal cache */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }

    struct conn *cs = calloc((size_t)opt.conns, sizeof *cs);
    pthread_t *th = calloc((size_t)opt.conns, sizeof *th);
    if (!cs || !th)
        return 2;
    double t0 = now();
    deadline = t0 + opt.tlimit;
    int nth = 0;
    for (int k = 0; k < opt.conns; k++) {
        cs[k].fd = -1;
        cs[k].id = k + 1;
        if (pthread_create(&th[k], NULL, worker, &cs[k]) != 0) {
            fprintf(stderr, "tlsload: pthread_create failed\n");
            atomic_store(&stop, 1);
            atomic_fetch_add(&failures, 1);
            break;
        }
        nth++;
    }
    for (int k = 0; k < nth; k++)
        pthread_join(th[k], NULL);
    double el = now() - t0;
    for (int k = 0; k < opt.conns; k++)
        if (cs[k].sess)
            SSL_SESSION_free(cs[k].sess);

    double cpu = cpu_self_s();
    static const char *const names[] = { "handshake", "implicit", "messages" };
    long nh = atomic_load(&handshakes), nm = atomic_load(&msgs);
    long nf = atomic_load(&failures), nc = atomic_load(&cut);
    printf("mode=%s conns=%d tls=%s handshakes=%ld resumed=%ld msgs=%ld octets=%lld "
           "failed=%ld cut=%ld elapsed_s=%.4f hs_per_s=%.1f msgs_per_s=%.1f MB_per_s=%.2f "
           "client_cpu_s=%.3f proto=%s cipher=%s group=%s\n",
           names[opt.mode], opt.conns, opt.plain ? "no" : "yes", nh, atomic_load(&resumed), nm,
           (long long)nm * opt.len, nf, nc, el, (double)nh / el, (double)nm / el,
           (double)nm * (double)opt.len / 1e6 / el, cpu, info_proto, info_cipher, info_group);
    free(cs);
    free(th);
    free(message);
    SSL_CTX_free(ctx);
    return nf || nc ? 1 : 0;
}
