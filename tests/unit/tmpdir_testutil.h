/*
 * tmpdir_testutil.h -- a fresh directory per test, removed afterwards,
 * and counting what a Maildir subdirectory holds: for the tests that
 * deliver into real Maildirs (test_maildir_deliver, test_durability).
 */
#ifndef PH_TMPDIR_TESTUTIL_H
#define PH_TMPDIR_TESTUTIL_H

#include <stddef.h>

/* mkdtemp of "/tmp/ph-<tag>-XXXXXX" into dir (cap bytes). 0 or -1. */
int tdu_make(char *dir, size_t cap, const char *tag);
/* Removes dir and everything below it (links not followed). 0 or -1. */
int tdu_remove(const char *dir);
/* Entries of dir/sub but "." and ".." (-1 if it cannot be read); the
   last one's name into name_out (256 bytes) if given. */
int tdu_count(const char *dir, const char *sub, char *name_out);

#endif
