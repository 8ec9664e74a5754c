/*
 * fuzz_posthornd_smtp.c -- a whole SMTP, submission or LMTP session
 * through posthornd's own handlers and callbacks (src/posthornd/smtpd.c)
 * into Maildirs under a temporary mail root. The library's session fuzz
 * target uses test handlers; this one finds what only the daemon's
 * delivery code does with a sequence (issue 9: RCPT after a BDAT chunk).
 *
 * Input: the first byte picks the listener kind (SMTP, submission,
 * LMTP), the rest is what the client sends. After the session:
 *   - no temporary file is left in any tmp/ (rollback or rename),
 *   - a message is in some new/ exactly when a "250 ... stored as" was
 *     sent (no acknowledged loss, nothing stored without a 250).
 * Then new/ is emptied for the next input.
 */
#undef NDEBUG       /* the checks are the point of a fuzzer */
#define _XOPEN_SOURCE 700
#include <assert.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posthornd/posthornd.h"
#include "smtp_pump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pd g_d;
static char      g_root[256];

static void
write_users(const char *path)
{
    FILE *f = fopen(path, "w");

    assert(f != NULL);
    /* {PLAIN}: the fuzzer's time goes to sessions, not to hashing. */
    fputs("alice@example.test:{PLAIN}pw\n"
          "bob@example.test:{PLAIN}pw\n"
          "carol@other.test:{PLAIN}pw\n", f);
    assert(fclose(f) == 0);
}

static void
remove_root(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_root);
    ph_passwd_free(g_d.pw);
    for (size_t i = 0; i < g_d.nlocal; i++)
        free(g_d.local[i]);
    pd_config_free(&g_d.cfg);
}

/* A daemon configuration as the command line would make it, once. */
static void
setup(void)
{
    const char *tmp = getenv("TMPDIR");
    char        users[300], mail[300];

    snprintf(g_root, sizeof(g_root), "%s/ph-fuzz-pd-XXXXXX",
             tmp ? tmp : "/tmp");
    assert(mkdtemp(g_root) != NULL);
    snprintf(users, sizeof(users), "%s/users", g_root);
    snprintf(mail, sizeof(mail), "%s/mail", g_root);
    write_users(users);
    char *argv[] = { "posthornd", "--users", users, "--mail-root", mail,
                     "--hostname", "mx.fuzz", "--auth-fail-delay", "0",
                     "--max-recipients", "6", "--max-message-size",
                     "65536", "--allow-any-sender", NULL };
    assert(pd_config_parse(&g_d.cfg, 14, argv) == 0);
    assert(mkdir_p(&g_d, mail) == 0);
    assert(pd_users_load(&g_d, false) == 0);
    atexit(remove_root);
}

/* What one walk of the mail root found. */
static size_t g_in_new, g_in_tmp;
static bool   g_clear;

static int
visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    const char *dir;

    if (type != FTW_F)
        return 0;
    dir = path + ftw->base - 5;         /* ".../new/<name>" */
    if (ftw->base >= 5 && strncmp(dir, "/new/", 5) == 0) {
        g_in_new++;
        if (g_clear)
            unlink(path);
    } else if (ftw->base >= 5 && strncmp(dir, "/tmp/", 5) == 0) {
        g_in_tmp++;
    }
    return 0;
}

static void
walk_mail(bool clear)
{
    char mail[300];

    snprintf(mail, sizeof(mail), "%s/mail", g_root);
    g_in_new = g_in_tmp = 0;
    g_clear = clear;
    nftw(mail, visit, 16, FTW_PHYS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum pd_kind kinds[] = { PD_SMTP, PD_SUBMISSION, PD_LMTP };
    struct smtp_pump_seen     seen = { 0 };
    ph_smtp_server           *srv;

    if (g_root[0] == '\0')
        setup();
    if (size == 0)
        return 0;
    g_d.loop = ph_loop_new();
    assert(g_d.loop != NULL);
    srv = pd_smtp_server_new(&g_d, kinds[data[0] % 3], false);
    assert(srv != NULL);
    smtp_pump_session(g_d.loop, srv, data + 1, size - 1, &seen);
    ph_smtp_server_free(srv);           /* an open transaction rolls back */
    ph_loop_free(g_d.loop);
    g_d.loop = NULL;
    walk_mail(true);
    assert(g_in_tmp == 0);
    assert((g_in_new > 0) == (seen.nstored > 0));
    assert(g_in_new <= seen.nstored * 6);
    return 0;
}
