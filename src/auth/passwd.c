/*
 * passwd.c -- users from a Dovecot passwd-file (auth.h): load, look up,
 * verify. Only "user@domain:{SCHEME}secret" counts; later fields are
 * ignored. Hashes are checked with libxcrypt's crypt_rn(), PLAIN with a
 * constant-time compare. SASL framing and protocol replies are the
 * sessions' business (pop3_cmd_auth.c); this file only says yes or no.
 *
 * Case: the domain is lower-cased at load; the local part is kept as
 * written (lookup returns it that way) but matched ASCII-case-insensitively,
 * so "Alice@x" and "alice@x" are the same user (and a duplicate in a file).
 */
#include "posthorn/posthorn.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Users files are small; a bigger one is a mistake (or /dev/zero). */
#define PW_MAX_FILE (16u << 20)
#define PW_READ_MIN 4096

/*
 * One user. Every pointer points into the owning ph_passwd's block, which
 * never moves after load, so they stay valid until ph_passwd_free().
 */
struct pw_entry {
    const char *user;      /* "local@domain", domain lower case */
    const char *secret;    /* crypt(3) hash, or PLAIN text */
    size_t      local_len; /* the domain starts at user[local_len+1] */
    size_t      domain_len;
    size_t      line; /* for error messages and file order */
    bool        is_plain;
};

struct pw_domain {
    const char *name; /* points into an entry's user */
    size_t      line; /* first line with this domain */
};

/*
 * Owns everything: the block (the file's bytes, parsed in place, secrets
 * included, so it is wiped before it is freed), the entries and the
 * domain list. Immutable after load, so one may be shared by threads.
 */
struct ph_passwd {
    char             *block;
    size_t            block_len;
    size_t            block_cap;
    struct pw_entry  *ents; /* sorted by (domain, folded local) */
    size_t            n;
    size_t            ents_cap;
    struct pw_domain *domains; /* distinct, in file order */
    size_t            ndomains;
    const char       *dummy; /* hash unknown users are checked against */
};

struct pw_scheme {
    const char *name;
    bool        is_plain;
    const char *prefix[4]; /* the hash must start with one; none: any */
};

static const struct pw_scheme pw_schemes[] = {
    { "PLAIN", true, { NULL } },
    { "CRYPT", false, { NULL } },
    { "SHA512-CRYPT", false, { "$6$", NULL } },
    { "SHA256-CRYPT", false, { "$5$", NULL } },
    { "BLF-CRYPT", false, { "$2a$", "$2b$", "$2y$", NULL } },
};
#define PW_SCHEME_CRYPT (&pw_schemes[1])

/* Unknown users in a file without hashes cost a PLAIN compare, as a
   known user there would; see pw_burn(). */
static const char pw_dummy_plain[] = "posthorn-no-such-user-dummy-secret";

/* ASCII only and locale-free: user names are not to depend on LC_CTYPE. */
static int
pw_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int
pw_fold_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;

    for (size_t i = 0; i < n; i++) {
        int d = pw_lower((unsigned char)a[i]) - pw_lower((unsigned char)b[i]);
        if (d != 0)
            return d;
    }
    return (alen > blen) - (alen < blen);
}

/* The one order of entries, for qsort() at load and bsearch() later. */
static int
pw_key_cmp(const char *l1, size_t ll1, const char *d1, size_t dl1,
           const char *l2, size_t ll2, const char *d2, size_t dl2)
{
    int d = pw_fold_cmp(d1, dl1, d2, dl2);

    return d != 0 ? d : pw_fold_cmp(l1, ll1, l2, ll2);
}

static int
pw_ent_cmp(const void *a, const void *b)
{
    const struct pw_entry *x = a, *y = b;

    return pw_key_cmp(x->user, x->local_len, x->user + x->local_len + 1,
                      x->domain_len, y->user, y->local_len,
                      y->user + y->local_len + 1, y->domain_len);
}

/*
 * Compares in time that depends on the lengths only, never on where the
 * first difference is. It runs over the longer string, so the attacker's
 * own password length shows, and the secret's could from a series of
 * probes; hashes all have the same length anyway.
 */
static bool
pw_ct_equal(const char *a, const char *b)
{
    size_t                 alen = strlen(a), blen = strlen(b);
    size_t                 n = alen > blen ? alen : blen;
    volatile unsigned char diff = (unsigned char)(alen != blen);

    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)(i < alen ? a[i] : 0);
        unsigned char y = (unsigned char)(i < blen ? b[i] : 0);
        diff |= (unsigned char)(x ^ y);
    }
    return diff == 0;
}

/* struct crypt_data is 32 KiB: too much for a caller's stack. It holds
   the passphrase while hashing, hence the wipe. */
static bool
pw_crypt_equal(const char *password, const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    const char        *out;
    bool               ok = false;

    if (cd == NULL)
        return false;
    out = crypt_rn(password, hash, cd, (int)sizeof(*cd));
    if (out != NULL)
        ok = pw_ct_equal(out, hash);
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}

/* Error text goes to the caller's buffer; a truncated message is still a
   message, so truncation is not checked here. */
static void pw_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pw_err(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* strerror() is not thread-safe; the XSI strerror_r() is. */
static void
pw_err_errno(char *err, size_t err_len, const char *path, int errnum)
{
    char msg[128];

    if (strerror_r(errnum, msg, sizeof(msg)) != 0)
        snprintf(msg, sizeof(msg), "error %d", errnum);
    pw_err(err, err_len, "%s: %s", path, msg);
}

/* Grows by copying so that the old buffer, which may hold secrets, can be
   wiped; realloc() would free it unwiped. */
static int
pw_block_grow(ph_passwd *pw, size_t want)
{
    size_t cap = pw->block_cap ? pw->block_cap : PW_READ_MIN;
    char  *nb;

    while (cap < want)
        cap *= 2;
    nb = malloc(cap);
    if (nb == NULL)
        return -1;
    if (pw->block != NULL) {
        memcpy(nb, pw->block, pw->block_len);
        explicit_bzero(pw->block, pw->block_cap);
        free(pw->block);
    }
    pw->block = nb;
    pw->block_cap = cap;
    return 0;
}

static int
pw_read_fd(ph_passwd *pw, int fd, const char *path, char *err, size_t err_len)
{
    ssize_t r;

    for (;;) {
        if (pw->block_len + 1 >= pw->block_cap &&
            pw_block_grow(pw, pw->block_len + PW_READ_MIN) != 0) {
            pw_err_errno(err, err_len, path, ENOMEM);
            return -1;
        }
        r = read(fd, pw->block + pw->block_len,
                 pw->block_cap - 1 - pw->block_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            pw_err_errno(err, err_len, path, errno);
            return -1;
        }
        if (r == 0)
            break;
        pw->block_len += (size_t)r;
        if (pw->block_len > PW_MAX_FILE) {
            pw_err(err, err_len, "%s: file too large (over %u bytes)", path,
                   PW_MAX_FILE);
            return -1;
        }
    }
    pw->block[pw->block_len] = '\0';
    return 0;
}

static int
pw_read_file(ph_passwd *pw, const char *path, char *err, size_t err_len)
{
    int fd, ret;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        pw_err_errno(err, err_len, path, errno);
        return -1;
    }
    ret = pw_read_fd(pw, fd, path, err, err_len);
    close(fd);
    return ret;
}

/* Also used by ph_passwd_make_line(), so that what it writes loads. */
static const char *
pw_user_check(const char *user, size_t *local_len_out)
{
    const char *at = strchr(user, '@');

    for (const char *p = user; *p != '\0'; p++) {
        /* Logins arrive as protocol arguments: no spaces, no controls. */
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ':')
            return "space or control character in user name";
    }
    if (at == NULL)
        return "user name has no '@'";
    if (strchr(at + 1, '@') != NULL)
        return "user name has more than one '@'";
    if (at == user)
        return "empty local part in user name";
    if (at[1] == '\0')
        return "empty domain in user name";
    *local_len_out = (size_t)(at - user);
    return NULL;
}

static const struct pw_scheme *
pw_scheme_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(pw_schemes) / sizeof(pw_schemes[0]); i++) {
        const char *s = pw_schemes[i].name;
        if (pw_fold_cmp(name, len, s, strlen(s)) == 0)
            return &pw_schemes[i];
    }
    return NULL;
}

/* "$id$...": what crypt(3) strings look like, as opposed to PLAIN text. */
static bool
pw_looks_crypt(const char *s)
{
    const char *d;

    if (s[0] != '$' || s[1] == '\0' || s[1] == '$')
        return false;
    d = strchr(s + 1, '$');
    return d != NULL && d[1] != '\0';
}

/*
 * A hash that crypt(3) cannot use would make the user silently unable to
 * log in; catch it at load. crypt_checksalt() looks at the setting part
 * only, so a truncated hash still passes (and then never matches).
 */
static const char *
pw_hash_check(const struct pw_scheme *sch, const char *hash)
{
    int  rc;
    bool ok = sch->prefix[0] == NULL;

    for (size_t i = 0; !ok && sch->prefix[i] != NULL; i++)
        ok = strncmp(hash, sch->prefix[i], strlen(sch->prefix[i])) == 0;
    if (!ok)
        return "hash does not match its {SCHEME}";
    rc = crypt_checksalt(hash);
    /* LEGACY (DES, MD5, and in some builds SHA256-CRYPT) still verifies. */
    if (rc != CRYPT_SALT_OK && rc != CRYPT_SALT_METHOD_LEGACY &&
        rc != CRYPT_SALT_TOO_CHEAP)
        return "not a hash that crypt(3) supports";
    return NULL;
}

/* The messages never quote the field: it is a secret, or close to one. */
static const char *
pw_secret_parse(const char *s, struct pw_entry *e)
{
    const struct pw_scheme *sch;
    const char             *close;

    if (*s == '{') {
        close = strchr(s, '}');
        if (close == NULL)
            return "'{' without '}' in password field";
        sch = pw_scheme_find(s + 1, (size_t)(close - s - 1));
        if (sch == NULL)
            return "unknown password scheme";
        s = close + 1;
    } else if (pw_looks_crypt(s)) {
        sch = PW_SCHEME_CRYPT;
    } else {
        return "password has no {SCHEME} and is not a crypt(3) hash";
    }
    /* An empty secret would let anyone in with an empty password. */
    if (*s == '\0')
        return "empty password";
    if (!sch->is_plain) {
        const char *why = pw_hash_check(sch, s);
        if (why != NULL)
            return why;
    }
    e->secret = s;
    e->is_plain = sch->is_plain;
    return NULL;
}

static bool
pw_line_is_blank(const char *p)
{
    p += strspn(p, " \t");
    return *p == '\0' || *p == '#';
}

/*
 * One line, NUL-terminated in place (line ending already cut off).
 * Returns NULL and fills *e (e->user == NULL: nothing on this line), or
 * the reason the line is bad.
 */
static const char *
pw_line_parse(char *p, size_t len, struct pw_entry *e)
{
    char       *colon, *domain;
    const char *why;

    e->user = NULL;
    if (strlen(p) != len)
        return "NUL byte in line";
    if (pw_line_is_blank(p))
        return NULL;
    colon = strchr(p, ':');
    if (colon == NULL)
        return "missing ':' after user name";
    *colon = '\0';
    /* uid:gid:gecos:home:shell:extra are the userdb's, not ours. */
    colon[strcspn(colon + 1, ":") + 1] = '\0';
    why = pw_user_check(p, &e->local_len);
    if (why != NULL)
        return why;
    why = pw_secret_parse(colon + 1, e);
    if (why != NULL)
        return why;
    domain = p + e->local_len + 1;
    e->domain_len = strlen(domain);
    for (size_t i = 0; i < e->domain_len; i++)
        domain[i] = (char)pw_lower((unsigned char)domain[i]);
    e->user = p;
    return NULL;
}

static int
pw_add(ph_passwd *pw, const struct pw_entry *e)
{
    struct pw_entry *ne;
    size_t           cap;

    if (pw->n == pw->ents_cap) {
        cap = pw->ents_cap ? pw->ents_cap * 2 : 16;
        ne = realloc(pw->ents, cap * sizeof(*ne));
        if (ne == NULL)
            return -1;
        pw->ents = ne;
        pw->ents_cap = cap;
    }
    pw->ents[pw->n++] = *e;
    /* The first hash sets the cost of checking unknown users. */
    if (pw->dummy == NULL && !e->is_plain)
        pw->dummy = e->secret;
    return 0;
}

static int
pw_parse(ph_passwd *pw, const char *path, char *err, size_t err_len)
{
    char           *p = pw->block, *end = pw->block + pw->block_len, *nl;
    struct pw_entry e;
    const char     *why;
    size_t          line = 0, len;

    while (p < end) {
        line++;
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end; /* last line without '\n': *end is '\0' */
        *nl = '\0';
        len = (size_t)(nl - p);
        if (len > 0 && p[len - 1] == '\r')
            p[--len] = '\0';
        why = pw_line_parse(p, len, &e);
        if (why == NULL && e.user != NULL) {
            e.line = line;
            if (pw_add(pw, &e) != 0)
                why = "out of memory";
        }
        if (why != NULL) {
            pw_err(err, err_len, "%s:%zu: %s", path, line, why);
            return -1;
        }
        p = nl + 1;
    }
    return 0;
}

/* Ties broken by line, so that each run of equal users is in file order. */
static int
pw_ent_sort_cmp(const void *a, const void *b)
{
    const struct pw_entry *x = a, *y = b;
    int                    d = pw_ent_cmp(a, b);

    return d != 0 ? d : (x->line > y->line) - (x->line < y->line);
}

/*
 * Sorting brings equal users together, so duplicates cost O(n log n).
 * The error names the earliest line that repeats a user, as a reader
 * going down the file would find it.
 */
static int
pw_check_dups(ph_passwd *pw, const char *path, char *err, size_t err_len)
{
    const struct pw_entry *first = NULL, *dup = NULL;

    if (pw->n > 1)
        qsort(pw->ents, pw->n, sizeof(pw->ents[0]), pw_ent_sort_cmp);
    for (size_t i = 1; i < pw->n; i++) {
        const struct pw_entry *a = &pw->ents[i - 1], *b = &pw->ents[i];
        if (pw_ent_cmp(a, b) == 0 && (dup == NULL || b->line < dup->line)) {
            first = a; /* a run's second has its first before it */
            dup = b;
        }
    }
    if (dup == NULL)
        return 0;
    pw_err(err, err_len, "%s:%zu: duplicate user %s (first on line %zu)", path,
           dup->line, dup->user, first->line);
    return -1;
}

static int
pw_domain_line_cmp(const void *a, const void *b)
{
    const struct pw_domain *x = a, *y = b;

    return (x->line > y->line) - (x->line < y->line);
}

/* Entries are sorted by domain: one pass finds each domain's first line,
   one sort puts the domains back in file order. */
static int
pw_collect_domains(ph_passwd *pw)
{
    const struct pw_entry *e;
    struct pw_domain      *d;

    if (pw->n == 0)
        return 0;
    pw->domains = calloc(pw->n, sizeof(pw->domains[0]));
    if (pw->domains == NULL)
        return -1;
    for (size_t i = 0; i < pw->n; i++) {
        e = &pw->ents[i];
        d = pw->ndomains ? &pw->domains[pw->ndomains - 1] : NULL;
        if (d != NULL && strcmp(d->name, e->user + e->local_len + 1) == 0) {
            if (e->line < d->line)
                d->line = e->line;
            continue;
        }
        d = &pw->domains[pw->ndomains++];
        d->name = e->user + e->local_len + 1;
        d->line = e->line;
    }
    qsort(pw->domains, pw->ndomains, sizeof(pw->domains[0]),
          pw_domain_line_cmp);
    return 0;
}

ph_passwd *
ph_passwd_load(const char *path, char *err, size_t err_len)
{
    ph_passwd *pw;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (path == NULL) {
        pw_err(err, err_len, "(null): %s", "no file name given");
        return NULL;
    }
    pw = calloc(1, sizeof(*pw));
    if (pw == NULL) {
        pw_err_errno(err, err_len, path, ENOMEM);
        return NULL;
    }
    if (pw_read_file(pw, path, err, err_len) != 0 ||
        pw_parse(pw, path, err, err_len) != 0 ||
        pw_check_dups(pw, path, err, err_len) != 0)
        goto fail;
    if (pw_collect_domains(pw) != 0) {
        pw_err_errno(err, err_len, path, ENOMEM);
        goto fail;
    }
    return pw;
fail:
    ph_passwd_free(pw);
    return NULL;
}

void
ph_passwd_free(ph_passwd *pw)
{
    if (pw == NULL)
        return;
    if (pw->block != NULL) {
        explicit_bzero(pw->block, pw->block_cap);
        free(pw->block);
    }
    free(pw->ents);
    free(pw->domains);
    free(pw);
}

struct pw_key {
    const char *local, *domain;
    size_t      local_len, domain_len;
};

static int
pw_key_ent_cmp(const void *k, const void *ent)
{
    const struct pw_key   *x = k;
    const struct pw_entry *y = ent;

    return pw_key_cmp(x->local, x->local_len, x->domain, x->domain_len, y->user,
                      y->local_len, y->user + y->local_len + 1, y->domain_len);
}

static const struct pw_entry *
pw_find_full(const ph_passwd *pw, const char *local, size_t local_len,
             const char *domain)
{
    struct pw_key key = { local, domain, local_len, strlen(domain) };

    if (pw->n == 0)
        return NULL;
    return bsearch(&key, pw->ents, pw->n, sizeof(pw->ents[0]), pw_key_ent_cmp);
}

/* A bare local part: a linear scan, fine for the small files this
   serves; an index by local part would make it O(log n) if need be. */
static const struct pw_entry *
pw_find_bare(const ph_passwd *pw, const char *local)
{
    const struct pw_entry *found = NULL;
    size_t                 len = strlen(local);

    for (size_t i = 0; i < pw->n; i++) {
        const struct pw_entry *e = &pw->ents[i];
        if (pw_fold_cmp(local, len, e->user, e->local_len) != 0)
            continue;
        if (found != NULL)
            return NULL; /* in two domains: ambiguous */
        found = e;
    }
    return found;
}

static const struct pw_entry *
pw_find(const ph_passwd *pw, const char *login)
{
    const char *at;

    if (pw == NULL || login == NULL)
        return NULL;
    at = strchr(login, '@');
    if (at == NULL)
        return pw_find_bare(pw, login);
    if (strchr(at + 1, '@') != NULL)
        return NULL;
    return pw_find_full(pw, login, (size_t)(at - login), at + 1);
}

const char *
ph_passwd_lookup(const ph_passwd *pw, const char *login)
{
    const struct pw_entry *e = pw_find(pw, login);

    return e != NULL ? e->user : NULL;
}

/*
 * Spends on an unknown user what a known one costs, so that timing does
 * not tell which users exist: a crypt of the file's first hash (same
 * algorithm and cost as its users), or, in a file of PLAIN secrets only,
 * a PLAIN compare (a crypt there would make unknown users the slow ones).
 */
static void
pw_burn(const ph_passwd *pw, const char *password)
{
    if (pw != NULL && pw->dummy != NULL)
        (void)pw_crypt_equal(password, pw->dummy);
    else
        (void)pw_ct_equal(password, pw_dummy_plain);
}

bool
ph_passwd_verify(const ph_passwd *pw, const char *login, const char *password)
{
    const struct pw_entry *e;

    if (password == NULL)
        return false;
    e = pw_find(pw, login);
    if (e == NULL) {
        pw_burn(pw, password);
        return false;
    }
    if (e->is_plain)
        return pw_ct_equal(password, e->secret);
    return pw_crypt_equal(password, e->secret);
}

bool
ph_passwd_has(const ph_passwd *pw, const char *local, const char *domain)
{
    if (pw == NULL || local == NULL || domain == NULL)
        return false;
    return pw_find_full(pw, local, strlen(local), domain) != NULL;
}

size_t
ph_passwd_domain_count(const ph_passwd *pw)
{
    return pw != NULL ? pw->ndomains : 0;
}

const char *
ph_passwd_domain(const ph_passwd *pw, size_t i)
{
    return pw != NULL && i < pw->ndomains ? pw->domains[i].name : NULL;
}

size_t
ph_passwd_count(const ph_passwd *pw)
{
    return pw != NULL ? pw->n : 0;
}

int
ph_passwd_make_line(const char *user, const char *password, char *buf,
                    size_t cap)
{
    char               salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd;
    const char        *hash;
    size_t             local_len;
    int                len, ret = 0;

    if (buf != NULL && cap > 0)
        buf[0] = '\0';
    if (user == NULL || password == NULL || buf == NULL || cap == 0 ||
        pw_user_check(user, &local_len) != NULL)
        return PH_EINVAL;
    /* "$6$", default rounds, 16 salt chars from the OS (getrandom). */
    if (crypt_gensalt_rn("$6$", 0, NULL, 0, salt, (int)sizeof(salt)) == NULL)
        return PH_EIO;
    cd = calloc(1, sizeof(*cd));
    if (cd == NULL)
        return PH_ENOMEM;
    hash = crypt_rn(password, salt, cd, (int)sizeof(*cd));
    if (hash == NULL) {
        ret = PH_EINVAL; /* e.g. over CRYPT_MAX_PASSPHRASE_SIZE */
    } else {
        len = snprintf(buf, cap, "%s:{SHA512-CRYPT}%s", user, hash);
        if (len < 0 || (size_t)len >= cap) {
            buf[0] = '\0';
            ret = PH_ELIMIT;
        }
    }
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ret;
}
