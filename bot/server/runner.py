"""Starts the action server and the Rasa server, waits until both answer, stops both together.

Used by `make run` (`cleanbot run`, bot.cli.serving.run) and by the end-to-end tests (free ports, their own
database)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

from bot.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def offline_env(extra: Optional[dict] = None) -> dict:
    """The environment every bot process runs with: no telemetry, no model downloads."""
    env = dict(os.environ)
    env.update({
        "RASA_TELEMETRY_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
    })
    env.update(extra or {})
    return env


def server_secrets(environ: dict) -> dict:
    """The secrets both servers must share, generated for this start when not configured: the action
    server's token always; in demo mode the key that signs the demo identities' tokens too."""
    from bot.server.auth import new_secret

    made = {}
    if not environ.get("CLEANBOT_ACTION_TOKEN"):
        made["CLEANBOT_ACTION_TOKEN"] = new_secret()
    demo = (environ.get("CLEANBOT_MODE") or "demo").strip().lower() == "demo"
    if demo and not environ.get("CLEANBOT_JWT_SECRET") and not environ.get("CLEANBOT_JWT_PUBLIC_KEY"):
        made["CLEANBOT_JWT_SECRET"] = new_secret()
    return made


def rasa_arguments(settings, model: Path, port: int, credentials: Path) -> list[str]:
    """`rasa run` as each mode needs it: the HTTP API only with a token, CORS only for listed origins."""
    from bot.server.security import bind_host

    args = ["run", "--model", str(model), "--port", str(port),
            "--interface", bind_host(settings.rasa_host, settings),
            "--endpoints", "endpoints.yml", "--credentials", str(credentials)]
    if settings.api_token:
        args += ["--enable-api", "--auth-token", settings.api_token]
    if settings.cors_origin_list:
        args += ["--cors", *settings.cors_origin_list]
    return args


class BotServers:
    def __init__(self, model: Path, rasa_port: int, action_port: int, env: Optional[dict] = None,
                 log_dir: Optional[Path] = None, credentials: Optional[Path] = None):
        self.model, self.rasa_port, self.action_port = model, rasa_port, action_port
        self.credentials = Path(credentials) if credentials is not None else PROJECT_ROOT / "credentials.yml"
        base = offline_env({**(env or {}),
                            "CLEANBOT_ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
                            "CLEANBOT_ACTION_PORT": str(action_port), "CLEANBOT_RASA_PORT": str(rasa_port)})
        self.env = {**base, **server_secrets(base)}
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def _spawn(self, name: str, args: list[str]) -> None:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")
        self.processes.append(subprocess.Popen(
            [sys.executable, *args], cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL, start_new_session=True,
        ))

    def start(self, timeout: float = 240) -> "BotServers":
        self._spawn("actions", ["-m", "bot.server.action_server", "--port", str(self.action_port)])
        self._spawn("rasa", ["-m", "bot.server.rasa_server", "--model", str(self.model), "--port", str(self.rasa_port),
                             "--credentials", str(self.credentials)])
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        checks = {
            "action server": f"http://127.0.0.1:{self.action_port}/health",
            "Rasa server": f"{self.rasa_url}/webhooks/rest/",
        }
        deadline = time.monotonic() + timeout
        for name, url in checks.items():
            try:
                wait_http(url, deadline - time.monotonic(),
                          alive=lambda: all(p.poll() is None for p in self.processes))
            except RuntimeError as error:
                self.stop()
                raise RuntimeError(f"{name}: {error} (see logs in {self.log_dir})") from None

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()


TELEGRAM_CHANNEL = "connectors.telegram.CleanBotTelegramInput"


def credentials_file(environ: Optional[dict] = None, base: Path = PROJECT_ROOT / "credentials.yml",
                     target: Optional[Path] = None) -> Path:
    """credentials.yml, plus the Telegram channel when TELEGRAM_BOT_TOKEN is set.

    Rasa refuses a credentials file whose ${VAR} names an unset variable, so the channel cannot sit in
    credentials.yml for everyone; the generated file only references the token (no secret is written),
    and the channel reads its other TELEGRAM_* settings from the environment."""
    environ = os.environ if environ is None else environ
    if not environ.get("TELEGRAM_BOT_TOKEN"):
        return base
    text = base.read_text(encoding="utf-8")
    if any(line.startswith(TELEGRAM_CHANNEL) for line in text.splitlines()):
        return base
    target = target or PROJECT_ROOT / "var" / "credentials.generated.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        text.rstrip() + "\n\n# Added by bot/server/runner.py because TELEGRAM_BOT_TOKEN is set (settings: docs/settings.md).\n"
        f"{TELEGRAM_CHANNEL}:\n  access_token: ${{TELEGRAM_BOT_TOKEN}}\n",
        encoding="utf-8",
    )
    return target


def wait_http(url: str, timeout: float, alive=lambda: True) -> None:
    """Waits until `url` answers 200; RuntimeError when `alive()` turns false or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise RuntimeError(f"the server exited before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.5)
