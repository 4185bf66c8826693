"""The agents' desk commands (connectors/telegram_desk.py) through the fake Bot API and the real desk code:
/help, unknown commands, /note, /case IPP-… STATE, and turning a held refund down with /refund reject."""
from __future__ import annotations

import time

from sqlalchemy import select

from bot.replies import takeover as words
from bot.db import transaction
from bot.replies.korean import josa
from bot.models import AuditLog, CaseEvent, HandoffMessage
from bot.services import cases, handoff, orders, reports
from tests.handoff.test_e2e import _held_report
from tests.security.conftest import AGENT_CHAT, MEMBER, SUPERVISOR, desk_channel  # noqa: F401  (fixture)
from tests.security.test_agent_roles import _say
from tests.services.test_cases import _case_in
from tests.connectors.conftest import channel, fake_api  # noqa: F401  (fixtures)


def _topic(ch, customer: str) -> tuple[int, int]:
    """A web shopper's hand-over waiting in its own topic: (handoff id, thread)."""
    view = handoff.request("web", customer, "request_human", "rest").handoff
    thread = ch.fake.wait_for(lambda: handoff.get(view.id).topic_id, 20)
    ch.fake.wait_for(lambda: "지금까지의 대화" in "\n".join(c.text for c in ch.fake.topic_messages(thread)), 20)
    return view.id, thread


def _to_user(handoff_id: int) -> list[str]:
    """What the desk queued for the user (web hand-overs are delivered from this outbox)."""
    with transaction() as session:
        return session.execute(select(HandoffMessage.text).where(
            HandoffMessage.handoff_id == handoff_id, HandoffMessage.direction.in_(handoff.TO_USER))).scalars().all()


def _audits(action: str, subject: str) -> list[tuple[str, dict]]:
    with transaction() as session:
        return [tuple(r) for r in session.execute(select(AuditLog.actor, AuditLog.detail).where(
            AuditLog.action == action, AuditLog.subject == subject).order_by(AuditLog.id)).all()]


def test_help_lists_the_commands_and_an_unknown_one_is_answered_not_relayed(desk_channel):
    ch = desk_channel
    handoff_id, thread = _topic(ch, "shopper-6")
    assert _say(ch, MEMBER, "/help", thread) == words.COMMANDS_KO
    assert _say(ch, SUPERVISOR, "/help@CleanBot") == words.COMMANDS_KO  # the General topic
    unknown = _say(ch, MEMBER, "/refnd approve RPT-2026-000001", thread)
    assert unknown == words.UNKNOWN_COMMAND_KO and unknown.startswith("모르는 명령이에요.\n명령:")
    assert _say(ch, MEMBER, "/start", thread) == words.UNKNOWN_COMMAND_KO
    time.sleep(0.5)
    # A mistyped command never reaches the user, nor takes the conversation.
    view = handoff.get(handoff_id)
    assert (view.state, view.agent_id, view.agent_message_count) == ("waiting", None, 0)
    assert _to_user(handoff_id) == []


def test_a_note_stays_with_the_team(desk_channel):
    ch = desk_channel
    handoff_id, thread = _topic(ch, "shopper-6")
    assert _say(ch, MEMBER, "/note 영수증 사진을 한 번 더 받아야 해요", thread) == words.NOTE_SAVED_KO
    # On the next line, as agents often write it.
    assert _say(ch, MEMBER, "/note\n판매자 답변 기다리는 중\n내일 다시 확인", thread) == words.NOTE_SAVED_KO
    assert _say(ch, MEMBER, "/note   ", thread) == "메모 내용을 적어 주세요. 예: /note 같은 사진으로 두 번 신고한 고객이에요"
    assert _say(ch, MEMBER, "/note 토픽 밖 메모") == words.NO_HANDOFF_KO  # the General topic: no conversation
    with transaction() as session:
        notes = session.execute(select(HandoffMessage.text, HandoffMessage.actor).where(
            HandoffMessage.handoff_id == handoff_id, HandoffMessage.direction == "note")
            .order_by(HandoffMessage.id)).all()
    assert [tuple(n) for n in notes] == [("영수증 사진을 한 번 더 받아야 해요", f"telegram-agent:{MEMBER}"),
                                         ("판매자 답변 기다리는 중\n내일 다시 확인", f"telegram-agent:{MEMBER}")]
    assert [a for a, _ in _audits("handoff.note", f"handoff:{handoff_id}")] == [f"telegram-agent:{MEMBER}"] * 2
    view = handoff.get(handoff_id)
    assert (view.state, view.agent_message_count) == ("waiting", 0) and _to_user(handoff_id) == []


def test_case_moves_a_case_with_a_note_and_refuses_what_does_not_apply(desk_channel):
    ch = desk_channel
    case = _case_in("under_review")
    assert _say(ch, SUPERVISOR, f"/case {case}") == words.CASE_USAGE_KO
    assert _say(ch, SUPERVISOR, "/case RPT-2026-000001 closed") == words.CASE_USAGE_KO
    assert _say(ch, SUPERVISOR, "/case IPP-2026-999999 under_review") == \
        "IPP-2026-999999 케이스를 찾을 수 없어요. 케이스 번호(IPP-YYYY-NNNNNN)를 확인해 주세요."
    assert _say(ch, SUPERVISOR, f"/case {case} 보류 잠시 멈춰요").startswith("'보류'는 케이스 상태가 아니에요. 다음 중 하나로")
    assert _say(ch, SUPERVISOR, f"/case {case} closed") == (
        f"{josa(case, '은/는')} 지금 '검토 중' 상태라서 '종결'로 바꿀 수 없어요. "
        "가능한 다음 상태: 조치 완료(action_taken), 보완 요청(info_requested), 반려(rejected), 철회(withdrawn)")
    with transaction() as session:
        assert cases.get_case_by_number(session, case).state == "under_review"

    # Korean state names and a lower-case number; the note may go on the next line.
    done = _say(ch, SUPERVISOR, f"/case {case.lower()} 보완요청\n상표 등록증 사본을 보내 주세요")
    assert done == f"📁 {case} 상태를 '보완 요청'으로 바꿨어요. 권리자에게는 상태 알림이 가요."
    assert _say(ch, SUPERVISOR, f"/case {case} under_review") == \
        f"📁 {case} 상태를 '검토 중'으로 바꿨어요. 권리자에게는 상태 알림이 가요."
    with transaction() as session:
        found = cases.get_case_by_number(session, case)
        events = session.execute(select(CaseEvent.actor, CaseEvent.from_state, CaseEvent.to_state, CaseEvent.note)
                                 .where(CaseEvent.case_id == found.id).order_by(CaseEvent.id)).all()
        assert found.state == "under_review"
    assert [tuple(e) for e in events[-2:]] == [
        (f"telegram-agent:{SUPERVISOR}", "under_review", "info_requested", "상표 등록증 사본을 보내 주세요"),
        (f"telegram-agent:{SUPERVISOR}", "info_requested", "under_review", None)]


def test_a_held_refund_is_rejected_only_with_a_reason_and_the_order_cannot_be_claimed_again(
        desk_channel, orders_by_customer):
    ch = desk_channel
    held = _held_report(orders_by_customer, "shopper-5", 71)
    handoff_id, thread = _topic(ch, "shopper-5")
    assert _say(ch, SUPERVISOR, f"/refund reject {held}", thread) == words.REFUND_REASON_KO
    assert _say(ch, SUPERVISOR, f"/refund reject {held}   ", thread) == words.REFUND_REASON_KO
    assert _say(ch, SUPERVISOR, f"/refund reject {held[:-1]} 사유", thread) == words.REFUND_USAGE_KO
    assert reports.get_report(held).refund_status == "held" and _audits("refund.rejected", held) == []

    answer = _say(ch, SUPERVISOR, f"/refund 거절 {held.lower()}\n같은 사진으로 다른 주문을 신고했어요.", thread)
    assert answer == (f"🚫 {held} 환불을 거절했어요. 사유: 같은 사진으로 다른 주문을 신고했어요. "
                      "고객에게 사유를 설명해 주세요.")
    report = reports.get_report(held)
    assert report.refund_status == "rejected" and report.refund_amount is None
    assert _audits("refund.rejected", held) == [(f"telegram-agent:{SUPERVISOR}",
                                                 {"reason": "같은 사진으로 다른 주문을 신고했어요."})]
    # Decided once: neither a second rejection nor an approval changes it.
    again = f"{josa(held, '은/는')} 이미 환불이 거절된 신고라서 다시 결정할 수 없어요."
    assert _say(ch, SUPERVISOR, f"/refund approve {held}", thread) == again
    assert _say(ch, SUPERVISOR, f"/refund reject {held} 다시", thread) == again
    assert reports.get_report(held).refund_status == "rejected"
    # The shopper claiming the same order again is told it was turned down, not that it is under review.
    order = reports.get_report(held).order_number
    claim = reports.file_report("shopper-5", order, "다시 신청해요")
    assert claim.status == "refund_rejected" and claim.report_number == held
    assert orders.check_order("shopper-5", order).problem == "refund_rejected"
    assert _to_user(handoff_id) == []  # the agent explains it in their own words
