"""The POP3 seed's event model: examples/pop3_plugin (the PLUGIN TEMPLATE:
"Default called for EVENT" for every inbound event), a listener
registered with ph_pop3_register (pop3_testd -E) and a POP3C plugin that
rewrites or suppresses responses (pop3_testd -R / -X)."""

import re
import unittest

from test_pop3_common import (KNOWN, POP3_PLUGIN, Pop3TestCase, list_size,
                              wire_retr)

# A session id: the log's, 16 hex digits (ph_pop3_session_id).
SID = r"[0-9a-f]{16}"


class TemplatePlugin(Pop3TestCase):

    def start_plugin(self):
        self.require(POP3_PLUGIN)
        return self.start([POP3_PLUGIN, "0", self.mail.maildir(), "alice",
                           "wonderland"])

    def test_default_called_for_every_event(self):
        srv = self.start_plugin()
        c = self.pop(srv)
        srv.wait_line(r"^Default called for connection$")
        steps = [("USER alice", "cmd_user"), ("PASS wonderland", "cmd_pass"),
                 ("STAT", "cmd_stat"), ("LIST 1", "cmd_list"),
                 ("UIDL 1", "cmd_uidl"), ("NOOP", "cmd_noop"),
                 ("DELE 1", "cmd_dele"), ("RSET", "cmd_rset")]
        for line, ev in steps:
            m = srv.mark()
            c.ok(line)
            srv.wait_line(r"^Default called for %s$" % ev, start=m)
        m = srv.mark()
        self.assertEqual(c.cmd("RETR 1"),
                         "+OK %d octets" % list_size(KNOWN[0][2]))
        self.assertEqual(c.multi(), wire_retr(KNOWN[0][2]))
        srv.wait_line(r"^Default called for cmd_retr$", start=m)
        m = srv.mark()
        c.ok("QUIT")
        c.expect_eof()
        srv.wait_line(r"^Default called for cmd_quit$", start=m)
        srv.wait_line(r"^Default called for disconnected$", start=m)
        # Unknown verbs make no event: only the table's verbs do.
        d = self.pop(srv)
        d.err("FROB", "-ERR Unknown command")
        d.ok("QUIT")
        d.expect_eof()
        srv.settle()
        self.assertEqual(srv.out("Default called for cmd_frob"), [])
        self.assertEqual(len(self.mail.files()), len(KNOWN))

    def test_wrong_password(self):
        srv = self.start_plugin()
        c = self.pop(srv)
        c.ok("USER alice")
        c.err("PASS builder", "-ERR [AUTH] Authentication failed")
        srv.wait_line(r"^Default called for cmd_pass$")


class Listener(Pop3TestCase):

    def test_events_in_order(self):
        srv = self.start_pop3_testd("-E")
        self.assertEqual(srv.out("EVENT registered"), ["EVENT registered"])
        c = self.pop(srv)
        c.login()
        c.ok("LIST 2")
        c.ok("TOP 2 0")
        c.multi()
        c.err("FROB")
        c.ok("QUIT")
        c.expect_eof()
        srv.wait_line(r"^EVENT disconnected %s$" % SID)
        events = srv.out("EVENT ")
        m = re.match(r"^EVENT connection (%s) 127\.0\.0\.1 \d+ "
                     r"127\.0\.0\.1 %d$" % (SID, srv.port), events[1])
        self.assertTrue(m, events[1])
        sid = m.group(1)            # the session id, as in the log
        self.assertEqual(events[2:], [e % sid for e in [
            "EVENT cmd_user %s alice", "EVENT cmd_pass %s wonderland",
            "EVENT cmd_list %s 2", "EVENT cmd_top %s 2 0", "EVENT cmd_quit %s",
            "EVENT disconnected %s"]])

    def test_client_ids(self):
        srv = self.start_pop3_testd("-E")
        a = self.pop(srv)
        b = self.pop(srv)
        b.ok("USER bob")
        a.ok("USER alice")
        bob = srv.wait_line(r"^EVENT cmd_user %s bob$" % SID).split()[2]
        alice = srv.wait_line(r"^EVENT cmd_user %s alice$" % SID).split()[2]
        self.assertNotEqual(alice, bob)     # one id per session


class ResponsePlugin(Pop3TestCase):

    def test_rewrite(self):
        srv = self.start_pop3_testd("-R", "+OK Send PASS=+OK Rewritten: "
                                    "send PASS")
        c = self.pop(srv)
        self.assertEqual(c.cmd("USER alice"), "+OK Rewritten: send PASS")
        c.ok("PASS wonderland")
        c.ok("QUIT")

    def test_rewritten_line_stays_within_512_octets(self):
        # RFC 2449 4: a response line is at most 512 octets with CRLF,
        # whatever a plugin makes of it.
        srv = self.start_pop3_testd("-R", "+OK testd.example=+OK " + "A" * 700)
        c = self.pop(srv)
        self.assertTrue(c.greeting.startswith("+OK AAAA"))
        self.assertLessEqual(len(c.greeting.encode()) + 2, 512)
        c.ok("QUIT")

    def test_rewrite_greeting(self):
        srv = self.start_pop3_testd("-R", "+OK testd.example=+OK hidden")
        c = self.pop(srv)
        self.assertRegex(c.greeting, r"^\+OK hidden posthorn \S+ ready$")
        c.ok("QUIT")

    def test_rewrite_status_of_multiline(self):
        srv = self.start_pop3_testd("-R", "+OK Scan=+OK Rewritten scan")
        c = self.pop(srv)
        c.login()
        self.assertEqual(c.cmd("LIST"), "+OK Rewritten scan listing follows")
        self.assertEqual(c.multi(), b"".join(
            b"%d %d\r\n" % (i + 1, list_size(d))
            for i, (_, _, d) in enumerate(KNOWN)) + b".\r\n")
        c.ok("QUIT")

    def test_suppress(self):
        srv = self.start_pop3_testd("-X", "+OK Send PASS")
        c = self.pop(srv)
        c.send("USER alice\r\n")
        # Nothing for USER; the session goes on with the next command.
        self.assertEqual(c.cmd("PASS wonderland"),
                         "+OK Logged in, %d messages" % len(KNOWN))
        c.ok("QUIT")


if __name__ == "__main__":
    unittest.main()
