"""The plugin pipeline in the SMTP server: a plugin refuses a recipient
itself (the RCPT handler does not run), rewrites a response, and sees the
inbound events in order."""

import unittest

import phtest


class SmtpPlugin(phtest.TestCase):

    def test_plugin_refuses_recipient(self):
        srv = self.start_testd("-X")
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        lines = c.cmd("MAIL FROM:<a@example.org>", 250)
        self.assertIn("sender accepted by plugin", lines[-1])
        mark = srv.mark()
        c.cmd("RCPT TO:<plugin-refuse@example.net>", 550, "5.7.1")
        # The plugin answered: the program's RCPT handler never saw it.
        self.assertFalse([l for l in srv.out()[mark:] if
                          l.startswith("RCPT")])
        c.cmd("RCPT TO:<ok@example.net>", 250)
        srv.wait_line(r"^RCPT ", start=mark)
        c.cmd("DATA", 354)
        c.send(b"Subject: hi\r\n\r\nbody\r\n.\r\n")
        c.expect(250, "2.0.0")
        c.cmd("QUIT", 221)
        srv.wait_line(r"^PLUGIN disconnected$")
        events = [l for l in srv.out() if l.startswith("PLUGIN ")]
        names = [e.split()[1] for e in events]
        self.assertEqual(names[0], "connection")
        self.assertEqual(names.count("cmd_rcpt"), 2)
        self.assertIn("header", names)
        self.assertLess(names.index("header"), names.index("eom"))
        self.assertEqual(names[-1], "disconnected")
        self.check_stopped(srv)

    def test_reply_without_eating_is_the_only_reply(self):
        # The plugin answers RCPT but returns PH_EAT_NONE: its reply is
        # the command's, the handler does not run and reply twice.
        srv = self.start_testd("-X")
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        mark = srv.mark()
        c.cmd("RCPT TO:<plugin-none@example.net>", 550,
              "5.7.1 Refused, not eaten")
        c.cmd("NOOP", 250, "2.0.0 OK")
        c.no_more()
        srv.wait_line(r"^PLUGIN cmd_rcpt ", start=mark)
        self.assertFalse([l for l in srv.out()[mark:] if
                          l.startswith("RCPT")])
        # Still in step: nothing was committed, DATA needs a recipient.
        c.cmd("DATA", 503, "5.5.1")
        c.cmd("QUIT", 221)
        self.check_stopped(srv)

    # A reply commits the code the client received, after the response
    # plugins (ARCHITECTURE): a 250 rewritten to 550 commits nothing.

    def test_rewritten_rcpt_adds_no_recipient(self):
        srv = self.start_testd("-X")
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<plugin-rewrite@example.net>", 550,
              "5.7.1 Rewritten by plugin")
        c.cmd("DATA", 503, "5.5.1 Need RCPT command first")
        c.cmd("RCPT TO:<ok@example.net>", 250)
        mark = srv.mark()
        c.cmd("DATA", 354)
        c.send(b"Subject: one\r\n\r\nbody\r\n.\r\n")
        c.expect(250, "2.0.0")
        eom = srv.wait_line(r"^EOM ", start=mark)
        self.assertIn(" rcpts=1 ", eom)            # the 550 one is not in

    def test_rewritten_mail_opens_no_transaction(self):
        srv = self.start_testd("-X")
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<plugin-rewrite@example.org>", 550, "5.7.1")
        c.cmd("RCPT TO:<ok@example.net>", 503, "5.5.1 Need MAIL command")
        c.cmd("MAIL FROM:<a@example.org>", 250)     # not "already given"

    def test_rewritten_final_reply_aborts(self):
        # The program said 250 at EOM; the client saw 550: the log and
        # the program's tx_abort say what the client saw.
        srv = self.start_testd("-X", "-v")
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<ok@example.net>", 250)
        mark = srv.mark()
        c.cmd("DATA", 354)
        c.send(b"X-Plugin: rewrite\r\n\r\nbody\r\n.\r\n")
        c.expect(550, "5.7.1 Rewritten by plugin")
        srv.wait_line(r"^ABORT$", start=mark)
        srv.wait_err(r"event=message .* code=550$")
        # The session goes on, in step, with no transaction.
        c.cmd("RCPT TO:<ok@example.net>", 503, "5.5.1 Need MAIL command")
        c.cmd("MAIL FROM:<a@example.org>", 250)

    def test_rewritten_lmtp_reply_per_recipient(self):
        srv = self.start_testd("-X", "-m", "lmtp")
        c = self.connect(srv)
        c.cmd("LHLO client.example", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<plugin-rewrite@example.net>", 550, "5.7.1")
        c.cmd("RCPT TO:<ok@example.net>", 250)
        c.cmd("DATA", 354)
        c.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
        c.expect(250, "<ok@example.net> delivered")
        c.no_more()                                 # one rcpt, one reply

    def test_suppressed_bdat_refusal_still_drops_the_chunk(self):
        # The 503 to a BDAT before HELO never reaches the client, but it
        # still answers BDAT: its chunk is read and dropped, never run.
        srv = self.start_testd("--suppress", "503", "-v")
        c = self.connect(srv)
        c.send(b"BDAT 16\r\nXYZZY smuggled\r\n")
        c.cmd("NOOP", 250, "2.0.0 OK")          # the next reply: NOOP's
        self.assertFalse([l for l in srv.err if "XYZZY" in l])

    def test_no_plugin_default_texts(self):
        srv = self.start_testd()
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        lines = c.cmd("MAIL FROM:<a@example.org>", 250)
        self.assertNotIn("plugin", lines[-1])
        c.cmd("RCPT TO:<plugin-refuse@example.net>", 250)
        c.cmd("QUIT", 221)
        self.check_stopped(srv)


if __name__ == "__main__":
    unittest.main()
