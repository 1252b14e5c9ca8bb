"""Loadable plugins as an operator and a vendor meet them (SPEC §11): the
example decoder (meterbin) and sink (capture) loaded from a `plugins:`
glob, listed by check, decoding through eval and delivering through run
against a real mosquitto; options checked against the plugin's table; a
plugin built for another ABI refused; the SDK used out of tree, from the
build tree and from an installed prefix.

Environment (set by tests/integration/CMakeLists.txt): CITYGATE, the
binary; CG_PLUGIN_DIR, the folder of the example plugins;
CG_BAD_ABI_PLUGIN, the plugin built for ABI 999; CG_PKGCONFIG_DIR, the
build tree's citygate-plugin.pc; CG_BUILD_DIR and CMAKE_COMMAND, to
install the SDK; CC, the compiler."""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import IntegrationTest, wait_until  # noqa: E402
from harness import publish  # noqa: E402

CITYGATE = os.environ.get("CITYGATE", "citygate")
PLUGIN_DIR = os.environ.get("CG_PLUGIN_DIR", "")
BAD_ABI = os.environ.get("CG_BAD_ABI_PLUGIN", "")
ODD = os.environ.get("CG_ODD_PLUGIN", "")
PKGCONFIG_DIR = os.environ.get("CG_PKGCONFIG_DIR", "")
BUILD_DIR = os.environ.get("CG_BUILD_DIR", "")
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")
CC = os.environ.get("CC", "cc")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_OF_TREE = os.path.join(ROOT, "plugins", "examples", "out_of_tree")
METERBIN_SRC = os.path.join(ROOT, "plugins", "examples", "decode_meterbin",
                            "decode_meterbin.c")

# A little-endian frame: version 1, serial 305419896 (0x12345678), 123456
# litres, 21.50 degC, 3600 mV, flags leak + reverse flow.
FRAME_HEX = "017856341240e201006608100e05"
FRAME_FIELDS = {"serial": "305419896", "total_m3": 123.456,
                "temperature_c": 21.5, "battery_v": 3.6, "leak": True,
                "tamper": False, "reverse_flow": True}

CONFIG = """
gateway:
  id: plug-box
  dead_letter_topic: {pfx}/dead
  status_topic: {pfx}/status
broker:
  uri: tcp://127.0.0.1:{port}
  client_id: cg-{pfx}
  keepalive: 5
networks: [{{name: lora, kind: lorawan}}]
vendors:
  - name: aqua-meters
    network: lora
    topics: ["{pfx}/vendors/aqua/+/up"]
    device: "{{topic.3}}"
    decoder: plugin:meterbin
    decoder_options: {options}
consumers:
  - name: water-ops
    role: government
{sink}
rules: ["rules/*.yaml"]
plugins: [{plugins}]
"""

CAPTURE_SINK = """    sink: plugin:capture
    options: {{path: {path}}}"""
FILE_SINK = """    sink: file
    path: {path}"""

RULES = """domain: water
rules:
  - name: reading
    type: water.reading
    severity: "leak || tamper ? 'critical' : 'info'"
    data:
      serial: serial
      total_m3: total_m3
      temperature_c: temperature_c
      battery_v: battery_v
      leak: leak
      tamper: tamper
      reverse_flow: reverse_flow
    to: [water-ops]
"""


def frame(serial, litres, centi_c, mv, flags, version=1, order="<"):
    return struct.pack(order + "BIIhHB", version, serial, litres, centi_c,
                       mv, flags)


def run(*args, env=None):
    p = subprocess.run([CITYGATE] + list(args), capture_output=True,
                       text=True, timeout=60, env=env)
    return p.returncode, p.stdout, p.stderr


def needs(*names):
    missing = [n for n in names if not os.environ.get(n)]
    return unittest.skipIf(missing, "not set: " + " ".join(missing))


class PluginTest(IntegrationTest):
    def config(self, options="{}", plugins=None, port=1, pfx="plug",
               sink=CAPTURE_SINK):
        """Writes citygate.yaml and its rules; returns the config path."""
        os.makedirs(os.path.join(self.workdir, "rules"), exist_ok=True)
        with open(os.path.join(self.workdir, "rules", "water.yaml"), "w") as f:
            f.write(RULES)
        self.capture = os.path.join(self.workdir, "water-ops.jsonl")
        if plugins is None:
            plugins = [os.path.join(PLUGIN_DIR, "*.so")]
        text = CONFIG.format(pfx=pfx, port=port, options=options,
                             sink=sink.format(path=json.dumps(self.capture)),
                             plugins=", ".join(json.dumps(p) for p in plugins))
        path = os.path.join(self.workdir, "citygate.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def eval_frame(self, config, payload, device="m-1"):
        path = os.path.join(self.workdir, "payload.bin")
        with open(path, "wb") as f:
            f.write(payload)
        code, out, err = run("eval", "-c", config, "-t",
                             "plug/vendors/aqua/%s/up" % device, "-f", path)
        self.assertEqual(code, 0, err)
        return out

    def eval_fields(self, config, payload):
        out = self.eval_frame(config, payload)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)
        consumer, target, event = lines[0].split(" ", 2)
        self.assertEqual((consumer, target), ("water-ops", "plugin:capture"))
        return json.loads(event)

    def eval_dead(self, config, payload):
        out = self.eval_frame(config, payload)
        self.assertTrue(out.startswith("dead decode_error {"), out)
        return json.loads(out.split(" ", 2)[2])


@needs("CG_PLUGIN_DIR")
class LoadTest(PluginTest):
    def test_check_lists_plugins_with_their_paths(self):
        code, out, err = run("check", "-c", self.config())
        self.assertEqual(code, 0, err)
        meterbin = os.path.join(PLUGIN_DIR, "decode_meterbin.so")
        capture = os.path.join(PLUGIN_DIR, "sink_capture.so")
        self.assertRegex(out, r"\n  meterbin +decoder +%s\n" % re.escape(meterbin))
        self.assertRegex(out, r"\n  capture +sink +%s\n" % re.escape(capture))
        self.assertRegex(out, r"\n  json +decoder +built-in\n")
        self.assertIn("decoder plugin:meterbin", out)

    def test_plugins_export_only_the_entry_point(self):
        if not shutil.which("nm"):
            self.skipTest("no nm")
        for name in ("decode_meterbin.so", "sink_capture.so"):
            p = subprocess.run(["nm", "-D", "--defined-only",
                                os.path.join(PLUGIN_DIR, name)],
                               capture_output=True, text=True, check=True)
            symbols = {line.split()[-1] for line in p.stdout.splitlines()
                       if line.strip()}
            self.assertEqual(symbols, {"cg_plugin_entry"}, name)


@needs("CG_PLUGIN_DIR")
class DecodeTest(PluginTest):
    def test_eval_decodes_a_frame(self):
        event = self.eval_fields(self.config(), bytes.fromhex(FRAME_HEX))
        self.assertEqual(event["data"], FRAME_FIELDS)
        self.assertEqual(event["severity"], "critical")  # leak
        self.assertEqual(event["source"]["device"], "m-1")
        self.assertEqual(event["chain"]["network_provider"], "lora")

    def test_negative_temperature_and_extreme_values(self):
        config = self.config()
        data = self.eval_fields(config, frame(0xFFFFFFFF, 0xFFFFFFFF, -525,
                                              0, 0x02 | 0xF0))["data"]
        self.assertEqual(data, {"serial": "4294967295",
                                "total_m3": 4294967.295,
                                "temperature_c": -5.25, "battery_v": 0,
                                "leak": False, "tamper": True,
                                "reverse_flow": False})  # unknown bits ignored
        data = self.eval_fields(config, frame(0, 0, -32768, 65535, 0))["data"]
        self.assertEqual((data["serial"], data["temperature_c"],
                          data["battery_v"]), ("0", -327.68, 65.535))

    def test_big_endian_option(self):
        config = self.config(options="{byte_order: big}")
        event = self.eval_fields(config, frame(305419896, 123456, 2150, 3600,
                                               5, order=">"))
        self.assertEqual(event["data"], FRAME_FIELDS)

    def test_bad_frames_are_decode_errors(self):
        config = self.config()
        good = bytes.fromhex(FRAME_HEX)
        for payload, detail in [
                (good[:13], "meterbin frame is 13 bytes, expected 14"),
                (good + b"\x00", "meterbin frame is 15 bytes, expected 14"),
                (b"", "meterbin frame is 0 bytes, expected 14"),
                (b"\x02" + good[1:], "meterbin frame version 2, expected 1"),
                (b"\x00" + good[1:], "meterbin frame version 0, expected 1")]:
            dead = self.eval_dead(config, payload)
            self.assertEqual(dead["detail"], detail)
            self.assertEqual(dead["topic"], "plug/vendors/aqua/m-1/up")
        dead = self.eval_dead(config, good[:13])
        self.assertEqual(dead["encoding"], "base64")


@needs("CG_PLUGIN_DIR")
class OptionsTest(PluginTest):
    def check_fails(self, options):
        config = self.config(options=options)
        code, out, err = run("check", "-c", config)
        self.assertEqual(code, 1, out)
        # Problems stand at the decoder_options mapping of the vendor.
        with open(config) as f:
            line = 1 + [l.lstrip().startswith("decoder_options:")
                        for l in f.read().splitlines()].index(True)
        self.assertRegex(err, r"citygate\.yaml:%d:\d+: error: " % line)
        return err

    def test_unknown_option_is_refused_at_its_position(self):
        err = self.check_fails("{byte_order: little, endian: big}")
        self.assertIn("unknown option 'endian' for decoder meterbin", err)

    def test_wrong_type_and_bad_value(self):
        err = self.check_fails("{byte_order: 3}")
        self.assertIn("option 'byte_order' of decoder meterbin must be a "
                      "string", err)
        err = self.check_fails("{byte_order: middle}")
        self.assertIn("decoder meterbin: byte_order must be little or big, "
                      "not 'middle'", err)

    def test_sink_options_are_checked_before_run(self):
        config = self.config(sink=CAPTURE_SINK.replace(
            "{path}}}", "{path}, bogus: 1}}"))
        p = subprocess.run([CITYGATE, "run", "-c", config],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, r"citygate\.yaml:\d+:\d+: error: unknown "
                         r"option 'bogus' for sink capture")
        self.assertFalse(os.path.exists(self.capture))

    def test_unknown_decoder_plugin(self):
        config = self.config()
        with open(config) as f:
            text = f.read().replace("plugin:meterbin", "plugin:nosuch")
        with open(config, "w") as f:
            f.write(text)
        code, _, err = run("check", "-c", config)
        self.assertEqual(code, 1)
        self.assertIn("unknown decoder 'plugin:nosuch'", err)


@needs("CG_PLUGIN_DIR", "CG_BAD_ABI_PLUGIN")
class AbiTest(PluginTest):
    def test_wrong_abi_is_refused(self):
        config = self.config(plugins=[os.path.join(PLUGIN_DIR, "*.so"),
                                      BAD_ABI])
        code, out, err = run("check", "-c", config)
        self.assertEqual(code, 1, out)
        self.assertIn("%s: error: plugin refused: built for plugin ABI 999, "
                      "this citygate speaks ABI 1" % BAD_ABI, err)
        code, out, err = run("eval", "-c", config, "-t",
                             "plug/vendors/aqua/m-1/up", "-p", "x")
        self.assertEqual((code, out), (1, ""))
        self.assertIn("plugin refused", err)

    @needs("CG_ODD_PLUGIN")
    def test_records_of_loaded_decoders_are_checked(self):
        """What the built-in decoders guarantee, the host checks in a
        loaded decoder's record: text and keys in UTF-8, keys once,
        finite numbers; a record that breaks one is a decode_error."""
        config = self.config(plugins=[ODD], sink=FILE_SINK)
        with open(config) as f:
            text = f.read().replace("decoder: plugin:meterbin",
                                    "decoder: plugin:odd")
        text = text.replace("    decoder_options: {}\n", "")
        with open(config, "w") as f:
            f.write(text)
        for fault, detail in [
                (b"u", "the decoder produced non-UTF-8 text"),
                (b"k", "the decoder produced a non-UTF-8 key"),
                (b"d", "the decoder produced the key 'id' twice"),
                (b"n", "the decoder produced a non-finite number")]:
            self.assertEqual(self.eval_dead(config, fault)["detail"], detail)
        out = self.eval_frame(config, b"x")
        self.assertTrue(out.startswith("water-ops "), out)

    def test_a_file_that_is_no_plugin(self):
        junk = os.path.join(self.workdir, "junk.so")
        with open(junk, "w") as f:
            f.write("not an ELF file\n")
        code, _, err = run("check", "-c", self.config(plugins=[junk]))
        self.assertEqual(code, 1)
        self.assertIn("%s: error: cannot load plugin: " % junk, err)


@needs("CG_PLUGIN_DIR")
class RunTest(PluginTest):
    def test_capture_sink_receives_events(self):
        b = self.broker()
        pfx = "plug%d" % os.getpid()
        config = self.config(port=b.port, pfx=pfx)
        status = self.sub(b, pfx + "/status")
        dead = self.sub(b, pfx + "/dead")
        with open(config) as f:
            g = self.gateway(f.read())
        wait_until(lambda: any('"online"' in p for _, p in status.received()),
                   15, what="the gateway's online status")
        topic = pfx + "/vendors/aqua/%s/up"
        publish(b, topic % "m-1", bytes.fromhex(FRAME_HEX))
        publish(b, topic % "m-2", b"\x01\x02")  # short: a dead letter
        publish(b, topic % "m-3", frame(7, 1000, 1999, 3100, 0))
        lines = wait_until(lambda: self.captured(2), 15,
                           what="two events in the capture file")
        first, second = (json.loads(l) for l in lines)
        self.assertEqual(first["data"], FRAME_FIELDS)
        self.assertEqual(first["source"]["device"], "m-1")
        self.assertEqual(second["data"], {
            "serial": "7", "total_m3": 1, "temperature_c": 19.99,
            "battery_v": 3.1, "leak": False, "tamper": False,
            "reverse_flow": False})
        self.assertEqual(second["severity"], "info")
        letters = dead.wait_count(1)
        letter = json.loads(letters[0][1])
        self.assertEqual((letter["reason"], letter["detail"]),
                         ("decode_error",
                          "meterbin frame is 2 bytes, expected 14"))
        self.assertEqual(g.stop(), 0)
        # The sink reports its counts when its instance is destroyed.
        self.assertRegex(g.log_text(),
                         r"water-ops: captured 2 events in [12] batches")

    def captured(self, n):
        if not os.path.exists(self.capture):
            return None
        with open(self.capture) as f:
            lines = f.read().splitlines()
        return lines if len(lines) >= n else None


def pkg_config(pc_dir, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=pc_dir)
    p = subprocess.run(["pkg-config"] + list(args) + ["citygate-plugin"],
                       capture_output=True, text=True, env=env, check=True)
    return p.stdout.split()


@needs("CG_PLUGIN_DIR", "CG_PKGCONFIG_DIR")
class SdkTest(PluginTest):
    def load_and_decode(self, plugin_dir):
        # Only the plugin just built: the in-tree meterbin has its name.
        config = self.config(plugins=[os.path.join(plugin_dir, "*.so")],
                             sink=FILE_SINK)
        code, out, err = run("check", "-c", config)
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"\n  meterbin +decoder +%s\n" % re.escape(
            os.path.join(plugin_dir, "decode_meterbin.so")))
        out = self.eval_frame(config, bytes.fromhex(FRAME_HEX))
        event = json.loads(out.split(" ", 2)[2])
        self.assertEqual(event["data"], FRAME_FIELDS)

    def test_out_of_tree_makefile(self):
        if not shutil.which("make"):
            self.skipTest("no make")
        out_dir = os.path.join(self.workdir, "vendor-build")
        os.makedirs(out_dir)
        env = dict(os.environ, PKG_CONFIG_PATH=PKGCONFIG_DIR, CC=CC)
        subprocess.run(["make", "-s", "-C", OUT_OF_TREE,
                        "OUT=" + os.path.join(out_dir, "decode_meterbin.so")],
                       env=env, check=True, timeout=120)
        self.load_and_decode(out_dir)

    @needs("CG_BUILD_DIR")
    def test_installed_sdk(self):
        prefix = os.path.join(self.workdir, "prefix")
        subprocess.run([CMAKE, "--install", BUILD_DIR, "--component",
                        "plugin-sdk", "--prefix", prefix],
                       check=True, capture_output=True, timeout=120)
        header = os.path.join(prefix, "include", "citygate",
                              "citygate_plugin.h")
        self.assertTrue(os.path.exists(header))
        pc_dir = os.path.join(prefix, "share", "pkgconfig")
        self.assertEqual(pkg_config(pc_dir, "--variable=abi"), ["1"])
        cflags = pkg_config(pc_dir, "--cflags")
        self.assertEqual([os.path.realpath(f[2:]) for f in cflags],
                         [os.path.dirname(os.path.realpath(header))])
        out_dir = os.path.join(self.workdir, "installed-build")
        os.makedirs(out_dir)
        subprocess.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror"] +
                       cflags + ["-shared", "-fPIC", "-fvisibility=hidden",
                                 "-o", os.path.join(out_dir,
                                                    "decode_meterbin.so"),
                                 METERBIN_SRC], check=True, timeout=120)
        self.load_and_decode(out_dir)


if __name__ == "__main__":
    unittest.main(verbosity=2)
