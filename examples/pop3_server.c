/*
 * pop3_server.c -- the POP3 seed's "simple POP3 server": a users table in
 * code, each user's Maildir at MAILROOT/<user>, every command handled by
 * the library's default session. usage: pop3_server [-q] [-a ADDR] PORT
 * MAILROOT   (PORT 0: any free port; -q: warnings only)
 */
#include <posthorn/posthorn.h>

#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* bench1..bench9 let the benchmark run one user per connection: a
   maildrop is locked by its session (RFC 1939), so ten sessions of one
   user would get -ERR [IN-USE]. */
static const struct { const char *user, *password; } users[] = {
    { "alice", "wonderland" }, { "bob", "builder" }, { "bench", "bench" },
    { "bench1", "bench" }, { "bench2", "bench" }, { "bench3", "bench" },
    { "bench4", "bench" }, { "bench5", "bench" }, { "bench6", "bench" },
    { "bench7", "bench" }, { "bench8", "bench" }, { "bench9", "bench" },
    { "bench10", "bench" },
};
static const char *mailroot;

/* The seed leaves the check to the program; here it is a table lookup. */
static void
verify(ph_pop3_session *s, const struct ph_pop3_auth *a, void *ctx)
{
    char dir[4096];

    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        size_t n = strlen(users[i].password);
        if (a->password == NULL || strcmp(a->user, users[i].user) != 0 ||
            strlen(a->password) != n ||
            CRYPTO_memcmp(a->password, users[i].password, n) != 0)
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", mailroot, a->user);
        ph_pop3_auth_reply(s, PH_POP3_OK, dir);
        return;
    }
    ph_pop3_auth_reply(s, PH_POP3_ERR_AUTH, NULL);
}

static void
on_signal(void *srv, int signum)
{
    ph_pop3_server_shutdown(srv);
    ph_loop_clear_signals(ph_pop3_server_loop(srv));
}

int
main(int argc, char **argv)
{
    const char *addr = "127.0.0.1";
    int         opt, quiet = 0, port;

    while ((opt = getopt(argc, argv, "qa:")) != -1) {
        if (opt == '?')
            goto usage;
        opt == 'q' ? (void)(quiet = 1) : (void)(addr = optarg);
    }
    if (optind != argc - 2)
        goto usage;
    port = atoi(argv[optind]);
    mailroot = argv[optind + 1];
    ph_loop *loop = ph_loop_new();
    ph_loop_set_log(loop, quiet ? PH_LOG_WARN : PH_LOG_INFO, ph_log_stderr, 0);
    ph_pop3_server *srv = ph_pop3_server_new(loop, &(struct ph_pop3_options){
        .alias = "pop3_server", .address = addr,
        .port = (unsigned)port });
    if (srv == NULL || ph_pop3_server_port(srv) == 0)
        return 1;
    ph_pop3_server_set_verify(srv, verify, NULL);
    ph_loop_add_signal(loop, SIGTERM, on_signal, srv);
    ph_loop_add_signal(loop, SIGINT, on_signal, srv);
    printf("pop3_server: listening on port %u\n", ph_pop3_server_port(srv));
    fflush(stdout);
    ph_loop_run(loop);
    ph_pop3_server_free(srv);
    ph_loop_free(loop);
    return 0;
usage:
    fprintf(stderr, "usage: pop3_server [-q] [-a ADDR] PORT MAILROOT\n");
    return 2;
}
