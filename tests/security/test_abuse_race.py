"""The abuse rules under concurrency (issue 11): claims filed at the same moment must see each other.

With the limit at one guarantee refund, simultaneous claims by one shopper for different orders pay
exactly one and hold the rest; the same photo on two shoppers' orders at once pays at most one
without review. Every claim starts at a barrier and then lingers in its transaction right after the
abuse check, so unless claims are queued before that check, each checks before any other commits —
the race an attacker needs. Threads and processes, on SQLite and PostgreSQL."""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import Order, Photo, Refund, Report
from bot.services import reports

SHOPPER = "shopper-4"
# Long enough for every other claim to reach its own check if nothing made it wait.
LINGER_SECONDS = 0.3


def _lingering(check):
    """The abuse check, then the claim's transaction stays open a little longer."""
    def slow(*args, **kwargs):
        reason = check(*args, **kwargs)
        time.sleep(LINGER_SECONDS)
        return reason

    return slow


def _file(claim) -> str:
    customer, number, photos = claim
    return reports.file_report(customer, number, "정품과 로고가 달라요", photos).status


def _in_threads(claims, db_url, monkeypatch) -> list[str]:
    monkeypatch.setattr(reports, "_abuse_hold_reason", _lingering(reports._abuse_hold_reason))
    barrier = threading.Barrier(len(claims))

    def run(claim):
        barrier.wait(30)
        return _file(claim)

    with ThreadPoolExecutor(max_workers=len(claims)) as pool:
        return list(pool.map(run, claims))


def _claim_in_process(url, photo_dir, claim, barrier, results) -> None:
    os.environ["CLEANBOT_DATABASE_URL"] = url
    os.environ["CLEANBOT_PHOTO_DIR"] = photo_dir
    os.environ["CLEANBOT_ABUSE_MAX_REFUNDS"] = "1"
    from bot.services import reports as process_reports

    process_reports._abuse_hold_reason = _lingering(process_reports._abuse_hold_reason)
    barrier.wait(120)  # after the imports, so the claims really start together
    results.put(_file(claim))


def _in_processes(claims, db_url, monkeypatch) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(claims)), context.Queue()
    photo_dir = os.environ["CLEANBOT_PHOTO_DIR"]
    workers = [context.Process(target=_claim_in_process, args=(db_url, photo_dir, claim, barrier, results))
               for claim in claims]
    for worker in workers:
        worker.start()
    statuses = [results.get(timeout=180) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    return statuses


RUNNERS = [pytest.param(_in_threads, id="threads"), pytest.param(_in_processes, id="processes")]


@pytest.fixture
def one_refund_limit(monkeypatch):
    monkeypatch.setenv("CLEANBOT_ABUSE_MAX_REFUNDS", "1")


def _all_orders_claimable(customer: str) -> list[str]:
    """Every order of the shopper delivered two days ago, so each one alone would be refunded."""
    with transaction() as session:
        rows = session.execute(select(Order).where(Order.customer_id == customer).order_by(Order.number)).scalars()
        numbers = []
        for row in rows:
            row.status, row.delivered_at = "delivered", utcnow() - timedelta(days=2)
            numbers.append(row.number)
        return numbers


@pytest.mark.parametrize("runner", RUNNERS)
def test_simultaneous_claims_of_one_shopper_pay_the_limit_and_hold_the_rest(db_url, one_refund_limit, runner,
                                                                          monkeypatch):
    numbers = _all_orders_claimable(SHOPPER)
    assert len(numbers) >= 3
    statuses = runner([(SHOPPER, number, []) for number in numbers], db_url, monkeypatch)
    assert sorted(statuses) == ["granted"] + ["held"] * (len(numbers) - 1)
    with transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 1
        held = session.execute(select(Report).where(Report.refund_status == "held")).scalars().all()
        assert len(held) == len(numbers) - 1
        assert all("최근 30일 환불 1건" in report.hold_reason for report in held)


def _same_photo() -> list[str]:
    """One stored photo, as bot.services.photos keeps them (only its row matters to the rule)."""
    sha = "ab" * 32
    with transaction() as session:
        session.add(Photo(sha256=sha, path=f"/nonexistent/{sha}.jpg", mime="image/jpeg", width=640, height=480,
                          size_bytes=1234, phash="c3a5f00f0ff0a5c3", created_at=utcnow()))
    return [sha]


def _first_order(orders_by_customer, customer: str) -> str:
    return next(o["number"] for o in orders_by_customer[customer] if o["delivered_days_ago"] == 5)


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_same_photo_on_two_shoppers_orders_at_once_is_paid_at_most_once(db_url, orders_by_customer, runner,
                                                                             monkeypatch):
    photo = _same_photo()
    claims = [(customer, _first_order(orders_by_customer, customer), photo) for customer in ("shopper-1", "shopper-2")]
    statuses = runner(claims, db_url, monkeypatch)
    assert sorted(statuses) == ["granted", "held"]
    with transaction() as session:
        assert session.execute(select(func.count(Refund.id))).scalar_one() == 1
        granted = session.execute(select(Report).where(Report.refund_status == "granted")).scalar_one()
        held = session.execute(select(Report).where(Report.refund_status == "held")).scalar_one()
        assert held.hold_reason == f"같은 사진이 다른 주문의 신고({granted.number})에 쓰였음"
