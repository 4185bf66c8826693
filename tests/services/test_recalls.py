"""Recall notices: written with the decision, one per eligible order ever (decided twice, concurrent
deciders), reaching the buyer's chat accounts, and the one-tap refund through the report path."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.clock import utcnow
from bot.db import transaction
from bot.models import CaseEvent, IppCase, Listing, Notification, RecallNotice, Refund, Report, Strike
from bot.services import cases, identity, inspections, ipp, notifier, recalls, reports

AF1 = "1005006000123456"  # delivered 5 days ago to shopper-1 and shopper-5
NEVERFULL = "1005006000170970"  # delivered 120 days ago: outside the window
LOAFER = "1005006000194727"  # shipped, not delivered


def _order(orders_by_customer, customer: str, listing: str) -> str:
    return next(o["number"] for o in orders_by_customer[customer] if o["listing"] == listing)


def _web_account(customer: str) -> int:
    with transaction() as session:
        return identity.get_or_create_identity(session, "web", customer).id


def _decide(listing_id: str, source: str = "shopper_report", infringement_type=None) -> str:
    with transaction() as session:
        case = cases.find_open_case(session, listing_id) or cases.open_case(
            session, listing=session.get(Listing, listing_id), source=source, actor="test", note="t",
            infringement_type=infringement_type)
        cases.transition(session, case, "under_review", "test")
        cases.transition(session, case, "action_taken", "test", "가품 확인")
        return case.number


def _notices(listing_id: str = AF1) -> list[tuple[str, str, int]]:
    with transaction() as session:
        return session.execute(
            select(RecallNotice.order_number, RecallNotice.customer_id, RecallNotice.reached)
            .join(IppCase, IppCase.id == RecallNotice.case_id).where(IppCase.listing_id == listing_id)
            .order_by(RecallNotice.order_number)).all()


def _recall_rows() -> list[Notification]:
    with transaction() as session:
        return list(session.execute(select(Notification).where(Notification.buttons.is_not(None))
                                    .order_by(Notification.id)).scalars())


def test_a_confirmed_fake_recalls_the_buyers_who_have_not_reported(db_url, orders_by_customer):
    reporter = _order(orders_by_customer, "shopper-1", AF1)
    buyer = _order(orders_by_customer, "shopper-5", AF1)
    account = _web_account("shopper-5")
    report = reports.file_report("shopper-1", reporter, "로고가 달라요")
    reports.review_report(report.report_number, True, "정품 대조 결과 가품", "cli:kim")
    assert _notices() == [(buyer, "shopper-5", 1)]
    [row] = _recall_rows()
    assert row.identity_id == account
    assert row.buttons == [{"title": "환불받기", "payload": f'/claim_recall{{"order_number":"{buyer}"}}'}]
    lines = row.text.splitlines()
    assert lines[0] == "[리콜 안내] 구매하신 상품의 판매 페이지가 가품으로 확인되어 삭제됐어요."
    assert lines[1].startswith(f"· 나이키 에어포스 1 '07 화이트 · 129,000원 · ") and lines[1].endswith(f" 배송 · 주문번호 {buyer}")
    assert lines[2].startswith("100% 환불 보장에 따라 결제 금액을 돌려드려요. 설명이나 사진 없이 아래 '환불받기'만 눌러 주세요(")
    # Delivered on the REST pull with its button; the reporter got none.
    [pulled] = notifier.take_pending_for("web", "shopper-5")
    assert (pulled.text, pulled.buttons) == (row.text, row.buttons)
    assert notifier.take_pending_for("web", "shopper-1") == []


def test_no_linked_channel_is_listed_for_the_team(db_url, orders_by_customer):
    number = _decide(AF1)
    assert _notices() == sorted([(_order(orders_by_customer, "shopper-1", AF1), "shopper-1", 0),
                                 (_order(orders_by_customer, "shopper-5", AF1), "shopper-5", 0)])
    assert _recall_rows() == []
    listed = recalls.list_recalls(number)
    assert [(r.customer_id, r.customer_name, r.claimed) for r in listed] == [("shopper-1", "김민지", False),
                                                                            ("shopper-5", "정도윤", False)]
    assert recalls.list_recalls("IPP-2026-999999") is None


def test_only_delivered_orders_inside_the_window(db_url):
    _decide(NEVERFULL)
    _decide(LOAFER)
    assert _notices(NEVERFULL) == [] and _notices(LOAFER) == []


def test_not_for_a_right_other_than_counterfeit(db_url):
    _decide(AF1, source="rights_holder", infringement_type="design")
    assert _notices() == []


def test_decided_twice_still_one_notice_per_order(db_url, orders_by_customer):
    _web_account("shopper-5")
    first = _decide(AF1)
    with transaction() as session:
        case = cases.get_case_by_number(session, first, lock=True)
        cases.transition(session, case, "counter_notice", "seller")
        cases.transition(session, case, "reinstated", "team", "정품 증빙 확인")
    second = inspections.add(AF1, "fake", "한국소비자검사원", actor="cli:kim")
    assert second.decided and second.case_number != first and second.recalls == 0
    assert sorted(n[1] for n in _notices()) == ["shopper-1", "shopper-5"]
    assert len(_recall_rows()) == 1
    with pytest.raises(IntegrityError):
        with transaction() as session:
            event = session.execute(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1)).scalar_one()
            case_id = session.execute(select(IppCase.id).where(IppCase.number == second.case_number)).scalar_one()
            session.add(RecallNotice(order_number=_order(orders_by_customer, "shopper-5", AF1), customer_id="shopper-5",
                                     case_id=case_id, case_event_id=event, reached=0, created_at=utcnow()))


def test_concurrent_deciders_write_one_notice_per_order_and_one_strike(db_url, orders_by_customer):
    _web_account("shopper-5")
    report = reports.file_report("shopper-1", _order(orders_by_customer, "shopper-1", AF1), "가짜")
    start = threading.Barrier(3)
    errors: list[str] = []

    def review():
        start.wait()
        try:
            reports.review_report(report.report_number, True, "가품", "cli:kim")
        except reports.ReportActionError as error:
            errors.append(error.message_ko)

    def set_status():
        start.wait()
        try:
            with transaction() as session:
                case = cases.get_case_by_number(session, report.case_number, lock=True)
                if case.state == "submitted":
                    cases.transition(session, case, "under_review", "cli:lee")
            ipp.set_status(report.case_number, "action_taken", "가품", "cli:lee")
        except ipp.CaseActionError as error:
            errors.append(error.message_ko)

    def test_buy():
        start.wait()
        inspections.add(AF1, "fake", "한국소비자검사원", actor="cli:park")

    threads = [threading.Thread(target=f) for f in (review, set_status, test_buy)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _notices() == [(_order(orders_by_customer, "shopper-5", AF1), "shopper-5", 1)]
    assert len(_recall_rows()) == 1
    with transaction() as session:
        assert session.execute(select(func.count(Strike.id)).where(Strike.listing_id == AF1)).scalar_one() == 1
        assert session.execute(select(IppCase.state).where(IppCase.listing_id == AF1)).scalars().all() == ["action_taken"]


def test_the_tap_refunds_once_on_the_deciding_case(db_url, orders_by_customer):
    buyer = _order(orders_by_customer, "shopper-5", AF1)
    number = _decide(AF1)
    assert reports.claim_recall("shopper-2", buyer).status == "not_found"  # someone else's order
    first = reports.claim_recall("shopper-5", buyer)
    assert (first.status, first.amount_krw, first.case_number) == ("granted", 129000, number)
    again = reports.claim_recall("shopper-5", buyer)
    assert (again.status, again.report_number) == ("already_refunded", first.report_number)
    with transaction() as session:
        report = session.execute(select(Report).where(Report.order_number == buyer)).scalar_one()
        assert (report.verdict, report.description) == ("confirmed_fake", "리콜 안내의 '환불받기'로 신청했어요.")
        assert session.execute(select(func.count(Refund.id)).where(Refund.order_number == buyer)).scalar_one() == 1
        assert session.execute(select(func.count(IppCase.id)).where(IppCase.listing_id == AF1)).scalar_one() == 1
    assert [r.claimed for r in recalls.list_recalls(number) if r.customer_id == "shopper-5"] == [True]


def test_concurrent_taps_pay_once(db_url, orders_by_customer):
    buyer = _order(orders_by_customer, "shopper-5", AF1)
    _decide(AF1)
    start = threading.Barrier(4)
    outcomes = []

    def tap():
        start.wait()
        outcomes.append(reports.claim_recall("shopper-5", buyer).status)

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_refunded"] * 3 + ["granted"]


def test_the_window_is_still_counted_from_delivery(db_url, orders_by_customer, move_clock):
    buyer = _order(orders_by_customer, "shopper-5", AF1)
    _decide(AF1)
    move_clock(timedelta(days=86))
    assert reports.claim_recall("shopper-5", buyer).status == "window_expired"


def test_an_order_without_a_notice_is_not_claimed_this_way(db_url, orders_by_customer):
    assert reports.claim_recall("shopper-5", _order(orders_by_customer, "shopper-5", AF1)).status == "not_found"
