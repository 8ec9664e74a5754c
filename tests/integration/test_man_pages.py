"""The man pages cover the public API (STYLE 12: a man page in the same
commit as the API it describes): every PH_API function declared in
include/posthorn/*.h is named (.Nm) by some page in docs/man/, and every
page renders without warnings (mandoc -Tlint, or groff -ww when mandoc
is missing)."""

import glob
import os
import re
import shutil
import subprocess
import unittest

ROOT = os.path.normpath(os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "..", ".."))
HEADERS = sorted(glob.glob(os.path.join(ROOT, "include", "posthorn", "*.h")))
PAGES = sorted(glob.glob(os.path.join(ROOT, "docs", "man", "*.[358]")))

API_RE = re.compile(r"\bPH_API\b[^;{(]*?\b(ph_\w+)\s*\(")


def api_functions():
    """{name: header} of every PH_API function declaration."""
    out = {}
    for h in HEADERS:
        with open(h) as f:
            text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
        for m in API_RE.finditer(text):
            out[m.group(1)] = os.path.basename(h)
    return out


def named_in_pages():
    names = set()
    for p in PAGES:
        with open(p) as f:
            for line in f:
                m = re.match(r"\.Nm\s+(\S+)", line)
                if m:
                    names.add(m.group(1))
    return names


class ManPages(unittest.TestCase):

    def test_every_api_function_has_a_page(self):
        api = api_functions()
        self.assertGreater(len(api), 100)       # the parse found them
        named = named_in_pages()
        missing = sorted("%s (%s)" % (n, h) for n, h in api.items()
                         if n not in named)
        self.assertEqual(missing, [], "PH_API functions without a page")

    def test_pages_render_without_warnings(self):
        mandoc, groff = shutil.which("mandoc"), shutil.which("groff")
        if mandoc is None and groff is None:
            self.skipTest("neither mandoc nor groff installed")
        for p in PAGES:
            with self.subTest(page=os.path.basename(p)):
                if mandoc:
                    argv = [mandoc, "-Tlint", "-W", "warning", p]
                else:
                    argv = [groff, "-mandoc", "-Tutf8", "-ww", "-z", p]
                r = subprocess.run(argv, capture_output=True, text=True,
                                   timeout=60)
                # mandoc -Tlint: 0 clean, 2 warnings, 3+ errors
                self.assertEqual((r.returncode, r.stdout + r.stderr),
                                 (0, ""))


if __name__ == "__main__":
    unittest.main()
