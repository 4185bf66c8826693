"""Report periods named in Korean chat: "이번 달", "지난달", "최근 7일", "올해", …

`parse_period(text)` finds the first period phrase in a message (spaces do not matter) and returns
its bounds in naive UTC for queries, plus a Korean label and the local dates for people. Calendar
periods are in the bot's time zone (Asia/Seoul) and end now (this month) or at their end (last
month). Without a phrase the period is the last `stats_default_days` days (30).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Optional
from zoneinfo import ZoneInfo

from bot.clock import utcnow
from bot.replies.korean import korean_date
from bot.settings import get_settings


@dataclass(frozen=True)
class Period:
    start: datetime  # naive UTC, inclusive
    end: datetime  # naive UTC, exclusive
    label: str  # "최근 30일", "이번 달", "지난달", "올해", …
    first_day: date  # local dates, both inclusive, for display
    last_day: date

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def describe(self) -> str:
        """'이번 달(2026년 11월 1일~2026년 11월 28일)'."""
        if self.first_day == self.last_day:
            return f"{self.label}({korean_date(self.first_day)})"
        return f"{self.label}({korean_date(self.first_day)}~{korean_date(self.last_day)})"


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _to_utc(local: datetime) -> datetime:
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=_zone())


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + (day.month - 1) - months_back
    return date(index // 12, index % 12 + 1, 1)


def _calendar(label: str, first: date, end_exclusive: date, now_local: datetime) -> Period:
    """From local midnight of `first` to local midnight of `end_exclusive`, or now if that is earlier."""
    start = _midnight(first)
    end = min(_midnight(end_exclusive), now_local)
    last_day = (end - timedelta(microseconds=1)).date() if end > start else first
    return Period(_to_utc(start), _to_utc(end), label, first, last_day)


def _rolling(label: str, days: float, now_local: datetime) -> Period:
    start = now_local - timedelta(days=days)
    return Period(_to_utc(start), _to_utc(now_local), label, start.date(), now_local.date())


_KOREAN_NUMBERS = {"한": 1, "하루": 1, "두": 2, "이틀": 2, "세": 3, "사흘": 3, "네": 4, "나흘": 4, "다섯": 5,
                   "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10, "일": 1}


def _count(match: re.Match) -> Optional[int]:
    """The number in the first group that matched: digits or a Korean word (한, 두, 이틀, …)."""
    text = next((g for g in match.groups() if g), "")
    n = int(text) if text.isdigit() else _KOREAN_NUMBERS.get(text)
    return n if n and n <= 3660 else None


def _days(match: re.Match, now: datetime) -> Optional[Period]:
    n = _count(match)
    return _rolling(f"최근 {n}일", n, now) if n else None


def _weeks(match: re.Match, now: datetime) -> Optional[Period]:
    n = _count(match) or 1
    return _rolling("최근 7일" if n == 1 else f"최근 {n}주", 7 * n, now)


def _months(match: re.Match, now: datetime) -> Optional[Period]:
    """From the same day n months ago (or that month's last day) until now."""
    n = _count(match)
    if not n:
        return None
    first = _month_start(now.date(), n)
    last_of_month = (_month_start(first, -1) - timedelta(days=1)).day
    start = now.replace(year=first.year, month=first.month, day=min(now.day, last_of_month))
    return Period(_to_utc(start), _to_utc(now), "최근 한 달" if n == 1 else f"최근 {n}개월", start.date(), now.date())


def _this_month(_m, now):
    return _calendar("이번 달", _month_start(now.date()), _month_start(now.date(), -1), now)


def _last_month(_m, now):
    return _calendar("지난달", _month_start(now.date(), 1), _month_start(now.date()), now)


def _this_week(_m, now):
    monday = now.date() - timedelta(days=now.weekday())
    return _calendar("이번 주", monday, monday + timedelta(days=7), now)


def _last_week(_m, now):
    monday = now.date() - timedelta(days=now.weekday() + 7)
    return _calendar("지난주", monday, monday + timedelta(days=7), now)


def _this_year(_m, now):
    return _calendar("올해", date(now.year, 1, 1), date(now.year + 1, 1, 1), now)


def _last_year(_m, now):
    return _calendar("작년", date(now.year - 1, 1, 1), date(now.year, 1, 1), now)


def _quarter_start(day: date, back: int = 0) -> date:
    return _month_start(date(day.year, (day.month - 1) // 3 * 3 + 1, 1), 3 * back)


def _this_quarter(_m, now):
    first = _quarter_start(now.date())
    return _calendar("이번 분기", first, _month_start(first, -3), now)


def _last_quarter(_m, now):
    first = _quarter_start(now.date(), 1)
    return _calendar("지난 분기", first, _month_start(first, -3), now)


def _today(_m, now):
    return _calendar("오늘", now.date(), now.date() + timedelta(days=1), now)


def _yesterday(_m, now):
    day = now.date() - timedelta(days=1)
    return _calendar("어제", day, now.date(), now)


_WORD_N = r"(\d{1,4}|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열)"
# Tried in order on the lower-cased text without spaces; the first that gives a period wins.
_RULES: list[tuple[re.Pattern, Callable[[re.Match, datetime], Optional[Period]]]] = [
    (re.compile(r"(?:최근|지난)(\d{1,4})일|(\d{1,4})일(?:간|동안|치)|last(\d{1,4})days?"), _days),
    (re.compile(r"(?:최근|지난)?(하루|이틀|사흘|나흘)(?:간|동안|치)"), _days),
    (re.compile(r"(?:최근|지난)(하루|이틀|사흘|나흘)"), _days),
    (re.compile(rf"(?:최근|지난){_WORD_N}(?:주일|주)|(\d{{1,2}})주(?:간|동안|치)|(일)주일|last(\d{{1,2}})weeks?"), _weeks),
    (re.compile(rf"(?:최근|지난){_WORD_N}(?:개월|달)|(\d{{1,2}})개월(?:간|동안|치)|last(\d{{1,2}})months?"), _months),
    (re.compile(r"이번달|이달|금월|당월|thismonth"), _this_month),
    (re.compile(r"지난달|저번달|전월|전달|lastmonth"), _last_month),
    (re.compile(r"이번주|금주|thisweek"), _this_week),
    (re.compile(r"지난주|저번주|전주|lastweek"), _last_week),
    (re.compile(r"이번분기|금분기|당분기|thisquarter"), _this_quarter),
    (re.compile(r"지난분기|저번분기|전분기|lastquarter"), _last_quarter),
    (re.compile(r"올해|금년|올한해|이번년도|이번연도|thisyear"), _this_year),
    (re.compile(r"작년|지난해|전년|lastyear"), _last_year),
    (re.compile(r"오늘|today"), _today),
    (re.compile(r"어제|yesterday"), _yesterday),
]


def find_period(text: Optional[str], now: Optional[datetime] = None) -> Optional[Period]:
    """The period named in `text`, or None when it names none ("지난주에 산 거" → 지난주)."""
    now_local = (now or utcnow()).replace(tzinfo=timezone.utc).astimezone(_zone())
    compact = re.sub(r"\s+", "", (text or "").lower())
    for pattern, make in _RULES:
        match = pattern.search(compact)
        if match:
            period = make(match, now_local)
            if period is not None:
                return period
    return None


def parse_period(text: Optional[str], now: Optional[datetime] = None, default_days: Optional[int] = None) -> Period:
    """The period named in `text`, or the last `default_days` (settings: 30) days.

    `now` is naive UTC (like everything stored); it defaults to the current time."""
    found = find_period(text, now)
    if found is not None:
        return found
    now_local = (now or utcnow()).replace(tzinfo=timezone.utc).astimezone(_zone())
    days = default_days or get_settings().stats_default_days
    return _rolling(f"최근 {days}일", days, now_local)
