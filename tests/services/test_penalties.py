"""The penalty ladder: warning, 7-day freeze, store closed; expired strikes stop counting."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import IppCase, Listing, Seller, Strike
from bot.services import cases


def _take_down(listing_id: str) -> None:
    with transaction() as session:
        listing = session.get(Listing, listing_id)
        case = cases.open_case(session, listing=listing, source="shopper_report", actor="test", note="t")
        cases.transition(session, case, "under_review", "test")
        cases.transition(session, case, "action_taken", "test", "가품 확인")


def _seller_listings(session, seller_id):
    return session.execute(select(Listing.id).where(Listing.seller_id == seller_id)).scalars().all()


def test_ladder_and_expiry(db_url):
    with transaction() as session:
        listings = _seller_listings(session, "S-1002")
    _take_down(listings[0])
    with transaction() as session:
        seller = session.get(Seller, "S-1002")
        assert seller.status == "active" and session.get(Listing, listings[0]).status == "removed"
    _take_down(listings[1])
    with transaction() as session:
        seller = session.get(Seller, "S-1002")
        assert seller.status == "frozen" and seller.frozen_until > utcnow() + timedelta(days=6)
    _take_down(listings[2])
    with transaction() as session:
        assert session.get(Seller, "S-1002").status == "closed"


def test_reinstated_case_withdraws_its_strike(db_url):
    with transaction() as session:
        listing_id = _seller_listings(session, "S-1005")[0]
    _take_down(listing_id)
    with transaction() as session:
        case = session.execute(select(IppCase).where(IppCase.listing_id == listing_id)).scalar_one()
        cases.transition(session, case, "counter_notice", "seller")
        cases.transition(session, case, "reinstated", "team", "정품 증빙 확인")
    with transaction() as session:
        strike = session.execute(select(Strike).where(Strike.listing_id == listing_id)).scalar_one()
        assert strike.withdrawn_at is not None
        assert session.get(Listing, listing_id).status == "active"
