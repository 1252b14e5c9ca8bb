#!/usr/bin/env python3
"""`cmake --install` into a temporary prefix (SPEC §16): exactly the
expected files, the installed binaries run, and the installed config is
the example city with only its spool and file sink moved under
/var/lib/citygate, which `citygate check` and `citygate test` accept.
"""
import os
import stat
import tempfile

from installtree import (SOURCE_DIR, STATE_DIR, MAN_PAGES, check, fail,
                         install_into, run, tool, example_rule_files,
                         example_table_files)


def expected_files():
    files = ["bin/citygate", "bin/citygate-sim",
             "etc/citygate/citygate.yaml",
             "lib/systemd/system/citygate.service",
             "include/citygate/citygate_plugin.h",
             "share/pkgconfig/citygate-plugin.pc",
             "share/doc/citygate/README.md",
             "share/doc/citygate/mosquitto.conf"]
    files += ["share/man/%s.gz" % page for page in MAN_PAGES]
    files += ["etc/citygate/rules/" + f for f in example_rule_files()]
    files += ["etc/citygate/" + f for f in example_table_files()]
    return sorted(files)


def installed_files(prefix):
    out = []
    for root, _, files in os.walk(prefix):
        out += [os.path.relpath(os.path.join(root, f), prefix) for f in files]
    return sorted(out)


def check_tree(prefix):
    want, got = set(expected_files()), set(installed_files(prefix))
    check(not want - got, "not installed: %s" % sorted(want - got))
    check(not got - want, "installed but not expected: %s" %
          sorted(got - want))
    for exe in ("bin/citygate", "bin/citygate-sim"):
        mode = os.stat(os.path.join(prefix, exe)).st_mode
        check(mode & stat.S_IXOTH, exe + " is not executable")
    print("ok: %d files, exactly the expected ones" % len(want))


def check_binaries(prefix):
    gw = os.path.join(prefix, "bin", "citygate")
    _, version, _ = run([gw, "--version"])
    check(version.startswith("citygate "), "citygate --version: " + version)
    _, out, _ = run([os.path.join(prefix, "bin", "citygate-sim"), "--help"])
    check("--scenario" in out, "citygate-sim --help: " + out)
    print("ok: the installed binaries run: " + version.strip())


def summary(gw, config):
    """`citygate check` of a config: its stdout, which names every
    vendor, consumer (a file sink by its resolved path) and rule."""
    return run([gw, "check", "-c", config])[1].splitlines()


def compare_configs(example, installed):
    """The installed config is the example plus a header comment, with
    only spool_dir and file-sink path lines changed, to STATE_DIR."""
    with open(example) as f:
        ex = f.read().splitlines()
    with open(installed) as f:
        inst = f.read().splitlines()
    check(ex[0] in inst, "the installed config does not hold the example")
    start = inst.index(ex[0])
    check(all(line.startswith("#") for line in inst[:start]),
          "the installed config's header is not a comment")
    body = inst[start:]
    check(len(body) == len(ex), "the installed config has %d lines, the "
          "example %d" % (len(body), len(ex)))
    changed = [(a, b) for a, b in zip(ex, body) if a != b]
    keys = []
    for a, b in changed:
        key = a.split(":", 1)[0].strip()
        check(key in ("spool_dir", "path") and b.split(":", 1)[0] ==
              a.split(":", 1)[0], "unexpected change:\n  %s\n  %s" % (a, b))
        value = b.split(":", 1)[1].split("#", 1)[0].strip()
        check(value == STATE_DIR or value.startswith(STATE_DIR + "/"),
              "%s is not under %s: %s" % (key, STATE_DIR, b))
        keys.append(key)
    check("spool_dir" in keys, "spool_dir was not changed")
    print("ok: installed config = example with %d lines changed (%s)" %
          (len(changed), ", ".join(keys)))


def check_config(prefix):
    gw = os.path.join(prefix, "bin", "citygate")
    installed = os.path.join(prefix, "etc", "citygate", "citygate.yaml")
    example = os.path.join(SOURCE_DIR, "config", "citygate.yaml")
    compare_configs(example, installed)
    # check validates only: it neither creates nor needs /var/lib/citygate.
    got, want = summary(gw, installed), summary(gw, example)
    check(len(got) == len(want), "check summaries differ in length")
    diff = [(a, b) for a, b in zip(want, got) if a != b]
    for a, b in diff[1:]:  # the first line names the config file
        check(" file " in a and STATE_DIR + "/" in b,
              "check summary differs:\n  %s\n  %s" % (a, b))
    _, out, _ = run([gw, "test", "-c", installed])
    last = out.strip().splitlines()[-1]
    check(" 0 failed" in last, "citygate test: " + last)
    print("ok: check and test pass on the installed config: " + last)


def check_pkgconfig(prefix):
    pkg_config = tool("pkg-config")
    if not pkg_config:
        print("note: no pkg-config, the installed .pc is not read")
        return
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(
        prefix, "share", "pkgconfig"))
    _, out, _ = run([pkg_config, "--cflags", "citygate-plugin"], env=env)
    inc = os.path.join(prefix, "include", "citygate")
    check(os.path.realpath(out.strip()[2:]) == os.path.realpath(inc),
          "citygate-plugin.pc: cflags %s, want -I%s" % (out.strip(), inc))
    print("ok: pkg-config citygate-plugin --cflags = " + out.strip())


def main():
    with tempfile.TemporaryDirectory(prefix="cg-install-") as prefix:
        install_into(prefix)
        check_tree(prefix)
        check_binaries(prefix)
        check_config(prefix)
        check_pkgconfig(prefix)
    print("PASS")

if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        fail(str(e))
