/*
 * listener.c -- listening sockets on IPv4 and IPv6. Binding is done by
 * hand (not evconnlistener_new_bind) so that a failure names its step
 * ("socket", "bind", "listen") for the POP3 seed's listener_failed.
 */
#include "core/core_internal.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PH_LISTEN_BACKLOG 1024

static void
listen_failed(ph_loop *loop, const char *addr, const char *op, int errnum,
              ph_listener_failed_fn *fn, void *ctx)
{
    ph_log(loop, PH_LOG_ERROR, "event=listen_failed addr=%s op=%s errno=%d "
           "error=\"%s\"", addr, op, errnum, strerror(errnum));
    if (fn)
        fn(ctx, op, errnum, strerror(errnum));
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
          struct sockaddr *sa, int salen, void *arg)
{
    struct ph_listener *l = arg;

    (void)lev;
    l->accept_fn(l->ctx, fd, sa, (socklen_t)salen);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ph_listener *l = arg;

    (void)fd;
    (void)what;
    evconnlistener_enable(l->lev);
}

/* EMFILE and friends: pause accepting for a second instead of spinning. */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct ph_listener *l = arg;
    struct timeval      tv = { 1, 0 };
    int                 err = EVUTIL_SOCKET_ERROR();

    ph_log(l->loop, PH_LOG_WARN, "event=accept_error errno=%d error=\"%s\"",
           err, strerror(err));
    evconnlistener_disable(lev);
    evtimer_add(l->retry_ev, &tv);
}

static int
bind_socket(const struct sockaddr_storage *ss, socklen_t len, bool reuse_port,
            const char **op_out)
{
    int fd, one = 1;

    *op_out = "socket";
    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    *op_out = "setsockopt";
    if (ss->ss_family != AF_UNIX &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    if (reuse_port &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (ss->ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    if (ss->ss_family == AF_UNIX) {
        /* A socket file left by an earlier run would make bind fail;
           remove it, but never a file of any other kind. */
        const char *path = ((const struct sockaddr_un *)ss)->sun_path;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
    }
    *op_out = "bind";
    if (bind(fd, (const struct sockaddr *)ss, len) < 0)
        goto fail;
    *op_out = "listen";
    if (listen(fd, PH_LISTEN_BACKLOG) < 0)
        goto fail;
    return fd;
fail:
    {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return -1;
}

int
ph_listener_open(struct ph_listener *l, ph_loop *loop, const char *addr,
                 bool reuse_port, ph_accept_fn *fn, void *ctx,
                 ph_listener_failed_fn *failed_fn, void *failed_ctx)
{
    const char *op;
    int         fd;

    memset(l, 0, sizeof(*l));
    l->loop = loop;
    l->accept_fn = fn;
    l->ctx = ctx;
    if (ph_addr_parse(addr, &l->addr, &l->addr_len) != 0) {
        listen_failed(loop, addr, "parse", EINVAL, failed_fn, failed_ctx);
        return PH_EADDR;
    }
    fd = bind_socket(&l->addr, l->addr_len, reuse_port, &op);
    if (fd < 0) {
        listen_failed(loop, addr, op, errno, failed_fn, failed_ctx);
        return PH_EIO;
    }
    l->addr_len = sizeof(l->addr);
    getsockname(fd, (struct sockaddr *)&l->addr, &l->addr_len);
    l->retry_ev = evtimer_new(loop->base, retry_cb, l);
    l->lev = evconnlistener_new(loop->base, accept_cb, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                -1, fd);
    if (l->lev == NULL || l->retry_ev == NULL) {
        if (l->lev == NULL)
            close(fd);
        ph_listener_close(l);
        listen_failed(loop, addr, "evconnlistener", ENOMEM, failed_fn,
                      failed_ctx);
        return PH_ENOMEM;
    }
    evconnlistener_set_error_cb(l->lev, accept_error_cb);
    return 0;
}

void
ph_listener_close(struct ph_listener *l)
{
    if (l->lev)
        evconnlistener_free(l->lev);
    if (l->retry_ev)
        event_free(l->retry_ev);
    l->lev = NULL;
    l->retry_ev = NULL;
}

unsigned
ph_listener_port(const struct ph_listener *l)
{
    const struct sockaddr_storage *ss = &l->addr;

    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return 0;
}

int
ph_listener_sockname(const struct ph_listener *ls, size_t n, size_t idx,
                     struct sockaddr_storage *ss_out, socklen_t *len_out)
{
    if (idx >= n)
        return PH_EINVAL;
    *ss_out = ls[idx].addr;
    *len_out = ls[idx].addr_len;
    return 0;
}
