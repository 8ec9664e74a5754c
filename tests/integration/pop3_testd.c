/*
 * pop3_testd.c -- a POP3 test server for the integration tests, on the
 * public API only. Every knob the POP3 tests need and the examples lack
 * is an option. It prints "ready port=N" once listening and, with -E,
 * one line per event a registered listener ("all") receives.
 *
 * usage: pop3_testd [options] MAILROOT
 *   -p PORT     port (default 0: any)
 *   -d MS       auth_fail_delay_ms (default: none, PH_POP3_NO_DELAY)
 *   -t SECS     idle_timeout          -e N   max_errors
 *   -l N        max_line_len          -N N   max_sessions
 *   -n          handle_connects off: the "connection" listener greets
 *               with "+OK pop3_testd greeting" (ph_pop3_send_to_client)
 *   -A          APOP on; a user's APOP secret is the password
 *   -P MS       the verify answers MS ms later, from a timer (pending)
 *   -R OLD=NEW  a PH_HOOK_CLIENT plugin rewrites responses starting with
 *               OLD to start with NEW instead
 *   -X TEXT     that plugin suppresses responses starting with TEXT
 *   -E          print every event: "EVENT name arg0 arg1 ..."
 *   -v          log INFO to stderr
 *   --tls-cert FILE --tls-key FILE
 *               a TLS context: STLS is offered (and USER/PASS, AUTH
 *               PLAIN need it first, unless --auth-plaintext)
 *   --pop3s ADDR  also an implicit-TLS listener on ADDR ("127.0.0.1:0");
 *               its port is printed as "pop3s port=N" before the ready
 *               line
 *   --auth-plaintext  allow plaintext logins despite the TLS context
 *   --tls-timeout SECS  tls_handshake_timeout
 *   --max-sessions N            max_sessions (same as -N)
 *   --max-per-addr N            max_sessions_per_addr
 *   --max-noops N|none          max_noop_commands
 *   --max-session-time S|none   max_session_time
 *
 * Users: alice/wonderland, bob/builder; user U's Maildir is MAILROOT/U.
 * SIGTERM/SIGINT: shutdown, then everything is freed and it exits 0.
 */
#include <posthorn/posthorn.h>
#include <posthorn/event.h>

#include <event2/event.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct { const char *user, *password; } users[] = {
    { "alice", "wonderland" }, { "bob", "builder" },
};

/* A login the timer answers later (-P). */
struct pending {
    struct pending  *prev, *next;
    struct event    *ev;
    ph_pop3_session *s;
    enum ph_pop3_status st;
    char             locator[4096];
};

static const char      *g_mailroot;
static ph_loop         *g_loop;
static ph_pop3_server  *g_srv;
static unsigned         g_pending_ms;
static struct pending  *g_pending;
static const char      *g_rw_old, *g_rw_new, *g_suppress;

/* ---- verify ---------------------------------------------------------- */

static void
pending_free(struct pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        g_pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    event_free(p->ev);
    ph_pop3_session_unref(p->s);
    free(p);
}

static void
pending_fire(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;
    int             rc;

    (void)fd;
    (void)what;
    rc = ph_pop3_auth_reply(p->s, p->st, p->locator);
    printf("PENDING_REPLY rc=%d\n", rc);
    fflush(stdout);
    pending_free(p);
}

static void
answer(ph_pop3_session *s, enum ph_pop3_status st, const char *locator)
{
    struct pending *p;
    struct timeval  tv;

    if (g_pending_ms == 0) {
        ph_pop3_auth_reply(s, st, locator);
        return;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL || (p->ev = evtimer_new(ph_loop_base(g_loop), pending_fire,
                                          p)) == NULL) {
        free(p);
        ph_pop3_auth_reply(s, PH_POP3_ERR_SYS_TEMP, NULL);
        return;
    }
    p->s = s;
    p->st = st;
    snprintf(p->locator, sizeof(p->locator), "%s", locator ? locator : "");
    ph_pop3_session_ref(s);
    p->next = g_pending;
    if (g_pending)
        g_pending->prev = p;
    g_pending = p;
    tv.tv_sec = g_pending_ms / 1000;
    tv.tv_usec = (long)(g_pending_ms % 1000) * 1000;
    evtimer_add(p->ev, &tv);
}

static void
verify(ph_pop3_session *s, const struct ph_pop3_auth *a, void *ctx)
{
    char dir[4096];

    (void)ctx;
    printf("VERIFY mech=%s user=%s authzid=%s\n", a->mech, a->user,
           a->authzid ? a->authzid : "");
    fflush(stdout);
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        bool ok;

        if (strcmp(a->user, users[i].user) != 0)
            continue;
        if (strcmp(a->mech, "APOP") == 0)
            ok = ph_pop3_apop_check(a->apop_timestamp, users[i].password,
                                    a->apop_digest);
        else
            ok = a->password != NULL &&
                 strcmp(a->password, users[i].password) == 0;
        if (!ok)
            break;
        snprintf(dir, sizeof(dir), "%s/%s", g_mailroot, a->user);
        answer(s, PH_POP3_OK, dir);
        return;
    }
    answer(s, PH_POP3_ERR_AUTH, NULL);
}

/* ---- listener and plugin --------------------------------------------- */

static void
print_event(ph_pop3_server *srv, const struct ph_event *ev, void *ctx)
{
    (void)ctx;
    printf("EVENT %s", ev->name);
    for (size_t i = 0; i < ev->argc; i++)
        printf(" %s", ev->argv[i]);
    putchar('\n');
    fflush(stdout);
    /* -n: the program greets, as the seed lets it. */
    if ((intptr_t)ctx == 1 && strcmp(ev->name, "connection") == 0)
        ph_pop3_send_to_client(srv, ev->session_id, "+OK pop3_testd greeting");
}

static bool
rw_register(ph_plugin *p, ph_pipeline *pl, void *server)
{
    static const char *const ev[] = { "response", NULL };

    (void)server;
    return ph_plugin_register(pl, p, PH_HOOK_CLIENT, ev) == 0;
}

/* A whole line back into the event's (status, code, text). */
static void
set_line(struct ph_event *ev, char *line)
{
    char *text = strchr(line, ' '), *end;
    const char *code = "";

    if (text != NULL) {
        *text++ = '\0';
        if (*text == '[' && (end = strchr(text, ']')) != NULL) {
            *end = '\0';
            code = text + 1;
            text = end[1] == ' ' ? end + 2 : end + 1;
        }
    }
    ph_event_set_arg(ev, 0, line);
    ph_event_set_arg(ev, 1, code);
    ph_event_set_arg(ev, 2, text ? text : "");
}

static int
rw_event(ph_plugin *p, ph_pipeline *pl, struct ph_event *ev)
{
    const char *text;
    size_t      n;

    (void)p;
    (void)pl;
    char        line[600];

    if (ev->argc < 3)
        return PH_EAT_NONE;
    /* The event carries (status, code, text): the test speaks lines. */
    snprintf(line, sizeof(line), "%s%s%s%s%s%s", ev->argv[0],
             ev->argv[1][0] ? " [" : "", ev->argv[1],
             ev->argv[1][0] ? "]" : "", ev->argv[2][0] ? " " : "",
             ev->argv[2]);
    text = line;
    if (g_suppress && strncmp(text, g_suppress, strlen(g_suppress)) == 0)
        return PH_EAT_CLIENT;
    if (g_rw_old == NULL)
        return PH_EAT_NONE;
    n = strlen(g_rw_old);
    if (strncmp(text, g_rw_old, n) == 0) {
        char buf[600];

        snprintf(buf, sizeof(buf), "%s%s", g_rw_new, text + n);
        set_line(ev, buf);
    }
    return PH_EAT_NONE;
}

/* ---- main ------------------------------------------------------------ */

static void
on_signal(void *srv, int signum)
{
    struct pending *p;

    (void)signum;
    printf("SHUTDOWN\n");
    fflush(stdout);
    /* Pending answers would keep the loop alive: drop them now. */
    for (p = g_pending; p != NULL; p = p->next)
        event_del(p->ev);
    ph_pop3_server_shutdown(srv);
    ph_loop_clear_signals(ph_pop3_server_loop(srv));
}

static void
usage(void)
{
    fprintf(stderr, "usage: pop3_testd [-p PORT] [-d MS] [-t SECS] [-e N] "
            "[-l N] [-N N] [-n] [-A] [-P MS] [-R OLD=NEW] [-X TEXT] [-E] "
            "[-v] [--tls-cert FILE --tls-key FILE [--pop3s ADDR] "
            "[--auth-plaintext] [--tls-timeout SECS]] [--max-sessions N] "
            "[--max-per-addr N] [--max-noops N|none] "
            "[--max-session-time S|none] MAILROOT\n");
    exit(2);
}

/* The implicit-TLS listener is the second one; 0 if none. */
static unsigned
pop3s_port(ph_pop3_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t               len = sizeof(ss);

    if (ph_pop3_server_getsockname(srv, 1, &ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static ph_tls_ctx *
tls_context(const char *cert, const char *key)
{
    char        err[256];
    ph_tls_ctx *t;

    if (cert == NULL && key == NULL)
        return NULL;
    if (cert == NULL || key == NULL)
        usage();
    t = ph_tls_ctx_new(&(struct ph_tls_options){ .cert_file = cert,
                                                 .key_file = key },
                       err, sizeof(err));
    if (t == NULL) {
        fprintf(stderr, "pop3_testd: %s\n", err);
        exit(1);
    }
    return t;
}

/* A number, or "none" for PH_POP3_NO_LIMIT. */
static unsigned
num_or_none(const char *s)
{
    return strcmp(s, "none") == 0 ? PH_POP3_NO_LIMIT
                                  : (unsigned)strtoul(s, NULL, 10);
}

int
main(int argc, char **argv)
{
    static const struct ph_plugin_ops rw_ops = {
        .plugin_register = rw_register, .on_event = rw_event };
    static const char *const all[] = { "all", NULL };
    struct ph_pop3_options o = { .alias = "pop3_testd",
                                 .address = "127.0.0.1",
                                 .hostname = "testd.example",
                                 .port = 0 };
    static const struct option longopts[] = {
        { "tls-cert", required_argument, NULL, 'c' },
        { "tls-key", required_argument, NULL, 'k' },
        { "pop3s", required_argument, NULL, 's' },
        { "auth-plaintext", no_argument, NULL, 'a' },
        { "tls-timeout", required_argument, NULL, 'T' },
        { "max-sessions", required_argument, NULL, 'N' },
        { "max-per-addr", required_argument, NULL, 'M' },
        { "max-noops", required_argument, NULL, 'O' },
        { "max-session-time", required_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 },
    };
    ph_plugin   rw = { .ops = &rw_ops };
    int         opt, events = 0, verbose = 0, rc = 0;
    const char *cert = NULL, *key = NULL, *pop3s = NULL;

    o.limits.auth_fail_delay_ms = PH_POP3_NO_DELAY;
    while ((opt = getopt_long(argc, argv, "p:d:t:e:l:N:nAP:R:X:Ev", longopts,
                              NULL)) != -1) {
        switch (opt) {
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 's': pop3s = optarg; break;
        case 'a': o.auth_plaintext = true; break;
        case 'T': o.limits.tls_handshake_timeout = (unsigned)atoi(optarg);
                  break;
        case 'p': o.port = (unsigned)atoi(optarg); break;
        case 'd': o.limits.auth_fail_delay_ms = (unsigned)atoi(optarg); break;
        case 't': o.limits.idle_timeout = (unsigned)atoi(optarg); break;
        case 'e': o.limits.max_errors = (unsigned)atoi(optarg); break;
        case 'l': o.limits.max_line_len = (size_t)atoi(optarg); break;
        case 'N': o.limits.max_sessions = (unsigned)atoi(optarg); break;
        case 'M': o.limits.max_sessions_per_addr = (unsigned)atoi(optarg);
                  break;
        case 'O': o.limits.max_noop_commands = num_or_none(optarg); break;
        case 'S': o.limits.max_session_time = num_or_none(optarg); break;
        case 'n': o.handle_connects = -1; break;
        case 'A': o.apop = true; break;
        case 'P': g_pending_ms = (unsigned)atoi(optarg); break;
        case 'R': {
            char *eq = strchr(optarg, '=');
            if (eq == NULL)
                usage();
            *eq = '\0';
            g_rw_old = optarg;
            g_rw_new = eq + 1;
            break;
        }
        case 'X': g_suppress = optarg; break;
        case 'E': events = 1; break;
        case 'v': verbose = 1; break;
        default: usage();
        }
    }
    if (optind != argc - 1)
        usage();
    g_mailroot = argv[optind];
    o.tls = tls_context(cert, key);
    if (pop3s != NULL && o.tls == NULL)
        usage();
    if ((g_loop = ph_loop_new()) == NULL)
        return 1;
    ph_loop_set_log(g_loop, verbose ? PH_LOG_INFO : PH_LOG_WARN,
                    ph_log_stderr, NULL);
    g_srv = ph_pop3_server_new(g_loop, &o);
    if (g_srv == NULL || ph_pop3_server_port(g_srv) == 0) {
        fprintf(stderr, "pop3_testd: cannot listen\n");
        ph_pop3_server_free(g_srv);
        ph_loop_free(g_loop);
        ph_tls_ctx_free(o.tls);
        return 1;
    }
    if (pop3s != NULL) {
        if (ph_pop3_server_listen_tls(g_srv, pop3s) != 0) {
            fprintf(stderr, "pop3_testd: cannot listen on %s\n", pop3s);
            rc = 1;
            goto out;
        }
        printf("pop3s port=%u\n", pop3s_port(g_srv));
    }
    ph_pop3_server_set_verify(g_srv, verify, NULL);
    if (events || o.handle_connects < 0)
        ph_pop3_register(g_srv, print_event,
                         (void *)(intptr_t)(o.handle_connects < 0), all);
    if ((g_rw_old || g_suppress) &&
        ph_plugin_add(ph_pop3_server_pipeline(g_srv), "rewrite", &rw) < 0) {
        fprintf(stderr, "pop3_testd: plugin_add failed\n");
        rc = 1;
        goto out;
    }
    ph_loop_add_signal(g_loop, SIGTERM, on_signal, g_srv);
    ph_loop_add_signal(g_loop, SIGINT, on_signal, g_srv);
    printf("ready port=%u\n", ph_pop3_server_port(g_srv));
    fflush(stdout);
    if (ph_loop_run(g_loop) != 0)
        rc = 1;
out:
    ph_pop3_server_free(g_srv);
    while (g_pending != NULL)
        pending_free(g_pending);
    ph_loop_free(g_loop);
    ph_tls_ctx_free(o.tls);     /* after the server that used it */
    return rc;
}
