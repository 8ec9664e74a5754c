/*
 * smtpd.c -- posthornd's SMTP, submission and LMTP side: who may be a
 * recipient (local domains only: no open relay), and durable delivery
 * into Maildirs through the library's all-or-nothing ph_maildir_tx
 * (RFC 5321 4.4 Return-Path and Received trace headers, 250 only once
 * every copy is fsync'ed in new/). SMTP delivers all recipients or none;
 * LMTP (RFC 2033) answers per recipient after the final dot.
 * Submission (RFC 6409, with --submission and --smtps) needs AUTH before
 * MAIL, and an authenticated user sends as one of their own addresses.
 */
#include "posthornd/posthornd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 * Per session: the deliveries of the current message. Every per-recipient
 * array is sized from nrcpt, the recipient count when the copies were
 * opened, and every index into them is checked against it: should the
 * envelope change after that, the message gets a 451, never a read or
 * write past an array.
 */
struct pd_sess {
    struct pd      *d;
    enum pd_kind    kind;
    size_t          nrcpt;    /* recipients the arrays below were made for */
    ph_maildir_tx **tx;       /* SMTP: tx[0] for all; LMTP: one per rcpt */
    size_t          ntx;      /* 1 (SMTP) or nrcpt (LMTP) */
    enum ph_deliver_status *rst; /* [nrcpt] LMTP: why tx[i] is NULL (OK:
                                    unknown); after commit, its result */
    long           *dup;      /* [nrcpt] LMTP: index of an earlier
                                 recipient with the same Maildir, or -1 */
    bool            opened;   /* copies opened for this message */
    char          **paths;    /* [nrcpt] Maildirs already given a copy */
    size_t          npaths;
    enum ph_deliver_status st;
};

/* One copy per mailbox: "a@x", "A@X" and a bare "postmaster" may all name
   the same Maildir. Returns the earlier recipient's index, or -1 (and
   remembers path). */
static long
seen_path(struct pd_sess *ps, const char *path, const long *owner)
{
    for (size_t i = 0; i < ps->npaths; i++)
        if (strcmp(ps->paths[i], path) == 0)
            return owner ? owner[i] : 0;
    /* Out of memory: not remembered, so at worst a second copy. */
    if ((ps->paths[ps->npaths] = strdup(path)) != NULL)
        ps->npaths++;
    return -1;
}

/* The daemon, for on_connect: a server's user_data holds its enum pd_kind
   (cast to a pointer), not this, so sessions find the daemon here. Set by
   pd_smtp_server_new(); one struct pd per process. */
static struct pd *g_pd;

static struct pd_sess *
sess(ph_smtp_session *s)
{
    return ph_smtp_session_data(s);
}

static void
drop_tx(struct pd_sess *ps)
{
    for (size_t i = 0; i < ps->ntx; i++)
        ph_maildir_tx_free(ps->tx[i]);      /* rolls back uncommitted */
    for (size_t i = 0; ps->paths && i < ps->npaths; i++)
        free(ps->paths[i]);
    free(ps->paths);
    free(ps->tx);
    free(ps->rst);
    free(ps->dup);
    ps->tx = NULL;
    ps->rst = NULL;
    ps->dup = NULL;
    ps->paths = NULL;
    ps->npaths = 0;
    ps->ntx = 0;
    ps->nrcpt = 0;
    ps->opened = false;
}

static enum ph_result
on_connect(ph_smtp_session *s, const char *verb, const char *arg)
{
    struct pd_sess *ps = calloc(1, sizeof(*ps));

    if (ps == NULL) {
        ph_smtp_reply(s, 421, "4.3.0", "Out of memory");
        return PH_CLOSE;
    }
    ps->d = g_pd;
    ps->kind = (enum pd_kind)(uintptr_t)ph_smtp_server_data(
        ph_smtp_session_server(s));
    ph_smtp_session_set_data(s, ps);
    return ph_smtp_default_handler(ph_smtp_session_server(s), "CONNECT")(
        s, verb, arg);
}

static void
on_disconnect(ph_smtp_session *s)
{
    struct pd_sess *ps = sess(s);

    if (ps != NULL) {
        drop_tx(ps);
        free(ps);
        ph_smtp_session_set_data(s, NULL);
    }
}

static void
on_tx_abort(ph_smtp_session *s)
{
    if (sess(s) != NULL)
        drop_tx(sess(s));       /* nothing half-written stays behind */
}

/* RFC 6409 6.1: the sender of a submission is the authenticated user
   (their canonical "user@domain", case-insensitive), or <> for
   notifications, unless --allow-any-sender. */
static bool
sender_allowed(ph_smtp_session *s)
{
    const char *from = ph_smtp_session_path(s);
    const char *user = ph_smtp_session_auth_user(s);

    if (sess(s)->d->cfg.any_sender || from[0] == '\0')
        return true;
    return user != NULL && strcasecmp(from, user) == 0;
}

static enum ph_result
on_mail(ph_smtp_session *s, const char *verb, const char *arg)
{
    if (sess(s)->kind == PD_SUBMISSION && !sender_allowed(s)) {
        char from[300];
        pd_log("session=%s event=sender_refused from=<%s> user=%s",
               ph_smtp_session_id(s), pd_clean(ph_smtp_session_path(s),
               from, sizeof(from)), ph_smtp_session_auth_user(s));
        ph_smtp_reply(s, 553, "5.7.1", "<%s>: Sender address not owned by "
                      "user %s", ph_smtp_session_path(s),
                      ph_smtp_session_auth_user(s));
        return PH_OK;
    }
    return ph_smtp_default_handler(ph_smtp_session_server(s), verb)(s, verb,
                                                                    arg);
}

/* AUTH PLAIN/LOGIN against the users file. The identity is the
   canonical user@domain; an authzid naming anyone else is refused (no
   proxy logins). */
static void
verify(ph_smtp_session *s, const struct ph_smtp_auth *a, void *ctx)
{
    struct pd  *d = ctx;
    bool        ok = ph_passwd_verify(d->pw, a->user, a->password);
    const char *canon = ph_passwd_lookup(d->pw, a->user);
    char        clean[128];

    if (ok && canon != NULL && a->authzid[0] != '\0' &&
        strcasecmp(a->authzid, a->user) != 0 &&
        strcasecmp(a->authzid, canon) != 0)
        ok = false;
    pd_log("session=%s event=login status=%s user=%s",
           ph_smtp_session_id(s), ok && canon ? "ok" : "failed",
           pd_clean(ok && canon ? canon : a->user, clean, sizeof(clean)));
    ph_smtp_auth_reply(s, ok && canon ? PH_SMTP_AUTH_OK : PH_SMTP_AUTH_FAIL,
                       canon);
}

/* Splits "local@domain"; a bare "postmaster" is the first local domain's. */
static bool
split_addr(const struct pd *d, const char *addr, char *local, size_t lcap,
           const char **domain)
{
    const char *at = strrchr(addr, '@');
    size_t      n = at ? (size_t)(at - addr) : strlen(addr);

    if (n == 0 || n >= lcap)
        return false;
    memcpy(local, addr, n);
    local[n] = '\0';
    *domain = at ? at + 1 : d->local[0];
    return at != NULL || strcasecmp(local, "postmaster") == 0;
}

/* The Maildir for a recipient, or NULL if it is not ours. */
static bool
rcpt_maildir(const struct pd *d, const char *addr, char *path, size_t cap,
             bool *known)
{
    char        local[256];
    const char *domain, *canon;

    *known = false;
    if (!split_addr(d, addr, local, sizeof(local), &domain) ||
        !pd_is_local(d, domain))
        return false;
    if (strcasecmp(local, "postmaster") == 0) {
        *known = true;          /* RFC 5321 4.5.1: always accepted */
        return pd_maildir_path(d, "postmaster", domain, path, cap) == 0;
    }
    canon = ph_passwd_has(d->pw, local, domain) ?
            ph_passwd_lookup(d->pw, addr) : NULL;
    if (canon != NULL) {
        *known = true;
        snprintf(local, sizeof(local), "%.*s",
                 (int)(strrchr(canon, '@') - canon), canon);
    }
    return pd_maildir_path(d, local, domain, path, cap) == 0;
}

static enum ph_result
on_rcpt(ph_smtp_session *s, const char *verb, const char *arg)
{
    struct pd_sess *ps = sess(s);
    const char     *addr = ph_smtp_session_path(s);
    char            path[4096];
    bool            known;

    if (!rcpt_maildir(ps->d, addr, path, sizeof(path), &known)) {
        ph_smtp_reply(s, 550, "5.7.1", "<%s>: Relay access denied", addr);
        return PH_OK;
    }
    /* LMTP answers per recipient after the dot (RFC 2033 4.2). */
    if (!known && ps->kind != PD_LMTP) {
        ph_smtp_reply(s, 550, "5.1.1", "<%s>: User unknown", addr);
        return PH_OK;
    }
    ph_smtp_reply(s, 250, "2.1.5", "<%s> OK", addr);
    return PH_OK;
}

/* RFC 3848: ESMTP plus S for TLS, A for AUTH (LMTP likewise). */
static const char *
with_protocol(ph_smtp_session *s, char *buf, size_t cap)
{
    struct ph_tls_info ti;
    bool               tls = ph_smtp_session_tls(s, &ti);
    bool               auth = ph_smtp_session_auth_user(s) != NULL;
    const char        *base = sess(s)->kind == PD_LMTP ? "LMTP"
                              : ph_smtp_session_is_esmtp(s) ? "ESMTP"
                              : "SMTP";

    if (strcmp(base, "SMTP") == 0)
        return base;            /* HELO: RFC 3848 has no variants */
    snprintf(buf, cap, "%s%s%s", base, tls ? "S" : "", auth ? "A" : "");
    return buf;
}

/* "Return-Path:" and an RFC 5321 4.4 "Received:" naming this recipient,
   with the TLS protocol and cipher as a comment (as Postfix does). */
static int
trace_headers(ph_smtp_session *s, const char *rcpt, char *buf, size_t cap)
{
    char               date[64], proto[16], tls[160] = "";
    time_t             now = time(NULL);
    struct tm          tm;
    struct ph_tls_info ti;
    int                n;

    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
    if (ph_smtp_session_tls(s, &ti))
        snprintf(tls, sizeof(tls), "\t(using %s with cipher %s (%d bits))"
                 "\r\n", ti.protocol, ti.cipher, ti.bits);
    n = snprintf(buf, cap, "Return-Path: <%s>\r\n"
                 "Received: from %s ([%s])\r\n"
                 "%s"
                 "\tby %s (posthorn) with %s id %s\r\n"
                 "\tfor <%s>; %s\r\n",
                 ph_smtp_session_sender(s), ph_smtp_session_helo(s)
                 ? ph_smtp_session_helo(s) : "unknown",
                 ph_smtp_session_peer_addr(s), tls,
                 ph_smtp_server_hostname(ph_smtp_session_server(s)),
                 with_protocol(s, proto, sizeof(proto)),
                 ph_smtp_session_id(s), rcpt, date);
    return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

/* Opens one copy per recipient; LMTP: one transaction per recipient. */
static enum ph_deliver_status
open_copies(ph_smtp_session *s, struct pd_sess *ps)
{
    size_t n = ph_smtp_session_rcpt_count(s), i;
    size_t cap = n ? n : 1;
    char   path[4096], hdr[2048];
    bool   known;
    long  *owners;

    ps->tx = calloc(ps->kind == PD_LMTP ? cap : 1, sizeof(*ps->tx));
    ps->rst = calloc(cap, sizeof(*ps->rst));
    ps->dup = calloc(cap, sizeof(*ps->dup));
    ps->paths = calloc(cap, sizeof(*ps->paths));
    if (!ps->tx || !ps->rst || !ps->dup || !ps->paths)
        return PH_DELIVER_TEMP;
    ps->nrcpt = n;              /* the arrays' one source of truth */
    ps->ntx = ps->kind == PD_LMTP ? n : 1;
    owners = calloc(n ? n : 1, sizeof(*owners));
    if (owners == NULL)
        return PH_DELIVER_TEMP;
    for (i = 0; i < n; i++) {
        const char    *addr = ph_smtp_session_rcpt(s, i)->address;
        ph_maildir_tx **t = &ps->tx[ps->kind == PD_LMTP ? i : 0];
        int            hl = trace_headers(s, addr, hdr, sizeof(hdr));
        enum ph_deliver_status st;

        ps->dup[i] = -1;
        if (!rcpt_maildir(ps->d, addr, path, sizeof(path), &known) ||
            !known || hl < 0) {
            /* LMTP refuses this one after the dot; SMTP delivers to all
               or none (a SIGHUP may have removed the user meanwhile). */
            if (ps->kind != PD_LMTP) {
                free(owners);
                return PH_DELIVER_TEMP;
            }
            continue;
        }
        owners[ps->npaths] = (long)i;
        if ((ps->dup[i] = seen_path(ps, path, owners)) >= 0)
            continue;           /* that mailbox has its copy already */
        if (*t == NULL && (*t = ph_maildir_tx_new(
                ph_smtp_server_hostname(ph_smtp_session_server(s)))) == NULL) {
            free(owners);
            return PH_DELIVER_TEMP;
        }
        st = ph_maildir_tx_add(*t, path, hdr, (size_t)hl);
        if (st != PH_DELIVER_OK && ps->kind != PD_LMTP) {
            free(owners);
            return st;
        }
        if (st != PH_DELIVER_OK) {      /* LMTP: this one fails alone */
            ph_maildir_tx_free(*t);
            *t = NULL;
            ps->rst[i] = st;
        }
    }
    free(owners);
    return PH_DELIVER_OK;
}

/* Opens this message's copies once: at DATA or the first BDAT (so that
   a failure is their 4xx before any byte is taken). The data and eom
   callbacks call it too, so that no path stores nothing and says 250. */
static enum ph_deliver_status
open_message(ph_smtp_session *s, struct pd_sess *ps)
{
    if (ps->opened)
        return ps->st;
    drop_tx(ps);
    ps->opened = true;
    ps->st = open_copies(s, ps);
    return ps->st;
}

static enum ph_result
on_data(ph_smtp_session *s, const char *verb, const char *arg)
{
    struct pd_sess *ps = sess(s);

    drop_tx(ps);
    if (open_message(s, ps) != PH_DELIVER_OK) {
        enum ph_deliver_status st = ps->st;
        drop_tx(ps);
        if (st == PH_DELIVER_NOSPACE)
            ph_smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
        else
            ph_smtp_reply(s, 451, "4.3.0", "Local error in processing");
        return PH_OK;
    }
    return ph_smtp_default_handler(ph_smtp_session_server(s), verb)(s, verb,
                                                                    arg);
}

static void
on_data_bytes(ph_smtp_session *s, const char *p, size_t len)
{
    struct pd_sess *ps = sess(s);

    open_message(s, ps);
    for (size_t i = 0; i < ps->ntx && ps->st == PH_DELIVER_OK; i++) {
        enum ph_deliver_status st;
        if (ps->tx[i] == NULL)
            continue;
        st = ph_maildir_tx_write(ps->tx[i], p, len);
        if (st == PH_DELIVER_OK)
            continue;
        if (ps->kind != PD_LMTP) {
            ps->st = st;        /* SMTP: all or none */
        } else {                /* LMTP: only this recipient fails */
            ph_maildir_tx_free(ps->tx[i]);
            ps->tx[i] = NULL;
            ps->rst[i] = st;
        }
    }
}

static void
reply_status(ph_smtp_session *s, enum ph_deliver_status st, const char *id)
{
    if (st == PH_DELIVER_OK)
        ph_smtp_reply(s, 250, "2.0.0", "Ok: stored as %s", id);
    else if (st == PH_DELIVER_NOSPACE)
        ph_smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
    else
        ph_smtp_reply(s, 451, "4.3.0", "Local error in processing");
}

static const char *
status_name(enum ph_deliver_status st)
{
    return st == PH_DELIVER_OK ? "stored"
           : st == PH_DELIVER_NOSPACE ? "nospace" : "failed";
}

/* The envelope the arrays were made for is not the one ending now: a
   sequencing bug elsewhere. Fail the message (451), never index past. */
static bool
envelope_changed(ph_smtp_session *s, struct pd_sess *ps, size_t n)
{
    if (n == ps->nrcpt)
        return false;
    pd_log_error("session=%s event=delivery status=failed "
                 "reason=envelope_changed rcpts=%zu opened_for=%zu",
                 ph_smtp_session_id(s), n, ps->nrcpt);
    return true;
}

static void
smtp_eom(ph_smtp_session *s, struct pd_sess *ps, size_t n)
{
    char from[300];

    if (ps->st == PH_DELIVER_OK)        /* no copy opened: not stored */
        ps->st = ps->tx[0] ? ph_maildir_tx_commit(ps->tx[0])
                           : PH_DELIVER_TEMP;
    pd_log("session=%s event=delivery from=<%s> rcpts=%zu size=%zu "
           "status=%s", ph_smtp_session_id(s),
           pd_clean(ph_smtp_session_sender(s), from, sizeof(from)), n,
           ph_smtp_session_message_size(s), status_name(ps->st));
    reply_status(s, ps->st, ph_smtp_session_id(s));
}

/* LMTP (RFC 2033 4.2): recipient i's own reply. */
static void
lmtp_eom_one(ph_smtp_session *s, struct pd_sess *ps, size_t i)
{
    const char            *to = ph_smtp_session_rcpt(s, i)->address;
    enum ph_deliver_status st = ps->st;
    char                   from[300], rcpt[300];

    if (st != PH_DELIVER_OK || i >= ps->nrcpt) {
        reply_status(s, st != PH_DELIVER_OK ? st : PH_DELIVER_TEMP,
                     ph_smtp_session_id(s));
        return;
    }
    if (ps->dup[i] >= 0 && (size_t)ps->dup[i] < i) {  /* one copy each */
        reply_status(s, ps->rst[ps->dup[i]], ph_smtp_session_id(s));
        return;
    }
    if (ps->tx[i] == NULL) {
        if (ps->rst[i] != PH_DELIVER_OK)
            reply_status(s, ps->rst[i], ph_smtp_session_id(s));
        else
            ph_smtp_reply(s, 550, "5.1.1", "<%s>: User unknown", to);
        return;
    }
    st = ps->rst[i] = ph_maildir_tx_commit(ps->tx[i]);
    pd_log("session=%s event=delivery from=<%s> to=<%s> size=%zu "
           "status=%s", ph_smtp_session_id(s),
           pd_clean(ph_smtp_session_sender(s), from, sizeof(from)),
           pd_clean(to, rcpt, sizeof(rcpt)),
           ph_smtp_session_message_size(s), status_name(st));
    reply_status(s, st, ph_smtp_session_id(s));
}

static enum ph_result
on_eom(ph_smtp_session *s)
{
    struct pd_sess *ps = sess(s);
    size_t          n = ph_smtp_session_rcpt_count(s);

    open_message(s, ps);        /* BDAT 0 LAST: no byte came */
    if (ps->st == PH_DELIVER_OK && envelope_changed(s, ps, n))
        ps->st = PH_DELIVER_TEMP;
    if (ps->kind != PD_LMTP)
        smtp_eom(s, ps, n);
    else
        for (size_t i = 0; i < n; i++)
            lmtp_eom_one(s, ps, i);
    drop_tx(ps);
    return PH_OK;
}

/* A server of this kind with posthornd's handlers, not yet listening
   (the fuzz target drives it over a socketpair). */
ph_smtp_server *
pd_smtp_server_new(struct pd *d, enum pd_kind kind, bool implicit)
{
    const struct pd_config *c = &d->cfg;
    ph_smtp_server         *srv;
    bool                    sub = kind == PD_SUBMISSION;

    g_pd = d;
    srv = ph_smtp_server_new(d->loop, &(struct ph_smtp_options){
        .alias = kind == PD_LMTP ? "lmtp" : implicit ? "smtps"
                 : sub ? "submission" : "smtp",
        .hostname = c->hostname,
        .mode = kind == PD_LMTP ? PH_SMTP_MODE_LMTP : PH_SMTP_MODE_ESMTP,
        .limits = { .max_message_size = c->max_message_size,
                    .max_recipients = c->max_recipients,
                    .idle_timeout = c->idle_timeout,
                    .auth_fail_delay_ms = c->auth_fail_delay
                        ? c->auth_fail_delay * 1000 : PH_SMTP_NO_DELAY,
                    .max_auth_failures = c->max_auth_failures,
                    .max_auth_failures_per_addr = c->max_auth_failures_addr
                        ? c->max_auth_failures_addr : PH_SMTP_NO_LIMIT,
                    .auth_fail_window = c->auth_failure_window,
                    .max_session_time = c->max_session_time
                        ? c->max_session_time : PH_SMTP_NO_LIMIT,
                    .max_noop_commands = c->max_noop_commands
                        ? c->max_noop_commands : PH_SMTP_NO_LIMIT },
        /* One count of sessions for the whole daemon, LMTP included
           (NULL in the fuzz target: the server makes its own). */
        .conn_limits = d->climits,
        /* LMTP is local delivery from a trusted MTA: no TLS there. */
        .tls = kind == PD_LMTP ? NULL : d->tls,
        .auth_plaintext = c->auth_plaintext,
        .auth_guard = d->guard,
        .auth_required = sub,
        .user_data = (void *)(uintptr_t)kind });
    if (srv == NULL)
        return NULL;
    ph_smtp_server_set_handler(srv, "CONNECT", on_connect);
    ph_smtp_server_set_handler(srv, "MAIL", on_mail);
    ph_smtp_server_set_handler(srv, "RCPT", on_rcpt);
    ph_smtp_server_set_handler(srv, "DATA", on_data);
    ph_smtp_server_set_handler(srv, "BDAT", on_data);   /* first chunk */
    ph_smtp_server_set_callbacks(srv, &(struct ph_smtp_callbacks){
        .data = on_data_bytes, .eom = on_eom, .tx_abort = on_tx_abort,
        .disconnect = on_disconnect });
    if (sub)                    /* port 25 is for other MTAs: no AUTH */
        ph_smtp_server_set_verify(srv, verify, d);
    return srv;
}

static int
start_one(struct pd *d, const char *addr, enum pd_kind kind, bool implicit)
{
    ph_smtp_server *srv = pd_smtp_server_new(d, kind, implicit);

    if (srv == NULL || (implicit ? ph_smtp_server_listen_tls(srv, addr)
                                 : ph_smtp_server_listen(srv, addr)) != 0) {
        fprintf(stderr, "posthornd: cannot listen on %s\n", addr);
        ph_smtp_server_free(srv);
        return -1;
    }
    d->smtp[d->nsmtp++] = srv;
    return 0;
}

int
pd_smtp_start(struct pd *d)
{
    const struct pd_config *c = &d->cfg;

    for (size_t i = 0; i < c->smtp.n; i++)
        if (start_one(d, c->smtp.v[i], PD_SMTP, false) != 0)
            return -1;
    for (size_t i = 0; i < c->submission.n; i++)
        if (start_one(d, c->submission.v[i], PD_SUBMISSION, false) != 0)
            return -1;
    for (size_t i = 0; i < c->smtps.n; i++)
        if (start_one(d, c->smtps.v[i], PD_SUBMISSION, true) != 0)
            return -1;
    for (size_t i = 0; i < c->lmtp.n; i++)
        if (start_one(d, c->lmtp.v[i], PD_LMTP, false) != 0)
            return -1;
    return 0;
}
