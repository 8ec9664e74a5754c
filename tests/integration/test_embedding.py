"""examples/embedded_loop: posthorn's ESMTP server on an event_base the
program owns and dispatches itself, next to a line service of the
program's own on the same base. Both must serve, each while the other has
a session open, and SIGTERM (added through ph_loop_add_signal on that
base) must end the process with 0 and no sanitizer report."""

import signal
import smtplib

import phtest

EMBEDDED = phtest.bin_path("examples", "embedded_loop")

MSG = (b"From: Alice <alice@example.org>\r\n"
       b"Subject: embedded\r\n"
       b"\r\n"
       b"one loop, two services\r\n")


class Embedding(phtest.TestCase):

    def setUp(self):
        super().setUp()
        self.require(EMBEDDED)
        self.srv = self.start([EMBEDDED])       # ports 0: both printed
        line = self.srv.wait_line(r"^echo port=\d+$")
        self.echo_port = int(line.split("=")[1])
        self.assertNotEqual(self.echo_port, self.srv.port)

    def echo(self):
        """A connection to the program's own service (no banner)."""
        return self.connect(self.echo_port, banner=None)

    def ask(self, client, line, want):
        client.send(line + "\r\n")
        self.assertEqual(client.read_line(), want)

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.srv.port, timeout=phtest.TIMEOUT)
        self.addCleanup(s.close)
        return s

    def test_smtplib_and_own_service(self):
        e = self.echo()
        self.ask(e, "hello", "echo hello")
        self.ask(e, "count", "messages=0")
        s = self.smtp()
        self.assertEqual(s.ehlo("client.example")[0], 250)
        self.assertTrue(s.has_extn("pipelining"))
        self.assertEqual(s.mail("alice@example.org")[0], 250)
        # The program's service answers while the SMTP session is open.
        self.ask(e, "between", "echo between")
        self.assertEqual(s.rcpt("bob@example.net")[0], 250)
        self.assertEqual(s.data(MSG), (250, b"2.0.0 Message accepted"))
        self.srv.wait_line(r"^message n=1$")
        # The count the SMTP server keeps is the one the service reports:
        # one thread, one base.
        self.ask(e, "count", "messages=1")
        self.assertEqual(s.sendmail("carol@example.org", ["dave@example.net"],
                                    MSG), {})
        self.ask(e, "count", "messages=2")
        s.quit()
        self.check_stopped(self.srv)

    def test_own_service_mid_data(self):
        """Half a message in, the program's service still answers, and
        the message then completes."""
        c = self.connect(self.srv)
        c.cmd("EHLO client.example", 250)
        c.cmd("MAIL FROM:<alice@example.org>", 250)
        c.cmd("RCPT TO:<bob@example.net>", 250)
        c.cmd("DATA", 354)
        c.send(b"Subject: halves\r\n\r\nthe first half, ")
        e = self.echo()
        self.ask(e, "ping", "echo ping")
        self.ask(e, "count", "messages=0")
        c.send(b"and the second\r\n.\r\n")
        c.expect(250, "Message accepted")
        self.ask(e, "count", "messages=1")
        c.cmd("QUIT", 221)
        self.check_stopped(self.srv)

    def test_both_at_once(self):
        """Commands to both services written before either answer is
        read: neither waits for the other."""
        c = self.connect(self.srv)
        e = self.echo()
        c.send("EHLO client.example\r\nNOOP\r\n")
        e.send("first\r\nsecond\r\n")
        self.assertEqual(e.read_line(), "echo first")
        self.assertEqual(e.read_line(), "echo second")
        self.assertEqual(c.reply()[0], 250)
        c.expect(250)
        c.cmd("QUIT", 221)
        self.check_stopped(self.srv)

    def test_sigterm_with_sessions_open(self):
        """SIGTERM: posthorn's session gets 421 and is closed, the
        program closes its own connection, the base runs dry, exit 0."""
        c = self.connect(self.srv)
        c.cmd("EHLO client.example", 250)
        e = self.echo()
        self.ask(e, "hello", "echo hello")
        self.srv.send_signal(signal.SIGTERM)
        self.srv.wait_line(r"^stopping signal=%d$" % signal.SIGTERM)
        c.expect(421, "4.3.2")
        c.expect_eof()
        e.expect_eof()
        self.assertEqual(self.srv.wait_exit(), 0,
                         "\n".join(self.srv.err[-30:]))
        self.assertIsNone(self.srv.sanitizer_report(),
                          self.srv.sanitizer_report())

    def test_sigterm_idle(self):
        self.check_stopped(self.srv)
