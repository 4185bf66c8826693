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


# ---------------------------------------------------------------- conversations that forgive (issue 15)

def test_a_shopper_who_never_types_a_number_picks_by_name_and_corrects_at_the_summary(chat_as, orders_by_customer):
    order = _order(orders_by_customer, "shopper-2", 20)  # 구찌 GG 마몽 숄더백
    chat = chat_as("shopper-2")
    asked = chat.say("구찌 가방 가품 같아요")
    assert asked[-1]["text"].startswith(f"{order['product_name']} (")
    assert asked[-1]["text"].endswith("주문 말씀이신가요?")
    assert [b["payload"] for b in asked[-1]["buttons"]] == ["/affirm", "/deny"]
    confirmed = chat.text("ㅇㅇ")
    assert "주문을 확인했어요" in confirmed and "의심되나요" in confirmed
    assert "사진" in chat.text("로고가 삐뚤어요")
    summary = chat.say("사진 없어요")
    assert "이대로 신고할까요" in summary[-1]["text"]
    change = chat.say("아니요")
    assert change[-1]["text"] == "무엇을 바꿀까요?"
    assert [b["title"] for b in change[-1]["buttons"]] == ["주문 바꾸기", "내용 고치기", "사진 추가", "신고 취소"]
    asked_again = chat.tap(change, "내용 고치기")
    assert "의심되나요" in asked_again[-1]["text"]
    summary = chat.say("로고 위치가 정품이랑 달라요")
    assert "· 의심되는 점: 로고 위치가 정품이랑 달라요" in summary[-1]["text"]
    done = chat.text("ㅇㅋ 신고")
    assert "신고번호는 RPT-" in done
    assert order["number"] in [r.order_number for r in reports.list_reports(customer_id="shopper-2")]


def test_the_second_order_in_the_list_just_shown(chat_as):
    chat = chat_as("shopper-6")
    listed = chat.text("내 주문 보여줘")
    second = listed.split("\n2. ")[1].split(" · ")[0]
    asked = chat.say("2번 신고할게")
    assert asked[-1]["text"].startswith(f"{second} (") and asked[-1]["text"].endswith("말씀이신가요?")
    assert [b["payload"] for b in asked[-1]["buttons"]] == ["/affirm", "/deny"]
    again = chat.say("노노")
    assert again[0]["text"] == "알겠어요. 아래 목록에서 골라 주세요."
    assert "취소" in chat.text("그만")


def test_not_this_one_while_describing_changes_the_order(chat_as, orders_by_customer):
    dryer = _order(orders_by_customer, "shopper-2", 45)  # 다이슨 슈퍼소닉 헤어드라이어
    sunglasses = _order(orders_by_customer, "shopper-2", 120)  # 젠틀몬스터 하이디 선글라스
    chat = chat_as("shopper-2")
    asked = chat.say("다이슨 드라이기 짝퉁 같아요")
    assert asked[-1]["text"].startswith(f"{dryer['product_name']} (")
    assert "의심되나요" in chat.text("넵")
    changed = chat.say("아 잠깐만요 이거 말고 젠틀몬스터 선글라스요")
    assert changed[-1]["text"].startswith(f"{sunglasses['product_name']} (")
    assert "취소" in chat.text("그만할래요")


def test_first_contact_per_role(chat_as):
    shopper = chat_as("shopper-2").say("안녕하세요")
    assert shopper[-1]["text"].startswith("안녕하세요, 이서준님. 클린봇이에요.")
    assert [b["title"] for b in shopper[-1]["buttons"]] == ["가품 신고하기", "내 주문 보기", "신고 처리 현황"]
    holder = chat_as("brand-nike").say("안녕하세요")
    assert holder[-1]["text"].startswith("안녕하세요, Nike 권리자님.")
    assert [b["title"] for b in holder[-1]["buttons"]] == ["케이스 접수", "케이스 목록", "브랜드 현황"]
    visitor = chat_as("visitor-e2e-1").say("안녕하세요")
    assert visitor[-1]["text"].startswith("안녕하세요, 클린봇이에요.")
    assert "브랜드 권리자 인증" in [b["title"] for b in visitor[-1]["buttons"]]
    manager = chat_as("visitor-e2e-2").text("브랜드 담당자인데 가품 판매자 신고는 어디서 해요?")
    assert "인증" in manager and "로그인" not in manager


def test_no_dead_ends_without_agents(chat_as):
    chat = chat_as("shopper-2")
    person = chat.say("상담원 연결해 주세요")
    assert "잠시 후 다시" not in person[-1]["text"]
    assert "/request_human" not in [b["payload"] for b in person[-1].get("buttons") or []]
    assert "환불 규정 보기" in [b["title"] for b in person[-1]["buttons"]]
    rules = chat.text("환불 규정 알려줘")
    assert "90일" in rules and "100%" in rules
    strike = chat.text("스트라이크가 뭐야")
    assert strike.startswith("스트라이크는 가품을 판 판매자가 받는 경고예요.")
