/*
 * smtp_message.c -- where message bytes go: the header splitter (HEADER,
 * EOH), BODY in chunks of chunk_size or one line at a time (seed 002's
 * chunkmode/chunksize), the whole-message buffer, and the size limit
 * (RFC 1870: 552, and nothing more handed to the program).
 */
#include "smtp/smtp_internal.h"

#include <stdlib.h>
#include <string.h>

static void apply_chunking(ph_smtp_session *s);

static void
body_out(ph_smtp_session *s, const char *p, size_t len)
{
    if (len == 0 || s->srv == NULL || s->srv->cb.body == NULL ||
        s->tx.err_code != 0)
        return;
    s->in_body_cb = true;
    s->srv->cb.body(s, p, len);
    s->in_body_cb = false;
    if (s->chunking_pending)
        apply_chunking(s);      /* the callback changed modes: now safe */
}

static void
chunk_flush(ph_smtp_session *s)
{
    size_t len = s->chunk_len;

    s->chunk_len = 0;           /* first: the callback may flush again */
    body_out(s, s->chunk, len);
}

/* Line mode: one BODY call per CRLF line (or per chunk_size piece). */
static void
body_lines(ph_smtp_session *s, const char *p, size_t len)
{
    while (len > 0) {
        const char *lf = memchr(p, '\n', len);
        size_t      n = lf ? (size_t)(lf - p) + 1 : len;
        bool        eol;

        if (n > s->chunk_size - s->chunk_len)
            n = s->chunk_size - s->chunk_len;
        memcpy(s->chunk + s->chunk_len, p, n);
        s->chunk_len += n;
        eol = s->chunk_len >= 2 && s->chunk[s->chunk_len - 1] == '\n' &&
              s->chunk[s->chunk_len - 2] == '\r';
        if (eol || s->chunk_len == s->chunk_size)
            chunk_flush(s);
        p += n;
        len -= n;
    }
}

static void
body_chunks(ph_smtp_session *s, const char *p, size_t len)
{
    while (len > 0) {
        size_t n;
        if (s->chunk_len == 0 && len >= s->chunk_size) {
            body_out(s, p, s->chunk_size);   /* no copy needed */
            p += s->chunk_size;
            len -= s->chunk_size;
            continue;
        }
        n = s->chunk_size - s->chunk_len;
        if (n > len)
            n = len;
        memcpy(s->chunk + s->chunk_len, p, n);
        s->chunk_len += n;
        p += n;
        len -= n;
        if (s->chunk_len == s->chunk_size)
            chunk_flush(s);
    }
}

static void
hs_body(void *ctx, const char *p, size_t len)
{
    ph_smtp_session *s = ctx;

    if (s->line_mode)
        body_lines(s, p, len);
    else
        body_chunks(s, p, len);
}

static void
hs_header(void *ctx, const char *name, size_t nlen, const char *value,
          size_t vlen)
{
    ph_smtp_session *s = ctx;

    if (s->srv == NULL || s->tx.err_code != 0)
        return;
    if (!smtp_plugins_header(s, name, nlen, value, vlen))
        return;                 /* a plugin ate it */
    if (s->srv && s->srv->cb.header)
        s->srv->cb.header(s, name, nlen, value, vlen);
}

static void
hs_eoh(void *ctx)
{
    ph_smtp_session *s = ctx;

    if (s->srv && s->srv->cb.eoh && s->tx.err_code == 0)
        s->srv->cb.eoh(s);
}

void
smtp_message_begin(ph_smtp_session *s)
{
    static const struct ph_smtp_header_cb cb_template = {
        .header = hs_header, .eoh = hs_eoh, .body = hs_body,
    };
    struct ph_smtp_header_cb cb = cb_template;
    /* +1: the splitter holds a header's CR while it waits for the LF. */
    size_t                   hlen = s->srv->limits.max_header_len + 1;

    if (s->hdr_buf == NULL)
        s->hdr_buf = malloc(hlen);
    if (s->chunk == NULL || s->chunk_cap < s->chunk_size) {
        free(s->chunk);
        s->chunk = malloc(s->chunk_size);
        s->chunk_cap = s->chunk ? s->chunk_size : 0;
    }
    if (s->chunk == NULL || s->hdr_buf == NULL) {
        free(s->hdr_buf);       /* the caller sees NULL: 451 and close */
        s->hdr_buf = NULL;
        return;
    }
    s->chunk_len = 0;
    cb.ctx = s;
    ph_smtp_header_init(&s->hs, s->hdr_buf, hlen, &cb);
}

static int
keep_whole(ph_smtp_session *s, const char *p, size_t len)
{
    struct smtp_tx *tx = &s->tx;

    if (tx->msg_len + len > tx->msg_cap) {
        size_t cap = tx->msg_cap ? tx->msg_cap : 16384;
        char  *nm;
        while (cap < tx->msg_len + len)
            cap *= 2;
        nm = realloc(tx->msg, cap);
        if (nm == NULL)
            return PH_ENOMEM;
        tx->msg = nm;
        tx->msg_cap = cap;
    }
    memcpy(tx->msg + tx->msg_len, p, len);
    tx->msg_len += len;
    return 0;
}

static bool
wants_split(const ph_smtp_session *s)
{
    const struct ph_smtp_callbacks *cb = &s->srv->cb;

    return cb->header || cb->eoh || cb->body ||
           ph_pipeline_wants(s->srv->pl, PH_HOOK_SERVER, s->srv->ev_header);
}

void
smtp_message_bytes(ph_smtp_session *s, const char *p, size_t len)
{
    struct smtp_tx *tx = &s->tx;

    if (tx->err_code != 0)
        return;
    tx->size += len;
    if (tx->size > s->srv->limits.max_message_size) {
        ph_smtp_reject_message(s, 552, "5.3.4", "Message size exceeds "
                               "fixed maximum message size");
        return;
    }
    if (s->srv->cb.data != NULL) {
        s->srv->cb.data(s, p, len);
        if (s->tx.err_code != 0 || s->ss.dead)
            return;             /* the program refused it meanwhile */
    }
    if (s->srv->whole_message && keep_whole(s, p, len) != 0) {
        ph_smtp_reject_message(s, 452, "4.3.1", "Insufficient system "
                               "storage");
        return;
    }
    /* Splitting costs a pass over the headers and a copy of the body:
       only when someone takes headers, EOH or BODY (posthornd takes just
       the raw data). */
    if (wants_split(s))
        ph_smtp_header_feed(&s->hs, p, len);
}

void
smtp_message_end(ph_smtp_session *s)
{
    if (s->tx.err_code != 0 || s->srv == NULL || !wants_split(s))
        return;
    ph_smtp_header_finish(&s->hs);
    chunk_flush(s);
}

/* A sticky error: the program hears tx_abort once and nothing more. */
void
smtp_message_abort(ph_smtp_session *s)
{
    if (s->data_aborted)
        return;
    s->data_aborted = true;
    s->chunk_len = 0;
    if (s->srv && s->srv->cb.tx_abort)
        s->srv->cb.tx_abort(s);
}

void
smtp_message_free(ph_smtp_session *s)
{
    free(s->tx.msg);
    s->tx.msg = NULL;
    s->tx.msg_len = s->tx.msg_cap = 0;
}

/*
 * Seed 002 switches chunk mode from inside EOH, so this may run in the
 * middle of a message: what is buffered goes out first, then the buffer
 * grows if it must. On ENOMEM the old size stays.
 */
static void
apply_chunking(ph_smtp_session *s)
{
    size_t chunk_size = s->next_chunk_size;

    s->chunking_pending = false;
    if (s->chunk_len > 0)
        chunk_flush(s);
    s->line_mode = s->next_line_mode;
    if (chunk_size == 0 || chunk_size == s->chunk_size)
        return;
    if (s->chunk != NULL && chunk_size > s->chunk_cap) {
        char *nc = realloc(s->chunk, chunk_size);
        if (nc == NULL)
            return;
        s->chunk = nc;
        s->chunk_cap = chunk_size;
    }
    s->chunk_size = chunk_size;
}

/* From inside a body callback the change waits until it returns: the
   chunk it was handed must stay valid and must not be handed again. */
void
smtp_message_set_chunking(ph_smtp_session *s, bool line_mode,
                          size_t chunk_size)
{
    s->next_line_mode = line_mode;
    s->next_chunk_size = chunk_size;
    s->chunking_pending = true;
    if (!s->in_body_cb)
        apply_chunking(s);
}

void
smtp_msgbufs_take(ph_smtp_session *s)
{
    ph_smtp_server      *srv = s->srv;
    struct smtp_msgbufs *b;

    if (s->hdr_buf != NULL || srv == NULL || srv->nbuf_cache == 0)
        return;
    b = &srv->buf_cache[--srv->nbuf_cache];
    s->hdr_buf = b->hdr;
    s->chunk = b->chunk;
    s->chunk_cap = b->chunk_cap;
    s->data_out = b->data_out;
}

/* Only complete sets of the server's standard sizes are kept. */
void
smtp_msgbufs_give_back(ph_smtp_session *s)
{
    ph_smtp_server      *srv = s->srv;
    struct smtp_msgbufs *b;

    if (srv == NULL || s->hdr_buf == NULL || s->chunk == NULL ||
        s->data_out == NULL || s->chunk_cap != srv->chunk_size ||
        srv->nbuf_cache == SMTP_BUF_CACHE)
        return;
    b = &srv->buf_cache[srv->nbuf_cache++];
    b->hdr = s->hdr_buf;
    b->chunk = s->chunk;
    b->chunk_cap = s->chunk_cap;
    b->data_out = s->data_out;
    s->hdr_buf = s->chunk = s->data_out = NULL;
    s->chunk_cap = 0;
}

void
smtp_msgbufs_cache_free(ph_smtp_server *srv)
{
    while (srv->nbuf_cache > 0) {
        struct smtp_msgbufs *b = &srv->buf_cache[--srv->nbuf_cache];
        free(b->hdr);
        free(b->chunk);
        free(b->data_out);
    }
}
