/*
 * main.c -- posthornd: options, users, listeners, privileges, signals,
 * the loop. Thin on purpose (STYLE 8): the work is in the library.
 */
#include "posthornd/posthornd.h"
#include <posthorn/event.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Seconds in-flight sessions get after SIGTERM/SIGINT (issue: < 5 s). */
#define PD_STOP_GRACE 4

/* Every 100 ms after SIGTERM: stop once no session is left, or when the
   grace time is over. */
static void
stop_tick(evutil_socket_t fd, short what, void *arg)
{
    struct pd *d = arg;
    unsigned   open = 0;

    for (size_t i = 0; i < d->nsmtp; i++)
        open += ph_smtp_server_session_count(d->smtp[i]);
    for (size_t i = 0; i < d->npop3; i++)
        open += ph_pop3_server_session_count(d->pop3[i]);
    if (open == 0 || ++d->stop_ticks >= PD_STOP_GRACE * 10)
        ph_loop_stop(d->loop);
}

static void
on_term(void *ctx, int signum)
{
    struct pd     *d = ctx;
    struct timeval tv = { 0, 100000 };

    if (d->stopping)
        return;
    d->stopping = true;
    pd_log("event=shutdown signal=%d", signum);
    for (size_t i = 0; i < d->nsmtp; i++)
        ph_smtp_server_shutdown(d->smtp[i]);
    for (size_t i = 0; i < d->npop3; i++)
        ph_pop3_server_shutdown(d->pop3[i]);
    ph_loop_clear_signals(d->loop);
    /* Clients that do not read their 421/-ERR must not hold us up. */
    d->stop_timer = event_new(ph_loop_base(d->loop), -1, EV_PERSIST,
                              stop_tick, d);
    if (d->stop_timer)
        evtimer_add(d->stop_timer, &tv);
}

/* Takes from a freshly read configuration what can change while
   sessions go on: the users file, the local domains. Listeners, limits
   and the hostname belong to servers already running: a restart. */
static void
adopt_config(struct pd *d, struct pd_config *n)
{
    char *users = d->cfg.users;

    d->cfg.users = n->users;
    n->users = users;
    for (size_t i = 0; i < d->cfg.ndomains; i++)
        free(d->cfg.domains[i]);
    memcpy(d->cfg.domains, n->domains, sizeof(n->domains));
    d->cfg.ndomains = n->ndomains;
    n->ndomains = 0;
}

static void
on_hup(void *ctx, int signum)
{
    struct pd       *d = ctx;
    struct pd_config n;
    bool             tls_ok;

    if (pd_config_parse(&n, d->argc, d->argv) != 0) {
        pd_log("event=reload status=failed reason=config keeping=old");
        pd_config_free(&n);
        return;
    }
    adopt_config(d, &n);
    tls_ok = pd_tls_reload(d, &n) == 0;
    pd_config_free(&n);
    if (pd_users_load(d, true) != 0)
        pd_log("event=reload status=failed keeping=old_users");
    else
        pd_log("event=reload status=%s", tls_ok ? "ok" : "partial");
}

/* Root must name an unprivileged user; we switch after binding. */
static int
drop_privileges(const struct pd *d)
{
    struct passwd *pw;

    if (geteuid() != 0)
        return 0;
    if (d->cfg.run_user == NULL) {
        fprintf(stderr, "posthornd: started as root: --user NAME is "
                "required\n");
        return -1;
    }
    if ((pw = getpwnam(d->cfg.run_user)) == NULL) {
        fprintf(stderr, "posthornd: no such user '%s'\n", d->cfg.run_user);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "posthornd: cannot become %s: %s\n",
                d->cfg.run_user, strerror(errno));
        return -1;
    }
    return 0;
}

/* The connection limits, and whether the descriptors the daemon will
   have (the hard limit: it raises its soft limit to it) hold them. A
   shortfall is a warning, not an error: the daemon lowers the number. */
static void
check_connections(const struct pd_config *c)
{
    struct rlimit rl;
    unsigned      fit;

    printf("posthornd: connections: %u in all, %u per address (0: no "
           "limit)\n", c->max_connections, c->max_connections_addr);
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    fit = pd_fd_fit(c->max_connections, (unsigned long long)rl.rlim_max);
    if (c->max_connections != 0 && fit < c->max_connections)
        printf("posthornd: warning: max-connections %u plus %u reserved "
               "descriptors exceed the hard limit of %llu: posthornd will "
               "accept %u connections\n", c->max_connections,
               pd_fd_reserve(), (unsigned long long)rl.rlim_max, fit);
}

static int
check_config(struct pd *d)
{
    int rc = pd_users_load(d, false);

    if (rc == 0 && pd_tls_start(d) != 0)
        rc = -1;                /* a bad certificate is a config error */
    if (rc == 0 && d->tls != NULL)
        printf("posthornd: TLS: %s\n", d->cfg.tls_cert);
    ph_tls_ctx_free(d->tls);
    d->tls = NULL;
    if (rc == 0)
        printf("posthornd: %s: %zu users, local domains:", d->cfg.users,
               ph_passwd_count(d->pw));
    for (size_t i = 0; rc == 0 && i < d->nlocal; i++)
        printf(" %s", d->local[i]);
    if (rc == 0) {
        printf("\n");
        check_connections(&d->cfg);
        printf("posthornd: configuration OK\n");
    }
    return rc == 0 ? 0 : 1;
}

/* One failed-login count per client address for every listener: a
   guesser gets the limit in all, not on each port. */
static int
pd_guard_start(struct pd *d)
{
    const struct pd_config *c = &d->cfg;

    if (c->max_auth_failures_addr == 0)
        return 0;               /* no per-address limit */
    d->guard = ph_auth_guard_new(c->max_auth_failures_addr,
                                 c->auth_failure_window);
    return d->guard ? 0 : -1;
}

static int
add_defaults(struct pd_config *c)
{
    if (c->smtp.n || c->submission.n || c->lmtp.n || c->pop3.n ||
        c->smtps.n || c->pop3s.n)
        return 0;
    c->smtp.v[c->smtp.n++] = strdup("127.0.0.1:2525");
    c->pop3.v[c->pop3.n++] = strdup("127.0.0.1:1100");
    return (c->smtp.v[0] && c->pop3.v[0]) ? 0 : -1;
}

static void
cleanup(struct pd *d)
{
    for (size_t i = 0; i < d->nsmtp; i++)
        ph_smtp_server_free(d->smtp[i]);
    for (size_t i = 0; i < d->npop3; i++)
        ph_pop3_server_free(d->pop3[i]);
    if (d->stop_timer)
        event_free(d->stop_timer);
    ph_passwd_free(d->pw);
    ph_tls_ctx_free(d->tls);
    ph_auth_guard_free(d->guard);
    ph_conn_limits_free(d->climits);    /* after every server using it */
    for (size_t i = 0; i < d->nlocal; i++)
        free(d->local[i]);
    ph_loop_free(d->loop);
    pd_config_free(&d->cfg);
}

int
main(int argc, char **argv)
{
    static struct pd d;
    int              rc = 1;

    d.argc = argc;
    d.argv = argv;
    if (pd_config_parse(&d.cfg, argc, argv) != 0) {
        if (d.cfg.check_only) {
            fprintf(stderr, "posthornd: configuration has errors\n");
            pd_config_free(&d.cfg);
            return 1;
        }
        pd_usage();
        pd_config_free(&d.cfg);
        return 2;
    }
    umask(077);                         /* files 0600, directories 0700 */
    if (d.cfg.check_only) {
        rc = check_config(&d);
        pd_config_free(&d.cfg);
        return rc;
    }
    /* Root without --user changes nothing: checked before any file or
       port is touched. */
    if (geteuid() == 0 && (d.cfg.run_user == NULL ||
                           getpwnam(d.cfg.run_user) == NULL)) {
        fprintf(stderr, "posthornd: started as root: --user NAME (an "
                "existing user) is required\n");
        pd_config_free(&d.cfg);
        return 1;
    }
    if (add_defaults(&d.cfg) != 0 || pd_first_run(&d) != 0 ||
        pd_users_load(&d, true) != 0 || pd_tls_start(&d) != 0 ||
        pd_guard_start(&d) != 0 || pd_conn_limits_start(&d) != 0 ||
        (d.loop = ph_loop_new()) == NULL)
        goto out;
    ph_loop_set_log(d.loop, PH_LOG_INFO, ph_log_stderr, NULL);
    if (pd_smtp_start(&d) != 0 || pd_pop3_start(&d) != 0 ||
        drop_privileges(&d) != 0)
        goto out;
    ph_loop_add_signal(d.loop, SIGTERM, on_term, &d);
    ph_loop_add_signal(d.loop, SIGINT, on_term, &d);
    ph_loop_add_signal(d.loop, SIGHUP, on_hup, &d);
    pd_log("event=ready smtp=%zu pop3=%zu mail_root=%s", d.nsmtp, d.npop3,
           d.cfg.mail_root);
    rc = ph_loop_run(d.loop) == 0 ? 0 : 1;
out:
    cleanup(&d);
    return rc;
}
