/*
 * posthornd.h -- the daemon's own declarations. posthornd is built only
 * on libposthorn's public API (include/posthorn/), like any program.
 */
#ifndef POSTHORND_H
#define POSTHORND_H

#include <stdbool.h>
#include <stddef.h>

#include <posthorn/posthorn.h>

#define PD_MAX_LISTEN  8
#define PD_MAX_DOMAINS 64

struct pd_list {
    char  *v[PD_MAX_LISTEN];
    size_t n;
};

/* Everything the command line and the config file can set. */
struct pd_config {
    char          *config_file;
    bool           check_only;
    struct pd_list smtp, submission, smtps, lmtp, pop3, pop3s;
    char          *mail_root;
    char          *users;
    char          *domains[PD_MAX_DOMAINS];
    size_t         ndomains;
    char          *hostname;
    char          *tls_cert, *tls_key;
    char          *tls_ciphers, *tls_ciphersuites; /* NULL: OpenSSL's */
    char          *run_user;
    size_t         max_message_size;
    unsigned       max_recipients;
    unsigned       idle_timeout;
    unsigned       auth_fail_delay;
    unsigned       max_auth_failures;       /* per session */
    unsigned       max_auth_failures_addr;  /* per address; 0: none */
    unsigned       auth_failure_window;     /* seconds */
    unsigned       max_connections;         /* whole daemon; 0: none */
    unsigned       max_connections_addr;    /* per address; 0: none */
    unsigned       max_session_time;        /* seconds; 0: none */
    unsigned       max_noop_commands;       /* in a row; 0: none */
    bool           auth_plaintext;   /* AUTH/USER without TLS */
    bool           any_sender;       /* submission: any MAIL FROM */
    bool           mail_root_default, users_default;
};

/* The running daemon. */
struct pd {
    struct pd_config  cfg;
    int               argc;          /* kept for SIGHUP's re-read */
    char            **argv;
    ph_loop          *loop;
    ph_passwd        *pw;            /* replaced on SIGHUP */
    ph_tls_ctx       *tls;           /* NULL without --tls-cert */
    ph_auth_guard    *guard;         /* failed logins, all listeners */
    ph_conn_limits   *climits;       /* sessions, all listeners; freed
                                        after the servers */
    unsigned          max_connections; /* in force: cfg's, lowered to
                                          the descriptors available */
    char             *local[PD_MAX_DOMAINS + 1];
    size_t            nlocal;
    ph_smtp_server   *smtp[4 * PD_MAX_LISTEN];
    size_t            nsmtp;
    ph_pop3_server   *pop3[2 * PD_MAX_LISTEN];
    size_t            npop3;
    struct event     *stop_timer;
    unsigned          stop_ticks;
    bool              stopping;
};

/* config.c */
int  pd_config_parse(struct pd_config *c, int argc, char **argv);
void pd_config_free(struct pd_config *c);
void pd_usage(void);

/* users.c */
int  pd_users_load(struct pd *d, bool report);
bool pd_is_local(const struct pd *d, const char *domain);
int  pd_first_run(struct pd *d);

void pd_own(const struct pd *d, const char *path);
int  mkdir_p(const struct pd *d, const char *path);
/* Client text for a key=value log: no spaces, quotes or control bytes. */
const char *pd_clean(const char *in, char *buf, size_t cap);

/* tlsconf.c */
int  pd_tls_start(struct pd *d);
int  pd_tls_reload(struct pd *d, const struct pd_config *n);

/* connlimits.c: raises RLIMIT_NOFILE, logs it, makes d->climits */
int      pd_conn_limits_start(struct pd *d);
/* The connections that fit in soft descriptors besides the reserve
   (wanted, or fewer; 0 wanted: as many as fit; never 0). */
unsigned pd_fd_fit(unsigned wanted, unsigned long long soft);
unsigned pd_fd_reserve(void);

/* smtpd.c, pop3d.c */
enum pd_kind { PD_SMTP, PD_SUBMISSION, PD_LMTP };
int pd_smtp_start(struct pd *d);
ph_smtp_server *pd_smtp_server_new(struct pd *d, enum pd_kind kind,
                                   bool implicit);
int pd_pop3_start(struct pd *d);
/* The Maildir of local@domain under mail_root into buf; -1 if unsafe. */
int pd_maildir_path(const struct pd *d, const char *local, const char *domain,
                    char *buf, size_t cap);

/* log.c: "<level> key=value ..." lines on stderr */
void pd_logl(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define pd_log(...)       pd_logl("info", __VA_ARGS__)
#define pd_log_warn(...)  pd_logl("warn", __VA_ARGS__)
#define pd_log_error(...) pd_logl("error", __VA_ARGS__)

#endif
