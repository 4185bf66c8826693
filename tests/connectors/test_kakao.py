"""The KakaoTalk skill channel (connectors/kakao.py) without Rasa: the response builder against Kakao's limits,
the request parsing, and the skill's logic driven with a stand-in for Rasa (fast, slow, failing) and real
local HTTP servers for the callback URL and the image host. The whole channel against real Rasa and action
servers is in tests/e2e/test_kakao.py."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Optional

import pytest

from connectors import kakao
from connectors.kakao import (KakaoSkill, SkillRequest, build_response, host_allowed, label, photo_urls,
                              split_text)
from tests.connectors.conftest import jpeg
from tests.connectors.fake_kakao import FakeKakao


# ---------------------------------------------------------------- the builder


def test_split_text_cuts_at_line_breaks_within_the_limit():
    text = "\n".join(f"{i:03d} " + "가" * 95 for i in range(25))  # 25 lines of 99 characters
    parts = split_text(text)
    assert [len(p) for p in parts] == [999, 999, 499]
    assert "\n".join(parts) == text
    assert split_text("가" * 2500) == ["가" * 1000, "가" * 1000, "가" * 500]
    assert split_text("  ") == []


def test_long_text_and_many_messages_keep_to_three_outputs_and_carry_the_rest():
    messages = [{"text": "가" * 1000}, {"text": "나" * 1000}, {"text": "다" * 1000}, {"text": "라" * 10},
                {"text": "끝", "buttons": [{"title": "네", "payload": "/affirm"}]}]
    built = build_response(messages)
    outputs = built.body["template"]["outputs"]
    assert [o["simpleText"]["text"] for o in outputs] == ["가" * 1000, "나" * 1000, "다" * 1000]
    assert built.body["template"]["quickReplies"] == [
        {"label": "더 보기", "action": "message", "messageText": "더 보기"}]
    assert built.rest == {"outputs": [{"simpleText": {"text": "라" * 10 + "\n\n끝"}}],
                          "quickReplies": [{"label": "네", "action": "message", "messageText": "네"}]}


def test_short_texts_merge_into_one_bubble():
    built = build_response([{"text": "하나"}, {"text": "둘"}, {"text": "셋"}, {"text": "넷"}])
    assert built.body == {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "하나\n\n둘\n\n셋\n\n넷"}}]}}
    assert built.rest is None


def test_short_buttons_are_quick_replies_with_keys_in_extra_when_a_block_is_set():
    built = build_response([{"text": "신고할까요?", "buttons": [{"title": "네, 신고할게요", "payload": "/affirm"},
                                                         {"title": "아니요", "payload": "/deny"}]}],
                           key_for=lambda p: "k:" + p.strip("/"), block_id="blk1")
    assert built.body["template"]["quickReplies"] == [
        {"label": "네, 신고할게요", "action": "block", "blockId": "blk1", "messageText": "네, 신고할게요",
         "extra": {"cleanbot": "k:affirm"}},
        {"label": "아니요", "action": "block", "blockId": "blk1", "messageText": "아니요", "extra": {"cleanbot": "k:deny"}},
    ]
    assert built.said == {"네, 신고할게요": "/affirm", "아니요": "/deny"}


def test_labels_never_exceed_fourteen_characters():
    assert label("가" * 14) == "가" * 14
    assert label("가" * 20) == "가" * 13 + "…"
    assert len(label("가" * 20)) == 14


def test_long_button_titles_become_a_list_card_and_many_a_carousel():
    orders = [{"title": f"나이키 에어포스 1 '07 화이트 {i} · 129,000원", "payload": f"/pick{{\"n\":{i}}}"}
              for i in range(3)]
    built = build_response([{"text": "어떤 주문인가요?", "buttons": orders}])
    outputs = built.body["template"]["outputs"]
    assert outputs[0] == {"simpleText": {"text": "어떤 주문인가요?"}}
    assert outputs[1]["listCard"]["header"] == {"title": "아래에서 골라 주세요"}
    assert outputs[1]["listCard"]["items"][0] == {
        "title": "나이키 에어포스 1 '07 화이트 0", "description": "129,000원", "action": "message",
        "messageText": "나이키 에어포스 1 '07 화이트 0 · 129,000원"}
    assert "quickReplies" not in built.body["template"]
    many = build_response([{"text": "골라 주세요", "buttons": orders * 4}])
    carousel = many.body["template"]["outputs"][1]["carousel"]
    assert carousel["type"] == "basicCard" and len(carousel["items"]) == 10
    assert carousel["items"][0]["buttons"][0]["label"] == "선택"


def test_an_image_is_a_simple_image_and_nothing_is_an_apology():
    built = build_response([{"text": "통계예요", "image": "https://bot.example/webhooks/rest/charts/a.png"}])
    assert built.body["template"]["outputs"] == [
        {"simpleText": {"text": "통계예요"}},
        {"simpleImage": {"imageUrl": "https://bot.example/webhooks/rest/charts/a.png", "altText": "이미지"}}]
    assert build_response([]).body["template"]["outputs"] == [{"simpleText": {"text": kakao.words.SORRY_KO}}]


# ---------------------------------------------------------------- requests


def skill_request(utterance: str, user: str = "bu-1", callback: Optional[str] = None, params: Optional[dict] = None,
                  extra: Optional[dict] = None) -> dict:
    """A skill request as Open Builder sends it (the fields of docs/kakao.md)."""
    body: dict[str, Any] = {
        "intent": {"id": "intent-1", "name": "폴백 블록"},
        "userRequest": {
            "timezone": "Asia/Seoul", "params": {"ignoreMe": "true"}, "block": {"id": "blk1", "name": "클린봇"},
            "utterance": utterance, "lang": "ko",
            "user": {"id": user, "type": "botUserKey",
                     "properties": {"botUserKey": user, "plusfriendUserKey": "pf-" + user, "bot_user_key": user}},
        },
        "bot": {"id": "bot-1", "name": "클린봇"},
        "action": {"name": "cleanbot", "clientExtra": extra, "params": params or {}, "id": "skill-1",
                   "detailParams": {}},
    }
    if callback:
        body["userRequest"]["callbackUrl"] = callback
    return body


def test_the_request_is_parsed_and_bad_ones_refused():
    parsed = SkillRequest.parse(skill_request("안녕하세요", callback="https://bot-api.kakao.com/cb/1",
                                              extra={"cleanbot": "k:x"}))
    assert (parsed.user_key, parsed.utterance, parsed.callback_url) == ("bu-1", "안녕하세요", "https://bot-api.kakao.com/cb/1")
    assert parsed.client_extra == {"cleanbot": "k:x"} and parsed.properties["plusfriendUserKey"] == "pf-bu-1"
    for bad in (None, [], {"userRequest": {}}, {"userRequest": {"user": {"id": ""}}},
                {"userRequest": {"user": {"id": "x" * 200}}}):
        with pytest.raises(ValueError):
            SkillRequest.parse(bad)


def test_a_callback_url_elsewhere_is_ignored(monkeypatch):
    """The server POSTs answers to the callback URL: only Kakao's hosts over https (and the loopback in demo
    mode) are taken, so a forged request cannot make it call anything else."""
    def callback_of(url):
        return SkillRequest.parse(skill_request("안녕", callback=url)).callback_url

    monkeypatch.setenv("CLEANBOT_MODE", "demo")
    assert callback_of("https://bot-api.kakao.com/cb/1") == "https://bot-api.kakao.com/cb/1"
    assert callback_of("http://127.0.0.1:8080/cb") == "http://127.0.0.1:8080/cb"
    for elsewhere in ("http://bot-api.kakao.com/cb/1", "https://kakao.com.evil.example/cb", "https://10.0.0.5/cb",
                      "https://169.254.169.254/latest/meta-data", "file:///etc/passwd"):
        assert callback_of(elsewhere) is None, elsewhere
    monkeypatch.setenv("CLEANBOT_MODE", "production")
    assert callback_of("http://127.0.0.1:8080/cb") is None
    monkeypatch.setenv("CLEANBOT_KAKAO_CALLBACK_HOSTS", "callback.example.kr")
    assert callback_of("https://api.callback.example.kr/cb") == "https://api.callback.example.kr/cb"
    assert callback_of("https://bot-api.kakao.com/cb/1") is None


def test_photo_urls_from_the_secure_image_plugin_and_the_utterance():
    secure = json.dumps({"privacyAgreement": "Y", "imageQuantity": "2",
                         "secureUrls": "List(https://talk.kakaocdn.net/a/1.jpg, https://talk.kakaocdn.net/a/2.jpg)"})
    request = SkillRequest.parse(skill_request("사진이에요", params={"photo": secure}))
    assert photo_urls(request, ["kakaocdn.net"]) == (
        ["https://talk.kakaocdn.net/a/1.jpg", "https://talk.kakaocdn.net/a/2.jpg"], "사진이에요")
    only = SkillRequest.parse(skill_request("https://evil.example/x"))
    assert photo_urls(only, ["kakaocdn.net"]) == (["https://evil.example/x"], "")
    mixed = SkillRequest.parse(skill_request("이 상품이에요 https://shop.example/p/1 로고가 달라요"))
    assert photo_urls(mixed, ["kakaocdn.net"]) == ([], "이 상품이에요 https://shop.example/p/1 로고가 달라요")
    assert host_allowed("https://dn.talk.kakaocdn.net/x", ["kakaocdn.net"])
    assert not host_allowed("https://kakaocdn.net.evil.example/x", ["kakaocdn.net"])
    assert not host_allowed("https://evilkakaocdn.net/x", ["kakaocdn.net"])


# ---------------------------------------------------------------- the skill, with a stand-in for Rasa


@pytest.fixture
def local():
    fake = FakeKakao().start()
    yield fake
    fake.stop()


@pytest.fixture
def kakao_env(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("CLEANBOT_KAKAO_ENABLED", "1")
    monkeypatch.setenv("CLEANBOT_KAKAO_SKILL_SECRET", "s" * 40)
    monkeypatch.setenv("CLEANBOT_KAKAO_ANSWER_SECONDS", "0.5")
    monkeypatch.setenv("CLEANBOT_KAKAO_CALLBACK_SECONDS", "8")
    monkeypatch.setenv("CLEANBOT_KAKAO_IMAGE_HOSTS", "127.0.0.1")
    monkeypatch.setenv("CLEANBOT_PHOTO_DIR", str(tmp_path / "photos"))
    return db_url


class FakeRasa:
    """What the skill hands Rasa, answered after `delay` seconds."""

    def __init__(self, delay: float = 0.0, answer=None):
        self.delay, self.received = delay, []
        self.answer = answer or (lambda m: [{"text": f"받았어요: {m.text}"}])

    async def __call__(self, message) -> None:
        self.received.append(message)
        await asyncio.sleep(self.delay)
        for reply in self.answer(message):
            if reply.get("buttons"):
                await message.output_channel.send_text_with_buttons(message.sender_id, reply["text"], reply["buttons"])
            else:
                await message.output_channel.send_text_message(message.sender_id, reply["text"])


def run(skill: KakaoSkill, body: Any, secret: Optional[str] = "s" * 40, raw: Optional[bytes] = None):
    headers = {kakao.SECRET_HEADER: secret} if secret else {}
    data = raw if raw is not None else json.dumps(body).encode()

    async def go():
        reply = await skill.handle(data, headers)
        return reply

    return asyncio.run(go())


def texts(body: dict) -> list[str]:
    return [o["simpleText"]["text"] for o in body["template"]["outputs"] if "simpleText" in o]


def test_an_answer_within_the_budget_is_inline(kakao_env):
    rasa = FakeRasa()
    reply = run(KakaoSkill(rasa), skill_request("가품 받은 것 같아요"))
    assert reply.status == 200
    assert reply.body == {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "받았어요: 가품 받은 것 같아요"}}]}}
    assert [(m.sender_id, m.input_channel, m.text) for m in rasa.received] == [("bu-1", "kakao", "가품 받은 것 같아요")]
    assert rasa.received[0].metadata["kakao"] == {"plusfriend_user_key": "pf-bu-1", "block": "클린봇"}


def test_a_slow_answer_goes_to_the_callback_url_once(kakao_env, local):
    rasa = FakeRasa(delay=1.5)
    skill = KakaoSkill(rasa)

    async def go():
        started = time.monotonic()
        reply = await skill.handle(json.dumps(skill_request("느린 질문", callback=f"{local.url}/callback/1")).encode(),
                                   {kakao.SECRET_HEADER: "s" * 40})
        answered_in = time.monotonic() - started
        await skill.drain()
        return reply, answered_in

    reply, answered_in = asyncio.run(go())
    assert reply.body == {"version": "2.0", "useCallback": True, "data": {"text": "확인하고 있어요…"}}
    assert 0.4 < answered_in < 1.2
    assert local.posted() == [("/callback/1", {"version": "2.0", "template": {
        "outputs": [{"simpleText": {"text": "받았어요: 느린 질문"}}]}})]


def test_a_slow_answer_without_a_callback_is_carried_to_the_next_message(kakao_env, monkeypatch):
    monkeypatch.setattr(kakao, "HARD_SECONDS", 0.8)
    rasa = FakeRasa(delay=1.2)
    skill = KakaoSkill(rasa)

    async def go():
        first = await skill.handle(json.dumps(skill_request("느린 질문")).encode(), {kakao.SECRET_HEADER: "s" * 40})
        await skill.drain()
        rasa.delay = 0
        after = await skill.handle(json.dumps(skill_request("다음 질문")).encode(), {kakao.SECRET_HEADER: "s" * 40})
        again = await skill.handle(json.dumps(skill_request("또 질문")).encode(), {kakao.SECRET_HEADER: "s" * 40})
        return first, after, again

    first, after, again = asyncio.run(go())
    assert texts(first.body) == [kakao.words.LATE_KO]
    assert texts(after.body) == ["받았어요: 느린 질문\n\n받았어요: 다음 질문"]
    assert texts(again.body) == ["받았어요: 또 질문"]


def test_the_secret_is_required_and_compared(kakao_env, monkeypatch):
    rasa = FakeRasa()
    skill = KakaoSkill(rasa)
    assert run(skill, skill_request("안녕"), secret="wrong").status == 403
    assert run(skill, skill_request("안녕"), secret=None).status == 403
    monkeypatch.setenv("CLEANBOT_KAKAO_SKILL_SECRET", "")
    monkeypatch.setenv("CLEANBOT_MODE", "production")
    assert run(skill, skill_request("안녕"), secret=None).status == 403
    assert rasa.received == []
    monkeypatch.setenv("CLEANBOT_MODE", "demo")
    assert run(skill, skill_request("안녕"), secret=None).status == 200  # demo without a secret: 127.0.0.1 only
    monkeypatch.setenv("CLEANBOT_KAKAO_ENABLED", "0")
    assert run(skill, skill_request("안녕")).status == 404


def test_production_refuses_to_start_kakao_without_a_long_secret(monkeypatch):
    from bot.server.security import start_problems
    from bot.settings import Settings

    monkeypatch.setenv("CLEANBOT_MODE", "production")
    monkeypatch.setenv("CLEANBOT_JWT_SECRET", "j" * 40)
    monkeypatch.setenv("CLEANBOT_KAKAO_ENABLED", "1")
    monkeypatch.setenv("CLEANBOT_KAKAO_SKILL_SECRET", "")
    assert any("CLEANBOT_KAKAO_SKILL_SECRET이 필요해요" in p for p in start_problems(Settings()))
    monkeypatch.setenv("CLEANBOT_KAKAO_SKILL_SECRET", "short")
    assert any("CLEANBOT_KAKAO_SKILL_SECRET이 너무 짧아요" in p for p in start_problems(Settings()))
    monkeypatch.setenv("CLEANBOT_KAKAO_SKILL_SECRET", "k" * 32)
    assert start_problems(Settings()) == []


def test_bad_bodies_are_refused(kakao_env):
    skill = KakaoSkill(FakeRasa())
    assert run(skill, None, raw=b"not json").status == 400
    assert run(skill, None, raw=b"{" + b" " * (300 * 1024) + b"}").status == 413


def test_a_huge_utterance_is_cut_to_the_door_limit(kakao_env):
    rasa = FakeRasa(answer=lambda m: [{"text": f"{len(m.text)}자를 받았어요"}])
    reply = run(KakaoSkill(rasa), skill_request("가" * 30_000))
    assert reply.status == 200 and texts(reply.body) == ["10000자를 받았어요"]


def test_a_quick_reply_tap_with_a_key_and_without(kakao_env, monkeypatch):
    monkeypatch.setenv("CLEANBOT_KAKAO_BLOCK_ID", "blk1")
    long_payload = '/choose_order{"order_number": "8181526018159083", "note": "' + "x" * 80 + '"}'
    rasa = FakeRasa(answer=lambda m: [{"text": "고르세요", "buttons": [{"title": "이 주문", "payload": long_payload}]}])
    skill = KakaoSkill(rasa)
    first = run(skill, skill_request("주문 보여줘"))
    reply = first.body["template"]["quickReplies"][0]
    assert reply["action"] == "block" and reply["extra"]["cleanbot"].startswith("k:")
    run(skill, skill_request("이 주문", extra=reply["extra"]))
    assert rasa.received[-1].text == long_payload
    stale = run(skill, skill_request("이 주문", extra={"cleanbot": "k:unknownkey"}))
    assert texts(stale.body) == [kakao.words.STALE_BUTTON_KO]
    monkeypatch.setenv("CLEANBOT_KAKAO_BLOCK_ID", "")
    run(skill, skill_request("주문 보여줘"))
    run(skill, skill_request("이 주문"))  # the label, said in chat, stands for its payload
    assert rasa.received[-1].text == long_payload


def test_photos_are_downloaded_from_allowed_hosts_only(kakao_env, local):
    local.images["/dn/1.jpg"] = jpeg(1)
    rasa = FakeRasa(answer=lambda m: [{"text": f"사진 {len(m.metadata.get('photo_ids') or [])}장"}])
    skill = KakaoSkill(rasa)
    secure = json.dumps({"secureUrls": f"List({local.url}/dn/1.jpg)"})
    reply = run(skill, skill_request("", params={"photo": secure}))
    assert texts(reply.body) == ["사진 1장"] and rasa.received[-1].text == "/send_photo"
    assert len(rasa.received[-1].metadata["photo_ids"][0]) == 64
    refused = run(skill, skill_request("https://evil.example/x.jpg"))
    assert texts(refused.body) == [kakao.words.photo_host_refused_ko("evil.example")]
    assert len(rasa.received) == 1
    missing = run(skill, skill_request(f"{local.url}/dn/none.jpg 로고가 달라요"))
    assert texts(missing.body) == [kakao.words.photo_failed_ko() + "\n\n사진 0장"]
    assert rasa.received[-1].text == "로고가 달라요"


def test_link_code_links_the_kakao_account_once_and_locks_after_guesses(kakao_env):
    from bot.services import telegram as links
    from bot.services.identity import resolve

    skill = KakaoSkill(FakeRasa())
    issued = links.issue_link_token("shopper-1", channel=links.KAKAO)
    assert len(issued.token) == 6 and issued.token.isdigit()
    reply = run(skill, skill_request(f"연동 {issued.token}", user="bu-link"))
    assert texts(reply.body) == ["김민지님, 마켓플레이스 계정이 카카오톡에 연동됐어요. 이제 여기서 가품 신고와 환불 신청을 바로 하실 수 있어요."]
    assert resolve("kakao", "bu-link").customer_id == "shopper-1"
    assert texts(run(skill, skill_request(f"연동 {issued.token}", user="bu-other")).body) == [kakao.words.LINK_KO["used"]]
    # A Telegram deep-link token is no Kakao code, and a Kakao code no Telegram token.
    assert links.redeem_link_token(issued.token, 7001).status == "invalid"
    wrong = "000000" if issued.token != "000000" else "111111"
    for _ in range(links.CODE_MAX_FAILURES):
        assert texts(run(skill, skill_request(f"연동 {wrong}", user="bu-guess")).body) == [kakao.words.LINK_KO["invalid"]]
    fresh = links.issue_link_token("shopper-2", channel=links.KAKAO)
    assert texts(run(skill, skill_request(f"연동 {fresh.token}", user="bu-guess")).body) == [kakao.words.LINK_KO["locked"]]
    assert resolve("kakao", "bu-guess").customer_id is None


def test_the_rate_limit_is_answered_in_korean(kakao_env, monkeypatch):
    monkeypatch.setenv("CLEANBOT_MESSAGES_PER_MINUTE", "2")
    skill = KakaoSkill(FakeRasa())
    assert run(skill, skill_request("하나")).status == 200
    assert run(skill, skill_request("둘")).status == 200
    third = run(skill, skill_request("셋"))
    assert third.status == 200 and texts(third.body)[0].startswith("메시지를 너무 빨리 보내고 있어요.")


def test_during_a_hand_over_the_agents_reply_goes_through_the_open_callback(kakao_env, local):
    from bot.services import handoff

    # A linked shopper (an anonymous one has an hourly cap on hand-overs) whose conversation agents hold.
    from bot.services import telegram as links

    issued = links.issue_link_token("shopper-3", channel=links.KAKAO)
    assert links.redeem_link_token(issued.token, "bu-ho", links.KAKAO).status == "linked"
    opened = handoff.request("kakao", "bu-ho", "request_human", "kakao")
    assert opened.created
    rasa = FakeRasa(answer=lambda m: [])  # paused: Rasa records the message and says nothing
    skill = KakaoSkill(rasa)

    async def go():
        reply = await skill.handle(json.dumps(skill_request("언제 답해 주세요?", user="bu-ho",
                                                            callback=f"{local.url}/callback/ho")).encode(),
                                   {kakao.SECRET_HEADER: "s" * 40})
        await asyncio.sleep(1.5)
        await asyncio.to_thread(handoff.agent_says, opened.handoff.id, 555, "상담원 김", "확인해 보니 환불됐어요.")
        await skill.drain(timeout=15)
        return reply

    reply = asyncio.run(go())
    assert reply.body == kakao.callback_waiting_body()
    assert [path for path, _ in local.posted()] == ["/callback/ho"]
    assert texts(local.posted()[0][1]) == [handoff.AGENT_JOINED_KO + "\n\n확인해 보니 환불됐어요."]
    # Taken once: the next message does not show them again.
    again = run(skill, skill_request("네", user="bu-ho"))
    assert texts(again.body) == [kakao.words.TO_AGENTS_KO]


def test_more_shows_what_did_not_fit_then_says_there_is_nothing_more(kakao_env):
    rasa = FakeRasa(answer=lambda m: [{"text": c * 1000} for c in "가나다라"]
                    + [{"text": "끝", "buttons": [{"title": "네", "payload": "/affirm"}]}])
    skill = KakaoSkill(rasa)
    first = run(skill, skill_request("길게 알려 주세요"))
    assert texts(first.body) == ["가" * 1000, "나" * 1000, "다" * 1000]
    assert first.body["template"]["quickReplies"] == [{"label": "더 보기", "action": "message", "messageText": "더 보기"}]
    more = run(skill, skill_request("더 보기"))
    assert texts(more.body) == ["라" * 1000, "끝"]
    assert more.body["template"]["quickReplies"] == [{"label": "네", "action": "message", "messageText": "네"}]
    assert texts(run(skill, skill_request("더 보기")).body) == [kakao.words.NOTHING_MORE_KO]
    assert len(rasa.received) == 1
    run(skill, skill_request("네"))  # the quick reply's title, said in chat, is its payload
    assert rasa.received[-1].text == "/affirm"


def test_quick_replies_of_every_message_are_combined_without_repeats():
    rating = [{"title": f"{n}점", "payload": f"/rate{n}"} for n in range(1, 6)]
    menu = [{"title": "가품 신고하기", "payload": "/report_counterfeit"}, {"title": "5점", "payload": "/rate5"},
            {"title": "권리자 인증하기", "payload": "/register_brand_owner"}]
    built = build_response([{"text": "상담은 어떠셨나요?", "buttons": rating}, {"text": "무엇을 도와드릴까요?", "buttons": menu}])
    assert [r["label"] for r in built.body["template"]["quickReplies"]] == [
        "1점", "2점", "3점", "4점", "5점", "가품 신고하기", "권리자 인증하기"]
    many = build_response([{"text": "골라 주세요", "buttons": [{"title": f"{n}번", "payload": f"/n{n}"} for n in range(12)]}])
    assert len(many.body["template"]["quickReplies"]) == 10
