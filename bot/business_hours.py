"""When agents are at work: weekdays 09:00–18:00 Asia/Seoul by default (CLEANBOT_BUSINESS_HOURS).

The setting reads like "mon-fri 09:00-18:00" (days: mon tue wed thu fri sat sun, a range or a
comma list). Agents are off on Korean public holidays (설날, 추석, 대체공휴일 …), as Korean support desks
are, unless the setting ends in "+holidays". The business days promised to users (`business_days_after`:
refunds reaching the account, review deadlines) skip the same holidays."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Optional
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS_KO = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]
_SPEC = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*(\+holidays)?\s*$")


@dataclass(frozen=True)
class BusinessHours:
    days: frozenset[int]
    opens: time
    closes: time
    zone: ZoneInfo
    on_holidays: bool = False  # at work on public holidays too ("+holidays")

    @classmethod
    def parse(cls, spec: str, zone: str = "Asia/Seoul") -> "BusinessHours":
        match = _SPEC.match(spec.lower())
        if not match:
            raise ValueError(f"business hours must look like 'mon-fri 09:00-18:00', not {spec!r}")
        days: set[int] = set()
        for part in match.group(1).split(","):
            if "-" in part:
                first, last = (DAYS.index(d) for d in part.split("-"))
                days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
            else:
                days.add(DAYS.index(part))
        opens = time(int(match.group(2)), int(match.group(3)))
        closes = time(int(match.group(4)), int(match.group(5)))
        if closes <= opens:
            raise ValueError("business hours must close after they open on the same day")
        return cls(frozenset(days), opens, closes, ZoneInfo(zone), bool(match.group(6)))

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(self.zone)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and (self.on_holidays or day not in korean_holidays(day.year))

    def is_open(self, moment: datetime) -> bool:
        local = self._local(moment)
        return self.is_working_day(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime:
        """The next moment (aware, local) agents are at work; `moment` itself if open now."""
        local = self._local(moment)
        if self.is_open(local):
            return local
        day = local.date()
        if self.is_working_day(day) and local.time() < self.opens:
            return datetime.combine(day, self.opens, self.zone)
        for offset in range(1, 31):  # 설날 or 추석 next to a weekend and a 대체공휴일: a week and more
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return datetime.combine(candidate, self.opens, self.zone)
        raise ValueError("business hours have no working day")

    def describe_ko(self) -> str:
        days = sorted(self.days)
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 1:
            span = f"{DAYS_KO[days[0]][0]}~{DAYS_KO[days[-1]][0]}요일"
        else:
            span = ", ".join(DAYS_KO[d] for d in days)
        return f"{span} {self.opens:%H:%M}~{self.closes:%H:%M}" + ("" if self.on_holidays else ", 공휴일 제외")


def opening_ko(opening: datetime, now: Optional[datetime] = None) -> str:
    """'오늘 오전 9시' / '내일 오전 9시' / '월요일(12월 1일) 오전 9시'."""
    local_now = (now or datetime.now(opening.tzinfo)).astimezone(opening.tzinfo)
    hour = opening.hour
    clock = f"{'오전' if hour < 12 else '오후'} {hour if hour <= 12 else hour - 12}시" + (
        f" {opening.minute}분" if opening.minute else "")
    days = (opening.date() - local_now.date()).days
    if days == 0:
        return f"오늘 {clock}"
    if days == 1:
        return f"내일 {clock}"
    return f"{DAYS_KO[opening.weekday()]}({opening.month}월 {opening.day}일) {clock}"


@lru_cache(maxsize=None)
def korean_holidays(year: int) -> frozenset[date]:
    """Korea's public holidays in `year`, 설날, 추석 and 대체공휴일 included (the `holidays` package:
    lunar dates and substitution rules are not ours to maintain)."""
    import holidays

    return frozenset(holidays.country_holidays("KR", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in korean_holidays(day.year)


def business_days_after(start: datetime, days: int) -> date:
    """The day `days` business days after `start`'s day in Korea, skipping weekends and public holidays.
    The day is Seoul's: 23:30 UTC is already the next morning there. A naive `start` is UTC."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    day = start.astimezone(SEOUL).date()
    while days > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            days -= 1
    return day
