/*
 * tmpdir_testutil.c -- see tmpdir_testutil.h.
 */
#define _XOPEN_SOURCE 700
#include "tmpdir_testutil.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
tdu_make(char *dir, size_t cap, const char *tag)
{
    int n = snprintf(dir, cap, "/tmp/ph-%s-XXXXXX", tag);

    if (n < 0 || (size_t)n >= cap)
        return -1;
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int
rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

int
tdu_remove(const char *dir)
{
    return nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

int
tdu_count(const char *dir, const char *sub, char *name_out)
{
    char           path[1024];
    DIR           *d;
    struct dirent *e;
    int            n = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (name_out != NULL)
            snprintf(name_out, 256, "%s", e->d_name);
    }
    closedir(d);
    return n;
}
