/*
 * test_durability.c -- the promise behind "250 OK" (ARCHITECTURE:
 * fsync'ed, renamed into new/, the directory fsync'ed, for every copy,
 * before the reply), checked on the system calls of ph_maildir_tx: the
 * test is linked with -Wl,--wrap=fsync,--wrap=fdatasync,--wrap=rename,
 * --wrap=renameat,--wrap=link,--wrap=linkat, so every such call the
 * library makes is recorded (with the path its descriptor names) before
 * it is passed on. For every copy:
 *   - its data is synced (fsync/fdatasync of the file) before its name
 *     appears in new/ (rename or link into new/);
 *   - new/ is synced after that and before ph_maildir_tx_commit returns
 *     (posthornd sends its 250 only after commit returns).
 * An injected fsync failure of the data leaves nothing in new/ (nor in
 * tmp/) and commit reports a temporary failure (the client gets 4xx).
 * It must hold whatever way the delivery path is built (issue 11).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posthorn/posthorn.h"
#include "tmpdir_testutil.h"

/* ---- the record of system calls --------------------------------------- */

enum call_kind { CALL_SYNC, CALL_NAME };

struct call {
    enum call_kind kind;
    char           path[512];   /* SYNC: what was synced; NAME: new name */
    char           from[512];   /* NAME: the old name (rename/link) */
};

#define MAX_CALLS 256
static struct call g_calls[MAX_CALLS];
static size_t      g_ncalls;
static int         g_fail_file_sync;    /* EIO for fsync of a regular file */

static void
record(enum call_kind kind, const char *path, const char *from)
{
    struct call *c;

    if (g_ncalls == MAX_CALLS)
        return;
    c = &g_calls[g_ncalls++];
    c->kind = kind;
    snprintf(c->path, sizeof(c->path), "%s", path ? path : "?");
    snprintf(c->from, sizeof(c->from), "%s", from ? from : "");
}

static void
fd_path(int fd, char *out, size_t cap)
{
    char    link[64];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
}

/* A sync of fd: recorded; refused with EIO when asked for files. */
static int
sync_call(int fd, int (*real)(int))
{
    char        path[512];
    struct stat st;

    fd_path(fd, path, sizeof(path));
    if (g_fail_file_sync && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        errno = EIO;
        return -1;
    }
    record(CALL_SYNC, path, NULL);
    return real(fd);
}

int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_rename(const char *from, const char *to);
int __real_renameat(int fd1, const char *from, int fd2, const char *to);
int __real_link(const char *from, const char *to);
int __real_linkat(int fd1, const char *from, int fd2, const char *to,
                  int flags);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_rename(const char *from, const char *to);
int __wrap_renameat(int fd1, const char *from, int fd2, const char *to);
int __wrap_link(const char *from, const char *to);
int __wrap_linkat(int fd1, const char *from, int fd2, const char *to,
                  int flags);

int __wrap_fsync(int fd) { return sync_call(fd, __real_fsync); }
int __wrap_fdatasync(int fd) { return sync_call(fd, __real_fdatasync); }

/* A path relative to a directory descriptor, made absolute. */
static void
at_path(int dfd, const char *rel, char *out, size_t cap)
{
    char dir[400];

    if (rel[0] == '/' || dfd == AT_FDCWD) {
        snprintf(out, cap, "%s", rel);
        return;
    }
    fd_path(dfd, dir, sizeof(dir));
    snprintf(out, cap, "%s/%s", dir, rel);
}

static int
name_call(int fd1, const char *from, int fd2, const char *to)
{
    char a[512], b[512];

    at_path(fd1, from, a, sizeof(a));
    at_path(fd2, to, b, sizeof(b));
    record(CALL_NAME, b, a);
    return 0;
}

int
__wrap_rename(const char *from, const char *to)
{
    name_call(AT_FDCWD, from, AT_FDCWD, to);
    return __real_rename(from, to);
}

int
__wrap_renameat(int fd1, const char *from, int fd2, const char *to)
{
    name_call(fd1, from, fd2, to);
    return __real_renameat(fd1, from, fd2, to);
}

int
__wrap_link(const char *from, const char *to)
{
    name_call(AT_FDCWD, from, AT_FDCWD, to);
    return __real_link(from, to);
}

int
__wrap_linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
    name_call(fd1, from, fd2, to);
    return __real_linkat(fd1, from, fd2, to, flags);
}

/* ---- fixture ------------------------------------------------------------ */

static char g_root[64];

static int
setup(void **state)
{
    (void)state;
    g_ncalls = 0;
    g_fail_file_sync = 0;
    return tdu_make(g_root, sizeof(g_root), "durable");
}

static int
teardown(void **state)
{
    (void)state;
    return tdu_remove(g_root);
}

static int
entries(const char *maildir, const char *sub)
{
    return tdu_count(maildir, sub, NULL);
}

/* The real path of dir (the record holds resolved /proc names). */
static void
real_dir(const char *dir, char *out)
{
    assert_non_null(realpath(dir, out));
}

static size_t
find(enum call_kind kind, const char *path, size_t from_index)
{
    for (size_t i = from_index; i < g_ncalls; i++)
        if (g_calls[i].kind == kind && strcmp(g_calls[i].path, path) == 0)
            return i;
    return (size_t)-1;
}

/* For the copy that landed in <maildir>/new: its data was synced before
   its name appeared there, and new/ was synced after that. */
static void
check_copy(const char *maildir)
{
    char   real[PATH_MAX], newdir[PATH_MAX + 8];
    size_t named = (size_t)-1, synced, dsync;

    real_dir(maildir, real);
    snprintf(newdir, sizeof(newdir), "%s/new", real);
    for (size_t i = 0; i < g_ncalls; i++)
        if (g_calls[i].kind == CALL_NAME &&
            strncmp(g_calls[i].path, newdir, strlen(newdir)) == 0 &&
            g_calls[i].path[strlen(newdir)] == '/')
            named = i;
    assert_true(named != (size_t)-1);       /* it was named into new/ */
    /* The data: a sync of the file under its old (tmp/) name before. */
    synced = find(CALL_SYNC, g_calls[named].from, 0);
    assert_true(synced != (size_t)-1);
    assert_true(synced < named);
    /* new/ synced after the name appeared in it. */
    dsync = find(CALL_SYNC, newdir, named + 1);
    assert_true(dsync != (size_t)-1);
}

/* ---- tests ---------------------------------------------------------------- */

static const char body[] = "Subject: durable\r\n\r\nbody\r\n";

static ph_maildir_tx *
tx_for(const char *const *dirs, size_t n)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("durable.test");

    assert_non_null(tx);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ph_maildir_tx_add(tx, dirs[i], "X-A: 1\r\n", 8),
                         PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, body, sizeof(body) - 1),
                     PH_DELIVER_OK);
    return tx;
}

/* Two recipients' Maildirs (made by the delivery) under the test's root. */
static ph_maildir_tx *
tx_two(char *a, char *b, size_t cap)
{
    const char *dirs[2] = { a, b };

    snprintf(a, cap, "%s/alice", g_root);
    snprintf(b, cap, "%s/bob", g_root);
    return tx_for(dirs, 2);
}

static void
test_sync_before_name_and_dir_after(void **state)
{
    char           a[128], b[128];
    ph_maildir_tx *tx = tx_two(a, b, sizeof(a));

    (void)state;
    g_ncalls = 0;               /* from here on: the commit's calls */
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    /* Everything the promise needs happened before commit returned. */
    check_copy(a);
    check_copy(b);
    assert_int_equal(entries(a, "new"), 1);
    assert_int_equal(entries(b, "new"), 1);
    assert_int_equal(entries(a, "tmp"), 0);
    ph_maildir_tx_free(tx);
}

static void
test_failed_data_sync_stores_nothing(void **state)
{
    char           a[128], b[128];
    ph_maildir_tx *tx = tx_two(a, b, sizeof(a));

    (void)state;
    g_fail_file_sync = 1;
    assert_int_not_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    g_fail_file_sync = 0;
    ph_maildir_tx_free(tx);
    /* A 4xx to the client, and no copy anywhere. */
    assert_int_equal(entries(a, "new"), 0);
    assert_int_equal(entries(b, "new"), 0);
    assert_int_equal(entries(a, "tmp"), 0);
    assert_int_equal(entries(b, "tmp"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_before_name_and_dir_after,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_data_sync_stores_nothing,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
