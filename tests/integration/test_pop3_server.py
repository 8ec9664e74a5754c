"""examples/pop3_server against known Maildirs: login, STAT/LIST/UIDL/
TOP/RETR byte for byte, UIDL stability, UPDATE semantics (DELE with QUIT,
RSET, a dropped connection), the maildrop lock, the snapshot, CAPA,
AUTH PLAIN, bad input, PIPELINING, poplib and curl."""

import os
import poplib
import shutil
import socket
import subprocess
import time
import unittest

import phtest
from test_pop3_common import (KNOWN, Pop3TestCase, list_size, plain_b64,
                              split_lines, uid_of, wire_retr, wire_top)


class Login(Pop3TestCase):

    def test_greeting_and_good_login(self):
        srv = self.start_server()
        c = self.pop(srv)
        # the seed's hostname and version are both in the greeting
        self.assertRegex(c.greeting, r"^\+OK \S+ posthorn \S+ ready$")
        self.assertEqual(c.cmd("USER alice"), "+OK Send PASS")
        self.assertEqual(c.cmd("PASS wonderland"),
                         "+OK Logged in, %d messages" % len(KNOWN))
        self.assertEqual(c.cmd("QUIT"), "+OK Bye, 0 messages deleted")
        c.expect_eof()

    def test_bad_login_then_good(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.ok("USER alice")
        t0 = time.monotonic()
        self.assertEqual(c.cmd("PASS nope"),
                         "-ERR [AUTH] Authentication failed")
        # The default auth_fail_delay_ms (1000) holds the answer back.
        self.assertGreater(time.monotonic() - t0, 0.8)
        # Unknown user: the same answer; the session goes on.
        c.ok("USER mallory")
        self.assertEqual(c.cmd("PASS wonderland"),
                         "-ERR [AUTH] Authentication failed")
        self.assertEqual(c.cmd("STAT"),
                         "-ERR Command not valid in this state")
        c.login()
        c.ok("QUIT")

    def test_pass_without_user_and_spaces_in_password(self):
        srv = self.start_server()
        c = self.pop(srv)
        self.assertEqual(c.cmd("PASS x"), "-ERR Send USER first")
        self.assertEqual(c.cmd("USER"), "-ERR Syntax: USER name")
        self.assertEqual(c.cmd("PASS"), "-ERR Send USER first")
        c.ok("USER alice")
        self.assertEqual(c.cmd("PASS"), "-ERR Syntax: PASS password")
        self.assertEqual(c.cmd("PASS wonder land"),
                         "-ERR [AUTH] Authentication failed")
        c.ok("PASS wonderland")

    def test_poplib(self):
        srv = self.start_server()
        p = poplib.POP3("127.0.0.1", srv.port, timeout=5)
        try:
            self.check_poplib_login(p)
            caps = p.capa()
            self.assertIn("UIDL", caps)
            p.quit()
        finally:
            p.close()


class Transaction(Pop3TestCase):

    def test_stat_list_uidl(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        sizes = [list_size(d) for _, _, d in KNOWN]
        self.assertEqual(c.cmd("STAT"),
                         "+OK %d %d" % (len(KNOWN), sum(sizes)))
        self.assertEqual(c.cmd("LIST"), "+OK Scan listing follows")
        self.assertEqual(c.multi(), b"".join(
            b"%d %d\r\n" % (i + 1, s) for i, s in enumerate(sizes))
            + b".\r\n")
        for i, s in enumerate(sizes):
            self.assertEqual(c.cmd("LIST %d" % (i + 1)),
                             "+OK %d %d" % (i + 1, s))
        self.assertEqual(c.cmd("UIDL"), "+OK Unique-ID listing follows")
        self.assertEqual(c.multi(), b"".join(
            b"%d %s\r\n" % (i + 1, uid_of(n).encode())
            for i, (_, n, _) in enumerate(KNOWN)) + b".\r\n")
        self.assertEqual(c.cmd("UIDL 2"), "+OK 2 " + uid_of(KNOWN[1][1]))
        c.ok("QUIT")

    def test_retr_byte_for_byte(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        for i, (_, name, data) in enumerate(KNOWN):
            size = list_size(data)
            self.assertEqual(c.cmd("LIST %d" % (i + 1)),
                             "+OK %d %d" % (i + 1, size))
            self.assertEqual(c.cmd("RETR %d" % (i + 1)),
                             "+OK %d octets" % size, name)
            got = c.multi(timeout=10)
            self.assertEqual(got, wire_retr(data), name)
        c.ok("NOOP")
        c.ok("QUIT")

    def test_top(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        for i, (_, name, data) in enumerate(KNOWN):
            for n in (0, 1, 2, 3, 1000000):
                self.assertEqual(c.cmd("TOP %d %d" % (i + 1, n)),
                                 "+OK Top of message follows")
                self.assertEqual(c.multi(timeout=10), wire_top(data, n),
                                 "%s TOP %d" % (name, n))
        c.ok("QUIT")

    def test_uidl_stable_and_unique(self):
        srv = self.start_server()
        listings = []
        for _ in range(2):
            c = self.wait_unlocked(srv)
            c.ok("UIDL")
            listings.append(c.multi())
            c.ok("QUIT")
            c.expect_eof()
        self.assertEqual(listings[0], listings[1])
        uids = [l.split(b" ")[1] for l in listings[0].split(b"\r\n")[:-2]]
        self.assertEqual(len(uids), len(KNOWN))
        self.assertEqual(len(set(uids)), len(uids))
        # Stable even when a MUA moves a message from new/ to cur/.
        md = self.mail.maildir()
        os.rename(os.path.join(md, "new", KNOWN[0][1]),
                  os.path.join(md, "cur", KNOWN[0][1] + ":2,S"))
        c = self.wait_unlocked(srv)
        c.ok("UIDL")
        self.assertEqual(c.multi(), listings[0])
        c.ok("QUIT")


class Update(Pop3TestCase):

    def test_dele_quit_removes_exactly_those(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        self.assertEqual(c.cmd("DELE 1"), "+OK Message 1 deleted")
        self.assertEqual(c.cmd("DELE 3"), "+OK Message 3 deleted")
        left = [k for i, k in enumerate(KNOWN) if i not in (0, 2)]
        self.assertEqual(c.cmd("STAT"), "+OK %d %d" % (
            len(left), sum(list_size(d) for _, _, d in left)))
        # Deleted messages drop out of LIST and UIDL; numbers stay.
        c.ok("LIST")
        self.assertNotIn(b"\r\n1 ", b"\r\n" + c.multi())
        self.assertEqual(c.cmd("LIST 2"),
                         "+OK 2 %d" % list_size(KNOWN[1][2]))
        self.assertEqual(c.cmd("QUIT"), "+OK Bye, 2 messages deleted")
        c.expect_eof()
        self.assertEqual(self.mail.files(),
                         sorted(os.path.join(s, n) for s, n, _ in left))
        c = self.wait_unlocked(srv)
        c.ok("UIDL")
        self.assertEqual(c.multi(), b"".join(
            b"%d %s\r\n" % (i + 1, uid_of(n).encode())
            for i, (_, n, _) in enumerate(left)) + b".\r\n")
        c.ok("QUIT")

    def test_dele_rset_quit_removes_nothing(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        before = self.mail.files()
        c.ok("DELE 1")
        c.ok("DELE 2")
        self.assertEqual(c.cmd("RSET"),
                         "+OK Maildrop has %d messages" % len(KNOWN))
        self.assertEqual(c.cmd("RETR 1"),
                         "+OK %d octets" % list_size(KNOWN[0][2]))
        c.multi()
        self.assertEqual(c.cmd("QUIT"), "+OK Bye, 0 messages deleted")
        c.expect_eof()
        self.assertEqual(self.mail.files(), before)

    def test_dele_dropped_connection_removes_nothing(self):
        srv = self.start_server()
        before = self.mail.files()
        for abort in (False, True):
            c = self.wait_unlocked(srv)
            c.ok("DELE 1")
            c.ok("DELE 2")
            if abort:               # RST instead of FIN
                import struct
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  struct.pack("ii", 1, 0))
            c.close()
        c = self.wait_unlocked(srv)
        self.assertEqual(c.cmd("STAT").split()[1], str(len(KNOWN)))
        c.ok("QUIT")
        self.assertEqual(self.mail.files(), before)

    def test_quit_in_authorization(self):
        srv = self.start_server()
        c = self.pop(srv)
        self.assertEqual(c.cmd("QUIT"), "+OK Bye")
        c.expect_eof()


class Lock(Pop3TestCase):

    def test_second_session_in_use(self):
        srv = self.start_server()
        a = self.pop(srv)
        a.login()
        b = self.pop(srv)
        b.ok("USER alice")
        self.assertEqual(b.cmd("PASS wonderland"),
                         "-ERR [IN-USE] Maildrop is locked by another "
                         "session")
        # Still in AUTHORIZATION, still usable.
        self.assertEqual(b.cmd("STAT"),
                         "-ERR Command not valid in this state")
        a.ok("DELE 1")
        a.ok("QUIT")
        a.expect_eof()
        self.assertEqual(b.cmd("PASS wonderland"),
                         "+OK Logged in, %d messages" % (len(KNOWN) - 1))
        b.ok("QUIT")

    def test_other_user_not_locked(self):
        self.mail.msgs["bob"] = []
        self.mail.make("bob", KNOWN[:2])
        srv = self.start_server()
        a = self.pop(srv)
        a.login()
        b = self.pop(srv)
        self.assertEqual(b.login("bob"), "+OK Logged in, 2 messages")
        b.ok("QUIT")
        a.ok("QUIT")

    def test_missing_maildir_is_created_empty(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.ok("USER bob")
        self.assertEqual(c.cmd("PASS builder"), "+OK Logged in, 0 messages")
        self.assertEqual(c.cmd("STAT"), "+OK 0 0")
        c.ok("LIST")
        self.assertEqual(c.multi(), b".\r\n")
        c.ok("QUIT")


class Snapshot(Pop3TestCase):

    def test_new_mail_not_listed_until_next_login(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        stat = c.cmd("STAT")
        self.mail.deliver("alice", "new", "1000000099.M9P9.test",
                          b"Subject: late\n\nlate mail\n")
        self.assertEqual(c.cmd("STAT"), stat)
        n = len(KNOWN)
        self.assertEqual(c.cmd("LIST %d" % (n + 1)), "-ERR No such message")
        c.ok("UIDL")
        self.assertNotIn(b"1000000099", c.multi())
        c.ok("QUIT")
        c.expect_eof()
        c = self.wait_unlocked(srv)
        self.assertEqual(c.cmd("LIST %d" % (n + 1)), "+OK %d %d" % (
            n + 1, list_size(b"Subject: late\n\nlate mail\n")))
        self.assertEqual(c.cmd("UIDL %d" % (n + 1)),
                         "+OK %d 1000000099.M9P9.test" % (n + 1))
        c.ok("QUIT")

    def test_message_removed_behind_our_back(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        os.unlink(os.path.join(self.mail.maildir(), "new", KNOWN[2][1]))
        got = c.cmd("RETR 3")
        if got.startswith("+OK"):
            c.multi()               # its size was known: still readable
        else:
            self.assertEqual(got, "-ERR [SYS/TEMP] Cannot read message")
        c.ok("DELE 3")
        self.assertEqual(c.cmd("QUIT"), "+OK Bye, 1 messages deleted")


class Capa(Pop3TestCase):

    CAPS = ["TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
            "PIPELINING", "SASL PLAIN"]

    # RFC 2449 5: CAPA tells what the current state offers; USER and
    # SASL are for logging in, so TRANSACTION does not list them.
    TRANS_CAPS = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                  "PIPELINING"]

    def test_capa_both_states(self):
        srv = self.start_server()
        c = self.pop(srv)
        for state, caps in (("auth", self.CAPS), ("trans", self.TRANS_CAPS)):
            self.assertEqual(c.cmd("CAPA"), "+OK Capability list follows")
            lines = c.multi_lines()
            self.assertEqual(lines[:len(caps)], caps, state)
            self.assertEqual(len(lines), len(caps) + 1)
            self.assertRegex(lines[-1], r"^IMPLEMENTATION posthorn-\S+$")
            if state == "auth":
                c.login()
        c.ok("QUIT")


class AuthPlain(Pop3TestCase):

    def test_initial_response(self):
        srv = self.start_server()
        c = self.pop(srv)
        self.assertEqual(c.cmd("AUTH PLAIN " + plain_b64("alice",
                                                         "wonderland")),
                         "+OK Logged in, %d messages" % len(KNOWN))
        c.ok("STAT")
        c.ok("QUIT")

    def test_continuation(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.send("AUTH PLAIN\r\n")
        self.assertEqual(c.raw_line(), b"+ \r\n")
        self.assertEqual(c.cmd(plain_b64("alice", "wonderland")),
                         "+OK Logged in, %d messages" % len(KNOWN))
        c.ok("QUIT")

    def test_empty_initial_response_refused(self):
        # RFC 5034 4: "=" is an empty initial response, which is not a
        # valid PLAIN message (RFC 4616): refused, the session goes on.
        srv = self.start_server()
        c = self.pop(srv)
        c.send("auth plain =\r\n")
        self.assertEqual(c.raw_line(), b"-ERR Invalid SASL PLAIN response\r\n")
        c.send("auth plain\r\n")
        self.assertEqual(c.raw_line(), b"+ \r\n")
        c.ok(plain_b64("alice", "wonderland"))

    def test_cancel_and_errors(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.send("AUTH PLAIN\r\n")
        self.assertEqual(c.raw_line(), b"+ \r\n")
        self.assertEqual(c.cmd("*"), "-ERR AUTH cancelled")
        self.assertEqual(c.cmd("AUTH PLAIN !!!!"),
                         "-ERR Invalid SASL PLAIN response")
        self.assertEqual(c.cmd("AUTH PLAIN " + "YWJj"),       # "abc": no NULs
                         "-ERR Invalid SASL PLAIN response")
        self.assertEqual(c.cmd("AUTH LOGIN"),
                         "-ERR Unsupported SASL mechanism")
        self.assertEqual(c.cmd("AUTH"),
                         "-ERR Syntax: AUTH mechanism [response]")
        self.assertEqual(c.cmd("AUTH PLAIN " + plain_b64("alice", "x")),
                         "-ERR [AUTH] Authentication failed")
        # A SASL answer may pass the 255-octet command limit (a PLAIN
        # message with long fields); one over 2048 ends the exchange and
        # the next line is a command again.
        c.send("AUTH PLAIN\r\n")
        self.assertEqual(c.raw_line(), b"+ \r\n")
        self.assertEqual(c.cmd(plain_b64("alice", "p" * 255)),
                         "-ERR [AUTH] Authentication failed")
        c.send("AUTH PLAIN\r\n")
        self.assertEqual(c.raw_line(), b"+ \r\n")
        self.assertEqual(c.cmd("A" * 3000),
                         "-ERR Line too long (max 255 octets)")
        self.assertEqual(c.cmd("STAT"),
                         "-ERR Command not valid in this state")
        self.assertEqual(c.cmd("NOOP " + "x" * 300),
                         "-ERR Line too long (max 255 octets)")
        c = self.pop(srv)           # max_errors is 10: start afresh
        c.ok("AUTH PLAIN " + plain_b64("alice", "wonderland"))
        self.assertEqual(c.cmd("AUTH PLAIN x"),
                         "-ERR Command not valid in this state")
        c.ok("QUIT")


class BadInput(Pop3TestCase):

    def test_line_length_limit(self):
        srv = self.start_server()
        c = self.pop(srv)
        # 255 octets with CRLF: accepted.
        name = "u" * (255 - 2 - len("USER "))
        self.assertEqual(c.cmd("USER " + name), "+OK Send PASS")
        # 256: refused; the session goes on.
        self.assertEqual(c.cmd("USER " + name + "u"),
                         "-ERR Line too long (max 255 octets)")
        # Same, split across packets, and a much longer one.
        for line in ("USER " + name, "USER " + name + "u",
                     "NOOP " + "x" * 5000):
            data = (line + "\r\n").encode()
            for i in range(0, len(data), 100):
                c.send(data[i:i + 100])
                time.sleep(0.01)
            got = c.line()
            if len(data) <= 255:
                self.assertEqual(got, "+OK Send PASS")
            else:
                self.assertEqual(got, "-ERR Line too long (max 255 octets)")
        c.login()
        c.ok("QUIT")

    def test_unknown_and_wrong_state(self):
        srv = self.start_server()
        c = self.pop(srv)
        self.assertEqual(c.cmd("FROB"), "-ERR Unknown command")
        self.assertEqual(c.cmd(""), "-ERR Invalid command syntax")
        self.assertEqual(c.cmd("X" * 17), "-ERR Invalid command syntax")
        for verb in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET"):
            self.assertEqual(c.cmd(verb),
                             "-ERR Command not valid in this state", verb)
        c = self.pop(srv)           # max_errors is 10: start afresh
        for verb in ("TOP 1 1", "UIDL"):
            self.assertEqual(c.cmd(verb),
                             "-ERR Command not valid in this state", verb)
        c.login()
        for verb in ("USER alice", "PASS wonderland", "APOP a b",
                     "AUTH PLAIN"):
            self.assertEqual(c.cmd(verb),
                             "-ERR Command not valid in this state", verb)
        self.assertEqual(c.cmd("stat").split()[0], "+OK")  # case-blind
        c.ok("QUIT")

    def test_bare_lf_and_nul_are_not_separators(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        c.send("NOOP\nDELE 1\r\n")
        self.assertTrue(c.line().startswith("-ERR"))
        c.send(b"NOOP\x00DELE 1\r\n")
        self.assertEqual(c.line(), "-ERR Invalid command syntax")
        self.assertEqual(c.cmd("QUIT"), "+OK Bye, 0 messages deleted")
        self.assertEqual(len(self.mail.files()), len(KNOWN))

    def test_message_numbers(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        n = len(KNOWN)
        for verb in ("RETR", "DELE", "LIST", "UIDL"):
            # max_errors is 10: a fresh session for each verb
            c.ok("QUIT")
            c = self.wait_unlocked(srv)
            if verb in ("RETR", "DELE"):
                self.assertEqual(c.cmd(verb),
                                 "-ERR Message number required")
            for bad in ("abc", "-1", "+1", "1x", "1.0"):
                self.assertEqual(c.cmd("%s %s" % (verb, bad)),
                                 "-ERR Invalid message number", verb + bad)
            for bad in ("0", str(n + 1), "99999999999"):
                got = c.cmd("%s %s" % (verb, bad))
                self.assertIn(got, ("-ERR No such message",
                                    "-ERR Invalid message number"),
                              verb + bad)
        c.ok("QUIT")
        c = self.wait_unlocked(srv)
        self.assertEqual(c.cmd("TOP 1"), "-ERR Syntax: TOP msg lines")
        self.assertEqual(c.cmd("TOP 1 x"), "-ERR Invalid line count")
        self.assertEqual(c.cmd("TOP 1 -1"), "-ERR Invalid line count")
        self.assertEqual(c.cmd("TOP 0 1"), "-ERR No such message")
        c.ok("DELE 1")
        for verb in ("RETR 1", "DELE 1", "LIST 1", "UIDL 1", "TOP 1 0"):
            self.assertEqual(c.cmd(verb), "-ERR Message already deleted",
                             verb)
        c.ok("RSET")
        c.ok("RETR 1")
        c.multi()
        c.ok("QUIT")

    def test_too_many_errors_closes(self):
        srv = self.start_server()
        c = self.pop(srv)
        for i in range(9):
            self.assertEqual(c.cmd("FROB %d" % i), "-ERR Unknown command")
        self.assertEqual(c.cmd("FROB 9"), "-ERR Unknown command")
        self.assertEqual(c.line(), "-ERR Too many errors, closing connection")
        c.expect_eof()
        # The server lives on.
        d = self.pop(srv)
        d.ok("QUIT")

    def test_errors_after_login_do_not_delete(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        c.ok("DELE 1")
        for i in range(9):
            c.err("RETR 999")
        self.assertEqual(c.cmd("RETR 999"), "-ERR No such message")
        self.assertEqual(c.line(), "-ERR Too many errors, closing connection")
        c.expect_eof()
        c = self.wait_unlocked(srv)
        self.assertEqual(c.cmd("STAT").split()[1], str(len(KNOWN)))


class Pipelining(Pop3TestCase):

    def test_all_in_one_write(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.send("USER alice\r\nPASS wonderland\r\nSTAT\r\nLIST\r\nRETR 5\r\n"
               "UIDL 1\r\nTOP 2 0\r\nDELE 2\r\nFROB\r\nNOOP\r\nRETR 1\r\n"
               "QUIT\r\n")
        self.assertEqual(c.line(), "+OK Send PASS")
        self.assertTrue(c.line().startswith("+OK Logged in"))
        self.assertTrue(c.line().startswith("+OK %d " % len(KNOWN)))
        self.assertEqual(c.line(), "+OK Scan listing follows")
        c.multi()
        self.assertEqual(c.line(), "+OK %d octets" % list_size(KNOWN[4][2]))
        self.assertEqual(c.multi(timeout=10), wire_retr(KNOWN[4][2]))
        self.assertEqual(c.line(), "+OK 1 " + uid_of(KNOWN[0][1]))
        self.assertEqual(c.line(), "+OK Top of message follows")
        self.assertEqual(c.multi(), wire_top(KNOWN[1][2], 0))
        self.assertEqual(c.line(), "+OK Message 2 deleted")
        self.assertEqual(c.line(), "-ERR Unknown command")
        self.assertEqual(c.line(), "+OK")
        self.assertEqual(c.line(), "+OK %d octets" % list_size(KNOWN[0][2]))
        self.assertEqual(c.multi(), wire_retr(KNOWN[0][2]))
        self.assertEqual(c.line(), "+OK Bye, 1 messages deleted")
        c.expect_eof()
        self.assertNotIn(os.path.join("cur", KNOWN[1][1]), self.mail.files())

    def test_big_retrs_pipelined_slow_reader(self):
        srv = self.start_server()
        c = self.pop(srv)
        c.login()
        c.send("RETR 5\r\n" * 8 + "NOOP\r\n")
        time.sleep(0.5)             # let the server fill the socket
        for _ in range(8):
            c.ok_line = c.line(timeout=10)
            self.assertEqual(c.ok_line, "+OK %d octets"
                             % list_size(KNOWN[4][2]))
            self.assertEqual(c.multi(timeout=10), wire_retr(KNOWN[4][2]))
        self.assertEqual(c.line(), "+OK")
        c.ok("QUIT")

    def test_byte_at_a_time(self):
        srv = self.start_server()
        c = self.pop(srv)
        for b in b"USER alice\r\nPASS wonderland\r\nSTAT\r\n":
            c.send(bytes([b]))
        self.assertEqual(c.line(), "+OK Send PASS")
        self.assertTrue(c.line().startswith("+OK Logged in"))
        self.assertTrue(c.line().startswith("+OK "))
        c.ok("QUIT")


class Curl(Pop3TestCase):

    def setUp(self):
        super().setUp()
        self.curl = shutil.which("curl")
        if self.curl is None:
            self.skipTest("curl not on PATH")

    def run_curl(self, url):
        r = subprocess.run([self.curl, "-s", "-S", "--max-time", "10", url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_retr_and_list(self):
        srv = self.start_server()
        base = "pop3://alice:wonderland@127.0.0.1:%d/" % srv.port
        got = self.run_curl(base + "1")
        self.assertEqual(got, b"".join(split_lines(KNOWN[0][2])))
        got = self.run_curl(base + "2")
        self.assertEqual(got, b"".join(split_lines(KNOWN[1][2])))
        got = self.run_curl(base)
        self.assertEqual(got, b"".join(
            b"%d %d\r\n" % (i + 1, list_size(d))
            for i, (_, _, d) in enumerate(KNOWN)))
        self.assertEqual(len(self.mail.files()), len(KNOWN))


class Shutdown(Pop3TestCase):

    def test_sigterm_with_sessions_open(self):
        srv = self.start_server()
        a = self.pop(srv)
        a.login()
        a.ok("DELE 1")
        b = self.pop(srv)
        srv.send_signal(15)
        self.assertEqual(a.line(), "-ERR [SYS/TEMP] Server shutting down")
        a.expect_eof()
        self.assertEqual(b.line(), "-ERR [SYS/TEMP] Server shutting down")
        b.expect_eof()
        self.assertEqual(srv.wait_exit(10), 0, srv.err)
        self.assertIsNone(srv.sanitizer_report())
        self.assertEqual(len(self.mail.files()), len(KNOWN))


if __name__ == "__main__":
    unittest.main()
