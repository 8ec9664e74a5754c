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

static const char *const state_names[] = {
    "authorization", "transaction", "update", "closing",
};

static void session_read(void *ctx);
static void session_drain(void *ctx);
static void session_event(void *ctx, enum ph_conn_event ev);
static void session_tls_ready(void *ctx);

static const struct ph_conn_ops session_ops = {
    .on_read = session_read,
    .on_drain = session_drain,
    .on_event = session_event,
    .on_tls = session_tls_ready,
};

void
pop3_set_state(ph_pop3_session *s, enum pop3_state next)
{
    if (s->state == next)
        return;
    ph_log(s->loop, PH_LOG_DEBUG, "pop3=%lu state=%s->%s", s->id,
           state_names[s->state], state_names[next]);
    s->state = next;
}

static void
session_free(ph_pop3_session *s)
{
    pop3_auth_cleanup(s);
    if (s->delay_ev)
        event_free(s->delay_ev);
    free(s->deleted);
    free(s->scratch);
    free(s->line);
    free(s->user);
    free(s);
}

void
ph_pop3_session_ref(ph_pop3_session *s)
{
    s->refs++;
}

void
ph_pop3_session_unref(ph_pop3_session *s)
{
    if (s != NULL && --s->refs == 0)
        session_free(s);
}

void
pop3_session_close(ph_pop3_session *s)
{
    if (s->dead || s->state == POP3_S_CLOSING)
        return;
    pop3_set_state(s, POP3_S_CLOSING);
    ph_conn_close_after_flush(s->conn);
}

static void
emit_simple(ph_pop3_session *s, const char *name)
{
    struct ph_event ev;
    char            cid[24];

    if (s->srv == NULL)
        return;
    snprintf(cid, sizeof(cid), "%lu", s->id);
    ph_event_init(&ev, s->srv->pl, PH_HOOK_SERVER, name, s, s->id);
    ph_event_add_arg(&ev, cid);
    pop3_event_dispatch(s->srv, &ev);
    ph_event_cleanup(&ev);
}

static void
unlink_session(ph_pop3_session *s)
{
    ph_pop3_server *srv = s->srv;

    if (s->prev)
        s->prev->next = s->next;
    else
        srv->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    srv->nsessions--;
    s->prev = s->next = NULL;
}

/* The connection is gone. Outside UPDATE nothing is deleted (RFC 1939 6). */
static void
session_finish(ph_pop3_session *s, const char *reason)
{
    if (s->dead)
        return;
    s->dead = true;
    if (ph_log_enabled(s->loop, PH_LOG_INFO)) {
        char user[96];          /* USER's argument is client text */
        ph_log(s->loop, PH_LOG_INFO, "pop3=%lu event=disconnect peer=%s "
               "user=%s reason=%s", s->id, s->conn->peer_addr,
               s->user ? ph_log_sanitize(user, sizeof(user), s->user,
                                         strlen(s->user)) : "-", reason);
    }
    pop3_cursor_reset(s);
    if (s->delay_ev != NULL)
        event_del(s->delay_ev);
    if (s->drop != NULL) {
        s->srv->md->close(s->drop);
        s->drop = NULL;
    }
    if (s->announced)
        emit_simple(s, "disconnected");
    ph_conn_free(s->conn);
    s->conn = NULL;
    unlink_session(s);
    s->srv = NULL;
    ph_pop3_session_unref(s);
}

static void
too_many_errors(ph_pop3_session *s)
{
    pop3_status_line(s, PH_POP3_ERR, "Too many errors, closing connection");
    pop3_session_close(s);
}

/* The response to the current command has been written. */
void
pop3_command_done(ph_pop3_session *s, bool is_error)
{
    if (!s->awaiting)
        return;                 /* unsolicited line: nothing to finish */
    s->awaiting = false;
    if (is_error && s->srv && ++s->nerrors >= s->srv->limits.max_errors) {
        too_many_errors(s);
        return;
    }
    /* Whoever answered STLS with +OK (the handler, a plugin, a listener),
       the client now starts its handshake. */
    if (!is_error && strcmp(s->cur_verb, "STLS") == 0)
        pop3_tls_commit(s);
    if (s->close_after) {
        pop3_session_close(s);
        return;
    }
    if (s->waiting) {
        s->waiting = false;     /* an answer came later: read again */
        if (s->conn && s->cur.kind == POP3_CUR_NONE)
            ph_conn_resume_read(s->conn);
    }
}

/* Multi-line output: one step now, the rest as the socket drains. */
static void
drive_cursor(ph_pop3_session *s)
{
    if (!pop3_cursor_step(s))
        return;
    s->waiting = false;
    pop3_command_done(s, false);
    if (s->conn && !s->dead && s->state != POP3_S_CLOSING)
        ph_conn_resume_read(s->conn);
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
    char            name[8 + POP3_MAX_VERB], cid[24];
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
    snprintf(cid, sizeof(cid), "%lu", s->id);
    ph_event_init(&ev, s->srv->pl, PH_HOOK_SERVER, name, s, s->id);
    ph_event_add_arg(&ev, cid);
    for (i = 0; i < cmd->argc; i++)
        ph_event_add_arg(&ev, cmd->argv[i]);
    go_on = pop3_event_dispatch(s->srv, &ev);
    ph_event_cleanup(&ev);
    return go_on && s->awaiting && !s->dead;
}

static void
run_handler(ph_pop3_session *s, struct pop3_verb *v, struct pop3_cmd *cmd)
{
    enum ph_pop3_result r;

    ph_pop3_session_ref(s);
    r = v->handler(s, s->cur_verb, cmd->argc, cmd->argv);
    if (r == PH_POP3_CLOSE)
        s->close_after = true;
    if (s->dead) {
        ph_pop3_session_unref(s);
        return;
    }
    if (s->cur.kind != POP3_CUR_NONE) {
        s->waiting = true;
        drive_cursor(s);
    } else if (s->awaiting && r == PH_POP3_PENDING) {
        s->waiting = true;
        ph_conn_pause_read(s->conn);
    } else if (s->awaiting) {
        ph_log(s->loop, PH_LOG_WARN, "pop3=%lu event=no_reply cmd=%s",
               s->id, s->cur_verb);
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
    if (ph_pop3_parse_cmd(line, len, &cmd) != 0) {
        strcpy(s->cur_verb, "-");
        ph_pop3_reply(s, PH_POP3_ERR, "Invalid command syntax");
        return;
    }
    for (i = 0; i < cmd.verb_len; i++)
        s->cur_verb[i] = (char)toupper((unsigned char)cmd.verb[i]);
    s->cur_verb[i] = '\0';
    v = find_verb(s->srv, s->cur_verb);
    if (!command_event(s, v, &cmd)) {
        if (s->awaiting && !s->dead)    /* eaten without an answer */
            ph_pop3_reply(s, PH_POP3_ERR, "Command refused");
        return;
    }
    if (s->dead || !s->awaiting)
        return;
    /* A plugin or listener may have changed the verb table (realloc):
       never use the pointer from before the dispatch. */
    v = find_verb(s->srv, s->cur_verb);
    if (v == NULL) {
        ph_pop3_reply(s, PH_POP3_ERR, "Unknown command");
        return;
    }
    if (!(v->states & (s->state == POP3_S_AUTH ? POP3_M_AUTH
                                               : POP3_M_TRANS))) {
        ph_pop3_reply(s, PH_POP3_ERR, "Command not valid in this state");
        return;
    }
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

static void
session_read(void *ctx)
{
    ph_pop3_session *s = ctx;
    size_t           len;

    ph_pop3_session_ref(s);
    while (!s->dead && !s->waiting && !s->awaiting && !s->tls_starting &&
           s->state != POP3_S_CLOSING && s->cur.kind == POP3_CUR_NONE) {
        switch (ph_linereader_read(&s->lr, ph_conn_input(s->conn), s->line,
                                   &len)) {
        case PH_LINE_NONE:
            goto out;
        case PH_LINE_TOO_LONG:
            line_too_long(s);
            break;
        case PH_LINE_OK:
            /* Commands keep max_line_len; a SASL answer after "+ " may be
               longer (RFC 5034 4 keeps 255 for the AUTH line only). */
            if (len + 2 > s->srv->limits.max_line_len && !s->sasl_wait)
                line_too_long(s);
            else if (s->sasl_wait)
                pop3_sasl_line(s, s->line, len);
            else
                dispatch_line(s, s->line, len);
            break;
        }
        if (!s->dead && s->conn && ph_conn_output_high(s->conn)) {
            ph_conn_pause_read(s->conn);
            break;
        }
    }
out:
    ph_pop3_session_unref(s);
}

static void
session_drain(void *ctx)
{
    ph_pop3_session *s = ctx;

    if (s->dead || s->state == POP3_S_CLOSING)
        return;
    if (s->cur.kind != POP3_CUR_NONE) {
        drive_cursor(s);
        return;
    }
    if (!s->waiting && s->conn->read_paused)
        ph_conn_resume_read(s->conn);
}

static void
session_event(void *ctx, enum ph_conn_event ev)
{
    ph_pop3_session *s = ctx;

    switch (ev) {
    case PH_CONN_TIMEOUT:
        /* No input while we send a long RETR or wait for the program is
           not idleness; output the client does not take is. */
        if (s->conn->timeout_writing) {
            /* It takes no output: a flush would never end. Drop it. */
            session_finish(s, "write_timeout");
            return;
        }
        if (s->tls_starting) {
            /* Between the STLS +OK and the handshake: a reply in
               plaintext would only confuse the client's TLS stack. */
            ph_log(s->loop, PH_LOG_INFO, "pop3=%lu event=tls_failed "
                   "reason=\"handshake timeout\"", s->id);
            session_finish(s, "tls_failed");
            return;
        }
        if (s->cur.kind != POP3_CUR_NONE || s->waiting) {
            ph_conn_rearm(s->conn);
            return;
        }
        ph_log(s->loop, PH_LOG_INFO, "pop3=%lu event=timeout", s->id);
        /* RFC 1939 3: close without entering UPDATE. Not inside a
           multi-line response (a reader that stalled mid-RETR). */
        if (s->cur.kind == POP3_CUR_NONE)
            pop3_status_line(s, PH_POP3_ERR, "Disconnected for inactivity");
        pop3_session_close(s);
        return;
    case PH_CONN_TLS_FAILED:
        ph_log(s->loop, PH_LOG_INFO, "pop3=%lu event=tls_failed "
               "reason=\"%s\"", s->id, s->conn->tls_error);
        session_finish(s, "tls_failed");
        return;
    case PH_CONN_EOF:
        session_finish(s, "eof");
        return;
    case PH_CONN_ERROR:
        session_finish(s, "error");
        return;
    case PH_CONN_CLOSED:
        session_finish(s, "closed");
        return;
    }
}

static void
connection_event(ph_pop3_session *s)
{
    struct ph_event ev;
    char            cid[24], pport[8], lport[8];

    snprintf(cid, sizeof(cid), "%lu", s->id);
    snprintf(pport, sizeof(pport), "%u", s->conn->peer_port);
    snprintf(lport, sizeof(lport), "%u", s->conn->local_port);
    ph_event_init(&ev, s->srv->pl, PH_HOOK_SERVER, "connection", s, s->id);
    ph_event_add_arg(&ev, cid);
    ph_event_add_arg(&ev, s->conn->peer_addr);
    ph_event_add_arg(&ev, pport);
    ph_event_add_arg(&ev, s->conn->local_addr);
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
        snprintf(s->timestamp, sizeof(s->timestamp), "<%lu.%lx.%lu.%lu@%.50s>",
                 (unsigned long)getpid(), r, (unsigned long)tv.tv_sec, s->id,
                 srv->hostname);
    }
    snprintf(line, sizeof(line), "%.100s %.100s ready%s%s", srv->hostname,
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
    if (s->srv->greet && !s->dead)
        greet(s);
}

/* An implicit-TLS listener: the handshake before anything else. False
   if it could not start (the session is gone then). */
static bool
tls_accept(ph_pop3_session *s)
{
    if (ph_conn_accept_tls(s->conn, ph_tls_ctx_ssl(s->srv->tls),
                           s->srv->limits.tls_handshake_timeout) != 0) {
        ph_log(s->loop, PH_LOG_ERROR, "pop3=%lu event=tls_failed "
               "reason=\"cannot start TLS\"", s->id);
        session_finish(s, "tls_failed");
        return false;
    }
    s->tls_starting = true;
    ph_conn_set_timeout(s->conn, s->srv->limits.tls_handshake_timeout);
    return true;
}

/* The line buffer: commands are held to max_line_len after reading, a
   SASL answer may use up to POP3_SASL_LINE_MAX (a PLAIN message with
   255-octet fields is 1024 base64 characters). */
static size_t
pop3_line_max(const ph_pop3_server *srv)
{
    size_t max = srv->limits.max_line_len;

    return max < POP3_SASL_LINE_MAX ? POP3_SASL_LINE_MAX : max;
}

static ph_pop3_session *
session_open(ph_pop3_server *srv, evutil_socket_t fd,
             const struct sockaddr *peer, socklen_t peer_len, bool tls)
{
    ph_pop3_session *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->line = malloc(pop3_line_max(srv) + 1)) == 0) {
        free(s);
        evutil_closesocket(fd);
        return NULL;
    }
    s->srv = srv;
    s->loop = srv->loop;
    s->refs = 1;
    s->id = ++srv->next_client_id;
    s->lr.max = pop3_line_max(srv);
    s->conn = ph_conn_new(srv->loop, fd, peer, peer_len, &session_ops, s);
    if (s->conn == NULL) {
        session_free(s);
        return NULL;
    }
    ph_conn_set_timeout(s->conn, srv->limits.idle_timeout);
    s->next = srv->sessions;
    if (srv->sessions)
        srv->sessions->prev = s;
    srv->sessions = s;
    srv->nsessions++;
    ph_log(s->loop, PH_LOG_INFO, "pop3=%lu event=connect peer=%s:%u "
           "server=%s", s->id, s->conn->peer_addr, s->conn->peer_port,
           srv->alias);
    if (srv->limits.max_sessions && srv->nsessions > srv->limits.max_sessions) {
        if (!tls)               /* plaintext would be noise to a TLS peer */
            pop3_status_line(s, PH_POP3_ERR_SYS_TEMP, "Too many connections");
        pop3_session_close(s);
        return s;
    }
    if (tls)
        return tls_accept(s) ? s : NULL;    /* greets after the handshake */
    session_start(s);
    return s;
}

ph_pop3_session *
pop3_session_new(ph_pop3_server *srv, evutil_socket_t fd,
                 const struct sockaddr *peer, socklen_t peer_len)
{
    return session_open(srv, fd, peer, peer_len, false);
}

ph_pop3_session *
pop3_session_new_tls(ph_pop3_server *srv, evutil_socket_t fd,
                     const struct sockaddr *peer, socklen_t peer_len)
{
    return session_open(srv, fd, peer, peer_len, true);
}

/* Server teardown: every session goes, without UPDATE and without a word. */
void
pop3_session_destroy_all(ph_pop3_server *srv)
{
    while (srv->sessions != NULL) {
        ph_pop3_session *s = srv->sessions;
        s->conn->dead = true;
        session_finish(s, "server_free");
    }
}

/* ---- TLS ----------------------------------------------------------------- */

bool
pop3_tls_offered(const ph_pop3_session *s)
{
    return s->srv != NULL && s->srv->tls != NULL && s->conn != NULL &&
           s->conn->tls == PH_CONN_TLS_OFF;
}

/* RFC 2595 2.1: where TLS could protect a password, one sent in clear is
   refused (Dovecot's disable_plaintext_auth), unless the program said
   this network is trusted. Without a context there is nothing better. */
bool
pop3_plaintext_ok(const ph_pop3_session *s)
{
    return s->srv == NULL || s->srv->tls == NULL || s->srv->auth_plaintext ||
           (s->conn != NULL && s->conn->tls == PH_CONN_TLS_ON);
}

enum ph_pop3_result
pop3_cmd_stls(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    if (s->srv->tls == NULL)
        ph_pop3_reply(s, PH_POP3_ERR, "STLS not available");
    else if (!pop3_tls_offered(s))
        ph_pop3_reply(s, PH_POP3_ERR, "Already in TLS");
    else if (argc != 0)
        ph_pop3_reply(s, PH_POP3_ERR, "Syntax: STLS");
    else
        ph_pop3_reply(s, PH_POP3_OK, "Begin TLS negotiation");
    return PH_POP3_DONE;
}

void
pop3_tls_commit(ph_pop3_session *s)
{
    if (s->state != POP3_S_AUTH || !pop3_tls_offered(s) ||
        ph_conn_start_tls(s->conn, ph_tls_ctx_ssl(s->srv->tls),
                          s->srv->limits.tls_handshake_timeout) != 0) {
        /* The client starts a handshake after this +OK: talking on in
           plaintext is impossible. */
        s->close_after = true;
        return;
    }
    s->tls_starting = true;
    ph_conn_set_timeout(s->conn, s->srv->limits.tls_handshake_timeout);
}

/* After STLS nothing said in plaintext carries over (as RFC 3207 4.2
   asks of SMTP): a USER name or a half-done AUTH could have been
   injected by a man in the middle. The session stays in AUTHORIZATION;
   the APOP timestamp stays, since no new greeting is sent. */
static void
tls_forget(ph_pop3_session *s)
{
    size_t max = s->lr.max;

    free(s->user);
    s->user = NULL;
    pop3_auth_cleanup(s);
    s->sasl_wait = false;
    memset(&s->lr, 0, sizeof(s->lr));   /* it counted plaintext bytes */
    s->lr.max = max;
}

/* The handshake is done (conn's on_tls). */
static void
session_tls_ready(void *ctx)
{
    ph_pop3_session *s = ctx;
    char             who[32];

    s->tls_starting = false;
    if (s->dead || s->srv == NULL || s->state == POP3_S_CLOSING)
        return;
    ph_conn_set_timeout(s->conn, s->srv->limits.idle_timeout);
    snprintf(who, sizeof(who), "pop3=%lu", s->id);
    ph_conn_log_tls(s->conn, who, "stls_pipelining");
    if (!s->announced) {
        session_start(s);       /* implicit TLS: now the greeting */
        return;
    }
    tls_forget(s);
    ph_conn_resume_read(s->conn);
}

bool
ph_pop3_session_tls(ph_pop3_session *s, struct ph_tls_info *out)
{
    return ph_conn_tls_info(s->conn, out);
}
