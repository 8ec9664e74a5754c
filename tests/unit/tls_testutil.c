/*
 * tls_testutil.c -- see tls_testutil.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls_testutil.h"

static int
write_cert(const char *cert, const char *key)
{
    EVP_PKEY  *pk = EVP_EC_gen("P-256");
    X509      *x = X509_new();
    X509_NAME *name;
    FILE      *fc = fopen(cert, "w"), *fk = fopen(key, "w");
    int        ok;

    ok = pk && x && fc && fk &&
         ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
         X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
         X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
         X509_set_pubkey(x, pk) && (name = X509_get_subject_name(x)) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"localhost",
                                    -1, -1, 0) &&
         X509_set_issuer_name(x, name) && X509_sign(x, pk, EVP_sha256()) &&
         PEM_write_X509(fc, x) &&
         PEM_write_PrivateKey(fk, pk, NULL, NULL, 0, NULL, NULL);
    if (fc)
        fclose(fc);
    if (fk)
        fclose(fk);
    X509_free(x);
    EVP_PKEY_free(pk);
    return ok ? 0 : -1;
}

ph_tls_ctx *ttu_tls;

static ph_tls_ctx *
server_ctx(void)
{
    char        dir[] = "/tmp/ph-unit-tls-XXXXXX", cert[64], key[64];
    char        err[256] = "cannot write the certificate";
    ph_tls_ctx *t = NULL;

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return NULL;
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    if (write_cert(cert, key) == 0)
        t = ph_tls_ctx_new(&(struct ph_tls_options){
            .cert_file = cert, .key_file = key }, err, sizeof(err));
    unlink(cert);
    unlink(key);
    rmdir(dir);
    if (t == NULL)
        fprintf(stderr, "TLS context: %s\n", err);
    return t;
}

int
ttu_group_setup(void **state)
{
    (void)state;
    ttu_tls = server_ctx();
    return ttu_tls ? 0 : -1;
}

int
ttu_group_teardown(void **state)
{
    (void)state;
    ph_tls_ctx_free(ttu_tls);
    ttu_tls = NULL;
    return 0;
}

int
ttu_client_open(struct ttu_client *c, ph_loop *loop)
{
    int sv[2];

    memset(c, 0, sizeof(*c));
    c->loop = loop;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    c->fd = sv[1];
    return sv[0];
}

void
ttu_client_close(struct ttu_client *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

const char *
ttu_say(struct ttu_client *c, const char *text)
{
    size_t  len = 0;
    ssize_t n;

    if (text)
        assert_int_equal(send(c->fd, text, strlen(text), 0),
                         (ssize_t)strlen(text));
    for (int i = 0; i < 20; i++) {
        event_base_loop(ph_loop_base(c->loop), EVLOOP_NONBLOCK);
        while ((n = recv(c->fd, c->out + len, sizeof(c->out) - 1 - len,
                         MSG_DONTWAIT)) > 0)
            len += (size_t)n;
    }
    c->out[len] = '\0';
    return c->out;
}

void
ttu_handshake(struct ttu_client *c)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    int      rc = 0;

    assert_non_null(cctx);
    c->ssl = SSL_new(cctx);
    SSL_CTX_free(cctx);         /* the SSL keeps its own reference */
    assert_non_null(c->ssl);
    SSL_set_fd(c->ssl, c->fd);
    for (int i = 0; i < 2000 && rc != 1; i++) {
        rc = SSL_connect(c->ssl);
        if (rc != 1) {
            int e = SSL_get_error(c->ssl, rc);
            assert_true(e == SSL_ERROR_WANT_READ ||
                        e == SSL_ERROR_WANT_WRITE);
            event_base_loop(ph_loop_base(c->loop), EVLOOP_NONBLOCK);
            usleep(200);
        }
    }
    assert_int_equal(rc, 1);
}

const char *
ttu_tls_say(struct ttu_client *c, const char *text)
{
    size_t len = 0;
    int    n;

    if (text)
        assert_int_equal(SSL_write(c->ssl, text, (int)strlen(text)),
                         (int)strlen(text));
    for (int i = 0; i < 40; i++) {
        event_base_loop(ph_loop_base(c->loop), EVLOOP_NONBLOCK);
        while ((n = SSL_read(c->ssl, c->out + len,
                             (int)(sizeof(c->out) - 1 - len))) > 0)
            len += (size_t)n;
        usleep(100);
    }
    c->out[len] = '\0';
    return c->out;
}
