/*
 * linereader.c -- strict CRLF line framing over an evbuffer (RFC 5321
 * 2.3.8: only CR LF ends a line). Over-long lines are drained as they
 * arrive and reported once, so a client cannot make us buffer without
 * bound (nginx's "skip invalid command till LF").
 */
#include "core/core_internal.h"

enum ph_line_result
ph_linereader_read(struct ph_linereader *lr, struct evbuffer *in,
                   char *line_out, size_t *len_out)
{
    struct evbuffer_ptr start, found;
    size_t              avail = evbuffer_get_length(in), n;

    if (avail == 0)
        return PH_LINE_NONE;
    evbuffer_ptr_set(in, &start, lr->scanned, EVBUFFER_PTR_SET);
    found = evbuffer_search(in, "\r\n", 2, &start);
    if (found.pos < 0) {
        /* Keep the last byte: it may be the CR of a CRLF to come. */
        lr->scanned = avail - 1;
        if (lr->discarding || avail > lr->max) {
            lr->discarding = true;
            evbuffer_drain(in, avail - 1);
            lr->scanned = 0;
        }
        return PH_LINE_NONE;
    }
    n = (size_t)found.pos + 2;
    lr->scanned = 0;
    if (lr->discarding || n > lr->max) {
        lr->discarding = false;
        evbuffer_drain(in, n);
        return PH_LINE_TOO_LONG;
    }
    evbuffer_remove(in, line_out, n);
    *len_out = n - 2;
    return PH_LINE_OK;
}
