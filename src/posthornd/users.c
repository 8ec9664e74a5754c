/*
 * users.c -- the users file (Dovecot passwd-file, through auth.h), the
 * local domains (--domain, else every domain of the users file plus
 * localhost), safe Maildir paths, and the first-run setup of
 * ./posthorn-data with a demo user.
 */
#include "posthornd/posthornd.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <pwd.h>
#include <unistd.h>

static void
clear_local(struct pd *d)
{
    for (size_t i = 0; i < d->nlocal; i++)
        free(d->local[i]);
    d->nlocal = 0;
}

static int
add_local(struct pd *d, const char *name)
{
    char *lc;

    if (pd_is_local(d, name) || d->nlocal == PD_MAX_DOMAINS + 1)
        return 0;
    if ((lc = strdup(name)) == NULL)
        return -1;
    for (char *p = lc; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    d->local[d->nlocal++] = lc;
    return 0;
}

/* (Re)loads the users file; on failure the old one stays in use. */
int
pd_users_load(struct pd *d, bool report)
{
    char       err[512];
    ph_passwd *pw = ph_passwd_load(d->cfg.users, err, sizeof(err));

    if (pw == NULL) {
        fprintf(stderr, "posthornd: %s\n", err);
        return -1;
    }
    ph_passwd_free(d->pw);
    d->pw = pw;
    clear_local(d);
    for (size_t i = 0; i < d->cfg.ndomains; i++)
        add_local(d, d->cfg.domains[i]);
    if (d->cfg.ndomains == 0) {
        for (size_t i = 0; i < ph_passwd_domain_count(pw); i++)
            add_local(d, ph_passwd_domain(pw, i));
        add_local(d, "localhost");
    }
    /* Each local domain's directory, so Maildirs can be made in it (not
       for --check-config, which changes nothing on disk). */
    for (size_t i = 0; i < d->nlocal && !d->cfg.check_only; i++) {
        char path[4096];
        int  n = snprintf(path, sizeof(path), "%s/%s", d->cfg.mail_root,
                          d->local[i]);
        struct stat st;
        if (n < 0 || (size_t)n >= sizeof(path) || strchr(d->local[i], '/'))
            continue;
        if (stat(path, &st) != 0 && mkdir_p(d, path) == 0)
            pd_own(d, path);
    }
    if (report)
        pd_log("event=users file=%s users=%zu domains=%zu", d->cfg.users,
               ph_passwd_count(pw), d->nlocal);
    return 0;
}

bool
pd_is_local(const struct pd *d, const char *domain)
{
    for (size_t i = 0; i < d->nlocal; i++)
        if (strcasecmp(d->local[i], domain) == 0)
            return true;
    return false;
}

/* A path element from the network: no '/', no dot names, printable. */
static bool
safe_element(const char *s)
{
    if (s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        s[0] == '.')
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x21 || *s == 0x7f)
            return false;
    return true;
}

int
pd_maildir_path(const struct pd *d, const char *local, const char *domain,
                char *buf, size_t cap)
{
    char dom[256];
    int  n;

    if (strlen(domain) >= sizeof(dom))
        return -1;
    for (size_t i = 0; i <= strlen(domain); i++)
        dom[i] = (char)tolower((unsigned char)domain[i]);
    if (!safe_element(local) || !safe_element(dom))
        return -1;
    n = snprintf(buf, cap, "%s/%s/%s", d->cfg.mail_root, dom, local);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* Started as root with --user: what we create must belong to that user,
   who will read and write it after the privilege drop. */
void
pd_own(const struct pd *d, const char *path)
{
    struct passwd *pw;

    if (geteuid() != 0 || d->cfg.run_user == NULL ||
        (pw = getpwnam(d->cfg.run_user)) == NULL)
        return;
    if (lchown(path, pw->pw_uid, pw->pw_gid) != 0)
        fprintf(stderr, "posthornd: chown %s: %s\n", path, strerror(errno));
}

/* mkdir -p; every directory it creates belongs to the run user. */
static int
make_one(const struct pd *d, const char *path)
{
    if (mkdir(path, 0700) == 0) {
        pd_own(d, path);
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

int
mkdir_p(const struct pd *d, const char *path)
{
    char   tmp[4096];
    size_t len = strlen(path);

    if (len >= sizeof(tmp))
        return -1;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (make_one(d, tmp) != 0)
            return -1;
        *p = '/';
    }
    return make_one(d, tmp);
}

static void
random_password(char *out, size_t len)
{
    static const char set[] = "abcdefghijkmnpqrstuvwxyz"
                              "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    unsigned char     r[64];

    if (getrandom(r, len, 0) != (ssize_t)len)
        memset(r, 7, len);          /* getrandom does not fail for <256 */
    for (size_t i = 0; i < len; i++)
        out[i] = set[r[i] % (sizeof(set) - 1)];
    out[len] = '\0';
}

/* The directory of the users file (./posthorn-data by default). */
static int
users_dir(const struct pd *d)
{
    char   dir[4096];
    char  *slash;

    if (strlen(d->cfg.users) >= sizeof(dir))
        return -1;
    strcpy(dir, d->cfg.users);
    if ((slash = strrchr(dir, '/')) == NULL)
        return 0;
    *slash = '\0';
    return dir[0] ? mkdir_p(d, dir) : 0;
}

/* First run with the default paths: ./posthorn-data, a mail root and a
   users file holding demo@localhost with a random password, shown once. */
int
pd_first_run(struct pd *d)
{
    char line[512], pass[17];
    int  fd;

    if (!d->cfg.users_default || access(d->cfg.users, F_OK) == 0)
        return 0;
    if (mkdir_p(d, d->cfg.mail_root) != 0 || users_dir(d) != 0) {
        fprintf(stderr, "posthornd: %s: %s\n", d->cfg.mail_root,
                strerror(errno));
        return -1;
    }

    random_password(pass, 16);
    if (ph_passwd_make_line("demo@localhost", pass, line, sizeof(line) - 1))
        return -1;
    strcat(line, "\n");
    fd = open(d->cfg.users, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
        fprintf(stderr, "posthornd: %s: %s\n", d->cfg.users, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    pd_own(d, d->cfg.users);
    printf("posthornd: first run: created %s with user demo@localhost, "
           "password %s (shown only this once)\n", d->cfg.users, pass);
    fflush(stdout);
    return 0;
}
