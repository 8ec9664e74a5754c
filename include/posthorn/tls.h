/*
 * tls.h -- server-side TLS contexts (OpenSSL 3) for STARTTLS (RFC 3207),
 * STLS (RFC 2595) and implicit TLS listeners (RFC 8314).
 *
 * A context is made from a PEM certificate chain and a PEM private key.
 * It is shared by any number of servers; a server keeps a pointer, so the
 * context must outlive them. ph_tls_ctx_reload() swaps in new files
 * without dropping sessions: handshakes after the reload use the new
 * certificate, sessions already running keep theirs.
 *
 * Threading: like everything else, one loop's thread; reload from it.
 */
#ifndef POSTHORN_TLS_H
#define POSTHORN_TLS_H

#include <stdbool.h>
#include <stddef.h>

#ifndef PH_API
#define PH_API
#endif

typedef struct ph_tls_ctx ph_tls_ctx;

struct ph_tls_options {
    const char *cert_file;    /* PEM chain, leaf first (required) */
    const char *key_file;     /* PEM private key (required) */
    const char *ciphers;      /* TLS 1.2 cipher list; NULL: OpenSSL's
                                 defaults */
    const char *ciphersuites; /* TLS 1.3 suites; NULL: OpenSSL's */
    bool        tls13_only;   /* minimum TLS 1.3 instead of 1.2 */
};

/* What a session negotiated; strings owned by OpenSSL, valid while the
   session lives. */
struct ph_tls_info {
    const char *protocol;     /* "TLSv1.3" */
    const char *cipher;       /* "TLS_AES_256_GCM_SHA384" */
    int         bits;         /* secret bits of the cipher */
};

/* New context. On failure NULL, and a reason ("cert.pem: no such file",
   "key does not match certificate") in err. */
PH_API ph_tls_ctx *ph_tls_ctx_new(const struct ph_tls_options *opts,
                                  char *err, size_t err_len);
/* Re-reads the files given at creation (or opts, when not NULL). On
   failure the old certificate stays in use: 0 or enum ph_err, with the
   reason in err. */
PH_API int ph_tls_ctx_reload(ph_tls_ctx *t, const struct ph_tls_options *opts,
                             char *err, size_t err_len);
/* After every server using it is freed. NULL is ok. */
PH_API void ph_tls_ctx_free(ph_tls_ctx *t);

#endif
