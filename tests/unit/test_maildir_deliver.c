/*
 * test_maildir_deliver.c -- ph_maildir_tx (src/store/maildir_deliver.c):
 * every copy durable in new/ or none (rollback also of copies already
 * renamed), Maildir spec names with ",S=<size>", per-copy prefixes, modes
 * 0600/0700, large streams, sticky errors, ENOSPC on a small tmpfs.
 * Each test runs in its own mkdtemp directory, removed afterwards.
 */
#define _GNU_SOURCE         /* unshare(2), CLONE_NEW* */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <regex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "posthorn/posthorn.h"
#include "tmpdir_testutil.h"

static char root[64];

static int
setup(void **state)
{
    (void)state;
    return tdu_make(root, sizeof(root), "deliver");
}

static int
teardown(void **state)
{
    (void)state;
    return tdu_remove(root);
}

/* A Maildir path under this test's directory. */
static void
md(const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", root, name);

    assert_true(n > 0 && (size_t)n < size);
}

/* The whole of dir/new/name; the caller frees. */
static char *
slurp(const char *dir, const char *name, size_t *len_out)
{
    char        path[1024], *buf;
    struct stat st;
    int         fd;

    snprintf(path, sizeof(path), "%s/new/%s", dir, name);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, (size_t)st.st_size + 1), st.st_size);
    close(fd);
    *len_out = (size_t)st.st_size;
    return buf;
}

static void
assert_mode(const char *dir, const char *sub, unsigned mode)
{
    char        path[1024];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
}

/* Exactly one file in dir/new/, none in tmp/, holding want. */
static void
assert_delivered(const char *dir, const char *want, size_t want_len)
{
    char   name[256];
    char  *data;
    size_t len;

    assert_int_equal(tdu_count(dir, "new", name), 1);
    assert_int_equal(tdu_count(dir, "tmp", NULL), 0);
    data = slurp(dir, name, &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(data, want, want_len);
    free(data);
}

static void
test_one_copy(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("host/with:odd");
    char           dir[256], name[256], path[1024];
    regex_t        re;
    regmatch_t     m[2];

    (void)state;
    md("alice", dir, sizeof(dir));
    assert_int_equal(ph_maildir_tx_add(tx, dir, "P: 1\r\n", 6),
                     PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "body\r\n", 6), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);  /* again */
    ph_maildir_tx_free(tx);
    assert_delivered(dir, "P: 1\r\nbody\r\n", 12);
    assert_int_equal(tdu_count(dir, "new", name), 1);
    assert_int_equal(tdu_count(dir, "cur", NULL), 0);
    assert_int_equal(regcomp(&re, "^[0-9]+\\.M[0-9]+P[0-9]+Q[0-9]+\\."
                             "host\\\\057with\\\\072odd,S=([0-9]+)$",
                             REG_EXTENDED), 0);
    assert_int_equal(regexec(&re, name, 2, m, 0), 0);
    regfree(&re);
    assert_int_equal(strtoul(name + m[1].rm_so, NULL, 10), 12);
    assert_null(strchr(name, ':'));
    snprintf(path, sizeof(path), "new/%s", name);
    assert_mode(dir, path, 0600);
}

static void
test_creates_maildir(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           dir[256];

    (void)state;
    md("fresh", dir, sizeof(dir));
    assert_int_equal(ph_maildir_tx_add(tx, dir, NULL, 0), PH_DELIVER_OK);
    assert_mode(dir, ".", 0700);
    assert_mode(dir, "cur", 0700);
    assert_mode(dir, "new", 0700);
    assert_mode(dir, "tmp", 0700);
    assert_int_equal(tdu_count(dir, "tmp", NULL), 1);
    assert_int_equal(ph_maildir_tx_write(tx, "x", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    ph_maildir_tx_free(tx);
    assert_delivered(dir, "x", 1);
}

static void
test_three_prefixes(void **state)
{
    static const char *const who[] = { "a", "bb", "ccc" };
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           dir[256], want[64];
    int            n;

    (void)state;
    for (int i = 0; i < 3; i++) {
        md(who[i], dir, sizeof(dir));
        n = snprintf(want, sizeof(want), "For: %s\r\n", who[i]);
        assert_int_equal(ph_maildir_tx_add(tx, dir, want, (size_t)n),
                         PH_DELIVER_OK);
    }
    assert_int_equal(ph_maildir_tx_write(tx, "x", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "yz", 2), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    ph_maildir_tx_free(tx);
    for (int i = 0; i < 3; i++) {
        md(who[i], dir, sizeof(dir));
        n = snprintf(want, sizeof(want), "For: %s\r\nxyz", who[i]);
        assert_delivered(dir, want, (size_t)n);
    }
}

/* Two recipients mapping to one mailbox: two copies, two names. */
static void
test_same_maildir_twice(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           dir[256];

    (void)state;
    md("shared", dir, sizeof(dir));
    assert_int_equal(ph_maildir_tx_add(tx, dir, "1", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_add(tx, dir, "22", 2), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "m", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    ph_maildir_tx_free(tx);
    assert_int_equal(tdu_count(dir, "new", NULL), 2);
    assert_int_equal(tdu_count(dir, "tmp", NULL), 0);
}

static void
test_missing_parent(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           dir[256];

    (void)state;
    md("no/such/parent", dir, sizeof(dir));
    assert_int_equal(ph_maildir_tx_add(tx, dir, NULL, 0), PH_DELIVER_TEMP);
    assert_int_equal(ph_maildir_tx_write(tx, "x", 1), PH_DELIVER_TEMP);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_TEMP);
    ph_maildir_tx_free(tx);
    assert_int_equal(tdu_count(root, ".", NULL), 0);    /* nothing created */
}

static void
test_free_without_commit(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           a[256], b[256];

    (void)state;
    md("bob", a, sizeof(a));
    md("carol", b, sizeof(b));
    assert_int_equal(ph_maildir_tx_add(tx, a, "p", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_add(tx, b, "p", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "data", 4), PH_DELIVER_OK);
    assert_int_equal(tdu_count(a, "tmp", NULL), 1);
    ph_maildir_tx_free(tx);
    ph_maildir_tx_free(NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tdu_count(i ? b : a, "tmp", NULL), 0);
        assert_int_equal(tdu_count(i ? b : a, "new", NULL), 0);
    }
}

/* Replaces dir/new by a regular file: the rename into it must fail
   (ENOTDIR), also for root, whom permissions do not stop. */
static void
break_new(const char *dir)
{
    char  path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/new", dir);
    assert_int_equal(rmdir(path), 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

/* Three recipients, recipient `bad`'s new/ broken after add: commit
   fails and no copy survives anywhere, also those renamed before. */
static void
rollback_case(int bad)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           dir[3][256];
    const char    *names[] = { "r0", "r1", "r2" };

    for (int i = 0; i < 3; i++) {
        md(names[i], dir[i], sizeof(dir[i]));
        assert_int_equal(ph_maildir_tx_add(tx, dir[i], "p", 1),
                         PH_DELIVER_OK);
    }
    assert_int_equal(ph_maildir_tx_write(tx, "m", 1), PH_DELIVER_OK);
    break_new(dir[bad]);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_TEMP);
    for (int i = 0; i < 3; i++) {   /* rolled back before free() */
        assert_int_equal(tdu_count(dir[i], "tmp", NULL), 0);
        if (i != bad)
            assert_int_equal(tdu_count(dir[i], "new", NULL), 0);
    }
    /* The failure sticks. */
    assert_int_equal(ph_maildir_tx_write(tx, "m", 1), PH_DELIVER_TEMP);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_TEMP);
    ph_maildir_tx_free(tx);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tdu_count(dir[i], "tmp", NULL), 0);
        assert_int_equal(tdu_count(dir[i], "new", NULL), i == bad ? -1 : 0);
    }
}

static void
test_rollback_last_rename(void **state)
{
    (void)state;
    rollback_case(2);
}

static void
test_rollback_middle_rename(void **state)
{
    (void)state;
    rollback_case(1);
}

static void
test_rollback_first_rename(void **state)
{
    (void)state;
    rollback_case(0);
}

/* Adding once common bytes are written would give a short copy. */
static void
test_add_after_write(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           a[256], b[256];

    (void)state;
    md("a", a, sizeof(a));
    md("b", b, sizeof(b));
    assert_int_equal(ph_maildir_tx_add(tx, a, NULL, 0), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "x", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_add(tx, b, NULL, 0), PH_DELIVER_TEMP);
    assert_int_equal(tdu_count(a, "tmp", NULL), 0);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_TEMP);
    ph_maildir_tx_free(tx);
    assert_int_equal(tdu_count(a, "new", NULL), 0);
    assert_int_equal(tdu_count(b, "new", NULL), -1);
}

/* Nothing to store is not "stored": no 250 for a message kept nowhere. */
static void
test_commit_without_copies(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new(NULL);    /* gethostname() */

    (void)state;
    assert_non_null(tx);
    assert_int_equal(ph_maildir_tx_write(tx, "x", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_TEMP);
    ph_maildir_tx_free(tx);
}

/* A host name too long for NAME_MAX is cut, not a failure forever. */
static void
test_long_host(void **state)
{
    char           host[301], dir[256], name[256];
    ph_maildir_tx *tx;

    (void)state;
    for (size_t i = 0; i < 300; i++)
        host[i] = i % 7 == 0 ? ':' : 'h';
    host[300] = '\0';
    tx = ph_maildir_tx_new(host);
    md("long", dir, sizeof(dir));
    assert_int_equal(ph_maildir_tx_add(tx, dir, NULL, 0), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "x", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    ph_maildir_tx_free(tx);
    assert_int_equal(tdu_count(dir, "new", name), 1);
    assert_true(strlen(name) <= 255);
    assert_null(strchr(name, ':'));
    assert_non_null(strstr(name, ",S=1"));
}

static void
test_large_stream(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    size_t         total = 3 * 1024 * 1024 + 17, off = 0, step = 1;
    char          *src = malloc(total + 2), a[256], b[256];

    (void)state;
    assert_non_null(src);
    for (size_t i = 0; i < total + 2; i++)
        src[i] = (char)(i * 7 + i / 1000);
    md("big1", a, sizeof(a));
    md("big2", b, sizeof(b));
    assert_int_equal(ph_maildir_tx_add(tx, a, src, 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_add(tx, b, src, 2), PH_DELIVER_OK);
    while (off < total) {   /* 1, 4, 13, ... and some past 64 KiB */
        size_t n = total - off < step ? total - off : step;
        assert_int_equal(ph_maildir_tx_write(tx, src + 2 + off, n),
                         PH_DELIVER_OK);
        off += n;
        step = step > 200000 ? 1 : step * 3 + 1;
    }
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    ph_maildir_tx_free(tx);
    /* a holds src[0] + src[2..]; b holds src[0..1] + src[2..]. */
    assert_delivered(b, src, total + 2);
    src[1] = src[0];
    assert_delivered(a, src + 1, total + 1);
    free(src);
}

/*
 * ENOSPC without root: a child enters a user and mount namespace of its
 * own and mounts a 64 KiB tmpfs there. Returns 0, 77 when namespaces are
 * not available here, or the number of the step that went wrong.
 */
static int
enospc_child(const char *fsdir)
{
    char           map[64], dir[512], chunk[10000];
    uid_t          uid = getuid();
    gid_t          gid = getgid();
    ph_maildir_tx *tx;
    int            st = PH_DELIVER_OK, fd;

    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return 77;
    if ((fd = open("/proc/self/setgroups", O_WRONLY)) >= 0) {
        (void)!write(fd, "deny", 4);
        close(fd);
    }
    snprintf(map, sizeof(map), "0 %ld 1", (long)uid);
    if ((fd = open("/proc/self/uid_map", O_WRONLY)) < 0 ||
        write(fd, map, strlen(map)) < 0)
        return 77;
    close(fd);
    snprintf(map, sizeof(map), "0 %ld 1", (long)gid);
    if ((fd = open("/proc/self/gid_map", O_WRONLY)) < 0 ||
        write(fd, map, strlen(map)) < 0)
        return 77;
    close(fd);
    (void)mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    if (mount("ph-test", fsdir, "tmpfs", 0, "size=64k,mode=0700") != 0)
        return 77;
    snprintf(dir, sizeof(dir), "%s/md", fsdir);
    memset(chunk, 'x', sizeof(chunk));
    if ((tx = ph_maildir_tx_new("h")) == NULL)
        return 1;
    if (ph_maildir_tx_add(tx, dir, "p", 1) != PH_DELIVER_OK)
        return 2;
    for (int i = 0; i < 100 && st == PH_DELIVER_OK; i++)
        st = ph_maildir_tx_write(tx, chunk, sizeof(chunk));
    if (st != PH_DELIVER_NOSPACE)
        return 3;
    if (tdu_count(dir, "tmp", NULL) != 0)       /* space given back at once */
        return 4;
    if (ph_maildir_tx_write(tx, "x", 1) != PH_DELIVER_NOSPACE ||
        ph_maildir_tx_commit(tx) != PH_DELIVER_NOSPACE)
        return 5;
    ph_maildir_tx_free(tx);
    return tdu_count(dir, "new", NULL) == 0 ? 0 : 6;
}

static void
test_enospc(void **state)
{
    char  fsdir[256];
    pid_t pid;
    int   status;

    (void)state;
    md("fs", fsdir, sizeof(fsdir));
    assert_int_equal(mkdir(fsdir, 0700), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(enospc_child(fsdir));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();     /* no unprivileged user namespaces here */
    assert_int_equal(WEXITSTATUS(status), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_one_copy),
        T(test_creates_maildir),
        T(test_three_prefixes),
        T(test_same_maildir_twice),
        T(test_missing_parent),
        T(test_free_without_commit),
        T(test_rollback_last_rename),
        T(test_rollback_middle_rename),
        T(test_rollback_first_rename),
        T(test_add_after_write),
        T(test_commit_without_copies),
        T(test_long_host),
        T(test_large_stream),
        T(test_enospc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
