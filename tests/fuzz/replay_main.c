/*
 * replay_main.c -- runs a fuzz target without libFuzzer: every regular
 * file in the directories (or the files) named on the command line goes
 * through LLVMFuzzerTestOneInput once. CTest uses it to replay the seed
 * corpora, so CI checks them without clang (STYLE 11).
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one file; -1 if it could not be read. */
static int
replay_file(const char *path)
{
    FILE    *f = fopen(path, "rb");
    uint8_t *buf;
    long     len;
    int      rc = -1;

    if (f == NULL)
        return -1;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        goto out;
    /* An exact-size copy, so ASan sees reads past the input. */
    buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf == NULL)
        goto out;
    if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
        LLVMFuzzerTestOneInput(buf, (size_t)len);
        rc = 0;
    }
    free(buf);
out:
    fclose(f);
    return rc;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order. Returns files run, -1. */
static int
replay_dir(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    char         **names = NULL, path[4096];
    size_t         n = 0, cap = 0, i;
    int            count = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) *
                                       sizeof(*names));
            if (nn == NULL)
                break;
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (names[n] != NULL)
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    for (i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(path) != 0) {
                fprintf(stderr, "cannot read %s\n", path);
                count = -1;
                break;
            }
            count++;
        }
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return count;
}

int
main(int argc, char **argv)
{
    int i, total = 0;

    for (i = 1; i < argc; i++) {
        struct stat st;
        int         n;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: not found\n", argv[i]);
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]);
        if (n < 0) {
            fprintf(stderr, "%s: cannot replay\n", argv[i]);
            return 1;
        }
        total += S_ISDIR(st.st_mode) ? n : 1;
    }
    printf("replayed %d inputs\n", total);
    /* An empty corpus proves nothing: fail so a lost directory shows. */
    return total > 0 ? 0 : 1;
}
