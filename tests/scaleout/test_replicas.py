"""Two server processes (replicas) against one database and one fake Bot API, each with every background
loop of the Telegram channel — long polling, status pushes, the agents' desk and its idle check: every
status update is pushed once, every hand-over gets one topic, getUpdates is polled by one process only;
when that process is killed the other takes over after the lease expires, and a clean stop hands over
at once (SQLite and PostgreSQL)."""
from __future__ import annotations

import time
from collections import Counter

from bot.services import handoff, leases
from tests.scaleout.conftest import AGENT_CHAT, pid_of, wait_until
from tests.services.test_notifier import NIKE_LISTINGS, _change, _nike_telegram_account

TTL = 2.0
POLL, PUSH, SWEEP = "telegram-poll", "telegram-push", "telegram-desk-sweep"


def _texts_to(fake, chat_id) -> Counter:
    return Counter(c.text for c in fake.sent(chat_id))


def _answers(fake, user: int) -> list[str]:
    return [c.text for c in fake.sent(user) if c.text.startswith("받았어요")]


def test_two_replicas_share_the_work_once_and_take_over_from_a_dead_one(replicas, fake_api):
    fake = fake_api
    for account in ("9201", "9202"):
        _nike_telegram_account(account)
    _change(NIKE_LISTINGS[0], "under_review", "info_requested")  # 3 status updates for each account
    views = [handoff.request("telegram", str(7_950_001 + n), "request_human", "telegram").handoff for n in range(3)]
    views.append(handoff.request("web", "shopper-2", "request_human", "rest").handoff)

    one, two = replicas("one", lease_ttl=TTL), replicas("two", lease_ttl=TTL)
    one.wait_ready()
    two.wait_ready()

    # Every status update once.
    wait_until(lambda: all(sum(_texts_to(fake, int(a)).values()) >= 3 for a in ("9201", "9202")), 60,
               what="the status updates")
    for account in ("9201", "9202"):
        sent = _texts_to(fake, int(account))
        assert len(sent) == 3 and set(sent.values()) == {1}, sent
    # Every hand-over one topic, with its history once.
    wait_until(lambda: all(handoff.get(v.id).topic_id for v in views), 60, what="the topics")
    for view in views:
        thread = handoff.get(view.id).topic_id
        wait_until(lambda: any("지금까지의 대화" in c.text for c in fake.topic_messages(thread)), 60, what="history")
    created = [c for c in fake.calls_of("createForumTopic") if c.status == 200]
    assert len(created) == len(views)
    assert sorted(handoff.get(v.id).topic_id for v in views) == sorted(c.result["message_thread_id"] for c in created)
    posted = Counter((c.params.get("message_thread_id"), c.text) for c in fake.sent(AGENT_CHAT))
    assert set(posted.values()) == {1}

    # Messages come in through one poller.
    user = 7_960_001
    for n in range(3):
        fake.queue_update(fake.text_update(user, f"질문 {n}"))
    wait_until(lambda: len(_answers(fake, user)) >= 3, 30, what="the answers")
    # One more, answered after them (one chat's updates go in order): none of the three was answered twice.
    fake.queue_update(fake.text_update(user, "질문 3"))
    wait_until(lambda: any(a.endswith("] 질문 3") for a in _answers(fake, user)), 30, what="the last answer")
    assert [a.split("] ", 1)[1] for a in _answers(fake, user)] == [f"질문 {n}" for n in range(4)]
    assert fake.max_in_flight["getUpdates"] == 1
    polling = [r for r in (one, two) if r.status()["polls"] > 0]
    assert len(polling) == 1
    poller = polling[0]
    survivor = two if poller is one else one
    assert pid_of(leases.holder_of(POLL)) == poller.pid
    assert {pid_of(leases.holder_of(name)) for name in (PUSH, SWEEP)} <= {one.pid, two.pid}

    # The poller dies: the survivor takes polling over once its lease has expired, not before.
    killed_at = time.monotonic()
    poller.kill()
    fake.queue_update(fake.text_update(user, "살아 있나요?"))
    answered = wait_until(lambda: [a for a in _answers(fake, user) if "살아 있나요?" in a], 30, what="the take-over")
    took = time.monotonic() - killed_at
    assert f"[{survivor.pid}]" in answered[0]
    assert TTL * 0.5 < took < TTL + 10
    wait_until(lambda: survivor.status()["polls"] > 0, 5, what="the survivor's own count of polls")
    assert pid_of(leases.holder_of(POLL)) == survivor.pid
    # Whatever the dead one held (pushes, the desk) is the survivor's now too.
    late = handoff.request("telegram", "7950009", "request_human", "telegram").handoff
    wait_until(lambda: handoff.get(late.id).topic_id, 30, what="a topic after the take-over")
    assert len([c for c in fake.calls_of("createForumTopic") if c.status == 200]) == len(views) + 1

    # A clean stop gives every lease back at once.
    assert survivor.stop()["state"] == "stopped"
    assert [leases.holder_of(name) for name in (POLL, PUSH, SWEEP)] == [None, None, None]
