/*
 * maildir_deliver.c -- one message into several Maildirs, all or nothing
 * (https://cr.yp.to/proto/maildir.html; RFC 5321 4.2.5: a 250 reply means
 * the message is stored). Each copy goes to tmp/ (O_EXCL, 0600), is
 * fsync'ed, and only when every copy is complete are they renamed into
 * new/ and every new/ directory fsync'ed; on any failure every copy is
 * removed again, also those already in new/.
 */
#include "posthorn/posthorn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define TX_BUF (64 * 1024)

struct tx_copy {
    char  *dir;          /* the Maildir */
    char  *tmp_name;     /* "<unique>" in tmp/ */
    char  *new_name;     /* in new/ after the rename, else NULL */
    int    fd;
    size_t size;
};

struct ph_maildir_tx {
    char                  *host;       /* '/' and ':' escaped */
    struct tx_copy        *v;
    size_t                 n, cap;
    char                  *buf;        /* common bytes not yet written */
    size_t                 buf_len;
    enum ph_deliver_status err;        /* sticky */
    bool                   committed;
};

static enum ph_deliver_status
errno_status(int e)
{
    return (e == ENOSPC || e == EDQUOT) ? PH_DELIVER_NOSPACE
                                        : PH_DELIVER_TEMP;
}

/* The Maildir spec's host part: '/' -> \057, ':' -> \072. */
static char *
escape_host(const char *host)
{
    size_t len = strlen(host), o = 0;
    char  *out = malloc(4 * len + 1);

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (host[i] == '/' || host[i] == ':') {
            o += (size_t)sprintf(out + o, "\\%03o", (unsigned char)host[i]);
        } else {
            out[o++] = host[i];
        }
    }
    out[o] = '\0';
    return out;
}

ph_maildir_tx *
ph_maildir_tx_new(const char *host)
{
    ph_maildir_tx *tx = calloc(1, sizeof(*tx));

    if (tx == NULL)
        return NULL;
    tx->host = escape_host(host && host[0] ? host : "localhost");
    tx->buf = malloc(TX_BUF);
    if (tx->host == NULL || tx->buf == NULL) {
        ph_maildir_tx_free(tx);
        return NULL;
    }
    return tx;
}

static int
ensure_maildir(const char *dir)
{
    static const char *const subs[] = { "", "/tmp", "/new", "/cur" };
    char                     path[4096];

    for (size_t i = 0; i < 4; i++) {
        int n = snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
        if (n < 0 || (size_t)n >= sizeof(path))
            return ENAMETOOLONG;
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return errno;
    }
    return 0;
}

/*
 * "<sec>.M<usec>P<pid>Q<n>.<host>": unique per Maildir spec. n counts the
 * copies of this process; it is the library's one piece of global state,
 * and harmless across threads since O_EXCL catches a clash.
 */
static unsigned long tx_counter;

static char *
unique_name(const ph_maildir_tx *tx)
{
    struct timeval tv;
    char           name[512];
    int            n;

    gettimeofday(&tv, NULL);
    n = snprintf(name, sizeof(name), "%lld.M%ldP%ldQ%lu.%s",
                 (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid(),
                 __atomic_add_fetch(&tx_counter, 1, __ATOMIC_RELAXED),
                 tx->host);
    return (n < 0 || (size_t)n >= sizeof(name)) ? NULL : strdup(name);
}

static enum ph_deliver_status
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno_status(errno);
        }
        p += w;
        len -= (size_t)w;
    }
    return PH_DELIVER_OK;
}

static enum ph_deliver_status
open_copy(ph_maildir_tx *tx, struct tx_copy *c, const char *maildir)
{
    char path[4096];
    int  e, n;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if ((c->dir = strdup(maildir)) == NULL)
        return PH_DELIVER_TEMP;
    if ((e = ensure_maildir(maildir)) != 0)
        return errno_status(e);
    if ((c->tmp_name = unique_name(tx)) == NULL)
        return PH_DELIVER_TEMP;
    n = snprintf(path, sizeof(path), "%s/tmp/%s", maildir, c->tmp_name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return PH_DELIVER_TEMP;
    c->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                 0600);
    return c->fd < 0 ? errno_status(errno) : PH_DELIVER_OK;
}

enum ph_deliver_status
ph_maildir_tx_add(ph_maildir_tx *tx, const char *maildir, const char *prefix,
                  size_t prefix_len)
{
    struct tx_copy *c;

    if (tx->err != PH_DELIVER_OK)
        return tx->err;
    if (tx->buf_len > 0 || tx->committed)
        return tx->err = PH_DELIVER_TEMP;   /* add before writing */
    if (tx->n == tx->cap) {
        size_t          cap = tx->cap ? 2 * tx->cap : 4;
        struct tx_copy *nv = realloc(tx->v, cap * sizeof(*nv));
        if (nv == NULL)
            return tx->err = PH_DELIVER_TEMP;
        tx->v = nv;
        tx->cap = cap;
    }
    c = &tx->v[tx->n++];
    if ((tx->err = open_copy(tx, c, maildir)) != PH_DELIVER_OK)
        return tx->err;
    if (prefix_len > 0 &&
        (tx->err = write_all(c->fd, prefix, prefix_len)) != PH_DELIVER_OK)
        return tx->err;
    c->size = prefix_len;
    return PH_DELIVER_OK;
}

static enum ph_deliver_status
flush(ph_maildir_tx *tx)
{
    for (size_t i = 0; i < tx->n && tx->err == PH_DELIVER_OK; i++) {
        tx->err = write_all(tx->v[i].fd, tx->buf, tx->buf_len);
        tx->v[i].size += tx->buf_len;
    }
    tx->buf_len = 0;
    return tx->err;
}

enum ph_deliver_status
ph_maildir_tx_write(ph_maildir_tx *tx, const void *p, size_t len)
{
    const char *s = p;

    while (len > 0 && tx->err == PH_DELIVER_OK) {
        size_t take = TX_BUF - tx->buf_len < len ? TX_BUF - tx->buf_len : len;
        memcpy(tx->buf + tx->buf_len, s, take);
        tx->buf_len += take;
        s += take;
        len -= take;
        if (tx->buf_len == TX_BUF)
            flush(tx);
    }
    return tx->err;
}

/* Every copy on disk (fsync) and closed. */
static enum ph_deliver_status
sync_copies(ph_maildir_tx *tx)
{
    if (flush(tx) != PH_DELIVER_OK)
        return tx->err;
    for (size_t i = 0; i < tx->n; i++) {
        struct tx_copy *c = &tx->v[i];
        if (fsync(c->fd) != 0 || close(c->fd) != 0) {
            c->fd = -1;
            return tx->err = errno_status(errno);
        }
        c->fd = -1;
    }
    return PH_DELIVER_OK;
}

static enum ph_deliver_status
move_copy(ph_maildir_tx *tx, struct tx_copy *c)
{
    char from[4096], to[4096], name[600];
    int  n1, n2, n3;

    n3 = snprintf(name, sizeof(name), "%s,S=%zu", c->tmp_name, c->size);
    n1 = snprintf(from, sizeof(from), "%s/tmp/%s", c->dir, c->tmp_name);
    n2 = snprintf(to, sizeof(to), "%s/new/%s", c->dir, name);
    if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof(from) ||
        (size_t)n2 >= sizeof(to) || (size_t)n3 >= sizeof(name))
        return PH_DELIVER_TEMP;
    /* link + unlink would refuse to overwrite; rename into new/ of a name
       unique per the spec cannot clash (O_EXCL made it unique in tmp/). */
    if (rename(from, to) != 0)
        return errno_status(errno);
    if ((c->new_name = strdup(name)) == NULL)
        return PH_DELIVER_TEMP;
    return PH_DELIVER_OK;
}

static enum ph_deliver_status
sync_dir(const char *maildir)
{
    char path[4096];
    int  fd, n = snprintf(path, sizeof(path), "%s/new", maildir);

    if (n < 0 || (size_t)n >= sizeof(path))
        return PH_DELIVER_TEMP;
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return errno_status(errno);
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return errno_status(e);
    }
    close(fd);
    return PH_DELIVER_OK;
}

enum ph_deliver_status
ph_maildir_tx_commit(ph_maildir_tx *tx)
{
    if (tx->err != PH_DELIVER_OK || tx->committed || tx->n == 0)
        return tx->err != PH_DELIVER_OK ? tx->err
               : tx->n == 0 ? PH_DELIVER_TEMP : PH_DELIVER_OK;
    if (sync_copies(tx) != PH_DELIVER_OK)
        return tx->err;
    for (size_t i = 0; i < tx->n && tx->err == PH_DELIVER_OK; i++)
        tx->err = move_copy(tx, &tx->v[i]);
    for (size_t i = 0; i < tx->n && tx->err == PH_DELIVER_OK; i++)
        tx->err = sync_dir(tx->v[i].dir);
    if (tx->err == PH_DELIVER_OK)
        tx->committed = true;
    return tx->err;         /* on error, free() rolls every copy back */
}

/* Removes a copy from wherever it is: tmp/ or, if moved, new/. */
static void
remove_copy(struct tx_copy *c)
{
    char path[4096];
    int  n;

    if (c->fd >= 0)
        close(c->fd);
    if (c->dir == NULL || c->tmp_name == NULL)
        return;
    if (c->new_name != NULL)
        n = snprintf(path, sizeof(path), "%s/new/%s", c->dir, c->new_name);
    else
        n = snprintf(path, sizeof(path), "%s/tmp/%s", c->dir, c->tmp_name);
    if (n > 0 && (size_t)n < sizeof(path))
        unlink(path);
}

void
ph_maildir_tx_free(ph_maildir_tx *tx)
{
    if (tx == NULL)
        return;
    for (size_t i = 0; i < tx->n; i++) {
        struct tx_copy *c = &tx->v[i];
        if (!tx->committed)
            remove_copy(c);
        else if (c->fd >= 0)
            close(c->fd);
        free(c->dir);
        free(c->tmp_name);
        free(c->new_name);
    }
    free(tx->v);
    free(tx->buf);
    free(tx->host);
    free(tx);
}
