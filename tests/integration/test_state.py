"""Stateful rules in the running gateway (SPEC §13), with a real mosquitto
and the real binary: a window closes on time with no traffic; a firing
alert survives SIGTERM and SIGKILL with a restart (no second firing event,
it resolves afterwards); a reload that changes one rule keeps the others'
pending `for` timers and sends a changed window rule's open window as
partial; 100,000 distinct devices through a throttled rule keep memory
within max_keys times the cost of a key."""

import calendar
import json
import os
import re
import signal
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import (Gateway, IntegrationTest, free_port, publish,  # noqa: E402
                     publish_many, wait_until)
from mqttpub import Publisher  # noqa: E402

# What a key of a throttled rule costs, with the allocator's overhead: the
# engine holds about 106 bytes (tests/unit/gateway/test_state_scale.c).
BYTES_PER_KEY = 160

CONFIG = """
gateway:
  id: state-box
  dead_letter_topic: {pfx}/dead
  status_topic: {pfx}/status
  metrics_listen: 127.0.0.1:{mport}
broker:
  uri: tcp://127.0.0.1:{port}
  client_id: cg-{pfx}
vendors:
  - name: gauge
    topics: ["{pfx}/gauge/+"]
    fields: {{ level: level, zone: zone }}
  - name: lamp
    topics: ["{pfx}/lamp"]
    device: "{{payload.id}}"
consumers:
  - name: ops
    role: government
    topic: "{pfx}/out/{{rule}}"
  - name: log
    role: government
    sink: file
    path: ./events.jsonl
    fsync: never
rules: ["rules/*.yaml"]
"""

ALERT = """
  - name: high
    match: {{ vendors: [gauge] }}
    when: level > 3
    for: {hold}
    stale_after: 1h
    data: {{ level: level }}
    to: [ops]
"""

WINDOW = """
  - name: zones
    match: {{ vendors: [gauge] }}
    window: {{ every: {every}, group_by: [zone], aggregate: {{ n: count(), {agg} }} }}
    to: [ops]
"""

SEEN = """
  - name: seen
    match: {{ vendors: [gauge] }}
    when: level > {seen}
    to: [ops]
"""


def rules(hold="2s", every="4s", agg="top: max(level)", seen=0):
    return ("domain: flood\nrules:\n" + ALERT.format(hold=hold) +
            WINDOW.format(every=every, agg=agg) + SEEN.format(seen=seen))


def epoch(rfc3339):
    """2030-01-01T00:00:00.123Z as epoch seconds."""
    whole = calendar.timegm(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S"))
    return whole + float(rfc3339[19:23] or 0)


class StateTest(IntegrationTest):
    def start(self, rules_text, **kw):
        self.pfx = "st%d" % os.getpid()
        self.b = self.broker(**kw)
        os.makedirs(os.path.join(self.workdir, "rules"), exist_ok=True)
        self.write_rules(rules_text)
        self.out = self.sub(self.b, self.pfx + "/out/#")
        self.mport = free_port()
        text = CONFIG.format(pfx=self.pfx, port=self.b.port, mport=self.mport)
        self.g = Gateway(self.workdir, text)
        self.cleanups.append(self.g.kill)
        return self.g.start(wait_online=self.connected)

    def write_rules(self, text):
        with open(os.path.join(self.workdir, "rules", "flood.yaml"), "w") as f:
            f.write(text)

    def connected(self, count=1):
        wait_until(lambda: self.g.log_text().count("intake: connected") >= count,
                   20, what="the gateway to connect")

    def gauge(self, level, zone="north", device="g1"):
        publish(self.b, "%s/gauge/%s" % (self.pfx, device),
                json.dumps({"level": level, "zone": zone}))

    def events(self, rule):
        return [e for _, e in self.out.events("%s/out/%s" % (self.pfx, rule))]

    def metric(self, name, rule):
        url = "http://127.0.0.1:%d/metrics" % self.mport
        with urllib.request.urlopen(url, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith('%s{rule="%s"}' % (name, rule)):
                    return int(line.split()[-1])
        return None

    def received(self, vendor):
        return self.metric_line(
            'citygate_messages_received_total{vendor="%s"}' % vendor) or 0

    def metric_line(self, prefix):
        url = "http://127.0.0.1:%d/metrics" % self.mport
        with urllib.request.urlopen(url, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(prefix + " "):
                    return int(line.split()[-1])
        return None

    # ---- windows -------------------------------------------------------------

    def test_window_closes_on_time_without_traffic(self):
        self.start(rules(every="4s"))
        for level in (1, 7, 4):
            self.gauge(level)
        self.gauge(2, zone="south", device="g2")
        got = wait_until(lambda: len(self.events("zones")) >= 2 and
                         self.events("zones"), 10, step=0.02,
                         what="the window's events")
        seen = time.time()
        by_zone = {e["data"]["zone"]: e for e in got}
        north = by_zone["north"]
        self.assertEqual(north["data"]["n"], 3)
        self.assertEqual(north["data"]["top"], 7)
        self.assertEqual(by_zone["south"]["data"]["n"], 1)
        self.assertEqual(north["time"], north["data"]["window_end"])
        self.assertEqual(north["source"], {"vendor": "gauge"})
        end = epoch(north["data"]["window_end"])
        self.assertEqual(end - epoch(north["data"]["window_start"]), 4.0)
        late = seen - end
        # No message followed the four: a timer sent these. How soon is
        # printed, not asserted: a CI run with four suites on two shared
        # cores once saw 4 s.
        print("window event seen %.3f s after the window's end" % late)
        time.sleep(4.5)  # an empty window sends nothing
        self.assertEqual(len(self.events("zones")), 2)
        self.assertEqual(self.g.stop(), 0)

    # ---- restart -------------------------------------------------------------

    def fire(self):
        self.gauge(5)
        first = time.time()
        time.sleep(2.3)
        self.gauge(6)
        wait_until(lambda: self.events("high"), 10, what="the alert to fire")
        fired = self.events("high")[0]
        # From the first message (the second came 2.3 s later); the slack is
        # for a loaded machine's intake.
        self.assertLess(epoch(fired["data"]["active_since"]) - first, 2.0)
        return fired

    def restart_and_resolve(self, fired, connects):
        self.g.logf.close()
        self.g.start(wait_online=lambda: self.connected(connects))
        wait_until(lambda: "state restored" in self.g.log_text(), 10,
                   what="the state to be restored")
        self.gauge(7)  # still firing: no second firing event
        self.gauge(1)  # resolves it
        wait_until(lambda: any(e["data"].get("resolved") for e in self.events("high")),
                   10, what="the resolved event")
        time.sleep(0.5)
        events = self.events("high")
        firing = {e["id"] for e in events if not e["data"].get("resolved")}
        self.assertEqual(firing, {fired["id"]})  # redeliveries share the id
        resolved = [e for e in events if e["data"].get("resolved")]
        self.assertEqual(len({e["id"] for e in resolved}), 1)
        # Downtime counts toward no timer: active_since moved by it.
        self.assertGreaterEqual(epoch(resolved[0]["data"]["active_since"]),
                                epoch(fired["data"]["active_since"]))
        self.assertEqual(self.g.stop(), 0)

    def test_firing_alert_survives_sigterm(self):
        self.start(rules())
        fired = self.fire()
        self.assertEqual(self.g.stop(), 0)  # saves its state on the way out
        state = os.path.join(self.workdir, "spool", "state", "state.jsonl")
        self.assertTrue(os.path.exists(state))
        time.sleep(1)
        self.restart_and_resolve(fired, 2)

    def test_firing_alert_survives_sigkill(self):
        self.start(rules())
        fired = self.fire()
        time.sleep(6)  # a snapshot at least every 10 s (every 5 s here)
        self.g.kill()
        time.sleep(1)
        self.restart_and_resolve(fired, 2)

    def test_snapshots_go_on_under_full_traffic(self):
        """The loop thread saves while the pipeline is busy with a flood of
        messages that change the state (each one counts in a window), so a
        SIGKILL in the middle of it loses no more than the promise."""
        self.start(rules())
        fired = self.fire()
        state = os.path.join(self.workdir, "spool", "state", "state.jsonl")
        lines = ['{"level": 0, "zone": "z%d"}' % (i % 50) for i in range(20000)]
        start = time.time()
        saved_during, sent = [], 2
        # 8 s of bursts (at most 100), each taken whole before the next:
        # the pipeline stays busy, the broker's queue stays short, and a
        # stalled pipeline fails here by name.
        for _ in range(100):
            publish_many(self.b, self.pfx + "/gauge/busy", lines, qos=0)
            sent += len(lines)
            wait_until(lambda: self.received("gauge") >= sent, 60, step=0.1,
                       what="the gateway to take all %d messages" % sent)
            if os.path.exists(state) and os.stat(state).st_mtime > start + 1:
                saved_during.append(os.stat(state).st_mtime)
            if time.time() - start >= 8:
                break
        self.assertTrue(saved_during, "no snapshot while the traffic flowed")
        self.g.kill()
        time.sleep(1)
        self.restart_and_resolve(fired, 2)

    # ---- reload --------------------------------------------------------------

    def test_reload_keeps_pending_timers_of_unchanged_rules(self):
        self.start(rules(hold="4s", every="1d"))
        self.gauge(5)
        began = time.time()
        # One rule changes (seen), one window rule changes (zones); the
        # alert does not.
        self.write_rules(rules(hold="4s", every="1d", agg="low: min(level)",
                               seen=100))
        self.g.signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in self.g.log_text(), 10, what="reload")
        partial = wait_until(lambda: self.events("zones"), 10,
                             what="the changed window rule's open window")
        self.assertEqual(partial[0]["data"]["partial"], True)
        self.assertEqual(partial[0]["data"]["n"], 1)
        time.sleep(max(0, began + 4.3 - time.time()))
        self.gauge(5)  # pending since before the reload: fires now
        fired = wait_until(lambda: self.events("high"), 10,
                           what="the alert pending since before the reload")
        # Since the first message, 4.3 s before the second: not restarted.
        self.assertLess(epoch(fired[0]["data"]["active_since"]) - began, 2.0)
        self.assertEqual(self.g.stop(), 0)

    def test_suppressed_events_counted_by_why(self):
        text = ("domain: lights\nrules:\n  - name: fault\n"
                "    match: { vendors: [lamp] }\n    throttle: 1h\n"
                "    to: [ops]\n")
        self.start(text)
        topic = "%s/lamp" % self.pfx
        publish_many(self.b, topic, ['{"id": "lamp-1"}'] * 5)
        name = 'citygate_rule_suppressed_total{rule="lights/fault",why="%s"}'
        self.assertEqual(
            wait_until(lambda: self.metric_line(name % "throttle") == 4, 10,
                       what="four throttled events counted"), True)
        self.assertEqual(self.metric_line(name % "on_change"), 0)
        # The one event counted may still be on its way to the subscriber.
        wait_until(lambda: self.events("fault"), 10, what="the one event")
        self.assertEqual(self.g.stop(), 0)
        self.assertEqual(len(self.events("fault")), 1)

    # ---- bounded state -------------------------------------------------------

    def test_evictions_logged_at_once_then_at_most_once_a_minute(self):
        text = ("domain: lights\nrules:\n  - name: fault\n"
                "    match: { vendors: [lamp] }\n    throttle: 1h\n"
                "    max_keys: 5\n    to: [log]\n")
        self.start(text)
        topic = "%s/lamp" % self.pfx
        line = "rule lights/fault: "

        def lamps(first, n):
            publish_many(self.b, topic, ['{"id": "lamp-%d", "fault": true}' % i
                                         for i in range(first, first + n)])
            wait_until(lambda: (self.metric("citygate_rule_evicted_total",
                                            "lights/fault") or 0) >= first + n - 5,
                       10, what="evictions")

        lamps(0, 12)  # 7 keys evicted
        wait_until(lambda: line in self.g.log_text(), 5, what="an eviction line")
        logged = [s for s in self.g.log_text().splitlines() if line in s]
        self.assertEqual(len(logged), 1, logged)
        # The loop looks once a second: the line may come mid-burst.
        said = re.search(r"warn: rule lights/fault: (\d+) least recently used "
                         r"keys? evicted: it holds max_keys \(5\) keys$",
                         logged[0])
        self.assertIsNotNone(said, logged[0])
        self.assertTrue(1 <= int(said.group(1)) <= 7, logged[0])
        lamps(12, 10)  # 10 more, within the minute: counted, not logged
        time.sleep(2.5)  # two ticks of the loop
        self.assertEqual(self.g.log_text().count(line), 1)
        self.assertEqual(self.metric("citygate_rule_evicted_total",
                                     "lights/fault"), 17)
        self.assertEqual(self.metric("citygate_rule_state_keys",
                                     "lights/fault"), 5)
        self.assertEqual(self.g.stop(), 0)

    def test_100k_devices_through_a_throttled_rule(self):
        sanitized = os.environ.get("CG_SANITIZED") == "1"
        # Under a sanitizer memory is not measured (below): a quarter of
        # the devices shows eviction as well, in a quarter of the time.
        max_keys, total = (5000, 25000) if sanitized else (20000, 100000)
        text = ("domain: lights\nrules:\n  - name: fault\n"
                "    match: { vendors: [lamp] }\n    throttle: 1h\n"
                "    max_keys: %d\n    to: [log]\n" % max_keys)
        self.start(text)
        pub = Publisher(self.b.port, client_id="cg-state-pub")
        topic = "%s/lamp" % self.pfx

        def held():
            keys = self.metric("citygate_rule_state_keys", "lights/fault") or 0
            gone = self.metric("citygate_rule_evicted_total", "lights/fault") or 0
            return keys + gone

        samples, done = [], 0
        # 1,000 devices warm up buffers, the spool and the file sink; at
        # max_keys (a fifth) the rule is full; past it, keys are evicted.
        for upto in [1000] + [total * k // 5 for k in range(1, 6)]:
            for i in range(done, upto):
                pub.publish(topic, '{"id": "lamp-%06d", "fault": true}' % i)
            done = upto
            wait_until(lambda: held() >= upto, 300, step=0.5,
                       what="%d devices" % upto)
            samples.append(self.rss_kb())
        pub.close()
        self.assertEqual(self.metric("citygate_rule_state_keys", "lights/fault"),
                         max_keys)
        self.assertEqual(self.metric("citygate_rule_evicted_total", "lights/fault"),
                         total - max_keys)
        bound = max_keys * BYTES_PER_KEY // 1024 + 4096
        grown = samples[-1] - samples[0]
        print("RSS kB at 1,000 devices, then at each fifth of %d: %s; grown "
              "%d kB, bound %d kB (max_keys x %d B + 4 MiB)%s" %
              (total, samples, grown, bound, BYTES_PER_KEY,
               "; not checked under a sanitizer (its own memory)"
               if sanitized else ""))
        if not sanitized:
            self.assertLess(grown, bound)
            # Past max_keys the table is full: evictions, not growth.
            self.assertLess(samples[-1] - samples[1], 2048)
        self.assertEqual(self.g.stop(), 0)

    def rss_kb(self):
        with open("/proc/%d/status" % self.g.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


if __name__ == "__main__":
    unittest.main(verbosity=2)
