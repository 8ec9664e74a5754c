/*
 * tls.c -- server TLS contexts: an OpenSSL SSL_CTX built from PEM files,
 * rebuilt on reload. Every connection's SSL holds a reference to the
 * SSL_CTX it started with, so swapping the pointer never disturbs a
 * running session; the old SSL_CTX goes when its last session ends.
 */
#include "core/core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct ph_tls_ctx {
    SSL_CTX *ssl_ctx;
    char    *cert_file, *key_file, *ciphers, *ciphersuites;
    bool     tls13_only;
};

/* "what: the first OpenSSL error" into err; clears the error queue. */
static void
tls_error(char *err, size_t err_len, const char *what, const char *fallback)
{
    unsigned long e = ERR_get_error();
    char          reason[200];

    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    else
        snprintf(reason, sizeof(reason), "%s", fallback);
    ERR_clear_error();
    if (err != NULL && err_len > 0)
        snprintf(err, err_len, "%s: %s", what, reason);
}

static SSL_CTX *
tls_build(const struct ph_tls_ctx *t, char *err, size_t err_len)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        tls_error(err, err_len, "SSL_CTX_new", "out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, t->tls13_only ? TLS1_3_VERSION
                                                     : TLS1_2_VERSION);
    /* No renegotiation (a DoS lever, and nothing in mail needs it); the
       server's cipher order; idle sessions give back their buffers. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                        SSL_OP_CIPHER_SERVER_PREFERENCE |
                        SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"posthorn",
                                   8);
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1) {
        tls_error(err, err_len, t->cert_file, "cannot load certificate");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM)
        != 1) {
        tls_error(err, err_len, t->key_file, "cannot load private key");
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_error(err, err_len, t->key_file,
                  "key does not match certificate");
        goto fail;
    }
    if (t->ciphers && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) {
        tls_error(err, err_len, "ciphers", "no usable cipher");
        goto fail;
    }
    if (t->ciphersuites &&
        SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) {
        tls_error(err, err_len, "ciphersuites", "no usable suite");
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static int
dup_opt(char **dst, const char *src)
{
    free(*dst);
    *dst = NULL;
    if (src != NULL && (*dst = strdup(src)) == NULL)
        return PH_ENOMEM;
    return 0;
}

static int
tls_set_files(struct ph_tls_ctx *t, const struct ph_tls_options *o)
{
    t->tls13_only = o->tls13_only;
    if (dup_opt(&t->cert_file, o->cert_file) || dup_opt(&t->key_file,
        o->key_file) || dup_opt(&t->ciphers, o->ciphers) ||
        dup_opt(&t->ciphersuites, o->ciphersuites))
        return PH_ENOMEM;
    return 0;
}

static void
tls_free_strings(struct ph_tls_ctx *t)
{
    free(t->cert_file);
    free(t->key_file);
    free(t->ciphers);
    free(t->ciphersuites);
}

ph_tls_ctx *
ph_tls_ctx_new(const struct ph_tls_options *opts, char *err, size_t err_len)
{
    struct ph_tls_ctx *t;

    if (opts == NULL || opts->cert_file == NULL || opts->key_file == NULL) {
        if (err && err_len)
            snprintf(err, err_len, "a certificate and a key are needed");
        return NULL;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL || tls_set_files(t, opts)) {
        if (err && err_len)
            snprintf(err, err_len, "out of memory");
        ph_tls_ctx_free(t);
        return NULL;
    }
    if ((t->ssl_ctx = tls_build(t, err, err_len)) == NULL) {
        ph_tls_ctx_free(t);
        return NULL;
    }
    return t;
}

int
ph_tls_ctx_reload(ph_tls_ctx *t, const struct ph_tls_options *opts,
                  char *err, size_t err_len)
{
    struct ph_tls_ctx next = { 0 };
    SSL_CTX          *ctx;

    if (t == NULL)
        return PH_EINVAL;
    if (tls_set_files(&next, opts ? opts : &(struct ph_tls_options){
            .cert_file = t->cert_file, .key_file = t->key_file,
            .ciphers = t->ciphers, .ciphersuites = t->ciphersuites,
            .tls13_only = t->tls13_only }) != 0) {
        tls_free_strings(&next);
        return PH_ENOMEM;
    }
    if ((ctx = tls_build(&next, err, err_len)) == NULL) {
        tls_free_strings(&next);
        return PH_EIO;
    }
    /* Running sessions hold their own reference to the old SSL_CTX. */
    SSL_CTX_free(t->ssl_ctx);
    t->ssl_ctx = ctx;
    tls_free_strings(t);
    t->cert_file = next.cert_file;
    t->key_file = next.key_file;
    t->ciphers = next.ciphers;
    t->ciphersuites = next.ciphersuites;
    t->tls13_only = next.tls13_only;
    return 0;
}

void
ph_tls_ctx_free(ph_tls_ctx *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ssl_ctx);
    tls_free_strings(t);
    free(t);
}

struct ssl_ctx_st *
ph_tls_ctx_ssl(ph_tls_ctx *t)
{
    return t ? t->ssl_ctx : NULL;
}
