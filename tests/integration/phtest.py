"""phtest -- helpers for the posthorn integration tests (standard library
only).

A test starts a program on port 0, reads the bound port from its ready
line, talks to it through smtplib or a raw socket (every read has a
timeout), and stops it by PID. Stopping checks the exit status and the
program's stderr for sanitizer reports, so an ASan build fails the test
on a leak or a memory error in the server.

The binaries are found under $PH_BIN_DIR (the CMake build directory).
"""

import base64
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

BIN_DIR = os.environ.get("PH_BIN_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")

TIMEOUT = 5.0           # default for any single wait
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: AddressSanitizer")


def bin_path(*parts):
    return os.path.join(BIN_DIR, *parts)


TESTD = bin_path("tests", "integration", "smtp_testd")
HELO_QUIT = bin_path("examples", "smtp_helo_quit")
ESMTP_SINK = bin_path("examples", "esmtp_sink")


def fnv1a64(data):
    h = 14695981039346656037
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def unescape(text):
    """Reverses smtp_testd's \\xNN escaping."""
    return re.sub(rb"\\x([0-9a-f]{2})",
                  lambda m: bytes([int(m.group(1), 16)]),
                  text.encode("latin-1"))


def wait_close(client, timeout, unread_ok=True):
    """Waits until the peer closes client.sock; fails if it sends anything
    first (kept in client.buf for the message), or, with unread_ok False,
    if bytes the caller never read are still in client.buf."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection still open; buffered %r"
                                 % client.buf)
        client.sock.settimeout(left)
        try:
            chunk = client.sock.recv(65536)
        except ConnectionResetError:
            return
        except socket.timeout:
            continue
        if not chunk:
            if client.buf and not unread_ok:
                raise AssertionError("unread data before close: %r"
                                     % client.buf)
            return
        client.buf += chunk
        raise AssertionError("unexpected data before close: %r"
                             % client.buf)


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def sasl_plain(user, password, authzid=""):
    """The base64 SASL PLAIN response (RFC 4616)."""
    return b64("%s\0%s\0%s" % (authzid, user, password))


def read_until_close(sock, timeout=TIMEOUT):
    """Every byte until the peer closes (EOF, reset or a TLS error);
    fails if the connection is still open after timeout."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection still open; got %r" % data)
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except (ConnectionError, ssl.SSLError):
            return data
        if not chunk:
            return data
        data += chunk


def recv_line(sock):
    """Bytes up to and including the first CRLF (a greeting read off a
    raw or TLS socket); fails if the peer closes first."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(512)
        if not chunk:
            raise AssertionError("closed before a line; got %r" % data)
        data += chunk
    return data


# ---- TLS ------------------------------------------------------------------

OPENSSL = shutil.which("openssl")


def make_cert(directory, cn="localhost", prefix="", ec=False):
    """A self-signed certificate (RSA 2048, or EC P-256 with ec) made with
    openssl req into directory as <prefix>cert.pem and <prefix>key.pem;
    returns (cert path, key path)."""
    cert = os.path.join(directory, prefix + "cert.pem")
    key = os.path.join(directory, prefix + "key.pem")
    newkey = (["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if ec
              else ["rsa:2048"])
    subprocess.run([OPENSSL, "req", "-x509", "-newkey"] + newkey +
                   ["-nodes", "-subj", "/CN=" + cn, "-days", "2",
                    "-keyout", key, "-out", cert],
                   check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   timeout=60)
    return cert, key


def client_ctx():
    """A TLS client context that accepts the self-signed test
    certificates (no verification, no host name check)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Server:
    """A program under test, started with its stdout/stderr captured."""

    READY_RE = re.compile(r"(?:ready port=|listening on port )(\d+)")

    def __init__(self, argv, ready=True, env=None):
        self.argv = list(argv)
        self.lines = []                 # stdout lines, without newline
        self.err = []                   # stderr lines
        self.cond = threading.Condition()
        self.port = None
        self.returncode = None
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        if env:
            e.update(env)
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=e)
        self.pid = self.proc.pid
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout,
                                                      self.lines),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr,
                                                      self.err),
                             daemon=True),
        ]
        for t in self._threads:
            t.start()
        if ready:
            line = self.wait_line(self.READY_RE, timeout=10)
            self.port = int(self.READY_RE.search(line).group(1))

    def _pump(self, stream, dest):
        for raw in iter(stream.readline, b""):
            with self.cond:
                dest.append(raw.decode("latin-1").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    # -- output --------------------------------------------------------

    def wait_line(self, pattern, timeout=TIMEOUT, start=0):
        """First stdout line at index >= start matching pattern (regex
        string or compiled); raises AssertionError on timeout."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "no line matching %r within %.1fs; stdout=%r "
                        "stderr=%r" % (rx.pattern, timeout, self.lines[-40:],
                                       self.err[-20:]))
                self.cond.wait(min(left, 0.1))

    def wait_err(self, pattern, count=1, timeout=TIMEOUT):
        """Waits until count stderr lines (the program's log) match
        pattern (regex string or compiled); returns them. Raises
        AssertionError on timeout or if the program exits first."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            exited = self.proc.poll() is not None
            if exited:                      # let the pump read to EOF
                self._threads[1].join(timeout=1)
            with self.cond:
                hits = [l for l in self.err if rx.search(l)]
            if len(hits) >= count:
                return hits
            if exited or time.monotonic() > deadline:
                raise AssertionError(
                    "no %d stderr line(s) matching %r (rc=%s): %r"
                    % (count, rx.pattern, self.proc.poll(), self.err[-20:]))
            time.sleep(0.02)

    LISTENING_RE = re.compile(
        r"event=listen server=(\S+) addr=(\S+):(\d+) ")

    def listening(self):
        """{server alias: [port, ...]} from the event=listen lines (posthornd
        names its servers after their service: smtp, submission, smtps,
        lmtp, pop3, pop3s)
        (it binds port 0 and says which port it got: no free-port race).
        Call after event=ready."""
        ports = {}
        with self.cond:
            for line in self.err:
                m = self.LISTENING_RE.search(line)
                if m:
                    ports.setdefault(m.group(1), []).append(int(m.group(3)))
        return ports

    def out(self, prefix=None):
        with self.cond:
            lines = list(self.lines)
        if prefix is None:
            return lines
        return [l for l in lines if l.startswith(prefix)]

    def mark(self):
        """Index to pass as start= to only look at newer lines."""
        with self.cond:
            return len(self.lines)

    def settle(self, delay=0.2):
        time.sleep(delay)

    # -- process -------------------------------------------------------

    def send_signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def wait_exit(self, timeout=10):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.returncode = self.proc.wait(timeout=5)
            raise AssertionError("%s did not exit within %ss"
                                 % (self.argv[0], timeout))
        finally:
            for t in self._threads:
                t.join(timeout=5)
            for f in (self.proc.stdout, self.proc.stderr):
                f.close()
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signals the program (by PID) and waits; returns its exit code."""
        if self.returncode is not None:
            return self.returncode
        self.send_signal(sig)
        return self.wait_exit(timeout)

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        try:
            self.wait_exit(timeout=5)
        except AssertionError:
            pass

    def sanitizer_report(self):
        with self.cond:
            text = "\n".join(self.err)
        for m in SANITIZER_MARKS:
            if m in text:
                return text
        return None


class Client:
    """A raw SMTP client: bytes out, parsed replies in, all with timeouts."""

    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT,
                 family=None):
        self.timeout = timeout
        if family is None:
            self.sock = socket.create_connection((host, port),
                                                 timeout=timeout)
        else:
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        self.buf = b""
        self.closed_by_peer = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no data within %.1fs (have %r)"
                                     % (timeout, self.buf))
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed_by_peer = True
                raise EOFError("connection closed (have %r)" % self.buf)
            self.buf += chunk
            return

    def read_line(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            self._fill(max(deadline - time.monotonic(), 0.001))
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self, timeout=None):
        """One (possibly multi-line) reply: (code, [text lines])."""
        lines = []
        while True:
            line = self.read_line(timeout)
            if len(line) < 3 or not line[:3].isdigit():
                raise AssertionError("malformed reply line %r" % line)
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), lines
            if line[3] != "-":
                raise AssertionError("malformed reply line %r" % line)

    def expect(self, code, text=None, timeout=None):
        """Reads one reply and asserts its code and (a substring of) its
        last line's text, e.g. expect(500, "5.5.2")."""
        got, lines = self.reply(timeout)
        if got != code or (text is not None and text not in lines[-1]):
            raise AssertionError("expected %s %s, got %s %r"
                                 % (code, text or "", got, lines))
        return lines

    def cmd(self, line, code, text=None):
        self.send(line + "\r\n")
        return self.expect(code, text)

    def expect_eof(self, timeout=None):
        """Asserts the server closes the connection (nothing more to read
        but EOF or a reset)."""
        wait_close(self, self.timeout if timeout is None else timeout)

    def no_more(self, wait=0.3):
        """Asserts nothing further arrives within wait seconds."""
        r, _, _ = select.select([self.sock], [], [], wait)
        if self.buf or r:
            data = self.buf
            if r:
                try:
                    data += self.sock.recv(65536)
                except OSError:
                    pass
            if data:
                raise AssertionError("unexpected data: %r" % data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes abruptly (RST instead of FIN)."""
        import struct
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()


class TestCase(unittest.TestCase):
    """Starts programs and always stops them; on stop the exit code and
    sanitizer output are checked."""

    def setUp(self):
        self._servers = []
        self._clients = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for c in self._clients:
            c.close()
        problems = []
        for srv in self._servers:
            if srv.returncode is None:
                try:
                    srv.stop()
                except AssertionError as e:
                    problems.append(str(e))
            rep = srv.sanitizer_report()
            if rep:
                problems.append("sanitizer report from %s:\n%s"
                                % (srv.argv[0], rep))
            if srv.returncode != getattr(srv, "expect_rc", 0):
                problems.append("%s exited %s (expected %s); stderr: %s"
                                % (srv.argv, srv.returncode,
                                   getattr(srv, "expect_rc", 0),
                                   "\n".join(srv.err[-30:])))
        if problems:
            self.fail("\n".join(problems))

    def start(self, argv, **kw):
        srv = Server(argv, **kw)
        self._servers.append(srv)
        return srv

    def start_testd(self, *args, **kw):
        self.require(TESTD)
        return self.start([TESTD] + list(args), **kw)

    def log_line(self, srv, pattern, timeout=TIMEOUT):
        """The first line of srv's log (stderr) matching pattern, waited
        for."""
        return srv.wait_err(pattern, timeout=timeout)[0]

    def raw_connect(self, port, host="127.0.0.1"):
        """A plain socket to port (closed at cleanup), for bytes no
        client library would send."""
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        return sock

    def require(self, path):
        if not os.access(path, os.X_OK):
            self.fail("%s not built (PH_BIN_DIR=%s)" % (path, BIN_DIR))

    def connect(self, srv_or_port, host="127.0.0.1", banner=220, **kw):
        port = getattr(srv_or_port, "port", srv_or_port)
        c = Client(port, host=host, **kw)
        self._clients.append(c)
        if banner is not None:
            c.expect(banner)
        return c

    def ehlo(self, srv, name="client.example", verb="EHLO"):
        c = self.connect(srv)
        c.send("%s %s\r\n" % (verb, name))
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        return c

    _sync_n = 0

    def sync(self, srv, client):
        """Makes sure smtp_testd has printed everything the commands so
        far caused: XCLIENT is answered in order and printed."""
        TestCase._sync_n += 1
        tag = "SYNC=%d" % TestCase._sync_n
        client.cmd("XCLIENT " + tag, 250)
        srv.wait_line(r"^XCLIENT arg=%s$" % tag)

    def check_stopped(self, srv, sig=signal.SIGTERM, rc=0):
        """Stops srv now and asserts a clean exit."""
        got = srv.stop(sig)
        self.assertIsNone(srv.sanitizer_report(), srv.sanitizer_report())
        self.assertEqual(got, rc, "\n".join(srv.err[-30:]))
