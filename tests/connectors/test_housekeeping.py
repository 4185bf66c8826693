"""The server's housekeeping loops: a lapsed store freeze is written down as over without anyone asking."""
import asyncio
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select


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


def test_a_zero_interval_turns_a_job_off(monkeypatch):
    from connectors import housekeeping

    monkeypatch.setenv("CLEANBOT_FREEZE_SWEEP_INTERVAL_MINUTES", "0")
    monkeypatch.setenv("CLEANBOT_PHOTO_PRUNE_INTERVAL_MINUTES", "60")
    assert [name for name, (_, every) in housekeeping._jobs().items() if every > 0] == ["photo-prune"]
