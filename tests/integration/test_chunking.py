"""CHUNKING and BINARYMIME (RFC 3030): BDAT <size> [LAST] through the
same message callbacks as DATA, the sequencing and size rules, and that a
chunk's bytes are never read as commands. smtplib has no BDAT: raw
sockets throughout."""

import signal
import time
import unittest

import phtest


def bdat(data, last=False):
    """The bytes of one BDAT command and its chunk."""
    return b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"") + data


def open_tx(test, srv, mail="MAIL FROM:<a@example.org>",
            rcpts=("b@example.net",), greet="EHLO client.example"):
    c = test.connect(srv)
    c.cmd(greet, 250)
    c.cmd(mail, 250)
    for r in rcpts:
        c.cmd("RCPT TO:<%s>" % r, 250)
    return c


def message_of(srv, mark):
    """The bytes testd -w printed for the message after mark."""
    line = srv.wait_line(r"^MESSAGE ", start=mark)
    return bytes.fromhex(line.split(" ", 1)[1])


def events(srv, mark, prefix):
    return [l for l in srv.out()[mark:] if l.startswith(prefix)]


class Advertised(phtest.TestCase):

    def ehlo_lines(self, srv, verb):
        c = self.connect(srv)
        c.send("%s client.example\r\n" % verb)
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        return lines

    def test_ehlo_lists_chunking(self):
        lines = self.ehlo_lines(self.start_testd(), "EHLO")
        self.assertIn("CHUNKING", lines)
        self.assertIn("BINARYMIME", lines)

    def test_lhlo_lists_chunking(self):
        lines = self.ehlo_lines(self.start_testd("-m", "lmtp"), "LHLO")
        self.assertIn("CHUNKING", lines)
        self.assertIn("BINARYMIME", lines)

    def test_bare_mode_has_no_bdat(self):
        srv = self.start_testd("-m", "bare")
        c = self.connect(srv)
        c.cmd("BDAT 0 LAST", 502)


class Chunks(phtest.TestCase):

    def test_two_chunks_exact_bytes(self):
        srv = self.start_testd("-w")
        c = open_tx(self, srv)
        mark = srv.mark()
        # The chunk boundary cuts a header in two.
        one = b"From: a@example.org\r\nSubj"
        two = b"ect: chunked\r\n\r\nline one\r\n.line two\r\n"
        c.send(bdat(one))
        c.expect(250, "2.0.0 %d octets received" % len(one))
        c.send(bdat(two, last=True))
        c.expect(250, "2.0.0 Message accepted")
        self.assertEqual(message_of(srv, mark), one + two)
        eom = srv.wait_line(r"^EOM ", start=mark)
        self.assertIn("size=%d " % len(one + two), eom)
        lines = srv.out()[mark:]
        self.assertIn("HEADER name=Subject value=chunked", lines)
        # No dot-unstuffing: ".line two" stays as sent.
        self.assertIn("fnv=" + phtest.fnv1a64(b"line one\r\n.line two\r\n"),
                      eom)
        # The BDAT handler runs at the first chunk only, as DATA's would.
        self.assertEqual(events(srv, mark, "BDAT "),
                         ["BDAT arg=%d" % len(one)])
        c.cmd("QUIT", 221)

    def test_bdat_0_last(self):
        srv = self.start_testd("-w")
        c = open_tx(self, srv)
        mark = srv.mark()
        c.send(b"BDAT 0 LAST\r\n")
        c.expect(250, "2.0.0 Message accepted")
        self.assertEqual(message_of(srv, mark), b"")
        self.assertIn("size=0 ", srv.wait_line(r"^EOM ", start=mark))
        # Empty chunks before the last one are fine too.
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<b@example.net>", 250)
        mark = srv.mark()
        c.cmd("BDAT 0", 250, "2.0.0 0 octets received")
        c.send(bdat(b"x\r\n", last=True))
        c.expect(250)
        self.assertEqual(message_of(srv, mark), b"x\r\n")

    def test_binary_bytes(self):
        srv = self.start_testd("-w")
        c = open_tx(self, srv, mail="MAIL FROM:<a@example.org> "
                    "BODY=BINARYMIME")
        # The envelope's own lines first: a MAIL line still on its way
        # from the pipe would land after the mark and look like a chunk
        # byte taken for a command.
        srv.wait_line(r"^RCPT to=<b@example.net>")
        mark = srv.mark()
        # NUL, bare LF and CR, a lone dot line and what would end DATA:
        # all plain bytes in a chunk (its length frames it).
        blob = (b"Content-Type: application/octet-stream\r\n\r\n"
                b"\x00\x01\xff\n.\n\r.\r\r\n.\r\nMAIL FROM:<x@y>\r\n" +
                bytes(range(256)))
        c.send(bdat(blob[:50]))
        c.expect(250, "50 octets received")
        c.send(bdat(blob[50:], last=True))
        c.expect(250, "2.0.0")
        self.assertEqual(message_of(srv, mark), blob)
        c.cmd("NOOP", 250)
        self.assertFalse(events(srv, mark, "MAIL "))

    def test_chunk_in_pieces_and_pipelined(self):
        srv = self.start_testd("-w")
        c = self.connect(srv)
        c.cmd("EHLO client.example", 250)
        mark = srv.mark()
        body = b"Subject: pieces\r\n\r\n" + b"0123456789" * 30 + b"\r\n"
        # Everything in one write, the next command right after the chunk.
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n" +
               bdat(body[:100]) + b"NOOP\r\n" +
               b"BDAT %d LAST\r\n" % (len(body) - 100) + body[100:110])
        c.expect(250, "2.1.0")
        c.expect(250, "2.1.5")
        c.expect(250, "100 octets received")
        c.expect(250, "2.0.0 OK")
        # The rest of the last chunk, a byte at a time, then a command.
        for i in range(110, 140):
            c.send(body[i:i + 1])
            time.sleep(0.002)
        c.send(body[140:] + b"RSET\r\n")
        c.expect(250, "Message accepted")
        c.expect(250, "2.0.0 OK")
        self.assertEqual(message_of(srv, mark), body)
        c.no_more()

    def test_large_chunk(self):
        srv = self.start_testd()
        c = open_tx(self, srv)
        body = b"".join(b"%06d the quick brown fox\r\n" % i
                        for i in range(40000))
        wire = b"Subject: big\r\n\r\n" + body
        mark = srv.mark()
        c.send(bdat(wire, last=True))
        c.expect(250, "2.0.0", timeout=20)
        eom = srv.wait_line(r"^EOM ", start=mark)
        self.assertIn("size=%d body=%d " % (len(wire), len(body)), eom)
        self.assertIn("fnv=" + phtest.fnv1a64(body), eom)

    def test_no_line_limit(self):
        """max_text_line_len is DATA's: a chunk has no lines to limit."""
        srv = self.start_testd("-w", "-T", "100")
        c = open_tx(self, srv)
        mark = srv.mark()
        blob = b"Subject: long\r\n\r\n" + b"y" * 5000 + b"\r\n"
        c.send(bdat(blob, last=True))
        c.expect(250, "2.0.0")
        self.assertEqual(message_of(srv, mark), blob)

    def test_pending_eom(self):
        """eom answers later (-P): the next command waits for it."""
        srv = self.start_testd("-P", "-w")
        c = open_tx(self, srv)
        mark = srv.mark()
        c.send(bdat(b"a\r\n") + bdat(b"b\r\n", last=True) + b"NOOP\r\n")
        c.expect(250, "3 octets received")
        c.expect(250, "Message accepted")
        c.expect(250, "2.0.0 OK")
        self.assertEqual(message_of(srv, mark), b"a\r\nb\r\n")
        c.cmd("MAIL FROM:<a@example.org>", 250)

    def test_lmtp_reply_per_recipient(self):
        srv = self.start_testd("-m", "lmtp")
        c = open_tx(self, srv, greet="LHLO client.example",
                    rcpts=("alice@example.net", "fail1@example.net",
                           "bob@example.net"))
        c.send(bdat(b"Subject: l\r\n\r\n"))
        c.expect(250, "14 octets received")   # one reply, not three
        c.send(bdat(b"hi\r\n", last=True))
        c.expect(250, "<alice@example.net> delivered")
        c.expect(550, "<fail1@example.net> mailbox unavailable")
        c.expect(250, "<bob@example.net> delivered")
        c.no_more()
        c.cmd("NOOP", 250)


class Refusals(phtest.TestCase):

    def test_bdat_before_rcpt(self):
        srv = self.start_testd()
        c = self.connect(srv)
        # The chunks hold commands: none of them may run.
        c.send(bdat(b"QUIT\r\n"))
        c.expect(503, "5.5.1 Send HELO/EHLO first")
        c.cmd("EHLO client.example", 250)
        c.send(bdat(b"RSET\r\n", last=True))
        c.expect(503, "5.5.1 No transaction")
        c.cmd("MAIL FROM:<a@example.org>", 250)
        mark = srv.mark()
        c.send(bdat(b"RSET\r\n"))
        c.expect(503, "5.5.1 Need RCPT command first")
        c.no_more()
        # RFC 3030 4.2: a failed BDAT fails the transaction.
        c.cmd("RCPT TO:<b@example.net>", 503, "Need MAIL command first")
        self.assertIn("ABORT", srv.out()[mark:])
        c.cmd("NOOP", 250)
        self.assertFalse(events(srv, 0, "EOM"))

    def test_oversize(self):
        srv = self.start_testd("-S", "100")
        c = open_tx(self, srv)
        mark = srv.mark()
        c.send(bdat(b"a" * 60))
        c.expect(250, "60 octets received")
        # Over the limit: the chunk is still read to its end (the NOOP in
        # it is data), then 552 and the transaction is gone.
        c.send(bdat(b"NOOP\r\n" + b"b" * 54))
        c.expect(552, "5.3.4")
        c.no_more()
        srv.wait_line(r"^ABORT$", start=mark)
        # Chunks the client pipelined after it are dropped too.
        c.send(bdat(b"NOOP\r\n", last=True))
        c.expect(503, "5.5.1 No transaction")
        c.no_more()
        self.assertFalse(events(srv, mark, "EOM"))
        # One LAST chunk over the limit: 552 as the end-of-message reply.
        c.cmd("MAIL FROM:<a@example.org>", 250)
        c.cmd("RCPT TO:<b@example.net>", 250)
        c.send(bdat(b"c" * 150, last=True))
        c.expect(552, "5.3.4")
        c.cmd("NOOP", 250)
        self.assertFalse(events(srv, mark, "EOM"))
        # MAIL SIZE= over the limit is refused before any chunk.
        c.cmd("MAIL FROM:<a@example.org> SIZE=101", 552, "5.3.4")

    def test_bad_size_closes(self):
        srv = self.start_testd()
        for arg in ("x", "", "12x LAST", "-5", "10 NOTLAST",
                    "123456789012345678901 LAST", "18446744073709551616"):
            c = open_tx(self, srv)
            mark = srv.mark()
            c.send(b"BDAT %s\r\nhello" % arg.encode())
            c.expect(501, "5.5.4")
            c.expect_eof()
            srv.wait_line(r"^ABORT$", start=mark)
        self.assertFalse(events(srv, 0, "EOM"))

    def test_data_after_bdat(self):
        srv = self.start_testd("-w")
        c = open_tx(self, srv)
        mark = srv.mark()
        c.send(bdat(b"abc\r\n"))
        c.expect(250)
        c.cmd("DATA", 503, "5.5.1")
        # The transaction goes on by BDAT.
        c.send(bdat(b"def\r\n", last=True))
        c.expect(250, "2.0.0")
        self.assertEqual(message_of(srv, mark), b"abc\r\ndef\r\n")

    def test_data_with_binarymime(self):
        srv = self.start_testd("-w")
        c = open_tx(self, srv, mail="MAIL FROM:<a@example.org> "
                    "BODY=BINARYMIME")
        c.cmd("DATA", 503, "5.5.1")
        mark = srv.mark()
        c.send(bdat(b"\x00\r\n", last=True))
        c.expect(250)
        self.assertEqual(message_of(srv, mark), b"\x00\r\n")
        # 7BIT and 8BITMIME may use either.
        c.cmd("MAIL FROM:<a@example.org> BODY=8BITMIME", 250)
        c.cmd("RCPT TO:<b@example.net>", 250)
        c.send(bdat(b"\xc3\xa9\r\n", last=True))
        c.expect(250)
        c.cmd("MAIL FROM:<a@example.org> BODY=BINARY", 501, "5.5.4")

    def test_envelope_closed_between_chunks(self):
        # RFC 3030 2: every RCPT comes before the data. After a chunk that
        # is not LAST, MAIL and RCPT get 503 and the message goes to the
        # envelope it began with (issue 9), over ESMTP and LMTP alike.
        for mode, greet in (("esmtp", "EHLO client.example"),
                            ("lmtp", "LHLO client.example")):
            srv = self.start_testd("-w", "-m", mode)
            c = open_tx(self, srv, greet=greet)
            mark = srv.mark()
            c.send(bdat(b"x"))
            c.expect(250, "1 octets received")
            for _ in range(5):
                c.cmd("RCPT TO:<late@example.net>", 503, "5.5.1")
            c.cmd("MAIL FROM:<other@example.org>", 503, "5.5.1")
            c.cmd("NOOP", 250)
            c.send(bdat(b"", last=True))
            c.expect(250)
            c.no_more()                 # LMTP: one reply, one recipient
            eom = srv.wait_line(r"^EOM ", start=mark)
            self.assertIn("rcpts=1", eom)
            self.assertEqual(message_of(srv, mark), b"x")
            # The next transaction takes RCPT again.
            c.cmd("MAIL FROM:<a@example.org>", 250)
            c.cmd("RCPT TO:<b@example.net>", 250)

    def test_reset_between_chunks(self):
        # RSET, and EHLO (RFC 5321 4.1.4: inside a transaction it is a
        # reset), end a transaction between its chunks.
        for reset in ("RSET", "EHLO again.example"):
            srv = self.start_testd()
            c = open_tx(self, srv)
            mark = srv.mark()
            c.send(bdat(b"part one\r\n"))
            c.expect(250)
            c.cmd(reset, 250)
            srv.wait_line(r"^ABORT$", start=mark)
            c.send(bdat(b"part two\r\n", last=True))
            c.expect(503, "No transaction")
            c.cmd("NOOP", 250)
            c.cmd("MAIL FROM:<a@example.org>", 250)
            self.assertFalse(events(srv, mark, "EOM"))

    def test_plugin_refuses_chunk(self):
        srv = self.start_testd("-X")
        c = open_tx(self, srv)
        mark = srv.mark()
        c.send(bdat(b"first\r\n"))
        c.expect(250)
        c.send(bdat(b"RSET\r\n" + b"z" * 660))      # 666 octets
        c.expect(554, "5.7.1 Chunk refused by plugin")
        c.send(bdat(b"last\r\n", last=True))
        c.expect(503, "No transaction")
        c.cmd("NOOP", 250)
        srv.wait_line(r"^ABORT$", start=mark)
        lines = srv.out()[mark:]
        # Plugins hear every BDAT that gets past the sequencing check,
        # not only the first of a message.
        self.assertEqual(len([l for l in lines
                              if l.startswith("PLUGIN cmd_bdat")]), 2)
        self.assertFalse([l for l in lines if l.startswith("EOM")])


class Lifecycle(phtest.TestCase):

    def test_disconnect_mid_chunk(self):
        srv = self.start_testd()
        c = open_tx(self, srv)
        mark = srv.mark()
        c.send(b"BDAT 100 LAST\r\nSubject: half\r\n\r\nonly part")
        srv.wait_line(r"^EOH$", start=mark)
        c.close()
        srv.wait_line(r"^DISCONNECT$", start=mark)
        lines = srv.out()[mark:]
        self.assertLess(lines.index("ABORT"), lines.index("DISCONNECT"))
        self.assertFalse([l for l in lines if l.startswith("EOM")])
        self.check_stopped(srv)

    def test_sigterm_between_chunks(self):
        srv = self.start_testd()
        c = open_tx(self, srv)
        c.send(bdat(b"Subject: x\r\n\r\n"))
        c.expect(250)
        srv.send_signal(signal.SIGTERM)
        srv.wait_line(r"^SHUTDOWN$")
        # The message in flight may finish; then the 421.
        c.send(bdat(b"rest\r\n", last=True))
        c.expect(250, "2.0.0")
        c.expect(421, "4.3.2")
        c.expect_eof()
        self.assertEqual(srv.wait_exit(timeout=10), 0, srv.err)
        self.assertTrue(srv.out("EOM"))


if __name__ == "__main__":
    unittest.main()
