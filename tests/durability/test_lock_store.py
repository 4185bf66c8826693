"""The conversation lock against the real Redis (bot/server/lock_store.py): tickets served in order across servers,
a dead holder's ticket expiring while a live one's does not, and never two holders at once — the race
Rasa's own RedisLockStore loses (rasa#9213), shown by the same test run against it."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.server.lock_store import CHECK_SECONDS, LOST, MINE, LocalLockStore, RedisTicketLockStore, worker_problem
from bot.settings import PROJECT_ROOT, get_settings


def _store(redis_url, key_prefix, ticket_seconds=10.0) -> RedisTicketLockStore:
    return RedisTicketLockStore(redis_url, ticket_seconds=ticket_seconds, key_prefix=key_prefix)


async def _until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_tickets_are_served_in_the_order_they_were_taken(redis_url, key_prefix):
    """Three servers (store instances) queue behind a holder; each gets in only after the one before."""
    servers = [_store(redis_url, key_prefix) for _ in range(4)]
    entered: list[int] = []

    async def main():
        async def take(index):
            async with servers[index].lock("conv"):
                entered.append(index)
                await asyncio.sleep(0.02)

        first = servers[0]
        async with first.lock("conv"):
            entered.append(0)
            waiters = []
            for index in (3, 1, 2):  # out of index order: the order of taking counts
                waiters.append(asyncio.create_task(take(index)))
                expected = len(waiters) + 1
                await _until(lambda: _count(first, expected))
        await asyncio.gather(*waiters)
        assert await first.waiting("conv") == []

    async def _count(store, expected):
        return len(await store.waiting("conv")) == expected

    asyncio.run(main())
    assert entered == [0, 3, 1, 2]


def test_the_next_in_line_is_woken_by_the_release(redis_url, key_prefix):
    """Another server's waiter goes in right after the release, not at its next check (CHECK_SECONDS)."""
    holder, waiter = _store(redis_url, key_prefix), _store(redis_url, key_prefix)

    async def handover() -> float:
        entered = {}

        async def wait():
            async with waiter.lock("conv"):
                entered["at"] = time.monotonic()

        async with holder.lock("conv"):
            task = asyncio.create_task(wait())
            await _until(lambda: _line_of(holder, 2))
            await asyncio.sleep(0.05)  # well inside its BLPOP
        left = time.monotonic()
        await task
        return entered["at"] - left

    async def _line_of(store, length):
        return len(await store.waiting("conv")) == length

    delays = sorted(asyncio.run(_repeat(handover, 9)))
    assert delays[len(delays) // 2] < CHECK_SECONDS / 3, delays


async def _repeat(make, times):
    return [await make() for _ in range(times)]


_HOLDER = textwrap.dedent("""
    import asyncio, sys
    from bot.server.lock_store import RedisTicketLockStore

    async def main():
        store = RedisTicketLockStore(sys.argv[1], ticket_seconds=float(sys.argv[3]), key_prefix=sys.argv[2])
        async with store.lock("conv"):
            print("inside", flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main())
""")


def test_a_live_holder_keeps_the_conversation_and_a_killed_one_frees_it(redis_url, key_prefix):
    """A holder working far longer than ticket_seconds keeps its turn (it extends its ticket); after
    `kill -9` its ticket expires and the next message goes in within about ticket_seconds."""
    ticket_seconds = 1.0
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, redis_url, key_prefix, str(ticket_seconds)],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "inside"
        store = _store(redis_url, key_prefix, ticket_seconds)

        async def main():
            waiter = asyncio.create_task(_enter(store))
            await asyncio.sleep(3 * ticket_seconds)
            assert not waiter.done(), "a second holder got in while the first was alive"
            os.killpg(holder.pid, signal.SIGKILL)
            killed = time.monotonic()
            await asyncio.wait_for(waiter, 10 * ticket_seconds)
            return time.monotonic() - killed

        freed_after = asyncio.run(main())
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    assert freed_after < 2 * ticket_seconds


async def _enter(store, conversation="conv", **options):
    async with store.lock(conversation, **options):
        return True


def test_a_waiter_gives_up_after_the_lock_lifetime(redis_url, key_prefix):
    store = _store(redis_url, key_prefix)

    async def main():
        async with store.lock("conv"):
            started = time.monotonic()
            with pytest.raises(LockError):
                await _enter(store, lock_lifetime=0.3)
            assert 0.3 <= time.monotonic() - started < 2
            assert len(await store.waiting("conv")) == 1  # the waiter took its ticket back out

    asyncio.run(main())


def test_an_expired_ticket_can_neither_enter_nor_release_another(redis_url, key_prefix):
    """A process that stalled past its ticket's expiry finds its turn gone — even when numbering started
    again and the same number now belongs to someone else — and its release leaves that one alone."""
    store = _store(redis_url, key_prefix, ticket_seconds=0.2)

    async def main():
        stale, state = await store.issue("conv")
        assert state == MINE
        await asyncio.sleep(0.5)  # no sign of life: the ticket, the counter and the line expire
        fresh, state = await store.issue("conv")
        assert state == MINE and fresh.number == stale.number
        assert await store.turn(stale) == LOST
        await store.release(stale)
        assert await store.turn(fresh) == MINE
        assert await store.waiting("conv") == [int(fresh.number)]
        await store.release(fresh)
        assert await store.waiting("conv") == []

    asyncio.run(main())


# ---------------------------------------------------------------- two servers at the same moment

THREADS, ROUNDS = 4, 10


def _hammer(make_store, conversation: str) -> dict:
    """THREADS servers (a store and an event loop each) take the conversation's lock ROUNDS times each,
    all at once, holding it for a moment; counts how many were inside together and what failed."""
    guard = threading.Lock()
    seen = {"inside": 0, "most": 0, "done": 0, "errors": []}
    start = threading.Barrier(THREADS)

    def server():
        store = make_store()

        async def run():
            for _ in range(ROUNDS):
                try:
                    async with store.lock(conversation, lock_lifetime=2, wait_time_in_seconds=0.002):
                        with guard:
                            seen["inside"] += 1
                            seen["most"] = max(seen["most"], seen["inside"])
                        await asyncio.sleep(0.002)
                        with guard:
                            seen["inside"] -= 1
                            seen["done"] += 1
                except LockError as error:
                    seen["errors"].append(str(error))

        start.wait(10)
        asyncio.run(run())

    # Daemons: a server stuck on a lost ticket (Rasa's store) must not keep the test run alive.
    threads = [threading.Thread(target=server, daemon=True) for _ in range(THREADS)]
    deadline = time.monotonic() + 15
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
    return seen


def _rasa_redis_lock_store(redis_url: str, prefix: str) -> RedisLockStore:
    parts = urlsplit(redis_url)
    return RedisLockStore(host=parts.hostname, port=parts.port or 6379, db=int(parts.path.strip("/") or 0),
                          key_prefix=prefix)


@pytest.mark.parametrize("kind", [
    "ours",
    pytest.param("rasa", marks=pytest.mark.xfail(strict=True, reason="rasa#9213: get-modify-set tickets")),
])
def test_concurrent_servers_are_never_inside_together(redis_url, key_prefix, kind):
    if kind == "ours":
        seen = _hammer(lambda: _store(redis_url, key_prefix), "conv")
    else:
        prefix = uuid.uuid4().hex  # Rasa's store wants an alphanumeric prefix
        try:
            seen = _hammer(lambda: _rasa_redis_lock_store(redis_url, prefix), "conv")
        finally:
            import redis

            client = redis.Redis.from_url(redis_url)
            client.delete(*client.keys(f"{prefix}:*") or ["-"])
    assert seen["errors"] == [] and seen["most"] == 1 and seen["done"] == THREADS * ROUNDS, seen


# ---------------------------------------------------------------- what endpoints.yml makes


def test_the_endpoint_type_makes_the_redis_lock_when_redis_is_configured(redis_url, monkeypatch):
    monkeypatch.setenv("CLEANBOT_REDIS_URL", redis_url)
    store = LockStore.create(EndpointConfig(type="bot.server.lock_store.ProjectLockStore", ticket_seconds=3,
                                            key_prefix="x:"))
    assert isinstance(store, RedisTicketLockStore)
    assert (store.url, store.ticket_ms, store.key_prefix) == (redis_url, 3000, "x:")


def test_without_redis_one_process_keeps_rasas_in_memory_lock(monkeypatch):
    monkeypatch.delenv("CLEANBOT_REDIS_URL", raising=False)
    monkeypatch.delenv("SANIC_WORKERS", raising=False)
    assert isinstance(LockStore.create(EndpointConfig(type="bot.server.lock_store.ProjectLockStore")), LocalLockStore)


def test_several_workers_without_redis_are_refused(monkeypatch):
    """Rasa allows SANIC_WORKERS > 1 for any lock store type but `in_memory`: ours must refuse it itself."""
    from rasa.core.utils import number_of_sanic_workers

    monkeypatch.delenv("CLEANBOT_REDIS_URL", raising=False)
    monkeypatch.setenv("SANIC_WORKERS", "2")
    endpoint = EndpointConfig(type="bot.server.lock_store.ProjectLockStore")
    assert number_of_sanic_workers(endpoint) == 2
    assert "CLEANBOT_REDIS_URL" in worker_problem(get_settings())
    with pytest.raises(RuntimeError):
        LockStore.create(endpoint)
    monkeypatch.setenv("CLEANBOT_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert worker_problem(get_settings()) is None


def test_the_in_memory_lock_hands_over_without_rasas_one_second_pause():
    store = LocalLockStore()

    async def main():
        async def one():
            async with store.lock("conv"):
                await asyncio.sleep(0.01)

        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(10)))
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0


def test_the_rasa_server_refuses_several_workers_without_redis(tmp_path):
    from bot.server.runner import offline_env

    env = offline_env({"SANIC_WORKERS": "2", "CLEANBOT_REDIS_URL": "", "CLEANBOT_MODE": "demo",
                       "CLEANBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"})
    started = subprocess.run([sys.executable, "-m", "bot.server.rasa_server", "--model", str(tmp_path / "none.tar.gz")],
                             cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert started.returncode == 2 and "CLEANBOT_REDIS_URL" in started.stderr, started.stderr


def test_a_waiter_that_stalled_past_its_ticket_takes_a_new_one_instead_of_failing(redis_url, key_prefix):
    """An overloaded or cold server may not touch its waiting ticket for longer than ticket_seconds: the
    message still gets its turn (at the end of the line) rather than a 500."""
    store = _store(redis_url, key_prefix, ticket_seconds=0.3)

    async def main():
        holder, state = await store.issue("conv")
        assert state == MINE
        waiter = asyncio.create_task(_enter(store))
        await _until(lambda: _line_length(store, 2))
        keeper = asyncio.create_task(_keep(store, holder))  # the holder stays alive; the waiter's ticket dies
        first_waiter = (await store.waiting("conv"))[1]
        await store._scripts().client.delete(f"{key_prefix}conv:t:{first_waiter}")  # as if its process froze
        await asyncio.sleep(0.5)
        keeper.cancel()
        await store.release(holder)
        assert await asyncio.wait_for(waiter, 5) is True
        assert await store.waiting("conv") == []

    asyncio.run(main())


def test_a_redis_timeout_while_waiting_is_tried_again(redis_url, key_prefix, monkeypatch):
    import redis

    store = _store(redis_url, key_prefix)

    async def main():
        holder, _ = await store.issue("conv")
        client = store._scripts().client
        real_blpop, failures = client.blpop, []

        async def flaky_blpop(*args, **kwargs):
            if not failures:
                failures.append(1)
                raise redis.exceptions.TimeoutError("Timeout reading from 127.0.0.1:6379")
            return await real_blpop(*args, **kwargs)

        monkeypatch.setattr(client, "blpop", flaky_blpop)
        waiter = asyncio.create_task(_enter(store))
        await _until(lambda: _line_length(store, 2))
        await asyncio.sleep(0.3)
        await store.release(holder)
        assert await asyncio.wait_for(waiter, 5) is True and failures == [1]

    asyncio.run(main())


async def _line_length(store, count, conversation="conv"):
    return len(await store.waiting(conversation)) == count


async def _keep(store, ticket):
    while True:
        await store.turn(ticket)
        await asyncio.sleep(0.05)
