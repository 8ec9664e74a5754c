"""Limits at N and N+1 (struct ph_smtp_limits)."""

import time
import socket
import unittest

import phtest


def session(test, srv):
    c = test.connect(srv)
    c.cmd("EHLO client.example", 250)
    return c


def start_message(c, nrcpt=1):
    c.cmd("MAIL FROM:<a@example.org>", 250)
    for i in range(nrcpt):
        c.cmd("RCPT TO:<b%d@example.net>" % i, 250)
    c.cmd("DATA", 354)


class CommandLine(phtest.TestCase):

    def test_512_ok_513_refused(self):
        srv = self.start_testd()
        c = session(self, srv)
        # NOOP with an argument: "NOOP " + pad + CRLF
        line512 = "NOOP " + "x" * (512 - 5 - 2)
        self.assertEqual(len(line512) + 2, 512)
        c.cmd(line512, 250, "2.0.0 OK")
        c.cmd(line512 + "y", 500, "5.5.2 Line too long")
        c.cmd("NOOP", 250, "2.0.0 OK")
        # A long line split across packets, then a normal command.
        c.send("NOOP " + "z" * 3000)
        time.sleep(0.05)
        c.send("z" * 3000 + "\r\nNOOP\r\n")
        c.expect(500, "5.5.2")
        c.expect(250, "2.0.0 OK")
        c.cmd("QUIT", 221)

    def test_configured_line_limit(self):
        srv = self.start_testd("-L", "100")
        c = session(self, srv)
        c.cmd("NOOP " + "x" * (100 - 7), 250)
        c.cmd("NOOP " + "x" * (100 - 6), 500, "5.5.2")
        c.cmd("NOOP", 250)


class TextLine(phtest.TestCase):

    def test_1000_ok_1001_refused(self):
        srv = self.start_testd()
        c = session(self, srv)
        start_message(c)
        ok = b"a" * 998 + b"\r\n"
        self.assertEqual(len(ok), 1000)
        c.send(b"Subject: x\r\n\r\n" + ok + b".\r\n")
        c.expect(250, "2.0.0")
        start_message(c)
        c.send(b"Subject: x\r\n\r\n" + b"a" * 999 + b"\r\nmore\r\n.\r\n")
        c.expect(500, "5.5.2 Message refused: line too long")
        srv.wait_line(r"^ABORT$")
        # The session goes on.
        c.cmd("NOOP", 250)
        start_message(c)
        c.send(b"\r\nshort\r\n.\r\n")
        c.expect(250, "2.0.0")
        self.sync(srv, c)
        self.assertEqual(len(srv.out("EOM ")), 2)

    def test_dot_stuffed_line_counts_as_sent(self):
        """The 1000 octets are counted on the wire, stuffing dot included."""
        srv = self.start_testd()
        c = session(self, srv)
        start_message(c)
        c.send(b"\r\n.." + b"a" * 996 + b"\r\n.\r\n")
        c.expect(250, "2.0.0")


class Recipients(phtest.TestCase):

    def test_max_recipients(self):
        srv = self.start_testd("-R", "3")
        c = session(self, srv)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        for i in range(3):
            c.cmd("RCPT TO:<r%d@example.net>" % i, 250)
        c.cmd("RCPT TO:<r3@example.net>", 452, "4.5.3 Too many recipients")
        c.cmd("DATA", 354)
        c.send(b"\r\nbody\r\n.\r\n")
        c.expect(250)
        srv.wait_line(r"^EOM .* rcpts=3 ")


class Size(phtest.TestCase):

    def test_mail_size_param(self):
        srv = self.start_testd("-S", "1000")
        c = session(self, srv)
        c.cmd("MAIL FROM:<a@example.org> SIZE=1001", 552, "5.3.4")
        c.cmd("MAIL FROM:<a@example.org> SIZE=1000", 250)
        c.cmd("RSET", 250)
        # 20 digits (RFC 1870's maximum), beyond 2^64: still 552.
        c.cmd("MAIL FROM:<a@example.org> SIZE=" + "9" * 20, 552, "5.3.4")
        # More than 20 digits is a syntax error.
        c.cmd("MAIL FROM:<a@example.org> SIZE=" + "9" * 21, 501, "5.5.4")
        c.cmd("MAIL FROM:<a@example.org> SIZE=12x", 501, "5.5.4")

    def test_message_over_size(self):
        srv = self.start_testd("-S", "1000", "-l")
        c = session(self, srv)
        mark = srv.mark()
        start_message(c)
        data = b"Subject: big\r\n\r\n" + b"0123456789abcdefghi\r\n" * 100
        c.send(data + b".\r\n")
        c.expect(552, "5.3.4")
        srv.wait_line(r"^ABORT$", start=mark)
        lines = srv.out()[mark:]
        self.assertFalse([l for l in lines if l.startswith("EOM")], lines)
        body = sum(int(l.split()[1][4:]) for l in lines
                   if l.startswith("BODY "))
        self.assertLessEqual(body + len(b"Subject: big\r\n\r\n"), 1000)
        # Exactly at the limit is fine.
        start_message(c)
        mark = srv.mark()
        exact = b"\r\n" + b"x" * 996 + b"\r\n"
        self.assertEqual(len(exact), 1000)
        c.send(exact + b".\r\n")
        c.expect(250, "2.0.0")
        srv.wait_line(r"^EOM size=1000 ", start=mark)
        # One more byte is not.
        start_message(c)
        c.send(b"\r\n" + b"x" * 997 + b"\r\n.\r\n")
        c.expect(552, "5.3.4")
        c.cmd("NOOP", 250)


class Errors(phtest.TestCase):

    def test_too_many_errors(self):
        srv = self.start_testd("-E", "3")
        c = session(self, srv)
        c.cmd("FOO", 500, "5.5.2")
        c.cmd("BAR", 500, "5.5.2")
        c.send("BAZ\r\n")
        c.expect(500, "5.5.2")
        c.expect(421, "4.7.0")
        c.expect_eof()
        srv.wait_line(r"^DISCONNECT$")


class Idle(phtest.TestCase):

    def test_idle_timeout(self):
        srv = self.start_testd("-I", "1")
        c = session(self, srv)
        t0 = time.monotonic()
        c.expect(421, "4.4.2", timeout=4)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        c.expect_eof()
        srv.wait_line(r"^DISCONNECT$")

    def test_activity_resets_timer(self):
        srv = self.start_testd("-I", "2")
        c = session(self, srv)
        for _ in range(3):              # 1.5 s in all: more than 2 s idle
            time.sleep(0.5)             # only if NOOP did not reset it
            c.cmd("NOOP", 250)
        c.expect(421, "4.4.2", timeout=6)
        c.expect_eof()


    def test_idle_timeout_in_data(self):
        srv = self.start_testd("-I", "1")
        c = session(self, srv)
        start_message(c)
        c.send(b"Subject: slow\r\n\r\npart")
        c.expect(421, "4.4.2", timeout=4)
        c.expect_eof()
        srv.wait_line(r"^ABORT$")
        srv.wait_line(r"^DISCONNECT$")
        self.assertFalse(srv.out("EOM"))


class Sessions(phtest.TestCase):

    def test_max_sessions(self):
        srv = self.start_testd("-N", "2")
        a = self.connect(srv)
        b = self.connect(srv)
        c = self.connect(srv, banner=421)
        c.expect_eof()
        a.cmd("NOOP", 250)
        b.cmd("QUIT", 221)
        b.expect_eof()
        srv.wait_line(r"^DISCONNECT$")
        time.sleep(0.1)
        d = self.connect(srv)            # a slot is free again
        d.cmd("EHLO x", 250)

    def test_max_sessions_reply(self):
        srv = self.start_testd("-N", "1")
        a = self.connect(srv)
        c = self.connect(srv, banner=None)
        code, lines = c.reply()
        self.assertEqual(code, 421)
        self.assertTrue(lines[-1].startswith("4.7.0 "), lines)
        c.expect_eof()
        a.cmd("QUIT", 221)

    def connect_from(self, srv, source):
        """A raw client bound to source (127.0.0.x) before connecting."""
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10,
                                        source_address=(source, 0))
        self.addCleanup(sock.close)
        return sock

    def banner(self, sock):
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = sock.recv(512)
            if not chunk:
                break
            data += chunk
        return data

    def test_per_address_limit(self):
        # Two sessions per address: the third from 127.0.0.1 is refused
        # (421 4.7.0, closed, logged once), while 127.0.0.2 is served.
        srv = self.start_testd("--max-per-addr", "2", "-v")
        held = [self.connect(srv) for _ in range(2)]
        for _ in range(3):
            refused = self.connect_from(srv, "127.0.0.1")
            self.assertTrue(self.banner(refused).startswith(b"421 4.7.0 "))
            self.assertEqual(refused.recv(64), b"")
        other = self.connect_from(srv, "127.0.0.2")
        self.assertTrue(self.banner(other).startswith(b"220 "))
        other.sendall(b"NOOP\r\n")
        self.assertTrue(self.banner(other).startswith(b"250 "))
        hits = srv.wait_err(r"event=connection_refused .*limit=per_address")
        self.assertEqual(len(hits), 1)          # once a minute, not each
        # A session that ends gives its place back.
        held[0].cmd("QUIT", 221)
        held[0].expect_eof()
        srv.wait_err(r"event=disconnect")
        self.connect(srv).cmd("NOOP", 250)

    def test_total_limit(self):
        srv = self.start_testd("--max-sessions", "2", "-v")
        self.connect(srv)
        self.connect_from(srv, "127.0.0.2")
        refused = self.connect_from(srv, "127.0.0.3")
        self.assertTrue(self.banner(refused).startswith(b"421 4.7.0 "))
        srv.wait_err(r"event=connection_refused .*limit=total")

    def test_noop_limit(self):
        srv = self.start_testd("--max-noops", "3")
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("NOOP", 250)
        c.cmd("RSET", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)    # progress: count anew
        c.cmd("NOOP", 250)
        c.cmd("VRFY x", 252)
        c.cmd("HELP", 214)
        c.cmd("NOOP", 421, "4.7.0 Too many commands without progress")
        c.expect_eof()

    def test_session_time_limit(self):
        srv = self.start_testd("--max-session-time", "1")
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.expect(421, "4.4.2 Session time limit exceeded", timeout=5)
        c.expect_eof()


if __name__ == "__main__":
    unittest.main()
