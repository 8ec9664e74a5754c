"""examples/esmtp_sink through smtplib (and swaks when installed)."""

import shutil
import smtplib
import subprocess
import unittest

import phtest

MSG = (b"From: Alice <alice@example.org>\r\n"
       b"To: Bob <bob@example.net>\r\n"
       b"Subject: integration test\r\n"
       b"\r\n"
       b"Hello Bob,\r\n"
       b".a line that starts with a dot\r\n"
       b"bye\r\n")
BODY = MSG.split(b"\r\n\r\n", 1)[1]


class EsmtpSink(phtest.TestCase):

    def setUp(self):
        super().setUp()
        self.require(phtest.ESMTP_SINK)
        self.srv = self.start([phtest.ESMTP_SINK, "0"])

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.srv.port, timeout=phtest.TIMEOUT)
        self.addCleanup(s.close)
        return s

    def test_full_transaction(self):
        s = self.smtp()
        code, _ = s.ehlo("client.example")
        self.assertEqual(code, 250)
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes",
                    "smtputf8"):
            self.assertTrue(s.has_extn(ext), ext)
        self.assertEqual(s.esmtp_features["size"], "10485760")
        mark = self.srv.mark()
        code, resp = s.mail("alice@example.org")
        self.assertEqual((code, resp), (250, b"2.1.0 <alice@example.org>, "
                                              b"sender ok"))
        code, resp = s.rcpt("bob@example.net")
        self.assertEqual((code, resp), (250, b"2.1.5 <bob@example.net>, "
                                              b"recipient ok"))
        code, resp = s.data(MSG)
        self.assertEqual(code, 250)
        self.assertEqual(resp, b"2.0.0 Message accepted for delivery")
        # The example's stdout: each header name, then the body size
        # (dot-unstuffed: smtplib stuffed ".a line", the server removed it).
        self.srv.wait_line(r"^EOM body=%d bytes$" % len(BODY), start=mark)
        self.assertEqual(
            [l for l in self.srv.out()[mark:] if l.startswith("HEADER ")],
            ["HEADER From", "HEADER To", "HEADER Subject"])
        code, resp = s.quit()
        self.assertEqual(code, 221)

    def test_sendmail_several_recipients(self):
        s = self.smtp()
        rcpts = ["r%d@example.net" % i for i in range(5)]
        mark = self.srv.mark()
        refused = s.sendmail("alice@example.org", rcpts, MSG)
        self.assertEqual(refused, {})
        self.srv.wait_line(r"^EOM body=%d bytes$" % len(BODY), start=mark)
        # A second message on the same session.
        refused = s.sendmail("alice@example.org", ["x@example.net"], MSG)
        self.assertEqual(refused, {})
        self.assertEqual(s.quit()[0], 221)

    def test_null_sender(self):
        s = self.smtp()
        s.ehlo("client.example")
        code, resp = s.mail("")
        self.assertEqual(code, 250, resp)
        code, resp = s.rcpt("postmaster")
        self.assertEqual(code, 250, resp)
        code, resp = s.data(b"Subject: bounce\r\n\r\nbounced\r\n")
        self.assertEqual(code, 250, resp)
        self.assertEqual(s.quit()[0], 221)

    def test_raw_null_sender_and_quit(self):
        c = self.connect(self.srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<>", 250, "2.1.0 <>, sender ok")
        c.cmd("QUIT", 221, "2.0.0")
        c.expect_eof()

    @unittest.skipUnless(shutil.which("swaks"), "swaks not on PATH")
    def test_swaks(self):
        mark = self.srv.mark()
        p = subprocess.run(
            [shutil.which("swaks"), "--server", "127.0.0.1",
             "--port", str(self.srv.port), "--from", "alice@example.org",
             "--to", "bob@example.net", "--helo", "swaks.example",
             "--header", "Subject: from swaks", "--body", "hello from swaks",
             "--timeout", "5"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("<-  250 2.0.0 Message accepted for delivery", out)
        self.assertIn("<-  221 2.0.0", out)
        self.srv.wait_line(r"^EOM body=\d+ bytes$", start=mark)
        self.assertIn("HEADER Subject", self.srv.out()[mark:])

    def test_sigterm_exits_cleanly(self):
        self.check_stopped(self.srv)


if __name__ == "__main__":
    unittest.main()
