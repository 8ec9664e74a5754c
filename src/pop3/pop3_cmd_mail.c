/*
 * pop3_cmd_mail.c -- the TRANSACTION state (RFC 1939 5) and what works in
 * both: STAT, LIST, RETR, DELE, NOOP, RSET, TOP, UIDL (RFC 1939 7), CAPA
 * (RFC 2449), QUIT and the UPDATE state. DELE only marks; messages are
 * removed in UPDATE, after QUIT.
 */
#include "pop3/pop3_internal.h"

#include <stdlib.h>
#include <string.h>

/* Message argument: the 0-based index, or -1 after replying -ERR. */
static long
msg_arg(ph_pop3_session *s, size_t argc, const char *const *argv)
{
    long i;

    if (argc < 1) {
        ph_pop3_reply(s, PH_POP3_ERR, "Message number required");
        return -1;
    }
    if (ph_pop3_parse_count(argv[0]) < 0) {
        ph_pop3_reply(s, PH_POP3_ERR, "Invalid message number");
        return -1;
    }
    i = ph_pop3_parse_msgnum(argv[0], s->nmsgs);
    if (i < 0 || s->deleted[i]) {
        ph_pop3_reply(s, PH_POP3_ERR, i < 0 ? "No such message"
                                            : "Message already deleted");
        return -1;
    }
    return i;
}

static bool
get_msg(ph_pop3_session *s, size_t i, struct ph_drop_msg *m)
{
    if (s->srv->md->msg(s->drop, i, m) == PH_DROP_OK)
        return true;
    ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Cannot read message");
    return false;
}

enum ph_result
pop3_cmd_stat(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    struct ph_drop_msg m;
    size_t             n = 0, total = 0;

    for (size_t i = 0; i < s->nmsgs; i++) {
        if (s->deleted[i])
            continue;
        if (!get_msg(s, i, &m))
            return PH_OK;
        n++;
        total += m.size;
    }
    ph_pop3_reply(s, PH_POP3_OK, "%zu %zu", n, total);
    return PH_OK;
}

static enum ph_result
list_or_uidl(ph_pop3_session *s, size_t argc, const char *const *argv,
             bool uidl)
{
    struct ph_drop_msg m;
    long               i;

    if (argc == 0) {
        if (pop3_status_line(s, PH_POP3_OK, uidl ? "Unique-ID listing "
                             "follows" : "Scan listing follows") == 0)
            pop3_cursor_start(s, uidl ? POP3_CUR_UIDL : POP3_CUR_LIST);
        return PH_OK;
    }
    if ((i = msg_arg(s, argc, argv)) < 0 || !get_msg(s, (size_t)i, &m))
        return PH_OK;
    if (uidl)
        ph_pop3_reply(s, PH_POP3_OK, "%ld %s", i + 1, m.uid);
    else
        ph_pop3_reply(s, PH_POP3_OK, "%ld %zu", i + 1, m.size);
    return PH_OK;
}

enum ph_result
pop3_cmd_list(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    return list_or_uidl(s, argc, argv, false);
}

enum ph_result
pop3_cmd_uidl(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    return list_or_uidl(s, argc, argv, true);
}

/* RETR and TOP: "+OK", then the message streamed by the cursor. */
static enum ph_result
send_message(ph_pop3_session *s, long i, bool top, unsigned long lines)
{
    const struct ph_maildrop_ops *md = s->srv->md;
    struct ph_drop_msg            m;
    char                          text[64];

    if (!get_msg(s, (size_t)i, &m))
        return PH_OK;
    if (s->scratch == NULL &&
        (s->scratch = malloc(3 * 32 * 1024 + 16)) == NULL) {
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Out of memory");
        return PH_OK;
    }
    if (md->stream_open(s->drop, (size_t)i, &s->cur.st) != PH_DROP_OK) {
        s->cur.st = NULL;
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "Cannot read message");
        return PH_OK;
    }
    snprintf(text, sizeof(text), top ? "Top of message follows"
             : "%zu octets", m.size);
    pop3_status_line(s, PH_POP3_OK, text);
    pop3_cursor_start(s, POP3_CUR_MSG);
    s->cur.top = top;
    s->cur.body_left = lines;
    return PH_OK;
}

enum ph_result
pop3_cmd_retr(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    long i = msg_arg(s, argc, argv);

    return i < 0 ? PH_OK : send_message(s, i, false, 0);
}

enum ph_result
pop3_cmd_top(ph_pop3_session *s, const char *verb, size_t argc,
             const char *const *argv)
{
    long i, n;

    if (argc != 2) {
        ph_pop3_reply(s, PH_POP3_ERR, "Syntax: TOP msg lines");
        return PH_OK;
    }
    if ((n = ph_pop3_parse_count(argv[1])) < 0) {
        ph_pop3_reply(s, PH_POP3_ERR, "Invalid line count");
        return PH_OK;
    }
    if ((i = msg_arg(s, argc, argv)) < 0)
        return PH_OK;
    return send_message(s, i, true, (unsigned long)n);
}

enum ph_result
pop3_cmd_dele(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    long i = msg_arg(s, argc, argv);

    if (i < 0)
        return PH_OK;
    s->deleted[i] = 1;          /* only marked: UPDATE removes it */
    ph_pop3_reply(s, PH_POP3_OK, "Message %ld deleted", i + 1);
    return PH_OK;
}

enum ph_result
pop3_cmd_noop(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    ph_pop3_reply(s, PH_POP3_OK, "%s", "");
    return PH_OK;
}

enum ph_result
pop3_cmd_rset(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    memset(s->deleted, 0, s->nmsgs);
    ph_pop3_reply(s, PH_POP3_OK, "Maildrop has %zu messages", s->nmsgs);
    return PH_OK;
}

enum ph_result
pop3_cmd_capa(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    const char *caps[9];
    size_t      n = 0;
    /* Login and STLS exist only in AUTHORIZATION (RFC 2449 5). */
    bool        in_auth = s->ss.state == POP3_S_AUTH;
    bool        plain = in_auth && pop3_plaintext_ok(s);

    /* RFC 2595 2.1 / 4: what needs TLS first is not announced before it,
       and STLS only while it can be used. */
    caps[n++] = "TOP";
    if (plain)
        caps[n++] = "USER";
    caps[n++] = "UIDL";
    caps[n++] = "RESP-CODES";
    caps[n++] = "AUTH-RESP-CODE";
    caps[n++] = "PIPELINING";
    if (plain)
        caps[n++] = "SASL PLAIN";
    if (in_auth && pop3_tls_offered(s))
        caps[n++] = "STLS";
    caps[n++] = "IMPLEMENTATION posthorn-" PH_VERSION_STRING;
    ph_pop3_reply_lines(s, "Capability list follows", caps, n);
    return PH_OK;
}

/* RFC 1939 6: remove what was marked, release the maildrop, sign off. */
void
pop3_update(ph_pop3_session *s)
{
    const struct ph_maildrop_ops *md = s->srv->md;
    size_t                        failed = 0, removed = 0;

    ph_session_set_state(&s->ss, POP3_S_UPDATE);
    for (size_t i = 0; i < s->nmsgs; i++) {
        if (!s->deleted[i])
            continue;
        if (md->dele(s->drop, i) == PH_DROP_OK)
            removed++;
        else
            failed++;
    }
    md->close(s->drop);
    s->drop = NULL;
    if (ph_log_enabled(s->ss.loop, PH_LOG_INFO)) {
        char user[96];
        ph_log(s->ss.loop, PH_LOG_INFO, "session=%s event=update user=%s "
               "deleted=%zu failed=%zu", s->ss.id, ph_log_sanitize(user,
               sizeof(user), s->user, strlen(s->user)), removed, failed);
    }
    if (failed)
        ph_pop3_reply(s, PH_POP3_ERR_SYS_TEMP, "%zu messages not deleted",
                      failed);
    else
        ph_pop3_reply(s, PH_POP3_OK, "Bye, %zu messages deleted", removed);
}

enum ph_result
pop3_cmd_quit(ph_pop3_session *s, const char *verb, size_t argc,
              const char *const *argv)
{
    s->close_after = true;
    if (s->ss.state == POP3_S_TRANS)
        pop3_update(s);
    else
        ph_pop3_reply(s, PH_POP3_OK, "Bye");
    return PH_CLOSE;
}
