/*
 * pop3d.c -- posthornd's POP3 side: logins checked against the users file
 * (user@domain, or a bare user when exactly one local domain has it),
 * each user's Maildir served by the library's Maildir maildrop.
 */
#include "posthornd/posthornd.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void
verify(ph_pop3_session *s, const struct ph_pop3_auth *a, void *ctx)
{
    struct pd  *d = ctx;
    /* verify first, also for unknown users: it costs them the same. */
    bool        ok = a->password != NULL &&
                     ph_passwd_verify(d->pw, a->user, a->password);
    const char *canon = ph_passwd_lookup(d->pw, a->user);
    char        path[4096], local[256];
    const char *at;

    /* AUTH PLAIN's authzid may only name the user itself. */
    if (ok && canon != NULL && a->authzid != NULL && a->authzid[0] != '\0' &&
        strcasecmp(a->authzid, a->user) != 0 &&
        strcasecmp(a->authzid, canon) != 0)
        ok = false;

    if (!ok || canon == NULL ||
        (at = strrchr(canon, '@')) == NULL ||
        (size_t)(at - canon) >= sizeof(local)) {
        char clean[128];
        pd_log("session=%s event=login status=failed user=%s",
               ph_pop3_session_id(s), pd_clean(a->user, clean,
                                               sizeof(clean)));
        ph_pop3_auth_reply(s, PH_POP3_ERR_AUTH, NULL);
        return;
    }
    memcpy(local, canon, (size_t)(at - canon));
    local[at - canon] = '\0';
    if (pd_maildir_path(d, local, at + 1, path, sizeof(path)) != 0) {
        ph_pop3_auth_reply(s, PH_POP3_ERR_SYS_PERM, NULL);
        return;
    }
    pd_log("session=%s event=login status=ok user=%s", ph_pop3_session_id(s),
           canon);
    ph_pop3_auth_reply(s, PH_POP3_OK, path);
}

static int
start_one(struct pd *d, const char *addr, bool implicit)
{
    const struct pd_config *c = &d->cfg;
    ph_pop3_server         *srv;

    srv = ph_pop3_server_new(d->loop, &(struct ph_pop3_options){
        .alias = implicit ? "pop3s" : "pop3", .hostname = c->hostname,
        .limits = { .idle_timeout = c->idle_timeout,
                    .auth_fail_delay_ms = c->auth_fail_delay
                        ? c->auth_fail_delay * 1000 : PH_POP3_NO_DELAY,
                    .max_auth_failures = c->max_auth_failures,
                    .max_auth_failures_per_addr = c->max_auth_failures_addr
                        ? c->max_auth_failures_addr : PH_POP3_NO_LIMIT,
                    .auth_fail_window = c->auth_failure_window,
                    .max_session_time = c->max_session_time
                        ? c->max_session_time : PH_POP3_NO_LIMIT,
                    .max_noop_commands = c->max_noop_commands
                        ? c->max_noop_commands : PH_POP3_NO_LIMIT },
        /* Counted with the SMTP sessions: one client address holds at
           most max-connections-per-address of the whole daemon. */
        .conn_limits = d->climits,
        .tls = d->tls,
        .auth_plaintext = c->auth_plaintext,
        .auth_guard = d->guard });
    if (srv == NULL || (implicit ? ph_pop3_server_listen_tls(srv, addr)
                                 : ph_pop3_server_listen(srv, addr)) != 0) {
        fprintf(stderr, "posthornd: cannot listen on %s\n", addr);
        ph_pop3_server_free(srv);
        return -1;
    }
    ph_pop3_server_set_verify(srv, verify, d);
    d->pop3[d->npop3++] = srv;
    return 0;
}

int
pd_pop3_start(struct pd *d)
{
    const struct pd_config *c = &d->cfg;

    for (size_t i = 0; i < c->pop3.n; i++)
        if (start_one(d, c->pop3.v[i], false) != 0)
            return -1;
    for (size_t i = 0; i < c->pop3s.n; i++)
        if (start_one(d, c->pop3s.v[i], true) != 0)
            return -1;
    return 0;
}
