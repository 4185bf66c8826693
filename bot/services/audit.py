"""The audit log: every change made by a person or the bot, with who made it."""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.models import AuditLog


def record(session: Session, actor: str, action: str, subject: str, detail: Optional[dict[str, Any]] = None) -> None:
    session.add(AuditLog(at=utcnow(), actor=actor, action=action, subject=subject, detail=detail or {}))


def record_alone(actor: str, action: str, subject: str, detail: Optional[dict[str, Any]] = None) -> None:
    """An audit row in a transaction of its own: for refusals, where nothing else is written."""
    from bot.db import transaction

    with transaction() as session:
        record(session, actor, action, subject, detail)
