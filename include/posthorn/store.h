/*
 * store.h -- maildrops: what a POP3 session reads (RFC 1939), as an ops
 * table the program may implement, and the library's Maildir
 * implementation (https://cr.yp.to/proto/maildir.html).
 *
 * A maildrop is opened and locked for one session, listed once (the
 * snapshot: mail arriving later is not shown until the next open), read
 * message by message as a stream, and closed. Deletion happens only when
 * the POP3 session reaches UPDATE: the session calls dele() then, for each
 * message marked, and then close().
 */
#ifndef POSTHORN_STORE_H
#define POSTHORN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifndef PH_API
#define PH_API
#endif

/* Result of maildrop operations. */
enum ph_drop_status {
    PH_DROP_OK       = 0,
    PH_DROP_IN_USE   = 1,   /* locked by another session: -ERR [IN-USE] */
    PH_DROP_TEMP     = 2,   /* temporary failure: -ERR [SYS/TEMP] */
    PH_DROP_PERM     = 3,   /* permanent failure: -ERR [SYS/PERM] */
};

/* One message of the snapshot. */
struct ph_drop_msg {
    size_t      size;      /* octets as sent: CRLF line ends, before
                              dot-stuffing (RFC 1939 LIST/STAT) */
    const char *uid;       /* unique, stable, 1-70 chars 0x21-0x7E */
};

typedef struct ph_drop        ph_drop;         /* the implementation's */
typedef struct ph_drop_stream ph_drop_stream;  /* one message being read */

/*
 * Every call is synchronous and may block on local disk only. Pointers
 * returned stay valid until close().
 */
struct ph_maildrop_ops {
    /* Opens and locks the maildrop named by locator (for Maildir: its
       directory) for user, and takes the snapshot. */
    enum ph_drop_status (*open)(void *ctx, const char *user,
                                const char *locator, ph_drop **drop_out);
    /* Number of messages in the snapshot, and message i (0-based). */
    size_t (*count)(ph_drop *d);
    enum ph_drop_status (*msg)(ph_drop *d, size_t i,
                               struct ph_drop_msg *out);
    /* Streams message i's raw bytes (LF or CRLF line ends; the session
       converts to CRLF and dot-stuffs). read returns bytes read, 0 at
       the end, -1 on error. */
    enum ph_drop_status (*stream_open)(ph_drop *d, size_t i,
                                       ph_drop_stream **st_out);
    ssize_t (*stream_read)(ph_drop_stream *st, char *buf, size_t cap);
    void (*stream_close)(ph_drop_stream *st);
    /* Removes message i for good (called only in UPDATE). */
    enum ph_drop_status (*dele)(ph_drop *d, size_t i);
    /* Unlocks and frees. */
    void (*close)(ph_drop *d);
};

/* The library's Maildir maildrop. ctx: NULL. The locator is the Maildir
   directory (holding cur/, new/, tmp/). Messages in new/ and cur/ are
   served; UIDs are the file names' unique part (before ':' and ','),
   or a hash of it when that is not 1-70 printable characters. A lock file
   in the Maildir turns a second session away (PH_DROP_IN_USE); a lock
   left by a dead process is taken over. */
PH_API extern const struct ph_maildrop_ops ph_maildir_ops;

/* ---- delivery into Maildirs (what an MDA does) -------------------------
 *
 * One message to several Maildirs, all or nothing (RFC 5321 "250 means
 * stored"): each recipient's copy is written to tmp/ (O_CREAT|O_EXCL,
 * mode 0600), fsync'ed, then -- only when every copy is complete -- each
 * is renamed into new/ under a unique name
 * "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>" and every new/ directory is
 * fsync'ed. If anything fails, every copy is removed (also those already
 * renamed), so new/ never holds a partial delivery. Missing Maildirs (and
 * their cur/ new/ tmp/) are created with mode 0700; their parent must
 * exist.
 */
enum ph_deliver_status {
    PH_DELIVER_OK      = 0,
    PH_DELIVER_TEMP    = 1,   /* I/O error: SMTP 451 4.3.0 */
    PH_DELIVER_NOSPACE = 2,   /* ENOSPC/EDQUOT: SMTP 452 4.3.1 */
};

typedef struct ph_maildir_tx ph_maildir_tx;

/* host: the name used in file names ('/' and ':' are replaced). */
PH_API ph_maildir_tx *ph_maildir_tx_new(const char *host);
/* Adds a recipient Maildir; prefix (may be NULL) is written to this copy
   only, before the common bytes (e.g. a Received: header "for" it). */
PH_API enum ph_deliver_status ph_maildir_tx_add(ph_maildir_tx *tx,
                                                const char *maildir,
                                                const char *prefix,
                                                size_t prefix_len);
/* Appends the same bytes to every copy (buffered). */
PH_API enum ph_deliver_status ph_maildir_tx_write(ph_maildir_tx *tx,
                                                  const void *p, size_t len);
/* Makes every copy durable and visible, or none. */
PH_API enum ph_deliver_status ph_maildir_tx_commit(ph_maildir_tx *tx);
/* Frees; a transaction not committed is rolled back (tmp files removed).
   NULL is ok. */
PH_API void ph_maildir_tx_free(ph_maildir_tx *tx);

#endif
