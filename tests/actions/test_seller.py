"""The seller check action: from a listing id, from the shopper's own order, and asking which listing
(with the shopper's recent orders as buttons) when none is named."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.seller import ActionCheckSeller
from bot.replies import seller as replies


def _ask(sender: str, text: str, entities: list[dict] | None = None, channel: str = "rest") -> tuple[list, list[dict]]:
    tracker = Tracker(
        sender_id=sender, slots={},
        latest_message={"text": text, "intent": {"name": "check_seller", "confidence": 0.99},
                        "entities": entities or [], "metadata": {}},
        events=[{"event": "user", "text": text, "input_channel": channel}],
        paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen",
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionCheckSeller().run(dispatcher, tracker, {}))
    return events, dispatcher.messages


def test_a_listing_id(db_url):
    events, messages = _ask("anyone", "1005006000131375 이 판매자 믿어도 돼요?",
                            [{"entity": "listing_id", "value": "1005006000131375"}])
    assert events == [{"event": "slot", "timestamp": None, "name": "seller_check_waiting", "value": False}]
    assert len(messages) == 1 and messages[0]["buttons"] == []
    assert messages[0]["text"].splitlines()[1] == "판매자 글로벌패션몰 · 미인증 판매자"


def test_without_a_listing_it_asks_with_the_recent_orders(db_url, orders_by_customer):
    events, messages = _ask("shopper-1", "이 판매자 믿어도 돼요?")
    assert events == [{"event": "slot", "timestamp": None, "name": "seller_check_waiting", "value": True}]
    assert messages[0]["text"] == replies.ASK_WHICH_WITH_ORDERS
    numbers = {o["number"] for o in orders_by_customer["shopper-1"]}
    assert len(messages[0]["buttons"]) == 5
    for button in messages[0]["buttons"]:
        assert button["title"].endswith(" 판매자 확인")
        number = button["payload"].split('"order_number":"')[1][:16]
        assert number in numbers and button["payload"] == f'/check_seller{{"order_number":"{number}"}}'


def test_someone_not_a_customer_is_asked_for_the_listing(db_url):
    _events, messages = _ask("12345", "이 판매자 믿어도 돼요?", channel="telegram")
    assert (messages[0]["text"], messages[0]["buttons"]) == (replies.ASK_WHICH, [])


def test_the_shoppers_own_order_with_a_report_button(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-1"] if o["delivered_days_ago"] == 5)
    _events, messages = _ask("shopper-1", "이 판매자", [{"entity": "order_number", "value": order["number"]}])
    assert messages[0]["text"].splitlines()[1] == "판매자 스포츠마켓 · Nike 공식 인증 판매자"
    assert messages[0]["buttons"] == [{"title": "가품 신고하기",
                                       "payload": f'/report_counterfeit{{"order_number":"{order["number"]}"}}'}]
    _events, theirs = _ask("shopper-2", "이 판매자", [{"entity": "order_number", "value": order["number"]}])
    assert theirs[0]["text"] == replies.ORDER_NOT_FOUND
