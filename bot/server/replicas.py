"""`cleanbot run --replicas N`: N Rasa servers (each with its own action server) behind nginx.

nginx listens where one server would (CLEANBOT_RASA_PORT) and spreads REST and Telegram webhook requests
round robin; socket.io goes to one server per client address (`ip_hash`). The replicas share the
database (trackers included) and the Redis lock store, so any replica can take any message of any
conversation; background jobs run once across them (leases). nginx is Debian's package."""
from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Optional

from bot.server.runner import BotServers, free_port
from bot.settings import PROJECT_ROOT

NGINX_TEMPLATE = PROJECT_ROOT / "deploy" / "nginx.conf"


class ReplicaProblem(Exception):
    """Replicas cannot start as configured; the message says what to set (Korean)."""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if not found:
        raise ReplicaProblem("nginx가 없어요. 'apt-get install nginx'로 설치한 뒤 다시 실행해 주세요.")
    return found


def render_nginx(listen: str, upstream_ports: list[int], run_dir: Path, max_body_bytes: int,
                 template: Path = NGINX_TEMPLATE) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in upstream_ports)
    return (template.read_text(encoding="utf-8")
            .replace("@@SERVERS@@", servers)
            .replace("@@LISTEN@@", listen)
            .replace("@@RUN_DIR@@", str(run_dir))
            .replace("@@MAX_BODY@@", str(max_body_bytes)))


def check_replicas(count: int, settings) -> None:
    """More than one replica needs what they must share: a lock across servers and a shared database."""
    if count < 1:
        raise ReplicaProblem("--replicas는 1 이상이어야 해요.")
    if count > 1 and not settings.redis_url:
        raise ReplicaProblem("복제 서버를 여러 개 띄우려면 대화 잠금을 나눌 Redis가 필요해요. "
                             "CLEANBOT_REDIS_URL(예: redis://127.0.0.1:6379/0)을 설정해 주세요.")


class Replicas:
    """N BotServers on free ports and nginx in front on `port`."""

    def __init__(self, model: Path, count: int, port: int, host: str = "127.0.0.1", env: Optional[dict] = None,
                 log_dir: Optional[Path] = None, credentials: Optional[Path] = None,
                 run_dir: Optional[Path] = None):
        from bot.server.runner import offline_env, server_secrets

        self.port, self.host = port, host
        self.log_dir = log_dir
        self.run_dir = run_dir or PROJECT_ROOT / "var" / "nginx"
        # One set of secrets for all replicas: a token signed for one is valid on every other.
        shared = dict(env or {})
        shared.update(server_secrets(offline_env(shared)))
        shared.setdefault("CLEANBOT_PUBLIC_URL", f"http://127.0.0.1:{port}")
        self.env = shared
        self.servers = [
            BotServers(model, free_port(), free_port(), env=shared,
                       log_dir=(log_dir / f"replica-{i + 1}") if log_dir else None, credentials=credentials)
            for i in range(count)
        ]
        self.nginx: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [p for s in self.servers for p in s.processes] + ([self.nginx] if self.nginx else [])

    def start(self, timeout: float = 300) -> "Replicas":
        from connectors.socketio import max_message_bytes

        binary = nginx_binary()
        for server in self.servers:
            server.start(timeout)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "nginx.conf"
        config.write_text(render_nginx(f"{self.host}:{self.port}", [s.rasa_port for s in self.servers],
                                       self.run_dir, max_message_bytes()), encoding="utf-8")
        log = open(self.log_dir / "nginx.log", "ab") if self.log_dir else subprocess.DEVNULL
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self.nginx = subprocess.Popen([binary, "-c", str(config), "-p", str(self.run_dir), "-g", "daemon off;"],
                                      stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        self._wait_for_nginx(timeout=30)
        return self

    def _wait_for_nginx(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                self.stop()
                raise ReplicaProblem(f"nginx가 바로 멈췄어요. {self.run_dir / 'error.log'}를 확인해 주세요.")
            try:
                with urllib.request.urlopen(f"{self.url}/webhooks/rest/", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise ReplicaProblem(f"nginx가 {self.url}에서 {timeout:.0f}초 안에 응답하지 않았어요.")

    def restart(self, index: int, hard: bool = True) -> None:
        """Kill one replica (SIGKILL when hard, as a crash) and start it again on the same ports."""
        import os
        import signal

        server = self.servers[index]
        for process in server.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)
        for process in server.processes:
            process.wait(timeout=30)
        server.processes.clear()
        server.start()

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        self.nginx = None
        for server in self.servers:
            server.stop()
