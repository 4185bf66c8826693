"""`cleanbot bench load`: the load benchmark of issue #17 (benchmarks/load/, docs/benchmarks.md).

Runs benchmarks/load/locustfile.py (locust, headless, in its own virtualenv .venv-locust) in closed loop at
1, 8, 32 and 64 concurrent conversations against one or more profiles, and prints msg/s, p50/p95/p99 and
errors per step, with the servers' CPU time per message and how busy the rest of the machine was:

    embedded    SQLite, one Rasa worker, demo mode: what `make run` starts (the default)
    production  PostgreSQL + Redis, CLEANBOT_WORKERS=2, CLEANBOT_MODE=production, signed tokens
    stock       stock Rasa's starter bot (`rasa init --no-prompt`, trained once into var/bench/), `rasa run`
    replicas    --replicas-count N (default 2) replicas behind nginx (bot.server.replicas.Replicas) with the production
                profile's settings and CLEANBOT_WORKERS=1 each; or, with --url, a layout started elsewhere
                (`cleanbot run --replicas 2`)
    url         any running server: give --url (and --database-url for the shopper pool)

Every profile that starts servers gets a database of its own with a generated pool of shoppers and orders
(make_order_pool), so real refunds never run out and every conversation is a new tracker. Results:
benchmarks/load/results/<run>.json and .csv, plus locust's own CSV files per step.

`cleanbot bench soak` runs the replicas layout under load for minutes while a replica is killed (SIGKILL)
and restarted every --kill-every seconds; the clients retry what a crash broke, and afterwards the database
is checked: every report a client was told about exists once, no order was reported or refunded twice
(check_invariants)."""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

from bot.server.runner import wait_http
from bot.settings import PROJECT_ROOT, environment

LOAD_DIR = PROJECT_ROOT / "benchmarks" / "load"
LOCUSTFILE = LOAD_DIR / "locustfile.py"
REQUIREMENTS = LOAD_DIR / "requirements.txt"
RESULTS_DIR = LOAD_DIR / "results"
LOCUST_VENV = PROJECT_ROOT / ".venv-locust"
STOCK_HOME = PROJECT_ROOT / "var" / "bench" / "stock-rasa"
LOG_ROOT = PROJECT_ROOT / "var" / "bench" / "logs"  # server logs of each run
DEFAULT_USERS = (1, 8, 32, 64)
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
PROFILES = ("embedded", "production", "stock", "replicas", "url")
# Profiles the harness starts with the production settings: a PostgreSQL database, Redis, signed tokens.
PRODUCTION_LIKE = ("production", "replicas")
DEFAULT_REPLICAS = 2

# The production profile's environment on top of the generated database, secret and ports. The Redis lock
# store and the workers read these (bot/settings.py); --env KEY=VALUE adds or overrides any of them.
PRODUCTION_ENV = {
    "CLEANBOT_MODE": "production",
    "CLEANBOT_WORKERS": "2",
}
# On top of PRODUCTION_ENV for harness-started replicas: one worker per replica, since two replicas already
# use this 2-core machine's cores (--env CLEANBOT_WORKERS=N overrides).
REPLICAS_ENV = {
    "CLEANBOT_WORKERS": "1",
}
COMMON_ENV = {
    "CLEANBOT_MESSAGES_PER_MINUTE": "0",  # no per-sender limit: the load is the point
    "CLEANBOT_ABUSE_MAX_REFUNDS": "1000",  # generated shoppers are not abusers
}


# ------------------------------------------------------------------ the shopper pool


@dataclass(frozen=True)
class PoolEntry:
    sender: str
    refund_order: str
    cancel_order: str
    token: Optional[str] = None


def make_order_pool(count: int, database_url: Optional[str] = None, tag: Optional[str] = None,
                    listings: int = 20, jwt_secret: Optional[str] = None,
                    token_seconds: int = 12 * 3600) -> list[PoolEntry]:
    """Inserts `count` generated shoppers (`bench-<tag>-NNNNNN`), each with two orders delivered three days
    ago (one for a real refund, one for cancelled report flows), on `listings` listings of their own seller,
    into the database at `database_url` (default: CLEANBOT_DATABASE_URL), through the bot's models.

    The brand catalogue is added when missing (as `cleanbot demo load` does). With `jwt_secret`, each entry
    carries a signed token (HS256, sub = the shopper) for servers in production mode."""
    from sqlalchemy import func, insert, select

    from bot.clock import utcnow
    from bot.db import transaction
    from bot.demo import load_catalogue
    from bot.models import Customer, Listing, Order, Seller

    if count < 2:
        raise ValueError("the pool needs at least 2 shoppers")
    now = utcnow()
    entries: list[PoolEntry] = []
    with transaction(database_url) as session:
        if tag is None:
            while True:
                tag = f"{secrets.randbelow(10_000):04d}"
                taken = session.execute(select(func.count(Order.number))
                                        .where(Order.number.like(f"8189{tag}%"))).scalar_one()
                if not taken:
                    break
        brands = list(load_catalogue(session).values())
        seller_id = f"S-BENCH-{tag}"
        if session.get(Seller, seller_id) is None:
            session.add(Seller(id=seller_id, name=f"벤치마크 판매자 {tag}", status="active"))
            session.flush()
        listing_ids = []
        for n in range(listings):
            listing_id = f"10059{tag}{n:07d}"
            listing_ids.append(listing_id)
            if session.get(Listing, listing_id) is None:
                brand = brands[n % len(brands)]
                session.add(Listing(id=listing_id, seller_id=seller_id, brand_id=brand.id,
                                    title=f"{brand.name} 벤치마크 상품 {n + 1}", price_krw=10_000 + 1_000 * n,
                                    status="active"))
        session.flush()
        customers, orders = [], []
        paid, delivered = now - timedelta(days=6), now - timedelta(days=3)
        for i in range(count):
            sender = f"bench-{tag}-{i:06d}"
            refund_order, cancel_order = f"8189{tag}{2 * i:08d}", f"8189{tag}{2 * i + 1:08d}"
            customers.append({"id": sender, "name": f"벤치 {i}", "created_at": now})
            for number, listing_n in ((refund_order, (2 * i) % listings), (cancel_order, (2 * i + 1) % listings)):
                orders.append({"number": number, "customer_id": sender, "listing_id": listing_ids[listing_n],
                               "product_name": f"벤치마크 상품 {listing_n + 1}", "amount_krw": 10_000 + 1_000 * listing_n,
                               "paid_at": paid, "delivered_at": delivered, "status": "delivered"})
            entries.append(PoolEntry(sender, refund_order, cancel_order))
        session.execute(insert(Customer.__table__), customers)
        session.execute(insert(Order.__table__), orders)
    if jwt_secret:
        import jwt

        exp = int(time.time()) + token_seconds
        entries = [PoolEntry(e.sender, e.refund_order, e.cancel_order,
                             jwt.encode({"sub": e.sender, "exp": exp}, jwt_secret, algorithm="HS256"))
                   for e in entries]
    return entries


def write_pool(path: Path, entries: list[PoolEntry]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"entries": [[e.sender, e.refund_order, e.cancel_order, e.token] for e in entries]}),
                    encoding="utf-8")
    return path


# ------------------------------------------------------------------ locust in its own venv


def locust_venv(venv: Path = LOCUST_VENV, quiet: bool = True) -> Path:
    """The locust virtualenv (created, or updated when requirements.txt changed); returns its bin/ folder."""
    bin_dir = venv / "bin"
    stamp = venv / ".requirements"
    wanted = REQUIREMENTS.read_text(encoding="utf-8")
    if (bin_dir / "locust").exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return bin_dir
    print(f"locust 가상환경을 준비하고 있어요: {venv} ({REQUIREMENTS.relative_to(PROJECT_ROOT)})", flush=True)
    if not (bin_dir / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run(pip + (["--quiet"] if quiet else []) + ["-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(wanted, encoding="utf-8")
    return bin_dir


# ------------------------------------------------------------------ CPU accounting


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> Optional[tuple[int, int]]:
    """(ppid, utime+stime in clock ticks) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def tree_cpu_ticks(roots: list[int]) -> int:
    """CPU ticks used so far by the processes `roots` and all their descendants (Sanic workers too)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            got = _proc_stat(int(entry))
            if got:
                stats[int(entry)] = got
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (/proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


# ------------------------------------------------------------------ targets


@dataclass
class Target:
    """A server under test: its base URL, the processes whose CPU we count, the pool file."""

    profile: str
    url: str
    pids: list[int] = field(default_factory=list)
    pool_file: Optional[Path] = None
    user_class: str = "CleanbotUser"
    notes: dict = field(default_factory=dict)
    database_url: Optional[str] = None  # PostgreSQL: its backends' CPU is counted as db_cores
    servers: Any = None  # the harness's BotServers or Replicas (the soak's killer restarts replicas)
    prime_urls: list[str] = field(default_factory=list)  # each replica directly, so every one is primed

    def db_pids(self) -> list[int]:
        """PostgreSQL backends serving this target's database (same machine), else nothing."""
        if not self.database_url or not self.database_url.startswith("postgresql"):
            return []
        try:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            engine = create_engine(self.database_url, future=True)
            try:
                with engine.connect() as conn:
                    rows = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND "
                                             "pid <> pg_backend_pid()"),
                                        {"db": make_url(self.database_url).database}).scalars().all()
            finally:
                engine.dispose()
            return [int(r) for r in rows]
        except Exception:  # noqa: BLE001 - accounting only
            return []


@contextmanager
def _database(postgres: bool, home: Path, pg_admin: str, keep: bool) -> Iterator[str]:
    """A new, migrated database for one run: a SQLite file in `home`, or a PostgreSQL database."""
    from bot.db import dispose_engines
    from bot.migrate import upgrade

    if not postgres:
        url = f"sqlite:///{home / 'cleanbot.db'}"
        upgrade(url)
        try:
            yield url
        finally:
            dispose_engines()
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"cleanbot_bench_{secrets.token_hex(4)}"
    admin = create_engine(pg_admin, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engines()
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_env(profile: str, extra_env: dict, redis_url: str, home: Path) -> tuple[dict, Optional[str]]:
    """The environment of the servers the harness starts for `profile`, and the key that signs the pool's
    tokens (None: demo mode, unsigned). production and replicas share it: replicas differ only in workers."""
    from bot.server.auth import new_secret

    env = {**COMMON_ENV, "CLEANBOT_PHOTO_DIR": str(home / "photos"), "CLEANBOT_MODE": "demo"}
    secret = None
    if profile in PRODUCTION_LIKE:
        secret = new_secret() + new_secret()
        env.update(PRODUCTION_ENV)
        if profile == "replicas":
            env.update(REPLICAS_ENV)
        env.update({"CLEANBOT_JWT_SECRET": secret, "CLEANBOT_REDIS_URL": redis_url})
    env.update(extra_env)
    if env.get("CLEANBOT_MODE") == "production":
        secret = env.get("CLEANBOT_JWT_SECRET") or secret or new_secret() + new_secret()
        env["CLEANBOT_JWT_SECRET"] = secret
    return env, secret


@contextmanager
def cleanbot_target(profile: str, pool_size: int, extra_env: dict, pg_admin: str, redis_url: str,
                    keep: bool = False, log_root: Optional[Path] = None,
                    replicas: int = DEFAULT_REPLICAS) -> Iterator[Target]:
    """클린봇 started as `cleanbot run` starts it on free ports (bot.server.runner.BotServers; for the replicas
    profile `replicas` of them behind nginx, bot.server.replicas.Replicas), with a database of its own holding the
    demo set (embedded) or the catalogue only (production, replicas) plus the generated pool."""
    from bot import demo
    from bot.server.replicas import Replicas
    from bot.server.runner import BotServers, free_port
    from bot.nlu.training import train_if_changed

    model = train_if_changed()
    home = Path(tempfile.mkdtemp(prefix=f"cleanbot-bench-{profile}-"))
    env, secret = server_env(profile, extra_env, redis_url, home)
    try:
        with _database(profile in PRODUCTION_LIKE, home, pg_admin, keep) as url:
            env["CLEANBOT_DATABASE_URL"] = url
            with environment({"CLEANBOT_DATABASE_URL": url, "CLEANBOT_MODE": "demo"}):
                if profile not in PRODUCTION_LIKE:
                    demo.load()  # what `cleanbot setup` gives a fresh clone
                entries = make_order_pool(pool_size, url, jwt_secret=secret)
            pool_file = write_pool(home / "pool.json", entries)
            log_dir = (log_root or home) / f"logs-{profile}"
            notes = {"database": _scheme(url), "mode": env.get("CLEANBOT_MODE"),
                     "workers": env.get("CLEANBOT_WORKERS", "1"), "redis": bool(env.get("CLEANBOT_REDIS_URL")),
                     "logs": str(log_dir),
                     "env": {k: v for k, v in env.items() if "SECRET" not in k and "TOKEN" not in k}}
            if profile == "replicas":
                # nginx's pid file and temp folders in the run's own folder, not var/nginx of `cleanbot run`.
                servers = Replicas(model, replicas, free_port(), env=env, log_dir=log_dir, run_dir=home / "nginx")
                url_of, prime_urls = servers.url, [s.rasa_url for s in servers.servers]
                notes["replicas"] = replicas
            else:
                servers = BotServers(model, free_port(), free_port(), env=env, log_dir=log_dir)
                url_of, prime_urls = servers.rasa_url, []
            try:
                servers.start()
                # Rasa + action server of every replica, and nginx: all of them serve the messages.
                yield Target(profile, url_of, [p.pid for p in servers.processes], pool_file, database_url=url,
                             notes=notes, servers=servers, prime_urls=prime_urls)
            finally:
                servers.stop()  # also the replicas that did start when a later one did not
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def _scheme(url: str) -> str:
    return url.split(":", 1)[0]


def stock_project(home: Path = STOCK_HOME, fresh: bool = False) -> Path:
    """Stock Rasa's starter project (`rasa init --no-prompt`, trained there with the same Rasa), made once
    and kept in var/bench/ (a minute or two of training); returns its newest model."""
    from bot.server.runner import offline_env

    if fresh and home.exists():
        shutil.rmtree(home)
    models = sorted((home / "models").glob("*.tar.gz")) if home.exists() else []
    if not models:
        home.mkdir(parents=True, exist_ok=True)
        print(f"Rasa 기본 봇(rasa init)을 만들고 학습하고 있어요: {home}", flush=True)
        subprocess.run([sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(home)],
                       cwd=home, env=offline_env(), check=True, stdout=subprocess.DEVNULL)
        models = sorted((home / "models").glob("*.tar.gz"))
        if not models:
            raise RuntimeError(f"rasa init did not leave a model in {home / 'models'}")
    return models[-1]


@contextmanager
def stock_target(fresh: bool = False, log_root: Optional[Path] = None) -> Iterator[Target]:
    from bot.server.runner import free_port, offline_env

    model = stock_project(fresh=fresh)
    home = model.parent.parent
    port = free_port()
    log_dir = log_root or home
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / "stock-rasa.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "rasa", "run", "--model", str(model), "--port", str(port), "--interface", "127.0.0.1"],
        cwd=home, env=offline_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/webhooks/rest/", 240, alive=lambda: process.poll() is None)
        yield Target("stock", f"http://127.0.0.1:{port}", [process.pid], None, "StockUser",
                     notes={"project": str(home), "model": model.name, "logs": str(log_dir / "stock-rasa.log")})
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


@contextmanager
def url_target(profile: str, url: str, pool_size: int, database_url: Optional[str], jwt_secret: Optional[str],
               home: Path) -> Iterator[Target]:
    """A server someone else started (`cleanbot run`, `cleanbot run --replicas N` behind nginx, ...): the pool
    goes into the database it uses (--database-url, else CLEANBOT_DATABASE_URL)."""
    from bot.settings import get_settings

    database_url = database_url or get_settings().database_url
    wait_http(url.rstrip("/") + "/webhooks/rest/", 30)
    entries = make_order_pool(pool_size, database_url, jwt_secret=jwt_secret)
    yield Target(profile, url.rstrip("/"), [], write_pool(home / f"pool-{profile}.json", entries),
                 notes={"database": _scheme(database_url), "signed": bool(jwt_secret)}, database_url=database_url)


# ------------------------------------------------------------------ where a message's time goes

TRACE_ENV = "CLEANBOT_BENCH_TRACE"
TRACE_MARK = "cleanbot-trace "
# The phases of one message in the Rasa server, in the order they happen (see install_trace).
TRACE_PHASES = ("gate", "lock", "tracker_load", "nlu", "policies", "actions_http", "actions_rasa",
                "tracker_save", "processor_other", "outbox", "server_total")


def install_trace() -> None:
    """Wall-clock timestamps of every phase of each message inside the Rasa server, one log line per message
    (`cleanbot-trace {...}` in rasa.log). Installed by bot.server.rasa_speedups when CLEANBOT_BENCH_TRACE=1; used by
    `cleanbot bench load --trace`. Phases (milliseconds):

        server_total    from the request reaching Sanic to the response being handed back
        gate            the hand-over gate's own database look-ups (connectors/handoff.py)
        lock            waiting for the conversation's lock (Agent.handle_message around the processor)
        tracker_load    fetching the tracker (and the session check) from the tracker store
        nlu             the NLU pipeline (MessageProcessor.parse_message)
        policies        policy predictions, summed over the message's predictions
        actions_http    round trips to the action server (HTTP, the action server's whole work)
        actions_rasa    Rasa's side of the custom actions: request body, reply validation, events
        tracker_save    saving the tracker
        processor_other the rest of MessageProcessor.handle_message (rules of the loop, slot logging...)
        outbox          the REST channel's look-ups of waiting agent messages and status updates
    """
    import contextvars
    import functools
    import inspect
    import logging

    import rasa.core.run
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor
    from rasa.utils.endpoints import EndpointConfig

    import connectors.rest
    from connectors.handoff import HandoffHub

    log = logging.getLogger("cleanbot.trace")
    current: contextvars.ContextVar = contextvars.ContextVar("cleanbot_trace", default=None)

    def timed(owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)
        if inspect.iscoroutinefunction(original):
            @functools.wraps(original)
            async def wrapper(*args, **kwargs):
                record = current.get()
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    if record is not None:
                        record[phase] = record.get(phase, 0.0) + (time.perf_counter() - started) * 1000
                        record[f"n_{phase}"] = record.get(f"n_{phase}", 0) + 1
        else:
            @functools.wraps(original)
            def wrapper(*args, **kwargs):
                record = current.get()
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    if record is not None:
                        record[phase] = record.get(phase, 0.0) + (time.perf_counter() - started) * 1000
                        record[f"n_{phase}"] = record.get(f"n_{phase}", 0) + 1
        setattr(owner, name, wrapper)

    timed(HandoffHub, "handle", "_gate_total")
    timed(Agent, "handle_message", "_agent")
    timed(MessageProcessor, "handle_message", "_processor")
    timed(MessageProcessor, "fetch_tracker_and_update_session", "tracker_load")
    timed(MessageProcessor, "parse_message", "nlu")
    timed(MessageProcessor, "_predict_next_with_tracker", "policies")
    timed(MessageProcessor, "save_tracker", "tracker_save")
    timed(RemoteAction, "run", "_actions_total")
    timed(EndpointConfig, "request", "actions_http")
    timed(connectors.rest, "pending_handoff_messages", "outbox")
    timed(connectors.rest, "pending_updates", "outbox")

    configure_app = rasa.core.run.configure_app

    def configure_traced_app(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)

        @app.middleware("request")
        async def trace_start(request: Any) -> None:
            if request.path.endswith("/webhook"):
                request.ctx.cleanbot_trace = (current.set({}), time.perf_counter())

        @app.middleware("response")
        async def trace_end(request: Any, response: Any) -> None:
            started = getattr(request.ctx, "cleanbot_trace", None)
            if started is None:
                return
            record = current.get() or {}
            record["server_total"] = (time.perf_counter() - started[1]) * 1000
            ms = {k: round(v, 2) for k, v in record.items() if not k.startswith("n_")}
            ms["gate"] = round(ms.pop("_gate_total", 0.0) - ms.get("_agent", 0.0), 2)
            ms["lock"] = round(ms.get("_agent", 0.0) - ms.get("_processor", 0.0), 2)
            ms["actions_rasa"] = round(ms.pop("_actions_total", 0.0) - ms.get("actions_http", 0.0), 2)
            inside = sum(ms.get(k, 0.0) for k in ("tracker_load", "nlu", "policies", "actions_http", "actions_rasa",
                                                   "tracker_save"))
            ms["processor_other"] = round(max(0.0, ms.pop("_processor", 0.0) - inside), 2)
            ms.pop("_agent", None)
            ms["actions"] = record.get("n_actions_http", 0)
            log.info("%s%s", TRACE_MARK, json.dumps(ms, sort_keys=True))

        return app

    rasa.core.run.configure_app = configure_traced_app


def read_trace(log_file: Path) -> list[dict]:
    """The per-message records install_trace wrote into a Rasa server log."""
    if not log_file.exists():
        return []
    return read_trace_text(log_file.read_text(encoding="utf-8", errors="replace"))


def read_trace_text(text: str) -> list[dict]:
    records = []
    for line in text.splitlines():
        at = line.find(TRACE_MARK)
        if at >= 0:
            try:
                records.append(json.loads(line[at + len(TRACE_MARK):]))
            except ValueError:
                continue
    return records


def summarize_trace(records: list[dict]) -> list[dict]:
    """Per phase: mean, p50 and p95 in ms, and the share of the server's total time."""
    if not records:
        return []
    total_mean = sum(r.get("server_total", 0.0) for r in records) / len(records)
    rows = []
    for phase in TRACE_PHASES:
        values = sorted(r.get(phase, 0.0) for r in records)
        mean = sum(values) / len(values)
        rows.append({"phase": phase, "mean_ms": round(mean, 2), "p50_ms": round(_percentile(values, 50), 2),
                     "p95_ms": round(_percentile(values, 95), 2),
                     "share": round(mean / total_mean, 3) if total_mean else None})
    return rows


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    k = (len(values) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def format_trace(rows: list[dict], messages: int) -> str:
    lines = [f"where a message's time goes in the Rasa server (wall clock, {messages} messages)",
             f"{'phase':<16} {'mean ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'share':>6}"]
    for r in rows:
        share = "" if r["share"] is None else f"{100 * r['share']:.0f}%"
        lines.append(f"{r['phase']:<16} {r['mean_ms']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {share:>6}")
    return "\n".join(lines)


# ------------------------------------------------------------------ priming


def say(url: str, sender: str, text: str, token: Optional[str] = None, timeout: float = 300) -> list:
    """One REST message, the reply's messages (raises on HTTP errors)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", headers=headers,
                                     data=json.dumps({"sender": sender, "message": text}).encode())
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read().decode())


def prime(target: Target, state: dict) -> float:
    """Every kind of message once, one at a time, before any timed step: whatever a server loads on first
    use (the FAQ index and its encoder, TensorFlow's graphs, the database's caches) is loaded here and not
    charged to the first step. Uses the pool's next sender, one per server (each replica directly, since
    round robin would give each only some kinds); returns the seconds it took."""
    started = time.monotonic()
    if target.user_class == "StockUser":
        for text in ("hello", "I am sad", "yes", "bye"):
            say(target.url, "stock-prime", text)
        return time.monotonic() - started
    entries = json.loads(target.pool_file.read_text(encoding="utf-8"))["entries"] if target.pool_file else []
    for url in target.prime_urls or [target.url]:
        at = state.get("senders", 0)
        sender, _refund, cancel, token = entries[at] if at < len(entries) else ("bench-prime", None, "0" * 16, None)
        for text in ("안녕하세요", "환불은 언제 되나요?", "최근 주문 보여주세요", "신고 상태 알려 주세요", "가품 신고할게요",
                     cancel, "로고가 이상해요", "없어요", "아니요", "그만할래요", "상담원 연결해 주세요"):
            say(url, sender, text, token)
        state["senders"] = at + 1
    return time.monotonic() - started


# ------------------------------------------------------------------ one step


@dataclass
class Step:
    profile: str
    users: int
    duration_s: float
    requests: int = 0
    failures: int = 0
    msg_per_s: float = 0.0
    p50_ms: Optional[float] = None
    p95_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    avg_ms: Optional[float] = None
    max_ms: Optional[float] = None
    server_cpu_ms_per_msg: Optional[float] = None
    server_cores: Optional[float] = None
    db_cpu_ms_per_msg: Optional[float] = None  # PostgreSQL backends of the target's database
    db_cores: Optional[float] = None
    locust_cores: Optional[float] = None
    other_cores: Optional[float] = None
    load_avg_1m: Optional[float] = None
    failure_kinds: list = field(default_factory=list)
    per_name: list = field(default_factory=list)
    csv_prefix: str = ""
    trace: list = field(default_factory=list)  # summarize_trace() of this step's messages (--trace)
    trace_messages: int = 0
    profiles: dict = field(default_factory=dict)  # py-spy output files and top frames per process (--py-spy)


def _number(value: str) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_locust_csv(prefix: Path) -> tuple[dict, list[dict], list[dict]]:
    """(aggregated row, per-name rows, failure rows) of locust's --csv output."""
    stats = Path(f"{prefix}_stats.csv")
    rows = list(csv.DictReader(stats.open(encoding="utf-8"))) if stats.exists() else []
    total = next((r for r in rows if r.get("Name") == "Aggregated"), {})
    per_name = [r for r in rows if r.get("Name") != "Aggregated"]
    failures_file = Path(f"{prefix}_failures.csv")
    failures = list(csv.DictReader(failures_file.open(encoding="utf-8"))) if failures_file.exists() else []
    return total, per_name, failures


def run_step(bin_dir: Path, target: Target, users: int, duration: float, prefix: Path, state: dict,
             seed: int = 17, record: bool = True, py_spy: bool = False, reset_stats: bool = True,
             stop_timeout: float = 10, locust_env: Optional[dict] = None) -> Step:
    """One closed-loop locust run of `users` conversations for `duration` seconds (stats reset once all
    users are running, unless `reset_stats` is off); `state` carries the pool counters from one step to the
    next; `locust_env` adds settings of the locustfile (the soak's retries and client record)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    state_file = prefix.parent / f"{prefix.name}.state.json"
    env = {**os.environ, "BENCH_SEED": str(seed), "BENCH_STATE": str(state_file),
           "BENCH_START": str(state.get("senders", 0)), "BENCH_REFUND_START": str(state.get("refunds", 0)),
           **(locust_env or {})}
    if target.pool_file:
        env["BENCH_POOL"] = str(target.pool_file)
    command = [str(bin_dir / "locust"), "-f", str(LOCUSTFILE), target.user_class, "--headless",
               "-u", str(users), "-r", str(users), "-t", f"{duration:g}s", "--host", target.url,
               "--csv", str(prefix), *(["--reset-stats"] if reset_stats else []), "--only-summary",
               "--stop-timeout", f"{stop_timeout:g}", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    # Every Rasa server's log (one, or one per replica) for --trace.
    trace_logs = sorted(Path(target.notes["logs"]).glob("**/rasa.log")) if target.notes.get("logs") else []
    trace_from = {log: log.stat().st_size for log in trace_logs}
    db_before = {pid: _proc_stat(pid) for pid in target.db_pids()}
    server_before, busy_before = tree_cpu_ticks(target.pids), machine_ticks()[0]
    started = time.monotonic()
    spies = start_py_spy(bin_dir, target, duration, prefix) if py_spy else []
    process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                               stderr=open(f"{prefix}.log", "wb"), stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    server_ticks = tree_cpu_ticks(target.pids) - server_before
    busy_after, total_after = machine_ticks()
    db_ticks = 0
    if target.database_url:
        for pid in set(db_before) | set(target.db_pids()):
            now, then = _proc_stat(pid), db_before.get(pid)
            if now:
                db_ticks += now[1] - (then[1] if then else 0)
    spy_profiles = finish_py_spy(spies)
    if process.returncode not in (0, 1):
        raise RuntimeError(f"locust failed ({process.returncode}); see {prefix}.log")
    if state_file.exists():
        used = json.loads(state_file.read_text(encoding="utf-8"))
        state["senders"] = state.get("senders", 0) + used.get("senders_used", 0)
        state["refunds"] = state.get("refunds", 0) + used.get("refunds_used", 0)
        state_file.unlink()
    total, per_name, failures = read_locust_csv(prefix)
    step = Step(target.profile, users, duration, csv_prefix=str(prefix.relative_to(PROJECT_ROOT))
                if prefix.is_relative_to(PROJECT_ROOT) else str(prefix))
    step.requests = int(_number(total.get("Request Count")) or 0)
    step.failures = int(_number(total.get("Failure Count")) or 0)
    step.msg_per_s = round(_number(total.get("Requests/s")) or 0.0, 2)
    step.p50_ms, step.p95_ms, step.p99_ms = (_number(total.get(k)) for k in ("50%", "95%", "99%"))
    step.avg_ms, step.max_ms = (_number(total.get(k)) for k in ("Average Response Time", "Max Response Time"))
    if step.avg_ms is not None:
        step.avg_ms = round(step.avg_ms, 1)
    ticks_per_core_s = CLK_TCK
    locust_s = usage.ru_utime + usage.ru_stime
    if target.pids:
        step.server_cores = round(server_ticks / ticks_per_core_s / elapsed, 2)
        if step.requests:
            # Over the whole locust run (spawn and stop included): an upper bound per measured message.
            step.server_cpu_ms_per_msg = round(1000 * server_ticks / ticks_per_core_s / step.requests, 1)
    step.locust_cores = round(locust_s / elapsed, 2)
    if target.database_url and target.database_url.startswith("postgresql"):
        step.db_cores = round(db_ticks / ticks_per_core_s / elapsed, 2)
        if step.requests:
            step.db_cpu_ms_per_msg = round(1000 * db_ticks / ticks_per_core_s / step.requests, 1)
    machine_busy_s = (busy_after - busy_before) / ticks_per_core_s
    step.other_cores = round(max(0.0, machine_busy_s - (server_ticks + db_ticks) / ticks_per_core_s - locust_s)
                             / elapsed, 2)
    step.load_avg_1m = round(os.getloadavg()[0], 2)
    step.failure_kinds = [{"name": f.get("Name"), "error": f.get("Error"), "count": int(_number(f.get("Occurrences")) or 0)}
                          for f in failures][:10]
    step.per_name = [{"name": r.get("Name"), "requests": int(_number(r.get("Request Count")) or 0),
                      "failures": int(_number(r.get("Failure Count")) or 0), "p50_ms": _number(r.get("50%")),
                      "p95_ms": _number(r.get("95%")), "avg_ms": round(_number(r.get("Average Response Time")) or 0, 1)}
                     for r in per_name]
    records = []
    for log, offset in trace_from.items():
        with log.open("rb") as handle:
            handle.seek(offset if log.stat().st_size >= offset else 0)
            records += read_trace_text(handle.read().decode("utf-8", errors="replace"))
    step.trace, step.trace_messages = summarize_trace(records), len(records)
    step.profiles = spy_profiles
    if not record:
        for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv", ".log"):
            Path(f"{prefix}{suffix}").unlink(missing_ok=True)
    return step


def start_py_spy(bin_dir: Path, target: Target, duration: float, prefix: Path) -> list:
    """py-spy (from the locust venv) sampling each server process and its workers for the step; needs
    ptrace rights (root, or kernel.yama.ptrace_scope=0)."""
    spies = []
    for n, pid in enumerate(target.pids):
        out = Path(f"{prefix}.py-spy.{n}.txt")
        command = [str(bin_dir / "py-spy"), "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
                   "--rate", "100", "--format", "raw", "--output", str(out), "--duration", str(int(duration) + 5)]
        spies.append((pid, out, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    return spies


def finish_py_spy(spies: list) -> dict:
    found = {}
    for pid, out, process in spies:
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if out.exists():
            found[str(pid)] = {"raw": str(out), "top": top_frames(out)}
        else:
            found[str(pid)] = {"error": (err or b"").decode(errors="replace")[-300:]}
    return found


IDLE_FRAMES = ("serve (sanic/server/runners.py", "_worker (concurrent/futures/thread.py", "select (selectors.py",
               "wait (threading.py", "_bootstrap")


def top_frames(raw: Path, limit: int = 25) -> list[dict]:
    """The functions with the most samples on their stacks (inclusive), busy samples only, from py-spy's raw
    (collapsed-stack) output: a quick answer to "what dominates"."""
    inclusive: dict[str, int] = {}
    busy = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        if any(frames[-1].startswith(idle) for idle in IDLE_FRAMES):
            continue
        n = int(count)
        busy += n
        for name in {f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("site-packages/")[-1]
                     for f in frames}:
            inclusive[name] = inclusive.get(name, 0) + n
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])
    return [{"frame": k, "samples": v, "share": round(v / busy, 3)} for k, v in ranked[:limit] if busy]


# ------------------------------------------------------------------ the table


def format_ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.0f}"


def format_table(steps: list[Step]) -> str:
    header = (f"{'profile':<11} {'users':>5} {'msg/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
              f"{'errors':>7} {'requests':>8} {'srv CPU ms/msg':>14} {'srv cores':>9} {'db cores':>8} {'others':>6}")
    lines = [header, "-" * len(header)]
    for s in steps:
        lines.append(
            f"{s.profile:<11} {s.users:>5} {s.msg_per_s:>7.1f} {format_ms(s.p50_ms):>7} {format_ms(s.p95_ms):>7} "
            f"{format_ms(s.p99_ms):>7} {s.failures:>7} {s.requests:>8} "
            f"{'-' if s.server_cpu_ms_per_msg is None else f'{s.server_cpu_ms_per_msg:.1f}':>14} "
            f"{'-' if s.server_cores is None else f'{s.server_cores:.2f}':>9} "
            f"{'-' if s.db_cores is None else f'{s.db_cores:.2f}':>8} "
            f"{'-' if s.other_cores is None else f'{s.other_cores:.2f}':>6}")
    stock = {s.users: s for s in steps if s.profile == "stock"}
    ratios = []
    for s in steps:
        anchor = stock.get(s.users)
        if s.profile != "stock" and anchor and anchor.msg_per_s:
            ratios.append(f"{s.profile}@{s.users}: {s.msg_per_s / anchor.msg_per_s:.2f}× stock")
    if ratios:
        lines.append("")
        lines.append("throughput vs stock Rasa (same users): " + ", ".join(ratios))
    lines.append("")
    lines.append("srv CPU ms/msg: CPU time of the servers (Rasa + action server, all workers; every replica and nginx "
                 "for replicas) per message; db cores: "
                 "PostgreSQL backends of the benchmark's database;\nothers: cores busy with everything else "
                 "(other jobs on the machine, Redis); locust itself is left out of both.")
    return "\n".join(lines)


def machine_info() -> dict:
    info = {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gb"] = round(int(mem) / 1024 / 1024, 1)
    except (OSError, IndexError, ValueError):
        pass
    try:
        import rasa

        info["rasa"] = rasa.__version__
    except Exception:  # noqa: BLE001
        pass
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                                        text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def write_results(run: dict, steps: list[Step], out_dir: Path, name: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out_dir / f"{name}.json", out_dir / f"{name}.csv"
    json_path.write_text(json.dumps({"run": run, "steps": [asdict(s) for s in steps]}, ensure_ascii=False, indent=2),
                         encoding="utf-8")
    columns = ["profile", "users", "duration_s", "requests", "failures", "msg_per_s", "p50_ms", "p95_ms", "p99_ms",
               "avg_ms", "max_ms", "server_cpu_ms_per_msg", "server_cores", "db_cpu_ms_per_msg", "db_cores",
               "locust_cores", "other_cores", "load_avg_1m"]
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for s in steps:
            row = asdict(s)
            writer.writerow({c: row[c] for c in columns})
    return json_path, csv_path


# ------------------------------------------------------------------ the whole run


def _profiles(value: str) -> list[str]:
    names = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in names if p not in PROFILES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown profile {', '.join(unknown)} (choose from {', '.join(PROFILES)})")
    return names


def _users(value: str) -> list[int]:
    try:
        users = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("--users takes numbers separated by commas, e.g. 1,8,32,64") from None
    if not users or min(users) < 1:
        raise argparse.ArgumentTypeError("--users needs at least one number of conversations ≥ 1")
    return users


def _env_pairs(values: list[str]) -> dict:
    env = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--env takes KEY=VALUE (got {item!r})")
        env[key] = value
    return env


def pool_size_for(users: list[int], duration: float, warmup: float, profiles: int = 1) -> int:
    """Shoppers to generate: every conversation takes a new one; ~25 conversations/s is above what 2 cores do."""
    seconds = (sum(duration for _ in users) + warmup) * 1.2
    return int(min(100_000, max(2_000, 2 * 25 * seconds)))


@contextmanager
def open_target(profile: str, args, home: Path, pool_size: int, log_root: Path) -> Iterator[Target]:
    extra = _env_pairs(args.env)
    if args.trace:
        extra.setdefault(TRACE_ENV, "1")
    if profile in ("embedded", "production") or (profile == "replicas" and not args.url):
        with cleanbot_target(profile, pool_size, extra, args.postgres_url, args.redis_url, keep=args.keep,
                             log_root=log_root, replicas=args.replicas_count) as target:
            yield target
    elif profile == "stock":
        with stock_target(fresh=args.fresh_stock, log_root=log_root) as target:
            yield target
    else:
        if not args.url:
            raise SystemExit("--profile url needs --url")
        secret = args.jwt_secret or os.environ.get("CLEANBOT_JWT_SECRET") or None
        with url_target(profile, args.url, pool_size, args.database_url, secret if args.sign else None,
                        home) as target:
            yield target


def run_bench(args) -> tuple[dict, list[Step]]:
    profiles = args.profile or (["url"] if args.url else ["embedded"])
    if args.url and not any(p in ("url", "replicas") for p in profiles):
        profiles = profiles + ["url"]
    users = args.users
    bin_dir = locust_venv()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = args.name or f"load-{stamp}"
    out_dir = Path(args.out)
    step_dir = out_dir / name
    pool_size = args.pool_size or pool_size_for(users, args.duration, args.warmup)
    run = {"name": name, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "command": "cleanbot bench load " + " ".join(args.argv), "machine": machine_info(),
           "users": users, "duration_s": args.duration, "warmup_s": args.warmup, "pool_size": pool_size,
           "load_avg_at_start": [round(v, 2) for v in os.getloadavg()], "profiles": {}}
    steps: list[Step] = []
    for profile in profiles:
        print(f"\n== {profile}: 서버를 준비하고 있어요", flush=True)
        try:
            with tempfile.TemporaryDirectory(prefix="cleanbot-bench-") as tmp, \
                    open_target(profile, args, Path(tmp), pool_size, log_root=LOG_ROOT / name) as target:
                run["profiles"][profile] = {"url": target.url, **target.notes}
                state: dict = {}
                seconds = prime(target, state)
                print(f"   primed in {seconds:.1f}s (every kind of message once per server)", flush=True)
                run["profiles"][profile]["primed_s"] = round(seconds, 1)
                if args.warmup > 0:
                    print(f"   warm-up {args.warmup:g}s ({min(4, max(users))} users)", flush=True)
                    run_step(bin_dir, target, min(4, max(users)), args.warmup, step_dir / f"{profile}-warmup", state,
                             seed=args.seed, record=False)
                for index, n in enumerate(users):
                    print(f"   {n} conversations × {args.duration:g}s", flush=True)
                    step = run_step(bin_dir, target, n, args.duration, step_dir / f"{profile}-u{n}", state,
                                    seed=args.seed, py_spy=args.py_spy and index == 0 and bool(target.pids))
                    steps.append(step)
                    if step.trace:
                        print(textwrap.indent(format_trace(step.trace, step.trace_messages), "     "), flush=True)
                    for pid, spy in step.profiles.items():
                        top = ", ".join(f"{t['frame'].split(' (')[0]} {100 * t['share']:.0f}%" for t in spy.get("top", [])[:12])
                        print(f"     py-spy {pid}: {spy.get('raw') or spy.get('error')}\n       {top}", flush=True)
                    print(f"     {step.msg_per_s:.1f} msg/s · p50 {format_ms(step.p50_ms)} ms · p95 "
                          f"{format_ms(step.p95_ms)} ms · p99 {format_ms(step.p99_ms)} ms · errors {step.failures}"
                          f" · others busy {step.other_cores} cores", flush=True)
                run["profiles"][profile]["pool_used"] = dict(state)
        except Exception as error:  # noqa: BLE001 - one profile that cannot start must not cost the others
            print(f"   {profile}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            run["profiles"].setdefault(profile, {})["error"] = f"{type(error).__name__}: {error}"
    run["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    json_path, csv_path = write_results(run, steps, out_dir, name)
    run["json"], run["csv"] = str(json_path), str(csv_path)
    return run, steps


def cmd_bench_load(args) -> int:
    args.argv = getattr(args, "argv", None) or sys.argv[3:]
    try:
        run, steps = run_bench(args)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"벤치마크를 끝내지 못했어요: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"run": run, "steps": [asdict(s) for s in steps]}, ensure_ascii=False, indent=2))
    else:
        print()
        print(format_table(steps))
        print(f"\n결과: {run['json']}\n      {run['csv']}")
    return 0 if steps else 1


# ------------------------------------------------------------------ the soak: replicas killed under load

# A client retries a message broken by a crash for this long after its first failure (the locustfile's
# BENCH_RETRY_SECONDS): a killed replica's conversation lock expires within 10 s and nginx skips a dead
# replica within 2 s (deploy/nginx.conf), so 30 s is plenty while a stuck layout still shows as failures.
RETRY_SECONDS = 30.0
# No kill this close to the end: the conversations it breaks get time to go on before the run stops.
QUIET_TAIL_SECONDS = 10.0
DEFAULT_SOAK_USERS = 32
DEFAULT_SOAK_DURATION = 600.0
DEFAULT_KILL_EVERY = 120.0


@dataclass
class Kill:
    replica: int  # 1-based, as in the logs' replica-N folders
    at_s: float  # seconds after the load started
    back_s: Optional[float] = None  # how long until it answered again (None: it did not)
    error: Optional[str] = None


class Killer(threading.Thread):
    """Every `every` seconds kills one replica with SIGKILL, in turn, and starts it again on the same
    ports (Replicas.restart(i, hard=True)): a crash, not a shutdown. One kill at a time: the next waits until
    the last one's replica answers again, so at least one replica is always up. Stops at the run's end, and
    after a replica that does not come back (one replica left: killing it would only measure an outage)."""

    def __init__(self, replicas, every: float, duration: float, log=print,
                 quiet_tail: float = QUIET_TAIL_SECONDS):
        super().__init__(name="soak-killer", daemon=True)
        self.replicas, self.every, self.duration, self.log = replicas, every, duration, log
        self.quiet_tail = quiet_tail
        self.kills: list[Kill] = []
        self.done = threading.Event()
        self.started = time.monotonic()

    def start(self) -> None:
        self.started = time.monotonic()
        super().start()

    def run(self) -> None:
        from bot.replies.korean import josa

        count = len(self.replicas.servers)
        next_at = self.every
        while not self.done.wait(max(0.0, self.started + next_at - time.monotonic())):
            at = time.monotonic() - self.started
            if at > self.duration - self.quiet_tail:
                return
            index = len(self.kills) % count
            kill = Kill(index + 1, round(at, 1))
            self.kills.append(kill)
            name = f"복제 서버 {index + 1}"
            self.log(f"   t+{at:5.1f}s  {josa(name, '을/를')} SIGKILL로 멈추고 다시 시작해요", flush=True)
            began = time.monotonic()
            try:
                self.replicas.restart(index, hard=True)
            except Exception as error:  # noqa: BLE001 - reported as a violation, and no more kills
                kill.error = f"{type(error).__name__}: {error}"
                self.log(f"   t+{time.monotonic() - self.started:5.1f}s  {josa(name, '이/가')} 다시 뜨지 않았어요: "
                         f"{kill.error}", flush=True)
                return
            kill.back_s = round(time.monotonic() - began, 1)
            self.log(f"   t+{time.monotonic() - self.started:5.1f}s  {josa(name, '이/가')} {kill.back_s:.1f}초 만에 "
                     "다시 응답해요", flush=True)
            next_at += self.every

    def finish(self) -> list[Kill]:
        """No more kills; waits for a restart under way (the layout is stopped only after it)."""
        self.done.set()
        self.join()
        return self.kills


@dataclass
class SoakCheck:
    """The soak's invariants against the database, from what the clients saw (the locustfile's
    BENCH_CLIENTS record). `violations` empty: the crashes cost no money and no report twice."""

    reports_seen: int = 0  # distinct report numbers the clients were told
    reports_in_db: int = 0
    refunds_in_db: int = 0
    granted_reports: int = 0
    duplicates: int = 0  # orders with two reports or refunds, reports with two refunds, orders told two numbers
    unseen_reports: int = 0  # in the database but told to no client (a run stopped mid-conversation: no fault)
    crashed_conversations: int = 0
    recovered_conversations: int = 0
    interrupted_conversations: int = 0
    violations: list = field(default_factory=list)


def check_invariants(database_url: str, clients: dict, kills: Optional[list] = None) -> SoakCheck:
    """Checks, over the whole (the run's own) database:

    - every report number a client saw exists, once, and is for the order that client was claiming;
    - no order has more than one report or more than one refund, no report more than one refund, and no
      order was told two different report numbers (a retried "네" that filed a second report);
    - refunds paid == reports whose refund was granted, each such report with its own refund;
    - every conversation that met a crash error got a good reply afterwards (unless the run ended first);
    - every killed replica came back."""
    from sqlalchemy import create_engine, func, select

    from bot.models import Refund, Report

    check = SoakCheck()
    problems = check.violations
    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as conn:
            reports = conn.execute(select(Report.id, Report.number, Report.order_number, Report.refund_status)).all()
            refunds = conn.execute(select(Refund.id, Refund.order_number, Refund.report_id)).all()
            per_number = dict(conn.execute(select(Report.number, func.count()).group_by(Report.number)).all())
    finally:
        engine.dispose()
    check.reports_in_db, check.refunds_in_db = len(reports), len(refunds)
    by_number = {r.number: r for r in reports}

    def more_than_once(values) -> dict:
        counts: dict = {}
        for value in values:
            counts[value] = counts.get(value, 0) + 1
        return {k: n for k, n in counts.items() if n > 1}

    for label, found in (("reports", more_than_once(r.order_number for r in reports)),
                         ("refunds", more_than_once(r.order_number for r in refunds))):
        for order, n in sorted(found.items()):
            problems.append(f"order {order} has {n} {label}")
        check.duplicates += len(found)
    for report_id, n in sorted(more_than_once(r.report_id for r in refunds).items()):
        problems.append(f"report id {report_id} has {n} refunds")
        check.duplicates += 1

    granted = {r.id for r in reports if r.refund_status == "granted"}
    refunded = {r.report_id for r in refunds}
    check.granted_reports = len(granted)
    if len(refunds) != len(granted):
        problems.append(f"{len(refunds)} refunds paid but {len(granted)} reports with a granted refund")
    for report_id in sorted(granted - refunded):
        problems.append(f"report id {report_id} is granted but has no refund")
    for report_id in sorted(refunded - granted):
        problems.append(f"report id {report_id} has a refund but its refund is not granted")

    seen: dict[str, set] = {}  # number -> orders the clients were claiming when told it
    told: dict[str, set] = {}  # order -> numbers its client was told
    for item in clients.get("reports", []):
        seen.setdefault(item["number"], set())
        if item.get("order"):
            seen[item["number"]].add(item["order"])
            told.setdefault(item["order"], set()).add(item["number"])
    check.reports_seen = len(seen)
    for number, orders in sorted(seen.items()):
        n = per_number.get(number, 0)
        if n != 1:
            problems.append(f"{number}, told to a client, is in the database {n} times")
        elif orders - {by_number[number].order_number}:
            problems.append(f"{number} is for order {by_number[number].order_number}, but a client claiming "
                            f"{', '.join(sorted(orders - {by_number[number].order_number}))} was told it")
    for order, numbers in sorted(told.items()):
        if len(numbers) > 1:
            problems.append(f"order {order}: clients were told {len(numbers)} report numbers ({', '.join(sorted(numbers))})")
            check.duplicates += 1
    check.unseen_reports = len(set(by_number) - set(seen))

    check.crashed_conversations = int(clients.get("crashed_conversations", 0))
    check.recovered_conversations = int(clients.get("recovered_conversations", 0))
    check.interrupted_conversations = int(clients.get("interrupted_conversations", 0))
    for lost in clients.get("unrecovered", []):
        problems.append(f"conversation {lost.get('sender')} did not go on after a crash ({lost.get('error')})")
    for kill in kills or []:
        kill = kill if isinstance(kill, dict) else asdict(kill)
        if kill.get("error"):
            problems.append(f"replica {kill['replica']} did not come back after the kill at "
                            f"t+{kill['at_s']}s: {kill['error']}")
    return check


def format_soak(run: dict, step: Step, check: SoakCheck, kills: list[Kill]) -> str:
    soak = run["soak"]
    header = (f"{'duration s':>10} {'messages':>8} {'msg/s':>6} {'p95 ms':>7} {'kills':>5} {'retries':>7} "
              f"{'failures':>8} {'reports seen':>12} {'reports in DB':>13} {'duplicates':>10}")
    row = (f"{step.duration_s:>10g} {step.requests:>8} {step.msg_per_s:>6.1f} {format_ms(step.p95_ms):>7} "
           f"{len(kills):>5} {soak['retries']:>7} {step.failures:>8} {check.reports_seen:>12} "
           f"{check.reports_in_db:>13} {check.duplicates:>10}")
    lines = [f"soak: {soak['replicas']} replicas behind nginx · {step.users} users · {step.duration_s:g} s · "
             f"a replica killed (SIGKILL) every {soak['kill_every_s']:g} s", header, "-" * len(header), row, ""]
    for kill in kills:
        back = f"answered again {kill.back_s:.1f} s later" if kill.back_s is not None else f"did not come back: {kill.error}"
        lines.append(f"  t+{kill.at_s:>5.1f}s  replica {kill.replica} killed, {back}")
    if not kills:
        lines.append("  no replica was killed (the run was shorter than --kill-every plus the quiet end)")
    lines.append(f"  conversations that met a crash: {check.crashed_conversations} · went on: "
                 f"{check.recovered_conversations} · stopped by the end of the run: {check.interrupted_conversations}"
                 f" · messages retried: {soak['retried_messages']} ({soak['retries']} retries), answered out of "
                 f"step since their first attempt had gone through: {soak.get('out_of_step', 0)}")
    lines.append(f"  refunds in DB: {check.refunds_in_db} · reports with a granted refund: {check.granted_reports}"
                 f" · reports no client was told: {check.unseen_reports}")
    for kind in step.failure_kinds[:5]:
        lines.append(f"  failure ×{kind['count']}: {kind['name']}: {str(kind['error'])[:140]}")
    lines.append("")
    if check.violations:
        lines.append(f"INVARIANTS VIOLATED ({len(check.violations)}):")
        lines.extend(f"  - {v}" for v in check.violations[:30])
    else:
        lines.append("invariants: OK (every report told to a client exists once; no order reported or refunded "
                     "twice; refunds == granted reports; every crashed conversation went on)")
    return "\n".join(lines)


def run_soak(args) -> tuple[dict, Step, SoakCheck, list[Kill]]:
    """`cleanbot bench soak`: the harness's replicas layout, locust for --duration with retries on, the
    killer meanwhile; then the database checks, inside the layout's context (its database still exists)."""
    bin_dir = locust_venv()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = args.name or f"soak-{stamp}"
    out_dir = Path(args.out)
    step_dir = out_dir / name
    pool_size = args.pool_size or pool_size_for([args.users], args.duration, 0)
    run = {"name": name, "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "command": "cleanbot bench soak " + " ".join(args.argv), "machine": machine_info(),
           "users": [args.users], "duration_s": args.duration, "pool_size": pool_size,
           "load_avg_at_start": [round(v, 2) for v in os.getloadavg()], "profiles": {}}
    print(f"\n== soak: 복제 서버 {args.replicas_count}개와 nginx를 준비하고 있어요", flush=True)
    with cleanbot_target("replicas", pool_size, _env_pairs(args.env), args.postgres_url, args.redis_url,
                         keep=args.keep, log_root=LOG_ROOT / name, replicas=args.replicas_count) as target:
        run["profiles"]["replicas"] = {"url": target.url, **target.notes}
        state: dict = {}
        print(f"   primed in {prime(target, state):.1f}s (every kind of message once per replica)", flush=True)
        print(f"   {args.users} conversations × {args.duration:g}s, 복제 서버 하나를 {args.kill_every:g}초마다 "
              "강제 종료해요", flush=True)
        clients_file = step_dir / "clients.json"
        clients_file.unlink(missing_ok=True)
        killer = Killer(target.servers, args.kill_every, args.duration)
        began = time.monotonic()
        killer.start()
        try:
            # Server CPU is not counted: a killed replica's processes take their CPU time with them.
            step = run_step(bin_dir, replace(target, pids=[]), args.users, args.duration, step_dir / "soak", state,
                            seed=args.seed, reset_stats=False, stop_timeout=RETRY_SECONDS + 15,
                            locust_env={"BENCH_RETRY_SECONDS": f"{RETRY_SECONDS:g}",
                                        "BENCH_CLIENTS": str(clients_file)})
        finally:
            kills = killer.finish()
        elapsed = time.monotonic() - began
        if not clients_file.exists():
            raise RuntimeError(f"locust wrote no client record ({clients_file}); see {step_dir / 'soak.log'}")
        clients = json.loads(clients_file.read_text(encoding="utf-8"))
        check = check_invariants(target.database_url, clients, kills)
        run["profiles"]["replicas"]["pool_used"] = dict(state)
    run["soak"] = {"replicas": args.replicas_count, "kill_every_s": args.kill_every, "elapsed_s": round(elapsed, 1),
                   "kills": [asdict(k) for k in kills], "retries": clients.get("retries", 0),
                   "retried_messages": clients.get("retried_messages", 0),
                   "out_of_step": len(clients.get("out_of_step", [])), "clients": str(clients_file),
                   "check": asdict(check), "ok": not check.violations}
    run["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    json_path, csv_path = write_results(run, [step], out_dir, name)
    run["json"], run["csv"] = str(json_path), str(csv_path)
    return run, step, check, kills


def cmd_bench_soak(args) -> int:
    args.argv = getattr(args, "argv", None) or sys.argv[3:]
    if args.users < 1 or args.duration <= 0 or args.kill_every <= 0 or args.replicas_count < 2:
        print("--users는 1 이상, --duration과 --kill-every는 0보다 커야 하고, --replicas-count는 2 이상이어야 해요 "
              "(하나를 죽이는 동안 다른 하나가 받아야 하니까요).", file=sys.stderr)
        return 2
    from bot.server.replicas import ReplicaProblem

    try:
        run, step, check, kills = run_soak(args)
    except (RuntimeError, subprocess.CalledProcessError, ReplicaProblem) as error:
        print(f"소크 테스트를 끝내지 못했어요: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"run": run, "steps": [asdict(step)]}, ensure_ascii=False, indent=2))
    else:
        print()
        print(format_soak(run, step, check, kills))
        print(f"\n결과: {run['json']}\n      {run['csv']}")
    answered = step.requests - step.failures
    return 1 if check.violations or answered <= 0 else 0


def _common_server_options(p, what: str) -> None:
    """Options of the servers the harness starts, shared by `bench load` and `bench soak`."""
    p.add_argument("--replicas-count", type=int, default=DEFAULT_REPLICAS,
                   help=f"{what}nginx 뒤에 띄울 복제 서버 수 (기본 {DEFAULT_REPLICAS}, 각각 CLEANBOT_WORKERS=1)")
    p.add_argument("--env", action="append", metavar="KEY=VALUE",
                   help="하네스가 띄우는 서버에 줄 환경 변수 (여러 번; 예: --env CLEANBOT_WORKERS=2)")
    p.add_argument("--postgres-url", default=os.environ.get("CLEANBOT_BENCH_POSTGRES_URL", DEFAULT_PG_ADMIN),
                   help=f"production·replicas 프로필의 데이터베이스를 만들 PostgreSQL 관리 URL (기본 {DEFAULT_PG_ADMIN})")
    p.add_argument("--redis-url", default=os.environ.get("CLEANBOT_BENCH_REDIS_URL", DEFAULT_REDIS),
                   help=f"production·replicas 프로필의 CLEANBOT_REDIS_URL (기본 {DEFAULT_REDIS})")
    p.add_argument("--keep", action="store_true", help="벤치마크 데이터베이스와 임시 폴더를 지우지 않기")
    p.add_argument("--seed", type=int, default=17, help="문장 선택의 난수 시드")
    p.add_argument("--out", default=str(RESULTS_DIR), help="결과 폴더 (기본 benchmarks/load/results)")


def register(sub, add) -> None:
    """`cleanbot bench load` and `cleanbot bench soak` (wired from bot.cli.build_parser)."""
    bench = sub.add_parser("bench", help="부하 벤치마크 (benchmarks/load/)").add_subparsers(
        dest="bench_command", required=True)
    p = add(bench, "load", cmd_bench_load,
            "locust로 동시 대화 1·8·32·64개의 msg/s, p50/p95/p99, 오류 측정 (docs/benchmarks.md)")
    p.add_argument("--profile", type=_profiles, action="extend",
                   help="쉼표로 여러 개: embedded(기본), production, stock, replicas(--url이 없으면 하네스가 띄워요), url")
    p.add_argument("--users", type=_users, default=list(DEFAULT_USERS), help="동시 대화 수 (기본: 1,8,32,64)")
    p.add_argument("--duration", type=float, default=30.0, help="단계마다 측정 시간(초, 기본 30)")
    p.add_argument("--warmup", type=float, default=10.0, help="측정 전 예열 시간(초, 기본 10, 기록 안 함)")
    p.add_argument("--url", help="이미 실행 중인 서버(또는 replicas의 nginx) 주소, 예: http://127.0.0.1:5005")
    p.add_argument("--database-url", help="--url 서버가 쓰는 데이터베이스 (생성한 구매자·주문을 넣을 곳; 기본 CLEANBOT_DATABASE_URL)")
    p.add_argument("--sign", action="store_true", help="--url 서버가 production 모드: CLEANBOT_JWT_SECRET(또는 --jwt-secret)로 토큰 서명")
    p.add_argument("--jwt-secret", help="--sign에 쓸 HS256 키 (기본 CLEANBOT_JWT_SECRET)")
    _common_server_options(p, "replicas 프로필에서 ")
    p.add_argument("--pool-size", type=int, default=None, help="생성할 구매자 수 (기본: 단계 시간에 맞춰 자동)")
    p.add_argument("--fresh-stock", action="store_true", help="Rasa 기본 봇을 다시 만들고 학습 (var/bench/stock-rasa)")
    p.add_argument("--name", help="결과 파일 이름 (기본 load-<UTC 시각>)")
    p.add_argument("--trace", action="store_true",
                   help="Rasa 서버 안에서 메시지마다 단계별 시간(NLU, 정책, 액션 서버 왕복, 대화 저장소...)을 재서 단계마다 표로")
    p.add_argument("--py-spy", dest="py_spy", action="store_true",
                   help="첫 단계 동안 py-spy로 서버 프로세스를 샘플링 (결과 폴더에 raw 파일, 상위 함수 출력)")

    p = add(bench, "soak", cmd_bench_soak,
            "복제 서버를 부하 중에 주기적으로 강제 종료(SIGKILL)·재시작하고, 신고·환불이 두 번 생기지 않았는지 데이터베이스로 확인")
    p.add_argument("--users", type=int, default=DEFAULT_SOAK_USERS, help=f"동시 대화 수 (기본 {DEFAULT_SOAK_USERS})")
    p.add_argument("--duration", type=float, default=DEFAULT_SOAK_DURATION,
                   help=f"부하 시간(초, 기본 {DEFAULT_SOAK_DURATION:g})")
    p.add_argument("--kill-every", type=float, default=DEFAULT_KILL_EVERY,
                   help=f"복제 서버 하나를 돌아가며 강제 종료하는 간격(초, 기본 {DEFAULT_KILL_EVERY:g}); "
                        f"끝나기 {QUIET_TAIL_SECONDS:g}초 전부터는 종료하지 않아요")
    _common_server_options(p, "")
    p.add_argument("--pool-size", type=int, default=None, help="생성할 구매자 수 (기본: 부하 시간에 맞춰 자동)")
    p.add_argument("--name", help="결과 파일 이름 (기본 soak-<UTC 시각>)")


def main(argv: Optional[list[str]] = None) -> int:
    """`python -m bot.bench load ...`: the same command without going through bot.cli."""
    parser = argparse.ArgumentParser(prog="cleanbot")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(parent, name, func, help_text, json_flag=True):
        p = parent.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        if json_flag:
            p.add_argument("--json", action="store_true", help="JSON으로 출력")
        return p

    register(sub, add)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(["bench", *argv])
    args.argv = argv[1:]
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
