/*
 * tlsconf.c -- posthornd's TLS context: made once from --tls-cert and
 * --tls-key before privileges are dropped, shared by every SMTP,
 * submission and POP3 server, and re-read on SIGHUP (sessions already
 * running keep their certificate; a bad new pair keeps the old one).
 */
#include "posthornd/posthornd.h"

#include <stdio.h>
#include <string.h>

int
pd_tls_start(struct pd *d)
{
    const struct pd_config *c = &d->cfg;
    char                    err[256];

    if (c->tls_cert == NULL && c->tls_key == NULL) {
        if (c->smtps.n || c->pop3s.n) {
            fprintf(stderr, "posthornd: --smtps and --pop3s need "
                    "--tls-cert and --tls-key\n");
            return -1;
        }
        /* Submission is where passwords are sent: never in clear by
           accident (the library would offer AUTH on plaintext). */
        if (c->submission.n && !c->auth_plaintext) {
            fprintf(stderr, "posthornd: --submission needs --tls-cert and "
                    "--tls-key (or --auth-plaintext, to accept passwords "
                    "without TLS on a trusted network)\n");
            return -1;
        }
        return 0;
    }
    if (c->tls_cert == NULL || c->tls_key == NULL) {
        fprintf(stderr, "posthornd: --tls-cert and --tls-key go together\n");
        return -1;
    }
    d->tls = ph_tls_ctx_new(&(struct ph_tls_options){
        .cert_file = c->tls_cert, .key_file = c->tls_key,
        .ciphers = c->tls_ciphers, .ciphersuites = c->tls_ciphersuites },
        err, sizeof(err));
    if (d->tls == NULL) {
        fprintf(stderr, "posthornd: TLS: %s\n", err);
        return -1;
    }
    return 0;
}

/* SIGHUP: the files named by the new configuration (perhaps the same
   paths with renewed contents). */
int
pd_tls_reload(struct pd *d, const struct pd_config *n)
{
    char err[256];

    if (d->tls == NULL) {
        if (n->tls_cert || n->tls_key) {
            pd_log("event=tls_reload status=failed reason=\"TLS was off at "
                   "start: restart to enable it\"");
            return -1;
        }
        return 0;
    }
    if (n->tls_cert == NULL || n->tls_key == NULL) {
        pd_log("event=tls_reload status=failed reason=\"no certificate in "
               "the new configuration\" keeping=old");
        return -1;
    }
    if (ph_tls_ctx_reload(d->tls, &(struct ph_tls_options){
            .cert_file = n->tls_cert, .key_file = n->tls_key,
            .ciphers = n->tls_ciphers, .ciphersuites = n->tls_ciphersuites },
            err, sizeof(err)) != 0) {
        for (char *p = err; *p; p++)    /* a quoted value: no quotes */
            if (*p == '"' || (unsigned char)*p < 0x20)
                *p = '?';
        pd_log("event=tls_reload status=failed reason=\"%s\" keeping=old",
               err);
        return -1;
    }
    pd_log("event=tls_reload status=ok cert=%s", n->tls_cert);
    return 0;
}
