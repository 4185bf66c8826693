"""Engine and sessions. Services open one transaction each through `transaction()`."""
from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import weakref
from typing import Iterator, Optional

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.settings import get_settings

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker] = {}
# Every engine made here, so a forked child (a Sanic worker) drops the parent's pooled connections.
_all_engines: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _forget_inherited_connections() -> None:  # pragma: no cover - runs in forked children
    for engine in list(_all_engines):
        engine.dispose(close=False)  # the parent keeps using its own; the child opens new ones


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_connections)


def _sqlite_file(url: str) -> bool:
    database = make_url(url).database
    return bool(database) and database != ":memory:" and not database.startswith("file::memory:")


def make_engine(url: str) -> Engine:
    engine = _make_engine(url)
    _all_engines.add(engine)
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Connections are kept and reused (SQLAlchemy 1.4 opens a new one per transaction for SQLite files,
        # with the two PRAGMAs below each time): up to 5 idle, any number at once.
        pooling = {"poolclass": QueuePool, "pool_size": 5, "max_overflow": -1} if _sqlite_file(url) else {}
        engine = create_engine(url, future=True, connect_args={"timeout": 30, "check_same_thread": False},
                               **pooling)

        # pysqlite's own transaction handling defers BEGIN and then fails lock upgrades
        # between concurrent writers; BEGIN IMMEDIATE serialises writers instead, so the
        # check-then-insert of a refund runs as one unit (see SQLAlchemy's pysqlite notes).
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver hook
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode a commit survives a killed process without an fsync; only an OS crash may lose
            # the last commits, never consistency. FULL cost ~15 ms per tracker save.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # pragma: no cover - driver hook
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def get_engine(url: Optional[str] = None) -> Engine:
    url = url or get_settings().database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()


def session_factory(url: Optional[str] = None) -> sessionmaker:
    url = url or get_settings().database_url
    factory = _factories.get(url)
    if factory is None:
        engine = get_engine(url)
        with _lock:
            factory = _factories.get(url)
            if factory is None or factory.kw.get("bind") is not engine:
                factory = _factories[url] = sessionmaker(bind=engine, future=True, expire_on_commit=False)
    return factory


@contextlib.contextmanager
def transaction(url: Optional[str] = None) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error."""
    session = session_factory(url)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def advisory_key(*parts: object) -> int:
    """A stable signed 64-bit lock key for `parts` (Python's hash() differs between processes)."""
    digest = hashlib.blake2b("\x1f".join(map(str, ("cleanbot",) + parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def serialize(session: Session, *parts: object) -> None:
    """Makes concurrent transactions that name the same `parts` run one after another, until commit.

    For check-then-insert rules that span rows no single row lock covers (a shopper's recent refunds,
    near-duplicate photos on any order, hand-overs per sender). Call it first in the transaction:
    under READ COMMITTED (PostgreSQL's default) every later statement then sees what the previous
    holder committed. PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, every
    transaction already starts with BEGIN IMMEDIATE (see make_engine), which serialises writers."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(*parts)})
    elif dialect != "sqlite":  # a silent no-op here would reopen the races this exists to close
        raise NotImplementedError(f"serialize() does not support {dialect}")
