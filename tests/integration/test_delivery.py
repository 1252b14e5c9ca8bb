"""Delivery policies against a real broker and HTTP receiver: a batch
refused for good becomes one "rejected" dead letter; a full spool with
`block` holds intake at the broker and loses nothing; with `drop_oldest`
it drops (and says so) instead; critical events overtake a backlog."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import IntegrationTest, free_port, publish, publish_many, wait_until  # noqa: E402
from receiver import Receiver  # noqa: E402

CONFIG = """
gateway:
  id: dlv-box
  dead_letter_topic: {pfx}/dead
  status_topic: {pfx}/status
broker:
  uri: tcp://127.0.0.1:{port}
  client_id: cg-{pfx}
vendors:
  - name: sensor
    topics: ["{pfx}/in/+"]
consumers:
  - name: ops
    role: government
    topic: "{pfx}/out/{{severity}}"
  - name: grid
    role: enterprise
    sink: http
    url: http://127.0.0.1:{http}/events
    batch: {{ max_events: 50, max_wait_ms: 20 }}
    spool_max_bytes: {spool}
    spool_full: {policy}
rules: ["rules.yaml"]
"""

RULES = """
domain: test
rules:
  - name: every
    severity: "level"
    data: { seq: seq }
    to: [ops, grid]
"""


class DeliveryTest(IntegrationTest):
    def start_city(self, spool="1GiB", policy="block"):
        self.pfx = "dlv%d" % os.getpid()
        self.http = Receiver(free_port()).start()
        self.cleanups.append(self.http.stop)
        self.b = self.broker()
        with open(os.path.join(self.workdir, "rules.yaml"), "w") as f:
            f.write(RULES)
        self.all = self.sub(self.b, self.pfx + "/#")
        text = CONFIG.format(pfx=self.pfx, port=self.b.port, http=self.http.port,
                             spool=spool, policy=policy)
        self.g = self.gateway(text)
        wait_until(lambda: "intake: connected to" in self.g.log_text(), 20,
                   what="the gateway to connect")

    def send(self, seqs, level="info"):
        publish_many(self.b, self.pfx + "/in/d1",
                     ['{"seq": %d, "level": "%s"}' % (s, level) for s in seqs])

    def test_refused_batch_becomes_one_dead_letter(self):
        self.start_city()
        self.http.status = 400
        self.send(range(3))
        dead = self.all.wait_count(1, self.pfx + "/dead")
        letter = json.loads(dead[0][1])
        self.assertEqual(letter["reason"], "rejected")
        self.assertEqual(letter["consumer"], "grid")
        self.assertEqual(letter["status"], 400)
        self.assertTrue(letter["events"])
        self.assertRegex(letter["received"], r"Z$")
        self.all.wait_count(3, self.pfx + "/out/")  # others unaffected

    def test_retry_after_is_honoured_and_nothing_lost(self):
        self.start_city()
        self.http.status = 503
        self.http.retry_after = 1
        self.send(range(20))
        time.sleep(2.5)
        self.http.status = 200
        wait_until(lambda: len(self.http.snapshot()) >= 20, 30,
                   what="the grid batch after 503")
        self.assertIn("delivery failing", self.g.log_text())
        # Written once the batch's answer is in: after the receiver has it.
        wait_until(lambda: "delivering again" in self.g.log_text(), 10,
                   what="the 'delivering again' line")

    def test_full_spool_blocks_intake_and_loses_nothing(self):
        self.start_city(spool="16KiB", policy="block")
        self.http.stop()
        self.send(range(600))
        wait_until(lambda: "holding intake" in self.g.log_text(), 30,
                   what="intake to be held")
        self.http.start()
        wait_until(lambda: len({e["data"]["seq"] for e in self.http.snapshot()}) >= 600,
                   120, what="every event at grid")
        wait_until(lambda: len({json.loads(p)["data"]["seq"] for t, p in
                                self.all.received(self.pfx + "/out/")}) >= 600,
                   60, what="every event at ops")
        self.assertIn("resuming intake", self.g.log_text())

    def test_full_spool_drops_oldest_when_told(self):
        self.start_city(spool="16KiB", policy="drop_oldest")
        self.http.stop()
        self.send(range(600))
        self.all.wait_count(600, self.pfx + "/out/", timeout=60)  # ops: all
        wait_until(lambda: "dropping the oldest" in self.g.log_text(), 20,
                   what="the drop warning")
        self.http.start()
        wait_until(lambda: 599 in [e["data"]["seq"] for e in self.http.snapshot()],
                   60, what="the newest event at grid")
        seqs = [e["data"]["seq"] for e in self.http.snapshot()]
        self.assertLess(len(set(seqs)), 600)       # some were dropped
        self.assertIn(599, seqs)                   # the newest survive

    def test_critical_overtakes_a_backlog(self):
        self.start_city()
        self.http.stop()
        self.send(range(300), "info")
        self.all.wait_count(300, self.pfx + "/out/")
        self.send(range(300, 310), "critical")
        self.all.wait_count(310, self.pfx + "/out/")
        self.http.start()
        wait_until(lambda: len(self.http.snapshot()) >= 310, 60, what="grid")
        first = self.http.snapshot()[:10]
        self.assertEqual([e["severity"] for e in first], ["critical"] * 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
