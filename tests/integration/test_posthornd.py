"""posthornd end to end: SMTP/LMTP in, Maildir on disk, POP3 out, with
real clients (smtplib, poplib) against the real daemon."""

import glob
import os
import poplib
import re
import shutil
import signal
import smtplib
import socket
import stat
import tempfile
import time
import unittest

import phtest

DAEMON = os.path.join(phtest.BIN_DIR, "posthornd")
USERS = ("alice@example.org:{PLAIN}secret\n"
         "bob@example.org:{PLAIN}hunter2:1000:1000::/home/bob::\n"
         "# a comment\n"
         "carol@other.test:{PLAIN}pw\n")


# Every listener binds port 0; posthornd logs the port each one got.
ANY = "127.0.0.1:0"


class DaemonCase(phtest.TestCase):
    """Starts posthornd on free ports with its own users and mail root;
    no tests of its own (test_posthornd_load.py reuses it)."""

    def setUp(self):
        super().setUp()
        self.require(DAEMON)
        self.dir = tempfile.mkdtemp(prefix="ph-daemon-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.root = os.path.join(self.dir, "mail")
        self.users = os.path.join(self.dir, "users")
        with open(self.users, "w") as f:
            f.write(USERS)
        os.mkdir(self.root)

    def start_daemon(self, *extra, cwd=None, defaults=True, wrap=()):
        """wrap: argv run before posthornd's (it must exec it, keeping
        the PID), e.g. to lower its descriptor limit."""
        argv = list(wrap) + [
            DAEMON, "--smtp", ANY, "--lmtp", ANY, "--pop3", ANY,
            "--hostname", "mx.test", "--auth-fail-delay", "0"]
        if defaults:
            argv += ["--mail-root", self.root, "--users", self.users]
        if os.geteuid() == 0:
            # Root must name the user to run as (privilege drop); tests
            # stay root explicitly so they can use their temp dirs.
            argv += ["--user", "root"]
        old = os.getcwd()
        os.chdir(cwd or self.dir)
        try:
            srv = self.start(argv + list(extra), ready=False)
        finally:
            os.chdir(old)
        self.wait_ready(srv)
        return srv

    def wait_ready(self, srv):
        """Waits for event=ready; self.<service> is then the port its
        listener got (self.smtp, self.lmtp, self.pop, ...)."""
        srv.wait_err("event=ready", timeout=10)
        names = {"pop3": "pop", "pop3s": "pops", "submission": "sub"}
        for service, ports in srv.listening().items():
            setattr(self, names.get(service, service), ports[0])

    def maildir_files(self, user, domain="example.org", sub="new"):
        return sorted(glob.glob(os.path.join(self.root, domain, user, sub,
                                             "*")))

    def send(self, to, body, sender="sender@remote.test", **kw):
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=10) as s:
            return s.sendmail(sender, to, body, **kw)

    def pop3(self, user, password):
        p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
        p.user(user)
        p.pass_(password)
        return p


class Daemon(DaemonCase):

    # -- delivery -------------------------------------------------------

    def test_round_trip(self):
        srv = self.start_daemon()
        long_line = "x" * 996                  # 998 octets with CRLF
        body = ("Subject: round trip\r\n\r\n.leading dot\r\n..two\r\n"
                "caf\xe9 8-bit\r\n" + long_line + "\r\nend\r\n")
        self.send(["alice@example.org"], body.encode("latin-1"),
                  mail_options=["BODY=8BITMIME"])
        files = self.maildir_files("alice")
        self.assertEqual(len(files), 1)
        name = os.path.basename(files[0])
        self.assertRegex(name, r"^\d+\.M\d+P\d+Q\d+\.[^:/]+,S=\d+$")
        self.assertEqual(int(name.rsplit(",S=", 1)[1]),
                         os.path.getsize(files[0]))
        self.assertEqual(stat.S_IMODE(os.stat(files[0]).st_mode), 0o600)
        data = open(files[0], "rb").read()
        self.assertTrue(data.startswith(b"Return-Path: <sender@remote.test>"))
        self.assertIn(b"Received: from ", data)
        self.assertIn(b"for <alice@example.org>", data)
        self.assertTrue(data.endswith(body.encode("latin-1")))
        for sub in ("cur", "tmp"):
            self.assertTrue(os.path.isdir(os.path.join(
                self.root, "example.org", "alice", sub)))
        self.assertEqual(self.maildir_files("alice", sub="tmp"), [])
        p = self.pop3("alice@example.org", "secret")
        lines = p.retr(1)[1]
        self.assertIn(b".leading dot", lines)
        self.assertIn(b"..two", lines)
        self.assertIn(long_line.encode(), lines)
        self.assertIn("caf\xe9 8-bit".encode("latin-1"), lines)
        p.quit()
        self.assertRegex("\n".join(srv.err), r"event=delivery .*status=stored")

    def test_empty_body_and_null_sender(self):
        self.start_daemon()
        self.send(["bob@example.org"], b"", sender="")
        files = self.maildir_files("bob")
        self.assertEqual(len(files), 1)
        self.assertTrue(open(files[0], "rb").read().startswith(
            b"Return-Path: <>\r\n"))

    def test_several_recipients_one_copy_each(self):
        self.start_daemon()
        self.send(["alice@example.org", "bob@example.org",
                   "postmaster@example.org"], b"Subject: all\r\n\r\nhi\r\n")
        for user in ("alice", "bob", "postmaster"):
            self.assertEqual(len(self.maildir_files(user)), 1, user)

    def test_duplicate_recipients_one_copy(self):
        self.start_daemon()
        self.send(["alice@example.org", "ALICE@Example.Org",
                   "postmaster@example.org", "postmaster"],
                  b"Subject: dup\r\n\r\nonce\r\n")
        self.assertEqual(len(self.maildir_files("alice")), 1)
        self.assertEqual(len(self.maildir_files("postmaster")), 1)

    def test_refusals(self):
        self.start_daemon("--max-message-size", "1000")
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=10) as s:
            s.ehlo("client.test")
            self.assertIn("size", s.esmtp_features)
            self.assertEqual(s.esmtp_features["size"], "1000")
            s.mail("a@remote.test")
            code, msg = s.rcpt("nobody@example.org")
            self.assertEqual((code, msg[:5]), (550, b"5.1.1"))
            code, msg = s.rcpt("someone@elsewhere.test")
            self.assertEqual((code, msg[:5]), (550, b"5.7.1"))
            code, _ = s.rcpt("alice@example.org")
            self.assertEqual(code, 250)
            line = b"x" * 98 + b"\r\n"               # 100 octets
            code, msg = s.data(line * 11)               # 1100 > 1000
            self.assertEqual((code, msg[:5]), (552, b"5.3.4"))
            s.rset()
            s.mail("a@remote.test")
            s.rcpt("alice@example.org")
            self.assertEqual(s.data(line * 10)[0], 250)  # exactly the limit
        self.assertEqual(len(self.maildir_files("alice")), 1)
        self.assertEqual(self.maildir_files("alice", sub="tmp"), [])

    def test_lmtp_per_recipient(self):
        self.start_daemon()
        c = self.connect(self.lmtp)
        c.cmd("LHLO client.test", 250)
        c.cmd("MAIL FROM:<a@remote.test>", 250)
        c.cmd("RCPT TO:<alice@example.org>", 250)
        c.cmd("RCPT TO:<ghost@example.org>", 250)
        c.cmd("DATA", 354)
        c.send(b"Subject: lmtp\r\n\r\nhello\r\n.\r\n")
        c.expect(250, "2.0.0")
        c.expect(550, "5.1.1")
        self.assertEqual(len(self.maildir_files("alice")), 1)
        self.assertIn(b"with LMTP", open(self.maildir_files("alice")[0],
                                         "rb").read())

    # -- POP3 -----------------------------------------------------------

    def test_pop3_dele_and_drop(self):
        srv = self.start_daemon()
        for i in range(3):
            self.send(["alice@example.org"], b"Subject: %d\r\n\r\nb\r\n" % i)
        p = self.pop3("alice", "secret")         # bare user: unique
        self.assertEqual(p.stat()[0], 3)
        p.dele(1)
        p.sock.shutdown(socket.SHUT_RDWR)        # dropped: nothing deleted
        p.file.close()                           # (poplib keeps a ref)
        p.sock.close()
        srv.wait_err(r"session=\S+ event=disconnect .*user=alice")
        self.assertEqual(len(self.maildir_files("alice")), 3)
        p = self.pop3("alice@example.org", "secret")
        p.dele(2)
        with self.assertRaises(poplib.error_proto) as e:
            self.pop3("alice@example.org", "secret")
        self.assertIn(b"[IN-USE]", e.exception.args[0])
        p.quit()
        self.assertEqual(len(self.maildir_files("alice")), 2)

    def test_bad_password_and_sighup(self):
        srv = self.start_daemon()
        with self.assertRaises(poplib.error_proto) as e:
            self.pop3("alice@example.org", "wrong")
        self.assertIn(b"[AUTH]", e.exception.args[0])
        with self.assertRaises(poplib.error_proto):
            self.pop3("dave@example.org", "new")
        with open(self.users, "a") as f:
            f.write("dave@example.org:{PLAIN}new\n")
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_err("event=users", count=2, timeout=5)
        self.pop3("dave@example.org", "new").quit()
        self.assertFalse([l for l in srv.err if "secret" in l or "new" in
                          l.split()])

    def test_sighup_rereads_config(self):
        conf = os.path.join(self.dir, "posthornd.conf")
        with open(conf, "w") as f:
            f.write("# local domains\ndomain = example.org\n")
        srv = self.start_daemon("-c", conf)
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=10) as s:
            s.ehlo("client.test")
            s.mail("a@remote.test")
            code, msg = s.rcpt("carol@other.test")  # not local (yet)
            self.assertEqual((code, msg[:5]), (550, b"5.7.1"))
        with open(conf, "a") as f:
            f.write("domain = other.test\n")
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_err("event=reload status=ok", timeout=5)
        self.send(["carol@other.test"], b"Subject: hup\r\n\r\nx\r\n")
        self.assertEqual(len(self.maildir_files("carol", "other.test")), 1)

    # -- process ----------------------------------------------------------

    def test_sigterm_with_idle_client(self):
        srv = self.start_daemon()
        c = self.connect(self.smtp)
        t0 = time.monotonic()
        os.kill(srv.pid, signal.SIGTERM)
        c.expect(421)
        srv.proc.wait(timeout=6)
        self.assertLess(time.monotonic() - t0, 5.5)
        srv.stop()

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_root_without_user_changes_nothing(self):
        import subprocess
        work = os.path.join(self.dir, "empty")
        os.mkdir(work)
        r = subprocess.run([DAEMON, "--smtp", ANY],
                           cwd=work, capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"--user", r.stderr)
        self.assertEqual(os.listdir(work), [])      # no posthorn-data
        self.assertNotIn(b"password", r.stdout)

    def test_check_config(self):
        import subprocess
        fresh = os.path.join(self.dir, "not", "yet")
        ok = subprocess.run([DAEMON, "--check-config", "--users", self.users,
                             "--mail-root", fresh],
                            capture_output=True, timeout=10)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertFalse(os.path.exists(fresh))     # a check changes nothing
        bad = os.path.join(self.dir, "bad")
        with open(bad, "w") as f:
            f.write("alice@example.org:{PLAIN}x\nnot-a-user\n")
        r = subprocess.run([DAEMON, "--check-config", "--users", bad],
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"bad:2:", r.stderr)

    def test_first_run_demo_user(self):
        work = os.path.join(self.dir, "fresh")
        os.mkdir(work)
        srv = self.start_daemon(cwd=work, defaults=False)
        line = srv.wait_line(r"password \S+")
        password = re.search(r"password (\S+)", line).group(1)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
            work, "posthorn-data", "users")).st_mode), 0o600)
        self.root = os.path.join(work, "posthorn-data", "mail")
        self.send(["demo@localhost"], b"Subject: demo\r\n\r\nhi\r\n")
        p = self.pop3("demo@localhost", password)
        self.assertEqual(p.stat()[0], 1)
        p.quit()


if __name__ == "__main__":
    unittest.main()
