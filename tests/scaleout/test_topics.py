"""A hand-over gets one topic however many desks (replicas) serve it at once: the topic is recorded only
where none is (handoff.set_topic), a desk that lost deletes its own, and one desk at a time serves a
hand-over (a claim on it)."""
from __future__ import annotations

import asyncio
import time

from bot.services import handoff
from tests.scaleout.conftest import AGENT_CHAT, wait_until


def test_set_topic_only_where_none_is_or_the_previous_one(db_url):
    view = handoff.request("telegram", "7800001", "request_human", "telegram").handoff
    assert handoff.set_topic(view.id, 1101) == 1101
    assert handoff.set_topic(view.id, 1102) == 1101  # a second desk loses: the first topic stays
    assert handoff.get(view.id).topic_id == 1101
    assert handoff.set_topic(view.id, None, previous=1102) == 1101  # not the one it has: nothing changes
    assert handoff.set_topic(view.id, 1103, previous=1101) == 1103  # the topic was deleted: replaced
    assert handoff.set_topic(view.id, None, previous=1103) is None


def _desks(channel, interval: float = 60):
    """Two channel runtimes with the agents' desk — two replicas' desks, each on its own event loop with
    its own holder id. The long sweep interval leaves the work to the test."""
    return [channel(agent_chat_id=AGENT_CHAT, desk_interval_seconds=interval) for _ in range(2)]


def _created(fake, since: float = 0.0) -> list[int]:
    return [c.result["message_thread_id"] for c in fake.calls_of("createForumTopic", since=since) if c.status == 200]


def test_two_desks_serving_one_hand_over_at_once_make_one_topic(channel, fake_api):
    one, two = _desks(channel)
    views = [handoff.request("telegram", str(7800010 + n), "request_human", "telegram").handoff for n in range(3)]
    for view in views:
        # Both replicas take up the same hand-over at the same moment (a sweep on one, a message on the other).
        futures = [asyncio.run_coroutine_threadsafe(ch.runtime.desk.work(view.id), ch.loop.loop) for ch in (one, two)]
        for future in futures:
            future.result(60)
    created = _created(fake_api)
    assert len(created) == len(views)
    assert sorted(handoff.get(v.id).topic_id for v in views) == sorted(created)
    for view in views:  # the card went into its topic once
        thread = handoff.get(view.id).topic_id
        cards = [c for c in fake_api.topic_messages(thread) if c.text.startswith(f"🆕 상담 #{view.id}")]
        assert len(cards) == 1


def test_a_desk_that_lost_the_race_deletes_its_topic_and_uses_the_winners(channel, fake_api, monkeypatch):
    from connectors.telegram_desk import AgentDesk

    ch = _desks(channel)[0]
    view = handoff.request("telegram", "7800020", "request_human", "telegram").handoff
    made = AgentDesk._new_topic
    winner: dict[str, int] = {}

    async def slower_than_another_replica(self, v):
        thread = await made(self, v)
        # Meanwhile another replica made its topic and recorded it first.
        other = await self.bot.create_forum_topic(AGENT_CHAT, "다른 서버가 만든 토픽")
        winner["thread"] = other.message_thread_id
        await asyncio.to_thread(handoff.set_topic, v.id, other.message_thread_id)
        return thread

    monkeypatch.setattr(AgentDesk, "_new_topic", slower_than_another_replica)
    since = time.monotonic()
    ch.loop.run(ch.runtime.desk.work(view.id))
    ours = next(t for t in _created(fake_api, since) if t != winner["thread"])
    assert handoff.get(view.id).topic_id == winner["thread"]
    deleted = [c.params["message_thread_id"] for c in fake_api.calls_of("deleteForumTopic") if c.status == 200]
    assert deleted == [ours] and fake_api.topics[ours]["deleted"]
    assert fake_api.topic_messages(ours) == []  # nothing was posted into the spare one
    # The next round serves the hand-over in the winner's topic.
    monkeypatch.setattr(AgentDesk, "_new_topic", made)
    handoff.record_user_message(view.id, "기다리고 있어요")
    ch.loop.run(ch.runtime.desk.work(view.id))
    wait_until(lambda: any("기다리고 있어요" in c.text for c in fake_api.topic_messages(winner["thread"])), 10)
