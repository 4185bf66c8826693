"""Delivery of case status updates from the outbox (`notifications`), at most once per row.

Every state change writes its outbox rows in the same transaction as the change
(`bot.services.cases.record_event`); this module only delivers them.

* Pull (REST): `take_pending_for(channel, external_id)` returns the account's due rows and marks them
  delivered in the same transaction, so a row is handed out once however many requests race.
* Push (Telegram, socket.io): `due(channel)` lists what is waiting; the sender calls
  `mark_delivered(id)` only after the channel accepted the message and `mark_failed(id, error)`
  otherwise (exponential backoff). `push_due(channel, send)` does all of that, and first claims each
  row for a short lease (a conditional UPDATE, on SQLite and PostgreSQL alike) so two push loops —
  other replicas, or the web chat's pages of one sender open on two servers — never send the same row.
  A `send` that raises `Undeliverable` (the channel refused the message as it is) gives the row up at once.

A row that failed `MAX_ATTEMPTS` times stays undelivered (kept for the team to look at) but is no
longer due.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Awaitable, Callable, Optional

from sqlalchemy import select, update

from bot import clock
from bot.db import transaction
from bot.models import CaseEvent, ChatIdentity, IppCase, Notification

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 3600
MAX_ATTEMPTS = 10
# How long push_due holds a row it is sending, so another push loop does not pick it up meanwhile.
# If the process dies while holding it, the row is due again after the lease.
CLAIM_LEASE_SECONDS = 60
MAX_ERROR_CHARS = 2000


class Undeliverable(Exception):
    """Raised by a push `send` when the channel refused the message itself (Telegram's 400 or 403): sent
    again unchanged it would fail the same way, so the row is given up at once rather than retried."""


@dataclass(frozen=True)
class PendingNotification:
    id: int
    channel: str
    external_id: str
    text: str
    case_number: str
    buttons: Optional[list] = None  # [{"title", "payload"}]: a recall notice's one-tap refund


def backoff_seconds(attempts: int) -> int:
    """Delay before the next try after `attempts` failed ones: 5 s · 2^attempts, at most an hour."""
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempts, 0), BACKOFF_CAP_SECONDS)


def _pending_query(now):
    return (
        select(Notification, ChatIdentity.channel, ChatIdentity.external_id, IppCase.number)
        .join(ChatIdentity, ChatIdentity.id == Notification.identity_id)
        # Outer joins: a topic row (a held refund's decision) has no case event.
        .outerjoin(CaseEvent, CaseEvent.id == Notification.case_event_id)
        .outerjoin(IppCase, IppCase.id == CaseEvent.case_id)
        .where(
            Notification.delivered_at.is_(None),
            Notification.next_attempt_at <= now,
            Notification.attempts < MAX_ATTEMPTS,
        )
        .order_by(Notification.id)
    )


def _view(row) -> PendingNotification:
    notification, channel, external_id, number = row
    return PendingNotification(notification.id, channel, external_id, notification.text, number or "",
                               notification.buttons or None)


def take_pending_for(channel: str, external_id: str, limit: int = 20) -> list[PendingNotification]:
    """Due, undelivered rows for one chat account, marked delivered in the same transaction."""
    now = clock.utcnow()
    with transaction() as session:
        rows = session.execute(
            _pending_query(now)
            .where(ChatIdentity.channel == channel, ChatIdentity.external_id == external_id)
            .limit(limit)
            .with_for_update(of=Notification, skip_locked=True)
        ).all()
        taken = []
        for row in rows:
            # Conditional update: a row someone else delivered meanwhile is not handed out again.
            result = session.execute(
                update(Notification)
                .where(Notification.id == row[0].id, Notification.delivered_at.is_(None))
                .values(delivered_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                taken.append(_view(row))
        return taken


def due(channel: str, limit: int = 100) -> list[PendingNotification]:
    """Undelivered rows for accounts on `channel` whose next attempt is due now (oldest first)."""
    now = clock.utcnow()
    with transaction() as session:
        rows = session.execute(_pending_query(now).where(ChatIdentity.channel == channel).limit(limit)).all()
        return [_view(row) for row in rows]


def mark_delivered(notification_id: int) -> bool:
    """Marks a row delivered; False if it already was (or does not exist). Idempotent."""
    with transaction() as session:
        result = session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.delivered_at.is_(None))
            .values(delivered_at=clock.utcnow())
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def mark_failed(notification_id: int, error: str, final: bool = False) -> None:
    """One more failed attempt: backoff on next_attempt_at, the error kept. Delivered rows stay as they are.
    final: no more attempts (the row stays undelivered, kept for the team)."""
    with transaction() as session:
        notification = session.execute(
            select(Notification).where(Notification.id == notification_id).with_for_update()
        ).scalar_one_or_none()
        if notification is None or notification.delivered_at is not None:
            return
        notification.attempts = MAX_ATTEMPTS if final else (notification.attempts or 0) + 1
        notification.last_error = str(error)[:MAX_ERROR_CHARS]
        notification.next_attempt_at = clock.utcnow() + timedelta(seconds=backoff_seconds(notification.attempts))
        if final:
            logger.error("notification %s refused by the channel, given up (kept undelivered): %s",
                         notification_id, notification.last_error)
        elif notification.attempts >= MAX_ATTEMPTS:
            logger.error(
                "notification %s gave up after %s attempts (kept undelivered): %s",
                notification_id, notification.attempts, notification.last_error,
            )
        else:
            logger.warning("notification %s failed (attempt %s), next try at %s: %s", notification_id,
                           notification.attempts, notification.next_attempt_at, notification.last_error)


def _claim(notification_id: int) -> bool:
    """Holds a due row for CLAIM_LEASE_SECONDS; False if another sender got it first."""
    now = clock.utcnow()
    with transaction() as session:
        result = session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.delivered_at.is_(None),
                Notification.next_attempt_at <= now,
                Notification.attempts < MAX_ATTEMPTS,
            )
            .values(next_attempt_at=now + timedelta(seconds=CLAIM_LEASE_SECONDS))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


async def push_due(channel: str, send: Callable[..., Awaitable[None]],
                   only: Optional[Callable[[str], bool]] = None, limit: int = 100) -> int:
    """Sends every due row of `channel` with `await send(external_id, text)` — `send(external_id, text,
    buttons=[...])` for a row with buttons; returns how many were delivered.

    only: the accounts this process can reach (the web chat: senders with a socket here); the others'
    rows are not claimed, so they stay due for whoever can. A row is marked delivered only after `send`
    returned; an exception marks it failed (backoff), `Undeliverable` gives it up."""
    delivered = 0
    for pending in await asyncio.to_thread(due, channel, limit):
        if only is not None and not only(pending.external_id):
            continue
        if not await asyncio.to_thread(_claim, pending.id):
            continue
        try:
            if pending.buttons:
                await send(pending.external_id, pending.text, buttons=pending.buttons)
            else:
                await send(pending.external_id, pending.text)
        except Exception as error:  # noqa: BLE001 - any failure of the channel is retried later
            final = isinstance(error, Undeliverable)
            await asyncio.to_thread(mark_failed, pending.id, f"{type(error).__name__}: {error}", final)
            continue
        if await asyncio.to_thread(mark_delivered, pending.id):
            delivered += 1
    return delivered
