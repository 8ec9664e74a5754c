/*
 * test_pipeline.c -- src/plugin/pipeline.c: the seed's EAT codes on both
 * hooks, plugin order, "all", unregistering, plugin_error, the
 * plugin_add/plugin_del events and the sink, adding and removing plugins
 * from inside a dispatch, rewritten and extra arguments, and the limits.
 * Every plugin call and sink call is logged; cases compare whole logs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "plugin/plugin_internal.h"

#define MAX_TP 8

struct fx;
struct tp;

/* Extra behaviour of a test plugin, run after it logs the call. */
typedef void tp_action(struct tp *t, ph_pipeline *pl, struct ph_event *ev);

/* A scripted plugin: registers what it is told, returns ret. */
struct tp {
    ph_plugin          plugin;
    struct fx         *fx;
    const char        *name;      /* alias and log prefix */
    const char *const *server_ev; /* registered by plugin_register */
    const char *const *client_ev;
    int                ret;
    bool               refuse; /* plugin_register returns false */
    tp_action         *action;
    const char        *arg; /* for the action */
    int                nregister, nunregister;
};

struct fx {
    ph_pipeline *pl;
    char         log[4096];
    struct tp    tp[MAX_TP];
    size_t       ntp;
};

static const char *const EV_X[] = { "cmd_x", NULL };
static const char *const EV_RESPONSE[] = { "response", NULL };
static const char *const EV_ALL[] = { "all", NULL };
static const char *const EV_ERROR[] = { "plugin_error", NULL };
static const char *const EV_ADD_DEL[] = { "plugin_add", "plugin_del", NULL };

/* ---- the log ------------------------------------------------------- */

static void fx_log(struct fx *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fx_log(struct fx *f, const char *fmt, ...)
{
    size_t  len = strlen(f->log);
    va_list ap;
    int     ret;

    if (len != 0)
        f->log[len++] = ' ';
    va_start(ap, fmt);
    ret = vsnprintf(f->log + len, sizeof(f->log) - len, fmt, ap);
    va_end(ap);
    assert_true(ret >= 0 && (size_t)ret < sizeof(f->log) - len);
}

/* "name" or "name(arg0,arg1,...)". */
static void
fx_log_event(struct fx *f, const char *who, const struct ph_event *ev)
{
    char   buf[512];
    size_t i, len;

    len = (size_t)snprintf(buf, sizeof(buf), "%s:%s", who, ev->name);
    for (i = 0; i < ev->argc; i++) {
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
                                i == 0 ? "(" : ",", ev->argv[i]);
        assert_true(len < sizeof(buf));
    }
    fx_log(f, "%s%s", buf, ev->argc != 0 ? ")" : "");
}

static void
fx_clear(struct fx *f)
{
    f->log[0] = '\0';
}

static void
fx_sink(void *server, struct ph_event *ev)
{
    struct fx *f = server;

    assert_ptr_equal(ev->server, f);
    fx_log_event(f, "sink", ev);
}

/* ---- the test plugin ----------------------------------------------- */

static bool
tp_register(ph_plugin *p, ph_pipeline *pl, void *server)
{
    struct tp *t = p->ctx;

    assert_ptr_equal(server, t->fx);
    t->nregister++;
    if (t->server_ev != NULL)
        assert_int_equal(
            ph_plugin_register(pl, p, PH_HOOK_SERVER, t->server_ev), 0);
    if (t->client_ev != NULL)
        assert_int_equal(
            ph_plugin_register(pl, p, PH_HOOK_CLIENT, t->client_ev), 0);
    return !t->refuse;
}

static void
tp_unregister(ph_plugin *p, ph_pipeline *pl, void *server)
{
    struct tp *t = p->ctx;

    assert_ptr_equal(server, t->fx);
    t->nunregister++;
    fx_log(t->fx, "%s:unreg", t->name);
}

static int
tp_on_event(ph_plugin *p, ph_pipeline *pl, struct ph_event *ev)
{
    struct tp *t = p->ctx;

    fx_log_event(t->fx, t->name, ev);
    if (t->action != NULL)
        t->action(t, pl, ev);
    return t->ret;
}

static const struct ph_plugin_ops tp_ops = {
    .plugin_register = tp_register,
    .plugin_unregister = tp_unregister,
    .on_event = tp_on_event,
};

static struct tp *
tp_new(struct fx *f, const char *name, const char *const *server_ev,
       const char *const *client_ev)
{
    struct tp *t;

    assert_true(f->ntp < MAX_TP);
    t = &f->tp[f->ntp++];
    *t = (struct tp){
        .plugin = { .ops = &tp_ops, .ctx = t },
        .fx = f,
        .name = name,
        .server_ev = server_ev,
        .client_ev = client_ev,
        .ret = PH_EAT_NONE,
    };
    return t;
}

static int
tp_add(struct tp *t)
{
    return ph_plugin_add(t->fx->pl, t->name, &t->plugin);
}

/* Adds plugins registered for cmd_x under the given aliases. */
static void
fx_add_x(struct fx *f, const char *const *names)
{
    for (; *names != NULL; names++)
        assert_true(tp_add(tp_new(f, *names, EV_X, NULL)) > 0);
    fx_clear(f);
}

/* Dispatches one event with the given (borrowed) arguments. */
static bool
fx_fire(struct fx *f, enum ph_hook hook, const char *name,
        const char *const *args)
{
    struct ph_event ev;
    bool            delivered;

    ph_event_init(&ev, f->pl, hook, name, NULL, 0);
    for (; args != NULL && *args != NULL; args++)
        assert_int_equal(ph_event_add_arg(&ev, *args), 0);
    delivered = ph_pipeline_dispatch(f->pl, &ev);
    ph_event_cleanup(&ev);
    return delivered;
}

static int
setup(void **state)
{
    static struct fx f;

    memset(&f, 0, sizeof(f));
    f.pl = ph_pipeline_new(&f, fx_sink, PH_PROTO_POP3);
    if (f.pl == NULL)
        return -1;
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    ph_pipeline_free(f->pl);
    return 0;
}

/* ---- EAT codes ----------------------------------------------------- */

struct eat_case {
    int         ret[3];
    const char *log; /* the plugins called, for event "e" */
    bool        delivered;
};

#define NONE PH_EAT_NONE
#define CLIENT PH_EAT_CLIENT
#define PLUGIN PH_EAT_PLUGIN
#define ALL PH_EAT_ALL

static const struct eat_case eat_cases[] = {
    { { NONE, NONE, NONE }, "A:e B:e C:e", true },
    { { CLIENT, NONE, NONE }, "A:e B:e C:e", false },
    { { NONE, NONE, CLIENT }, "A:e B:e C:e", false },
    { { CLIENT, CLIENT, NONE }, "A:e B:e C:e", false },
    { { PLUGIN, NONE, NONE }, "A:e", true },
    { { NONE, PLUGIN, NONE }, "A:e B:e", true },
    { { CLIENT, PLUGIN, NONE }, "A:e B:e", false },
    { { ALL, NONE, NONE }, "A:e", false },
    { { NONE, ALL, NONE }, "A:e B:e", false },
    { { NONE, NONE, ALL }, "A:e B:e C:e", false },
};

/* Every case on both hooks: a "response" eaten by CLIENT or ALL is not
   written, exactly as an inbound event eaten is not handled. */
static void
test_eat_codes(void **state)
{
    static const char *const ev_e[] = { "e", NULL };
    static const char *const names[] = { "A", "B", "C" };
    struct fx               *f = *state;
    struct tp               *t[3];
    size_t                   i, j, hook;

    for (j = 0; j < 3; j++) {
        t[j] = tp_new(f, names[j], ev_e, ev_e);
        assert_int_equal(tp_add(t[j]), (int)j + 1);
    }
    for (i = 0; i < sizeof(eat_cases) / sizeof(eat_cases[0]); i++) {
        for (j = 0; j < 3; j++)
            t[j]->ret = eat_cases[i].ret[j];
        for (hook = PH_HOOK_SERVER; hook <= PH_HOOK_CLIENT; hook++) {
            fx_clear(f);
            assert_int_equal(fx_fire(f, (enum ph_hook)hook, "e", NULL),
                             eat_cases[i].delivered);
            assert_string_equal(f->log, eat_cases[i].log);
        }
    }
}

/* ---- order, list, get ---------------------------------------------- */

static void
test_order_is_add_order(void **state)
{
    static const char *const names[] = { "C", "A", "B", NULL };
    struct fx               *f = *state;
    ph_plugin               *order[3] = { NULL, NULL, NULL };
    const char              *aliases[2];
    ph_plugin               *plugins[2];

    fx_add_x(f, names);
    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
    assert_string_equal(f->log, "C:cmd_x A:cmd_x B:cmd_x");

    /* Counts may exceed max; nothing is written past it. */
    assert_int_equal(ph_plugin_order(f->pl, order, 2), 3);
    assert_ptr_equal(order[0], &f->tp[0].plugin);
    assert_ptr_equal(order[1], &f->tp[1].plugin);
    assert_null(order[2]);
    assert_int_equal(ph_plugin_order(f->pl, NULL, 0), 3);
    assert_int_equal(ph_plugin_list(f->pl, aliases, plugins, 2), 3);
    assert_string_equal(aliases[0], "C");
    assert_string_equal(aliases[1], "A");
    assert_ptr_equal(plugins[1], &f->tp[1].plugin);

    assert_ptr_equal(ph_plugin_get(f->pl, "B"), &f->tp[2].plugin);
    assert_null(ph_plugin_get(f->pl, "b"));
    assert_null(ph_plugin_get(f->pl, "D"));
}

/* ---- registration -------------------------------------------------- */

static void
test_all_registration(void **state)
{
    struct fx *f = *state;
    struct tp *all = tp_new(f, "ALL", EV_ALL, NULL);
    struct tp *x = tp_new(f, "X", EV_X, NULL);

    assert_int_equal(tp_add(all), 1);
    assert_string_equal(f->log, "ALL:plugin_add(ALL) sink:plugin_add(ALL)");
    assert_int_equal(tp_add(x), 2);
    fx_clear(f);

    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_y", NULL));
    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
    assert_string_equal(f->log, "ALL:cmd_y ALL:cmd_x X:cmd_x");

    /* "all" is per hook type: the outbound response reaches nobody. */
    fx_clear(f);
    assert_true(fx_fire(f, PH_HOOK_CLIENT, "response", NULL));
    assert_string_equal(f->log, "");
}

static void
test_unregister_some(void **state)
{
    static const char *const abc[] = { "cmd_a", "cmd_b", "cmd_c", NULL };
    static const char *const b_nope[] = { "cmd_b", "cmd_nope", NULL };
    static const char *const a[] = { "cmd_a", NULL };
    struct fx               *f = *state;
    struct tp               *t = tp_new(f, "T", abc, NULL);
    struct tp               *other = tp_new(f, "O", NULL, NULL);

    assert_int_equal(tp_add(t), 1);
    fx_clear(f);
    /* The unknown name is reported, cmd_b is still removed. */
    assert_int_equal(
        ph_plugin_unregister(f->pl, &t->plugin, PH_HOOK_SERVER, b_nope),
        PH_EINVAL);
    /* Registered on the other hook only. */
    assert_int_equal(ph_plugin_unregister(f->pl, &t->plugin, PH_HOOK_CLIENT, a),
                     PH_EINVAL);
    /* Not in the pipeline. */
    assert_int_equal(
        ph_plugin_unregister(f->pl, &other->plugin, PH_HOOK_SERVER, a),
        PH_EINVAL);
    assert_int_equal(
        ph_plugin_register(f->pl, &other->plugin, PH_HOOK_SERVER, a),
        PH_EINVAL);
    fx_fire(f, PH_HOOK_SERVER, "cmd_a", NULL);
    fx_fire(f, PH_HOOK_SERVER, "cmd_b", NULL);
    fx_fire(f, PH_HOOK_SERVER, "cmd_c", NULL);
    assert_string_equal(f->log, "T:cmd_a T:cmd_c");

    /* "all" drops every name of the hook; a second time there is none. */
    assert_int_equal(
        ph_plugin_unregister(f->pl, &t->plugin, PH_HOOK_SERVER, EV_ALL), 0);
    assert_int_equal(
        ph_plugin_unregister(f->pl, &t->plugin, PH_HOOK_SERVER, EV_ALL),
        PH_EINVAL);
    fx_clear(f);
    fx_fire(f, PH_HOOK_SERVER, "cmd_a", NULL);
    fx_fire(f, PH_HOOK_SERVER, "cmd_c", NULL);
    assert_string_equal(f->log, "");

    /* A name is registered only if named: "all" does not cover it. */
    assert_int_equal(
        ph_plugin_register(f->pl, &t->plugin, PH_HOOK_SERVER, EV_ALL), 0);
    assert_int_equal(ph_plugin_unregister(f->pl, &t->plugin, PH_HOOK_SERVER, a),
                     PH_EINVAL);
    fx_fire(f, PH_HOOK_SERVER, "cmd_a", NULL);
    assert_string_equal(f->log, "T:cmd_a");
}

static void
test_wants(void **state)
{
    static const char *const retr[] = { "cmd_retr", NULL };
    struct fx               *f = *state;
    int                      retr_id = ph_pipeline_event_id(f->pl, "cmd_retr");
    int                      quit_id = ph_pipeline_event_id(f->pl, "cmd_quit");
    struct tp               *a = tp_new(f, "A", retr, NULL);
    struct tp               *b = tp_new(f, "B", retr, NULL);
    struct tp               *c = tp_new(f, "C", NULL, EV_ALL);

    assert_true(retr_id >= 0 && quit_id >= 0 && retr_id != quit_id);
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, retr_id));
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_CLIENT, retr_id));
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, -1));

    assert_true(tp_add(a) > 0 && tp_add(b) > 0);
    assert_true(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, retr_id));
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_CLIENT, retr_id));
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, quit_id));

    /* Two registered: one gone leaves the count at one. */
    assert_int_equal(
        ph_plugin_unregister(f->pl, &a->plugin, PH_HOOK_SERVER, retr), 0);
    assert_true(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, retr_id));
    assert_ptr_equal(ph_plugin_del(f->pl, NULL, &b->plugin), &b->plugin);
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, retr_id));

    /* "all" on the client hook: any id, even one never numbered. */
    assert_true(tp_add(c) > 0);
    assert_true(ph_pipeline_wants(f->pl, PH_HOOK_CLIENT, quit_id));
    assert_true(ph_pipeline_wants(f->pl, PH_HOOK_CLIENT, -1));
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, quit_id));
    assert_non_null(ph_plugin_del(f->pl, "C", NULL));
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_CLIENT, quit_id));
}

static void
test_event_ids(void **state)
{
    struct fx      *f = *state;
    int             id = ph_pipeline_event_id(f->pl, "cmd_retr");
    struct ph_event ev;

    assert_true(id >= 0);
    assert_int_equal(ph_pipeline_event_id(f->pl, "cmd_retr"), id);
    assert_int_not_equal(ph_pipeline_event_id(f->pl, "CMD_RETR"), id);
    assert_int_equal(ph_pipeline_event_id(f->pl, ""), PH_EINVAL);
    assert_true(ph_pipeline_event_id(f->pl, "plugin_error") >= 0);

    ph_event_init(&ev, f->pl, PH_HOOK_SERVER, "cmd_retr", f, "s42");
    assert_int_equal(ev.id, id);
    assert_string_equal(ev.name, "cmd_retr");
    assert_ptr_equal(ev.server, f);
    assert_ptr_equal(ev.session, f);
    assert_string_equal(ev.session_id, "s42");
    assert_int_equal(ev.proto, PH_PROTO_POP3);
    assert_int_equal(ev.argc, 0);
    ph_event_cleanup(&ev);
}

/* ---- plugin_error -------------------------------------------------- */

/* The report carries the failed event's session and client id. */
static void
check_error_context(struct tp *t, ph_pipeline *pl, struct ph_event *ev)
{
    assert_ptr_equal(ev->session, t->fx);
    assert_string_equal(ev->session_id, "s7");
    assert_int_equal(ev->hook, PH_HOOK_SERVER);
}

static void
test_plugin_error(void **state)
{
    static const int         bad[] = { 0, 5, -1, 99 };
    static const char *const names[] = { "A", "B", NULL };
    struct fx               *f = *state;
    struct tp               *w = tp_new(f, "W", EV_ERROR, NULL);
    struct ph_event          ev;
    char                     want[256];
    size_t                   i;

    w->action = check_error_context;
    assert_int_equal(tp_add(w), 1);
    fx_add_x(f, names);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f->tp[1].ret = bad[i];
        fx_clear(f);
        ph_event_init(&ev, f->pl, PH_HOOK_SERVER, "cmd_x", f, "s7");
        /* Counted as PH_EAT_NONE: B runs and the event is delivered. */
        assert_true(ph_pipeline_dispatch(f->pl, &ev));
        ph_event_cleanup(&ev);
        snprintf(want, sizeof(want),
                 "A:cmd_x W:plugin_error(A,cmd_x,%d) "
                 "sink:plugin_error(A,cmd_x,%d) B:cmd_x",
                 bad[i], bad[i]);
        assert_string_equal(f->log, want);
    }

    /* A watcher that eats the report keeps it from the sink. */
    w->ret = PH_EAT_ALL;
    fx_clear(f);
    ph_event_init(&ev, f->pl, PH_HOOK_SERVER, "cmd_x", f, "s7");
    assert_true(ph_pipeline_dispatch(f->pl, &ev));
    ph_event_cleanup(&ev);
    assert_string_equal(f->log, "A:cmd_x W:plugin_error(A,cmd_x,99) B:cmd_x");
}

/* A plugin that fails on plugin_error: its failure goes to the sink
   only, so there is no loop, and the first report still arrives. */
static void
test_plugin_error_no_loop(void **state)
{
    static const char *const names[] = { "A", NULL };
    struct fx               *f = *state;
    struct tp               *w = tp_new(f, "W", EV_ERROR, NULL);

    w->ret = 42;
    assert_int_equal(tp_add(w), 1);
    fx_add_x(f, names);
    f->tp[1].ret = 0;
    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
    assert_string_equal(f->log, "A:cmd_x W:plugin_error(A,cmd_x,0) "
                                "sink:plugin_error(W,plugin_error,42) "
                                "sink:plugin_error(A,cmd_x,0)");

    /* A failure on an outbound event is reported on the server hook. */
    fx_clear(f);
    w->ret = PH_EAT_NONE;
    assert_int_equal(ph_plugin_register(f->pl, &f->tp[1].plugin, PH_HOOK_CLIENT,
                                        EV_RESPONSE),
                     0);
    assert_true(fx_fire(f, PH_HOOK_CLIENT, "response", NULL));
    assert_string_equal(f->log, "A:response W:plugin_error(A,response,0) "
                                "sink:plugin_error(A,response,0)");
}

/* ---- plugin_add / plugin_del --------------------------------------- */

static void
test_add_del_events(void **state)
{
    struct fx *f = *state;
    struct tp *w = tp_new(f, "W", EV_ADD_DEL, NULL);
    struct tp *b = tp_new(f, "B", NULL, NULL);
    struct tp *c = tp_new(f, "C", NULL, NULL);

    /* The new plugin is in the pipeline when its plugin_add is sent. */
    assert_int_equal(tp_add(w), 1);
    assert_int_equal(tp_add(b), 2);
    assert_string_equal(f->log, "W:plugin_add(W) sink:plugin_add(W) "
                                "W:plugin_add(B) sink:plugin_add(B)");
    fx_clear(f);
    assert_ptr_equal(ph_plugin_del(f->pl, "B", NULL), &b->plugin);
    assert_string_equal(f->log, "B:unreg W:plugin_del(B) sink:plugin_del(B)");
    assert_int_equal(b->nunregister, 1);
    fx_clear(f);
    assert_null(ph_plugin_del(f->pl, "B", NULL));
    assert_null(ph_plugin_del(f->pl, NULL, &b->plugin));
    assert_string_equal(f->log, "");

    /* Eaten by a plugin: the sink does not see it. */
    w->ret = PH_EAT_ALL;
    assert_int_equal(tp_add(c), 2);
    assert_ptr_equal(ph_plugin_del(f->pl, NULL, &c->plugin), &c->plugin);
    assert_string_equal(f->log, "W:plugin_add(C) C:unreg W:plugin_del(C)");
    assert_int_equal(ph_plugin_order(f->pl, NULL, 0), 1);
}

static void
test_duplicate_alias(void **state)
{
    struct fx *f = *state;
    struct tp *a = tp_new(f, "A", EV_X, NULL);
    struct tp *a2 = tp_new(f, "A", EV_X, NULL);

    assert_int_equal(tp_add(a), 1);
    fx_clear(f);
    assert_int_equal(tp_add(a2), PH_EINVAL);
    assert_int_equal(a2->nregister, 0);
    /* The same object twice, under another alias. */
    assert_int_equal(ph_plugin_add(f->pl, "A2", &a->plugin), PH_EINVAL);
    assert_int_equal(ph_plugin_add(f->pl, "", &a2->plugin), PH_EINVAL);
    assert_int_equal(ph_plugin_add(f->pl, NULL, &a2->plugin), PH_EINVAL);
    assert_int_equal(ph_plugin_order(f->pl, NULL, 0), 1);
    assert_string_equal(f->log, "");
    /* The alias is copied: the caller's buffer may change. */
    {
        char alias[] = "tmp";

        assert_int_equal(ph_plugin_add(f->pl, alias, &a2->plugin), 2);
        alias[0] = 'X';
        assert_ptr_equal(ph_plugin_get(f->pl, "tmp"), &a2->plugin);
    }
}

static void
test_register_refused(void **state)
{
    struct fx *f = *state;
    struct tp *t = tp_new(f, "T", EV_X, EV_ALL);
    int        x = ph_pipeline_event_id(f->pl, "cmd_x");

    t->refuse = true;
    assert_true(tp_add(t) < 0);
    assert_int_equal(t->nregister, 1);
    assert_int_equal(t->nunregister, 0);
    /* What it registered before refusing is gone. */
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, x));
    assert_false(ph_pipeline_wants(f->pl, PH_HOOK_CLIENT, x));
    assert_int_equal(ph_plugin_order(f->pl, NULL, 0), 0);
    assert_null(ph_plugin_get(f->pl, "T"));
    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
    assert_string_equal(f->log, "");

    /* The alias is free again. */
    t->refuse = false;
    assert_int_equal(tp_add(t), 1);
    assert_true(ph_pipeline_wants(f->pl, PH_HOOK_SERVER, x));
}

static void
test_free_unregisters_all(void **state)
{
    static const char *const names[] = { "A", "B", "C", NULL };
    struct fx               *f = *state;

    fx_add_x(f, names);
    assert_non_null(ph_plugin_del(f->pl, "B", NULL));
    fx_clear(f);
    ph_pipeline_free(f->pl);
    f->pl = NULL;
    /* No plugin_del events while the server goes away. */
    assert_string_equal(f->log, "A:unreg C:unreg");
    assert_int_equal(f->tp[0].nunregister, 1);
    assert_int_equal(f->tp[1].nunregister, 1);
    assert_int_equal(f->tp[2].nunregister, 1);
    ph_pipeline_free(NULL);
}

/* ---- add and remove during dispatch -------------------------------- */

static void
del_by_arg(struct tp *t, ph_pipeline *pl, struct ph_event *ev)
{
    ph_plugin *gone = ph_plugin_del(pl, t->arg, NULL);

    assert_non_null(gone);
    /* Out of the listings at once, though its slot waits for compaction. */
    assert_null(ph_plugin_get(pl, t->arg));
    t->action = NULL;
}

struct del_case {
    const char *killer; /* plugin whose on_event deletes */
    const char *victim;
    const char *first;  /* log of the dispatch that deletes */
    const char *second; /* log of the next one */
};

static const struct del_case del_cases[] = {
    { "A", "A", "A:cmd_x A:unreg sink:plugin_del(A) B:cmd_x C:cmd_x",
      "B:cmd_x C:cmd_x" },
    { "A", "B", "A:cmd_x B:unreg sink:plugin_del(B) C:cmd_x",
      "A:cmd_x C:cmd_x" },
    { "B", "A", "A:cmd_x B:cmd_x A:unreg sink:plugin_del(A) C:cmd_x",
      "B:cmd_x C:cmd_x" },
    { "C", "C", "A:cmd_x B:cmd_x C:cmd_x C:unreg sink:plugin_del(C)",
      "A:cmd_x B:cmd_x" },
};

static void
test_del_during_dispatch(void **state)
{
    static const char *const names[] = { "A", "B", "C", NULL };
    struct fx               *f = *state;
    size_t                   i, k;
    struct tp               *killer;

    for (i = 0; i < sizeof(del_cases) / sizeof(del_cases[0]); i++) {
        ph_pipeline_free(f->pl);
        memset(f, 0, sizeof(*f));
        f->pl = ph_pipeline_new(f, fx_sink, PH_PROTO_POP3);
        assert_non_null(f->pl);
        fx_add_x(f, names);
        killer = &f->tp[del_cases[i].killer[0] - 'A'];
        killer->action = del_by_arg;
        killer->arg = del_cases[i].victim;

        assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
        assert_string_equal(f->log, del_cases[i].first);
        fx_clear(f);
        assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
        assert_string_equal(f->log, del_cases[i].second);
        assert_int_equal(ph_plugin_order(f->pl, NULL, 0), 2);
        for (k = 0; k < 3; k++)
            assert_int_equal(f->tp[k].nunregister,
                             f->tp[k].name[0] == del_cases[i].victim[0]);
    }
}

/* Adds plugin "D" (registered for cmd_x) and, with arg "B", first
   removes B and re-adds a new plugin under the alias B. */
static void
add_during(struct tp *t, ph_pipeline *pl, struct ph_event *ev)
{
    struct fx *f = t->fx;

    if (t->arg != NULL) {
        assert_non_null(ph_plugin_del(pl, t->arg, NULL));
        /* Old B's slot is dead: A and the new B are live. */
        assert_int_equal(tp_add(tp_new(f, t->arg, EV_X, NULL)), 2);
    }
    assert_true(tp_add(tp_new(f, "D", EV_X, NULL)) > 0);
    t->action = NULL;
}

static void
test_add_during_dispatch(void **state)
{
    static const char *const names[] = { "A", "B", NULL };
    struct fx               *f = *state;

    fx_add_x(f, names);
    f->tp[0].action = add_during;
    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
    assert_string_equal(f->log, "A:cmd_x sink:plugin_add(D) B:cmd_x");
    fx_clear(f);
    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
    assert_string_equal(f->log, "A:cmd_x B:cmd_x D:cmd_x");

    /* Old B removed, a new B added: neither runs for this event. */
    ph_pipeline_free(f->pl);
    memset(f, 0, sizeof(*f));
    f->pl = ph_pipeline_new(f, fx_sink, PH_PROTO_POP3);
    assert_non_null(f->pl);
    fx_add_x(f, names);
    f->tp[0].action = add_during;
    f->tp[0].arg = "B";
    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
    assert_string_equal(f->log, "A:cmd_x B:unreg sink:plugin_del(B) "
                                "sink:plugin_add(B) sink:plugin_add(D)");
    fx_clear(f);
    assert_true(fx_fire(f, PH_HOOK_SERVER, "cmd_x", NULL));
    assert_string_equal(f->log, "A:cmd_x B:cmd_x D:cmd_x");
    assert_ptr_equal(ph_plugin_get(f->pl, "B"), &f->tp[2].plugin);
}

/* ---- arguments ----------------------------------------------------- */

static void
rewrite_arg0(struct tp *t, ph_pipeline *pl, struct ph_event *ev)
{
    assert_int_equal(ph_event_set_arg(ev, 0, t->arg), 0);
}

static void
push_extra(struct tp *t, ph_pipeline *pl, struct ph_event *ev)
{
    assert_int_equal(ph_event_push_arg(ev, t->arg), 0);
}

/* The outbound hook: A rewrites the reply, B and the server see it. */
static void
test_response_rewrite(void **state)
{
    struct fx      *f = *state;
    struct tp      *a = tp_new(f, "A", NULL, EV_RESPONSE);
    struct tp      *b = tp_new(f, "B", NULL, EV_RESPONSE);
    struct ph_event ev;
    char            reply[] = "+OK hello";

    a->action = rewrite_arg0;
    a->arg = "+OK rewritten";
    assert_true(tp_add(a) > 0 && tp_add(b) > 0);
    fx_clear(f);
    ph_event_init(&ev, f->pl, PH_HOOK_CLIENT, "response", NULL, "s3");
    assert_int_equal(ph_event_add_arg(&ev, reply), 0);
    assert_int_equal(ph_event_add_arg(&ev, "2"), 0);
    assert_true(ph_pipeline_dispatch(f->pl, &ev));
    assert_string_equal(f->log, "A:response(+OK hello,2) "
                                "B:response(+OK rewritten,2)");
    assert_int_equal(ev.argc, 2);
    assert_string_equal(ev.argv[0], "+OK rewritten");
    assert_string_equal(ev.argv[1], "2");
    /* The caller's buffer was not written to. */
    assert_string_equal(reply, "+OK hello");
    ph_event_cleanup(&ev);
    assert_int_equal(ev.argc, 0);
}

static void
test_push_arg(void **state)
{
    struct fx      *f = *state;
    struct tp      *a = tp_new(f, "A", EV_X, NULL);
    struct tp      *b = tp_new(f, "B", EV_X, NULL);
    struct ph_event ev;

    a->action = push_extra;
    a->arg = "extra";
    assert_true(tp_add(a) > 0 && tp_add(b) > 0);
    fx_clear(f);
    ph_event_init(&ev, f->pl, PH_HOOK_SERVER, "cmd_x", NULL, "s1");
    assert_int_equal(ph_event_add_arg(&ev, "1"), 0);
    assert_true(ph_pipeline_dispatch(f->pl, &ev));
    assert_string_equal(f->log, "A:cmd_x(1) B:cmd_x(1,extra)");
    assert_int_equal(ev.argc, 2);
    assert_string_equal(ev.argv[1], "extra");
    ph_event_cleanup(&ev);
}

static void
test_arg_limits(void **state)
{
    struct fx      *f = *state;
    struct ph_event ev;
    size_t          i;

    ph_event_init(&ev, f->pl, PH_HOOK_SERVER, "cmd_x", NULL, 0);
    for (i = 0; i < PH_EVENT_MAX_ARGS - 1; i++)
        assert_int_equal(ph_event_add_arg(&ev, "a"), 0);
    assert_int_equal(ph_event_push_arg(&ev, "last"), 0);
    assert_int_equal(ev.argc, PH_EVENT_MAX_ARGS);
    assert_int_equal(ph_event_push_arg(&ev, "over"), PH_ELIMIT);
    assert_int_equal(ph_event_add_arg(&ev, "over"), PH_ELIMIT);
    assert_int_equal(ev.argc, PH_EVENT_MAX_ARGS);

    assert_int_equal(ph_event_set_arg(&ev, PH_EVENT_MAX_ARGS, "x"), PH_EINVAL);
    assert_int_equal(ph_event_set_arg(&ev, 0, NULL), PH_EINVAL);
    /* Replacing a copy frees it (ASan's leak check), even with itself. */
    assert_int_equal(ph_event_set_arg(&ev, 0, "one"), 0);
    assert_int_equal(ph_event_set_arg(&ev, 0, "two"), 0);
    assert_int_equal(ph_event_set_arg(&ev, 0, ev.argv[0]), 0);
    assert_string_equal(ev.argv[0], "two");
    assert_int_equal(ph_event_set_arg(&ev, PH_EVENT_MAX_ARGS - 1, "new"), 0);
    assert_string_equal(ev.argv[PH_EVENT_MAX_ARGS - 1], "new");
    ph_event_cleanup(&ev);

    ph_event_init(&ev, f->pl, PH_HOOK_SERVER, "cmd_x", NULL, 0);
    assert_int_equal(ph_event_set_arg(&ev, 0, "x"), PH_EINVAL);
    ph_event_cleanup(&ev);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_eat_codes),
        T(test_order_is_add_order),
        T(test_all_registration),
        T(test_unregister_some),
        T(test_wants),
        T(test_event_ids),
        T(test_plugin_error),
        T(test_plugin_error_no_loop),
        T(test_add_del_events),
        T(test_duplicate_alias),
        T(test_register_refused),
        T(test_free_unregisters_all),
        T(test_del_during_dispatch),
        T(test_add_during_dispatch),
        T(test_response_rewrite),
        T(test_push_arg),
        T(test_arg_limits),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
