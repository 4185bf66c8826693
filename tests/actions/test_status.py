"""A shopper checking their reports (action_report_status) against a real database: the list, one
report by number, and someone else's number answered exactly like a number that does not exist."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.status import ActionReportStatus
from bot.services import reports


def _ask(sender: str, text: str, number: str | None = None) -> tuple[list, list[dict]]:
    entities = [{"entity": "report_number", "value": number}] if number else []
    tracker = Tracker(
        sender_id=sender, slots={},
        latest_message={"text": text, "intent": {"name": "check_report_status", "confidence": 0.99},
                        "entities": entities, "metadata": {}},
        events=[{"event": "user", "text": text, "input_channel": "rest"}],
        paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen",
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionReportStatus().run(dispatcher, tracker, {}))
    return events, [m["text"] for m in dispatcher.messages]


def _order(orders_by_customer, customer: str, days: int) -> dict:
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == days)


def _file(orders_by_customer, customer: str, days: int) -> tuple[str, dict]:
    order = _order(orders_by_customer, customer, days)
    outcome = reports.file_report(customer, order["number"], "로고 박음질이 달라요")
    assert outcome.status == "granted"
    return outcome.report_number, order


def test_no_reports_yet_says_how_to_report(db_url):
    events, texts = _ask("shopper-1", "내 신고 보여줘")
    assert events == []
    assert texts == ["아직 접수된 신고가 없어요. 가품이 의심되는 상품이 있으면 '가품 신고'라고 말씀해 주세요."]


def test_the_list_shows_every_own_report_newest_first(db_url, orders_by_customer):
    first, older = _file(orders_by_customer, "shopper-1", 20)
    second, newer = _file(orders_by_customer, "shopper-1", 5)
    _file(orders_by_customer, "shopper-2", 5)  # not theirs: never listed
    _events, texts = _ask("shopper-1", "내 신고 보여줘")
    assert len(texts) == 1
    text = texts[0]
    assert text.startswith("신고하신 건이 2건 있어요.\n")
    assert text.index(second) < text.index(first)
    assert newer["product_name"] in text and older["product_name"] in text
    assert "환불 처리됨 (129,000원, 카드사 반영까지 " in text and "판매자 조사 중" in text
    theirs = reports.list_reports(customer_id="shopper-2")[0]
    assert theirs.number not in text and theirs.product_name not in text


def test_one_report_by_its_number_in_any_case(db_url, orders_by_customer):
    number, order = _file(orders_by_customer, "shopper-1", 5)
    _file(orders_by_customer, "shopper-1", 20)
    _events, texts = _ask("shopper-1", f"{number.lower()} 어떻게 됐어요?", number.lower())
    assert len(texts) == 1
    assert texts[0].startswith(f"신고 처리 현황이에요.\n{number} · {order['product_name']}\n")
    assert "환불 처리됨 (129,000원, 카드사 반영까지 " in texts[0]


def test_someone_elses_report_is_answered_like_a_missing_one(db_url, orders_by_customer):
    theirs, their_order = _file(orders_by_customer, "shopper-2", 5)
    _file(orders_by_customer, "shopper-1", 5)
    year = theirs.split("-")[1]
    missing = f"RPT-{year}-999999"
    leak_events, leak = _ask("shopper-1", f"{theirs} 조회", theirs)
    none_events, none = _ask("shopper-1", f"{missing} 조회", missing)
    assert leak_events == none_events == []
    # Same words, only the number the shopper typed differs: nothing says the report exists.
    assert [t.replace(theirs, "#") for t in leak] == [t.replace(missing, "#") for t in none]
    assert leak == [f"{theirs} 신고를 찾을 수 없어요. 신고번호를 다시 확인해 주세요. "
                    "'내 신고 보여줘'라고 하시면 전체 목록을 보여 드려요."]
    assert their_order["product_name"] not in leak[0]
    # The owner still gets it.
    _events, own = _ask("shopper-2", f"{theirs} 조회", theirs)
    assert their_order["product_name"] in own[0]


def test_a_held_and_then_rejected_refund_reads_as_such(db_url, orders_by_customer, monkeypatch):
    monkeypatch.setenv("CLEANBOT_ABUSE_MAX_REFUNDS", "1")  # the second claim in a month waits for a person
    _file(orders_by_customer, "shopper-1", 5)
    order = _order(orders_by_customer, "shopper-1", 20)
    held = reports.file_report("shopper-1", order["number"], "또 가품이에요")
    assert held.status == "held"
    _events, texts = _ask("shopper-1", "신고 확인", held.report_number)
    assert "환불 검토 중" in texts[0]
    assert "최근 30일 환불" not in texts[0]  # the hold reason is for agents only
    reports.decide_held_refund(held.report_number, approve=False, actor="agent:1", reason="같은 상품 반복 신고")
    _events, texts = _ask("shopper-1", "신고 확인", held.report_number)
    assert "환불 불가" in texts[0] and "같은 상품 반복 신고" not in texts[0]


def test_a_sender_who_is_not_a_shopper_is_told_how_to_log_in(db_url):
    _events, texts = _ask("stranger", "RPT-2026-000001", "RPT-2026-000001")
    assert texts == ["고객 정보를 찾을 수 없어요. 마켓플레이스에 로그인한 상태에서 다시 시도해 주세요."]


def test_a_long_list_says_only_the_latest_are_shown(db_url):
    from datetime import timedelta

    from bot.clock import utcnow
    from bot.db import transaction
    from bot.models import Order

    listing = "1005006000123456"
    numbers = [f"81819000000000{i:02d}" for i in range(12)]
    with transaction() as session:
        for number in numbers:
            session.add(Order(number=number, customer_id="shopper-6", listing_id=listing, product_name="테스트 운동화",
                              amount_krw=10000, paid_at=utcnow() - timedelta(days=3),
                              delivered_at=utcnow() - timedelta(days=1), status="delivered"))
    filed = [reports.file_report("shopper-6", number, "가짜").report_number for number in numbers]
    _events, texts = _ask("shopper-6", "내 신고 보여줘")
    assert texts[0].startswith("신고하신 건이 12건 있어요. 최근 10건을 보여 드려요.\n")
    assert all(n in texts[0] for n in filed[2:]) and not any(n in texts[0] for n in filed[:2])
