"""Conversations (Rasa trackers) in the project's database, so they survive restarts and every Rasa server
sees the same ones: Rasa's own SQLTrackerStore on `CLEANBOT_TRACKER_DATABASE_URL` (empty: the
project database, `CLEANBOT_DATABASE_URL` — the SQLite file by default, PostgreSQL in production).

endpoints.yml names `bot.server.tracker_store.ProjectTrackerStore`. Rasa refuses an endpoints file whose ${VAR}
is unset, so the URL comes from bot.settings here rather than from the file.

Rasa's table is `events` (SQLTrackerStore.SQLEvent). It is created here, not by Alembic: the tracker
database may be a separate one that Alembic never migrates. bot/migrations/env.py keeps autogenerate
from proposing to drop it."""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Coroutine, Optional, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.db import advisory_key, make_engine
from bot.settings import get_settings

logger = logging.getLogger(__name__)

TRACKER_TABLES = frozenset(SQLTrackerStore.Base.metadata.tables)
# A database that is still starting (a container beside ours) gets this long before the server gives up.
CONNECT_PATIENCE_SECONDS = 60.0


def create_tables(engine: Engine) -> None:
    """Creates Rasa's tables if missing; servers starting at the same moment take turns instead of
    racing on CREATE TABLE (PostgreSQL: an advisory lock; SQLite: bot.db's BEGIN IMMEDIATE)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": advisory_key("rasa-tracker-tables")})
        SQLTrackerStore.Base.metadata.create_all(connection)


T = TypeVar("T")


def _finish(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine that never suspends (SQLTrackerStore's, without an event broker) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the tracker store awaited something; it must run on the event loop")


def _make_sqlite_folder(url: str) -> None:
    """A separate tracker database may be a SQLite file in a folder nothing else creates."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class ProjectTrackerStore(SQLTrackerStore):
    """SQLTrackerStore on the project's database URL (a SQLAlchemy URL, which Rasa's constructor would
    want split into dialect, host, db, ...). Rasa constructs it with `host` (the endpoint's `url`, unused:
    the URL is a setting), `domain`, `event_broker` and the endpoint's other keys."""

    def __init__(self, domain: Optional[Domain] = None, host: Optional[str] = None,
                 event_broker: Optional[EventBroker] = None, **kwargs: Any) -> None:
        url = get_settings().tracker_url
        _make_sqlite_folder(url)
        try:
            # bot.db's kind of engine: WAL and a 30 s busy timeout on SQLite, so several processes share the
            # file, and BEGIN IMMEDIATE, so save()'s count-then-insert never fails on a lock upgrade. One of
            # its own, not bot.db's cached one: the tracker database may be another, and its pool is ours.
            self.engine = make_engine(url)
            self._create_tables_when_reachable()
        except (AttributeError, ImportError) as error:
            # Rasa's loader answers these two with an in-memory store and a mere warning: conversations
            # would silently stop surviving restarts.
            raise RuntimeError(f"대화 저장소를 열 수 없어요: {error}") from error
        self.sessionmaker = sessionmaker(bind=self.engine)
        TrackerStore.__init__(self, domain, event_broker, **kwargs)
        logger.info("Conversations are stored in %s.", self.engine.url.render_as_string(hide_password=True))

    # Rasa's SQL methods are coroutines in name only: their queries block the event loop, so every other
    # conversation of the worker waited for each load and save. Here they run in a thread; the loop goes on.

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        return await asyncio.to_thread(_finish, super()._retrieve(sender_id, fetch_events_from_all_sessions))

    async def save(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is not None:  # streaming awaits the broker: Rasa's own path, on the loop
            return await super().save(tracker)
        await asyncio.to_thread(_finish, super().save(tracker))

    def _create_tables_when_reachable(self) -> None:
        deadline = time.monotonic() + CONNECT_PATIENCE_SECONDS
        while True:
            try:
                create_tables(self.engine)
                return
            except sqlalchemy.exc.OperationalError as error:
                if time.monotonic() > deadline:
                    raise
                logger.warning("The conversation database is not reachable yet (%s); trying again.", error)
                time.sleep(2)
