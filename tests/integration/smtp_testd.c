/*
 * smtp_testd.c -- a test server for the integration tests. It uses only
 * the public API and has a command-line knob for every option the tests
 * exercise. It prints "ready port=N" once listening, then one line per
 * event on stdout (HEADER, EOH, BODY, EOM, ABORT, DISCONNECT, ...), so a
 * test can check what the program saw, not only what the client got.
 *
 * usage: smtp_testd [options]
 *   -a ADDR     listen address (default 127.0.0.1; "::1" works)
 *   -p PORT     port (default 0: any)
 *   -m MODE     esmtp (default), lmtp or bare
 *   -n NAME     hostname (default testd.example)
 *   -L N        max_line_len          -T N   max_text_line_len
 *   -S N        max_message_size      -R N   max_recipients
 *   -E N        max_errors            -I N   idle_timeout (s)
 *   -H N        max_header_len        -N N   max_sessions
 *   -l          line_mode             -c N   chunk_size
 *   -w          whole_message: print MESSAGE <hex> at EOM
 *   -k          bare_eol keep (default reject)
 *   -P          pending: RCPT and EOM answer from a timer a few ms later
 *   -v          log INFO to stderr (-vv: DEBUG)
 *   -X          a plugin in the pipeline (see plugin_event below)
 *   -2          a second (LMTP) server on the same loop
 *
 * TLS and AUTH (long options):
 *   --tls-cert FILE --tls-key FILE
 *               a TLS context (options.tls): STARTTLS is offered
 *   --smtps ADDR  also an implicit-TLS listener on ADDR ("127.0.0.1:0");
 *               its port is printed as "smtps port=N" before the ready
 *               line
 *   --tls-timeout S             tls_handshake_timeout
 *   --auth      AUTH PLAIN/LOGIN with a verify callback: alice/wonderland
 *               is accepted; "alias"/wonderland is accepted as identity
 *               "alice@example"; "temp" gets PH_SMTP_AUTH_TEMPFAIL;
 *               "slow" is answered 200 ms later from a timer (accepted
 *               with password wonderland); anything else fails
 *   --auth-plaintext            offer AUTH without TLS despite a context
 *   --auth-required             MAIL before AUTH: 530
 *   --auth-fail-delay MS        auth_fail_delay_ms (default here: none;
 *                               "default" gives the library's 1000)
 *   --max-auth-failures N       max_auth_failures
 *   --max-auth-failures-per-addr N   ("none": PH_SMTP_NO_LIMIT)
 *   --auth-fail-window S        auth_fail_window
 *   --max-sessions N            max_sessions (same as -N)
 *   --max-per-addr N            max_sessions_per_addr
 *   --max-noops N|none          max_noop_commands
 *   --max-session-time S|none   max_session_time
 *   --no-verb VERB              remove VERB from the verb table
 *   --suppress CODE             a response plugin drops replies of CODE
 *
 * The verb XWHO (always there) answers
 *   250 2.0.0 user=U authzid=A helo=H tls=PROTOCOL cipher=CIPHER
 * with "-" for no login / no HELO and "none" without TLS; authzid is the
 * one given with the login that succeeded.
 *
 * Events (bytes outside printable ASCII, and '\', are written \xNN):
 *   CONNECT peer=ADDR
 *   MAIL from=<PATH> | RCPT to=<PATH> | DATA | XCLIENT arg=TEXT
 *   BDAT arg=TEXT                   (the first chunk of a message)
 *   HEADER name=NAME value=VALUE
 *   EOH
 *   BODY len=N data=BYTES
 *   MESSAGE HEX                     (with -w, before EOM)
 *   EOM size=N body=N rcpts=N fnv=HEX16   (FNV-1a 64 of the BODY bytes)
 *   ABORT
 *   DISCONNECT
 *   VERIFY mech=MECH user=USER authzid=AUTHZID   (each verify call)
 *   AUTH_REPLY user=USER rc=N       (a "slow" answer, from the timer)
 */
#include <posthorn/posthorn.h>
#include <posthorn/event.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#define PENDING_DELAY_US 5000
#define SLOW_AUTH_DELAY_MS 200

struct sess {
    size_t   body_bytes;
    uint64_t fnv;
    char     authzid[256];  /* of the last verify call */
};

struct preply {
    int  code;
    char enh[12];
    char text[400];
};

/* A reply that a timer sends later (the PH_PENDING path). */
struct pending {
    struct pending  *prev, *next;
    struct event    *ev;
    ph_smtp_session *s;
    size_t           n;
    struct preply    r[];
};

static ph_loop        *g_loop;
static ph_smtp_server *g_srv;
static int             g_pending_mode;
static int             g_whole;
static enum ph_smtp_mode g_mode;
static unsigned        g_live;          /* sessions that got CONNECT */
static struct pending *g_pending;
static int             g_bind_failed;
static int             g_stopping;
static int             g_second;    /* -2: an LMTP server on the same loop */
static ph_smtp_server *g_srv2;
static struct timeval  g_stop_started;

/* A "slow" login: answered from a timer (the PH_PENDING path of AUTH). */
struct slow {
    struct slow               *prev, *next;
    struct event              *ev;
    ph_smtp_session           *s;
    enum ph_smtp_auth_status   st;
    char                       user[64];
};
static struct slow    *g_slow;

/* ---- output ---------------------------------------------------------- */

static void
put_escaped(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
}

static void
put_hex(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", (unsigned char)p[i]);
}

static uint64_t
fnv1a(uint64_t h, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define FNV_INIT 14695981039346656037ULL

static struct sess *
sess_of(ph_smtp_session *s)
{
    return ph_smtp_session_data(s);
}

static void
sess_reset(struct sess *d)
{
    d->body_bytes = 0;
    d->fnv = FNV_INIT;
}

/* ---- pending replies --------------------------------------------------- */

static void
pending_unlink(struct pending *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        g_pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
}

static void
pending_free(struct pending *p)
{
    pending_unlink(p);
    event_free(p->ev);
    ph_smtp_session_unref(p->s);
    free(p);
}

static void
pending_fire(evutil_socket_t fd, short what, void *arg)
{
    struct pending *p = arg;

    for (size_t i = 0; i < p->n; i++)
        ph_smtp_reply(p->s, p->r[i].code, p->r[i].enh, "%s", p->r[i].text);
    pending_free(p);
}

static struct pending *
pending_new(ph_smtp_session *s, size_t n)
{
    struct pending *p = calloc(1, sizeof(*p) + n * sizeof(p->r[0]));

    if (p == NULL)
        return NULL;
    p->ev = evtimer_new(ph_loop_base(g_loop), pending_fire, p);
    if (p->ev == NULL) {
        free(p);
        return NULL;
    }
    p->n = n;
    p->s = s;
    return p;
}

static enum ph_result
pending_start(struct pending *p)
{
    struct timeval tv = { 0, PENDING_DELAY_US };

    ph_smtp_session_ref(p->s);
    p->next = g_pending;
    if (g_pending)
        g_pending->prev = p;
    g_pending = p;
    evtimer_add(p->ev, &tv);
    return PH_PENDING;
}

static void
preply_set(struct preply *r, int code, const char *enh, const char *fmt,
           const char *arg)
{
    r->code = code;
    snprintf(r->enh, sizeof(r->enh), "%s", enh);
    snprintf(r->text, sizeof(r->text), fmt, arg);
}

/* ---- handlers -------------------------------------------------------- */

static enum ph_result
on_connect(ph_smtp_session *s, const char *verb, const char *arg)
{
    struct sess *d = calloc(1, sizeof(*d));

    if (d != NULL) {
        sess_reset(d);
        ph_smtp_session_set_data(s, d);
        g_live++;
    }
    printf("CONNECT peer=%s\n", ph_smtp_session_peer_addr(s));
    return ph_smtp_default_handler(ph_smtp_session_server(s), "CONNECT")(
        s, verb, arg);
}

/* Bare mode: POE::Component::Server::SMTP's synopsis. */
static enum ph_result
on_bare_helo(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, PH_SMTP_OK, NULL, "Welcome.");
    return PH_OK;
}

static enum ph_result
on_bare_quit(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, PH_SMTP_QUIT, NULL, "Good bye!");
    return PH_CLOSE;
}

static enum ph_result
on_mail(ph_smtp_session *s, const char *verb, const char *arg)
{
    printf("MAIL from=<");
    put_escaped(ph_smtp_session_path(s), strlen(ph_smtp_session_path(s)));
    printf(">\n");
    return ph_smtp_default_handler(ph_smtp_session_server(s), "MAIL")(
        s, verb, arg);
}

static bool
starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static enum ph_result
on_rcpt(ph_smtp_session *s, const char *verb, const char *arg)
{
    const char *path = ph_smtp_session_path(s);

    printf("RCPT to=<");
    put_escaped(path, strlen(path));
    printf(">\n");
    if (g_pending_mode) {
        struct pending *p = pending_new(s, 1);
        if (p == NULL) {
            ph_smtp_reply(s, 451, "4.3.0", "Out of memory");
            return PH_OK;
        }
        if (starts_with_ci(path, "reject@"))
            preply_set(&p->r[0], 550, "5.1.1", "<%s> no such user", path);
        else
            preply_set(&p->r[0], 250, "2.1.5", "<%s> recipient ok", path);
        return pending_start(p);
    }
    if (starts_with_ci(path, "reject@")) {
        ph_smtp_reply(s, 550, "5.1.1", "<%s> no such user", path);
        return PH_OK;
    }
    return ph_smtp_default_handler(ph_smtp_session_server(s), "RCPT")(
        s, verb, arg);
}

static enum ph_result
on_data(ph_smtp_session *s, const char *verb, const char *arg)
{
    struct sess *d = sess_of(s);

    printf("DATA\n");
    if (d)
        sess_reset(d);
    return ph_smtp_default_handler(ph_smtp_session_server(s), "DATA")(
        s, verb, arg);
}

/* Runs at the first BDAT of a message only; the default takes the chunk
   (a program prepares for the message here, as in its DATA handler). */
static enum ph_result
on_bdat(ph_smtp_session *s, const char *verb, const char *arg)
{
    printf("BDAT arg=");
    put_escaped(arg, strlen(arg));
    printf("\n");
    return ph_smtp_default_handler(ph_smtp_session_server(s), "BDAT")(
        s, verb, arg);
}

static enum ph_result
on_xclient(ph_smtp_session *s, const char *verb, const char *arg)
{
    printf("XCLIENT arg=");
    put_escaped(arg, strlen(arg));
    printf("\n");
    ph_smtp_reply(s, 250, "2.0.0", "XCLIENT accepted");
    return PH_OK;
}

/* ---- AUTH ------------------------------------------------------------ */

static void
slow_free(struct slow *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        g_slow = p->next;
    if (p->next)
        p->next->prev = p->prev;
    event_free(p->ev);
    ph_smtp_session_unref(p->s);
    free(p);
}

static void
slow_fire(evutil_socket_t fd, short what, void *arg)
{
    struct slow *p = arg;
    int          rc;

    rc = ph_smtp_auth_reply(p->s, p->st, NULL);
    printf("AUTH_REPLY user=%s rc=%d\n", p->user, rc);
    slow_free(p);
}

static void
slow_answer(ph_smtp_session *s, enum ph_smtp_auth_status st,
            const char *user)
{
    struct slow   *p = calloc(1, sizeof(*p));
    struct timeval tv = { 0, SLOW_AUTH_DELAY_MS * 1000 };

    if (p == NULL || (p->ev = evtimer_new(ph_loop_base(g_loop), slow_fire,
                                          p)) == NULL) {
        free(p);
        ph_smtp_auth_reply(s, PH_SMTP_AUTH_TEMPFAIL, NULL);
        return;
    }
    p->s = s;
    p->st = st;
    snprintf(p->user, sizeof(p->user), "%s", user);
    ph_smtp_session_ref(s);
    p->next = g_slow;
    if (g_slow)
        g_slow->prev = p;
    g_slow = p;
    evtimer_add(p->ev, &tv);
}

static void
verify(ph_smtp_session *s, const struct ph_smtp_auth *a, void *ctx)
{
    struct sess *d = sess_of(s);
    bool         pw_ok = strcmp(a->password, "wonderland") == 0;

    printf("VERIFY mech=%s user=", a->mech);
    put_escaped(a->user, strlen(a->user));
    printf(" authzid=");
    put_escaped(a->authzid, strlen(a->authzid));
    printf("\n");
    if (d != NULL)
        snprintf(d->authzid, sizeof(d->authzid), "%s", a->authzid);
    if (strcmp(a->user, "temp") == 0)
        ph_smtp_auth_reply(s, PH_SMTP_AUTH_TEMPFAIL, NULL);
    else if (strcmp(a->user, "slow") == 0)
        slow_answer(s, pw_ok ? PH_SMTP_AUTH_OK : PH_SMTP_AUTH_FAIL, a->user);
    else if (strcmp(a->user, "alias") == 0 && pw_ok)
        ph_smtp_auth_reply(s, PH_SMTP_AUTH_OK, "alice@example");
    else
        ph_smtp_auth_reply(s, strcmp(a->user, "alice") == 0 && pw_ok
                           ? PH_SMTP_AUTH_OK : PH_SMTP_AUTH_FAIL, NULL);
}

/* XWHO: what the session knows about its client. */
static enum ph_result
on_xwho(ph_smtp_session *s, const char *verb, const char *arg)
{
    struct ph_tls_info ti;
    struct sess       *d = sess_of(s);
    const char        *user = ph_smtp_session_auth_user(s);
    const char        *helo = ph_smtp_session_helo(s);
    bool               tls = ph_smtp_session_tls(s, &ti);

    ph_smtp_reply(s, 250, "2.0.0", "user=%s authzid=%s helo=%s tls=%s "
                  "cipher=%s", user ? user : "-",
                  user && d && d->authzid[0] ? d->authzid : "-",
                  helo ? helo : "-", tls ? ti.protocol : "none",
                  tls ? ti.cipher : "none");
    return PH_OK;
}

/* ---- message callbacks ------------------------------------------------ */

static void
cb_header(ph_smtp_session *s, const char *name, size_t nlen,
          const char *value, size_t vlen)
{
    printf("HEADER name=");
    put_escaped(name, nlen);
    printf(" value=");
    put_escaped(value, vlen);
    printf("\n");
}

static void
cb_eoh(ph_smtp_session *s)
{
    printf("EOH\n");
}

static void
cb_body(ph_smtp_session *s, const char *chunk, size_t len)
{
    struct sess *d = sess_of(s);

    if (d) {
        d->body_bytes += len;
        d->fnv = fnv1a(d->fnv, chunk, len);
    }
    printf("BODY len=%zu data=", len);
    put_escaped(chunk, len);
    printf("\n");
}

/* LMTP: 250 per recipient, 550 5.1.1 for a local part "fail...". */
static void
eom_replies(ph_smtp_session *s, struct preply *r, size_t n)
{
    if (g_mode != PH_SMTP_MODE_LMTP) {
        preply_set(&r[0], 250, "2.0.0", "%s", "Message accepted for delivery");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *a = ph_smtp_session_rcpt(s, i)->address;
        if (starts_with_ci(a, "fail"))
            preply_set(&r[i], 550, "5.1.1", "<%s> mailbox unavailable", a);
        else
            preply_set(&r[i], 250, "2.1.5", "<%s> delivered", a);
    }
}

static enum ph_result
cb_eom(ph_smtp_session *s)
{
    struct sess *d = sess_of(s);
    size_t       nrcpt = ph_smtp_session_rcpt_count(s);
    size_t       n = g_mode == PH_SMTP_MODE_LMTP ? nrcpt : 1;

    if (g_whole) {
        size_t      len;
        const char *m = ph_smtp_message(s, &len);
        printf("MESSAGE ");
        if (m)
            put_hex(m, len);
        else
            printf("(null)");
        printf("\n");
    }
    printf("EOM size=%zu body=%zu rcpts=%zu fnv=%016llx\n",
           ph_smtp_session_message_size(s), d ? d->body_bytes : 0, nrcpt,
           d ? (unsigned long long)d->fnv : 0ULL);
    if (d)
        sess_reset(d);
    if (n == 0)
        return PH_OK;
    if (g_pending_mode) {
        struct pending *p = pending_new(s, n);
        if (p != NULL) {
            eom_replies(s, p->r, n);
            return pending_start(p);
        }
    }
    {
        struct preply *r = calloc(n, sizeof(*r));
        if (r == NULL) {
            for (size_t i = 0; i < n; i++)
                ph_smtp_reply(s, 451, "4.3.0", "Out of memory");
            return PH_OK;
        }
        eom_replies(s, r, n);
        for (size_t i = 0; i < n; i++)
            ph_smtp_reply(s, r[i].code, r[i].enh, "%s", r[i].text);
        free(r);
    }
    return PH_OK;
}

static void
cb_abort(ph_smtp_session *s)
{
    struct sess *d = sess_of(s);

    if (d)
        sess_reset(d);
    printf("ABORT\n");
}

static void
cb_disconnect(ph_smtp_session *s)
{
    struct sess *d = sess_of(s);

    printf("DISCONNECT\n");
    if (d) {
        free(d);
        ph_smtp_session_set_data(s, NULL);
        g_live--;
    }
}

/* ---- process ----------------------------------------------------------- */

/*
 * -X: a plugin in the SMTP pipeline (Haraka-style). It refuses RCPT to
 * local part "plugin-refuse" itself (550 5.7.1, PH_EAT_CLIENT: the RCPT
 * handler does not run), RCPT to "plugin-none" too but returning
 * PH_EAT_NONE (its reply alone must keep the handler from running), and
 * BDAT chunks of 666 octets (554 5.7.1),
 * rewrites the text of every 250 reply to MAIL
 * ("response" hook), rewrites a 250 naming <plugin-rewrite@...> and the
 * final 250 of a message with an "X-Plugin: rewrite" header into 550
 * 5.7.1 (what the reply commits follows the code that went out), and
 * prints the inbound events it sees.
 */
static int g_rewrite_eom;       /* the message asked for a 550 at its end */

static int
plugin_response(struct ph_event *ev)
{
    bool eom = g_rewrite_eom && ev->argc > 2 &&
               strcmp(ev->argv[0], "250") == 0 &&
               (strstr(ev->argv[2], "Message accepted") != NULL ||
                strstr(ev->argv[2], "> delivered") != NULL);

    if (strcmp(ev->argv[0], "250") == 0 && ev->argc > 2 &&
        (eom || strstr(ev->argv[2], "<plugin-rewrite@") != NULL)) {
        g_rewrite_eom = 0;
        ph_event_set_arg(ev, 0, "550");
        ph_event_set_arg(ev, 1, "5.7.1");
        ph_event_set_arg(ev, 2, "Rewritten by plugin");
        return PH_EAT_NONE;
    }
    if (strcmp(ev->argv[0], "250") == 0 && ev->argc > 2 &&
        strstr(ev->argv[2], "sender ok") != NULL)
        ph_event_set_arg(ev, 2, "sender accepted by plugin");
    return PH_EAT_NONE;
}

static int
plugin_event(ph_plugin *p, ph_pipeline *pl, struct ph_event *ev)
{
    if (ev->hook == PH_HOOK_CLIENT)
        return plugin_response(ev);
    if (strcmp(ev->name, "header") == 0 && ev->argc > 2 &&
        strcasecmp(ev->argv[1], "X-Plugin") == 0 &&
        strcmp(ev->argv[2], "rewrite") == 0)
        g_rewrite_eom = 1;
    printf("PLUGIN %s%s%s\n", ev->name, ev->argc > 1 ? " " : "",
           ev->argc > 1 ? ev->argv[1] : "");
    if (strcmp(ev->name, "cmd_rcpt") == 0 && ev->argc > 2 &&
        strstr(ev->argv[2], "plugin-refuse@") != NULL) {
        ph_smtp_reply(ev->session, 550, "5.7.1", "Refused by plugin");
        return PH_EAT_CLIENT;
    }
    if (strcmp(ev->name, "cmd_rcpt") == 0 && ev->argc > 2 &&
        strstr(ev->argv[2], "plugin-none@") != NULL) {
        ph_smtp_reply(ev->session, 550, "5.7.1", "Refused, not eaten");
        return PH_EAT_NONE;
    }
    if (strcmp(ev->name, "cmd_bdat") == 0 && ev->argc > 2 &&
        strncmp(ev->argv[2], "666", 3) == 0) {
        ph_smtp_reply(ev->session, 554, "5.7.1", "Chunk refused by plugin");
        return PH_EAT_CLIENT;
    }
    return PH_EAT_NONE;
}

static bool
plugin_reg(ph_plugin *p, ph_pipeline *pl, void *server)
{
    static const char *const in[] = { "connection", "cmd_rcpt", "cmd_bdat",
                                      "header", "eom", "disconnected",
                                      NULL };
    static const char *const out[] = { "response", NULL };

    return ph_plugin_register(pl, p, PH_HOOK_SERVER, in) == 0 &&
           ph_plugin_register(pl, p, PH_HOOK_CLIENT, out) == 0;
}

static const struct ph_plugin_ops plugin_ops = {
    .plugin_register = plugin_reg, .on_event = plugin_event,
};
static ph_plugin g_plugin = { .ops = &plugin_ops };
static int       g_use_plugin;

/* --suppress CODE: a "response" plugin that keeps every reply with that
   code off the wire (it still answers its command). */
static const char *g_suppress;

static int
suppress_event(ph_plugin *p, ph_pipeline *pl, struct ph_event *ev)
{
    return strcmp(ev->argv[0], g_suppress) == 0 ? PH_EAT_CLIENT
                                                : PH_EAT_NONE;
}

static bool
suppress_reg(ph_plugin *p, ph_pipeline *pl, void *server)
{
    static const char *const out[] = { "response", NULL };

    return ph_plugin_register(pl, p, PH_HOOK_CLIENT, out) == 0;
}

static const struct ph_plugin_ops suppress_ops = {
    .plugin_register = suppress_reg, .on_event = suppress_event,
};
static ph_plugin g_suppressor = { .ops = &suppress_ops };

static void
on_listener_failed(void *ctx, const char *op, int errnum, const char *text)
{
    g_bind_failed = 1;
    fprintf(stderr, "listener_failed op=%s errno=%d text=%s\n", op, errnum,
            text);
}

/* After shutdown: wait until every session has flushed its 421. */
static void
on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
    struct timeval now;

    gettimeofday(&now, NULL);
    if (g_live == 0 || now.tv_sec - g_stop_started.tv_sec > 3)
        ph_loop_stop(g_loop);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct event *tick = arg;
    struct timeval tv = { 0, 10000 };

    if (g_stopping) {
        ph_loop_stop(g_loop);
        return;
    }
    g_stopping = 1;
    printf("SHUTDOWN\n");
    gettimeofday(&g_stop_started, NULL);
    ph_smtp_server_shutdown(g_srv);
    if (g_srv2 != NULL)
        ph_smtp_server_shutdown(g_srv2);
    event_add(tick, &tv);
}

static int
usage(void)
{
    fprintf(stderr, "usage: smtp_testd [-a ADDR] [-p PORT] [-m esmtp|lmtp|"
            "bare] [-n NAME] [-L N] [-T N] [-S N] [-R N] [-E N] [-I N] "
            "[-H N] [-N N] [-l] [-c N] [-w] [-k] [-P] [-v] [-2] [-X] "
            "[--tls-cert FILE --tls-key FILE [--smtps ADDR] "
            "[--tls-timeout S]] [--auth [--auth-plaintext] "
            "[--auth-required] [--auth-fail-delay MS|default] "
            "[--max-auth-failures N] [--max-auth-failures-per-addr N|none] "
            "[--auth-fail-window S]] [--max-sessions N] [--max-per-addr N] "
            "[--max-noops N|none] [--max-session-time S|none] "
            "[--no-verb VERB]\n");
    return 2;
}

static size_t
num(const char *s)
{
    return (size_t)strtoull(s, NULL, 10);
}

/* Port of listener idx; 0 if none. */
static unsigned
listener_port(ph_smtp_server *srv, size_t idx)
{
    struct sockaddr_storage ss;
    socklen_t               len = sizeof(ss);

    if (ph_smtp_server_getsockname(srv, idx, &ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

enum {
    OPT_TLS_CERT = 256, OPT_TLS_KEY, OPT_SMTPS, OPT_TLS_TIMEOUT, OPT_AUTH,
    OPT_AUTH_PLAINTEXT, OPT_AUTH_REQUIRED, OPT_AUTH_FAIL_DELAY,
    OPT_MAX_AUTH_FAILURES, OPT_MAX_AUTH_FAILURES_PER_ADDR,
    OPT_AUTH_FAIL_WINDOW, OPT_MAX_SESSIONS, OPT_MAX_PER_ADDR, OPT_MAX_NOOPS,
    OPT_MAX_SESSION_TIME, OPT_NO_VERB, OPT_SUPPRESS,
};

/* A number, or "none" for the NO_LIMIT value. */
static unsigned
num_or_none(const char *s)
{
    return strcmp(s, "none") == 0 ? PH_SMTP_NO_LIMIT : (unsigned)num(s);
}

int
main(int argc, char **argv)
{
    struct ph_smtp_options o = {
        .alias = "testd", .address = "127.0.0.1", .hostname = "testd.example",
        .listener_failed = on_listener_failed,
    };
    static const struct option longopts[] = {
        { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
        { "tls-key", required_argument, NULL, OPT_TLS_KEY },
        { "smtps", required_argument, NULL, OPT_SMTPS },
        { "tls-timeout", required_argument, NULL, OPT_TLS_TIMEOUT },
        { "auth", no_argument, NULL, OPT_AUTH },
        { "auth-plaintext", no_argument, NULL, OPT_AUTH_PLAINTEXT },
        { "auth-required", no_argument, NULL, OPT_AUTH_REQUIRED },
        { "auth-fail-delay", required_argument, NULL, OPT_AUTH_FAIL_DELAY },
        { "max-auth-failures", required_argument, NULL,
          OPT_MAX_AUTH_FAILURES },
        { "max-auth-failures-per-addr", required_argument, NULL,
          OPT_MAX_AUTH_FAILURES_PER_ADDR },
        { "auth-fail-window", required_argument, NULL, OPT_AUTH_FAIL_WINDOW },
        { "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
        { "max-per-addr", required_argument, NULL, OPT_MAX_PER_ADDR },
        { "max-noops", required_argument, NULL, OPT_MAX_NOOPS },
        { "max-session-time", required_argument, NULL,
          OPT_MAX_SESSION_TIME },
        { "no-verb", required_argument, NULL, OPT_NO_VERB },
        { "suppress", required_argument, NULL, OPT_SUPPRESS },
        { NULL, 0, NULL, 0 },
    };
    int verbose = 0, opt, rc = 0, use_auth = 0;
    const char *cert = NULL, *key = NULL, *smtps = NULL, *no_verb = NULL;

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    /* No failure delay unless asked for: the tests would only wait. */
    o.limits.auth_fail_delay_ms = PH_SMTP_NO_DELAY;
    while ((opt = getopt_long(argc, argv, "a:p:m:n:L:T:S:R:E:I:H:N:lc:wkPv2X",
                              longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_TLS_CERT: cert = optarg; break;
        case OPT_TLS_KEY: key = optarg; break;
        case OPT_SMTPS: smtps = optarg; break;
        case OPT_TLS_TIMEOUT:
            o.limits.tls_handshake_timeout = (unsigned)num(optarg);
            break;
        case OPT_AUTH: use_auth = 1; break;
        case OPT_AUTH_PLAINTEXT: o.auth_plaintext = true; break;
        case OPT_AUTH_REQUIRED: o.auth_required = true; break;
        case OPT_AUTH_FAIL_DELAY:
            o.limits.auth_fail_delay_ms = strcmp(optarg, "default") == 0
                                          ? 0 : (unsigned)num(optarg);
            break;
        case OPT_MAX_AUTH_FAILURES:
            o.limits.max_auth_failures = (unsigned)num(optarg);
            break;
        case OPT_MAX_AUTH_FAILURES_PER_ADDR:
            o.limits.max_auth_failures_per_addr =
                strcmp(optarg, "none") == 0 ? PH_SMTP_NO_LIMIT
                                            : (unsigned)num(optarg);
            break;
        case OPT_AUTH_FAIL_WINDOW:
            o.limits.auth_fail_window = (unsigned)num(optarg);
            break;
        case OPT_MAX_SESSIONS:
            o.limits.max_sessions = (unsigned)num(optarg);
            break;
        case OPT_MAX_PER_ADDR:
            o.limits.max_sessions_per_addr = (unsigned)num(optarg);
            break;
        case OPT_MAX_NOOPS:
            o.limits.max_noop_commands = num_or_none(optarg);
            break;
        case OPT_MAX_SESSION_TIME:
            o.limits.max_session_time = num_or_none(optarg);
            break;
        case OPT_NO_VERB: no_verb = optarg; break;
        case OPT_SUPPRESS: g_suppress = optarg; break;
        case 'a': o.address = optarg; break;
        case 'p': o.port = (unsigned)num(optarg); break;
        case 'm':
            if (strcmp(optarg, "esmtp") == 0)
                o.mode = PH_SMTP_MODE_ESMTP;
            else if (strcmp(optarg, "lmtp") == 0)
                o.mode = PH_SMTP_MODE_LMTP;
            else if (strcmp(optarg, "bare") == 0)
                o.mode = PH_SMTP_MODE_BARE;
            else
                return usage();
            break;
        case 'n': o.hostname = optarg; break;
        case 'L': o.limits.max_line_len = num(optarg); break;
        case 'T': o.limits.max_text_line_len = num(optarg); break;
        case 'S': o.limits.max_message_size = num(optarg); break;
        case 'R': o.limits.max_recipients = (unsigned)num(optarg); break;
        case 'E': o.limits.max_errors = (unsigned)num(optarg); break;
        case 'I': o.limits.idle_timeout = (unsigned)num(optarg); break;
        case 'H': o.limits.max_header_len = num(optarg); break;
        case 'N': o.limits.max_sessions = (unsigned)num(optarg); break;
        case 'l': o.line_mode = true; break;
        case 'c': o.chunk_size = num(optarg); break;
        case 'w': o.whole_message = true; g_whole = 1; break;
        case 'k': o.bare_eol = PH_SMTP_BARE_EOL_KEEP; break;
        case 'P': g_pending_mode = 1; break;
        case 'v': verbose++; break;
        case '2': g_second = 1; break;
        case 'X': g_use_plugin = 1; break;
        default: return usage();
        }
    }
    if (optind != argc || (cert == NULL) != (key == NULL) ||
        (smtps != NULL && cert == NULL))
        return usage();
    g_mode = o.mode;
    if (cert != NULL) {
        char err[256];
        o.tls = ph_tls_ctx_new(&(struct ph_tls_options){
            .cert_file = cert, .key_file = key }, err, sizeof(err));
        if (o.tls == NULL) {
            fprintf(stderr, "smtp_testd: %s\n", err);
            return 1;
        }
    }

    g_loop = ph_loop_new();
    if (g_loop == NULL) {
        ph_tls_ctx_free(o.tls);
        return 1;
    }
    ph_loop_set_log(g_loop, verbose > 1 ? PH_LOG_DEBUG
                    : verbose ? PH_LOG_INFO : PH_LOG_WARN,
                    ph_log_stderr, NULL);
    g_srv = ph_smtp_server_new(g_loop, &o);
    if (g_srv == NULL) {
        ph_loop_free(g_loop);
        ph_tls_ctx_free(o.tls);
        fprintf(stderr, "smtp_testd: bad options\n");
        return 1;
    }
    if (g_bind_failed || ph_smtp_server_port(g_srv) == 0 ||
        (smtps != NULL && ph_smtp_server_listen_tls(g_srv, smtps) != 0)) {
        ph_smtp_server_free(g_srv);
        ph_loop_free(g_loop);
        ph_tls_ctx_free(o.tls);
        return 3;
    }
    if (use_auth)
        ph_smtp_server_set_verify(g_srv, verify, NULL);

    ph_smtp_server_set_handler(g_srv, "CONNECT", on_connect);
    if (o.mode == PH_SMTP_MODE_BARE) {
        ph_smtp_server_set_handler(g_srv, "HELO", on_bare_helo);
        ph_smtp_server_set_handler(g_srv, "QUIT", on_bare_quit);
    } else {
        ph_smtp_server_set_handler(g_srv, "MAIL", on_mail);
        ph_smtp_server_set_handler(g_srv, "RCPT", on_rcpt);
        ph_smtp_server_set_handler(g_srv, "DATA", on_data);
        ph_smtp_server_set_handler(g_srv, "BDAT", on_bdat);
        ph_smtp_server_add_extension(g_srv, "XCLIENT NAME ADDR");
    }
    ph_smtp_server_set_handler(g_srv, "XCLIENT", on_xclient);
    ph_smtp_server_set_handler(g_srv, "XWHO", on_xwho);
    ph_smtp_server_set_callbacks(g_srv, &(struct ph_smtp_callbacks){
        .header = cb_header, .eoh = cb_eoh, .body = cb_body, .eom = cb_eom,
        .tx_abort = cb_abort, .disconnect = cb_disconnect,
    });

    struct event_base *base = ph_loop_base(g_loop);
    struct event *tick = event_new(base, -1, EV_PERSIST, on_stop_tick, NULL);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, tick);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, tick);
    if (tick == NULL || sigterm == NULL || sigint == NULL) {
        rc = 1;
        goto out;
    }
    event_add(sigterm, NULL);
    event_add(sigint, NULL);

    if (no_verb != NULL &&
        ph_smtp_server_set_handler(g_srv, no_verb, NULL) != 0) {
        rc = 1;
        goto out;
    }

    if ((g_use_plugin &&
         ph_plugin_add(ph_smtp_server_pipeline(g_srv), "refuser",
                       &g_plugin) < 1) ||
        (g_suppress != NULL &&
         ph_plugin_add(ph_smtp_server_pipeline(g_srv), "suppressor",
                       &g_suppressor) < 1)) {
        rc = 1;
        goto out;
    }
    if (g_second) {
        /* A second server sharing the loop: nothing global in the
           library may tie them together. */
        g_srv2 = ph_smtp_server_new(g_loop, &(struct ph_smtp_options){
            .mode = PH_SMTP_MODE_LMTP, .address = o.address ? o.address
            : "127.0.0.1", .alias = "second" });
        if (g_srv2 == NULL || ph_smtp_server_port(g_srv2) == 0) {
            rc = 1;
            goto out;
        }
        printf("second port=%u\n", ph_smtp_server_port(g_srv2));
    }
    if (smtps != NULL)
        printf("smtps port=%u\n", listener_port(g_srv, 1));
    printf("ready port=%u\n", ph_smtp_server_port(g_srv));
    fflush(stdout);
    if (ph_loop_run(g_loop) != 0)
        rc = 1;

out:
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (tick)
        event_free(tick);
    ph_smtp_server_free(g_srv2);
    ph_smtp_server_free(g_srv);
    while (g_pending != NULL)
        pending_free(g_pending);
    while (g_slow != NULL)
        slow_free(g_slow);
    ph_loop_free(g_loop);
    ph_tls_ctx_free(o.tls);     /* after the servers that used it */
    printf("EXIT\n");
    fflush(stdout);
    return rc;
}
