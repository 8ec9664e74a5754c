/*
 * test_auth_guard.c -- src/auth/auth_guard.c: blocking at max failures,
 * the window (a run of failures less than window_s apart, then a fresh
 * start), IPv6 /64 grouping and IPv4-mapped addresses, unix sockets and
 * NULL never counted, a disabled guard, eviction of the oldest entry when
 * the table is full, and a long random run against a reference model on a
 * tiny table (collisions, expiry and removal shifting runs back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "auth/auth_guard.h"

/* A socket address that converts to struct sockaddr for the calls. */
union peer {
    struct sockaddr     sa;
    struct sockaddr_in  in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un  un;
};

/* IPv4 or IPv6 text (with any port) to a peer. */
static const struct sockaddr *
peer_of(union peer *p, const char *text)
{
    memset(p, 0, sizeof(*p));
    if (inet_pton(AF_INET, text, &p->in4.sin_addr) == 1) {
        p->in4.sin_family = AF_INET;
        p->in4.sin_port = htons(40000);
        return &p->sa;
    }
    if (inet_pton(AF_INET6, text, &p->in6.sin6_addr) == 1) {
        p->in6.sin6_family = AF_INET6;
        p->in6.sin6_port = htons(40001);
        return &p->sa;
    }
    fail_msg("bad address %s", text);
    return NULL;
}

/* Fails addr n times at now. */
static void
fail_n(struct ph_auth_guard *g, const char *addr, unsigned n, time_t now)
{
    union peer p;

    for (unsigned i = 0; i < n; i++)
        ph_auth_guard_failed(g, peer_of(&p, addr), now);
}

static unsigned
count_of(struct ph_auth_guard *g, const char *addr, time_t now)
{
    union peer p;

    return ph_auth_guard_failures(g, peer_of(&p, addr), now);
}

static bool
blocked(struct ph_auth_guard *g, const char *addr, time_t now)
{
    union peer p;

    return ph_auth_guard_blocked(g, peer_of(&p, addr), now);
}

static void
test_blocks_at_max(void **state)
{
    struct ph_auth_guard *g = ph_auth_guard_new(3, 60);

    (void)state;
    assert_non_null(g);
    assert_false(blocked(g, "192.0.2.1", 1000));
    assert_int_equal(count_of(g, "192.0.2.1", 1000), 0);
    fail_n(g, "192.0.2.1", 2, 1000);
    assert_int_equal(count_of(g, "192.0.2.1", 1001), 2);
    assert_false(blocked(g, "192.0.2.1", 1001));
    fail_n(g, "192.0.2.1", 1, 1002);
    assert_true(blocked(g, "192.0.2.1", 1002));
    assert_int_equal(count_of(g, "192.0.2.1", 1002), 3);
    /* Counts keep growing (for the delay), the neighbour is untouched. */
    fail_n(g, "192.0.2.1", 2, 1003);
    assert_int_equal(count_of(g, "192.0.2.1", 1003), 5);
    assert_false(blocked(g, "192.0.2.2", 1003));
    assert_int_equal(count_of(g, "192.0.2.2", 1003), 0);
    ph_auth_guard_free(g);
    ph_auth_guard_free(NULL);
}

/* Blocked until window_s after the last failure, then a fresh count. */
static void
test_window_expiry(void **state)
{
    struct ph_auth_guard *g = ph_auth_guard_new(3, 60);

    (void)state;
    fail_n(g, "198.51.100.7", 1, 100);
    fail_n(g, "198.51.100.7", 1, 110);
    fail_n(g, "198.51.100.7", 1, 120);
    assert_true(blocked(g, "198.51.100.7", 120));
    assert_true(blocked(g, "198.51.100.7", 179));
    assert_false(blocked(g, "198.51.100.7", 180));
    assert_int_equal(count_of(g, "198.51.100.7", 180), 0);
    fail_n(g, "198.51.100.7", 1, 181);
    assert_int_equal(count_of(g, "198.51.100.7", 181), 1);
    assert_false(blocked(g, "198.51.100.7", 181));

    /* One failure expires on its own... */
    fail_n(g, "198.51.100.8", 2, 500);
    assert_int_equal(count_of(g, "198.51.100.8", 559), 2);
    assert_int_equal(count_of(g, "198.51.100.8", 560), 0);
    /* ...but failures that keep coming less than window_s apart add up:
       slow guessing is still counted. */
    fail_n(g, "198.51.100.9", 1, 1000);
    fail_n(g, "198.51.100.9", 1, 1059);
    fail_n(g, "198.51.100.9", 1, 1118);
    assert_true(blocked(g, "198.51.100.9", 1118));
    /* Expired and failing again in the same call: a new run of 1. */
    fail_n(g, "198.51.100.9", 1, 5000);
    assert_int_equal(count_of(g, "198.51.100.9", 5000), 1);
    /* A clock that went back keeps entries, it does not free them. */
    assert_int_equal(count_of(g, "198.51.100.9", 10), 1);
    ph_auth_guard_free(g);
}

static void
test_ipv6_prefix(void **state)
{
    struct ph_auth_guard *g = ph_auth_guard_new(4, 60);
    union peer            p;

    (void)state;
    fail_n(g, "2001:db8:1:2::1", 1, 10);
    fail_n(g, "2001:db8:1:2:ffff:ffff:ffff:ffff", 1, 10);
    fail_n(g, "2001:db8:1:2:1234::9", 2, 10);
    /* The whole /64 is one client. */
    assert_true(blocked(g, "2001:db8:1:2::77", 11));
    assert_int_equal(count_of(g, "2001:db8:1:2::", 11), 4);
    /* The next /64 and a /64 differing in the first bit are not. */
    assert_false(blocked(g, "2001:db8:1:3::1", 11));
    assert_false(blocked(g, "a001:db8:1:2::1", 11));
    /* Port and scope id do not matter. */
    peer_of(&p, "2001:db8:1:2::5");
    p.in6.sin6_port = htons(1);
    p.in6.sin6_scope_id = 3;
    assert_true(ph_auth_guard_blocked(g, &p.sa, 11));

    /* IPv4-mapped (dual-stack listener) counts with the IPv4 address, and
       does not lump all IPv4 clients into ::ffff:0:0/64. */
    fail_n(g, "::ffff:192.0.2.1", 2, 20);
    fail_n(g, "192.0.2.1", 2, 20);
    assert_true(blocked(g, "192.0.2.1", 21));
    assert_true(blocked(g, "::ffff:192.0.2.1", 21));
    assert_false(blocked(g, "::ffff:192.0.2.2", 21));
    assert_false(blocked(g, "192.0.2.2", 21));
    /* IPv4 0.0.0.1 and the IPv6 /64 ::/64 differ. */
    fail_n(g, "0.0.0.1", 4, 30);
    assert_false(blocked(g, "::1", 31));
    assert_false(blocked(g, "::", 31));
    ph_auth_guard_free(g);
}

/* Unix-domain peers (local) and NULL are never counted or blocked. */
static void
test_unix_never_blocked(void **state)
{
    struct ph_auth_guard *g = ph_auth_guard_new(1, 60);
    union peer            p;

    (void)state;
    memset(&p, 0, sizeof(p));
    p.un.sun_family = AF_UNIX;
    strcpy(p.un.sun_path, "/run/posthorn.sock");
    for (int i = 0; i < 10; i++) {
        ph_auth_guard_failed(g, &p.sa, 5);
        ph_auth_guard_failed(g, NULL, 5);
    }
    assert_false(ph_auth_guard_blocked(g, &p.sa, 5));
    assert_int_equal(ph_auth_guard_failures(g, &p.sa, 5), 0);
    assert_false(ph_auth_guard_blocked(g, NULL, 5));
    p.sa.sa_family = AF_UNSPEC;
    assert_false(ph_auth_guard_blocked(g, &p.sa, 5));
    /* And they did not take the table from real clients. */
    fail_n(g, "203.0.113.5", 1, 5);
    assert_true(blocked(g, "203.0.113.5", 5));
    ph_auth_guard_free(g);
}

static void
test_disabled(void **state)
{
    struct ph_auth_guard *off = ph_auth_guard_new(0, 60);
    struct ph_auth_guard *nowin = ph_auth_guard_new(3, 0);

    (void)state;
    assert_non_null(off);
    assert_non_null(nowin);
    fail_n(off, "192.0.2.1", 100, 1);
    fail_n(nowin, "192.0.2.1", 100, 1);
    assert_false(blocked(off, "192.0.2.1", 1));
    assert_false(blocked(nowin, "192.0.2.1", 1));
    assert_int_equal(count_of(off, "192.0.2.1", 1), 0);
    assert_int_equal(count_of(nowin, "192.0.2.1", 1), 0);
    ph_auth_guard_free(off);
    ph_auth_guard_free(nowin);
    /* A NULL guard is the same as a disabled one. */
    assert_false(blocked(NULL, "192.0.2.1", 1));
    fail_n(NULL, "192.0.2.1", 1, 1);
}

/* 8 slots hold 6 addresses; the 7th evicts the one that failed longest
   ago, and a client that keeps failing is not the one to go. */
static void
test_eviction_when_full(void **state)
{
    struct ph_auth_guard *g = ph_auth_guard_new_sized(2, 1000, 8);
    char                  a[32];

    (void)state;
    for (int i = 1; i <= 6; i++) {
        snprintf(a, sizeof(a), "10.0.0.%d", i);
        fail_n(g, a, 1, i);
    }
    fail_n(g, "10.0.0.1", 1, 7);            /* 1 is now the newest */
    assert_true(blocked(g, "10.0.0.1", 7));
    fail_n(g, "10.0.0.7", 1, 8);            /* evicts 2 (t=2) */
    assert_int_equal(count_of(g, "10.0.0.2", 8), 0);
    assert_int_equal(count_of(g, "10.0.0.1", 8), 2);
    for (int i = 3; i <= 7; i++) {
        snprintf(a, sizeof(a), "10.0.0.%d", i);
        assert_int_equal(count_of(g, a, 8), 1);
    }
    /* A flood of new addresses keeps only the latest 6. */
    for (int i = 0; i < 1000; i++) {
        snprintf(a, sizeof(a), "172.16.%d.%d", i / 256, i % 256);
        fail_n(g, a, 1, 100 + i);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(a, sizeof(a), "172.16.%d.%d", i / 256, i % 256);
        assert_int_equal(count_of(g, a, 1100), i >= 994 ? 1 : 0);
    }
    assert_int_equal(count_of(g, "10.0.0.1", 1100), 0);
    ph_auth_guard_free(g);
}

/* Sizes are rounded up to a power of two, at least 4 slots (3 entries). */
static void
test_sizes(void **state)
{
    struct ph_auth_guard *g = ph_auth_guard_new_sized(1, 100, 0);

    (void)state;
    assert_non_null(g);
    fail_n(g, "10.1.0.1", 1, 1);
    fail_n(g, "10.1.0.2", 1, 2);
    fail_n(g, "10.1.0.3", 1, 3);
    assert_true(blocked(g, "10.1.0.1", 3));
    fail_n(g, "10.1.0.4", 1, 4);
    assert_false(blocked(g, "10.1.0.1", 4));
    assert_true(blocked(g, "10.1.0.4", 4));
    ph_auth_guard_free(g);
}

/* ---- reference model ---------------------------------------------------- */

/* What the guard should do, as a plain array: find, expire on lookup,
   evict the oldest when full. Times are unique, so "oldest" is too. */
struct model {
    struct { unsigned addr, count; time_t last; } e[64];
    size_t   n, cap;
    unsigned window;
};

static size_t
model_find(struct model *m, unsigned addr)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].addr == addr)
            return i;
    return SIZE_MAX;
}

static void
model_drop(struct model *m, size_t i)
{
    m->e[i] = m->e[--m->n];
}

static unsigned
model_count(struct model *m, unsigned addr, time_t now)
{
    size_t i = model_find(m, addr);

    if (i == SIZE_MAX)
        return 0;
    if (now - m->e[i].last >= (time_t)m->window) {
        model_drop(m, i);
        return 0;
    }
    return m->e[i].count;
}

static void
model_failed(struct model *m, unsigned addr, time_t now)
{
    size_t i = model_find(m, addr);

    if (i != SIZE_MAX && now - m->e[i].last >= (time_t)m->window)
        m->e[i].count = 0;
    if (i == SIZE_MAX) {
        if (m->n == m->cap) {
            size_t old = 0;
            for (size_t j = 1; j < m->n; j++)
                if (m->e[j].last < m->e[old].last)
                    old = j;
            model_drop(m, old);
        }
        i = m->n++;
        m->e[i].addr = addr;
        m->e[i].count = 0;
    }
    m->e[i].count++;
    m->e[i].last = now;
}

/* 20000 random steps over 40 addresses on a 16-slot table (12 entries):
   lots of collisions, expiry, eviction and backward-shift removal. Any
   slip in the probing shows up as a count the model does not have. */
static void
test_against_model(void **state)
{
    struct ph_auth_guard *g = ph_auth_guard_new_sized(1000, 50, 16);
    struct model          m = { .cap = 12, .window = 50 };
    uint32_t              rnd = 12345;
    union peer            p;
    char                  a[32];

    (void)state;
    for (time_t now = 1; now <= 20000; now++) {
        unsigned addr, got, want;

        rnd = rnd * 1103515245u + 12345u;
        addr = (rnd >> 16) % 40;
        snprintf(a, sizeof(a), addr % 2 ? "10.9.8.%u" : "2001:db8:%x::1",
                 addr);
        if ((rnd >> 8) % 3 == 0) {
            ph_auth_guard_failed(g, peer_of(&p, a), now);
            model_failed(&m, addr, now);
            continue;
        }
        got = ph_auth_guard_failures(g, peer_of(&p, a), now);
        want = model_count(&m, addr, now);
        if (got != want)
            fail_msg("t=%ld %s: count %u, model %u", (long)now, a, got,
                     want);
    }
    ph_auth_guard_free(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_at_max),
        cmocka_unit_test(test_window_expiry),
        cmocka_unit_test(test_ipv6_prefix),
        cmocka_unit_test(test_unix_never_blocked),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_eviction_when_full),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
