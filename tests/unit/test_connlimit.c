/*
 * test_connlimit.c -- sessions in all and per client address
 * (core/connlimit.c): counts at N and N+1, IPv4 and IPv6 /64 keys, the
 * release that frees a place, unix peers counted in the total only, and
 * a refusal logged once a minute per address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "core/connlimit.h"

static struct sockaddr_storage
v4(const char *text)
{
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in     *s4 = (struct sockaddr_in *)&ss;

    s4->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage
v6(const char *text)
{
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in6    *s6 = (struct sockaddr_in6 *)&ss;

    s6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static enum ph_conn_verdict
take(ph_conn_limits *l, const struct sockaddr *peer, time_t now,
     struct ph_conn_slot **slot)
{
    bool     log_it;
    unsigned refused;

    return ph_conn_limits_acquire(l, peer, now, slot, &log_it, &refused);
}

static void
test_per_address(void **state)
{
    ph_conn_limits         *l = ph_conn_limits_new(0, 2);
    struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
    struct ph_conn_slot    *s1, *s2, *s3, *sb;

    (void)state;
    assert_int_equal(take(l, SA(a), 100, &s1), PH_CONN_ACCEPT);
    assert_int_equal(take(l, SA(a), 100, &s2), PH_CONN_ACCEPT);
    assert_int_equal(take(l, SA(a), 100, &s3), PH_CONN_OVER_ADDR);
    assert_null(s3);
    assert_int_equal(take(l, SA(b), 100, &sb), PH_CONN_ACCEPT);
    assert_int_equal(ph_conn_limits_count(l), 3);
    ph_conn_limits_release(l, s1);          /* a place is free again */
    assert_int_equal(take(l, SA(a), 100, &s3), PH_CONN_ACCEPT);
    ph_conn_limits_release(l, s2);
    ph_conn_limits_release(l, s3);
    ph_conn_limits_release(l, sb);
    assert_int_equal(ph_conn_limits_count(l), 0);
    ph_conn_limits_free(l);
}

static void
test_ipv6_slash64(void **state)
{
    ph_conn_limits         *l = ph_conn_limits_new(0, 1);
    struct sockaddr_storage a = v6("2001:db8:1:2::1");
    struct sockaddr_storage b = v6("2001:db8:1:2:ffff::9");  /* same /64 */
    struct sockaddr_storage c = v6("2001:db8:1:3::1");       /* another */
    struct sockaddr_storage m = v6("::ffff:192.0.2.7");      /* mapped */
    struct sockaddr_storage d = v4("192.0.2.7");
    struct ph_conn_slot    *sa, *sb, *sc, *sm, *sd;

    (void)state;
    assert_int_equal(take(l, SA(a), 1, &sa), PH_CONN_ACCEPT);
    assert_int_equal(take(l, SA(b), 1, &sb), PH_CONN_OVER_ADDR);
    assert_int_equal(take(l, SA(c), 1, &sc), PH_CONN_ACCEPT);
    assert_int_equal(take(l, SA(m), 1, &sm), PH_CONN_ACCEPT);
    assert_int_equal(take(l, SA(d), 1, &sd), PH_CONN_OVER_ADDR);
    ph_conn_limits_release(l, sa);
    ph_conn_limits_release(l, sc);
    ph_conn_limits_release(l, sm);
    ph_conn_limits_free(l);
}

static void
test_total_and_unix(void **state)
{
    ph_conn_limits         *l = ph_conn_limits_new(2, 1);
    struct sockaddr_un      un = { .sun_family = AF_UNIX };
    struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
    struct ph_conn_slot    *s1, *s2, *s3;

    (void)state;
    /* A unix-socket client has no address: counted in the total only. */
    assert_int_equal(take(l, (struct sockaddr *)&un, 1, &s1),
                     PH_CONN_ACCEPT);
    assert_null(s1);
    assert_int_equal(take(l, SA(a), 1, &s2), PH_CONN_ACCEPT);
    assert_int_equal(take(l, SA(b), 1, &s3), PH_CONN_OVER_TOTAL);
    ph_conn_limits_release(l, s1);
    assert_int_equal(take(l, SA(b), 1, &s3), PH_CONN_ACCEPT);
    ph_conn_limits_release(l, s2);
    ph_conn_limits_release(l, s3);
    assert_int_equal(ph_conn_limits_count(l), 0);
    ph_conn_limits_free(l);
}

/* Refusals: the first is logged, the next ones in that minute counted,
   the one after a minute logged with the count. */
static void
test_refusal_logged_once_a_minute(void **state)
{
    ph_conn_limits         *l = ph_conn_limits_new(0, 1);
    struct sockaddr_storage a = v4("192.0.2.1");
    struct ph_conn_slot    *s, *r;
    bool                    log_it;
    unsigned                refused;

    (void)state;
    assert_int_equal(take(l, SA(a), 1000, &s), PH_CONN_ACCEPT);
    assert_int_equal(ph_conn_limits_acquire(l, SA(a), 1000, &r, &log_it,
                                            &refused), PH_CONN_OVER_ADDR);
    assert_true(log_it);
    assert_int_equal(refused, 1);
    for (int i = 0; i < 5; i++) {
        ph_conn_limits_acquire(l, SA(a), 1010, &r, &log_it, &refused);
        assert_false(log_it);
    }
    ph_conn_limits_acquire(l, SA(a), 1061, &r, &log_it, &refused);
    assert_true(log_it);
    assert_int_equal(refused, 6);
    ph_conn_limits_release(l, s);
    ph_conn_limits_free(l);
}

/* An address refused once and never seen again is forgotten once its
   minute is over: the table follows the connections, not history. */
static void
test_refused_entries_swept(void **state)
{
    ph_conn_limits         *l = ph_conn_limits_new(0, 1);
    struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
    struct ph_conn_slot    *s, *r;
    time_t                  now = time(NULL);   /* release reads the clock */

    (void)state;
    assert_int_equal(take(l, SA(a), now, &s), PH_CONN_ACCEPT);
    assert_int_equal(take(l, SA(a), now, &r), PH_CONN_OVER_ADDR);
    ph_conn_limits_release(l, s);           /* kept: it was just logged */
    assert_int_equal(ph_conn_limits_tracked(l), 1);
    for (int i = 0; i < 2048; i++) {        /* every bucket swept */
        assert_int_equal(take(l, SA(b), now + 100, &s), PH_CONN_ACCEPT);
        ph_conn_limits_release(l, s);
    }
    assert_int_equal(ph_conn_limits_tracked(l), 0);
    ph_conn_limits_free(l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_address),
        cmocka_unit_test(test_ipv6_slash64),
        cmocka_unit_test(test_total_and_unix),
        cmocka_unit_test(test_refusal_logged_once_a_minute),
        cmocka_unit_test(test_refused_entries_swept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
