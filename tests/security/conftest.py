"""Fixtures for the security tests: the fake Bot API and the in-process Telegram channel (from
tests/connectors), an agents' group with a member, a supervisor and an outsider, and a channel process that
dies in the middle of handling an update."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT
from tests.connectors.conftest import channel, fake_api  # noqa: F401  (fixtures)
from tests.connectors.fake_bot_api import FakeBotAPI

AGENT_CHAT = -1001000000888
MEMBER = 5_660_001  # an agent: a plain member of the group
SUPERVISOR = 5_660_002  # the group's creator, in TELEGRAM_SUPERVISOR_IDS
OUTSIDER = 5_669_999  # not in the group

CRASHED = 86  # the exit status of a channel process that died while handling an update


@pytest.fixture
def desk_channel(channel, fake_api):
    """The channel with the agents' group; getChatMember answers are trusted for a minute, as by default."""
    fake_api.members.update({MEMBER: "member", SUPERVISOR: "creator"})
    return channel(agent_chat_id=AGENT_CHAT, supervisor_ids=frozenset({SUPERVISOR}), agent_cache_seconds=60,
                   desk_interval_seconds=0.3)


_CRASHING_CHANNEL = textwrap.dedent("""
    import asyncio, json, os, sys

    from connectors.telegram import TelegramConfig, TelegramRuntime

    config, update = json.loads(sys.argv[1]), json.loads(sys.argv[2])

    async def on_new_message(message):
        os._exit(%d)  # the process dies while the message is being handled, as on a kill or OOM

    async def main():
        runtime = TelegramRuntime(TelegramConfig(**config), on_new_message)
        await runtime.start()
        await asyncio.wait_for(runtime.ready.wait(), 30)
        if not runtime.config.polling:
            await runtime.accept_json(update)  # what the webhook route does with Telegram's POST
        await asyncio.sleep(60)

    asyncio.run(main())
    sys.exit(3)  # the update never reached the handler
""" % CRASHED)


def crash_while_handling(fake: FakeBotAPI, update: dict, polling: bool) -> None:
    """Runs the channel in a process of its own against the fake Bot API and the test's database (the
    environment), hands it the update — by getUpdates, or as the webhook would — and waits until the
    process died in the middle of handling it."""
    config: dict[str, Any] = dict(token=fake.token, api_base_url=fake.base_url, file_base_url=fake.file_base_url,
                                  webhook_url="" if polling else "https://bot.example/hook",
                                  webhook_secret="s3cret-token", push=False, poll_timeout_seconds=1)
    if polling:
        fake.queue_update(update)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", _CRASHING_CHANNEL, json.dumps(config), json.dumps(update)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == CRASHED, done.stderr[-3000:]
