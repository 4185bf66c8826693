"""Demo mode as `make run` starts it: the Rasa HTTP API is off (no token set), unsigned REST senders work,
and the page and `cleanbot chat` get demo tokens that go through the same checks as production."""
from __future__ import annotations

import asyncio

import pytest

from bot.cli import chat
from tests.security.live import http, running, sio_close, sio_connect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    with running(tmp_path_factory.mktemp("demo"), "security-demo", "demo",
                 {"CLEANBOT_API_TOKEN": "", "CLEANBOT_JWT_SECRET": ""}) as stack:
        yield stack


@pytest.mark.parametrize("method, path", [
    ("GET", "/conversations/shopper-1/tracker"), ("POST", "/conversations/shopper-1/tracker/events"),
    ("POST", "/conversations/shopper-1/execute"), ("PUT", "/model"), ("DELETE", "/model"), ("GET", "/status"),
])
def test_without_an_api_token_the_rasa_api_does_not_exist(demo, method, path):
    assert http(method, f"{demo.url}{path}", {"event": "restart"} if method != "GET" else None).status in (404, 405)


def test_an_unsigned_sender_is_accepted_in_demo_mode(demo):
    reply = demo.say("안녕하세요", sender="shopper-3")
    assert reply.status == 200 and any("클린봇" in m.get("text", "") for m in reply.body)


def test_a_forged_token_is_refused_even_in_demo_mode(demo):
    assert demo.say("안녕하세요", token="forged.token.value", sender="shopper-3").status == 401


def test_the_demo_token_endpoint_signs_demo_identities_for_the_page(demo):
    config = http("GET", f"{demo.url}/chat/config.json").body
    assert config["demo_token_url"] == "/chat/demo-token" and any(p["id"] == "brand-nike" for p in config["identities"])
    made = http("POST", f"{demo.url}/chat/demo-token", {"sender": "brand-nike"})
    assert made.status == 200
    assert demo.say("내 케이스 목록 보여 주세요", token=made.body["token"]).status == 200
    assert demo.say("안녕하세요", token=made.body["token"], sender="shopper-1").status == 403
    assert http("POST", f"{demo.url}/chat/demo-token", {"sender": "x" * 300}).status == 400


def test_the_terminal_client_talks_with_a_demo_token(demo):
    token = chat.demo_token(demo.url, "shopper-4")
    answer = chat.send(demo.url, "shopper-4", "안녕하세요", token=token)
    assert any("클린봇" in m.get("text", "") for m in answer)
    with pytest.raises(chat.Refused):
        chat.send(demo.url, "shopper-5", "안녕하세요", token=token)


def test_the_page_socket_connects_with_its_demo_token_and_is_answered(demo):
    token = http("POST", f"{demo.url}/chat/demo-token", {"sender": "shopper-6"}).body["token"]

    async def talk():
        events: list = []
        client = await sio_connect(demo.url, token, events)
        await client.emit("session_request", {"session_id": "shopper-6"})
        answer = await client.call("user_uttered", {"message": "안녕하세요", "session_id": "shopper-6"}, timeout=60)
        await sio_close(client)
        return events, answer

    events, answer = asyncio.run(talk())
    assert answer == {"ok": True}
    assert ("session_confirm", "shopper-6") in events and any(name == "bot_uttered" for name, _ in events)
