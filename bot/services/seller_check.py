"""A shopper's check of a seller before (or after) buying: the seller's verification for the listing's
brand, strikes in force, listings removed lately, open cases on this listing, and a verdict.

Only figures: never who reported, what a case says, or anything about other shoppers. A listing is
found by its id (or an item URL's id) or through the shopper's own order; someone else's order number
gets the same answer as one that does not exist."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import OPEN_CASE_STATES, IppCase, Listing, Order, Seller, SellerBrandAuthorisation
from bot.services.orders import eligibility_in
from bot.services.penalties import active_strikes, effective_status
from bot.services.sellers import level_for_brand

# How far back removed listings count against a seller in the check.
REMOVED_WINDOW_DAYS = 90

# Verdicts, worst first: the listing itself is gone; the store is closed or frozen; a record to be careful
# about; then a clean record by verification level.
VERDICTS = ("removed", "closed", "frozen", "caution", "trusted", "verified", "unverified")


@dataclass(frozen=True)
class SellerCheck:
    """problem: None | listing_not_found | order_not_found. `order_number`: the shopper's own order the
    check came through (then `can_report` says whether the guarantee still takes a claim on it)."""

    problem: Optional[str]
    listing_id: Optional[str] = None
    title: Optional[str] = None
    brand: Optional[str] = None
    price_krw: Optional[int] = None
    listing_removed: bool = False
    seller_name: Optional[str] = None
    seller_status: Optional[str] = None
    frozen_until: Optional[datetime] = None
    level: Optional[str] = None
    strikes_in_force: int = 0
    removed_recently: int = 0
    open_cases: int = 0
    verdict: Optional[str] = None
    order_number: Optional[str] = None
    can_report: bool = False


def verdict_for(listing_removed: bool, seller_status: str, level: str, strikes: int, removed: int,
                open_cases: int) -> str:
    if listing_removed:
        return "removed"
    if seller_status in ("closed", "frozen"):
        return seller_status
    if strikes or removed or open_cases:
        return "caution"
    return {"authorised_reseller": "trusted", "business_verified": "verified"}.get(level, "unverified")


def check(listing_id: Optional[str] = None, order_number: Optional[str] = None,
          customer_id: Optional[str] = None) -> SellerCheck:
    """The check for a listing id, or for the listing of the shopper's own order."""
    now = utcnow()
    with transaction() as session:
        can_report = False
        if order_number:
            order = session.get(Order, order_number)
            if order is None or customer_id is None or order.customer_id != customer_id:
                return SellerCheck("order_not_found", order_number=order_number)
            listing_id = order.listing_id
            can_report = eligibility_in(session, customer_id, order_number, now).problem is None
        listing = session.get(Listing, listing_id) if listing_id else None
        if listing is None:
            return SellerCheck("listing_not_found", listing_id=listing_id)
        seller = session.get(Seller, listing.seller_id)
        authorised = session.get(SellerBrandAuthorisation, (seller.id, listing.brand_id)) is not None
        level = level_for_brand(seller, authorised)
        status = effective_status(seller.status, seller.frozen_until, now)
        strikes = active_strikes(session, seller.id)
        removed = session.execute(
            select(func.count(Listing.id)).where(
                Listing.seller_id == seller.id, Listing.status == "removed",
                Listing.removed_at >= now - timedelta(days=REMOVED_WINDOW_DAYS))
        ).scalar_one()
        open_cases = session.execute(
            select(func.count(IppCase.id)).where(IppCase.listing_id == listing.id,
                                                 IppCase.state.in_(OPEN_CASE_STATES))
        ).scalar_one()
        return SellerCheck(
            None, listing.id, listing.title, listing.brand.name, listing.price_krw, listing.status == "removed",
            seller.name, status, seller.frozen_until if status == "frozen" else None, level, strikes, removed,
            open_cases, verdict_for(listing.status == "removed", status, level, strikes, removed, open_cases),
            order_number, can_report,
        )
