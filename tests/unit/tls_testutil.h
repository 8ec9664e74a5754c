/*
 * tls_testutil.h -- scaffolding shared by the unit tests that drive a
 * real session over a socketpair (test_pop3_session.c, test_smtp_auth.c):
 * a server TLS context for the cmocka group on a fresh self-signed
 * certificate, and the test's client: the socketpair, sending and
 * receiving with the server's loop turning in between, plain and over
 * TLS, and the client side of a handshake. Failures are cmocka
 * assertions.
 */
#ifndef PH_TLS_TESTUTIL_H
#define PH_TLS_TESTUTIL_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "posthorn/posthorn.h"
#include "posthorn/event.h"

/* The group's server context: made by ttu_group_setup() on a self-signed
   P-256 certificate for "localhost" (written to a temporary directory
   that is removed again), freed by ttu_group_teardown(); pass both to
   cmocka_run_group_tests(). */
extern ph_tls_ctx *ttu_tls;
int ttu_group_setup(void **state);
int ttu_group_teardown(void **state);

/* The test's client, on one end of a socketpair. */
struct ttu_client {
    ph_loop *loop;          /* the server's loop, turned while waiting */
    int      fd;            /* the client's end; -1 once the test closed it */
    SSL     *ssl;           /* after ttu_handshake() */
    char     out[8192];     /* what the last say received, NUL-terminated */
};

/* Zeroes c, makes the socketpair (both ends nonblocking) and returns the
   server's end for the session under test. */
int ttu_client_open(struct ttu_client *c, ph_loop *loop);
/* Frees the TLS state and closes the client's end if still open. */
void ttu_client_close(struct ttu_client *c);

/* Sends text (NULL: nothing), turns the loop, and returns everything
   received since (c->out). */
const char *ttu_say(struct ttu_client *c, const char *text);
/* The client side of a handshake, the loop turning between its steps;
   asserts it completes. */
void ttu_handshake(struct ttu_client *c);
/* ttu_say over TLS. */
const char *ttu_tls_say(struct ttu_client *c, const char *text);

#endif
