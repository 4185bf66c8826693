"""bot.services.leases: one holder per name across racing processes (threads with their own connections
here; tests/scaleout/test_replicas.py runs real processes), renewal, take-over after expiry, release,
and run_with_lease — on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

from sqlalchemy import select, update

from bot import clock
from bot.db import transaction
from bot.models import Lease
from bot.services import leases


def _shift_clock(monkeypatch, seconds: float) -> None:
    real = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(seconds=seconds))


def _race(name: str, contenders: int = 8) -> list[str]:
    """Everyone asks for `name` at the same moment, each on a connection of its own; who got it."""
    barrier = threading.Barrier(contenders)
    won: list[str] = []

    def contend(holder: str) -> None:
        barrier.wait()
        if leases.acquire(name, holder, 30):
            won.append(holder)

    threads = [threading.Thread(target=contend, args=(f"h{n}",)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return won


def test_one_holder_renewal_take_over_after_expiry_and_release(db_url, monkeypatch):
    assert leases.acquire("job", "a", 5)
    assert not leases.acquire("job", "b", 5)
    assert leases.acquire("job", "a", 5) and leases.renew("job", "a", 5)  # its own: renewed
    assert not leases.renew("job", "b", 5)
    assert leases.holder_of("job") == "a"

    _shift_clock(monkeypatch, 6)  # a died: nobody renewed it
    assert leases.holder_of("job") is None
    assert leases.acquire("job", "b", 5)
    assert not leases.renew("job", "a", 5) and not leases.release("job", "a")  # a learns it lost it
    assert leases.holder_of("job") == "b"

    assert leases.release("job", "b")  # a clean stop: free at once, no expiry to wait for
    assert leases.holder_of("job") is None
    assert leases.acquire("job", "a", 5)
    with transaction() as session:
        assert session.execute(select(Lease.generation).where(Lease.name == "job")).scalar_one() == 3

    assert leases.acquire("item:1", "a", 5) and leases.release("item:1", "a", forget=True)
    with transaction() as session:  # per-item claims leave no row behind
        assert session.get(Lease, "item:1") is None


def test_racing_contenders_never_both_get_it(db_url):
    assert len(_race("fresh")) == 1  # nobody had it: one INSERT wins
    with transaction() as session:
        session.execute(update(Lease).where(Lease.name == "fresh")
                        .values(expires_at=clock.utcnow() - timedelta(seconds=1)))
    assert len(_race("fresh")) == 1  # its holder died: one conditional UPDATE wins


def _counting(ran: dict[str, int], who: str):
    async def job() -> None:
        ran[who] = ran.get(who, 0) + 1
    return job


async def _until(predicate, timeout: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def test_run_with_lease_runs_in_one_place_and_hands_over_on_stop(db_url):
    async def scenario() -> None:
        ran: dict[str, int] = {}
        a = asyncio.create_task(leases.run_with_lease("loop", _counting(ran, "a"), 0.05, holder="a", ttl=1.5))
        await _until(lambda: ran.get("a"), 10)
        b = asyncio.create_task(leases.run_with_lease("loop", _counting(ran, "b"), 0.05, holder="b", ttl=1.5))
        await asyncio.sleep(2.0)  # longer than the ttl: a's renewals keep it
        assert ran["a"] > 10 and "b" not in ran
        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
        # Released on the way out: b takes over at its next try (ttl/3), not after an expiry.
        assert await _until(lambda: ran.get("b"), 10) < 1.2
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
        assert leases.holder_of("loop") is None

    asyncio.run(scenario())


def test_a_holder_that_stops_renewing_is_taken_over_after_expiry_and_stands_down(db_url, monkeypatch):
    async def scenario() -> None:
        ran: dict[str, int] = {}
        a = asyncio.create_task(leases.run_with_lease("loop", _counting(ran, "a"), 0.05, holder="a", ttl=1.5))
        await _until(lambda: ran.get("a"), 10)

        def cut_off(real):
            def call(name, holder, *args):
                if holder == "a":
                    raise ConnectionError("the database is out of reach")
                return real(name, holder, *args)
            return call

        # a goes on with its job but can no longer reach the database (a network split, a stalled host).
        monkeypatch.setattr(leases, "renew", cut_off(leases.renew))
        monkeypatch.setattr(leases, "acquire", cut_off(leases.acquire))
        b = asyncio.create_task(leases.run_with_lease("loop", _counting(ran, "b"), 0.05, holder="b", ttl=1.5))
        waited = await _until(lambda: ran.get("b"), 10)
        assert 0.5 < waited < 3.0  # after a's lease ran out, not before
        a_rounds = ran["a"]
        await asyncio.sleep(1.0)
        assert ran["a"] == a_rounds and ran["b"] > 5  # a stood down: never both
        for task in (a, b):
            task.cancel()
        await asyncio.gather(a, b, return_exceptions=True)

    asyncio.run(scenario())
