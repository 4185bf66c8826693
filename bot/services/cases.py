"""IPP cases: the state machine, the timeline, and the outbox rows every change writes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.replies.korean import josa
from bot.models import OPEN_CASE_STATES, CaseEvent, HolderIdentity, IppCase, Notification, Report, RightsHolder
from bot.services import audit, penalties, recalls
from bot.services.numbers import public_number
from bot.settings import get_settings

STATE_KO = {
    "submitted": "접수",
    "under_review": "검토 중",
    "info_requested": "보완 요청",
    "action_taken": "조치 완료",
    "rejected": "반려",
    "counter_notice": "이의신청",
    "upheld": "조치유지",
    "reinstated": "복구",
    "withdrawn": "철회",
    "closed": "종결",
}

# Final states may be closed; a decision may be contested once by the seller.
ALLOWED = {
    "submitted": {"under_review", "withdrawn"},
    "under_review": {"info_requested", "action_taken", "rejected", "withdrawn"},
    "info_requested": {"under_review", "withdrawn"},
    "action_taken": {"counter_notice", "closed"},
    "counter_notice": {"upheld", "reinstated"},
    "rejected": {"closed"},
    "upheld": {"closed"},
    "reinstated": {"closed"},
    "withdrawn": {"closed"},
    "closed": set(),
}

NEXT_STEP_KO = {
    "submitted": "브랜드 보호팀이 곧 검토를 시작해요. 보통 영업일 {days}일 안에 결과가 나와요.",
    "under_review": "브랜드 보호팀이 검토하고 있어요. 결과가 나오면 바로 알려 드릴게요.",
    "info_requested": "보완 자료가 필요해요. 요청 내용을 확인하시고 자료를 보내 주세요.",
    "action_taken": "상품을 내렸어요. 판매자가 이의신청을 하면 다시 알려 드릴게요.",
    "rejected": "반려되었어요. 새 근거가 있으면 다시 신고해 주세요.",
    "counter_notice": "판매자가 이의신청을 했어요. 브랜드 보호팀이 다시 검토해요.",
    "upheld": "이의신청을 검토한 결과 조치를 유지해요.",
    "reinstated": "이의신청이 받아들여져 상품이 복구되었어요.",
    "withdrawn": "신고를 철회하셨어요.",
    "closed": "종결된 케이스예요.",
}


class IllegalTransition(Exception):
    def __init__(self, case_number: str, from_state: str, to_state: str):
        super().__init__(f"{case_number}: {from_state} → {to_state} is not allowed")
        self.case_number, self.from_state, self.to_state = case_number, from_state, to_state

    @property
    def message_ko(self) -> str:
        allowed = ", ".join(f"{STATE_KO[s]}({s})" for s in sorted(ALLOWED.get(self.from_state, ()))) or "없음"
        target = f"'{STATE_KO.get(self.to_state, self.to_state)}'"
        return (
            f"{josa(self.case_number, '은/는')} 지금 '{STATE_KO.get(self.from_state, self.from_state)}' 상태라서 "
            f"{josa(target, '으로/로')} 바꿀 수 없어요. 가능한 다음 상태: {allowed}"
        )


def can_transition(from_state: str, to_state: str) -> bool:
    return to_state in ALLOWED.get(from_state, set())


def next_step_ko(state: str) -> str:
    """What happens next in a state, with the usual review time from the settings."""
    return NEXT_STEP_KO[state].format(days=get_settings().ipp_review_days)


def status_update_text(case: IppCase, event: CaseEvent) -> str:
    listing = case.listing
    subject = f"[{case.number}] {listing.title}" if listing is not None else f"[{case.number}]"
    if event.from_state is None:
        lines = [f"{subject} 케이스가 새로 접수되었어요."]
    elif event.from_state == event.to_state:
        lines = [f"{subject} 케이스에 새 내용이 추가되었어요(현재 상태: {STATE_KO[event.to_state]})."]
    else:
        state = f"'{STATE_KO[event.to_state]}'"
        lines = [f"{subject} 케이스 상태가 {josa(state, '으로/로')} 바뀌었어요."]
    if event.note:
        lines.append(f"메모: {event.note}")
    lines.append(next_step_ko(event.to_state))
    return "\n".join(lines)


def _notify_holders(session: Session, case: IppCase, event: CaseEvent, skip_identity_ids: Iterable[int] = ()) -> None:
    """Outbox rows for every chat account of the brand's verified holders, in the same transaction.

    `skip_identity_ids`: accounts that made the change themselves and were answered in the chat."""
    skip = set(skip_identity_ids)
    identity_ids = session.execute(
        select(HolderIdentity.identity_id)
        .join(RightsHolder, RightsHolder.id == HolderIdentity.rights_holder_id)
        .where(RightsHolder.brand_id == case.brand_id)
        .distinct()
    ).scalars()
    text = status_update_text(case, event)
    for identity_id in identity_ids:
        if identity_id in skip:
            continue
        session.add(
            Notification(
                case_event_id=event.id,
                identity_id=identity_id,
                text=text,
                created_at=event.at,
                next_attempt_at=event.at,
                attempts=0,
            )
        )


def record_event(session: Session, case: IppCase, to_state: str, actor: str, note: Optional[str],
                 from_state: Optional[str], skip_identity_ids: Iterable[int] = ()) -> CaseEvent:
    """A timeline entry and, in the same transaction, its outbox rows. from_state == to_state records
    something added to the case without a state change (e.g. a rights holder's notice joining it)."""
    now = utcnow()
    event = CaseEvent(case_id=case.id, at=now, actor=actor, from_state=from_state, to_state=to_state, note=note)
    session.add(event)
    case.updated_at = now
    session.flush()
    _notify_holders(session, case, event, skip_identity_ids)
    return event


def open_case(session: Session, *, listing, source: str, actor: str, note: str,
              rights_holder_id: Optional[int] = None, infringement_type: Optional[str] = None,
              trademark_number: Optional[str] = None, description: Optional[str] = None,
              skip_identity_ids: Iterable[int] = ()) -> IppCase:
    now = utcnow()
    case = IppCase(
        listing_id=listing.id,
        brand_id=listing.brand_id,
        state="submitted",
        source=source,
        rights_holder_id=rights_holder_id,
        infringement_type=infringement_type,
        trademark_number=trademark_number,
        description=description,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    case.number = public_number("IPP", case.id, now)
    record_event(session, case, "submitted", actor, note, None, skip_identity_ids)
    audit.record(session, actor, "case.opened", case.number, {"listing": listing.id, "source": source})
    return case


def find_open_case(session: Session, listing_id: str, lock: bool = False) -> Optional[IppCase]:
    query = select(IppCase).where(IppCase.listing_id == listing_id, IppCase.state.in_(OPEN_CASE_STATES))
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def transition(session: Session, case: IppCase, to_state: str, actor: str, note: Optional[str] = None) -> CaseEvent:
    """Move a case, applying its outcome once: take-down, strike and recall notices on action_taken, undo
    on reinstated."""
    from_state = case.state
    if not can_transition(from_state, to_state):
        raise IllegalTransition(case.number, from_state, to_state)
    case.state = to_state
    if to_state in ("action_taken", "rejected", "withdrawn"):
        case.decided_at = utcnow()
    if to_state == "action_taken":
        penalties.take_down(session, case, actor, note or "가품 확인")
        _set_verdict(session, case, "confirmed_fake")
    elif to_state == "rejected":
        _set_verdict(session, case, "genuine")
    elif to_state == "reinstated":
        penalties.reinstate(session, case, actor)
        _set_verdict(session, case, "genuine")
    event = record_event(session, case, to_state, actor, note, from_state)
    if to_state == "action_taken":
        recalls.write_notices(session, case, event)
    audit.record(session, actor, "case.transition", case.number, {"from": from_state, "to": to_state, "note": note})
    return event


def _set_verdict(session: Session, case: IppCase, verdict: str) -> None:
    for report in session.execute(select(Report).where(Report.case_id == case.id)).scalars():
        report.verdict = verdict


def get_case_by_number(session: Session, number: str, lock: bool = False) -> Optional[IppCase]:
    query = select(IppCase).where(IppCase.number == number.upper())
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


@dataclass(frozen=True)
class CaseView:
    number: str
    state: str
    listing_id: str
    brand: str
    source: str
    created_at: datetime
    updated_at: datetime
    last_note: Optional[str]
    report_count: int
