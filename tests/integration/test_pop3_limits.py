"""POP3 limits and authentication knobs, through pop3_testd: max_errors,
idle_timeout, max_line_len, auth_fail_delay_ms, max_sessions,
max_sessions_per_addr, max_noop_commands, max_session_time, APOP, an
asynchronous (timer-based) verify, and handle_connects off."""

import hashlib
import re
import signal
import socket
import time
import unittest

from test_pop3_common import (KNOWN, Pop3TestCase, list_size, plain_b64,
                              wire_retr)


class Limits(Pop3TestCase):

    def test_max_errors(self):
        srv = self.start_pop3_testd("-e", "3")
        c = self.pop(srv)
        self.assertEqual(c.cmd("FROB"), "-ERR Unknown command")
        self.assertEqual(c.cmd("STAT"), "-ERR Command not valid in this state")
        c.ok("USER alice")          # successes do not reset the count
        self.assertEqual(c.cmd("PASS bad"),
                         "-ERR [AUTH] Authentication failed")
        self.assertEqual(c.line(), "-ERR Too many errors, closing connection")
        c.expect_eof()
        d = self.pop(srv)
        d.login()
        d.ok("QUIT")

    def test_idle_timeout_closes_without_update(self):
        srv = self.start_pop3_testd("-t", "1")
        before = self.mail.files()
        c = self.pop(srv)
        c.login()
        c.ok("DELE 1")
        c.ok("DELE 2")
        t0 = time.monotonic()
        self.assertEqual(c.line(timeout=5),
                         "-ERR Disconnected for inactivity")
        self.assertGreater(time.monotonic() - t0, 0.5)
        c.expect_eof()
        self.assertEqual(self.mail.files(), before)
        d = self.wait_unlocked(srv)
        self.assertEqual(d.cmd("STAT").split()[1], str(len(KNOWN)))
        d.ok("QUIT")

    def test_idle_timeout_in_authorization(self):
        srv = self.start_pop3_testd("-t", "1")
        c = self.pop(srv)
        c.ok("USER alice")
        self.assertEqual(c.line(timeout=5),
                         "-ERR Disconnected for inactivity")
        c.expect_eof()

    def test_activity_keeps_session(self):
        srv = self.start_pop3_testd("-t", "1")
        c = self.pop(srv)
        c.login()
        for _ in range(4):
            time.sleep(0.4)
            c.ok("NOOP")
        c.ok("QUIT")

    def test_max_line_len(self):
        srv = self.start_pop3_testd("-l", "32")
        c = self.pop(srv)
        self.assertEqual(c.cmd("USER " + "a" * 25), "+OK Send PASS")   # 32
        self.assertEqual(c.cmd("USER " + "a" * 26),
                         "-ERR Line too long (max 32 octets)")
        c.login()
        c.ok("QUIT")

    def test_auth_fail_delay(self):
        srv = self.start_pop3_testd("-d", "400")
        c = self.pop(srv)
        c.ok("USER alice")
        t0 = time.monotonic()
        self.assertEqual(c.cmd("PASS bad"),
                         "-ERR [AUTH] Authentication failed")
        self.assertGreater(time.monotonic() - t0, 0.3)
        # Another session is not held up meanwhile.
        c.send("PASS bad\r\n")
        t1 = time.monotonic()
        d = self.pop(srv)
        d.ok("CAPA")
        d.multi()
        self.assertLess(time.monotonic() - t1, 0.3)
        self.assertEqual(c.line(), "-ERR [AUTH] Authentication failed")
        # Success is not delayed.
        t2 = time.monotonic()
        c.ok("PASS wonderland")
        self.assertLess(time.monotonic() - t2, 0.3)
        c.ok("QUIT")

    def test_drop_during_auth_delay(self):
        srv = self.start_pop3_testd("-d", "300")
        c = self.pop(srv)
        c.ok("USER alice")
        c.send("PASS bad\r\n")
        c.close()
        time.sleep(0.5)
        d = self.pop(srv)
        d.login()
        d.ok("QUIT")

    def test_no_delay(self):
        srv = self.start_pop3_testd()
        c = self.pop(srv)
        c.ok("USER alice")
        t0 = time.monotonic()
        c.err("PASS bad", "-ERR [AUTH] Authentication failed")
        self.assertLess(time.monotonic() - t0, 0.5)

    def test_max_sessions(self):
        srv = self.start_pop3_testd("-N", "1")
        a = self.pop(srv)
        b = self.pop(srv, greeting=False)
        self.assertTrue(b.line().startswith("-ERR [SYS/TEMP] Too many connections"))
        b.expect_eof()
        a.login()
        a.ok("QUIT")
        a.expect_eof()
        time.sleep(0.1)
        c = self.pop(srv)
        self.assertTrue(c.greeting.startswith("+OK"))


REFUSED = "-ERR [SYS/TEMP] Too many connections, try again later"
NOOPS = "-ERR [SYS/TEMP] Too many commands without progress"
EXPIRED = "-ERR [SYS/TEMP] Session time limit exceeded"


class SessionLimits(Pop3TestCase):
    """max_sessions_per_addr, max_sessions, max_noop_commands and
    max_session_time, through real sockets on loopback (127.0.0.2 and
    127.0.0.3 are other client addresses)."""

    def served(self, srv, source="127.0.0.1"):
        """A session from source, greeted, its connect logged (-v), so
        that the log of anything before it is complete."""
        c = self.pop(srv, source=source)
        self.assertTrue(c.greeting.startswith("+OK "), c.greeting)
        host, port = c.sock.getsockname()
        hit = srv.wait_err(r"session=\S+ event=connect peer=%s:%d "
                           % (re.escape(host), port))[0]
        c.sid = re.search(r"session=(\S+)", hit).group(1)
        return c

    def refused(self, srv, source="127.0.0.1"):
        c = self.pop(srv, source=source, greeting=False)
        self.assertEqual(c.line(), REFUSED)
        c.expect_eof()

    def quit(self, srv, c):
        c.ok("QUIT")
        c.expect_eof()
        srv.wait_err(r"session=%s event=disconnect " % c.sid)

    def count(self, srv, pattern):
        with srv.cond:
            return len([l for l in srv.err if re.search(pattern, l)])

    def test_per_address_limit(self):
        srv = self.start_pop3_testd("--max-per-addr", "2", "-v")
        held = [self.served(srv) for _ in range(2)]
        for _ in range(3):
            self.refused(srv)
        other = self.served(srv, "127.0.0.2")       # another address
        other.login()
        hits = srv.wait_err(r"warn event=connection_refused .*"
                            r"peer=127\.0\.0\.1\S* limit=per_address "
                            r"refused=1$")
        self.assertEqual(self.count(srv, "connection_refused"), 1, hits)
        # A session that ends gives its place back.
        self.quit(srv, held[0])
        self.served(srv).ok("CAPA")
        self.refused(srv)
        self.assertEqual(self.count(srv, "connection_refused"), 1)

    def test_total_limit(self):
        srv = self.start_pop3_testd("--max-sessions", "2", "-v")
        first = self.served(srv, "127.0.0.1")
        self.served(srv, "127.0.0.2")
        self.refused(srv, "127.0.0.3")
        self.refused(srv, "127.0.0.1")
        srv.wait_err(r"warn event=connection_refused .*limit=total "
                     r"refused=1$")
        self.quit(srv, first)
        self.served(srv, "127.0.0.3").login()
        self.assertEqual(self.count(srv, "connection_refused"), 1)

    def test_noop_limit(self):
        srv = self.start_pop3_testd("--max-noops", "3")
        before = self.mail.files()
        c = self.pop(srv)
        c.login()                       # progress: the count starts at 0
        c.ok("DELE 2")                  # progress too
        c.ok("NOOP")
        c.ok("STAT")
        c.ok("NOOP")                    # 3: the limit, still answered
        c.ok("RETR 1")                  # progress: counting starts again
        c.multi()
        for verb in ("STAT", "NOOP", "STAT"):
            c.ok(verb)
        self.assertEqual(c.cmd("NOOP"), NOOPS)
        c.expect_eof()
        # Closed without UPDATE: DELE 2 deleted nothing.
        self.assertEqual(self.mail.files(), before)

    def test_noop_limit_none(self):
        srv = self.start_pop3_testd("--max-noops", "none")
        c = self.pop(srv)
        c.login()
        c.send("NOOP\r\n" * 300)
        for _ in range(300):
            self.assertEqual(c.line(), "+OK")
        c.ok("QUIT")

    def test_session_time_limit(self):
        srv = self.start_pop3_testd("--max-session-time", "1", "-t", "30")
        before = self.mail.files()
        c = self.pop(srv)
        c.login()
        c.ok("DELE 1")
        t0 = time.monotonic()
        self.assertEqual(c.line(timeout=5), EXPIRED)
        self.assertGreater(time.monotonic() - t0, 0.3)
        c.expect_eof()
        self.assertEqual(self.mail.files(), before)     # no UPDATE
        self.wait_unlocked(srv).ok("QUIT")


class Apop(Pop3TestCase):

    def digest(self, greeting, secret):
        ts = re.search(r"<[^>]*>", greeting).group(0)
        return hashlib.md5((ts + secret).encode()).hexdigest()

    def test_apop(self):
        srv = self.start_pop3_testd("-A")
        c = self.pop(srv)
        self.assertRegex(c.greeting,
                         r"^\+OK testd\.example posthorn \S+ ready "
                         r"<\d+\.[0-9a-f]+\.\d+\.[0-9a-f]{16}@testd\.example>$")
        self.assertEqual(c.cmd("APOP alice " + "0" * 32),
                         "-ERR [AUTH] Authentication failed")
        self.assertEqual(c.cmd("APOP alice abc"),
                         "-ERR Syntax: APOP name digest")
        self.assertEqual(c.cmd("APOP alice " +
                               self.digest(c.greeting, "wonderland")),
                         "+OK Logged in, %d messages" % len(KNOWN))
        srv.wait_line(r"^VERIFY mech=APOP user=alice")
        c.ok("QUIT")
        # Each connection has its own timestamp.
        d = self.pop(srv)
        self.assertNotEqual(re.search(r"<.*>", d.greeting).group(0),
                            re.search(r"<.*>", c.greeting).group(0))
        self.assertTrue(d.cmd("APOP alice " + self.digest(
            c.greeting, "wonderland")).startswith("-ERR [AUTH]"))

    def test_apop_off(self):
        srv = self.start_pop3_testd()
        c = self.pop(srv)
        self.assertNotIn("<", c.greeting)
        self.assertEqual(c.cmd("APOP alice " + "0" * 32),
                         "-ERR APOP not available")


class PendingVerify(Pop3TestCase):

    def test_pending_login_and_pipelining(self):
        srv = self.start_pop3_testd("-P", "200")
        c = self.pop(srv)
        t0 = time.monotonic()
        c.send("USER alice\r\nPASS wonderland\r\nSTAT\r\nNOOP\r\n")
        self.assertEqual(c.line(), "+OK Send PASS")
        self.assertEqual(c.line(), "+OK Logged in, %d messages" % len(KNOWN))
        self.assertGreater(time.monotonic() - t0, 0.15)
        self.assertEqual(c.line(), "+OK %d %d" % (
            len(KNOWN), sum(list_size(d) for _, _, d in KNOWN)))
        self.assertEqual(c.line(), "+OK")
        srv.wait_line(r"^PENDING_REPLY rc=0$")
        c.ok("QUIT")

    def test_pending_failure_and_plain(self):
        srv = self.start_pop3_testd("-P", "100")
        c = self.pop(srv)
        c.send("AUTH PLAIN %s\r\nAUTH PLAIN %s\r\nSTAT\r\n"
               % (plain_b64("alice", "bad"),
                  plain_b64("alice", "wonderland", authzid="bob")))
        self.assertEqual(c.line(), "-ERR [AUTH] Authentication failed")
        self.assertTrue(c.line().startswith("+OK Logged in"))
        self.assertTrue(c.line().startswith("+OK "))
        srv.wait_line(r"^VERIFY mech=PLAIN user=alice authzid=bob$")

    def test_client_gone_while_pending(self):
        srv = self.start_pop3_testd("-P", "300")
        c = self.pop(srv)
        c.ok("USER alice")
        c.send("PASS wonderland\r\n")
        c.close()
        line = srv.wait_line(r"^PENDING_REPLY rc=")
        self.assertNotEqual(line, "PENDING_REPLY rc=0")
        # The maildrop was never opened, so it is not locked.
        d = self.pop(srv)
        d.login()
        d.ok("QUIT")

    def test_sigterm_while_pending(self):
        srv = self.start_pop3_testd("-P", "5000")
        c = self.pop(srv)
        c.ok("USER alice")
        c.send("PASS wonderland\r\n")
        srv.wait_line(r"^VERIFY ")
        srv.send_signal(signal.SIGTERM)
        self.assertEqual(c.line(), "-ERR [SYS/TEMP] Server shutting down")
        c.expect_eof()
        self.assertEqual(srv.wait_exit(10), 0, srv.err)
        self.assertIsNone(srv.sanitizer_report())


class HandleConnects(Pop3TestCase):

    def test_program_greets(self):
        srv = self.start_pop3_testd("-n")
        c = self.pop(srv)
        self.assertEqual(c.greeting, "+OK pop3_testd greeting")
        c.login()
        c.ok("QUIT")
        srv.wait_line(r"^EVENT connection [0-9a-f]{16} 127\.0\.0\.1 \d+ 127\.0\.0\.1 %d$"
                      % srv.port)


class MidResponse(Pop3TestCase):
    """A multi-line response cut short (server shutdown, or a reader that
    stalls past idle_timeout) ends without "." and never carries a status
    line inside the message."""

    # Bigger than what the socket buffers on both ends can hold.
    BIG = b"Subject: big\n\n" + (b"y" * 78 + b"\n") * 400000

    def stalled_retr(self, srv):
        self.mail.deliver("alice", "new", "2000000000.M1P1.big", self.BIG)
        c = self.pop(srv)
        c.login()
        c.send("DELE 1\r\nRETR %d\r\n" % (len(KNOWN) + 1))
        self.assertEqual(c.line(), "+OK Message 1 deleted")
        time.sleep(0.3)             # the server fills the socket and waits
        return c

    def read_to_eof(self, c, timeout=10):
        data, deadline = c.buf, time.monotonic() + timeout
        c.buf = b""
        while time.monotonic() < deadline:
            c.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = c.sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                continue
            if not chunk:
                break
            data += chunk
        else:
            self.fail("connection still open")
        return data

    def check_cut(self, data):
        full = ("+OK %d octets\r\n" % list_size(self.BIG)).encode() + \
            wire_retr(self.BIG)
        self.assertLess(len(data), len(full))
        self.assertEqual(data, full[:len(data)])   # a clean prefix
        self.assertNotIn(b"-ERR", data)

    def test_shutdown_mid_retr(self):
        srv = self.start_pop3_testd()
        c = self.stalled_retr(srv)
        srv.send_signal(signal.SIGTERM)
        self.check_cut(self.read_to_eof(c))
        self.assertEqual(srv.wait_exit(10), 0, srv.err)
        self.assertIsNone(srv.sanitizer_report())
        self.assertEqual(len(self.mail.files()), len(KNOWN) + 1)

    def test_idle_timeout_mid_retr(self):
        srv = self.start_pop3_testd("-t", "1")
        c = self.stalled_retr(srv)
        time.sleep(1.5)
        self.check_cut(self.read_to_eof(c))
        self.assertEqual(len(self.mail.files()), len(KNOWN) + 1)
        d = self.wait_unlocked(srv)
        d.ok("QUIT")


if __name__ == "__main__":
    unittest.main()
