"""A terminal chat client over the REST channel: `cleanbot chat --sender shopper-1`.

It speaks with a signed token like any client: `--token` (or CLEANBOT_CHAT_TOKEN), or, against a
demo server, one from the demo-only token endpoint for `--sender`.
Buttons are numbered: type the number to tap one. `/photo PATH [PATH…]` sends photos."""
from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path


class Refused(Exception):
    """The server said no (401, 403, 429, ...), with its Korean explanation."""


def _post(url: str, body: dict, token: str | None = None) -> object:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return json.loads(reply.read().decode())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read().decode()).get("error")
        except (ValueError, AttributeError):
            message = None
        raise Refused(message or f"서버가 요청을 거절했어요(HTTP {error.code}).") from None


def demo_token(url: str, sender: str) -> str:
    """A token for a demo identity (demo servers only; production servers have no such endpoint)."""
    try:
        return _post(f"{url.rstrip('/')}/chat/demo-token", {"sender": sender})["token"]
    except Refused as refused:
        raise Refused(f"데모 로그인 토큰을 받지 못했어요: {refused} 운영 서버라면 --token으로 로그인 토큰을 넣어 주세요.") from None


def send(url: str, sender: str, text: str, photos: list[bytes] | None = None, token: str | None = None) -> list[dict]:
    body = {"sender": sender, "message": text} if sender else {"message": text}
    if photos:
        body["metadata"] = {"photos": [base64.b64encode(p).decode() for p in photos]}
    return _post(f"{url.rstrip('/')}/webhooks/rest/webhook", body, token)


def show(messages: list[dict]) -> list[dict]:
    buttons: list[dict] = []
    for message in messages:
        if message.get("text"):
            print(f"클린봇: {message['text']}")
        if message.get("image"):
            print(f"클린봇: [이미지] {message['image'][:80]}")
        for button in message.get("buttons") or []:
            buttons.append(button)
            print(f"   [{len(buttons)}] {button['title']}")
    return buttons


def chat(sender: str, url: str, token: str | None = None) -> int:
    if token:
        sender = ""  # the token says who we are
    try:
        token = token or demo_token(url, sender)
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"클린봇 서버({url})에 연결할 수 없어요: {error}. 'make run'으로 서버를 먼저 켜 주세요.", file=sys.stderr)
        return 1
    print(f"클린봇과 대화를 시작해요 ({sender or '로그인한 계정'}). 끝내려면 /quit 또는 Ctrl-D를 누르세요.")
    buttons: list[dict] = []
    while True:
        try:
            line = input("나: ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        photos: list[bytes] = []
        if line.startswith("/photo "):
            try:
                photos = [Path(p).read_bytes() for p in line.split()[1:]]
            except OSError as error:
                print(f"사진 파일을 읽을 수 없어요: {error}")
                continue
            line = ""
        elif line.isdigit() and 1 <= int(line) <= len(buttons):
            line = buttons[int(line) - 1]["payload"]
        try:
            buttons = show(send(url, sender, line, photos, token))
        except Refused as refused:
            print(f"클린봇: {refused}")
        except (urllib.error.URLError, OSError) as error:
            print(f"클린봇 서버({url})에 연결할 수 없어요: {error}. 'make run'으로 서버를 먼저 켜 주세요.", file=sys.stderr)
    return 0
