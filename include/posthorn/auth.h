/*
 * auth.h -- password files: Dovecot's passwd-file format, one user a line,
 *   user@domain:{SCHEME}secret[:ignored...]
 * SCHEME is PLAIN, CRYPT, SHA512-CRYPT, SHA256-CRYPT or BLF-CRYPT; a bare
 * crypt(3) string ("$6$...", "$2y$...", "$y$...") is accepted too. '#'
 * starts a comment line; blank lines are ignored. Checks use crypt(3)
 * (libcrypt) or, for PLAIN, a constant-time compare; an unknown user
 * costs as much as a known one. Passwords are never logged or kept.
 */
#ifndef POSTHORN_AUTH_H
#define POSTHORN_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#ifndef PH_API
#define PH_API
#endif

typedef struct ph_passwd ph_passwd;

/* Loads a file. On error returns NULL and writes "FILE:LINE: reason" into
   err (if given). A file that does not exist is an error too. */
PH_API ph_passwd *ph_passwd_load(const char *path, char *err, size_t err_len);
PH_API void ph_passwd_free(ph_passwd *pw);

/* The canonical "user@domain" for a login name: "user@domain" as given
   (domain case-insensitive), or a bare "user" that exactly one domain
   has. NULL if unknown or ambiguous. Valid until ph_passwd_free(). */
PH_API const char *ph_passwd_lookup(const ph_passwd *pw, const char *login);
/* True if login (as for lookup) exists and password is right. */
PH_API bool ph_passwd_verify(const ph_passwd *pw, const char *login,
                             const char *password);
/* Whether local@domain is in the file (local part case-insensitive). */
PH_API bool ph_passwd_has(const ph_passwd *pw, const char *local,
                          const char *domain);
/* The distinct domains of the file, lower case, in file order. */
PH_API size_t ph_passwd_domain_count(const ph_passwd *pw);
PH_API const char *ph_passwd_domain(const ph_passwd *pw, size_t i);
/* Number of users. */
PH_API size_t ph_passwd_count(const ph_passwd *pw);

/*
 * A limiter of failed logins by client address (IPv6: by /64), for SMTP
 * AUTH and POP3 logins alike. Each server makes its own from its limits;
 * a program with several servers (submission, SMTPS, POP3, POP3S) makes
 * one and hands it to all of them (the auth_guard option of smtp.h and
 * pop3.h), so that a client gets max_failures_per_addr guesses in all,
 * not that many on every port. After max failures, each less than
 * window_s seconds after the one before, the address is refused until
 * window_s seconds have passed. 0 in either disables it. One loop's
 * thread only. Free it after the servers that use it.
 */
typedef struct ph_auth_guard ph_auth_guard;
PH_API ph_auth_guard *ph_auth_guard_new(unsigned max_failures_per_addr,
                                        unsigned window_s);
PH_API void ph_auth_guard_free(ph_auth_guard *g);

/* Writes a SHA512-CRYPT line "user:{SHA512-CRYPT}$6$..." for password
   into buf (for first-run setup and tools). 0 or enum ph_err. */
PH_API int ph_passwd_make_line(const char *user, const char *password,
                               char *buf, size_t cap);

#endif
