"""The web chat's channels without a browser: pushing due status updates to connected web senders,
the page's configuration, and the channels as credentials.yml declares them.
(The page itself, in a real browser against real servers: tests/e2e/test_webchat.py.)"""
from __future__ import annotations

import asyncio

import yaml
from sqlalchemy import select

from bot.db import transaction
from bot.models import CaseEvent, ChatIdentity, Listing, Notification
from bot.services import cases
from bot.settings import PROJECT_ROOT
from connectors.socketio import CleanBotSocketIOInput, max_message_bytes
from connectors.webchat import WebChatInput, demo_identities

NIKE_LISTING, CHANEL_LISTING = "1005006000131375", "1005006000155132"


class FakeSio:
    """Stands in for socketio.AsyncServer: records `call`s; a socket in `silent` never confirms."""

    def __init__(self, silent=()):
        self.calls: list[tuple] = []
        self.silent = set(silent)

    async def call(self, event, data, to=None, namespace=None, timeout=None):
        self.calls.append((event, data, to))
        if to in self.silent:
            raise TimeoutError("no acknowledgement")
        return True


def _channel(sio: FakeSio, connected: dict[str, list[str]]) -> CleanBotSocketIOInput:
    channel = CleanBotSocketIOInput.from_credentials({"session_persistence": True})
    channel.sio = sio
    for sender, sids in connected.items():
        for sid in sids:
            channel.sids_by_sender[sender].add(sid)
            channel.sender_by_sid[sid] = sender
    return channel


def _open_case(listing_id: str) -> tuple[int, str]:
    with transaction() as session:
        case = cases.open_case(session, listing=session.get(Listing, listing_id), source="shopper_report",
                               actor="bot", note="구매자 가품 신고로 접수되었어요.")
        return case.id, case.number


def _rows(case_id: int) -> list[tuple]:
    with transaction() as session:
        return session.execute(
            select(ChatIdentity.external_id, Notification.attempts, Notification.delivered_at.is_not(None))
            .join(ChatIdentity, ChatIdentity.id == Notification.identity_id)
            .join(CaseEvent, CaseEvent.id == Notification.case_event_id)
            .where(CaseEvent.case_id == case_id)
        ).all()


def test_due_updates_go_to_every_open_page_of_connected_senders_only(db_url):
    nike_case, nike_number = _open_case(NIKE_LISTING)
    chanel_case, _ = _open_case(CHANEL_LISTING)
    sio = FakeSio()
    channel = _channel(sio, {"brand-nike": ["sid-a", "sid-b"], "shopper-1": ["sid-c"]})

    assert asyncio.run(channel.push_once()) == 1
    assert {to for _, _, to in sio.calls} == {"sid-a", "sid-b"}
    event, data, _ = sio.calls[0]
    assert event == "bot_uttered" and data["pushed"] is True and nike_number in data["text"]
    assert _rows(nike_case) == [("brand-nike", 0, True)]
    # Nobody has brand-chanel's page open: its row is not tried, so it stays due for the REST pull.
    assert _rows(chanel_case) == [("brand-chanel", 0, False)]
    assert asyncio.run(channel.push_once()) == 0  # delivered once, never again


def test_an_update_no_open_page_confirmed_is_retried_later(db_url):
    case_id, _ = _open_case(NIKE_LISTING)
    channel = _channel(FakeSio(silent={"sid-a"}), {"brand-nike": ["sid-a"]})
    assert asyncio.run(channel.push_once()) == 0
    assert _rows(case_id) == [("brand-nike", 1, False)]  # failed once, with backoff


def test_one_confirming_page_is_enough(db_url):
    case_id, _ = _open_case(NIKE_LISTING)
    channel = _channel(FakeSio(silent={"sid-a"}), {"brand-nike": ["sid-a", "sid-b"]})
    assert asyncio.run(channel.push_once()) == 1
    assert _rows(case_id) == [("brand-nike", 0, True)]


def test_nobody_connected_means_no_database_work(db_url, monkeypatch):
    from bot.services import notifier

    monkeypatch.setattr(notifier, "due", lambda *a, **k: (_ for _ in ()).throw(AssertionError("queried")))
    assert asyncio.run(_channel(FakeSio(), {}).push_once()) == 0


def test_a_recall_notice_goes_to_the_page_with_its_refund_button(db_url):
    from bot.services import identity, inspections

    identity.remember_web_customer("shopper-5")
    inspections.add("1005006000123456", "fake", "한국소비자검사원")
    sio = FakeSio()
    assert asyncio.run(_channel(sio, {"shopper-5": ["sid-r"]}).push_once()) == 1
    [(event, data, to)] = sio.calls
    assert (event, to) == ("bot_uttered", "sid-r")
    assert data["text"].startswith("[리콜 안내] ") and [b["title"] for b in data["buttons"]] == ["환불받기"]
    assert data["buttons"][0]["payload"].startswith('/claim_recall{"order_number":"')


def test_socket_messages_may_carry_a_full_set_of_photos(monkeypatch):
    monkeypatch.setenv("CLEANBOT_PHOTO_MAX_BYTES", str(10 * 1024 * 1024))
    monkeypatch.setenv("CLEANBOT_PHOTOS_PER_REPORT", "5")
    assert max_message_bytes() > 5 * 10 * 1024 * 1024 * 4 // 3


def test_credentials_declare_the_web_chat_channels():
    credentials = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert "socketio" not in credentials
    socketio = credentials["connectors.socketio.CleanBotSocketIOInput"]
    assert socketio["session_persistence"] is True
    assert (socketio["user_message_evt"], socketio["bot_message_evt"]) == ("user_uttered", "bot_uttered")
    assert "connectors.webchat.WebChatInput" in credentials
    assert WebChatInput.from_credentials(credentials["connectors.webchat.WebChatInput"]).url_prefix() == "/chat"


def test_the_demo_selector_lists_the_demo_shoppers_and_web_rights_holders():
    people = demo_identities()
    ids = [p["id"] for p in people]
    assert ids[:6] == [f"shopper-{n}" for n in range(1, 7)]
    assert {"brand-nike", "brand-chanel"} <= set(ids)
    nike = next(p for p in people if p["id"] == "brand-nike")
    assert nike["kind"] == "rights_holder" and "Nike" in nike["label"]
    assert WebChatInput.from_credentials({"demo_identities": False}).demo_identities is False
