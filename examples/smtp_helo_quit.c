/*
 * smtp_helo_quit.c -- POE::Component::Server::SMTP's synopsis in C: a bare
 * server (only a 220 banner and the 502 default handler) with HELO and
 * QUIT handlers. usage: smtp_helo_quit [-a ADDR] PORT   (PORT 0: any)
 */
#include <posthorn/posthorn.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static enum ph_result
smtp_helo(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, PH_SMTP_OK, NULL, "Welcome.");
    return PH_OK;
}

static enum ph_result
smtp_quit(ph_smtp_session *s, const char *verb, const char *arg)
{
    ph_smtp_reply(s, PH_SMTP_QUIT, NULL, "Good bye!");
    return PH_CLOSE;                        /* the seed's shutdown_now */
}

/* Stop listening, 421 to every session; the loop returns when they are
   flushed. */
static void
on_signal(void *srv, int signum)
{
    ph_smtp_server_shutdown(srv);
    ph_loop_clear_signals(ph_smtp_server_loop(srv));
}

int
main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int         opt;

    while ((opt = getopt(argc, argv, "a:")) != -1) {
        if (opt != 'a')
            goto usage;
        addr = optarg;
    }
    if (optind != argc - 1)
        goto usage;
    ph_loop *loop = ph_loop_new();
    ph_loop_set_log(loop, PH_LOG_WARN, ph_log_stderr, NULL);
    ph_smtp_server *srv = ph_smtp_server_new(loop, &(struct ph_smtp_options){
        .mode = PH_SMTP_MODE_BARE, .address = addr,
        .port = (unsigned)atoi(argv[optind]),
    });
    if (srv == NULL || ph_smtp_server_port(srv) == 0)
        return 1;
    ph_smtp_server_set_handler(srv, "HELO", smtp_helo);
    ph_smtp_server_set_handler(srv, "QUIT", smtp_quit);
    ph_loop_add_signal(loop, SIGTERM, on_signal, srv);
    ph_loop_add_signal(loop, SIGINT, on_signal, srv);
    printf("smtp_helo_quit: listening on port %u\n",
           ph_smtp_server_port(srv));
    fflush(stdout);
    ph_loop_run(loop);
    ph_smtp_server_free(srv);
    ph_loop_free(loop);
    return 0;
usage:
    fprintf(stderr, "usage: smtp_helo_quit [-a ADDR] PORT\n");
    return 2;
}
