/*
 * connlimits.c -- posthornd's connection budget. One ph_conn_limits
 * counts the sessions of every listener (SMTP, submission, SMTPS, LMTP,
 * POP3, POP3S), so max-connections and max-connections-per-address hold
 * for the whole daemon, not per port. And the descriptors to hold them:
 * RLIMIT_NOFILE is raised as far as the hard limit allows, and the
 * number of connections is lowered to what fits under it.
 */
#include "posthornd/posthornd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/*
 * Descriptors kept for everything that is not a client socket: the
 * listeners (at most 6 kinds x 8), the event loop's epoll and signal
 * descriptors, stdio, and the Maildir files and directories that
 * deliveries and POP3 sessions open for a moment. Each session costs one
 * descriptor (its socket); what its Maildir work opens on top comes from
 * this reserve, which is why the reserve is not tiny.
 */
#define PD_FD_RESERVE 64

/* The soft limit raised to the hard one; the limits in force in *rl. */
static void
fd_limit_raise(struct rlimit *rl)
{
    struct rlimit want;

    if (getrlimit(RLIMIT_NOFILE, rl) != 0) {
        rl->rlim_cur = rl->rlim_max = RLIM_INFINITY;  /* unknown: no cap */
        return;
    }
    if (rl->rlim_cur == rl->rlim_max)
        return;
    /* Descriptors above 1023 are fine here: libevent uses epoll and
       nothing in posthornd calls select(). */
    want.rlim_cur = want.rlim_max = rl->rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
        rl->rlim_cur = rl->rlim_max;
    else
        pd_log_warn("event=fd_limit_raise_failed soft=%llu hard=%llu "
                    "error=\"%s\"", (unsigned long long)rl->rlim_cur,
                    (unsigned long long)rl->rlim_max, strerror(errno));
}

unsigned
pd_fd_fit(unsigned wanted, unsigned long long soft)
{
    unsigned long long room;

    if (soft == (unsigned long long)RLIM_INFINITY)
        return wanted;
    room = soft > PD_FD_RESERVE ? soft - PD_FD_RESERVE : 0;
    /* 0 asks for no limit of our own: the descriptors still are one.
       Never 0 in the end: to ph_conn_limits_new that means "no limit". */
    if (wanted != 0 && wanted <= room)
        return wanted;
    if (room == 0)
        return 1;
    return room > 1000000 ? 1000000 : (unsigned)room;
}

unsigned
pd_fd_reserve(void)
{
    return PD_FD_RESERVE;
}

/*
 * Why lower max-connections rather than let accept() fail: past the
 * descriptor limit, accept() gets EMFILE and the listeners pause for a
 * second with clients left waiting in the backlog, and a delivery that
 * cannot open its Maildir file answers 451 to a client already in the
 * middle of a message. Refused at accept instead, a client gets a clear
 * 421 (or -ERR) at once and its MTA retries later.
 */
int
pd_conn_limits_start(struct pd *d)
{
    const struct pd_config *c = &d->cfg;
    struct rlimit           rl;
    unsigned                fit;

    fd_limit_raise(&rl);
    fit = pd_fd_fit(c->max_connections, (unsigned long long)rl.rlim_cur);
    pd_log("event=fd_limit soft=%llu hard=%llu max_connections=%u",
           (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
           fit);
    if (c->max_connections != 0 && fit < c->max_connections)
        pd_log_warn("event=fd_limit_low max_connections=%u reserve=%u "
                    "descriptors=%llu effective_max_connections=%u "
                    "hint=\"raise the hard RLIMIT_NOFILE (systemd "
                    "LimitNOFILE=) or lower max-connections\"",
                    c->max_connections, PD_FD_RESERVE,
                    (unsigned long long)rl.rlim_cur, fit);
    d->max_connections = fit;
    d->climits = ph_conn_limits_new(fit, c->max_connections_addr);
    if (d->climits == NULL) {
        fprintf(stderr, "posthornd: out of memory\n");
        return -1;
    }
    return 0;
}
