/*
 * fuzz_smtp_header.c -- the header splitter. Byte 0 sets the header
 * buffer size (1..256, malloc'd exactly for ASan), byte 1 a split point.
 * The whole feed, a split feed and (for short inputs) one byte at a time
 * must report the same headers, one EOH, and the same body bytes.
 */
#undef NDEBUG       /* the checks are the point of a fuzzer */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A digest of the events, so body chunking does not matter. */
struct digest {
    uint64_t hash;
    size_t   hdr_bytes, body_bytes;
    unsigned nheaders, neoh;
};

static void
mix(struct digest *d, const void *p, size_t len)
{
    const unsigned char *c = p;

    while (len-- > 0) {
        d->hash ^= *c++;
        d->hash *= 1099511628211ull;        /* FNV-1a */
    }
}

static void
on_header(void *ctx, const char *name, size_t name_len, const char *value,
          size_t value_len)
{
    struct digest *d = ctx;

    assert(d->neoh == 0);
    assert(name_len > 0 && memchr(name, ':', name_len) == NULL);
    assert(value_len == 0 || (value[0] != ' ' && value[0] != '\t'));
    mix(d, "H", 1);
    mix(d, &name_len, sizeof(name_len));
    mix(d, name, name_len);
    mix(d, &value_len, sizeof(value_len));
    mix(d, value, value_len);
    d->hdr_bytes += name_len + 1 + value_len;
    d->nheaders++;
}

static void
on_eoh(void *ctx)
{
    struct digest *d = ctx;

    mix(d, "E", 1);
    d->neoh++;
}

static void
on_body(void *ctx, const char *p, size_t len)
{
    struct digest *d = ctx;

    assert(d->neoh == 1 && len > 0);
    mix(d, p, len);
    d->body_bytes += len;
}

static void
run(struct digest *d, const char *in, size_t len, size_t cap, size_t cut,
    size_t step)
{
    struct ph_smtp_header_cb       cb = {
        .header = on_header, .eoh = on_eoh, .body = on_body, .ctx = d,
    };
    struct ph_smtp_header_splitter h;
    char                          *buf = malloc(cap);
    size_t                         from = 0;

    assert(buf != NULL);
    memset(d, 0, sizeof(*d));
    d->hash = 14695981039346656037ull;
    ph_smtp_header_init(&h, buf, cap, &cb);
    while (from < len) {
        size_t to = step ? from + step : (from < cut ? cut : len);
        if (to > len)
            to = len;
        ph_smtp_header_feed(&h, in + from, to - from);
        from = to;
    }
    ph_smtp_header_finish(&h);
    free(buf);
    assert(d->neoh == 1);
    /* No byte invented: names, ':' and values, plus the body, never add
       up to more than the input (CRLFs and stripped blanks are gone). */
    assert(d->hdr_bytes + d->body_bytes <= len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct digest whole, split, bytes;
    const char   *in;
    size_t        len, cap, cut;

    if (size < 2)
        return 0;
    cap = 1 + data[0];
    in = (const char *)data + 2;
    len = size - 2;
    cut = len ? data[1] % (len + 1) : 0;
    run(&whole, in, len, cap, len, 0);
    run(&split, in, len, cap, cut, 0);
    assert(memcmp(&whole, &split, sizeof(whole)) == 0);
    if (len <= 4096) {
        run(&bytes, in, len, cap, 0, 1);
        assert(memcmp(&whole, &bytes, sizeof(whole)) == 0);
    }
    return 0;
}
