/*
 * test_loop.c -- src/core/loop.c on an event_base the program owns
 * (ph_loop_new_with_base): the base survives ph_loop_free, the loop and a
 * server leave no event behind on it, signals added through the loop
 * arrive while the program dispatches the base itself, and ph_loop_stop
 * and ph_loop_run act on that base.
 */
/* First, alone: event.h must compile without posthorn.h before it. */
#include "posthorn/event.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "posthorn/posthorn.h"

/* Events the library (or the test) left on base: added or active. */
static int
added_events(struct event_base *base)
{
    return event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED);
}

static void
test_null_base(void **state)
{
    assert_null(ph_loop_new_with_base(NULL));
    ph_loop_free(NULL);
}

static void
count_cb(evutil_socket_t fd, short what, void *arg)
{
    ++*(int *)arg;
}

static void
ignore_signal(void *ctx, int signum)
{
}

/* ph_loop_free takes its signal events away and leaves the base usable:
   a use of a freed base would be an ASan report here. */
static void
test_free_leaves_base(void **state)
{
    struct event_base *base = event_base_new();
    ph_loop           *loop;
    int                fired = 0;

    assert_non_null(base);
    loop = ph_loop_new_with_base(base);
    assert_non_null(loop);
    assert_ptr_equal(ph_loop_base(loop), base);
    assert_int_equal(ph_loop_add_signal(loop, SIGUSR1, ignore_signal, NULL),
                     0);
    assert_int_equal(added_events(base), 1);
    ph_loop_free(loop);
    assert_int_equal(added_events(base), 0);
    assert_int_equal(event_base_once(base, -1, EV_TIMEOUT, count_cb, &fired,
                                     &(struct timeval){ 0, 0 }), 0);
    assert_int_equal(event_base_dispatch(base), 1);    /* 1: ran dry */
    assert_int_equal(fired, 1);
    event_base_free(base);
}

struct sig_state {
    ph_loop      *loop;
    struct event *guard;   /* fails the test if the signal never comes */
    int           got;
};

static void
on_signal(void *ctx, int signum)
{
    struct sig_state *st = ctx;

    st->got = signum;
    ph_loop_clear_signals(st->loop);
    event_del(st->guard);               /* now the base runs dry */
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(arg);
}

/* The program dispatches its base itself; the signal reaches fn. */
static void
test_signal_on_program_base(void **state)
{
    struct event_base *base = event_base_new();
    struct sig_state   st = { 0 };
    struct timeval     five_s = { 5, 0 };

    assert_non_null(base);
    st.loop = ph_loop_new_with_base(base);
    st.guard = evtimer_new(base, guard_cb, base);
    assert_non_null(st.loop);
    assert_non_null(st.guard);
    evtimer_add(st.guard, &five_s);
    assert_int_equal(ph_loop_add_signal(st.loop, SIGUSR1, on_signal, &st), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(event_base_dispatch(base), 1);
    assert_int_equal(st.got, SIGUSR1);
    event_free(st.guard);
    ph_loop_free(st.loop);
    event_base_free(base);
}

struct tick_state {
    ph_loop *loop;
    int      ticks;
};

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tick_state *ts = arg;

    if (++ts->ticks == 3)
        ph_loop_stop(ts->loop);
}

/* ph_loop_stop breaks the program's own event_base_dispatch, which a
   persistent timer of the program would otherwise keep running; a stop
   while nothing runs the base is forgotten. */
static void
test_stop_breaks_program_dispatch(void **state)
{
    struct event_base *base = event_base_new();
    struct tick_state  ts = { 0 };
    struct event      *tick;
    struct timeval     one_ms = { 0, 1000 };

    assert_non_null(base);
    ts.loop = ph_loop_new_with_base(base);
    tick = event_new(base, -1, EV_PERSIST, tick_cb, &ts);
    assert_non_null(ts.loop);
    assert_non_null(tick);
    evtimer_add(tick, &one_ms);
    ph_loop_stop(ts.loop);
    assert_int_equal(event_base_dispatch(base), 0);
    assert_true(event_base_got_break(base));
    assert_int_equal(ts.ticks, 3);
    event_free(tick);
    ph_loop_free(ts.loop);
    event_base_free(base);
}

/* ph_loop_run on a program's base runs the program's events as well. */
static void
test_run_program_events(void **state)
{
    struct event_base *base = event_base_new();
    ph_loop           *loop;
    int                fired = 0;

    assert_non_null(base);
    loop = ph_loop_new_with_base(base);
    assert_non_null(loop);
    assert_int_equal(event_base_once(base, -1, EV_TIMEOUT, count_cb, &fired,
                                     &(struct timeval){ 0, 0 }), 0);
    assert_int_equal(ph_loop_run(loop), 0);
    assert_int_equal(fired, 1);
    ph_loop_free(loop);
    event_base_free(base);
}

static int
connect_local(unsigned port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port) };
    int                fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

/* A server with a live session on the program's base: once the server
   and the loop are freed, nothing of theirs is left pending on it. */
static void
test_server_leaves_nothing(void **state)
{
    struct event_base *base = event_base_new();
    ph_loop           *loop;
    ph_smtp_server    *srv;
    int                fd;

    assert_non_null(base);
    loop = ph_loop_new_with_base(base);
    assert_non_null(loop);
    srv = ph_smtp_server_new(loop, &(struct ph_smtp_options){
        .address = "127.0.0.1", .port = 0, .hostname = "test.example" });
    assert_non_null(srv);
    assert_int_not_equal(ph_smtp_server_port(srv), 0);
    fd = connect_local(ph_smtp_server_port(srv));
    for (int i = 0; i < 100 && ph_smtp_server_session_count(srv) == 0; i++)
        event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(ph_smtp_server_session_count(srv), 1);
    assert_true(added_events(base) > 0);
    ph_smtp_server_free(srv);
    ph_loop_free(loop);
    /* libevent finalizes a freed bufferevent on the next turn (until
       then it counts as an event); anything else would be ours. */
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(added_events(base), 0);
    close(fd);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_base),
        cmocka_unit_test(test_free_leaves_base),
        cmocka_unit_test(test_signal_on_program_base),
        cmocka_unit_test(test_stop_breaks_program_dispatch),
        cmocka_unit_test(test_run_program_events),
        cmocka_unit_test(test_server_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
