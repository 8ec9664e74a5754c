/*
 * config.c -- posthornd's options: the command line (posthornd(8)) and the
 * config file (posthornd.conf(5): "key = value" lines whose keys are the
 * long options, '#' comments). The file is read first; the command line
 * then overrides it (a listener option on the command line replaces the
 * file's listeners of that kind). Errors name the file and line.
 */
#include "posthornd/posthornd.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    O_CHECK = 256, O_SMTP, O_SUBMISSION, O_SMTPS, O_LMTP, O_POP3, O_POP3S,
    O_MAIL_ROOT, O_USERS, O_DOMAIN, O_HOSTNAME, O_TLS_CERT, O_TLS_KEY,
    O_MAX_SIZE, O_MAX_RCPT, O_IDLE, O_AUTH_DELAY, O_USER, O_AUTH_PLAIN,
    O_ANY_SENDER, O_TLS_CIPHERS, O_TLS_SUITES, O_AUTH_MAX, O_AUTH_MAX_ADDR,
    O_AUTH_WINDOW, O_MAX_CONN, O_MAX_CONN_ADDR, O_SESSION_TIME, O_MAX_NOOP,
};

static const struct option long_opts[] = {
    { "config", required_argument, NULL, 'c' },
    { "check-config", no_argument, NULL, O_CHECK },
    { "smtp", required_argument, NULL, O_SMTP },
    { "submission", required_argument, NULL, O_SUBMISSION },
    { "smtps", required_argument, NULL, O_SMTPS },
    { "lmtp", required_argument, NULL, O_LMTP },
    { "pop3", required_argument, NULL, O_POP3 },
    { "pop3s", required_argument, NULL, O_POP3S },
    { "mail-root", required_argument, NULL, O_MAIL_ROOT },
    { "users", required_argument, NULL, O_USERS },
    { "domain", required_argument, NULL, O_DOMAIN },
    { "hostname", required_argument, NULL, O_HOSTNAME },
    { "tls-cert", required_argument, NULL, O_TLS_CERT },
    { "tls-key", required_argument, NULL, O_TLS_KEY },
    { "max-message-size", required_argument, NULL, O_MAX_SIZE },
    { "max-recipients", required_argument, NULL, O_MAX_RCPT },
    { "idle-timeout", required_argument, NULL, O_IDLE },
    { "auth-fail-delay", required_argument, NULL, O_AUTH_DELAY },
    { "user", required_argument, NULL, O_USER },
    { "tls-ciphers", required_argument, NULL, O_TLS_CIPHERS },
    { "tls-ciphersuites", required_argument, NULL, O_TLS_SUITES },
    { "max-auth-failures", required_argument, NULL, O_AUTH_MAX },
    { "max-auth-failures-per-address", required_argument, NULL,
      O_AUTH_MAX_ADDR },
    { "auth-failure-window", required_argument, NULL, O_AUTH_WINDOW },
    { "max-connections", required_argument, NULL, O_MAX_CONN },
    { "max-connections-per-address", required_argument, NULL,
      O_MAX_CONN_ADDR },
    { "max-session-time", required_argument, NULL, O_SESSION_TIME },
    { "max-noop-commands", required_argument, NULL, O_MAX_NOOP },
    { "auth-plaintext", no_argument, NULL, O_AUTH_PLAIN },
    { "allow-any-sender", no_argument, NULL, O_ANY_SENDER },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

void
pd_usage(void)
{
    fprintf(stderr,
        "usage: posthornd [OPTIONS]   (see posthornd(8))\n"
        "  -c, --config FILE   --check-config\n"
        "  --smtp ADDR:PORT  --submission ADDR:PORT  --lmtp ADDR:PORT|unix:PATH\n"
        "  --pop3 ADDR:PORT  --mail-root DIR  --users FILE  --domain NAME\n"
        "  --hostname NAME  --max-message-size BYTES  --max-recipients N\n"
        "  --idle-timeout SECONDS  --auth-fail-delay SECONDS  --user NAME\n"
        "  --smtps ADDR:PORT  --pop3s ADDR:PORT  --tls-cert FILE  --tls-key FILE\n"
        "  --tls-ciphers LIST  --tls-ciphersuites LIST  --auth-plaintext\n"
        "  --allow-any-sender  --max-auth-failures N\n"
        "  --max-auth-failures-per-address N  --auth-failure-window SECONDS\n"
        "  --max-connections N  --max-connections-per-address N\n"
        "  --max-session-time SECONDS  --max-noop-commands N\n");
}

static int
set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : -1;
}

static int
add_listen(struct pd_list *l, const char *v)
{
    if (l->n == PD_MAX_LISTEN)
        return -1;
    return (l->v[l->n++] = strdup(v)) ? 0 : -1;
}

/*
 * The numeric options: one row each, one parser for all (a bad value is
 * refused the same way everywhere, and the error names the range). A
 * field is an unsigned or a size_t; the row says which.
 */
enum num_type { NUM_UINT, NUM_SIZE };

struct num_opt {
    int                opt;
    size_t             off;     /* of the field in struct pd_config */
    enum num_type      type;
    unsigned long long min, max;
    const char        *unit;    /* for the error message */
};

#define NUM_FIELD(f) offsetof(struct pd_config, f)

static const struct num_opt num_opts[] = {
    { O_MAX_SIZE, NUM_FIELD(max_message_size), NUM_SIZE, 1, 1ull << 40,
      "bytes" },
    { O_MAX_RCPT, NUM_FIELD(max_recipients), NUM_UINT, 1, 100000,
      "recipients" },
    { O_IDLE, NUM_FIELD(idle_timeout), NUM_UINT, 1, 86400, "seconds" },
    { O_AUTH_DELAY, NUM_FIELD(auth_fail_delay), NUM_UINT, 0, 60,
      "seconds, 0: no delay" },
    { O_AUTH_MAX, NUM_FIELD(max_auth_failures), NUM_UINT, 1, 1000,
      "failed logins" },
    { O_AUTH_MAX_ADDR, NUM_FIELD(max_auth_failures_addr), NUM_UINT, 0,
      1000000, "failed logins, 0: no limit" },
    { O_AUTH_WINDOW, NUM_FIELD(auth_failure_window), NUM_UINT, 1, 86400,
      "seconds" },
    /* The connection limits count for the whole daemon (one
       ph_conn_limits shared by every listener); the upper bounds are
       far above what one process can hold open anyway. */
    { O_MAX_CONN, NUM_FIELD(max_connections), NUM_UINT, 0, 1000000,
      "connections, 0: no limit" },
    { O_MAX_CONN_ADDR, NUM_FIELD(max_connections_addr), NUM_UINT, 0,
      1000000, "connections, 0: no limit" },
    { O_SESSION_TIME, NUM_FIELD(max_session_time), NUM_UINT, 0, 604800,
      "seconds, 0: no limit" },
    { O_MAX_NOOP, NUM_FIELD(max_noop_commands), NUM_UINT, 0, 1000000,
      "commands, 0: no limit" },
};

static const struct num_opt *
num_opt_find(int opt)
{
    for (size_t i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]); i++)
        if (num_opts[i].opt == opt)
            return &num_opts[i];
    return NULL;
}

/* Decimal digits only, within the row's bounds; 0, or -1 (field kept). */
static int
set_num(struct pd_config *c, const struct num_opt *n, const char *v)
{
    char              *end, *field = (char *)c + n->off;
    unsigned long long x;

    /* strtoull alone would take leading spaces, a sign and wrap "-1". */
    if (*v < '0' || *v > '9')
        return -1;
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < n->min || x > n->max)
        return -1;
    if (n->type == NUM_SIZE)
        *(size_t *)field = (size_t)x;
    else
        *(unsigned *)field = (unsigned)x;
    return 0;
}

/* What a bad value of opt should have been: " (1 to 100000 recipients)"
   for a numeric option, "" for the others. */
static const char *
num_hint(int opt, char *buf, size_t cap)
{
    const struct num_opt *n = num_opt_find(opt);
    int                   w;

    if (n == NULL)
        return "";
    w = snprintf(buf, cap, " (%llu to %llu %s)", n->min, n->max, n->unit);
    return w < 0 || (size_t)w >= cap ? "" : buf;
}

/* A flag: given alone (command line, or a bare key in the file), or
   "key = yes|no" in the file. */
static int
set_flag(bool *out, const char *v)
{
    if (v == NULL || *v == '\0' || strcmp(v, "yes") == 0 ||
        strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
             strcmp(v, "0") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* One option, from argv or the file. Returns 0, or -1 with a bad value. */
static int
apply(struct pd_config *c, int opt, const char *v)
{
    const struct num_opt *n = num_opt_find(opt);

    if (n != NULL)
        return set_num(c, n, v);
    switch (opt) {
    case 'c':          return set_str(&c->config_file, v);
    case O_CHECK:      return set_flag(&c->check_only, v);
    case O_SMTP:       return add_listen(&c->smtp, v);
    case O_SUBMISSION: return add_listen(&c->submission, v);
    case O_SMTPS:      return add_listen(&c->smtps, v);
    case O_LMTP:       return add_listen(&c->lmtp, v);
    case O_POP3:       return add_listen(&c->pop3, v);
    case O_POP3S:      return add_listen(&c->pop3s, v);
    case O_MAIL_ROOT:  c->mail_root_default = false;
                       return set_str(&c->mail_root, v);
    case O_USERS:      c->users_default = false;
                       return set_str(&c->users, v);
    case O_DOMAIN:
        if (c->ndomains == PD_MAX_DOMAINS)
            return -1;
        return (c->domains[c->ndomains++] = strdup(v)) ? 0 : -1;
    case O_HOSTNAME:   return set_str(&c->hostname, v);
    case O_TLS_CERT:   return set_str(&c->tls_cert, v);
    case O_TLS_KEY:    return set_str(&c->tls_key, v);
    case O_USER:       return set_str(&c->run_user, v);
    case O_AUTH_PLAIN: return set_flag(&c->auth_plaintext, v);
    case O_ANY_SENDER: return set_flag(&c->any_sender, v);
    case O_TLS_CIPHERS: return set_str(&c->tls_ciphers, v);
    case O_TLS_SUITES: return set_str(&c->tls_ciphersuites, v);
    }
    return -1;
}

static const struct option *
find_long(const char *key)
{
    for (const struct option *o = long_opts; o->name; o++)
        if (strcmp(o->name, key) == 0)
            return o;
    return NULL;
}

static char *
trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
                     e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* "key = value" lines; a flag option ("check-config") takes no value. */
static int
load_file(struct pd_config *c, const char *path)
{
    char   line[1024];
    FILE  *f = fopen(path, "r");
    int    lineno = 0, rc = 0;

    if (f == NULL) {
        fprintf(stderr, "posthornd: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = trim(line), *eq, *key, *val;
        const struct option *o;

        lineno++;
        if (*p == '\0' || *p == '#')
            continue;
        eq = strchr(p, '=');
        key = trim(eq ? (*eq = '\0', p) : p);
        val = eq ? trim(eq + 1) : "";
        o = find_long(key);
        if (o == NULL || o->val == 'c' || o->val == 'h' ||
            (o->has_arg && eq == NULL) || apply(c, o->val, val) != 0) {
            char hint[80];
            fprintf(stderr, "posthornd: %s:%d: %s '%s'%s\n", path, lineno,
                    o == NULL ? "unknown key" : "bad value for", key,
                    o == NULL ? "" : num_hint(o->val, hint, sizeof(hint)));
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

static const char *
opt_name(int val)
{
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == val)
            return o->name;
    return "?";
}

static void free_list(struct pd_list *l);

/* The command line's listeners of a kind replace the file's. */
static void
move_list(struct pd_list *dst, struct pd_list *src)
{
    if (src->n == 0)
        return;
    free_list(dst);
    *dst = *src;
    src->n = 0;
}

static void
set_defaults(struct pd_config *c)
{
    c->max_message_size = 26214400;
    c->max_recipients = 100;
    c->idle_timeout = 300;
    c->auth_fail_delay = 1;
    c->max_auth_failures = 3;
    c->max_auth_failures_addr = 10;
    c->auth_failure_window = 300;
    c->max_connections = 1000;
    c->max_connections_addr = 30;   /* posthornd(8) says why 30 */
    c->max_session_time = 3600;
    c->max_noop_commands = 100;
    c->mail_root_default = c->users_default = true;
}

int
pd_config_parse(struct pd_config *c, int argc, char **argv)
{
    struct pd_config cli = { 0 };
    int              opt, rc = 0;

    memset(c, 0, sizeof(*c));
    set_defaults(c);
    set_defaults(&cli);
    optind = 0;                 /* again on SIGHUP: scan from the start */
    while ((opt = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
        if (opt == 'h' || opt == '?') {
            pd_config_free(&cli);
            return -1;
        }
        if (apply(&cli, opt, optarg) != 0) {
            char hint[80];
            fprintf(stderr, "posthornd: bad value for --%s: '%s'%s\n",
                    opt_name(opt), optarg ? optarg : "",
                    num_hint(opt, hint, sizeof(hint)));
            rc = -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "posthornd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (cli.config_file && load_file(c, cli.config_file) != 0)
        rc = -1;
    /* Re-apply the command line over the file (optind 0: glibc starts
       the scan afresh). */
    optind = 0;
    while ((opt = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
        if (opt == O_SMTP || opt == O_SUBMISSION || opt == O_LMTP ||
            opt == O_POP3 || opt == O_SMTPS || opt == O_POP3S)
            continue;
        apply(c, opt, optarg);
    }
    if (cli.smtp.n || cli.submission.n || cli.lmtp.n || cli.pop3.n ||
        cli.smtps.n || cli.pop3s.n) {
        move_list(&c->smtp, &cli.smtp);
        move_list(&c->submission, &cli.submission);
        move_list(&c->smtps, &cli.smtps);
        move_list(&c->lmtp, &cli.lmtp);
        move_list(&c->pop3, &cli.pop3);
        move_list(&c->pop3s, &cli.pop3s);
    }
    pd_config_free(&cli);
    if (!c->mail_root && set_str(&c->mail_root, "./posthorn-data/mail") != 0)
        return -1;
    if (!c->users && set_str(&c->users, "./posthorn-data/users") != 0)
        return -1;
    return rc;
}

static void
free_list(struct pd_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

void
pd_config_free(struct pd_config *c)
{
    free_list(&c->smtp);
    free_list(&c->submission);
    free_list(&c->smtps);
    free_list(&c->lmtp);
    free_list(&c->pop3);
    free_list(&c->pop3s);
    for (size_t i = 0; i < c->ndomains; i++)
        free(c->domains[i]);
    free(c->config_file);
    free(c->mail_root);
    free(c->users);
    free(c->hostname);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_ciphers);
    free(c->tls_ciphersuites);
    free(c->run_user);
}
