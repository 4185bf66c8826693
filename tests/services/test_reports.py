"""The refund guarantee: checks, abuse rules, and exactly-once payment under concurrency."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import AuditLog, IppCase, Order, Refund, Report
from bot.services import orders, reports


def _order(orders_by_customer, customer: str, delivered_days_ago):
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == delivered_days_ago)


def test_granted_report_pays_the_full_amount_once(db_url, orders_by_customer):
    order = _order(orders_by_customer, "shopper-1", 5)
    outcome = reports.file_report("shopper-1", order["number"], "로고가 비뚤어졌어요")
    assert outcome.status == "granted"
    assert outcome.amount_krw == order["amount_krw"]
    assert outcome.report_number.startswith("RPT-") and len(outcome.report_number) == 15
    again = reports.file_report("shopper-1", order["number"], "다시 신고해요")
    assert again.status == "already_refunded"
    assert again.refunded_at == outcome.refunded_at and again.amount_krw == order["amount_krw"]
    with transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 1
        report = session.execute(select(Report)).scalar_one()
        case = session.get(IppCase, report.case_id)
        assert case.state == "submitted" and case.source == "shopper_report"
        assert session.execute(select(AuditLog).where(AuditLog.action == "report.filed")).scalars().first()


@pytest.mark.parametrize("customer,days,problem", [
    ("shopper-1", None, "not_delivered"),
    ("shopper-1", 120, "window_expired"),
])
def test_refusals(db_url, orders_by_customer, customer, days, problem):
    order = _order(orders_by_customer, customer, days)
    outcome = reports.file_report(customer, order["number"], "가짜 같아요")
    assert outcome.status == problem
    with transaction() as session:
        assert session.execute(select(func.count(Report.id))).scalar_one() == 0


def test_someone_elses_order_looks_missing(db_url, orders_by_customer):
    theirs = _order(orders_by_customer, "shopper-2", 5)
    assert reports.file_report("shopper-1", theirs["number"], "가짜").status == "not_found"
    assert reports.file_report("shopper-1", "8181000000000000", "가짜").status == "not_found"
    assert orders.check_order("shopper-1", theirs["number"]) == orders.check_order("shopper-1", "8181000000000000")


def test_window_boundary(db_url, orders_by_customer, monkeypatch):
    now = utcnow().replace(microsecond=0)
    monkeypatch.setenv("CLEANBOT_FAKE_NOW", now.isoformat())  # one stopped clock: no margin needed
    order = _order(orders_by_customer, "shopper-3", 45)

    def delivered(ago: timedelta) -> str | None:
        with transaction() as session:
            session.get(Order, order["number"]).delivered_at = now - ago
        return orders.check_order("shopper-3", order["number"]).problem

    assert delivered(timedelta(days=90)) is None  # the last moment of the 90 days
    assert delivered(timedelta(days=90, seconds=1)) == "window_expired"


def test_reports_on_one_listing_share_one_case(db_url, orders_by_customer):
    with transaction() as session:
        first = session.get(Order, _order(orders_by_customer, "shopper-1", 5)["number"])
        other = session.get(Order, _order(orders_by_customer, "shopper-2", 20)["number"])
        other.listing_id = first.listing_id
    a = reports.file_report("shopper-1", first.number, "가짜")
    b = reports.file_report("shopper-2", other.number, "가짜")
    assert a.case_number == b.case_number


def test_more_than_three_refunds_in_30_days_goes_to_review(db_url, orders_by_customer):
    with transaction() as session:
        numbers = []
        for n in range(4):
            row = session.get(Order, orders_by_customer["shopper-4"][n]["number"])
            row.status, row.delivered_at = "delivered", utcnow() - timedelta(days=2)
            numbers.append(row.number)
    outcomes = [reports.file_report("shopper-4", n, "가짜 같아요") for n in numbers]
    assert [o.status for o in outcomes] == ["granted", "granted", "granted", "held"]
    assert "30일" in outcomes[3].hold_reason
    approved = reports.decide_held_refund(outcomes[3].report_number, approve=True, actor="agent:7")
    assert approved.refund_status == "granted"
    assert approved.refund_amount == orders_by_customer["shopper-4"][3]["amount_krw"]  # the whole order, as held
    with pytest.raises(reports.ReportActionError):
        reports.decide_held_refund(outcomes[3].report_number, approve=True, actor="agent:7")


def test_same_photo_on_another_order_goes_to_review(db_url, orders_by_customer, tmp_path):
    from PIL import Image
    import io

    from bot.services.photos import accept_bytes

    buffer = io.BytesIO()
    Image.linear_gradient("L").convert("RGB").save(buffer, "JPEG")
    photo = accept_bytes([buffer.getvalue()]).ids
    first = reports.file_report("shopper-1", _order(orders_by_customer, "shopper-1", 5)["number"], "가짜", photo)
    second = reports.file_report("shopper-2", _order(orders_by_customer, "shopper-2", 5)["number"], "가짜", photo)
    assert first.status == "granted"
    assert second.status == "held" and first.report_number in second.hold_reason


def test_twenty_concurrent_claims_pay_once_threads(db_url, orders_by_customer):
    order = _order(orders_by_customer, "shopper-5", 20)
    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(lambda _: reports.file_report("shopper-5", order["number"], "가짜"), range(20)))
    statuses = sorted(o.status for o in outcomes)
    assert statuses.count("granted") == 1
    assert statuses.count("already_refunded") == 19
    granted = next(o for o in outcomes if o.status == "granted")
    assert all(o.refunded_at == granted.refunded_at for o in outcomes)
    with transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 1
        assert session.execute(select(func.count(Report.id))).scalar_one() == 1


def _claim_in_process(args):
    url, photo_dir, number = args
    os.environ["CLEANBOT_DATABASE_URL"] = url
    os.environ["CLEANBOT_PHOTO_DIR"] = photo_dir
    from bot.services import reports as process_reports

    return process_reports.file_report("shopper-6", number, "가짜 같아요").status


def test_twenty_concurrent_claims_pay_once_processes(db_url, orders_by_customer, tmp_path):
    order = _order(orders_by_customer, "shopper-6", 5)
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes=20) as pool:
        statuses = pool.map(_claim_in_process, [(db_url, str(tmp_path), order["number"])] * 20)
    assert statuses.count("granted") == 1
    assert statuses.count("already_refunded") == 19
    with transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 1


def test_refund_uniqueness_is_a_database_constraint(db_url, orders_by_customer):
    """Even code that skipped the checks could not pay an order twice."""
    from sqlalchemy.exc import IntegrityError

    from bot.clock import utcnow

    paid = _order(orders_by_customer, "shopper-1", 5)
    other = _order(orders_by_customer, "shopper-1", 20)
    assert reports.file_report("shopper-1", paid["number"], "가짜").status == "granted"
    with pytest.raises(IntegrityError):
        with transaction() as session:
            first = session.execute(select(Report)).scalar_one()
            second = Report(customer_id="shopper-1", order_number=other["number"], case_id=first.case_id,
                            description="x", refund_status="held", verdict="pending", created_at=utcnow())
            session.add(second)
            session.flush()
            session.add(Refund(order_number=paid["number"], report_id=second.id, amount_krw=1,
                               approved_by="x", created_at=utcnow()))
            session.flush()
    with transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 1


def _held(orders_by_customer, monkeypatch) -> tuple[str, dict]:
    """A second claim in a month with the limit at one: held for a person."""
    monkeypatch.setenv("CLEANBOT_ABUSE_MAX_REFUNDS", "1")
    assert reports.file_report("shopper-1", _order(orders_by_customer, "shopper-1", 5)["number"], "가짜").status == "granted"
    order = _order(orders_by_customer, "shopper-1", 20)
    outcome = reports.file_report("shopper-1", order["number"], "이것도 가짜")
    assert outcome.status == "held"
    return outcome.report_number, order


def _audits(action: str, subject: str) -> list:
    with transaction() as session:
        return session.execute(select(AuditLog.actor, AuditLog.detail).where(
            AuditLog.action == action, AuditLog.subject == subject)).all()


def test_a_held_refund_is_rejected_only_with_a_reason_and_once(db_url, orders_by_customer, monkeypatch):
    number, _order_row = _held(orders_by_customer, monkeypatch)
    for blank in (None, "", "   "):
        with pytest.raises(reports.ReportActionError, match="사유를 함께 적어 주세요"):
            reports.decide_held_refund(number, approve=False, actor="agent:1", reason=blank)
    assert reports.get_report(number).refund_status == "held" and _audits("refund.rejected", number) == []

    rejected = reports.decide_held_refund(number, approve=False, actor="agent:1", reason=" 같은 상품 반복 신고 ")
    assert rejected.refund_status == "rejected" and rejected.refund_amount is None
    assert rejected.hold_reason.endswith(" / 거절 사유: 같은 상품 반복 신고")
    assert _audits("refund.rejected", number) == [("agent:1", {"reason": "같은 상품 반복 신고"})]
    for approve in (True, False):
        with pytest.raises(reports.ReportActionError) as refused:
            reports.decide_held_refund(number, approve=approve, actor="agent:2", reason="다시")
        assert refused.value.message_ko == f"{number}는 이미 환불이 거절된 신고라서 다시 결정할 수 없어요."
    with transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 1  # the first, granted claim


def test_claiming_again_after_a_rejection_is_refused_with_the_reason(db_url, orders_by_customer, monkeypatch):
    from bot.replies import shopper as replies

    number, order = _held(orders_by_customer, monkeypatch)
    reports.decide_held_refund(number, approve=False, actor="agent:1", reason="반복 신고")
    monkeypatch.setenv("CLEANBOT_ABUSE_MAX_REFUNDS", "10")  # not held again: refused as already decided
    again = reports.file_report("shopper-1", order["number"], "다시 신청해요")
    assert again.status == "refund_rejected" and again.report_number == number
    text = replies.report_outcome(again)
    assert text == (f"이 주문은 이미 신고하셨고(신고번호 {number}), 담당자가 검토한 결과 환불해 드리기 어렵다고 "
                    "결정됐어요. 환불은 주문당 한 번만 신청할 수 있어요. 결과에 대해 문의하시려면 '상담원 연결'이라고 말씀해 주세요.")
    assert "검토하고 있어요" not in text
    assert orders.check_order("shopper-1", order["number"]).problem == "refund_rejected"
    with transaction() as session:
        assert session.execute(select(func.count(Report.id))).scalar_one() == 2
        assert session.execute(select(func.count(Refund.id)).where(
            Refund.order_number == order["number"])).scalar_one() == 0
    # Still under review, the same order reads as waiting for the agent.
    monkeypatch.setenv("CLEANBOT_ABUSE_MAX_REFUNDS", "1")
    other = _order(orders_by_customer, "shopper-1", 45)
    waiting = reports.file_report("shopper-1", other["number"], "가짜")
    assert waiting.status == "held"
    assert reports.file_report("shopper-1", other["number"], "또").status == "already_reported"


def _chat_accounts(customer_id: str) -> None:
    """The shopper has used the web chat and linked a Telegram account."""
    from bot.models import ChatIdentity
    from bot.services.identity import get_or_create_identity

    with transaction() as session:
        get_or_create_identity(session, "web", customer_id)
        session.add(ChatIdentity(channel="telegram", external_id="777001", customer_id=customer_id,
                                 created_at=utcnow()))


@pytest.mark.parametrize("approve", [True, False])
def test_the_shopper_hears_the_decision_on_every_linked_account_once(db_url, orders_by_customer, monkeypatch,
                                                                      approve):
    from bot.replies.refund import money_expected_by
    from bot.services import notifier

    number, order = _held(orders_by_customer, monkeypatch)
    _chat_accounts("shopper-1")
    reports.decide_held_refund(number, approve=approve, actor="agent:1", reason=None if approve else "반복 신고")
    with pytest.raises(reports.ReportActionError):
        reports.decide_held_refund(number, approve=approve, actor="agent:2", reason="다시")
    [web] = notifier.take_pending_for("web", "shopper-1")
    assert notifier.take_pending_for("web", "shopper-1") == []  # delivered once
    [telegram] = notifier.due("telegram")
    assert (telegram.external_id, telegram.text, telegram.case_number) == ("777001", web.text, "")
    if approve:
        assert web.text == (f"기다려 주셔서 감사해요. {number} 신고의 환불이 승인됐어요.\n"
                            f"{order['amount_krw']:,}원을 환불해 드렸고, 결제하신 수단으로 "
                            f"{money_expected_by()}까지 들어와요.")
    else:
        assert web.text == (f"기다려 주셔서 감사해요. {number} 신고를 검토했지만 이번에는 환불해 드리기 어려워요.\n"
                            "사유: 반복 신고\n다시 확인이 필요하시면 '상담원 연결'이라고 보내 주세요.")


def test_a_decision_for_a_shopper_without_chat_accounts_is_still_made(db_url, orders_by_customer, monkeypatch):
    from bot.models import Notification

    number, _order_row = _held(orders_by_customer, monkeypatch)
    assert reports.decide_held_refund(number, approve=True, actor="agent:1").refund_status == "granted"
    with transaction() as session:
        assert session.execute(select(func.count(Notification.id)).where(Notification.topic.is_not(None))).scalar_one() == 0


def test_the_database_refuses_a_notification_about_nothing_or_twice_about_one_topic(db_url):
    from sqlalchemy.exc import IntegrityError

    from bot.models import ChatIdentity, Notification

    with transaction() as session:
        identity = ChatIdentity(channel="web", external_id="shopper-2", created_at=utcnow())
        session.add(identity)
        session.flush()
        identity_id = identity.id
    row = dict(identity_id=identity_id, text="x", created_at=utcnow(), next_attempt_at=utcnow(), attempts=0)
    with pytest.raises(IntegrityError):
        with transaction() as session:
            session.add(Notification(**row))  # neither a case event nor a topic
    with transaction() as session:
        session.add(Notification(topic="refund-decision:RPT-2026-000009", **row))
    with pytest.raises(IntegrityError):
        with transaction() as session:
            session.add(Notification(topic="refund-decision:RPT-2026-000009", **row))
