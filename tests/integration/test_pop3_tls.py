"""POP3 over TLS against pop3_testd: STLS (RFC 2595) and implicit TLS
(POP3S, RFC 8314), with poplib, raw sockets and openssl s_client. CAPA
before and after STLS, plaintext logins refused until TLS (and allowed
with --auth-plaintext), the STLS injection rule (a command pipelined
behind STLS never runs), the greeting and "connection" event only after
an implicit handshake, failed and timed-out handshakes that leave the
server serving. The certificate is made per test class with openssl
req into a temporary directory (phtest.make_cert)."""

import hashlib
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import phtest
from phtest import OPENSSL, client_ctx
from test_pop3_common import KNOWN, Pop3TestCase

NO_PLAINTEXT = ("-ERR [AUTH] Plaintext authentication disallowed on "
                "non-secure connection; use STLS first")


@unittest.skipIf(OPENSSL is None, "openssl not installed")
class TlsCase(Pop3TestCase):

    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="ph-pop3-tls-")
        cls.cert, cls.key = phtest.make_cert(cls.certdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def start_tls_testd(self, *args, pop3s=True):
        """pop3_testd with the TLS context (and a POP3S listener); its
        POP3S port is srv.pop3s."""
        argv = ["-v", "--tls-cert", self.cert, "--tls-key", self.key]
        if pop3s:
            argv += ["--pop3s", "127.0.0.1:0"]
        srv = self.start_pop3_testd(*(argv + list(args)))
        srv.pop3s = None
        if pop3s:
            line = srv.wait_line(r"^pop3s port=\d+$")
            srv.pop3s = int(line.split("=")[1])
        return srv

    def poplib_client(self, srv):
        p = poplib.POP3("127.0.0.1", srv.port, timeout=phtest.TIMEOUT)
        self.addCleanup(p.close)
        return p

    def pop3_ssl(self, srv):
        p = poplib.POP3_SSL("127.0.0.1", srv.pop3s, timeout=phtest.TIMEOUT,
                            context=client_ctx())
        self.addCleanup(p.close)
        return p

    def wrap(self, c):
        """Turns a raw Pop3 client's socket into TLS (after STLS +OK)."""
        self.assertEqual(c.buf, b"", "plaintext after the +OK")
        c.sock = client_ctx().wrap_socket(c.sock,
                                              server_hostname="localhost")
        return c



class Stls(TlsCase):

    def test_capa_before_and_after(self):
        srv = self.start_tls_testd()
        p = self.poplib_client(srv)
        caps = p.capa()
        self.assertIn("STLS", caps)
        self.assertNotIn("USER", caps)
        self.assertNotIn("SASL", caps)
        self.assertIn("UIDL", caps)
        p.stls(client_ctx())
        caps = p.capa()
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        self.assertEqual(caps.get("SASL"), ["PLAIN"])
        p.quit()

    def test_user_refused_before_and_accepted_after(self):
        srv = self.start_tls_testd()
        c = self.pop(srv)
        self.assertEqual(c.cmd("USER alice"), NO_PLAINTEXT)
        self.assertEqual(c.cmd("PASS wonderland"), NO_PLAINTEXT)
        self.assertEqual(c.cmd("AUTH PLAIN"), NO_PLAINTEXT)
        self.assertEqual(c.cmd("STLS extra"), "-ERR Syntax: STLS")
        self.assertEqual(c.cmd("STLS"), "+OK Begin TLS negotiation")
        self.wrap(c)
        self.assertEqual(c.cmd("STLS"), "-ERR Already in TLS")
        c.login()
        self.assertEqual(c.cmd("STLS"),
                         "-ERR Command not valid in this state")
        c.ok("QUIT")
        c.expect_eof()
        self.log_line(srv, r"session=\S+ event=tls protocol=TLSv1\.[23] "
                      r"cipher=\S+ bits=\d+")

    def test_poplib_login_and_stat(self):
        srv = self.start_tls_testd()
        p = self.poplib_client(srv)
        with self.assertRaises(poplib.error_proto) as cm:
            p.user("alice")
        self.assertIn(b"Plaintext authentication disallowed",
                      cm.exception.args[0])
        p.stls(client_ctx())
        self.assertIsInstance(p.sock, ssl.SSLSocket)
        self.check_poplib_login(p)
        p.quit()

    def test_user_name_forgotten_after_stls(self):
        srv = self.start_tls_testd("--auth-plaintext")
        c = self.pop(srv)
        c.ok("USER alice")
        c.ok("STLS")
        self.wrap(c)
        self.assertEqual(c.cmd("PASS wonderland"), "-ERR Send USER first")
        c.login()

    def test_injection_after_stls_is_dropped(self):
        srv = self.start_tls_testd()
        c = self.pop(srv)
        c.send(b"STLS\r\nCAPA\r\n")         # one write, one segment
        self.assertEqual(c.line(), "+OK Begin TLS negotiation")
        self.wrap(c)
        c.send("NOOP\r\n")
        # The first line after the handshake answers NOOP (not valid in
        # AUTHORIZATION), not the injected CAPA.
        self.assertEqual(c.line(), "-ERR Command not valid in this state")
        c.ok("QUIT")
        c.expect_eof()
        # "CAPA\r\n" was dropped, and the warning says so.
        self.log_line(srv, r"^warn session=\S+ event=stls_pipelining "
                      r"discarded=6$")

    def test_stls_is_an_event_like_any_command(self):
        srv = self.start_tls_testd("-E")
        c = self.pop(srv)
        c.ok("STLS")
        srv.wait_line(r"^EVENT cmd_stls [0-9a-f]{16}$")
        self.wrap(c)
        c.login()

    def test_stls_refused_on_the_wire_starts_no_tls(self):
        # A response plugin turns STLS's +OK into -ERR: the client keeps
        # talking plaintext, and so must the server (a reply commits what
        # went out, as in SMTP).
        srv = self.start_tls_testd("-R", "+OK Begin=-ERR Begin", pop3s=False)
        c = self.pop(srv)
        self.assertEqual(c.cmd("STLS"), "-ERR Begin TLS negotiation")
        c.ok("CAPA")
        c.multi()
        self.assertFalse([l for l in srv.err if "tls_failed" in l])

    def test_auth_plaintext_option(self):
        srv = self.start_tls_testd("--auth-plaintext")
        p = self.poplib_client(srv)
        caps = p.capa()
        self.assertIn("STLS", caps)
        self.assertIn("USER", caps)
        self.assertEqual(caps.get("SASL"), ["PLAIN"])
        p.user("alice")
        p.pass_("wonderland")
        self.assertEqual(p.stat()[0], len(KNOWN))
        p.quit()

    def test_apop_allowed_in_clear(self):
        # APOP sends a digest, not the password: no TLS needed.
        srv = self.start_tls_testd("-A")
        c = self.pop(srv)
        ts = re.search(r"<[^>]+>", c.greeting).group(0)
        digest = hashlib.md5((ts + "wonderland").encode()).hexdigest()
        self.assertTrue(c.cmd("APOP alice " + digest).startswith(
            "+OK Logged in"))

    def test_stls_without_context(self):
        srv = self.start_pop3_testd()
        c = self.pop(srv)
        self.assertEqual(c.cmd("STLS"), "-ERR STLS not available")
        c.login()

    def test_handshake_timeout(self):
        srv = self.start_tls_testd("--tls-timeout", "1", pop3s=False)
        c = self.pop(srv)
        c.ok("STLS")
        t0 = time.monotonic()
        c.expect_eof(timeout=5)      # no ClientHello: closed, no reply
        self.assertLess(time.monotonic() - t0, 4)
        self.log_line(srv, r"event=tls_failed")
        d = self.pop(srv)
        d.ok("STLS")
        self.wrap(d)
        d.login()

    def test_openssl_s_client_starttls(self):
        srv = self.start_tls_testd()
        r = subprocess.run(
            [OPENSSL, "s_client", "-starttls", "pop3", "-crlf", "-ign_eof",
             "-connect", "127.0.0.1:%d" % srv.port],
            input=b"CAPA\nQUIT\n", stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=30)
        out = r.stdout.decode("latin-1")
        self.assertIn("+OK Capability list follows", out)
        self.assertIn("+OK Bye", out)
        self.assertRegex(out, r"Protocol\s*: TLSv1\.[23]|TLSv1\.[23]")


class Pop3s(TlsCase):

    def test_pop3_ssl_login(self):
        srv = self.start_tls_testd()
        p = self.pop3_ssl(srv)
        self.assertRegex(p.getwelcome().decode(),
                         r"^\+OK testd\.example posthorn \S+ ready$")
        caps = p.capa()
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        p.user("alice")
        p.pass_("wonderland")
        self.assertEqual(p.stat()[0], len(KNOWN))
        p.quit()

    def test_greeting_and_event_after_handshake(self):
        srv = self.start_tls_testd("-E")
        raw = self.raw_connect(srv.pop3s)
        srv.settle(0.3)
        # Connected, but no handshake yet: no event, no greeting.
        self.assertEqual(srv.out("EVENT connection"), [])
        raw.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            raw.recv(100)
        raw.settimeout(phtest.TIMEOUT)
        tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
        greeting = phtest.recv_line(tls)
        self.assertTrue(greeting.startswith(b"+OK testd.example"))
        srv.wait_line(r"^EVENT connection [0-9a-f]{16} 127\.0\.0\.1 ")
        tls.sendall(b"QUIT\r\n")
        self.assertTrue(tls.recv(512).startswith(b"+OK Bye"))
        tls.close()
        srv.wait_line(r"^EVENT disconnected [0-9a-f]{16}$")

    def test_apop_timestamp_over_pop3s(self):
        srv = self.start_tls_testd("-A")
        p = self.pop3_ssl(srv)
        self.assertRegex(p.getwelcome().decode(), r"<[^>]+@testd\.example>$")
        p.apop("alice", "wonderland")
        self.assertEqual(p.stat()[0], len(KNOWN))
        p.quit()

    def test_failed_handshake_then_good_login(self):
        srv = self.start_tls_testd()
        raw = self.raw_connect(srv.pop3s)
        raw.sendall(b"USER alice\r\nPASS wonderland\r\n")
        got = phtest.read_until_close(raw)
        # At most a TLS alert record; never a POP3 line.
        self.assertNotIn(b"+OK", got)
        self.assertNotIn(b"-ERR", got)
        self.log_line(srv, r"event=tls_failed")
        p = self.pop3_ssl(srv)
        p.user("alice")
        p.pass_("wonderland")
        self.assertEqual(p.stat()[0], len(KNOWN))
        p.quit()

    def test_handshake_timeout(self):
        srv = self.start_tls_testd("--tls-timeout", "1")
        raw = self.raw_connect(srv.pop3s)
        t0 = time.monotonic()
        self.assertEqual(raw.recv(100), b"")
        self.assertLess(time.monotonic() - t0, 4)
        self.pop3_ssl(srv).quit()

    def test_max_sessions_no_plaintext(self):
        srv = self.start_tls_testd("-N", "1")
        first = self.pop3_ssl(srv)
        raw = self.raw_connect(srv.pop3s)
        # Over the limit on a POP3S port: closed without a plaintext line.
        self.assertEqual(raw.recv(100), b"")
        first.quit()


if __name__ == "__main__":
    unittest.main()
