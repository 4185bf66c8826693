"""Outside business hours the user is told when agents are back, and the conversation waits in the
queue with its topic already open (a stack of its own: the hours are a setting of the servers)."""
from __future__ import annotations

from datetime import datetime

import pytest

from bot.business_hours import BusinessHours
from bot.clock import utcnow
from bot.services import handoff
from tests.e2e.conftest import Chat

pytestmark = pytest.mark.e2e

BUSINESS_HOURS = "mon-fri 09:00-18:00"
# The servers and the test read this stopped clock (CLEANBOT_FAKE_NOW, bot/clock.py): Saturday 14:00 in Seoul.
FAKE_NOW = "2026-12-05T05:00:00Z"


def test_outside_business_hours_the_user_learns_when_agents_are_back(handoff_stack, desk):
    assert utcnow() == datetime(2026, 12, 5, 5, 0)  # the clock the servers read too
    chat = Chat(handoff_stack.servers.rasa_url, "shopper-1")
    answer = chat.text("상담원 연결해주세요")
    assert not BusinessHours.parse(BUSINESS_HOURS).is_open(utcnow())
    assert "지금은 상담원 근무 시간(월~금요일 09:00~18:00, 공휴일 제외)이 아니에요." in answer
    assert "상담원은 월요일(12월 7일) 오전 9시부터 답변해 드려요." in answer
    assert "대기열에 올려 두었어요" in answer
    assert "가품 신고와 환불은 지금 바로 제가 도와드릴 수 있어요." in answer  # what the bot can do meanwhile
    view = handoff.open_for("web", "shopper-1")
    assert view.state == "waiting" and view.after_hours
    thread = desk.wait_topic("김민지(shopper-1) · 상담원 요청 · 영업시간 외")
    assert "영업시간 외 요청이에요" in desk.wait_in_topic(thread, "지금까지의 대화")
    # Waiting in the queue, the bot stays silent; what the user leaves reaches the topic.
    assert chat.say("내일 연락 주세요") == []
    desk.wait_in_topic(thread, "👤 고객: 내일 연락 주세요")
    assert [v.id for v in handoff.list_open()] == [view.id]


def test_a_waiting_user_can_cancel_and_the_bot_answers_again(handoff_stack, desk):
    chat = Chat(handoff_stack.servers.rasa_url, "shopper-3")
    asked = chat.say("상담원 연결해주세요")
    assert [b["title"] for b in asked[0]["buttons"]] == ["상담 요청 취소"]
    view = handoff.open_for("web", "shopper-3")
    thread = desk.wait_topic("박지우(shopper-3)")
    desk.wait_in_topic(thread, "지금까지의 대화")
    answer = chat.tap(asked, "상담 요청 취소")
    assert answer[0]["text"] == "상담원 연결 요청을 취소했어요. 이제 다시 클린봇이 도와드릴게요."
    assert handoff.get(view.id).close_reason == "cancelled" and handoff.get(view.id).resumed_at
    desk.wait_in_topic(thread, "고객이 상담 요청을 취소했어요")
    assert "클린봇이에요" in chat.text("안녕하세요")
    assert "취소할 상담 요청이 없어요" in chat.text("/cancel_handoff")
