"""Guessing rights-holder codes (issue 11): five refusals lock a chat account, but sender ids cost
nothing, so refusals from all accounts together also have a budget (holders.GLOBAL_MAX_FAILURES a
window); past it no code is checked for anyone until the window moves on."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.clock import utcnow
from bot.db import transaction
from bot.models import AuditLog, VerificationAttempt
from bot.services import holders

BUDGET = 8
DEMO_CODE = "K7QP3MXZ"  # the demo Gucci invite


@pytest.fixture(autouse=True)
def small_budget(monkeypatch):
    monkeypatch.setattr(holders, "GLOBAL_MAX_FAILURES", BUDGET)


def _wrong(n: int) -> str:
    """The n-th well-formed code that no invite has ("ZZ2" and n in letters)."""
    tail = ""
    for _ in range(5):
        n, digit = divmod(n, len(holders.CODE_LETTERS))
        tail += holders.CODE_LETTERS[digit]
    return "ZZ2" + tail


def _attempts() -> int:
    with transaction() as session:
        return session.execute(select(func.count(VerificationAttempt.id))).scalar_one()


def test_rotating_sender_ids_gets_no_more_than_the_global_budget(db_url):
    # Four guesses per made-up sender id: never enough for the account lock.
    results = [holders.verify("telegram", f"{900000 + n // 4}", _wrong(n)) for n in range(40)]
    statuses = [r.status for r in results]
    assert statuses == ["wrong"] * BUDGET + ["locked"] * (40 - BUDGET)
    assert _attempts() == BUDGET  # tries during the lock are not even counted
    locked = results[BUDGET]
    assert locked.lock_scope == "everyone" and locked.failures_left == 0
    with transaction() as session:
        assert session.execute(select(func.count(AuditLog.id))
                               .where(AuditLog.action == "holder.verify_locked_everyone")).scalar_one() == 1
    # Even the right code, from an account that never guessed, waits for the window.
    fresh = holders.verify("web", "holder-new-9", DEMO_CODE)
    assert fresh.status == "locked" and fresh.lock_scope == "everyone"
    assert holders.lock_status("web", "holder-new-9") == fresh.locked_until
    assert timedelta(minutes=59) < fresh.locked_until - utcnow() <= timedelta(minutes=60)


def test_parallel_guesses_from_many_sender_ids_share_one_budget(db_url, monkeypatch):
    senders = 3 * BUDGET
    barrier, results = threading.Barrier(senders), []
    check = holders._current_lock

    def lingering_check(*args):
        """Every guess stays a little after its lock check: unless guesses queue before it, all check first."""
        lock = check(*args)
        time.sleep(0.1)
        return lock

    monkeypatch.setattr(holders, "_current_lock", lingering_check)

    def guess(n):
        barrier.wait(30)
        results.append(holders.verify("web", f"rotating-{n}", _wrong(n)).status)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(results) == ["locked"] * (senders - BUDGET) + ["wrong"] * BUDGET
    assert _attempts() == BUDGET


def test_the_right_code_works_for_the_right_holder_after_the_window(db_url):
    for n in range(BUDGET):
        holders.verify("web", f"guesser-{n}", _wrong(n))
    assert holders.verify("web", "gucci-legal", DEMO_CODE).status == "locked"
    with transaction() as session:  # the window passes
        session.execute(update(VerificationAttempt).values(at=VerificationAttempt.at - timedelta(minutes=61)))
    assert holders.current_lock("web", "gucci-legal") is None
    result = holders.verify("web", "gucci-legal", DEMO_CODE)
    assert result.status == "verified" and result.brand == "Gucci"


def test_the_budget_slides_one_guess_at_a_time(db_url):
    """After the lock, each refusal leaving the window frees one guess, never a fresh budget."""
    for n in range(BUDGET):
        holders.verify("web", f"guesser-{n}", _wrong(n))
    with transaction() as session:  # only the oldest refusal leaves the window
        oldest = session.execute(select(VerificationAttempt).order_by(VerificationAttempt.id)).scalars().first()
        oldest.at -= timedelta(minutes=61)
    assert holders.verify("web", "guesser-x", _wrong(100)).status == "wrong"
    assert holders.verify("web", "guesser-y", _wrong(101)).status == "locked"


def test_the_account_lock_still_comes_first(db_url):
    results = [holders.verify("web", "one-guesser", _wrong(n)) for n in range(5)]
    assert results[-1].locked_until is not None
    locked = holders.verify("web", "one-guesser", DEMO_CODE)
    assert locked.status == "locked" and locked.lock_scope == "account"
    assert holders.verify("web", "someone-else", DEMO_CODE).status == "verified"
