"""Mystery-shopper test buys and random inspections by third parties.

A `fake` result decides the listing's open case as action_taken (or opens one, source "inspection") with
the inspection as evidence: the listing comes down, the seller gets one strike and the buyers get the
recall — all through bot.services.cases.transition, in this one transaction. `genuine` and
`inconclusive` are recorded on the open case's timeline (the rights holders are notified like any other
change) or, with no case open, on the listing alone. Either way the brand's rights holders can ask for
their inspections.

`plan` picks listings to test-buy: a sample weighted by risk (`listing_risk_weights`), reproducible with
a seed, never a listing inspected in the last 30 days."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import transaction
from bot.models import (
    INSPECTION_RESULTS,
    OPEN_CASE_STATES,
    Brand,
    CasePhoto,
    Inspection,
    InspectionPhoto,
    IppCase,
    Listing,
    RecallNotice,
)
from bot.replies.inspections import RESULT_KO
from bot.replies.korean import josa
from bot.services import audit, cases
from bot.services.reports import known_photos
from bot.services.screening import risk_scores

# A listing test-bought this recently is not planned again.
PLAN_COOLDOWN_DAYS = 30


class InspectionError(Exception):
    """A request that does not apply; `message_ko` says why and what to do."""

    def __init__(self, message_ko: str):
        super().__init__(message_ko)
        self.message_ko = message_ko


@dataclass(frozen=True)
class InspectionOutcome:
    """What recording the inspection did. case_number: the case it was recorded on (None: no case);
    decided: this inspection decided the case (fake); recalls: recall notices it wrote."""

    id: int
    listing_id: str
    result: str
    agency: str
    case_number: Optional[str]
    case_state: Optional[str]
    opened: bool
    decided: bool
    recalls: int
    photo_count: int


def _note(inspection: Inspection) -> str:
    text = f"{inspection.agency} 테스트 구매 결과 {RESULT_KO[inspection.result]}(검사 #{inspection.id})"
    if inspection.order_ref:
        text += f", 주문 {inspection.order_ref}"
    return text + (f": {inspection.note}" if inspection.note else "")


def _latest_case(session: Session, listing_id: str) -> Optional[IppCase]:
    return session.execute(
        select(IppCase).where(IppCase.listing_id == listing_id).order_by(IppCase.id.desc()).limit(1)
    ).scalar_one_or_none()


def _add_in(session: Session, listing_id: str, result: str, agency: str, order_ref: Optional[str],
            note: Optional[str], photo_shas: list[str], actor: str) -> InspectionOutcome:
    # The case is locked before its listing (as every decider does, in cases.transition): no deadlock.
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise InspectionError(f"상품 {josa(listing_id, '을/를')} 찾을 수 없어요. 상품 번호(1005로 시작하는 16자리)를 확인해 주세요.")
    case = cases.find_open_case(session, listing.id, lock=True)
    opened = decided = False
    if case is None and result == "fake" and listing.status == "active":
        case = cases.open_case(session, listing=listing, source="inspection", actor=actor,
                               note=f"{agency} 테스트 구매에서 가품이 확인되어 접수되었어요.",
                               infringement_type="counterfeit")
        opened = True
    elif case is None and result == "fake":
        # Already taken down: the test buy is evidence on the case that decided it, with no second strike.
        case = _latest_case(session, listing.id)
    inspection = Inspection(listing_id=listing.id, case_id=case.id if case else None, result=result, agency=agency,
                            order_ref=order_ref, note=note, created_at=utcnow(), created_by=actor)
    session.add(inspection)
    session.flush()
    shas = known_photos(session, photo_shas)
    for sha in shas:
        session.add(InspectionPhoto(inspection_id=inspection.id, photo_sha256=sha))
    if case is not None:
        existing = set(session.execute(select(CasePhoto.photo_sha256).where(CasePhoto.case_id == case.id)).scalars())
        for sha in shas:
            if sha not in existing:
                session.add(CasePhoto(case_id=case.id, photo_sha256=sha))
    session.flush()
    recalls_before = _recall_count(session, case) if case else 0
    if case is not None and result == "fake" and case.state in OPEN_CASE_STATES:
        if case.state != "under_review":
            cases.transition(session, case, "under_review", actor, "테스트 구매 결과로 검토를 시작했어요.")
        cases.transition(session, case, "action_taken", actor, _note(inspection))
        decided = True
    elif case is not None:
        # Recorded on the timeline without a state change; the brand's holders are notified of it.
        cases.record_event(session, case, case.state, actor, _note(inspection), case.state)
    recalls = (_recall_count(session, case) - recalls_before) if case else 0
    audit.record(session, actor, "inspection.added", listing.id,
                 {"inspection": inspection.id, "result": result, "agency": agency,
                  "case": case.number if case else None, "decided": decided})
    return InspectionOutcome(inspection.id, listing.id, result, agency, case.number if case else None,
                             case.state if case else None, opened, decided, recalls, len(shas))


def _recall_count(session: Session, case: IppCase) -> int:
    return session.execute(select(func.count(RecallNotice.id)).where(RecallNotice.case_id == case.id)).scalar_one()


def add(listing_id: str, result: str, agency: str, order_ref: Optional[str] = None, note: Optional[str] = None,
        photo_shas: Iterable[str] = (), actor: str = "operator") -> InspectionOutcome:
    """Record one test buy; a `fake` decides the listing's case (see the module's docstring)."""
    result = (result or "").strip().lower()
    agency = (agency or "").strip()
    if result not in INSPECTION_RESULTS:
        raise InspectionError("결과는 fake(가품), genuine(정품), inconclusive(판정 불가) 중 하나로 입력해 주세요.")
    if not agency:
        raise InspectionError("검사한 기관 이름을 --by로 알려 주세요. 예: --by \"한국소비자검사원\"")
    last_error: Optional[Exception] = None
    for _attempt in range(5):
        try:
            with transaction() as session:
                return _add_in(session, listing_id, result, agency[:100], (order_ref or "").strip() or None,
                               (note or "").strip() or None, list(photo_shas), actor)
        except (IntegrityError, OperationalError) as error:
            # A concurrent filing won the open-case index: look again.
            last_error = error
    raise RuntimeError("could not record the inspection after retries") from last_error


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class InspectionView:
    id: int
    listing_id: str
    listing_title: str
    brand: str
    result: str
    agency: str
    order_ref: Optional[str]
    note: Optional[str]
    case_number: Optional[str]
    created_at: datetime
    photo_count: int


def _views(session: Session, query) -> list[InspectionView]:
    rows = session.execute(
        query.add_columns(Listing.title, Brand.name, IppCase.number)
        .join(Listing, Listing.id == Inspection.listing_id)
        .join(Brand, Brand.id == Listing.brand_id)
        .outerjoin(IppCase, IppCase.id == Inspection.case_id)
        .order_by(Inspection.created_at.desc(), Inspection.id.desc())
    ).all()
    out = []
    for inspection, title, brand, number in rows:
        photos = session.execute(select(func.count()).select_from(InspectionPhoto)
                                 .where(InspectionPhoto.inspection_id == inspection.id)).scalar_one()
        out.append(InspectionView(inspection.id, inspection.listing_id, title, brand, inspection.result,
                                  inspection.agency, inspection.order_ref, inspection.note, number,
                                  inspection.created_at, photos))
    return out


def list_inspections(listing_id: Optional[str] = None, brand: Optional[str] = None) -> list[InspectionView]:
    from bot.catalogue import canonical_brand

    with transaction() as session:
        query = select(Inspection)
        if listing_id:
            query = query.where(Inspection.listing_id == listing_id)
        if brand:
            name = canonical_brand(brand) or brand
            query = query.where(Inspection.listing_id.in_(
                select(Listing.id).join(Brand, Brand.id == Listing.brand_id).where(Brand.name == name)))
        return _views(session, query)


def brand_inspections(brand_ids: Iterable[int], limit: int = 10) -> list[InspectionView]:
    """A rights holder's view: the latest test buys of their brands' listings."""
    ids = sorted(set(brand_ids))
    if not ids:
        return []
    with transaction() as session:
        query = select(Inspection).where(Inspection.listing_id.in_(
            select(Listing.id).where(Listing.brand_id.in_(ids))))
        return _views(session, query)[:limit]


# --------------------------------------------------------------------------- the plan


def listing_risk_weights(session: Session, listing_ids: Iterable[str]) -> dict[str, float]:
    """A sampling weight per listing: 1 (every listing may be picked) plus its screening risk score
    (0 … 100, bot.services.screening), so risky listings are bought more often but none never."""
    ids = list(listing_ids)
    scores = risk_scores(session, ids) if ids else {}
    return {listing_id: 1.0 + scores.get(listing_id, 0.0) for listing_id in ids}


@dataclass(frozen=True)
class PlannedBuy:
    listing_id: str
    title: str
    brand: str
    seller_id: str
    price_krw: int
    weight: float


def plan(count: int, brand: Optional[str] = None, seed: Optional[int] = None) -> list[PlannedBuy]:
    """`count` active listings to test-buy, drawn without replacement with probability by risk weight
    (Efraimidis–Spirakis: the largest u^(1/w)); the same seed over the same data gives the same plan."""
    from bot.catalogue import canonical_brand

    if count < 1:
        raise InspectionError("몇 건을 고를지 1 이상으로 --count에 적어 주세요.")
    now = utcnow()
    with transaction() as session:
        query = select(Listing).where(
            Listing.status == "active",
            ~select(Inspection.id).where(Inspection.listing_id == Listing.id,
                                         Inspection.created_at >= now - timedelta(days=PLAN_COOLDOWN_DAYS)).exists(),
        ).order_by(Listing.id)
        if brand:
            name = canonical_brand(brand) or brand
            brand_row = session.execute(select(Brand).where(Brand.name == name)).scalar_one_or_none()
            if brand_row is None:
                raise InspectionError(f"{josa(brand, '은/는')} 등록된 브랜드가 아니에요. 브랜드 이름을 확인해 주세요.")
            query = query.where(Listing.brand_id == brand_row.id)
        listings = list(session.execute(query).scalars())
        weights = listing_risk_weights(session, [listing.id for listing in listings])
        rng = random.Random(seed)
        keyed = sorted(((rng.random() ** (1.0 / max(weights[listing.id], 1e-9)), listing) for listing in listings),
                       key=lambda pair: pair[0], reverse=True)
        return [PlannedBuy(listing.id, listing.title, listing.brand.name, listing.seller_id, listing.price_krw,
                           weights[listing.id]) for _key, listing in keyed[:count]]
