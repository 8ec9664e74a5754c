"""The parsers include nothing but their own header and libc (STYLE 1:
their include list shows they are pure, so cmocka and libFuzzer call
them directly). The compiler lists every header each parser source
pulls in (-M); none may be another project header, libevent's or
OpenSSL's. A parser that reaches them through a private header fails
here, not only in review."""

import os
import re
import shlex
import subprocess
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
CC = shlex.split(os.environ.get("PH_CC") or "cc")

# parser source: the one project header it may include
PARSERS = {
    "src/smtp/smtp_parse.c": "src/smtp/smtp_parse.h",
    "src/smtp/smtp_path.c": "src/smtp/smtp_parse.h",
    "src/smtp/smtp_data.c": "src/smtp/smtp_parse.h",
    "src/smtp/smtp_header.c": "src/smtp/smtp_parse.h",
    "src/pop3/pop3_parse.c": "src/pop3/pop3_parse.h",
}

FOREIGN = re.compile(r"/(event2|openssl)/|/event\.h$|/evutil\.h$")


def headers(source):
    """Every file the compiler reads for source, as absolute paths."""
    r = subprocess.run(
        CC + ["-std=c11", "-M", "-I", os.path.join(ROOT, "src"),
              "-I", os.path.join(ROOT, "include"),
              os.path.join(ROOT, source)],
        capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("%s -M %s failed: %s"
                             % (CC[0], source, r.stderr))
    deps = r.stdout.replace("\\\n", " ").split(":", 1)[1].split()
    return [os.path.normpath(os.path.join(ROOT, d)) for d in deps]


class PureParsers(unittest.TestCase):

    def test_parsers_include_only_their_header(self):
        for source, own in PARSERS.items():
            with self.subTest(source=source):
                allowed = {os.path.join(ROOT, source),
                           os.path.join(ROOT, own)}
                for h in headers(source):
                    if h.startswith(ROOT + os.sep):
                        self.assertIn(h, allowed, "%s includes %s"
                                      % (source, h))
                    self.assertIsNone(FOREIGN.search(h), "%s includes %s"
                                      % (source, h))

    def test_the_check_sees_a_private_header(self):
        # pop3_internal.h reaches libevent: the check must notice.
        deps = headers("src/pop3/pop3_session.c")
        self.assertTrue([h for h in deps if FOREIGN.search(h)], deps)
        self.assertIn(os.path.join(ROOT, "src/pop3/pop3_internal.h"), deps)


if __name__ == "__main__":
    unittest.main()
