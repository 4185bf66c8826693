"""Real servers for the attack tests: `cleanbot`'s own start path (bot.server.runner.BotServers: the action server
behind its secret, the Rasa server with the flags the mode allows) on free ports, a database of its own,
and small HTTP helpers that return the status and JSON of a reply whatever the status."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import jwt

from tests.conftest import PG_URL, _pg_admin, _pg_url, _prepare, environment

SECRET = "security-suite-signing-key-0123456789abcdef"
API_TOKEN = "security-suite-api-token-0123456789abcdef"


def sign(sub: str, seconds: int = 600, key: str = SECRET, **claims: Any) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + seconds, **claims}, key, algorithm="HS256")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict


def http(method: str, url: str, body: Any = None, headers: Optional[dict] = None, raw: Optional[bytes] = None,
         timeout: float = 120) -> Reply:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            status, text, got = reply.status, reply.read().decode(errors="replace"), dict(reply.headers)
    except urllib.error.HTTPError as error:
        status, text, got = error.code, error.read().decode(errors="replace"), dict(error.headers)
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return Reply(status, parsed, got)


@dataclass
class Stack:
    servers: Any
    env: dict
    db_url: str
    log_dir: Path

    @property
    def url(self) -> str:
        return self.servers.rasa_url

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.servers.action_port}"

    def say(self, text: Any, token: Optional[str] = None, sender: Any = None, metadata: Any = None) -> Reply:
        body: dict = {"message": text}
        if sender is not None:
            body["sender"] = sender
        if metadata is not None:
            body["metadata"] = metadata
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http("POST", f"{self.url}/webhooks/rest/webhook", body, headers)

    def tracker(self, sender: str) -> dict:
        reply = http("GET", f"{self.url}/conversations/{sender}/tracker?token={API_TOKEN}")
        assert reply.status == 200, reply
        return reply.body

    def logs(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in self.log_dir.glob("*.log"))


@contextmanager
def database(home: Path, postgres: bool) -> Iterator[str]:
    """A migrated database with the marketplace's data (the demo set, loaded as the marketplace's import
    would; the servers themselves may run in production mode)."""
    if postgres and PG_URL:
        import uuid

        from sqlalchemy import text

        name = f"cleanbot_sec_{uuid.uuid4().hex[:10]}"
        with _pg_admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = _pg_url(name)
        try:
            _prepare(url)
            yield url
        finally:
            from bot.db import dispose_engines

            dispose_engines()
            with _pg_admin().connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        url = f"sqlite:///{home / 'cleanbot.db'}"
        _prepare(url)
        yield url


@contextmanager
def running(home: Path, name: str, mode: str, extra: Optional[dict] = None, postgres: bool = False) -> Iterator[Stack]:
    from bot.server.runner import BotServers, free_port
    from bot.nlu.training import train_if_changed

    model = train_if_changed()
    with database(home, postgres) as url:
        env = {"CLEANBOT_MODE": mode, "CLEANBOT_DATABASE_URL": url, "CLEANBOT_PHOTO_DIR": str(home / "photos"),
               "CLEANBOT_JWT_SECRET": SECRET, "CLEANBOT_API_TOKEN": API_TOKEN, **(extra or {})}
        log_dir = Path("test-artifacts") / name
        for old_log in log_dir.glob("*.log"):
            old_log.unlink()
        servers = BotServers(model, free_port(), free_port(), env=env, log_dir=log_dir)
        with environment(env):
            try:
                servers.start()
                yield Stack(servers, servers.env, url, log_dir)
            finally:
                servers.stop()


# ------------------------------------------------------------------ socket.io clients
# python-socketio's asyncio client over long-polling (its websocket transport needs a newer aiohttp than
# Rasa pins) waits for the open long-poll, up to the server's 25 s ping interval, when it disconnects or
# gives up: the helpers below stop waiting once the outcome is known.


async def sio_connect(url: str, token: Optional[str], events: list):
    """A connected client recording (event, data) for bot messages, auth errors and confirmations."""
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    for name in ("bot_uttered", "auth_error", "session_confirm"):
        client.on(name, (lambda n: lambda data=None: events.append((n, data)))(name))
    await client.connect(url, auth={"token": token} if token else None, transports=["polling"], wait_timeout=20)
    return client


async def sio_refusal(url: str, auth: Any) -> Any:
    """The data of the server's connect_error for this auth payload (raises TimeoutError if it connected)."""
    import asyncio

    import socketio

    client = socketio.AsyncClient(reconnection=False)
    refused: dict = {}
    seen = asyncio.Event()

    @client.on("connect_error")
    async def _refused(data=None):
        refused["data"] = data
        seen.set()

    attempt = asyncio.create_task(client.connect(url, auth=auth, transports=["polling"], wait_timeout=20))
    try:
        await asyncio.wait_for(seen.wait(), 15)
    finally:
        attempt.cancel()
    return refused.get("data")


async def sio_close(client) -> None:
    import asyncio

    try:
        await asyncio.wait_for(client.disconnect(), 1)
    except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - the server forgets the socket anyway
        pass
