/*
 * maildir_uid.c -- what a Maildir file name tells: the delivery time
 * (sort key), the ",W=" size, the part that never changes (the size
 * cache's key) and the message's UID (RFC 1939 7, UIDL: 1-70 characters
 * 0x21-0x7E, unique in the maildrop, stable across sessions).
 * Name syntax: https://cr.yp.to/proto/maildir.html, plus the ",S=" and
 * ",W=" fields that Dovecot and Courier append to the unique part.
 */
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t
ph_maildir_name_time(const char *name)
{
    uint64_t t = 0;

    for (; *name >= '0' && *name <= '9'; name++) {
        unsigned dgt = (unsigned)(*name - '0');

        /* Absurd, but sort it last rather than let it wrap to the front. */
        if (t > (UINT64_MAX - dgt) / 10)
            return UINT64_MAX;
        t = t * 10 + dgt;
    }
    return t;
}

/* Everything before the ":2,FLAGS" info: Maildir promises it never
   changes, so it survives new/ -> cur/ and flag changes. */
size_t
ph_maildir_name_key_len(const char *name)
{
    return strcspn(name, ":");
}

/* Parses decimal digits in [p, end) ending at ',' or end. */
static bool
uid_parse_size(const char *p, const char *end, size_t *size_out)
{
    size_t v = 0;

    if (p == end || *p == ',')
        return false;
    for (; p < end && *p != ','; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*p - '0');
    }
    *size_out = v;
    return true;
}

/* ",W=<n>" is the size with CRLF line ends (what RFC 1939 LIST wants);
   ",S=<n>" is the size on disk and of no use to us. */
bool
ph_maildir_name_wsize(const char *name, size_t *size_out)
{
    const char *end = name + ph_maildir_name_key_len(name);
    const char *p = name;

    while ((p = memchr(p, ',', (size_t)(end - p))) != NULL) {
        p++;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '=')
            return uid_parse_size(p + 2, end, size_out);
    }
    return false;
}

/* FNV-1a, 64 bits: small, and fixed forever, because the UIDs it makes
   must stay the same across sessions and library versions. */
uint64_t
ph_maildir_hash(const char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t   i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static bool
uid_is_printable(const char *p, size_t len)
{
    size_t i;

    if (len < 1 || len > PH_MD_UID_MAX)
        return false;
    for (i = 0; i < len; i++)
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
            return false;
    return true;
}

/*
 * The unique part is the name up to the first ':' or ','. If it is not
 * a valid UID (empty, over 70 bytes, spaces or 8-bit bytes), the UID is
 * "H," and the 16 hex digits of its FNV-1a hash. A natural unique part
 * never holds a ',', so a hashed UID can never equal a natural one.
 */
size_t
ph_maildir_uid_base(const char *name, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t            len = strcspn(name, ":,");
    uint64_t          h;
    int               i;

    if (uid_is_printable(name, len)) {
        memcpy(out, name, len);
        out[len] = '\0';
        return len;
    }
    h = ph_maildir_hash(name, len);
    out[0] = 'H';
    out[1] = ',';
    for (i = 0; i < 16; i++)
        out[2 + i] = hex[(h >> (60 - 4 * i)) & 0xf];
    out[18] = '\0';
    return 18;
}

/* Open-addressing set of entries whose UID is assigned (index + 1). */
struct uid_set {
    uint32_t *slot;
    size_t    mask;
};

static uint32_t *
uid_set_find(struct uid_set *set, const struct ph_drop *d, const char *uid)
{
    size_t i = (size_t)ph_maildir_hash(uid, strlen(uid)) & set->mask;

    while (set->slot[i] != 0) {
        const struct ph_md_entry *e = &d->v[set->slot[i] - 1];

        if (strcmp(d->strs + e->uid_off, uid) == 0)
            break;
        i = (i + 1) & set->mask;
    }
    return &set->slot[i];
}

/*
 * A taken UID gets ",<k>" (k = 2, 3, ...), cut so the result stays
 * within 70 characters. Earlier messages (snapshot order: delivery time,
 * then name) keep the plain UID, so the choice is the same every session
 * for the same set of files.
 */
static int
uid_pick(struct uid_set *set, const struct ph_drop *d, const char *base,
         size_t base_len, char *cand)
{
    unsigned long k;
    int           ret;

    memcpy(cand, base, base_len + 1);
    for (k = 2; *uid_set_find(set, d, cand) != 0; k++) {
        int cut = (int)(base_len > PH_MD_UID_MAX - 12 ? PH_MD_UID_MAX - 12
                                                      : base_len);

        ret = snprintf(cand, PH_MD_UID_BUF, "%.*s,%lu", cut, base, k);
        if (ret < 0 || (size_t)ret >= PH_MD_UID_BUF)
            return -1;
    }
    return 0;
}

int
ph_maildir_uid_assign(struct ph_drop *d)
{
    struct uid_set set;
    char           base[PH_MD_UID_BUF], cand[PH_MD_UID_BUF];
    size_t         cap = 16, i;
    int            ret = -1;

    while (cap < 2 * d->n)
        cap *= 2;
    set.mask = cap - 1;
    set.slot = calloc(cap, sizeof(*set.slot));
    if (set.slot == NULL)
        return -1;
    for (i = 0; i < d->n; i++) {
        struct ph_md_entry *e = &d->v[i];
        const char         *name = d->strs + e->name_off;
        size_t              len = ph_maildir_uid_base(name, base);

        if (uid_pick(&set, d, base, len, cand) < 0)
            goto out;
        if (strcmp(cand, name) == 0)
            e->uid_off = e->name_off;   /* no info part: share the name */
        else if (ph_maildir_strs_add(d, cand, strlen(cand), &e->uid_off) < 0)
            goto out;
        *uid_set_find(&set, d, cand) = (uint32_t)(i + 1);
    }
    ret = 0;
out:
    free(set.slot);
    return ret;
}
