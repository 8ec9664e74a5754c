"""posthornd with TLS: STARTTLS on --smtp and --submission, STLS on
--pop3, implicit TLS on --smtps and --pop3s, SMTP AUTH on submission
only, the sender check, trace headers, STARTTLS/STLS command injection
(CVE-2011-0411), failed handshakes, SIGHUP certificate reload, BDAT over
TLS, and real clients (swaks, curl, openssl s_client) when installed.

Each test starts its own daemon (the per-address AUTH failure guard and
the certificate files are per daemon)."""

import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from phtest import (OPENSSL, b64, client_ctx, make_cert, read_until_close,
                    sasl_plain as plain)
from test_posthornd import ANY, DAEMON, DaemonCase

SWAKS = shutil.which("swaks")
CURL = shutil.which("curl")

ALICE, ALICE_PW = "alice@example.org", "secret"
BOB, BOB_PW = "bob@example.org", "hunter2"


def der_of(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def cn_of(der):
    """The subject CN of a DER certificate, via openssl x509."""
    r = subprocess.run([OPENSSL, "x509", "-inform", "DER", "-noout",
                        "-subject"], input=der, capture_output=True,
                       timeout=10, check=True)
    m = re.search(rb"CN\s*=\s*([^,/\n]+)", r.stdout)
    return m.group(1).strip().decode() if m else None


class TLSCase(DaemonCase):
    """posthornd with every listener kind and a certificate."""

    @classmethod
    def setUpClass(cls):
        if OPENSSL is None:
            raise unittest.SkipTest("openssl binary not found: cannot make "
                                    "test certificates")
        cls.certdir = tempfile.mkdtemp(prefix="ph-tls-certs-")
        cls.cert1, cls.key1 = make_cert(cls.certdir, "localhost", "one-")
        cls.cert2, cls.key2 = make_cert(cls.certdir, "reloaded.test", "two-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, True)

    def setUp(self):
        super().setUp()
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        shutil.copy(self.cert1, self.cert)
        shutil.copy(self.key1, self.key)
        os.chmod(self.key, 0o600)

    def start_tls_daemon(self, *extra, fail_delay=0, tls=True):
        """Starts posthornd with --smtp, --submission, --smtps, --lmtp,
        --pop3 and --pop3s on free loopback ports. fail_delay None leaves
        --auth-fail-delay at its default."""
        argv = [DAEMON, "--smtp", ANY, "--submission", ANY, "--lmtp", ANY,
                "--pop3", ANY, "--hostname", "mx.test",
                "--mail-root", self.root, "--users", self.users]
        if tls:
            argv += ["--smtps", ANY, "--pop3s", ANY,
                     "--tls-cert", self.cert, "--tls-key", self.key]
        if fail_delay is not None:
            argv += ["--auth-fail-delay", str(fail_delay)]
        if os.geteuid() == 0:
            argv += ["--user", "root"]
        old = os.getcwd()
        os.chdir(self.dir)
        try:
            srv = self.start(argv + list(extra), ready=False)
        finally:
            os.chdir(old)
        self.wait_ready(srv)
        return srv

    # -- helpers ----------------------------------------------------------

    def ehlo_raw(self, c, name="client.test"):
        c.send("EHLO %s\r\n" % name)
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        return [l.upper() for l in lines[1:]]

    def starttls_raw(self, c):
        """STARTTLS on a raw phtest.Client; its socket becomes TLS."""
        c.cmd("STARTTLS", 220, "2.0.0")
        self.assertEqual(c.buf, b"", "bytes after the 220")
        c.sock = client_ctx().wrap_socket(c.sock)
        c.sock.settimeout(c.timeout)
        return c

    def tls_session(self, port):
        """Connect, EHLO, STARTTLS: a raw client over TLS, before its
        second EHLO."""
        c = self.connect(port)
        self.ehlo_raw(c)
        return self.starttls_raw(c)

    def submission(self, user=ALICE, password=ALICE_PW):
        """smtplib over STARTTLS on --submission, logged in."""
        s = smtplib.SMTP("127.0.0.1", self.sub, timeout=10)
        self.addCleanup(s.close)
        s.starttls(context=client_ctx())
        s.ehlo("client.test")
        if user is not None:
            s.login(user, password)
        return s

    def pop3_tls(self, user=ALICE, password=ALICE_PW):
        p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
        self.addCleanup(p.close)
        p.stls(context=client_ctx())
        if user is not None:
            p.user(user)
            p.pass_(password)
        return p

    def only_file(self, user="alice", domain="example.org"):
        files = self.maildir_files(user, domain)
        self.assertEqual(len(files), 1, files)
        with open(files[0], "rb") as f:
            return f.read()

    def received(self, data):
        """The Received: header of a stored message, unfolded."""
        m = re.search(rb"^Received: .*?(?=\r\n[^\t ])", data,
                      re.M | re.S)
        self.assertIsNotNone(m, data[:500])
        return re.sub(rb"\r\n[\t ]+", b" ", m.group(0)).decode()

    def assert_trace(self, data, proto, tls):
        rec = self.received(data)
        self.assertRegex(rec, r"\bwith %s id " % proto)
        if tls:
            self.assertRegex(rec, r"\(using TLSv1\.3 with cipher \S+")
        else:
            self.assertNotIn("(using", rec)


class SMTP(TLSCase):
    """--smtp (MX): STARTTLS, never AUTH."""

    def test_mx_starttls_and_no_auth(self):
        self.start_tls_daemon()
        c = self.connect(self.smtp)
        caps = self.ehlo_raw(c)
        self.assertIn("STARTTLS", caps)
        self.assertFalse([l for l in caps if l.startswith("AUTH")], caps)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 502, "5.5.1")
        self.starttls_raw(c)
        caps = self.ehlo_raw(c, "tls.client.test")
        self.assertNotIn("STARTTLS", caps)
        self.assertFalse([l for l in caps if l.startswith("AUTH")], caps)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 502, "5.5.1")
        c.cmd("STARTTLS", 503, "5.5.1")          # already on
        c.cmd("MAIL FROM:<someone@remote.test>", 250)
        c.cmd("RCPT TO:<alice@example.org>", 250)
        c.cmd("RCPT TO:<x@elsewhere.test>", 550, "5.7.1")
        c.cmd("DATA", 354)
        c.send(b"Subject: mx tls\r\n\r\nhello\r\n.\r\n")
        c.expect(250, "2.0.0")
        c.cmd("QUIT", 221)
        data = self.only_file()
        self.assertTrue(data.startswith(b"Return-Path: <someone@remote.test>"))
        self.assert_trace(data, "ESMTPS", tls=True)
        self.assertIn("from tls.client.test", self.received(data))

    def test_mx_plain_trace(self):
        self.start_tls_daemon()
        self.send([ALICE], b"Subject: plain\r\n\r\nx\r\n")
        self.assert_trace(self.only_file(), "ESMTP", tls=False)

    def test_starttls_injection_smtp(self):
        """CVE-2011-0411: NOOP pipelined behind STARTTLS is dropped."""
        srv = self.start_tls_daemon()
        for port in (self.smtp, self.sub):
            c = self.connect(port)
            self.ehlo_raw(c)
            c.send(b"STARTTLS\r\nNOOP\r\n")          # one write
            c.expect(220, "2.0.0")
            self.assertEqual(c.buf, b"", "plaintext after the 220")
            c.sock = client_ctx().wrap_socket(c.sock)
            c.sock.settimeout(c.timeout)
            c.send(b"EHLO y\r\n")
            code, lines = c.reply()
            self.assertEqual(code, 250, lines)
            self.assertGreater(len(lines), 1,
                               "first reply after TLS is not the EHLO reply "
                               "(the injected NOOP ran): %r" % lines)
            self.assertTrue(lines[0].startswith("mx.test"), lines)
            c.cmd("QUIT", 221)
            self.assertEqual(c.buf, b"")
        srv.wait_err(r"event=starttls_pipelining discarded=6", count=2)


class Submission(TLSCase):
    """--submission and --smtps: AUTH, sender ownership, relaying."""

    def test_before_tls(self):
        self.start_tls_daemon()
        c = self.connect(self.sub)
        caps = self.ehlo_raw(c)
        self.assertIn("STARTTLS", caps)
        self.assertFalse([l for l in caps if l.startswith("AUTH")], caps)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 538, "5.7.11")
        c.cmd("AUTH LOGIN", 538, "5.7.11")
        c.cmd("MAIL FROM:<alice@example.org>", 530, "5.7.0")
        self.starttls_raw(c)
        caps = self.ehlo_raw(c)
        self.assertIn("AUTH PLAIN LOGIN", caps)
        self.assertNotIn("STARTTLS", caps)
        c.cmd("MAIL FROM:<alice@example.org>", 530, "5.7.0")
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235, "2.7.0")
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 503, "5.5.1")
        c.cmd("MAIL FROM:<alice@example.org>", 250)
        c.cmd("QUIT", 221)

    def test_auth_plain_initial_response_and_delivery(self):
        srv = self.start_tls_daemon()
        c = self.tls_session(self.sub)
        self.ehlo_raw(c, "laptop.test")
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235, "2.7.0")
        c.cmd("MAIL FROM:<alice@example.org>", 250)
        c.cmd("RCPT TO:<someone@elsewhere.test>", 550, "5.7.1")
        c.cmd("RCPT TO:<bob@example.org>", 250)
        c.cmd("DATA", 354)
        c.send(b"Subject: submitted\r\n\r\nfrom alice\r\n.\r\n")
        c.expect(250, "2.0.0")
        c.cmd("QUIT", 221)
        data = self.only_file("bob")
        self.assertTrue(data.startswith(b"Return-Path: <alice@example.org>"))
        self.assertTrue(data.endswith(b"Subject: submitted\r\n\r\n"
                                      b"from alice\r\n"))
        self.assert_trace(data, "ESMTPSA", tls=True)
        self.assertEqual(self.maildir_files("alice"), [])
        srv.wait_err(r"event=login status=ok user=alice@example\.org")
        self.assertFalse([l for l in srv.err if ALICE_PW in l])

    def test_auth_plain_without_initial_response(self):
        self.start_tls_daemon()
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        c.cmd("AUTH PLAIN", 334)
        c.cmd(plain(BOB, BOB_PW), 235, "2.7.0")
        c.cmd("MAIL FROM:<bob@example.org>", 250)
        c.cmd("QUIT", 221)

    def test_auth_login(self):
        self.start_tls_daemon()
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        self.assertEqual(c.cmd("AUTH LOGIN", 334), ["VXNlcm5hbWU6"])
        self.assertEqual(c.cmd(b64(BOB), 334), ["UGFzc3dvcmQ6"])
        c.cmd(b64(BOB_PW), 235, "2.7.0")
        c.cmd("MAIL FROM:<Bob@Example.ORG>", 250)   # case-insensitive
        c.cmd("QUIT", 221)
        # smtplib's own login (it picks PLAIN or LOGIN) and sendmail
        s = self.submission(BOB, BOB_PW)
        self.assertEqual(s.esmtp_features.get("auth", "").split(),
                         ["PLAIN", "LOGIN"])
        s.sendmail(BOB, [ALICE], b"Subject: smtplib\r\n\r\nx\r\n")
        s.quit()
        self.assert_trace(self.only_file("alice"), "ESMTPSA", tls=True)

    def test_bare_login_sends_as_canonical_address(self):
        self.start_tls_daemon()
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        c.cmd("AUTH PLAIN " + plain("alice", ALICE_PW), 235)
        c.cmd("MAIL FROM:<alice@example.org>", 250)
        c.cmd("RSET", 250)
        c.cmd("MAIL FROM:<alice@other.test>", 553, "5.7.1")
        c.cmd("QUIT", 221)

    def test_auth_failures(self):
        self.start_tls_daemon()
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        c.cmd("AUTH PLAIN " + plain(ALICE, "wrong"), 535, "5.7.8")   # 1
        c.cmd("AUTH PLAIN", 334)
        c.cmd("*", 501)                                 # cancelled: no count
        c.cmd("AUTH LOGIN", 334)
        c.cmd("*", 501)
        c.cmd("AUTH PLAIN !!!not-base64!!!", 501, "5.5.2")
        c.cmd("AUTH PLAIN", 334)
        c.cmd("%%%%", 501, "5.5.2")
        c.cmd("AUTH XOAUTH9", 504)
        c.cmd("MAIL FROM:<alice@example.org>", 530, "5.7.0")
        # the right password, but for someone else (authzid): no proxying
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW, authzid=BOB),
              535, "5.7.8")                                            # 2
        c.cmd("AUTH LOGIN", 334)
        c.cmd(b64(ALICE), 334)
        c.cmd(b64("wrong"), 535, "5.7.8")                              # 3
        c.expect(421, "4.7.0")
        c.expect_eof()
        # a new session is not locked out
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW, authzid=ALICE), 235)
        c.cmd("QUIT", 221)

    def test_auth_fail_delay_default(self):
        self.start_tls_daemon(fail_delay=None)           # default: 1 s
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        t0 = time.monotonic()
        c.cmd("AUTH PLAIN " + plain(ALICE, "wrong"), 535, "5.7.8")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        t0 = time.monotonic()
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235)   # no delay
        self.assertLess(time.monotonic() - t0, 0.5)
        c.cmd("QUIT", 221)

    def test_auth_fail_delay_zero(self):
        self.start_tls_daemon(fail_delay=0)
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        t0 = time.monotonic()
        c.cmd("AUTH PLAIN " + plain(ALICE, "wrong"), 535, "5.7.8")
        self.assertLess(time.monotonic() - t0, 0.5)
        c.cmd("QUIT", 221)

    def test_sender_must_be_own_address(self):
        self.start_tls_daemon()
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235)
        c.cmd("MAIL FROM:<bob@example.org>", 553, "5.7.1")
        c.cmd("MAIL FROM:<alice@example.net>", 553, "5.7.1")
        c.cmd("MAIL FROM:<ALICE@EXAMPLE.ORG>", 250)
        c.cmd("RSET", 250)
        c.cmd("MAIL FROM:<>", 250)                   # bounces are allowed
        c.cmd("RCPT TO:<alice@example.org>", 250)
        c.cmd("DATA", 354)
        c.send(b"Subject: null sender\r\n\r\nx\r\n.\r\n")
        c.expect(250)
        c.cmd("QUIT", 221)
        self.assertTrue(self.only_file().startswith(b"Return-Path: <>\r\n"))

    def test_allow_any_sender(self):
        self.start_tls_daemon("--allow-any-sender")
        s = self.submission()
        s.sendmail("bob@example.org", [ALICE], b"Subject: any\r\n\r\nx\r\n")
        s.quit()
        data = self.only_file()
        self.assertTrue(data.startswith(b"Return-Path: <bob@example.org>"))
        with self.assertRaises(smtplib.SMTPRecipientsRefused):   # no relay
            s = self.submission()
            s.sendmail(ALICE, ["x@elsewhere.test"], b"\r\n")

    def test_smtps_implicit(self):
        self.start_tls_daemon()
        with smtplib.SMTP_SSL("127.0.0.1", self.smtps, timeout=10,
                              context=client_ctx()) as s:
            code, _ = s.ehlo("client.test")
            self.assertEqual(code, 250)
            self.assertEqual(s.esmtp_features.get("auth", "").split(),
                             ["PLAIN", "LOGIN"])
            self.assertNotIn("starttls", s.esmtp_features)
            code, msg = s.docmd("MAIL", "FROM:<alice@example.org>")
            self.assertEqual((code, msg[:5]), (530, b"5.7.0"))
            code, msg = s.docmd("AUTH", "PLAIN " + plain(ALICE, "bad"))
            self.assertEqual((code, msg[:5]), (535, b"5.7.8"))
            s.login(ALICE, ALICE_PW)
            refused = s.sendmail(ALICE, [BOB, "x@elsewhere.test"],
                                 b"Subject: smtps\r\n\r\nx\r\n")
            self.assertEqual(list(refused), ["x@elsewhere.test"])
            self.assertEqual(refused["x@elsewhere.test"][0], 550)
        self.assert_trace(self.only_file("bob"), "ESMTPSA", tls=True)

    def test_auth_plaintext_option(self):
        self.start_tls_daemon("--auth-plaintext")
        c = self.connect(self.sub)
        caps = self.ehlo_raw(c)
        self.assertIn("AUTH PLAIN LOGIN", caps)
        self.assertIn("STARTTLS", caps)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235, "2.7.0")
        c.cmd("MAIL FROM:<alice@example.org>", 250)
        c.cmd("RCPT TO:<alice@example.org>", 250)
        c.cmd("DATA", 354)
        c.send(b"Subject: plaintext auth\r\n\r\nx\r\n.\r\n")
        c.expect(250)
        c.cmd("QUIT", 221)
        self.assert_trace(self.only_file(), "ESMTPA", tls=False)
        # still no AUTH on the MX port
        c = self.connect(self.smtp)
        caps = self.ehlo_raw(c)
        self.assertFalse([l for l in caps if l.startswith("AUTH")], caps)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 502, "5.5.1")
        # and POP3 USER/PASS without TLS
        p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
        self.addCleanup(p.close)
        caps = p.capa()
        self.assertIn("USER", caps)
        p.user(ALICE)
        p.pass_(ALICE_PW)
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_starttls_forgets_auth_and_helo(self):
        """RFC 3207 4.2: a login made in plaintext (with --auth-plaintext)
        does not survive STARTTLS."""
        self.start_tls_daemon("--auth-plaintext")
        c = self.connect(self.sub)
        self.ehlo_raw(c)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235)
        self.starttls_raw(c)
        c.cmd("MAIL FROM:<alice@example.org>", 503)      # no EHLO yet
        self.ehlo_raw(c)
        c.cmd("MAIL FROM:<alice@example.org>", 530, "5.7.0")
        c.cmd("QUIT", 221)

    def test_starttls_syntax_and_order(self):
        self.start_tls_daemon()
        c = self.connect(self.smtp)
        c.cmd("STARTTLS", 503, "5.5.1")              # EHLO first
        self.ehlo_raw(c)
        c.cmd("STARTTLS now", 501)
        c.cmd("NOOP", 250)                          # still plaintext
        self.starttls_raw(c)
        self.ehlo_raw(c)
        c.cmd("QUIT", 221)

    def test_pipelined_over_tls(self):
        """A whole transaction in one TLS write: the server must use
        what OpenSSL has buffered, not wait for the socket."""
        self.start_tls_daemon()
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235)
        rcpts = "RCPT TO:<alice@example.org>\r\n" * 40
        c.send("MAIL FROM:<alice@example.org>\r\n" + rcpts + "DATA\r\n")
        c.expect(250)
        for _ in range(40):
            c.expect(250)
        c.expect(354)
        c.send(b"Subject: pipe\r\n\r\nx\r\n.\r\nNOOP\r\nNOOP\r\nQUIT\r\n")
        c.expect(250, "2.0.0")
        c.expect(250)
        c.expect(250)
        c.expect(221)
        self.assertEqual(len(self.maildir_files("alice")), 1)

    def test_large_message_over_tls(self):
        """About 4 MiB in through --smtps and back out through --pop3s."""
        self.start_tls_daemon()
        body = b"".join(b"%07d the quick brown fox jumps over the lazy dog "
                        b"0123456789\r\n" % i for i in range(60000))
        msg = b"Subject: big\r\n\r\n" + body
        with smtplib.SMTP_SSL("127.0.0.1", self.smtps, timeout=30,
                              context=client_ctx()) as s:
            s.login(ALICE, ALICE_PW)
            s.sendmail(ALICE, [ALICE], msg)
        self.assertTrue(self.only_file().endswith(msg))
        p = poplib.POP3_SSL("127.0.0.1", self.pops, timeout=30,
                            context=client_ctx())
        self.addCleanup(p.close)
        p.user(ALICE)
        p.pass_(ALICE_PW)
        got = b"\r\n".join(p.retr(1)[1]) + b"\r\n"
        self.assertTrue(got.endswith(msg))
        p.quit()

    def test_abort_mid_message_over_tls(self):
        self.start_tls_daemon()
        for bdat in (False, True):
            c = self.tls_session(self.sub)
            self.ehlo_raw(c)
            c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235)
            c.cmd("MAIL FROM:<alice@example.org>", 250)
            c.cmd("RCPT TO:<alice@example.org>", 250)
            if bdat:
                c.send(b"BDAT 200000\r\n" + b"y" * 100000)
            else:
                c.cmd("DATA", 354)
                c.send(b"Subject: half\r\n\r\n" + b"x" * 100000)
            time.sleep(0.2)
            c.abort()
        time.sleep(0.3)
        self.assertEqual(self.maildir_files("alice"), [])
        self.assertEqual(self.maildir_files("alice", sub="tmp"), [])
        s = self.submission()
        s.sendmail(ALICE, [ALICE], b"Subject: after\r\n\r\nx\r\n")
        s.quit()
        self.assertEqual(len(self.maildir_files("alice")), 1)

    def test_failures_per_address_guard(self):
        """Ten failures from one address (over several sessions) block
        AUTH from it with 454, even with the right password."""
        self.start_tls_daemon()
        for _ in range(3):
            c = self.tls_session(self.sub)
            self.ehlo_raw(c)
            for _ in range(3):
                c.send("AUTH PLAIN %s\r\n" % plain(ALICE, "bad"))
                c.expect(535, "5.7.8")
            c.expect(421, "4.7.0")
            c.expect_eof()
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        c.cmd("AUTH PLAIN " + plain(ALICE, "bad"), 535)          # tenth
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 454, "4.7.0")
        c.cmd("QUIT", 221)

    def test_guard_is_shared_by_all_listeners(self):
        """The per-address count covers every port: failures on
        submission block POP3S and SMTPS logins too."""
        self.start_tls_daemon("--max-auth-failures-per-address", "2",
                              "--max-auth-failures", "5")
        c = self.tls_session(self.sub)
        self.ehlo_raw(c)
        for _ in range(2):
            c.cmd("AUTH PLAIN " + plain(ALICE, "bad"), 535)
        c.cmd("QUIT", 221)
        p = poplib.POP3_SSL("127.0.0.1", self.pops, timeout=10,
                            context=client_ctx())
        self.addCleanup(p.close)
        p.user(ALICE)
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_(ALICE_PW)                  # right, but blocked
        self.assertIn(b"[SYS/TEMP]", cm.exception.args[0])
        with smtplib.SMTP_SSL("127.0.0.1", self.smtps, timeout=10,
                              context=client_ctx()) as s:
            s.ehlo("x")
            code, _ = s.docmd("AUTH", "PLAIN " + plain(ALICE, ALICE_PW))
            self.assertEqual(code, 454)

    def test_staged_logins_cannot_pass_the_limit(self):
        """Sessions parked at a 334 still meet the per-address limit when
        their password arrives."""
        self.start_tls_daemon("--max-auth-failures-per-address", "2")
        parked = []
        for _ in range(4):
            c = self.tls_session(self.sub)
            self.ehlo_raw(c)
            c.cmd("AUTH PLAIN", 334)
            parked.append(c)
        codes = []
        for c in parked:
            c.send("%s\r\n" % plain(ALICE, "bad"))
            codes.append(c.reply()[0])
        self.assertEqual(codes, [535, 535, 454, 454])

    def test_bdat_over_starttls(self):
        self.start_tls_daemon()
        c = self.tls_session(self.sub)
        caps = self.ehlo_raw(c)
        if "CHUNKING" not in caps:
            self.skipTest("CHUNKING not built yet")
        c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW), 235)
        c.cmd("MAIL FROM:<alice@example.org>", 250)
        c.cmd("RCPT TO:<bob@example.org>", 250)
        one = b"Subject: bdat\r\n\r\n.a leading dot stays\r\npartial li"
        two = b"ne\r\n.\r\nafter a lone dot\r\n"
        c.send(b"BDAT %d\r\n" % len(one) + one)
        c.expect(250)
        c.send(b"BDAT %d LAST\r\n" % len(two) + two)
        c.expect(250, "2.0.0")
        c.cmd("QUIT", 221)
        data = self.only_file("bob")
        self.assertTrue(data.endswith(one + two), data)
        trace = data[:-len(one + two)]
        self.assertTrue(trace.startswith(b"Return-Path: <alice@example.org>"
                                         b"\r\nReceived: "), trace)
        for line in trace.split(b"\r\n")[2:-1]:
            self.assertTrue(line.startswith(b"\t"), trace)
        self.assert_trace(data, "ESMTPSA", tls=True)


class POP3(TLSCase):
    """--pop3 with STLS and --pop3s."""

    def deliver(self, n=1):
        for i in range(n):
            self.send([ALICE], b"Subject: pop %d\r\n\r\nbody %d\r\n"
                      % (i, i))

    def test_stls(self):
        self.start_tls_daemon()
        self.deliver()
        p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
        self.addCleanup(p.close)
        caps = p.capa()
        self.assertIn("STLS", caps)
        self.assertNotIn("USER", caps)
        with self.assertRaises(poplib.error_proto) as e:
            p.user(ALICE)
        self.assertTrue(e.exception.args[0].startswith(b"-ERR"))
        for cmd in ("PASS " + ALICE_PW, "AUTH PLAIN " + plain(ALICE, ALICE_PW),
                    "AUTH PLAIN"):
            with self.assertRaises(poplib.error_proto, msg=cmd):
                p._shortcmd(cmd)
        p.stls(context=client_ctx())
        caps = p.capa()
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        p.user(ALICE)
        p.pass_(ALICE_PW)
        self.assertEqual(p.stat()[0], 1)
        lines = p.retr(1)[1]
        self.assertIn(b"Subject: pop 0", lines)
        self.assertIn(b"body 0", lines)
        p.quit()

    def test_stls_auth_plain_and_bad_password(self):
        self.start_tls_daemon()
        self.deliver()
        p = self.pop3_tls(user=None)
        with self.assertRaises(poplib.error_proto):
            p.user(ALICE)
            p.pass_("wrong")
        resp = p._shortcmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))
        self.assertTrue(resp.startswith(b"+OK"), resp)
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_pop3s(self):
        self.start_tls_daemon()
        self.deliver(2)
        p = poplib.POP3_SSL("127.0.0.1", self.pops, timeout=10,
                            context=client_ctx())
        self.addCleanup(p.close)
        caps = p.capa()
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        p.user(ALICE)
        p.pass_(ALICE_PW)
        self.assertEqual(p.stat()[0], 2)
        self.assertIn(b"body 1", p.retr(2)[1])
        p.quit()

    def test_stls_states(self):
        self.start_tls_daemon("--auth-plaintext")
        self.deliver()
        p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
        self.addCleanup(p.close)
        p.user(ALICE)
        p.pass_(ALICE_PW)
        with self.assertRaises(poplib.error_proto):     # TRANSACTION state
            p._shortcmd("STLS")
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        p = self.pop3_tls(user=None)
        with self.assertRaises(poplib.error_proto):     # already on
            p._shortcmd("STLS")
        p.quit()
        p = poplib.POP3_SSL("127.0.0.1", self.pops, timeout=10,
                            context=client_ctx())
        self.addCleanup(p.close)
        with self.assertRaises(poplib.error_proto):
            p._shortcmd("STLS")
        p.quit()

    def test_pipelined_over_tls(self):
        self.start_tls_daemon()
        self.deliver(3)
        p = poplib.POP3_SSL("127.0.0.1", self.pops, timeout=10,
                            context=client_ctx())
        self.addCleanup(p.close)
        p.user(ALICE)
        p.pass_(ALICE_PW)
        p.sock.sendall(b"STAT\r\nNOOP\r\nDELE 1\r\nSTAT\r\nRSET\r\n"
                       b"NOOP\r\n")
        got = [p._getresp() for _ in range(6)]
        self.assertEqual(got[0][:5], b"+OK 3")
        self.assertEqual(got[3][:5], b"+OK 2")
        self.assertTrue(all(g.startswith(b"+OK") for g in got), got)
        p.quit()
        self.assertEqual(len(self.maildir_files("alice")), 3)

    def test_stls_injection(self):
        """CVE-2011-0411 for POP3: CAPA pipelined behind STLS is
        dropped."""
        self.start_tls_daemon()
        c = self.connect(self.pop, banner=None)
        self.assertTrue(c.read_line().startswith("+OK"))
        c.send(b"STLS\r\nCAPA\r\n")                      # one write
        self.assertTrue(c.read_line().startswith("+OK"))
        self.assertEqual(c.buf, b"", "plaintext after the STLS +OK")
        c.sock = client_ctx().wrap_socket(c.sock)
        c.sock.settimeout(c.timeout)
        c.send(b"CAPA\r\n")
        self.assertTrue(c.read_line().startswith("+OK"))
        caps = []
        while True:
            line = c.read_line()
            if line == ".":
                break
            caps.append(line)
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        c.send(b"QUIT\r\n")
        line = c.read_line()
        self.assertTrue(line.startswith("+OK"), line)
        self.assertNotIn("apabilit", line,
                         "a second CAPA response: the injected CAPA ran")
        c.expect_eof()


class Handshakes(TLSCase):
    """Broken TLS clients do not hurt the daemon."""

    def good_smtps(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.smtps, timeout=10,
                              context=client_ctx()) as s:
            self.assertEqual(s.noop()[0], 250)
            s.login(ALICE, ALICE_PW)

    def good_pop3s(self):
        p = poplib.POP3_SSL("127.0.0.1", self.pops, timeout=10,
                            context=client_ctx())
        p.user(ALICE)
        p.pass_(ALICE_PW)
        p.quit()

    def expect_closed(self, c, timeout=5):
        """The server closes c (anything it sends first is ignored: a TLS
        alert)."""
        read_until_close(c.sock, timeout)

    def test_failed_handshakes(self):
        self.start_tls_daemon()
        hello = None
        for port, good in ((self.smtps, self.good_smtps),
                           (self.pops, self.good_pop3s)):
            # plaintext garbage where a ClientHello belongs
            c = self.connect(port, banner=None)
            c.send(b"EHLO plain.text\r\nUSER alice\r\n")
            self.expect_closed(c)
            good()
            # a real ClientHello, then the client vanishes mid-handshake
            if hello is None:
                inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
                obj = client_ctx().wrap_bio(inc, out)
                with self.assertRaises(ssl.SSLWantReadError):
                    obj.do_handshake()
                hello = out.read()
            c = self.connect(port, banner=None)
            c.send(hello)
            time.sleep(0.1)
            c.abort()
            good()
            c = self.connect(port, banner=None)
            c.send(hello[:20])                    # half a record
            c.close()
            # and one that connects and says nothing, then closes
            c = self.connect(port, banner=None)
            c.close()
            good()
        # a STARTTLS that ends in garbage
        c = self.connect(self.sub)
        self.ehlo_raw(c)
        c.cmd("STARTTLS", 220)
        c.send(b"\x16\x03\x01\x00\x05hello garbage\r\n")
        self.expect_closed(c)
        c = self.connect(self.pop, banner=None)
        c.read_line()
        c.send(b"STLS\r\n")
        self.assertTrue(c.read_line().startswith("+OK"))
        c.send(b"not tls at all\r\n")
        self.expect_closed(c)
        good_sub = self.submission()
        good_sub.quit()
        self.pop3_tls().quit()


class Reload(TLSCase):
    """SIGHUP re-reads the certificate and key."""

    def peer_der(self, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as r:
            with client_ctx().wrap_socket(r) as t:
                return t.getpeercert(binary_form=True)

    def test_sighup_reloads_certificate(self):
        srv = self.start_tls_daemon()
        old_der, new_der = der_of(self.cert1), der_of(self.cert2)
        self.assertEqual(cn_of(old_der), "localhost")
        self.assertEqual(cn_of(new_der), "reloaded.test")
        # sessions open before the reload: implicit TLS, STARTTLS, STLS
        before = smtplib.SMTP_SSL("127.0.0.1", self.smtps, timeout=10,
                                  context=client_ctx())
        self.addCleanup(before.close)
        self.assertEqual(before.sock.getpeercert(binary_form=True), old_der)
        before.login(ALICE, ALICE_PW)
        sub = self.submission()
        self.assertEqual(sub.sock.getpeercert(binary_form=True), old_der)
        self.deliver_one()
        pop = self.pop3_tls()
        self.assertEqual(self.peer_der(self.pops), old_der)

        shutil.copy(self.cert2, self.cert)
        shutil.copy(self.key2, self.key)
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_err(r"event=tls_reload status=ok")

        self.assertEqual(cn_of(self.peer_der(self.smtps)), "reloaded.test")
        self.assertEqual(self.peer_der(self.pops), new_der)
        s = self.submission()
        self.assertEqual(s.sock.getpeercert(binary_form=True), new_der)
        s.quit()
        p = self.pop3_tls(BOB, BOB_PW)          # alice's drop is in use
        self.assertEqual(p.sock.getpeercert(binary_form=True), new_der)
        p.quit()
        # the old sessions keep working on their old certificate
        self.assertEqual(before.noop()[0], 250)
        before.sendmail(ALICE, [BOB], b"Subject: after hup\r\n\r\nx\r\n")
        before.quit()
        self.assertEqual(sub.noop()[0], 250)
        sub.quit()
        self.assertEqual(pop.stat()[0], 1)
        pop.quit()
        self.assertEqual(len(self.maildir_files("bob")), 1)

    def test_sighup_bad_certificate_keeps_old(self):
        srv = self.start_tls_daemon()
        old_der = der_of(self.cert1)
        with open(self.cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot a cert\n"
                    "-----END CERTIFICATE-----\n")
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_err(r"event=tls_reload status=failed .*keeping=old")
        self.assertEqual(self.peer_der(self.smtps), old_der)
        # a matching pair later is picked up
        shutil.copy(self.cert2, self.cert)
        os.kill(srv.pid, signal.SIGHUP)               # key1 with cert2
        srv.wait_err(r"event=tls_reload status=failed", count=2)
        self.assertEqual(self.peer_der(self.pops), old_der)
        shutil.copy(self.key2, self.key)
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_err(r"event=tls_reload status=ok")
        self.assertEqual(self.peer_der(self.smtps), der_of(self.cert2))

    def test_sighup_storm_with_tls_sessions(self):
        """Reloads while TLS sessions come and go: none fails."""
        srv = self.start_tls_daemon()
        errors, done = [], []
        stop = threading.Event()

        def worker():
            while not stop.is_set():
                try:
                    with smtplib.SMTP_SSL("127.0.0.1", self.smtps,
                                          timeout=10,
                                          context=client_ctx()) as s:
                        s.login(ALICE, ALICE_PW)
                        s.sendmail(ALICE, [BOB], b"Subject: s\r\n\r\nx\r\n")
                    p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
                    p.stls(context=client_ctx())
                    p.capa()
                    p.quit()
                    done.append(1)
                except Exception as e:    # noqa: BLE001 -- reported below
                    errors.append(repr(e))

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        try:
            for i in range(16):
                cert, key = ((self.cert2, self.key2) if i % 2 == 0
                             else (self.cert1, self.key1))
                # replace both files atomically, key first
                shutil.copy(key, self.key + ".new")
                shutil.copy(cert, self.cert + ".new")
                os.rename(self.key + ".new", self.key)
                os.rename(self.cert + ".new", self.cert)
                os.kill(srv.pid, signal.SIGHUP)
                srv.wait_err(r"event=reload status=", count=i + 1)
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(errors, [])
        self.assertGreater(len(done), 0)
        self.assertEqual(len(self.maildir_files("bob")), len(done))
        self.assertEqual(len(srv.wait_err(r"event=tls_reload "
                                          r"status=ok")), 16)

    def deliver_one(self):
        self.send([ALICE], b"Subject: before hup\r\n\r\nx\r\n")


class Config(TLSCase):
    """Option checking."""

    def run_daemon(self, *args):
        argv = [DAEMON, "--users", self.users, "--mail-root", self.root]
        if os.geteuid() == 0:
            argv += ["--user", "root"]
        return subprocess.run(argv + list(args), capture_output=True,
                              timeout=10, cwd=self.dir,
                              stdin=subprocess.DEVNULL)

    def test_implicit_tls_needs_certificate(self):
        r = self.run_daemon("--smtps", ANY)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"--tls-cert", r.stderr)
        r = self.run_daemon("--pop3s", ANY,
                            "--tls-cert", self.cert)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"--tls-key", r.stderr)

    def test_submission_without_tls_needs_auth_plaintext(self):
        # Passwords in clear only when asked for.
        r = self.run_daemon("--submission", ANY)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"--auth-plaintext", r.stderr)

    def test_missing_key_file(self):
        r = self.run_daemon("--smtp", ANY,
                            "--tls-cert", self.cert, "--tls-key",
                            os.path.join(self.dir, "nope.pem"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"TLS", r.stderr)

    def test_no_tls_no_starttls(self):
        self.start_tls_daemon("--auth-plaintext", tls=False)
        c = self.connect(self.smtp)
        caps = self.ehlo_raw(c)
        self.assertNotIn("STARTTLS", caps)
        c.cmd("STARTTLS", 502, "5.5.1")
        c = self.connect(self.sub)
        caps = self.ehlo_raw(c)
        self.assertNotIn("STARTTLS", caps)
        p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
        self.addCleanup(p.close)
        self.assertNotIn("STLS", p.capa())
        p.quit()


class RealClients(TLSCase):
    """swaks, curl and openssl s_client against the daemon."""

    def run_tool(self, argv, stdin=b"", timeout=20):
        r = subprocess.run(argv, input=stdin, capture_output=True,
                           timeout=timeout)
        return r

    def test_swaks_starttls_auth(self):
        if SWAKS is None:
            self.skipTest("swaks not installed")
        self.start_tls_daemon()
        r = self.run_tool([SWAKS, "--server", "127.0.0.1:%d" % self.sub,
                           "--tls", "--auth", "PLAIN",
                           "--auth-user", ALICE, "--auth-password", ALICE_PW,
                           "--from", ALICE, "--to", ALICE,
                           "--header", "Subject: via swaks",
                           "--body", "swaks body"])
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace"))
        data = self.only_file()
        self.assertIn(b"Subject: via swaks", data)
        self.assert_trace(data, "ESMTPSA", tls=True)

    def test_swaks_smtps_auth_login(self):
        if SWAKS is None:
            self.skipTest("swaks not installed")
        self.start_tls_daemon()
        r = self.run_tool([SWAKS, "--server", "127.0.0.1:%d" % self.smtps,
                           "--tlsc", "--auth", "LOGIN",
                           "--auth-user", BOB, "--auth-password", BOB_PW,
                           "--from", BOB, "--to", ALICE])
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace"))
        self.assert_trace(self.only_file(), "ESMTPSA", tls=True)

    def test_curl_smtp_and_pop3(self):
        if CURL is None:
            self.skipTest("curl not installed")
        self.start_tls_daemon()
        msg = os.path.join(self.dir, "msg.eml")
        with open(msg, "wb") as f:
            f.write(b"From: alice@example.org\r\nSubject: via curl\r\n\r\n"
                    b"curl body line\r\n")
        r = self.run_tool([CURL, "-sS", "--ssl-reqd", "--insecure",
                           "--max-time", "15",
                           "smtp://127.0.0.1:%d" % self.sub,
                           "--user", "%s:%s" % (ALICE, ALICE_PW),
                           "--mail-from", ALICE, "--mail-rcpt", ALICE,
                           "-T", msg])
        self.assertEqual(r.returncode, 0, r.stderr)
        data = self.only_file()
        self.assertTrue(data.endswith(b"curl body line\r\n"))
        self.assert_trace(data, "ESMTPSA", tls=True)
        r = self.run_tool([CURL, "-sS", "--ssl-reqd", "--insecure",
                           "--max-time", "15",
                           "pop3://127.0.0.1:%d/1" % self.pop,
                           "--user", "%s:%s" % (ALICE, ALICE_PW)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"Subject: via curl", r.stdout)
        self.assertIn(b"curl body line", r.stdout)
        r = self.run_tool([CURL, "-sS", "--insecure", "--max-time", "15",
                           "pop3s://127.0.0.1:%d/1" % self.pops,
                           "--user", "%s:%s" % (ALICE, ALICE_PW)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"curl body line", r.stdout)
        # without --ssl-reqd and without TLS, curl cannot log in
        r = self.run_tool([CURL, "-sS", "--max-time", "15",
                           "pop3://127.0.0.1:%d/1" % self.pop,
                           "--user", "%s:%s" % (ALICE, ALICE_PW)])
        self.assertNotEqual(r.returncode, 0)

    def test_openssl_s_client_smtp(self):
        self.start_tls_daemon()
        r = self.run_tool([OPENSSL, "s_client", "-starttls", "smtp",
                           "-connect", "127.0.0.1:%d" % self.sub,
                           "-quiet", "-crlf"],
                          stdin=b"EHLO x\nQUIT\n")
        out = r.stdout.decode(errors="replace")
        self.assertRegex(out, r"250[- ]AUTH PLAIN LOGIN\r?\n")
        self.assertNotIn("STARTTLS", out)
        self.assertIn("221 ", out)
        r = self.run_tool([OPENSSL, "s_client", "-starttls", "smtp",
                           "-connect", "127.0.0.1:%d" % self.smtp,
                           "-quiet", "-crlf"],
                          stdin=b"EHLO x\nQUIT\n")
        out = r.stdout.decode(errors="replace")
        self.assertIn("250-mx.test", out)
        self.assertNotIn("AUTH", out)
        self.assertIn("221 ", out)

    def test_openssl_s_client_pop3(self):
        self.start_tls_daemon()
        r = self.run_tool([OPENSSL, "s_client", "-starttls", "pop3",
                           "-connect", "127.0.0.1:%d" % self.pop,
                           "-quiet", "-crlf"],
                          stdin=b"CAPA\nQUIT\n")
        out = r.stdout.decode(errors="replace")
        self.assertRegex(out, r"(?m)^USER\r?$")
        self.assertNotRegex(out, r"(?m)^STLS\r?$")
        self.assertRegex(out, r"(?m)^\+OK.*\r?$")


if __name__ == "__main__":
    unittest.main()
