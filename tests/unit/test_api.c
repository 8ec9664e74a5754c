/*
 * test_api.c -- the public API is one shape for SMTP and POP3 (issue 10):
 * port 0 picks a free port in both, the default-handler lookup never
 * returns NULL (SMTP bare mode included), a failed bind reaches the
 * options callback and the "listener_failed" event in both, and the
 * connection limits object counts what the servers hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <posthorn/posthorn.h>

static void
test_port_zero_is_any(void **state)
{
    ph_loop        *loop = ph_loop_new();
    ph_smtp_server *smtp = ph_smtp_server_new(loop, &(struct ph_smtp_options){
        .address = "127.0.0.1", .port = 0 });
    ph_pop3_server *pop3 = ph_pop3_server_new(loop, &(struct ph_pop3_options){
        .address = "127.0.0.1", .port = 0 });

    (void)state;
    assert_non_null(smtp);
    assert_non_null(pop3);
    assert_int_not_equal(ph_smtp_server_port(smtp), 0);
    assert_int_not_equal(ph_pop3_server_port(pop3), 0);
    assert_int_not_equal(ph_pop3_server_port(pop3), PH_POP3_DEFAULT_PORT);
    ph_smtp_server_free(smtp);
    ph_pop3_server_free(pop3);
    ph_loop_free(loop);
}

static void
test_default_handler_never_null(void **state)
{
    ph_loop        *loop = ph_loop_new();
    ph_smtp_server *bare = ph_smtp_server_new(loop, &(struct ph_smtp_options){
        .mode = PH_SMTP_MODE_BARE });
    ph_smtp_server *esmtp = ph_smtp_server_new(loop,
                                               &(struct ph_smtp_options){ 0 });
    ph_pop3_server *pop3 = ph_pop3_server_new(loop,
                                              &(struct ph_pop3_options){ 0 });

    (void)state;
    /* The README's idiom, in every mode: fall back to the library. */
    assert_non_null(ph_smtp_default_handler(bare, "RCPT"));
    assert_non_null(ph_smtp_default_handler(bare, "CONNECT"));
    assert_non_null(ph_smtp_default_handler(esmtp, "XNOSUCH"));
    assert_ptr_not_equal(ph_smtp_default_handler(esmtp, "RCPT"),
                         ph_smtp_default_handler(esmtp, "XNOSUCH"));
    assert_non_null(ph_pop3_default_handler(pop3, "RETR"));
    assert_non_null(ph_pop3_default_handler(pop3, "XNOSUCH"));
    assert_ptr_not_equal(ph_pop3_default_handler(pop3, "RETR"),
                         ph_pop3_default_handler(pop3, "XNOSUCH"));
    ph_smtp_server_free(bare);
    ph_smtp_server_free(esmtp);
    ph_pop3_server_free(pop3);
    ph_loop_free(loop);
}

struct failures {
    int calls, events;
};

static void
on_failed(void *ctx, const char *op, int errnum, const char *text)
{
    struct failures *f = ctx;

    assert_non_null(op);
    assert_non_null(text);
    f->calls++;
}

static int
plugin_event(ph_plugin *p, ph_pipeline *pl, struct ph_event *ev)
{
    struct failures *f = p->ctx;

    if (strcmp(ev->name, "listener_failed") == 0) {
        assert_int_equal(ev->argc, 3);
        f->events++;
    }
    return PH_EAT_NONE;
}

static bool
plugin_reg(ph_plugin *p, ph_pipeline *pl, void *server)
{
    static const char *const names[] = { "listener_failed", NULL };

    return ph_plugin_register(pl, p, PH_HOOK_SERVER, names) == 0;
}

static const struct ph_plugin_ops plugin_ops = {
    .plugin_register = plugin_reg, .on_event = plugin_event,
};

/* Both protocols: the options callback and the event, for each failure. */
static void
test_bind_failure_reported_alike(void **state)
{
    ph_loop        *loop = ph_loop_new();
    struct failures fs = { 0 }, fp = { 0 };
    ph_plugin       ps = { .ops = &plugin_ops, .ctx = &fs };
    ph_plugin       pp = { .ops = &plugin_ops, .ctx = &fp };
    ph_smtp_server *smtp = ph_smtp_server_new(loop, &(struct ph_smtp_options){
        .listener_failed = on_failed, .listener_ctx = &fs });
    ph_pop3_server *pop3 = ph_pop3_server_new(loop, &(struct ph_pop3_options){
        .listener_failed = on_failed, .listener_ctx = &fp });

    (void)state;
    assert_true(ph_plugin_add(ph_smtp_server_pipeline(smtp), "s", &ps) > 0);
    assert_true(ph_plugin_add(ph_pop3_server_pipeline(pop3), "p", &pp) > 0);
    assert_int_not_equal(ph_smtp_server_listen(smtp, "256.1.1.1:25"), 0);
    assert_int_not_equal(ph_pop3_server_listen(pop3, "256.1.1.1:110"), 0);
    assert_int_not_equal(ph_pop3_server_listen_tls(pop3, "127.0.0.1:0"), 0);
    assert_int_equal(fs.calls, 1);
    assert_int_equal(fs.events, 1);
    assert_int_equal(fp.calls, 2);
    assert_int_equal(fp.events, 2);
    ph_smtp_server_free(smtp);
    ph_pop3_server_free(pop3);
    ph_loop_free(loop);
}

/* One limits object for two servers: it refuses its own numbers. */
static void
test_conn_limits_shared(void **state)
{
    ph_loop        *loop = ph_loop_new();
    ph_conn_limits *l = ph_conn_limits_new(10, 2);
    ph_smtp_server *smtp = ph_smtp_server_new(loop, &(struct ph_smtp_options){
        .address = "127.0.0.1", .conn_limits = l });
    ph_pop3_server *pop3 = ph_pop3_server_new(loop, &(struct ph_pop3_options){
        .address = "127.0.0.1", .conn_limits = l });

    (void)state;
    assert_non_null(l);
    assert_int_equal(ph_conn_limits_count(l), 0);
    ph_smtp_server_free(smtp);
    ph_pop3_server_free(pop3);
    ph_conn_limits_free(l);
    ph_loop_free(loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_zero_is_any),
        cmocka_unit_test(test_default_handler_never_null),
        cmocka_unit_test(test_bind_failure_reported_alike),
        cmocka_unit_test(test_conn_limits_shared),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
