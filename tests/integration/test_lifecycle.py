"""Connections and processes: a client vanishing mid-DATA, IPv6, a port
already in use, SIGTERM with a session open."""

import errno
import os
import signal
import socket
import time
import unittest

import phtest


def ipv6_loopback_ok():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


class SharedLoop(phtest.TestCase):
    """Two servers (ESMTP and LMTP) on one loop serve at the same time."""

    def test_two_servers_one_loop(self):
        srv = self.start_testd("-2")
        port2 = int(srv.wait_line(r"^second port=(\d+)$").split("=")[1])
        self.assertNotEqual(port2, srv.port)
        a = self.connect(srv)
        b = self.connect(port2)
        a.cmd("EHLO one.example", 250)
        b.cmd("LHLO two.example", 250)
        b.cmd("EHLO two.example", 500)          # LMTP has no EHLO
        a.cmd("MAIL FROM:<a@example.org>", 250)
        b.cmd("MAIL FROM:<b@example.org>", 250)
        b.cmd("RCPT TO:<x@example.net>", 250)
        b.cmd("RCPT TO:<y@example.net>", 250)
        b.cmd("DATA", 354)
        b.send(b"Subject: lmtp\r\n\r\nhi\r\n.\r\n")
        b.expect(250, "2.0.0")                  # one reply per recipient
        b.expect(250, "2.0.0")
        a.cmd("RCPT TO:<c@example.net>", 250)   # the first is unaffected
        a.cmd("QUIT", 221)
        b.cmd("QUIT", 221)
        self.check_stopped(srv)


class Vanish(phtest.TestCase):

    def run_vanish(self, close):
        srv = self.start_testd()
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<b@example.net>", 250)
        c.cmd("DATA", 354)
        mark = srv.mark()
        c.send(b"Subject: half\r\n\r\nthe first half of the mess")
        srv.wait_line(r"^EOH$", start=mark)
        close(c)
        srv.wait_line(r"^ABORT$", start=mark)
        srv.wait_line(r"^DISCONNECT$", start=mark)
        lines = srv.out()[mark:]
        self.assertLess(lines.index("ABORT"), lines.index("DISCONNECT"))
        self.assertFalse([l for l in lines if l.startswith("EOM")])
        # The server still serves a new client normally.
        c2 = self.connect(srv)
        c2.cmd("EHLO client.example", 250)
        c2.cmd("MAIL FROM:<a@example.org>", 250)
        c2.cmd("RCPT TO:<b@example.net>", 250)
        c2.cmd("DATA", 354)
        c2.send(b"Subject: whole\r\n\r\nbody\r\n.\r\n")
        c2.expect(250, "2.0.0")
        c2.cmd("QUIT", 221)
        self.check_stopped(srv)

    def test_close_mid_data(self):
        self.run_vanish(lambda c: c.close())

    def test_reset_mid_data(self):
        self.run_vanish(lambda c: c.abort())

    def test_half_close_mid_data(self):
        """EOF from the client (shutdown SHUT_WR) while in DATA."""
        self.run_vanish(lambda c: c.sock.shutdown(socket.SHUT_WR))

    def test_vanish_mid_command(self):
        srv = self.start_testd()
        c = self.connect(srv)
        c.send(b"EHLO client.example\r\nMAIL FROM:<a@exa")
        c.expect(250)
        c.abort()
        srv.wait_line(r"^DISCONNECT$")
        self.assertEqual(srv.out("MAIL "), [])
        c2 = self.connect(srv)
        c2.cmd("NOOP", 250)


class IPv6(phtest.TestCase):

    @unittest.skipUnless(ipv6_loopback_ok(), "::1 not available")
    def test_ipv6_session(self):
        srv = self.start_testd("-a", "::1")
        c = self.connect(srv, host="::1", family=socket.AF_INET6)
        c.send("EHLO client.example\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250)
        self.assertIn("[::1]", lines[0])
        srv.wait_line(r"^CONNECT peer=::1$")
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<b@example.net>", 250)
        c.cmd("DATA", 354)
        c.send(b"\r\nover v6\r\n.\r\n")
        c.expect(250, "2.0.0")
        c.cmd("QUIT", 221)
        c.expect_eof()
        self.check_stopped(srv)


class Bind(phtest.TestCase):

    def test_port_in_use(self):
        first = self.start_testd()
        second = self.start_testd("-p", str(first.port), ready=False)
        second.expect_rc = 3
        rc = second.wait_exit(timeout=10)
        self.assertEqual(rc, 3, second.err)
        err = "\n".join(second.err)
        self.assertIn("listener_failed op=bind errno=%d text=%s"
                      % (errno.EADDRINUSE, os.strerror(errno.EADDRINUSE)),
                      err)
        self.assertFalse([l for l in second.lines if l.startswith("ready")])
        self.assertIsNone(second.sanitizer_report())
        # The first one is unaffected.
        c = self.connect(first)
        c.cmd("NOOP", 250)

    def test_bad_address(self):
        srv = self.start_testd("-a", "not-an-address", ready=False)
        srv.expect_rc = 3
        self.assertEqual(srv.wait_exit(timeout=10), 3, srv.err)
        self.assertIn("listener_failed op=parse", "\n".join(srv.err))


class Sigterm(phtest.TestCase):

    def test_sigterm_with_open_session(self):
        srv = self.start_testd()
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        idle = self.connect(srv)
        srv.send_signal(signal.SIGTERM)
        # Outside a transaction: 421 at once.
        idle.expect(421, "4.3.2")
        idle.expect_eof()
        # Inside one: it may finish; ending it (RSET here) brings the 421.
        c.cmd("RSET", 250)
        c.expect(421, "4.3.2")
        c.expect_eof()
        self.assertEqual(srv.wait_exit(timeout=10), 0, srv.err)
        self.assertIsNone(srv.sanitizer_report(), srv.sanitizer_report())
        self.assertIn("ABORT", srv.out())
        self.assertEqual(srv.out()[-1], "EXIT")

    def test_sigterm_mid_data(self):
        srv = self.start_testd()
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<b@example.net>", 250)
        c.cmd("DATA", 354)
        c.send(b"Subject: x\r\n\r\npartial")
        srv.wait_line(r"^EOH$")
        srv.send_signal(signal.SIGTERM)
        # The message in flight is finished and accepted, then the 421:
        # a restart cuts no message off.
        time.sleep(0.2)
        c.send(b" rest\r\n.\r\n")
        c.expect(250, "2.0.0")
        c.expect(421, "4.3.2")
        c.expect_eof()
        self.assertEqual(srv.wait_exit(timeout=10), 0, srv.err)
        self.assertTrue(srv.out("EOM"))

    def test_sigterm_while_pending(self):
        srv = self.start_testd("-P")
        c = self.connect(srv)
        c.send(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\n"
               b"RCPT TO:<b@example.net>\r\n")
        c.expect(250)
        c.expect(250)
        srv.send_signal(signal.SIGTERM)
        # The pending RCPT is answered; the transaction may go on, and
        # the 421 comes when it ends.
        c.expect(250)
        c.cmd("QUIT", 221)
        c.expect_eof()
        self.assertEqual(srv.wait_exit(timeout=10), 0, srv.err)
        self.assertIsNone(srv.sanitizer_report(), srv.sanitizer_report())

    def test_sigterm_idle_server(self):
        srv = self.start_testd()
        self.check_stopped(srv)
        self.assertEqual(srv.out()[-2:], ["SHUTDOWN", "EXIT"])


if __name__ == "__main__":
    unittest.main()
