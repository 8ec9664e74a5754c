/*
 * pop3_plugin.c -- one Maildir for one user, and the POP3 seed's PLUGIN
 * TEMPLATE in C: a plugin registered for all inbound events that prints
 * "Default called for EVENT" and lets the event go on (EAT_NONE).
 * usage: pop3_plugin PORT MAILDIR USER PASSWORD   (PORT 0: any free port)
 */
#include <posthorn/posthorn.h>

#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char **args;     /* argv: [2] Maildir, [3] user, [4] password */

/* The template's plugin_register: ask for every POP3D event. */
static bool
plugin_register(ph_plugin *p, ph_pipeline *pl, void *pop3d)
{
    static const char *const all[] = { "all", NULL };

    return ph_plugin_register(pl, p, PH_HOOK_SERVER, all) == 0;
}

/* The template's _default. */
static int
plugin_default(ph_plugin *p, ph_pipeline *pl, struct ph_event *ev)
{
    printf("Default called for %s\n", ev->name);
    fflush(stdout);
    return PH_EAT_NONE;
}

static void
verify(ph_pop3_session *s, const struct ph_pop3_auth *a, void *ctx)
{
    size_t n = strlen(args[4]);
    bool   ok = a->password && strcmp(a->user, args[3]) == 0 &&
                strlen(a->password) == n &&
                CRYPTO_memcmp(a->password, args[4], n) == 0;

    ph_pop3_auth_reply(s, ok ? PH_POP3_OK : PH_POP3_ERR_AUTH, args[2]);
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
    static const struct ph_plugin_ops ops = {
        .plugin_register = plugin_register, .on_event = plugin_default };
    ph_plugin plugin = { .ops = &ops };

    if (argc != 5) {
        fprintf(stderr, "usage: pop3_plugin PORT MAILDIR USER PASSWORD\n");
        return 2;
    }
    args = argv;
    ph_loop *loop = ph_loop_new();
    ph_loop_set_log(loop, PH_LOG_WARN, ph_log_stderr, NULL);
    int port = atoi(argv[1]);
    ph_pop3_server *srv = ph_pop3_server_new(loop, &(struct ph_pop3_options){
        .address = "127.0.0.1", .port = (unsigned)port });
    if (srv == NULL || ph_pop3_server_port(srv) == 0)
        return 1;
    ph_pop3_server_set_verify(srv, verify, NULL);
    ph_plugin_add(ph_pop3_server_pipeline(srv), "template", &plugin);
    ph_loop_add_signal(loop, SIGTERM, on_signal, srv);
    ph_loop_add_signal(loop, SIGINT, on_signal, srv);
    printf("pop3_plugin: listening on port %u\n", ph_pop3_server_port(srv));
    fflush(stdout);
    ph_loop_run(loop);
    ph_pop3_server_free(srv);
    ph_loop_free(loop);
    return 0;
}
