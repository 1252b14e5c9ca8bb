"""Output formats and complete sinks (SPEC §15) against real receivers: an
NGSI-LD consumer posts batch upserts as JSON-LD; an HTTPS consumer needs
its CA file and client certificate; a retained MQTT consumer's last event
reaches a late subscriber; a CAP consumer gets Alert then Cancel."""

import json
import os
import ssl
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
from harness import IntegrationTest, free_port, publish, wait_until  # noqa: E402
from receiver import Receiver  # noqa: E402

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"

CONFIG = """
gateway:
  id: fmt-box
  dead_letter_topic: {pfx}/dead
  status_topic: {pfx}/status
broker:
  uri: tcp://127.0.0.1:{port}
  client_id: cg-{pfx}
vendors:
  - name: aircheck
    topics: ["{pfx}/air/+"]
    fields: {{ pm25: pm2_5, district: zone, lat: lat, lon: lon }}
consumers:
{consumers}
rules: ["rules.yaml"]
"""

RULES = """
domain: environment
rules:
  - name: pm25-high
    description: PM2.5 above the WHO guideline
    when: pm25 > 15
    severity: "pm25 > 75 ? 'critical' : 'warning'"
    to: [{to}]
"""


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_pki(d):
    """A throwaway CA, a server certificate for 127.0.0.1 and a client
    certificate, all signed by the CA."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=cg-test-ca",
            cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                      ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name,
                cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


class Formats(IntegrationTest):
    def start(self, consumers, to):
        self.pfx = "fmt%d" % os.getpid()
        self.b = self.broker()
        with open(os.path.join(self.workdir, "rules.yaml"), "w") as f:
            f.write(RULES.format(to=to))
        self.all = self.sub(self.b, self.pfx + "/#")
        text = CONFIG.format(pfx=self.pfx, port=self.b.port,
                             consumers=consumers)
        self.g = self.gateway(text)
        wait_until(lambda: "intake: connected" in self.g.log_text(), 20,
                   what="the gateway to connect")

    def reading(self, pm25, device="aq-7"):
        publish(self.b, "%s/air/%s" % (self.pfx, device),
                json.dumps({"pm2_5": pm25, "zone": "haidian", "lat": 39.9,
                            "lon": 116.4}))

    def test_ngsi_ld_batch_upsert(self):
        r = Receiver(free_port()).start()
        self.cleanups.append(r.stop)
        self.start("""
  - name: ministry
    role: government
    sink: http
    format: ngsi-ld
    url: http://127.0.0.1:%d/broker
    batch: { max_events: 10, max_wait_ms: 50 }
""" % r.port, "ministry")
        self.reading(80.2)
        self.reading(40.0, device="aq-8")
        wait_until(lambda: len(r.snapshot()) >= 2, 20, what="two entities")
        path, headers = r.requests[0]
        self.assertEqual(path, "/broker/ngsi-ld/v1/entityOperations/upsert")
        self.assertEqual(headers["Content-Type"], "application/ld+json")
        ids = sorted(e["id"] for e in r.snapshot())
        self.assertEqual(ids, ["urn:ngsi-ld:Pm25High:fmt-box:aq-7",
                               "urn:ngsi-ld:Pm25High:fmt-box:aq-8"])
        e = r.snapshot()[0]
        self.assertEqual(e["type"], "Pm25High")
        self.assertEqual(e["pm25"]["type"], "Property")
        self.assertEqual(e["location"]["value"]["coordinates"], [116.4, 39.9])
        self.assertIn("@context", e)

    def test_https_needs_ca_and_client_certificate(self):
        pki = os.path.join(self.workdir, "pki")
        os.makedirs(pki)
        try:
            make_pki(pki)
        except (OSError, subprocess.CalledProcessError) as e:
            self.skipTest("openssl cannot make test certificates: %s" % e)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(pki, "server.pem"),
                            os.path.join(pki, "server.key"))
        ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
        ctx.verify_mode = ssl.CERT_REQUIRED  # the client must show its own
        r = Receiver(free_port())
        r.ssl_context = ctx
        r.start()
        self.cleanups.append(r.stop)
        tls = "{ ca_file: pki/ca.pem, cert_file: pki/client.pem, key_file: pki/client.key }"
        self.start("""
  - { name: secure, role: government, sink: http,
      url: "https://127.0.0.1:%d/e", tls: %s }
  - { name: no-client-cert, role: government, sink: http,
      url: "https://127.0.0.1:%d/e", tls: { ca_file: pki/ca.pem } }
  - { name: no-ca, role: government, sink: http,
      url: "https://127.0.0.1:%d/e" }
""" % (r.port, tls, r.port, r.port), "secure, no-client-cert, no-ca")
        self.reading(80.2)
        wait_until(lambda: len(r.snapshot()) >= 1, 20, what="the secure event")
        wait_until(lambda: self.g.log_text().count("delivery failing") >= 2,
                   20, what="the two refused consumers to say so")
        time.sleep(1.0)
        who = {e["chain"]["application_provider"] for e in r.snapshot()}
        self.assertEqual(who, {"secure"})

    def test_retained_consumer_reaches_a_late_subscriber(self):
        self.start("""
  - { name: board, role: citizen, topic: "{pfx}/board/{data.district}",
      retain: true }
  - { name: plain, role: citizen, topic: "{pfx}/plain/{data.district}" }
""".replace("{pfx}", "fmt%d" % os.getpid()), "board, plain")
        self.reading(80.2)
        self.all.wait_count(1, self.pfx + "/board/")
        self.all.wait_count(1, self.pfx + "/plain/")
        late = self.sub(self.b, self.pfx + "/+/haidian")
        got = late.wait_count(1, self.pfx + "/board/", timeout=5)
        self.assertEqual(json.loads(got[0][1])["rule"],
                         "environment/pm25-high")
        time.sleep(0.5)
        self.assertEqual(late.received(self.pfx + "/plain/"), [])

    def test_cap_over_mqtt_is_valid_cap(self):
        self.start("""
  - { name: civil-protection, role: government, format: cap,
      topic: "{pfx}/cap/{type}", cap: { sender: civil@city.example } }
""".replace("{pfx}", "fmt%d" % os.getpid()), "civil-protection")
        self.reading(80.2)
        self.reading(10.0)  # below the threshold: nothing
        self.reading(3.0)
        docs = self.all.wait_count(1, self.pfx + "/cap/")
        time.sleep(0.5)
        self.assertEqual(len(self.all.received(self.pfx + "/cap/")), 1)
        root = ET.fromstring(docs[0][1])
        self.assertEqual(root.tag, CAP + "alert")
        names = [c.tag.replace(CAP, "") for c in root]
        self.assertEqual(names, ["identifier", "sender", "sent", "status",
                                 "msgType", "scope", "info"])
        self.assertEqual(root.find(CAP + "sender").text, "civil@city.example")
        self.assertRegex(root.find(CAP + "sent").text,
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00$")
        info = root.find(CAP + "info")
        self.assertEqual(info.find(CAP + "severity").text, "Severe")
        self.assertEqual(info.find(CAP + "area/" + CAP + "areaDesc").text,
                         "haidian")


    # ---- CAP lifecycle: Alert, then a Cancel that references it ----------

    EPISODE = """
domain: environment
rules:
  - name: pm25-episode
    description: PM2.5 held above the national limit
    match: { vendors: [aircheck] }
    when: pm25 > 75
    for: 1s
    stale_after: 1h
    severity: critical
    data: { pm25: pm25, district: district }
    cap:
      event: Smog episode
      headline: "PM2.5 {data.pm25} in {data.district}"
      area: "{data.district} district"
      expires: 30m
    to: [civil-protection]
"""

    def start_episode(self):
        self.start("""
  - { name: civil-protection, role: government, format: cap,
      topic: "{pfx}/cap/{type}", cap: { sender: civil@city.example } }
""".replace("{pfx}", "fmt%d" % os.getpid()), "civil-protection")
        self.g.stop()
        with open(os.path.join(self.workdir, "rules.yaml"), "w") as f:
            f.write(self.EPISODE)
        self.restart()

    def restart(self):
        """Starts the stopped gateway again; returns once intake is up."""
        before = self.g.log_text().count("intake: connected")
        self.g.logf.close()
        self.g.start()
        wait_until(lambda: self.g.log_text().count("intake: connected")
                   > before, 20, what="the gateway to connect again")

    def alerts(self):
        return [ET.fromstring(p)
                for _, p in self.all.received(self.pfx + "/cap/")]

    def fire_episode(self):
        self.reading(80.0)
        time.sleep(1.3)
        self.reading(90.0)
        docs = self.all.wait_count(1, self.pfx + "/cap/")
        alert = ET.fromstring(docs[0][1])
        self.assertEqual(alert.find(CAP + "msgType").text, "Alert")
        info = alert.find(CAP + "info")
        self.assertEqual(info.find(CAP + "event").text, "Smog episode")
        self.assertEqual(info.find(CAP + "headline").text,
                         "PM2.5 90 in haidian")
        self.assertEqual(info.find(CAP + "area/" + CAP + "areaDesc").text,
                         "haidian district")
        return alert

    def resolve_and_check_cancel(self, alert):
        self.reading(20.0)  # below: resolves it
        docs = self.all.wait_count(2, self.pfx + "/cap/")
        time.sleep(0.5)
        self.assertEqual(len(self.alerts()), 2, "one Alert, one Cancel")
        cancel = ET.fromstring(docs[1][1])
        self.assertEqual(cancel.find(CAP + "msgType").text, "Cancel")
        ref = ",".join(alert.find(CAP + k).text
                       for k in ("sender", "identifier", "sent"))
        self.assertEqual(cancel.find(CAP + "references").text, ref)
        names = [c.tag.replace(CAP, "") for c in cancel]
        self.assertEqual(names, ["identifier", "sender", "sent", "status",
                                 "msgType", "scope", "references", "info"])
        self.assertNotEqual(cancel.find(CAP + "identifier").text,
                            alert.find(CAP + "identifier").text)

    def test_cap_alert_then_cancel_for_a_for_rule(self):
        self.start_episode()
        alert = self.fire_episode()
        self.reading(95.0)  # still firing: no second Alert
        time.sleep(0.5)
        self.assertEqual(len(self.alerts()), 1)
        self.resolve_and_check_cancel(alert)

    def test_cap_cancel_after_a_restart_references_the_alert(self):
        self.start_episode()
        alert = self.fire_episode()
        self.assertEqual(self.g.stop(), 0)  # the alert's state is saved
        self.restart()
        self.assertIn("state restored", self.g.log_text())
        self.resolve_and_check_cancel(alert)


if __name__ == "__main__":
    unittest.main(verbosity=2)
