"""Telegram updates are handled at least once and take effect exactly once: one received but not handled
when the process died (or stopped) is handled at the next start, once; a handled one never again."""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text

from bot.db import dispose_engines, get_engine, transaction
from bot.migrate import alembic_config
from bot.models import TelegramUpdate
from bot.services import telegram as tg
from tests.security.conftest import crash_while_handling
from tests.connectors.conftest import MARKER

def _answers(fake, user: int) -> list[str]:
    """What the user was answered, without the answers to the markers of Channel.settle."""
    return [c.text for c in fake.sent(user) if MARKER not in c.text]


def _polled(fake, mode: str, since: float) -> None:
    """By polling: waits for a second getUpdates since `since`, so what the first one handed over has been
    taken in (and anything it would start is queued before what comes next)."""
    if mode == "polling":
        fake.wait_for(lambda: len(fake.calls_of("getUpdates", since=since)) >= 2, 30)


def _restart(ch, make, **config):
    """Stops a channel the way a restart does and starts a new one on the same database."""
    ch.loop.run(ch.runtime.stop())
    return make(**config)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_an_update_received_before_a_crash_is_answered_once_after_the_restart(db_url, fake_api, channel, mode):
    fake, user = fake_api, 7_800_001
    update = fake.text_update(user, "가품 신고하고 싶어요")
    crash_while_handling(fake, update, polling=mode == "polling")
    with transaction() as session:
        assert session.get(TelegramUpdate, update["update_id"]) is not None  # received, recorded, never answered
    assert fake.sent(user) == []

    config = {"webhook_url": ""} if mode == "polling" else {}
    first = channel(**config)  # by polling, Telegram also hands the unconfirmed update over again
    answered = fake.wait_text(user, "받았어요: 가품 신고하고 싶어요", timeout=60)[0].at  # taken up again
    _polled(fake, mode, since=answered)
    assert [m.text for m in first.settle(user)] == ["가품 신고하고 싶어요"]
    assert _answers(fake, user) == ["받았어요: 가품 신고하고 싶어요"]
    assert first.accept(update) is False  # a webhook retry of it is a duplicate

    restarted = time.monotonic()
    second = _restart(first, channel, **config)
    _polled(fake, mode, since=restarted)
    assert second.settle(user) == []
    assert _answers(fake, user) == ["받았어요: 가품 신고하고 싶어요"]


def test_what_a_stop_cut_short_is_handled_at_the_next_start_and_a_failure_is_not(db_url, fake_api, channel):
    fake, hanging, failing = fake_api, 7_800_002, 7_800_003
    first = channel()
    never = asyncio.Event()

    async def reply(message) -> None:
        if message.sender_id == str(failing):
            raise RuntimeError("Rasa is away")
        await never.wait()  # still being handled when the channel stops

    first.reply = reply
    assert first.accept(fake.text_update(failing, "환불해 주세요"))
    fake.wait_text(failing, "죄송해요")  # a failure is apologised for: that is its handling
    assert first.accept(fake.text_update(hanging, "주문 확인해 주세요"))
    fake.wait_for(lambda: [m for m in first.received if m.sender_id == str(hanging)])
    first.loop.run(first.runtime.stop(drain_seconds=0.5))

    second = channel()
    fake.wait_text(hanging, "받았어요: 주문 확인해 주세요")
    assert [m.sender_id for m in second.settle(hanging)] == [str(hanging)]
    assert [m.sender_id for m in second.settle(failing)] == [str(hanging)]  # the failure is not tried again
    assert _answers(fake, hanging) == ["받았어요: 주문 확인해 주세요"]
    assert len(_answers(fake, failing)) == 1  # the apology only, not a second try


def test_an_update_that_never_finishes_is_given_up_after_a_few_starts(db_url):
    payload = {"update_id": 900_100_001, "message": {"message_id": 1, "date": 0, "text": "\x00",
                                                     "chat": {"id": 1, "type": "private"}}}
    assert tg.record_update(900_100_001, "message", 1, payload) is True
    for _start in range(tg.MAX_ATTEMPTS):
        assert tg.take_unfinished() == [payload]  # the payload comes back intact, NUL and all
    assert tg.take_unfinished() == []
    with transaction() as session:
        row = session.get(TelegramUpdate, 900_100_001)
        assert row.handled_at is not None and row.attempts == tg.MAX_ATTEMPTS
    assert tg.record_update(900_100_001, "message", 1, payload) is False
    assert tg.mark_handled([900_100_001]) == 0  # already done: nothing changes


def test_a_live_replicas_updates_are_its_own_and_a_dead_ones_are_taken_over_once(db_url):
    from bot.services import leases

    def payload(update_id):
        return {"update_id": update_id, "message": {"message_id": 1, "date": 0, "text": "안녕하세요",
                                                    "chat": {"id": 7, "type": "private"}}}

    live, dead, heir = "host:101:telegram:aa", "host:102:telegram:bb", "host:103:telegram:cc"
    for holder in (live, dead, heir):
        assert leases.acquire(tg.ALIVE_PREFIX + holder, holder, 15)
    assert tg.record_update(900_300_001, "message", 7, payload(900_300_001), handler=live)
    assert tg.record_update(900_300_002, "message", 7, payload(900_300_002), handler=dead)
    assert tg.take_unfinished(heir) == []  # both are being handled right now

    leases.release(tg.ALIVE_PREFIX + dead, dead)  # stopped before its queue drained (or died: expiry)
    assert tg.take_unfinished(heir) == [payload(900_300_002)]
    assert tg.take_unfinished("host:104:telegram:dd") == []  # taken over by one process only
    with transaction() as session:
        assert session.get(TelegramUpdate, 900_300_002).handler == heir
        assert session.get(TelegramUpdate, 900_300_001).handler == live

    assert tg.purge_updates(timedelta(0)) == 2  # everything received so far counts as old here
    with transaction() as session:  # the released lease row goes with them; the live process's stays
        names = set(session.execute(text("SELECT name FROM leases")).scalars())
    assert names == {tg.ALIVE_PREFIX + live, tg.ALIVE_PREFIX + heir}


def test_the_migration_counts_earlier_updates_as_handled_and_goes_back_down(db_url):
    config = alembic_config(db_url)
    command.downgrade(config, "0003")
    dispose_engines()
    with get_engine(db_url).begin() as conn:
        conn.execute(text("INSERT INTO telegram_updates (update_id, kind, chat_id, received_at) "
                          "VALUES (900200001, 'message', 1, '2026-12-01 10:00:00')"))
    dispose_engines()
    command.upgrade(config, "head")
    dispose_engines()
    with transaction() as session:
        row = session.get(TelegramUpdate, 900_200_001)
        assert row.handled_at == row.received_at and row.payload is None and row.attempts == 0
    assert tg.take_unfinished() == []
