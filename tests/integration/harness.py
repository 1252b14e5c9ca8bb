"""Integration test harness: a private mosquitto on a free loopback port,
the real citygate binary, and mosquitto_pub/mosquitto_sub as a city's
clients. Every process is started here, waited for with a bound, and
stopped by PID."""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from mqttpub import Publisher

CITYGATE = os.environ.get("CITYGATE", "citygate")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, step=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


class Broker:
    """mosquitto on 127.0.0.1:<port>, started from a generated config."""

    def __init__(self, workdir, port=None, persistence=False, extra=""):
        self.dir = workdir
        self.port = port or free_port()
        self.conf = os.path.join(workdir, "mosquitto-%d.conf" % self.port)
        self.log = os.path.join(workdir, "mosquitto-%d.log" % self.port)
        store = os.path.join(workdir, "mosquitto-db") + "/"
        os.makedirs(store, exist_ok=True)
        # Started as root, mosquitto drops to its own user: let it write.
        os.chmod(workdir, 0o755)
        os.chmod(store, 0o777)
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % self.port)
            f.write("max_queued_messages 200000\nset_tcp_nodelay true\n")
            if persistence:
                f.write("persistence true\npersistence_location %s\n" % store)
                f.write("autosave_interval 1\n")
            f.write(extra)
        self.proc = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", self.conf],
                                         stdout=log, stderr=log)
        wait_until(self.accepts, 10, what="mosquitto to accept connections")
        return self

    def accepts(self):
        if self.proc.poll() is not None:
            raise AssertionError("mosquitto exited: " + open(self.log).read())
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def uri(self):
        return "tcp://127.0.0.1:%d" % self.port


class Sub:
    """mosquitto_sub collecting (topic, payload) pairs in a thread."""

    def __init__(self, broker, topic, retained=True):
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
                "-t", topic, "-q", "1", "-F", "%t\t%p"]
        if not retained:
            args.append("-R")
        self.messages = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        time.sleep(0.3)  # let the subscription reach the broker

    def _read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.decode("utf-8", "replace").rstrip("\n").partition("\t")
            with self.lock:
                self.messages.append((topic, payload))

    def received(self, prefix=""):
        with self.lock:
            return [(t, p) for t, p in self.messages if t.startswith(prefix)]

    def events(self, prefix=""):
        return [(t, json.loads(p)) for t, p in self.received(prefix)]

    def wait_count(self, n, prefix="", timeout=10.0):
        wait_until(lambda: len(self.received(prefix)) >= n, timeout,
                   what="%d messages on %s*" % (n, prefix))
        return self.received(prefix)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                # mosquitto_sub can miss SIGTERM while it reconnects to a
                # broker that is gone: it must not outlive the test.
                self.proc.kill()
                self.proc.wait(5)
        self.thread.join(5)
        self.proc.stdout.close()


def publish(broker, topic, payload, qos=1, retain=False):
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port),
            "-t", topic, "-q", str(qos)]
    if retain:
        args.append("-r")
    if isinstance(payload, bytes):
        args += ["-s"]
        subprocess.run(args, input=payload, check=True, timeout=10)
    else:
        args += ["-m", payload]
        subprocess.run(args, check=True, timeout=10)


_many_clients = itertools.count()


def publish_many(broker, topic, payloads, qos=1):
    """Fast bulk publishing over one connection. Not `mosquitto_pub -l`:
    its exit at the end of input races (mosquitto issue 1448) and hung a
    CI run for 120 s with every line unsent. Each socket operation here
    is bounded (10 s), and at QoS 1 close() waits for every PUBACK."""
    client_id = "cg-many-%d-%d" % (os.getpid(), next(_many_clients))
    pub = Publisher(broker.port, client_id=client_id)
    try:
        for payload in payloads:
            pub.publish(topic, payload, qos=qos)
    finally:
        pub.close()


def with_client(config_text):
    """Runs the suite on another MQTT backend: CG_MQTT_CLIENT=mosquitto
    adds `client: mosquitto` to the broker section of every config."""
    client = os.environ.get("CG_MQTT_CLIENT")
    if not client:
        return config_text
    return config_text.replace("\nbroker:\n", "\nbroker:\n  client: %s\n" % client, 1)


class Gateway:
    """citygate run with a config written into the test's folder."""

    def __init__(self, workdir, config_text, name="citygate.yaml", args=(),
                 env=None, wrapper=()):
        """args follow `run -c FILE`; env adds to the environment;
        wrapper comes before the command (a shell that sets variables)."""
        config_text = with_client(config_text)
        self.dir = workdir
        self.config = os.path.join(workdir, name)
        self.log = os.path.join(workdir, "citygate.log")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.wrapper = list(wrapper)
        self.proc = None

    def start(self, wait_online=None):
        self.logf = open(self.log, "ab", buffering=0)
        argv = self.wrapper + [CITYGATE, "run", "-c", self.config] + self.args
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf,
                                     env=self.env)
        if wait_online:
            wait_online()
        return self

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def signal(self, signo):
        self.proc.send_signal(signo)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("citygate did not stop within %d s" % timeout)
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc:
            self.logf.close()


def _children_named(name):
    """PIDs of this process's children whose command is name."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/status" % entry) as f:
                fields = dict(l.split(":\t", 1) for l in f if ":\t" in l)
        except (OSError, ValueError):
            continue
        if (fields.get("Name", "").strip() == name and
                int(fields.get("PPid", "0")) == os.getpid()):
            pids.append(int(entry))
    return pids


def dump_gateway_threads():
    """After a failure, what each running gateway's threads are doing: a
    stall shows where it waits. gdb's backtraces when gdb is installed,
    else each thread's kernel wait channel."""
    for pid in _children_named("citygate"):
        print("---- threads of citygate pid %d ----" % pid)
        if shutil.which("gdb"):
            try:
                out = subprocess.run(
                    ["gdb", "-p", str(pid), "-batch", "-ex",
                     "thread apply all bt 30"], capture_output=True,
                    text=True, timeout=60).stdout
                print("\n".join(l[:200] for l in out.splitlines()
                                if l.startswith(("#", "Thread"))))
                continue
            except subprocess.TimeoutExpired:
                print("gdb did not answer in 60 s")
        for tid in sorted(os.listdir("/proc/%d/task" % pid), key=int):
            try:
                base = "/proc/%d/task/%s/" % (pid, tid)
                comm = open(base + "comm").read().strip()
                wchan = open(base + "wchan").read().strip()
                state = open(base + "stat").read().split(") ")[1].split()[0]
                print("%s %s state %s wchan %s" % (tid, comm, state, wchan))
            except OSError:
                pass


class IntegrationTest(unittest.TestCase):
    """Gives each test a folder, and stops what it started even when it fails."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="cg-it-")
        self.cleanups = []

    def tearDown(self):
        if getattr(self, "_outcome", None) and self._failed():
            dump_gateway_threads()  # before the cleanups stop them
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:  # cleanup must go on
                pass
        if getattr(self, "_outcome", None) and self._failed():
            log = os.path.join(self.workdir, "citygate.log")
            if os.path.exists(log):
                print("---- citygate.log ----\n" + open(log, errors="replace").read()[-6000:])
        if os.environ.get("CG_KEEP_WORKDIR"):
            print("kept " + self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _failed(self):
        result = self._outcome.result
        return any(t is self for t, _ in result.failures + result.errors)

    def broker(self, **kw):
        b = Broker(self.workdir, **kw).start()
        self.cleanups.append(b.stop)
        return b

    def gateway(self, text, wait_online=None, **kw):
        g = Gateway(self.workdir, text, **kw)
        self.cleanups.append(g.kill)
        return g.start(wait_online=wait_online)

    def sub(self, broker, topic, **kw):
        s = Sub(broker, topic, **kw)
        self.cleanups.append(s.stop)
        return s
