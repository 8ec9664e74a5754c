/*
 * smtp_plugins.c -- the plugin pipeline (plugin.h) in the SMTP server, as
 * Haraka and qpsmtpd hook SMTP: inbound events "connection",
 * "cmd_<verb>" (and "unknown"), "header", "eom", "disconnected"; the
 * outbound "response" (code, enhanced code, lines) before it is written.
 * A plugin answers a command itself with ph_smtp_reply() and returns
 * PH_EAT_CLIENT (or _ALL): the handler then does not run.
 */
#include "smtp/smtp_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* plugin_error and friends: nobody else listens in SMTP, so log them. */
static void
smtp_plugin_sink(void *server, struct ph_event *ev)
{
    ph_smtp_server *srv = server;

    if (strcmp(ev->name, "plugin_error") == 0)
        ph_log(srv->core.loop, PH_LOG_WARN, "event=plugin_error plugin=%s "
               "event_name=%s returned=%s", ev->argc > 0 ? ev->argv[0] : "",
               ev->argc > 1 ? ev->argv[1] : "", ev->argc > 2 ? ev->argv[2]
                                                             : "");
}

int
smtp_plugins_init(ph_smtp_server *srv)
{
    srv->pl = ph_pipeline_new(srv, smtp_plugin_sink, srv->mode == PH_SMTP_MODE_LMTP
                              ? PH_PROTO_LMTP : PH_PROTO_SMTP);
    if (srv->pl == NULL)
        return PH_ENOMEM;
    srv->ev_connection = ph_pipeline_event_id(srv->pl, "connection");
    srv->ev_unknown = ph_pipeline_event_id(srv->pl, "unknown");
    srv->ev_header = ph_pipeline_event_id(srv->pl, "header");
    srv->ev_eom = ph_pipeline_event_id(srv->pl, "eom");
    srv->ev_disconnected = ph_pipeline_event_id(srv->pl, "disconnected");
    srv->ev_response = ph_pipeline_event_id(srv->pl, "response");
    return srv->ev_response < 0 ? PH_ENOMEM : 0;
}

ph_pipeline *
ph_smtp_server_pipeline(ph_smtp_server *srv)
{
    return srv->pl;
}

/* An inbound event: true if it goes on to the handler/callback. The
   session id is always the first argument. */
bool
smtp_plugins_inbound(ph_smtp_session *s, int ev_id, const char *name,
                     const char *const *args, size_t n)
{
    struct ph_event ev;
    bool            go_on;

    if (s->srv == NULL || ev_id < 0 ||
        !ph_pipeline_wants(s->srv->pl, PH_HOOK_SERVER, ev_id))
        return true;
    ph_event_init(&ev, s->srv->pl, PH_HOOK_SERVER, name, s, s->ss.id);
    ph_event_add_arg(&ev, s->ss.id);
    for (size_t i = 0; i < n; i++)
        ph_event_add_arg(&ev, args[i]);
    ph_smtp_session_ref(s);
    go_on = ph_pipeline_dispatch(s->srv->pl, &ev);
    ph_event_cleanup(&ev);
    ph_smtp_session_unref(s);
    return go_on && !s->ss.dead;
}

/* A plugin that replied has answered the step (command, greeting, end
   of message), whatever it returned: the handler must not reply again. */
bool
smtp_step_open(ph_smtp_session *s)
{
    return !s->ss.dead && s->expect != 0 && s->replied == 0;
}

/* "cmd_<verb>" for verbs in the table, "unknown" for the rest (a client's
   junk must not fill the pipeline's table of names). */
bool
smtp_plugins_command(ph_smtp_session *s, struct smtp_verb *v, const char *arg)
{
    const char *args[2] = { s->cur_verb, arg };
    char        name[8 + PH_SMTP_MAX_VERB];
    char        mech[PH_SMTP_MAX_MECH + 1];

    /* AUTH's initial response is a password: plugins get the mechanism
       only (they hear neither the 334 answers). */
    if (v != NULL && v->id == SMTP_V_AUTH) {
        snprintf(mech, sizeof(mech), "%.*s", (int)strcspn(arg, " "), arg);
        args[1] = mech;
    }

    if (v == NULL)
        return smtp_plugins_inbound(s, s->srv->ev_unknown, "unknown", args,
                                    2) && smtp_step_open(s);
    if (v->ev_id < 0)
        v->ev_id = ph_pipeline_event_id(s->srv->pl, ph_event_cmd_name(
            name, sizeof(name), v->name));
    if (v->ev_id < 0 || !ph_pipeline_wants(s->srv->pl, PH_HOOK_SERVER,
                                           v->ev_id))
        return true;            /* nobody listens: nothing to build */
    ph_event_cmd_name(name, sizeof(name), v->name);
    return smtp_plugins_inbound(s, v->ev_id, name, args, 2) &&
           smtp_step_open(s);
}

/* A header for plugins: value is not NUL-terminated where it comes from. */
bool
smtp_plugins_header(ph_smtp_session *s, const char *name, size_t nlen,
                    const char *value, size_t vlen)
{
    const char *args[2];
    char       *buf;
    bool        go_on;

    if (!ph_pipeline_wants(s->srv->pl, PH_HOOK_SERVER, s->srv->ev_header))
        return true;
    if ((buf = malloc(nlen + vlen + 2)) == NULL)
        return true;
    memcpy(buf, name, nlen);
    buf[nlen] = '\0';
    memcpy(buf + nlen + 1, value, vlen);
    buf[nlen + 1 + vlen] = '\0';
    args[0] = buf;
    args[1] = buf + nlen + 1;
    go_on = smtp_plugins_inbound(s, s->srv->ev_header, "header", args, 2);
    free(buf);
    return go_on;
}

/*
 * The outbound hook. Returns false if a plugin suppressed the reply (the
 * seed's POP3C EAT_CLIENT: nothing on the wire). Otherwise the reply as
 * the plugins left it is formatted into buf; *len_out is its length.
 */
bool
smtp_plugins_response(ph_smtp_session *s, int *code, const char **enh,
                      const char *const *lines, size_t n, char *buf,
                      size_t cap, bool with_enh, int *len_out)
{
    struct ph_event ev;
    char            ctext[8];
    int             c;
    bool            go_on;

    snprintf(ctext, sizeof(ctext), "%d", *code);
    ph_event_init(&ev, s->srv->pl, PH_HOOK_CLIENT, "response", s, s->ss.id);
    ph_event_add_arg(&ev, ctext);
    ph_event_add_arg(&ev, *enh ? *enh : "");
    for (size_t i = 0; i < n && i + 2 < PH_EVENT_MAX_ARGS; i++)
        ph_event_add_arg(&ev, lines[i]);
    go_on = ph_pipeline_dispatch(s->srv->pl, &ev);
    if (go_on && ev.argc < 3) {
        /* A plugin left no text line: send the reply as it was. */
        *len_out = ph_smtp_format_reply(buf, cap, *code, *enh, lines, n,
                                        with_enh);
    } else if (go_on) {
        c = atoi(ev.argv[0]);
        if (c >= 200 && c <= 599 && ev.argc > 2)
            *code = c;          /* a rewritten code must stay a code */
        *len_out = ph_smtp_format_reply(buf, cap, *code,
                                        ev.argv[1][0] ? ev.argv[1] : NULL,
                                        ev.argv + 2, ev.argc - 2, with_enh);
    }
    ph_event_cleanup(&ev);
    return go_on;
}
