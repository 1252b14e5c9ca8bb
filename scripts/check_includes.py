#!/usr/bin/env python3
"""Fails when an #include closes a circle, between files or between folders.

The folders of the product depend on each other one way (README, Layout):
base/ and include/ at the bottom, then rules/, config/, plugins/, then the
gateway's stages, with cli/ on top. A quoted include is resolved as the
compiler does it (the including file's folder first, then the include
folders the build gives), and the graph of files and the graph of folders
must both be free of cycles. Prints each cycle found; exit status 1 if any.
"""

import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SOURCE_DIRS = ["base", "include", "rules", "config", "plugins", "gateway"]
INCLUDE_DIRS = ["gateway", "base", "include", "rules", "config", "plugins"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    for top in SOURCE_DIRS:
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith((".c", ".h")):
                    yield os.path.join(folder, name)


def resolve(including, name):
    for folder in [os.path.dirname(including)] + [
            os.path.join(ROOT, d) for d in INCLUDE_DIRS]:
        path = os.path.normpath(os.path.join(folder, name))
        if os.path.isfile(path):
            return path
    return None  # a generated or system header: not ours to check


def graphs():
    files, folders = {}, {}
    for path in sources():
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        targets = [t for t in (resolve(path, n) for n in INCLUDE.findall(text))
                   if t]
        files[path] = set(targets)
        here = os.path.dirname(path)
        folders.setdefault(here, set()).update(
            os.path.dirname(t) for t in targets if os.path.dirname(t) != here)
    return files, folders


def cycles(graph):
    """Each cycle once, as the list of nodes along it."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def main():
    files, folders = graphs()
    bad = [("files", c) for c in cycles(files)]
    bad += [("folders", c) for c in cycles(folders)]
    for kind, cycle in bad:
        print("include circle between %s: %s" % (
            kind, " -> ".join(os.path.relpath(p, ROOT) for p in cycle)))
    if not bad:
        print("includes: %d files, %d folders, no circle" % (len(files),
                                                             len(folders)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
