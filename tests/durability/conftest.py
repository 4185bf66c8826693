"""Fixtures for the durability tests: the real Redis (CLEANBOT_TEST_REDIS_URL, else the local one), and a
key prefix per test so tests running side by side never share a lock."""
from __future__ import annotations

import os
import uuid

import pytest

REDIS_URL = os.environ.get("CLEANBOT_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def _redis_required() -> bool:
    # Named explicitly, or in CI (whose machine runs Redis): a missing Redis is a failure, not a skip.
    return bool(os.environ.get("CLEANBOT_TEST_REDIS_URL") or os.environ.get("CI"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError as error:
        if _redis_required():
            raise
        pytest.skip(f"no Redis at {REDIS_URL} ({error})")
    return REDIS_URL


@pytest.fixture
def key_prefix(redis_url):
    import redis

    prefix = f"cleanbot-test:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    stale = list(client.scan_iter(f"{prefix}*"))
    if stale:
        client.delete(*stale)
