/*
 * esmtp_sink.c -- Apache2::Protocol::ESMTP done fully: every step has the
 * library default, and EHLO/MAIL/RCPT/HEADER/EOH/BODY/EOM are overridden
 * to log and accept everything. Messages are discarded.
 * usage: esmtp_sink [-q] [-a ADDR] PORT   (-q: no per-message log)
 */
#include <posthorn/posthorn.h>
#include <posthorn/event.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int    quiet;
static size_t body_bytes;

static enum ph_result
on_ehlo(ph_smtp_session *s, const char *verb, const char *arg)
{
    if (!quiet)
        printf("EHLO from %s [%s]\n", arg, ph_smtp_session_peer_addr(s));
    /* Seed 002's SUPER::EHLO: the library's reply, with extensions. */
    return ph_smtp_default_handler(ph_smtp_session_server(s), "EHLO")(s,
                                                               verb, arg);
}

static enum ph_result
on_mail(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, PH_SMTP_OK, "2.1.0", "<%s>, sender ok",
                  ph_smtp_session_path(s));
    return PH_OK;
}

static enum ph_result
on_rcpt(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, PH_SMTP_OK, "2.1.5", "<%s>, recipient ok",
                  ph_smtp_session_path(s));
    return PH_OK;
}

static void
on_header(ph_smtp_session *s, const char *name, size_t nlen,
          const char *value, size_t vlen)
{
    if (!quiet)
        printf("HEADER %.*s\n", (int)nlen, name);
}

static void on_eoh(ph_smtp_session *s) { body_bytes = 0; }

static void
on_body(ph_smtp_session *s, const char *chunk, size_t len)
{
    body_bytes += len;
}

static enum ph_result
on_eom(ph_smtp_session *s)
{
    if (!quiet)
        printf("EOM body=%zu bytes\n", body_bytes), fflush(stdout);
    body_bytes = 0;
    ph_smtp_reply(s, PH_SMTP_OK, "2.0.0", "Message accepted for delivery");
    return PH_OK;
}

static void
on_signal(evutil_socket_t sig, short what, void *srv)
{
    ph_smtp_server_shutdown(srv);
    ph_loop_stop(ph_smtp_server_loop(srv));
}

int
main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int         opt;

    while ((opt = getopt(argc, argv, "qa:")) != -1) {
        if (opt == 'q')
            quiet = 1;
        else if (opt == 'a')
            addr = optarg;
        else
            goto usage;
    }
    if (optind != argc - 1)
        goto usage;
    ph_loop *loop = ph_loop_new();
    ph_loop_set_log(loop, quiet ? PH_LOG_WARN : PH_LOG_INFO, ph_log_stderr,
                    NULL);
    ph_smtp_server *srv = ph_smtp_server_new(loop, &(struct ph_smtp_options){
        .address = addr, .port = (unsigned)atoi(argv[optind]),
        .alias = "esmtp_sink",
    });
    if (srv == NULL || ph_smtp_server_port(srv) == 0)
        return 1;
    ph_smtp_server_set_handler(srv, "EHLO", on_ehlo);
    ph_smtp_server_set_handler(srv, "MAIL", on_mail);
    ph_smtp_server_set_handler(srv, "RCPT", on_rcpt);
    ph_smtp_server_set_callbacks(srv, &(struct ph_smtp_callbacks){
        .header = on_header, .eoh = on_eoh, .body = on_body, .eom = on_eom,
    });
    struct event *sig = evsignal_new(ph_loop_base(loop), SIGTERM, on_signal,
                                     srv);
    struct event *sig2 = evsignal_new(ph_loop_base(loop), SIGINT, on_signal,
                                      srv);
    event_add(sig, NULL);
    event_add(sig2, NULL);
    printf("esmtp_sink: listening on port %u\n", ph_smtp_server_port(srv));
    fflush(stdout);
    ph_loop_run(loop);
    event_free(sig);
    event_free(sig2);
    ph_smtp_server_free(srv);
    ph_loop_free(loop);
    return 0;
usage:
    fprintf(stderr, "usage: esmtp_sink [-q] [-a ADDR] PORT\n");
    return 2;
}
