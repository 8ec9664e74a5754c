/*
 * esmtp_sink.c -- Apache2::Protocol::ESMTP done fully: every step keeps
 * the library default except EHLO/MAIL/RCPT/HEADER/EOH/BODY/EOM, which
 * log and accept everything. Messages are discarded.
 * usage: esmtp_sink [-q] [-a ADDR] PORT   (-q: no per-message log)
 */
#include <posthorn/posthorn.h>

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
    /* seed 002's SUPER::EHLO: the library's reply, extensions included */
    return ph_smtp_default_handler(ph_smtp_session_server(s), verb)(s, verb,
                                                                    arg);
}

static enum ph_result
on_path(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, PH_SMTP_OK, verb[0] == 'M' ? "2.1.0" : "2.1.5",
                  "<%s>, %s ok", ph_smtp_session_path(s),
                  verb[0] == 'M' ? "sender" : "recipient");
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
static void on_body(ph_smtp_session *s, const char *p, size_t len)
{
    body_bytes += len;
}

static enum ph_result
on_eom(ph_smtp_session *s)
{
    if (!quiet)
        printf("EOM body=%zu bytes\n", body_bytes), fflush(stdout);
    ph_smtp_reply(s, PH_SMTP_OK, "2.0.0", "Message accepted for delivery");
    return PH_OK;
}

static void
on_signal(void *srv, int signum)        /* stop listening, 421 to all */
{
    ph_smtp_server_shutdown(srv);
    ph_loop_clear_signals(ph_smtp_server_loop(srv));
}

int
main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int         opt;

    while ((opt = getopt(argc, argv, "qa:")) != -1) {
        if (opt == '?')
            goto usage;
        opt == 'q' ? (void)(quiet = 1) : (void)(addr = optarg);
    }
    if (optind != argc - 1)
        goto usage;
    ph_loop *loop = ph_loop_new();
    ph_loop_set_log(loop, quiet ? PH_LOG_WARN : PH_LOG_INFO, ph_log_stderr, 0);
    ph_smtp_server *srv = ph_smtp_server_new(loop, &(struct ph_smtp_options){
        .address = addr, .port = (unsigned)atoi(argv[optind]),
        .alias = "esmtp_sink" });
    if (srv == NULL || ph_smtp_server_port(srv) == 0)
        return 1;
    ph_smtp_server_set_handler(srv, "EHLO", on_ehlo);
    ph_smtp_server_set_handler(srv, "MAIL", on_path);
    ph_smtp_server_set_handler(srv, "RCPT", on_path);
    ph_smtp_server_set_callbacks(srv, &(struct ph_smtp_callbacks){
        .header = on_header, .eoh = on_eoh, .body = on_body, .eom = on_eom });
    ph_loop_add_signal(loop, SIGTERM, on_signal, srv);
    ph_loop_add_signal(loop, SIGINT, on_signal, srv);
    printf("esmtp_sink: listening on port %u\n", ph_smtp_server_port(srv));
    fflush(stdout);
    ph_loop_run(loop);
    ph_smtp_server_free(srv);
    ph_loop_free(loop);
    return 0;
usage:
    fprintf(stderr, "usage: esmtp_sink [-q] [-a ADDR] PORT\n");
    return 2;
}
