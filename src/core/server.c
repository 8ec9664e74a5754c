/*
 * server.c -- the server base both protocols embed (session.h): alias
 * and hostname, listeners (TCP, unix sockets, implicit TLS) with one way
 * of reporting a failed bind, the connection limits applied at accept,
 * the AUTH guard, graceful shutdown and teardown of the sessions.
 */
#include "core/session.h"
#include "auth/auth_guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *
host_name(const char *given)
{
    char name[256];

    if (given != NULL)
        return strdup(given);
    if (gethostname(name, sizeof(name) - 1) != 0)
        strcpy(name, "localhost");
    name[sizeof(name) - 1] = '\0';
    return strdup(name);
}

int
ph_server_init(struct ph_server *srv, ph_loop *loop, const char *proto,
               const char *alias, const char *hostname,
               ph_conn_limits *shared, unsigned max_total,
               unsigned max_per_addr)
{
    srv->loop = loop;
    srv->proto = proto;
    srv->alias = strdup(alias);
    srv->hostname = host_name(hostname);
    srv->climits = shared;
    if (shared == NULL) {
        srv->climits = ph_conn_limits_new(max_total, max_per_addr);
        srv->own_climits = true;
    }
    return srv->alias && srv->hostname && srv->climits ? 0 : PH_ENOMEM;
}

void
ph_server_cleanup(struct ph_server *srv)
{
    ph_server_close_listeners(srv);
    if (srv->own_climits)
        ph_conn_limits_free(srv->climits);
    if (!srv->shared_guard)
        ph_auth_guard_free(srv->guard);
    free(srv->alias);
    free(srv->hostname);
}

/* A bind/listen failure, reported the same way for every protocol. */
static void
failed(void *ctx, const char *op, int err, const char *text)
{
    struct ph_server *srv = ctx;

    if (srv->failed_fn)
        srv->failed_fn(srv->failed_ctx, op, err, text);
    if (srv->failed_event)
        srv->failed_event(srv, op, err, text);
}

static void
report_failure(struct ph_server *srv, int err, const char *text)
{
    ph_log(srv->loop, PH_LOG_ERROR, "event=listen_failed server=%s "
           "error=\"%s\"", srv->alias, text);
    failed(srv, "listen", err, text);
}

/* Over a limit: one line (not on a TLS port: noise to a TLS client) and
   close, without making a session; logged once a minute per kind. */
static void
refuse(struct ph_server *srv, evutil_socket_t fd, const struct sockaddr *peer,
       bool tls, enum ph_conn_verdict v, bool log_it, unsigned refused)
{
    char    sink[4096];
    ssize_t n;

    if (!tls && srv->refusal != NULL) {
        n = send(fd, srv->refusal, strlen(srv->refusal),
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)n;                /* best effort: it closes either way */
        /* Unread input makes close() send a reset, which can destroy
           the line before the client reads it: take what has come. */
        n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
    }
    evutil_closesocket(fd);
    if (log_it) {
        char addr[64];
        ph_log(srv->loop, PH_LOG_WARN, "event=connection_refused server=%s "
               "peer=%s limit=%s refused=%u", srv->alias,
               peer ? ph_addr_format(peer, addr, sizeof(addr)) : "-",
               v == PH_CONN_OVER_ADDR ? "per_address" : "total", refused);
    }
}

static void
accept_common(struct ph_server *srv, evutil_socket_t fd,
              const struct sockaddr *peer, socklen_t peer_len, bool tls)
{
    enum ph_conn_verdict v;
    bool                 log_it;
    unsigned             refused;

    v = ph_conn_limits_acquire(srv->climits, peer, time(NULL),
                               &srv->pending_slot, &log_it, &refused);
    if (v != PH_CONN_ACCEPT) {
        refuse(srv, fd, peer, tls, v, log_it, refused);
        return;
    }
    srv->pending = true;        /* ph_session_init takes the slot */
    if (srv->accept(srv, fd, peer, peer_len, tls) != 0)
        ph_log(srv->loop, PH_LOG_ERROR, "event=accept_failed server=%s "
               "error=ENOMEM", srv->alias);
    if (srv->pending) {         /* no session was made: give it back */
        ph_conn_limits_release(srv->climits, srv->pending_slot);
        srv->pending = false;
    }
    srv->pending_slot = NULL;
}

static void
accept_plain(void *ctx, evutil_socket_t fd, const struct sockaddr *peer,
             socklen_t peer_len)
{
    accept_common(ctx, fd, peer, peer_len, false);
}

static void
accept_tls(void *ctx, evutil_socket_t fd, const struct sockaddr *peer,
           socklen_t peer_len)
{
    accept_common(ctx, fd, peer, peer_len, true);
}

int
ph_server_listen(struct ph_server *srv, const char *addr, bool tls)
{
    struct ph_listener *l;
    char                text[80];
    int                 rc;

    if (tls && srv->tls == NULL) {
        report_failure(srv, EINVAL, "implicit TLS needs a TLS context");
        return PH_EINVAL;
    }
    if (srv->nlisteners == PH_SERVER_MAX_LISTENERS) {
        report_failure(srv, EMFILE, "too many listeners for one server");
        return PH_ELIMIT;
    }
    l = &srv->listeners[srv->nlisteners];
    rc = ph_listener_open(l, srv->loop, addr, srv->reuse_port,
                          tls ? accept_tls : accept_plain, srv, failed,
                          srv);
    if (rc != 0)
        return rc;
    srv->nlisteners++;
    ph_log(srv->loop, PH_LOG_INFO, "event=listen server=%s addr=%s "
           "proto=%s%s", srv->alias,
           ph_addr_format((struct sockaddr *)&l->addr, text, sizeof(text)),
           srv->proto, tls ? " tls=implicit" : srv->tls ? " tls=starttls"
                                                     : "");
    return 0;
}

int
ph_server_listen_at(struct ph_server *srv, const char *address,
                    unsigned port)
{
    char addr[128];

    snprintf(addr, sizeof(addr), strchr(address, ':') ? "[%s]:%u" : "%s:%u",
             address, port);
    return ph_server_listen(srv, addr, false);
}

void
ph_server_close_listeners(struct ph_server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++)
        ph_listener_close(&srv->listeners[i]);
    srv->nlisteners = 0;
}

int
ph_server_getsockname(struct ph_server *srv, size_t idx,
                      struct sockaddr_storage *ss_out, socklen_t *len_out)
{
    return ph_listener_sockname(srv->listeners, srv->nlisteners, idx, ss_out,
                                len_out);
}

unsigned
ph_server_port(struct ph_server *srv)
{
    return srv->nlisteners ? ph_listener_port(&srv->listeners[0]) : 0;
}

void
ph_server_guard_for_verify(struct ph_server *srv, bool on,
                           unsigned max_per_addr, unsigned window_s)
{
    if (on && srv->guard == NULL && !srv->shared_guard &&
        max_per_addr != PH_CORE_NO_LIMIT)
        srv->guard = ph_auth_guard_new(max_per_addr, window_s);
}

void
ph_server_shutdown(struct ph_server *srv)
{
    struct ph_session *ss, *next;

    srv->shutting_down = true;
    ph_server_close_listeners(srv);
    for (ss = srv->sessions; ss != NULL; ss = next) {
        next = ss->next;
        /* A client that does not read its goodbye may hold us a few
           seconds, not a whole idle timeout. */
        if (ss->conn && srv->lim.idle_timeout > PH_SHUTDOWN_FLUSH_S)
            ph_conn_set_timeout(ss->conn, PH_SHUTDOWN_FLUSH_S);
        ss->ops->shutdown(ss);
    }
}

void
ph_server_drop_sessions(struct ph_server *srv)
{
    while (srv->sessions != NULL) {
        struct ph_session *ss = srv->sessions;
        ss->conn->dead = true;  /* no reply, just gone */
        ph_session_finish(ss, "server_free");
    }
}
