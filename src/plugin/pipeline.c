/*
 * pipeline.c -- the plugin pipeline of plugin.h and plugin_internal.h:
 * event names interned into numbers, the ordered plugin list, each
 * plugin's registrations, and dispatch with POE::Component::Pluggable's
 * EAT semantics. Knows nothing about POP3 or SMTP: the servers build the
 * events and decide what "delivered" means.
 */
#include <stdint.h>
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/plugin_internal.h"

#define PL_NHOOKS 2
#define PL_NO_ENTRY SIZE_MAX
/*
 * Names are interned for the pipeline's lifetime, and a server builds
 * "cmd_<verb>" from whatever verb the client sent: the cap keeps a client
 * sending junk verbs from growing the table without bound. Past it, new
 * names get no number and reach only "all" plugins.
 */
#define PL_MAX_NAMES 4096

/* One interned event name: ours. nreg counts, per hook, the live plugins
   registered for it by name, so ph_pipeline_wants() is two loads. */
struct pl_name {
    char    *name;
    unsigned nreg[PL_NHOOKS];
};

/* One plugin's registrations for one hook: a bitset indexed by event id
   (owned by the entry) and the "all" flag. */
struct pl_regs {
    uint64_t *bits;
    size_t    nwords;
    bool      is_all;
};

/*
 * A slot in the pipeline. The alias copy and the bitsets are ours, the
 * plugin is the program's. A removed plugin's slot stays, marked dead,
 * until the outermost pipeline call returns: loops further up the stack
 * walk the array by index and must not see it shift (Redis's ae.c marks
 * deleted timers the same way).
 */
struct pl_entry {
    ph_plugin     *p;
    char          *alias;
    struct pl_regs regs[PL_NHOOKS];
    bool           is_dead;
};

/* Owned by the server that created it; freed by ph_pipeline_free(). */
struct ph_pipeline {
    void                *server;
    ph_pipeline_sink_fn *sink;
    enum ph_proto        proto;   /* stamped on every event */
    struct pl_name      *names; /* indexed by event id */
    size_t               nnames, names_cap;
    uint32_t            *hash;            /* id + 1 per slot, 0 = empty */
    size_t               hash_cap;        /* power of two */
    unsigned             nall[PL_NHOOKS]; /* live plugins with "all" */
    struct pl_entry     *plugins;         /* pipeline order, dead included */
    size_t               nplugins, plugins_cap, nlive;
    unsigned             busy; /* nesting of calls into plugins */
    bool                 has_dead;
    bool                 is_freeing;
    int                  id_add, id_del, id_error;
};

/* ---- event names --------------------------------------------------- */

/* FNV-1a: names are short and few; any spread hash will do. */
static uint32_t
pl_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* The slot holding name, or the empty slot where it would go. The table
   is never more than half full, so the probe ends. */
static size_t
pl_slot(const ph_pipeline *pl, const char *name)
{
    size_t mask = pl->hash_cap - 1;
    size_t i = pl_hash(name) & mask;

    while (pl->hash[i] != 0 &&
           strcmp(pl->names[pl->hash[i] - 1].name, name) != 0)
        i = (i + 1) & mask;
    return i;
}

/* The id of an already interned name, or -1; never allocates. */
static int
pl_name_find(const ph_pipeline *pl, const char *name)
{
    size_t i;

    if (pl->hash_cap == 0 || name == NULL)
        return -1;
    i = pl_slot(pl, name);
    return pl->hash[i] == 0 ? -1 : (int)pl->hash[i] - 1;
}

static int
pl_hash_grow(ph_pipeline *pl)
{
    size_t    cap = pl->hash_cap != 0 ? pl->hash_cap * 2 : 64;
    uint32_t *h = calloc(cap, sizeof(*h));
    size_t    i;

    if (h == NULL)
        return PH_ENOMEM;
    free(pl->hash);
    pl->hash = h;
    pl->hash_cap = cap;
    for (i = 0; i < pl->nnames; i++)
        h[pl_slot(pl, pl->names[i].name)] = (uint32_t)i + 1;
    return 0;
}

static int
pl_names_grow(ph_pipeline *pl)
{
    size_t          cap = pl->names_cap != 0 ? pl->names_cap * 2 : 32;
    struct pl_name *n = realloc(pl->names, cap * sizeof(*n));

    if (n == NULL)
        return PH_ENOMEM;
    pl->names = n;
    pl->names_cap = cap;
    return 0;
}

int
ph_pipeline_event_id(ph_pipeline *pl, const char *name)
{
    int   id = pl_name_find(pl, name);
    char *copy;

    if (id >= 0)
        return id;
    if (name == NULL || *name == '\0')
        return PH_EINVAL;
    if (pl->nnames == PL_MAX_NAMES)
        return PH_ELIMIT;
    if ((pl->nnames + 1) * 2 > pl->hash_cap && pl_hash_grow(pl) < 0)
        return PH_ENOMEM;
    if (pl->nnames == pl->names_cap && pl_names_grow(pl) < 0)
        return PH_ENOMEM;
    copy = strdup(name);
    if (copy == NULL)
        return PH_ENOMEM;
    pl->names[pl->nnames] = (struct pl_name){ .name = copy };
    pl->hash[pl_slot(pl, copy)] = (uint32_t)++pl->nnames;
    return (int)pl->nnames - 1;
}

bool
ph_pipeline_wants(const ph_pipeline *pl, enum ph_hook hook, int id)
{
    if (pl == NULL || (unsigned)hook >= PL_NHOOKS)
        return false;
    if (pl->nall[hook] != 0)
        return true;
    return id >= 0 && (size_t)id < pl->nnames && pl->names[id].nreg[hook];
}

/* ---- one plugin's registrations ------------------------------------ */

static bool
pl_regs_has(const struct pl_regs *r, int id)
{
    size_t w = (size_t)id / 64;

    return id >= 0 && w < r->nwords && (r->bits[w] >> (id % 64) & 1) != 0;
}

/* Sets bit id, growing the set. 1 if newly set, 0 if it was, or ENOMEM. */
static int
pl_regs_set(struct pl_regs *r, int id)
{
    size_t    w = (size_t)id / 64, n;
    uint64_t *bits;

    if (w >= r->nwords) {
        n = w + 1;
        bits = realloc(r->bits, n * sizeof(*bits));
        if (bits == NULL)
            return PH_ENOMEM;
        memset(bits + r->nwords, 0, (n - r->nwords) * sizeof(*bits));
        r->bits = bits;
        r->nwords = n;
    }
    if (pl_regs_has(r, id))
        return 0;
    r->bits[w] |= (uint64_t)1 << (id % 64);
    return 1;
}

/* Drops everything e registered for hook, keeping the counters that
   ph_pipeline_wants() reads exact. True if there was anything. */
static bool
pl_regs_drop(ph_pipeline *pl, struct pl_entry *e, enum ph_hook hook)
{
    struct pl_regs *r = &e->regs[hook];
    bool            had = r->is_all;
    size_t          id;

    for (id = 0; id < r->nwords * 64; id++) {
        if (pl_regs_has(r, (int)id)) {
            pl->names[id].nreg[hook]--;
            had = true;
        }
    }
    if (r->is_all)
        pl->nall[hook]--;
    if (r->nwords != 0) /* memset(NULL, 0, 0) is undefined */
        memset(r->bits, 0, r->nwords * sizeof(*r->bits));
    r->is_all = false;
    return had;
}

/* ---- the plugin list ----------------------------------------------- */

static size_t
pl_find_alias(const ph_pipeline *pl, const char *alias)
{
    size_t i;

    for (i = 0; i < pl->nplugins; i++) {
        if (!pl->plugins[i].is_dead && strcmp(pl->plugins[i].alias, alias) == 0)
            return i;
    }
    return PL_NO_ENTRY;
}

static size_t
pl_find_plugin(const ph_pipeline *pl, const ph_plugin *p)
{
    size_t i;

    for (i = 0; i < pl->nplugins; i++) {
        if (!pl->plugins[i].is_dead && pl->plugins[i].p == p)
            return i;
    }
    return PL_NO_ENTRY;
}

/* Marks slot i dead; its registrations go at once so that it is never
   called again and wants() stops counting it. The slot itself stays. */
static void
pl_entry_kill(ph_pipeline *pl, size_t i)
{
    struct pl_entry *e = &pl->plugins[i];

    pl_regs_drop(pl, e, PH_HOOK_SERVER);
    pl_regs_drop(pl, e, PH_HOOK_CLIENT);
    e->is_dead = true;
    pl->has_dead = true;
    pl->nlive--;
}

static void
pl_entry_free(struct pl_entry *e)
{
    free(e->alias);
    free(e->regs[PH_HOOK_SERVER].bits);
    free(e->regs[PH_HOOK_CLIENT].bits);
}

static void
pl_compact(ph_pipeline *pl)
{
    size_t i, j = 0;

    for (i = 0; i < pl->nplugins; i++) {
        if (pl->plugins[i].is_dead)
            pl_entry_free(&pl->plugins[i]);
        else
            pl->plugins[j++] = pl->plugins[i];
    }
    pl->nplugins = j;
    pl->has_dead = false;
}

/* Ends a call that may have run plugin code; the outermost one sweeps
   the slots of plugins removed meanwhile. */
static void
pl_release(ph_pipeline *pl)
{
    if (--pl->busy == 0 && pl->has_dead)
        pl_compact(pl);
}

static int
pl_entry_append(ph_pipeline *pl, const char *alias, ph_plugin *p)
{
    struct pl_entry *v;
    size_t           cap;
    char            *copy;

    if (pl->nplugins == pl->plugins_cap) {
        cap = pl->plugins_cap != 0 ? pl->plugins_cap * 2 : 8;
        v = realloc(pl->plugins, cap * sizeof(*v));
        if (v == NULL)
            return PH_ENOMEM;
        pl->plugins = v;
        pl->plugins_cap = cap;
    }
    copy = strdup(alias);
    if (copy == NULL)
        return PH_ENOMEM;
    pl->plugins[pl->nplugins++] = (struct pl_entry){ .p = p, .alias = copy };
    pl->nlive++;
    return 0;
}

/* ---- creation ------------------------------------------------------ */

ph_pipeline *
ph_pipeline_new(void *server, ph_pipeline_sink_fn *sink,
                enum ph_proto proto)
{
    ph_pipeline *pl = calloc(1, sizeof(*pl));

    if (pl == NULL)
        return NULL;
    pl->server = server;
    pl->sink = sink;
    pl->proto = proto;
    /* Numbered up front so that reporting a failure cannot itself fail
       for lack of memory. */
    pl->id_add = ph_pipeline_event_id(pl, "plugin_add");
    pl->id_del = ph_pipeline_event_id(pl, "plugin_del");
    pl->id_error = ph_pipeline_event_id(pl, "plugin_error");
    if (pl->id_add < 0 || pl->id_del < 0 || pl->id_error < 0) {
        ph_pipeline_free(pl);
        return NULL;
    }
    return pl;
}

void
ph_pipeline_free(ph_pipeline *pl)
{
    ph_plugin *p;
    size_t     i;

    if (pl == NULL)
        return;
    /* Not from inside a plugin callback: the server owns the pipeline
       and frees it only when no dispatch is running. */
    pl->is_freeing = true;
    pl->busy++;
    for (i = 0; i < pl->nplugins; i++) {
        if (pl->plugins[i].is_dead)
            continue;
        p = pl->plugins[i].p;
        pl_entry_kill(pl, i);
        if (p->ops->plugin_unregister != NULL)
            p->ops->plugin_unregister(p, pl, pl->server);
    }
    for (i = 0; i < pl->nplugins; i++)
        pl_entry_free(&pl->plugins[i]);
    for (i = 0; i < pl->nnames; i++)
        free(pl->names[i].name);
    free(pl->plugins);
    free(pl->names);
    free(pl->hash);
    free(pl);
}

/* ---- events -------------------------------------------------------- */

void
ph_event_init(struct ph_event *ev, ph_pipeline *pl, enum ph_hook hook,
              const char *name, void *session, const char *session_id)
{
    int id = ph_pipeline_event_id(pl, name);

    memset(ev, 0, sizeof(*ev));
    /* Without a number (no memory, or past PL_MAX_NAMES) the event still
       reaches "all" plugins; its name is then the caller's, which lives
       at least as long as the dispatch. */
    ev->id = id >= 0 ? id : -1;
    ev->name = id >= 0 ? pl->names[id].name : name;
    ev->hook = hook;
    ev->server = pl->server;
    ev->session = session;
    ev->session_id = session_id;
    ev->proto = pl->proto;
}

int
ph_event_add_arg(struct ph_event *ev, const char *text)
{
    if (text == NULL)
        return PH_EINVAL;
    if (ev->argc == PH_EVENT_MAX_ARGS)
        return PH_ELIMIT;
    ev->owned[ev->argc] = NULL;
    ev->argv[ev->argc++] = text;
    return 0;
}

int
ph_event_set_arg(struct ph_event *ev, size_t i, const char *text)
{
    char *copy;

    if (ev == NULL || i >= ev->argc || text == NULL)
        return PH_EINVAL;
    /* Copy before freeing: text may be the argument being replaced. */
    copy = strdup(text);
    if (copy == NULL)
        return PH_ENOMEM;
    free(ev->owned[i]);
    ev->owned[i] = copy;
    ev->argv[i] = copy;
    return 0;
}

int
ph_event_push_arg(struct ph_event *ev, const char *text)
{
    char *copy;

    if (ev == NULL || text == NULL)
        return PH_EINVAL;
    if (ev->argc == PH_EVENT_MAX_ARGS)
        return PH_ELIMIT;
    copy = strdup(text);
    if (copy == NULL)
        return PH_ENOMEM;
    ev->owned[ev->argc] = copy;
    ev->argv[ev->argc++] = copy;
    return 0;
}

void
ph_event_cleanup(struct ph_event *ev)
{
    size_t i;

    /* Every slot, not just argc: a plugin may have lowered argc. */
    for (i = 0; i < PH_EVENT_MAX_ARGS; i++) {
        free(ev->owned[i]);
        ev->owned[i] = NULL;
    }
    ev->argc = 0;
}

/* Sends an event the pipeline itself makes (plugin_add, plugin_del,
   plugin_error) to the plugins, then, unless eaten, to the sink. */
static void
pl_emit(ph_pipeline *pl, struct ph_event *ev, bool skip_plugins)
{
    bool deliver = true;

    if (!skip_plugins)
        deliver = ph_pipeline_dispatch(pl, ev);
    if (deliver && pl->sink != NULL)
        pl->sink(pl->server, ev);
    ph_event_cleanup(ev);
}

static void
pl_emit_alias(ph_pipeline *pl, int id, const char *alias)
{
    struct ph_event ev;

    if (pl->is_freeing)
        return;
    ph_event_init(&ev, pl, PH_HOOK_SERVER, pl->names[id].name, NULL, NULL);
    (void)ph_event_add_arg(&ev, alias);
    pl_emit(pl, &ev, false);
}

/*
 * The seed's plugin failure: a "plugin_error" event with the alias, the
 * event's name and the value returned. The failed event's session and
 * client id come along so a listener can tell which client it was.
 */
static void
pl_report_error(ph_pipeline *pl, const char *alias,
                const struct ph_event *failed, int ret)
{
    struct ph_event ev;
    char            num[16];
    bool            is_nested;

    (void)snprintf(num, sizeof(num), "%d", ret); /* fits any int */
    ph_event_init(&ev, pl, PH_HOOK_SERVER, pl->names[pl->id_error].name,
                  failed->session, failed->session_id);
    (void)ph_event_add_arg(&ev, alias);
    (void)ph_event_add_arg(&ev, failed->name);
    (void)ph_event_add_arg(&ev, num);
    /* A plugin that fails on plugin_error would fail again on the report
       of that failure, forever: such a report goes to the sink only. */
    is_nested = failed->hook == PH_HOOK_SERVER && failed->id == pl->id_error;
    pl_emit(pl, &ev, is_nested);
}

/* ---- dispatch ------------------------------------------------------ */

static bool
pl_entry_wants(const struct pl_entry *e, enum ph_hook hook, int id)
{
    if (e->is_dead)
        return false;
    return e->regs[hook].is_all || pl_regs_has(&e->regs[hook], id);
}

bool
ph_pipeline_dispatch(ph_pipeline *pl, struct ph_event *ev)
{
    struct pl_entry *e;
    ph_plugin       *p;
    size_t           i, n;
    bool             deliver = true;
    int              ret;

    if (!ph_pipeline_wants(pl, ev->hook, ev->id))
        return true;
    pl->busy++;
    /* Plugins added from a callback land past n: not called for this
       event. Index, not pointer: an add may move the array. */
    n = pl->nplugins;
    for (i = 0; i < n; i++) {
        e = &pl->plugins[i];
        if (!pl_entry_wants(e, ev->hook, ev->id))
            continue;
        p = e->p;
        if (p->ops->on_event == NULL)
            continue;
        ret = p->ops->on_event(p, pl, ev);
        if (ret == PH_EAT_NONE)
            continue;
        if (ret == PH_EAT_CLIENT || ret == PH_EAT_ALL)
            deliver = false;
        if (ret == PH_EAT_PLUGIN || ret == PH_EAT_ALL)
            break;
        if (ret != PH_EAT_CLIENT)
            pl_report_error(pl, pl->plugins[i].alias, ev, ret);
    }
    pl_release(pl);
    return deliver;
}

/* ---- the public plugin API ----------------------------------------- */

int
ph_plugin_add(ph_pipeline *pl, const char *alias, ph_plugin *p)
{
    size_t i;
    bool   ok;
    int    rc;

    if (pl == NULL || alias == NULL || *alias == '\0' || p == NULL ||
        p->ops == NULL || p->ops->plugin_register == NULL)
        return PH_EINVAL;
    if (pl->is_freeing)
        return PH_ESTATE;
    /* Both unique: ph_plugin_del() and ph_plugin_register() find a
       plugin by its object. */
    if (pl_find_alias(pl, alias) != PL_NO_ENTRY ||
        pl_find_plugin(pl, p) != PL_NO_ENTRY)
        return PH_EINVAL;
    rc = pl_entry_append(pl, alias, p);
    if (rc < 0)
        return rc;
    i = pl->nplugins - 1;
    pl->busy++;
    ok = p->ops->plugin_register(p, pl, pl->server);
    if (pl->plugins[i].is_dead) {
        rc = PH_ESTATE; /* it removed itself while registering */
    } else if (!ok) {
        pl_entry_kill(pl, i);
        rc = PH_EINVAL;
    } else {
        pl_emit_alias(pl, pl->id_add, pl->plugins[i].alias);
        rc = (int)pl->nlive;
    }
    pl_release(pl);
    return rc;
}

ph_plugin *
ph_plugin_del(ph_pipeline *pl, const char *alias, ph_plugin *p)
{
    size_t i;

    if (pl == NULL || (alias == NULL && p == NULL))
        return NULL;
    i = alias != NULL ? pl_find_alias(pl, alias) : pl_find_plugin(pl, p);
    if (i == PL_NO_ENTRY)
        return NULL;
    p = pl->plugins[i].p;
    pl->busy++;
    pl_entry_kill(pl, i);
    if (p->ops->plugin_unregister != NULL)
        p->ops->plugin_unregister(p, pl, pl->server);
    /* The dead slot keeps the alias alive until pl_release(). */
    pl_emit_alias(pl, pl->id_del, pl->plugins[i].alias);
    pl_release(pl);
    return p;
}

ph_plugin *
ph_plugin_get(ph_pipeline *pl, const char *alias)
{
    size_t i;

    if (pl == NULL || alias == NULL)
        return NULL;
    i = pl_find_alias(pl, alias);
    return i == PL_NO_ENTRY ? NULL : pl->plugins[i].p;
}

size_t
ph_plugin_list(ph_pipeline *pl, const char **aliases_out,
               ph_plugin **plugins_out, size_t max)
{
    size_t i, n = 0;

    if (pl == NULL)
        return 0;
    for (i = 0; i < pl->nplugins; i++) {
        if (pl->plugins[i].is_dead)
            continue;
        if (n < max && aliases_out != NULL)
            aliases_out[n] = pl->plugins[i].alias;
        if (n < max && plugins_out != NULL)
            plugins_out[n] = pl->plugins[i].p;
        n++;
    }
    return n;
}

size_t
ph_plugin_order(ph_pipeline *pl, ph_plugin **out, size_t max)
{
    return ph_plugin_list(pl, NULL, out, max);
}

/* Registers e for one name; 0 or enum ph_err. */
static int
pl_register_one(ph_pipeline *pl, struct pl_entry *e, enum ph_hook hook,
                const char *name)
{
    struct pl_regs *r = &e->regs[hook];
    int             id, rc;

    if (strcmp(name, "all") == 0) {
        if (!r->is_all)
            pl->nall[hook]++;
        r->is_all = true;
        return 0;
    }
    id = ph_pipeline_event_id(pl, name);
    if (id < 0)
        return id;
    rc = pl_regs_set(r, id);
    if (rc < 0)
        return rc;
    pl->names[id].nreg[hook] += (unsigned)rc;
    return 0;
}

int
ph_plugin_register(ph_pipeline *pl, ph_plugin *p, enum ph_hook hook,
                   const char *const *events)
{
    size_t i;
    int    rc;

    if (pl == NULL || events == NULL || (unsigned)hook >= PL_NHOOKS)
        return PH_EINVAL;
    i = pl_find_plugin(pl, p);
    if (i == PL_NO_ENTRY)
        return PH_EINVAL;
    /* Names before a failing one stay registered, as in the seed. */
    for (; *events != NULL; events++) {
        rc = pl_register_one(pl, &pl->plugins[i], hook, *events);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Unregisters e from one name; false if it was not registered. */
static bool
pl_unregister_one(ph_pipeline *pl, struct pl_entry *e, enum ph_hook hook,
                  const char *name)
{
    struct pl_regs *r = &e->regs[hook];
    int             id;

    if (strcmp(name, "all") == 0)
        return pl_regs_drop(pl, e, hook);
    id = pl_name_find(pl, name);
    if (!pl_regs_has(r, id))
        return false;
    r->bits[id / 64] &= ~((uint64_t)1 << (id % 64));
    pl->names[id].nreg[hook]--;
    return true;
}

int
ph_plugin_unregister(ph_pipeline *pl, ph_plugin *p, enum ph_hook hook,
                     const char *const *events)
{
    size_t i;
    int    rc = 0;

    if (pl == NULL || events == NULL || (unsigned)hook >= PL_NHOOKS)
        return PH_EINVAL;
    i = pl_find_plugin(pl, p);
    if (i == PL_NO_ENTRY)
        return PH_EINVAL;
    /* Like the seed, one unknown name does not stop the others. */
    for (; *events != NULL; events++) {
        if (!pl_unregister_one(pl, &pl->plugins[i], hook, *events))
            rc = PH_EINVAL;
    }
    return rc;
}

char *
ph_event_cmd_name(char *buf, size_t cap, const char *verb)
{
    size_t i = 0;

    if (cap < 5) {
        buf[0] = '\0';
        return buf;
    }
    memcpy(buf, "cmd_", 4);
    for (; verb[i] != '\0' && i + 5 < cap; i++)
        buf[4 + i] = (char)tolower((unsigned char)verb[i]);
    buf[4 + i] = '\0';
    return buf;
}
