/*
 * auth_guard.c -- failed-AUTH counting per client address (auth_guard.h).
 * A linear-probing table whose size is fixed at creation: lookups stop at
 * the first empty slot, removal shifts the run back (no tombstones), and
 * inserting into a full table first evicts the entry with the oldest last
 * failure. The hash is keyed per guard so that a client cannot pick
 * addresses that all land in one run.
 */
#include "auth/auth_guard.h"
#include "core/addrkey.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#define GUARD_MIN_SLOTS 4u
#define GUARD_MAX_SLOTS ((size_t)1 << 24)

struct guard_entry {
    struct ph_addr_key key;    /* family 0: an empty slot */
    unsigned         count;     /* failures in the current run */
    time_t           last;      /* when the last of them came */
};

struct ph_auth_guard {
    struct guard_entry *slots;  /* NULL when disabled */
    size_t              mask;   /* slots - 1 */
    size_t              used;
    size_t              max_used;
    uint64_t            seed;
    unsigned            max_failures;
    unsigned            window_s;
};

static size_t
slots_for(size_t want)
{
    size_t n = GUARD_MIN_SLOTS;

    while (n < want && n < GUARD_MAX_SLOTS)
        n <<= 1;
    return n;
}

struct ph_auth_guard *
ph_auth_guard_new_sized(unsigned max_failures_per_addr, unsigned window_s,
                        size_t nslots)
{
    struct ph_auth_guard *g = calloc(1, sizeof(*g));
    size_t                n = slots_for(nslots);

    if (g == NULL)
        return NULL;
    g->max_failures = max_failures_per_addr;
    g->window_s = window_s;
    if (max_failures_per_addr == 0 || window_s == 0)
        return g;               /* disabled: no table at all */
    if ((g->slots = calloc(n, sizeof(*g->slots))) == NULL) {
        free(g);
        return NULL;
    }
    g->mask = n - 1;
    g->max_used = n - n / 4;    /* always an empty slot: probes end */
    g->seed = ph_addr_key_seed(g);
    return g;
}

struct ph_auth_guard *
ph_auth_guard_new(unsigned max_failures_per_addr, unsigned window_s)
{
    return ph_auth_guard_new_sized(max_failures_per_addr, window_s,
                                   PH_AUTH_GUARD_SLOTS);
}

void
ph_auth_guard_free(struct ph_auth_guard *g)
{
    if (g == NULL)
        return;
    free(g->slots);
    free(g);
}

static size_t
guard_home(const struct ph_auth_guard *g, const struct ph_addr_key *k)
{
    return (size_t)ph_addr_key_hash(k, g->seed) & g->mask;
}

/* The slot holding k, or NULL; *idx_out is that slot or the empty slot
   where k would go. */
static struct guard_entry *
guard_find(struct ph_auth_guard *g, const struct ph_addr_key *k,
           size_t *idx_out)
{
    size_t i = guard_home(g, k);

    for (;; i = (i + 1) & g->mask) {
        struct guard_entry *e = &g->slots[i];

        *idx_out = i;
        if (e->key.family == 0)
            return NULL;
        if (ph_addr_key_eq(&e->key, k))
            return e;
    }
}

static bool
entry_live(const struct ph_auth_guard *g, const struct guard_entry *e,
           time_t now)
{
    /* difftime: no overflow whatever time_t holds; negative (the clock
       went back) counts as recent. */
    return difftime(now, e->last) < (double)g->window_s;
}

/* Empties slot i and shifts later entries of its run back into the hole,
   so that lookups may keep stopping at the first empty slot. */
static void
guard_delete(struct ph_auth_guard *g, size_t i)
{
    size_t j = i;

    for (;;) {
        struct guard_entry *e;
        size_t              home;

        j = (j + 1) & g->mask;
        e = &g->slots[j];
        if (e->key.family == 0)
            break;
        home = guard_home(g, &e->key);
        /* e may fill the hole only if the hole lies between its home slot
           and j; otherwise a lookup for it would stop before reaching it. */
        if (((j - home) & g->mask) >= ((j - i) & g->mask)) {
            g->slots[i] = *e;
            i = j;
        }
    }
    memset(&g->slots[i], 0, sizeof(g->slots[i]));
    g->used--;
}

/* Full table: forget the entry whose last failure is oldest. Expired
   entries are older than any live one, so they go first. */
static void
guard_evict_oldest(struct ph_auth_guard *g)
{
    size_t i, oldest = SIZE_MAX;

    for (i = 0; i <= g->mask; i++) {
        if (g->slots[i].key.family == 0)
            continue;
        if (oldest == SIZE_MAX || g->slots[i].last < g->slots[oldest].last)
            oldest = i;
    }
    if (oldest != SIZE_MAX)
        guard_delete(g, oldest);
}

/* The live count for peer; drops its entry if it has expired. */
static unsigned
guard_count(struct ph_auth_guard *g, const struct sockaddr *peer,
            time_t now)
{
    struct ph_addr_key    k;
    struct guard_entry *e;
    size_t              i;

    if (g == NULL || g->slots == NULL || !ph_addr_key(peer, &k))
        return 0;
    if ((e = guard_find(g, &k, &i)) == NULL)
        return 0;
    if (!entry_live(g, e, now)) {
        guard_delete(g, i);
        return 0;
    }
    return e->count;
}

bool
ph_auth_guard_blocked(struct ph_auth_guard *g, const struct sockaddr *peer,
                      time_t now)
{
    /* Disabled guards have no table, so max 0 never blocks. */
    return g != NULL && g->slots != NULL &&
           guard_count(g, peer, now) >= g->max_failures;
}

unsigned
ph_auth_guard_failures(struct ph_auth_guard *g, const struct sockaddr *peer,
                       time_t now)
{
    return guard_count(g, peer, now);
}

void
ph_auth_guard_failed(struct ph_auth_guard *g, const struct sockaddr *peer,
                     time_t now)
{
    struct ph_addr_key    k;
    struct guard_entry *e;
    size_t              i;

    if (g == NULL || g->slots == NULL || !ph_addr_key(peer, &k))
        return;
    e = guard_find(g, &k, &i);
    if (e != NULL && !entry_live(g, e, now))
        e->count = 0;           /* a new run */
    if (e == NULL) {
        if (g->used == g->max_used) {
            guard_evict_oldest(g);
            guard_find(g, &k, &i);      /* the run may have shifted */
        }
        e = &g->slots[i];
        e->key = k;
        e->count = 0;
        g->used++;
    }
    if (e->count < UINT_MAX)
        e->count++;
    e->last = now;
}

unsigned
ph_auth_guard_fail_delay(struct ph_auth_guard *g, const struct sockaddr *peer,
                         time_t now, unsigned base_ms)
{
    unsigned factor = 1;

    if (g != NULL) {
        ph_auth_guard_failed(g, peer, now);
        factor = ph_auth_guard_failures(g, peer, now);
    }
    if (factor < 1)
        factor = 1;
    if (factor > PH_AUTH_GUARD_MAX_FACTOR)
        factor = PH_AUTH_GUARD_MAX_FACTOR;
    return base_ms * factor;
}
