"""Real servers for end-to-end tests: a trained model, the action server and the Rasa server on
free ports, with a database and photo directory of their own. Started once per test session; each test's
conversations start afresh (chat_as)."""
from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import _prepare, environment


@dataclass
class Chat:
    url: str
    sender: str
    history: list = field(default_factory=list)

    def say(self, text: str = "", photos: list[bytes] | None = None, raw_photos: list | None = None) -> list[dict]:
        body: dict = {"sender": self.sender, "message": text}
        if photos or raw_photos:
            body["metadata"] = {"photos": [base64.b64encode(p).decode() for p in photos or []] + list(raw_photos or [])}
        request = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as reply:
            messages = json.loads(reply.read().decode())
        self.history.append((text, messages))
        return messages

    def text(self, *args, **kwargs) -> str:
        """Everything the bot answered to one message, as one string."""
        return "\n".join(m.get("text", "") for m in self.say(*args, **kwargs))

    def tap(self, messages: list[dict], title_part: str) -> list[dict]:
        button = next(b for m in messages for b in m.get("buttons") or [] if title_part in b["title"])
        return self.say(button["payload"])


@pytest.fixture(scope="session")
def bot_server(tmp_path_factory):
    from bot.server.runner import BotServers, free_port
    from bot.nlu.training import train_if_changed

    model = train_if_changed()
    home = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{home / 'cleanbot.db'}"
    _prepare(url)
    # The FAQ index loaded at start, not by whichever test asks the first question (on a busy machine that
    # took over Sanic's 60 s response timeout: a 503 for that test). The message rate is per sender and the
    # server outlives the tests: tests sharing a sender within a minute (brand-nike) must not add up to 429s
    # (the rate itself is tested in tests/security).
    env = {"CLEANBOT_DATABASE_URL": url, "CLEANBOT_PHOTO_DIR": str(home / "photos"), "CLEANBOT_FAQ_PRELOAD": "1",
           "CLEANBOT_MESSAGES_PER_MINUTE": "120"}
    servers = BotServers(model, free_port(), free_port(), env=env, log_dir=Path("test-artifacts/e2e-logs"))
    with environment(env):
        servers.start()
        try:
            yield servers
        finally:
            servers.stop()


@pytest.fixture
def chat_as(bot_server):
    """A chat as `sender`, whose conversation starts afresh in each test (the server pair and the senders of
    the demo data are shared, so a test that failed mid-form must not leave the next one inside the form)."""
    restarted: set[str] = set()

    def make(sender: str) -> Chat:
        chat = Chat(bot_server.rasa_url, sender)
        if sender not in restarted:
            restarted.add(sender)
            chat.say("/restart")
            chat.history.clear()
        return chat

    return make
