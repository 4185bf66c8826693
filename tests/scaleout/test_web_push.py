"""The web chat's pushes with a sender connected to two servers at once (two pages, behind a balancer):
each server pushes only to its own sockets, and a row is claimed before it is sent, so every status
update and every agent message reaches the sender once, in order, and is marked delivered once."""
from __future__ import annotations

import asyncio

from bot.services import handoff, notifier
from connectors.socketio import CleanBotSocketIOInput
from tests.services.test_notifier import NIKE_LISTINGS, _change


class SlowSio:
    """Stands in for socketio.AsyncServer; the page takes a moment to confirm, as over a network."""

    def __init__(self, sent: list):
        self.sent = sent

    async def call(self, event, data, to=None, namespace=None, timeout=None):
        await asyncio.sleep(0.05)
        self.sent.append((to, data["text"]))
        return True


def _server(name: str, sent: list, senders: list[str]) -> CleanBotSocketIOInput:
    channel = CleanBotSocketIOInput.from_credentials({"session_persistence": True})
    channel.sio = SlowSio(sent)
    for sender in senders:
        sid = f"{name}-{sender}"
        channel.sids_by_sender[sender].add(sid)
        channel.sender_by_sid[sid] = sender
    return channel


def test_a_sender_on_two_servers_gets_every_row_once(db_url):
    _change(NIKE_LISTINGS[0], "under_review", "info_requested")  # three status updates for brand-nike
    view = handoff.request("web", "shopper-1", "request_human", "rest").handoff
    handoff.agent_says(view.id, 501, "상담원 A", "안녕하세요, 확인해 드릴게요")
    handoff.agent_says(view.id, 501, "상담원 A", "사진을 한 장 더 보내 주세요")
    sent: list[tuple[str, str]] = []
    one, two = (_server(name, sent, ["brand-nike", "shopper-1"]) for name in ("one", "two"))

    async def both_servers() -> list[int]:
        return await asyncio.gather(one.push_once(), two.push_once())

    delivered = sum(asyncio.run(both_servers()))
    texts = [text for _, text in sent]
    assert delivered == len(texts) == 6 and len(set(texts)) == 6  # 3 updates + joined + 2 agent messages
    to_shopper = [text for to, text in sent if to.endswith("shopper-1")]
    assert to_shopper == [handoff.AGENT_JOINED_KO, "안녕하세요, 확인해 드릴게요", "사진을 한 장 더 보내 주세요"]
    assert notifier.take_pending_for("web", "brand-nike") == [] and handoff.take_web_messages("shopper-1") == []
    assert sum(asyncio.run(both_servers())) == 0 and len(sent) == 6
