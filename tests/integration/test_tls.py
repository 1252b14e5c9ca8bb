"""TLS and CONNACK failures logged with their reason (SPEC §16): against a
mosquitto with two TLS listeners (a certificate for localhost, and one
for another name) and a listener that wants a password, each signed by a
throwaway CA made with openssl in the test's folder. A wrong CA, a host
name mismatch and a wrong password each name their cause, under the name
of the connection that failed; the right settings connect."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Broker, IntegrationTest, free_port, wait_until  # noqa: E402

CONFIG = """
gateway:
  id: tls-box
  status_topic: tls/status
broker:
  uri: {uri}
  client_id: cg-tls-{n}
{auth}
vendors:
  - name: v
    topics: ["tls/in/+"]
consumers:
  - name: ops
    role: government
    topic: "tls/out"
{consumer}
rules: ["rules.yaml"]
"""

RULES = """
domain: test
rules:
  - name: every
    to: [ops]
"""


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def make_pki(d):
    """ca.crt signs localhost.crt (DNS:localhost, IP:127.0.0.1) and
    elsewhere.crt (DNS:elsewhere.example); other.crt is a CA of its own."""
    for ca in ("ca", "other"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-keyout", ca + ".key", "-out", ca + ".crt",
                "-subj", "/CN=citygate test %s" % ca, cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    for name, san in (("localhost", "DNS:localhost,IP:127.0.0.1"),
                      ("elsewhere", "DNS:elsewhere.example")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-out", name + ".crt", "-extfile", name + ".ext", cwd=d)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)  # mosquitto drops to its user


class TlsBroker(Broker):
    """Three listeners: TLS with the right name, TLS with another name,
    and plain TCP with a password file. The first port is the one the
    harness waits for."""

    def __init__(self, workdir):
        super().__init__(workdir)
        self.tls_port, self.wrong_name_port = self.port, free_port()
        self.auth_port = free_port()
        pw = os.path.join(workdir, "mosquitto.pw")
        subprocess.run(["mosquitto_passwd", "-c", "-b", pw, "gw", "secret"],
                       check=True, capture_output=True, timeout=30)
        os.chmod(pw, 0o644)

        def tls(port, cert):
            return ("listener %d 127.0.0.1\nallow_anonymous true\n"
                    "certfile %s\nkeyfile %s\n" %
                    (port, os.path.join(workdir, cert),
                     os.path.join(workdir, "server.key")))
        with open(self.conf, "w") as f:
            f.write("per_listener_settings true\n")
            f.write(tls(self.tls_port, "localhost.crt"))
            f.write(tls(self.wrong_name_port, "elsewhere.crt"))
            f.write("listener %d 127.0.0.1\nallow_anonymous false\n"
                    "password_file %s\n" % (self.auth_port, pw))


class TlsTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        make_pki(self.workdir)
        self.b = TlsBroker(self.workdir).start()
        self.cleanups.append(self.b.stop)
        with open(os.path.join(self.workdir, "rules.yaml"), "w") as f:
            f.write(RULES)
        self.n = 0

    def password(self, name, text):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, 0o600)
        return path

    def run_gateway(self, uri, tls=None, password=None, consumer=""):
        self.n += 1
        auth = ""
        if tls:
            auth += "  tls: { ca_file: %s }\n" % os.path.join(self.workdir, tls)
        if password:
            auth += "  username: gw\n  password_file: %s\n" % self.password(
                "broker.pass", password)
        text = CONFIG.format(uri=uri, n=self.n, auth=auth, consumer=consumer)
        self.g = self.gateway(text)
        return self.g

    def expect(self, line, timeout=20):
        wait_until(lambda: line in self.g.log_text(), timeout, what=line)
        return self.g.log_text()

    def test_right_ca_and_name_connect(self):
        self.run_gateway("ssl://localhost:%d" % self.b.tls_port, tls="ca.crt")
        self.expect("intake: connected to ssl://localhost:%d" % self.b.tls_port)
        self.expect("output: connected to")

    def test_wrong_ca(self):
        uri = "ssl://localhost:%d" % self.b.tls_port
        self.run_gateway(uri, tls="other.crt")
        log = self.expect("intake: cannot connect to %s: unknown CA" % uri)
        self.assertIn("other.crt", log)
        self.assertNotIn("intake: connected", log)

    def test_ssl_uri_without_tls_block_verifies(self):
        """An ssl:// URI without a tls: block is TLS verified against the
        system's CAs (issue 9 item 9): never cleartext, and a broker
        certificate of a CA the system does not know is refused by name."""
        uri = "ssl://localhost:%d" % self.b.tls_port
        self.run_gateway(uri)
        log = self.expect("intake: cannot connect to %s: unknown CA" % uri)
        self.assertNotIn("intake: connected", log)
        self.assertNotIn("Invalid (NULL) parameter", log)

    def test_keeps_trying_after_a_tls_failure(self):
        """A TLS failure is no reason to stop: the broker's certificate may
        be renewed in a minute. Both MQTT libraries keep reconnecting
        (libmosquitto's own loop gives up on a TLS error)."""
        uri = "ssl://localhost:%d" % self.b.tls_port
        self.run_gateway(uri, tls="other.crt")
        line = "intake: cannot connect to %s: unknown CA" % uri
        wait_until(lambda: self.g.log_text().count(line) >= 3, 20,
                   what="three attempts (0.5, 1, 2 s of backoff and more)")

    def test_hostname_mismatch(self):
        uri = "ssl://localhost:%d" % self.b.wrong_name_port
        self.run_gateway(uri, tls="ca.crt")
        log = self.expect("intake: cannot connect to %s: hostname mismatch: "
                          "the broker's certificate does not name localhost"
                          % uri)
        self.assertNotIn("unknown CA", log)

    def test_wrong_password(self):
        uri = "tcp://127.0.0.1:%d" % self.b.auth_port
        self.run_gateway(uri, password="wrong")
        log = self.expect("intake: cannot connect to %s: " % uri)
        self.assertRegex(log, r"intake: cannot connect to \S+: [^\n]*bad user "
                              r"name or password[^\n]*\(CONNACK [45]")
        self.expect("output: cannot connect to")

    def test_right_password_connects(self):
        self.run_gateway("tcp://127.0.0.1:%d" % self.b.auth_port,
                         password="secret")
        self.expect("intake: connected to")

    def test_consumer_broker_named(self):
        """A consumer's own broker connection that fails says whose it is."""
        consumer = ("  - name: ministry\n    role: government\n"
                    "    topic: gov\n    broker: { uri: \"tcp://127.0.0.1:%d\","
                    " client_id: cg-tls-ministry, username: gw,"
                    " password_file: %s }\n" %
                    (self.b.auth_port, self.password("ministry.pass", "nope")))
        self.run_gateway("ssl://localhost:%d" % self.b.tls_port, tls="ca.crt",
                         consumer=consumer)
        self.expect("intake: connected to")
        self.expect("consumer ministry's broker: cannot connect to "
                    "tcp://127.0.0.1:%d: " % self.b.auth_port)
        self.assertRegex(self.g.log_text(), r"consumer ministry's broker: "
                         r"cannot connect to [^\n]*bad user name or password")


if __name__ == "__main__":
    unittest.main(verbosity=2)
