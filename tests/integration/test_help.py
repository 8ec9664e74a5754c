"""The default HELP reply (RFC 5321 4.1.1.8): it lists the commands this
session can use, so STARTTLS, AUTH and BDAT appear exactly when EHLO
offers STARTTLS, AUTH and CHUNKING -- before and after TLS, with and
without a verify callback, in ESMTP and LMTP, and once a program has
removed BDAT."""

import shutil
import tempfile
import unittest

import phtest
from phtest import OPENSSL, client_ctx

CERTDIR = None
CERT = KEY = None

BASE = ["MAIL", "RCPT", "DATA", "RSET", "NOOP", "VRFY", "HELP", "QUIT"]


def setUpModule():
    global CERTDIR, CERT, KEY
    if OPENSSL is None:
        return
    CERTDIR = tempfile.mkdtemp(prefix="ph-help-")
    CERT, KEY = phtest.make_cert(CERTDIR, ec=True)


def tearDownModule():
    if CERTDIR:
        shutil.rmtree(CERTDIR, ignore_errors=True)


class Help(phtest.TestCase):

    def help(self, c, rfc="RFC 5321"):
        """The commands HELP names, after checking the reply's frame."""
        lines = c.cmd("HELP", 214)
        self.assertEqual(len(lines), 3, lines)
        self.assertTrue(lines[0].startswith("2.0.0 This is posthorn "),
                        lines)
        self.assertTrue(lines[1].startswith("2.0.0 Commands: "), lines)
        self.assertEqual(lines[2], "2.0.0 See %s for details" % rfc)
        return lines[1][len("2.0.0 Commands: "):].split(" ")

    def offers(self, c, verb="EHLO"):
        """The EHLO (or LHLO) keywords, upper case, without arguments."""
        lines = c.cmd("%s client.example" % verb, 250)
        return {l.split(" ")[0].upper() for l in lines[1:]}

    def assert_matches_ehlo(self, cmds, offers):
        self.assertEqual("STARTTLS" in cmds, "STARTTLS" in offers)
        self.assertEqual("AUTH" in cmds, "AUTH" in offers)
        self.assertEqual("BDAT" in cmds, "CHUNKING" in offers)

    def start_tls(self, c):
        c.cmd("STARTTLS", 220)
        self.assertEqual(c.buf, b"", "plaintext after the 220")
        c.sock = client_ctx().wrap_socket(c.sock,
                                          server_hostname="localhost")

    def start_tls_after_ehlo(self, c):
        self.assertIn("STARTTLS", self.help(c))
        self.offers(c)
        self.start_tls(c)

    def test_no_tls_no_auth(self):
        srv = self.start_testd()
        c = self.connect(srv)
        # Before EHLO as after it: HELP is allowed in every state.
        self.assertEqual(self.help(c),
                         ["HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT",
                          "RSET", "NOOP", "VRFY", "HELP", "QUIT"])
        cmds = self.help(c)
        self.assertNotIn("STARTTLS", cmds)
        self.assertNotIn("AUTH", cmds)
        self.assert_matches_ehlo(self.help(c), self.offers(c))
        c.cmd("QUIT", 221)
        self.check_stopped(srv)

    def test_auth_without_tls_context(self):
        srv = self.start_testd("--auth")
        c = self.connect(srv)
        cmds = self.help(c)
        self.assertIn("AUTH", cmds)
        self.assertNotIn("STARTTLS", cmds)
        self.assertEqual(cmds[-2:], ["AUTH", "QUIT"])
        self.assert_matches_ehlo(cmds, self.offers(c))
        c.cmd("QUIT", 221)
        self.check_stopped(srv)

    @unittest.skipIf(OPENSSL is None, "openssl not installed")
    def test_tls_then_auth(self):
        srv = self.start_testd("--tls-cert", CERT, "--tls-key", KEY,
                               "--auth")
        c = self.connect(srv)
        offers = self.offers(c)
        cmds = self.help(c)
        # AUTH waits for TLS (no --auth-plaintext): STARTTLS only.
        self.assertIn("STARTTLS", cmds)
        self.assertNotIn("AUTH", cmds)
        self.assert_matches_ehlo(cmds, offers)
        self.start_tls(c)
        offers = self.offers(c)
        cmds = self.help(c)
        self.assertNotIn("STARTTLS", cmds)
        self.assertIn("AUTH", cmds)
        self.assert_matches_ehlo(cmds, offers)
        c.cmd("QUIT", 221)
        self.check_stopped(srv)

    @unittest.skipIf(OPENSSL is None, "openssl not installed")
    def test_tls_and_plaintext_auth(self):
        srv = self.start_testd("--tls-cert", CERT, "--tls-key", KEY,
                               "--auth", "--auth-plaintext")
        c = self.connect(srv)
        cmds = self.help(c)
        self.assertEqual(cmds[-3:], ["STARTTLS", "AUTH", "QUIT"])
        self.assert_matches_ehlo(cmds, self.offers(c))
        c.cmd("QUIT", 221)
        self.check_stopped(srv)

    @unittest.skipIf(OPENSSL is None, "openssl not installed")
    def test_tls_without_auth(self):
        srv = self.start_testd("--tls-cert", CERT, "--tls-key", KEY)
        c = self.connect(srv)
        self.start_tls_after_ehlo(c)
        cmds = self.help(c)
        self.assertNotIn("STARTTLS", cmds)
        self.assertNotIn("AUTH", cmds)
        c.cmd("QUIT", 221)
        self.check_stopped(srv)

    def test_lmtp(self):
        srv = self.start_testd("-m", "lmtp")
        c = self.connect(srv)
        cmds = self.help(c, rfc="RFC 2033")
        self.assertEqual(cmds, ["LHLO", "MAIL", "RCPT", "DATA", "BDAT",
                                "RSET", "NOOP", "VRFY", "HELP", "QUIT"])
        self.assert_matches_ehlo(cmds, self.offers(c, "LHLO"))
        c.cmd("QUIT", 221)
        self.check_stopped(srv)

    def test_bdat_removed(self):
        srv = self.start_testd("--no-verb", "BDAT")
        c = self.connect(srv)
        cmds = self.help(c)
        self.assertNotIn("BDAT", cmds)
        for verb in BASE:
            self.assertIn(verb, cmds)
        self.assert_matches_ehlo(cmds, self.offers(c))
        c.cmd("QUIT", 221)
        self.check_stopped(srv)


if __name__ == "__main__":
    unittest.main()
