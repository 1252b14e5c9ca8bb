#!/usr/bin/env python3
"""`cpack -G DEB` into a temporary folder (SPEC §16): the package lists
every installed file at its Debian place, depends on the libraries the
binaries link, marks /etc/citygate as conffiles, and carries maintainer
scripts that create the citygate user and /var/lib/citygate, enable and
start nothing, and remove the state only on purge.

The scripts run here against stub commands (adduser, systemctl, rm ...)
that record their calls, so their logic is tested without touching the
machine's users or /var/lib.
"""
import glob
import os
import re
import stat
import subprocess
import tempfile

from installtree import (BUILD_DIR, CPACK, MAN_PAGES, STATE_DIR, check,
                         example_rule_files, example_table_files, fail,
                         need_trees, run, skip, tool)

# Sonames the binaries may need -> their Debian 12 package.
SONAME_PACKAGES = {
    "libc.so.6": "libc6",
    "libpaho-mqtt3as.so.1": "libpaho-mqtt1.3",
    "libyaml-0.so.2": "libyaml-0-2",
    "libcurl.so.4": "libcurl4",
    "libmicrohttpd.so.12": "libmicrohttpd12",
    "libz.so.1": "zlib1g",
    "libsystemd.so.0": "libsystemd0",
    "libmosquitto.so.1": "libmosquitto1",
}


def build_deb(out):
    run([CPACK, "-G", "DEB", "--config",
         os.path.join(BUILD_DIR, "CPackConfig.cmake"), "-B", out])
    debs = glob.glob(os.path.join(out, "citygate_*.deb"))
    check(len(debs) == 1, "cpack made %s" % os.listdir(out))
    check(re.fullmatch(r"citygate_[0-9.]+_[a-z0-9]+\.deb",
                       os.path.basename(debs[0])),
          "unexpected package name " + debs[0])
    print("ok: built " + os.path.basename(debs[0]))
    return debs[0]


def needed_sonames():
    readelf = tool("readelf")
    if not readelf:
        return set()
    names = set()
    for exe in ("gateway/citygate", "sim/citygate-sim"):
        _, out, _ = run([readelf, "-d", os.path.join(BUILD_DIR, exe)])
        names |= set(re.findall(r"\(NEEDED\).*\[(.+)\]", out))
    return names


def check_control(deb):
    _, info, _ = run(["dpkg-deb", "-I", deb])
    print(info)
    fields = {}
    for key in ("Package", "Depends", "Section", "Maintainer"):
        fields[key] = run(["dpkg-deb", "-f", deb, key])[1].strip()
    check(fields["Package"] == "citygate", "Package: " + fields["Package"])
    depends = {d.split()[0] for d in fields["Depends"].split(", ")}
    want = {"adduser", "tzdata"}
    want |= {SONAME_PACKAGES[s] for s in needed_sonames()
             if s in SONAME_PACKAGES}
    check(want <= depends, "Depends lacks %s: %s" %
          (sorted(want - depends), fields["Depends"]))
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        check(re.search(r"\b%s\b" % script, info), script + " missing")
    print("ok: Depends: " + fields["Depends"])


def data_listing(deb):
    _, out, _ = run(["dpkg-deb", "-c", deb])
    print(out)
    files = []
    for line in out.splitlines():
        path = line.split()[-1]
        if not line.startswith("d"):
            files.append(path[1:] if path.startswith("./") else path)
    return out, sorted(files)


def check_data(deb, control):
    listing, files = data_listing(deb)
    want = ["/usr/bin/citygate", "/usr/bin/citygate-sim",
            "/etc/citygate/citygate.yaml",
            "/usr/include/citygate/citygate_plugin.h",
            "/usr/share/pkgconfig/citygate-plugin.pc"]
    want += ["/usr/share/man/%s.gz" % p for p in MAN_PAGES]
    want += ["/etc/citygate/rules/" + f for f in example_rule_files()]
    want += ["/etc/citygate/" + f for f in example_table_files()]
    for path in want:
        check(path in files, path + " is not in the package")
    units = [f for f in files if f.endswith("/systemd/system/citygate.service")]
    check(len(units) == 1, "the unit is not in the package")
    with open(os.path.join(control, "conffiles")) as f:
        conffiles = sorted(f.read().split())
    etc = [f for f in files if f.startswith("/etc/")]
    check(conffiles == etc, "conffiles %s, files under /etc %s" %
          (conffiles, etc))
    print("ok: %d files; %d conffiles; unit at %s" %
          (len(files), len(conffiles), units[0]))
    return units[0]


def check_contents(deb, root, unit):
    run(["dpkg-deb", "-x", deb, root])
    with open(root + unit) as f:
        text = f.read()
    check("ExecStart=/usr/bin/citygate run -c /etc/citygate/citygate.yaml"
          in text, "the packaged unit's ExecStart:\n" + text)
    gw = os.path.join(root, "usr", "bin", "citygate")
    run([gw, "--version"])
    run([gw, "check", "-c", os.path.join(root, "etc", "citygate",
                                         "citygate.yaml")])
    print("ok: the packaged binary (stripped) runs `check` on the "
          "packaged config; the unit runs /usr/bin/citygate")


STUBS = {
    # getent answers from one file per database listing the names that
    # exist; addgroup and adduser add theirs (the last argument).
    "getent": 'grep -qx "$2" "$CG_STUB_DIR/$1"\n',
    "addgroup": 'echo "$CG_LAST" >> "$CG_STUB_DIR/group"\n',
    "adduser": 'echo "$CG_LAST" >> "$CG_STUB_DIR/passwd"\n',
    "dpkg-statoverride": "exit 1\n",
    "install": "",
    "systemctl": "",
    "rm": "",
}


def make_stubs(bindir):
    """Each stub appends its command line to calls, then does its part."""
    for name, body in STUBS.items():
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write('#!/bin/sh\necho "%s $*" >> "$CG_STUB_DIR/calls"\n'
                    'for CG_LAST; do :; done\n%s' % (name, body))
        os.chmod(path, 0o755)


def run_script(control, stubdir, script, *args):
    """Runs a maintainer script with the stubs first in PATH; returns the
    calls it made."""
    calls = os.path.join(stubdir, "calls")
    open(calls, "w").close()
    env = {"PATH": os.path.join(stubdir, "bin") + ":/usr/bin:/bin",
           "CG_STUB_DIR": stubdir}
    p = subprocess.run(["/bin/sh", os.path.join(control, script)] +
                       list(args), env=env, capture_output=True, text=True)
    check(p.returncode == 0, "%s %s exited %d: %s" %
          (script, " ".join(args), p.returncode, p.stderr))
    with open(calls) as f:
        return f.read().splitlines()


def check_scripts(control):
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(control, script)
        check(os.stat(path).st_mode & stat.S_IXUSR, script + " not 0755")
        run(["/bin/sh", "-n", path])
        if tool("shellcheck"):
            run([tool("shellcheck"), "-s", "sh", path])
        with open(path) as f:  # commands only: comments may tell the way
            text = "\n".join(line for line in f.read().splitlines()
                              if not line.lstrip().startswith("#"))
        for bad in ("systemctl enable", "systemctl start",
                    "deb-systemd-helper enable", "deb-systemd-invoke start"):
            check(bad not in text, "%s runs '%s'" % (script, bad))
    with tempfile.TemporaryDirectory(prefix="cg-stubs-") as stubdir:
        os.mkdir(os.path.join(stubdir, "bin"))
        make_stubs(os.path.join(stubdir, "bin"))
        for db in ("group", "passwd"):
            open(os.path.join(stubdir, db), "w").close()
        first = run_script(control, stubdir, "postinst", "configure", "")
        check(any(c.startswith("addgroup --system") for c in first) and
              any(c.startswith("adduser --system") and "--home " +
                  STATE_DIR in c for c in first),
              "first postinst did not create the user: %s" % first)
        check(("install -d -o citygate -g citygate -m 0750 " + STATE_DIR)
              in first, "postinst did not make %s: %s" % (STATE_DIR, first))
        again = run_script(control, stubdir, "postinst", "configure", "0.1.0")
        check(not any(c.startswith(("adduser", "addgroup")) for c in again),
              "postinst is not idempotent: %s" % again)
        removed = run_script(control, stubdir, "postrm", "remove")
        check(not any(c.startswith("rm") for c in removed),
              "postrm remove deletes: %s" % removed)
        purged = run_script(control, stubdir, "postrm", "purge")
        check("rm -rf " + STATE_DIR in purged,
              "postrm purge keeps %s: %s" % (STATE_DIR, purged))
        run_script(control, stubdir, "prerm", "remove")
        run_script(control, stubdir, "prerm", "upgrade", "0.1.1")
    print("ok: maintainer scripts: user and %s created once, removed only "
          "on purge; nothing enabled or started" % STATE_DIR)


def main():
    need_trees()
    if not tool("dpkg-deb"):
        skip("dpkg-deb is not installed (Debian package dpkg)")
    with tempfile.TemporaryDirectory(prefix="cg-package-") as tmp:
        deb = build_deb(os.path.join(tmp, "out"))
        control = os.path.join(tmp, "control")
        run(["dpkg-deb", "-e", deb, control])
        check_control(deb)
        unit = check_data(deb, control)
        check_contents(deb, os.path.join(tmp, "root"), unit)
        check_scripts(control)
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        fail(str(e))
