"""Fixtures for the Telegram channel: the fake Bot API, an in-process channel runtime driven without
Rasa, and (for the end-to-end tests) the real Rasa and action servers with the channel enabled."""
from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from PIL import Image

from bot.settings import PROJECT_ROOT
from tests.conftest import _prepare, environment
from tests.connectors.fake_bot_api import Call, FakeBotAPI


def jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size, (seed * 40 % 255, 120, 200))
    for x in range(0, size[0], 8):
        for y in range(0, size[1], 8):
            if (x // 8 + y // 8 + seed) % 3 == 0:
                image.paste((250, 250, 250), (x, y, x + 8, y + 8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


API_TOKEN = "telegram-e2e-api-token-0123456789abcdef"


@pytest.fixture
def fake_api():
    fake = FakeBotAPI().start()
    yield fake
    fake.stop()


class LoopThread:
    """An asyncio loop in a thread, so tests can drive async code while the fake server answers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


MARKER = "(marker "  # the start of the texts Channel.settle sends
_markers = itertools.count(1)


@dataclass
class Channel:
    """The channel runtime in-process, with a stand-in for Rasa that records what it was handed."""

    runtime: Any
    loop: LoopThread
    fake: FakeBotAPI
    received: list = field(default_factory=list)
    reply: Optional[Callable] = None

    def accept(self, update: dict) -> bool:
        return self.loop.run(self.runtime.accept_json(update))

    def wait_received(self, count: int, timeout: float = 20) -> list:
        self.fake.wait_for(lambda: len(self.received) >= count, timeout)
        return self.received

    def settle(self, user_id: int, timeout: float = 20) -> list:
        """What reached the dialogue from anyone before one more text from `user_id` did: a positive sign
        instead of a pause, since one chat's updates are handled in order. The markers are left out."""
        marker = f"{MARKER}{next(_markers)})"
        self.accept(self.fake.text_update(user_id, marker))
        self.fake.wait_for(lambda: any(m.text == marker for m in self.received), timeout)
        return [m for m in self.received if not (m.text or "").startswith(MARKER)]


@pytest.fixture
def channel(db_url, fake_api):
    from connectors.telegram import TelegramConfig, TelegramRuntime

    made: list[Channel] = []

    def make(**config: Any) -> Channel:
        loop = LoopThread()
        settings = dict(token=fake_api.token, webhook_secret="s3cret-token", webhook_url="https://bot.example/hook",
                        api_base_url=fake_api.base_url, file_base_url=fake_api.file_base_url,
                        push=False, poll_timeout_seconds=1)
        settings.update(config)
        holder: dict = {}

        async def on_new_message(message) -> None:
            while "channel" not in holder:  # updates left unfinished by an earlier run come in during start
                await asyncio.sleep(0.01)
            holder["channel"].received.append(message)
            if holder["channel"].reply is not None:
                await holder["channel"].reply(message)
            else:
                await message.output_channel.send_text_message(message.sender_id, f"받았어요: {message.text}")

        async def build():
            runtime = TelegramRuntime(TelegramConfig(**settings), on_new_message)
            await runtime.start()
            await asyncio.wait_for(runtime.ready.wait(), 20)
            return runtime

        runtime = loop.run(build())
        made.append(holder.setdefault("channel", Channel(runtime, loop, fake_api)))
        return holder["channel"]

    yield make
    for ch in made:
        ch.loop.run(ch.runtime.stop())
        ch.loop.close()


# ---------------------------------------------------------------- end-to-end: real servers


@dataclass
class TelegramStack:
    servers: Any
    fake: FakeBotAPI
    secret: str
    db_url: str
    home: Path
    env: dict

    @property
    def webhook_url(self) -> str:
        return f"{self.servers.rasa_url}/webhooks/telegram/webhook"


@contextlib.contextmanager
def running_telegram_stack(home: Path, extra_env: Optional[dict] = None, log_name: str = "telegram-e2e-logs"):
    """Rasa + action servers with the Telegram channel pointing at the fake Bot API, in polling mode
    (the webhook route is there as well, with its secret), and a database of their own. `extra_env`
    goes to both servers and to this process (the hand-over tests set the agents' group with it)."""
    from bot.server.runner import BotServers, free_port
    from bot.nlu.training import train_if_changed

    model = train_if_changed()
    fake = FakeBotAPI().start()
    url = f"sqlite:///{home / 'cleanbot.db'}"
    _prepare(url)
    secret = "e2e-webhook-secret_123"
    credentials = home / "credentials.yml"
    credentials.write_text(
        "connectors.rest.CleanBotRestInput:\n\n"
        "connectors.kakao.KakaoSkillInput:\n\n"  # answers only with CLEANBOT_KAKAO_ENABLED=1 (the hand-over tests)
        "connectors.telegram.CleanBotTelegramInput:\n"
        f"  access_token: \"{fake.token}\"\n"
        f"  webhook_secret: \"{secret}\"\n"
        "  webhook_url: \"\"\n"
        f"  api_base_url: \"{fake.base_url}\"\n"
        f"  file_base_url: \"{fake.file_base_url}\"\n"
        "  poll_timeout_seconds: 2\n"
        "  push_interval_seconds: 1\n",
        encoding="utf-8",
    )
    rasa_port = free_port()
    # The HTTP API is on only with a token (issue #11); these tests read trackers and trigger intents.
    env = {"CLEANBOT_DATABASE_URL": url, "CLEANBOT_PHOTO_DIR": str(home / "photos"),
           "CLEANBOT_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}", "CLEANBOT_API_TOKEN": API_TOKEN,
           **(extra_env or {})}
    servers = BotServers(model, rasa_port, free_port(), env=env, log_dir=Path("test-artifacts") / log_name,
                         credentials=credentials)
    with environment(env):
        try:
            servers.start()
            fake.wait_for(lambda: fake.calls_of("deleteWebhook") and fake.calls_of("getUpdates"), timeout=60)
            yield TelegramStack(servers, fake, secret, url, home, env)
        finally:
            servers.stop()
            fake.stop()
            from bot.db import dispose_engines

            dispose_engines()


@pytest.fixture(scope="module")
def telegram_stack(tmp_path_factory):
    with running_telegram_stack(tmp_path_factory.mktemp("telegram-e2e")) as stack:
        yield stack


# ---------------------------------------------------------------- end-to-end: a Telegram user


def cleanbot(stack, *args: str) -> subprocess.CompletedProcess:
    """The command line against the stack's database (and its fake Bot API)."""
    env = {**os.environ, **stack.env, "TELEGRAM_BOT_TOKEN": stack.fake.token,
           "TELEGRAM_API_BASE_URL": stack.fake.base_url, "TELEGRAM_FILE_BASE_URL": stack.fake.file_base_url,
           "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("TELEGRAM_BOT_USERNAME", None)
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def wait_handled(fake: FakeBotAPI, update_id: int, timeout: float = 60) -> None:
    """Waits until the channel has finished handling this update (its row is marked handled): everything it
    was going to answer has been sent by then. A positive sign to wait for before asserting a silence."""
    from bot.db import transaction
    from bot.models import TelegramUpdate

    def handled() -> bool:
        with transaction() as session:
            row = session.get(TelegramUpdate, update_id)
            return row is not None and row.handled_at is not None

    fake.wait_for(handled, timeout)


@dataclass
class TelegramUser:
    stack: Any
    user_id: int
    last_update_id: Optional[int] = None  # of the last update this user sent

    @property
    def fake(self):
        return self.stack.fake

    def webhook(self, update: dict) -> float:
        since = time.monotonic()
        self.last_update_id = update["update_id"]
        assert self.fake.deliver(update, url=self.stack.webhook_url, secret=self.stack.secret) == 200
        return since

    def poll(self, update: dict) -> float:
        since = time.monotonic()
        self.last_update_id = update["update_id"]
        self.fake.queue_update(update)
        return since

    def say(self, text: str, via: str = "poll") -> float:
        update = self.fake.text_update(self.user_id, text)
        return self.poll(update) if via == "poll" else self.webhook(update)

    def photo(self, data: bytes | None = None, caption: str | None = None, size: int | None = None) -> float:
        file_id = self.fake.add_file(data, size=size)
        return self.webhook(self.fake.photo_update(self.user_id, file_id, caption=caption))

    def tap(self, messages: list[Call], title_part: str) -> float:
        message = next(m for m in reversed(messages) if any(title_part in b["text"] for b in m.buttons))
        button = next(b for b in message.buttons if title_part in b["text"])
        update = self.fake.callback_update(self.user_id, button["callback_data"], message=message)
        since = self.webhook(update)
        query_id = update["callback_query"]["id"]
        self.fake.wait_for(lambda: any(c.params.get("callback_query_id") == query_id
                                       for c in self.fake.calls_of("answerCallbackQuery")), 30)
        return since

    def wait(self, needle: str, since: float, timeout: float = 90) -> list[Call]:
        return self.fake.wait_text(self.user_id, needle, since=since, timeout=timeout)

    def text(self, since: float, needle: str) -> str:
        return "\n".join(c.text for c in self.wait(needle, since))


def link(stack, user: TelegramUser, customer: str) -> None:
    """Links the Telegram account to a demo customer with a deep link, as a shopper would."""
    issued = json.loads(cleanbot(stack, "shopper", "link-token", customer, "--json").stdout)
    assert issued["deep_link"] == f"https://t.me/{stack.fake.username}?start={issued['token']}"
    since = user.say(f"/start {issued['token']}")
    greeting = user.text(since, "클린봇이에요")
    assert "계정이 텔레그램에 연결됐어요" in greeting
