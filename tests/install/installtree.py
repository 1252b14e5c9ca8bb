"""Shared helpers of the install tests: the trees CTest names, running a
tool, installing into a temporary prefix, skipping when a tool is absent.

CTest passes CG_SOURCE_DIR, CG_BUILD_DIR, CMAKE_COMMAND and CPACK_COMMAND
(tests/install/CMakeLists.txt). Every test works in folders made by
tempfile and removes them, whatever happens.
"""
import os
import shutil
import subprocess
import sys

SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests

SOURCE_DIR = os.environ.get("CG_SOURCE_DIR", "")
BUILD_DIR = os.environ.get("CG_BUILD_DIR", "")
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
CPACK = os.environ.get("CPACK_COMMAND", "cpack")
STATE_DIR = "/var/lib/citygate"
MAN_PAGES = ("man1/citygate.1", "man5/citygate.yaml.5",
             "man5/citygate-rules.5")


def fail(msg):
    """Ends the test as failed with one clear line."""
    print("FAIL: " + msg)
    sys.exit(1)


def skip(msg):
    """Ends the test as skipped (CTest shows it as such) with the reason."""
    print("SKIP: " + msg)
    sys.exit(SKIP)


def check(cond, msg):
    if not cond:
        fail(msg)


def run(cmd, env=None, ok=(0,), cwd=None):
    """Runs cmd, returns (returncode, stdout, stderr) as text; a return
    code outside ok fails the test with the command's output."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       cwd=cwd, timeout=240)
    if ok is not None and p.returncode not in ok:
        fail("%s exited %d\nstdout:\n%s\nstderr:\n%s" %
             (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


def need_trees():
    check(os.path.isdir(SOURCE_DIR) and os.path.isdir(BUILD_DIR),
          "CG_SOURCE_DIR and CG_BUILD_DIR must name the source and build "
          "trees (run through ctest)")


def install_into(prefix):
    """`cmake --install` of the whole build into prefix."""
    need_trees()
    run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix])


def tool(name):
    """The path of a command, looked up in PATH and the sbin folders."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return shutil.which(name, path=path)


def example_rule_files():
    rules = os.path.join(SOURCE_DIR, "config", "rules")
    return sorted(f for f in os.listdir(rules) if f.endswith(".yaml"))


def example_table_files():
    """Files under config/tables, relative to config/ (none: empty)."""
    top = os.path.join(SOURCE_DIR, "config")
    out = []
    for root, _, files in os.walk(os.path.join(top, "tables")):
        out += [os.path.relpath(os.path.join(root, f), top) for f in files]
    return sorted(out)


def unit_directives(text):
    """The unit's assignments as {key: [values...]} (a key may repeat)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out.setdefault(key.strip(), []).append(value.strip())
    return out
