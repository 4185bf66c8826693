"""Bot API errors handled by kind (connectors/telegram_out.py and the desk), against the fake Bot API over
real HTTP: only what can succeed later is retried (429 after its retry_after, 5xx, network failures and
timeouts of requests that cannot have done anything twice); a 400 is handled at once — a deleted topic
made again, a topic already as asked left alone — or dropped with one log line, never resent unchanged."""
from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import select
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.db import transaction
from bot.models import ChatIdentity, HandoffMessage, Notification
from bot.services import handoff, notifier
from connectors.telegram_out import CleanBotRateLimiter
from tests.scaleout.conftest import AGENT_CHAT, wait_until
from tests.services.test_notifier import NIKE_LISTINGS, _change, _nike_telegram_account

USER = 7_900_001


def _repeated_failures(fake, since: float = 0.0) -> list[tuple[str, str]]:
    """Calls that failed with a 4xx and were then sent again with exactly the same parameters."""
    seen: Counter = Counter()
    for call in fake.calls_of(since=since):
        if 400 <= call.status < 500 and call.status != 429:
            seen[(call.method, repr(sorted(call.params.items(), key=lambda kv: kv[0])))] += 1
    return [key for key, count in seen.items() if count > 1]


def _desk(channel):
    return channel(agent_chat_id=AGENT_CHAT, desk_interval_seconds=0.3)


def _topic_of(view_id: int) -> int:
    return wait_until(lambda: handoff.get(view_id).topic_id, 20, what="a topic")


def _history_in(fake, thread: int) -> None:
    wait_until(lambda: any("지금까지의 대화" in c.text for c in fake.topic_messages(thread)), 20, what="the history")


# ---------------------------------------------------------------- the desk


def test_a_deleted_topic_is_made_again_once_with_one_resend(channel, fake_api):
    ch = _desk(channel)
    view = handoff.request("telegram", str(USER), "request_human", "telegram").handoff
    first = _topic_of(view.id)
    _history_in(fake_api, first)

    fake_api.delete_topic(first)  # an admin deleted it in the app
    since = time.monotonic()
    handoff.record_user_message(view.id, "아직 기다리고 있어요")
    ch.loop.run(ch.runtime.desk.work(view.id))
    second = handoff.get(view.id).topic_id
    assert second not in (None, first)
    to_old = fake_api.calls_of("sendMessage", since=since)
    to_old = [c for c in to_old if c.params.get("message_thread_id") == first]
    assert [c.status for c in to_old] == [400]  # tried once, understood at once
    assert _created_since(fake_api, since) == [second]
    relayed = [c for c in fake_api.topic_messages(second) if "아직 기다리고 있어요" in c.text]
    assert len(relayed) == 1  # the row went out once more, in the new topic's history
    assert _repeated_failures(fake_api, since) == []


def _created_since(fake, since: float) -> list[int]:
    return [c.result["message_thread_id"] for c in fake.calls_of("createForumTopic", since=since) if c.status == 200]


def test_a_topic_already_as_asked_is_fine_after_one_call(channel, fake_api):
    ch = _desk(channel)
    earlier = handoff.request("telegram", str(USER + 1), "request_human", "telegram").handoff
    thread = _topic_of(earlier.id)
    _history_in(fake_api, thread)
    handoff.close(earlier.id, "cli:operator", "released")  # the topic stays open (no Rasa here to hand back)

    since = time.monotonic()
    again = handoff.request("telegram", str(USER + 1), "request_human", "telegram").handoff
    ch.loop.run(ch.runtime.desk.work(again.id))
    assert handoff.get(again.id).topic_id == thread  # the user's topic, reused
    # Already open, already so named: Telegram says TOPIC_NOT_MODIFIED, once each, and that is fine.
    assert [c.status for c in fake_api.calls_of("reopenForumTopic", since=since)] == [400]
    assert [c.status for c in fake_api.calls_of("editForumTopic", since=since)] == [400]
    assert _created_since(fake_api, since) == []
    _history_in(fake_api, thread)
    assert _repeated_failures(fake_api, since) == []


def test_a_row_telegram_refuses_is_replaced_by_a_notice_not_resent(channel, fake_api, caplog):
    ch = _desk(channel)
    view = handoff.request("telegram", str(USER + 2), "request_human", "telegram").handoff
    thread = _topic_of(view.id)
    _history_in(fake_api, thread)
    fake_api.wait_quiet(AGENT_CHAT, since=0, quiet=1.0)  # else a late notice of the desk takes the failure
    since = time.monotonic()
    fake_api.fail("sendMessage", 400, description="Bad Request: can't parse entities", chat_id=AGENT_CHAT)
    handoff.record_user_message(view.id, "이 메시지는 거절돼요")
    ch.loop.run(ch.runtime.desk.work(view.id))
    ch.loop.run(ch.runtime.desk.work(view.id))  # the next round does not send it again
    tries = [c for c in fake_api.calls_of("sendMessage", since=since) if "이 메시지는 거절돼요" in c.text]
    assert [c.status for c in tries] == [400]
    notice = [c for c in fake_api.topic_messages(thread, since) if "텔레그램이 받지 않는 메시지" in c.text]
    assert len(notice) == 1 and "can't parse entities" in notice[0].text.lower()
    assert handoff.pending_messages(view.id, handoff.TO_TOPIC) == []
    dropped = [r for r in caplog.records if "refused message" in r.getMessage()]
    assert len(dropped) == 1


def test_an_agent_reply_to_a_user_who_blocked_the_bot_is_given_up_at_once(channel, fake_api):
    ch = _desk(channel)
    user = USER + 3
    view = handoff.request("telegram", str(user), "request_human", "telegram").handoff
    thread = _topic_of(view.id)
    _history_in(fake_api, thread)
    handoff.claim(view.id, 501, "김상담")
    ch.loop.run(ch.runtime.desk.work(view.id))  # "상담원이 연결됐어요" reaches the user
    fake_api.fail("sendMessage", 403, description="Forbidden: bot was blocked by the user", times=10, chat_id=user)
    since = time.monotonic()
    said = handoff.agent_says(view.id, 501, "김상담", "확인해 보니 환불이 가능해요")
    for _ in range(3):  # later rounds do not send it again
        ch.loop.run(ch.runtime.desk.work(view.id))
    to_user = [c for c in fake_api.calls_of("sendMessage", since=since) if str(c.params.get("chat_id")) == str(user)]
    assert [c.status for c in to_user if "환불이 가능해요" in c.text] == [403]
    notices = [c for c in fake_api.topic_messages(thread, since) if "다시 보내지 않을게요" in c.text]
    assert len(notices) == 1 and "blocked by the user" in notices[0].text
    assert handoff.pending_messages(view.id, handoff.TO_USER) == []
    with transaction() as session:  # kept undelivered for the team, with why
        row = session.get(HandoffMessage, said.message_ids[-1])
        assert row.delivered_at is None and row.attempts == handoff.MAX_ATTEMPTS and "blocked" in row.last_error
    assert _repeated_failures(fake_api, since) == []


# ---------------------------------------------------------------- the outbox push and the rate limiter


def _telegram_rows() -> list[Notification]:
    with transaction() as session:
        return session.execute(select(Notification).join(ChatIdentity).where(ChatIdentity.channel == "telegram")
                               .order_by(Notification.id)).scalars().all()


def test_a_status_update_telegram_refuses_is_given_up_at_once(channel, fake_api):
    ch = channel()
    _nike_telegram_account("9101")
    _change(NIKE_LISTINGS[0])
    fake_api.fail("sendMessage", 400, description="Bad Request: chat not found", times=10)
    assert ch.loop.run(ch.runtime.push_once()) == 0
    assert ch.loop.run(ch.runtime.push_once()) == 0
    assert [c.status for c in fake_api.calls_of("sendMessage")] == [400]
    row = _telegram_rows()[0]
    assert row.delivered_at is None and row.attempts == notifier.MAX_ATTEMPTS
    assert "chat not found" in row.last_error.lower()
    assert notifier.due("telegram") == []  # kept for the team, no longer due


def test_a_429_waits_its_retry_after_then_a_400_is_not_retried(channel, fake_api):
    ch = channel()
    fake_api.fail("sendMessage", 429, retry_after=1)
    fake_api.fail("sendMessage", 400, description="Bad Request: chat not found", times=5)
    with pytest.raises(BadRequest):
        ch.loop.run(ch.runtime.output.deliver_text(USER, "케이스 상태가 바뀌었어요"))
    calls = fake_api.calls_of("sendMessage")
    assert [c.status for c in calls] == [429, 400]
    assert calls[1].at - calls[0].at >= 1.0


def test_a_500_is_retried_then_a_400_is_not(channel, fake_api):
    ch = channel()
    fake_api.fail("sendMessage", 500)
    fake_api.fail("sendMessage", 400, description="Bad Request: chat not found", times=5)
    with pytest.raises(BadRequest):
        ch.loop.run(ch.runtime.output.deliver_text(USER, "다시 보내 볼게요"))
    assert [c.status for c in fake_api.calls_of("sendMessage")] == [500, 400]


def _limited(errors: list, endpoint: str) -> tuple[list[str], object]:
    """Runs one request through the limiter with a stand-in for the HTTP call that raises `errors` in turn."""
    limiter = CleanBotRateLimiter(network_backoff=0.01)
    attempts: list[str] = []

    async def call():
        attempts.append(endpoint)
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]
        return "ok"

    async def run():
        await limiter.initialize()
        try:
            return await limiter.process_request(call, (), {}, endpoint, {"chat_id": 1}, None)
        except Exception as error:  # noqa: BLE001
            return error

    return attempts, asyncio.run(run())


def _timed_out(cause: Exception) -> TimedOut:
    try:
        raise TimedOut() from cause
    except TimedOut as error:
        return error


def test_the_limiter_retries_network_failures_and_safe_timeouts_only():
    request = httpx.Request("POST", "http://127.0.0.1/")
    attempts, result = _limited([NetworkError("httpx.ConnectError: refused")], "sendMessage")
    assert result == "ok" and len(attempts) == 2
    # Never reached Telegram: sent again.
    attempts, result = _limited([_timed_out(httpx.ConnectTimeout("connect", request=request))], "sendMessage")
    assert result == "ok" and len(attempts) == 2
    # Reading a getChatMember answer timed out: asking again changes nothing.
    attempts, result = _limited([_timed_out(httpx.ReadTimeout("read", request=request))], "getChatMember")
    assert result == "ok" and len(attempts) == 2
    # Reading a sendMessage answer timed out: the message may be in the chat, so not sent twice.
    attempts, result = _limited([_timed_out(httpx.ReadTimeout("read", request=request))], "sendMessage")
    assert isinstance(result, TimedOut) and len(attempts) == 1
    attempts, result = _limited([BadRequest("Bad Request: message thread not found")], "editForumTopic")
    assert isinstance(result, BadRequest) and len(attempts) == 1
