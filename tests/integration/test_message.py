"""The message callbacks: HEADER (unfolded), EOH, BODY in chunks or
lines, the whole-message buffer, max_header_len."""

import unittest

import phtest


def send_message(test, srv, wire, code=250):
    """One transaction with wire (everything before the final dot);
    returns testd's lines for it."""
    c = test.connect(srv)
    c.cmd("EHLO client.example", 250)
    c.cmd("MAIL FROM:<a@example.org>", 250)
    c.cmd("RCPT TO:<b@example.net>", 250)
    mark = srv.mark()
    c.cmd("DATA", 354)
    c.send(wire + b".\r\n")
    c.expect(code)
    c.cmd("QUIT", 221)
    srv.wait_line(r"^DISCONNECT$", start=mark)
    return srv.out()[mark:]


def headers(lines):
    out = []
    for l in lines:
        if l.startswith("HEADER name="):
            name, value = l[len("HEADER name="):].split(" value=", 1)
            out.append((phtest.unescape(name), phtest.unescape(value)))
    return out


def bodies(lines):
    return [phtest.unescape(l.split(" data=", 1)[1])
            for l in lines if l.startswith("BODY ")]


class Headers(phtest.TestCase):

    def test_folded_header_unfolded(self):
        srv = self.start_testd()
        lines = send_message(self, srv,
                             b"Subject: a folded\r\n\tsubject line\r\n"
                             b"X-Multi: one\r\n two\r\n  three\r\n"
                             b"X-Empty:\r\n"
                             b"\r\nbody\r\n")
        self.assertEqual(headers(lines), [
            (b"Subject", b"a folded\tsubject line"),
            (b"X-Multi", b"one two  three"),
            (b"X-Empty", b""),
        ])
        self.assertEqual(lines.count("EOH"), 1)
        self.assertEqual(b"".join(bodies(lines)), b"body\r\n")

    def test_eoh_on_non_header_line(self):
        srv = self.start_testd()
        lines = send_message(self, srv,
                             b"Subject: x\r\nthis is not a header\r\n"
                             b"To: y\r\n")
        self.assertEqual(headers(lines), [(b"Subject", b"x")])
        i = lines.index("EOH")
        self.assertTrue(lines[i - 1].startswith("HEADER name=Subject"))
        self.assertEqual(b"".join(bodies(lines)),
                         b"this is not a header\r\nTo: y\r\n")

    def test_no_headers_at_all(self):
        srv = self.start_testd()
        lines = send_message(self, srv, b"\r\njust a body\r\n")
        self.assertEqual(headers(lines), [])
        self.assertIn("EOH", lines)
        self.assertEqual(b"".join(bodies(lines)), b"just a body\r\n")

    def test_max_header_len(self):
        srv = self.start_testd("-H", "300")
        long_value = b"v" * 400
        lines = send_message(self, srv,
                             b"Subject: ok\r\nX-Long: " + long_value +
                             b"\r\nX-After: z\r\n\r\nbody\r\n")
        hs = headers(lines)
        self.assertEqual(hs[0], (b"Subject", b"ok"))
        self.assertNotIn(b"X-After", [h[0] for h in hs])
        self.assertIn("EOH", lines)
        # Nothing is lost: the rest goes to BODY.
        body = b"".join(bodies(lines))
        self.assertTrue(body.endswith(b"X-After: z\r\n\r\nbody\r\n"), body)


class Body(phtest.TestCase):

    def test_line_mode(self):
        srv = self.start_testd("-l")
        body_lines = [b"line %d\r\n" % i for i in range(20)] + [b"\r\n",
                                                             b"end\r\n"]
        lines = send_message(self, srv, b"Subject: x\r\n\r\n" +
                             b"".join(body_lines))
        self.assertEqual(bodies(lines), body_lines)

    def test_line_mode_long_line_split_by_chunk_size(self):
        srv = self.start_testd("-l", "-c", "64")
        lines = send_message(self, srv, b"\r\n" + b"a" * 150 + b"\r\nb\r\n")
        self.assertEqual(bodies(lines), [b"a" * 64, b"a" * 64,
                                         b"a" * 22 + b"\r\n", b"b\r\n"])

    def test_chunk_mode(self):
        srv = self.start_testd("-c", "100")
        body = b"".join(b"%04d abcdefghijklmnopqrstuvwxyz\r\n" % i
                        for i in range(40))
        lines = send_message(self, srv, b"Subject: c\r\n\r\n" + body)
        chunks = bodies(lines)
        self.assertEqual(b"".join(chunks), body)
        self.assertTrue(all(len(ch) == 100 for ch in chunks[:-1]),
                        [len(ch) for ch in chunks])
        eom = [l for l in lines if l.startswith("EOM ")][0]
        self.assertIn("body=%d " % len(body), eom)
        self.assertIn("fnv=" + phtest.fnv1a64(body), eom)

    def test_large_message(self):
        srv = self.start_testd()
        body = b"".join(b"%06d The quick brown fox jumps over the lazy dog\r\n"
                        % i for i in range(20000))
        wire = b"Subject: big\r\n\r\n" + body
        lines = send_message(self, srv, wire)
        eom = [l for l in lines if l.startswith("EOM ")][0]
        self.assertIn("size=%d body=%d " % (len(wire), len(body)), eom)
        self.assertIn("fnv=" + phtest.fnv1a64(body), eom)


class WholeMessage(phtest.TestCase):

    def test_exact_unstuffed_bytes(self):
        srv = self.start_testd("-w")
        wire = (b"From: a@example.org\r\nSubject: whole\r\n\r\n"
                b"..starts with a dot\r\n.\t\r\n\r\n\r\n"
                b"binary \x01\x7f\xff\xc3\xa9 bytes\r\n")
        lines = send_message(self, srv, wire)
        msg = [l for l in lines if l.startswith("MESSAGE ")][0]
        self.assertEqual(bytes.fromhex(msg.split(" ", 1)[1]),
                         wire.replace(b"\r\n..", b"\r\n.")
                         .replace(b"\r\n.\t", b"\r\n\t"))

    def test_empty_message(self):
        srv = self.start_testd("-w")
        c = self.connect(srv)
        c.cmd("EHLO x", 250)
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<b@example.net>", 250)
        c.cmd("DATA", 354)
        c.send(b".\r\n")
        c.expect(250)
        self.assertEqual(srv.wait_line(r"^MESSAGE"), "MESSAGE ")
        srv.wait_line(r"^EOM size=0 body=0 rcpts=1 ")


if __name__ == "__main__":
    unittest.main()
