/*
 * smtp_cmd_bdat.c -- CHUNKING and BINARYMIME (RFC 3030): BDAT <size>
 * [LAST], whose <size> raw octets follow the command's CRLF. They go to
 * the same message sink as DATA (smtp_message.c), with no dot-stuffing
 * and no end-of-data line, so bare CR and LF are plain bytes here; BDAT
 * LAST ends the message as the final dot does (smtp_cmd_data.c).
 *
 * A chunk is always read, also when it is refused (RFC 3030 4.2: the
 * client sends it regardless), and a refused chunk fails the transaction.
 * Only a malformed size closes the connection: then nobody knows where
 * the chunk ends.
 */
#include "smtp/smtp_internal.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

/* Not in bare mode, and not once the program removed the BDAT verb. */
bool
smtp_chunking_offered(ph_smtp_session *s)
{
    return s->srv != NULL && s->srv->mode != PH_SMTP_MODE_BARE &&
           smtp_verb_find(s->srv, "BDAT", 4) != NULL;
}

static bool
tx_binarymime(const ph_smtp_session *s)
{
    for (size_t i = 0; i < s->tx.nmail_params; i++) {
        const struct ph_smtp_param *p = &s->tx.mail_params[i];
        if (strcasecmp(p->keyword, "BODY") == 0 && p->value != NULL &&
            strcasecmp(p->value, "BINARYMIME") == 0)
            return true;
    }
    return false;
}

/* DATA's check: one transaction does not mix the two (RFC 3030 3). */
int
smtp_check_data(ph_smtp_session *s, const char *arg)
{
    if (s->tx.bdat) {
        ph_smtp_reply(s, 503, "5.5.1", "DATA not allowed after BDAT");
        return -1;
    }
    if (tx_binarymime(s)) {
        ph_smtp_reply(s, 503, "5.5.1", "BODY=BINARYMIME needs BDAT, not "
                      "DATA");
        return -1;
    }
    return 0;
}

/* The reply that ends a chunk: to the BDAT command, which waited for it. */
static void
chunk_reply(ph_smtp_session *s, int code, const char *enh, const char *text)
{
    strcpy(s->cur_verb, "BDAT");
    s->cur_id = SMTP_V_BDAT;
    s->expect = 1;
    s->replied = 0;
    ph_smtp_reply(s, code, enh, "%s", text);
}

/* The chunk is taken: its bytes go to the message, its reply comes when
   they are all read (the handler's reply, in effect, is deferred). */
static void
chunk_start(ph_smtp_session *s)
{
    s->bdat_armed = false;
    if (s->ss.state == SMTP_S_CLOSING)
        return;
    if (!s->tx.bdat) {
        if (smtp_data_prepare(s) != 0) {
            s->close_after_reply = true;
            ph_smtp_reply(s, 421, "4.3.0", "Out of memory, closing "
                          "connection");
            return;
        }
        s->tx.bdat = true;
    }
    s->bdat_skip = false;
    s->expect = 0;
    ph_session_set_state(&s->ss, SMTP_S_BDAT);
    if (s->ss.waiting && !s->in_dispatch)
        ph_session_resume(&s->ss);  /* a pending handler took it: read on */
}

/* The default handler, and what a program's BDAT handler calls to take
   the chunk after its own preparations (as DATA's handler calls 354). */
enum ph_result
smtp_cmd_bdat(ph_smtp_session *s, const char *verb, const char *arg)
{
    if (!s->ss.dead && s->bdat_armed)
        chunk_start(s);
    return PH_OK;
}

/*
 * A later chunk of a message in progress: plugins hear "cmd_bdat" as for
 * every BDAT, but the handler ran at the first chunk only (where the
 * program prepares for the message, as at DATA).
 */
static int
next_chunk(ph_smtp_session *s, const char *arg)
{
    struct smtp_verb *v = smtp_verb_find(s->srv, "BDAT", 4);

    if (v != NULL && !smtp_plugins_command(s, v, arg)) {
        /* A plugin's reply refused it (smtp_bdat_commit); one that ate
           it without a reply gets the 451 any command would. */
        smtp_run_handler(s, SMTP_V_BDAT, s->cur_verb, NULL, arg, 1);
        return -1;
    }
    chunk_start(s);
    return -1;
}

static const char *
sequence_error(const ph_smtp_session *s)
{
    if (s->ss.state < SMTP_S_IDLE)
        return s->srv->mode == PH_SMTP_MODE_LMTP ? "Send LHLO first"
                                                 : "Send HELO/EHLO first";
    if (s->tx.sender == NULL)
        return "No transaction, need MAIL command first";
    if (s->tx.nrcpts == 0)
        return "Need RCPT command first";
    return NULL;
}

/*
 * BDAT has no sequencing flags: a flag's 503 would leave the chunk's
 * bytes to be read as commands. The size is parsed first, so that every
 * refusal from here on (this 503, a plugin's or a handler's reply) can
 * drop exactly the chunk (smtp_bdat_commit).
 */
int
smtp_check_bdat(ph_smtp_session *s, const char *arg)
{
    struct ph_smtp_bdat b;
    const char         *why;

    if (ph_smtp_parse_bdat(arg, strlen(arg), &b) != PH_PARSE_OK) {
        s->close_after_reply = true;
        ph_smtp_reply(s, 501, "5.5.4", "Syntax: BDAT <size> [LAST]; "
                      "closing connection");
        return -1;
    }
    s->bdat_size = s->bdat_left = b.size;
    s->bdat_last = b.last;
    s->bdat_armed = true;
    why = sequence_error(s);
    if (why != NULL) {
        ph_smtp_reply(s, 503, "5.5.1", "%s", why);
        return -1;
    }
    return s->tx.bdat ? next_chunk(s, arg) : 0;
}

/*
 * A reply to BDAT before its chunk was read refuses the chunk, whoever
 * sent it. RFC 3030 4.2: the transaction has failed, and the chunks the
 * client pipelined after it must be read and dropped too -- they get 503
 * for want of a transaction.
 */
void
smtp_bdat_commit(ph_smtp_session *s)
{
    if (!s->bdat_armed)
        return;                 /* the reply at a chunk's end */
    s->bdat_armed = false;
    if (s->ss.state == SMTP_S_CLOSING)
        return;                 /* nothing more is read */
    if (s->tx.sender != NULL)
        smtp_tx_reset(s, true);
    s->bdat_back = s->ss.state;
    s->bdat_skip = true;
    ph_session_set_state(&s->ss, SMTP_S_BDAT);
}

/* An error in the data (size, a program's ph_smtp_reject_message) ends
   the transaction at the end of this chunk; tx_abort has been called. */
static void
chunk_failed(ph_smtp_session *s)
{
    struct smtp_tx *tx = &s->tx;
    char            enh[sizeof(tx->err_enh)], text[sizeof(tx->err_text)];
    int             code = tx->err_code;

    memcpy(enh, tx->err_enh, sizeof(enh));
    memcpy(text, tx->err_text, sizeof(text));
    smtp_tx_reset(s, true);
    chunk_reply(s, code, enh[0] ? enh : NULL, text);
}

static void
chunk_end(ph_smtp_session *s)
{
    char text[48];

    if (s->bdat_skip) {
        s->bdat_skip = false;
        ph_session_set_state(&s->ss, s->bdat_back);
        return;
    }
    if (s->bdat_last) {
        smtp_data_end(s);       /* eom or the sticky error, as after DATA */
        return;
    }
    if (s->tx.err_code != 0) {
        chunk_failed(s);
        return;
    }
    ph_session_set_state(&s->ss, SMTP_S_RCPT);
    snprintf(text, sizeof(text), "%" PRIu64 " octets received", s->bdat_size);
    chunk_reply(s, 250, "2.0.0", text);
}

/* Hands up to one slice of the chunk to the message; the bytes used. */
static size_t
feed_slice(ph_smtp_session *s, struct evbuffer *in)
{
    struct evbuffer_iovec v[8];
    size_t                want = SMTP_DATA_SLICE, used = 0, len;
    int                   n, i;

    if (s->bdat_left < want)
        want = (size_t)s->bdat_left;
    if (s->bdat_skip) {
        len = evbuffer_get_length(in);
        return len < want ? len : want;
    }
    /* The last vector may reach past want: clip it. */
    n = evbuffer_peek(in, (ev_ssize_t)want, NULL, v, 8);
    for (i = 0; i < n && i < 8 && used < want; i++) {
        len = v[i].iov_len < want - used ? v[i].iov_len : want - used;
        smtp_message_bytes(s, v[i].iov_base, len);
        used += len;
        if (s->ss.dead || s->ss.state != SMTP_S_BDAT)
            break;
    }
    return used;
}

bool
smtp_bdat_read(ph_smtp_session *s)
{
    struct evbuffer *in = ph_conn_input(s->ss.conn);
    size_t           used;

    while (s->bdat_left > 0) {
        used = feed_slice(s, in);
        if (s->ss.dead)
            return false;
        evbuffer_drain(in, used);
        s->bdat_left -= used;
        if (s->ss.state != SMTP_S_BDAT || used == 0)
            return false;       /* closed meanwhile, or more to come */
    }
    chunk_end(s);
    return true;
}
