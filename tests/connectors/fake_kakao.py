"""Kakao's side of a skill conversation on 127.0.0.1, over real HTTP: the callback URLs Open Builder hands
out (POST /callback/<anything>; one use each, like Kakao's) and an image host for the photos (GET; paths
under /slow/ answer after `slow_seconds`)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeKakao:
    def __init__(self, slow_seconds: float = 2.5):
        self.slow_seconds = slow_seconds
        self.callbacks: dict[str, list[dict]] = {}  # path → bodies posted to it
        self.images: dict[str, bytes] = {}  # path → bytes served
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def posted(self) -> list[tuple[str, dict]]:
        with self.lock:
            return [(path, body) for path, bodies in self.callbacks.items() for body in bodies]

    def wait_callback(self, path: str, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if path in self.callbacks:
                    return list(self.callbacks[path])
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing was posted to {path} within {timeout:.0f}s")
            time.sleep(0.05)

    def start(self) -> "FakeKakao":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with fake.lock:
                    first = self.path not in fake.callbacks
                    fake.callbacks.setdefault(self.path, []).append(body)
                self.send_response(200 if first else 400)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "SUCCESS"}' if first else b'{"status": "FAIL"}')

            def do_GET(self):  # noqa: N802
                if self.path.startswith("/slow/"):
                    time.sleep(fake.slow_seconds)
                data = fake.images.get(self.path)
                if data is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
