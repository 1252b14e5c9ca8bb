"""Hostile input at volume: 100,000 bad payloads mixed into normal
traffic. Every bad one becomes a counted dead letter with the right
reason, normal traffic keeps producing events, and the gateway's memory
stays flat (SPEC §8)."""

import os
import random
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import IntegrationTest, free_port, wait_until  # noqa: E402
from mqttpub import Publisher  # noqa: E402

HOSTILE = int(os.environ.get("CG_HOSTILE_MESSAGES", "100000"))

CONFIG = """
gateway:
  id: hostile-box
  dead_letter_topic: {pfx}/dead
  status_topic: {pfx}/status
  metrics_listen: 127.0.0.1:{mport}
  max_payload_bytes: 65536
broker:
  uri: tcp://127.0.0.1:{port}
  client_id: cg-{pfx}
vendors:
  - name: air
    topics: ["{pfx}/air/+"]
  - name: meter
    topics: ["{pfx}/meter/+"]
    decoder: kv
  - name: park
    topics: ["{pfx}/park/+"]
    decoder: lpp
consumers:
  - name: ops
    role: government
    sink: file
    path: ./events.jsonl
    fsync: never
rules: ["rules.yaml"]
"""

RULES = """
domain: test
rules:
  - name: seen
    to: [ops]
"""

BAD = [
    ("air", b"{not json"),
    ("air", b'{"a": "\xff\xfe"}'),                 # invalid UTF-8
    ("air", b"[" * 65 + b"]" * 65),               # nesting deeper than 64
    ("air", b'{"n": 1e400}'),                     # beyond the double range
    ("air", b'{"n": NaN}'),
    ("air", b'{"n": Infinity}'),
    ("air", b'{"a": 1}{"b": 2}'),                 # trailing garbage
    ("air", b'{"a": "x\x00y"}'),                  # raw control character
    ("air", b'{"a": "\\u0000"}'),
    ("air", b'{"a": "\\ud800"}'),                 # lone surrogate
    ("air", b"\xef\xbb\xbf{}"),                   # byte-order mark
    ("air", b"\x00\x01\x02binary junk\x80"),
    ("meter", b"pm25"),                           # a pair without '='
    ("meter", b""),
    ("park", b"\x03\x67\x01"),                    # truncated LPP
    ("park", b"\x01\x99\x00"),                    # unknown LPP type
]


class HostileTest(IntegrationTest):
    def rss_kb(self):
        with open("/proc/%d/status" % self.g.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def metrics(self):
        url = "http://127.0.0.1:%d/metrics" % self.mport
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()

    def dead(self, reason):
        for line in self.metrics().splitlines():
            if line.startswith('citygate_messages_dead_total{reason="%s"}' % reason):
                return int(line.split()[-1])
        return 0

    def test_hostile_payloads_at_volume(self):
        pfx = "hostile%d" % os.getpid()
        self.mport = free_port()
        b = self.broker()
        with open(os.path.join(self.workdir, "rules.yaml"), "w") as f:
            f.write(RULES)
        self.g = self.gateway(CONFIG.format(pfx=pfx, port=b.port, mport=self.mport))
        wait_until(lambda: "intake: connected to" in self.g.log_text(), 20, what="connect")
        pub = Publisher(b.port)
        rnd = random.Random(11)
        big = b'{"a": "' + b"x" * 70000 + b'"}'
        good = decode = large = 0
        samples = []
        for i in range(HOSTILE):
            vendor, payload = BAD[i % len(BAD)]
            if i % 1000 == 999:
                vendor, payload = "air", big
                large += 1
            else:
                decode += 1
            pub.publish("%s/%s/d%d" % (pfx, vendor, i % 50), payload)
            if i % 5 == 0:
                pub.publish("%s/air/d%d" % (pfx, i % 50),
                            '{"pm2_5": %d}' % rnd.randint(0, 200))
                good += 1
            if i % 10000 == 0:
                samples.append(self.rss_kb())
        pub.close()
        wait_until(lambda: self.dead("decode_error") >= decode, 300, step=1,
                   what="every bad payload to be dead-lettered")
        self.assertEqual(self.dead("decode_error"), decode)
        self.assertEqual(self.dead("too_large"), large)
        events = os.path.join(self.workdir, "events.jsonl")
        def lines():
            with open(events) as f:
                return sum(1 for _ in f)
        wait_until(lambda: lines() >= good, 120, step=1,
                   what="events of the good traffic")
        samples.append(self.rss_kb())
        warm = max(samples[1:3])
        print("RSS kB every 10,000 hostile payloads: %s" % samples)
        print("dead letters: decode_error %d, too_large %d; events %d" %
              (decode, large, good))
        if os.environ.get("CG_SANITIZED") != "1":
            # Flat means flat: 80 bytes kept per message (the Paho
            # journal's index once did) are 8 MiB over this run.
            self.assertLess(samples[-1] - warm, 3 * 1024,
                            "memory grew by more than 3 MiB: %s" % samples)
        self.assertEqual(self.g.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
