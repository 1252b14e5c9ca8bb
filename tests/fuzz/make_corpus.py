#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into tests/fuzz/corpus/<name>/
from what the tree already holds: the example config and its rule files
(with the payloads of their `tests:`), the JSON conformance corpus, the
expression unit tests' cases, and hand-picked edge cases.

Every seed starts with the control byte ' ' (no injected allocation
failures, see fuzz.h); fuzz_decode seeds then hold the byte that picks a
decoder and its options. Run it again after the example city changes: it
rewrites every seed but the regress-* files, inputs that once found a bug
(add those by hand, control byte included).

    python3 tests/fuzz/make_corpus.py
"""

import ast
import glob
import hashlib
import json
import os
import re

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")
CONTROL = b" "
MAX_SEED = 16 * 1024  # larger seeds slow every mutation of the corpus

# Decoders as fuzz_decode numbers them for options read from the input.
DECODERS = {"json": 0, "kv": 1, "csv": 2, "lpp": 3}
# Rows of fuzz_decode's table that the sample payloads below suit.
ROWS = {"json": 0, "json-root-data": 1, "kv": 5, "kv-amp": 6, "csv3": 9,
        "lpp": 13, "lpp-b64": 14}


class Corpus:
    def __init__(self, name):
        self.dir = os.path.join(CORPUS, name)
        os.makedirs(self.dir, exist_ok=True)
        # Inputs that once found a bug are kept as regress-*; the rest is
        # generated again.
        for old in os.listdir(self.dir):
            if not old.startswith("regress-"):
                os.remove(os.path.join(self.dir, old))
        self.seen = set()

    def add(self, label, data):
        if isinstance(data, str):
            data = data.encode()
        data = CONTROL + data
        digest = hashlib.sha1(data).hexdigest()[:12]
        if len(data) > MAX_SEED or digest in self.seen:
            return
        self.seen.add(digest)
        label = re.sub(r"[^A-Za-z0-9_.-]+", "-", label)[:40]
        with open(os.path.join(self.dir, "%s-%s" % (label, digest)), "wb") as f:
            f.write(data)


def load_city():
    with open(os.path.join(ROOT, "config", "citygate.yaml")) as f:
        config = yaml.safe_load(f)
    rules = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "config", "rules", "*.yaml"))):
        with open(path) as f:
            rules[path] = yaml.safe_load(f)
    return config, rules


def topic_matches(filt, topic):
    f, t = filt.split("/"), topic.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


def rule_tests(rules):
    """(topic, payload) of every test case, topics inherited as citygate does."""
    for doc in rules.values():
        for rule in doc.get("rules") or []:
            topic = None
            for case in rule.get("tests") or []:
                topic = case.get("topic", topic)
                if topic is not None and "payload" in case:
                    yield topic, str(case["payload"])


def vendor_for(config, topic):
    for v in config["vendors"]:
        if any(topic_matches(f, topic) for f in v["topics"]):
            return v
    return None


def expressions(config, rules):
    for v in config["vendors"]:
        for key in ("device", "time"):
            if key in v:
                yield str(v[key])
        for expr in (v.get("fields") or {}).values():
            yield str(expr)
    for doc in rules.values():
        for rule in doc.get("rules") or []:
            for key in ("when", "severity"):
                if key in rule:
                    yield str(rule[key])
            for expr in (rule.get("data") or {}).values():
                yield str(expr)


def unit_test_expressions():
    """The first string of every table row in the expression unit tests."""
    row = re.compile(r'^\s*\{\s*("(?:[^"\\]|\\.)*")\s*,')
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "unit", "rules",
                                              "test_expr*.c"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = row.match(line)
                if m:
                    try:
                        yield ast.literal_eval(m.group(1))
                    except (ValueError, SyntaxError):
                        pass


def json_corpus(config, rules):
    c = Corpus("json")
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "json",
                                              "*", "*.json"))):
        with open(path, "rb") as f:
            kind = os.path.basename(os.path.dirname(path))
            c.add(kind + "-" + os.path.basename(path)[:-5], f.read())
    for topic, payload in rule_tests(rules):
        if payload.lstrip().startswith(("{", "[")):
            c.add("payload", payload)


def decode_corpus(config, rules):
    c = Corpus("decode")
    for topic, payload in rule_tests(rules):
        v = vendor_for(config, topic)
        if not v:
            continue
        dec = v.get("decoder", "json")
        opts = json.dumps(v.get("decoder_options") or {}).encode()
        pick = bytes([0xF0 | DECODERS[dec]])
        c.add("%s-%s" % (dec, v["name"]), pick + opts + b"\0" + payload.encode())
    samples = [
        ("json", '{"pm2_5": 37.5, "zone": "haidian", "ok": true, "n": null}'),
        ("json", '{"a": {"b": [1, 2, {"c": "\\u00e9"}]}, "a": 2}'),
        ("json-root-data", '{"data": {"readings": {"pm25": 12}}, "id": 7}'),
        ("kv", "pm25=37.5;no2=21;status=ok;flag=true;big=1e400"),
        ("kv", " a = 1 ;b=c=d;;"),
        ("kv-amp", "temp:21.5&rh:40&id:x"),
        ("csv3", '"x,y",2.5,\n'),
        ("csv3", 'a,"say ""hi""",\r\n'),
        ("lpp", bytes.fromhex("0367011005680a0788062765011ea8000bb8")),
        ("lpp", bytes.fromhex("0171fc18000003e80673274c")),
        ("lpp-b64", "A2cBEAVoUA=="),
    ]
    for row, payload in samples:
        if isinstance(payload, str):
            payload = payload.encode()
        c.add(row, bytes([ROWS[row]]) + payload)


def expr_corpus(config, rules):
    c = Corpus("expr")
    for expr in expressions(config, rules):
        c.add("city", expr)
    for expr in unit_test_expressions():
        c.add("unit", expr)


def topic_corpus(config, rules):
    c = Corpus("topic")
    filters = [f for v in config["vendors"] for f in v["topics"]]
    for doc in rules.values():
        for rule in doc.get("rules") or []:
            t = (rule.get("match") or {}).get("topic")
            if t:
                filters.append(t)
    topics = sorted({t for t, _ in rule_tests(rules)})
    for i, topic in enumerate(topics):
        picked = filters[i % len(filters):][:8] + ["#", "+/+/#"]
        c.add("city", "\n".join(picked + [topic]))
    edge = [
        ["#", "+", "+/#", "$SYS/#", "$SYS/broker/load", "$SYS/broker/load"],
        ["a/#", "a/+", "a", "a/b/#", "a"],
        ["+/+", "/+", "+/", "//", "a//b", "a//b"],
        ["a/+/c", "a/+/+", "a/#", "#", "a+", "a/#/b", "a/b#", "a//c"],
        ["sport/tennis/player1/#", "sport/+/player1", "sport/tennis/player1"],
        ["", "/", "+/+/+", "/"],
    ]
    for case in edge:
        c.add("edge", "\n".join(case))


def config_corpus(config, rules):
    c = Corpus("config")
    with open(os.path.join(ROOT, "config", "citygate.yaml")) as f:
        # Without its comment lines, the example fits a seed's size.
        c.add("example-city", "".join(l for l in f if not
                                      l.lstrip().startswith("#")))
    minimal = ("vendors:\n  - {name: v, topics: [\"a/+\"]}\n"
               "consumers:\n  - {name: c, role: government}\n"
               "rules: [\"rules/*.yaml\"]\n")
    c.add("minimal", minimal)
    c.add("every-sink", """gateway: {id: box, log_level: debug, max_payload_bytes: 2048}
broker: {uri: "tcp://127.0.0.1:1883", client_id: x, keepalive: 5, qos: 1, share_group: g}
networks: [{name: nb, kind: nb-iot}, {name: lora, kind: lorawan}]
vendors:
  - name: acme-air
    network: nb
    topics: ["vendors/acme/air/+/telemetry", "acme/#"]
    device: "{topic.3}"
    fields: {pm25: pm2_5, temperature_c: (temp_f - 32) * 5 / 9, district: zone}
    private: [owner_id, device]
    time: ts
  - {name: kv-co, network: nb, topics: ["kv/#"], decoder: kv, decoder_options: {pair_sep: "&"}}
  - {name: csv-co, network: lora, topics: ["csv/+"], decoder: csv, decoder_options: {columns: [id, pm25]}, device: "{payload.id}"}
  - {name: lpp-co, network: lora, topics: ["lpp/+/up"], decoder: lpp, decoder_options: {encoding: base64}}
consumers:
  - {name: city-ops, role: government, topic: "city/gov/{domain}/{type}", qos: 1}
  - {name: open-data, role: citizen, topic: "city/public/{domain}/{data.district}"}
  - name: grid-co
    role: enterprise
    sink: http
    url: http://127.0.0.1:8080/events
    headers: {X-Token: abc}
    batch: {max_events: 10, max_wait_ms: 50}
    timeout_ms: 1000
    grants: [owner_id]
    spool_max_bytes: 1MiB
    spool_full: drop_oldest
  - {name: archive, role: government, sink: file, path: ./a.jsonl, fsync: never, rotate: {max_bytes: 1KiB, keep: 2}}
  - {name: probe, role: government, sink: "plugin:capture", options: {path: /tmp/x}}
rules: ["rules/*.yaml"]
""")
    c.add("bad-refs", minimal.replace("role: government", "role: mayor")
          .replace('"a/+"', '"a/#/b"'))


def rules_corpus(config, rules):
    c = Corpus("rules")
    for path, doc in rules.items():
        with open(path) as f:
            c.add(os.path.basename(path)[:-5], f.read())
        for rule in doc.get("rules") or []:
            one = {"domain": doc["domain"], "rules": [rule]}
            c.add("%s-%s" % (doc["domain"], rule["name"]),
                  yaml.safe_dump(one, sort_keys=False, allow_unicode=True))


def main():
    config, rules = load_city()
    for make in (json_corpus, decode_corpus, expr_corpus, topic_corpus,
                 config_corpus, rules_corpus):
        make(config, rules)
    for name in sorted(os.listdir(CORPUS)):
        print("%-8s %4d seeds" % (name, len(os.listdir(os.path.join(CORPUS, name)))))


if __name__ == "__main__":
    main()
