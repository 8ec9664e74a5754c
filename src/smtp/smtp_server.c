/*
 * smtp_server.c -- the server object (the seed's spawn): options and
 * their defaults, listeners, the verb table API, accept and shutdown.
 */
#include "smtp/smtp_internal.h"
#include "core/accessors.h"
#include "auth/auth_guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SMTP's own defaults; the shared ones are the core's. */
static void
fill_limits(struct ph_core_limits *c, struct ph_smtp_limits *l)
{
    if (l->max_line_len == 0)
        l->max_line_len = 512;
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
    PH_CORE_LIMITS_FILL(c, l);
}

/* "connection" for plugins: false if one ate it (and answered). */
static bool
connection_event(ph_smtp_session *s)
{
    char        pport[8], lport[8];
    const char *args[4] = { ph_session_peer_addr(&s->ss), pport,
                            ph_session_local_addr(&s->ss), lport };

    snprintf(pport, sizeof(pport), "%u", ph_session_peer_port(&s->ss));
    snprintf(lport, sizeof(lport), "%u", ph_session_local_port(&s->ss));
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

/* The core accepted a connection within the limits. */
static int
accept_session(struct ph_server *core, evutil_socket_t fd,
               const struct sockaddr *peer, socklen_t peer_len, bool tls)
{
    ph_smtp_session *s = smtp_session_new((ph_smtp_server *)core, fd, peer,
                                          peer_len);

    if (s == NULL)
        return PH_ENOMEM;
    if (!tls)
        smtp_session_greet(s);
    else
        ph_session_accept_tls(&s->ss);  /* greets after the handshake */
    return 0;
}

/* Plugins hear a failed bind as the POP3 seed's "listener_failed"
   (operation, errno, text), as well as the options callback. */
static void
smtp_listener_failed(struct ph_server *core, const char *op, int errnum,
                     const char *text)
{
    ph_smtp_server *srv = (ph_smtp_server *)core;
    struct ph_event ev;
    char            num[16];

    if (srv->pl == NULL)
        return;                 /* listening from ph_smtp_server_new */
    snprintf(num, sizeof(num), "%d", errnum);
    ph_event_init(&ev, srv->pl, PH_HOOK_SERVER, "listener_failed", NULL,
                  NULL);
    ph_event_add_arg(&ev, op);
    ph_event_add_arg(&ev, num);
    ph_event_add_arg(&ev, text);
    ph_pipeline_dispatch(srv->pl, &ev);
    ph_event_cleanup(&ev);
}

static int
server_init(ph_smtp_server *srv, ph_loop *loop,
            const struct ph_smtp_options *opts)
{
    struct ph_server *c = &srv->core;
    int               rc;

    srv->mode = opts->mode;
    srv->limits = opts->limits;
    fill_limits(&c->lim, &srv->limits);
    rc = ph_server_init(c, loop, opts->mode == PH_SMTP_MODE_LMTP ? "lmtp"
                        : "smtp", opts->alias ? opts->alias : "smtpd",
                        opts->hostname, opts->conn_limits,
                        srv->limits.max_sessions,
                        srv->limits.max_sessions_per_addr);
    c->accept = accept_session;
    c->refusal = "421 4.7.0 Too many connections, try again later\r\n";
    c->failed_event = smtp_listener_failed;
    PH_CORE_OPTIONS(c, opts);
    return rc;
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
    srv->line_mode = opts->line_mode;
    srv->chunk_size = opts->chunk_size ? opts->chunk_size : 65536;
    srv->whole_message = opts->whole_message;
    srv->bare_eol = opts->bare_eol;
    srv->user_data = opts->user_data;
    srv->auth_plaintext = opts->auth_plaintext;
    srv->auth_required = opts->auth_required;
    srv->default_handler = smtp_default_unknown;
    srv->connect_handler = smtp_default_connect;
    if (server_init(srv, loop, opts) != 0 || smtp_verbs_init(srv) != 0 ||
        smtp_plugins_init(srv) != 0) {
        ph_smtp_server_free(srv);
        return NULL;
    }
    if (opts->address != NULL)
        ph_server_listen_at(&srv->core, opts->address, opts->port);
    return srv;
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
    ph_server_close_listeners(&srv->core);
    ph_server_drop_sessions(&srv->core);    /* no reply, just gone */
    smtp_msgbufs_cache_free(srv);
    ph_pipeline_free(srv->pl);
    ph_server_cleanup(&srv->core);
    free(srv->verbs);
    free_strv(srv->ext_lines, srv->next_lines);
    free_strv(srv->mail_params, srv->nmail_params);
    free_strv(srv->rcpt_params, srv->nrcpt_params);
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
    ph_smtp_handler *fn = smtp_default_for(srv->mode, verb);

    return fn != NULL ? fn : srv->default_handler;
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

PH_CORE_SERVER_ACCESSORS(smtp)
