"""A shopper reports a fake through the REST channel, against real Rasa and action servers."""
from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from bot.nlu.faq import load_entries
from bot.services import reports

pytestmark = pytest.mark.e2e


NO_DOCUMENTS_ANSWER = next(e.answer for e in load_entries() if e.id == "no_documents")


def _order(orders_by_customer, customer, delivered_days_ago):
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == delivered_days_ago)


def jpeg(seed: int) -> bytes:
    """A distinct picture per seed (random blocks), so perceptual hashes differ between seeds."""
    rng = random.Random(seed)
    image = Image.new("RGB", (64, 64))
    for x in range(0, 64, 8):
        for y in range(0, 64, 8):
            image.paste(tuple(rng.randrange(256) for _ in range(3)), (x, y, x + 8, y + 8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def test_fake_report_asks_for_the_order_and_confirms_it(chat_as, orders_by_customer):
    """The foundation path: 가품 받은 것 같아요 → asked for the order → own order confirmed."""
    order = _order(orders_by_customer, "shopper-1", 45)
    chat = chat_as("shopper-1")
    asked = chat.text("가품 받은 것 같아요")
    assert "주문번호" in asked
    spaced = " ".join(order["number"][i:i + 4] for i in range(0, 16, 4))
    confirmed = chat.text(spaced)
    assert "주문을 확인했어요" in confirmed
    assert order["product_name"] in confirmed and f"{order['amount_krw']:,}원" in confirmed
    assert "의심되나요" in confirmed  # and the form goes on to the next question
    assert "취소" in chat.text("그만할래요")


def test_happy_path_with_photos_refunds_once(chat_as, orders_by_customer):
    order = _order(orders_by_customer, "shopper-1", 5)
    chat = chat_as("shopper-1")
    first = chat.text(f"{order['number']} 주문한 신발이 짝퉁 같아요")
    assert "주문을 확인했어요" in first and "의심되나요" in first
    assert "사진" in chat.text("로고 위치가 정품이랑 다르고 박음질이 엉망이에요")
    after_photos = chat.text("사진 보낼게요", photos=[jpeg(1), jpeg(2)])
    assert "사진 2장을 받았어요" in after_photos and "이대로 신고할까요" in after_photos
    assert "사진: 2장" in after_photos
    done = chat.text("네")
    assert "신고번호는 RPT-" in done and f"{order['amount_krw']:,}원을 환불해 드렸어요" in done
    number = done.split("신고번호는 ")[1][:15]
    report = reports.get_report(number, customer_id="shopper-1")
    assert report.refund_status == "granted" and report.photo_count == 2
    # The same claim again: refused, with the date and the amount.
    chat.say("가품 신고할게요")
    again = chat.text(order["number"])
    assert "이미 환불됐어요" in again and f"{order['amount_krw']:,}원" in again


def test_one_click_report_from_the_order_list(chat_as, orders_by_customer):
    order = _order(orders_by_customer, "shopper-2", 5)
    chat = chat_as("shopper-2")
    listing = chat.say("최근 주문 보여주세요")
    assert any(order["number"] in m.get("text", "") for m in listing)
    tapped = chat.tap(listing, order["product_name"])
    text = "\n".join(m.get("text", "") for m in tapped)
    assert "주문을 확인했어요" in text and "의심되나요" in text
    chat.say("정품이랑 냄새가 달라요")
    assert "이대로 신고할까요" in chat.text("없어요")
    assert "RPT-" in chat.text("네")


@pytest.mark.parametrize("case", ["not_own", "not_delivered", "out_of_window"])
def test_refusals(chat_as, orders_by_customer, case):
    if case == "not_own":
        sender, number = "shopper-3", _order(orders_by_customer, "shopper-4", 5)["number"]
        expected = "찾을 수 없어요"
    elif case == "not_delivered":
        sender, number = "shopper-3", _order(orders_by_customer, "shopper-3", None)["number"]
        expected = "배송이 완료되지 않았어요"
    else:
        sender, number = "shopper-3", _order(orders_by_customer, "shopper-3", 120)["number"]
        expected = "환불 보장 기간"
    chat = chat_as(sender)
    chat.say("환불 신청하고 싶어요")
    answer = chat.text(number)
    assert expected in answer
    assert "RPT-" not in answer


def test_invalid_order_numbers_get_a_hint_and_then_a_way_out(chat_as):
    chat = chat_as("shopper-3")
    chat.say("가짜 상품 신고하려고요")
    first = chat.say("818123456789012")
    assert "16자리" in first[0]["text"] and "15자리" in first[0]["text"]
    second = chat.say("IPP-2026-000123")
    assert "케이스 번호" in second[0]["text"]
    # No agents' desk in these servers: no person offered that could not come, only the way out.
    assert [b["payload"] for b in second[0].get("buttons") or []] == ["/stop"]
    assert "취소" in chat.text("그만")


def test_stop_midway_creates_nothing(chat_as, orders_by_customer):
    order = _order(orders_by_customer, "shopper-4", 20)
    chat = chat_as("shopper-4")
    chat.say("가품 신고")
    chat.say(order["number"])
    assert "취소" in chat.text("그만할래요")
    assert reports.list_reports(customer_id="shopper-4") == []


def test_a_policy_question_midway_then_back(chat_as, orders_by_customer):
    order = _order(orders_by_customer, "shopper-4", 5)
    chat = chat_as("shopper-4")
    chat.say("짝퉁 받았어요")
    chat.say(order["number"])
    answer = chat.text("증빙 서류 없어도 환불되나요?")
    assert NO_DOCUMENTS_ANSWER in answer
    assert "의심되나요" in answer  # back to where we were
    chat.say("시리얼 넘버가 없어요")
    chat.say("없어요")
    assert "RPT-" in chat.text("네")


def test_a_file_that_is_not_an_image(chat_as, orders_by_customer):
    order = _order(orders_by_customer, "shopper-5", 5)
    chat = chat_as("shopper-5")
    chat.say(f"{order['number']} 가품 신고합니다")
    chat.say("가죽 냄새가 이상해요")
    refused = chat.text("사진이요", raw_photos=["bm90IGFuIGltYWdlIGF0IGFsbA=="])
    assert "사진 파일이 아니에요" in refused
    assert "이대로 신고할까요" in chat.text("사진", photos=[jpeg(3)])
    assert "RPT-" in chat.text("네")


def test_the_same_photo_on_another_order_is_held_for_review(chat_as, orders_by_customer):
    chat = chat_as("shopper-6")
    photo = jpeg(7)
    for n, days in enumerate((5, 20)):
        order = _order(orders_by_customer, "shopper-6", days)
        chat.say(f"{order['number']} 가품이에요")
        chat.say("로고가 이상해요")
        chat.say("사진", photos=[photo])
        done = chat.text("네")
        if n == 0:
            assert "환불해 드렸어요" in done
        else:
            assert "담당자가 직접 확인" in done and "환불해 드렸어요" not in done
