/*
 * store_internal.h -- the Maildir maildrop's private types and the calls
 * its three files share: maildir_drop.c (snapshot, sizes, streams,
 * deletion), maildir_uid.c (what a file name tells: time, size, UID) and
 * maildir_lock.c (the per-Maildir POP3 lock). Never installed.
 */
#ifndef PH_STORE_INTERNAL_H
#define PH_STORE_INTERNAL_H

#include "posthorn/posthorn.h"
#include "posthorn/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PH_MD_UID_MAX     70                  /* RFC 1939 7: 1*70 */
#define PH_MD_UID_BUF     (PH_MD_UID_MAX + 1)
#define PH_MD_LOCK_NAME   "posthorn-pop3.lock"
#define PH_MD_SIZES_NAME  "posthorn-sizes"
#define PH_MD_SIZES_TMP   "posthorn-sizes.tmp"
#define PH_MD_IOBUF       65536               /* read(2) block size */

/* Where an entry's size came from; only READ and CACHE go to the cache
   file (a ",W=" name carries its own, a vanished file has none). */
enum ph_md_size_src {
    PH_MD_SIZE_NONE = 0,        /* not known yet: computed on first msg() */
    PH_MD_SIZE_NAME,            /* the name's ",W=<n>" */
    PH_MD_SIZE_READ,            /* counted this session */
    PH_MD_SIZE_CACHE,           /* from posthorn-sizes */
    PH_MD_SIZE_GONE,            /* the file vanished: 0 */
};

/*
 * One message of the snapshot. Strings are offsets into the drop's
 * string block, which grows only while open() builds the snapshot, so
 * pointers handed out afterwards stay valid until close().
 */
struct ph_md_entry {
    uint64_t     time;          /* leading integer of the name */
    const char  *sort_name;     /* valid only while open() sorts */
    size_t       size;          /* octets as sent (CRLF), if size_src */
    uint32_t     name_off;      /* base name (no "new/" or "cur/") */
    uint32_t     uid_off;       /* UID; may equal name_off */
    uint32_t     key_len;       /* name up to ':': never changes */
    uint8_t      in_cur;        /* 0: new/, 1: cur/ */
    uint8_t      size_src;      /* enum ph_md_size_src */
    uint8_t      is_deleted;
};

/* The Maildir maildrop: owned by the POP3 session from open() to close(),
   which frees everything here. */
struct ph_drop {
    int                 dirfd;      /* the Maildir; paths are relative */
    int                 lockfd;     /* held posthorn-pop3.lock, or -1 */
    struct ph_md_entry *v;          /* the snapshot, in delivery order */
    size_t              n, cap;
    char               *strs;       /* NUL-terminated names and UIDs */
    size_t              strs_len, strs_cap;
    char               *iobuf;      /* PH_MD_IOBUF bytes, made on need */
    bool                is_cache_dirty;
};

/* maildir_drop.c: appends len bytes of s plus a NUL to the string block;
   -1 on ENOMEM or past 4 GiB. */
int ph_maildir_strs_add(struct ph_drop *d, const char *s, size_t len,
                        uint32_t *off_out);

/* maildir_uid.c: file names. name is a base name, NUL-terminated. */
uint64_t ph_maildir_name_time(const char *name);
size_t ph_maildir_name_key_len(const char *name);
bool ph_maildir_name_wsize(const char *name, size_t *size_out);
uint64_t ph_maildir_hash(const char *p, size_t len);
/* The UID this name would get alone: writes at most PH_MD_UID_BUF bytes
   to out, returns the length (1-70). */
size_t ph_maildir_uid_base(const char *name, char *out);
/* Sets every entry's uid_off, in snapshot order, making duplicates
   unique. 0, or -1 on ENOMEM. */
int ph_maildir_uid_assign(struct ph_drop *d);

/* maildir_lock.c: takes the lock in the Maildir open as dirfd and
   stores its descriptor; unlock removes it. */
enum ph_drop_status ph_maildir_lock(int dirfd, int *fd_out);
void ph_maildir_unlock(int dirfd, int fd);

#endif
