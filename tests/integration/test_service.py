"""citygate run as a service (SPEC §16): `run -b`, /healthz, /status.json
and the live page (in a headless browser when Debian's chromium is
installed), the metrics it adds, sd_notify and the watchdog against a fake
notify socket, connection names in the log, the file that triggered a
reload, dead letters logged at info with a per-reason rate limit, and JSON
log lines."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (IntegrationTest, free_port, publish, publish_many,  # noqa: E402
                     wait_until)

CONFIG = """
gateway:
  id: svc-box
  dead_letter_topic: {pfx}/dead
  status_topic: {pfx}/status
  metrics_listen: 127.0.0.1:{mport}
{gateway_extra}
broker:
  uri: {uri}
  client_id: cg-{pfx}
  keepalive: 5
vendors:
  - name: air
    topics: ["{pfx}/air/+"]
  - name: water
    topics: ["{pfx}/water/+"]
consumers:
  - name: city-ops
    role: government
    topic: "{pfx}/city/{{domain}}"
  - name: archive
    role: government
    sink: http
    url: http://127.0.0.1:{dead_port}/events
    spool_max_bytes: {archive_spool}
{ministry}
rules: ["rules/*.yaml"]
"""

MINISTRY = """  - name: ministry
    role: government
    topic: "gov/{{domain}}"
    broker: {{ uri: "tcp://127.0.0.1:{port}", client_id: cg-{pfx}-ministry }}
"""

AIR_RULES = """
domain: environment
rules:
  - name: pm25-high
    when: pm25 > 35
    to: [city-ops, archive{ministry}]
"""

WATER_RULES = """
domain: water
rules:
  - name: level-high
    when: level > 2
    to: [city-ops]
"""


def http_get(url, timeout=5):
    """(status, content type, body) for any status, 503 included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def metric(text, name, labels=""):
    """The value of one sample of /metrics, or None."""
    pattern = r"^%s%s (\S+)$" % (re.escape(name),
                                 re.escape("{%s}" % labels) if labels else "")
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


class NotifySocket:
    """A fake systemd notify socket: a Unix datagram socket the test binds,
    collecting (time, message) pairs in a thread."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode()))

    def having(self, line, since=0.0):
        """Messages after `since` with a line equal to, or starting with,
        `line`."""
        with self.lock:
            return [(t, m) for t, m in self.messages if t >= since and
                    any(x == line or x.startswith(line) for x in m.split("\n"))]

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class ServiceTest(IntegrationTest):
    def start_city(self, override=False, env=None, wrapper=(),
                   gateway_extra="", archive_spool="1GiB", ministry=True):
        """With override, the config names a port nobody listens on and
        --broker=URI names the test's broker."""
        self.pfx = "svc%d" % os.getpid()
        self.b = self.broker()
        self.dead_uri = "tcp://127.0.0.1:%d" % free_port()
        uri = self.dead_uri if override else self.b.uri()
        args = ["--broker=" + self.b.uri()] if override else []
        self.ministry = self.broker() if ministry else None
        rules = os.path.join(self.workdir, "rules")
        os.makedirs(rules, exist_ok=True)
        with open(os.path.join(rules, "environment.yaml"), "w") as f:
            f.write(AIR_RULES.format(ministry=", ministry" if ministry else ""))
        with open(os.path.join(rules, "water.yaml"), "w") as f:
            f.write(WATER_RULES)
        self.all = self.sub(self.b, self.pfx + "/#")
        self.mport = free_port()
        text = CONFIG.format(
            pfx=self.pfx, mport=self.mport, uri=uri,
            dead_port=free_port(), archive_spool=archive_spool,
            gateway_extra=gateway_extra,
            ministry=MINISTRY.format(port=self.ministry.port, pfx=self.pfx)
            if ministry else "")
        self.g = self.gateway(text, args=args, env=env, wrapper=wrapper)
        self.wait_connected()
        return self.g

    def wait_connected(self):
        wait_until(lambda: "intake: connected to" in self.g.log_text(), 20,
                   what="the intake connection")
        time.sleep(0.3)  # the subscriptions reach the broker

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.mport, path)

    def metrics(self):
        status, _, body = http_get(self.url("/metrics"))
        self.assertEqual(status, 200)
        return body

    def health(self):
        status, ctype, body = http_get(self.url("/healthz"))
        self.assertIn("application/json", ctype)
        return status, json.loads(body)

    def status(self):
        status, ctype, body = http_get(self.url("/status.json"))
        self.assertEqual(status, 200)
        self.assertIn("application/json", ctype)
        return json.loads(body)

    def air(self, n=1, pm25=80):
        payloads = [json.dumps({"pm25": pm25, "n": i}) for i in range(n)]
        publish_many(self.b, self.pfx + "/air/aq-1", payloads)

    def water(self, n=1, level=3):
        payloads = [json.dumps({"level": level, "n": i}) for i in range(n)]
        publish_many(self.b, self.pfx + "/water/wl-1", payloads)

    # ---- run -b ------------------------------------------------------------

    def test_broker_option_overrides_the_config(self):
        """The config names a port nobody listens on; -b wins, and a reload
        keeps it without a warning about changed broker settings."""
        self.start_city(override=True, ministry=False)
        self.assertIn("intake: connected to " + self.b.uri(), self.g.log_text())
        self.air()
        self.all.wait_count(1, self.pfx + "/city/environment")
        self.g.signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in self.g.log_text(), 10, what="reload")
        self.assertNotIn("settings changed", self.g.log_text())
        self.air()
        self.all.wait_count(2, self.pfx + "/city/environment")
        self.assertNotIn(self.dead_uri, self.g.log_text())
        self.assertEqual(self.g.stop(), 0)

    def test_broker_option_needs_a_value(self):
        for args in (["-b"], ["--broker="]):
            r = subprocess.run([os.environ.get("CITYGATE", "citygate"), "run"]
                               + args, capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("citygate run:", r.stderr)

    # ---- /healthz ------------------------------------------------------------

    def test_healthz_follows_the_intake_connection(self):
        self.start_city(ministry=False)
        status, body = self.health()
        self.assertEqual(status, 200)
        self.assertEqual(body["state"], "ok")
        self.assertEqual(body["gateway"], "svc-box")
        port = self.b.port
        self.all.stop()
        self.b.stop()
        wait_until(lambda: self.health()[0] == 503, 15, what="503")
        status, body = self.health()
        self.assertEqual(body["state"], "unhealthy")
        self.assertIn("intake connection", body["reason"])
        self.b = self.broker(port=port)
        wait_until(lambda: self.health()[0] == 200, 40, what="200 again")
        self.assertEqual(self.health()[1]["state"], "ok")

    def test_healthz_names_a_full_spool(self):
        """A consumer nobody answers, with a tiny spool and `block`: once it
        is full /healthz says which consumer (not the intake connection,
        which the gateway drops on purpose to hold intake)."""
        self.start_city(archive_spool="1KiB", ministry=False)
        self.air(20)
        wait_until(lambda: self.health()[0] == 503, 20, what="503")
        reason = self.health()[1]["reason"]
        self.assertIn("spool of consumer archive is full", reason)
        self.assertIn("citygate_spool_bytes", self.metrics())

    # ---- /metrics ------------------------------------------------------------

    def test_new_metrics_move_with_traffic(self):
        self.start_city()
        wait_until(lambda: "consumer ministry's broker: connected" in
                   self.g.log_text(), 20, what="the ministry connection")
        before = self.metrics()
        self.assertEqual(metric(before, "citygate_build_info",
                                'version="0.1.0"'), 1)
        for conn in ("intake", "output", "consumer:ministry"):
            self.assertEqual(metric(before, "citygate_broker_connected",
                                    'connection="%s"' % conn), 1, conn)
        self.assertEqual(metric(before, "citygate_reloads_total",
                                'result="ok"'), 0)
        self.air(300)
        self.water(100)
        publish(self.b, self.pfx + "/air/aq-1", "{bad")
        self.all.wait_count(400, self.pfx + "/city/", timeout=30)

        def moved():
            after = self.metrics()
            return (metric(after, "citygate_spool_bytes", 'consumer="archive"') > 0
                    and metric(after, "process_cpu_seconds_total") >
                    metric(before, "process_cpu_seconds_total")) and after
        after = wait_until(moved, 10, what="the spool and CPU figures")
        for name, labels, want in (
                ("citygate_domain_messages_total", 'domain="environment"', 300),
                ("citygate_domain_events_total", 'domain="environment"', 900),
                ("citygate_domain_messages_total", 'domain="water"', 100),
                ("citygate_domain_events_total", 'domain="water"', 100),
                ("citygate_spool_depth", 'consumer="archive"', 300)):
            self.assertEqual(metric(before, name, labels), 0, name)
            self.assertEqual(metric(after, name, labels), want, name + labels)
        self.assertGreater(metric(after, "process_resident_memory_bytes"), 1e6)
        self.assertGreater(metric(after, "process_open_fds"), 5)
        self.assertGreater(metric(after, "process_start_time_seconds"), 1e9)
        # A reload that works, then one that fails.
        self.g.signal(signal.SIGHUP)
        wait_until(lambda: metric(self.metrics(), "citygate_reloads_total",
                                  'result="ok"') == 1, 10, what="reload ok")
        with open(os.path.join(self.workdir, "rules", "water.yaml"), "a") as f:
            f.write("  - name: broken\n    when: level >\n    to: [city-ops]\n")
        wait_until(lambda: metric(self.metrics(), "citygate_reloads_total",
                                  'result="failed"') == 1, 10,
                   what="reload failed")
        # The ministry's broker goes away: its connection reads 0.
        self.ministry.stop()
        wait_until(lambda: metric(self.metrics(), "citygate_broker_connected",
                                  'connection="consumer:ministry"') == 0, 15,
                   what="the ministry connection down")
        self.assertIn("consumer ministry's broker: lost the connection",
                      self.g.log_text())

    # ---- the live page and its JSON -------------------------------------------

    def test_live_page_and_status_json(self):
        self.start_city()
        status, ctype, page = http_get(self.url("/"))
        self.assertEqual(status, 200)
        self.assertIn("text/html", ctype)
        self.assertIn("status.json", page)
        self.assertIn('name="viewport"', page)  # readable on a phone
        # Self-contained: no script, style, image or font from elsewhere.
        self.assertIsNone(re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""",
                                    page, re.I))
        self.assertNotIn("@import", page)
        self.air(40)
        self.water(10)
        publish(self.b, self.pfx + "/air/aq-1", "{bad")
        self.all.wait_count(50, self.pfx + "/city/")
        # The bad message comes last and makes no event: wait for it too.
        s = wait_until(lambda: (lambda s: s if s["totals"]["messages_per_s"] > 0
                                and s["totals"]["messages"] == 51
                                else None)(self.status()), 10,
                       what="51 messages and a message rate")
        self.assertEqual(s["gateway"], "svc-box")
        self.assertEqual(s["state"], "ok")
        self.assertEqual(s["totals"]["messages"], 51)
        self.assertGreater(s["totals"]["events_per_s"], 0)
        domains = {d["name"]: d for d in s["domains"]}
        self.assertEqual(domains["environment"]["messages"], 40)
        self.assertEqual(domains["environment"]["events"], 120)
        self.assertEqual(domains["water"]["events"], 10)
        self.assertGreater(domains["environment"]["messages_per_s"], 0)
        consumers = {c["name"]: c for c in s["consumers"]}
        self.assertEqual(set(consumers), {"city-ops", "archive", "ministry"})
        wait_until(lambda: {c["name"]: c for c in self.status()["consumers"]}
                   ["city-ops"]["delivered"] == 50, 10, what="deliveries")
        self.assertEqual(consumers["archive"]["spool_depth"], 40)
        dead = {d["reason"]: d for d in s["dead_letters"]}
        self.assertEqual(dead["decode_error"]["total"], 1)
        conns = {c["name"]: c["connected"] for c in s["connections"]}
        self.assertEqual(conns, {"intake": True, "output": True,
                                 "consumer ministry's broker": True})

    def test_live_page_in_a_headless_browser(self):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            self.skipTest("chromium is not installed (scripts/deps.sh "
                          "installs Debian's)")
        self.start_city()
        self.air(12)
        self.water(5)
        self.all.wait_count(17, self.pfx + "/city/")
        wait_until(lambda: self.status()["totals"]["events"] >= 41, 10,
                   what="events counted")
        r = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking",
             "--user-data-dir=" + os.path.join(self.workdir, "chromium"),
             "--virtual-time-budget=5000", "--dump-dom", self.url("/")],
            capture_output=True, text=True, timeout=120)
        dom = r.stdout
        self.assertIn('id="messages-total">17 in all<', dom, dom[-3000:])
        self.assertRegex(dom, r'id="events-total">4\d in all<')
        self.assertRegex(dom, r'id="messages-rate">\d+\.\d<')
        self.assertRegex(dom, r'class="badge ok"[^>]*>ok<')
        self.assertIn("<td>environment</td>", dom)
        self.assertIn("<td>water</td>", dom)
        self.assertIn("<td>city-ops</td>", dom)
        self.assertIn("<td>decode_error</td>", dom)
        self.assertRegex(dom, r"<td>archive</td><td>[\d.]+</td>"
                              r'<td class="wide">0</td><td[^>]*>12</td>')
        self.assertRegex(dom, r'<td>intake<span class="uri">tcp://127\.0\.0\.1:'
                              r"\d+</span></td>")
        self.assertIn("connected</td>", dom)
        self.assertIn('id="offline" style="display: none;"', dom)

    # ---- sd_notify and the watchdog -----------------------------------------

    def notify_env(self, wedge_after=None, usec=1000000):
        self.notify = NotifySocket(os.path.join(self.workdir, "notify.sock"))
        self.cleanups.append(self.notify.stop)
        env = {"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": str(usec)}
        if wedge_after:
            env["CITYGATE_TEST_WEDGE_AFTER"] = str(wedge_after)
        return env

    # The gateway's own PID, as systemd sets it, through a shell that
    # execs the gateway.
    OWN_PID = ["sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"',
               "sh"]

    def test_watchdog_pings_stop_when_the_pipeline_wedges(self):
        env = self.notify_env(wedge_after=3)
        self.start_city(env=env, wrapper=self.OWN_PID, ministry=False)
        n = self.notify
        wait_until(lambda: n.having("READY=1"), 15, what="READY=1")
        ready = n.having("READY=1")[0][1]
        self.assertIn("STATUS=", ready)
        # Idle: pings every 0.5 s (half of WATCHDOG_USEC).
        t0 = time.monotonic()
        wait_until(lambda: len(n.having("WATCHDOG=1", t0)) >= 3, 5,
                   what="pings while idle")
        # Traffic: pings go on; a reload says so.
        self.air(2)
        self.all.wait_count(2, self.pfx + "/city/")
        t1 = time.monotonic()
        self.g.signal(signal.SIGHUP)
        wait_until(lambda: n.having("RELOADING=1", t1), 10, what="RELOADING=1")
        wait_until(lambda: n.having("READY=1", t1), 10, what="READY=1 again")
        self.assertTrue(n.having("MONOTONIC_USEC=", t1))
        wait_until(lambda: n.having("STATUS=", t1) and
                   "msg/s" in n.having("STATUS=", t1)[-1][1], 10,
                   what="a STATUS line with rates")
        t2 = time.monotonic()
        wait_until(lambda: len(n.having("WATCHDOG=1", t2)) >= 2, 5,
                   what="pings with traffic")
        # The third message wedges the pipeline: the pings stop.
        self.air(1)
        wait_until(lambda: "watchdog: the pipeline has been on one message"
                   in self.g.log_text(), 10, what="the watchdog's error line")
        t3 = time.monotonic()
        time.sleep(2.5)
        self.assertEqual(n.having("WATCHDOG=1", t3), [])
        self.assertEqual(self.g.proc.poll(), None)  # alive, only stuck
        self.g.kill()

    def test_notify_without_our_watchdog(self):
        """WATCHDOG_PID naming another process: READY and STOPPING, no
        pings; the gateway stops cleanly."""
        env = self.notify_env()
        env["WATCHDOG_PID"] = "1"
        self.start_city(env=env, ministry=False)
        n = self.notify
        wait_until(lambda: n.having("READY=1"), 15, what="READY=1")
        time.sleep(1.5)
        self.assertEqual(n.having("WATCHDOG=1"), [])
        self.assertEqual(self.g.stop(), 0)
        wait_until(lambda: n.having("STOPPING=1"), 5, what="STOPPING=1")

    # ---- logs ------------------------------------------------------------------

    def test_connections_named_and_reload_trigger(self):
        self.start_city()
        wait_until(lambda: "consumer ministry's broker: connected to" in
                   self.g.log_text(), 20, what="the ministry connection")
        log = self.g.log_text()
        self.assertIn("intake: connected to %s (new session)" % self.b.uri(),
                      log)
        self.assertIn("output: connected to %s\n" % self.b.uri(), log)
        rules = os.path.join(self.workdir, "rules")

        def write(path, text, mode="a"):
            with open(path, mode) as f:
                f.write(text)
        steps = [
            (lambda: write(os.path.join(rules, "water.yaml"), "#\n"),
             "reloading: rule file %s/water.yaml changed" % rules),
            (lambda: write(os.path.join(rules, "extra.yaml"),
                           "domain: extra\nrules:\n  - name: never\n"
                           "    when: false\n    to: [city-ops]\n", "w"),
             "reloading: rule file %s/extra.yaml was added" % rules),
            (lambda: os.unlink(os.path.join(rules, "extra.yaml")),
             "reloading: rule file %s/extra.yaml was removed" % rules),
            (lambda: write(self.g.config, "# edited\n"),
             "reloading: config file %s changed" % self.g.config),
            (lambda: self.g.signal(signal.SIGHUP), "reloading: SIGHUP"),
        ]
        def done():
            text = self.g.log_text()
            return text.count("reloaded:") + text.count("reload failed")
        for i, (apply, line) in enumerate(steps):
            apply()
            wait_until(lambda: line in self.g.log_text(), 10, what=line)
            # Each reload ends before the next step: its "reloading:" line
            # comes before it reads the files (the next step unlinks one).
            wait_until(lambda: done() > i, 10, what="reload %d to end" % (i + 1))
        self.assertEqual(self.g.log_text().count("reloaded:"), len(steps))
        # The intake connection goes and comes back, named each time.
        port = self.b.port
        self.all.stop()
        self.b.stop()
        wait_until(lambda: "intake: lost the connection to" in
                   self.g.log_text(), 15, what="the lost line")
        self.b = self.broker(port=port)
        wait_until(lambda: self.g.log_text().count("intake: connected to %s"
                                                   % self.b.uri()) == 2, 40,
                   what="reconnect")

    def test_dead_letters_logged_once_a_second_per_reason(self):
        self.start_city(ministry=False)
        t0 = time.monotonic()
        publish_many(self.b, self.pfx + "/air/aq-1", ["{bad %d" % i
                                                       for i in range(60)])
        publish_many(self.b, self.pfx + "/nobody/x", ["x"] * 5)  # not subscribed
        publish(self.b, self.pfx + "/air/aq-2", "x" * 10)

        def counted():
            lines = re.findall(r" info: (\d+) dead letters? \(decode_error\) "
                               r"since the last such line; latest: (.*)",
                               self.g.log_text())
            return lines if sum(int(n) for n, _ in lines) == 61 else None
        lines = wait_until(counted, 10, what="61 decode errors in the log")
        elapsed = time.monotonic() - t0
        self.assertLessEqual(len(lines), int(elapsed) + 2)
        self.assertIn(self.pfx + "/air/aq-", lines[-1][1])
        self.assertNotIn("debug:", self.g.log_text())

    def test_json_log_lines(self):
        self.start_city(gateway_extra="  log_format: json", ministry=False)
        publish(self.b, self.pfx + "/air/aq-1", '{"bad": "\\u0000 "quote"')
        wait_until(lambda: "dead letter" in self.g.log_text(), 10,
                   what="a dead-letter line")
        self.assertEqual(self.g.stop(), 0)
        lines = self.g.log_text().splitlines()
        self.assertGreater(len(lines), 5)
        for line in lines:
            obj = json.loads(line)
            self.assertEqual(set(obj), {"time", "gateway", "level", "msg"})
            self.assertEqual(obj["gateway"], "svc-box")
            self.assertIn(obj["level"], ("error", "warn", "info", "debug"))
            self.assertRegex(obj["time"], r"^\d{4}-\d\d-\d\dT[\d:.]+Z$")
        msgs = [json.loads(x)["msg"] for x in lines]
        self.assertTrue(any(m.startswith("intake: connected to") for m in msgs))
        self.assertEqual(msgs[-1], "stopped")

    def test_json_log_lines_when_the_start_fails(self):
        """With log_format: json, a config's warnings and a fatal error at
        start (the metrics port is taken) are JSON lines too."""
        b = self.broker()
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        self.cleanups.append(taken.close)
        rules = os.path.join(self.workdir, "rules")
        os.makedirs(rules, exist_ok=True)
        with open(os.path.join(rules, "bins.yaml"), "w") as f:
            f.write("domain: environment\nrules:\n  - name: full\n"
                    "    when: fil_pct > 90\n    to: [ops]\n")
        text = ("gateway: {id: json-box, log_format: json, "
                "metrics_listen: \"127.0.0.1:%d\"}\n"
                "broker: {uri: \"%s\", client_id: json-box}\n"
                "vendors: [{name: bin, topics: [\"bins/+\"], "
                "fields: {fill_pct: fill}}]\n"
                "consumers: [{name: ops, role: government, topic: \"o/{rule}\"}]\n"
                "rules: [\"rules/*.yaml\"]\n" % (taken.getsockname()[1], b.uri()))
        g = self.gateway(text)
        self.assertEqual(g.proc.wait(20), 1)
        lines = g.log_text().splitlines()
        objs = [json.loads(line) for line in lines]
        self.assertTrue(any(o["level"] == "warn" and
                            re.search(r"bins\.yaml:4:11: .*fil_pct", o["msg"])
                            for o in objs), lines)
        self.assertTrue(any(o["level"] == "error" and
                            o["msg"] == "cannot serve metrics on 127.0.0.1:%d: Address "
                            "already in use" % taken.getsockname()[1]
                            for o in objs), lines)

if __name__ == "__main__":
    unittest.main(verbosity=2)
