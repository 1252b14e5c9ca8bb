#!/usr/bin/env python3
"""Documentation in step with the code: every config key the schema
tables define (config/*.c: the FIELD(..., "key", ...) rows and the
`.key = "..."` rows) appears in the section 5 man pages and in README.md,
and every long option of the command line (the {'x', "name", ...} rows of
gateway/**/*.c, the getopt table of sim/options.c) appears as --name in
citygate(1) and in README.md.

Man pages are read as text with the roff escapes and macro names taken
out, so the test needs no formatter.
"""
import glob
import os
import re

from installtree import SOURCE_DIR, check, fail, need_trees

# Keys of the schema that are deliberately not documented, with the
# reason. Keep it tiny: a key an operator can write belongs in the docs.
INTERNAL_KEYS = {}

FIELD_ROW = re.compile(r'FIELD\(\s*[^,()]+,\s*[^,()]+,\s*"([^"]+)"')
KEY_ROW = re.compile(r'\.key\s*=\s*"([^"]+)"')
# {'c', "config", ...} or, for a long option without a letter, {0, "strict", ...}
CLI_ROW = re.compile(r"\{\s*(?:'[A-Za-z0-9]'|0)\s*,\s*\"([a-z][a-z0-9-]*)\"")
GETOPT_ROW = re.compile(
    r'\{\s*"([a-z][a-z0-9-]*)"\s*,\s*(?:no|required|optional)_argument')


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def schema_keys():
    keys = {}
    for path in sorted(glob.glob(os.path.join(SOURCE_DIR, "config", "*.c"))):
        text = read(path)
        for key in FIELD_ROW.findall(text) + KEY_ROW.findall(text):
            keys.setdefault(key, os.path.basename(path))
    check(len(keys) > 40, "found only %d schema keys: has the table "
          "syntax changed?" % len(keys))
    return keys


def long_options():
    opts = {}
    pattern = os.path.join(SOURCE_DIR, "gateway", "**", "*.c")
    for path in sorted(glob.glob(pattern, recursive=True)):
        for name in CLI_ROW.findall(read(path)):
            opts.setdefault(name, os.path.relpath(path, SOURCE_DIR))
    check("config" in opts and "strict" in opts,
          "no {'c', \"config\", ...} or {0, \"strict\", ...} row in gateway/: "
          "has the option table syntax changed?")
    sim = os.path.join(SOURCE_DIR, "sim", "options.c")
    for name in GETOPT_ROW.findall(read(sim)):
        opts.setdefault(name, "sim/options.c")
    return opts


def man_text(page):
    """The words of a roff page: escapes resolved or dropped, macro names
    and argument quotes removed."""
    text = read(os.path.join(SOURCE_DIR, "man", page))
    text = re.sub(r"^\.\\\".*$", "", text, flags=re.M)  # comments
    text = re.sub(r"\\f[BIRP]", "", text)
    text = re.sub(r"\\\((dq|aq)", "'", text)
    text = re.sub(r"\\\(..", " ", text)
    text = text.replace("\\-", "-").replace("\\&", "").replace("\\:", "")
    text = text.replace("\\~", " ").replace("\\ ", " ").replace("\\e", "\\")
    text = re.sub(r"^\.[A-Za-z]+", "", text, flags=re.M)
    return text.replace('"', " ")


def has_word(text, word, joiner="_"):
    """word appears on its own: not inside a longer name (letters, digits
    and joiner characters around it)."""
    edge = "A-Za-z0-9" + re.escape(joiner)
    return re.search(r"(?<![%s])%s(?![%s])" % (edge, re.escape(word), edge),
                     text) is not None


def missing(names, texts, fmt, joiner):
    out = []
    for name, origin in sorted(names.items()):
        for label, text in texts.items():
            if not has_word(text, fmt % name, joiner):
                out.append("%s (%s) is not in %s" % (fmt % name, origin,
                                                      label))
    return out


def main():
    need_trees()
    readme = read(os.path.join(SOURCE_DIR, "README.md"))
    section5 = man_text("citygate.yaml.5") + man_text("citygate-rules.5")
    keys = {k: v for k, v in schema_keys().items() if k not in INTERNAL_KEYS}
    opts = long_options()
    problems = missing(keys, {"citygate.yaml(5)/citygate-rules(5)": section5,
                              "README.md": readme}, "%s", "_")
    problems += missing(opts, {"citygate(1)": man_text("citygate.1"),
                               "README.md": readme}, "--%s", "-")
    if problems:
        fail("undocumented:\n  " + "\n  ".join(problems))
    print("ok: %d config keys in the man pages and README: %s" %
          (len(keys), " ".join(sorted(keys))))
    print("ok: %d long options in citygate(1) and README: %s" %
          (len(opts), " ".join("--" + o for o in sorted(opts))))
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        fail(str(e))
