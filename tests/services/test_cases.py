"""The IPP case state machine: every allowed and every refused transition, and what a decision does."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from bot.db import transaction
from bot.models import CASE_STATES, AuditLog, CaseEvent, IppCase, Listing, Notification, Report, Seller, Strike
from bot.services import cases, ipp, reports
from bot.settings import PROJECT_ROOT

# The product's state machine (docs/product.md), written out independently of cases.ALLOWED.
EXPECTED = {
    ("submitted", "under_review"), ("submitted", "withdrawn"),
    ("under_review", "info_requested"), ("under_review", "action_taken"), ("under_review", "rejected"),
    ("under_review", "withdrawn"),
    ("info_requested", "under_review"), ("info_requested", "withdrawn"),
    ("action_taken", "counter_notice"), ("action_taken", "closed"),
    ("counter_notice", "upheld"), ("counter_notice", "reinstated"),
    ("rejected", "closed"), ("upheld", "closed"), ("reinstated", "closed"), ("withdrawn", "closed"),
}
ALL_PAIRS = list(itertools.product(CASE_STATES, CASE_STATES))
NIKE_LISTING = "1005006000131375"  # seller S-1001


def _case_in(state: str, listing_id: str = NIKE_LISTING) -> str:
    """A case on the listing, put straight into `state` (set-up only; the transition under test is real)."""
    with transaction() as session:
        listing = session.get(Listing, listing_id)
        case = cases.open_case(session, listing=listing, source="rights_holder", actor="test", note="set-up")
        case.state = state
        return case.number


def _counts(number: str) -> tuple[int, int]:
    with transaction() as session:
        case = cases.get_case_by_number(session, number)
        events = session.execute(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case.id)).scalar_one()
        notes = session.execute(
            select(func.count(Notification.id)).join(CaseEvent, CaseEvent.id == Notification.case_event_id)
            .where(CaseEvent.case_id == case.id)).scalar_one()
        return events, notes


def test_the_table_is_the_products():
    allowed = {(a, b) for a, targets in cases.ALLOWED.items() for b in targets}
    assert allowed == EXPECTED
    assert set(cases.ALLOWED) == set(CASE_STATES)


def _listings_with_one_holder_account_each() -> list[str]:
    """The demo listings; every brand without a verified holder gets one, with one chat account."""
    from bot.clock import utcnow
    from bot.models import Brand, HolderIdentity, RightsHolder
    from bot.services.identity import get_or_create_identity

    with transaction() as session:
        held = set(session.execute(select(RightsHolder.brand_id)).scalars())
        for brand in session.execute(select(Brand)).scalars():
            if brand.id not in held:
                holder = RightsHolder(name=f"{brand.name} 권리자", brand_id=brand.id, verified_at=utcnow())
                session.add(holder)
                session.flush()
                account = get_or_create_identity(session, "web", f"holder-{brand.id}")
                session.add(HolderIdentity(rights_holder_id=holder.id, identity_id=account.id, created_at=utcnow()))
        return list(session.execute(select(Listing.id).order_by(Listing.id)).scalars())


def _check_transition(from_state: str, to_state: str, listing_id: str) -> None:
    pair = f"{from_state} -> {to_state}"
    number = _case_in(from_state, listing_id)
    events_before, notes_before = _counts(number)
    if (from_state, to_state) in EXPECTED:
        with transaction() as session:
            case = cases.get_case_by_number(session, number, lock=True)
            event = cases.transition(session, case, to_state, "cli:team", "메모")
            assert (event.from_state, event.to_state, event.actor, event.note) == \
                (from_state, to_state, "cli:team", "메모"), pair
        with transaction() as session:
            case = cases.get_case_by_number(session, number)
            assert case.state == to_state, pair
            # The change's outbox row was written with it, for the brand's holder accounts.
            last = session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                   .order_by(CaseEvent.id.desc())).scalars().first()
            for note in session.execute(select(Notification).where(Notification.case_event_id == last.id)).scalars():
                assert number in note.text and cases.STATE_KO[to_state] in note.text, pair
                assert "(으)" not in note.text, pair
            assert session.execute(select(AuditLog).where(AuditLog.action == "case.transition",
                                                          AuditLog.subject == number)).scalars().first(), pair
        # One account per brand: the case's opening wrote one row, the change one more.
        assert (events_before, notes_before) == (1, 1), pair
        assert _counts(number) == (2, 2), pair
    else:
        with pytest.raises(cases.IllegalTransition) as refused:
            with transaction() as session:
                case = cases.get_case_by_number(session, number, lock=True)
                cases.transition(session, case, to_state, "cli:team", "메모")
        assert cases.STATE_KO[from_state] in refused.value.message_ko, pair
        assert "(으)" not in refused.value.message_ko and "은(는)" not in refused.value.message_ko, pair
        with transaction() as session:
            assert cases.get_case_by_number(session, number).state == from_state, pair
        assert _counts(number) == (events_before, notes_before), pair


@pytest.mark.parametrize("from_state", CASE_STATES)
def test_every_transition_from(db_url, from_state):
    """All ten targets from one state (each on its own listing): the allowed ones move the case,
    write the timeline entry and its outbox rows; the refused ones change nothing."""
    listings = _listings_with_one_holder_account_each()
    for listing_id, to_state in zip(listings, CASE_STATES):
        _check_transition(from_state, to_state, listing_id)
    assert sum(1 for pair in ALL_PAIRS if pair[0] == from_state and pair in EXPECTED) == len(cases.ALLOWED[from_state])


def test_unknown_target_state_is_refused(db_url):
    number = _case_in("under_review")
    with pytest.raises(ipp.CaseActionError) as refused:
        ipp.set_status(number, "deleted", None, "cli:team")
    assert "케이스 상태가 아니에요" in refused.value.message_ko
    with pytest.raises(ipp.CaseActionError) as missing:
        ipp.set_status("IPP-2026-999999", "closed", None, "cli:team")
    assert "찾을 수 없어요" in missing.value.message_ko


def _order_on(orders_by_customer, customer, days, listing_id):
    from bot.models import Order

    order = next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == days)
    with transaction() as session:
        session.get(Order, order["number"]).listing_id = listing_id
    return order["number"]


def test_action_taken_removes_the_listing_and_strikes_once_for_all_reports(db_url, orders_by_customer):
    first = _order_on(orders_by_customer, "shopper-1", 5, NIKE_LISTING)
    second = _order_on(orders_by_customer, "shopper-2", 20, NIKE_LISTING)
    a = reports.file_report("shopper-1", first, "가짜")
    b = reports.file_report("shopper-2", second, "가짜")
    assert a.case_number == b.case_number
    ipp.set_status(a.case_number, "under_review", "검토 시작", "cli:team")
    decided = ipp.set_status(a.case_number, "action_taken", "가품 확인", "cli:team")
    assert decided.state == "action_taken" and decided.listing_status == "removed" and decided.decided_at
    with transaction() as session:
        assert session.get(Listing, NIKE_LISTING).status == "removed"
        strikes = session.execute(select(Strike).where(Strike.listing_id == NIKE_LISTING)).scalars().all()
        assert len(strikes) == 1 and strikes[0].withdrawn_at is None
        assert {r.verdict for r in session.execute(select(Report)).scalars()} == {"confirmed_fake"}
        assert session.get(Seller, "S-1001").status == "active"  # first strike: a warning


def test_reinstated_restores_the_listing_and_withdraws_the_strike(db_url):
    number = _case_in("under_review")
    ipp.set_status(number, "action_taken", "가품 확인", "cli:team")
    ipp.set_status(number, "counter_notice", "판매자 이의신청", "cli:team")
    with transaction() as session:
        assert session.get(Listing, NIKE_LISTING).status == "removed"
    restored = ipp.set_status(number, "reinstated", "정품 증빙 확인", "cli:team")
    assert restored.listing_status == "active"
    with transaction() as session:
        strike = session.execute(select(Strike).where(Strike.listing_id == NIKE_LISTING)).scalar_one()
        assert strike.withdrawn_at is not None
        assert session.get(Listing, NIKE_LISTING).removed_at is None
    ipp.set_status(number, "closed", None, "cli:team")
    with pytest.raises(ipp.CaseActionError):
        ipp.set_status(number, "action_taken", None, "cli:team")


def test_upheld_keeps_the_takedown(db_url):
    number = _case_in("under_review")
    ipp.set_status(number, "action_taken", None, "cli:team")
    ipp.set_status(number, "counter_notice", None, "cli:team")
    ipp.set_status(number, "upheld", "위조 확인 유지", "cli:team")
    with transaction() as session:
        assert session.get(Listing, NIKE_LISTING).status == "removed"
        assert session.execute(select(Strike.withdrawn_at)).scalar_one() is None


def test_a_failed_change_leaves_no_event_and_no_notification(db_url):
    number = _case_in("submitted")
    before = _counts(number)
    with pytest.raises(RuntimeError):
        with transaction() as session:
            case = cases.get_case_by_number(session, number, lock=True)
            cases.transition(session, case, "under_review", "cli:team")
            raise RuntimeError("the rest of the unit of work failed")
    assert _counts(number) == before
    with transaction() as session:
        assert cases.get_case_by_number(session, number).state == "submitted"


def cleanbot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def test_cli_list_show_and_set_status(db_url):
    number = _case_in("submitted")
    moved = cleanbot("cases", "set-status", number, "under_review", "--note", "검토를 시작했어요", "--json")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["state"] == "under_review"
    refused = cleanbot("cases", "set-status", number, "closed")
    assert refused.returncode == 1 and "바꿀 수 없어요" in refused.stderr and "가능한 다음 상태" in refused.stderr
    listed = json.loads(cleanbot("cases", "list", "--brand", "나이키", "--json").stdout)
    assert [c["number"] for c in listed] == [number]
    assert json.loads(cleanbot("cases", "list", "--brand", "Chanel", "--json").stdout) == []
    shown = cleanbot("cases", "show", number)
    assert shown.returncode == 0 and "검토를 시작했어요" in shown.stdout and "접수 → 검토 중" in shown.stdout
    detail = json.loads(cleanbot("cases", "show", number, "--json").stdout)
    assert [e["to_state"] for e in detail["events"]] == ["submitted", "under_review"]
    missing = cleanbot("cases", "show", "IPP-2026-999999")
    assert missing.returncode == 1 and "찾을 수 없어요" in missing.stderr
    with transaction() as session:
        assert session.execute(select(IppCase.state)).scalar_one() == "under_review"
