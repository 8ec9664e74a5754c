/*
 * pop3_events.c -- the seed's event interface: listeners registered by
 * name (register/unregister, "all", the "registered" event), dispatch of
 * events through the plugins and then the listeners, send_event and
 * send_to_client.
 */
#include "pop3/pop3_internal.h"

#include <stdlib.h>
#include <string.h>

static bool
listener_wants(const struct pop3_listener *l, int id)
{
    if (l->all)
        return true;
    for (size_t i = 0; i < l->nids; i++)
        if (l->ids[i] == id)
            return true;
    return false;
}

static void
to_listeners(ph_pop3_server *srv, struct ph_event *ev)
{
    /* A listener may unregister during the call: walk by index and
       re-check the bound each time. */
    for (size_t i = 0; i < srv->nlsn; i++)
        if (listener_wants(&srv->lsn[i], ev->id))
            srv->lsn[i].fn(srv, ev, srv->lsn[i].ctx);
}

bool
pop3_event_wanted(ph_pop3_server *srv, int id)
{
    if (ph_pipeline_wants(srv->pl, PH_HOOK_SERVER, id))
        return true;
    for (size_t i = 0; i < srv->nlsn; i++)
        if (listener_wants(&srv->lsn[i], id))
            return true;
    return false;
}

bool
pop3_event_dispatch(ph_pop3_server *srv, struct ph_event *ev)
{
    if (!ph_pipeline_dispatch(srv->pl, ev))
        return false;
    to_listeners(srv, ev);
    return true;
}

/* plugin_add / plugin_del / plugin_error, after the plugins. */
void
pop3_event_sink(void *server, struct ph_event *ev)
{
    to_listeners(server, ev);
}

static struct pop3_listener *
find_listener(ph_pop3_server *srv, ph_pop3_event_fn *fn, void *ctx)
{
    for (size_t i = 0; i < srv->nlsn; i++)
        if (srv->lsn[i].fn == fn && srv->lsn[i].ctx == ctx)
            return &srv->lsn[i];
    return NULL;
}

static struct pop3_listener *
add_listener(ph_pop3_server *srv, ph_pop3_event_fn *fn, void *ctx)
{
    struct pop3_listener *l = find_listener(srv, fn, ctx), *nl;

    if (l != NULL)
        return l;
    nl = realloc(srv->lsn, (srv->nlsn + 1) * sizeof(*nl));
    if (nl == NULL)
        return NULL;
    srv->lsn = nl;
    l = &srv->lsn[srv->nlsn++];
    memset(l, 0, sizeof(*l));
    l->fn = fn;
    l->ctx = ctx;
    return l;
}

static int
listener_add_id(struct pop3_listener *l, int id)
{
    int *ni;

    if (listener_wants(l, id) && !l->all)
        return 0;
    ni = realloc(l->ids, (l->nids + 1) * sizeof(*ni));
    if (ni == NULL)
        return PH_ENOMEM;
    l->ids = ni;
    l->ids[l->nids++] = id;
    return 0;
}

int
ph_pop3_register(ph_pop3_server *srv, ph_pop3_event_fn *fn, void *ctx,
                 const char *const *events)
{
    struct pop3_listener *l;
    struct ph_event       ev;

    if (fn == NULL || events == NULL)
        return PH_EINVAL;
    if ((l = add_listener(srv, fn, ctx)) == NULL)
        return PH_ENOMEM;
    for (; *events != NULL; events++) {
        int id;
        if (strcmp(*events, "all") == 0) {
            l->all = true;
            continue;
        }
        id = ph_pipeline_event_id(srv->pl, *events);
        if (id < 0 || listener_add_id(l, id) != 0)
            return PH_ENOMEM;
    }
    /* The seed sends "registered" (ARG0: the component) at once. */
    ph_event_init(&ev, srv->pl, PH_HOOK_SERVER, "registered", NULL, NULL);
    fn(srv, &ev, ctx);
    ph_event_cleanup(&ev);
    return 0;
}

int
ph_pop3_unregister(ph_pop3_server *srv, ph_pop3_event_fn *fn, void *ctx,
                   const char *const *events)
{
    struct pop3_listener *l = find_listener(srv, fn, ctx);

    if (l == NULL || events == NULL)
        return PH_EINVAL;
    for (; *events != NULL; events++) {
        int id = ph_pipeline_event_id(srv->pl, *events);
        if (strcmp(*events, "all") == 0) {
            l->all = false;
            l->nids = 0;
            continue;
        }
        for (size_t i = 0; i < l->nids; i++)
            if (l->ids[i] == id)
                l->ids[i--] = l->ids[--l->nids];
    }
    if (!l->all && l->nids == 0) {          /* nothing left: forget it */
        free(l->ids);
        *l = srv->lsn[--srv->nlsn];
    }
    return 0;
}

void
pop3_listeners_free(ph_pop3_server *srv)
{
    for (size_t i = 0; i < srv->nlsn; i++)
        free(srv->lsn[i].ids);
    free(srv->lsn);
    srv->lsn = NULL;
    srv->nlsn = 0;
}

int
ph_pop3_send_event(ph_pop3_server *srv, const char *name,
                   const char *const *args)
{
    struct ph_event ev;

    if (name == NULL || name[0] == '\0')
        return PH_EINVAL;
    ph_event_init(&ev, srv->pl, PH_HOOK_SERVER, name, NULL, NULL);
    for (; args != NULL && *args != NULL; args++)
        if (ph_event_add_arg(&ev, *args) != 0)
            return PH_ELIMIT;
    pop3_event_dispatch(srv, &ev);
    ph_event_cleanup(&ev);
    return 0;
}

int
ph_pop3_send_to_client(ph_pop3_server *srv, const char *session_id,
                       const char *text)
{
    ph_pop3_session   *s = NULL;
    struct ph_session *ss;
    int                rc;

    if (text == NULL || session_id == NULL || strpbrk(text, "\r\n") != NULL)
        return PH_EINVAL;
    for (ss = srv->core.sessions; ss != NULL && s == NULL; ss = ss->next)
        if (strcmp(ss->id, session_id) == 0)
            s = pop3_of(ss);
    if (s == NULL)
        return PH_EINVAL;
    if (s->cur.kind != POP3_CUR_NONE)
        return PH_ESTATE;       /* never inside a multi-line response */
    rc = pop3_write_line(s, text, strlen(text));
    /* The seed's listeners answer commands this way; not a login being
       checked, which only ph_pop3_auth_reply() may finish. */
    if (!s->auth_pending)
        pop3_command_done(s, s->wire_err);     /* as it went out */
    return rc;
}
