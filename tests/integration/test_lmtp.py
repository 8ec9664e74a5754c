"""LMTP mode (RFC 2033): LHLO, and one reply per accepted recipient."""

import smtplib
import unittest

import phtest

MSG = b"Subject: lmtp\r\n\r\nhello\r\n"


class Lmtp(phtest.TestCase):

    def setUp(self):
        super().setUp()
        self.srv = self.start_testd("-m", "lmtp")

    def test_greeting_and_lhlo(self):
        c = self.connect(self.srv, banner=None)
        code, lines = c.reply()
        self.assertEqual(code, 220)
        self.assertIn("LMTP", lines[0])
        c.cmd("HELO client.example", 500, "5.5.2")
        c.cmd("EHLO client.example", 500, "5.5.2")
        c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1 Send LHLO first")
        c.send("LHLO client.example\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250)
        self.assertIn("PIPELINING", lines)
        self.assertIn("ENHANCEDSTATUSCODES", lines)

    def test_reply_per_recipient(self):
        c = self.connect(self.srv)
        c.cmd("LHLO client.example", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        rcpts = ["alice@example.net", "fail1@example.net", "bob@example.net",
                 "reject@example.net", "FAILING@example.net",
                 "carol@example.net"]
        accepted = []
        for r in rcpts:
            if r.startswith("reject@"):
                c.cmd("RCPT TO:<%s>" % r, 550, "5.1.1")
            else:
                c.cmd("RCPT TO:<%s>" % r, 250, "2.1.5")
                accepted.append(r)
        c.cmd("DATA", 354)
        c.send(MSG + b".\r\n")
        for r in accepted:
            if r.lower().startswith("fail"):
                c.expect(550, "5.1.1 <%s> mailbox unavailable" % r)
            else:
                c.expect(250, "2.1.5 <%s> delivered" % r)
        c.no_more()
        # The transaction is over: a new one can start.
        c.cmd("RCPT TO:<x@example.net>", 503, "5.5.1")
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<x@example.net>", 250)
        c.cmd("DATA", 354)
        c.send(MSG + b".\r\n")
        c.expect(250, "<x@example.net> delivered")
        c.cmd("QUIT", 221)
        self.srv.wait_line(r"^EOM .* rcpts=5 ")

    def test_pipelined_lmtp(self):
        c = self.connect(self.srv)
        c.send(b"LHLO x\r\nMAIL FROM:<a@example.org>\r\n"
               b"RCPT TO:<one@example.net>\r\nRCPT TO:<fail@example.net>\r\n"
               b"DATA\r\n" + MSG + b".\r\nNOOP\r\nQUIT\r\n")
        c.expect(250)
        c.expect(250)
        c.expect(250)
        c.expect(250)
        c.expect(354)
        c.expect(250, "<one@example.net> delivered")
        c.expect(550, "5.1.1 <fail@example.net>")
        c.expect(250, "2.0.0 OK")
        c.expect(221)
        c.expect_eof()

    def test_smtplib_lmtp(self):
        """smtplib.LMTP reads one reply after the data, so use one
        recipient per message."""
        s = smtplib.LMTP("127.0.0.1", self.srv.port, timeout=phtest.TIMEOUT)
        self.addCleanup(s.close)
        self.assertEqual(s.sendmail("a@example.org", ["ok@example.net"],
                                    MSG), {})
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            s.sendmail("a@example.org", ["fail@example.net"], MSG)
        self.assertEqual(cm.exception.smtp_code, 550)
        self.assertEqual(s.noop()[0], 250)
        self.assertEqual(s.quit()[0], 221)

    def test_lmtp_pending_eom(self):
        srv = self.start_testd("-m", "lmtp", "-P")
        c = self.connect(srv)
        c.cmd("LHLO x", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<fail@example.net>", 250)
        c.cmd("RCPT TO:<ok@example.net>", 250)
        c.cmd("DATA", 354)
        c.send(MSG + b".\r\nNOOP\r\n")
        c.expect(550, "5.1.1 <fail@example.net>")
        c.expect(250, "2.1.5 <ok@example.net> delivered")
        c.expect(250, "2.0.0 OK")


if __name__ == "__main__":
    unittest.main()
