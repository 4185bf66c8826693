"""A shopper asks about a seller before buying, through the REST channel against real Rasa and action
servers: by listing id, by item URL, and without one (asked which listing, recent orders as buttons)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_by_listing_id_and_by_item_url(chat_as):
    chat = chat_as("shopper-2")
    answer = chat.text("1005006000123456 이 판매자 믿어도 돼요?")
    assert "판매자 스포츠마켓 · Nike 공식 인증 판매자" in answer
    assert "증빙 없이 100% 환불해 드려요." in answer
    answer = chat.text("https://ko.aliexpress.com/item/1005006000155132.html 여기서 사도 돼요?")
    assert "판매자 럭셔리아울렛 · 사업자 인증 판매자" in answer


def test_without_a_listing_it_asks_which_one(chat_as, orders_by_customer):
    chat = chat_as("shopper-2")
    asked = chat.say("이 판매자 믿을만해요?")
    assert asked[0]["text"].startswith("어떤 상품의 판매자를 확인해 드릴까요?")
    order = orders_by_customer["shopper-2"][0]
    answer = "\n".join(m.get("text", "") for m in chat.tap(asked, order["product_name"]))
    assert f"{order['product_name']} (" in answer and "판매자 " in answer
    asked = chat.say("판매자 확인 좀 해주세요")
    typed = chat.text("1005006000131375")
    assert "판매자 글로벌패션몰 · 미인증 판매자" in typed
