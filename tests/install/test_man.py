#!/usr/bin/env python3
"""The man pages render without a single warning: `mandoc -T lint -W
warning` and `groff -ww -man` at 60 and 80 columns (lines that cannot be
broken, unknown macros, bad escapes). Each page's .TH names its file, and
the compressed copies the build installs hold exactly the source.
"""
import gzip
import os

from installtree import (BUILD_DIR, MAN_PAGES, SOURCE_DIR, check, fail,
                         need_trees, run, skip, tool)


def check_header(path, name, section):
    with open(path) as f:
        th = [line for line in f if line.startswith(".TH ")]
    check(len(th) == 1, path + ": expected one .TH")
    words = th[0].split()
    want = name.upper().replace("-", "\\-")
    check(words[1] == want and words[2] == section,
          "%s: .TH %s %s, want %s %s" % (path, words[1], words[2], want,
                                         section))


def lint(path, mandoc, groff):
    if mandoc:
        rc, out, err = run([mandoc, "-T", "lint", "-W", "warning", path],
                           ok=None)
        check(rc == 0 and not (out + err).strip(),
              "mandoc lint %s:\n%s%s" % (path, out, err))
    if groff:
        for width in (60, 80):
            _, out, err = run([groff, "-ww", "-man", "-Tutf8",
                               "-rLL=%dn" % width, "-z", path])
            check(not (out + err).strip(),
                  "groff at %d columns, %s:\n%s%s" % (width, path, out, err))


def check_compressed(page):
    gz = os.path.join(BUILD_DIR, "man", os.path.basename(page) + ".gz")
    src = os.path.join(SOURCE_DIR, "man", os.path.basename(page))
    with gzip.open(gz, "rb") as f, open(src, "rb") as g:
        check(f.read() == g.read(), gz + " differs from " + src)


def main():
    need_trees()
    mandoc, groff = tool("mandoc"), tool("groff")
    if not mandoc and not groff:
        skip("neither mandoc nor groff is installed (Debian packages "
             "mandoc, groff-base)")
    for page in MAN_PAGES:
        name, section = os.path.basename(page).rsplit(".", 1)
        path = os.path.join(SOURCE_DIR, "man", os.path.basename(page))
        check_header(path, name, section)
        lint(path, mandoc, groff)
        check_compressed(page)
        print("ok: %s(%s): no warning from %s" % (name, section, " or ".join(
            os.path.basename(t) for t in (mandoc, groff) if t)))
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        fail(str(e))
