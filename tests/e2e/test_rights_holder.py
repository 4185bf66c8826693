"""Rights holders through the REST channel, against real Rasa and action servers: verification with a
code (and its refusals and lock), filing an IPP case, following it, a state change by the team's
command line reaching the holder with their next message, and the brand report."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, update

from bot.clock import utcnow
from bot.db import transaction
from bot.models import Brand, BrandOwnerInvite, IppCase, Listing
from bot.services import ipp, notifier
from bot.services.identity import resolve
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

CASE_NUMBER = re.compile(r"IPP-\d{4}-\d{6}")
# Listings of this module only (no shopper test reports on them).
LISTINGS = {
    "1005009900000001": ("Nike", "나이키 에어맥스 97 (테스트)"),
    "1005009900000002": ("Nike", "나이키 코르테즈 (테스트)"),
    "1005009900000003": ("Nike", "나이키 조던 1 로우 (테스트)"),
    "1005009900000004": ("Chanel", "샤넬 코코 크러쉬 링 (테스트)"),
    "1005009900000005": ("Chanel", "샤넬 No.5 오 드 빠르펭 (테스트)"),
}
for n in range(6, 14):  # 6-12: the case list's pages; 13: the command line's state change
    LISTINGS[f"10050099000000{n:02d}"] = ("Nike", f"나이키 테스트 상품 {n}")


def cleanbot(*args: str) -> subprocess.CompletedProcess:
    """The team's command line, as a real process against the e2e server's database."""
    exe = Path(sys.executable).parent / "cleanbot"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(command + list(args), cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def listings(bot_server):
    with transaction() as session:
        for listing_id, (brand, title) in LISTINGS.items():
            if session.get(Listing, listing_id) is None:
                brand_id = session.execute(select(Brand.id).where(Brand.name == brand)).scalar_one()
                session.add(Listing(id=listing_id, seller_id="S-1001", brand_id=brand_id, title=title,
                                    price_krw=99000, status="active"))
    return LISTINGS


def drain(sender: str) -> None:
    """Takes status updates waiting for the sender, so an answer holds only what the test expects."""
    notifier.take_pending_for("web", sender)


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def jpeg(seed: int) -> bytes:
    image = Image.new("RGB", (64, 48), (seed * 50 % 255, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def new_code(brand: str, name: str) -> str:
    made = cleanbot("brand-owner", "invite", brand, "--name", name, "--json")
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)["code"]


# --------------------------------------------------------------------------- verification


def test_verify_with_a_code_after_a_wrong_one(chat_as):
    chat = chat_as("holder-new-1")
    asked = chat.text("권리자 인증하려고 해요")
    assert "8자리 인증 코드" in asked
    wrong = chat.text("ZZZZ2222")
    assert "맞지 않아요" in wrong and "'그만'" in wrong
    code = new_code("다이슨", "다이슨코리아 IP팀")
    done = chat.say(code)
    assert "인증이 완료되었어요" in texts(done) and "Dyson" in texts(done) and "다이슨코리아 IP팀" in texts(done)
    assert any(b["payload"] == "/open_ipp_case" for m in done for b in m.get("buttons") or [])
    assert [h.brand_name for h in resolve("rest", "holder-new-1").holder_brands] == ["Dyson"]
    # Verified now: brand-owner things work.
    assert "아직 볼 수 있는 케이스가 없어요" in chat.text("케이스 목록 보여줘")


def test_used_and_expired_codes_are_refused(chat_as):
    code = new_code("Moncler", "몽클레르코리아")
    assert "인증이 완료되었어요" in chat_as("holder-new-2").text(f"권리자 인증 코드 {code}")
    used = chat_as("holder-new-3").text(f"인증코드 {code} 입력합니다")
    assert "이미 사용된 인증 코드" in used and "새 코드를 요청" in used
    expired_code = new_code("Samsung", "삼성전자 IP센터")
    with transaction() as session:
        session.execute(update(BrandOwnerInvite).where(BrandOwnerInvite.code == expired_code)
                        .values(expires_at=utcnow() - timedelta(hours=1)))
    expired = chat_as("holder-new-3").text(f"코드 {expired_code}로 인증해 주세요")
    assert "유효 기간이 지난 인증 코드" in expired
    assert resolve("rest", "holder-new-3").holder_brands == ()


def test_five_wrong_codes_lock_verification(chat_as):
    chat = chat_as("holder-new-4")
    chat.say("권리자 인증")
    answers = [chat.text(code) for code in ("ZZZZ2223", "ZZZZ2224", "ZZZZ2225", "ZZZZ2226")]
    assert all("맞지 않아요" in a for a in answers)
    assert "1번 더 틀리면" in answers[-1]
    fifth = chat.text("ZZZZ2227")
    assert "잠겼어요" in fifth and "이후에 다시 시도해 주세요" in fifth
    good = new_code("Sulwhasoo", "설화수 브랜드보호팀")
    locked = chat.text(f"권리자 인증 코드 {good}")
    assert "잠시 잠겼어요" in locked and "인증이 완료" not in locked
    assert resolve("rest", "holder-new-4").holder_brands == ()


def test_someone_not_verified_is_told_how_to_get_verified(chat_as):
    chat = chat_as("holder-new-5")
    for message in ("케이스 목록 보여줘", "저희 상표 도용한 상품 신고합니다", "이번 달 통계", "IPP-2026-000001 상태 알려주세요"):
        answer = chat.say(message)
        assert "인증된 브랜드 권리자만" in texts(answer), message
        assert any(b["payload"] == "/register_brand_owner" for m in answer for b in m.get("buttons") or [])


# --------------------------------------------------------------------------- filing


def test_file_a_case_with_a_photo_then_a_duplicate_is_refused(chat_as, listings):
    chat = chat_as("brand-nike")
    drain("brand-nike")
    first = chat.say("리스팅 1005009900000001 위조품입니다 테이크다운 요청")
    assert "신고할 상품을 확인했어요" in texts(first) and "에어맥스 97" in texts(first)
    typed = chat.tap(first, "위조품")
    assert "상표 등록번호" in texts(typed)
    bad = chat.text("40-12345")
    assert "형식" in bad
    assert "설명해 주세요" in chat.text("40-2020-1234567")
    assert "증거 사진" in chat.text("정품 로고를 그대로 찍은 위조 운동화를 정가의 10분의 1에 팔고 있어요")
    summary = chat.text("사진 첨부합니다", photos=[jpeg(1)])
    assert "증거 사진 1장을 받았어요" in summary and "이대로 접수할까요" in summary
    assert "40-2020-1234567" in summary and "위조품(가품)" in summary
    done = chat.text("네")
    assert "케이스 번호는 IPP-" in done and "영업일" in done and "까지" in done  # what next, and how long
    number = CASE_NUMBER.search(done).group(0)
    view = ipp.visible_case(resolve("rest", "brand-nike").brand_ids, number)
    assert view.state == "submitted" and view.source == "rights_holder" and view.photo_count == 1
    assert view.trademark_number == "40-2020-1234567" and view.infringement_type == "counterfeit"
    # The same listing again: refused with the existing number, nothing new.
    chat.say("케이스 접수할게요")
    again = chat.text("https://ko.aliexpress.com/item/1005009900000001.html")
    assert "이미 신고하신 케이스" in again and number in again
    with transaction() as session:
        assert len(session.execute(select(IppCase).where(IppCase.listing_id == "1005009900000001")).all()) == 1


def test_another_brands_listing_and_an_unknown_listing_are_refused(chat_as, listings):
    chat = chat_as("brand-chanel")
    drain("brand-chanel")
    other = chat.text("상품 1005009900000002 권리침해 신고할게요")
    assert "Nike 상품이라 신고하실 수 없어요" in other and "Chanel" in other
    chat.say("IPP 신고 접수")
    unknown = chat.text("1005000000000009")
    assert "찾을 수 없어요" in unknown and "다시 확인" in unknown
    assert "취소" in chat.text("그만할래요")


def test_stop_midway_creates_nothing_and_a_question_midway_resumes(chat_as, listings):
    chat = chat_as("brand-chanel")
    drain("brand-chanel")
    chat.say("샤넬 상표권 침해 상품 접수합니다")
    chat.say("1005009900000004")
    chat.say("상표권 침해")
    assert "설명해 주세요" in chat.text("40-1234567")
    answer = chat.text("증빙 서류 없어도 환불되나요?")
    assert "설명해 주세요" in answer  # the question is answered and the form asks again
    assert "취소" in chat.text("그만할래요")
    with transaction() as session:
        assert session.execute(select(IppCase).where(IppCase.listing_id == "1005009900000004")).first() is None


# --------------------------------------------------------------------------- following cases


def _file_for(sender: str, listing_id: str) -> str:
    who = resolve("rest", sender)
    outcome = ipp.file_case(who.holder_brands, "web", sender, listing_id, "trademark", "40-1234567", "로고 도용", [])
    assert outcome.status == "opened", outcome  # each listing is filed by one test only
    return outcome.case_number


def test_status_by_number_and_latest_list_and_timeline(chat_as, listings):
    chat = chat_as("brand-nike")
    number = _file_for("brand-nike", "1005009900000002")
    drain("brand-nike")
    by_number = chat.say(f"{number} 어디까지 진행됐나요?")
    text = texts(by_number)
    assert f"{number} 케이스 현황" in text and "상태: 접수" in text and "다음 단계" in text and "마지막 변경" in text
    latest = chat.text("케이스 상태 알려줘")
    assert "가장 최근에 바뀐 케이스" in latest and number in latest
    timeline = chat.tap(by_number, "전체 이력")
    assert f"{number} 처리 이력" in texts(timeline) and "접수" in texts(timeline)
    assert f"{number} 처리 이력" in chat.text("타임라인 보여줘")  # the case in focus
    filed = [number] + [_file_for("brand-nike", f"10050099000000{n:02d}") for n in range(6, 13)]
    drain("brand-nike")
    listed = chat.say("케이스 목록 보여주세요")
    first_page = texts(listed)
    assert "진행 중인 케이스는" in first_page and "(1/" in first_page
    next_page = chat.tap(listed, "다음")
    assert "(2/" in texts(next_page)
    numbers = CASE_NUMBER.findall(first_page) + CASE_NUMBER.findall(texts(next_page))
    brand_ids = resolve("rest", "brand-nike").brand_ids
    expected = [c.number for page in (1, 2) for c in ipp.list_visible_cases(brand_ids, page).items]
    assert list(dict.fromkeys(numbers)) == expected  # the first two pages' cases, in the list's order, each once
    assert set(filed) <= set(expected)  # the eight filed here (most recently changed) among them


def test_another_brands_case_gets_exactly_the_missing_case_answer(chat_as, listings):
    number = _file_for("brand-nike", "1005009900000003")
    chat = chat_as("brand-chanel")
    drain("brand-chanel")
    other_brand = chat.say(f"{number} 상태 알려주세요")
    drain("brand-chanel")
    missing = chat.say("IPP-2026-999999 상태 알려주세요")

    def without_number(messages, num):
        return json.dumps(messages, ensure_ascii=False).replace(num, "<번호>")

    assert without_number(other_brand, number) == without_number(missing, "IPP-2026-999999")
    assert "찾을 수 없어요" in texts(missing)
    drain("brand-chanel")
    timeline_other = chat.say(f"{number} 타임라인 보여줘")
    drain("brand-chanel")
    timeline_missing = chat.say("IPP-2026-999999 타임라인 보여줘")
    assert without_number(timeline_other, number) == without_number(timeline_missing, "IPP-2026-999999")


def test_a_state_change_by_the_cli_reaches_the_holder_with_the_next_message(chat_as, listings):
    chat = chat_as("brand-nike")  # (its fresh start answered before the change below)
    number = _file_for("brand-nike", "1005009900000013")
    drain("brand-nike")
    moved = cleanbot("cases", "set-status", number, "under_review", "--note", "판매자 소명을 요청했어요")
    assert moved.returncode == 0, moved.stderr
    messages = chat.say("안녕하세요")
    update_index = next(i for i, m in enumerate(messages) if number in m.get("text", ""))
    assert update_index == 0  # before the bot's own answer, which it would otherwise bury
    assert messages[update_index]["text"].startswith("🔔 ")
    assert messages[-1]["text"].startswith("안녕하세요, Nike 권리자님.")  # the greeting for a verified holder
    assert "'검토 중'으로 바뀌었어요" in messages[update_index]["text"]
    assert "판매자 소명을 요청했어요" in messages[update_index]["text"]
    assert messages[update_index]["recipient_id"] == "brand-nike"
    assert number not in chat.text("감사합니다")  # delivered once
    refused = cleanbot("cases", "set-status", number, "closed")
    assert refused.returncode == 1 and "바꿀 수 없어요" in refused.stderr


def test_brand_report_with_a_chart(chat_as, listings, bot_server):
    chat = chat_as("brand-nike")
    drain("brand-nike")
    messages = chat.say("이번 달 통계 보여주세요")
    text = texts(messages)
    assert "Nike 브랜드 현황" in text and "이번 달" in text and "새 케이스" in text and "삭제된 상품" in text
    assert "구매자 가품 신고" in text and "평균" in text
    image = next(m["image"] for m in messages if m.get("image"))
    path = urllib.parse.urlparse(image).path
    assert path.startswith("/webhooks/rest/charts/") and path.endswith(".png")
    with urllib.request.urlopen(f"{bot_server.rasa_url}{path}", timeout=30) as reply:
        assert reply.headers["Content-Type"] == "image/png" and reply.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{bot_server.rasa_url}/webhooks/rest/charts/..%2F..%2Fcredentials.yml", timeout=30)
    assert missing.value.code == 404
    assert "지난달" in chat.text("지난달 리포트 뽑아주세요")
