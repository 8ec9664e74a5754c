/*
 * maildir_deliver.c -- one message into several Maildirs, all or nothing
 * (https://cr.yp.to/proto/maildir.html; RFC 5321 4.2.5 and 6.1: a 250
 * reply means the message is stored). Copies go to tmp/ (O_EXCL, 0600)
 * and are fsync'ed; only when every copy is complete are they renamed
 * into new/ and the new/ directories fsync'ed. Any failure removes every
 * copy, also those already in new/. Reading Maildirs is maildir_drop.c.
 */
#include "posthorn/posthorn.h"
#include "posthorn/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define TX_BUF     (64 * 1024)   /* shared write buffer */
#define HOST_MAX   160           /* escaped host: see escape_host() */
#define NAME_BUF   256           /* NAME_MAX (255) + NUL */

/* One recipient's copy. Owned by the transaction. */
struct tx_copy {
    char   *dir;                 /* the Maildir, copied at add() */
    char    name[NAME_BUF];      /* unique part; new/ adds ",S=<size>" */
    int     fd;                  /* open in tmp/ until commit, else -1 */
    size_t  size;                /* bytes written: prefix + common */
    bool    in_tmp;              /* tmp/<name> is ours to remove */
    bool    in_new;              /* renamed: new/<name>,S= is ours */
    bool    made_dir;            /* add() ran mkdir: sync dir + parent */
};

enum tx_state {
    TX_OPEN = 0,
    TX_FAILED,                   /* rolled back; err says why */
    TX_COMMITTED,                /* every copy durable in new/ */
};

/* Owned by the caller from ph_maildir_tx_new() to ph_maildir_tx_free(). */
struct ph_maildir_tx {
    char                    host[HOST_MAX + 1];   /* escaped */
    struct tx_copy         *v;
    size_t                  n, cap;
    char                   *buf;        /* TX_BUF bytes for every copy */
    size_t                  buf_len;
    size_t                  body_len;   /* common bytes taken so far */
    enum tx_state           state;
    enum ph_deliver_status  err;        /* when TX_FAILED */
};

/*
 * Deliveries by this process: the "Q<n>" of unique names. It is the one
 * global here, and it must be one: a counter per transaction would give
 * two transactions started in the same microsecond (LMTP makes one per
 * recipient, back to back) the same name in a shared Maildir. Atomic, so
 * threads with their own loops may deliver at once.
 */
static atomic_ulong md_deliveries;

static enum ph_deliver_status
errno_status(int e)
{
#ifdef EDQUOT
    if (e == EDQUOT)
        return PH_DELIVER_NOSPACE;
#endif
    return e == ENOSPC ? PH_DELIVER_NOSPACE : PH_DELIVER_TEMP;
}

/*
 * The Maildir spec's host part: '/' -> "\057", ':' -> "\072" (a '/' would
 * be a path, a ':' would start the info part). Cut at HOST_MAX so
 * the whole name with ",S=<size>" stays within NAME_MAX (255): the time,
 * pid and counter make names unique, the host only separates machines
 * sharing a Maildir.
 */
static void
escape_host(const char *host, char *out)
{
    size_t o = 0;

    for (; *host != '\0'; host++) {
        bool is_special = *host == '/' || *host == ':';
        if (o + (is_special ? 4 : 1) > HOST_MAX)
            break;
        if (is_special) {
            memcpy(out + o, *host == '/' ? "\\057" : "\\072", 4);
            o += 4;
        } else {
            out[o++] = *host;
        }
    }
    out[o] = '\0';
}

ph_maildir_tx *
ph_maildir_tx_new(const char *host)
{
    ph_maildir_tx *tx = calloc(1, sizeof(*tx));
    char           name[256];

    if (tx == NULL)
        return NULL;
    if (host == NULL || host[0] == '\0') {
        if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0')
            strcpy(name, "localhost");
        name[sizeof(name) - 1] = '\0';
        host = name;
    }
    escape_host(host, tx->host);
    tx->buf = malloc(TX_BUF);
    if (tx->buf == NULL) {
        free(tx);
        return NULL;
    }
    return tx;
}

/* "<maildir>/tmp/<name>" or "<maildir>/new/<name>,S=<size>": -1 if it
   does not fit. */
static int
copy_path(const struct tx_copy *c, bool is_new, char *buf, size_t size)
{
    int n;

    if (is_new)
        n = snprintf(buf, size, "%s/new/%s,S=%zu", c->dir, c->name,
                     c->size);
    else
        n = snprintf(buf, size, "%s/tmp/%s", c->dir, c->name);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* "<sec>.M<usec>P<pid>Q<n>.<host>" (the Maildir spec's modern form). */
static int
make_name(const ph_maildir_tx *tx, struct tx_copy *c)
{
    struct timespec ts;
    unsigned long   q = atomic_fetch_add(&md_deliveries, 1) + 1;
    int             n;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return -1;
    n = snprintf(c->name, sizeof(c->name), "%lld.M%ldP%ldQ%lu.%s",
                 (long long)ts.tv_sec, (long)(ts.tv_nsec / 1000),
                 (long)getpid(), q, tx->host);
    return (n < 0 || (size_t)n >= sizeof(c->name)) ? -1 : 0;
}

/* Creates the Maildir and its cur/ new/ tmp/ (0700) as far as missing;
   the parent must exist. 0 or an errno. */
static int
make_maildir(const char *dir)
{
    static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
    char                     path[PATH_MAX];

    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        int n = snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
        if (n < 0 || (size_t)n >= sizeof(path))
            return ENAMETOOLONG;
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return errno;
    }
    return 0;
}

/*
 * Creates this copy's file in tmp/. The Maildir is made only when tmp/
 * is missing, so the usual delivery costs one open(2). O_NOFOLLOW: a
 * symlink planted in tmp/ must not redirect the write (O_EXCL refuses it
 * as well; belt and braces).
 */
static enum ph_deliver_status
open_copy(const ph_maildir_tx *tx, struct tx_copy *c)
{
    char path[PATH_MAX];
    int  e, tries = 0;

    for (;;) {
        if (make_name(tx, c) != 0 || copy_path(c, false, path, sizeof(path)))
            return PH_DELIVER_TEMP;
        c->fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
                     O_NOFOLLOW, 0600);
        if (c->fd >= 0) {
            c->in_tmp = true;
            return PH_DELIVER_OK;
        }
        e = errno;
        if (e == ENOENT && !c->made_dir) {
            if ((e = make_maildir(c->dir)) != 0)
                return errno_status(e);
            c->made_dir = true;
        } else if (e != EEXIST || ++tries == 3) {
            /* EEXIST: a name clash (another host, a reused pid); the
               next name differs in Q. Never unlink what we did not
               create. */
            return errno_status(e);
        }
    }
}

static enum ph_deliver_status
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno_status(errno);
        p += w;
        len -= (size_t)w;
    }
    return PH_DELIVER_OK;
}

/* fsync(2) of a directory, so the entries made in it survive a crash. */
static int
sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

    if (fd < 0)
        return errno;
    e = fsync(fd) != 0 ? errno : 0;
    close(fd);
    return e;
}

static int
sync_sub(const char *dir, const char *sub)
{
    char path[PATH_MAX];
    int  n = snprintf(path, sizeof(path), "%s/%s", dir, sub);

    return (n < 0 || (size_t)n >= sizeof(path)) ? ENAMETOOLONG
                                                : sync_dir(path);
}

/* The directory holding dir: its entry for a new Maildir must be made
   durable too, or a crash could lose the Maildir with the mail in it. */
static int
sync_parent(const char *dir)
{
    char   path[PATH_MAX];
    size_t len = strlen(dir);
    char  *slash;

    if (len >= sizeof(path))
        return ENAMETOOLONG;
    memcpy(path, dir, len + 1);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    if ((slash = strrchr(path, '/')) == NULL)
        return sync_dir(".");
    slash[slash == path ? 1 : 0] = '\0';
    return sync_dir(path);
}

/*
 * Takes every copy back. Those in new/ go first: until then a POP3 client
 * may fetch a message we are about to answer 4xx for. new/ is fsync'ed
 * after the unlink (best effort) so a crash cannot bring the copy back and
 * turn the client's retry into a duplicate.
 */
static void
rollback(ph_maildir_tx *tx)
{
    char path[PATH_MAX];

    for (size_t i = 0; i < tx->n; i++) {
        struct tx_copy *c = &tx->v[i];
        if (c->in_new && copy_path(c, true, path, sizeof(path)) == 0) {
            unlink(path);
            (void)sync_sub(c->dir, "new");
        }
        c->in_new = false;
    }
    for (size_t i = 0; i < tx->n; i++) {
        struct tx_copy *c = &tx->v[i];
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        if (c->in_tmp && copy_path(c, false, path, sizeof(path)) == 0)
            unlink(path);
        c->in_tmp = false;
    }
}

/* The first error fails the transaction for good and removes its files at
   once (after ENOSPC the space is wanted back). Later calls return it. */
static enum ph_deliver_status
tx_fail(ph_maildir_tx *tx, enum ph_deliver_status st)
{
    if (tx->state == TX_OPEN) {
        tx->state = TX_FAILED;
        tx->err = st;
        rollback(tx);
    }
    return tx->err;
}

/* Status for a call on a transaction no longer open: its error, or TEMP
   for a call after commit (a caller's bug; the delivery stands). */
static enum ph_deliver_status
tx_closed(const ph_maildir_tx *tx)
{
    return tx->state == TX_FAILED ? tx->err : PH_DELIVER_TEMP;
}

enum ph_deliver_status
ph_maildir_tx_add(ph_maildir_tx *tx, const char *maildir, const char *prefix,
                  size_t prefix_len)
{
    struct tx_copy        *c;
    enum ph_deliver_status st;

    if (tx->state != TX_OPEN)
        return tx_closed(tx);
    if (tx->body_len > 0)   /* bytes gone by cannot reach a new copy */
        return tx_fail(tx, PH_DELIVER_TEMP);
    if (tx->n == tx->cap) {
        size_t          cap = tx->cap ? 2 * tx->cap : 4;
        struct tx_copy *v = realloc(tx->v, cap * sizeof(*v));
        if (v == NULL)
            return tx_fail(tx, PH_DELIVER_TEMP);
        tx->v = v;
        tx->cap = cap;
    }
    c = &tx->v[tx->n++];
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if ((c->dir = strdup(maildir)) == NULL)
        return tx_fail(tx, PH_DELIVER_TEMP);
    if ((st = open_copy(tx, c)) != PH_DELIVER_OK)
        return tx_fail(tx, st);
    if (prefix != NULL && prefix_len > 0 &&
        (st = write_all(c->fd, prefix, prefix_len)) != PH_DELIVER_OK)
        return tx_fail(tx, st);
    c->size = prefix != NULL ? prefix_len : 0;
    return PH_DELIVER_OK;
}

/* The same bytes to every copy, straight from p. */
static enum ph_deliver_status
write_copies(ph_maildir_tx *tx, const char *p, size_t len)
{
    for (size_t i = 0; i < tx->n; i++) {
        enum ph_deliver_status st = write_all(tx->v[i].fd, p, len);
        if (st != PH_DELIVER_OK)
            return tx_fail(tx, st);
        tx->v[i].size += len;
    }
    return PH_DELIVER_OK;
}

static enum ph_deliver_status
flush(ph_maildir_tx *tx)
{
    enum ph_deliver_status st = write_copies(tx, tx->buf, tx->buf_len);

    tx->buf_len = 0;
    return st;
}

/*
 * One shared buffer: DATA arrives in pieces of a few KiB, and a write(2)
 * per piece per copy would cost more than the copy into the buffer. A
 * piece that does not fit goes out after the buffer, directly if it is
 * at least a buffer long.
 */
enum ph_deliver_status
ph_maildir_tx_write(ph_maildir_tx *tx, const void *p, size_t len)
{
    if (tx->state != TX_OPEN)
        return tx_closed(tx);
    tx->body_len += len;
    if (len > TX_BUF - tx->buf_len) {
        if (flush(tx) != PH_DELIVER_OK)
            return tx->err;
        if (len >= TX_BUF)
            return write_copies(tx, p, len);
    }
    if (len > 0)
        memcpy(tx->buf + tx->buf_len, p, len);
    tx->buf_len += len;
    return PH_DELIVER_OK;
}

/* Every copy's data on disk and its descriptor closed. close(2) can
   report a deferred write error (NFS), so it counts as well. */
static enum ph_deliver_status
sync_copies(ph_maildir_tx *tx)
{
    for (size_t i = 0; i < tx->n; i++) {
        struct tx_copy *c = &tx->v[i];
        int             e = fsync(c->fd) != 0 ? errno : 0;

        if (close(c->fd) != 0 && e == 0)
            e = errno;
        c->fd = -1;
        if (e != 0)
            return errno_status(e);
    }
    return PH_DELIVER_OK;
}

/* tmp/ -> new/. rename(2), as the spec says: the name is unique, and
   link+unlink would cost a syscall for a clash that cannot happen. */
static enum ph_deliver_status
publish(ph_maildir_tx *tx)
{
    char from[PATH_MAX], to[PATH_MAX];

    for (size_t i = 0; i < tx->n; i++) {
        struct tx_copy *c = &tx->v[i];
        if (copy_path(c, false, from, sizeof(from)) != 0 ||
            copy_path(c, true, to, sizeof(to)) != 0)
            return PH_DELIVER_TEMP;
        if (rename(from, to) != 0)
            return errno_status(errno);
        c->in_tmp = false;
        c->in_new = true;
    }
    return PH_DELIVER_OK;
}

/* fsync every new/ once (two recipients may share a Maildir), and the
   Maildir and its parent where add() created them. */
static enum ph_deliver_status
sync_dirs(const ph_maildir_tx *tx)
{
    for (size_t i = 0; i < tx->n; i++) {
        const struct tx_copy *c = &tx->v[i];
        bool                  is_seen = false;
        int                   e;

        for (size_t j = 0; j < i && !is_seen; j++)
            is_seen = strcmp(tx->v[j].dir, c->dir) == 0;
        if (is_seen)
            continue;
        e = sync_sub(c->dir, "new");
        if (e == 0 && c->made_dir && (e = sync_sub(c->dir, ".")) == 0)
            e = sync_parent(c->dir);
        if (e != 0)
            return errno_status(e);
    }
    return PH_DELIVER_OK;
}

/*
 * A transaction without copies is refused: a 250 for a message stored
 * nowhere would be the silent loss RFC 5321 6.1 forbids.
 */
enum ph_deliver_status
ph_maildir_tx_commit(ph_maildir_tx *tx)
{
    enum ph_deliver_status st;

    if (tx->state == TX_COMMITTED)
        return PH_DELIVER_OK;
    if (tx->state != TX_OPEN)
        return tx->err;
    if (tx->n == 0)
        return tx_fail(tx, PH_DELIVER_TEMP);
    if (flush(tx) != PH_DELIVER_OK)
        return tx->err;
    if ((st = sync_copies(tx)) != PH_DELIVER_OK ||
        (st = publish(tx)) != PH_DELIVER_OK ||
        (st = sync_dirs(tx)) != PH_DELIVER_OK)
        return tx_fail(tx, st);
    tx->state = TX_COMMITTED;
    return PH_DELIVER_OK;
}

void
ph_maildir_tx_free(ph_maildir_tx *tx)
{
    if (tx == NULL)
        return;
    if (tx->state == TX_OPEN)
        rollback(tx);
    for (size_t i = 0; i < tx->n; i++)
        free(tx->v[i].dir);
    free(tx->v);
    free(tx->buf);
    free(tx);
}
