"""A small HTTP receiver for the tests: records every JSON array posted to
it, and can be made to answer slowly, with a status, or not at all."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, port):
        self.port = port
        self.events = []       # every event received, in arrival order
        self.batches = 0
        self.delay = 0.0       # seconds before answering
        self.status = 200      # what to answer
        self.retry_after = None
        self.lock = threading.Lock()
        self.server = None
        self.ssl_context = None  # set to serve HTTPS
        self.requests = []       # (path, headers) of every request

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                try:
                    self.answer()
                except (ConnectionError, ValueError):
                    pass  # a client killed mid-request: it sends again

            def answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.status
                if status == 200:
                    with receiver.lock:
                        if body.startswith(b"<?xml"):
                            receiver.events.append(body.decode())
                        else:
                            receiver.events.extend(json.loads(body))
                        receiver.batches += 1
                self.send_response(status)
                if receiver.retry_after is not None:
                    self.send_header("Retry-After", str(receiver.retry_after))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        if self.ssl_context:
            self.server.socket = self.ssl_context.wrap_socket(
                self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def snapshot(self):
        with self.lock:
            return list(self.events)
