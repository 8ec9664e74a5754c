"""PIPELINING (RFC 2920): replies arrive in order, nothing after the final
dot is dropped, split packets work, and PH_PENDING handlers keep order."""

import time
import unittest

import phtest

MSG = b"Subject: pipelined\r\n\r\nline one\r\nline two\r\n"


class Pipelining(phtest.TestCase):

    def test_everything_in_one_write(self):
        srv = self.start_testd()
        c = self.connect(srv)
        c.send(b"EHLO client.example\r\n"
               b"MAIL FROM:<a@example.org>\r\n"
               b"RCPT TO:<b1@example.net>\r\n"
               b"RCPT TO:<b2@example.net>\r\n"
               b"RCPT TO:<b3@example.net>\r\n"
               b"DATA\r\n" + MSG + b".\r\n"
               b"MAIL FROM:<c@example.org>\r\n"
               b"RSET\r\n"
               b"NOOP\r\n"
               b"QUIT\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250)
        self.assertIn("PIPELINING", lines)
        c.expect(250, "2.1.0 <a@example.org> sender ok")
        c.expect(250, "2.1.5 <b1@example.net> recipient ok")
        c.expect(250, "2.1.5 <b2@example.net> recipient ok")
        c.expect(250, "2.1.5 <b3@example.net> recipient ok")
        c.expect(354)
        c.expect(250, "2.0.0 Message accepted for delivery")
        c.expect(250, "2.1.0 <c@example.org> sender ok")
        c.expect(250, "2.0.0 OK")          # RSET
        c.expect(250, "2.0.0 OK")          # NOOP
        c.expect(221, "2.0.0")
        c.expect_eof()
        srv.wait_line(r"^EOM size=%d body=\d+ rcpts=3 " % len(MSG))
        # The RSET after the second MAIL aborted that transaction.
        srv.wait_line(r"^ABORT$")

    def test_two_messages_in_one_write(self):
        srv = self.start_testd()
        c = self.connect(srv)
        one = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
               b"DATA\r\n" + MSG + b".\r\n")
        c.send(b"EHLO x\r\n" + one + one + b"QUIT\r\n")
        c.expect(250)
        for _ in range(2):
            c.expect(250, "2.1.0")
            c.expect(250, "2.1.5")
            c.expect(354)
            c.expect(250, "2.0.0")
        c.expect(221)
        c.expect_eof()
        srv.wait_line(r"^DISCONNECT$")
        self.assertEqual(len(srv.out("EOM ")), 2)

    def test_byte_at_a_time(self):
        """The same dialogue split into one-byte packets."""
        srv = self.start_testd()
        c = self.connect(srv)
        data = (b"EHLO x\r\nMAIL FROM:<a@example.org>\r\n"
                b"RCPT TO:<b@example.net>\r\nDATA\r\n" + MSG + b".\r\nQUIT\r\n")
        c.sock.setsockopt(__import__("socket").IPPROTO_TCP,
                          __import__("socket").TCP_NODELAY, 1)
        for i in range(len(data)):
            c.send(data[i:i + 1])
            if i % 7 == 0:
                time.sleep(0.001)
        c.expect(250)
        c.expect(250, "2.1.0")
        c.expect(250, "2.1.5")
        c.expect(354)
        c.expect(250, "2.0.0")
        c.expect(221)
        c.expect_eof()
        line = srv.wait_line(r"^EOM ")
        body = MSG.split(b"\r\n\r\n", 1)[1]
        self.assertIn("body=%d " % len(body), line)
        self.assertIn("fnv=" + phtest.fnv1a64(body), line)


    def test_nothing_after_quit(self):
        srv = self.start_testd()
        c = self.connect(srv)
        c.send(b"EHLO x\r\nQUIT\r\nNOOP\r\nMAIL FROM:<a@example.org>\r\n")
        c.expect(250)
        c.expect(221)
        c.expect_eof()
        srv.wait_line(r"^DISCONNECT$")
        self.assertEqual(srv.out("MAIL "), [])

    def test_nothing_after_too_many_errors(self):
        srv = self.start_testd("-E", "2")
        c = self.connect(srv)
        c.send(b"FOO\r\nBAR\r\nNOOP\r\nEHLO x\r\n")
        c.expect(500, "5.5.2")
        c.expect(500, "5.5.2")
        c.expect(421, "4.7.0")
        c.expect_eof()

    def test_flood_without_reading(self):
        """Many pipelined commands from a client that does not read at
        first: the server must stop reading (not buffer without bound)
        and still answer every command, in order, once the client
        reads. (NOOPs make no progress: that limit is off here.)"""
        import threading
        srv = self.start_testd("--max-noops", "none")
        c = self.connect(srv)
        n = 60000
        payload = b"".join(b"NOOP %d\r\n" % i for i in range(n))
        err = []

        def writer():
            try:
                c.sock.sendall(payload)
            except OSError as e:
                err.append(e)
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        time.sleep(0.5)
        c.timeout = 10
        for i in range(n):
            c.expect(250, "2.0.0 OK")
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(err, [])
        c.cmd("QUIT", 221)


class Pending(phtest.TestCase):
    """-P: RCPT and EOM handlers return PH_PENDING and reply from a timer."""

    def test_pipelined_rcpts_in_order(self):
        srv = self.start_testd("-P")
        c = self.connect(srv)
        rcpts = ["r%d@example.net" % i for i in range(6)] + \
                ["reject@example.net", "last@example.net"]
        c.send(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\n" +
               b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) +
               b"DATA\r\n" + MSG + b".\r\nNOOP\r\nQUIT\r\n")
        c.expect(250)
        c.expect(250, "2.1.0")
        for r in rcpts:
            if r.startswith("reject@"):
                c.expect(550, "5.1.1 <%s> no such user" % r)
            else:
                c.expect(250, "2.1.5 <%s> recipient ok" % r)
        c.expect(354)
        c.expect(250, "2.0.0 Message accepted for delivery")
        c.expect(250, "2.0.0 OK")
        c.expect(221)
        c.expect_eof()
        srv.wait_line(r"^DISCONNECT$")
        srv.wait_line(r"^EOM size=%d body=\d+ rcpts=%d " %
                      (len(MSG), len(rcpts) - 1))
        self.assertEqual([l[len("RCPT to=<"):-1] for l in srv.out("RCPT ")],
                         rcpts)

    def test_pending_eom_then_next_transaction(self):
        srv = self.start_testd("-P")
        c = self.connect(srv)
        c.cmd("EHLO x", 250)
        for i in range(3):
            c.cmd("MAIL FROM:<a@example.org>", 250)
            c.cmd("RCPT TO:<b@example.net>", 250)
            c.cmd("DATA", 354)
            c.send(MSG + b".\r\n")
            c.expect(250, "2.0.0 Message accepted for delivery")
        c.cmd("QUIT", 221)
        c.expect_eof()
        srv.wait_line(r"^DISCONNECT$")
        self.assertEqual(len(srv.out("EOM ")), 3)

    def test_client_gone_while_pending(self):
        """The session is ref'd across the wait; a client that leaves
        before the timer fires must not crash the server."""
        srv = self.start_testd("-P")
        c = self.connect(srv)
        c.send(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\n"
               b"RCPT TO:<b@example.net>\r\n")
        c.expect(250)
        c.expect(250)
        c.abort()
        srv.wait_line(r"^DISCONNECT$")
        time.sleep(0.05)                  # let the timer fire
        c2 = self.connect(srv)
        c2.cmd("EHLO x", 250)
        c2.cmd("QUIT", 221)
        self.check_stopped(srv)


if __name__ == "__main__":
    unittest.main()
