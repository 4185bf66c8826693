from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.business_hours import BusinessHours, business_days_after, is_business_day, korean_holidays, opening_ko

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


def test_business_days_skip_the_weekend():
    assert business_days_after(at(2026, 11, 25, 10, 0), 2) == date(2026, 11, 27)   # Wed → Fri
    assert business_days_after(at(2026, 11, 26, 10, 0), 3) == date(2026, 12, 1)    # Thu → Tue
    assert business_days_after(at(2026, 11, 28, 10, 0), 1) == date(2026, 11, 30)   # Sat → Mon
    assert business_days_after(at(2026, 11, 27, 10, 0), 0) == date(2026, 11, 27)


def test_the_day_is_seoul_s_not_utc_s():
    # Thursday 23:30 UTC is Friday 08:30 in Seoul: two business days later is Tuesday, not Monday.
    late_utc = datetime(2026, 11, 26, 23, 30)
    assert business_days_after(late_utc, 2) == date(2026, 12, 1)
    assert business_days_after(late_utc.replace(tzinfo=timezone.utc), 2) == date(2026, 12, 1)
    assert business_days_after(datetime(2026, 11, 26, 14, 59), 2) == date(2026, 11, 30)  # 23:59 Thu in Seoul


def test_2027_seollal_and_its_substitute_holiday_are_not_business_days():
    # 설날 2027: Sat 6 – Mon 8 February, and Tue 9 the 대체공휴일 for the day that fell on Sunday.
    assert {date(2027, 2, d) for d in (6, 7, 8, 9)} <= korean_holidays(2027)
    assert not any(is_business_day(date(2027, 2, d)) for d in (8, 9))
    assert is_business_day(date(2027, 2, 10))
    friday = at(2027, 2, 5, 15, 0)
    assert business_days_after(friday, 1) == date(2027, 2, 10)
    assert business_days_after(friday, 3) == date(2027, 2, 12)


def test_2027_chuseok_is_not_business_days():
    # 추석 2027: Tue 14 – Thu 16 September.
    assert {date(2027, 9, d) for d in (14, 15, 16)} <= korean_holidays(2027)
    assert business_days_after(at(2027, 9, 13, 10, 0), 1) == date(2027, 9, 17)
    assert business_days_after(at(2027, 9, 10, 10, 0), 2) == date(2027, 9, 17)   # Fri → Mon, then Fri


def test_the_holidays_boundary_in_utc_too():
    # 2027-02-05 15:30 UTC is already Saturday the 6th (설날 eve) in Seoul.
    assert business_days_after(datetime(2027, 2, 5, 15, 30), 1) == date(2027, 2, 10)
    # Christmas 2027 is Saturday, its substitute Monday the 27th.
    assert business_days_after(at(2027, 12, 24, 10, 0), 1) == date(2027, 12, 28)


def test_the_refund_date_promised_to_a_shopper_skips_seollal():
    from bot.replies.shopper import money_expected_by

    # Granted Friday 5 February 2027, 10:00 in Seoul: three business days are the 10th, 11th and 12th.
    assert money_expected_by(datetime(2027, 2, 5, 1, 0)) == "2027년 2월 12일(금)"  # another year: with the year
