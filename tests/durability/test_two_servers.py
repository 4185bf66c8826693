"""Two Rasa servers (same model, same database, same Redis) take turns on one conversation (issue 17):
messages of one sender arrive at both at once, alternating, all sent together. The tracker must hold every
message exactly once, each followed by its own replies before the next message — what the cross-server
lock (bot/server/lock_store.py) guarantees. With Rasa's in-memory lock instead (CLEANBOT_REDIS_URL unset), the
same run loses or interleaves events: `interleave` and `problems` are the check either way."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import BACKENDS
from tests.durability.stack import Site, site_env, start_all
from tests.security.live import database

pytestmark = pytest.mark.e2e

MESSAGES = 20


def interleave(sites: list[Site], sender: str, count: int = MESSAGES) -> tuple[dict[str, list[str]], float]:
    """Sends `count` distinct messages of `sender`, the i-th to sites[i % len(sites)], all at the same
    moment from threads; returns each message's reply texts and the wall time."""
    texts = [f"안녕하세요 {i + 1}번째 인사예요" for i in range(count)]
    start = threading.Barrier(count)

    def send(i: int) -> list[str]:
        start.wait(30)
        return [m.get("text") or "" for m in sites[i % len(sites)].say(sender, texts[i])]

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        replies = list(pool.map(send, range(count)))
    return dict(zip(texts, replies)), time.monotonic() - began


def problems(replies: dict[str, list[str]], events: list[dict]) -> list[str]:
    """What is wrong with the tracker's events for these messages and the replies they got."""
    found: list[str] = []
    users = [e for e in events if e["event"] == "user"]
    texts = [e["text"] for e in users]
    for text in replies:
        if texts.count(text) != 1:
            found.append(f"{text!r} is in the tracker {texts.count(text)} times")
    if len(texts) != len(replies):
        found.append(f"{len(texts)} user events for {len(replies)} messages")
    sessions = sum(e["event"] == "session_started" for e in events)
    if sessions != 1:
        found.append(f"{sessions} session starts")
    stamps = [e["timestamp"] for e in events]
    if stamps != sorted(stamps):
        found.append("events out of time order")
    # Each message's block: its own answers, then listening, before the next message.
    position = [i for i, e in enumerate(events) if e["event"] == "user"] + [len(events)]
    for start, end in zip(position, position[1:]):
        text, block = events[start]["text"], events[start + 1:end]
        said = [e.get("text") or "" for e in block if e["event"] == "bot"]
        if not said or said != replies.get(text):
            found.append(f"{text!r} answered {said} in the tracker, {replies.get(text)} over HTTP")
        if not block or block[-1]["event"] != "action" or block[-1].get("name") != "action_listen":
            found.append(f"{text!r} was not followed by listening before the next message")
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_servers_take_turns_on_one_conversation(backend, tmp_path, redis_url):
    from bot.nlu.training import train_if_changed

    model = train_if_changed()
    with database(tmp_path, backend == "postgresql") as url:
        env = site_env(url, tmp_path, {"CLEANBOT_REDIS_URL": redis_url})
        sites = [Site(f"two-servers-{backend}-{name}", model, env) for name in "ab"]
        try:
            start_all(sites)
            for site in sites:  # both warm (first NLU call, action server's first answer), on other senders
                site.text(f"warm-{site.name}", "안녕하세요")
            sender = f"shopper-{uuid.uuid4().hex[:8]}"
            replies, seconds = interleave(sites, sender)
            print(f"\n[{backend}] {MESSAGES} messages of one conversation over 2 servers: {seconds:.2f}s, "
                  f"{MESSAGES / seconds:.1f} msg/s")
            events = sites[0].tracker(sender)["events"]
            assert problems(replies, events) == []
            assert sites[1].tracker(sender)["events"] == events
            assert "Conversation locks: RedisTicketLockStore" in sites[0].logs()
        finally:
            for site in sites:
                site.stop()
