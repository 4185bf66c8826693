"""The recall end to end over REST: a test buy finds a listing fake; its buyer, who uses the web chat,
gets the notice with their next message, taps "환불받기" and is refunded once; a buyer who never used the
chat is listed for the team."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import Customer, Listing, Order, RecallNotice, Refund
from bot.services import inspections, recalls

pytestmark = pytest.mark.e2e


def _listing_with_two_buyers() -> tuple[str, str, str, str]:
    """A listing of its own (the e2e database is shared by the session) bought by shopper-3 and by a customer
    of its own who has never used the chat (shopper-4 may have, in an earlier test of the session)."""
    rng = random.Random()
    listing_id = "1005009" + "".join(rng.choice("0123456789") for _ in range(9))
    numbers = ["8189" + "".join(rng.choice("0123456789") for _ in range(12)) for _ in range(2)]
    now = utcnow()
    offline = "recall-buyer-" + "".join(rng.choice("0123456789") for _ in range(8))
    with transaction() as session:
        session.add(Customer(id=offline, name="이서연", created_at=now))
        session.add(Listing(id=listing_id, seller_id="S-1006", brand_id=session.execute(
            select(Listing.brand_id).where(Listing.id == "1005006000202646")).scalar_one(),
            title="젠틀몬스터 리콜 테스트 선글라스", price_krw=259000, status="active"))
        session.flush()
        for number, customer in zip(numbers, ("shopper-3", offline)):
            session.add(Order(number=number, customer_id=customer, listing_id=listing_id,
                              product_name="젠틀몬스터 리콜 테스트 선글라스", amount_krw=259000,
                              paid_at=now - timedelta(days=6), delivered_at=now - timedelta(days=2), status="delivered"))
    return listing_id, numbers[0], numbers[1], offline


def test_the_notice_arrives_and_the_button_refunds_once(chat_as):
    listing_id, mine, theirs, offline = _listing_with_two_buyers()
    chat = chat_as("shopper-3")
    assert "젠틀몬스터 리콜 테스트 선글라스" in chat.text("최근 주문 보여줘")  # shopper-3 uses the web chat
    case = inspections.add(listing_id, "fake", "한국소비자검사원", actor="cli:e2e")
    assert (case.decided, case.recalls) == (True, 2)

    messages = chat.say("안녕하세요")
    # Notifications come first in the answer, marked 🔔.
    notices = [m for m in messages if m.get("text", "").startswith("🔔 [리콜 안내]")]
    assert len(notices) == 1
    assert f"주문번호 {mine}" in notices[0]["text"] and "259,000원" in notices[0]["text"]
    assert notices[0]["buttons"] == [{"title": "환불받기", "payload": f'/claim_recall{{"order_number":"{mine}"}}'}]
    assert not any("[리콜 안내]" in m.get("text", "") for m in chat.say("고마워요"))  # delivered once

    refunded = "\n".join(m.get("text", "") for m in chat.tap(notices, "환불받기"))
    assert "259,000원을 환불해 드렸어요" in refunded and "신고번호는 RPT-" in refunded
    again = "\n".join(m.get("text", "") for m in chat.say(notices[0]["buttons"][0]["payload"]))
    assert "이미 환불됐어요" in again
    with transaction() as session:
        assert session.execute(select(func.count(Refund.id)).where(Refund.order_number == mine)).scalar_one() == 1
        assert session.execute(select(func.count(RecallNotice.id))
                               .where(RecallNotice.order_number.in_([mine, theirs]))).scalar_one() == 2
    unreached = recalls.list_recalls(case.case_number)
    assert [(r.customer_id, r.order_number) for r in unreached] == [(offline, theirs)]
