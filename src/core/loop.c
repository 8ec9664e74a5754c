/* loop.c -- ph_loop: one libevent event_base, its log hook, session ids. */
#include "core/core_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/*
 * A client that resets its connection while we write would otherwise
 * kill the process with SIGPIPE (libevent writes with writev). Only a
 * default disposition is changed: a program's own handler stays.
 */
static void
ignore_sigpipe(void)
{
    struct sigaction sa;

    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

static ph_loop *
loop_alloc(struct event_base *base, bool own)
{
    ph_loop *loop = calloc(1, sizeof(*loop));

    if (loop == NULL)
        return NULL;
    loop->base = base;
    loop->own_base = own;
    loop->log_level = PH_LOG_INFO;
    loop->id_salt = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
    ignore_sigpipe();
    return loop;
}

ph_loop *
ph_loop_new(void)
{
    struct event_base *base = event_base_new();
    ph_loop           *loop;

    if (base == NULL)
        return NULL;
    loop = loop_alloc(base, true);
    if (loop == NULL)
        event_base_free(base);
    return loop;
}

ph_loop *
ph_loop_new_with_base(struct event_base *base)
{
    return base ? loop_alloc(base, false) : NULL;
}

struct event_base *
ph_loop_base(ph_loop *loop)
{
    return loop->base;
}

void
ph_loop_free(ph_loop *loop)
{
    if (loop == NULL)
        return;
    for (size_t i = 0; i < loop->nsignals; i++)
        event_free(loop->signals[i].ev);
    if (loop->own_base)
        event_base_free(loop->base);
    free(loop);
}

int
ph_loop_run(ph_loop *loop)
{
    return event_base_dispatch(loop->base) < 0 ? PH_EIO : 0;
}

void
ph_loop_stop(ph_loop *loop)
{
    event_base_loopbreak(loop->base);
}

void
ph_loop_new_session_id(ph_loop *loop, char buf[17])
{
    snprintf(buf, 17, "%08x%08x", (unsigned)loop->id_salt,
             (unsigned)(++loop->next_id & 0xffffffffu));
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct ph_loop_signal *ls = arg;

    (void)what;
    ls->fn(ls->ctx, (int)sig);
}

int
ph_loop_add_signal(ph_loop *loop, int signum, ph_signal_fn *fn, void *ctx)
{
    struct ph_loop_signal *ls;

    if (fn == NULL || loop->nsignals == PH_LOOP_MAX_SIGNALS)
        return PH_EINVAL;
    ls = &loop->signals[loop->nsignals];
    ls->fn = fn;
    ls->ctx = ctx;
    ls->signum = signum;
    ls->ev = evsignal_new(loop->base, signum, signal_cb, ls);
    if (ls->ev == NULL || event_add(ls->ev, NULL) != 0) {
        if (ls->ev)
            event_free(ls->ev);
        return PH_ENOMEM;
    }
    loop->nsignals++;
    return 0;
}

/* event_del only: the event may be the one running; ph_loop_free frees. */
void
ph_loop_clear_signals(ph_loop *loop)
{
    for (size_t i = 0; i < loop->nsignals; i++)
        event_del(loop->signals[i].ev);
}
