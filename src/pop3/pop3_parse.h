/*
 * pop3_parse.h -- the pure POP3 parsers: a command line (RFC 1939 3) and
 * the numbers in its arguments. No I/O, no allocation, no libevent: unit
 * tests and fuzzers call these directly. Base64 and SASL are in
 * auth/sasl.h.
 */
#ifndef PH_POP3_PARSE_H
#define PH_POP3_PARSE_H

#include <stddef.h>

#define POP3_MAX_ARGS 8
#define POP3_MAX_VERB 16    /* longest verb taken (RFC 1939: 3-4 letters) */

/* Words of one command line; the pointers are into the caller's line and
   stay valid as long as it does. */
struct pop3_cmd {
    const char *verb;
    size_t      verb_len;
    size_t      argc;
    const char *argv[POP3_MAX_ARGS];
};

/* Splits line (len octets, CRLF removed; line[len] must be writable) in
   place. 0, or -1 for a bad character (CR, LF, NUL) / empty or too long
   verb / too many arguments. */
int ph_pop3_parse_cmd(char *line, size_t len, struct pop3_cmd *out);
/* "1".."n" (decimal digits only, no sign): the 0-based index, or -1 if
   not a number in range. */
long ph_pop3_parse_msgnum(const char *text, size_t nmsgs);
/* Strict unsigned decimal (TOP's line count); -1 if invalid. */
long ph_pop3_parse_count(const char *text);

#endif
