"""A seller's standing: status, active strikes, the listings they lost, and their verification
(business registration, and per brand, authorised reseller)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.clock import to_local, utcnow
from bot.db import transaction
from bot.replies.korean import josa, korean_date
from bot.models import VERIFICATION_LEVELS, Brand, IppCase, Seller, SellerBrandAuthorisation, Strike
from bot.services import audit
from bot.services.penalties import active_strikes, effective_status, lift_freeze

STATUS_KO = {"active": "정상", "frozen": "판매 정지", "closed": "스토어 폐쇄"}
LEVEL_KO = {"unverified": "미인증", "business_verified": "사업자 인증", "authorised_reseller": "브랜드 공식 판매자"}


@dataclass(frozen=True)
class StrikeView:
    case_number: str
    listing_id: str
    created_at: datetime
    expires_at: datetime
    withdrawn: bool


@dataclass(frozen=True)
class SellerView:
    id: str
    name: str
    status: str
    frozen_until: Optional[datetime]
    active_strikes: int
    strikes: list[StrikeView]
    verification_level: str = "unverified"
    authorised_brands: tuple[str, ...] = ()


class SellerActionError(Exception):
    """An operator request that does not apply; `message_ko` says why and what to do."""

    def __init__(self, message_ko: str):
        super().__init__(message_ko)
        self.message_ko = message_ko


def authorised_brands(session: Session, seller_id: str) -> tuple[str, ...]:
    return tuple(session.execute(
        select(Brand.name).join(SellerBrandAuthorisation, SellerBrandAuthorisation.brand_id == Brand.id)
        .where(SellerBrandAuthorisation.seller_id == seller_id).order_by(Brand.name)
    ).scalars())


def level_for_brand(seller: Seller, authorised: bool) -> str:
    """The level a shopper sees on a listing: "authorised reseller" only for a brand that authorised the
    seller; for any other brand such a seller counts as business-verified."""
    if authorised:
        return "authorised_reseller"
    return "unverified" if seller.verification_level == "unverified" else "business_verified"


def seller_view(seller_id: str) -> Optional[SellerView]:
    with transaction() as session:
        seller = session.get(Seller, seller_id)
        if seller is None:
            return None
        lift_freeze(session, seller_id)  # a freeze that has run out is shown, and stored, as over
        strikes = session.execute(
            select(Strike, IppCase.number).join(IppCase, IppCase.id == Strike.case_id)
            .where(Strike.seller_id == seller_id).order_by(Strike.created_at)
        ).all()
        status = effective_status(seller.status, seller.frozen_until)  # the freeze may end after the lift
        return SellerView(
            seller.id, seller.name, status, seller.frozen_until if status == "frozen" else None,
            active_strikes(session, seller_id),
            [StrikeView(number, s.listing_id, s.created_at, s.expires_at, s.withdrawn_at is not None)
             for s, number in strikes],
            seller.verification_level, authorised_brands(session, seller_id),
        )


def verify(seller_id: str, level: str, brand: Optional[str] = None, actor: str = "operator") -> SellerView:
    """Set a seller's verification. `authorised_reseller` needs the brand that authorised them (added to
    those already held); `business_verified` with a brand withdraws that brand's authorisation only,
    without one every authorisation; `unverified` withdraws everything."""
    from bot.catalogue import canonical_brand

    if level not in VERIFICATION_LEVELS:
        raise SellerActionError(f"{josa(repr(level), '은/는')} 인증 단계가 아니에요. 다음 중 하나로 입력해 주세요: "
                                + ", ".join(f"{v}({LEVEL_KO[v]})" for v in VERIFICATION_LEVELS))
    if level == "authorised_reseller" and not brand:
        raise SellerActionError("브랜드 공식 판매자로 인증하려면 --brand로 어느 브랜드의 인증인지 알려 주세요.")
    if level == "unverified" and brand:
        raise SellerActionError("미인증으로 바꾸면 모든 브랜드 인증이 함께 없어져요. --brand 없이 다시 실행해 주세요.")
    with transaction() as session:
        seller = session.get(Seller, seller_id, with_for_update=True)
        if seller is None:
            raise SellerActionError(f"판매자 {josa(seller_id, '을/를')} 찾을 수 없어요. 판매자 번호(S-NNNN)를 확인해 주세요.")
        brand_row = None
        if brand:
            name = canonical_brand(brand) or brand
            brand_row = session.execute(select(Brand).where(Brand.name == name)).scalar_one_or_none()
            if brand_row is None:
                raise SellerActionError(f"{josa(brand, '은/는')} 등록된 브랜드가 아니에요. 브랜드 이름을 확인해 주세요.")
        authorisations = delete(SellerBrandAuthorisation).where(SellerBrandAuthorisation.seller_id == seller_id)
        if level == "authorised_reseller":
            if session.get(SellerBrandAuthorisation, (seller_id, brand_row.id)) is None:
                session.add(SellerBrandAuthorisation(seller_id=seller_id, brand_id=brand_row.id, created_at=utcnow(),
                                                     created_by=actor))
        elif brand_row is not None:
            session.execute(authorisations.where(SellerBrandAuthorisation.brand_id == brand_row.id))
        else:
            session.execute(authorisations)
        session.flush()
        held = authorised_brands(session, seller_id)
        # The stored level says what the seller holds: a brand authorisation outranks the registration check.
        seller.verification_level = "authorised_reseller" if held else ("unverified" if level == "unverified"
                                                                        else "business_verified")
        if seller.verification_level == "unverified":
            seller.verified_at = None
        elif seller.verified_at is None:
            seller.verified_at = utcnow()
        session.flush()
        audit.record(session, actor, "seller.verified", seller_id,
                     {"level": seller.verification_level, "brand": brand_row.name if brand_row else None,
                      "brands": list(held)})
    return seller_view(seller_id)


def seller_text(view: SellerView) -> str:
    status = STATUS_KO[view.status]
    if view.status == "frozen" and view.frozen_until is not None:
        status += f"({korean_date(to_local(view.frozen_until))}까지)"
    level = LEVEL_KO[view.verification_level]
    if view.authorised_brands:
        level += f"({', '.join(view.authorised_brands)})"
    lines = [f"{view.id} {view.name} · {status} · {level} · 유효 제재 {view.active_strikes}건"]
    for s in view.strikes:
        mark = " (철회)" if s.withdrawn else ""
        lines.append(f"  {s.case_number} · 상품 {s.listing_id} · {s.created_at:%Y-%m-%d} ~ {s.expires_at:%Y-%m-%d}{mark}")
    return "\n".join(lines)
