"""Agent roles in the agents' group, through the fake Bot API and the real desk code: members claim, talk,
note and hand back; only supervisors decide refunds and move cases, and only while Telegram says — asked
afresh — that they are in the group. Every refused command is audited and answered with the reason."""
from __future__ import annotations

import time
from typing import Optional

from sqlalchemy import func, select

from bot.db import transaction
from bot.models import AuditLog, Strike
from bot.services import cases, handoff, reports
from tests.handoff.test_e2e import _held_report
from tests.security.conftest import AGENT_CHAT, MEMBER, OUTSIDER, SUPERVISOR
from tests.services.test_cases import _case_in

REFUND_REFUSED = "환불 승인과 거절은 책임자만 할 수 있어요. 책임자에게 요청해 주세요."
CASE_REFUSED = "케이스 상태 변경은 책임자만 할 수 있어요. 책임자에게 요청해 주세요."
NOT_AN_AGENT = "이 명령은 상담원만 쓸 수 있어요. 상담원 그룹 관리자에게 권한을 요청해 주세요."


def _say(ch, user_id: int, text: str, thread: Optional[int] = None, needle: str = "") -> str:
    """An agent writes in the group; returns the bot's answer in the same topic containing `needle`."""
    fake = ch.fake
    since = time.monotonic()
    ch.accept(fake.topic_update(user_id, AGENT_CHAT, thread, text=text))

    def answered():
        return [c.text for c in fake.sent(AGENT_CHAT, since)
                if c.params.get("message_thread_id") == thread and needle in c.text]
    return fake.wait_for(answered, 20)[0]


def _strikes() -> int:
    with transaction() as session:
        return session.execute(select(func.count(Strike.id))).scalar_one()


def _case_state(number: str) -> str:
    with transaction() as session:
        return cases.get_case_by_number(session, number).state


def _refusals(user_id: int) -> list[dict]:
    with transaction() as session:
        rows = session.execute(select(AuditLog).where(AuditLog.action == "telegram.command_refused",
                                                      AuditLog.actor == f"telegram-agent:{user_id}")
                               .order_by(AuditLog.id)).scalars().all()
        return [{"subject": r.subject, **r.detail} for r in rows]


def _member_checks(ch, user_id: int) -> int:
    return len([c for c in ch.fake.calls_of("getChatMember") if int(c.params.get("user_id")) == user_id])


def test_a_plain_member_can_neither_decide_a_refund_nor_move_a_case(desk_channel, orders_by_customer):
    ch = desk_channel
    held = _held_report(orders_by_customer, "shopper-5", 61)
    case = _case_in("under_review")
    strikes = _strikes()

    assert _say(ch, MEMBER, f"/refund approve {held}") == REFUND_REFUSED
    assert _say(ch, MEMBER, f"/case {case} action_taken 위조 확인") == CASE_REFUSED
    assert _say(ch, MEMBER, f"/refund reject {held} 사진이 같아요") == REFUND_REFUSED

    assert reports.get_report(held).refund_status == "held"
    assert _case_state(case) == "under_review" and _strikes() == strikes
    refused = _refusals(MEMBER)
    assert [(r["subject"], r["command"], r["reason"]) for r in refused] == [
        ("/refund", "refund", "not_supervisor"), ("/case", "case", "not_supervisor"),
        ("/refund", "refund", "not_supervisor")]
    assert refused[0]["args"] == f"approve {held}" and refused[1]["args"] == f"{case} action_taken 위조 확인"

    # What members may do: claim, talk, note and hand back.
    view = handoff.request("web", "shopper-6", "request_human", "rest").handoff
    thread = ch.fake.wait_for(lambda: handoff.get(view.id).topic_id, 20)
    ch.fake.wait_for(lambda: "지금까지의 대화" in "\n".join(c.text for c in ch.fake.topic_messages(thread)), 20)
    assert "님이 상담을 맡았어요" in _say(ch, MEMBER, "/claim", thread, "님이 상담을 맡았어요")
    assert "메모를 남겼어요" in _say(ch, MEMBER, "/note 영수증 확인 필요", thread, "메모를 남겼어요")
    ch.accept(ch.fake.topic_update(MEMBER, AGENT_CHAT, thread, text="안녕하세요, 확인해 드릴게요."))
    ch.fake.wait_for(lambda: handoff.get(view.id).agent_message_count == 1, 20)
    ch.accept(ch.fake.topic_update(MEMBER, AGENT_CHAT, thread, text="/done"))
    ch.fake.wait_for(lambda: handoff.get(view.id).state == "closed", 20)
    assert len(_refusals(MEMBER)) == 3


def test_a_supervisor_decides_refunds_and_moves_cases_each_time_checked_afresh(desk_channel, orders_by_customer):
    ch = desk_channel
    held = _held_report(orders_by_customer, "shopper-5", 62)
    case = _case_in("under_review")
    strikes = _strikes()

    assert _say(ch, SUPERVISOR, "/help").startswith("명령:")  # now cached as a member
    checks = _member_checks(ch, SUPERVISOR)
    assert "환불을 승인했어요" in _say(ch, SUPERVISOR, f"/refund approve {held}", needle="환불을 승인했어요")
    assert "조치 완료" in _say(ch, SUPERVISOR, f"/case {case} 조치완료 위조 확인", needle="상태를")
    # Money and case actions never trust the cached answer: one getChatMember each.
    assert _member_checks(ch, SUPERVISOR) == checks + 2

    assert reports.get_report(held).refund_status == "granted"
    assert _case_state(case) == "action_taken" and _strikes() == strikes + 1
    with transaction() as session:
        actors = set(session.execute(select(AuditLog.actor).where(AuditLog.action.in_(
            ["refund.approved", "case.transition"]), AuditLog.subject.in_([held, case]))).scalars())
    assert actors == {f"telegram-agent:{SUPERVISOR}"}
    assert _refusals(SUPERVISOR) == []


def test_a_supervisor_who_left_the_group_is_refused_at_once(desk_channel, orders_by_customer):
    ch = desk_channel
    held = _held_report(orders_by_customer, "shopper-5", 63)
    case = _case_in("under_review")
    strikes = _strikes()
    _say(ch, SUPERVISOR, "/help")  # getChatMember said "creator": cached for a minute
    assert _member_checks(ch, SUPERVISOR) == 1

    ch.fake.members[SUPERVISOR] = "left"  # removed from the group a second later
    assert _say(ch, SUPERVISOR, f"/refund approve {held}") == NOT_AN_AGENT
    assert _say(ch, SUPERVISOR, f"/case {case} action_taken 위조 확인") == NOT_AN_AGENT
    assert reports.get_report(held).refund_status == "held"
    assert _case_state(case) == "under_review" and _strikes() == strikes
    assert [(r["command"], r["reason"]) for r in _refusals(SUPERVISOR)] == [("refund", "not_member"),
                                                                           ("case", "not_member")]
    # The fresh answer replaced the cached one: the rest of the desk is closed to them too.
    assert _say(ch, SUPERVISOR, "/help") == NOT_AN_AGENT


def test_an_outsiders_commands_are_refused_and_audited(desk_channel, orders_by_customer):
    ch = desk_channel
    held = _held_report(orders_by_customer, "shopper-5", 64)
    assert _say(ch, OUTSIDER, f"/refund approve {held}") == NOT_AN_AGENT
    assert _say(ch, OUTSIDER, "/claim") == NOT_AN_AGENT
    assert reports.get_report(held).refund_status == "held"
    assert [(r["command"], r["reason"]) for r in _refusals(OUTSIDER)] == [("refund", "not_member"),
                                                                         ("claim", "not_member")]


def test_a_supervisor_is_refused_when_telegram_cannot_say_whether_they_are_in_the_group(
        desk_channel, orders_by_customer):
    ch = desk_channel
    held = _held_report(orders_by_customer, "shopper-5", 65)
    _say(ch, SUPERVISOR, "/help")  # cached as a member
    ch.fake.fail("getChatMember", status=500, times=5)
    answer = _say(ch, SUPERVISOR, f"/refund approve {held}")
    assert answer == "지금은 상담원 그룹 멤버인지 확인할 수 없어서 실행하지 않았어요. 잠시 후 다시 해 주세요."
    assert reports.get_report(held).refund_status == "held"
    assert [r["reason"] for r in _refusals(SUPERVISOR)] == ["membership_unknown"]
