"""SMTP over TLS and SMTP AUTH at the library level, against smtp_testd
(public API only): STARTTLS (RFC 3207) -- when it is offered, its
sequencing and syntax replies, the reset it causes (HELO name, AUTH,
state), the injection rule (CVE-2011-0411: nothing pipelined behind it
runs, plaintext after the 220 kills the handshake) --, AUTH PLAIN and
LOGIN (RFC 4954, 4616) with the verify callback answering now, later
(PH_PENDING path) or with a temporary failure, the failure delay, the
per-session and per-address failure limits, AUTH required for MAIL,
implicit TLS (RFC 8314: greeting only after the handshake, max_sessions
without a plaintext 421, handshake timeout, garbage), and the TLS info a
session reports (protocol and cipher, TLS 1.2 minimum).

The certificate (EC P-256, self-signed) is made once per run with
openssl req into a temporary directory; the clients do not verify it.
Every socket has a timeout; every server is a child started here and
stopped by PID."""

import re
import shutil
import smtplib
import socket
import ssl
import signal
import tempfile
import time
import unittest
import warnings

import phtest
from phtest import (OPENSSL, b64, client_ctx, read_until_close,
                    sasl_plain as plain)

CERTDIR = None
CERT = KEY = None

XWHO_RE = re.compile(r"^2\.0\.0 user=(\S+) authzid=(\S+) helo=(\S+) "
                     r"tls=(\S+) cipher=(\S+)$")


def setUpModule():
    global CERTDIR, CERT, KEY
    if OPENSSL is None:
        return
    CERTDIR = tempfile.mkdtemp(prefix="ph-smtp-tls-")
    CERT, KEY = phtest.make_cert(CERTDIR, ec=True)


def tearDownModule():
    if CERTDIR:
        shutil.rmtree(CERTDIR, ignore_errors=True)


GOOD = plain("alice", "wonderland")
BAD = plain("alice", "queen")


def bio_handshake(sock, ctx=None):
    """A client handshake over sock through memory BIOs (the socket
    stays a plain socket, whatever happens). Returns the SSLObject;
    raises ssl.SSLError, EOFError or OSError if the handshake fails."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = (ctx or client_ctx()).wrap_bio(inc, out,
                                         server_hostname="localhost")
    while True:
        try:
            obj.do_handshake()
            sock.sendall(out.read())
            return obj
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            data = sock.recv(65536)
            if not data:
                raise EOFError("closed during the handshake")
            inc.write(data)


@unittest.skipIf(OPENSSL is None, "openssl not installed")
class TlsCase(phtest.TestCase):

    def start_tls(self, *args, smtps=False, tls=True):
        """smtp_testd with -v (log on stderr), the TLS context unless tls
        is False, and an implicit-TLS listener (srv.smtps) with smtps."""
        argv = ["-v"]
        if tls:
            argv += ["--tls-cert", CERT, "--tls-key", KEY]
        if smtps:
            argv += ["--smtps", "127.0.0.1:0"]
        srv = self.start_testd(*(argv + list(args)))
        srv.smtps = None
        if smtps:
            line = srv.wait_line(r"^smtps port=\d+$")
            srv.smtps = int(line.split("=")[1])
            self.assertNotEqual(srv.smtps, 0)
        return srv

    def ehlo_lines(self, c, name="client.example"):
        c.send("EHLO %s\r\n" % name)
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        return lines

    def wrap(self, c, ctx=None):
        """Turns a raw client's socket into TLS after a 220 to STARTTLS."""
        self.assertEqual(c.buf, b"", "plaintext after the 220")
        c.sock = (ctx or client_ctx()).wrap_socket(
            c.sock, server_hostname="localhost",
            do_handshake_on_connect=False)
        c.sock.do_handshake()       # c.sock is closed at cleanup if it fails
        return c

    def starttls(self, c, ehlo="client.example"):
        """EHLO (if ehlo), STARTTLS, handshake; no EHLO after it."""
        if ehlo:
            self.assertIn("STARTTLS", self.ehlo_lines(c, ehlo))
        c.cmd("STARTTLS", 220, "2.0.0 Ready to start TLS")
        return self.wrap(c)

    def tls_client(self, srv, ehlo="client.example"):
        """A client on the STARTTLS port, in TLS and after a new EHLO."""
        c = self.connect(srv)
        self.starttls(c)
        if ehlo:
            self.ehlo_lines(c, ehlo)
        return c

    def smtps_client(self, srv, ctx=None, ehlo="client.example"):
        """A client on the implicit-TLS port, greeted (and EHLO'd)."""
        sock = socket.create_connection(("127.0.0.1", srv.smtps),
                                        timeout=phtest.TIMEOUT)
        c = phtest.Client.__new__(phtest.Client)
        c.timeout = phtest.TIMEOUT
        c.buf = b""
        c.closed_by_peer = False
        c.sock = (ctx or client_ctx()).wrap_socket(
            sock, server_hostname="localhost")
        self._clients.append(c)
        c.expect(220)
        if ehlo:
            self.ehlo_lines(c, ehlo)
        return c

    def xwho(self, c):
        """(user, authzid, helo, tls, cipher) as the session knows them."""
        lines = c.expect(250)
        m = XWHO_RE.match(lines[-1])
        self.assertIsNotNone(m, lines)
        return m.groups()

    def who(self, c):
        c.send("XWHO\r\n")
        return self.xwho(c)

    def closed(self, c, timeout=5.0):
        """The server closes c; returns what came first (c.buf included)."""
        return c.buf + read_until_close(c.sock, timeout)


# ---- STARTTLS ----------------------------------------------------------

class Starttls(TlsCase):

    def test_without_context(self):
        srv = self.start_tls("--auth", tls=False)
        c = self.connect(srv)
        c.cmd("STARTTLS", 503, "5.5.1 Send HELO/EHLO first")
        lines = self.ehlo_lines(c)
        self.assertNotIn("STARTTLS", lines)
        # Without a context AUTH is plaintext: offered at once.
        self.assertIn("AUTH PLAIN LOGIN", lines)
        c.cmd("STARTTLS", 502, "5.5.1 STARTTLS not available")
        self.assertEqual(self.who(c)[3], "none")
        c.cmd("AUTH PLAIN " + GOOD, 235, "2.7.0")
        c.cmd("QUIT", 221)

    def test_offered_before_tls_only(self):
        srv = self.start_tls()
        c = self.connect(srv)
        self.assertEqual(self.who(c)[3], "none")
        lines = self.ehlo_lines(c)
        self.assertIn("STARTTLS", lines)
        self.assertNotIn("AUTH PLAIN LOGIN", lines)     # no --auth
        c.cmd("STARTTLS", 220, "2.0.0 Ready to start TLS")
        self.wrap(c)
        lines = self.ehlo_lines(c)
        self.assertNotIn("STARTTLS", lines)
        c.cmd("STARTTLS", 503, "5.5.1 TLS already active")
        self.assertEqual(self.who(c)[3], "TLSv1.3")
        c.cmd("NOOP", 250)
        c.cmd("QUIT", 221)
        self.log_line(srv, r"event=tls protocol=TLSv1\.3 cipher=\S+ "
                      r"bits=\d+")

    def test_syntax_and_sequencing(self):
        srv = self.start_tls()
        c = self.connect(srv)
        c.cmd("STARTTLS", 503, "5.5.1 Send HELO/EHLO first")
        self.ehlo_lines(c)
        c.cmd("STARTTLS now", 501, "5.5.4")
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("STARTTLS", 503, "5.5.1 Sender already specified")
        c.cmd("RCPT TO:<b@example.org>", 250)
        c.cmd("STARTTLS", 503, "5.5.1")
        c.cmd("RSET", 250)
        # HELO (not only EHLO) is enough for STARTTLS.
        c.cmd("HELO old.example", 250)
        c.cmd("STARTTLS", 220, "2.0.0")
        self.wrap(c)
        self.ehlo_lines(c)
        c.cmd("QUIT", 221)

    def test_session_reset(self):
        srv = self.start_tls()
        c = self.connect(srv)
        self.ehlo_lines(c, "before.example")
        self.assertEqual(self.who(c)[2], "before.example")
        self.starttls(c, ehlo=None)
        user, authzid, helo, tls, cipher = self.who(c)
        self.assertEqual((user, helo, tls), ("-", "-", "TLSv1.3"))
        self.assertNotEqual(cipher, "none")
        # RFC 3207 4.2: a new EHLO is needed.
        c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1 Send HELO/EHLO first")
        c.cmd("RCPT TO:<b@example.org>", 503, "5.5.1")
        lines = self.ehlo_lines(c, "after.example")
        self.assertIn("after.example", lines[0])
        self.assertEqual(self.who(c)[2], "after.example")
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<b@example.org>", 250)
        c.cmd("DATA", 354)
        c.send("Subject: t\r\n\r\nover tls\r\n.\r\n")
        c.expect(250)
        srv.wait_line(r"^EOM size=\d+ body=10 rcpts=1 ")
        c.cmd("QUIT", 221)

    def test_auth_forgotten(self):
        srv = self.start_tls("--auth", "--auth-plaintext")
        c = self.connect(srv)
        lines = self.ehlo_lines(c)
        self.assertIn("STARTTLS", lines)
        self.assertIn("AUTH PLAIN LOGIN", lines)
        c.cmd("AUTH PLAIN " + plain("alice", "wonderland", "boss"), 235,
              "2.7.0")
        self.assertEqual(self.who(c)[:2], ("alice", "boss"))
        self.starttls(c, ehlo=None)
        self.assertEqual(self.who(c)[:3], ("-", "-", "-"))
        self.assertIn("AUTH PLAIN LOGIN", self.ehlo_lines(c))
        # A new login is allowed (not 503 "Already authenticated").
        c.cmd("AUTH PLAIN " + plain("alias", "wonderland"), 235, "2.7.0")
        self.assertEqual(self.who(c)[:2], ("alice@example", "-"))
        c.cmd("QUIT", 221)

    def test_starttls_as_sasl_data(self):
        # While a 334 is outstanding the next line is SASL data: a
        # "STARTTLS" there is a (valid base64) user name, never STARTTLS.
        srv = self.start_tls("--auth", "--auth-plaintext")
        c = self.connect(srv)
        self.ehlo_lines(c)
        c.cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
        c.cmd("STARTTLS", 334, "UGFzc3dvcmQ6")
        c.cmd("*", 501, "5.0.0")
        self.assertEqual(self.who(c)[3], "none")
        c.cmd("STARTTLS", 220)
        self.wrap(c)
        self.ehlo_lines(c)
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_injection_in_one_write(self):
        srv = self.start_tls()
        c = self.connect(srv)
        self.ehlo_lines(c)
        c.send("STARTTLS\r\nNOOP\r\n")
        c.expect(220, "2.0.0")
        self.wrap(c)
        # The first reply after the handshake answers EHLO, not NOOP.
        c.send("EHLO y\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250)
        self.assertIn("Hello y ", lines[0])
        self.assertGreater(len(lines), 1)
        c.cmd("NOOP", 250)
        c.no_more(0.2)
        c.cmd("QUIT", 221)
        self.log_line(srv, r"event=starttls_pipelining discarded=6$")

    def test_injection_whole_transaction(self):
        srv = self.start_tls()
        c = self.connect(srv)
        self.ehlo_lines(c)
        c.send("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n"
               "RCPT TO:<victim@example.org>\r\nDATA\r\n")
        c.expect(220)
        self.wrap(c)
        self.ehlo_lines(c, "y")
        c.cmd("RCPT TO:<b@example.org>", 503, "5.5.1 Need MAIL")
        c.cmd("QUIT", 221)
        self.assertEqual(srv.out("MAIL "), [])

    def test_plaintext_after_220_kills_handshake(self):
        srv = self.start_tls()
        c = self.connect(srv)
        self.ehlo_lines(c)
        c.cmd("STARTTLS", 220)
        # Plaintext where the ClientHello belongs: taken as TLS bytes.
        c.send("NOOP\r\n")
        got = self.closed(c)
        self.assertNotIn(b"250", got)
        self.assertTrue(got == b"" or got[0] == 0x15, got)  # alert at most
        self.log_line(srv, r"event=tls_failed")
        # Same, but the client goes on with its handshake: it fails.
        d = self.connect(srv)
        self.ehlo_lines(d)
        d.cmd("STARTTLS", 220)
        d.send("NOOP\r\n")
        with self.assertRaises((ssl.SSLError, EOFError, OSError)):
            bio_handshake(d.sock)
        self.assertEqual(len(srv.out("CONNECT ")), 2)
        # The server goes on serving.
        e = self.tls_client(srv)
        self.assertEqual(self.who(e)[3], "TLSv1.3")
        srv.wait_line(r"^DISCONNECT$")

    def test_handshake_timeout(self):
        srv = self.start_tls("--tls-timeout", "1")
        c = self.connect(srv)
        self.ehlo_lines(c)
        c.cmd("STARTTLS", 220)
        t0 = time.monotonic()
        self.assertEqual(self.closed(c), b"")      # no ClientHello: closed
        self.assertGreater(time.monotonic() - t0, 0.8)
        self.assertLess(time.monotonic() - t0, 3.5)
        self.log_line(srv, r"event=tls_failed reason=\"handshake timeout\"")
        srv.wait_line(r"^DISCONNECT$")
        self.assertEqual(self.who(self.tls_client(srv))[3], "TLSv1.3")

    def test_lmtp(self):
        srv = self.start_tls("--auth", "-m", "lmtp")
        c = self.connect(srv)
        c.cmd("STARTTLS", 503, "5.5.1 Send LHLO first")
        c.send("LHLO a.example\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250)
        self.assertIn("STARTTLS", lines)
        c.cmd("STARTTLS", 220)
        self.wrap(c)
        c.cmd("MAIL FROM:<a@example.org>", 503, "5.5.1 Send LHLO first")
        c.send("LHLO b.example\r\n")
        code, lines = c.reply()
        self.assertNotIn("STARTTLS", lines)
        self.assertIn("AUTH PLAIN LOGIN", lines)
        c.cmd("AUTH PLAIN " + GOOD, 235)
        self.assertEqual(self.who(c)[:3], ("alice", "-", "b.example"))

    def test_idle_timeout_after_handshake(self):
        # The handshake timeout (1 s) ends with the handshake: the session
        # is then under its idle timeout (3 s) again.
        srv = self.start_tls("--tls-timeout", "1", "-I", "3")
        c = self.tls_client(srv)
        time.sleep(1.5)
        c.cmd("NOOP", 250)
        t0 = time.monotonic()
        c.expect(421, "4.4.2", timeout=6)
        self.assertGreater(time.monotonic() - t0, 2.5)


# ---- AUTH ----------------------------------------------------------------

class Auth(TlsCase):

    def test_not_offered_without_verify(self):
        srv = self.start_tls()
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN " + GOOD, 502, "5.5.1 AUTH not available")
        c.cmd("MAIL FROM:<a@example.org> AUTH=<>", 555, "5.5.4")

    def test_needs_tls(self):
        srv = self.start_tls("--auth")
        c = self.connect(srv)
        c.cmd("AUTH PLAIN " + GOOD, 503, "5.5.1 Send HELO/EHLO first")
        lines = self.ehlo_lines(c)
        self.assertNotIn("AUTH PLAIN LOGIN", lines)
        c.cmd("AUTH PLAIN " + GOOD, 538, "5.7.11")
        c.cmd("AUTH LOGIN", 538, "5.7.11")
        self.assertEqual(srv.out("VERIFY"), [])
        self.starttls(c, ehlo=None)
        self.assertIn("AUTH PLAIN LOGIN", self.ehlo_lines(c))
        c.cmd("AUTH PLAIN " + GOOD, 235, "2.7.0 Authentication successful")

    def test_plain_initial_response(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        self.assertEqual(self.who(c)[0], "-")
        c.cmd("AUTH PLAIN " + GOOD, 235, "2.7.0 Authentication successful")
        user, authzid, helo, tls, _ = self.who(c)
        self.assertEqual((user, authzid, helo, tls),
                         ("alice", "-", "client.example", "TLSv1.3"))
        srv.wait_line(r"^VERIFY mech=PLAIN user=alice authzid=$")
        self.log_line(srv, r"event=auth mech=PLAIN user=alice$")
        c.cmd("AUTH PLAIN " + GOOD, 503, "5.5.1 Already authenticated")
        c.cmd("MAIL FROM:<a@example.org>", 250)

    def test_plain_authzid_and_case(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("auth plain " + plain("alice", "wonderland", "boss"), 235,
              "2.7.0")
        self.assertEqual(self.who(c)[:2], ("alice", "boss"))
        srv.wait_line(r"^VERIFY mech=PLAIN user=alice authzid=boss$")

    def test_plain_continuation(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.send("AUTH PLAIN\r\n")
        self.assertEqual(c.read_line(), "334 ")    # empty challenge
        c.cmd(plain("alice", "wonderland", "boss"), 235, "2.7.0")
        self.assertEqual(self.who(c)[:2], ("alice", "boss"))

    def test_plain_continuation_pipelined(self):
        # The answer to the 334 may come in the same write.
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.send("AUTH PLAIN\r\n" + GOOD + "\r\nXWHO\r\n")
        self.assertEqual(c.read_line(), "334 ")
        c.expect(235, "2.7.0")
        self.assertEqual(self.xwho(c)[0], "alice")

    def test_login(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
        c.cmd(b64("alice"), 334, "UGFzc3dvcmQ6")
        c.cmd(b64("wonderland"), 235, "2.7.0")
        self.assertEqual(self.who(c)[:2], ("alice", "-"))
        srv.wait_line(r"^VERIFY mech=LOGIN user=alice authzid=$")

    def test_login_initial_response(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("AUTH LOGIN " + b64("alice"), 334, "UGFzc3dvcmQ6")
        c.cmd(b64("wonderland"), 235, "2.7.0")
        self.assertEqual(self.who(c)[0], "alice")

    def test_identity_from_verify(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN " + plain("alias", "wonderland"), 235)
        self.assertEqual(self.who(c)[0], "alice@example")

    def test_cancel(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN", 334)
        c.cmd("*", 501, "5.0.0 Authentication cancelled")
        c.cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
        c.cmd("*", 501, "5.0.0")
        c.cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
        c.cmd(b64("alice"), 334, "UGFzc3dvcmQ6")
        c.cmd("*", 501, "5.0.0")
        self.assertEqual(srv.out("VERIFY"), [])
        self.assertEqual(self.who(c)[0], "-")
        c.cmd("NOOP", 250)          # a command again, not SASL data
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_bad_base64(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN !!!!", 501, "5.5.2 Invalid base64 data")
        c.cmd("AUTH PLAIN", 334)
        c.cmd("not*base64", 501, "5.5.2")
        c.cmd("AUTH LOGIN", 334)
        c.cmd("%%%", 501, "5.5.2")
        self.assertEqual(srv.out("VERIFY"), [])
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_malformed_plain(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN " + b64("alice\0wonderland"), 535, "5.7.8")
        self.assertEqual(srv.out("VERIFY"), [])
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_unknown_mechanism(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("AUTH XOAUTH9", 504, "5.5.4 Unrecognized authentication")
        c.cmd("AUTH GSSAPI dGVzdA==", 504, "5.5.4")
        c.cmd("AUTH", 501, "5.5.4")
        c.cmd("AUTH PLAIN %s extra" % GOOD, 501, "5.5.4")
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_unknown_mechanism_long_name(self):
        # RFC 4422 3.1: a mechanism name has up to 20 characters; an
        # unsupported one gets 504 (RFC 4954 4), not a syntax error.
        # Fails while the session keeps only 7 (sasl_mech[8]).
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        for mech in ("CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-256",
                     "SCRAM-SHA-256-PLUS"):
            c.cmd("AUTH " + mech, 504, "5.5.4 Unrecognized authentication")
        c.cmd("AUTH ABCDEFGHIJKLMNOPQRSTU", 501, "5.5.4")   # 21: too long
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_inside_transaction(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("AUTH PLAIN " + GOOD, 503, "5.5.1")
        c.cmd("RSET", 250)
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_tempfail(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN " + plain("temp", "x"), 454, "4.7.0")
        c.cmd("AUTH LOGIN", 334)
        c.cmd(b64("temp"), 334)
        c.cmd(b64("x"), 454, "4.7.0")
        self.assertEqual(self.who(c)[0], "-")
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_tempfail_not_counted(self):
        # A check that could not be made is no failed login: neither the
        # per-address guard nor the per-session limit counts it.
        srv = self.start_tls("--auth", "--max-auth-failures-per-addr", "1",
                             "--max-auth-failures", "1")
        c = self.tls_client(srv)
        for _ in range(3):
            c.cmd("AUTH PLAIN " + plain("temp", "x"), 454, "4.7.0")
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_slow_answer_holds_pipelined_commands(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        t0 = time.monotonic()
        c.send("AUTH PLAIN %s\r\nNOOP\r\nXWHO\r\n"
               % plain("slow", "wonderland"))
        c.expect(235, "2.7.0")
        self.assertGreaterEqual(time.monotonic() - t0, 0.18)
        c.expect(250, "2.0.0")                          # the NOOP
        self.assertEqual(self.xwho(c)[0], "slow")
        srv.wait_line(r"^AUTH_REPLY user=slow rc=0$")
        # The same through the 334 path, failing.
        d = self.tls_client(srv)
        d.send("AUTH LOGIN\r\n%s\r\n%s\r\nNOOP\r\n"
               % (b64("slow"), b64("bad")))
        d.expect(334)
        d.expect(334)
        t0 = time.monotonic()
        d.expect(535, "5.7.8")
        d.expect(250)
        self.assertEqual(self.who(d)[0], "-")

    def test_slow_answer_after_client_left(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.send("AUTH PLAIN %s\r\n" % plain("slow", "wonderland"))
        srv.wait_line(r"^VERIFY mech=PLAIN user=slow ")
        c.close()
        srv.wait_line(r"^DISCONNECT$")
        # ph_smtp_auth_reply on a session whose client is gone:
        # PH_ECLOSED, no crash.
        srv.wait_line(r"^AUTH_REPLY user=slow rc=-7$")     # PH_ECLOSED
        self.assertEqual(self.who(self.tls_client(srv))[3], "TLSv1.3")

    def test_shutdown_while_answer_pending(self):
        # A session awaiting the verify answer finishes the AUTH, then
        # gets the 421.
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.send("AUTH PLAIN %s\r\n" % plain("slow", "wonderland"))
        srv.wait_line(r"^VERIFY mech=PLAIN user=slow ")
        srv.send_signal(signal.SIGTERM)
        c.expect(235, "2.7.0")
        c.expect(421, "4.3.2")
        self.assertEqual(self.closed(c), b"")
        self.check_stopped(srv)

    def test_failure_delay(self):
        srv = self.start_tls("--auth", "--auth-fail-delay", "300")
        c = self.tls_client(srv)
        t0 = time.monotonic()
        c.cmd("AUTH PLAIN " + BAD, 535, "5.7.8")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9 * 0.3)
        # The second failure from this address waits twice as long.
        t0 = time.monotonic()
        c.cmd("AUTH LOGIN", 334)
        c.cmd(b64("alice"), 334)
        c.cmd(b64("queen"), 535, "5.7.8")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9 * 0.6)
        # A success is not delayed.
        t0 = time.monotonic()
        c.cmd("AUTH PLAIN " + GOOD, 235)
        self.assertLess(time.monotonic() - t0, 0.25)
        self.log_line(srv, r"event=auth_failed peer=127\.0\.0\.1 "
                      r"mech=PLAIN user=alice$")

    def test_failure_delay_holds_pipelined_commands(self):
        srv = self.start_tls("--auth", "--auth-fail-delay", "300",
                             "--max-auth-failures", "2")
        c = self.tls_client(srv)
        t0 = time.monotonic()
        c.send("AUTH PLAIN %s\r\nNOOP\r\n" % BAD)
        c.expect(535, "5.7.8")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9 * 0.3)
        c.expect(250)
        # The last failure: 535 and 421 after the (doubled) delay.
        t0 = time.monotonic()
        c.send("AUTH PLAIN %s\r\nNOOP\r\n" % BAD)
        c.expect(535, "5.7.8")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9 * 0.6)
        c.expect(421, "4.7.0")
        self.assertEqual(self.closed(c), b"")

    def test_client_leaves_during_failure_delay(self):
        srv = self.start_tls("--auth", "--auth-fail-delay", "300")
        c = self.tls_client(srv)
        c.send("AUTH PLAIN %s\r\n" % BAD)
        srv.wait_line(r"^VERIFY ")
        c.close()
        srv.wait_line(r"^DISCONNECT$")
        time.sleep(0.4)             # past the delay: the timer is gone
        d = self.tls_client(srv)
        d.cmd("AUTH PLAIN " + GOOD, 235)

    def test_max_failures_per_session(self):
        srv = self.start_tls("--auth", "--max-auth-failures", "2")
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN " + BAD, 535, "5.7.8")
        c.send("AUTH PLAIN %s\r\nNOOP\r\n" % BAD)
        c.expect(535, "5.7.8")
        c.expect(421, "4.7.0")
        self.assertEqual(self.closed(c), b"")

    def test_per_address_limit(self):
        srv = self.start_tls("--auth", "--max-auth-failures-per-addr", "2",
                             "--max-auth-failures", "10")
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN " + BAD, 535, "5.7.8")
        c.cmd("AUTH PLAIN " + plain("bob", "x"), 535, "5.7.8")
        srv.wait_line(r"^VERIFY .*user=bob ")
        # Blocked before any password is checked: even the right one.
        c.cmd("AUTH PLAIN " + GOOD, 454, "4.7.0 Too many failed logins")
        c.cmd("AUTH LOGIN", 454, "4.7.0")
        self.assertEqual(len(srv.out("VERIFY")), 2)
        c.cmd("NOOP", 250)              # the session goes on
        d = self.tls_client(srv)
        d.cmd("AUTH PLAIN " + GOOD, 454, "4.7.0")
        self.assertEqual(len(srv.out("VERIFY")), 2)

    def test_per_address_window(self):
        srv = self.start_tls("--auth", "--max-auth-failures-per-addr", "1",
                             "--auth-fail-window", "1")
        c = self.tls_client(srv)
        c.cmd("AUTH PLAIN " + BAD, 535, "5.7.8")
        c.cmd("AUTH PLAIN " + GOOD, 454, "4.7.0")
        time.sleep(2.1)             # window over (whole seconds)
        c.cmd("AUTH PLAIN " + GOOD, 235, "2.7.0")

    def test_auth_required(self):
        srv = self.start_tls("--auth", "--auth-required")
        c = self.tls_client(srv)
        c.cmd("MAIL FROM:<a@example.org>", 530, "5.7.0")
        c.cmd("AUTH PLAIN " + BAD, 535)
        c.cmd("MAIL FROM:<a@example.org>", 530, "5.7.0")
        c.cmd("AUTH PLAIN " + GOOD, 235)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        # Pipelined behind the AUTH, MAIL sees the login (also a late one).
        for user in ("alice", "slow"):
            d = self.tls_client(srv)
            d.send("AUTH PLAIN %s\r\nMAIL FROM:<a@example.org>\r\n"
                   % plain(user, "wonderland"))
            d.expect(235)
            d.expect(250)
        # Not required: MAIL without AUTH is fine.
        srv2 = self.start_tls("--auth")
        self.tls_client(srv2).cmd("MAIL FROM:<a@example.org>", 250)

    def test_mail_auth_parameter(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        c.cmd("MAIL FROM:<a@example.org> AUTH=<>", 250)
        c.cmd("RSET", 250)
        c.cmd("AUTH PLAIN " + GOOD, 235)
        c.cmd("MAIL FROM:<a@example.org> AUTH=a@example.org", 250)
        srv.wait_line(r"^MAIL from=<a@example\.org>$")

    def test_long_line_in_exchange(self):
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        # RFC 4954 4: AUTH lines may be 12288 octets; longer ends it.
        c.cmd("AUTH PLAIN", 334)
        c.cmd("A" * 13000, 500, "5.5.2 Line too long")
        c.cmd("NOOP", 250)              # a command again
        c.cmd("AUTH LOGIN", 334)
        c.cmd(b64("alice"), 334)
        c.cmd("B" * 13000, 500, "5.5.2")
        c.cmd("NOOP", 250)
        self.assertEqual(srv.out("VERIFY"), [])
        c.cmd("AUTH PLAIN " + GOOD, 235)

    def test_auth_lines_longer_than_commands(self):
        # A PLAIN message with 255-octet fields is 1024 base64 characters:
        # past the 512-octet command limit, within RFC 4954's 12288.
        srv = self.start_tls("--auth")
        c = self.tls_client(srv)
        big = b64("z" * 255 + "\0" + "alice" + "\0" + "p" * 255)
        c.cmd("AUTH PLAIN " + big, 535)          # checked, just wrong
        first = srv.wait_line(r"^VERIFY mech=PLAIN user=alice authzid=z{255}$")
        c.cmd("AUTH PLAIN", 334)
        c.cmd(big, 535)                          # as a 334 answer too
        srv.wait_line(r"^VERIFY mech=PLAIN user=alice ",
                      start=srv.lines.index(first) + 1)
        c.cmd("NOOP " + "x" * 600, 500, "5.5.2 Line too long")

    def test_idle_timeout_in_exchange(self):
        srv = self.start_tls("--auth", "-I", "1")
        c = self.tls_client(srv)
        c.cmd("AUTH LOGIN", 334)
        t0 = time.monotonic()
        c.expect(421, "4.4.2", timeout=4)
        self.assertGreater(time.monotonic() - t0, 0.8)
        self.assertEqual(self.closed(c), b"")
        self.assertEqual(srv.out("VERIFY"), [])

    def test_smtplib_login_and_send(self):
        srv = self.start_tls("--auth")
        s = smtplib.SMTP("127.0.0.1", srv.port, timeout=phtest.TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        self.assertTrue(s.has_extn("starttls"))
        self.assertFalse(s.has_extn("auth"))
        s.starttls(context=client_ctx())
        s.ehlo("client.example")
        self.assertEqual(s.esmtp_features["auth"].split(),
                         ["PLAIN", "LOGIN"])
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.login("alice", "queen")
        self.assertEqual(cm.exception.smtp_code, 535)
        s.login("alice", "wonderland")
        s.sendmail("a@example.org", ["b@example.org"],
                   b"Subject: t\r\n\r\nhi\r\n")
        s.quit()
        srv.wait_line(r"^EOM size=\d+ body=4 rcpts=1 ")


# ---- implicit TLS -------------------------------------------------------

class Smtps(TlsCase):

    def test_greeting_after_handshake(self):
        srv = self.start_tls(smtps=True)
        raw = self.raw_connect(srv.smtps)
        raw.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            raw.recv(100)
        self.assertEqual(srv.out("CONNECT"), [])    # no CONNECT step yet
        raw.settimeout(phtest.TIMEOUT)
        tls = client_ctx().wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(tls.close)
        greeting = phtest.recv_line(tls)
        self.assertEqual(greeting, b"220 testd.example ESMTP posthorn\r\n")
        srv.wait_line(r"^CONNECT peer=127\.0\.0\.1$")
        tls.sendall(b"EHLO x\r\nXWHO\r\nSTARTTLS\r\nQUIT\r\n")
        got = read_until_close(tls)
        self.assertNotIn(b"250-STARTTLS", got)
        self.assertIn(b" tls=TLSv1.3 cipher=", got)
        self.assertIn(b"503 5.5.1 TLS already active\r\n", got)
        self.assertTrue(got.endswith(b"221 2.0.0 testd.example Closing "
                                     b"connection\r\n"), got)

    def test_smtp_ssl(self):
        srv = self.start_tls("--auth", smtps=True)
        s = smtplib.SMTP_SSL("127.0.0.1", srv.smtps, timeout=phtest.TIMEOUT,
                             context=client_ctx())
        self.addCleanup(s.close)
        s.ehlo("client.example")
        self.assertFalse(s.has_extn("starttls"))
        self.assertTrue(s.has_extn("auth"))     # TLS: AUTH is offered
        s.login("alice", "wonderland")
        s.sendmail("a@example.org", ["b@example.org"],
                   b"Subject: t\r\n\r\nimplicit\r\n")
        s.quit()
        srv.wait_line(r"^EOM size=\d+ body=10 rcpts=1 ")

    def test_max_sessions_no_plaintext_421(self):
        srv = self.start_tls("--max-sessions", "1", smtps=True)
        first = self.smtps_client(srv)
        raw = self.raw_connect(srv.smtps)
        got = read_until_close(raw)
        self.assertNotIn(b"421", got)
        self.assertTrue(got == b"" or got[0] == 0x15, got)
        # A real TLS client over the limit: no session either.
        raw2 = self.raw_connect(srv.smtps)
        try:
            tls = client_ctx().wrap_socket(raw2, server_hostname="localhost")
            got = read_until_close(tls)
        except (ssl.SSLError, OSError):
            got = b""
        self.assertNotIn(b"421", got)
        self.assertEqual(got, b"")
        # The plaintext port says it in plaintext.
        c = self.connect(srv, banner=None)
        c.expect(421, "4.7.0")
        self.assertEqual(self.closed(c), b"")
        first.cmd("NOOP", 250)
        first.cmd("QUIT", 221)
        srv.wait_line(r"^DISCONNECT$")
        self.assertEqual(len(srv.out("CONNECT")), 1)
        self.smtps_client(srv).cmd("QUIT", 221)

    def test_handshake_timeout(self):
        srv = self.start_tls("--tls-timeout", "1", smtps=True)
        raw = self.raw_connect(srv.smtps)
        t0 = time.monotonic()
        self.assertEqual(read_until_close(raw), b"")
        self.assertGreater(time.monotonic() - t0, 0.8)
        self.assertLess(time.monotonic() - t0, 3.5)
        self.log_line(srv, r"event=tls_failed reason=\"handshake timeout\"")
        self.assertEqual(srv.out("CONNECT"), [])
        self.assertEqual(srv.out("DISCONNECT"), [])     # never greeted
        self.smtps_client(srv).cmd("QUIT", 221)

    def test_handshake_deadline_not_stretched_by_trickle(self):
        """A client sending its ClientHello a byte at a time does not
        keep the handshake alive past tls_handshake_timeout."""
        srv = self.start_tls("--tls-timeout", "1", smtps=True)
        raw = self.raw_connect(srv.smtps)
        t0 = time.monotonic()
        hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 40
        closed = False
        for b in hello:
            try:
                raw.sendall(bytes([b]))
            except OSError:
                closed = True
                break
            if time.monotonic() - t0 > 4:
                break
            time.sleep(0.3)         # under the 1 s idle time each time
            raw.setblocking(False)
            try:
                if raw.recv(1) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            finally:
                raw.setblocking(True)
        self.assertTrue(closed, "handshake outlived its deadline")
        self.assertLess(time.monotonic() - t0, 3.0)
        self.log_line(srv, r"event=tls_failed reason=\"handshake timeout\"")

    def keep_alive(self, srv):
        """A plaintext session inside a transaction: after SIGTERM it may
        finish, so smtp_testd keeps its loop running meanwhile."""
        a = self.connect(srv)
        self.ehlo_lines(a, "a.example")
        a.cmd("MAIL FROM:<a@example.org>", 250)
        return a

    def tls_after_shutdown(self, srv, sock):
        """Completes a handshake begun before SIGTERM; returns every
        byte read until the server closes."""
        tls = client_ctx().wrap_socket(sock, server_hostname="localhost",
                                       do_handshake_on_connect=False)
        self.addCleanup(tls.close)
        tls.do_handshake()
        return read_until_close(tls)

    def test_shutdown_during_starttls_handshake(self):
        srv = self.start_tls(smtps=True)
        a = self.keep_alive(srv)
        c = self.connect(srv)
        self.ehlo_lines(c)
        c.cmd("STARTTLS", 220)
        srv.send_signal(signal.SIGTERM)
        srv.wait_line(r"^SHUTDOWN$")
        self.assertEqual(
            self.tls_after_shutdown(srv, c.sock),
            b"421 4.3.2 Service closing transmission channel\r\n")
        a.close()
        self.check_stopped(srv)

    def test_shutdown_during_implicit_handshake(self):
        # A session still in its handshake when the server shuts down
        # gets one 421 (over TLS) and no CONNECT step: neither the
        # greeting handler nor the "connection" event runs for it.
        # Fails while smtp_tls_ready() greets a CLOSING session: the
        # CONNECT handler runs, its 220 is dropped, the commit sets the
        # state back to READY and a second 421 follows.
        srv = self.start_tls("-X", smtps=True)
        a = self.keep_alive(srv)
        raw = self.raw_connect(srv.smtps)
        self.log_line(srv, r"event=connect .* local=127\.0\.0\.1:%d "
                      % srv.smtps)
        srv.send_signal(signal.SIGTERM)
        srv.wait_line(r"^SHUTDOWN$")
        got = self.tls_after_shutdown(srv, raw)
        a.close()
        self.check_stopped(srv)
        self.assertEqual(got, b"421 4.3.2 Service closing transmission "
                         b"channel\r\n")
        self.assertEqual(len(srv.out("CONNECT")), 1)        # a's only
        self.assertEqual(len(srv.out("PLUGIN connection")), 1)

    def test_plaintext_garbage(self):
        srv = self.start_tls(smtps=True)
        raw = self.raw_connect(srv.smtps)
        raw.sendall(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\n")
        got = read_until_close(raw)
        self.assertNotIn(b"220", got)
        self.assertNotIn(b"250", got)
        self.assertTrue(got == b"" or got[0] == 0x15, got)
        self.log_line(srv, r"event=tls_failed")
        self.assertEqual(srv.out("CONNECT"), [])
        c = self.smtps_client(srv)
        self.assertEqual(self.who(c)[3], "TLSv1.3")


# ---- what the session reports -------------------------------------------

class TlsInfo(TlsCase):

    def test_tls13(self):
        srv = self.start_tls(smtps=True)
        user, authzid, helo, tls, cipher = self.who(self.smtps_client(srv))
        self.assertEqual(tls, "TLSv1.3")
        self.assertRegex(cipher, r"^TLS_[A-Z0-9_]+$")
        self.assertEqual(helo, "client.example")

    def test_tls12(self):
        srv = self.start_tls(smtps=True)
        ctx = client_ctx()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        c = self.smtps_client(srv, ctx=ctx)
        tls, cipher = self.who(c)[3:]
        self.assertEqual(tls, "TLSv1.2")
        self.assertEqual(cipher, c.sock.cipher()[0])
        # The same over STARTTLS.
        d = self.connect(srv)
        self.ehlo_lines(d)
        d.cmd("STARTTLS", 220)
        self.wrap(d, ctx)
        self.assertEqual(self.who(d)[3], "TLSv1.2")

    def test_tls11_refused(self):
        srv = self.start_tls(smtps=True)
        try:
            ctx = client_ctx()
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError) as e:
            self.skipTest("client cannot be limited to TLS 1.1: %s" % e)
        raw = self.raw_connect(srv.smtps)
        with self.assertRaises(ssl.SSLError) as cm:
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
            tls.recv(100)
        reason = getattr(cm.exception, "reason", "") or ""
        if reason == "NO_PROTOCOLS_AVAILABLE":
            self.skipTest("the local OpenSSL cannot offer TLS 1.1")
        # The server refused it (protocol version alert) and says why.
        self.log_line(srv, r"event=tls_failed reason=\".*(unsupported "
                      r"protocol|version too low|wrong version)")
        self.assertEqual(srv.out("CONNECT"), [])
        self.smtps_client(srv).cmd("QUIT", 221)


if __name__ == "__main__":
    unittest.main()
