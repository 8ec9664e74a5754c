/*
 * maildir_drop.c -- the library's Maildir maildrop (ph_maildir_ops, see
 * store.h): open = lock + snapshot of new/ and cur/ in delivery order,
 * sizes as RFC 1939 LIST counts them (CRLF line ends), streaming reads,
 * deletion in UPDATE. Sizes the name does not carry (",W=") are counted
 * once and kept in the Maildir's posthorn-sizes file for later sessions.
 * Names and UIDs: maildir_uid.c; the lock: maildir_lock.c.
 */
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MD_CACHE_HDR  "posthorn-sizes 1\n"
#define MD_CACHE_MAX  ((off_t)64 << 20)    /* bigger: not ours, ignore */

/* One RETR/TOP in progress: owned by the session until stream_close. */
struct ph_drop_stream {
    int fd;
};

/* One line of posthorn-sizes, pointing into the file's buffer. */
struct md_cache_line {
    const char *key;
    size_t      key_len;
    size_t      size;
};

/* Buffered writer for posthorn-sizes (uses the drop's iobuf). */
struct md_writer {
    int     fd;
    char   *buf;
    size_t  len;
    bool    is_failed;
};

/* Errors that retrying will not cure are PERM ([SYS/PERM]). */

/*
 * Opens a path below the Maildir without following a symlink in any
 * component: the Maildir's owner must not make us read or delete files
 * elsewhere by turning cur/ or new/ into a link. O_NONBLOCK: a FIFO put
 * in place of a file must not block the whole server (callers check the
 * type with fstat).
 */
static int
md_openat(int dirfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK),
        .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH,
    };
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

    if (fd < 0 && errno == ENOSYS)      /* kernel before 5.6 */
        fd = openat(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    return (int)fd;
}

static enum ph_drop_status
md_errno_status(int err)
{
    switch (err) {
    case ENOENT: case ENOTDIR: case EACCES: case EPERM: case EROFS:
    case ELOOP: case ENAMETOOLONG:
        return PH_DROP_PERM;
    default:
        return PH_DROP_TEMP;
    }
}

int
ph_maildir_strs_add(struct ph_drop *d, const char *s, size_t len,
                    uint32_t *off_out)
{
    size_t need = len + 1;

    /* Offsets are 32 bits to keep entries small. */
    if (need > UINT32_MAX - d->strs_len)
        return -1;
    if (d->strs_cap - d->strs_len < need) {
        size_t cap = d->strs_cap != 0 ? d->strs_cap : 4096;
        char  *p;

        while (cap - d->strs_len < need)
            cap = cap > SIZE_MAX / 2 ? d->strs_len + need : cap * 2;
        p = realloc(d->strs, cap);
        if (p == NULL)
            return -1;
        d->strs = p;
        d->strs_cap = cap;
    }
    memcpy(d->strs + d->strs_len, s, len);
    d->strs[d->strs_len + len] = '\0';
    *off_out = (uint32_t)d->strs_len;
    d->strs_len += need;
    return 0;
}

static int
md_entry_add(struct ph_drop *d, const char *name, uint8_t in_cur)
{
    struct ph_md_entry *e;

    if (d->n == d->cap) {
        size_t cap = d->cap != 0 ? d->cap * 2 : 64;

        if (cap > SIZE_MAX / sizeof(*e))
            return -1;
        e = realloc(d->v, cap * sizeof(*e));
        if (e == NULL)
            return -1;
        d->v = e;
        d->cap = cap;
    }
    e = &d->v[d->n];
    memset(e, 0, sizeof(*e));
    if (ph_maildir_strs_add(d, name, strlen(name), &e->name_off) < 0)
        return -1;
    e->time = ph_maildir_name_time(name);
    e->key_len = (uint32_t)ph_maildir_name_key_len(name);
    e->in_cur = in_cur;
    if (ph_maildir_name_wsize(name, &e->size))
        e->size_src = PH_MD_SIZE_NAME;
    d->n++;
    return 0;
}

/* Symlinks, fifos and subdirectories are not messages; d_type spares a
   stat per file where the file system fills it in. */
static bool
md_is_regular(DIR *dir, const struct dirent *de)
{
    struct stat sb;

    if (de->d_type == DT_REG)
        return true;
    if (de->d_type != DT_UNKNOWN)
        return false;
    if (fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return false;
    return S_ISREG(sb.st_mode);
}

/* Adds sub's messages. A missing new/ or cur/ just holds no mail. */
static enum ph_drop_status
md_list(struct ph_drop *d, const char *sub, uint8_t in_cur)
{
    struct dirent *de;
    DIR           *dir;
    int            fd, err = 0;

    fd = md_openat(d->dirfd, sub, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return errno == ENOENT ? PH_DROP_OK : md_errno_status(errno);
    dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return PH_DROP_TEMP;
    }
    for (;;) {
        errno = 0;
        de = readdir(dir);
        if (de == NULL) {
            err = errno;
            break;
        }
        /* Dot-files are never mail: Maildir writers' temporaries, or
           a MUA's own bookkeeping. */
        if (de->d_name[0] == '.' || !md_is_regular(dir, de))
            continue;
        if (md_entry_add(d, de->d_name, in_cur) < 0) {
            err = ENOMEM;
            break;
        }
    }
    closedir(dir);
    return err == 0 ? PH_DROP_OK : PH_DROP_TEMP;
}

/* The microseconds of a "<sec>.M<usec>..." name (the Maildir spec's
   modern form, ours and Dovecot's), or -1. Not zero-padded, so they must
   be compared as numbers: "M98765" came before "M123456". */
static long
md_usec(const char *name)
{
    const char *m = strchr(name, '.');

    if (m == NULL || m[1] != 'M' || m[2] < '0' || m[2] > '9')
        return -1;
    return strtol(m + 2, NULL, 10);
}

/* Delivery order: the leading integer of a Maildir name is the delivery
   time, then its microseconds; the name breaks ties so the order is the
   same every session. */
static int
md_cmp(const void *a, const void *b)
{
    const struct ph_md_entry *x = a, *y = b;
    long                      ux, uy;
    int                       c;

    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    ux = md_usec(x->sort_name);
    uy = md_usec(y->sort_name);
    if (ux >= 0 && uy >= 0 && ux != uy)
        return ux < uy ? -1 : 1;
    c = strcmp(x->sort_name, y->sort_name);
    if (c != 0)
        return c;
    return (int)x->in_cur - (int)y->in_cur;
}

static void
md_sort(struct ph_drop *d)
{
    size_t i;

    if (d->n < 2)
        return;
    /* qsort has no context argument: lend each entry its name. The block
       does not move while sorting. */
    for (i = 0; i < d->n; i++)
        d->v[i].sort_name = d->strs + d->v[i].name_off;
    qsort(d->v, d->n, sizeof(*d->v), md_cmp);
    for (i = 0; i < d->n; i++)
        d->v[i].sort_name = NULL;
}

/*
 * Opens the Maildir. One that does not exist yet (a user with no mail)
 * is created with cur/ new/ tmp/, mode 0700: the lock needs a home, and
 * the session then sees 0 messages. Its parent must exist (PERM if not).
 */
static enum ph_drop_status
md_open_dir(const char *path, int *fd_out)
{
    static const char *const subs[] = { "cur", "new", "tmp" };
    size_t                   i;
    int                      fd;

    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return md_errno_status(errno);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (i = 0; fd >= 0 && i < sizeof(subs) / sizeof(*subs); i++) {
            if (mkdirat(fd, subs[i], 0700) < 0 && errno != EEXIST) {
                int err = errno;

                close(fd);
                return md_errno_status(err);
            }
        }
    }
    if (fd < 0)
        return md_errno_status(errno);
    *fd_out = fd;
    return PH_DROP_OK;
}

static int
md_path(const struct ph_drop *d, const struct ph_md_entry *e, char *buf,
        size_t cap)
{
    int ret;

    ret = snprintf(buf, cap, "%s/%s", e->in_cur ? "cur" : "new",
                   d->strs + e->name_off);
    return ret < 0 || (size_t)ret >= cap ? -1 : 0;
}

/* Looks in sub for the file whose name up to ':' is e's. */
static bool
md_find_key(const struct ph_drop *d, const char *sub,
            const struct ph_md_entry *e, char *buf, size_t cap)
{
    const char    *name = d->strs + e->name_off;
    struct dirent *de;
    DIR           *dir;
    bool           is_found = false;
    int            fd, ret;

    fd = md_openat(d->dirfd, sub, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return false;
    dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return false;
    }
    while (!is_found && (de = readdir(dir)) != NULL) {
        /* After a match of key_len bytes, d_name[key_len] exists. */
        if (strncmp(de->d_name, name, e->key_len) != 0
            || (de->d_name[e->key_len] != ':'
                && de->d_name[e->key_len] != '\0'))
            continue;
        ret = snprintf(buf, cap, "%s/%s", sub, de->d_name);
        is_found = ret >= 0 && (size_t)ret < cap;
    }
    closedir(dir);
    return is_found;
}

/* A local MUA may have moved the file to cur/ or changed its flags since
   the snapshot; Maildir keeps the name up to ':', so look for that. */
static bool
md_relocate(const struct ph_drop *d, const struct ph_md_entry *e,
            char *buf, size_t cap)
{
    if (e->key_len == 0)
        return false;
    return md_find_key(d, "cur", e, buf, cap)
           || md_find_key(d, "new", e, buf, cap);
}

/* Only regular files are messages; anything else (FIFO, device) fails. */
static int
md_regular(int *fd)
{
    struct stat sb;

    if (fstat(*fd, &sb) == 0 && S_ISREG(sb.st_mode))
        return 0;
    close(*fd);
    *fd = -1;
    return EINVAL;
}

/* Opens e's file wherever it went: 0, ENOENT when it is gone, or errno. */
static int
md_open_msg(const struct ph_drop *d, const struct ph_md_entry *e,
            int *fd_out)
{
    char path[PATH_MAX];

    if (md_path(d, e, path, sizeof(path)) < 0)
        return ENAMETOOLONG;
    *fd_out = md_openat(d->dirfd, path, O_RDONLY);
    if (*fd_out < 0) {
        if (errno != ENOENT)
            return errno;
        if (!md_relocate(d, e, path, sizeof(path)))
            return ENOENT;
        *fd_out = md_openat(d->dirfd, path, O_RDONLY);
        if (*fd_out < 0)
            return errno;
    }
    return md_regular(fd_out);
}

static char *
md_iobuf(struct ph_drop *d)
{
    if (d->iobuf == NULL)
        d->iobuf = malloc(PH_MD_IOBUF);
    return d->iobuf;
}

/*
 * RFC 1939 sizes count CRLF line ends: the file's bytes plus one for each
 * LF without a CR before it (the session adds that CR when sending).
 * prev_is_cr carries the last byte across 64 KiB blocks.
 */
static int
md_count(char *buf, int fd, size_t *size_out)
{
    size_t  total = 0, bare = 0;
    bool    prev_is_cr = false;
    ssize_t n;

    for (;;) {
        const char *p, *end, *lf;

        n = read(fd, buf, PH_MD_IOBUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        end = buf + n;
        for (p = buf; (lf = memchr(p, '\n', (size_t)(end - p))); p = lf + 1)
            if (lf == buf ? !prev_is_cr : lf[-1] != '\r')
                bare++;
        prev_is_cr = end[-1] == '\r';
        total += (size_t)n;
    }
    *size_out = total + bare;
    return n < 0 ? -1 : 0;
}

/* A file that vanished since the snapshot counts 0 octets; RETR of it
   gets PH_DROP_TEMP (see md_stream_open). */
static enum ph_drop_status
md_size(struct ph_drop *d, struct ph_md_entry *e)
{
    int fd, err;

    if (md_iobuf(d) == NULL)
        return PH_DROP_TEMP;
    err = md_open_msg(d, e, &fd);
    if (err == ENOENT) {
        e->size = 0;
        e->size_src = PH_MD_SIZE_GONE;
        return PH_DROP_OK;
    }
    if (err != 0)
        return md_errno_status(err);
    err = md_count(d->iobuf, fd, &e->size);
    close(fd);
    if (err != 0)
        return PH_DROP_TEMP;
    e->size_src = PH_MD_SIZE_READ;
    d->is_cache_dirty = true;
    return PH_DROP_OK;
}

/* Reads posthorn-sizes whole (NUL-terminated); NULL if absent or odd. */
static char *
md_cache_read(int dirfd, size_t *len_out)
{
    struct stat sb;
    size_t      len = 0;
    ssize_t     n;
    char       *buf;
    int         fd;

    fd = md_openat(dirfd, PH_MD_SIZES_NAME, O_RDONLY);
    if (fd < 0)
        return NULL;
    buf = NULL;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)
        && sb.st_size <= MD_CACHE_MAX)
        buf = malloc((size_t)sb.st_size + 1);
    while (buf != NULL && len < (size_t)sb.st_size) {
        n = read(fd, buf + len, (size_t)sb.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;              /* shrank: the trailer check decides */
        if (n < 0) {
            free(buf);
            buf = NULL;
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    if (buf != NULL)
        buf[len] = '\0';
    *len_out = len;
    return buf;
}

/* "<size> <key>" up to nl. */
static bool
md_cache_line_parse(const char *p, const char *nl, struct md_cache_line *l)
{
    const char *q;
    size_t      v = 0;

    for (q = p; q < nl && *q >= '0' && *q <= '9'; q++) {
        if (v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*q - '0');
    }
    if (q == p || q + 1 >= nl || *q != ' ')
        return false;
    l->size = v;
    l->key = q + 1;
    l->key_len = (size_t)(nl - l->key);
    return true;
}

/* Any defect discards the whole file: it is only a cache. The ".\n"
   trailer shows the writer finished (a crash may leave a short file). */
static struct md_cache_line *
md_cache_parse(const char *buf, size_t len, size_t *n_out)
{
    size_t                hl = sizeof(MD_CACHE_HDR) - 1, n = 0, max = 1;
    const char           *p, *end, *nl;
    struct md_cache_line *lines;

    if (len < hl + 2 || memcmp(buf, MD_CACHE_HDR, hl) != 0
        || memcmp(buf + len - 2, ".\n", 2) != 0 || buf[len - 3] != '\n')
        return NULL;
    end = buf + len - 2;
    for (p = buf + hl; p < end; p = nl + 1, max++)
        nl = memchr(p, '\n', (size_t)(end - p));
    lines = calloc(max, sizeof(*lines));
    for (p = buf + hl; lines != NULL && p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!md_cache_line_parse(p, nl, &lines[n++])) {
            free(lines);
            lines = NULL;
        }
    }
    *n_out = n;
    return lines;
}

static int
md_cache_cmp(const void *a, const void *b)
{
    const struct md_cache_line *x = a, *y = b;
    size_t                      n = x->key_len < y->key_len ? x->key_len
                                                            : y->key_len;
    int                         c = memcmp(x->key, y->key, n);

    if (c != 0)
        return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/*
 * Takes the sizes that posthorn-sizes knows. Lines for messages no longer
 * here (or a corrupt file) mark the cache dirty, so close() rewrites it.
 * Message files are never rewritten in a Maildir, so a key's size holds.
 */
static void
md_cache_load(struct ph_drop *d)
{
    struct md_cache_line *lines, key, *hit;
    size_t                len, n, i, hits = 0;
    char                 *buf;

    buf = md_cache_read(d->dirfd, &len);
    if (buf == NULL)
        return;
    lines = md_cache_parse(buf, len, &n);
    if (lines == NULL) {
        d->is_cache_dirty = true;
        free(buf);
        return;
    }
    qsort(lines, n, sizeof(*lines), md_cache_cmp);
    for (i = 0; i < d->n; i++) {
        struct ph_md_entry *e = &d->v[i];

        if (e->size_src != PH_MD_SIZE_NONE)
            continue;
        key.key = d->strs + e->name_off;
        key.key_len = e->key_len;
        hit = bsearch(&key, lines, n, sizeof(*lines), md_cache_cmp);
        if (hit != NULL) {
            e->size = hit->size;
            e->size_src = PH_MD_SIZE_CACHE;
            hits++;
        }
    }
    if (hits != n)
        d->is_cache_dirty = true;
    free(lines);
    free(buf);
}

static void
md_wflush(struct md_writer *w)
{
    size_t  off = 0;
    ssize_t n;

    while (!w->is_failed && off < w->len) {
        n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            w->is_failed = true;
        else
            off += (size_t)n;
    }
    w->len = 0;
}

static void
md_wput(struct md_writer *w, const char *s, size_t len)
{
    if (PH_MD_IOBUF - w->len < len)
        md_wflush(w);
    if (len > PH_MD_IOBUF) {
        w->is_failed = true;
        return;
    }
    memcpy(w->buf + w->len, s, len);
    w->len += len;
}

static void
md_wentry(struct md_writer *w, const struct ph_drop *d,
          const struct ph_md_entry *e)
{
    const char *name = d->strs + e->name_off;
    char        num[32];
    int         ret;

    if (e->is_deleted || (e->size_src != PH_MD_SIZE_READ
                          && e->size_src != PH_MD_SIZE_CACHE))
        return;
    /* One line per message: a key with a LF in it cannot be written. */
    if (e->key_len == 0 || memchr(name, '\n', e->key_len) != NULL)
        return;
    ret = snprintf(num, sizeof(num), "%zu ", e->size);
    if (ret < 0 || (size_t)ret >= sizeof(num)) {
        w->is_failed = true;
        return;
    }
    md_wput(w, num, (size_t)ret);
    md_wput(w, name, e->key_len);
    md_wput(w, "\n", 1);
}

/* Written to a temporary and renamed, so a reader sees the old file or
   the new one. No fsync: a file lost in a crash just costs a recount. */
static void
md_cache_save(struct ph_drop *d)
{
    struct md_writer w = { .fd = -1 };
    size_t           i;

    w.buf = md_iobuf(d);
    if (w.buf == NULL)
        return;
    /* Fresh file, never an existing one: the user owns the Maildir and
       could have left a link to something else under the temporary name. */
    unlinkat(d->dirfd, PH_MD_SIZES_TMP, 0);
    w.fd = openat(d->dirfd, PH_MD_SIZES_TMP,
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    if (w.fd < 0)
        return;
    md_wput(&w, MD_CACHE_HDR, sizeof(MD_CACHE_HDR) - 1);
    for (i = 0; i < d->n; i++)
        md_wentry(&w, d, &d->v[i]);
    md_wput(&w, ".\n", 2);
    md_wflush(&w);
    if (close(w.fd) < 0)
        w.is_failed = true;
    if (w.is_failed || renameat(d->dirfd, PH_MD_SIZES_TMP, d->dirfd,
                                PH_MD_SIZES_NAME) < 0)
        unlinkat(d->dirfd, PH_MD_SIZES_TMP, 0);
    d->is_cache_dirty = false;
}

static void
maildir_close(ph_drop *d)
{
    if (d == NULL)
        return;
    /* Still locked here: the lock guards the cache file too. */
    if (d->is_cache_dirty && d->lockfd >= 0)
        md_cache_save(d);
    ph_maildir_unlock(d->dirfd, d->lockfd);
    if (d->dirfd >= 0)
        close(d->dirfd);
    free(d->iobuf);
    free(d->v);
    free(d->strs);
    free(d);
}

static enum ph_drop_status
md_snapshot(struct ph_drop *d)
{
    enum ph_drop_status st;

    st = md_list(d, "new", 0);
    if (st == PH_DROP_OK)
        st = md_list(d, "cur", 1);
    if (st != PH_DROP_OK)
        return st;
    md_sort(d);
    if (ph_maildir_uid_assign(d) < 0)
        return PH_DROP_TEMP;
    md_cache_load(d);
    return PH_DROP_OK;
}

/* tmp/ is never listed: files there are still being written. */
static enum ph_drop_status
maildir_open(void *ctx, const char *user, const char *locator,
             ph_drop **drop_out)
{
    enum ph_drop_status st;
    struct ph_drop     *d;

    (void)ctx;
    (void)user;
    *drop_out = NULL;
    if (locator == NULL || locator[0] == '\0')
        return PH_DROP_PERM;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return PH_DROP_TEMP;
    d->dirfd = -1;
    d->lockfd = -1;
    st = md_open_dir(locator, &d->dirfd);
    if (st == PH_DROP_OK)
        st = ph_maildir_lock(d->dirfd, &d->lockfd);
    if (st == PH_DROP_OK)
        st = md_snapshot(d);
    if (st != PH_DROP_OK) {
        d->is_cache_dirty = false;
        maildir_close(d);
        return st;
    }
    *drop_out = d;
    return PH_DROP_OK;
}

static size_t
maildir_count(ph_drop *d)
{
    return d->n;
}

/* Sizes not in the name or the cache are counted here, on first need. */
static enum ph_drop_status
maildir_msg(ph_drop *d, size_t i, struct ph_drop_msg *out)
{
    struct ph_md_entry *e;
    enum ph_drop_status st;

    if (i >= d->n)
        return PH_DROP_PERM;
    e = &d->v[i];
    if (e->size_src == PH_MD_SIZE_NONE) {
        st = md_size(d, e);
        if (st != PH_DROP_OK)
            return st;
    }
    out->size = e->size;
    out->uid = d->strs + e->uid_off;
    return PH_DROP_OK;
}

/* A message deleted by someone else since the snapshot: PH_DROP_TEMP
   ([SYS/TEMP]); the next session no longer lists it. */
static enum ph_drop_status
maildir_stream_open(ph_drop *d, size_t i, ph_drop_stream **st_out)
{
    ph_drop_stream *st;
    int             fd, err;

    *st_out = NULL;
    if (i >= d->n)
        return PH_DROP_PERM;
    err = md_open_msg(d, &d->v[i], &fd);
    if (err == ENOENT)
        return PH_DROP_TEMP;
    if (err != 0)
        return md_errno_status(err);
    st = malloc(sizeof(*st));
    if (st == NULL) {
        close(fd);
        return PH_DROP_TEMP;
    }
    st->fd = fd;
    *st_out = st;
    return PH_DROP_OK;
}

static ssize_t
maildir_stream_read(ph_drop_stream *st, char *buf, size_t cap)
{
    ssize_t n;

    if (cap > SSIZE_MAX)
        cap = SSIZE_MAX;
    do {
        n = read(st->fd, buf, cap);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : n;
}

static void
maildir_stream_close(ph_drop_stream *st)
{
    if (st == NULL)
        return;
    close(st->fd);
    free(st);
}

/* Unlinks "sub/name" relative to sub/ opened without symlinks, so a
   link put in place of cur/ cannot point the unlink elsewhere. */
static int
md_unlink(int dirfd, const char *path)
{
    const char *slash = strchr(path, '/');
    char        sub[8];
    int         subfd, rc, saved;

    if (slash == NULL || (size_t)(slash - path) >= sizeof(sub)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(sub, path, (size_t)(slash - path));
    sub[slash - path] = '\0';
    if ((subfd = md_openat(dirfd, sub, O_RDONLY | O_DIRECTORY)) < 0)
        return -1;
    rc = unlinkat(subfd, slash + 1, 0);
    saved = errno;
    close(subfd);
    errno = saved;
    return rc;
}

/* Gone already (ENOENT, also after looking for it in cur/) is success:
   the client wanted it gone. */
static enum ph_drop_status
maildir_dele(ph_drop *d, size_t i)
{
    struct ph_md_entry *e;
    char                path[PATH_MAX];

    if (i >= d->n)
        return PH_DROP_PERM;
    e = &d->v[i];
    if (e->is_deleted)
        return PH_DROP_OK;
    if (md_path(d, e, path, sizeof(path)) < 0)
        return PH_DROP_PERM;
    if (md_unlink(d->dirfd, path) < 0) {
        if (errno != ENOENT)
            return md_errno_status(errno);
        if (md_relocate(d, e, path, sizeof(path))
            && md_unlink(d->dirfd, path) < 0 && errno != ENOENT)
            return md_errno_status(errno);
    }
    e->is_deleted = 1;
    if (e->size_src == PH_MD_SIZE_READ || e->size_src == PH_MD_SIZE_CACHE)
        d->is_cache_dirty = true;
    return PH_DROP_OK;
}

const struct ph_maildrop_ops ph_maildir_ops = {
    .open         = maildir_open,
    .count        = maildir_count,
    .msg          = maildir_msg,
    .stream_open  = maildir_stream_open,
    .stream_read  = maildir_stream_read,
    .stream_close = maildir_stream_close,
    .dele         = maildir_dele,
    .close        = maildir_close,
};
