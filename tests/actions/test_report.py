"""The report actions with rasa-sdk's CollectingDispatcher and real Tracker objects."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ActionListOrders
from actions.report import ActionSubmitReport, ValidateReportForm, order_number_hint
from bot.services import reports


def tracker(sender: str, text: str, intent: str = "inform", entities=None, slots=None, metadata=None) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots=dict({"requested_slot": None, "failed_attempts": 0}, **(slots or {})),
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.99},
                        "entities": entities or [], "metadata": metadata or {}},
        events=[{"event": "user", "text": text, "input_channel": "rest"}],
        paused=False, followup_action=None, active_loop={"name": "report_form"}, latest_action_name="action_listen",
    )


def run(coro):
    return asyncio.run(coro)


def _order(orders_by_customer, customer, days):
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == days)


def test_order_number_in_the_first_message_is_checked_and_confirmed(db_url, orders_by_customer):
    order = _order(orders_by_customer, "shopper-1", 5)
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-1", f"{order['number']} 짝퉁이에요", "report_counterfeit",
                [{"entity": "order_number", "value": order["number"]}])
    result = run(ValidateReportForm().extract_order_number(dispatcher, t, {}))
    assert result == {"order_number": order["number"], "failed_attempts": 0}
    assert order["product_name"] in dispatcher.messages[0]["text"]


def test_someone_elses_order_stops_the_form_with_the_not_found_answer(db_url, orders_by_customer):
    theirs = _order(orders_by_customer, "shopper-2", 5)
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-1", theirs["number"], slots={"requested_slot": "order_number"},
                entities=[{"entity": "order_number", "value": theirs["number"]}])
    result = run(ValidateReportForm().extract_order_number(dispatcher, t, {}))
    assert result["requested_slot"] is None and result["order_number"] is None
    assert "찾을 수 없어요" in dispatcher.messages[0]["text"]
    assert theirs["product_name"] not in dispatcher.messages[0]["text"]


def test_unknown_sender_is_told_how_to_log_in(db_url):
    dispatcher = CollectingDispatcher()
    result = run(ValidateReportForm().extract_order_number(dispatcher, tracker("stranger", "가품 신고"), {}))
    assert result == {"requested_slot": None}
    assert "로그인" in dispatcher.messages[0]["text"]


def test_second_failed_answer_offers_a_person(db_url):
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-1", "12345678901234", slots={"requested_slot": "order_number", "failed_attempts": 1})
    result = run(ValidateReportForm().extract_order_number(dispatcher, t, {}))
    assert result == {"failed_attempts": 2}
    assert "14자리" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/request_human"


def test_hints_name_what_was_typed():
    assert "케이스 번호" in order_number_hint("IPP-2026-000123")
    assert "신고번호" in order_number_hint("rpt-2026-000042")
    assert "15자리" in order_number_hint("818123456789012")


def test_submit_files_the_report_and_resets_the_form(db_url, orders_by_customer):
    order = _order(orders_by_customer, "shopper-3", 5)
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-3", "네", "affirm", slots={"order_number": order["number"], "problem_description": "로고",
                                                    "photos_done": True, "report_confirmed": True})
    events = run(ActionSubmitReport().run(dispatcher, t, {}))
    assert "환불해 드렸어요" in dispatcher.messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "order_number", "value": None} in events
    assert len(reports.list_reports(customer_id="shopper-3")) == 1


def test_order_list_has_one_click_buttons_only_for_claimable_orders(db_url, orders_by_customer):
    dispatcher = CollectingDispatcher()
    run(ActionListOrders().run(dispatcher, tracker("shopper-1", "주문 보여줘", "list_orders"), {}))
    message = dispatcher.messages[0]
    claimable = [o for o in orders_by_customer["shopper-1"] if o["delivered_days_ago"] in (5, 20, 45)]
    assert len(message["buttons"]) == len(claimable)
    assert all(b["payload"].startswith("/report_counterfeit{") for b in message["buttons"])
