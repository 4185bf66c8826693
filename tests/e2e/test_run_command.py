"""`cleanbot run` (what `make run` serves with): no terminal needed, and SIGTERM stops everything."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from bot.server.runner import free_port, offline_env
from bot.settings import PROJECT_ROOT
from tests.conftest import _prepare

pytestmark = pytest.mark.e2e


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def test_run_without_a_terminal_then_sigterm_stops_every_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    _prepare(url)
    rasa_port, action_port = free_port(), free_port()
    env = offline_env({"CLEANBOT_DATABASE_URL": url, "CLEANBOT_PHOTO_DIR": str(tmp_path / "photos"),
                       "CLEANBOT_RASA_PORT": str(rasa_port), "CLEANBOT_ACTION_PORT": str(action_port)})
    env.pop("TELEGRAM_BOT_TOKEN", None)
    log = open(tmp_path / "run.log", "w+")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=PROJECT_ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while "준비됐어요" not in (tmp_path / "run.log").read_text():
            assert process.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "cleanbot run did not get ready"
            time.sleep(1)
        output = (tmp_path / "run.log").read_text()
        assert "cleanbot chat --sender shopper-1" in output
        assert _answers(f"http://127.0.0.1:{rasa_port}/webhooks/rest/")
        assert _answers(f"http://127.0.0.1:{action_port}/health")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not _answers(f"http://127.0.0.1:{rasa_port}/webhooks/rest/")
        assert not _answers(f"http://127.0.0.1:{action_port}/health")
    finally:
        if process.poll() is None:
            process.kill()
