"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when
CLEANBOT_TEST_POSTGRES_URL is set), and real bot servers for end-to-end tests."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PG_URL = os.environ.get("CLEANBOT_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _prepare(url: str) -> None:
    """Migrate and load the demo data, in a process-local settings context."""
    from bot import demo
    from bot.db import dispose_engines
    from bot.migrate import upgrade

    old = os.environ.get("CLEANBOT_DATABASE_URL")
    os.environ["CLEANBOT_DATABASE_URL"] = url
    try:
        upgrade(url)
        demo.load()
    finally:
        dispose_engines()
        if old is None:
            os.environ.pop("CLEANBOT_DATABASE_URL", None)
        else:
            os.environ["CLEANBOT_DATABASE_URL"] = old


def _pg_admin():
    return create_engine(PG_URL, future=True, isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """One migrated database with the demo data per backend, copied for each test."""
    made = {}
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    _prepare(f"sqlite:///{sqlite_file}")
    made["sqlite"] = sqlite_file
    pg_template = None
    if PG_URL:
        pg_template = f"cleanbot_tpl_{uuid.uuid4().hex[:8]}"
        with _pg_admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_template}"'))
        _prepare(_pg_url(pg_template))
        made["postgresql"] = pg_template
    yield made
    if pg_template:
        with _pg_admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_template}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def db_url(request, templates, tmp_path, monkeypatch):
    """A fresh database with the demo data; CLEANBOT_DATABASE_URL points at it."""
    from bot.db import dispose_engines

    monkeypatch.setenv("CLEANBOT_PHOTO_DIR", str(tmp_path / "photos"))
    if request.param == "sqlite":
        target = tmp_path / "cleanbot.db"
        shutil.copy(templates["sqlite"], target)
        url = f"sqlite:///{target}"
        monkeypatch.setenv("CLEANBOT_DATABASE_URL", url)
        yield url
        dispose_engines()
    else:
        name = f"cleanbot_t_{uuid.uuid4().hex[:10]}"
        with _pg_admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{templates["postgresql"]}"'))
        url = _pg_url(name)
        monkeypatch.setenv("CLEANBOT_DATABASE_URL", url)
        yield url
        dispose_engines()
        with _pg_admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def demo_orders() -> dict:
    """The demo fixture's orders, by customer, in file order."""
    import yaml

    from bot.demo import DEMO_FILE

    data = yaml.safe_load(Path(DEMO_FILE).read_text(encoding="utf-8"))
    by_customer: dict[str, list[dict]] = {}
    for order in data["orders"]:
        by_customer.setdefault(order["customer"], []).append(order)
    return by_customer


@pytest.fixture(scope="session")
def orders_by_customer():
    return demo_orders()


@pytest.fixture(autouse=True)
def _fresh_message_rate():
    """The per-sender message rate is kept per process: each test starts with nobody over it."""
    from connectors import doors

    doors._limits.clear()
    yield
    doors._limits.clear()


@pytest.fixture
def move_clock(monkeypatch):
    """Moves bot.clock's "now" forward by a timedelta (adds up): time passes without sleeping."""
    from datetime import timedelta

    from bot import clock

    offset = [timedelta(0)]
    real = clock.source
    monkeypatch.setattr(clock, "source", lambda: real() + offset[0])

    def move(delta: timedelta) -> None:
        offset[0] += delta

    return move
