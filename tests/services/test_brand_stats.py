"""Brand reports: the period a holder names, the figures, and the chart."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select, update

from bot.clock import utcnow
from bot.db import transaction
from bot.models import CaseEvent, IppCase, Listing, Order
from bot.periods import parse_period
from bot.services import brand_stats, cases, ipp, reports
from bot.services.identity import resolve

# 2026-11-28 12:00 in Seoul (03:00 UTC), a Saturday.
NOW = datetime(2026, 11, 28, 3, 0)


@pytest.mark.parametrize("text,label,first,last", [
    ("이번 달 조치 현황 알려주세요", "이번 달", date(2026, 11, 1), date(2026, 11, 28)),
    ("이번달 통계", "이번 달", date(2026, 11, 1), date(2026, 11, 28)),
    ("지난달 리포트 뽑아주세요", "지난달", date(2026, 10, 1), date(2026, 10, 31)),
    ("지난 달 현황", "지난달", date(2026, 10, 1), date(2026, 10, 31)),
    ("최근 7일 통계", "최근 7일", date(2026, 11, 21), date(2026, 11, 28)),
    ("최근7일", "최근 7일", date(2026, 11, 21), date(2026, 11, 28)),
    ("올해 누적 조치 건수", "올해", date(2026, 1, 1), date(2026, 11, 28)),
    ("통계 보여줘", "최근 30일", date(2026, 10, 29), date(2026, 11, 28)),
    ("이번 주 조치 현황", "이번 주", date(2026, 11, 23), date(2026, 11, 28)),
    ("지난주 리포트", "지난주", date(2026, 11, 16), date(2026, 11, 22)),
    ("최근 3개월", "최근 3개월", date(2026, 8, 28), date(2026, 11, 28)),
    ("작년 통계", "작년", date(2025, 1, 1), date(2025, 12, 31)),
])
def test_periods(text, label, first, last):
    period = parse_period(text, now=NOW)
    assert (period.label, period.first_day, period.last_day) == (label, first, last)
    assert period.end <= NOW and period.start < period.end


def test_calendar_periods_are_in_seoul_time():
    # 2026-03-01 00:30 in Seoul is still February in UTC.
    now = datetime(2026, 2, 28, 15, 30)
    this_month = parse_period("이번 달", now=now)
    assert this_month.first_day == date(2026, 3, 1) and this_month.start == datetime(2026, 2, 28, 15, 0)
    last_month = parse_period("지난달", now=now)
    assert (last_month.first_day, last_month.last_day) == (date(2026, 2, 1), date(2026, 2, 28))
    assert last_month.start == datetime(2026, 1, 31, 15, 0) and last_month.end == datetime(2026, 2, 28, 15, 0)
    january = parse_period("지난달", now=datetime(2026, 1, 10, 3, 0))
    assert (january.first_day, january.last_day) == (date(2025, 12, 1), date(2025, 12, 31))
    assert parse_period("올해", now=now).start == datetime(2025, 12, 31, 15, 0)


def test_default_period_follows_the_setting(monkeypatch):
    monkeypatch.setenv("CLEANBOT_STATS_DEFAULT_DAYS", "14")
    period = parse_period("리포트 주세요", now=NOW)
    assert period.label == "최근 14일" and period.end - period.start == timedelta(days=14)
    assert "2026년 11월 14일~2026년 11월 28일" in period.describe()


def _nike_ids():
    return resolve("rest", "brand-nike").brand_ids


def _backdate(number: str, days: float) -> None:
    """Moves a case and its whole timeline `days` into the past."""
    with transaction() as session:
        case = cases.get_case_by_number(session, number)
        shift = timedelta(days=days)
        case.created_at -= shift
        case.updated_at -= shift
        if case.decided_at:
            case.decided_at -= shift
        session.execute(update(CaseEvent).where(CaseEvent.case_id == case.id).values(at=CaseEvent.at - shift))


def test_figures_for_a_brand(db_url, orders_by_customer):
    nike = resolve("rest", "brand-nike")
    # A holder's case decided 2 days after submission (the submission backdated by 2 days).
    filed = ipp.file_case(nike.holder_brands, "web", "brand-nike", "1005006000123456", "counterfeit", "40-1234567",
                          "위조 운동화", [])
    with transaction() as session:
        case = cases.get_case_by_number(session, filed.case_number)
        case.created_at -= timedelta(days=2)
    ipp.set_status(filed.case_number, "under_review", None, "cli:team")
    ipp.set_status(filed.case_number, "action_taken", "가품 확인", "cli:team")
    # A shopper report on another Nike listing, rejected 4 days after it came in.
    order = next(o for o in orders_by_customer["shopper-2"] if o["delivered_days_ago"] == 5)
    with transaction() as session:
        session.get(Order, order["number"]).listing_id = "1005006000131375"
    outcome = reports.file_report("shopper-2", order["number"], "가짜 같아요")
    with transaction() as session:
        case = cases.get_case_by_number(session, outcome.case_number)
        case.created_at -= timedelta(days=4)
    ipp.set_status(outcome.case_number, "under_review", None, "cli:team")
    ipp.set_status(outcome.case_number, "rejected", "정품", "cli:team")
    # Outside the period: a Nike case from 40 days ago. Another brand: a Chanel case.
    with transaction() as session:
        old = cases.open_case(session, listing=session.get(Listing, "1005006000131375"), source="shopper_report",
                              actor="bot", note="t")
        old_number = old.number
        cases.open_case(session, listing=session.get(Listing, "1005006000155132"), source="shopper_report",
                        actor="bot", note="t")
    _backdate(old_number, 40)

    stats = brand_stats.compute(_nike_ids(), parse_period("통계"))
    assert stats.brands == ("Nike",)
    assert stats.cases_by_state == {"action_taken": 1, "rejected": 1}
    assert stats.new_cases == 2 and stats.holder_cases == 1
    assert stats.listings_removed == 1 and stats.listings_reinstated == 0
    assert stats.decisions == 2 and stats.avg_days_to_decision == pytest.approx(3.0, abs=0.05)
    assert stats.shopper_reports == 1
    # Narrower and wider periods: the 40-day-old case counts only in the wider one.
    assert brand_stats.compute(_nike_ids(), parse_period("최근 7일")).new_cases == 2
    assert brand_stats.compute(_nike_ids(), parse_period("최근 60일")).new_cases == 3

    # Reinstated after a counter notice: counted as reinstated too.
    ipp.set_status(filed.case_number, "counter_notice", None, "cli:team")
    ipp.set_status(filed.case_number, "reinstated", None, "cli:team")
    again = brand_stats.compute(_nike_ids(), parse_period("통계"))
    assert again.listings_removed == 1 and again.listings_reinstated == 1


def test_no_brands_or_no_cases(db_url):
    empty = brand_stats.compute([], parse_period("통계"))
    assert empty.new_cases == 0 and empty.avg_days_to_decision is None
    chanel = brand_stats.compute(resolve("rest", "brand-chanel").brand_ids, parse_period("이번 달"))
    assert chanel.brands == ("Chanel",) and chanel.new_cases == 0 and chanel.shopper_reports == 0


def test_the_text_has_every_figure(db_url):
    from bot.replies import holder as replies_holder

    nike = resolve("rest", "brand-nike")
    filed = ipp.file_case(nike.holder_brands, "web", "brand-nike", "1005006000123456", "trademark", "40-1234567",
                          "상표 도용", [])
    ipp.set_status(filed.case_number, "under_review", None, "cli:team")
    text = replies_holder.stats_text(brand_stats.compute(nike.brand_ids, parse_period("이번 달")))
    assert "Nike 브랜드 현황" in text and "이번 달" in text
    assert "새 케이스 1건" in text and "검토 중 1건" in text and "삭제된 상품 0개" in text
    assert "평균 처리 기간은 아직 없어요" in text and "구매자 가품 신고 0건" in text


def test_chart_is_a_png_in_the_chart_dir_served_by_safe_name_only(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CLEANBOT_CHART_DIR", str(tmp_path / "charts"))
    monkeypatch.setenv("CLEANBOT_PUBLIC_URL", "https://bot.example.com/")
    stats = brand_stats.compute(_nike_ids(), parse_period("통계"))
    name = brand_stats.render_chart(stats)
    path = brand_stats.chart_path(name)
    assert path is not None and path.parent == (tmp_path / "charts").resolve()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 300
    assert brand_stats.chart_url(name) == f"https://bot.example.com/webhooks/rest/charts/{name}"
    (tmp_path / "secret.png").write_bytes(b"x")
    (tmp_path / "charts" / "notes.txt").write_text("x")
    for bad in ("../secret.png", "..%2Fsecret.png", "notes.txt", "missing.png", "", "a/b.png", ".png"):
        assert brand_stats.chart_path(bad) is None, bad
    assert name != brand_stats.render_chart(stats)  # names are random, not guessable


def test_old_charts_are_cleaned_up(db_url, tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("CLEANBOT_CHART_DIR", str(tmp_path))
    stale = tmp_path / "stats-old.png"
    stale.write_bytes(b"png")
    two_days_ago = utcnow().timestamp() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    brand_stats.render_chart(brand_stats.compute(_nike_ids(), parse_period("통계")))
    assert not stale.exists()


def test_shopper_report_cases_count_for_the_brand(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-1"] if o["delivered_days_ago"] == 5)
    reports.file_report("shopper-1", order["number"], "가짜")
    with transaction() as session:
        brand_of = session.execute(select(IppCase.brand_id)).scalar_one()
    stats = brand_stats.compute([brand_of], parse_period("이번 달"))
    assert stats.shopper_reports == 1 and stats.new_cases == 1 and stats.holder_cases == 0
