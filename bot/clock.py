"""Time in one place: naive UTC in the database, Asia/Seoul for people."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from bot.settings import get_settings

# Tests only: CLEANBOT_FAKE_NOW (ISO 8601; without an offset it is UTC) stops every clock reading of
# utcnow() at that moment, in each process that has it in its environment — how a test makes the servers
# it starts agree with it on "now" (business hours, say) whatever the wall clock says. Refused in
# production mode.
FAKE_NOW_ENV = "CLEANBOT_FAKE_NOW"  # documented in docs/settings.md


def _fake_now(value: str) -> datetime:
    if get_settings().is_production:
        raise RuntimeError(f"{FAKE_NOW_ENV} is for tests; it is refused in production mode")
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def system_now() -> datetime:
    fake = os.environ.get(FAKE_NOW_ENV)
    if fake:
        return _fake_now(fake)
    return datetime.now(timezone.utc)


# Where "now" comes from. Tests replace it to move time (strikes ageing, freezes ending) instead of
# sleeping; every module reads it through utcnow(), however it imported that.
source: Callable[[], datetime] = system_now


def utcnow() -> datetime:
    return source().astimezone(timezone.utc).replace(tzinfo=None)


def to_local(moment: datetime) -> datetime:
    """A stored naive-UTC time as an aware time in the configured zone (Asia/Seoul)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(ZoneInfo(get_settings().timezone))
