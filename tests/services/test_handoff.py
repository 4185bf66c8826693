"""bot.services.handoff: states, the outbox both ways, the idle release, ratings — and one open
hand-over per chat account, however many requests race (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import AuditLog, Handoff
from bot.services import handoff


def _request(sender="shopper-1", channel="web", reason="request_human"):
    return handoff.request(channel, sender, reason, "rest" if channel == "web" else "telegram")


def test_a_request_waits_in_the_queue_and_a_second_one_returns_it(db_url):
    first = _request()
    assert first.created and first.handoff.state == "waiting"
    assert first.handoff.customer_id == "shopper-1" and first.handoff.customer_name == "김민지"
    again = _request(reason="fallback")
    assert not again.created and again.handoff.id == first.handoff.id and again.handoff.reason == "request_human"
    assert handoff.open_for("web", "shopper-1").id == first.handoff.id
    assert handoff.open_for("web", "shopper-2") is None
    with pytest.raises(ValueError):
        _request(sender="shopper-2", reason="bored")


def test_the_first_agent_to_write_holds_it_and_others_are_refused(db_url):
    view = _request().handoff
    said = handoff.agent_says(view.id, 501, "상담원 A", "안녕하세요, 무엇을 도와드릴까요?")
    assert said.status == "sent" and said.claimed and said.handoff.state == "held"
    assert said.handoff.agent_id == "501" and said.handoff.agent_name == "상담원 A"
    # The user is told an agent joined, then gets the agent's words, in that order.
    taken = handoff.take_web_messages("shopper-1")
    assert [m.direction for m in taken] == ["bot", "agent"]
    assert taken[0].text == handoff.AGENT_JOINED_KO and taken[1].text.startswith("안녕하세요")
    assert handoff.take_web_messages("shopper-1") == []  # taken once
    assert handoff.agent_says(view.id, 502, "상담원 B", "저도 있어요").status == "held_by_other"
    assert handoff.claim(view.id, 502, "상담원 B").status == "held_by_other"
    assert handoff.claim(view.id, 501, "상담원 A").status == "already_yours"
    again = handoff.agent_says(view.id, 501, "상담원 A", "사진 확인했어요")
    assert again.status == "sent" and not again.claimed


def test_claim_then_close_then_rate_once(db_url):
    view = _request(sender="shopper-2").handoff
    assert handoff.claim(view.id, 501, "상담원 A").status == "claimed"
    handoff.agent_says(view.id, 501, "상담원 A", "확인해 드릴게요")
    closed, now = handoff.close(view.id, handoff.agent_actor(501), "done", "상담원 A")
    assert now and closed.state == "closed" and closed.agent_id is None and closed.close_reason == "done"
    assert handoff.close(view.id, "cli:operator", "released")[1] is False
    assert handoff.claim(view.id, 501, "상담원 A").status == "closed"
    assert handoff.agent_says(view.id, 501, "상담원 A", "늦었네요").status == "closed"
    # Not rated before the bot has taken the conversation back.
    assert handoff.rate("web", "shopper-2", 5).status == "none"
    assert handoff.mark_resumed(view.id, "상담이 끝났어요", [{"title": "5점", "payload": "/x"}], delivered=False)
    assert not handoff.mark_resumed(view.id, "상담이 끝났어요", None, delivered=False)
    assert handoff.rate("web", "shopper-2", 5).status == "recorded"
    assert handoff.rate("web", "shopper-2", 1) == handoff.Rated("already", 5, view.id)
    assert handoff.get(view.id).rating == 5
    # A new hand-over may open now that the first one is closed.
    assert _request(sender="shopper-2").created


def test_user_messages_and_photos_wait_for_the_topic(db_url):
    from bot.services.photos import accept_bytes
    from tests.connectors.conftest import jpeg

    view = _request(sender="shopper-3").handoff
    sha = accept_bytes([jpeg(3)]).ids[0]
    ids = handoff.record_user_message(view.id, "사진 보낼게요", [sha, sha])
    assert len(ids) == 2
    pending = handoff.pending_messages(view.id, handoff.TO_TOPIC)
    assert [(m.text, m.photo_sha256) for m in pending] == [("사진 보낼게요", None), ("", sha)]
    assert pending[1].photo_path and view.id in handoff.needing_work()
    assert handoff.mark_delivered(ids) == 2 and handoff.mark_delivered(ids) == 0
    assert handoff.pending_messages(view.id, handoff.TO_TOPIC) == []


def test_an_idle_held_conversation_goes_back_to_the_queue(db_url):
    view = _request(sender="shopper-4").handoff
    handoff.agent_says(view.id, 501, "상담원 A", "잠시만요")
    assert handoff.release_idle() == []  # not idle yet
    released = handoff.release_idle(now=utcnow() + timedelta(minutes=31))
    assert [r.id for r in released] == [view.id]
    back = handoff.get(view.id)
    assert back.state == "waiting" and back.agent_id is None and back.waiting_seconds(utcnow() + timedelta(minutes=32)) > 0
    notes = handoff.pending_messages(view.id, handoff.TO_TOPIC)
    assert "대기열로 돌려놨어요" in notes[-1].text and "30분" in notes[-1].text
    assert handoff.take_web_messages("shopper-4")[-1].text == handoff.IDLE_USER_KO
    with transaction() as session:
        assert session.execute(select(AuditLog).where(AuditLog.action == "handoff.idle_released")).scalar_one()


def test_a_waiting_request_can_be_cancelled_by_the_user(db_url):
    view = _request(sender="shopper-5").handoff
    cancelled = handoff.cancel("web", "shopper-5")
    assert cancelled.state == "closed" and cancelled.close_reason == "cancelled"
    assert handoff.cancel("web", "shopper-5") is None


def test_notes_and_agent_actions_are_audited_with_the_agent_id(db_url):
    view = _request(sender="shopper-6").handoff
    with pytest.raises(handoff.HandoffError):
        handoff.add_note(view.id, 501, "  ")
    handoff.add_note(view.id, 501, "같은 사진으로 두 번 신고한 고객")
    handoff.agent_says(view.id, 501, "상담원 A", "안녕하세요")
    with transaction() as session:
        actions = session.execute(select(AuditLog.action).where(AuditLog.actor == "telegram-agent:501")).scalars().all()
    assert set(actions) == {"handoff.note", "handoff.claimed", "handoff.agent_message"}
    assert [m.direction for m in handoff.messages(view.id)] == ["note", "bot", "agent"]


def test_list_and_detail(db_url):
    a = _request(sender="shopper-1").handoff
    b = _request(sender="77001", channel="telegram", reason="fallback").handoff
    handoff.claim(b.id, 501, "상담원 A")
    listed = handoff.list_open()
    assert [v.id for v in listed] == [a.id, b.id]
    assert listed[1].display_name == "텔레그램 사용자 77001"
    assert handoff.detail(a.id).handoff.id == a.id and handoff.detail(999999) is None


def test_one_open_handoff_per_account_under_concurrency(db_url):
    results, errors = [], []
    barrier = threading.Barrier(8)

    def ask(reason):
        try:
            barrier.wait(10)
            results.append(handoff.request("telegram", "880001", reason, "telegram"))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(["request_human", "fallback"][i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len({r.handoff.id for r in results}) == 1 and sum(r.created for r in results) == 1
    with transaction() as session:
        assert session.execute(select(func.count(Handoff.id)).where(Handoff.sender_id == "880001")).scalar_one() == 1


def test_the_database_refuses_a_second_open_handoff(db_url):
    from sqlalchemy.exc import IntegrityError

    view = _request(sender="shopper-2").handoff
    now = utcnow()
    with pytest.raises(IntegrityError):
        with transaction() as session:
            first = session.get(Handoff, view.id)
            session.add(Handoff(identity_id=first.identity_id, channel="web", sender_id="shopper-2",
                                input_channel="rest", reason="complain", state="waiting", after_hours=0,
                                created_at=now, queued_at=now))
            session.flush()
