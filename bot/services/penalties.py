"""The seller penalty ladder, in one place for shopper reports and IPP cases alike.

1st active strike: listing removed and a warning; 2nd: store frozen; 3rd: store closed.
Strikes expire after a year, a freeze after a week (settings).

A freeze ends when `frozen_until` passes. Readers go by `effective_status`, so a lapsed freeze never
shows as one; `lift_freeze` writes the end down (status active, audited "seller.unfrozen") the first
time anything touches the seller afterwards, and `lift_lapsed_freezes` sweeps all of them
(`cleanbot sellers lift-freezes`). The end is one conditional UPDATE, so however many readers race,
it is written and audited once."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import transaction
from bot.models import IppCase, Listing, Seller, Strike
from bot.services import audit
from bot.settings import get_settings

PENALTY_KO = {0: "제재 없음", 1: "경고", 2: "7일 판매 정지", 3: "스토어 폐쇄"}
UNFROZEN_ACTION = "seller.unfrozen"


def _active(seller_id: str, now: datetime):
    return (Strike.seller_id == seller_id, Strike.withdrawn_at.is_(None), Strike.expires_at > now)


def active_strikes(session: Session, seller_id: str) -> int:
    return session.execute(select(func.count(Strike.id)).where(*_active(seller_id, utcnow()))).scalar_one()


def effective_status(status: str, frozen_until: Optional[datetime], now: Optional[datetime] = None) -> str:
    """The store's standing as of `now`: a freeze whose end has passed is over, written down yet or not."""
    if status == "frozen" and frozen_until is not None and frozen_until <= (now or utcnow()):
        return "active"
    return status


def lift_freeze(session: Session, seller_id: str, actor: str = "bot") -> bool:
    """Ends the seller's freeze if its time is up; True if this call ended it (and audited that)."""
    now = utcnow()
    until = session.execute(
        select(Seller.frozen_until).where(Seller.id == seller_id, Seller.status == "frozen",
                                          Seller.frozen_until <= now)
    ).scalar_one_or_none()
    if until is None:
        return False
    # Conditional on the row still being that freeze: a racing reader or sweep finds nothing to do.
    lifted = session.execute(
        update(Seller).where(Seller.id == seller_id, Seller.status == "frozen", Seller.frozen_until == until)
        .values(status="active", frozen_until=None).execution_options(synchronize_session="fetch")
    ).rowcount
    if lifted != 1:
        return False
    audit.record(session, actor, UNFROZEN_ACTION, seller_id, {"frozen_until": until.isoformat()})
    return True


def lift_lapsed_freezes(actor: str = "bot") -> list[str]:
    """Ends every freeze whose time is up, in one transaction; the sellers whose freeze this ended."""
    with transaction() as session:
        due = session.execute(
            select(Seller.id).where(Seller.status == "frozen", Seller.frozen_until <= utcnow()).order_by(Seller.id)
        ).scalars().all()
        return [seller_id for seller_id in due if lift_freeze(session, seller_id, actor)]


def _freeze_end(session: Session, seller_id: str) -> datetime:
    """A freeze runs from the strike that made two: the newer of the two active ones. Derived, not
    extended, so applying the ladder again (a case decided twice, a reinstatement) adds no days."""
    second = session.execute(
        select(func.max(Strike.created_at)).where(*_active(seller_id, utcnow()))
    ).scalar_one()
    return second + timedelta(days=get_settings().freeze_days)


def _apply_ladder(session: Session, seller: Seller) -> str:
    lift_freeze(session, seller.id)  # a freeze already over is recorded as over before anything new
    count = active_strikes(session, seller.id)
    if count >= 3:
        seller.status, seller.frozen_until = "closed", None
    elif count == 2 and _freeze_end(session, seller.id) > utcnow():
        seller.status, seller.frozen_until = "frozen", _freeze_end(session, seller.id)
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
