/*
 * smtp_pump.h -- drives one SMTP/LMTP session of a server without
 * listeners, for the session fuzz targets: the session gets one end of a
 * socketpair, the input is written to the other end, then
 * shutdown(SHUT_WR); the loop runs until the session is gone or a
 * bounded number of turns passed. Every reply line is checked to be a
 * CRLF line of "ddd[ -]...".
 */
#ifndef PH_SMTP_PUMP_H
#define PH_SMTP_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include "smtp/smtp_internal.h"

/* What the client saw. */
struct smtp_pump_seen {
    size_t nreplies;      /* reply lines */
    size_t nstored;       /* lines saying "stored as" (posthornd's 250) */
};

void smtp_pump_session(ph_loop *loop, ph_smtp_server *srv,
                       const uint8_t *data, size_t size,
                       struct smtp_pump_seen *seen);

#endif
