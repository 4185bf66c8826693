"""The screening loop inside the server (connectors/screener.py): off by default; when on, it opens the
team's cases once however often it runs, and stops with the server."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sqlalchemy import func, select

from bot.db import transaction
from bot.models import IppCase
from bot.services import screening
from connectors import screener


class Blueprint:
    def __init__(self):
        self.listeners: dict = {}

    def listener(self, event):
        return lambda handler: self.listeners.setdefault(event, []).append(handler) or handler


def _screening_cases() -> int:
    with transaction() as session:
        return session.execute(select(func.count(IppCase.id)).where(IppCase.source == "screening")).scalar_one()


def _server_life(blueprint, rounds: list, wait_for: int) -> int:
    app = SimpleNamespace(ctx=SimpleNamespace())

    async def life():
        for start in blueprint.listeners["after_server_start"]:
            await start(app, None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30  # the lease is taken first: a busy database may take a while
        while len(rounds) < wait_for and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for stop in blueprint.listeners["before_server_stop"]:
            await stop(app, None)
        stopped_at = len(rounds)
        await asyncio.sleep(0.1)
        return stopped_at

    return asyncio.run(life())


def test_off_by_default(db_url, monkeypatch):
    rounds = []
    monkeypatch.setattr(screening, "screen", lambda: rounds.append(1))
    blueprint = Blueprint()
    screener.attach(blueprint)
    assert _server_life(blueprint, rounds, wait_for=0) == 0 and rounds == []


def test_when_on_it_screens_repeatedly_and_opens_each_case_once(db_url, monkeypatch):
    monkeypatch.setenv("CLEANBOT_SCREENING_INTERVAL_MINUTES", str(0.02 / 60))  # every 20 ms
    rounds = []
    real = screening.screen
    monkeypatch.setattr(screening, "screen", lambda: rounds.append(real()))
    blueprint = Blueprint()
    screener.attach(blueprint)
    screener.attach(blueprint)  # attached from two channels: still one loop
    stopped_at = _server_life(blueprint, rounds, wait_for=3)
    assert stopped_at >= 3 and len(rounds) == stopped_at  # nothing ran after the stop
    assert len(rounds[0].opened) == 11 and all(r.opened == () for r in rounds[1:])
    assert _screening_cases() == 11
