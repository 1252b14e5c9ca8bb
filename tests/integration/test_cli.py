"""The command line as an operator meets it (SPEC §7): exit codes, error
positions, eval output, check summary, test reports."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CITYGATE = os.environ.get("CITYGATE", "citygate")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(ROOT, "config", "citygate.yaml")

CONFIG = """
vendors:
  - name: acme-air
    network: nb
    topics: ["vendors/acme/air/+/telemetry"]
    fields: {pm25: pm2_5, district: zone, owner_id: owner}
    private: [owner_id]
networks: [{name: nb, kind: nb-iot}]
consumers:
  - {name: city-ops, role: government, topic: "city/gov/{domain}/{type}"}
  - {name: open-data, role: citizen, topic: "city/public/{domain}/{data.district}"}
  - {name: grid-co, role: enterprise, sink: http, url: "http://127.0.0.1:9/events"}
  - {name: archive, role: government, sink: file, path: ./spool/archive.jsonl}
rules: ["rules/*.yaml"]
"""

RULES = """domain: environment
rules:
  - name: pm25-high
    when: pm25 > 35
    data: {pm25: pm25, district: district, owner: owner_id}
    to: [government, citizen, grid-co]
    tests:
      - topic: vendors/acme/air/aq-7/telemetry
        payload: '{"pm2_5": 80, "zone": "haidian", "owner": "o1"}'
        expect:
          - {consumer: city-ops, type: pm25-high, data: {pm25: 80, owner: o1}}
          - {consumer: open-data, data: {district: haidian}}
      - name: clean air
        payload: '{"pm2_5": 5, "zone": "haidian"}'
        expect: []
"""


def run(*args, stdin=None):
    p = subprocess.run([CITYGATE] + list(args), capture_output=True,
                       text=True, timeout=60, input=stdin)
    return p.returncode, p.stdout, p.stderr


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cg-cli-")
        os.makedirs(os.path.join(self.dir, "rules"))
        self.write("citygate.yaml", CONFIG)
        self.write("rules/env.yaml", RULES)
        self.config = os.path.join(self.dir, "citygate.yaml")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def test_version_and_help(self):
        code, out, _ = run("--version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^citygate \d+\.\d+\.\d+")
        code, out, _ = run("--help")
        self.assertEqual(code, 0)
        self.assertIn("citygate eval", out)

    def test_bad_usage_exits_2(self):
        self.assertEqual(run("frobnicate")[0], 2)
        self.assertEqual(run("check", "--nope")[0], 2)
        self.assertEqual(run("eval", "-c", self.config, "-t", "a/b")[0], 2)
        self.assertEqual(run("eval", "-c", self.config, "-p", "{}")[0], 2)
        code, _, err = run("check", "-c")
        self.assertEqual(code, 2)
        self.assertIn("option '-c' needs a value", err)
        code, _, err = run("check", "--strict=yes")
        self.assertEqual(code, 2)
        self.assertIn("option '--strict=yes' takes no value", err)
        code, _, err = run("--version", "extra")
        self.assertEqual(code, 2)
        self.assertIn("--version takes no arguments (got 'extra')", err)
        self.assertEqual(run("--help", "run")[0], 2)

    def test_missing_config_exits_1(self):
        code, _, err = run("check", "-c", os.path.join(self.dir, "none.yaml"))
        self.assertEqual(code, 1)
        self.assertIn("none.yaml", err)

    def test_check_summary(self):
        code, out, err = run("check", "-c", self.config)
        self.assertEqual(code, 0, err)
        self.assertIn("vendors: 1", out)
        self.assertIn("consumers: 4", out)
        self.assertIn("rules: 1", out)
        self.assertIn("environment", out)

    def test_rule_error_at_line_and_column(self):
        self.write("rules/env.yaml", RULES.replace("when: pm25 > 35",
                                                   "when: pm25 > > 35"))
        code, out, err = run("check", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"rules/env\.yaml:4:18: error: when: ")

    def test_expression_error_in_quoted_scalar(self):
        self.write("rules/env.yaml", RULES.replace("when: pm25 > 35",
                                                   "when: \"pm25 > foo(1)\""))
        code, _, err = run("check", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"env\.yaml:4:19: error: when: unknown function 'foo'")

    def test_eval_prints_each_delivery(self):
        code, out, err = run("eval", "-c", self.config, "-t",
                             "vendors/acme/air/aq-7/telemetry", "-p",
                             '{"pm2_5": 80, "zone": "hai/dian", "owner": "o1"}')
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 4)  # archive is a government consumer too
        by = {l.split(" ", 2)[0]: l.split(" ", 2) for l in lines}
        self.assertEqual(by["city-ops"][1], "city/gov/environment/pm25-high")
        self.assertEqual(by["open-data"][1], "city/public/environment/hai_dian")
        self.assertEqual(by["grid-co"][1], "http://127.0.0.1:9/events")
        pub = json.loads(by["open-data"][2])
        self.assertNotIn("owner", pub["data"])
        self.assertEqual(json.loads(by["city-ops"][2])["data"]["owner"], "o1")

    def test_eval_dead_letter_and_silence(self):
        code, out, _ = run("eval", "-c", self.config, "-t",
                           "vendors/acme/air/aq-7/telemetry", "-p", "{bad")
        self.assertEqual(code, 0)
        self.assertTrue(out.startswith("dead decode_error {"))
        dead = json.loads(out.split(" ", 2)[2])
        self.assertEqual(dead["payload"], "{bad")
        code, out, _ = run("eval", "-c", self.config, "-t", "elsewhere/x", "-p", "{}")
        self.assertTrue(out.startswith("dead unknown_vendor "))
        code, out, _ = run("eval", "-c", self.config, "-t",
                           "vendors/acme/air/aq-7/telemetry", "-p", '{"pm2_5": 3}')
        self.assertEqual((code, out), (0, ""))

    def test_eval_from_file(self):
        self.write("payload.json", '{"pm2_5": 99, "zone": "x"}')
        code, out, _ = run("eval", "-c", self.config, "-t",
                           "vendors/acme/air/aq-7/telemetry", "-f",
                           os.path.join(self.dir, "payload.json"))
        self.assertEqual(code, 0)
        self.assertEqual(len(out.splitlines()), 4)
        # A folder opens but cannot be read: the reason is said.
        code, out, err = run("eval", "-c", self.config, "-t",
                             "vendors/acme/air/aq-7/telemetry", "-f", self.dir)
        self.assertEqual((code, out), (1, ""))
        self.assertIn("cannot read '%s': Is a directory" % self.dir, err)

    def test_file_sink_path_is_resolved(self):
        self.write("rules/env.yaml", RULES.replace("to: [government, citizen, grid-co]",
                                                   "to: [archive]"))
        code, out, _ = run("eval", "-c", self.config, "-t",
                           "vendors/acme/air/aq-7/telemetry", "-p", '{"pm2_5": 99}')
        self.assertEqual(code, 0)
        target = out.split(" ")[1]
        self.assertEqual(target, os.path.join(os.path.realpath(self.dir),
                                              "spool", "archive.jsonl"))

    def test_test_command_passes_and_fails(self):
        code, out, err = run("test", "-c", self.config)
        self.assertEqual(code, 0, out + err)
        self.assertIn("2 cases: 2 passed, 0 failed", out)
        self.write("rules/env.yaml", RULES.replace("owner: o1}", "owner: o2}"))
        code, out, _ = run("test", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertRegex(out, r"FAIL .*env\.yaml:8: environment/pm25-high case 1")
        self.assertIn("1 failed", out)

    def test_example_city(self):
        code, out, err = run("check", "-c", EXAMPLE)
        self.assertEqual(code, 0, err)
        code, out, err = run("test", "-c", EXAMPLE)
        self.assertEqual(code, 0, out[-3000:] + err)
        self.assertIn(" 0 failed", out)

    # ---- SPEC 14: authoring aids ------------------------------------------

    def test_four_mistakes_in_one_run(self):
        """A YAML key, a reference, a `to` and an expression, each wrong:
        one run of check reports all four, with did-you-mean."""
        self.write("citygate.yaml", CONFIG.replace("network: nb", "network: nbb"))
        self.write("rules/env.yaml", RULES.replace("when: pm25 > 35", "whn: pm25 > 35")
                   .replace("to: [government, citizen, grid-co]",
                            "to: [goverment, citizen, grid-co]")
                   .replace("data: {pm25: pm25,", "data: {pm25: pm25 +,"))
        code, out, err = run("check", "-c", self.config)
        self.assertEqual(code, 1)
        errors = [l for l in err.splitlines() if ": error: " in l]
        self.assertEqual(len(errors), 4, err)
        self.assertRegex(err, r"env\.yaml:4:5: error: rules\[0\]: unknown key 'whn' "
                              r"\(did you mean 'when'\?\)")
        self.assertRegex(err, r"citygate\.yaml:4:14: error: unknown network 'nbb'; "
                              r"did you mean 'nb'\?")
        self.assertRegex(err, r"env\.yaml:6:10: error: to: 'goverment' is neither "
                              r"a consumer nor a role; did you mean 'government'\?")
        self.assertRegex(err, r"env\.yaml:5:24: error: data\.pm25: ")
        # test and reload report the same in one run (test here; reload
        # shares the loader: integration_gateway checks its log)
        code, out, err2 = run("test", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertEqual(err2, err)

    def test_no_url_password_in_output(self):
        """Issue 9 item 9: a password in an HTTP consumer's url reaches the
        connection only; check, eval and test show it as ***. A broker uri
        with a user or password is refused (neither MQTT client reads
        one), without printing it."""
        config = CONFIG.replace(
            "http://127.0.0.1:9/events", "http://u:s3cret@127.0.0.1:9/events")
        self.write("citygate.yaml", config)
        # A failing case prints what each consumer got, with its target.
        self.write("rules/env.yaml", RULES.replace("owner: o1}", "owner: o2}"))
        outputs = [
            run("check", "-c", self.config),
            run("eval", "-c", self.config, "-t",
                "vendors/acme/air/aq-7/telemetry", "-p",
                '{"pm2_5": 80, "zone": "x", "owner": "o1"}'),
            run("test", "-c", self.config),
        ]
        for code, out, err in outputs:
            self.assertNotIn("s3cret", out + err)
            self.assertIn("http://u:***@127.0.0.1:9/events", out, err)
        self.assertEqual([code for code, _, _ in outputs], [0, 0, 1])
        # Credentials in a broker uri: an error at the uri, for the
        # gateway's broker and a consumer's own, and the duplicate client
        # id error names the broker, not its password.
        broker = "{uri: \"tcp://gw:hunter2@127.0.0.1:1883\", client_id: cg}"
        self.write("citygate.yaml", config.replace(
            "consumers:\n", "broker: %s\nconsumers:\n" % broker).replace(
            "{name: city-ops, role: government,",
            "{name: city-ops, role: government, broker: %s," % broker))
        for cmd in ("check", "test"):
            code, out, err = run(cmd, "-c", self.config)
            self.assertEqual(code, 1)
            self.assertNotIn("hunter2", out + err)
            self.assertRegex(err, r"citygate\.yaml:\d+:\d+: error: broker: uri "
                             r"must not carry a user or password")
            self.assertRegex(err, r"citygate\.yaml:\d+:\d+: error: "
                             r"consumers\[0\]\.broker: uri must not carry")
            self.assertIn("client_id 'cg' is already used on "
                          "tcp://gw:***@127.0.0.1:1883 by the gateway's intake "
                          "connection", err)
        # run -b is checked the same way before anything starts.
        code, out, err = run("run", "-c", self.config, "-b",
                             "tcp://gw:hunter2@127.0.0.1:1883")
        self.assertEqual(code, 2)
        self.assertIn("-b: the broker URI must not carry a user or password",
                      err)
        self.assertNotIn("hunter2", out + err)
        self.assertEqual(run("run", "-c", self.config, "-b",
                             "tcp://127.0.0.1:99999")[0], 2)

    def test_warnings_and_strict(self):
        self.write("rules/env.yaml", RULES.replace(
            "when: pm25 > 35", "when: pm2 > 35\n    severity: \"pm25 > 75 ? critical : 'warning'\""))
        code, out, err = run("check", "-c", self.config)
        self.assertEqual(code, 0, err)
        self.assertIn("OK", out)
        self.assertRegex(err, r"env\.yaml:4:11: warning: when: 'pm2' is no field of "
                              r"the vendors this rule matches \(did you mean 'pm25'\?\)")
        self.assertRegex(err, r"env\.yaml:5:28: warning: severity: 'critical' reads "
                              r"a field named critical; did you mean the string")
        code, out, err = run("check", "--strict", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        self.assertRegex(err, r"env\.yaml:4:11: error: when: 'pm2' is no field")
        self.assertNotIn("warning:", err)
        self.assertEqual(run("check", "--strict=yes", "-c", self.config)[0], 2)
        # a clean config passes --strict
        self.write("rules/env.yaml", RULES)
        self.assertEqual(run("check", "--strict", "-c", self.config)[0], 0)

    def test_flow_mapping_comma(self):
        self.write("rules/env.yaml", RULES.replace(
            "data: {pm25: pm25, district: district, owner: owner_id}",
            "data: {pm25: round(pm25, 1), district: district}"))
        code, _, err = run("check", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertEqual(err.count("error:"), 1, err)
        self.assertIn("env.yaml:5:18: error: rules[0].data.pm25: the comma in "
                      "round(pm25, 1) splits the YAML flow mapping { ... } in two "
                      "entries: quote the expression, \"round(pm25, 1)\"", err)

    def test_flow_mapping_comma_that_is_a_yaml_error(self):
        # The piece after the comma does not parse as YAML: libyaml's error
        # at libyaml's position, with the same words naming the cause, for
        # check and for test alike.
        for expr, col, quoted in (('f(pm25, "y")', 29, "'f(pm25, \"y\")'"),
                                  ('lookup("bins", "B1").owner', 37,
                                   "'lookup(\"bins\", \"B1\").owner'"),
                                  ("pm25 in [1, 2]", 26, '"pm25 in [1, 2]"')):
            self.write("rules/env.yaml", RULES.replace(
                "data: {pm25: pm25, district: district, owner: owner_id}",
                "data: {pm25: %s}" % expr))
            for cmd in ("check", "test"):
                code, _, err = run(cmd, "-c", self.config)
                self.assertEqual(code, 1, err)
                self.assertEqual(err.count("error:"), 1, err)
                self.assertIn("env.yaml:5:%d: error: YAML: " % col, err)
                self.assertIn("; the comma in %s splits the YAML flow mapping "
                              "{ ... } in two entries: quote the expression, %s"
                              % (expr, quoted), err)

    def test_expect_dead_and_binary_payloads(self):
        rules = RULES + """      - name: not json
        payload: 'pm2_5=80'
        expect_dead: decode_error
      - name: binary
        payload_hex: "7b 22 70 6d 32 5f 35 22 3a 20 39 30 7d"
        expect: [{consumer: city-ops, data: {pm25: 90}}]
      - payload_base64: eyJwbTJfNSI6IDkxfQ==
        expect: [{consumer: city-ops, data: {pm25: 91}}]
      - topic: elsewhere/x
        payload: '{}'
        expect_dead: unknown_vendor
"""
        self.write("rules/env.yaml", rules)
        code, out, err = run("test", "-c", self.config)
        self.assertEqual(code, 0, out + err)
        self.assertIn("6 cases: 6 passed, 0 failed", out)
        # a dead-lettered message fails a case without expect_dead, saying so
        self.write("rules/env.yaml", rules.replace(
            "        expect_dead: decode_error\n", "        expect: []\n", 1))
        code, out, _ = run("test", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertRegex(out, r"FAIL .*environment/pm25-high \"not json\": the "
                              r"message was dead-lettered as decode_error \(write "
                              r"expect_dead: decode_error if that is what this "
                              r"case tests\)")
        self.assertIn("message dead-lettered: {\"reason\":\"decode_error\"", out)
        # the wrong reason, a reason that is none, and no dead letter
        for wrong, why in (("no_device", "expected a dead letter no_device, got "
                                         "decode_error"),
                           ("decode_eror", "expect_dead: unknown reason "
                                           "'decode_eror'")):
            self.write("rules/env.yaml", rules.replace(
                "expect_dead: decode_error", "expect_dead: " + wrong, 1))
            code, out, _ = run("test", "-c", self.config)
            self.assertEqual(code, 1)
            self.assertIn(why, out)
        self.write("rules/env.yaml", RULES.replace(
            "        expect: []\n", "        expect_dead: decode_error\n", 1))
        code, out, _ = run("test", "-c", self.config)
        self.assertEqual(code, 1)
        self.assertIn("expected the message to be dead-lettered as decode_error, "
                      "but it was not", out)

    def test_eval_time_of_day_in_berlin(self):
        """hour(time) through eval, in gateway.timezone, across DST."""
        self.write("citygate.yaml", "gateway: {timezone: Europe/Berlin}\n" +
                   CONFIG.replace("fields: {pm25: pm2_5,",
                                  "time: ts\n    fields: {pm25: pm2_5,"))
        self.write("rules/env.yaml", """domain: environment
rules:
  - name: night
    when: hour(time) >= 22 || hour(time) < 6
    data:
      hour: hour(time)
      local: format_time(time, '%Y-%m-%d %H:%M %a')
      weekday: weekday(time)
      late: between(hour(time), 22, 23)
    to: [city-ops]
""")
        cases = [  # epoch seconds (UTC) -> Berlin local time
            (1901147400, "2030-03-31 01:30 Sun", 1, False),  # CET, +1
            (1901151000, "2030-03-31 03:30 Sun", 3, False),  # CEST, +2
            (1909168200, "2030-07-01 22:30 Mon", 22, True),  # 20:30 UTC
            (1894743000, "2030-01-15 22:30 Tue", 22, True),  # 21:30 UTC
            (1919291400, "2030-10-27 02:30 Sun", 2, False),  # CEST, first
            (1919295000, "2030-10-27 02:30 Sun", 2, False),  # CET, again
        ]
        for ts, local, hour, late in cases:
            code, out, err = run("eval", "-c", self.config, "-t",
                                 "vendors/acme/air/aq-7/telemetry", "-p",
                                 '{"pm2_5": 1, "ts": %d}' % ts)
            self.assertEqual(code, 0, err)
            event = json.loads(out.split(" ", 2)[2])
            self.assertEqual(event["data"], {"hour": hour, "local": local,
                                             "weekday": 1 if "Mon" in local else
                                             2 if "Tue" in local else 7,
                                             "late": late}, ts)
        # 12:00 local is no night: no event
        code, out, _ = run("eval", "-c", self.config, "-t",
                           "vendors/acme/air/aq-7/telemetry", "-p",
                           '{"pm2_5": 1, "ts": 1909144800}')
        self.assertEqual((code, out), (0, ""))


if __name__ == "__main__":
    unittest.main(verbosity=2)
