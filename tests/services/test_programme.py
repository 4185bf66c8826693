"""The programme report: removals, brands, reports, refunds, times, test buys, strikes by level, closures."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from bot.clock import utcnow
from bot.db import transaction
from bot.models import IppCase, Listing, Order, Refund, Report
from bot.services import inspections, programme, reports
from tests.services.test_penalties import _take_down

NIKE = "1005006000123456"  # S-1003
DUNK = "1005006000131375"  # Nike, S-1001
CHANEL = "1005006000155132"
CHANEL_CARD = "1005006000163051"


def _opened_hours_before_decision(listing_id: str, hours: int) -> None:
    with transaction() as session:
        case = session.execute(select(IppCase).where(IppCase.listing_id == listing_id)).scalar_one()
        session.execute(update(IppCase).where(IppCase.id == case.id)
                        .values(created_at=case.decided_at - timedelta(hours=hours)))


@pytest.fixture
def activity(db_url):
    """A shopper's report on a Nike fake (refunded by the guarantee, confirmed), and S-1002 struck three times."""
    with transaction() as session:
        order = session.execute(select(Order).where(Order.listing_id == NIKE, Order.status == "delivered")
                                .order_by(Order.number)).scalars().first()
    outcome = reports.file_report(order.customer_id, order.number, "로고가 이상해요")
    reports.review_report(outcome.report_number, confirm_fake=True, note="가품 확인", actor="test")
    with transaction() as session:
        report = session.execute(select(Report).where(Report.number == outcome.report_number)).scalar_one()
        paid = session.execute(select(Refund.created_at).where(Refund.report_id == report.id)).scalar_one()
        report.created_at = paid - timedelta(hours=30)  # a claim the team paid after 30 hours
        chanel = session.execute(select(Listing.id).where(Listing.seller_id == "S-1002")
                                 .order_by(Listing.id)).scalars().all()[:3]
    for listing_id in chanel:
        _take_down(listing_id)
    for listing_id, hours in zip([NIKE, *chanel], (2, 4, 6, 10)):
        _opened_hours_before_decision(listing_id, hours)
    return {"amount": order.amount_krw, "s1002": chanel}


def test_the_whole_programme(activity):
    report = programme.compute(days=30)
    assert (report.days, report.brand, report.listings_removed, report.brands_protected) == (30, None, 4, 3)
    assert (report.reports, report.refunds_paid, report.refunds_krw) == (1, 1, activity["amount"])
    assert (report.median_hours_claim_to_refund, report.median_hours_case_to_decision) == (30.0, 5.0)
    assert report.strikes_by_level == {"warning": 2, "freeze": 1, "closure": 1}
    assert report.stores_closed == 1
    assert (report.test_buys, report.test_buy_results) == (0, {"fake": 0, "genuine": 0, "inconclusive": 0})


def test_a_brand_s_share(activity):
    nike = programme.compute(days=30, brand="Nike")
    assert (nike.listings_removed, nike.brands_protected, nike.reports, nike.refunds_paid) == (1, 1, 1, 1)
    assert nike.strikes_by_level == {"warning": 1, "freeze": 0, "closure": 0} and nike.stores_closed == 0
    gucci = programme.compute(days=30, brand="Gucci")
    assert (gucci.listings_removed, gucci.reports, gucci.refunds_krw, gucci.median_hours_case_to_decision) == (
        0, 0, 0, None)
    with pytest.raises(LookupError):
        programme.compute(brand="Nikey")


def test_the_period_leaves_older_activity_out(activity):
    with transaction() as session:
        session.execute(text("UPDATE case_events SET at = :old"), {"old": utcnow() - timedelta(days=40)})
        session.execute(text("UPDATE strikes SET created_at = :old"), {"old": utcnow() - timedelta(days=40)})
    report = programme.compute(days=30)
    assert (report.listings_removed, report.brands_protected, report.median_hours_case_to_decision) == (0, 0, None)
    assert report.strikes_by_level == {"warning": 0, "freeze": 0, "closure": 0} and report.stores_closed == 0
    assert programme.compute(days=60).listings_removed == 4


def test_test_buys_in_the_period_by_result(db_url, move_clock):
    move_clock(timedelta(days=-45))
    inspections.add(DUNK, "fake", "한국소비자검사원")  # 45 days ago: outside the 30 days
    move_clock(timedelta(days=42))
    inspections.add(CHANEL, "fake", "한국소비자검사원")
    move_clock(timedelta(days=1))
    inspections.add(CHANEL_CARD, "genuine", "브랜드검사랩")
    move_clock(timedelta(days=1))
    inspections.add(NIKE, "fake", "한국소비자검사원")
    move_clock(timedelta(days=1))  # now
    report = programme.compute(days=30)
    assert (report.test_buys, report.test_buy_results) == (3, {"fake": 2, "genuine": 1, "inconclusive": 0})
    assert programme.compute(days=30, brand="Nike").test_buy_results == {"fake": 1, "genuine": 0, "inconclusive": 0}


def test_the_chart_is_a_png(activity, tmp_path):
    path = programme.render_chart(programme.compute(days=30), tmp_path / "programme.png")
    data = (tmp_path / "programme.png").read_bytes()
    assert path == str(tmp_path / "programme.png") and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
