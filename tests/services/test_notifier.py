"""Status updates from the outbox: pull (REST), push with retries and backoff, never twice."""
from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update

from bot import clock
from bot.db import dispose_engines, transaction
from bot.models import ChatIdentity, HolderIdentity, Notification, RightsHolder
from bot.services import cases, ipp, notifier
from bot.services.identity import get_or_create_identity, resolve
from bot.settings import PROJECT_ROOT

NIKE_LISTINGS = ("1005006000123456", "1005006000131375")


def _nike_telegram_account(external_id: str = "9001") -> None:
    """A second chat account (Telegram) for Nike's rights holder."""
    with transaction() as session:
        holder = session.execute(select(RightsHolder).where(RightsHolder.name == "나이키코리아 지식재산팀")).scalar_one()
        identity = get_or_create_identity(session, "telegram", external_id)
        session.add(HolderIdentity(rights_holder_id=holder.id, identity_id=identity.id, created_at=clock.utcnow()))


def _change(listing_id: str = NIKE_LISTINGS[0], *states: str) -> str:
    """Opens a case (as the team would see from a shopper report) and moves it through `states`."""
    from bot.models import Listing

    with transaction() as session:
        case = cases.open_case(session, listing=session.get(Listing, listing_id), source="shopper_report",
                               actor="bot", note="구매자 가품 신고로 접수되었어요.")
        number = case.number
    for state in states:
        ipp.set_status(number, state, f"{state} 메모", "cli:team")
    return number


def _shift_clock(monkeypatch, seconds: float) -> None:
    real = clock.utcnow
    monkeypatch.setattr(clock, "utcnow", lambda: real() + timedelta(seconds=seconds))


def test_take_pending_for_hands_each_row_out_once_in_order(db_url):
    number = _change(NIKE_LISTINGS[0], "under_review", "action_taken")
    taken = notifier.take_pending_for("web", "brand-nike")
    assert [n.case_number for n in taken] == [number] * 3
    assert "새로 접수" in taken[0].text and "'검토 중'으로" in taken[1].text and "'조치 완료'로" in taken[2].text
    assert "action_taken 메모" in taken[2].text and "상품을 내렸어요" in taken[2].text
    assert all(n.channel == "web" and n.external_id == "brand-nike" for n in taken)
    assert taken == sorted(taken, key=lambda n: n.id)
    assert notifier.take_pending_for("web", "brand-nike") == []
    # Nobody else's rows, and no rows for accounts of other brands.
    assert notifier.take_pending_for("web", "brand-chanel") == []
    assert notifier.take_pending_for("web", "shopper-1") == []


def test_take_pending_respects_the_limit(db_url):
    _change(NIKE_LISTINGS[0], "under_review", "info_requested", "under_review")
    first = notifier.take_pending_for("web", "brand-nike", limit=2)
    rest = notifier.take_pending_for("web", "brand-nike", limit=20)
    assert len(first) == 2 and len(rest) == 2 and not {n.id for n in first} & {n.id for n in rest}


def test_no_duplicates_after_a_restart_or_in_another_process(db_url):
    _change(NIKE_LISTINGS[0], "under_review")
    assert len(notifier.take_pending_for("web", "brand-nike")) == 2
    dispose_engines()  # a restarted server: new engine, new connections
    assert notifier.take_pending_for("web", "brand-nike") == []
    script = textwrap.dedent("""
        import asyncio, json
        from bot.services import notifier
        sent = []
        async def send(external_id, text):
            sent.append(external_id)
        pulled = notifier.take_pending_for("web", "brand-nike")
        pushed = asyncio.run(notifier.push_due("web", send))
        print(json.dumps([len(pulled), pushed, len(sent)]))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[0, 0, 0]"


def test_concurrent_pulls_never_hand_out_a_row_twice(db_url):
    _change(NIKE_LISTINGS[0], "under_review", "info_requested", "under_review", "rejected")
    with ThreadPoolExecutor(max_workers=5) as pool:
        batches = list(pool.map(lambda _: notifier.take_pending_for("web", "brand-nike"), range(5)))
    ids = [n.id for batch in batches for n in batch]
    assert len(ids) == len(set(ids)) == 5


def test_due_lists_undelivered_rows_of_one_channel(db_url):
    _nike_telegram_account()
    number = _change(NIKE_LISTINGS[0], "under_review")
    web, telegram = notifier.due("web"), notifier.due("telegram")
    assert len(web) == 2 and len(telegram) == 2
    assert {n.external_id for n in telegram} == {"9001"} and {n.case_number for n in telegram} == {number}
    assert notifier.due("telegram", limit=1) == telegram[:1]
    assert notifier.mark_delivered(telegram[0].id) is True
    assert notifier.mark_delivered(telegram[0].id) is False  # idempotent: the second says "already"
    assert notifier.mark_delivered(999_999) is False
    assert [n.id for n in notifier.due("telegram")] == [telegram[1].id]
    assert len(notifier.due("web")) == 2  # delivering on Telegram does not touch the web account's rows


def test_failures_back_off_exponentially_and_stop_after_ten(db_url, monkeypatch, caplog):
    _nike_telegram_account()
    _change(NIKE_LISTINGS[0])
    row = notifier.due("telegram")[0]
    assert [notifier.backoff_seconds(n) for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert notifier.backoff_seconds(10) == notifier.backoff_seconds(30) == 3600
    before = clock.utcnow()
    notifier.mark_failed(row.id, "Forbidden: bot was blocked by the user")
    with transaction() as session:
        stored = session.get(Notification, row.id)
        assert stored.attempts == 1 and "blocked" in stored.last_error and stored.delivered_at is None
        assert timedelta(seconds=9) < stored.next_attempt_at - before <= timedelta(seconds=11)
    assert notifier.due("telegram") == []  # not due during the backoff
    _shift_clock(monkeypatch, 11)
    assert [n.id for n in notifier.due("telegram")] == [row.id]
    caplog.set_level(logging.WARNING, logger="bot.services.notifier")
    for attempt in range(2, 11):
        notifier.mark_failed(row.id, f"timeout {attempt}")
    with transaction() as session:
        stored = session.get(Notification, row.id)
        assert stored.attempts == 10 and stored.delivered_at is None and stored.last_error == "timeout 10"
    _shift_clock(monkeypatch, 10 * 3600)
    assert notifier.due("telegram") == []  # given up: kept undelivered, no longer due
    assert notifier.take_pending_for("telegram", "9001") == []
    assert any("gave up" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_mark_failed_does_not_touch_a_delivered_row(db_url):
    _change(NIKE_LISTINGS[0])
    row = notifier.take_pending_for("web", "brand-nike")[0]
    notifier.mark_failed(row.id, "late error")
    with transaction() as session:
        stored = session.get(Notification, row.id)
        assert stored.attempts == 0 and stored.last_error is None and stored.delivered_at is not None


def test_push_due_retries_with_backoff_and_delivers_once(db_url, monkeypatch):
    _nike_telegram_account()
    _change(NIKE_LISTINGS[0], "under_review")
    sent: list[tuple[str, str]] = []

    async def broken(external_id, text):
        raise ConnectionError("network down")

    async def working(external_id, text):
        sent.append((external_id, text))

    assert asyncio.run(notifier.push_due("telegram", broken)) == 0
    with transaction() as session:
        rows = session.execute(select(Notification).join(ChatIdentity).where(ChatIdentity.channel == "telegram")).scalars().all()
        assert [r.attempts for r in rows] == [1, 1] and all("ConnectionError" in r.last_error for r in rows)
    assert asyncio.run(notifier.push_due("telegram", working)) == 0  # still backing off
    _shift_clock(monkeypatch, 11)
    assert asyncio.run(notifier.push_due("telegram", working)) == 2
    assert [external_id for external_id, _ in sent] == ["9001", "9001"]
    assert asyncio.run(notifier.push_due("telegram", working)) == 0
    dispose_engines()  # restart
    assert asyncio.run(notifier.push_due("telegram", working)) == 0
    assert len(sent) == 2


def test_two_push_loops_at_once_send_each_row_once(db_url):
    _nike_telegram_account()
    _change(NIKE_LISTINGS[0], "under_review", "info_requested")
    sent: list[str] = []

    async def slow(external_id, text):
        await asyncio.sleep(0.05)
        sent.append(text)

    async def both():
        return await asyncio.gather(notifier.push_due("telegram", slow), notifier.push_due("telegram", slow))

    assert sum(asyncio.run(both())) == 3
    assert len(sent) == 3 and len(set(sent)) == 3


def test_the_holder_who_filed_is_answered_in_chat_not_notified_again(db_url):
    _nike_telegram_account()
    who = resolve("rest", "brand-nike")
    outcome = ipp.file_case(who.holder_brands, "web", "brand-nike", NIKE_LISTINGS[1], "counterfeit", "40-1234567",
                            "로고 도용", [])
    assert outcome.status == "opened"
    assert notifier.take_pending_for("web", "brand-nike") == []
    colleague = notifier.take_pending_for("telegram", "9001")
    assert len(colleague) == 1 and colleague[0].case_number == outcome.case_number
    ipp.set_status(outcome.case_number, "under_review", None, "cli:team")
    assert len(notifier.take_pending_for("web", "brand-nike")) == 1


def test_the_rest_channel_appends_pending_updates_for_the_sender(db_url):
    from connectors.rest import pending_updates

    _change(NIKE_LISTINGS[0], "under_review")
    messages = pending_updates("rest", "brand-nike")
    assert len(messages) == 2 and all(m["recipient_id"] == "brand-nike" and m["text"].startswith("🔔 ")
                                      for m in messages)
    assert pending_updates("rest", "brand-nike") == []


def test_an_outbox_problem_does_not_break_the_reply(db_url, monkeypatch):
    from connectors import rest

    def boom(*_args, **_kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(notifier, "take_pending_for", boom)
    assert rest.pending_updates("rest", "brand-nike") == []


def test_rows_are_marked_in_the_database_not_just_in_memory(db_url):
    _change(NIKE_LISTINGS[0])
    taken = notifier.take_pending_for("web", "brand-nike")
    with transaction() as session:
        assert session.get(Notification, taken[0].id).delivered_at is not None
        session.execute(update(Notification).values(delivered_at=None))
    assert len(notifier.take_pending_for("web", "brand-nike")) == 1


def test_a_recall_notice_is_pushed_once_with_its_button_by_two_replicas(db_url, orders_by_customer):
    """Two push loops in two threads (each its own event loop and connections, as two replicas): the
    recall row goes out once, with its "환불받기" button."""
    import threading

    from bot.services import inspections

    with transaction() as session:
        session.add(ChatIdentity(channel="telegram", external_id="7005", customer_id="shopper-5",
                                 created_at=clock.utcnow()))
    inspections.add(NIKE_LISTINGS[0], "fake", "한국소비자검사원")
    sent: list[tuple] = []
    start = threading.Barrier(2)

    async def slow(external_id, text, buttons=None):
        await asyncio.sleep(0.1)
        sent.append((external_id, buttons))

    def replica():
        start.wait()
        asyncio.run(notifier.push_due("telegram", slow))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    order = next(o["number"] for o in orders_by_customer["shopper-5"] if o["listing"] == NIKE_LISTINGS[0])
    assert sent == [("7005", [{"title": "환불받기", "payload": f'/claim_recall{{"order_number":"{order}"}}'}])]
