"""citygate run against a real mosquitto: routing and privacy per role,
dead letters, status and last will, reconnection, reload and shutdown."""

import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import urllib.request  # noqa: E402

from harness import IntegrationTest, free_port, publish, wait_until  # noqa: E402

CONFIG = """
gateway:
  id: it-box
  dead_letter_topic: {pfx}/dead
  status_topic: {pfx}/status
  max_payload_bytes: 2048
  metrics_listen: 127.0.0.1:{mport}
broker:
  uri: tcp://127.0.0.1:{port}
  client_id: cg-{pfx}
  keepalive: 5
networks:
  - {{name: nb, kind: nb-iot}}
vendors:
  - name: acme-air
    network: nb
    topics: ["{pfx}/vendors/acme/air/+/telemetry"]
    device: "{{topic.4}}"
    fields:
      pm25: pm2_5
      district: zone
      owner_id: owner
      status: status
    private: [owner_id]
  - name: tagged
    network: nb
    topics: ["{pfx}/vendors/tagged/+"]
    device: "{{payload.id}}"
consumers:
  - name: city-ops
    role: government
    topic: "{pfx}/city/gov/{{domain}}/{{type}}"
  - name: grid-co
    role: enterprise
    topic: "{pfx}/city/ent/{{type}}"
    grants: [owner_id]
  - name: utility
    role: enterprise
    topic: "{pfx}/city/util/{{type}}"
    qos: 0              # best effort: straight out, past the spool
  - name: open-data
    role: citizen
    topic: "{pfx}/city/public/{{domain}}/{{data.district}}"
rules: ["rules/*.yaml"]
"""

RULES = """
domain: environment
rules:
  - name: pm25-high
    when: pm25 > {threshold} && status != "fault"
    type: air_quality.pm25_high
    severity: "pm25 > 75 ? 'critical' : 'warning'"
    data:
      pm25: round(pm25, 1)
      district: district
      owner: owner_id
      owner_hash: hash(owner_id)
    to: [government, enterprise, citizen]
  - name: tagged-seen
    match: {{ vendors: [tagged] }}
    to: [city-ops]
"""


class GatewayTest(IntegrationTest):
    def start_city(self, threshold=35, **broker_kw):
        self.pfx = "it%d" % os.getpid()
        self.b = self.broker(**broker_kw)
        os.makedirs(os.path.join(self.workdir, "rules"), exist_ok=True)
        self.write_rules(threshold)
        self.all = self.sub(self.b, self.pfx + "/#")
        self.mport = free_port()
        text = CONFIG.format(pfx=self.pfx, port=self.b.port, mport=self.mport)
        self.g = self.gateway(text, wait_online=self.wait_online)
        return self.g

    def write_rules(self, threshold):
        with open(os.path.join(self.workdir, "rules", "env.yaml"), "w") as f:
            f.write(RULES.format(threshold=threshold))

    def wait_online(self, count=1):
        def online():
            states = [json.loads(p)["state"] for t, p in
                      self.all.received(self.pfx + "/status")]
            return states.count("online") >= count
        wait_until(online, 15, what="the gateway's online status")

    def reading(self, device="aq-7", pm25=80.2, status="ok"):
        topic = "%s/vendors/acme/air/%s/telemetry" % (self.pfx, device)
        payload = json.dumps({"pm2_5": pm25, "zone": "haidian",
                              "owner": "O-17", "status": status})
        publish(self.b, topic, payload)
        return topic

    def test_events_per_role(self):
        self.start_city()
        topic = self.reading()
        city = self.pfx + "/city/"
        got = dict(self.all.wait_count(4, city))
        gov = json.loads(got[self.pfx + "/city/gov/environment/air_quality.pm25_high"])
        ent = json.loads(got[self.pfx + "/city/ent/air_quality.pm25_high"])
        util = json.loads(got[self.pfx + "/city/util/air_quality.pm25_high"])
        pub = json.loads(got[self.pfx + "/city/public/environment/haidian"])
        self.assertEqual(gov["data"]["owner"], "O-17")
        self.assertIn("owner_hash", gov["data"])
        self.assertEqual(ent["data"]["owner"], "O-17")          # granted
        self.assertNotIn("owner", util["data"])                 # not granted
        self.assertNotIn("owner_hash", util["data"])            # derived: private too
        self.assertNotIn("owner", pub["data"])
        self.assertNotIn("owner_hash", pub["data"])
        self.assertEqual(pub["data"], {"pm25": 80.2, "district": "haidian"})
        self.assertEqual(gov["severity"], "critical")
        self.assertEqual(gov["rule"], "environment/pm25-high")
        self.assertEqual(gov["source"], {"vendor": "acme-air", "device": "aq-7",
                                         "topic": topic})
        self.assertEqual(gov["chain"], {"device_provider": "acme-air",
                                        "network_provider": "nb",
                                        "application_provider": "city-ops"})
        self.assertEqual(gov["gateway"], "it-box")
        self.assertEqual(len({gov["id"], ent["id"], util["id"], pub["id"]}), 4)
        for key in ("time", "received"):
            self.assertRegex(gov[key], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def metrics(self):
        url = "http://127.0.0.1:%d/metrics" % self.mport
        with urllib.request.urlopen(url, timeout=5) as r:
            self.assertIn("text/plain", r.headers["Content-Type"])
            return r.read().decode()

    def test_metrics(self):
        self.start_city()
        self.reading()
        publish(self.b, self.pfx + "/vendors/acme/air/aq-1/telemetry", "{bad")
        self.all.wait_count(4, self.pfx + "/city/")
        self.all.wait_count(1, self.pfx + "/dead")
        wait_until(lambda: 'result="delivered"} 1' in self.metrics(), 10,
                   what="deliveries in /metrics")
        text = self.metrics()
        self.assertIn('citygate_messages_received_total{vendor="acme-air"} 2', text)
        self.assertIn('citygate_messages_dead_total{reason="decode_error"} 1', text)
        self.assertIn('citygate_rule_events_total{rule="environment/pm25-high"} 4', text)
        self.assertIn('citygate_deliveries_total{consumer="city-ops",result="delivered"} 1', text)
        self.assertIn('citygate_spool_depth{consumer="open-data"} 0', text)
        self.assertIn('citygate_deliveries_total{consumer="utility",result="delivered"} 1', text)
        self.assertIn('citygate_pipeline_seconds_bucket{le="+Inf"} 2', text)
        self.assertIn("citygate_pipeline_seconds_count 2", text)
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen("http://127.0.0.1:%d/other" % self.mport, timeout=5)

    def test_dead_letters_keep_traffic_flowing(self):
        self.start_city()
        vend = self.pfx + "/vendors/acme/air/aq-1/telemetry"
        publish(self.b, vend, "{not json")
        publish(self.b, vend, b"\xff\xfe\x00junk")
        publish(self.b, vend, "x" * 5000)
        publish(self.b, self.pfx + "/vendors/tagged/t1", '{"temp": 1}')
        self.reading(pm25=90)
        dead = self.all.wait_count(4, self.pfx + "/dead")
        reasons = [json.loads(p)["reason"] for _, p in dead]
        self.assertEqual(sorted(reasons), ["decode_error", "decode_error",
                                           "no_device", "too_large"])
        binary = [json.loads(p) for _, p in dead if json.loads(p)["encoding"] == "base64"]
        self.assertEqual(len(binary), 1)
        big = [json.loads(p) for _, p in dead if json.loads(p)["reason"] == "too_large"][0]
        self.assertEqual(len(big["payload"]), 4096)  # cut to 4 KiB
        self.all.wait_count(4, self.pfx + "/city/")   # good traffic still flows

    def test_status_online_and_last_will(self):
        self.start_city()
        online = [json.loads(p) for t, p in self.all.received(self.pfx + "/status")]
        self.assertEqual(online[-1]["state"], "online")
        self.assertEqual(online[-1]["gateway"], "it-box")
        self.assertIn("version", online[-1])
        self.assertIn("started", online[-1])
        self.g.kill()  # SIGKILL: the broker publishes the will
        wait_until(lambda: json.loads(self.all.received(self.pfx + "/status")[-1][1])["state"] == "offline",
                   20, what="the last will")
        late = self.sub(self.b, self.pfx + "/status")  # retained
        late.wait_count(1)
        self.assertEqual(json.loads(late.received()[0][1]),
                         {"state": "offline", "gateway": "it-box"})

    def test_sigterm_exits_zero_and_goes_offline(self):
        self.start_city()
        self.reading()
        self.all.wait_count(4, self.pfx + "/city/")
        self.assertEqual(self.g.stop(), 0)
        last = json.loads(self.all.received(self.pfx + "/status")[-1][1])
        self.assertEqual(last, {"state": "offline", "gateway": "it-box"})

    def test_consumer_with_its_own_broker(self):
        """A consumer's `broker:` block gets its own connection (SPEC §2):
        here a second mosquitto stands in for a ministry's broker."""
        self.pfx = "it%d" % os.getpid()
        self.b = self.broker()
        ministry = self.broker()
        os.makedirs(os.path.join(self.workdir, "rules"), exist_ok=True)
        self.write_rules(35)
        self.all = self.sub(self.b, self.pfx + "/#")
        gov = self.sub(ministry, "gov/#")
        self.mport = free_port()
        text = CONFIG.format(pfx=self.pfx, port=self.b.port, mport=self.mport)
        text = text.replace("rules: [", """  - name: ministry
    role: government
    topic: "gov/{domain}/{type}"
    broker: { uri: "tcp://127.0.0.1:%d", client_id: cg-ministry-%s }
rules: [""" % (ministry.port, self.pfx), 1)
        self.g = self.gateway(text, wait_online=self.wait_online)
        self.reading()
        got = gov.wait_count(1, "gov/")
        self.assertEqual(got[0][0], "gov/environment/air_quality.pm25_high")
        event = json.loads(got[0][1])
        self.assertEqual(event["chain"]["application_provider"], "ministry")
        self.assertEqual(event["data"]["owner"], "O-17")
        self.all.wait_count(4, self.pfx + "/city/")  # the others still get theirs

    def test_reconnects_after_broker_restart(self):
        self.start_city()
        port = self.b.port
        self.all.stop()
        self.b.stop()
        time.sleep(1.0)
        self.b = self.broker(port=port)
        self.all = self.sub(self.b, self.pfx + "/#")
        wait_until(lambda: "intake: connected" in self.g.log_text().split("intake: lost the connection")[-1],
                   40, what="the gateway to reconnect")
        time.sleep(0.5)
        self.reading()
        self.all.wait_count(4, self.pfx + "/city/", timeout=20)

    def test_reload_keeps_running_rules_when_new_ones_are_bad(self):
        self.start_city(threshold=35)
        self.write_rules(threshold=100)
        self.g.signal(signal.SIGHUP)
        wait_until(lambda: "reloaded" in self.g.log_text(), 10, what="reload")
        self.reading(pm25=80)  # below the new threshold: nothing
        self.reading(pm25=120)
        self.all.wait_count(4, self.pfx + "/city/")
        time.sleep(0.5)
        events = self.all.events(self.pfx + "/city/")
        self.assertTrue(all(e["data"]["pm25"] == 120 for _, e in events))
        with open(os.path.join(self.workdir, "rules", "env.yaml"), "a") as f:
            f.write("  - name: broken\n    when: pm25 >\n    to: [city-ops]\n"
                    "  - name: misspelt\n    whn: pm25 > 1\n"
                    "    to: [city-ops]\n"
                    "  - name: nowhere\n    to: [no-such-consumer]\n")
        wait_until(lambda: "reload failed" in self.g.log_text(), 10,
                   what="the failed reload (file watch)")
        # Every error of the reload at once (SPEC §14), one line each at
        # level error naming the place (SPEC §16: no "error:" twice on a
        # line).
        log = self.g.log_text()
        self.assertRegex(log, r" error: \S*env\.yaml:\d+:\d+: when: ")
        self.assertRegex(log, r" error: \S*env\.yaml:\d+:\d+: .*'whn'")
        self.assertRegex(log, r" error: \S*env\.yaml:\d+:\d+: .*no-such-consumer")
        self.reading(pm25=130)
        self.all.wait_count(8, self.pfx + "/city/")
        self.assertEqual(self.g.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
