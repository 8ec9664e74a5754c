"""posthornd's connection limits (posthornd(8), posthornd.conf(5)):
max-connections and max-connections-per-address count the sessions of
every listener together (one ph_conn_limits for the daemon), a refused
client gets one line and is closed, refusals are logged once a minute,
a session that ends frees its place; max-session-time and
max-noop-commands reach both protocols; and the descriptor limit bounds
max-connections. Loopback only: 127.0.0.2 and 127.0.0.3 are other
client addresses (the whole 127/8 is local on Linux)."""

import re
import socket
import sys
import unittest

import phtest
from test_posthornd import DaemonCase

SMTP_REFUSED = b"421 4.7.0 Too many connections, try again later\r\n"
POP3_REFUSED = b"-ERR [SYS/TEMP] Too many connections, try again later\r\n"

PER_ADDRESS = r"warn event=connection_refused .*limit=per_address"
TOTAL = r"warn event=connection_refused .*limit=total"


class Limits(DaemonCase):

    # -- helpers ----------------------------------------------------------

    def raw(self, port, source="127.0.0.1"):
        """A plain socket from source (closed at cleanup)."""
        sock = socket.create_connection(("127.0.0.1", port),
                                        timeout=phtest.TIMEOUT,
                                        source_address=(source, 0))
        self.addCleanup(sock.close)
        return sock

    def served(self, srv, port, source="127.0.0.1", greeting=b"220 "):
        """A session from source: its greeting read, its connect logged
        (so every log line of what came before is in srv.err). Returns
        (socket, session id)."""
        sock = self.raw(port, source)
        line = phtest.recv_line(sock)
        self.assertTrue(line.startswith(greeting), line)
        local = sock.getsockname()
        hit = srv.wait_err(r"session=\S+ event=connect peer=%s:%d "
                           % (re.escape(local[0]), local[1]))[0]
        return sock, re.search(r"session=(\S+)", hit).group(1)

    def refused(self, port, source="127.0.0.1"):
        """Everything a refused client gets before the close."""
        return phtest.read_until_close(self.raw(port, source))

    def end(self, srv, sock, sid, quit=b"QUIT\r\n"):
        """Ends a session and waits until the daemon has let it go."""
        sock.sendall(quit)
        phtest.read_until_close(sock)
        srv.wait_err(r"session=%s event=disconnect " % sid)

    def count(self, srv, pattern):
        with srv.cond:
            return len([l for l in srv.err if re.search(pattern, l)])

    # -- per address, across protocols ------------------------------------

    def test_per_address_counts_smtp_and_pop3_together(self):
        srv = self.start_daemon("--max-connections-per-address", "2")
        smtp, smtp_id = self.served(srv, self.smtp)
        self.served(srv, self.pop, greeting=b"+OK ")
        # 127.0.0.1 holds 2 sessions, one per protocol: a third on either
        # port is over the limit.
        self.assertEqual(self.refused(self.smtp), SMTP_REFUSED)
        self.assertEqual(self.refused(self.pop), POP3_REFUSED)
        self.assertEqual(self.refused(self.lmtp), SMTP_REFUSED)
        # Another address is served, on both protocols.
        other, _ = self.served(srv, self.smtp, "127.0.0.2")
        other.sendall(b"NOOP\r\n")
        self.assertTrue(phtest.recv_line(other).startswith(b"250 "))
        self.served(srv, self.pop, "127.0.0.2", greeting=b"+OK ")
        # Three refusals, one log line (at most one a minute per address),
        # naming the first refusal.
        hits = srv.wait_err(PER_ADDRESS)
        self.assertEqual(self.count(srv, PER_ADDRESS), 1, hits)
        self.assertRegex(hits[0], r"peer=127\.0\.0\.1(:\d+)? .*refused=1$")
        # A session that ends gives its place back.
        self.end(srv, smtp, smtp_id)
        again, _ = self.served(srv, self.pop, greeting=b"+OK ")
        self.assertEqual(self.refused(self.smtp), SMTP_REFUSED)
        self.assertEqual(self.count(srv, PER_ADDRESS), 1)

    def test_per_address_zero_is_no_limit(self):
        srv = self.start_daemon("--max-connections-per-address", "0",
                                "--max-connections", "100")
        held = [self.served(srv, self.smtp) for _ in range(40)]
        self.assertEqual(len(held), 40)         # over the default of 30
        self.assertEqual(self.count(srv, "connection_refused"), 0)

    # -- in all -----------------------------------------------------------

    def test_total_counts_every_listener(self):
        srv = self.start_daemon("--max-connections", "2")
        smtp, smtp_id = self.served(srv, self.smtp, "127.0.0.1")
        self.served(srv, self.pop, "127.0.0.2", greeting=b"+OK ")
        # Full, whatever the address and the port.
        self.assertEqual(self.refused(self.lmtp, "127.0.0.3"), SMTP_REFUSED)
        self.assertEqual(self.refused(self.pop, "127.0.0.3"), POP3_REFUSED)
        self.assertEqual(self.refused(self.smtp, "127.0.0.1"), SMTP_REFUSED)
        hits = srv.wait_err(TOTAL)
        self.end(srv, smtp, smtp_id)
        self.served(srv, self.lmtp, "127.0.0.3")
        self.assertEqual(self.count(srv, TOTAL), 1, hits)
        self.assertEqual(self.count(srv, PER_ADDRESS), 0)

    # -- session limits reach both protocols ------------------------------

    def test_noop_limit_smtp_and_pop3(self):
        srv = self.start_daemon("--max-noop-commands", "3")
        c = self.connect(self.smtp)
        c.cmd("EHLO client.test", 250)
        c.cmd("NOOP", 250)
        c.cmd("RSET", 250)
        c.cmd("NOOP", 421, "4.7.0 Too many commands without progress")
        c.expect_eof()
        # POP3 before login: CAPA is the command without progress.
        sock, _ = self.served(srv, self.pop, greeting=b"+OK ")
        sock.sendall(b"CAPA\r\n" * 4)
        data = phtest.read_until_close(sock)
        self.assertEqual(data.count(b"\r\n.\r\n"), 3, data)
        self.assertTrue(data.endswith(b"\r\n.\r\n-ERR [SYS/TEMP] Too many "
                                      b"commands without progress\r\n"),
                        data)

    def test_session_time_limit_smtp_and_pop3(self):
        srv = self.start_daemon("--max-session-time", "1")
        c = self.connect(self.smtp)
        c.cmd("EHLO client.test", 250)
        pop, _ = self.served(srv, self.pop, greeting=b"+OK ")
        c.expect(421, "4.4.2 Session time limit exceeded", timeout=5)
        c.expect_eof()
        self.assertEqual(phtest.read_until_close(pop),
                         b"-ERR [SYS/TEMP] Session time limit exceeded\r\n")

    # -- descriptors ------------------------------------------------------

    def test_fd_limit_logged(self):
        srv = self.start_daemon()
        line = srv.wait_err(r"info event=fd_limit ")[0]
        m = re.search(r"soft=(\d+) hard=(\d+) max_connections=(\d+)$", line)
        self.assertIsNotNone(m, line)
        self.assertEqual(m.group(1), m.group(2))        # raised to hard
        self.assertEqual(self.count(srv, "fd_limit_low"), 0)

    def test_fd_limit_lowers_max_connections(self):
        # 80 descriptors, 64 of them reserved: 16 connections, not 1000.
        wrap = [sys.executable, "-c",
                "import os, resource, sys\n"
                "resource.setrlimit(resource.RLIMIT_NOFILE, (80, 80))\n"
                "os.execv(sys.argv[1], sys.argv[1:])\n"]
        srv = self.start_daemon("--max-connections-per-address", "0",
                                wrap=wrap)
        low = srv.wait_err(r"warn event=fd_limit_low ")[0]
        self.assertRegex(low, r"max_connections=1000 reserve=64 "
                              r"descriptors=80 effective_max_connections=16 ")
        srv.wait_err(r"info event=fd_limit soft=80 hard=80 "
                     r"max_connections=16$")
        for _ in range(16):
            self.served(srv, self.smtp)
        self.assertEqual(self.refused(self.smtp), SMTP_REFUSED)
        srv.wait_err(TOTAL)


if __name__ == "__main__":
    unittest.main()
