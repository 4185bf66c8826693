"""Bot servers for the durability tests: `BotServers` (the project's own start path) on ports and a database
that outlive them, so a test can `kill -9` a pair and start a new one in its place, or run two pairs side
by side on one database. REST and the Rasa HTTP API (with its token) via tests/security/live.py."""
from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tests.security.live import API_TOKEN, SECRET, http

LOG_ROOT = Path("test-artifacts") / "durability"


@dataclass
class Site:
    """Where one Rasa server and its action server run, across restarts."""
    name: str
    model: Path
    env: dict
    rasa_port: int = 0
    action_port: int = 0
    servers: Any = None
    starts: list = field(default_factory=list)  # seconds each start took, until both servers answered

    def __post_init__(self) -> None:
        from bot.server.runner import free_port

        self.rasa_port = self.rasa_port or free_port()
        self.action_port = self.action_port or free_port()
        for old_log in (LOG_ROOT / self.name).glob("*.log"):
            old_log.unlink()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def start(self) -> "Site":
        from bot.server.runner import BotServers

        began = time.monotonic()
        self.servers = BotServers(self.model, self.rasa_port, self.action_port, env=self.env,
                                  log_dir=LOG_ROOT / self.name)
        self.servers.start()
        self.starts.append(time.monotonic() - began)
        return self

    def kill(self) -> None:
        """kill -9 of the Rasa server and the action server (each with its process group)."""
        for process in self.servers.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.servers.processes:
            process.wait(30)
        self.servers.processes.clear()

    def stop(self) -> None:
        if self.servers is not None:
            self.servers.stop()

    # ---------------------------------------------------------------- talking to it

    def say(self, sender: str, text: str) -> list[dict]:
        reply = http("POST", f"{self.url}/webhooks/rest/webhook", {"sender": sender, "message": text})
        assert reply.status == 200, (reply.status, reply.body)
        return reply.body

    def text(self, sender: str, text: str) -> str:
        return "\n".join(message.get("text") or "" for message in self.say(sender, text))

    def tracker(self, sender: str) -> dict:
        reply = http("GET", f"{self.url}/conversations/{sender}/tracker?token={API_TOKEN}")
        assert reply.status == 200, reply
        return reply.body

    def append_event(self, sender: str, event: dict) -> None:
        reply = http("POST", f"{self.url}/conversations/{sender}/tracker/events?token={API_TOKEN}", event)
        assert reply.status == 200, reply

    def logs(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                         for p in (LOG_ROOT / self.name).glob("*.log"))


def site_env(db_url: str, home: Path, extra: Optional[dict] = None) -> dict:
    """Demo mode (unsigned REST senders), the API on with a token, no rate limit in the way."""
    return {"CLEANBOT_MODE": "demo", "CLEANBOT_DATABASE_URL": db_url, "CLEANBOT_PHOTO_DIR": str(home / "photos"),
            "CLEANBOT_JWT_SECRET": SECRET, "CLEANBOT_API_TOKEN": API_TOKEN,
            "CLEANBOT_MESSAGES_PER_MINUTE": "10000", "CLEANBOT_REDIS_URL": "", "CLEANBOT_WORKERS": "1",
            "CLEANBOT_TRACKER_DATABASE_URL": "", **(extra or {})}


def start_all(sites: list[Site]) -> None:
    """Starts the sites side by side (loading the model takes most of a start)."""
    with ThreadPoolExecutor(max_workers=len(sites)) as pool:
        list(pool.map(Site.start, sites))
