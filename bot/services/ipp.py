"""IPP cases for rights holders: filing a takedown notice, and what a holder may see.

Visibility: a rights holder sees the cases of the brands their chat account is verified for — the
ones they filed and the ones shopper reports opened on their products. A case of any other brand
is treated exactly like one that does not exist (every look-up here returns None for both).

Filing: one open case per listing (a partial unique index). A notice on a listing whose open case
came from shopper reports joins that case; a second notice by the same holder on the same listing
is refused with the existing case number.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, Optional, Sequence

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.replies.korean import josa
from bot.models import (
    CASE_STATES,
    INFRINGEMENT_TYPES,
    OPEN_CASE_STATES,
    Brand,
    CaseEvent,
    CasePhoto,
    ChatIdentity,
    IppCase,
    Listing,
    Report,
    RightsHolder,
)
from bot.services import audit, cases
from bot.services.errors import ServiceError
from bot.services.identity import HolderBrand
from bot.services.reports import known_photos
from bot.settings import get_settings

INFRINGEMENT_KO = {
    "counterfeit": "위조품(가품)",
    "trademark": "상표권 침해",
    "copyright": "저작권 침해",
    "design": "디자인권 침해",
}
SOURCE_KO = {"shopper_report": "구매자 신고", "rights_holder": "권리자 신고", "screening": "위험 탐지"}
MAX_DESCRIPTION = 2000

# Keywords in the order they are tried: the more specific rights first, "fake" last.
_TYPE_KEYWORDS = (
    ("copyright", ("저작권", "copyright", "사진 도용", "사진도용", "이미지 도용", "이미지도용", "상세페이지", "무단 복제")),
    ("design", ("디자인", "design", "의장")),
    ("trademark", ("상표", "trademark", "로고", "브랜드명", "tm")),
    ("counterfeit", ("위조", "가품", "짝퉁", "가짜", "모조", "counterfeit", "fake", "레플", "이미테이션", "짭")),
)
_TYPE_NUMBERS = {"1": "counterfeit", "2": "trademark", "3": "copyright", "4": "design"}
_TRADEMARK_RE = re.compile(r"^40[-\s]?(?:(\d{4})[-\s]?(\d{7})|(\d{7}))$")


def parse_infringement_type(text: Optional[str]) -> Optional[str]:
    """counterfeit | trademark | copyright | design from a button or a typed answer, else None."""
    raw = (text or "").strip()
    if raw.lower() in INFRINGEMENT_TYPES:
        return raw.lower()
    digits = re.sub(r"[^0-9]", "", raw)
    if digits in _TYPE_NUMBERS and len(raw) <= 4:
        return _TYPE_NUMBERS[digits]
    lowered = raw.lower()
    for kind, words in _TYPE_KEYWORDS:
        for word in words:
            if word == "tm":
                if re.search(r"(?<![a-z])tm(?![a-z])", lowered):
                    return kind
            elif word in lowered:
                return kind
    return None


def normalize_trademark(text: Optional[str]) -> Optional[str]:
    """'40-1234567' / '40-2020-1234567' (hyphens or spaces optional) in canonical form, else None."""
    match = _TRADEMARK_RE.match((text or "").strip())
    if not match:
        return None
    year, serial, short = match.groups()
    return f"40-{year}-{serial}" if year else f"40-{short}"


class CaseActionError(ServiceError):
    """An operator request that does not apply; `message_ko` says why and what to do."""


# --------------------------------------------------------------------------- filing


@dataclass(frozen=True)
class ListingCheck:
    """problem: None | not_found | other_brand | removed | duplicate | taken.

    case_number/case_state: the existing case (duplicate, taken) or the open case the notice joins."""

    listing_id: str
    problem: Optional[str] = None
    title: Optional[str] = None
    brand: Optional[str] = None
    price_krw: Optional[int] = None
    seller: Optional[str] = None
    case_number: Optional[str] = None
    case_state: Optional[str] = None
    joins: bool = False
    holder_brands: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilingOutcome:
    """status: opened | joined | a ListingCheck problem | invalid (bad type or trademark number)."""

    status: str
    check: ListingCheck
    case_number: Optional[str] = None
    state: Optional[str] = None
    photo_count: int = 0


def _holder_for(holder_brands: Sequence[HolderBrand], brand_id: int) -> Optional[HolderBrand]:
    return next((h for h in holder_brands if h.brand_id == brand_id), None)


def _check_in(session: Session, holder_brands: Sequence[HolderBrand], listing_id: str,
              lock: bool = False) -> tuple[ListingCheck, Optional[Listing], Optional[IppCase], Optional[HolderBrand]]:
    names = tuple(sorted({h.brand_name for h in holder_brands}))
    listing = session.get(Listing, listing_id) if listing_id else None
    if listing is None:
        return ListingCheck(listing_id, "not_found", holder_brands=names), None, None, None
    base = dict(listing_id=listing.id, title=listing.title, brand=listing.brand.name, price_krw=listing.price_krw,
                seller=listing.seller.name, holder_brands=names)
    holder = _holder_for(holder_brands, listing.brand_id)
    if holder is None:
        return ListingCheck(problem="other_brand", **base), listing, None, None
    open_case = cases.find_open_case(session, listing.id, lock=lock)
    if open_case is not None:
        if open_case.rights_holder_id == holder.rights_holder_id:
            return (ListingCheck(problem="duplicate", case_number=open_case.number, case_state=open_case.state, **base),
                    listing, open_case, holder)
        if open_case.rights_holder_id is not None:
            return (ListingCheck(problem="taken", case_number=open_case.number, case_state=open_case.state, **base),
                    listing, open_case, holder)
        return (ListingCheck(case_number=open_case.number, case_state=open_case.state, joins=True, **base),
                listing, open_case, holder)
    if listing.status == "removed":
        return ListingCheck(problem="removed", **base), listing, None, holder
    return ListingCheck(**base), listing, None, holder


def check_listing(holder_brands: Sequence[HolderBrand], listing_id: str) -> ListingCheck:
    """Whether this holder may file on the listing, and what would happen (open or join)."""
    with transaction() as session:
        return _check_in(session, holder_brands, listing_id)[0]


def _identity_id(session: Session, channel: str, external_id: str) -> Optional[int]:
    return session.execute(
        select(ChatIdentity.id).where(ChatIdentity.channel == channel, ChatIdentity.external_id == external_id)
    ).scalar_one_or_none()


def _file_in(session: Session, holder_brands: Sequence[HolderBrand], channel: str, external_id: str,
             listing_id: str, infringement_type: str, trademark_number: str, description: str,
             photo_shas: list[str], actor: str) -> FilingOutcome:
    check, listing, open_case, holder = _check_in(session, holder_brands, listing_id, lock=True)
    if check.problem:
        return FilingOutcome(check.problem, check, check.case_number, check.case_state)
    holder_row = session.get(RightsHolder, holder.rights_holder_id)
    skip = [i for i in [_identity_id(session, channel, external_id)] if i is not None]
    type_ko = INFRINGEMENT_KO[infringement_type]
    shas = known_photos(session, photo_shas)
    if open_case is not None:
        case = open_case
        case.rights_holder_id = holder.rights_holder_id
        case.infringement_type = infringement_type
        case.trademark_number = trademark_number
        case.description = description
        cases.record_event(
            session, case, case.state, actor,
            f"{holder_row.name}의 권리 침해 신고가 이 케이스에 더해졌어요. 침해 유형: {type_ko}, 상표 {trademark_number}",
            case.state, skip,
        )
        status = "joined"
    else:
        case = cases.open_case(
            session, listing=listing, source="rights_holder", actor=actor,
            note=f"{holder_row.name}의 권리 침해 신고로 접수되었어요. 침해 유형: {type_ko}",
            rights_holder_id=holder.rights_holder_id, infringement_type=infringement_type,
            trademark_number=trademark_number, description=description, skip_identity_ids=skip,
        )
        status = "opened"
    existing = set(session.execute(select(CasePhoto.photo_sha256).where(CasePhoto.case_id == case.id)).scalars())
    for sha in shas:
        if sha not in existing:
            session.add(CasePhoto(case_id=case.id, photo_sha256=sha))
    session.flush()
    audit.record(session, actor, "case.holder_notice", case.number,
                 {"listing": listing.id, "status": status, "type": infringement_type,
                  "trademark": trademark_number, "photos": len(shas)})
    final = replace(check, case_number=case.number, case_state=case.state)
    return FilingOutcome(status, final, case.number, case.state, len(shas))


def file_case(holder_brands: Sequence[HolderBrand], channel: str, external_id: str, listing_id: str,
              infringement_type: str, trademark_number: str, description: str,
              photo_shas: Optional[Iterable[str]] = None, actor: Optional[str] = None) -> FilingOutcome:
    """A rights holder's takedown notice: opens the listing's case or joins its open shopper-report case.

    Safe against retries and concurrent filings (the open-case index decides; the loser sees the winner)."""
    trademark = normalize_trademark(trademark_number)
    description = (description or "").strip()[:MAX_DESCRIPTION]
    if infringement_type not in INFRINGEMENT_TYPES or trademark is None or not description:
        return FilingOutcome("invalid", ListingCheck(listing_id))
    last_error: Optional[Exception] = None
    for _attempt in range(5):
        try:
            with transaction() as session:
                return _file_in(session, holder_brands, channel, external_id, listing_id, infringement_type,
                                trademark, description, list(photo_shas or []),
                                actor or f"{channel}:{external_id}")
        except (IntegrityError, OperationalError) as error:
            last_error = error
    raise RuntimeError("could not file the case after retries") from last_error


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class EventView:
    at: datetime
    actor: str
    from_state: Optional[str]
    to_state: str
    note: Optional[str]


@dataclass(frozen=True)
class CaseSummary:
    number: str
    state: str
    brand: str
    listing_id: str
    listing_title: str
    listing_status: str
    source: str
    holder_name: Optional[str]
    infringement_type: Optional[str]
    trademark_number: Optional[str]
    description: Optional[str]
    created_at: datetime
    updated_at: datetime
    decided_at: Optional[datetime]
    report_count: int
    photo_count: int
    last_event: Optional[EventView]

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_CASE_STATES


@dataclass(frozen=True)
class CasePage:
    items: list[CaseSummary]
    page: int
    pages: int
    total: int
    open_total: int


def _event_view(event: CaseEvent) -> EventView:
    return EventView(event.at, event.actor, event.from_state, event.to_state, event.note)


def _summary(session: Session, case: IppCase) -> CaseSummary:
    last = session.execute(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    reports = session.execute(select(func.count(Report.id)).where(Report.case_id == case.id)).scalar_one()
    photos = session.execute(select(func.count()).select_from(CasePhoto).where(CasePhoto.case_id == case.id)).scalar_one()
    return CaseSummary(
        number=case.number, state=case.state, brand=case.brand.name, listing_id=case.listing_id,
        listing_title=case.listing.title, listing_status=case.listing.status, source=case.source,
        holder_name=case.rights_holder.name if case.rights_holder else None,
        infringement_type=case.infringement_type, trademark_number=case.trademark_number,
        description=case.description, created_at=case.created_at, updated_at=case.updated_at,
        decided_at=case.decided_at, report_count=reports, photo_count=photos,
        last_event=_event_view(last) if last else None,
    )


def _visible(brand_ids: Iterable[int]):
    ids = sorted(set(brand_ids))
    return IppCase.brand_id.in_(ids) if ids else IppCase.id.is_(None)


def _ordered(query):
    open_first = sql_case((IppCase.state.in_(OPEN_CASE_STATES), 0), else_=1)
    return query.order_by(open_first, IppCase.updated_at.desc(), IppCase.id.desc())


def visible_case(brand_ids: Iterable[int], number: str) -> Optional[CaseSummary]:
    """The case if it exists AND is of one of these brands; None otherwise (both look the same)."""
    with transaction() as session:
        case = session.execute(
            select(IppCase).where(IppCase.number == (number or "").upper(), _visible(brand_ids))
        ).scalar_one_or_none()
        return _summary(session, case) if case else None


def latest_visible_case(brand_ids: Iterable[int], listing_id: Optional[str] = None) -> Optional[CaseSummary]:
    """The most recently changed case of these brands (on one listing, if given)."""
    with transaction() as session:
        query = select(IppCase).where(_visible(brand_ids))
        if listing_id:
            query = query.where(IppCase.listing_id == listing_id)
        case = session.execute(
            query.order_by(IppCase.updated_at.desc(), IppCase.id.desc()).limit(1)
        ).scalar_one_or_none()
        return _summary(session, case) if case else None


def list_visible_cases(brand_ids: Iterable[int], page: int = 1, page_size: Optional[int] = None) -> CasePage:
    """Open cases first, then the rest; most recently changed first within each; one page of them."""
    size = max(page_size or get_settings().cases_page_size, 1)
    with transaction() as session:
        where = _visible(brand_ids)
        total = session.execute(select(func.count(IppCase.id)).where(where)).scalar_one()
        open_total = session.execute(
            select(func.count(IppCase.id)).where(where, IppCase.state.in_(OPEN_CASE_STATES))
        ).scalar_one()
        pages = max(math.ceil(total / size), 1)
        page = min(max(int(page or 1), 1), pages)
        rows = session.execute(_ordered(select(IppCase).where(where)).offset((page - 1) * size).limit(size)).scalars()
        return CasePage([_summary(session, c) for c in rows], page, pages, total, open_total)


def visible_timeline(brand_ids: Iterable[int], number: str) -> Optional[tuple[CaseSummary, list[EventView]]]:
    with transaction() as session:
        case = session.execute(
            select(IppCase).where(IppCase.number == (number or "").upper(), _visible(brand_ids))
        ).scalar_one_or_none()
        if case is None:
            return None
        return _summary(session, case), [_event_view(e) for e in case.events]


# --------------------------------------------------------------------------- the team


def all_cases(brand: Optional[str] = None, state: Optional[str] = None) -> list[CaseSummary]:
    from bot.catalogue import canonical_brand

    with transaction() as session:
        query = select(IppCase)
        if brand:
            name = canonical_brand(brand) or brand
            query = query.join(Brand, Brand.id == IppCase.brand_id).where(Brand.name == name)
        if state:
            query = query.where(IppCase.state == state)
        return [_summary(session, c) for c in session.execute(_ordered(query)).scalars()]


def case_detail(number: str) -> Optional[tuple[CaseSummary, list[EventView]]]:
    with transaction() as session:
        case = cases.get_case_by_number(session, number or "")
        if case is None:
            return None
        return _summary(session, case), [_event_view(e) for e in case.events]


def set_status(number: str, state: str, note: Optional[str], actor: str) -> CaseSummary:
    """The team moves a case; illegal transitions are refused with the allowed next states."""
    state = (state or "").strip().lower()
    if state not in CASE_STATES:
        names = ", ".join(f"{s}({cases.STATE_KO[s]})" for s in CASE_STATES)
        raise CaseActionError(f"{josa(repr(state), '은/는')} 케이스 상태가 아니에요. 다음 중 하나로 입력해 주세요: {names}")
    with transaction() as session:
        case = cases.get_case_by_number(session, number or "", lock=True)
        if case is None:
            raise CaseActionError(f"{number} 케이스를 찾을 수 없어요. 케이스 번호(IPP-YYYY-NNNNNN)를 확인해 주세요.")
        try:
            cases.transition(session, case, state, actor, (note or "").strip() or None)
        except cases.IllegalTransition as error:
            raise CaseActionError(error.message_ko) from error
        session.flush()
        return _summary(session, case)


_CASE_GUESS = re.compile(r"ipp\W*(20\d\d)\W*0*(\d{1,6})(?!\d)", re.I)


def guess_case_number(text: str) -> Optional[str]:
    """The case number a loosely written one stands for: "IPP 2026 1", "ipp-2026-12" → IPP-2026-000001, …"""
    match = _CASE_GUESS.search(text or "")
    if match is None or int(match.group(2)) == 0:
        return None
    return f"IPP-{match.group(1)}-{int(match.group(2)):06d}"
