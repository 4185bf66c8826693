from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.business_hours import BusinessHours, opening_ko

SEOUL = ZoneInfo("Asia/Seoul")
HOURS = BusinessHours.parse("mon-fri 09:00-18:00")


def at(*args):
    return datetime(*args, tzinfo=SEOUL)


def test_open_on_a_weekday_afternoon_and_closed_at_six():
    assert HOURS.is_open(at(2026, 11, 27, 14, 0))          # Friday
    assert not HOURS.is_open(at(2026, 11, 27, 18, 0))
    assert not HOURS.is_open(at(2026, 11, 28, 11, 0))      # Saturday


def test_naive_times_are_utc():
    assert HOURS.is_open(datetime(2026, 11, 27, 5, 0))     # 14:00 in Seoul
    assert not HOURS.is_open(datetime(2026, 11, 27, 10, 0))  # 19:00 in Seoul


def test_next_opening_skips_the_weekend():
    friday_night = at(2026, 11, 27, 20, 0)
    opening = HOURS.next_opening(friday_night)
    assert opening == at(2026, 11, 30, 9, 0)
    assert opening_ko(opening, friday_night) == "월요일(11월 30일) 오전 9시"
    early = at(2026, 11, 30, 7, 30)
    assert opening_ko(HOURS.next_opening(early), early) == "오늘 오전 9시"
    thursday_night = at(2026, 11, 26, 23, 0)
    assert opening_ko(HOURS.next_opening(thursday_night), thursday_night) == "내일 오전 9시"


def test_describe_and_bad_settings():
    assert HOURS.describe_ko() == "월~금요일 09:00~18:00"
    assert BusinessHours.parse("sat,sun 10:00-14:30").is_open(at(2026, 11, 29, 14, 0))
    with pytest.raises(ValueError):
        BusinessHours.parse("weekdays nine to five")
    with pytest.raises(ValueError):
        BusinessHours.parse("mon-fri 18:00-09:00")
