/*
 * pop3_server.c -- the server object (the seed's spawn): options and
 * defaults, listeners (with the seed's listener_failed event; plain and
 * implicit TLS), the verb table and its defaults, the pipeline, accept,
 * shutdown.
 */
#include "pop3/pop3_internal.h"
#include "core/accessors.h"
#include "auth/auth_guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const struct pop3_verb default_verbs[] = {
    { "USER", pop3_cmd_user, POP3_M_AUTH, -1 },
    { "PASS", pop3_cmd_pass, POP3_M_AUTH, -1 },
    { "APOP", pop3_cmd_apop, POP3_M_AUTH, -1 },
    { "AUTH", pop3_cmd_auth, POP3_M_AUTH, -1 },
    { "STLS", pop3_cmd_stls, POP3_M_AUTH, -1 },
    /* POP3_F_JUNK: no progress, counted by the core (NOOP/STAT loops). */
    { "CAPA", pop3_cmd_capa, POP3_M_ANY | POP3_F_JUNK, -1 },
    { "QUIT", pop3_cmd_quit, POP3_M_ANY, -1 },
    { "NOOP", pop3_cmd_noop, POP3_M_TRANS | POP3_F_JUNK, -1 },
    { "STAT", pop3_cmd_stat, POP3_M_TRANS | POP3_F_JUNK, -1 },
    { "LIST", pop3_cmd_list, POP3_M_TRANS | POP3_F_JUNK, -1 },
    { "RETR", pop3_cmd_retr, POP3_M_TRANS, -1 },
    { "DELE", pop3_cmd_dele, POP3_M_TRANS, -1 },
    { "RSET", pop3_cmd_rset, POP3_M_TRANS | POP3_F_JUNK, -1 },
    { "TOP", pop3_cmd_top, POP3_M_TRANS, -1 },
    { "UIDL", pop3_cmd_uidl, POP3_M_TRANS | POP3_F_JUNK, -1 },
};
#define NDEFAULT (sizeof(default_verbs) / sizeof(default_verbs[0]))

/* A verb no table has: what the session answers for unknown verbs. */
static enum ph_result
pop3_cmd_unknown(ph_pop3_session *s, const char *verb, size_t argc,
                 const char *const *argv)
{
    ph_pop3_reply(s, PH_POP3_ERR, "Unknown command");
    return PH_OK;
}

ph_pop3_handler *
ph_pop3_default_handler(ph_pop3_server *srv, const char *verb)
{
    (void)srv;          /* one table for every server, unlike SMTP modes */
    for (size_t i = 0; verb != NULL && i < NDEFAULT; i++)
        if (strcasecmp(default_verbs[i].name, verb) == 0)
            return default_verbs[i].handler;
    return pop3_cmd_unknown;
}

/* POP3's own defaults; the shared ones are the core's. The line buffer:
   commands are held to max_line_len after reading, a SASL answer may use
   up to POP3_SASL_LINE_MAX (a PLAIN message with 255-octet fields is
   1024 base64 characters). */
static void
fill_limits(struct ph_core_limits *c, struct ph_pop3_limits *l)
{
    /* RFC 2449 4 (255 octets); RFC 1939 3 (at least 10 minutes). */
    l->max_line_len = l->max_line_len ? l->max_line_len : 255;
    l->max_errors = l->max_errors ? l->max_errors : 10;
    l->idle_timeout = l->idle_timeout ? l->idle_timeout : 600;
    PH_CORE_LIMITS_FILL(c, l);
    if (c->line_max < POP3_SASL_LINE_MAX)
        c->line_max = POP3_SASL_LINE_MAX;
}

/* The seed's pop3d_listener_failed: (operation, errno, text). */
static void
listener_failed(struct ph_server *core, const char *op, int errnum,
                const char *errstr)
{
    ph_pop3_server *srv = (ph_pop3_server *)core;
    struct ph_event ev;
    char            num[16];

    snprintf(num, sizeof(num), "%d", errnum);
    ph_event_init(&ev, srv->pl, PH_HOOK_SERVER, "listener_failed", NULL, NULL);
    ph_event_add_arg(&ev, op);
    ph_event_add_arg(&ev, num);
    ph_event_add_arg(&ev, errstr);
    pop3_event_dispatch(srv, &ev);
    ph_event_cleanup(&ev);
}

static int
init_tables(ph_pop3_server *srv)
{
    srv->verbs = malloc(sizeof(default_verbs) + 8 * sizeof(*srv->verbs));
    if (srv->verbs == NULL)
        return PH_ENOMEM;
    memcpy(srv->verbs, default_verbs, sizeof(default_verbs));
    srv->nverbs = NDEFAULT;
    srv->verbs_cap = NDEFAULT + 8;
    srv->pl = ph_pipeline_new(srv, pop3_event_sink, PH_PROTO_POP3);
    if (srv->pl == NULL)
        return PH_ENOMEM;
    srv->ev_connection = ph_pipeline_event_id(srv->pl, "connection");
    srv->ev_disconnected = ph_pipeline_event_id(srv->pl, "disconnected");
    srv->ev_response = ph_pipeline_event_id(srv->pl, "response");
    return srv->ev_response < 0 ? PH_ENOMEM : 0;
}

static int
server_init(ph_pop3_server *srv, ph_loop *loop,
            const struct ph_pop3_options *o)
{
    struct ph_server *c = &srv->core;
    int               rc;

    srv->limits = o->limits;
    fill_limits(&c->lim, &srv->limits);
    rc = ph_server_init(c, loop, "pop3", o->alias ? o->alias : "pop3d",
                        o->hostname, o->conn_limits,
                        srv->limits.max_sessions,
                        srv->limits.max_sessions_per_addr);
    c->accept = pop3_session_accept;
    c->refusal = "-ERR [SYS/TEMP] Too many connections, try again later"
                 "\r\n";
    c->failed_event = listener_failed;  /* the seed's event */
    PH_CORE_OPTIONS(c, o);
    return rc;
}

ph_pop3_server *
ph_pop3_server_new(ph_loop *loop, const struct ph_pop3_options *o)
{
    ph_pop3_server *srv;

    if (loop == NULL || o == NULL || o->port > 65535)
        return NULL;
    if ((srv = calloc(1, sizeof(*srv))) == NULL)
        return NULL;
    srv->id = ++loop->next_id;  /* shares the loop's counter: unique */
    srv->version = strdup(o->version ? o->version
                                     : "posthorn " PH_VERSION_STRING);
    srv->greet = o->handle_connects >= 0;
    srv->apop = o->apop;
    srv->md = o->maildrop ? o->maildrop : &ph_maildir_ops;
    srv->md_ctx = o->maildrop_ctx;
    srv->user_data = o->user_data;
    srv->auth_plaintext = o->auth_plaintext;
    if (server_init(srv, loop, o) != 0 || !srv->version ||
        init_tables(srv) != 0) {
        ph_pop3_server_free(srv);
        return NULL;
    }
    if (o->address != NULL)
        ph_server_listen_at(&srv->core, o->address, o->port);
    return srv;
}

void
ph_pop3_server_free(ph_pop3_server *srv)
{
    if (srv == NULL)
        return;
    ph_server_close_listeners(&srv->core);
    ph_server_drop_sessions(&srv->core);    /* no UPDATE, no word */
    ph_pipeline_free(srv->pl);
    ph_server_cleanup(&srv->core);
    pop3_listeners_free(srv);
    free(srv->verbs);
    free(srv->version);
    free(srv);
}

int
ph_pop3_server_set_handler(ph_pop3_server *srv, const char *verb,
                           ph_pop3_handler *fn)
{
    char   name[POP3_MAX_VERB + 1];
    size_t i, len = verb ? strlen(verb) : 0;

    if (len == 0 || len > POP3_MAX_VERB)
        return PH_EINVAL;
    for (i = 0; i <= len; i++)
        name[i] = (char)toupper((unsigned char)verb[i]);
    for (i = 0; i < srv->nverbs; i++) {
        if (strcmp(srv->verbs[i].name, name) != 0)
            continue;
        if (fn == NULL)
            srv->verbs[i] = srv->verbs[--srv->nverbs];
        else
            srv->verbs[i].handler = fn;     /* its states stay */
        return 0;
    }
    if (fn == NULL)
        return 0;
    if (srv->nverbs == srv->verbs_cap) {
        struct pop3_verb *nv = realloc(srv->verbs,
                                       2 * srv->verbs_cap * sizeof(*nv));
        if (nv == NULL)
            return PH_ENOMEM;
        srv->verbs = nv;
        srv->verbs_cap *= 2;
    }
    memcpy(srv->verbs[srv->nverbs].name, name, len + 1);
    srv->verbs[srv->nverbs].handler = fn;
    srv->verbs[srv->nverbs].ev_id = -1;
    srv->verbs[srv->nverbs++].states = POP3_M_ANY;
    return 0;
}

ph_pipeline *ph_pop3_server_pipeline(ph_pop3_server *srv) { return srv->pl; }
unsigned long ph_pop3_server_id(ph_pop3_server *srv) { return srv->id; }
const char *ph_pop3_session_user(ph_pop3_session *s) { return s->user; }

PH_CORE_SERVER_ACCESSORS(pop3)
PH_CORE_SESSION_ACCESSORS(pop3)

