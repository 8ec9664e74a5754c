"""Shared pieces of the POP3 integration tests (standard library only):
a raw POP3 client with timeouts, a Maildir builder with known messages,
and the RFC 1939 wire form of a message computed independently of the
server (CRLF line ends, dot-stuffing, the LIST size). The test class at
the end checks these helpers themselves, so this file is a test too.

Other test_pop3_*.py files import the helpers by name (never the test
class, so unittest does not collect it twice).
"""

import base64
import os
import re
import shutil
import socket
import tempfile
import time
import unittest

import phtest

POP3_SERVER = phtest.bin_path("examples", "pop3_server")
POP3_PLUGIN = phtest.bin_path("examples", "pop3_plugin")
POP3_TESTD = phtest.bin_path("tests", "integration", "pop3_testd")

USERS = {"alice": "wonderland", "bob": "builder"}


# ---- expected wire forms ------------------------------------------------

def split_lines(raw):
    """The message's lines, each ending in CRLF: a bare LF gains a CR, a
    last line without LF gets CRLF (as the server sends it)."""
    out = []
    pieces = raw.split(b"\n")
    for i, p in enumerate(pieces):
        last = i == len(pieces) - 1
        if last and p == b"":
            break
        if not last and p.endswith(b"\r"):
            out.append(p + b"\n")
        else:
            out.append(p + b"\r\n")
    return out


def list_size(raw):
    """RFC 1939 size: the octets with CRLF line ends (a message without a
    final newline is counted as stored: no CRLF is added to the count)."""
    bare = 0
    for i, b in enumerate(raw):
        if b == 0x0A and (i == 0 or raw[i - 1] != 0x0D):
            bare += 1
    return len(raw) + bare


def stuff(lines):
    return b"".join(b"." + l if l.startswith(b".") else l for l in lines)


def wire_retr(raw):
    """The multi-line body of RETR as it must appear on the wire,
    terminating ".\\r\\n" included."""
    return stuff(split_lines(raw)) + b".\r\n"


def wire_top(raw, n):
    """TOP msg n: the header, the blank line, then n body lines."""
    out, in_body, left = [], False, n
    for line in split_lines(raw):
        if in_body and left == 0:
            break
        out.append(line)
        if not in_body and line == b"\r\n":
            in_body = True
        elif in_body:
            left -= 1
    return stuff(out) + b".\r\n"


def plain_b64(user, password, authzid=""):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, user, password))
                            .encode()).decode()


# ---- Maildirs -----------------------------------------------------------

def big_message():
    lines = [b"Subject: big", b"From: big@example.org", b""]
    for i in range(6000):
        if i % 7 == 0:
            lines.append(b"." + b"dot line %d" % i)
        elif i % 11 == 0:
            lines.append(b".")
        else:
            lines.append(b"line %d " % i + b"x" * (i % 90))
    # Mixed line ends: every third line ends in CRLF, the others in LF.
    return b"".join(l + (b"\r\n" if i % 3 == 0 else b"\n")
                    for i, l in enumerate(lines))


# (subdir, file name, contents), in delivery order (the leading number).
KNOWN = [
    ("new", "1000000001.M1P1.test",
     b"From: a@example.org\nSubject: one\n\nHello\n.dotline\n"
     b"..two dots\n.\nlast\n"),
    ("cur", "1000000002.M2P2.test:2,S",
     b"From: b@example.org\r\nSubject: two\r\n\r\nbody line\r\n.\r\n"
     b"after lone dot\r\n"),
    ("new", "1000000003.M3P3.test",
     b"Subject: three\n\nno newline at end"),
    ("cur", "1000000004.M4P4.test:2,",
     b"Subject: four (empty body)\n\n"),
    ("new", "1000000005.M5P5.test", big_message()),
    ("cur", "1000000006.M6P6.test:2,RS", b""),
]


class Mailroot:
    """A temporary mail root with a Maildir per user."""

    def __init__(self, messages=None, users=("alice",)):
        self.root = tempfile.mkdtemp(prefix="ph-pop3-")
        self.msgs = {}
        for u in users:
            self.msgs[u] = []
            self.make(u, KNOWN if messages is None else messages)

    def maildir(self, user="alice"):
        return os.path.join(self.root, user)

    def make(self, user, messages):
        md = self.maildir(user)
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(md, sub), exist_ok=True)
        for sub, name, data in messages:
            self.deliver(user, sub, name, data)

    def deliver(self, user, sub, name, data):
        path = os.path.join(self.maildir(user), sub, name)
        with open(path, "wb") as f:
            f.write(data)
        self.msgs[user].append((sub, name, data))
        return path

    def files(self, user="alice"):
        """Message files now present, as "sub/name"."""
        md = self.maildir(user)
        return sorted(os.path.join(sub, n) for sub in ("new", "cur")
                      for n in os.listdir(os.path.join(md, sub))
                      if not n.startswith("."))

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def uid_of(name):
    return name.split(":", 1)[0]


# ---- the client ---------------------------------------------------------

class Pop3:
    """A raw POP3 client: every read has a timeout."""

    def __init__(self, port, host="127.0.0.1", timeout=phtest.TIMEOUT,
                 greeting=True, source=None):
        """source: the client address to connect from (127.0.0.2: another
        client on loopback)."""
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.timeout = timeout
        self.buf = b""
        self.greeting = self.line() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no data in time (have %r)" % self.buf[-200:])
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed (have %r)" % self.buf[-200:])
        self.buf += chunk

    def raw_line(self, timeout=None):
        """One line with its CRLF, as bytes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def line(self, timeout=None):
        return self.raw_line(timeout)[:-2].decode("latin-1")

    def multi(self, timeout=None):
        """The rest of a multi-line response, raw (still dot-stuffed),
        with the terminating ".\\r\\n"."""
        out = []
        while True:
            l = self.raw_line(timeout)
            out.append(l)
            if l == b".\r\n":
                return b"".join(out)

    def multi_lines(self, timeout=None):
        """The rest of a multi-line response as unstuffed text lines."""
        raw = self.multi(timeout)
        lines = raw[:-3].split(b"\r\n")[:-1]
        return [l[1:].decode("latin-1") if l.startswith(b".")
                else l.decode("latin-1") for l in lines]

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.line(timeout)

    def ok(self, line, start="+OK"):
        got = self.cmd(line)
        if not got.startswith(start):
            raise AssertionError("%r: expected %r, got %r"
                                 % (line, start, got))
        return got

    def err(self, line, expect=None):
        got = self.cmd(line)
        if not got.startswith("-ERR") or (expect is not None
                                          and got != expect):
            raise AssertionError("%r: expected %r, got %r"
                                 % (line, expect or "-ERR", got))
        return got

    def login(self, user="alice", password=None):
        self.ok("USER " + user)
        return self.ok("PASS " + (password or USERS[user]))

    def expect_eof(self, timeout=None):
        """Asserts the server closes (after anything already buffered
        has been consumed by the caller)."""
        phtest.wait_close(self, timeout or self.timeout, unread_ok=False)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Pop3TestCase(phtest.TestCase):
    """phtest.TestCase plus a fresh mail root and POP3 clients that are
    closed at the end."""

    def setUp(self):
        super().setUp()
        self.mail = Mailroot()
        self.addCleanup(self.mail.cleanup)
        self._pop = []
        self.addCleanup(self._close_pops)

    def _close_pops(self):
        for p in self._pop:
            p.close()

    def pop(self, srv, **kw):
        c = Pop3(getattr(srv, "port", srv), **kw)
        self._pop.append(c)
        return c

    def start_server(self):
        self.require(POP3_SERVER)
        return self.start([POP3_SERVER, "-q", "0", self.mail.root])

    def start_pop3_testd(self, *args):
        self.require(POP3_TESTD)
        return self.start([POP3_TESTD] + list(args) + [self.mail.root])

    def check_poplib_login(self, p):
        """Logs a poplib client in as alice and checks STAT and RETR 1
        against the known messages."""
        p.user("alice")
        p.pass_("wonderland")
        n, total = p.stat()
        self.assertEqual(n, len(KNOWN))
        self.assertEqual(total, sum(list_size(d) for _, _, d in KNOWN))
        resp, lines, _ = p.retr(1)
        self.assertTrue(resp.startswith(b"+OK"))
        self.assertEqual(lines, [l[:-2] for l in split_lines(KNOWN[0][2])])

    def wait_unlocked(self, srv, user="alice", timeout=5):
        """Logs in again until the previous session's lock is gone;
        returns the logged-in client."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.pop(srv)
            c.ok("USER " + user)
            got = c.cmd("PASS " + USERS[user])
            if got.startswith("+OK"):
                return c
            c.close()
            if not got.startswith("-ERR [IN-USE]") or \
                    time.monotonic() > deadline:
                raise AssertionError("login failed: %r" % got)
            time.sleep(0.05)


class Helpers(unittest.TestCase):
    """The helpers compute the wire form the way RFC 1939 says."""

    def test_split_and_stuff(self):
        raw = b"a\n.b\r\nc"
        self.assertEqual(split_lines(raw), [b"a\r\n", b".b\r\n", b"c\r\n"])
        self.assertEqual(wire_retr(raw), b"a\r\n..b\r\nc\r\n.\r\n")
        self.assertEqual(wire_retr(b""), b".\r\n")

    def test_sizes(self):
        self.assertEqual(list_size(b"a\nb\r\n"), 6)
        self.assertEqual(list_size(b"\n\n"), 4)
        self.assertEqual(list_size(b"abc"), 3)

    def test_top(self):
        raw = b"H: 1\n\nb1\nb2\n.b3\n"
        self.assertEqual(wire_top(raw, 0), b"H: 1\r\n\r\n.\r\n")
        self.assertEqual(wire_top(raw, 1), b"H: 1\r\n\r\nb1\r\n.\r\n")
        self.assertEqual(wire_top(raw, 9),
                         b"H: 1\r\n\r\nb1\r\nb2\r\n..b3\r\n.\r\n")

    def test_known_set(self):
        names = [uid_of(n) for _, n, _ in KNOWN]
        self.assertEqual(len(set(names)), len(names))
        self.assertTrue(all(re.match(r"^[\x21-\x7e]{1,70}$", n)
                            for n in names))


if __name__ == "__main__":
    unittest.main()
