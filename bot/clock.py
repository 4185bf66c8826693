"""Time in one place: naive UTC in the database, Asia/Seoul for people."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from bot.settings import get_settings

def system_now() -> datetime:
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
