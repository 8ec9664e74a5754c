/*
 * pop3_session.c -- one POP3 session (RFC 1939): connection events, the
 * input loop, command dispatch (plugins -> registered listeners -> the
 * verb's handler, after the state check), multi-line output driven by the
 * socket draining, errors, idle timeout and teardown. A session that ends
 * outside UPDATE deletes nothing.
 *
 * TLS: STLS (RFC 2595) and implicit-TLS listeners (RFC 8314). The +OK to
 * STLS commits: the connection drops every byte the client sent so far
 * and starts the handshake once the +OK is written; the session reads
 * nothing until it is done, so a command pipelined behind STLS is never
 * executed (CVE-2011-0411).
 */
#include "pop3/pop3_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

static void
session_free(struct ph_session *ss)
{
    ph_pop3_session *s = pop3_of(ss);

    pop3_auth_cleanup(s);
    free(s->deleted);
    free(s->scratch);
    free(s->user);
    free(s);
}

void
pop3_session_close(ph_pop3_session *s)
{
    if (s->ss.dead || s->ss.state == POP3_S_CLOSING)
        return;
    ph_session_set_state(&s->ss, POP3_S_CLOSING);
    ph_session_close(&s->ss);
}

static void
emit_simple(ph_pop3_session *s, const char *name)
{
    struct ph_event ev;

    if (s->srv == NULL)
        return;
    ph_event_init(&ev, s->srv->pl, PH_HOOK_SERVER, name, s, s->ss.id);
    ph_event_add_arg(&ev, s->ss.id);
    pop3_event_dispatch(s->srv, &ev);
    ph_event_cleanup(&ev);
}

static void
session_describe(struct ph_session *ss, char *buf, size_t cap)
{
    ph_pop3_session *s = pop3_of(ss);
    char             user[96];  /* USER's argument is client text */

    snprintf(buf, cap, "user=%s", s->user
             ? ph_log_sanitize(user, sizeof(user), s->user, strlen(s->user))
             : "-");
}

/* The connection is gone (the core logged it). Outside UPDATE nothing
   is deleted (RFC 1939 6). */
static void
session_finish(struct ph_session *ss, const char *reason)
{
    ph_pop3_session *s = pop3_of(ss);

    pop3_cursor_reset(s);
    if (s->drop != NULL) {
        s->srv->md->close(s->drop);
        s->drop = NULL;
    }
    if (s->announced)
        emit_simple(s, "disconnected");
    s->srv = NULL;
}

/* The core closes the session after this (session.h). Never inside a
   multi-line response: the client sees it cut short (no final ".")
   rather than a line merged into it. */
static void
session_goodbye(struct ph_session *ss, int why)
{
    ph_pop3_session *s = pop3_of(ss);
    static const struct {
        enum ph_pop3_status st;
        const char         *text;
    } bye[] = {
        [PH_GOODBYE_IDLE] = { PH_POP3_ERR, "Disconnected for inactivity" },
        [PH_GOODBYE_EXPIRED] = { PH_POP3_ERR_SYS_TEMP,
                                 "Session time limit exceeded" },
        [PH_GOODBYE_NOOPS] = { PH_POP3_ERR_SYS_TEMP,
                               "Too many commands without progress" },
        [PH_GOODBYE_ERRORS] = { PH_POP3_ERR,
                                "Too many errors, closing connection" },
        [PH_GOODBYE_SHUTDOWN] = { PH_POP3_ERR_SYS_TEMP,
                                  "Server shutting down" },
        [PH_GOODBYE_AUTH] = { PH_POP3_ERR,
                              "Too many failed logins, closing connection" },
    };

    s->awaiting = false;
    if (s->cur.kind == POP3_CUR_NONE && why >= 0 &&
        (size_t)why < sizeof(bye) / sizeof(bye[0]))
        pop3_status_line(s, bye[why].st, bye[why].text);
    ph_session_set_state(&s->ss, POP3_S_CLOSING);
}

/* Graceful shutdown (ph_pop3_server_shutdown): no UPDATE. */
static void
session_shutdown(struct ph_session *ss)
{
    if (!ss->tls_starting)      /* pop3_write_line refuses then anyway */
        session_goodbye(ss, PH_GOODBYE_SHUTDOWN);
    ph_session_close(ss);
}

/* The response to the current command has been written. */
void
pop3_command_done(ph_pop3_session *s, bool is_error)
{
    if (!s->awaiting)
        return;                 /* unsolicited line: nothing to finish */
    s->awaiting = false;
    if (is_error && s->srv && !ph_session_error(&s->ss))
        return;                 /* goodbye sent, closing */
    if (!is_error && s->cur_progress)
        ph_session_progress(&s->ss);    /* max_noop_commands anew */
    /* Whoever answered STLS with +OK (the handler, a plugin, a listener),
       the client now starts its handshake. */
    if (!is_error && strcmp(s->cur_verb, "STLS") == 0)
        pop3_tls_commit(s);
    if (s->close_after) {
        pop3_session_close(s);
        return;
    }
    if (s->ss.waiting) {
        s->ss.waiting = false;     /* an answer came later: read again */
        if (s->cur.kind == POP3_CUR_NONE)
            ph_session_resume(&s->ss);
    }
}

/* Multi-line output: one step now, the rest as the socket drains. */
static void
drive_cursor(ph_pop3_session *s)
{
    if (!pop3_cursor_step(s))
        return;
    s->ss.waiting = false;
    pop3_command_done(s, false);
    if (s->ss.state != POP3_S_CLOSING)
        ph_session_resume(&s->ss);
}

static struct pop3_verb *
find_verb(ph_pop3_server *srv, const char *name)
{
    for (size_t i = 0; i < srv->nverbs; i++)
        if (strcmp(srv->verbs[i].name, name) == 0)
            return &srv->verbs[i];
    return NULL;
}

/* "cmd_<verb>" to plugins and listeners: false if one of them ate it or
   answered it. Only verbs in the table make events: a client's junk verbs
   must not fill the pipeline's table of event names. */
static bool
command_event(ph_pop3_session *s, struct pop3_verb *v,
              const struct pop3_cmd *cmd)
{
    struct ph_event ev;
    char            name[8 + POP3_MAX_VERB];
    size_t          i;
    bool            go_on;

    if (v == NULL)
        return true;
    if (v->ev_id < 0)
        v->ev_id = ph_pipeline_event_id(s->srv->pl, ph_event_cmd_name(
            name, sizeof(name), v->name));
    if (v->ev_id >= 0 && !pop3_event_wanted(s->srv, v->ev_id))
        return true;            /* nobody listens: skip building it */
    ph_event_cmd_name(name, sizeof(name), v->name);
    ph_event_init(&ev, s->srv->pl, PH_HOOK_SERVER, name, s, s->ss.id);
    ph_event_add_arg(&ev, s->ss.id);
    for (i = 0; i < cmd->argc; i++)
        ph_event_add_arg(&ev, cmd->argv[i]);
    go_on = pop3_event_dispatch(s->srv, &ev);
    ph_event_cleanup(&ev);
    return go_on && s->awaiting && !s->ss.dead;
}

static void
run_handler(ph_pop3_session *s, struct pop3_verb *v, struct pop3_cmd *cmd)
{
    enum ph_result r;

    ph_pop3_session_ref(s);
    r = v->handler(s, s->cur_verb, cmd->argc, cmd->argv);
    if (r == PH_CLOSE)
        s->close_after = true;
    if (s->ss.dead) {
        ph_pop3_session_unref(s);
        return;
    }
    if (s->cur.kind != POP3_CUR_NONE) {
        s->ss.waiting = true;
        drive_cursor(s);
    } else if (s->awaiting && r == PH_PENDING) {
        ph_session_wait(&s->ss);
    } else if (s->awaiting) {
        ph_log(s->ss.loop, PH_LOG_WARN, "session=%s event=no_reply cmd=%s",
               s->ss.id, s->cur_verb);
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Internal error");
    } else if (s->close_after) {
        pop3_session_close(s);
    }
    ph_pop3_session_unref(s);
}

static void
dispatch_line(ph_pop3_session *s, char *line, size_t len)
{
    struct pop3_cmd   cmd;
    struct pop3_verb *v;
    size_t            i;

    s->awaiting = true;
    s->cur_progress = false;
    if (ph_pop3_parse_cmd(line, len, &cmd) != 0) {
        strcpy(s->cur_verb, "-");
        ph_pop3_reply(s, PH_POP3_ERR, "Invalid command syntax");
        return;
    }
    for (i = 0; i < cmd.verb_len; i++)
        s->cur_verb[i] = (char)toupper((unsigned char)cmd.verb[i]);
    s->cur_verb[i] = '\0';
    v = find_verb(s->srv, s->cur_verb);
    /* A +OK to it will start the count of no-progress commands anew. */
    s->cur_progress = v != NULL && !(v->states & POP3_F_JUNK);
    if (!command_event(s, v, &cmd)) {
        if (s->awaiting && !s->ss.dead)    /* eaten without an answer */
            ph_pop3_reply(s, PH_POP3_ERR, "Command refused");
        return;
    }
    if (s->ss.dead || !s->awaiting)
        return;
    /* A plugin or listener may have changed the verb table (realloc):
       never use the pointer from before the dispatch. */
    v = find_verb(s->srv, s->cur_verb);
    if (v == NULL) {
        ph_pop3_reply(s, PH_POP3_ERR, "Unknown command");
        return;
    }
    if (!(v->states & (s->ss.state == POP3_S_AUTH ? POP3_M_AUTH
                                               : POP3_M_TRANS))) {
        ph_pop3_reply(s, PH_POP3_ERR, "Command not valid in this state");
        return;
    }
    if ((v->states & POP3_F_JUNK) && !ph_session_noop(&s->ss))
        return;                 /* goodbye sent, closing */
    run_handler(s, v, &cmd);
}

/* During AUTH it was the client's SASL response: the exchange fails,
   and the next line is a command again. */
static void
line_too_long(ph_pop3_session *s)
{
    s->sasl_wait = false;
    s->awaiting = true;
    strcpy(s->cur_verb, "-");
    ph_pop3_reply(s, PH_POP3_ERR, "Line too long (max %zu octets)",
                  s->srv->limits.max_line_len);
}

static bool
session_can_read(struct ph_session *ss)
{
    ph_pop3_session *s = pop3_of(ss);

    return !s->awaiting && s->ss.state != POP3_S_CLOSING &&
           s->cur.kind == POP3_CUR_NONE;
}

/* One command line (or the SASL answer after "+ "). */
static bool
session_input(struct ph_session *ss)
{
    ph_pop3_session *s = pop3_of(ss);
    size_t           len;

    switch (ph_session_read_line(ss, &len)) {
    case PH_LINE_NONE:
        return false;
    case PH_LINE_TOO_LONG:
        line_too_long(s);
        break;
    case PH_LINE_OK:
        /* Commands keep max_line_len; a SASL answer after "+ " may be
           longer (RFC 5034 4 keeps 255 for the AUTH line only). */
        if (len + 2 > s->srv->limits.max_line_len && !s->sasl_wait)
            line_too_long(s);
        else if (s->sasl_wait)
            pop3_sasl_line(s, ss->line, len);
        else
            dispatch_line(s, ss->line, len);
        break;
    }
    return true;
}

/* Output drained: a multi-line response goes on. */
static bool
session_drained(struct ph_session *ss)
{
    ph_pop3_session *s = pop3_of(ss);

    if (s->cur.kind == POP3_CUR_NONE)
        return false;
    drive_cursor(s);
    return true;
}

/* No input while we send a long RETR is not idleness. */
static bool
session_busy(struct ph_session *ss)
{
    return pop3_of(ss)->cur.kind != POP3_CUR_NONE;
}

static void session_tls_ready(struct ph_session *ss);

/* For the debug log of state changes (enum pop3_state). */
static const char *const state_names[] = {
    "authorization", "transaction", "update", "closing",
};

static const struct ph_session_ops pop3_session_ops = {
    .state_names = state_names,
    .tls_injected_event = "stls_pipelining",
    .can_read = session_can_read,
    .input = session_input,
    .drained = session_drained,
    .busy = session_busy,
    .goodbye = session_goodbye,
    .tls_ready = session_tls_ready,
    .describe = session_describe,
    .finish = session_finish,
    .shutdown = session_shutdown,
    .auth_refused = pop3_auth_refused,
    .free = session_free,
};

static void
connection_event(ph_pop3_session *s)
{
    struct ph_event ev;
    char            pport[8], lport[8];

    snprintf(pport, sizeof(pport), "%u", ph_session_peer_port(&s->ss));
    snprintf(lport, sizeof(lport), "%u", ph_session_local_port(&s->ss));
    ph_event_init(&ev, s->srv->pl, PH_HOOK_SERVER, "connection", s,
                  s->ss.id);
    ph_event_add_arg(&ev, s->ss.id);
    ph_event_add_arg(&ev, ph_session_peer_addr(&s->ss));
    ph_event_add_arg(&ev, pport);
    ph_event_add_arg(&ev, ph_session_local_addr(&s->ss));
    ph_event_add_arg(&ev, lport);
    pop3_event_dispatch(s->srv, &ev);
    ph_event_cleanup(&ev);
}

static void
greet(ph_pop3_session *s)
{
    ph_pop3_server *srv = s->srv;
    char            line[400];

    if (srv->apop) {
        /* RFC 1939 7: different for every greeting, also across restarts
           (a replayed digest must not match): time and random bits. */
        unsigned long r = 0;
        struct timeval tv;
        gettimeofday(&tv, NULL);
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
            r ^= (unsigned long)tv.tv_usec << 20;
        snprintf(s->timestamp, sizeof(s->timestamp), "<%lu.%lx.%lu.%s@%.50s>",
                 (unsigned long)getpid(), r, (unsigned long)tv.tv_sec, s->ss.id,
                 srv->core.hostname);
    }
    snprintf(line, sizeof(line), "%.100s %.100s ready%s%s", srv->core.hostname,
             srv->version, srv->apop ? " " : "", s->timestamp);
    pop3_status_line(s, PH_POP3_OK, line);
}

/* The "connection" event and the greeting: at connect, or on an
   implicit-TLS listener once the handshake is done. */
static void
session_start(ph_pop3_session *s)
{
    s->announced = true;        /* "disconnected" will follow "connection" */
    connection_event(s);
    if (s->srv->greet && !s->ss.dead)
        greet(s);
}

int
pop3_session_accept(struct ph_server *core, evutil_socket_t fd,
                    const struct sockaddr *peer, socklen_t peer_len,
                    bool tls)
{
    ph_pop3_session *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        evutil_closesocket(fd);
        return PH_ENOMEM;
    }
    s->srv = (ph_pop3_server *)core;
    if (ph_session_init(&s->ss, core, fd, peer, peer_len,
                        &pop3_session_ops) != 0) {
        s->ss.refs = 1;         /* not linked: nothing else holds it */
        ph_session_unref(&s->ss);
        return PH_ENOMEM;
    }
    if (!tls)
        session_start(s);
    else
        ph_session_accept_tls(&s->ss);  /* greets after the handshake */
    return 0;
}

/* ---- TLS ----------------------------------------------------------------- */

bool
pop3_tls_offered(const ph_pop3_session *s)
{
    return s->srv != NULL && ph_session_tls_possible(&s->ss);
}

/* RFC 2595 2.1: where TLS could protect a password, one sent in clear is
   refused (Dovecot's disable_plaintext_auth), unless the program said
   this network is trusted. Without a context there is nothing better. */
bool
pop3_plaintext_ok(const ph_pop3_session *s)
{
    return s->srv == NULL || s->srv->core.tls == NULL ||
           s->srv->auth_plaintext || ph_session_tls_on(&s->ss);
}

enum ph_result
pop3_cmd_stls(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    if (s->srv->core.tls == NULL)
        ph_pop3_reply(s, PH_POP3_ERR, "STLS not available");
    else if (!pop3_tls_offered(s))
        ph_pop3_reply(s, PH_POP3_ERR, "Already in TLS");
    else if (argc != 0)
        ph_pop3_reply(s, PH_POP3_ERR, "Syntax: STLS");
    else
        ph_pop3_reply(s, PH_POP3_OK, "Begin TLS negotiation");
    return PH_OK;
}

void
pop3_tls_commit(ph_pop3_session *s)
{
    /* The client starts a handshake after this +OK: talking on in
       plaintext is impossible. */
    if (s->ss.state != POP3_S_AUTH || !pop3_tls_offered(s) ||
        ph_session_start_tls(&s->ss) != 0)
        s->close_after = true;
}

/* After STLS nothing said in plaintext carries over (as RFC 3207 4.2
   asks of SMTP): a USER name or a half-done AUTH could have been
   injected by a man in the middle. The session stays in AUTHORIZATION;
   the APOP timestamp stays, since no new greeting is sent. */
static void
tls_forget(ph_pop3_session *s)
{
    size_t max = s->ss.lr.max;

    free(s->user);
    s->user = NULL;
    pop3_auth_cleanup(s);
    s->sasl_wait = false;
    memset(&s->ss.lr, 0, sizeof(s->ss.lr));   /* it counted plaintext bytes */
    s->ss.lr.max = max;
}

/* The handshake is done (the core logged it). */
static void
session_tls_ready(struct ph_session *ss)
{
    ph_pop3_session *s = pop3_of(ss);

    if (s->srv == NULL || s->ss.state == POP3_S_CLOSING)
        return;
    if (!s->announced) {
        session_start(s);       /* implicit TLS: now the greeting */
        return;
    }
    tls_forget(s);
    ph_session_resume(ss);
}

