/*
 * plugin_internal.h -- what the servers use of the pipeline: creation,
 * event numbering, building and dispatching events. Never installed.
 */
#ifndef PH_PLUGIN_INTERNAL_H
#define PH_PLUGIN_INTERNAL_H

#include "posthorn/posthorn.h"
#include "posthorn/plugin.h"

/*
 * Events the pipeline itself generates (plugin_add, plugin_del,
 * plugin_error) go, after the plugins, to this sink: the server forwards
 * them to its registered listeners. May be NULL.
 */
typedef void ph_pipeline_sink_fn(void *server, struct ph_event *ev);

/* server is passed to plugin_register/unregister and set in events. */
ph_pipeline *ph_pipeline_new(void *server, ph_pipeline_sink_fn *sink,
                             enum ph_proto proto);
/* Calls every plugin's plugin_unregister, frees. NULL is ok. */
void ph_pipeline_free(ph_pipeline *pl);

/* The number for an event name (interned on first use; case-sensitive,
   no prefix). Negative on ENOMEM. */
int ph_pipeline_event_id(ph_pipeline *pl, const char *name);
/* True if some plugin registered for event id of this hook (or "all"):
   lets a server skip building events nobody wants. */
bool ph_pipeline_wants(const ph_pipeline *pl, enum ph_hook hook, int id);

/* "cmd_<verb>" with the verb lower-cased: the event name of a command,
   the same for SMTP and POP3. Returns buf. */
char *ph_event_cmd_name(char *buf, size_t cap, const char *verb);

/* Starts an event: name is interned, argc 0. */
void ph_event_init(struct ph_event *ev, ph_pipeline *pl, enum ph_hook hook,
                   const char *name, void *session,
                   const char *session_id);
/* Appends an argument that the caller keeps alive during dispatch (no
   copy). PH_ELIMIT past PH_EVENT_MAX_ARGS. */
int ph_event_add_arg(struct ph_event *ev, const char *text);
/* Frees copies made by plugins (ph_event_set_arg/push_arg). */
void ph_event_cleanup(struct ph_event *ev);

/*
 * Runs ev through the plugins registered for it, in order, with the
 * seed's EAT semantics. Returns true if the event goes on to listeners /
 * the default handler (no plugin returned PH_EAT_CLIENT or PH_EAT_ALL),
 * false if it was eaten. A plugin failure sends "plugin_error" (args:
 * alias, event name, the value returned) and counts as PH_EAT_NONE.
 */
bool ph_pipeline_dispatch(ph_pipeline *pl, struct ph_event *ev);

#endif
