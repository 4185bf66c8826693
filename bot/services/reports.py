"""Shopper reports and the 100% refund guarantee — decided and recorded exactly once.

The checks, the report, the case link and the refund are one transaction; the unique order number
on reports and refunds is what makes a retried, duplicated or concurrent claim pay once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import serialize, transaction
from bot.replies.korean import josa
from bot.replies import refund as replies
from bot.replies.recall import CLAIM_DESCRIPTION
from bot.models import IppCase, Listing, Notification, Order, Photo, RecallNotice, Refund, Report, ReportPhoto
from bot.services import audit, cases
from bot.services.errors import ServiceError
from bot.services.identity import customer_identity_ids
from bot.services.numbers import public_number
from bot.services.orders import Eligibility, eligibility_in
from bot.settings import get_settings

# pHash Hamming distance at or below which two photos count as the same picture.
SAME_PHOTO_DISTANCE = 6


@dataclass(frozen=True)
class ReportOutcome:
    """status: granted | held | or an Eligibility problem (not_found, not_delivered, ...)."""

    status: str
    report_number: Optional[str] = None
    amount_krw: Optional[int] = None
    refunded_at: Optional[datetime] = None
    hold_reason: Optional[str] = None
    eligibility: Optional[Eligibility] = None
    case_number: Optional[str] = None


@dataclass(frozen=True)
class ReportView:
    number: str
    order_number: str
    product_name: str
    brand: str
    amount_krw: int
    refund_status: str
    refund_amount: Optional[int]
    refunded_at: Optional[datetime]
    verdict: str
    case_number: str
    created_at: datetime
    description: str
    photo_count: int
    hold_reason: Optional[str] = None
    customer_id: str = ""
    listing_id: str = ""


def save_photos(session: Session, stored: Iterable) -> None:
    """Photo rows for files bot.photos stored (content-addressed, so idempotent — also when two requests
    store the same picture at once: the second insert does nothing instead of failing)."""
    rows = [dict(sha256=p.sha256, path=str(p.path), mime=p.mime, width=p.width, height=p.height,
                 size_bytes=p.size_bytes, phash=p.phash, created_at=utcnow())
            for p in {p.sha256: p for p in stored}.values()]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported databases
        raise RuntimeError(f"unsupported database: {dialect}")
    session.execute(insert(Photo).values(rows).on_conflict_do_nothing(index_elements=["sha256"]))
    session.flush()


def known_photos(session: Session, photo_shas: Iterable[str]) -> list[str]:
    """The ids, in order and once each, that name a stored photo: an id the pruner removed between upload
    and submission is dropped rather than failing the whole claim on its foreign key."""
    return [sha for sha in dict.fromkeys(photo_shas) if session.get(Photo, sha) is not None]


def _abuse_hold_reason(session: Session, customer_id: str, order_number: str, photo_shas: list[str]) -> Optional[str]:
    from bot.photos import phash_distance

    settings = get_settings()
    since = utcnow() - timedelta(days=settings.abuse_window_days)
    recent = session.execute(
        select(func.count(Refund.id))
        .join(Report, Report.id == Refund.report_id)
        .where(Report.customer_id == customer_id, Refund.created_at >= since, Refund.approved_by == "guarantee")
    ).scalar_one()
    if recent >= settings.abuse_max_refunds:
        return f"최근 {settings.abuse_window_days}일 환불 {recent}건"
    if photo_shas:
        mine = session.execute(select(Photo.phash).where(Photo.sha256.in_(photo_shas))).scalars().all()
        others = session.execute(
            select(Photo.phash, Report.number)
            .join(ReportPhoto, ReportPhoto.photo_sha256 == Photo.sha256)
            .join(Report, Report.id == ReportPhoto.report_id)
            .where(Report.order_number != order_number)
        ).all()
        for phash in mine:
            for other_hash, other_report in others:
                if phash_distance(phash, other_hash) <= SAME_PHOTO_DISTANCE:
                    return f"같은 사진이 다른 주문의 신고({other_report})에 쓰였음"
    return None


def _file_in(session: Session, customer_id: str, order_number: str, description: str,
             photo_shas: list[str], actor: str, recall: bool = False) -> ReportOutcome:
    # The abuse rules read rows no order lock covers: the shopper's other refunds, and photos on any
    # order of anyone. So concurrent claims queue here first, or each would miss the others. Claims
    # with photos take the wider lock before the shopper's, always in that order (no deadlock).
    photo_shas = known_photos(session, photo_shas)
    if photo_shas:
        serialize(session, "claims-with-photos")
    serialize(session, "claims-of-customer", customer_id)
    order = session.get(Order, order_number, with_for_update=True)
    check = eligibility_in(session, customer_id, order_number)
    if check.problem:
        return ReportOutcome(check.problem, report_number=check.report_number, amount_krw=check.refund_amount,
                             refunded_at=check.refunded_at, eligibility=check)
    now = utcnow()
    if recall:
        # A recall claim joins the case that found the listing fake: no new case, and no abuse hold (the
        # team, not the shopper, said it is a fake).
        notice = session.execute(select(RecallNotice).where(
            RecallNotice.order_number == order_number, RecallNotice.customer_id == customer_id)).scalar_one_or_none()
        if notice is None:
            return ReportOutcome("not_found", eligibility=Eligibility("not_found"))
        case = session.get(IppCase, notice.case_id)
        hold = None
    else:
        listing = session.get(Listing, order.listing_id)
        case = cases.find_open_case(session, listing.id, lock=True)
        if case is None:
            case = cases.open_case(session, listing=listing, source="shopper_report", actor="bot",
                                   note="구매자 가품 신고로 접수되었어요.")
        hold = _abuse_hold_reason(session, customer_id, order_number, photo_shas)
    report = Report(
        customer_id=customer_id,
        order_number=order_number,
        case_id=case.id,
        description=description,
        refund_status="held" if hold else "granted",
        hold_reason=hold,
        verdict="confirmed_fake" if case.state in ("action_taken", "upheld") else "pending",
        created_at=now,
    )
    session.add(report)
    session.flush()
    report.number = public_number("RPT", report.id, now)
    for sha in photo_shas:
        session.add(ReportPhoto(report_id=report.id, photo_sha256=sha))
    if not hold:
        session.add(Refund(order_number=order_number, report_id=report.id, amount_krw=order.amount_krw,
                           approved_by="guarantee", created_at=now))
    session.flush()
    audit.record(session, actor, "report.filed", report.number,
                 {"order": order_number, "case": case.number, "refund": report.refund_status, "hold": hold,
                  "recall": recall})
    return ReportOutcome("held" if hold else "granted", report_number=report.number, amount_krw=order.amount_krw,
                         refunded_at=None if hold else now, hold_reason=hold, case_number=case.number)


def file_report(customer_id: str, order_number: str, description: str, photo_shas: Optional[list[str]] = None,
                actor: Optional[str] = None, recall: bool = False) -> ReportOutcome:
    """File a report and pay (or hold) its refund. Safe to call twice or concurrently for one order.

    recall: the buyer tapped "환불받기" on a recall notice (bot.services.recalls): the report joins the case
    that decided the listing, and is paid without the abuse hold."""
    photo_shas = list(photo_shas or [])
    last_error: Optional[Exception] = None
    for _attempt in range(5):
        try:
            with transaction() as session:
                return _file_in(session, customer_id, order_number, description.strip()[:2000], photo_shas,
                                actor or f"customer:{customer_id}", recall)
        except (IntegrityError, OperationalError) as error:
            # A concurrent claim won the unique constraint (or the open-case index): look again.
            last_error = error
    raise RuntimeError("could not file the report after retries") from last_error


def claim_recall(customer_id: Optional[str], order_number: str,
                 photo_shas: Optional[list[str]] = None) -> ReportOutcome:
    """A recall notice's "환불받기" tap (bot.services.recalls): the report and refund, exactly once per order.
    No description is asked for; photos are optional."""
    return file_report(customer_id or "", order_number, CLAIM_DESCRIPTION, photo_shas, recall=True)


def _report_view(session: Session, report: Report) -> ReportView:
    order = session.get(Order, report.order_number)
    case = session.get(IppCase, report.case_id)
    photo_count = session.execute(
        select(func.count()).select_from(ReportPhoto).where(ReportPhoto.report_id == report.id)
    ).scalar_one()
    refund = report.refund
    return ReportView(
        number=report.number,
        order_number=report.order_number,
        product_name=order.product_name,
        brand=case.brand.name,
        amount_krw=order.amount_krw,
        refund_status=report.refund_status,
        refund_amount=refund.amount_krw if refund else None,
        refunded_at=refund.created_at if refund else None,
        verdict=report.verdict,
        case_number=case.number,
        created_at=report.created_at,
        description=report.description,
        photo_count=photo_count,
        hold_reason=report.hold_reason,
        customer_id=report.customer_id,
        listing_id=case.listing_id,
    )


def list_reports(customer_id: Optional[str] = None, refund_status: Optional[str] = None) -> list[ReportView]:
    with transaction() as session:
        query = select(Report).order_by(Report.created_at.desc(), Report.id.desc())
        if customer_id is not None:
            query = query.where(Report.customer_id == customer_id)
        if refund_status is not None:
            query = query.where(Report.refund_status == refund_status)
        return [_report_view(session, r) for r in session.execute(query).scalars()]


def get_report(number: str, customer_id: Optional[str] = None) -> Optional[ReportView]:
    """A report by number; with customer_id, only that shopper's own (others look like missing)."""
    with transaction() as session:
        report = session.execute(select(Report).where(Report.number == number.upper())).scalar_one_or_none()
        if report is None or (customer_id is not None and report.customer_id != customer_id):
            return None
        return _report_view(session, report)


class ReportActionError(ServiceError):
    """A review action that does not apply; `message_ko` says why and what to do."""


def decide_held_refund(number: str, approve: bool, actor: str, reason: Optional[str] = None) -> ReportView:
    """An agent's decision on a refund held under the abuse rules; turning one down needs a reason."""
    reason = (reason or "").strip() or None
    if not approve and reason is None:
        raise ReportActionError("환불을 거절하려면 사유를 함께 적어 주세요. 사유는 신고 기록에 남아요.")
    with transaction() as session:
        report = session.execute(
            select(Report).where(Report.number == number.upper()).with_for_update()
        ).scalar_one_or_none()
        if report is None:
            raise ReportActionError(f"{number} 신고를 찾을 수 없어요. 신고번호를 확인해 주세요.")
        if report.refund_status != "held":
            state = {"granted": "이미 환불된", "rejected": "이미 환불이 거절된"}[report.refund_status]
            raise ReportActionError(f"{josa(report.number, '은/는')} {state} 신고라서 다시 결정할 수 없어요.")
        now = utcnow()
        order = session.get(Order, report.order_number)
        if approve:
            report.refund_status = "granted"
            session.add(Refund(order_number=report.order_number, report_id=report.id, amount_krw=order.amount_krw,
                               approved_by=actor, created_at=now))
        else:
            report.refund_status = "rejected"
            report.hold_reason = (report.hold_reason or "") + f" / 거절 사유: {reason}"
        # The shopper was promised the result: told on every linked chat account, in this transaction.
        text = replies.held_refund_decided(report.number, approve, order.amount_krw, now, reason)
        for identity_id in customer_identity_ids(session, report.customer_id):
            session.add(Notification(topic=f"refund-decision:{report.number}", identity_id=identity_id, text=text,
                                     created_at=now, next_attempt_at=now, attempts=0))
        session.flush()
        audit.record(session, actor, "refund.approved" if approve else "refund.rejected", report.number,
                     {"reason": reason})
        return _report_view(session, report)


def review_report(number: str, confirm_fake: bool, note: str, actor: str) -> ReportView:
    """The brand-protection team's verdict: decides the report's case once for all its reports."""
    with transaction() as session:
        report = session.execute(select(Report).where(Report.number == number.upper())).scalar_one_or_none()
        if report is None:
            raise ReportActionError(f"{number} 신고를 찾을 수 없어요. 신고번호를 확인해 주세요.")
        case = session.get(IppCase, report.case_id, with_for_update=True)
        target = "action_taken" if confirm_fake else "rejected"
        if case.state == target:
            raise ReportActionError(f"{josa(report.number, '이/가')} 속한 {josa(case.number, '은/는')} 이미 결정된 케이스예요. 상태를 바꾸려면 cleanbot cases set-status를 써 주세요.")
        if case.state in ("submitted", "info_requested"):
            cases.transition(session, case, "under_review", actor, "브랜드 보호팀이 검토를 시작했어요.")
        try:
            cases.transition(session, case, target, actor, note)
        except cases.IllegalTransition as error:
            raise ReportActionError(error.message_ko) from error
        audit.record(session, actor, "report.reviewed", report.number, {"verdict": target, "note": note})
        session.flush()
        session.refresh(report)
        return _report_view(session, report)
