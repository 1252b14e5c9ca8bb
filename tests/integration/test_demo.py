"""scripts/demo.sh, the Quick start: it points the example city at its
private mosquitto with `run -b` (the example config stays as it is), shows
forwarded events, and on SIGTERM, even while mosquitto_sub runs in the
foreground, stops everything it started in reverse order: the gateway
goes (drained, offline status published) while its broker is still up.

The run uses the binaries of this build and a copy of config/, so it
touches neither the source tree's spool nor a demo someone is running."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import IntegrationTest, wait_until  # noqa: E402

SOURCE = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def processes_mentioning(*words):
    """PIDs whose command line holds any of the words."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(w in cmd for w in words):
            found.append(int(pid))
    return found


class DemoTest(IntegrationTest):
    def test_demo_runs_and_stops_in_order_on_sigterm(self):
        build = os.path.dirname(os.path.dirname(os.environ["CITYGATE"]))
        config = os.path.join(self.workdir, "config")
        shutil.copytree(os.path.join(SOURCE, "config"), config,
                        ignore=shutil.ignore_patterns("spool", "*.c", "*.h",
                                                      "CMakeLists.txt"))
        os.chmod(self.workdir, 0o755)  # mosquitto drops root for its user
        logs = os.path.join(self.workdir, "demo")
        env = dict(os.environ, CITYGATE_BUILD_DIR=build,
                   CITYGATE_DEMO_DIR=logs,
                   CITYGATE_CONFIG=os.path.join(config, "citygate.yaml"))
        env.pop("CITYGATE_BROKER", None)
        demo = subprocess.Popen(["bash", os.path.join(SOURCE, "scripts",
                                                      "demo.sh")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
        self.cleanups.append(lambda: os.killpg(demo.pid, signal.SIGKILL))
        lines, errors = [], []
        threading.Thread(target=lambda: lines.extend(demo.stdout),
                         daemon=True).start()
        threading.Thread(target=lambda: errors.extend(demo.stderr),
                         daemon=True).start()
        wait_until(lambda: any(x.startswith(b"city/") for x in lines), 60,
                   what="a forwarded event")
        said = b"".join(errors).decode()
        port = re.search(r"running against mqtt://127\.0\.0\.1:(\d+)",
                         said).group(1)
        started = processes_mentioning(logs, config, ":%s " % port,
                                       "-p %s " % port)
        self.assertGreaterEqual(len(started), 4, started)  # broker, gw, sim, sub
        self.assertIn("citygate run -c %s/citygate.yaml -b tcp://127.0.0.1:%s"
                      % (config, port), " ".join(
                          open("/proc/%d/cmdline" % p, "rb").read()
                          .replace(b"\0", b" ").decode() for p in started))
        t0 = time.monotonic()
        demo.send_signal(signal.SIGTERM)
        self.assertEqual(demo.wait(20), 143)
        self.assertLess(time.monotonic() - t0, 15)
        alive = [p for p in started if os.path.exists("/proc/%d" % p)
                 and open("/proc/%d/stat" % p).read().split()[2] != "Z"]
        self.assertEqual(alive, [])
        gateway_log = open(os.path.join(logs, "citygate.log")).read()
        self.assertTrue(gateway_log.rstrip().endswith("stopped"), gateway_log[-500:])
        self.assertNotIn("lost the connection", gateway_log)
        broker_log = open(os.path.join(logs, "mosquitto.log")).read()
        gone = broker_log.find("citygate-edge-box-01 disconnected")
        end = broker_log.find("terminating")
        self.assertGreater(gone, 0, broker_log[-1500:])
        self.assertGreater(end, gone, broker_log[-1500:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
