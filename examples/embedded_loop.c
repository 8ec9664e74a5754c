/*
 * embedded_loop.c -- posthorn inside a program that owns its libevent
 * loop. The program makes the event_base, serves a line service of its
 * own on it (evconnlistener + bufferevent), puts an ESMTP server on the
 * same base with ph_loop_new_with_base(), and runs event_base_dispatch()
 * itself. One thread, so both services share the message count without
 * locks. SIGTERM/SIGINT (added through ph_loop_add_signal) stop both.
 *
 * The line service answers "count" with "messages=N" (messages the SMTP
 * server took) and any other line with "echo LINE".
 *
 * usage: embedded_loop [-a ADDR] [SMTP_PORT [ECHO_PORT]]   (ports: 0)
 * prints "echo port=N", then "ready port=N" (the SMTP port).
 */
#include <posthorn/posthorn.h>
#include <posthorn/event.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ECHO_MAX_LINE 512       /* longer lines: the client is dropped */
#define ECHO_MAX_OUT  65536     /* stop reading while this much is unsent */

struct echo_client;

/* The program: its base, its own service, and posthorn on the same base.
   Lives in main's frame; everything hanging off it is freed in app_free. */
struct app {
    struct event_base     *base;
    struct evconnlistener *echo;        /* NULL once stopped */
    struct echo_client    *clients;     /* open connections of our own */
    ph_loop               *loop;
    ph_smtp_server        *smtp;
    unsigned long          messages;
};

/* One connection of the line service; owned by app->clients. */
struct echo_client {
    struct bufferevent *bev;
    struct app         *app;
    struct echo_client *prev, *next;
};

/* ---- the program's own service ---------------------------------------- */

static void
echo_client_free(struct echo_client *cl)
{
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        cl->app->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    bufferevent_free(cl->bev);
    free(cl);
}

static void
echo_answer(struct echo_client *cl, const char *line)
{
    if (strcmp(line, "count") == 0)
        evbuffer_add_printf(bufferevent_get_output(cl->bev),
                            "messages=%lu\r\n", cl->app->messages);
    else
        evbuffer_add_printf(bufferevent_get_output(cl->bev), "echo %s\r\n",
                            line);
}

/* Takes one LF-terminated line off in; 1 done, 0 need more, -1 too long. */
static int
echo_take_line(struct evbuffer *in, char line[ECHO_MAX_LINE + 1])
{
    size_t               eol_len;
    struct evbuffer_ptr  eol;

    eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
    if (eol.pos < 0)
        return evbuffer_get_length(in) > ECHO_MAX_LINE ? -1 : 0;
    if ((size_t)eol.pos > ECHO_MAX_LINE)
        return -1;
    evbuffer_remove(in, line, (size_t)eol.pos);
    evbuffer_drain(in, eol_len);
    line[eol.pos] = '\0';
    if (eol.pos > 0 && line[eol.pos - 1] == '\r')
        line[eol.pos - 1] = '\0';
    return 1;
}

/* Every complete line, until the client stops reading our answers. */
static void
echo_read_cb(struct bufferevent *bev, void *arg)
{
    struct echo_client *cl = arg;
    char                line[ECHO_MAX_LINE + 1];
    int                 got;

    while (evbuffer_get_length(bufferevent_get_output(bev)) < ECHO_MAX_OUT) {
        got = echo_take_line(bufferevent_get_input(bev), line);
        if (got < 0) {
            echo_client_free(cl);
            return;
        }
        if (got == 0)
            return;
        echo_answer(cl, line);
    }
    bufferevent_disable(bev, EV_READ);  /* echo_write_cb resumes */
}

/* The output has drained: go on with lines that waited. */
static void
echo_write_cb(struct bufferevent *bev, void *arg)
{
    if (bufferevent_get_enabled(bev) & EV_READ)
        return;
    bufferevent_enable(bev, EV_READ);
    echo_read_cb(bev, arg);
}

static void
echo_event_cb(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        echo_client_free(arg);
}

static void
echo_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
               struct sockaddr *peer, int peer_len, void *arg)
{
    struct app         *app = arg;
    struct echo_client *cl = calloc(1, sizeof(*cl));

    if (cl == NULL ||
        (cl->bev = bufferevent_socket_new(app->base, fd,
                                          BEV_OPT_CLOSE_ON_FREE)) == NULL) {
        free(cl);
        evutil_closesocket(fd);
        return;
    }
    cl->app = app;
    cl->next = app->clients;
    if (cl->next)
        cl->next->prev = cl;
    app->clients = cl;
    bufferevent_setcb(cl->bev, echo_read_cb, echo_write_cb, echo_event_cb,
                      cl);
    bufferevent_enable(cl->bev, EV_READ);
}

/* The port a listening socket got (port 0 asks the kernel to pick). */
static unsigned
bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t               len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* Listens on addr:port with the library's address parser; the bound port,
   or 0 on failure. */
static unsigned
echo_listen(struct app *app, const char *addr, unsigned port)
{
    char                    text[128];
    struct sockaddr_storage ss;
    socklen_t               len;
    int                     n;

    n = snprintf(text, sizeof(text), strchr(addr, ':') ? "[%s]:%u" : "%s:%u",
                 addr, port);
    if (n < 0 || (size_t)n >= sizeof(text) ||
        ph_addr_parse(text, &ss, &len) != 0)
        return 0;
    app->echo = evconnlistener_new_bind(app->base, echo_accept_cb, app,
                                        LEV_OPT_CLOSE_ON_FREE |
                                        LEV_OPT_CLOSE_ON_EXEC |
                                        LEV_OPT_REUSEABLE, -1,
                                        (struct sockaddr *)&ss, (int)len);
    return app->echo ? bound_port(evconnlistener_get_fd(app->echo)) : 0;
}

/* Closes our listener and every connection of ours (idempotent). */
static void
echo_stop(struct app *app)
{
    if (app->echo) {
        evconnlistener_free(app->echo);
        app->echo = NULL;
    }
    while (app->clients)
        echo_client_free(app->clients);
}

/* ---- posthorn on the same base ------------------------------------------ */

static enum ph_result
on_eom(ph_smtp_session *s)
{
    struct app *app = ph_smtp_server_data(ph_smtp_session_server(s));

    app->messages++;
    printf("message n=%lu\n", app->messages);
    fflush(stdout);
    ph_smtp_reply(s, PH_SMTP_OK, "2.0.0", "Message accepted");
    return PH_OK;
}

static void
on_listener_failed(void *ctx, const char *operation, int errnum,
                   const char *errstr)
{
    fprintf(stderr, "embedded_loop: smtp %s: %s\n", operation, errstr);
}

/*
 * Stop taking work: posthorn sends 421 to its sessions and closes each
 * once flushed; we close our own service now. With the signals cleared
 * too, the base runs dry and event_base_dispatch() in main returns.
 */
static void
on_signal(void *ctx, int signum)
{
    struct app *app = ctx;

    printf("stopping signal=%d\n", signum);
    fflush(stdout);
    ph_smtp_server_shutdown(app->smtp);
    echo_stop(app);
    ph_loop_clear_signals(app->loop);
}

/* Everything on app->base, ports printed. 0 or -1. */
static int
app_start(struct app *app, const char *addr, unsigned smtp_port,
          unsigned echo_port)
{
    if ((app->base = event_base_new()) == NULL ||
        (app->loop = ph_loop_new_with_base(app->base)) == NULL)
        return -1;
    ph_loop_set_log(app->loop, PH_LOG_INFO, ph_log_stderr, NULL);
    app->smtp = ph_smtp_server_new(app->loop, &(struct ph_smtp_options){
        .address = addr, .port = smtp_port, .mode = PH_SMTP_MODE_ESMTP,
        .alias = "embedded_loop", .user_data = app,
        .listener_failed = on_listener_failed });
    if (app->smtp == NULL || ph_smtp_server_port(app->smtp) == 0)
        return -1;
    ph_smtp_server_set_callbacks(app->smtp, &(struct ph_smtp_callbacks){
        .eom = on_eom });
    if ((echo_port = echo_listen(app, addr, echo_port)) == 0) {
        perror("embedded_loop: echo listener");
        return -1;
    }
    if (ph_loop_add_signal(app->loop, SIGTERM, on_signal, app) != 0 ||
        ph_loop_add_signal(app->loop, SIGINT, on_signal, app) != 0)
        return -1;
    printf("echo port=%u\n", echo_port);
    printf("ready port=%u\n", ph_smtp_server_port(app->smtp));
    fflush(stdout);
    return 0;
}

/* Servers, then the loop, then the base: each needs the next one alive. */
static void
app_free(struct app *app)
{
    ph_smtp_server_free(app->smtp);
    echo_stop(app);
    ph_loop_free(app->loop);
    if (app->base)
        event_base_free(app->base);
}

int
main(int argc, char **argv)
{
    struct app  app = { 0 };
    const char *addr = "127.0.0.1";
    unsigned    ports[2] = { 0, 0 };
    int         opt, rc;

    while ((opt = getopt(argc, argv, "a:")) != -1) {
        if (opt != 'a')
            goto usage;
        addr = optarg;
    }
    if (argc - optind > 2)
        goto usage;
    for (int i = 0; optind + i < argc; i++)
        ports[i] = (unsigned)strtoul(argv[optind + i], NULL, 10);
    rc = app_start(&app, addr, ports[0], ports[1]);
    if (rc == 0)
        rc = event_base_dispatch(app.base) < 0 ? -1 : 0;    /* ours */
    app_free(&app);
    return rc == 0 ? 0 : 1;
usage:
    fprintf(stderr, "usage: embedded_loop [-a ADDR] [SMTP_PORT "
            "[ECHO_PORT]]\n");
    return 2;
}
