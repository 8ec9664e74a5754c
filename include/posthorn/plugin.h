/*
 * plugin.h -- the plugin pipeline, shared by the POP3 and SMTP servers
 * (POE::Component::Server::POP3's POE::Component::Pluggable model).
 *
 * A pipeline is an ordered list of plugins, each known by an alias. A
 * plugin registers for events by hook type and name:
 *   PH_HOOK_SERVER  inbound events (the seed's POP3D): "connection",
 *                   "cmd_<verb>" (lower case), "disconnected", and for
 *                   SMTP also "header", "eom"; any name a program sends
 *                   with send_event; "plugin_add", "plugin_del",
 *                   "plugin_error".
 *   PH_HOOK_CLIENT  outbound responses (the seed's POP3C): one event,
 *                   "response", whose arguments are the reply about to
 *                   be written; a plugin may rewrite them or suppress it.
 * "all" registers for every event of that hook type.
 *
 * Each plugin's on_event returns one of the seed's exit codes:
 *   PH_EAT_NONE    go on to the remaining plugins, then to the program's
 *                  registered listeners and the default handler
 *   PH_EAT_CLIENT  go on to the remaining plugins, but not to listeners or
 *                  the default handler (for a response: nothing is written)
 *   PH_EAT_PLUGIN  skip the remaining plugins; go to listeners/handler
 *   PH_EAT_ALL     discard: no plugin, listener or handler sees it
 * Anything else is a plugin failure: a "plugin_error" event is sent (to
 * plugins and listeners registered for it) and processing goes on as if
 * PH_EAT_NONE had been returned.
 *
 * Plugins may be added or removed from inside a callback; a removed
 * plugin is not called again, and its memory is the program's once
 * plugin_unregister has been called.
 */
#ifndef POSTHORN_PLUGIN_H
#define POSTHORN_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#ifndef PH_API
#define PH_API
#endif

typedef struct ph_pipeline ph_pipeline;
typedef struct ph_plugin   ph_plugin;

enum ph_eat {
    PH_EAT_NONE   = 1,
    PH_EAT_CLIENT = 2,
    PH_EAT_PLUGIN = 3,
    PH_EAT_ALL    = 4,
};

enum ph_hook {
    PH_HOOK_SERVER = 0,   /* inbound: the seed's POP3D */
    PH_HOOK_CLIENT = 1,   /* outbound responses: the seed's POP3C */
};

#define PH_EVENT_MAX_ARGS 24

/*
 * One event as plugins see it. Arguments are NUL-terminated strings
 * (numbers as decimal text), valid for the dispatch. A plugin changes one
 * with ph_event_set_arg() and adds one with ph_event_push_arg(); what
 * follows in the pipeline sees the change (the seed passes scalar refs).
 */
/* The protocol of a server (and of the events of its pipeline). */
enum ph_proto {
    PH_PROTO_SMTP = 0,
    PH_PROTO_LMTP,
    PH_PROTO_POP3,
};

struct ph_event {
    const char  *name;        /* "connection", "cmd_retr", "response" */
    int          id;          /* the pipeline's number for name */
    enum ph_hook hook;
    void        *server;      /* ph_pop3_server * or ph_smtp_server * */
    void        *session;     /* ph_pop3_session * / ph_smtp_session *,
                                 NULL for server-wide events */
    const char  *session_id;  /* the session's id (ph_smtp_session_id,
                                 ph_pop3_session_id); NULL for
                                 server-wide events */
    enum ph_proto proto;      /* whose event: SMTP, LMTP or POP3 */
    size_t       argc;
    const char  *argv[PH_EVENT_MAX_ARGS];
    char        *owned[PH_EVENT_MAX_ARGS]; /* private: copies to free */
};

/* Replaces argument i (0 <= i < argc) with a copy of text. 0 or
   enum ph_err. */
PH_API int ph_event_set_arg(struct ph_event *ev, size_t i, const char *text);
/* Appends a copy of text (the seed's extra arguments). */
PH_API int ph_event_push_arg(struct ph_event *ev, const char *text);

/*
 * A plugin: the program fills ops and ctx and keeps the struct alive
 * until it is removed. plugin_register (required) is called by
 * ph_plugin_add and normally calls ph_plugin_register(); it returns true
 * on success. plugin_unregister (optional) is called on removal and when
 * the server is freed. on_event is called for every event the plugin
 * registered for (the seed's per-event handler and its _default).
 */
struct ph_plugin_ops {
    bool (*plugin_register)(ph_plugin *p, ph_pipeline *pl, void *server);
    void (*plugin_unregister)(ph_plugin *p, ph_pipeline *pl, void *server);
    int  (*on_event)(ph_plugin *p, ph_pipeline *pl, struct ph_event *ev);
};

struct ph_plugin {
    const struct ph_plugin_ops *ops;
    void                       *ctx;   /* the program's */
};

/* Adds p under alias (copied; must be unique) at the end of the pipeline
   and calls its plugin_register. Returns the number of plugins now in
   the pipeline, or a negative enum ph_err (then p is not added). */
PH_API int ph_plugin_add(ph_pipeline *pl, const char *alias, ph_plugin *p);
/* Removes by alias, or by object (alias NULL). Calls plugin_unregister.
   Returns the plugin removed, or NULL. */
PH_API ph_plugin *ph_plugin_del(ph_pipeline *pl, const char *alias,
                                ph_plugin *p);
/* The plugin under alias, or NULL. */
PH_API ph_plugin *ph_plugin_get(ph_pipeline *pl, const char *alias);
/* The seed's plugin_list: up to max (alias, plugin) pairs; returns how
   many plugins there are (may exceed max). */
PH_API size_t ph_plugin_list(ph_pipeline *pl, const char **aliases_out,
                             ph_plugin **plugins_out, size_t max);
/* The seed's plugin_order: plugins in pipeline order. */
PH_API size_t ph_plugin_order(ph_pipeline *pl, ph_plugin **out, size_t max);
/* Registers p for events (names without a prefix; NULL-terminated list;
   "all" = every event of that hook type). 0 or enum ph_err. */
PH_API int ph_plugin_register(ph_pipeline *pl, ph_plugin *p,
                              enum ph_hook hook, const char *const *events);
/* Unregisters; "all" removes everything of that hook type. Returns 0 if
   every name was registered, PH_EINVAL if some were not. */
PH_API int ph_plugin_unregister(ph_pipeline *pl, ph_plugin *p,
                                enum ph_hook hook, const char *const *events);

#endif
