"""The penalty ladder: warning, 7-day freeze, store closed; expired strikes stop counting."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.clock import utcnow
from bot.db import transaction
from bot.models import AuditLog, IppCase, Listing, Seller, Strike
from bot.services import cases, penalties, sellers


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


def _frozen(seller_id: str) -> list[str]:
    """Two confirmed fakes: the seller's store frozen. Returns all the seller's listings."""
    with transaction() as session:
        listings = _seller_listings(session, seller_id)
    _take_down(listings[0])
    _take_down(listings[1])
    return listings


def _case_of(listing_id: str) -> IppCase:
    with transaction() as session:
        return session.execute(select(IppCase).where(IppCase.listing_id == listing_id)).scalar_one()


def _unfrozen_audits(seller_id: str) -> list[AuditLog]:
    with transaction() as session:
        rows = session.execute(select(AuditLog).where(AuditLog.action == penalties.UNFROZEN_ACTION,
                                                     AuditLog.subject == seller_id)).scalars().all()
        session.expunge_all()
        return rows


def test_a_strike_counts_for_a_year_and_then_no_longer(db_url, move_clock):
    listings = _frozen("S-1002")
    move_clock(timedelta(days=364))
    with transaction() as session:
        assert penalties.active_strikes(session, "S-1002") == 2
    move_clock(timedelta(days=2))  # 366 days on: both have expired
    with transaction() as session:
        assert penalties.active_strikes(session, "S-1002") == 0
    # A third confirmed fake is now the only strike in force: a warning, not a closed store.
    _take_down(listings[2])
    view = sellers.seller_view("S-1002")
    assert (view.status, view.active_strikes, view.frozen_until) == ("active", 1, None)
    assert [s.withdrawn for s in view.strikes] == [False, False, False]


def test_a_freeze_ends_when_its_time_passes_once_and_audited(db_url, move_clock):
    _frozen("S-1002")
    view = sellers.seller_view("S-1002")
    assert view.status == "frozen" and view.frozen_until is not None
    until = view.frozen_until
    assert "판매 정지(" in sellers.seller_text(view)

    move_clock(timedelta(days=6, hours=23))
    assert penalties.lift_lapsed_freezes() == []
    assert sellers.seller_view("S-1002").status == "frozen"

    move_clock(timedelta(hours=1, seconds=1))  # just past frozen_until
    with transaction() as session:
        seller = session.get(Seller, "S-1002")
        # Not yet written down, but no reader sees a freeze any more.
        assert seller.status == "frozen"
        assert penalties.effective_status(seller.status, seller.frozen_until) == "active"
    assert penalties.lift_lapsed_freezes() == ["S-1002"]
    assert penalties.lift_lapsed_freezes() == []
    with transaction() as session:
        seller = session.get(Seller, "S-1002")
        assert (seller.status, seller.frozen_until) == ("active", None)
    view = sellers.seller_view("S-1002")
    assert (view.status, view.frozen_until, view.active_strikes) == ("active", None, 2)
    audits = _unfrozen_audits("S-1002")
    assert len(audits) == 1 and audits[0].actor == "bot"
    assert audits[0].detail == {"frozen_until": until.isoformat()}


def test_a_reader_writes_a_lapsed_freeze_down(db_url, move_clock):
    _frozen("S-1002")
    move_clock(timedelta(days=8))
    assert sellers.seller_view("S-1002").status == "active"
    assert sellers.seller_view("S-1002").status == "active"
    with transaction() as session:
        assert session.get(Seller, "S-1002").status == "active"
    assert penalties.lift_lapsed_freezes() == []
    assert len(_unfrozen_audits("S-1002")) == 1


def test_racing_sweeps_lift_a_freeze_once(db_url, move_clock):
    _frozen("S-1002")
    move_clock(timedelta(days=8))
    start = threading.Barrier(4)

    def sweep():
        start.wait()
        return penalties.lift_lapsed_freezes()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: sweep(), range(4)))
    assert sorted(results) == [[], [], [], ["S-1002"]]
    assert len(_unfrozen_audits("S-1002")) == 1


def test_deciding_again_after_the_freeze_does_not_freeze_anew(db_url, move_clock):
    listings = _frozen("S-1002")
    _take_down(listings[2])
    assert sellers.seller_view("S-1002").status == "closed"
    move_clock(timedelta(days=10))
    # The third case is reinstated: two strikes again, but their freeze ran out days ago.
    with transaction() as session:
        case = session.get(IppCase, _case_of(listings[2]).id)
        cases.transition(session, case, "counter_notice", "seller")
        cases.transition(session, case, "reinstated", "team", "정품 증빙 확인")
    view = sellers.seller_view("S-1002")
    assert (view.status, view.frozen_until, view.active_strikes) == ("active", None, 2)


def test_the_database_refuses_a_freeze_without_an_end(db_url):
    with pytest.raises(IntegrityError):
        with transaction() as session:
            session.get(Seller, "S-1001").status = "frozen"
    with pytest.raises(IntegrityError):
        with transaction() as session:
            session.get(Seller, "S-1001").frozen_until = utcnow()
