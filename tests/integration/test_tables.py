"""Lookup tables against a real mosquitto (SPEC 14): a table file edited
while traffic flows is reloaded with the config, the new values take
effect, and no message is lost on the way; a table edit that breaks it
is reported and the running table stays in force."""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import IntegrationTest, publish_many, wait_until  # noqa: E402

CONFIG = """
gateway:
  id: tables-box
  dead_letter_topic: {pfx}/dead
  status_topic: {pfx}/status
broker:
  uri: tcp://127.0.0.1:{port}
  client_id: cg-{pfx}
vendors:
  - name: binsense
    topics: ["{pfx}/bins/+/fill"]
    device: "{{topic.2}}"
    fields: {{seq: seq, fill_l: fill}}
consumers:
  - name: ops
    role: government
    topic: "{pfx}/city/{{type}}"
  - name: pub
    role: citizen
    topic: "{pfx}/pub/{{type}}"
rules: ["rules/*.yaml"]
tables:
  - name: bins
    file: tables/bins.csv
    key: bin_id
    private: [owner]
"""

RULES = """
domain: waste
rules:
  - name: fill
    data:
      seq: seq
      capacity_l: lookup("bins", device).capacity_l
      pct: round(fill_l * 100 / lookup("bins", device).capacity_l)
      owner: lookup("bins", device).owner
    to: [ops, pub]
"""

TABLE = "bin_id,district,capacity_l,owner\nb-1,haidian,{cap},Ms Li\n"

N = 400          # messages in all
CHANGE_AT = 150  # the table changes after this many


class TablesTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.pfx = "tb%d" % os.getpid()
        for d in ("rules", "tables"):
            os.makedirs(os.path.join(self.workdir, d))
        with open(os.path.join(self.workdir, "rules", "waste.yaml"), "w") as f:
            f.write(RULES)
        self.write_table(240)
        self.b = self.broker()
        self.all = self.sub(self.b, self.pfx + "/#")
        self.g = self.gateway(CONFIG.format(pfx=self.pfx, port=self.b.port),
                              wait_online=self.wait_online)

    def write_table(self, cap, extra=""):
        path = os.path.join(self.workdir, "tables", "bins.csv")
        with open(path + ".tmp", "w") as f:
            f.write(TABLE.format(cap=cap) + extra)
        os.replace(path + ".tmp", path)  # as an editor or a deploy does

    def wait_online(self):
        wait_until(lambda: any('"online"' in p for _, p in
                               self.all.received(self.pfx + "/status")),
                   15, what="the gateway's online status")

    def publish_range(self, first, last):
        payloads = ['{"seq": %d, "fill": 120}' % i for i in range(first, last)]
        publish_many(self.b, self.pfx + "/bins/b-1/fill", payloads)

    def events(self, prefix):
        return [e for _, e in self.all.events(self.pfx + prefix)]

    def test_table_reload_while_traffic_flows(self):
        # Traffic flows in bursts from a thread while the table changes.
        def traffic():
            for first in range(0, N, 25):
                self.publish_range(first, min(first + 25, N))
                time.sleep(0.05)
        sender = threading.Thread(target=traffic)
        sender.start()
        wait_until(lambda: len(self.events("/city/")) >= CHANGE_AT, 30,
                   what="the first events")
        self.write_table(480)
        wait_until(lambda: "reloaded" in self.g.log_text(), 15,
                   what="the reload after the table changed")
        sender.join(60)
        # Then more, certainly after the reload.
        self.publish_range(N, N + 20)
        wait_until(lambda: len({e["data"]["seq"] for e in self.events("/city/")})
                   >= N + 20, 30, what="every message's event")
        ops = self.events("/city/")
        seqs = {e["data"]["seq"] for e in ops}
        self.assertEqual(seqs, set(range(N + 20)), "a message was lost")
        # Old values up to some message, new values from the next on.
        caps = {}
        for e in ops:
            caps[e["data"]["seq"]] = (e["data"]["capacity_l"], e["data"]["pct"])
        switch = min(s for s, (cap, _) in caps.items() if cap == 480)
        self.assertGreaterEqual(switch, CHANGE_AT)
        for s, (cap, pct) in caps.items():
            self.assertEqual((cap, pct), (240, 50) if s < switch else (480, 25), s)
        # The private column: the government gets it, the citizen never.
        self.assertTrue(all(e["data"]["owner"] == "Ms Li" for e in ops))
        pub = self.events("/pub/")
        self.assertTrue(pub)
        self.assertTrue(all("owner" not in e["data"] for e in pub))
        self.assertEqual(self.all.received(self.pfx + "/dead"), [])

    def test_broken_table_keeps_the_running_one(self):
        self.publish_range(0, 1)
        wait_until(lambda: self.events("/city/"), 15, what="an event")
        self.write_table(480, "b-1,chaoyang,660,Mr Wang\n")  # duplicate key
        wait_until(lambda: "reload failed" in self.g.log_text(), 15,
                   what="the failed reload")
        self.assertRegex(self.g.log_text(),
                         r"tables/bins\.csv:3:1: duplicate key 'b-1' "
                         r"\(first at line 2\)")
        self.publish_range(1, 2)
        wait_until(lambda: len(self.events("/city/")) >= 2, 15,
                   what="the next event")
        self.assertEqual(self.events("/city/")[-1]["data"]["capacity_l"], 240)
        self.assertEqual(self.g.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
