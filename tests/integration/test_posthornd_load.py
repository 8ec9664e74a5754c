"""posthornd under load and under kill -9: 200 connections x 5 messages
each delivered exactly once; a 10 MiB message intact through SMTP and
POP3; after SIGKILL at a random moment every acknowledged message is on
disk exactly once and intact, nothing partial is in new/, and a restarted
daemon serves them."""

import glob
import hashlib
import os
import poplib
import random
import signal
import smtplib
import threading
import time
import unittest

import phtest
from test_posthornd import DaemonCase


def message(tag, size=300):
    line = "%s payload line\r\n" % tag
    body = (line * (size // len(line) + 1))[:size]
    digest = hashlib.sha256(body.encode()).hexdigest()
    return ("Subject: %s\r\nX-Tag: %s\r\nX-Hash: %s\r\n\r\n%s\r\n"
            % (tag, tag, digest, body)).encode()


def check_file(data):
    """Returns the tag if the stored message is intact, else None."""
    head, _, body = data.partition(b"\r\n\r\n")
    tag = digest = None
    for line in head.split(b"\r\n"):
        if line.startswith(b"X-Tag: "):
            tag = line[7:].decode()
        if line.startswith(b"X-Hash: "):
            digest = line[8:].decode()
    if tag is None or not body.endswith(b"\r\n"):
        return None
    ok = hashlib.sha256(body[:-2]).hexdigest() == digest
    return tag if ok else None


class Load(DaemonCase):

    def stored_tags(self, user="alice"):
        tags = []
        for path in self.maildir_files(user):
            tag = check_file(open(path, "rb").read())
            self.assertIsNotNone(tag, "damaged file %s" % path)
            tags.append(tag)
        return tags

    def test_200_connections_5_messages(self):
        # All 200 come from 127.0.0.1: above the default of 30 per
        # address, so this test raises that limit explicitly.
        self.start_daemon("--max-connections", "1000",
                          "--max-connections-per-address", "250")
        errors = []

        def client(n):
            try:
                with smtplib.SMTP("127.0.0.1", self.smtp, timeout=60) as s:
                    for m in range(5):
                        s.sendmail("load@remote.test", ["alice@example.org"],
                                   message("c%d-m%d" % (n, m)))
            except Exception as e:          # noqa: BLE001 -- reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        tags = self.stored_tags()
        self.assertEqual(len(tags), 1000)
        self.assertEqual(len(set(tags)), 1000)

    def test_10_mib_round_trip(self):
        self.start_daemon()
        data = message("big", 10 * 1024 * 1024)
        with smtplib.SMTP("127.0.0.1", self.smtp, timeout=60) as s:
            s.sendmail("big@remote.test", ["bob@example.org"], data)
        p = poplib.POP3("127.0.0.1", self.pop, timeout=60)
        p.user("bob@example.org")
        p.pass_("hunter2")
        lines = p.retr(1)[1]
        p.quit()
        got = b"\r\n".join(lines) + b"\r\n"
        self.assertTrue(got.endswith(data))
        self.assertEqual(check_file(got[got.index(b"Subject:"):]), "big")

    def test_kill_9_keeps_acknowledged_mail(self):
        srv = self.start_daemon()
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def sender(n):
            i = 0
            while not stop.is_set():
                tag = "s%d-%d" % (n, i)
                i += 1
                try:
                    with smtplib.SMTP("127.0.0.1", self.smtp,
                                      timeout=10) as s:
                        s.sendmail("k@remote.test", ["alice@example.org"],
                                   message(tag, 2000))
                except Exception:           # noqa: BLE001 -- the kill
                    return
                with lock:
                    acked.append(tag)

        threads = [threading.Thread(target=sender, args=(n,))
                   for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.5, 1.5))
        os.kill(srv.pid, signal.SIGKILL)
        srv.expect_rc = -signal.SIGKILL
        srv.proc.wait(10)
        stop.set()
        for t in threads:
            t.join(20)
        self.assertGreater(len(acked), 0)
        tags = self.stored_tags()               # every file intact
        self.assertEqual(len(tags), len(set(tags)))
        self.assertEqual(set(acked) - set(tags), set())
        self.assertEqual(glob.glob(os.path.join(
            self.root, "example.org", "alice", "new", "*:*")), [])
        # A restarted daemon serves them all.
        self.start_daemon()
        p = poplib.POP3("127.0.0.1", self.pop, timeout=10)
        p.user("alice")
        p.pass_("secret")
        self.assertEqual(p.stat()[0], len(tags))
        p.quit()


if __name__ == "__main__":
    unittest.main()
