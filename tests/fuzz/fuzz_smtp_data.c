/*
 * fuzz_smtp_data.c -- the DATA reader (end of data, dot-unstuffing).
 * Byte 0 sets max_line_len, byte 1 a split point; the rest is DATA. The
 * whole feed, a feed split at that point and (for short inputs) one byte
 * at a time must agree on output, consumed count, state and flags; out
 * is exactly len + 2 bytes, so ASan sees any overrun.
 */
#undef NDEBUG       /* the checks are the point of a fuzzer */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
    char                      *out;      /* size + 2 */
    size_t                     out_len;
    size_t                     consumed;
    struct ph_smtp_data_reader r;
};

/* Feeds in[0..len) in pieces of at most step bytes (0: split at cut). */
static void
feed(struct run *run, const char *in, size_t len, size_t max_line,
     size_t cut, size_t step)
{
    size_t from = 0;

    ph_smtp_data_init(&run->r, max_line);
    run->out_len = run->consumed = 0;
    while (!ph_smtp_data_done(&run->r)) {
        size_t to = step ? from + step : (from < cut ? cut : len), n, olen;
        char  *out;

        if (to > len)
            to = len;
        out = malloc(to - from + 2);
        assert(out != NULL);
        n = ph_smtp_data_feed(&run->r, in + from, to - from, out, &olen);
        assert(n <= to - from && olen <= to - from + 2);
        assert(n == to - from || ph_smtp_data_done(&run->r));
        memcpy(run->out + run->out_len, out, olen);
        free(out);
        run->out_len += olen;
        run->consumed += n;
        from = to;
        if (from == len)
            break;
    }
}

static void
same(const struct run *a, const struct run *b)
{
    assert(a->out_len == b->out_len);
    assert(memcmp(a->out, b->out, a->out_len) == 0);
    assert(a->consumed == b->consumed);
    assert(a->r.state == b->r.state);
    assert(a->r.bare_cr == b->r.bare_cr && a->r.bare_lf == b->r.bare_lf);
    assert(a->r.long_line == b->r.long_line);
}

/* Only CR LF "." CR LF may end the data (SMTP smuggling). */
static void
check_end(const char *in, const struct run *run)
{
    if (!ph_smtp_data_done(&run->r))
        return;
    assert(run->consumed >= 3);
    assert(memcmp(in + run->consumed - 3, ".\r\n", 3) == 0);
    assert(run->consumed == 3 || (run->consumed >= 5 &&
           memcmp(in + run->consumed - 5, "\r\n", 2) == 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run  whole, split, bytes;
    const char *in;
    size_t      len, max_line, cut;

    if (size < 2)
        return 0;
    max_line = data[0];
    in = (const char *)data + 2;
    len = size - 2;
    cut = len ? data[1] % (len + 1) : 0;
    whole.out = malloc(len + 2);
    split.out = malloc(len + 2);
    bytes.out = malloc(len + 2);
    assert(whole.out && split.out && bytes.out);
    feed(&whole, in, len, max_line, len, 0);
    assert(whole.out_len <= whole.consumed);
    check_end(in, &whole);
    feed(&split, in, len, max_line, cut, 0);
    same(&whole, &split);
    if (len <= 4096) {
        feed(&bytes, in, len, max_line, 0, 1);
        same(&whole, &bytes);
    }
    free(whole.out);
    free(split.out);
    free(bytes.out);
    return 0;
}
