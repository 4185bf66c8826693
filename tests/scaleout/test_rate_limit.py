"""The per-sender message rate across workers and replicas: with CLEANBOT_REDIS_URL every process counts in
one Redis window, so N servers no longer allow N times the limit. Real Redis (tests/durability/conftest.py)."""
from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from bot.server.runner import free_port
from connectors import doors
from tests.durability.conftest import redis_url  # noqa: F401  (fixture)


def _sender() -> str:
    return f"shopper-{secrets.token_hex(4)}"  # a fresh key per test: Redis is shared with other runs


async def _outcomes(limiter, sender: str, count: int) -> list:
    results = []
    for _ in range(count):
        try:
            await limiter.check(sender)
            results.append("ok")
        except doors.DoorError as refused:
            results.append((refused.status, refused.retry_after, refused.first))
    return results


def test_two_servers_share_one_window(redis_url):  # noqa: F811
    sender = _sender()
    first_server = doors.RedisSenderRateLimit(redis_url, limit=3, window=60)
    second_server = doors.RedisSenderRateLimit(redis_url, limit=3, window=60)

    async def scenario():
        return (await _outcomes(first_server, sender, 2), await _outcomes(second_server, sender, 2),
                await _outcomes(first_server, "other-" + sender, 1))

    on_first, on_second, someone_else = asyncio.run(scenario())
    assert on_first == ["ok", "ok"]
    assert on_second[0] == "ok"
    status, retry_after, first = on_second[1]
    assert status == 429 and 58 <= retry_after <= 60 and first is True
    assert someone_else == ["ok"]


def test_a_flood_is_told_once_and_the_window_slides(redis_url):  # noqa: F811
    sender = _sender()
    limiter = doors.RedisSenderRateLimit(redis_url, limit=1, window=1.0)

    async def scenario():
        flood = await _outcomes(limiter, sender, 4)
        await asyncio.sleep(1.1)
        later = await _outcomes(limiter, sender, 2)
        return flood, later

    flood, later = asyncio.run(scenario())
    assert flood[0] == "ok"
    assert [outcome[2] for outcome in flood[1:]] == [True, False, False]  # told once, then ignored
    assert later[0] == "ok" and later[1][2] is True  # a new window, and a new first refusal


def test_the_check_used_by_the_channels_goes_through_redis_when_configured(redis_url, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CLEANBOT_REDIS_URL", redis_url)
    monkeypatch.setenv("CLEANBOT_MESSAGES_PER_MINUTE", "2")
    assert isinstance(doors.rate_limit(), doors.RedisSenderRateLimit)
    sender = _sender()

    async def scenario():
        await doors.check_rate(sender)
        doors._limits.clear()  # another process: a limiter of its own, the same Redis window
        await doors.check_rate(sender)
        with pytest.raises(doors.DoorError) as refused:
            await doors.check_rate(sender)
        return refused.value

    refused = asyncio.run(scenario())
    assert refused.status == 429 and "초 뒤" in refused.message_ko


def test_without_redis_reachable_each_process_still_limits():
    nobody_listens = free_port()
    limiter = doors.RedisSenderRateLimit(f"redis://127.0.0.1:{nobody_listens}/0", limit=2, window=60)
    started = time.monotonic()
    outcomes = asyncio.run(_outcomes(limiter, _sender(), 3))
    assert outcomes[:2] == ["ok", "ok"] and outcomes[2][0] == 429
    assert time.monotonic() - started < 10  # refused connections fail fast, nobody waits on Redis
