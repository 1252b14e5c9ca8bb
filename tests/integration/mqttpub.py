"""A minimal MQTT 3.1.1 publisher for tests that need exact bytes (NUL,
invalid UTF-8, huge payloads) and speed: CONNECT, PUBLISH at QoS 0 or 1
with a window of unacknowledged messages, DISCONNECT."""

import socket
import struct


def _remaining(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


class Publisher:
    def __init__(self, port, client_id="cg-test-pub", window=100):
        self.buf = b""
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = _str("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + _str(client_id)
        self.sock.sendall(b"\x10" + _remaining(len(body)) + body)
        self._read_packet()  # CONNACK
        self.window, self.inflight, self.mid = window, 0, 0

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_packet(self):
        head = self._read_exact(1)[0]
        mult, length = 1, 0
        while True:
            b = self._read_exact(1)[0]
            length += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return head, self._read_exact(length)

    def publish(self, topic, payload, qos=1):
        if isinstance(payload, str):
            payload = payload.encode()
        var = _str(topic)
        if qos:
            self.mid = self.mid % 65535 + 1
            var += struct.pack("!H", self.mid)
        self.sock.sendall(bytes([0x30 | (qos << 1)]) +
                          _remaining(len(var) + len(payload)) + var + payload)
        if qos:
            self.inflight += 1
            while self.inflight >= self.window:
                self._ack()

    def _ack(self):
        head, _ = self._read_packet()
        if head >> 4 == 4:  # PUBACK
            self.inflight -= 1

    def close(self):
        while self.inflight:
            self._ack()
        self.sock.sendall(b"\xe0\x00")
        self.sock.close()
