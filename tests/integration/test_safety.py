"""Input safety: NUL and bare CR/LF in commands, SMTP smuggling variants
inside DATA (only CRLF.CRLF ends a message), dot-unstuffing."""

import unittest

import phtest

SMUGGLE_VARIANTS = [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r"]
SMUGGLED = (b"MAIL FROM:<evil@attacker.example>\r\n"
            b"RCPT TO:<victim@example.net>\r\n"
            b"DATA\r\n"
            b"Subject: smuggled\r\n\r\nsmuggled\r\n")


def unstuff(wire):
    """The message the server should deliver for wire (up to and
    including the CRLF before the final dot): lines end only at CRLF and
    a leading dot on a line is removed."""
    return b"\r\n".join(l[1:] if l.startswith(b".") else l
                        for l in wire.split(b"\r\n"))


def session(test, srv):
    c = test.connect(srv)
    c.cmd("EHLO client.example", 250)
    return c


def start_message(c):
    c.cmd("MAIL FROM:<a@example.org>", 250)
    c.cmd("RCPT TO:<b@example.net>", 250)
    c.cmd("DATA", 354)


class CommandBytes(phtest.TestCase):

    def setUp(self):
        super().setUp()
        self.srv = self.start_testd()
        self.c = session(self, self.srv)

    def test_nul_in_command(self):
        self.c.cmd("NOOP\x00", 500, "5.5.2")
        self.c.cmd("NO\x00OP", 500, "5.5.2")
        self.c.cmd("MAIL FROM:<a\x00@example.org>", 500, "5.5.2")
        self.c.cmd("NOOP", 250)
        self.sync(self.srv, self.c)
        self.assertEqual(self.srv.out("MAIL "), [])

    def test_bare_lf_in_command(self):
        self.c.send(b"NOOP\nNOOP\r\n")
        self.c.expect(500, "5.5.2")
        self.c.no_more()
        self.c.cmd("NOOP", 250, "2.0.0 OK")

    def test_bare_cr_in_command(self):
        self.c.send(b"NOOP\rNOOP\r\n")
        self.c.expect(500, "5.5.2")
        self.c.no_more()
        self.c.send(b"RSET\r\rRSET\r\n")
        self.c.expect(500, "5.5.2")
        self.c.no_more()
        self.c.cmd("NOOP", 250)

    def test_lf_smuggled_command_not_run(self):
        self.c.send(b"NOOP\nMAIL FROM:<evil@attacker.example>\r\n")
        self.c.expect(500, "5.5.2")
        self.c.no_more()
        self.c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
        self.sync(self.srv, self.c)
        self.assertEqual(self.srv.out("MAIL "), [])


class SmugglingReject(phtest.TestCase):
    """Default bare_eol: the message gets 550 5.6.0 at the real end."""

    def test_variants(self):
        srv = self.start_testd()
        c = session(self, srv)
        for v in SMUGGLE_VARIANTS:
            with self.subTest(variant=v):
                mark = srv.mark()
                start_message(c)
                c.send(b"Subject: x\r\n\r\nbody" + v + SMUGGLED +
                       b"\r\n.\r\n")
                c.expect(550, "5.6.0")
                c.no_more(0.2)
                self.sync(srv, c)
                lines = srv.out()[mark:]
                self.assertNotIn("MAIL from=<evil@attacker.example>", lines)
                self.assertFalse([l for l in lines if l.startswith("EOM")])
                self.assertIn("ABORT", lines)
                # The session goes on, in the idle state (no transaction).
                c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")
                c.cmd("NOOP", 250)

    def test_nothing_after_abort(self):
        """Once the message is refused the program hears ABORT and then
        no more HEADER/BODY for it, and never EOM."""
        srv = self.start_testd("-l")
        c = session(self, srv)
        mark = srv.mark()
        start_message(c)
        c.send(b"Subject: x\r\n\r\nfirst\r\nsec\nond\r\nthird\r\n")
        c.send(b"x" * 70000 + b"\r\nlast\r\n.\r\n")
        c.expect(550, "5.6.0")
        srv.wait_line(r"^ABORT$", start=mark)
        c.cmd("NOOP", 250)
        self.sync(srv, c)
        lines = srv.out()[mark:]
        after = lines[lines.index("ABORT") + 1:]
        self.assertFalse([l for l in after if l.startswith(("BODY", "EOM",
                                                            "HEADER"))],
                         after)
        self.assertFalse([l for l in lines if l.startswith("EOM")])


class SmugglingKeep(phtest.TestCase):
    """bare_eol keep: the bytes are message data; the message is
    accepted and nothing after the fake end runs as a command."""

    def test_variants(self):
        srv = self.start_testd("-k", "-w")
        c = session(self, srv)
        for v in SMUGGLE_VARIANTS:
            with self.subTest(variant=v):
                mark = srv.mark()
                start_message(c)
                wire = b"Subject: x\r\n\r\nbody" + v + SMUGGLED
                c.send(wire + b".\r\n")
                c.expect(250, "2.0.0")
                c.no_more(0.2)
                msg = srv.wait_line(r"^MESSAGE ", start=mark)
                got = bytes.fromhex(msg.split(" ", 1)[1])
                self.assertEqual(got, unstuff(wire))
                self.assertIn(v.replace(b"\r\n.", b"\r\n"), got)
                self.sync(srv, c)
                lines = srv.out()[mark:]
                self.assertNotIn("MAIL from=<evil@attacker.example>", lines)
                self.assertEqual(len([l for l in lines
                                      if l.startswith("EOM ")]), 1)
                c.cmd("RCPT TO:<b@example.net>", 503, "5.5.1")


class DotStuffing(phtest.TestCase):

    def test_unstuffing(self):
        srv = self.start_testd("-w", "-l")
        c = session(self, srv)
        start_message(c)
        c.send(b"Subject: dots\r\n\r\n..x\r\n...\r\n..\r\n.y.\r\nz.\r\n.\r\n")
        c.expect(250, "2.0.0")
        self.sync(srv, c)
        msg = srv.wait_line(r"^MESSAGE ")
        self.assertEqual(bytes.fromhex(msg.split(" ", 1)[1]),
                         b"Subject: dots\r\n\r\n.x\r\n..\r\n.\r\ny.\r\n"
                         b"z.\r\n")
        self.assertEqual(srv.out("BODY "),
                         ["BODY len=4 data=.x\\x0d\\x0a",
                          "BODY len=4 data=..\\x0d\\x0a",
                          "BODY len=3 data=.\\x0d\\x0a",
                          "BODY len=4 data=y.\\x0d\\x0a",
                          "BODY len=4 data=z.\\x0d\\x0a"])

    def test_terminator_split_across_packets(self):
        srv = self.start_testd("-w")
        c = session(self, srv)
        start_message(c)
        import time
        for piece in (b"\r\nhello\r", b"\n.", b"\r", b"\n"):
            c.send(piece)
            time.sleep(0.05)
        c.expect(250, "2.0.0")
        msg = srv.wait_line(r"^MESSAGE ")
        self.assertEqual(bytes.fromhex(msg.split(" ", 1)[1]),
                         b"\r\nhello\r\n")


if __name__ == "__main__":
    unittest.main()
