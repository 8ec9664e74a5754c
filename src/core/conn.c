/*
 * conn.c -- the connection object: one bufferevent per client. Protocol
 * code reads from ph_conn_input(), writes with ph_conn_write() and never
 * sees the socket. Output written during one read callback leaves in one
 * write when the loop regains control (pipelined replies, RFC 2920).
 * TLS: an implicit-TLS connection gets an OpenSSL bufferevent from the
 * start; STARTTLS replaces the socket bufferevent by an OpenSSL one on
 * the same fd once the "go ahead" reply is out, dropping every plaintext
 * byte read so far (CVE-2011-0411: nothing pipelined before the
 * handshake may be taken as a command after it).
 */
#include "core/core_internal.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

/* Above this much unsent output we stop reading until it drains. */
#define PH_CONN_OUT_HIGH (256 * 1024)
/* Unprocessed input we accept while paused; libevent stops reading the
   socket above it. Reading stays on below it so that a client who leaves
   while a handler is pending is noticed (EOF) at once. */
#define PH_CONN_IN_HIGH  (256 * 1024)

static void
addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap,
          unsigned *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)cap);
        *port = ntohs(s6->sin6_port);
    } else if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)cap);
        *port = ntohs(s4->sin_port);
    } else {
        strcpy(buf, "unix");
        *port = 0;
    }
}

static void conn_drained(struct ph_conn *c);

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
    struct ph_conn *c = arg;

    (void)bev;
    if (!c->dead && !c->read_paused && c->tls != PH_CONN_TLS_PENDING &&
        c->tls != PH_CONN_TLS_HANDSHAKE)
        c->ops->on_read(c->ctx);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
    struct ph_conn *c = arg;

    (void)bev;
    if (c->dead || evbuffer_get_length(c->out) > 0)
        return;                 /* a flush is queued: it finishes this */
    conn_drained(c);
}

/* The reason a handshake failed, for the session's log line. */
static void
conn_tls_failed(struct ph_conn *c, short what)
{
    unsigned long e = bufferevent_get_openssl_error(c->bev);

    if (e != 0)
        ERR_error_string_n(e, c->tls_error, sizeof(c->tls_error));
    else
        snprintf(c->tls_error, sizeof(c->tls_error), "%s",
                 (what & BEV_EVENT_TIMEOUT) ? "handshake timeout"
                 : (what & BEV_EVENT_EOF) ? "client closed the connection"
                 : "handshake failed");
    while (bufferevent_get_openssl_error(c->bev) != 0)
        ;                       /* leave no stale errors behind */
    c->dead = true;
    c->ops->on_event(c->ctx, PH_CONN_TLS_FAILED);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
    struct ph_conn    *c = arg;
    enum ph_conn_event ev;

    (void)bev;
    if (c->dead)
        return;
    if (c->tls == PH_CONN_TLS_HANDSHAKE) {
        if (what & BEV_EVENT_CONNECTED) {
            c->tls = PH_CONN_TLS_ON;
            if (c->tls_deadline)
                evtimer_del(c->tls_deadline);
            if (c->ops->on_tls)
                c->ops->on_tls(c->ctx);
            /* Output queued before the handshake (implicit TLS greeting)
               goes out now; input may be waiting as well. */
            if (!c->dead)
                event_active(c->defer_ev, EV_TIMEOUT, 0);
        } else {
            conn_tls_failed(c, what);
        }
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        ev = c->closing ? PH_CONN_ERROR : PH_CONN_TIMEOUT;
        c->timeout_writing = (what & BEV_EVENT_WRITING) != 0;
    }
    else if (what & BEV_EVENT_EOF)
        ev = PH_CONN_EOF;
    else
        ev = PH_CONN_ERROR;
    if (ev != PH_CONN_TIMEOUT)
        c->dead = true;
    c->ops->on_event(c->ctx, ev);
}

/* Everything written: finish a close, or let the session read again. */
static void conn_switch_tls(struct ph_conn *c);

static void
conn_drained(struct ph_conn *c)
{
    if (c->tls == PH_CONN_TLS_PENDING && !c->closing) {
        conn_switch_tls(c);
        return;
    }
    if (c->closing) {
        c->dead = true;
        c->ops->on_event(c->ctx, PH_CONN_CLOSED);
    } else if (c->ops->on_drain) {
        c->ops->on_drain(c->ctx);
    }
}

static void
conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ph_conn  *c = arg;
    struct evbuffer *bout;

    (void)fd;
    (void)what;
    if (c->dead || evbuffer_get_length(c->out) == 0)
        return;
    bout = bufferevent_get_output(c->bev);
    if (c->direct && evbuffer_get_length(bout) == 0)
        evbuffer_write(c->out, bufferevent_getfd(c->bev));
    if (evbuffer_get_length(c->out) == 0) {
        conn_drained(c);
        return;
    }
    /* The rest (or an error to be found) goes the bufferevent's way; its
       write event is armed only now, not for every connection. */
    evbuffer_add_buffer(bout, c->out);
    bufferevent_enable(c->bev, EV_WRITE);
}

/* Runs the deferred read: input that was left while paused or pending. */
static void
conn_defer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ph_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->dead)
        return;
    if (c->closing) {
        if (ph_conn_output_len(c) == 0) {
            c->dead = true;
            c->ops->on_event(c->ctx, PH_CONN_CLOSED);
        }
        return;
    }
    if (c->tls == PH_CONN_TLS_PENDING) {
        if (ph_conn_output_len(c) == 0)
            conn_switch_tls(c);     /* nothing queued: switch now */
        return;
    }
    if (c->tls == PH_CONN_TLS_HANDSHAKE)
        return;
    if (!c->read_paused)
        c->ops->on_read(c->ctx);
}

struct ph_conn *
ph_conn_new(ph_loop *loop, evutil_socket_t fd, const struct sockaddr *peer,
            socklen_t peer_len, const struct ph_conn_ops *ops, void *ctx)
{
    struct ph_conn *c = calloc(1, sizeof(*c));
    socklen_t       len;

    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->loop = loop;
    c->ops = ops;
    c->ctx = ctx;
    c->bev = bufferevent_socket_new(loop->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->defer_ev = event_new(loop->base, -1, 0, conn_defer_cb, c);
    c->flush_ev = event_new(loop->base, -1, 0, conn_flush_cb, c);
    c->out = evbuffer_new();
    c->direct = true;
    if (c->bev == NULL || c->defer_ev == NULL || c->flush_ev == NULL ||
        c->out == NULL) {
        if (c->bev == NULL)
            close(fd);
        ph_conn_free(c);
        return NULL;
    }
    if (peer != NULL && peer_len <= sizeof(c->peer)) {
        memcpy(&c->peer, peer, peer_len);   /* accept() told us already */
    } else {
        len = sizeof(c->peer);
        getpeername(fd, (struct sockaddr *)&c->peer, &len);
    }
    len = sizeof(c->local);
    getsockname(fd, (struct sockaddr *)&c->local, &len);
    if (c->peer.ss_family == AF_INET || c->peer.ss_family == AF_INET6) {
        /* Replies are small and written once per input batch: Nagle would
           only hold them back behind delayed ACKs. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    addr_text(&c->peer, c->peer_addr, sizeof(c->peer_addr), &c->peer_port);
    addr_text(&c->local, c->local_addr, sizeof(c->local_addr),
              &c->local_port);
    bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, PH_CONN_IN_HIGH);
    bufferevent_enable(c->bev, EV_READ);
    return c;
}

void
ph_conn_free(struct ph_conn *c)
{
    if (c == NULL)
        return;
    if (c->tls_ctx)
        SSL_CTX_free(c->tls_ctx);
    if (c->tls_deadline)
        event_free(c->tls_deadline);
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->defer_ev)
        event_free(c->defer_ev);
    if (c->flush_ev)
        event_free(c->flush_ev);
    if (c->out)
        evbuffer_free(c->out);
    free(c);
}

size_t
ph_conn_output_len(struct ph_conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev)) +
           evbuffer_get_length(c->out);
}

int
ph_conn_write(struct ph_conn *c, const void *p, size_t len)
{
    if (c->dead)
        return PH_ECLOSED;
    if (evbuffer_add(c->out, p, len) != 0)
        return PH_ENOMEM;
    event_active(c->flush_ev, EV_TIMEOUT, 0);   /* once per batch */
    return 0;
}

void
ph_conn_set_timeout(struct ph_conn *c, unsigned seconds)
{
    struct timeval tv = { (time_t)seconds, 0 };

    c->timeout_s = seconds;
    bufferevent_set_timeouts(c->bev, seconds ? &tv : NULL,
                             seconds ? &tv : NULL);
}

/* A soft pause: input is no longer handed to the protocol, but the
   socket is still read (up to PH_CONN_IN_HIGH) so EOF and errors arrive. */
void
ph_conn_pause_read(struct ph_conn *c)
{
    c->read_paused = true;
}

/* After an ignored read timeout libevent has disabled reading: turn it
   back on. Only reading: re-adding the write event would restart its
   timer, and a client that takes no output would never time out. */
void
ph_conn_rearm(struct ph_conn *c)
{
    if (c->dead || c->closing)
        return;
    bufferevent_enable(c->bev, EV_READ);
}

void
ph_conn_resume_read(struct ph_conn *c)
{
    if (c->dead || c->closing)
        return;
    c->read_paused = false;
    bufferevent_enable(c->bev, EV_READ);
    ph_conn_schedule_read(c);
}

void
ph_conn_schedule_read(struct ph_conn *c)
{
    event_active(c->defer_ev, EV_TIMEOUT, 0);
}

void
ph_conn_close_after_flush(struct ph_conn *c)
{
    if (c->dead || c->closing)
        return;
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
    /* If nothing is queued, the write callback will not fire. */
    event_active(c->defer_ev, EV_TIMEOUT, 0);
}

bool
ph_conn_output_high(struct ph_conn *c)
{
    return ph_conn_output_len(c) > PH_CONN_OUT_HIGH;
}

/* ---- TLS ---------------------------------------------------------------- */

/* Puts an OpenSSL bufferevent (server side, handshake pending) on fd. */
static int
conn_attach_ssl(struct ph_conn *c, evutil_socket_t fd, SSL_CTX *ctx)
{
    SSL                *ssl = SSL_new(ctx);
    struct bufferevent *bev;

    if (ssl == NULL)
        return PH_ENOMEM;
    bev = bufferevent_openssl_socket_new(c->loop->base, fd, ssl,
                                         BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return PH_ENOMEM;
    }
    /* Mail clients often close without close_notify: that is an EOF,
       not an error (nothing is lost: every command is acknowledged). */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    c->bev = bev;
    c->direct = false;
    c->tls = PH_CONN_TLS_HANDSHAKE;
    bufferevent_setcb(bev, conn_readcb, conn_writecb, conn_eventcb, c);
    bufferevent_setwatermark(bev, EV_READ, 0, PH_CONN_IN_HIGH);
    ph_conn_set_timeout(c, c->timeout_s);
    bufferevent_enable(bev, EV_READ);
    return 0;
}

static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ph_conn *c = arg;

    (void)fd;
    (void)what;
    if (!c->dead && (c->tls == PH_CONN_TLS_PENDING ||
                     c->tls == PH_CONN_TLS_HANDSHAKE))
        conn_tls_failed(c, BEV_EVENT_TIMEOUT);
}

static int
conn_arm_deadline(struct ph_conn *c, unsigned seconds)
{
    struct timeval tv = { (time_t)seconds, 0 };

    if (seconds == 0)
        return 0;
    if (c->tls_deadline == NULL &&
        (c->tls_deadline = evtimer_new(c->loop->base, conn_deadline_cb, c))
            == NULL)
        return PH_ENOMEM;
    return evtimer_add(c->tls_deadline, &tv) == 0 ? 0 : PH_ENOMEM;
}

int
ph_conn_accept_tls(struct ph_conn *c, SSL_CTX *ctx, unsigned deadline_s)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    int             rc;

    if (ctx == NULL || c->dead || c->tls != PH_CONN_TLS_OFF)
        return PH_EINVAL;
    /* Nothing has been read yet: the socket bufferevent is simply
       swapped for an OpenSSL one on the same fd. */
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    bufferevent_setfd(c->bev, -1);
    bufferevent_free(c->bev);
    c->bev = NULL;
    if ((rc = conn_attach_ssl(c, fd, ctx)) != 0 ||
        (rc = conn_arm_deadline(c, deadline_s)) != 0) {
        if (c->bev == NULL)
            evutil_closesocket(fd);
        c->dead = true;
    }
    return rc;
}

int
ph_conn_start_tls(struct ph_conn *c, SSL_CTX *ctx, unsigned deadline_s)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    if (c->dead || c->closing)
        return PH_ECLOSED;
    if (ctx == NULL || c->tls != PH_CONN_TLS_OFF)
        return PH_EINVAL;
    if (conn_arm_deadline(c, deadline_s) != 0)
        return PH_ENOMEM;
    c->tls_discarded = evbuffer_get_length(in);
    evbuffer_drain(in, c->tls_discarded);
    SSL_CTX_up_ref(ctx);
    c->tls_ctx = ctx;
    c->tls = PH_CONN_TLS_PENDING;
    /* If the reply was suppressed, nothing will drain: check later. */
    event_active(c->defer_ev, EV_TIMEOUT, 0);
    return 0;
}

/* The "go ahead" reply is written: from here on the bytes are TLS. */
static void
conn_switch_tls(struct ph_conn *c)
{
    evutil_socket_t  fd = bufferevent_getfd(c->bev);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    SSL_CTX         *ctx = c->tls_ctx;

    c->tls_discarded += evbuffer_get_length(in);
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    bufferevent_setfd(c->bev, -1);
    bufferevent_free(c->bev);   /* and with it every plaintext byte */
    c->bev = NULL;
    c->tls_ctx = NULL;
    if (conn_attach_ssl(c, fd, ctx) != 0) {
        evutil_closesocket(fd);
        snprintf(c->tls_error, sizeof(c->tls_error), "out of memory");
        c->dead = true;
        c->ops->on_event(c->ctx, PH_CONN_TLS_FAILED);
    }
    SSL_CTX_free(ctx);
}

bool
ph_conn_tls_info(struct ph_conn *c, struct ph_tls_info *out)
{
    SSL *ssl;

    if (c == NULL || c->tls != PH_CONN_TLS_ON ||
        (ssl = bufferevent_openssl_get_ssl(c->bev)) == NULL)
        return false;
    out->protocol = SSL_get_version(ssl);
    out->cipher = SSL_get_cipher_name(ssl);
    out->bits = SSL_get_cipher_bits(ssl, NULL);
    return true;
}

void
ph_conn_log_tls(struct ph_conn *c, const char *who, const char *injected)
{
    struct ph_tls_info ti;

    if (!ph_conn_tls_info(c, &ti))
        return;
    ph_log(c->loop, PH_LOG_INFO, "%s event=tls protocol=%s cipher=%s "
           "bits=%d", who, ti.protocol, ti.cipher, ti.bits);
    if (c->tls_discarded > 0)
        ph_log(c->loop, PH_LOG_WARN, "%s event=%s discarded=%zu", who,
               injected, c->tls_discarded);
}
