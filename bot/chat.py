"""A terminal chat client over the REST channel: `cleanbot chat --sender shopper-1`.

Buttons are numbered: type the number to tap one. `/photo PATH [PATH…]` sends photos."""
from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path


def send(url: str, sender: str, text: str, photos: list[bytes] | None = None) -> list[dict]:
    body = {"sender": sender, "message": text}
    if photos:
        body["metadata"] = {"photos": [base64.b64encode(p).decode() for p in photos]}
    request = urllib.request.Request(
        f"{url.rstrip('/')}/webhooks/rest/webhook", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as reply:
        return json.loads(reply.read().decode())


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


def chat(sender: str, url: str) -> int:
    print(f"클린봇과 대화를 시작해요 ({sender}). 끝내려면 /quit 또는 Ctrl-D를 누르세요.")
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
            buttons = show(send(url, sender, line, photos))
        except (urllib.error.URLError, OSError) as error:
            print(f"클린봇 서버({url})에 연결할 수 없어요: {error}. 'make run'으로 서버를 먼저 켜 주세요.", file=sys.stderr)
    return 0
