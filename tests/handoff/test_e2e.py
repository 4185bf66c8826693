"""Human takeover end to end: real Rasa and action servers, the Telegram channel against the fake Bot
API, the agents' forum group in it — and web/REST users handed over too."""
from __future__ import annotations

import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import AuditLog, Refund
from bot.services import handoff, reports
from bot.services.photos import accept_bytes
from tests.e2e.conftest import Chat
from tests.handoff.conftest import AGENT, AGENT_2, AGENT_CHAT, OUTSIDER, tracker
from tests.connectors.conftest import cleanbot, jpeg, link, wait_handled

pytestmark = pytest.mark.e2e


def _order(orders_by_customer, customer, days):
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == days)


def _held_report(orders_by_customer, customer: str, seed: int) -> str:
    """A refund held for review: the same photo used in claims on two orders."""
    sha = accept_bytes([jpeg(seed, (96, 72))]).ids[0]
    first = reports.file_report(customer, _order(orders_by_customer, customer, 5)["number"], "로고가 달라요", [sha])
    second = reports.file_report(customer, _order(orders_by_customer, customer, 20)["number"], "같은 문제예요", [sha])
    assert first.status == "granted" and second.status == "held"
    return second.report_number


def _audit_count() -> int:
    with transaction() as session:
        return session.execute(select(func.count(AuditLog.id))).scalar_one()


def _events(stack, sender) -> list[dict]:
    return tracker(stack, str(sender))["events"]


def test_an_agent_takes_over_talks_both_ways_approves_a_refund_and_hands_back(
        handoff_stack, tg_user, desk, orders_by_customer):
    stack, fake = handoff_stack, handoff_stack.fake
    held = _held_report(orders_by_customer, "shopper-5", 31)
    user = tg_user(7_600_001)
    link(stack, user, "shopper-5")

    since = user.say("상담원 연결해주세요")
    assert "상담원을 연결해 드릴게요" in user.text(since, "상담원을 연결해 드릴게요")
    thread = desk.wait_topic("정도윤(shopper-5) · 상담원 요청")
    card = desk.wait_in_topic(thread, "지금까지의 대화")
    assert "고객: 정도윤 (고객 ID shopper-5)" in card and "채널: 텔레그램" in card
    assert f"/refund approve {held}" in card and "최근 주문" in card and "케이스" in card
    assert "고객: 상담원 연결해주세요" in card and "클린봇: 상담원을 연결해 드릴게요" in card
    view = handoff.open_for("telegram", str(user.user_id))
    assert view.state == "waiting" and view.topic_id == thread

    # The user writes and sends a photo: both reach the topic, and the bot says nothing.
    quiet_since = user.say("가방 로고가 이상해요. 확인해 주세요")
    desk.wait_in_topic(thread, "👤 고객: 가방 로고가 이상해요", quiet_since)
    photo_since = user.photo(jpeg(32, (80, 60)))
    fake.wait_for(lambda: desk.photos_in_topic(thread, photo_since))
    wait_handled(fake, user.last_update_id)  # the photo's update is handled: any answer would be out by now
    assert fake.sent(user.user_id, quiet_since) == []
    events = _events(stack, user.user_id)
    assert any(e["event"] == "pause" for e in events)
    assert any(e["event"] == "user" and e.get("text") == "가방 로고가 이상해요. 확인해 주세요" for e in events)

    # The first agent to write holds the conversation; text and photos go to the user.
    since = desk.say(AGENT, thread, "안녕하세요, 상담원 김하나예요. 사진 확인하고 있어요.")
    answer = user.text(since, "상담원 김하나예요")
    assert "상담원이 연결됐어요" in answer
    desk.wait_in_topic(thread, "님이 상담을 맡았어요", since)
    assert handoff.get(view.id).state == "held" and handoff.get(view.id).agent_id == str(AGENT)
    since = desk.photo(AGENT, thread, jpeg(33, (80, 60)), caption="정품 라벨은 이렇게 생겼어요")
    photo = fake.wait_for(lambda: [c for c in fake.calls_of("sendPhoto", chat_id=user.user_id, since=since)
                                   if c.status == 200])
    assert photo[0].params.get("caption") == "정품 라벨은 이렇게 생겼어요"

    # The agent approves the held refund from the topic.
    since = desk.say(AGENT, thread, f"/refund approve {held}")
    assert "환불을 승인했어요" in desk.wait_in_topic(thread, "환불을 승인했어요", since)
    assert reports.get_report(held).refund_status == "granted"
    with transaction() as session:
        refund = session.execute(select(Refund).join(Refund.report).where(Refund.report.has(number=held))).scalar_one()
        assert refund.approved_by == f"telegram-agent:{AGENT}"
        assert session.execute(select(AuditLog).where(AuditLog.action == "refund.approved",
                                                      AuditLog.subject == held)).scalar_one().actor == \
            f"telegram-agent:{AGENT}"

    # /done: the bot resumes, says so in Korean and asks for a rating, which is recorded.
    since = desk.say(AGENT, thread, "/done")
    back = user.wait("상담은 어떠셨나요", since)
    assert [b["text"] for b in back[-1].buttons] == ["1점", "2점", "3점", "4점", "5점"]
    desk.wait_in_topic(thread, "상담을 마쳤어요", since)
    fake.wait_for(lambda: fake.topics[thread]["closed"])
    state = tracker(stack, str(user.user_id))
    assert state["events"][-3]["event"] == "resume" and not state.get("paused")
    # For people reviewing the words: the whole topic as the agents saw it.
    artifact = Path("test-artifacts/handoff-topic-example.txt")
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text("\n\n".join(f"[{c.method}] {c.text}" for c in fake.topic_messages(thread)), encoding="utf-8")
    since = user.tap(back, "5점")
    user.wait("평가해 주셔서 감사해요", since)
    assert handoff.get(view.id).rating == 5 and handoff.get(view.id).state == "closed"
    since = user.say("안녕하세요")
    user.wait("클린봇이에요", since)


def test_two_misunderstandings_in_a_row_hand_over_and_the_cli_releases_it(handoff_stack, tg_user, desk):
    stack = handoff_stack
    user = tg_user(7_600_002)
    # What the NLU does not understand depends on its training (another team's); "/nlu_fallback" is
    # exactly what Rasa records for a message below the FallbackClassifier's threshold (sent as a
    # button payload, since typed Telegram commands are turned into words).
    since = user.webhook(stack.fake.callback_update(user.user_id, "/nlu_fallback"))
    first = user.text(since, "잘 이해하지 못했어요")
    assert "상담원" not in first.split("\n")[0]
    assert handoff.open_for("telegram", str(user.user_id)) is None
    since = user.webhook(stack.fake.callback_update(user.user_id, "/nlu_fallback"))
    second = user.text(since, "상담원을 연결해 드릴게요")
    assert second.startswith("제가 말씀을 계속 이해하지 못해서 죄송해요.")
    thread = desk.wait_topic("텔레그램 사용자 7600002 · 봇이 이해하지 못함")
    card = desk.wait_in_topic(thread, "지금까지의 대화")
    assert "연결된 고객 계정이나 권리자 인증이 없는 사용자예요" in card and "잘 이해하지 못했어요" in card
    view = handoff.open_for("telegram", str(user.user_id))
    assert view.reason == "fallback"

    listed = cleanbot(stack, "handoff", "list").stdout
    assert f"#{view.id}\t대기 중\t텔레그램\t텔레그램 사용자 7600002\t봇이 이해하지 못함\t대기" in listed
    shown = cleanbot(stack, "handoff", "show", str(view.id)).stdout
    assert f"상담 #{view.id} · 대기 중 · 봇이 이해하지 못함" in shown
    since = time.monotonic()
    released = cleanbot(stack, "handoff", "release", str(view.id)).stdout
    assert "클린봇에게 돌려줬어요" in released
    back = user.text(since, "상담원 연결 요청을 마쳤어요")
    assert "상담은 어떠셨나요" not in back  # nobody answered: no rating asked
    desk.wait_in_topic(thread, "운영자가 봇에게 돌려줌", since)
    assert handoff.get(view.id).resumed_at is not None
    since = user.say("안녕하세요")
    user.wait("클린봇이에요", since)


def test_a_complaint_is_answered_with_a_person_on_yes(handoff_stack, desk):
    chat = Chat(handoff_stack.servers.rasa_url, "shopper-2")
    offered = chat.say("아 진짜 답답해 죽겠네")
    assert "상담원과 직접 이야기해 보시겠어요" in offered[-1]["text"]
    taken = chat.tap(offered, "네, 상담원 연결")
    assert any("상담원을 연결해 드릴게요" in m.get("text", "") for m in taken)
    view = handoff.open_for("web", "shopper-2")
    assert view.reason == "complain" and view.input_channel == "rest"
    desk.wait_topic("이서준(shopper-2) · 불만")


def test_someone_outside_the_agents_group_can_do_nothing(handoff_stack, tg_user, desk, orders_by_customer):
    stack, fake = handoff_stack, handoff_stack.fake
    held = _held_report(orders_by_customer, "shopper-4", 41)
    user = tg_user(7_600_003)
    link(stack, user, "shopper-4")
    since = user.say("상담원 연결해주세요")
    user.wait("상담원을 연결해 드릴게요", since)
    thread = desk.wait_topic("최하은(shopper-4)")
    desk.wait_in_topic(thread, "지금까지의 대화")
    view = handoff.open_for("telegram", str(user.user_id))
    audits = _audit_count()

    since = desk.say(OUTSIDER, thread, f"/refund approve {held}")
    assert "상담원만 쓸 수 있어요" in desk.wait_in_topic(thread, "상담원만 쓸 수 있어요", since)
    since = desk.say(OUTSIDER, None, f"/refund approve {held}")  # the General topic
    fake.wait_for(lambda: any("상담원만 쓸 수 있어요" in c.text and c.params.get("message_thread_id") is None
                              for c in fake.sent(AGENT_CHAT, since)))
    since = desk.say(OUTSIDER, thread, "고객님 제가 환불해 드릴게요")
    desk.wait_in_topic(thread, "고객에게 보내지 않았어요", since)
    since = desk.say(OUTSIDER, thread, "/done")
    desk.wait_in_topic(thread, "상담원만 쓸 수 있어요", since)
    wait_handled(fake, desk.last_update_id)  # the /done is handled: whatever it would change, it has by now
    assert reports.get_report(held).refund_status == "held"
    assert handoff.get(view.id).state == "waiting" and handoff.get(view.id).agent_id is None
    # Nothing changed; only the refused commands were written down (the plain message is not a command).
    with transaction() as session:
        refused = session.execute(select(AuditLog.subject).where(
            AuditLog.action == "telegram.command_refused", AuditLog.actor == f"telegram-agent:{OUTSIDER}")
            .order_by(AuditLog.id)).scalars().all()
    assert refused == ["/refund", "/refund", "/done"]
    audits += len(refused)
    assert _audit_count() == audits
    assert not [c for c in fake.sent(user.user_id, since) if "환불" in c.text]

    # In a private chat, the agents' commands are refused too.
    since = user.say(f"/refund approve {held}")
    # (the conversation is handed over, so only the refusal answers)
    assert "이 명령은 상담원만 쓸 수 있어요" in user.text(since, "상담원만 쓸 수 있어요")
    assert reports.get_report(held).refund_status == "held" and _audit_count() == audits

    # An agent answers, then goes quiet: after the idle time it is back in the queue, with a note.
    since = desk.say(AGENT, thread, "확인하고 있어요. 잠시만 기다려 주세요.")
    user.wait("잠시만 기다려 주세요", since)
    assert handoff.get(view.id).state == "held"
    since = time.monotonic()
    released = handoff.release_idle(now=utcnow() + timedelta(minutes=31))
    assert [r.id for r in released] == [view.id]
    note = desk.wait_in_topic(thread, "대기열로 돌려놨어요", since)
    assert "30분" in note
    user.wait("다른 상담원이 곧 이어서", since)
    assert handoff.get(view.id).state == "waiting"
    # Another agent picks it up with /claim, answers, and closes the topic: that hands it back too.
    since = desk.say(AGENT_2, thread, "/claim")
    desk.wait_in_topic(thread, "님이 상담을 맡았어요", since)
    assert handoff.get(view.id).agent_id == str(AGENT_2)
    since = desk.say(AGENT, thread, "제가 다시 볼게요")
    desk.wait_in_topic(thread, "맡고 있어요", since)
    since = desk.say(AGENT_2, thread, "환불 건 확인이 끝났어요.")
    user.wait("환불 건 확인이 끝났어요", since)
    since = desk.close_topic(AGENT_2, thread)
    user.wait("상담은 어떠셨나요", since)
    assert handoff.get(view.id).close_reason == "topic_closed"
    with transaction() as session:
        assert session.execute(select(AuditLog).where(AuditLog.action == "handoff.closed",
                                                      AuditLog.subject == f"handoff:{view.id}")
                               ).scalar_one().actor == f"telegram-agent:{AGENT_2}"


def test_a_topic_is_reopened_and_a_deleted_one_is_made_again(handoff_stack, tg_user, desk):
    fake = handoff_stack.fake
    user = tg_user(7_600_004)
    since = user.say("상담원 연결해주세요")
    user.wait("상담원을 연결해 드릴게요", since)
    first = desk.wait_topic("텔레그램 사용자 7600004")
    desk.wait_in_topic(first, "지금까지의 대화")
    since = desk.say(AGENT, first, "/done")
    user.wait("상담원 연결 요청을 마쳤어요", since)
    fake.wait_for(lambda: fake.topics[first]["closed"])

    # The same user again: their topic is reopened.
    creates = len(fake.calls_of("createForumTopic"))
    since = user.say("상담원 연결해주세요")
    user.wait("상담원을 연결해 드릴게요", since)
    desk.wait_in_topic(first, "지금까지의 대화", since)
    assert len(fake.calls_of("createForumTopic")) == creates and not fake.topics[first]["closed"]
    since = desk.say(AGENT, first, "/done")
    user.wait("상담원 연결 요청을 마쳤어요", since)

    # Deleted meanwhile: reopening fails, a new topic is made.
    fake.delete_topic(first)
    since = user.say("상담원 연결해주세요")
    user.wait("상담원을 연결해 드릴게요", since)
    second = desk.wait_topic("텔레그램 사용자 7600004", since)
    assert second != first
    desk.wait_in_topic(second, "지금까지의 대화", since)

    # Deleted during the hand-over: the user's next message finds no thread, and a new topic gets
    # the card, the conversation and that message.
    fake.delete_topic(second)
    since = user.say("아직 기다리고 있어요")
    third = desk.wait_topic("텔레그램 사용자 7600004", since)
    assert third not in (first, second)
    history = desk.wait_in_topic(third, "아직 기다리고 있어요", since)
    assert "지금까지의 대화" in history
    assert handoff.open_for("telegram", str(user.user_id)).topic_id == third
    since = desk.say(AGENT, third, "네, 여기 있어요!")
    user.wait("네, 여기 있어요!", since)


def test_a_web_user_gets_the_agents_replies_with_their_next_rest_request(handoff_stack, desk):
    stack = handoff_stack
    chat = Chat(stack.servers.rasa_url, "shopper-6")
    answer = chat.text("상담원 연결해주세요")
    assert "상담원을 연결해 드릴게요" in answer
    thread = desk.wait_topic("강서연(shopper-6) · 상담원 요청")
    card = desk.wait_in_topic(thread, "지금까지의 대화")
    assert "채널: 웹 (REST) (웹 sender shopper-6)" in card
    assert chat.say("사진도 보내요", photos=[jpeg(51, (80, 60))]) == []  # recorded, not answered
    since = time.monotonic()
    desk.wait_in_topic(thread, "👤 고객: 사진도 보내요")
    stack.fake.wait_for(lambda: desk.photos_in_topic(thread))

    since = desk.say(AGENT, thread, "안녕하세요, 사진 잘 받았어요.")
    desk.wait_in_topic(thread, "님이 상담을 맡았어요", since)
    since = desk.photo(AGENT, thread, jpeg(52, (80, 60)))
    stack.fake.wait_for(lambda: handoff.open_for("web", "shopper-6").agent_message_count == 2)
    replies = chat.say("네")
    texts = [m.get("text") for m in replies]
    assert texts[:2] == [handoff.AGENT_JOINED_KO, "안녕하세요, 사진 잘 받았어요."]
    image = next(m["image"] for m in replies if m.get("image"))
    with urllib.request.urlopen(image, timeout=30) as reply:
        assert reply.status == 200 and reply.read()[:2] == b"\xff\xd8"
    assert chat.say("감사해요") == []  # delivered once

    since = desk.say(AGENT, thread, "/done")
    desk.wait_in_topic(thread, "상담을 마쳤어요", since)
    replies = chat.say("안녕하세요")
    assert "상담은 어떠셨나요" in replies[0]["text"] and len(replies[0]["buttons"]) == 5
    assert any("클린봇이에요" in m.get("text", "") for m in replies[1:])  # and the bot answers again
    thanks = chat.tap(replies, "4점")
    assert "평가해 주셔서 감사해요" in thanks[0]["text"]
    assert handoff.get(_last_closed("shopper-6")).rating == 4


def _last_closed(sender: str) -> int:
    from bot.models import Handoff

    with transaction() as session:
        return session.execute(select(Handoff.id).where(Handoff.sender_id == sender)
                               .order_by(Handoff.id.desc()).limit(1)).scalar_one()
