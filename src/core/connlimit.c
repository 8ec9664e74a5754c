/*
 * connlimit.c -- sessions in all and per client address (limits.h). A
 * chained hash table of the addresses that hold sessions now: an entry
 * lives while its address has a session (or was refused in the last
 * minute, so that the refusal log stays quiet), so its size follows the
 * connections, which the total limit bounds. The hash is seeded per
 * table (addrkey.h).
 */
#include "core/connlimit.h"
#include "core/addrkey.h"

#include <stdlib.h>

#define CL_BUCKETS   1024u       /* power of two */
#define CL_LOG_EVERY 60          /* seconds between refusal log lines */

struct ph_conn_slot {
    struct ph_addr_key   key;
    unsigned             count;      /* sessions of this address */
    unsigned             refused;    /* since the last logged refusal */
    time_t               logged;     /* when that was; 0: never */
    struct ph_conn_slot *next;
};

struct ph_conn_limits {
    unsigned             max_total, max_per_addr;
    unsigned             total;
    unsigned             refused_total;
    time_t               logged_total;
    size_t               sweep;      /* next bucket to sweep */
    uint64_t             seed;
    struct ph_conn_slot *buckets[CL_BUCKETS];
};

ph_conn_limits *
ph_conn_limits_new(unsigned max_total, unsigned max_per_addr)
{
    ph_conn_limits *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->max_total = max_total;
    l->max_per_addr = max_per_addr;
    l->seed = ph_addr_key_seed(l);
    return l;
}

void
ph_conn_limits_free(ph_conn_limits *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < CL_BUCKETS; i++) {
        struct ph_conn_slot *e = l->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(l);
}

unsigned
ph_conn_limits_count(const ph_conn_limits *l)
{
    return l->total;
}

size_t
ph_conn_limits_tracked(const ph_conn_limits *l)
{
    size_t n = 0;

    for (size_t i = 0; i < CL_BUCKETS; i++)
        for (const struct ph_conn_slot *e = l->buckets[i]; e; e = e->next)
            n++;
    return n;
}

static struct ph_conn_slot **
bucket_of(ph_conn_limits *l, const struct ph_addr_key *k)
{
    return &l->buckets[ph_addr_key_hash(k, l->seed) & (CL_BUCKETS - 1)];
}

/* k's entry, made if missing (NULL on ENOMEM). */
static struct ph_conn_slot *
slot_get(ph_conn_limits *l, const struct ph_addr_key *k)
{
    struct ph_conn_slot **b = bucket_of(l, k), *e;

    for (e = *b; e != NULL; e = e->next)
        if (ph_addr_key_eq(&e->key, k))
            return e;
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    e->key = *k;
    e->next = *b;
    *b = e;
    return e;
}

static void
slot_drop(ph_conn_limits *l, struct ph_conn_slot *slot)
{
    struct ph_conn_slot **p = bucket_of(l, &slot->key);

    for (; *p != NULL; p = &(*p)->next) {
        if (*p == slot) {
            *p = slot->next;
            free(slot);
            return;
        }
    }
}

/* One refusal: log it if none was logged for a minute. */
static void
count_refusal(unsigned *refused, time_t *logged, time_t now, bool *log_it,
              unsigned *refused_out)
{
    (*refused)++;
    *refused_out = *refused;
    *log_it = *logged == 0 || now - *logged >= CL_LOG_EVERY;
    if (*log_it) {
        *logged = now;
        *refused = 0;
    }
}

/* Entries that only remember a refusal go once it is a minute old. */
static void
slot_maybe_drop(ph_conn_limits *l, struct ph_conn_slot *e, time_t now)
{
    if (e->count == 0 && (e->logged == 0 || now - e->logged >= CL_LOG_EVERY))
        slot_drop(l, e);
}

/* Entries kept only to quiet the refusal log go when their minute is
   over even if their address never comes back: one bucket per acquire,
   so a flood of distinct refused addresses cannot grow the table. */
static void
sweep_one(ph_conn_limits *l, time_t now)
{
    struct ph_conn_slot **p = &l->buckets[l->sweep++ & (CL_BUCKETS - 1)];

    while (*p != NULL) {
        struct ph_conn_slot *e = *p;
        if (e->count == 0 && now - e->logged >= CL_LOG_EVERY) {
            *p = e->next;
            free(e);
        } else {
            p = &e->next;
        }
    }
}

enum ph_conn_verdict
ph_conn_limits_acquire(ph_conn_limits *l, const struct sockaddr *peer,
                       time_t now, struct ph_conn_slot **slot, bool *log_it,
                       unsigned *refused)
{
    struct ph_addr_key   k;
    struct ph_conn_slot *e = NULL;

    *slot = NULL;
    *log_it = false;
    *refused = 0;
    sweep_one(l, now);
    if (l->max_per_addr != 0 && ph_addr_key(peer, &k)) {
        e = slot_get(l, &k);
        if (e != NULL && e->count >= l->max_per_addr) {
            count_refusal(&e->refused, &e->logged, now, log_it, refused);
            return PH_CONN_OVER_ADDR;
        }
    }
    if (l->max_total != 0 && l->total >= l->max_total) {
        count_refusal(&l->refused_total, &l->logged_total, now, log_it,
                      refused);
        if (e != NULL)
            slot_maybe_drop(l, e, now);
        return PH_CONN_OVER_TOTAL;
    }
    l->total++;
    if (e != NULL)
        e->count++;
    *slot = e;      /* NULL (ENOMEM): this one is not counted per address */
    return PH_CONN_ACCEPT;
}

void
ph_conn_limits_release(ph_conn_limits *l, struct ph_conn_slot *slot)
{
    if (l->total > 0)
        l->total--;
    if (slot == NULL)
        return;
    if (slot->count > 0)
        slot->count--;
    slot_maybe_drop(l, slot, time(NULL));
}
