#!/usr/bin/env python3
"""The installed citygate.service (SPEC §16): the directives the contract
asks for, a comment above each group of settings, and, where the machine
has systemd-analyze, `verify` (syntax, the ExecStart binary, the man
pages of Documentation=, found in the installed tree through MANPATH)
and the offline `security` exposure score.

The unit is installed into a temporary prefix, so its ExecStart names a
binary that exists: verify runs without the "not executable" noise.
"""
import os
import tempfile

from installtree import (STATE_DIR, check, fail, install_into, run, skip,
                         tool, unit_directives)

# Directive -> the one value it must have (ExecStart is checked apart).
REQUIRED = {
    "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30s",
    "ExecReload": "/bin/kill -HUP $MAINPID", "Restart": "on-failure",
    "RestartSec": "2s", "KillSignal": "SIGTERM", "TimeoutStopSec": "15s",
    "User": "citygate", "Group": "citygate", "StateDirectory": "citygate",
    "ProtectSystem": "strict", "ReadWritePaths": STATE_DIR,
    "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
    "SystemCallArchitectures": "native", "CapabilityBoundingSet": "",
    "LimitNOFILE": "65536", "WantedBy": "multi-user.target",
}
# Nothing may enable or start on its own, nor undo the sandbox.
FORBIDDEN = ("AmbientCapabilities", "PermissionsStartOnly", "ExecStartPre")


def check_directives(text, prefix):
    d = unit_directives(text)
    for key, want in REQUIRED.items():
        check(d.get(key) == [want], "%s=%s, want %s" % (key, d.get(key), want))
    exec_start = "%s/bin/citygate run -c %s/etc/citygate/citygate.yaml" % (
        prefix, prefix)
    check(d.get("ExecStart") == [exec_start],
          "ExecStart=%s, want %s" % (d.get("ExecStart"), exec_start))
    for key in FORBIDDEN:
        check(key not in d, key + " must not be set")
    print("ok: %d required directives, ExecStart names the installed "
          "binary and config" % (len(REQUIRED) + 1))


def check_comments(text):
    """In [Service], every group of settings (lines between blank lines)
    opens with a comment that says why."""
    service = text.split("[Service]", 1)[1].split("[Install]", 1)[0]
    groups = [g.strip().splitlines() for g in service.split("\n\n")]
    for g in groups:
        if g and not g[0].startswith("#"):
            fail("a group of settings has no comment above it: " + g[0])
    print("ok: %d groups of settings, each under a comment" % len(groups))


def verify(unit, prefix):
    analyze = tool("systemd-analyze")
    if not analyze:
        skip("systemd-analyze is not installed (Debian package systemd): "
             "the directives were checked, the unit was not verified")
    env = dict(os.environ, MANPATH=os.path.join(prefix, "share", "man"))
    rc, out, err = run([analyze, "verify", unit], env=env, ok=None)
    check(rc == 0 and not out.strip() and not err.strip(),
          "systemd-analyze verify exited %d:\n%s%s" % (rc, out, err))
    print("ok: systemd-analyze verify: clean")
    rc, out, err = run([analyze, "security", "--offline=yes",
                        "--threshold=20", unit], ok=None)
    if "unrecognized option" in err:
        print("note: this systemd-analyze has no offline security check")
        return
    score = [line for line in out.splitlines() if "Overall" in line]
    check(rc == 0, "exposure above 2.0: %s\n%s" % (score, err))
    print("ok: systemd-analyze security: " + score[0].strip())


def main():
    with tempfile.TemporaryDirectory(prefix="cg-unit-") as prefix:
        install_into(prefix)
        unit = os.path.join(prefix, "lib", "systemd", "system",
                            "citygate.service")
        with open(unit) as f:
            text = f.read()
        check_directives(text, prefix)
        check_comments(text)
        verify(unit, prefix)
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        fail(str(e))
