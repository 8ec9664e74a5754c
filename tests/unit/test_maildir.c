/*
 * test_maildir.c -- the Maildir maildrop (src/store/maildir_*.c) through
 * ph_maildir_ops, as the POP3 session uses it: snapshot and order, RFC
 * 1939 sizes and the size cache, UIDs, the lock, streams, deletion. Each
 * test works in its own mkdtemp directory and removes it afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store_internal.h"

struct fx {
    char top[PATH_MAX];     /* the mkdtemp directory */
    char md[PATH_MAX];      /* top/Maildir */
};

static const struct ph_maildrop_ops *ops = &ph_maildir_ops;

static void
rm_rf_at(int dfd, const char *name)
{
    struct dirent *de;
    DIR           *dir;
    int            fd;

    if (unlinkat(dfd, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
        return;
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0)
        return;
    dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rm_rf_at(dirfd(dir), de->d_name);
    }
    closedir(dir);
    unlinkat(dfd, name, AT_REMOVEDIR);
}

static void
fx_path(const struct fx *f, const char *rel, char *buf)
{
    int ret = snprintf(buf, PATH_MAX, "%s/%s", f->md, rel);

    assert_true(ret > 0 && ret < PATH_MAX);
}

static void
mkdir_in(const struct fx *f, const char *rel)
{
    char p[PATH_MAX];

    fx_path(f, rel, p);
    assert_int_equal(mkdir(p, 0700), 0);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->top, "/tmp/ph-maildir-test-XXXXXX");
    assert_non_null(mkdtemp(f->top));
    assert_true(snprintf(f->md, sizeof(f->md), "%s/Maildir", f->top)
                < (int)sizeof(f->md));
    assert_int_equal(mkdir(f->md, 0700), 0);
    mkdir_in(f, "cur");
    mkdir_in(f, "new");
    mkdir_in(f, "tmp");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    rm_rf_at(AT_FDCWD, f->top);
    free(f);
    return 0;
}

static void
put(const struct fx *f, const char *rel, const char *data, size_t len)
{
    char p[PATH_MAX];
    int  fd;

    fx_path(f, rel, p);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void
puts_(const struct fx *f, const char *rel, const char *text)
{
    put(f, rel, text, strlen(text));
}

static void
move(const struct fx *f, const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];

    fx_path(f, from, a);
    fx_path(f, to, b);
    assert_int_equal(rename(a, b), 0);
}

static bool
exists(const struct fx *f, const char *rel)
{
    char        p[PATH_MAX];
    struct stat sb;

    fx_path(f, rel, p);
    return lstat(p, &sb) == 0;
}

static ph_drop *
open_ok(const struct fx *f)
{
    ph_drop *d = NULL;

    assert_int_equal(ops->open(NULL, "user", f->md, &d), PH_DROP_OK);
    assert_non_null(d);
    return d;
}

static struct ph_drop_msg
msg_ok(ph_drop *d, size_t i)
{
    struct ph_drop_msg m;

    assert_int_equal(ops->msg(d, i, &m), PH_DROP_OK);
    return m;
}

static void
test_list_new_cur(void **state)
{
    struct fx *f = *state;
    char       p[PATH_MAX];
    ph_drop   *d;

    puts_(f, "new/100.a.host", "a\n");
    puts_(f, "new/101.b.host", "b\n");
    puts_(f, "cur/102.c.host:2,S", "c\n");
    puts_(f, "tmp/103.d.host", "d\n");         /* being written */
    puts_(f, "new/.104.e.host", "e\n");        /* dot-file */
    mkdir_in(f, "cur/105.dir");                /* not a file */
    fx_path(f, "new/106.link", p);
    assert_int_equal(symlink("100.a.host", p), 0);
    d = open_ok(f);
    assert_int_equal(ops->count(d), 3);
    assert_string_equal(msg_ok(d, 0).uid, "100.a.host");
    assert_string_equal(msg_ok(d, 1).uid, "101.b.host");
    assert_string_equal(msg_ok(d, 2).uid, "102.c.host");
    ops->close(d);
}

static void
test_order(void **state)
{
    struct fx *f = *state;
    ph_drop   *d;

    puts_(f, "cur/1000.a:2,S", "x\n");
    puts_(f, "new/999.b", "x\n");
    puts_(f, "new/1000.Z", "x\n");
    puts_(f, "new/20.c", "x\n");
    puts_(f, "cur/abc:2,", "x\n");             /* no time: sorts first */
    d = open_ok(f);
    assert_int_equal(ops->count(d), 5);
    assert_string_equal(msg_ok(d, 0).uid, "abc");
    assert_string_equal(msg_ok(d, 1).uid, "20.c");
    assert_string_equal(msg_ok(d, 2).uid, "999.b");
    assert_string_equal(msg_ok(d, 3).uid, "1000.Z");
    assert_string_equal(msg_ok(d, 4).uid, "1000.a");
    ops->close(d);
}

/* Within one second, the microseconds in "M<usec>" order the messages as
   numbers (they are not zero-padded): arrival order, not string order. */
static void
test_order_usec(void **state)
{
    struct fx *f = *state;
    ph_drop   *d;

    puts_(f, "new/1000.M123456P7Q2.host", "second\n");
    puts_(f, "new/1000.M98765P7Q1.host", "first\n");
    puts_(f, "cur/1000.M5P9Q1.other:2,S", "zeroth\n");
    d = open_ok(f);
    assert_int_equal(ops->count(d), 3);
    assert_string_equal(msg_ok(d, 0).uid, "1000.M5P9Q1.other");
    assert_string_equal(msg_ok(d, 1).uid, "1000.M98765P7Q1.host");
    assert_string_equal(msg_ok(d, 2).uid, "1000.M123456P7Q2.host");
    ops->close(d);
}

static void
test_sizes(void **state)
{
    struct fx *f = *state;
    size_t     big_len = 65536 + 100, i, nl = 0;
    char      *big = malloc(big_len);
    ph_drop   *d;

    assert_non_null(big);
    /* A CRLF split across the 64 KiB read boundary, and a bare LF right
       at the start of the second block after a non-CR. */
    for (i = 0; i < big_len; i++)
        big[i] = (i % 50 == 49) ? '\n' : 'x';
    big[65535] = '\r';
    big[65536] = '\n';
    for (i = 0; i < big_len; i++)
        nl += big[i] == '\n' && (i == 0 || big[i - 1] != '\r');
    puts_(f, "new/1.lf", "Subject: a\n\nbody\n");
    puts_(f, "new/2.crlf", "Subject: a\r\n\r\nbody\r\n");
    puts_(f, "new/3.mixed", "a\r\nb\nc");
    put(f, "new/4.big", big, big_len);
    puts_(f, "new/5.w,S=5,W=1234:2,S", "abc\n");
    puts_(f, "new/6.empty", "");
    puts_(f, "new/7.lfstart", "\n\n");
    big[65535] = 'x';           /* now a bare LF opens the second block */
    put(f, "new/8.big", big, big_len);
    d = open_ok(f);
    assert_int_equal(msg_ok(d, 0).size, 17 + 3);
    assert_int_equal(msg_ok(d, 1).size, 20);
    assert_int_equal(msg_ok(d, 2).size, 7);
    assert_int_equal(msg_ok(d, 3).size, big_len + nl);
    assert_int_equal(msg_ok(d, 4).size, 1234);
    assert_string_equal(msg_ok(d, 4).uid, "5.w");
    assert_int_equal(msg_ok(d, 5).size, 0);
    assert_int_equal(msg_ok(d, 6).size, 4);
    assert_int_equal(msg_ok(d, 7).size, big_len + nl + 1);
    ops->close(d);
    free(big);
}

static void
test_snapshot(void **state)
{
    struct fx *f = *state;
    ph_drop   *d;

    puts_(f, "new/1.a", "a\n");
    d = open_ok(f);
    puts_(f, "new/2.b", "b\n");
    assert_int_equal(ops->count(d), 1);
    ops->close(d);
    d = open_ok(f);
    assert_int_equal(ops->count(d), 2);
    assert_string_equal(msg_ok(d, 1).uid, "2.b");
    ops->close(d);
}

static void
test_uid_stable(void **state)
{
    struct fx *f = *state;
    ph_drop   *d;

    puts_(f, "new/1234.M1P2.host,S=3", "ab\n");
    d = open_ok(f);
    assert_string_equal(msg_ok(d, 0).uid, "1234.M1P2.host");
    ops->close(d);
    move(f, "new/1234.M1P2.host,S=3", "cur/1234.M1P2.host,S=3:2,RS");
    d = open_ok(f);
    assert_string_equal(msg_ok(d, 0).uid, "1234.M1P2.host");
    assert_int_equal(msg_ok(d, 0).size, 4);
    ops->close(d);
}

static void
test_uid_unique(void **state)
{
    struct fx *f = *state;
    const char *want[] = { "7.dup", "7.dup,2", "7.dup,3", "8.x" };
    ph_drop    *d;
    int         round;
    size_t      i;

    /* Three names share the unique part (copies made by hand). */
    puts_(f, "cur/7.dup:2,S", "a\n");
    puts_(f, "new/7.dup", "b\n");
    puts_(f, "new/7.dup,S=2", "c\n");
    puts_(f, "new/8.x", "d\n");
    for (round = 0; round < 2; round++) {
        d = open_ok(f);
        assert_int_equal(ops->count(d), 4);
        for (i = 0; i < 4; i++)
            assert_string_equal(msg_ok(d, i).uid, want[i]);
        ops->close(d);
    }
}

static void
assert_hashed(const char *uid)
{
    size_t i;

    assert_int_equal(strlen(uid), 18);
    assert_memory_equal(uid, "H,", 2);
    for (i = 2; i < 18; i++)
        assert_non_null(strchr("0123456789abcdef", uid[i]));
}

static void
test_uid_hash(void **state)
{
    struct fx  *f = *state;
    char        long71[80], ok70[80], rel[160], rel2[160];
    char        uid[PH_MD_UID_BUF];
    ph_drop    *d;

    /* FNV-1a 64 vectors: the hash must never change. */
    assert_true(ph_maildir_hash("", 0) == 0xcbf29ce484222325ULL);
    assert_true(ph_maildir_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_int_equal(ph_maildir_uid_base(":2,S", uid), 18);
    assert_string_equal(uid, "H,cbf29ce484222325");
    assert_int_equal(ph_maildir_uid_base("a,S=1:2,", uid), 1);
    assert_string_equal(uid, "a");

    memset(long71, 'u', 71);                /* one too long */
    memcpy(long71, "5.", 2);
    long71[71] = '\0';
    memset(ok70, 'v', 70);                  /* exactly 70: kept */
    memcpy(ok70, "8.", 2);
    ok70[70] = '\0';
    snprintf(rel, sizeof(rel), "new/%s", long71);
    puts_(f, rel, "x\n");
    snprintf(rel2, sizeof(rel2), "new/%s", ok70);
    puts_(f, rel2, "x\n");
    puts_(f, "new/6.a b", "x\n");                   /* space */
    puts_(f, "new/7.\xc3\xa9t\xc3\xa9", "x\n");     /* 8-bit */
    d = open_ok(f);
    assert_int_equal(ops->count(d), 4);
    assert_hashed(msg_ok(d, 0).uid);
    strcpy(uid, msg_ok(d, 0).uid);
    assert_hashed(msg_ok(d, 1).uid);
    assert_hashed(msg_ok(d, 2).uid);
    assert_string_not_equal(msg_ok(d, 1).uid, msg_ok(d, 2).uid);
    assert_string_not_equal(msg_ok(d, 0).uid, msg_ok(d, 1).uid);
    assert_string_equal(msg_ok(d, 3).uid, ok70);
    ops->close(d);
    /* The hash is of the unique part: new -> cur with flags keeps it. */
    snprintf(rel2, sizeof(rel2), "cur/%s:2,RS", long71);
    move(f, rel, rel2);
    d = open_ok(f);
    assert_string_equal(msg_ok(d, 0).uid, uid);
    ops->close(d);
}

static void
write_lock(const struct fx *f, const char *text)
{
    puts_(f, PH_MD_LOCK_NAME, text);
}

static void
test_lock_in_use(void **state)
{
    struct fx *f = *state;
    ph_drop   *d, *d2 = NULL;

    d = open_ok(f);
    assert_true(exists(f, PH_MD_LOCK_NAME));
    /* Same process, second session: flock sees it. */
    assert_int_equal(ops->open(NULL, "user", f->md, &d2), PH_DROP_IN_USE);
    assert_null(d2);
    ops->close(d);
    assert_false(exists(f, PH_MD_LOCK_NAME));
    d = open_ok(f);
    ops->close(d);
}

static void
test_lock_stale(void **state)
{
    struct fx *f = *state;
    char       buf[32], p[PATH_MAX];
    ph_drop   *d;
    pid_t      pid;
    FILE      *fp;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
    write_lock(f, buf);
    d = open_ok(f);
    fx_path(f, PH_MD_LOCK_NAME, p);
    fp = fopen(p, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_int_equal(atol(buf), (long)getpid());
    ops->close(d);
    assert_false(exists(f, PH_MD_LOCK_NAME));
}

static void
test_lock_live_pid(void **state)
{
    struct fx *f = *state;
    char       buf[32];
    ph_drop   *d = NULL;

    /* Only posthorn writes this file, and it holds the flock from before
       the pid is written: a free flock means the holder is gone even if
       its pid now names a live process (a restarted daemon with the same
       pid, e.g. pid 1 in a container, must not lock users out forever). */
    snprintf(buf, sizeof(buf), "%ld\n", (long)getppid());
    write_lock(f, buf);
    d = open_ok(f);
    ops->close(d);
}

static void
test_lock_empty(void **state)
{
    struct fx      *f = *state;
    struct timespec ts[2] = { { .tv_sec = 1000000000 },
                              { .tv_sec = 1000000000 } };
    char            p[PATH_MAX];
    ph_drop        *d = NULL;

    /* Fresh and empty: a creator about to write its pid. */
    write_lock(f, "");
    assert_int_equal(ops->open(NULL, "user", f->md, &d), PH_DROP_IN_USE);
    /* Old and empty: its creator died before writing the pid. */
    fx_path(f, PH_MD_LOCK_NAME, p);
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
    d = open_ok(f);
    ops->close(d);
}

static void
test_lock_hardlink(void **state)
{
    struct fx *f = *state;
    char       victim[PATH_MAX], p[PATH_MAX], buf[32] = "";
    ph_drop   *d = NULL;
    FILE      *fp;

    /* Not a pid, old, free of flock: stale-looking. But it is a hard link
       to another file, which takeover must not truncate. */
    puts_(f, "../victim", "precious\n");
    fx_path(f, "../victim", victim);
    fx_path(f, PH_MD_LOCK_NAME, p);
    assert_int_equal(link(victim, p), 0);
    assert_int_equal(utimensat(AT_FDCWD, p, (struct timespec[2]){
                                   { .tv_sec = 1000000000 },
                                   { .tv_sec = 1000000000 } }, 0), 0);
    assert_int_equal(ops->open(NULL, "user", f->md, &d), PH_DROP_PERM);
    assert_null(d);
    ops->close(NULL);
    fp = fopen(victim, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_string_equal(buf, "precious\n");
}

static void
test_stream(void **state)
{
    struct fx      *f = *state;
    size_t          len = 200000, got = 0, i;
    char           *data = malloc(len), *back = malloc(len + 10);
    ph_drop_stream *st;
    ph_drop        *d;
    ssize_t         n;

    assert_non_null(data);
    assert_non_null(back);
    for (i = 0; i < len; i++)
        data[i] = (char)((i * 7 + i / 13) & 0xff);
    put(f, "cur/1.s:2,S", data, len);
    d = open_ok(f);
    assert_int_equal(ops->stream_open(d, 0, &st), PH_DROP_OK);
    while ((n = ops->stream_read(st, back + got, 999)) > 0)
        got += (size_t)n;
    assert_int_equal(n, 0);
    assert_int_equal(got, len);
    assert_memory_equal(back, data, len);
    ops->stream_close(st);
    ops->stream_close(NULL);
    assert_int_equal(ops->stream_open(d, 1, &st), PH_DROP_PERM);
    ops->close(d);
    free(data);
    free(back);
}

static void
test_moved_during_session(void **state)
{
    struct fx      *f = *state;
    char            buf[16];
    ph_drop_stream *st;
    ph_drop        *d;

    puts_(f, "new/1.m", "hello\n");
    puts_(f, "new/2.m", "bye\n");
    d = open_ok(f);
    /* A local MUA marks them seen while the session runs. */
    move(f, "new/1.m", "cur/1.m:2,S");
    move(f, "new/2.m", "cur/2.m:2,S");
    assert_int_equal(msg_ok(d, 0).size, 7);
    assert_int_equal(ops->stream_open(d, 0, &st), PH_DROP_OK);
    assert_int_equal(ops->stream_read(st, buf, sizeof(buf)), 6);
    ops->stream_close(st);
    assert_int_equal(ops->dele(d, 1), PH_DROP_OK);
    assert_false(exists(f, "cur/2.m:2,S"));
    ops->close(d);
}

static void
test_dele(void **state)
{
    struct fx *f = *state;
    ph_drop   *d;

    puts_(f, "new/1.a", "a\n");
    puts_(f, "cur/2.b:2,S", "b\n");
    d = open_ok(f);
    assert_int_equal(ops->dele(d, 0), PH_DROP_OK);
    assert_false(exists(f, "new/1.a"));
    assert_int_equal(ops->dele(d, 0), PH_DROP_OK);      /* again: fine */
    move(f, "cur/2.b:2,S", "tmp/2.b");                  /* gone from view */
    assert_int_equal(ops->dele(d, 1), PH_DROP_OK);      /* ENOENT = ok */
    assert_int_equal(ops->dele(d, 2), PH_DROP_PERM);
    ops->close(d);
    d = open_ok(f);
    assert_int_equal(ops->count(d), 0);
    ops->close(d);
}

static void
test_vanished(void **state)
{
    struct fx      *f = *state;
    ph_drop_stream *st = (ph_drop_stream *)&st;
    char            p[PATH_MAX];
    ph_drop        *d;

    puts_(f, "new/1.gone", "abc\n");
    d = open_ok(f);
    fx_path(f, "new/1.gone", p);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(msg_ok(d, 0).size, 0);
    assert_string_equal(msg_ok(d, 0).uid, "1.gone");
    assert_int_equal(ops->stream_open(d, 0, &st), PH_DROP_TEMP);
    assert_null(st);
    ops->close(d);
}

static void
test_empty(void **state)
{
    struct fx         *f = *state;
    struct ph_drop_msg m;
    ph_drop           *d;

    d = open_ok(f);
    assert_int_equal(ops->count(d), 0);
    assert_int_equal(ops->msg(d, 0, &m), PH_DROP_PERM);
    ops->close(d);
}

static void
test_missing(void **state)
{
    struct fx  *f = *state;
    struct stat sb;
    char        p[PATH_MAX];
    ph_drop    *d = NULL;

    rm_rf_at(AT_FDCWD, f->md);
    d = open_ok(f);                     /* no mail yet: created, empty */
    assert_int_equal(ops->count(d), 0);
    assert_int_equal(ops->open(NULL, "user", f->md, &(ph_drop *){ NULL }),
                     PH_DROP_IN_USE);
    ops->close(d);
    assert_int_equal(stat(f->md, &sb), 0);
    assert_int_equal(sb.st_mode & 0077, 0);
    assert_true(exists(f, "cur") && exists(f, "new") && exists(f, "tmp"));
    /* The parent is not made: a wrong path is a configuration error. */
    assert_true(snprintf(p, sizeof(p), "%s/no/Maildir", f->top)
                < (int)sizeof(p));
    d = NULL;
    assert_int_equal(ops->open(NULL, "user", p, &d), PH_DROP_PERM);
    assert_null(d);
    assert_int_equal(ops->open(NULL, "user", "", &d), PH_DROP_PERM);
}

static char *
slurp(const struct fx *f, const char *rel)
{
    static const size_t cap = 4096;
    char                p[PATH_MAX], *buf = calloc(1, cap);
    int                 fd;

    fx_path(f, rel, p);
    fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_non_null(buf);
    assert_true(read(fd, buf, cap - 1) >= 0);
    close(fd);
    return buf;
}

static void
test_size_cache(void **state)
{
    struct fx  *f = *state;
    struct stat sb;
    char        p[PATH_MAX], *text;
    ph_drop    *d;

    puts_(f, "new/1.c,S=4", "a\nb\n");
    puts_(f, "cur/2.d:2,S", "abc\n");
    puts_(f, "new/3.w,W=9", "x\n");         /* carries its size */
    d = open_ok(f);
    assert_int_equal(msg_ok(d, 0).size, 6);
    assert_int_equal(msg_ok(d, 1).size, 5);
    assert_int_equal(msg_ok(d, 2).size, 9);
    ops->close(d);
    text = slurp(f, PH_MD_SIZES_NAME);
    assert_string_equal(text, "posthorn-sizes 1\n6 1.c,S=4\n5 2.d\n.\n");
    free(text);
    fx_path(f, PH_MD_SIZES_NAME, p);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_false(exists(f, PH_MD_SIZES_TMP));

    /* Used, not recounted: give a message a different body (never done
       to real Maildir mail) and the cached size stays. */
    puts_(f, "cur/2.d:2,S", "abcdefgh\n");
    move(f, "new/1.c,S=4", "cur/1.c,S=4:2,S");
    d = open_ok(f);
    assert_int_equal(msg_ok(d, 0).size, 6);
    assert_int_equal(msg_ok(d, 1).size, 5);
    assert_int_equal(ops->dele(d, 0), PH_DROP_OK);
    ops->close(d);
    text = slurp(f, PH_MD_SIZES_NAME);
    assert_string_equal(text, "posthorn-sizes 1\n5 2.d\n.\n");
    free(text);

    /* Corrupt or cut short: ignored, recounted, rewritten. */
    puts_(f, PH_MD_SIZES_NAME, "posthorn-sizes 1\n5 2.d\n");
    d = open_ok(f);
    assert_int_equal(msg_ok(d, 0).size, 10);
    ops->close(d);
    puts_(f, PH_MD_SIZES_NAME, "posthorn-sizes 1\nx 2.d\n.\n");
    d = open_ok(f);
    assert_int_equal(msg_ok(d, 0).size, 10);
    ops->close(d);
    text = slurp(f, PH_MD_SIZES_NAME);
    assert_string_equal(text, "posthorn-sizes 1\n10 2.d\n.\n");
    free(text);
}

static void
test_name_helpers(void **state)
{
    size_t n = 0;

    (void)state;
    assert_true(ph_maildir_name_time("1700000000.M1P2.h") == 1700000000u);
    assert_true(ph_maildir_name_time("x1") == 0);
    assert_true(ph_maildir_name_time("99999999999999999999999.x")
                == UINT64_MAX);
    assert_true(ph_maildir_name_wsize("1.a,S=10,W=12:2,S", &n));
    assert_int_equal(n, 12);
    assert_true(ph_maildir_name_wsize("1.a,W=7", &n));
    assert_int_equal(n, 7);
    assert_false(ph_maildir_name_wsize("1.a,W=:2,S", &n));
    assert_false(ph_maildir_name_wsize("1.a,W=1x", &n));
    assert_false(ph_maildir_name_wsize("1.a,S=10:2,W=5", &n));
    assert_false(ph_maildir_name_wsize("1.a,W=99999999999999999999999", &n));
    assert_int_equal(ph_maildir_name_key_len("1.a,S=1:2,S"), 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_new_cur, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_usec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uid_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uid_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uid_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_live_pid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_hardlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_moved_during_session, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dele, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vanished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_cache, setup, teardown),
        cmocka_unit_test(test_name_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
