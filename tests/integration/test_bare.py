"""Bare mode (seed 000) with examples/smtp_helo_quit: a 220 banner, HELO
and QUIT handlers, 502 for everything else."""

import unittest

import phtest


class BareHeloQuit(phtest.TestCase):

    def setUp(self):
        super().setUp()
        self.require(phtest.HELO_QUIT)
        self.srv = self.start([phtest.HELO_QUIT, "0"])

    def test_banner_helo_quit(self):
        c = self.connect(self.srv, banner=None)
        code, lines = c.reply()
        self.assertEqual(code, 220, lines)
        c.cmd("HELO x", 250)
        self.assertEqual(c.cmd("HELO x", 250), ["Welcome."])
        self.assertEqual(c.cmd("QUIT", 221), ["Good bye!"])
        c.expect_eof()

    def test_other_verbs_get_502(self):
        c = self.connect(self.srv)
        for line in ("MAIL FROM:<a@b.example>", "EHLO x", "FOO", "RCPT TO:<x>",
                     "DATA", "NOOP", "RSET"):
            c.send(line + "\r\n")
            code, lines = c.reply()
            self.assertEqual(code, 502, (line, lines))
        # Still alive: HELO works after the errors, case-insensitively.
        self.assertEqual(c.cmd("helo y", 250), ["Welcome."])
        c.cmd("QUIT", 221)
        c.expect_eof()

    def test_pipelined_in_bare_mode(self):
        c = self.connect(self.srv)
        c.send("HELO a\r\nFOO\r\nHELO b\r\nQUIT\r\n")
        c.expect(250, "Welcome.")
        c.expect(502)
        c.expect(250, "Welcome.")
        c.expect(221, "Good bye!")
        c.expect_eof()

    def test_sigterm_exits_cleanly(self):
        self.check_stopped(self.srv)


if __name__ == "__main__":
    unittest.main()
