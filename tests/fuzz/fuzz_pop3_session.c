/*
 * fuzz_pop3_session.c -- bytes into a real POP3 session with the default
 * handlers and the Maildir maildrop (user "u", password "p", three small
 * messages), over a socketpair: nothing may crash, hang or leak (ASan).
 * The Maildir is made once per process; deletions only happen after
 * QUIT, so later inputs may see fewer messages, which is fine.
 */
#undef NDEBUG
#define _XOPEN_SOURCE 700   /* nftw */
#include <assert.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pop3/pop3_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TURNS 64

static char maildir[256];

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

/* The replay run leaves nothing behind in /tmp. */
static void
remove_maildir(void)
{
    char *slash = strrchr(maildir, '/');

    if (slash == NULL)
        return;
    *slash = '\0';                 /* the mkdtemp directory */
    nftw(maildir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
make_maildir(void)
{
    static const char *const msgs[] = {
        "Subject: a\n\nbody\n.dot\n", "Subject: b\r\n\r\nline\r\n",
        "no newline at end",
    };
    char tmpl[] = "/tmp/ph-fuzz-pop3-XXXXXX", path[512];

    if (maildir[0] != '\0')
        return;
    assert(mkdtemp(tmpl) != NULL);
    snprintf(maildir, sizeof(maildir), "%s/u", tmpl);
    atexit(remove_maildir);
    for (size_t i = 0; i < 3; i++) {
        FILE *f;
        if (i == 0) {
            assert(mkdir(maildir, 0700) == 0);
            snprintf(path, sizeof(path), "%s/new", maildir);
            assert(mkdir(path, 0700) == 0);
            snprintf(path, sizeof(path), "%s/cur", maildir);
            assert(mkdir(path, 0700) == 0);
            snprintf(path, sizeof(path), "%s/tmp", maildir);
            assert(mkdir(path, 0700) == 0);
        }
        snprintf(path, sizeof(path), "%s/new/170000000%zu.M1P1Q%zu.fuzz",
                 maildir, i, i);
        f = fopen(path, "w");
        assert(f != NULL);
        fputs(msgs[i], f);
        fclose(f);
    }
}

static void
verify(ph_pop3_session *s, const struct ph_pop3_auth *a, void *ctx)
{
    bool ok = a->password && strcmp(a->user, "u") == 0 &&
              strcmp(a->password, "p") == 0;

    ph_pop3_auth_reply(s, ok ? PH_POP3_OK : PH_POP3_ERR_AUTH, maildir);
}

static void
drain(int fd)
{
    char buf[8192];

    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ph_pop3_options o = {
        .hostname = "fuzz.example", .apop = true,
        .limits = { .auth_fail_delay_ms = PH_POP3_NO_DELAY },
    };
    ph_loop        *loop = ph_loop_new();
    ph_pop3_server *srv;
    int             sv[2];
    size_t          off = 0;
    bool            shut = false;

    make_maildir();
    assert(loop != NULL && (srv = ph_pop3_server_new(loop, &o)) != NULL);
    ph_pop3_server_set_verify(srv, verify, NULL);
    assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    assert(pop3_session_accept(&srv->core, sv[0], NULL, 0, false) == 0);
    for (int turn = 0; turn < MAX_TURNS && srv->core.nsessions > 0; turn++) {
        if (off < size) {
            ssize_t n = send(sv[1], data + off, size - off,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN)
                off = size;
        } else if (!shut) {
            shutdown(sv[1], SHUT_WR);
            shut = true;
        }
        event_base_loop(ph_loop_base(loop), EVLOOP_NONBLOCK);
        drain(sv[1]);
    }
    ph_pop3_server_free(srv);
    ph_loop_free(loop);
    close(sv[1]);
    return 0;
}
