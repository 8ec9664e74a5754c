"""Command sequencing and argument checks (RFC 5321 4.1.4, 4.3.2)."""

import unittest

import phtest


class Sequencing(phtest.TestCase):

    def setUp(self):
        super().setUp()
        self.srv = self.start_testd()
        self.c = self.connect(self.srv)

    def greet(self):
        self.c.cmd("EHLO client.example", 250)

    def test_mail_before_ehlo(self):
        self.c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1")
        self.c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
        self.c.cmd("DATA", 503, "5.5.1")
        self.greet()
        self.c.cmd("MAIL FROM:<a@example.org>", 250)

    def test_rcpt_before_mail(self):
        self.greet()
        self.c.cmd("RCPT TO:<b@example.net>", 503,
                   "5.5.1 Need MAIL command first")

    def test_data_before_rcpt(self):
        self.greet()
        self.c.cmd("DATA", 503, "5.5.1")
        self.c.cmd("MAIL FROM:<a@example.org>", 250)
        self.c.cmd("DATA", 503, "5.5.1 Need RCPT command first")
        self.c.cmd("RCPT TO:<reject@example.net>", 550, "5.1.1")
        self.c.cmd("DATA", 503, "5.5.1")       # no accepted recipient yet
        self.c.cmd("RCPT TO:<b@example.net>", 250)
        self.c.cmd("DATA", 354)
        self.c.send("\r\nx\r\n.\r\n")
        self.c.expect(250)

    def test_second_mail(self):
        self.greet()
        self.c.cmd("MAIL FROM:<a@example.org>", 250)
        self.c.cmd("MAIL FROM:<b@example.org>", 503, "5.5.1")
        self.sync(self.srv, self.c)
        self.assertEqual(self.srv.out("MAIL "),
                         ["MAIL from=<a@example.org>"])

    def test_rset_clears(self):
        self.greet()
        self.c.cmd("MAIL FROM:<a@example.org>", 250)
        self.c.cmd("RCPT TO:<b@example.net>", 250)
        self.c.cmd("RSET", 250, "2.0.0")
        self.srv.wait_line(r"^ABORT$")
        self.c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
        self.c.cmd("DATA", 503, "5.5.1")
        self.c.cmd("MAIL FROM:<a@example.org>", 250)   # a new one is fine

    def test_ehlo_resets_transaction(self):
        self.greet()
        self.c.cmd("MAIL FROM:<a@example.org>", 250)
        self.greet()
        self.c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")

    def test_arguments(self):
        self.greet()
        self.c.cmd("RSET now", 501, "5.5.4")
        self.c.cmd("QUIT now", 501, "5.5.4")
        self.c.cmd("MAIL FROM:<a@example.org>", 250)
        self.c.cmd("RCPT TO:<b@example.net>", 250)
        self.c.cmd("DATA now", 501, "5.5.4")
        self.c.cmd("DATA", 354)
        self.c.send("\r\nx\r\n.\r\n")
        self.c.expect(250)

    def test_helo_ehlo_need_argument(self):
        # RFC 2034 3: no enhanced code in replies to HELO/EHLO
        self.c.cmd("EHLO", 501, "Syntax error")
        self.c.cmd("HELO", 501, "Syntax error")
        self.c.cmd("HELO a b", 501, "Syntax: HELO hostname")
        self.c.cmd("HELO client.example", 250, "testd.example")

    def test_bad_path_syntax(self):
        self.greet()
        for arg in ("FROM:a@example.org", "FROM:<a@example.org",
                    "FROM:<a@@example.org>", "TO:<a@example.org>",
                    "FROM <a@example.org>", "FROM:<a b@example.org>"):
            with self.subTest(arg=arg):
                self.c.cmd("MAIL " + arg, 501)
        self.c.cmd("MAIL FROM:<a@example.org>", 250)
        for arg in ("TO:b@example.net", "TO:<>", "TO:<b@example.net",
                    "FROM:<b@example.net>"):
            with self.subTest(arg=arg):
                self.c.cmd("RCPT " + arg, 501)
        self.c.cmd("RCPT TO:<postmaster>", 250)
        self.c.cmd("RCPT TO:<Postmaster>", 250)

    def test_path_forms(self):
        self.greet()
        self.c.cmd('MAIL FROM:<"john smith"@example.org>', 250)
        self.c.cmd("RCPT TO:<a@[192.0.2.1]>", 250)
        self.c.cmd("RCPT TO:<a@[IPv6:2001:db8::1]>", 250)
        self.c.cmd("RCPT TO:<@relay.example:b@example.net>", 250)
        self.c.cmd("RCPT to:<c@example.net>", 250)
        self.sync(self.srv, self.c)
        self.assertEqual(self.srv.out("RCPT "),
                         ["RCPT to=<a@[192.0.2.1]>",
                          "RCPT to=<a@[IPv6:2001:db8::1]>",
                          "RCPT to=<b@example.net>",
                          "RCPT to=<c@example.net>"])

    def test_unknown_parameter(self):
        self.greet()
        self.c.cmd("MAIL FROM:<a@example.org> FOO=bar", 555, "5.5.4")
        self.c.cmd("MAIL FROM:<a@example.org> BODY=8BITMIME", 250)
        self.c.cmd("RCPT TO:<b@example.net> NOTIFY=NEVER", 555, "5.5.4")

    def test_parameters_need_ehlo(self):
        self.c.cmd("HELO client.example", 250)
        self.c.cmd("MAIL FROM:<a@example.org> SIZE=10", 555, "5.5.4")

    def test_utf8_address(self):
        self.greet()
        self.c.cmd("MAIL FROM:<j\u00f6rg@example.org>", 553, "5.6.7")
        self.c.cmd("MAIL FROM:<j\u00f6rg@example.org> SMTPUTF8", 250)
        self.c.cmd("RCPT TO:<m\u00fcller@b\u00fccher.example>", 250)
        self.c.cmd("RSET", 250)
        self.c.cmd("MAIL FROM:<a@example.org>", 250)
        self.c.cmd("RCPT TO:<m\u00fcller@example.net>", 553, "5.6.7")

    def test_unknown_verb(self):
        self.c.cmd("FOO bar", 500, "5.5.2")
        self.c.cmd("", 500, "5.5.2")

    def test_custom_verb_xclient(self):
        self.c.send("EHLO client.example\r\n")
        code, lines = self.c.reply()
        self.assertEqual(code, 250)
        self.assertIn("XCLIENT NAME ADDR", lines)
        # A new verb is allowed in every state, case-insensitively.
        self.c.cmd("xclient NAME=spike.example ADDR=192.0.2.1", 250,
                   "2.0.0 XCLIENT accepted")
        self.srv.wait_line(r"^XCLIENT arg=NAME=spike.example "
                           r"ADDR=192.0.2.1$")

    def test_xclient_before_ehlo(self):
        self.c.cmd("XCLIENT NAME=x", 250)

    def test_quit(self):
        self.greet()
        self.c.cmd("QUIT", 221, "2.0.0 testd.example")
        self.c.expect_eof()
        self.srv.wait_line(r"^DISCONNECT$")

    def test_help_noop_vrfy_expn(self):
        self.c.send("HELP\r\n")
        code, lines = self.c.reply()
        self.assertEqual(code, 214)
        self.c.cmd("NOOP", 250)
        self.c.cmd("VRFY someone", 252)
        self.c.cmd("EXPN list", 502)


if __name__ == "__main__":
    unittest.main()
