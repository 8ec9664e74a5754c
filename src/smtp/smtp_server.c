/*
 * smtp_server.c -- the server object (the seed's spawn): options and
 * their defaults, listeners, the verb table API, accept and shutdown.
 */
#include "smtp/smtp_internal.h"
#include "auth/auth_guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Seconds a closing session may take to flush its 421 at shutdown. */
#define SMTP_SHUTDOWN_FLUSH_S 5

static void
fill_limits(struct ph_smtp_limits *l)
{
    if (l->max_line_len == 0)
        l->max_line_len = 512;
    if (l->max_line_len < 16)
        l->max_line_len = 16;
    if (l->max_text_line_len == 0)
        l->max_text_line_len = 1000;
    if (l->max_message_size == 0)
        l->max_message_size = 10485760;
    if (l->max_recipients == 0)
        l->max_recipients = 100;
    if (l->max_errors == 0)
        l->max_errors = 20;
    if (l->idle_timeout == 0)
        l->idle_timeout = 300;
    if (l->max_header_len == 0)
        l->max_header_len = 65536;
    if (l->max_header_len < 256)
        l->max_header_len = 256;
    if (l->max_auth_failures == 0)
        l->max_auth_failures = 3;
    if (l->auth_fail_delay_ms == 0)
        l->auth_fail_delay_ms = 1000;
    if (l->max_auth_failures_per_addr == 0)
        l->max_auth_failures_per_addr = 10;
    if (l->auth_fail_window == 0)
        l->auth_fail_window = 300;
    if (l->tls_handshake_timeout == 0)
        l->tls_handshake_timeout = 30;
}

static char *
default_hostname(void)
{
    char name[256];

    if (gethostname(name, sizeof(name) - 1) != 0)
        strcpy(name, "localhost");
    name[sizeof(name) - 1] = '\0';
    return strdup(name);
}

/* "connection" for plugins: false if one ate it (and answered). */
static bool
connection_event(ph_smtp_session *s)
{
    char        pport[8], lport[8];
    const char *args[4] = { s->conn->peer_addr, pport, s->conn->local_addr,
                            lport };

    snprintf(pport, sizeof(pport), "%u", s->conn->peer_port);
    snprintf(lport, sizeof(lport), "%u", s->conn->local_port);
    return smtp_plugins_inbound(s, s->srv->ev_connection, "connection", args,
                                4) && smtp_step_open(s);
}

/* The CONNECT step: plugins' "connection", then the greeting handler.
   On an implicit-TLS listener it runs once the handshake is done. */
void
smtp_session_greet(ph_smtp_session *s)
{
    s->greeted = true;          /* from now on the program hears disconnect */
    s->cur_id = SMTP_V_CONNECT; /* a plugin may answer the greeting */
    s->expect = 1;
    smtp_run_handler(s, SMTP_V_CONNECT, "CONNECT",
                     connection_event(s) ? s->srv->connect_handler : NULL,
                     "", 1);
}

static void
accept_common(ph_smtp_server *srv, evutil_socket_t fd,
              const struct sockaddr *peer, socklen_t peer_len, bool tls)
{
    ph_smtp_session *s;

    s = smtp_session_new(srv, fd, peer, peer_len);
    if (s == NULL) {
        ph_log(srv->loop, PH_LOG_ERROR, "event=accept_failed error=ENOMEM");
        return;
    }
    if (srv->limits.max_sessions != 0 &&
        srv->nsessions > srv->limits.max_sessions) {
        const char *line = "Too many connections, try again later";
        s->cur_id = SMTP_V_OTHER;
        if (!tls)               /* plaintext would be noise to a TLS peer */
            smtp_send_reply(s, 421, "4.3.2", &line, 1);
        smtp_session_shutdown(s, false);
        return;
    }
    if (tls) {
        smtp_tls_accept(s);     /* greets once the handshake is done */
        return;
    }
    smtp_session_greet(s);
}

static void
accept_session(void *ctx, evutil_socket_t fd, const struct sockaddr *peer,
               socklen_t peer_len)
{
    accept_common(ctx, fd, peer, peer_len, false);
}

static void
accept_session_tls(void *ctx, evutil_socket_t fd, const struct sockaddr *peer,
                   socklen_t peer_len)
{
    accept_common(ctx, fd, peer, peer_len, true);
}

ph_smtp_server *
ph_smtp_server_new(ph_loop *loop, const struct ph_smtp_options *opts)
{
    ph_smtp_server *srv;

    if (loop == NULL || opts == NULL || opts->mode > PH_SMTP_MODE_LMTP)
        return NULL;
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return NULL;
    srv->loop = loop;
    srv->mode = opts->mode;
    srv->limits = opts->limits;
    fill_limits(&srv->limits);
    srv->alias = strdup(opts->alias ? opts->alias : "smtpd");
    srv->hostname = opts->hostname ? strdup(opts->hostname)
                                   : default_hostname();
    srv->line_mode = opts->line_mode;
    srv->chunk_size = opts->chunk_size ? opts->chunk_size : 65536;
    srv->whole_message = opts->whole_message;
    srv->bare_eol = opts->bare_eol;
    srv->reuse_port = opts->reuse_port;
    srv->user_data = opts->user_data;
    srv->listener_failed = opts->listener_failed;
    srv->listener_ctx = opts->listener_ctx;
    srv->tls = opts->tls;
    srv->guard = opts->auth_guard;
    srv->shared_guard = opts->auth_guard != NULL;
    srv->auth_plaintext = opts->auth_plaintext;
    srv->auth_required = opts->auth_required;
    srv->default_handler = smtp_default_unknown;
    srv->connect_handler = smtp_default_connect;
    if (srv->alias == NULL || srv->hostname == NULL ||
        smtp_verbs_init(srv) != 0 || smtp_plugins_init(srv) != 0) {
        ph_smtp_server_free(srv);
        return NULL;
    }
    if (opts->address != NULL) {
        char addr[128];
        bool v6 = strchr(opts->address, ':') != NULL;
        snprintf(addr, sizeof(addr), v6 ? "[%s]:%u" : "%s:%u",
                 opts->address, opts->port);
        ph_smtp_server_listen(srv, addr);
    }
    return srv;
}

static int
server_listen(ph_smtp_server *srv, const char *addr, bool tls)
{
    struct ph_listener *l;
    int                 rc;

    if (srv->nlisteners == SMTP_MAX_LISTENERS) {
        if (srv->listener_failed)
            srv->listener_failed(srv->listener_ctx, "listen", EMFILE,
                                 "too many listeners for one server");
        return PH_ELIMIT;
    }
    l = &srv->listeners[srv->nlisteners];
    rc = ph_listener_open(l, srv->loop, addr, srv->reuse_port,
                          tls ? accept_session_tls : accept_session, srv,
                          srv->listener_failed, srv->listener_ctx);
    if (rc != 0)
        return rc;
    srv->nlisteners++;
    {
        char text[64];
        ph_log(srv->loop, PH_LOG_INFO, "event=listen server=%s addr=%s "
               "mode=%s%s", srv->alias,
               ph_addr_format((struct sockaddr *)&l->addr, text,
                              sizeof(text)),
               srv->mode == PH_SMTP_MODE_LMTP ? "lmtp"
               : srv->mode == PH_SMTP_MODE_BARE ? "bare" : "esmtp",
               tls ? " tls=implicit" : srv->tls ? " tls=starttls" : "");
    }
    return 0;
}

int
ph_smtp_server_listen(ph_smtp_server *srv, const char *addr)
{
    return server_listen(srv, addr, false);
}

int
ph_smtp_server_listen_tls(ph_smtp_server *srv, const char *addr)
{
    if (srv->tls == NULL) {
        if (srv->listener_failed)
            srv->listener_failed(srv->listener_ctx, "listen", EINVAL,
                                 "implicit TLS needs a TLS context");
        return PH_EINVAL;
    }
    return server_listen(srv, addr, true);
}

void
ph_smtp_server_set_verify(ph_smtp_server *srv, ph_smtp_verify_fn *fn,
                          void *ctx)
{
    srv->verify = fn;
    srv->verify_ctx = ctx;
    if (fn != NULL && srv->guard == NULL && !srv->shared_guard &&
        srv->limits.max_auth_failures_per_addr != PH_SMTP_NO_LIMIT)
        srv->guard = ph_auth_guard_new(srv->limits.max_auth_failures_per_addr,
                                       srv->limits.auth_fail_window);
}

int
ph_smtp_server_getsockname(ph_smtp_server *srv, size_t idx,
                           struct sockaddr_storage *ss_out,
                           socklen_t *len_out)
{
    return ph_listener_sockname(srv->listeners, srv->nlisteners, idx, ss_out,
                                len_out);
}

unsigned
ph_smtp_server_port(ph_smtp_server *srv)
{
    return srv->nlisteners ? ph_listener_port(&srv->listeners[0]) : 0;
}

static void
close_listeners(ph_smtp_server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++)
        ph_listener_close(&srv->listeners[i]);
    srv->nlisteners = 0;
}

unsigned
ph_smtp_server_session_count(ph_smtp_server *srv)
{
    return srv->nsessions;
}

void
ph_smtp_server_shutdown(ph_smtp_server *srv)
{
    ph_smtp_session *s, *next;

    srv->shutting_down = true;
    close_listeners(srv);
    for (s = srv->sessions; s != NULL; s = next) {
        next = s->next;
        /* A client that does not read its 421 may hold us a few seconds,
           not a whole idle timeout. */
        if (s->conn && srv->limits.idle_timeout > SMTP_SHUTDOWN_FLUSH_S)
            ph_conn_set_timeout(s->conn, SMTP_SHUTDOWN_FLUSH_S);
        /* A transaction under way, or a command awaiting its answer, may
           finish: smtp_reply_done() says 421 right after (no message is
           cut off by a restart). */
        if (smtp_in_transaction(s) || s->expect != 0)
            continue;
        /* Mid-handshake: the 421 goes out over TLS once it is done
           (smtp_tls_ready), never in plaintext to a TLS client. */
        if (s->tls_starting)
            continue;
        smtp_session_shutdown(s, true);
    }
}

static void
free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
ph_smtp_server_free(ph_smtp_server *srv)
{
    if (srv == NULL)
        return;
    close_listeners(srv);
    while (srv->sessions != NULL) {
        ph_smtp_session *s = srv->sessions;
        if (s->conn)
            s->conn->dead = true;
        /* session_finish via an error event: no reply, just gone. */
        s->conn->ops->on_event(s, PH_CONN_ERROR);
    }
    smtp_msgbufs_cache_free(srv);
    ph_pipeline_free(srv->pl);
    if (!srv->shared_guard)
        ph_auth_guard_free(srv->guard);
    free(srv->verbs);
    free_strv(srv->ext_lines, srv->next_lines);
    free_strv(srv->mail_params, srv->nmail_params);
    free_strv(srv->rcpt_params, srv->nrcpt_params);
    free(srv->alias);
    free(srv->hostname);
    free(srv);
}

static bool
verb_name_ok(const char *verb, size_t *len_out)
{
    size_t i;

    for (i = 0; verb[i] != '\0'; i++) {
        unsigned char c = (unsigned char)verb[i];
        if (!isalnum(c) && c != '-')
            return false;
    }
    *len_out = i;
    return i > 0 && i <= PH_SMTP_MAX_VERB;
}

int
ph_smtp_server_set_handler(ph_smtp_server *srv, const char *verb,
                           ph_smtp_handler *fn)
{
    char              name[PH_SMTP_MAX_VERB + 1];
    struct smtp_verb *v;
    size_t            len, i;

    if (verb == NULL || !verb_name_ok(verb, &len))
        return PH_EINVAL;
    for (i = 0; i <= len; i++)
        name[i] = (char)toupper((unsigned char)verb[i]);
    if (strcmp(name, "CONNECT") == 0) {
        srv->connect_handler = fn ? fn : smtp_default_connect;
        return 0;
    }
    v = smtp_verb_find(srv, name, len);
    if (v != NULL && fn == NULL) {
        *v = srv->verbs[--srv->nverbs];
        return 0;
    }
    if (v != NULL) {
        v->handler = fn;            /* sequencing flags and check stay */
        return 0;
    }
    if (fn == NULL)
        return 0;
    if (srv->nverbs == srv->verbs_cap) {
        size_t cap = srv->verbs_cap ? srv->verbs_cap * 2 : 16;
        struct smtp_verb *nv = realloc(srv->verbs, cap * sizeof(*nv));
        if (nv == NULL)
            return PH_ENOMEM;
        srv->verbs = nv;
        srv->verbs_cap = cap;
    }
    v = &srv->verbs[srv->nverbs++];
    memset(v, 0, sizeof(*v));
    memcpy(v->name, name, len + 1);
    v->handler = fn;
    v->ev_id = -1;
    return 0;
}

void
ph_smtp_server_set_default_handler(ph_smtp_server *srv, ph_smtp_handler *fn)
{
    srv->default_handler = fn ? fn : smtp_default_unknown;
}

ph_smtp_handler *
ph_smtp_default_handler(ph_smtp_server *srv, const char *verb)
{
    return smtp_default_for(srv->mode, verb);
}

void
ph_smtp_server_set_callbacks(ph_smtp_server *srv,
                             const struct ph_smtp_callbacks *cb)
{
    srv->cb = *cb;
}

static int
strv_add(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

    if (nv == NULL)
        return PH_ENOMEM;
    *v = nv;
    if ((nv[*n] = strdup(s)) == NULL)
        return PH_ENOMEM;
    (*n)++;
    return 0;
}

int
ph_smtp_server_add_extension(ph_smtp_server *srv, const char *ehlo_line)
{
    if (ehlo_line == NULL || ehlo_line[0] == '\0' ||
        strpbrk(ehlo_line, "\r\n") != NULL)
        return PH_EINVAL;
    return strv_add(&srv->ext_lines, &srv->next_lines, ehlo_line);
}

int
ph_smtp_server_allow_param(ph_smtp_server *srv, bool for_rcpt,
                           const char *keyword)
{
    size_t len;

    if (keyword == NULL || !verb_name_ok(keyword, &len))
        return PH_EINVAL;
    return for_rcpt ? strv_add(&srv->rcpt_params, &srv->nrcpt_params, keyword)
                    : strv_add(&srv->mail_params, &srv->nmail_params, keyword);
}

void *ph_smtp_server_data(ph_smtp_server *srv) { return srv->user_data; }
void ph_smtp_server_set_data(ph_smtp_server *srv, void *d) { srv->user_data = d; }
const char *ph_smtp_server_hostname(ph_smtp_server *srv) { return srv->hostname; }
const char *ph_smtp_server_alias(ph_smtp_server *srv) { return srv->alias; }
ph_loop *ph_smtp_server_loop(ph_smtp_server *srv) { return srv->loop; }
