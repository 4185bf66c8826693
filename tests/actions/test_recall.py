"""The recall notice's "환불받기" tap as the action runs it: refunded once, then told it already was."""
from __future__ import annotations

import asyncio
import re

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.recall import ActionClaimRecall
from bot.db import transaction
from bot.models import Listing
from bot.services import cases

AF1 = "1005006000123456"


def _tap(sender: str, order_number: str | None) -> list[str]:
    entities = [{"entity": "order_number", "value": order_number}] if order_number else []
    text = f'/claim_recall{{"order_number":"{order_number}"}}'
    tracker = Tracker(
        sender_id=sender, slots={},
        latest_message={"text": text, "intent": {"name": "claim_recall", "confidence": 1.0},
                        "entities": entities, "metadata": {}},
        events=[{"event": "user", "text": text, "input_channel": "rest"}],
        paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen",
    )
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionClaimRecall().run(dispatcher, tracker, {}))
    return [m["text"] for m in dispatcher.messages]


def test_the_tap_refunds_once(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-5"] if o["listing"] == AF1)["number"]
    with transaction() as session:
        case = cases.open_case(session, listing=session.get(Listing, AF1), source="shopper_report", actor="t", note="t")
        cases.transition(session, case, "under_review", "t")
        cases.transition(session, case, "action_taken", "t", "가품")
    [first] = _tap("shopper-5", order)
    lines = first.splitlines()
    assert lines[0].startswith("가품 판매로 불편을 드려 죄송해요. 129,000원을 환불해 드렸어요. 결제하신 수단으로 ")
    assert re.fullmatch(r"신고번호는 RPT-\d{4}-\d{6}(이에요|예요)\.", lines[1])
    [second] = _tap("shopper-5", order)
    assert second.startswith("이 주문은 이미 환불됐어요.")
    assert _tap("shopper-5", None) == ["어느 주문의 환불인지 알 수 없어요. 리콜 안내의 '환불받기' 버튼을 다시 눌러 주세요."]
    [other] = _tap("shopper-5", next(o for o in orders_by_customer["shopper-5"] if o["delivered_days_ago"] == 20)["number"])
    assert other == ("이 주문에는 리콜 안내가 없어요. 받으신 상품이 가품으로 의심되면 '가품 신고'라고 말씀해 주세요. "
                     "증빙 없이 100% 환불해 드려요.")
