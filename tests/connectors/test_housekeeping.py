"""The server's housekeeping loops: a lapsed store freeze is written down as over without anyone asking; the
risk screening is off by default and, when on, opens the team's cases once however often it runs."""
import asyncio
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select


class _Blueprint:
    def __init__(self):
        self.listeners: dict = {}

    def listener(self, event):
        return lambda handler: self.listeners.setdefault(event, []).append(handler) or handler


def _serve_until(blueprint, done, timeout=30.0):
    """Runs the blueprint's start listeners, waits until `done()` (or the timeout), runs the stop ones."""
    app = SimpleNamespace(ctx=SimpleNamespace())

    async def life():
        for start in blueprint.listeners["after_server_start"]:
            await start(app, None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout  # the lease is taken first: a busy database may take a while
        while not await asyncio.to_thread(done) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for stop in blueprint.listeners["before_server_stop"]:
            await stop(app, None)

    asyncio.run(life())


def test_the_server_ends_a_lapsed_freeze_and_audits_it_once(db_url, move_clock, monkeypatch):
    from bot.db import transaction
    from bot.models import AuditLog, Seller
    from bot.services import penalties, photos
    from connectors import housekeeping

    monkeypatch.setenv("CLEANBOT_FREEZE_SWEEP_INTERVAL_MINUTES", str(0.02 / 60))  # every 20 ms
    monkeypatch.setenv("CLEANBOT_PHOTO_PRUNE_INTERVAL_MINUTES", "0")
    monkeypatch.setattr(photos, "warm_decode_pool", lambda: None)
    monkeypatch.setattr(photos, "shutdown_decode_pool", lambda wait: None)
    with transaction() as session:
        seller = session.get(Seller, "S-1002")
        seller.status, seller.frozen_until = "frozen", penalties.utcnow() + timedelta(days=7)
    move_clock(timedelta(days=7, minutes=1))

    def stored_status():
        with transaction() as session:
            return session.get(Seller, "S-1002").status

    blueprint = _Blueprint()
    housekeeping.attach(blueprint)
    _serve_until(blueprint, lambda: stored_status() == "active")

    with transaction() as session:
        seller = session.get(Seller, "S-1002")
        assert (seller.status, seller.frozen_until) == ("active", None)
        audits = session.execute(select(AuditLog.actor).where(
            AuditLog.action == penalties.UNFROZEN_ACTION, AuditLog.subject == "S-1002")).scalars().all()
    assert audits == ["housekeeping"]


def _started_jobs() -> list[str]:
    from connectors import housekeeping

    return [name for name, (_, every) in housekeeping._jobs().items() if every > 0]


def test_the_screening_is_off_by_default_and_a_zero_interval_turns_a_job_off(monkeypatch):
    monkeypatch.delenv("CLEANBOT_SCREENING_INTERVAL_MINUTES", raising=False)
    monkeypatch.delenv("CLEANBOT_FREEZE_SWEEP_INTERVAL_MINUTES", raising=False)
    assert _started_jobs() == ["photo-prune", "freeze-sweep"]
    monkeypatch.setenv("CLEANBOT_FREEZE_SWEEP_INTERVAL_MINUTES", "0")
    assert _started_jobs() == ["photo-prune"]


@pytest.fixture
def only_the_screening(monkeypatch):
    from bot.services import photos

    monkeypatch.setenv("CLEANBOT_SCREENING_INTERVAL_MINUTES", str(0.02 / 60))  # every 20 ms
    monkeypatch.setenv("CLEANBOT_PHOTO_PRUNE_INTERVAL_MINUTES", "0")
    monkeypatch.setenv("CLEANBOT_FREEZE_SWEEP_INTERVAL_MINUTES", "0")
    monkeypatch.setattr(photos, "warm_decode_pool", lambda: None)
    monkeypatch.setattr(photos, "shutdown_decode_pool", lambda wait: None)


def test_when_on_the_screening_runs_repeatedly_and_opens_each_case_once(db_url, monkeypatch, only_the_screening):
    from bot.db import transaction
    from bot.models import IppCase
    from bot.services import screening
    from connectors import housekeeping

    rounds = []
    real = screening.screen
    monkeypatch.setattr(screening, "screen", lambda: rounds.append(real()))
    blueprint = _Blueprint()
    housekeeping.attach(blueprint)
    housekeeping.attach(blueprint)  # attached from two channels: still one loop
    _serve_until(blueprint, lambda: len(rounds) >= 3)
    assert len(rounds) >= 3
    assert len(rounds[0].opened) == 11 and all(r.opened == () for r in rounds[1:])
    with transaction() as session:
        opened = session.execute(select(func.count(IppCase.id)).where(IppCase.source == "screening")).scalar_one()
    assert opened == 11
