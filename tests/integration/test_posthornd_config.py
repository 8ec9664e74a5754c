"""posthornd's numeric options (posthornd(8), posthornd.conf(5)): each
one's bounds, on the command line and in the config file. --check-config
parses, reports every bad value (with the range it should be in) and
exits 1, and starts nothing."""

import os
import shutil
import subprocess
import tempfile
import unittest

import phtest

DAEMON = os.path.join(phtest.BIN_DIR, "posthornd")

# option: (smallest, largest) value accepted
BOUNDS = {
    "max-message-size": (1, 1 << 40),
    "max-recipients": (1, 100000),
    "idle-timeout": (1, 86400),
    "auth-fail-delay": (0, 60),
    "max-auth-failures": (1, 1000),
    "max-auth-failures-per-address": (0, 1000000),
    "auth-failure-window": (1, 86400),
    "max-connections": (0, 1000000),
    "max-connections-per-address": (0, 1000000),
    "max-session-time": (0, 604800),
    "max-noop-commands": (0, 1000000),
}

# Not a number, whatever the option.
JUNK = ["", "x", "12x", "-1", "+5", "0x10", "1e3", "99999999999999999999999"]


class NumericOptions(phtest.TestCase):

    def setUp(self):
        super().setUp()
        self.require(DAEMON)
        self.dir = tempfile.mkdtemp(prefix="ph-config-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.users = os.path.join(self.dir, "users")
        with open(self.users, "w") as f:
            f.write("alice@example.org:{PLAIN}secret\n")

    def check(self, *args):
        return subprocess.run(
            [DAEMON, "--check-config", "--users", self.users,
             "--mail-root", os.path.join(self.dir, "mail")] + list(args),
            capture_output=True, timeout=10, cwd=self.dir,
            stdin=subprocess.DEVNULL)

    def conf(self, lines):
        path = os.path.join(self.dir, "posthornd.conf")
        with open(path, "w") as f:
            f.write("".join("%s = %s\n" % kv for kv in lines))
        return path

    @staticmethod
    def good():
        return [(o, str(v)) for o, b in BOUNDS.items() for v in b]

    @staticmethod
    def bad():
        out = []
        for o, (lo, hi) in BOUNDS.items():
            if lo > 0:
                out.append((o, str(lo - 1)))
            out.append((o, str(hi + 1)))
            out += [(o, j) for j in JUNK]
        return out

    def test_bounds_accepted_on_command_line(self):
        args = [a for o, v in self.good() for a in ("--" + o, v)]
        r = self.check(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"configuration OK", r.stdout)

    def test_bounds_accepted_in_file(self):
        r = self.check("--config", self.conf(self.good()))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_leading_zeros_accepted(self):
        r = self.check("--max-recipients", "007", "--auth-fail-delay", "00")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_out_of_bounds_on_command_line(self):
        bad = self.bad()
        r = self.check(*[a for o, v in bad for a in ("--" + o, v)])
        self.assertEqual(r.returncode, 1)
        err = r.stderr.decode()
        for o, v in bad:
            self.assertIn("posthornd: bad value for --%s: '%s' (%d to %d "
                          % ((o, v) + BOUNDS[o]), err)
        self.assertEqual(err.count("bad value"), len(bad), err)
        self.assertIn("configuration has errors", err)

    def test_out_of_bounds_in_file(self):
        bad = self.bad()
        path = self.conf(bad)
        r = self.check("--config", path)
        self.assertEqual(r.returncode, 1)
        err = r.stderr.decode()
        for n, (o, v) in enumerate(bad, 1):
            self.assertIn("posthornd: %s:%d: bad value for '%s' (%d to %d "
                          % ((path, n, o) + BOUNDS[o]), err)
        self.assertEqual(err.count("bad value"), len(bad), err)

    def test_check_config_reports_connection_limits(self):
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"posthornd: connections: 1000 in all, 30 per "
                      b"address (0: no limit)\n", r.stdout)
        r = self.check("--max-connections", "0",
                       "--max-connections-per-address", "0")
        self.assertIn(b"connections: 0 in all, 0 per address", r.stdout)

    def test_check_config_warns_when_descriptors_are_short(self):
        import resource

        def low():
            resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

        r = subprocess.run(
            [DAEMON, "--check-config", "--users", self.users,
             "--max-connections", "50"],
            capture_output=True, timeout=10, cwd=self.dir,
            stdin=subprocess.DEVNULL, preexec_fn=low)
        self.assertEqual(r.returncode, 0, r.stderr)     # a warning only
        self.assertIn(b"posthornd: warning: max-connections 50 plus 64 "
                      b"reserved descriptors exceed the hard limit of 100: "
                      b"posthornd will accept 36 connections\n", r.stdout)

    def test_without_check_config_bad_value_is_usage_error(self):
        r = self.check("--max-recipients", "0")
        self.assertEqual(r.returncode, 1)       # --check-config: 1
        r = subprocess.run([DAEMON, "--max-recipients", "0"],
                           capture_output=True, timeout=10, cwd=self.dir,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2)       # usage, nothing started
        self.assertIn(b"bad value for --max-recipients: '0' "
                      b"(1 to 100000 recipients)\n", r.stderr)
        self.assertIn(b"usage:", r.stderr)


if __name__ == "__main__":
    unittest.main()
