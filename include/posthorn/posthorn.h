/*
 * posthorn.h -- umbrella header of libposthorn: version, export macro,
 * error codes. Programs include this one header; it pulls in the rest.
 */
#ifndef POSTHORN_POSTHORN_H
#define POSTHORN_POSTHORN_H

#define PH_VERSION_MAJOR 0
#define PH_VERSION_MINOR 1
#define PH_VERSION_PATCH 0
#define PH_VERSION_STRING "0.1.0"

#if defined(PH_BUILDING)
#define PH_API __attribute__((visibility("default")))
#else
#define PH_API
#endif

/*
 * C-level failures: 0 is success, a negative enum ph_err a failure.
 * Protocol replies are values of their own (reply.h), never these.
 */
enum ph_err {
    PH_EOK       = 0,
    PH_ENOMEM    = -1,   /* allocation failed */
    PH_EINVAL    = -2,   /* bad argument from the program */
    PH_ELIMIT    = -3,   /* a configured limit was hit */
    PH_EIO       = -4,   /* socket or file error (see errno) */
    PH_ESTATE    = -5,   /* call not allowed in this state */
    PH_EADDR     = -6,   /* address could not be parsed */
    PH_ECLOSED   = -7,   /* the session is already closed */
};

/*
 * What a handler returns, SMTP and POP3 alike.
 *  PH_OK       it has replied (ph_smtp_reply, ph_pop3_reply) -- or, for
 *              the data callbacks, it has nothing to say.
 *  PH_PENDING  it will reply later; until then the session reads nothing
 *              (pipelined input stays buffered). Take a ref
 *              (ph_smtp_session_ref, ph_pop3_session_ref) to keep the
 *              session pointer valid across the wait.
 *  PH_CLOSE    close the connection once the reply has been written (the
 *              seeds' `shutdown_now` and `disconnect`).
 */
enum ph_result {
    PH_OK      = 0,
    PH_PENDING = 1,
    PH_CLOSE   = 2,
};

/* Static text naming an enum ph_err value; never NULL. */
PH_API const char *ph_strerror(int err);

#include <posthorn/loop.h>
#include <posthorn/limits.h>
#include <posthorn/reply.h>
#include <posthorn/tls.h>
#include <posthorn/smtp.h>
#include <posthorn/plugin.h>
#include <posthorn/store.h>
#include <posthorn/pop3.h>
#include <posthorn/auth.h>

#endif
