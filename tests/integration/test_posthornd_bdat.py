"""posthornd and BDAT sequencing (issue 9): once a transaction's first
chunk is taken, MAIL and RCPT get 503 over SMTP, submission and LMTP; the
message then goes to the envelope of the first chunk exactly once, and
the daemon goes on serving. Raw sockets: smtplib has no BDAT."""

import base64
import unittest

from test_posthornd import ANY, DaemonCase


def bdat(data, last=False):
    return b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"") + data


class BdatSequencing(DaemonCase):

    def daemon(self):
        self.srv = self.start_daemon("--submission", ANY, "--auth-plaintext")
        return self.srv

    def open_tx(self, port, greet="EHLO client.test", login=False,
                sender="a@remote.test", rcpt="alice@example.org"):
        c = self.connect(port)
        c.cmd(greet, 250)
        if login:
            token = base64.b64encode(b"\0alice@example.org\0secret")
            c.cmd("AUTH PLAIN " + token.decode(), 235)
        c.cmd("MAIL FROM:<%s>" % sender, 250)
        c.cmd("RCPT TO:<%s>" % rcpt, 250)
        return c

    def late_rcpts_refused(self, c, count=5):
        c.send(bdat(b"x"))
        c.expect(250, "2.0.0 1 octets received")
        for _ in range(count):
            c.cmd("RCPT TO:<bob@example.org>", 503, "5.5.1")
        c.cmd("MAIL FROM:<a@remote.test>", 503, "5.5.1")

    def still_serves(self):
        for port in (self.smtp, self.lmtp, self.sub):
            c = self.connect(port)
            c.cmd("NOOP", 250)
            c.cmd("QUIT", 221)
        self.assertIsNone(self.srv.proc.poll())

    def assert_stored_once(self):
        self.assertEqual(len(self.maildir_files("alice")), 1)
        self.assertEqual(open(self.maildir_files("alice")[0], "rb")
                         .read().rsplit(b"\r\n", 1)[-1], b"x")
        self.assertEqual(self.maildir_files("bob"), [])
        self.assertEqual(self.maildir_files("alice", sub="tmp"), [])

    def test_lmtp_rcpt_after_chunk(self):
        # The reproducer of the crash: five late RCPTs, then BDAT 0 LAST.
        self.daemon()
        c = self.open_tx(self.lmtp, greet="LHLO client.test")
        self.late_rcpts_refused(c)
        c.send(bdat(b"", last=True))
        c.expect(250, "2.0.0 Ok: stored")         # one reply: one rcpt
        c.cmd("NOOP", 250)                         # and no second one
        self.assert_stored_once()
        self.still_serves()

    def test_smtp_rcpt_after_chunk(self):
        srv = self.daemon()
        c = self.open_tx(self.smtp)
        self.late_rcpts_refused(c)
        c.send(bdat(b"", last=True))
        c.expect(250, "2.0.0 Ok: stored")
        self.assert_stored_once()
        srv.wait_err(r"event=delivery .*rcpts=1 .*status=stored")
        self.still_serves()

    def test_submission_rcpt_after_chunk(self):
        self.daemon()
        c = self.open_tx(self.sub, login=True, sender="alice@example.org")
        self.late_rcpts_refused(c)
        c.send(bdat(b"", last=True))
        c.expect(250, "2.0.0 Ok: stored")
        self.assert_stored_once()
        self.still_serves()

    def test_allowed_between_chunks(self):
        # RFC 3030: commands that change no envelope still work between
        # chunks; DATA, AUTH and STARTTLS get 503 (inside a transaction).
        self.daemon()
        c = self.open_tx(self.sub, login=True, sender="alice@example.org")
        c.send(bdat(b"one\r\n"))
        c.expect(250)
        c.cmd("NOOP", 250)
        c.cmd("VRFY alice", 252)
        c.cmd("HELP", 214)
        c.cmd("DATA", 503, "5.5.1")
        c.cmd("AUTH PLAIN AAAA", 503, "5.5.1")
        c.send(bdat(b"two\r\n", last=True))
        c.expect(250, "2.0.0 Ok: stored")
        self.assertTrue(open(self.maildir_files("alice")[0], "rb").read()
                        .endswith(b"one\r\ntwo\r\n"))

    def test_rset_between_chunks_drops_message(self):
        self.daemon()
        c = self.open_tx(self.lmtp, greet="LHLO client.test")
        c.send(bdat(b"half"))
        c.expect(250)
        c.cmd("RSET", 250)
        # No transaction now: the chunk is read and dropped, not taken.
        c.send(bdat(b"rest", last=True))
        c.expect(503, "5.5.1")
        c.cmd("NOOP", 250)
        self.assertEqual(self.maildir_files("alice"), [])
        self.assertEqual(self.maildir_files("alice", sub="tmp"), [])

    def test_ehlo_between_chunks_is_a_reset(self):
        # RFC 5321 4.1.4: EHLO mid-transaction resets it as RSET does.
        self.daemon()
        c = self.open_tx(self.smtp)
        c.send(bdat(b"half"))
        c.expect(250)
        c.cmd("EHLO again.test", 250)
        c.send(bdat(b"rest", last=True))
        c.expect(503, "5.5.1")
        c.cmd("MAIL FROM:<a@remote.test>", 250)    # a new transaction
        c.cmd("RCPT TO:<bob@example.org>", 250)
        c.send(bdat(b"new", last=True))
        c.expect(250, "2.0.0 Ok: stored")
        self.assertEqual(self.maildir_files("alice"), [])
        self.assertEqual(len(self.maildir_files("bob")), 1)
        self.assertEqual(self.maildir_files("alice", sub="tmp"), [])

    def test_quit_between_chunks_stores_nothing(self):
        srv = self.daemon()
        c = self.open_tx(self.lmtp, greet="LHLO client.test")
        c.send(bdat(b"half"))
        c.expect(250)
        c.cmd("QUIT", 221)
        c.expect_eof()
        srv.wait_err(r"event=disconnect .*reason=")
        self.assertEqual(self.maildir_files("alice"), [])
        self.assertEqual(self.maildir_files("alice", sub="tmp"), [])


if __name__ == "__main__":
    unittest.main()
