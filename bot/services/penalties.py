"""The seller penalty ladder, in one place for shopper reports and IPP cases alike.

1st active strike: listing removed and a warning; 2nd: store frozen; 3rd: store closed.
Strikes expire after a year (settings)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.models import IppCase, Listing, Seller, Strike
from bot.services import audit
from bot.settings import get_settings

PENALTY_KO = {0: "제재 없음", 1: "경고", 2: "7일 판매 정지", 3: "스토어 폐쇄"}


def active_strikes(session: Session, seller_id: str) -> int:
    now = utcnow()
    return session.execute(
        select(func.count(Strike.id)).where(
            Strike.seller_id == seller_id, Strike.withdrawn_at.is_(None), Strike.expires_at > now
        )
    ).scalar_one()


def _apply_ladder(session: Session, seller: Seller) -> str:
    settings = get_settings()
    count = active_strikes(session, seller.id)
    if count >= 3:
        seller.status, seller.frozen_until = "closed", None
    elif count == 2:
        seller.status, seller.frozen_until = "frozen", utcnow() + timedelta(days=settings.freeze_days)
    else:
        seller.status, seller.frozen_until = "active", None
    return PENALTY_KO[min(count, 3)]


def take_down(session: Session, case: IppCase, actor: str, reason: str) -> str:
    """Remove the case's listing and give its seller one strike (once per case). Returns the penalty."""
    settings = get_settings()
    now = utcnow()
    listing = session.get(Listing, case.listing_id, with_for_update=True)
    seller = session.get(Seller, listing.seller_id, with_for_update=True)
    listing.status, listing.removed_at = "removed", now
    existing = session.execute(select(Strike).where(Strike.case_id == case.id)).scalar_one_or_none()
    if existing is None:
        session.add(
            Strike(
                seller_id=seller.id,
                listing_id=listing.id,
                case_id=case.id,
                reason=reason,
                created_at=now,
                expires_at=now + timedelta(days=settings.strike_expiry_days),
            )
        )
    elif existing.withdrawn_at is not None:
        existing.withdrawn_at = None
    session.flush()
    penalty = _apply_ladder(session, seller)
    audit.record(session, actor, "listing.removed", listing.id, {"case": case.number, "penalty": penalty})
    return penalty


def reinstate(session: Session, case: IppCase, actor: str) -> str:
    """Restore the listing and withdraw the strike the case gave."""
    listing = session.get(Listing, case.listing_id, with_for_update=True)
    seller = session.get(Seller, listing.seller_id, with_for_update=True)
    listing.status, listing.removed_at = "active", None
    strike = session.execute(select(Strike).where(Strike.case_id == case.id)).scalar_one_or_none()
    if strike is not None and strike.withdrawn_at is None:
        strike.withdrawn_at = utcnow()
    session.flush()
    penalty = _apply_ladder(session, seller)
    audit.record(session, actor, "listing.reinstated", listing.id, {"case": case.number, "penalty": penalty})
    return penalty
