/*
 * fuzz_smtp_session.c -- bytes from a client into a real session with the
 * library's default handlers (as Dovecot's fuzz-smtp-server.c does): a
 * loop, a server without listeners and one end of a socketpair
 * (smtp_pump.c writes the input and checks every reply line).
 */
#undef NDEBUG       /* the checks are the point of a fuzzer */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtp_pump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* AUTH's check: "u"/"p" logs in, anything else fails (no delay). */
static void
verify(ph_smtp_session *s, const struct ph_smtp_auth *a, void *ctx)
{
    bool ok = strcmp(a->user, "u") == 0 && strcmp(a->password, "p") == 0;

    (void)ctx;
    assert(a->authzid != NULL && a->mech != NULL);
    ph_smtp_auth_reply(s, ok ? PH_SMTP_AUTH_OK : PH_SMTP_AUTH_FAIL, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ph_smtp_options opts = {
        .hostname = "fuzz.example",
        .mode = PH_SMTP_MODE_ESMTP,
        .whole_message = true,
        /* small enough that the fuzzer reaches the limits */
        .limits = { .max_header_len = 256, .max_message_size = 65536,
                    .max_recipients = 4,
                    .auth_fail_delay_ms = PH_SMTP_NO_DELAY },
    };
    ph_loop         *loop = ph_loop_new();
    ph_smtp_server  *srv;

    assert(loop != NULL);
    srv = ph_smtp_server_new(loop, &opts);
    assert(srv != NULL);
    ph_smtp_server_set_verify(srv, verify, NULL);
    smtp_pump_session(loop, srv, data, size, NULL);
    ph_smtp_server_free(srv);
    ph_loop_free(loop);
    return 0;
}
