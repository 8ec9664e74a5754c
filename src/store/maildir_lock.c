/*
 * maildir_lock.c -- one POP3 session per Maildir (RFC 1939 8: the server
 * should lock the maildrop in the AUTHORIZATION -> TRANSACTION switch).
 *
 * The lock is the file posthorn-pop3.lock in the Maildir, created with
 * O_CREAT|O_EXCL and holding the owner's pid, and the holder also keeps a
 * flock(2) on it. flock belongs to the open file description, so a second
 * session in the same process is turned away as well, and the kernel drops
 * it when the holder dies. A file whose flock is free is stale when its pid
 * is gone (kill(pid, 0) fails with ESRCH), or when it holds no pid and is
 * older than LOCK_EMPTY_STALE seconds (its creator died before writing it).
 * Takeover happens in place, under the flock, so two takers cannot both win.
 */
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_EMPTY_STALE  30    /* seconds */
#define LOCK_ATTEMPTS     8

/* Internal outcome of one attempt. */
enum lock_step {
    LOCK_HELD,
    LOCK_EXISTS,        /* O_EXCL failed: look at the holder */
    LOCK_RETRY,         /* the file changed under us: start again */
    LOCK_FAILED,        /* *st says why */
};

static enum ph_drop_status
lock_errno_status(int err)
{
    switch (err) {
    case EACCES: case EPERM: case EROFS: case ENOTDIR: case ELOOP:
        return PH_DROP_PERM;
    default:
        return PH_DROP_TEMP;
    }
}

static int
lock_write_pid(int fd)
{
    char buf[32];
    int  len;

    len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (len < 0 || (size_t)len >= sizeof(buf))
        return -1;
    if (ftruncate(fd, 0) < 0)
        return -1;
    return pwrite(fd, buf, (size_t)len, 0) == len ? 0 : -1;
}

/* The name may have been unlinked (the holder closing) or replaced
   between our open and our flock; then the flock we got guards nothing. */
static bool
lock_is_current(int dirfd, int fd)
{
    struct stat a, b;

    if (fstat(fd, &a) < 0)
        return false;
    if (fstatat(dirfd, PH_MD_LOCK_NAME, &b, AT_SYMLINK_NOFOLLOW) < 0)
        return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static enum lock_step
lock_create(int dirfd, int *fd_out, enum ph_drop_status *st)
{
    int fd;

    fd = openat(dirfd, PH_MD_LOCK_NAME,
                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return LOCK_EXISTS;
        *st = lock_errno_status(errno);
        return LOCK_FAILED;
    }
    /* Someone inspecting the new file may hold its flock for a moment;
       it sees no pid and a fresh mtime and backs off, so we wait. */
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR)
            goto fail;
    }
    if (lock_write_pid(fd) < 0)
        goto fail;
    *fd_out = fd;
    return LOCK_HELD;
fail:
    *st = PH_DROP_TEMP;
    unlinkat(dirfd, PH_MD_LOCK_NAME, 0);
    close(fd);
    return LOCK_FAILED;
}

/* Takeover truncates the file in place, so it must be what we would have
   created: the user owns the Maildir and could have put a hard link to
   another file there (which matters if the program runs as root). */
static bool
lock_is_plain(int fd)
{
    struct stat sb;

    if (fstat(fd, &sb) < 0)
        return false;
    return S_ISREG(sb.st_mode) && sb.st_nlink == 1 && sb.st_size < 32;
}

/* Called with the flock held: is the holder named in the file gone? */
static bool
lock_is_stale(int fd)
{
    char        buf[32], *end;
    struct stat sb;
    ssize_t     n;
    long        pid;

    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n < 0)
        return false;
    buf[n] = '\0';
    errno = 0;
    pid = strtol(buf, &end, 10);
    /* The holder keeps the flock from before it writes its pid: a free
       flock with a pid in the file means that holder is gone, whatever
       kill() says (the pid may belong to a new process by now). */
    if (end != buf && errno == 0 && pid > 0 && (*end == '\n' || !*end))
        return true;
    /* No pid: a creator between open and write, or one that died there. */
    if (fstat(fd, &sb) < 0)
        return false;
    return time(NULL) - sb.st_mtime > LOCK_EMPTY_STALE;
}

static enum lock_step
lock_inspect(int dirfd, int *fd_out, enum ph_drop_status *st)
{
    int fd;

    fd = openat(dirfd, PH_MD_LOCK_NAME, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return LOCK_RETRY;
        *st = lock_errno_status(errno);
        return LOCK_FAILED;
    }
    *st = PH_DROP_IN_USE;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            *st = PH_DROP_TEMP;
        close(fd);
        return LOCK_FAILED;
    }
    if (!lock_is_current(dirfd, fd)) {
        close(fd);
        return LOCK_RETRY;
    }
    if (!lock_is_plain(fd)) {
        *st = PH_DROP_PERM;
        close(fd);
        return LOCK_FAILED;
    }
    if (!lock_is_stale(fd) || lock_write_pid(fd) < 0) {
        close(fd);          /* also drops the flock */
        return LOCK_FAILED;
    }
    *fd_out = fd;
    return LOCK_HELD;
}

enum ph_drop_status
ph_maildir_lock(int dirfd, int *fd_out)
{
    enum ph_drop_status st = PH_DROP_TEMP;
    enum lock_step      step;
    int                 i;

    *fd_out = -1;
    for (i = 0; i < LOCK_ATTEMPTS; i++) {
        step = lock_create(dirfd, fd_out, &st);
        if (step == LOCK_EXISTS)
            step = lock_inspect(dirfd, fd_out, &st);
        if (step == LOCK_HELD)
            return PH_DROP_OK;
        if (step == LOCK_FAILED)
            return st;
    }
    return PH_DROP_TEMP;        /* the file kept changing under us */
}

/* Unlink before close: whoever waits on the old file then finds the name
   gone (lock_is_current) instead of taking a lock nobody else sees. */
void
ph_maildir_unlock(int dirfd, int fd)
{
    if (fd < 0)
        return;
    unlinkat(dirfd, PH_MD_LOCK_NAME, 0);
    close(fd);
}
