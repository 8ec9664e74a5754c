/*
 * test_maildir_deliver.c -- ph_maildir_tx: every copy durable in new/ or
 * none (rollback also of copies already renamed), unique Maildir names
 * with ,S=<size>, per-copy prefixes, modes 0600/0700, large streams.
 */
#define _XOPEN_SOURCE 700   /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posthorn/posthorn.h"

static char root[64];

static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static int
setup(void **state)
{
    (void)state;
    strcpy(root, "/tmp/ph-deliver-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    return nftw(root, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static void
md(const char *name, char *out)
{
    snprintf(out, 256, "%s/%s", root, name);
}

/* Number of entries in dir/sub; the last name into name_out if given. */
static int
count(const char *dir, const char *sub, char *name_out)
{
    char           path[1024];
    DIR           *d;
    struct dirent *e;
    int            n = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        if (name_out)
            strcpy(name_out, e->d_name);
    }
    closedir(d);
    return n;
}

static char *
slurp(const char *dir, const char *name, size_t *len)
{
    char  path[1024];
    FILE *f;
    char *buf;
    long  n;

    snprintf(path, sizeof(path), "%s/new/%s", dir, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void
test_one_copy(void **state)
{
    char           dir[256], name[256], path[1024];
    ph_maildir_tx *tx = ph_maildir_tx_new("host/with:odd");
    struct stat    st;
    regex_t        re;
    size_t         len;
    char          *data;

    (void)state;
    md("alice", dir);
    assert_int_equal(ph_maildir_tx_add(tx, dir, "P: 1\r\n", 6),
                     PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "body\r\n", 6), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    ph_maildir_tx_free(tx);
    assert_int_equal(count(dir, "new", name), 1);
    assert_int_equal(count(dir, "tmp", NULL), 0);
    assert_int_equal(count(dir, "cur", NULL), 0);
    assert_int_equal(regcomp(&re, "^[0-9]+\\.M[0-9]+P[0-9]+Q[0-9]+\\."
                             "host\\\\057with\\\\072odd,S=12$",
                             REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal(regexec(&re, name, 0, NULL, 0), 0);
    regfree(&re);
    assert_null(strchr(name, ':'));
    data = slurp(dir, name, &len);
    assert_int_equal(len, 12);
    assert_memory_equal(data, "P: 1\r\nbody\r\n", 12);
    free(data);
    snprintf(path, sizeof(path), "%s/new/%s", dir, name);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void
test_three_prefixes(void **state)
{
    const char    *who[] = { "a", "b", "c" };
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           dir[256], name[256], prefix[32];
    size_t         len;

    (void)state;
    for (int i = 0; i < 3; i++) {
        md(who[i], dir);
        snprintf(prefix, sizeof(prefix), "For: %s\r\n", who[i]);
        assert_int_equal(ph_maildir_tx_add(tx, dir, prefix, strlen(prefix)),
                         PH_DELIVER_OK);
    }
    assert_int_equal(ph_maildir_tx_write(tx, "x", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    ph_maildir_tx_free(tx);
    for (int i = 0; i < 3; i++) {
        char *data;
        md(who[i], dir);
        assert_int_equal(count(dir, "new", name), 1);
        snprintf(prefix, sizeof(prefix), "For: %s\r\nx", who[i]);
        data = slurp(dir, name, &len);
        assert_int_equal(len, strlen(prefix));
        assert_memory_equal(data, prefix, len);
        free(data);
    }
}

static void
test_missing_parent(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           dir[256];

    (void)state;
    md("no/such/parent", dir);
    assert_int_equal(ph_maildir_tx_add(tx, dir, NULL, 0), PH_DELIVER_TEMP);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_TEMP);
    ph_maildir_tx_free(tx);
    assert_int_equal(count(root, ".", NULL), 0);    /* nothing created */
}

static void
test_free_without_commit(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           dir[256];

    (void)state;
    md("bob", dir);
    assert_int_equal(ph_maildir_tx_add(tx, dir, "p", 1), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "data", 4), PH_DELIVER_OK);
    assert_int_equal(count(dir, "tmp", NULL), 1);
    ph_maildir_tx_free(tx);
    assert_int_equal(count(dir, "tmp", NULL), 0);
    assert_int_equal(count(dir, "new", NULL), 0);
}

/* The second recipient's new/ is broken after add: its rename fails, and
   the first recipient's copy, already in new/, must be taken back. */
static void
test_rollback_after_rename(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    char           a[256], b[256], path[1024];
    FILE          *f;

    (void)state;
    md("first", a);
    md("second", b);
    assert_int_equal(ph_maildir_tx_add(tx, a, NULL, 0), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_add(tx, b, NULL, 0), PH_DELIVER_OK);
    assert_int_equal(ph_maildir_tx_write(tx, "m", 1), PH_DELIVER_OK);
    snprintf(path, sizeof(path), "%s/new", b);
    assert_int_equal(rmdir(path), 0);
    f = fopen(path, "w");           /* a file where new/ should be */
    assert_non_null(f);
    fclose(f);
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_TEMP);
    ph_maildir_tx_free(tx);
    assert_int_equal(count(a, "new", NULL), 0);
    assert_int_equal(count(a, "tmp", NULL), 0);
    assert_int_equal(count(b, "tmp", NULL), 0);
}

static void
test_large_stream(void **state)
{
    ph_maildir_tx *tx = ph_maildir_tx_new("h");
    size_t         total = 3 * 1024 * 1024 + 17, off = 0, len, step = 1;
    char          *src = malloc(total), *data, dir[256], name[256];

    (void)state;
    for (size_t i = 0; i < total; i++)
        src[i] = (char)(i * 7 + i / 1000);
    md("big", dir);
    assert_int_equal(ph_maildir_tx_add(tx, dir, NULL, 0), PH_DELIVER_OK);
    while (off < total) {                   /* odd-sized pieces */
        size_t n = total - off < step ? total - off : step;
        assert_int_equal(ph_maildir_tx_write(tx, src + off, n),
                         PH_DELIVER_OK);
        off += n;
        step = step * 3 + 1;
    }
    assert_int_equal(ph_maildir_tx_commit(tx), PH_DELIVER_OK);
    ph_maildir_tx_free(tx);
    assert_int_equal(count(dir, "new", name), 1);
    data = slurp(dir, name, &len);
    assert_int_equal(len, total);
    assert_memory_equal(data, src, total);
    free(data);
    free(src);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_prefixes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_without_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rollback_after_rename, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_large_stream, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
