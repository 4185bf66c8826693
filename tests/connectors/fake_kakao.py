"""Kakao's side of a skill conversation on 127.0.0.1, over real HTTP: the callback URLs Open Builder hands
out (POST /callback/<anything>; one use each, like Kakao's) and an image host for the photos (GET; paths
under /slow/ answer after `slow_seconds`); and OpenBuilder, a KakaoTalk user's skill requests as Open Builder
sends them."""
from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional


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


_callback_ids = itertools.count(1)


@dataclass
class OpenBuilder:
    """A KakaoTalk user talking through Open Builder: skill requests as it sends them, the callback followed."""

    skill_url: str
    kakao: FakeKakao
    user: str
    secret: Optional[str] = None  # sent in X-Cleanbot-Kakao-Secret
    block_id: str = "5f0000000000000000000001"
    callback: bool = True
    paths: list = field(default_factory=list)  # "inline" or "callback", per message

    def request(self, utterance: str, params: Optional[dict] = None, extra: Optional[dict] = None,
                callback_url: Optional[str] = None) -> dict:
        body: dict[str, Any] = {
            "intent": {"id": self.block_id, "name": "폴백 블록"},
            "userRequest": {
                "timezone": "Asia/Seoul", "params": {"ignoreMe": "true"},
                "block": {"id": self.block_id, "name": "폴백 블록"}, "utterance": utterance, "lang": "ko",
                "user": {"id": self.user, "type": "botUserKey",
                         "properties": {"botUserKey": self.user, "plusfriendUserKey": "pf" + self.user[-8:]}},
            },
            "contexts": [],
            "bot": {"id": "5f00000000000000000000bb", "name": "클린봇"},
            "action": {"name": "cleanbot_skill", "clientExtra": extra, "params": params or {},
                       "id": "5f00000000000000000000cc", "detailParams": {}},
        }
        if callback_url:
            body["userRequest"]["callbackUrl"] = callback_url
        return body

    def post(self, body: dict, secret: Optional[str] = "", raw: Optional[bytes] = None) -> tuple[int, dict]:
        """One skill request; `secret` "" = the user's own, None = none."""
        secret = self.secret if secret == "" else secret
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Cleanbot-Kakao-Secret"] = secret
        request = urllib.request.Request(self.skill_url, data=raw or json.dumps(body).encode(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def say(self, utterance: str = "", params: Optional[dict] = None, extra: Optional[dict] = None) -> dict:
        """The template the user ends up seeing: inline, or what arrives at the callback URL."""
        path = f"/callback/{next(_callback_ids)}"
        started = time.monotonic()
        status, body = self.post(self.request(utterance, params, extra,
                                              f"{self.kakao.url}{path}" if self.callback else None))
        assert status == 200, body
        assert time.monotonic() - started < 5, "Open Builder waits 5 seconds"
        if body.get("useCallback"):
            assert body == {"version": "2.0", "useCallback": True, "data": {"text": "확인하고 있어요…"}}
            self.paths.append("callback")
            posted = self.kakao.wait_callback(path, 60)
            assert len(posted) == 1
            body = posted[0]
        else:
            self.paths.append("inline")
        assert body["version"] == "2.0" and 1 <= len(body["template"]["outputs"]) <= 3
        for reply in body["template"].get("quickReplies", []):
            assert len(reply["label"]) <= 14
        return body["template"]

    def tap(self, template: dict, title_part: str) -> dict:
        """Taps a quick reply or a listCard item whose title has `title_part`, as Kakao sends the tap."""
        choices = list(template.get("quickReplies", []))
        for output in template["outputs"]:
            choices.extend(output.get("listCard", {}).get("items", []))
            for card in output.get("carousel", {}).get("items", []):
                choices.extend(card.get("buttons", []))
        choice = next(c for c in choices if title_part in (c.get("label") or c.get("messageText") or c.get("title", "")))
        if choice["action"] == "message":  # no block id on the server: the title is said in chat
            return self.say(choice["messageText"])
        assert choice["action"] == "block" and choice["blockId"] == self.block_id
        return self.say(choice["messageText"], extra=choice["extra"])


def text_of(template: dict) -> str:
    return "\n".join(o["simpleText"]["text"] for o in template["outputs"] if "simpleText" in o)
