"""Fixtures for the scale-out tests: the fake Bot API and the in-process channel (tests/connectors), and
server processes of their own (tests/scaleout/replica.py) against one database and one fake Bot API."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest

from bot.settings import PROJECT_ROOT
from tests.connectors.conftest import channel, fake_api  # noqa: F401  (fixtures)

AGENT_CHAT = -1001000000999


@dataclass
class Replica:
    name: str
    process: subprocess.Popen
    status_file: Path
    log: Path

    def status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status().get("state") == "running":
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"replica {self.name} did not start:\n{self.log.read_text()[-4000:]}")

    def kill(self) -> None:
        """A crash: no clean-up, its leases stay until they expire."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> dict[str, Any]:
        """The clean way (the server's stop): leases are released."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        return self.status()


@pytest.fixture
def replicas(db_url, fake_api, tmp_path):
    """start(name, **config) runs a server process with the Telegram channel (polling, pushes, the
    agents' desk) against the test's database and the fake Bot API; all are stopped at the end."""
    started: list[Replica] = []

    def start(name: str, lease_ttl: float = 2.0, **config: Any) -> Replica:
        settings = dict(token=fake_api.token, api_base_url=fake_api.base_url, file_base_url=fake_api.file_base_url,
                        webhook_url="", webhook_secret="s3cret-token", poll_timeout_seconds=1, push=True,
                        push_interval_seconds=0.3, agent_chat_id=AGENT_CHAT, desk_interval_seconds=0.3,
                        lease_ttl=lease_ttl)
        settings.update(config)
        status, log = tmp_path / f"{name}.json", tmp_path / f"{name}.log"
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "CLEANBOT_BUSINESS_HOURS": "always"}
        with open(log, "wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "tests.scaleout.replica", json.dumps(settings),
                                        str(status)], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        replica = Replica(name, process, status, log)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        if replica.process.poll() is None:
            replica.process.kill()
            replica.process.wait(30)


def pid_of(holder: Optional[str]) -> Optional[int]:
    """The process id in a holder id (host:pid:role:random)."""
    return int(holder.split(":")[1]) if holder else None


def wait_until(predicate, timeout: float = 60, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or predicate}")


__all__ = ["AGENT_CHAT", "Replica", "pid_of", "wait_until"]
