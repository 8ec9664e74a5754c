/*
 * smtp_parse.h -- the pure SMTP parsers: command line, MAIL/RCPT path and
 * parameters, DATA end-of-data + dot-unstuffing, header splitting, reply
 * formatting. No I/O, no allocation, no libevent: unit tests and fuzzers
 * call these directly. Results are spans into the caller's input.
 */
#ifndef PH_SMTP_PARSE_H
#define PH_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ph_span {
    const char *p;
    size_t      len;
};

enum ph_parse_err {
    PH_PARSE_OK = 0,
    PH_PARSE_EMPTY,          /* empty command line */
    PH_PARSE_BAD_CHAR,       /* CR, LF or NUL inside a command line */
    PH_PARSE_BAD_VERB,       /* verb not 1-20 letters/digits/'-' */
    PH_PARSE_NO_KEYWORD,     /* MAIL without FROM:, RCPT without TO: */
    PH_PARSE_BAD_PATH,       /* not <...>, or junk after it */
    PH_PARSE_BAD_LOCAL,      /* local part syntax */
    PH_PARSE_BAD_DOMAIN,     /* domain or address literal syntax */
    PH_PARSE_NULL_NOT_OK,    /* <> where a mailbox is required (RCPT) */
    PH_PARSE_TOO_LONG,       /* RFC 5321 4.5.3.1: local 64, domain 255,
                                path 256 */
    PH_PARSE_BAD_PARAM,      /* esmtp-param syntax (RFC 5321 4.1.2) */
    PH_PARSE_TOO_MANY_PARAMS,
    PH_PARSE_BAD_UTF8,       /* 8-bit bytes that are not valid UTF-8 */
    PH_PARSE__COUNT          /* must be last */
};

/* Static text for an error, for reply lines ("bad domain"). */
const char *ph_parse_strerror(enum ph_parse_err err);

/* ---- command line (RFC 5321 4.1.1) ------------------------------------ */

#define PH_SMTP_MAX_VERB 20

struct ph_smtp_cmd {
    struct ph_span verb;  /* as sent; match case-insensitively */
    struct ph_span arg;   /* after the single SP; may be empty */
};

/* line is one command without its CRLF. */
enum ph_parse_err ph_smtp_parse_cmd(const char *line, size_t len,
                                    struct ph_smtp_cmd *out);

/* ---- BDAT (RFC 3030 2) -------------------------------------------------- */

#define PH_SMTP_MAX_BDAT_DIGITS 20

struct ph_smtp_bdat {
    uint64_t size;  /* octets of the chunk that follows the command */
    bool     last;  /* "LAST": the chunk ends the message */
};

/*
 * arg is the text after "BDAT " ("1000 LAST"): chunk-size is 1*DIGIT, at
 * most 20 digits and UINT64_MAX; the end-marker LAST may be in any case.
 * Spaces around the words are tolerated. PH_PARSE_EMPTY without a size,
 * PH_PARSE_TOO_LONG when the size does not fit, PH_PARSE_BAD_PARAM for
 * anything else. A caller cannot resynchronise after an error: where the
 * chunk ends is unknown.
 */
enum ph_parse_err ph_smtp_parse_bdat(const char *arg, size_t len,
                                     struct ph_smtp_bdat *out);

/* ---- MAIL FROM / RCPT TO path and parameters -------------------------- */

#define PH_SMTP_MAX_PARAMS   16
#define PH_SMTP_MAX_LOCAL    64
#define PH_SMTP_MAX_DOMAIN   255
#define PH_SMTP_MAX_PATH     256

enum ph_path_kind {
    PH_PATH_MAIL,   /* "FROM:" reverse-path; <> allowed */
    PH_PATH_RCPT,   /* "TO:" forward-path; <postmaster> allowed */
};

struct ph_smtp_pparam {
    struct ph_span keyword;
    struct ph_span value;
    bool           has_value;
};

struct ph_smtp_path {
    struct ph_span        mailbox;  /* local@domain, no <> and no source
                                       route; empty for <> */
    struct ph_span        local;
    struct ph_span        domain;   /* empty for <postmaster> */
    bool                  is_null;  /* <> */
    bool                  is_postmaster; /* bare <postmaster> */
    bool                  has_8bit; /* UTF-8 in the mailbox (RFC 6531) */
    size_t                nparams;
    struct ph_smtp_pparam params[PH_SMTP_MAX_PARAMS];
};

/*
 * arg is the text after the verb ("FROM:<a@b.c> SIZE=10"). Spaces after
 * the colon are tolerated (many clients send them); everything else
 * follows RFC 5321 4.1.2 and RFC 6531 (UTF-8 mailboxes are accepted
 * here and flagged in has_8bit: the caller decides whether SMTPUTF8 was
 * given).
 */
enum ph_parse_err ph_smtp_parse_path(const char *arg, size_t len,
                                     enum ph_path_kind kind,
                                     struct ph_smtp_path *out);

/* True if p[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool ph_utf8_valid(const char *p, size_t len);

/* ---- DATA: end-of-data and dot-unstuffing (RFC 5321 4.5.2) ------------ */

enum ph_data_state {
    PH_DATA_BOL = 0,   /* at the start of a line (after CRLF) */
    PH_DATA_TEXT,      /* inside a line */
    PH_DATA_CR,        /* inside a line, after CR */
    PH_DATA_DOT,       /* "." at the start of a line */
    PH_DATA_DOT_CR,    /* ".\r" at the start of a line */
    PH_DATA_DONE,      /* CRLF.CRLF seen */
};

struct ph_smtp_data_reader {
    enum ph_data_state state;
    size_t             line_len;      /* octets of the current line */
    size_t             max_line_len;  /* incl. CRLF; 0 = no limit */
    bool               bare_cr;       /* sticky: CR not before LF seen */
    bool               bare_lf;       /* sticky: LF not after CR seen */
    bool               long_line;     /* sticky: a line over the limit */
    bool               stop_on_flag;  /* return right after a bare CR/LF
                                         or long line is first seen, so
                                         the caller can refuse at once */
};

void ph_smtp_data_init(struct ph_smtp_data_reader *r, size_t max_line_len);

/*
 * Feeds raw DATA bytes. Writes the dot-unstuffed message bytes to out,
 * which must hold len + 2 bytes (a CR or dot held back from the previous
 * call may come out now). Returns the number of input bytes consumed:
 * all of them, or fewer when the end-of-data line ended inside in (then
 * r->state is PH_DATA_DONE and the rest is the next command). Only
 * CR LF "." CR LF ends the data; a bare CR or LF never starts a line.
 */
size_t ph_smtp_data_feed(struct ph_smtp_data_reader *r, const char *in,
                         size_t len, char *out, size_t *out_len);

static inline bool
ph_smtp_data_done(const struct ph_smtp_data_reader *r)
{
    return r->state == PH_DATA_DONE;
}

/* ---- header splitter (RFC 5322 2.2, seed 002 HEADER/EOH/BODY) --------- */

struct ph_smtp_header_cb {
    void (*header)(void *ctx, const char *name, size_t name_len,
                   const char *value, size_t value_len);
    void (*eoh)(void *ctx);
    void (*body)(void *ctx, const char *p, size_t len);
    void  *ctx;
};

struct ph_smtp_header_splitter {
    struct ph_smtp_header_cb cb;
    char   *buf;         /* caller's storage for one unfolded header */
    size_t  cap;
    size_t  pending_len; /* unfolded header so far, in buf[0..) */
    size_t  line_len;    /* current line, after the pending header */
    bool    has_pending;
    bool    in_body;
};

/* buf/cap bound one unfolded header (max_header_len). */
void ph_smtp_header_init(struct ph_smtp_header_splitter *h, char *buf,
                         size_t cap, const struct ph_smtp_header_cb *cb);
/* Message bytes (dot-unstuffed), any split. */
void ph_smtp_header_feed(struct ph_smtp_header_splitter *h, const char *p,
                         size_t len);
/* End of message: flushes what is held; EOH if it was never reached. */
void ph_smtp_header_finish(struct ph_smtp_header_splitter *h);

/* ---- replies (RFC 5321 4.2, RFC 2034) --------------------------------- */

/*
 * Formats a reply into buf: "250-2.0.0 a\r\n250 2.0.0 b\r\n". with_enh
 * adds the enhanced code: enh if it is a valid d.ddd.ddd of the code's
 * class, else "<class>.0.0"; none for 3xx (RFC 3463 has no class 3). Returns the length, or -1 if the code is out
 * of 200..599, a line holds CR, LF or NUL, n is 0 or buf is too small.
 */
int ph_smtp_format_reply(char *buf, size_t cap, int code, const char *enh,
                         const char *const *lines, size_t n, bool with_enh);

/* True if enh is "c.s.d" with c 2,4,5, s 0-999, d 0-999. */
bool ph_smtp_enh_valid(const char *enh);

#endif
