"""The KakaoTalk channel end to end: a fake Open Builder client speaking real HTTP, with requests in the
recorded skill format (docs/kakao.md), against real Rasa and action servers; a local HTTP server plays
Kakao's image host and the callback URLs.

A shopper links their account with a 6-digit code, reports a fake with photos (the download is slow, so the
answer comes through the callback URL), taps a listCard item and a quick reply, and gets the refund; an
unlinked shopper is told how to link; a rights holder's case status update comes with their next answer;
a wrong secret, a huge utterance and a photo from another host."""
from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
from sqlalchemy import select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import Brand, ChatIdentity, HolderIdentity, Listing, Photo, RightsHolder
from bot.services import cases, reports
from bot.settings import PROJECT_ROOT
from tests.conftest import _prepare
from tests.connectors.conftest import jpeg
from tests.connectors.fake_kakao import FakeKakao, OpenBuilder, text_of

pytestmark = pytest.mark.e2e

SECRET = "kakao-e2e-secret-0123456789abcdef-xyz"
API_TOKEN = "kakao-e2e-api-token-0123456789abcdef"
BLOCK_ID = "5f0000000000000000000001"
SLOW_IMAGE_SECONDS = 2.5  # longer than the stack's answer budget: the answer must take the callback


@dataclass
class KakaoStack:
    servers: Any
    kakao: FakeKakao  # callback URLs and the image host
    env: dict

    @property
    def skill_url(self) -> str:
        return f"{self.servers.rasa_url}/webhooks/kakao/skill"


@pytest.fixture(scope="module")
def kakao_stack(tmp_path_factory):
    from bot.nlu.training import train_if_changed
    from bot.server.runner import BotServers, free_port
    from bot.db import dispose_engines

    home = tmp_path_factory.mktemp("kakao-e2e")
    model = train_if_changed()
    url = f"sqlite:///{home / 'cleanbot.db'}"
    _prepare(url)
    side = FakeKakao(slow_seconds=SLOW_IMAGE_SECONDS).start()
    credentials = home / "credentials.yml"
    credentials.write_text("connectors.rest.CleanBotRestInput:\n\nconnectors.kakao.KakaoSkillInput:\n", encoding="utf-8")
    rasa_port = free_port()
    env = {"CLEANBOT_DATABASE_URL": url, "CLEANBOT_PHOTO_DIR": str(home / "photos"),
           "CLEANBOT_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}", "CLEANBOT_API_TOKEN": API_TOKEN,
           "CLEANBOT_MESSAGES_PER_MINUTE": "120", "CLEANBOT_KAKAO_ENABLED": "1", "CLEANBOT_KAKAO_SKILL_SECRET": SECRET,
           "CLEANBOT_KAKAO_IMAGE_HOSTS": "127.0.0.1", "CLEANBOT_KAKAO_IMAGE_TIMEOUT_SECONDS": "8",
           "CLEANBOT_KAKAO_ANSWER_SECONDS": "2", "CLEANBOT_KAKAO_CALLBACK_SECONDS": "55",
           "CLEANBOT_KAKAO_BLOCK_ID": BLOCK_ID}
    servers = BotServers(model, rasa_port, free_port(), env=env, log_dir=Path("test-artifacts") / "kakao-e2e-logs",
                         credentials=credentials)
    # The servers' settings in this process too, so the tests look into the same database.
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        try:
            servers.start()
            yield KakaoStack(servers, side, env)
        finally:
            servers.stop()
            side.stop()
            dispose_engines()


def builder(stack: KakaoStack, user: str, callback: bool = True) -> OpenBuilder:
    return OpenBuilder(stack.skill_url, stack.kakao, user, SECRET, BLOCK_ID, callback)


def cleanbot(stack: KakaoStack, *args: str) -> str:
    env = {**os.environ, **stack.env, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _order(orders_by_customer, customer, delivered_days_ago):
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == delivered_days_ago)


def tracker_texts(stack: KakaoStack, user: str) -> list[str]:
    url = f"{stack.servers.rasa_url}/conversations/{user}/tracker?token={API_TOKEN}"
    with urllib.request.urlopen(url, timeout=30) as reply:
        tracker = json.loads(reply.read())
    return [e.get("text") or "" for e in tracker["events"] if e.get("event") == "user"]


# ---------------------------------------------------------------- the shopper


def test_a_shopper_links_reports_a_fake_with_photos_and_gets_the_refund(kakao_stack, orders_by_customer):
    order = _order(orders_by_customer, "shopper-1", 5)
    user = builder(kakao_stack, "kb" + "a1" * 20)
    issued = json.loads(cleanbot(kakao_stack, "shopper", "link-code", "shopper-1", "--json"))
    linked = user.say(f"연동 {issued['code']}")
    assert text_of(linked) == "김민지님, 마켓플레이스 계정이 카카오톡에 연동됐어요. 이제 여기서 가품 신고와 환불 신청을 바로 하실 수 있어요."

    asked = user.say("가품 받은 것 같아요")
    assert "어떤 주문을 신고하시겠어요" in text_of(asked)
    listed = [i for o in asked["outputs"] for i in o.get("listCard", {}).get("items", [])]
    # Titles are numbered as in the list ("2. 상품명"), so "2번" works too; long ones are cut with "…".
    assert any(order["product_name"].startswith(re.sub(r"^\d+\. ", "", i["title"]).rstrip("…")) for i in listed)
    confirmed = user.tap(asked, order["product_name"][:10])
    assert "주문을 확인했어요" in text_of(confirmed) and f"{order['amount_krw']:,}원" in text_of(confirmed)
    assert "사진" in text_of(user.say("로고 위치가 정품이랑 다르고 박음질이 엉망이에요"))

    # Two photos through the secure image plugin; the download is slow, so the answer takes the callback.
    kakao_stack.kakao.images["/slow/dn/a.jpg"] = jpeg(21, (320, 240))
    kakao_stack.kakao.images["/slow/dn/b.jpg"] = jpeg(22, (320, 240))
    secure = json.dumps({"privacyAgreement": "Y", "imageQuantity": "2", "expire": "2026-12-31T00:00:00",
                         "secureUrls": f"List({kakao_stack.kakao.url}/slow/dn/a.jpg, {kakao_stack.kakao.url}/slow/dn/b.jpg)"})
    before = len(user.paths)
    summary = user.say("사진 보낼게요", params={"photo": secure})
    assert user.paths[before:] == ["callback"]
    assert "사진 2장을 받았어요" in text_of(summary) and "이대로 신고할까요" in text_of(summary)
    assert "사진: 2장" in text_of(summary)

    done = user.tap(summary, "네, 신고할게요")
    assert f"{order['amount_krw']:,}원을 환불해 드렸어요" in text_of(done)
    number = text_of(done).split("신고번호는 ")[1][:15]
    report = reports.get_report(number, customer_id="shopper-1")
    assert report.refund_status == "granted" and report.photo_count == 2


def test_an_unlinked_shopper_is_told_how_to_link(kakao_stack):
    user = builder(kakao_stack, "kb" + "b2" * 20)
    answer = text_of(user.say("최근 주문 보여주세요"))
    assert "아직 마켓플레이스 계정이 연동되지 않았어요" in answer and "'연동 123456'처럼 보내 주시면" in answer


def test_a_wrong_secret_is_refused_and_nothing_reaches_the_bot(kakao_stack):
    user = builder(kakao_stack, "kb" + "c3" * 20)
    assert user.post(user.request("안녕하세요"), secret="not-the-secret") == (403, {"error": "forbidden", "code": "forbidden"})
    assert user.post(user.request("안녕하세요"), secret=None)[0] == 403
    with contextlib.suppress(urllib.error.HTTPError):
        assert tracker_texts(kakao_stack, user.user) == []


def test_a_huge_utterance_is_cut_and_answered(kakao_stack):
    user = builder(kakao_stack, "kb" + "d4" * 20)
    template = user.say("가품 " * 15_000)  # 45,000 characters, 90 KB of JSON
    assert text_of(template)
    said = tracker_texts(kakao_stack, user.user)
    assert len(said[-1]) == 10_000


def test_a_photo_from_another_host_is_refused(kakao_stack):
    user = builder(kakao_stack, "kb" + "e5" * 20)
    with transaction() as session:
        photos_before = len(session.execute(select(Photo.sha256)).all())
    template = user.say("https://evil.example/fake.jpg")
    assert text_of(template) == ("evil.example은 사진을 받아 올 수 없는 주소예요. 카카오톡 대화창의 사진 보내기로 "
                                 "사진을 직접 올려 주세요.")
    with transaction() as session:
        assert len(session.execute(select(Photo.sha256)).all()) == photos_before


# ---------------------------------------------------------------- a rights holder's status update


def test_a_rights_holders_status_update_comes_with_the_next_answer(kakao_stack):
    user = builder(kakao_stack, "kb" + "f6" * 20)
    with transaction() as session:
        brand = session.execute(select(Brand).where(Brand.name == "Samsung")).scalar_one()
        holder = RightsHolder(name="Samsung 권리자 카카오", brand_id=brand.id, verified_at=utcnow())
        identity = ChatIdentity(channel="kakao", external_id=user.user, created_at=utcnow())
        session.add_all([holder, identity])
        session.flush()
        session.add(HolderIdentity(rights_holder_id=holder.id, identity_id=identity.id, created_at=utcnow()))
    with transaction() as session:
        case = cases.open_case(session, listing=session.get(Listing, "1005006000242241"), source="rights_holder",
                               actor="test", note="권리자 신고로 접수되었어요.", infringement_type="counterfeit")
        number = case.number
    answer = text_of(user.say("안녕하세요"))
    assert number in answer and "새로 접수되었어요" in answer
    again = text_of(user.say("안녕하세요"))
    assert number not in again  # delivered once
