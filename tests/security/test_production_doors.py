"""The attacks of issue #11, tried from outside against a production-mode start (PostgreSQL when the
suite has it): REST and socket.io with missing, forged, expired and mismatched tokens, another subject's
pushes, the Rasa HTTP API, the action server, demo data, malformed bodies, spoofed metadata, floods — and
a shopper's whole report over REST with a token. Every one of these worked before."""
from __future__ import annotations

import asyncio
import re

import pytest

from bot.services import reports
from tests.conftest import demo_orders
from tests.security.live import API_TOKEN, SECRET, http, running, sign, sio_close, sio_connect, sio_refusal

pytestmark = pytest.mark.e2e

SHOPPER, VICTIM, BRAND = "shopper-1", "shopper-2", "brand-nike"


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    extra = {"CLEANBOT_CORS_ORIGINS": "https://shop.example.com", "CLEANBOT_MESSAGES_PER_MINUTE": "20"}
    with running(tmp_path_factory.mktemp("prod"), "security-production", "production", extra, postgres=True) as stack:
        yield stack


def _order(customer: str, delivered_days_ago: int) -> dict:
    return next(o for o in demo_orders()[customer] if o["delivered_days_ago"] == delivered_days_ago)


def _events(stack, sender: str) -> int:
    return len(stack.tracker(sender)["events"])


# ------------------------------------------------------------------ REST


def test_the_whole_report_over_rest_with_a_token_refunds_once(prod):
    order = _order(SHOPPER, 5)
    token = sign(SHOPPER, role="customer")
    first = prod.say(f"{order['number']} 주문한 신발이 짝퉁 같아요", token)
    assert first.status == 200 and "주문을 확인했어요" in str(first.body)
    prod.say("로고 위치가 정품이랑 다르고 박음질이 엉망이에요", token)
    assert "이대로 신고할까요" in str(prod.say("사진은 없어요", token).body)
    done = " ".join(m.get("text", "") for m in prod.say("네", token).body)
    assert "신고번호는 RPT-" in done and f"{order['amount_krw']:,}원을 환불해 드렸어요" in done
    number = re.search(r"RPT-[0-9-]+", done).group(0)
    assert reports.get_report(number, customer_id=SHOPPER).refund_status == "granted"


@pytest.mark.parametrize("kind", ["missing", "forged", "expired", "alg_none"])
def test_rest_refuses_unknown_callers_with_401_and_processes_nothing(prod, kind):
    token = {"missing": None, "forged": sign(VICTIM, key="x" * 48), "expired": sign(VICTIM, seconds=-600),
             "alg_none": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJzaG9wcGVyLTIiLCJleHAiOjk5OTk5OTk5OTl9."}[kind]
    before = _events(prod, VICTIM)
    reply = prod.say("최근 주문 보여주세요", token, sender=VICTIM)
    assert reply.status == 401 and reply.body["error"] and reply.headers.get("WWW-Authenticate")
    assert _events(prod, VICTIM) == before


def test_rest_refuses_a_token_for_someone_else_with_403(prod):
    before = _events(prod, VICTIM)
    reply = prod.say("최근 주문 보여주세요", sign(SHOPPER), sender=VICTIM)
    assert reply.status == 403 and "다른 대화" in reply.body["error"]
    assert _events(prod, VICTIM) == before


@pytest.mark.parametrize("body, status", [
    ({"message": 123}, 400), ({"message": ["hi"]}, 400), ({"message": {"t": 1}}, 400), ({"message": ""}, 400),
])
def test_malformed_messages_get_400_with_a_korean_reason(prod, body, status):
    reply = http("POST", f"{prod.url}/webhooks/rest/webhook", body, {"Authorization": f"Bearer {sign('mal-1')}"})
    assert reply.status == status and reply.body["error"]


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\"text\"", b"{"])
def test_bodies_that_are_not_a_json_object_get_400(prod, raw):
    reply = http("POST", f"{prod.url}/webhooks/rest/webhook", raw=raw,
                 headers={"Authorization": f"Bearer {sign('mal-2')}"})
    assert reply.status == 400 and "JSON" in reply.body["error"]


def test_a_nul_character_is_removed_and_the_conversation_goes_on(prod):
    token = sign("nul-1")
    assert prod.say("안녕\x00하세요", token).status == 200
    texts = [e.get("text") for e in prod.tracker("nul-1")["events"] if e["event"] == "user"]
    assert texts[-1] == "안녕하세요"


def test_a_body_over_the_cap_is_refused_before_it_is_read(prod):
    from connectors.socketio import max_message_bytes

    oversized = b'{"message": "' + b"a" * (max_message_bytes() + 1024) + b'"}'
    try:
        reply = http("POST", f"{prod.url}/webhooks/rest/webhook", raw=oversized,
                     headers={"Authorization": f"Bearer {sign('big-1')}"})
        assert reply.status == 413
    except (ConnectionError, OSError):
        pass  # Sanic may close the connection before the client finished sending: refused all the same


def test_clients_cannot_set_photo_ids_or_other_server_metadata(prod):
    token = sign("meta-1")
    spoof = {"photo_ids": ["0" * 64, "not-a-hash"], "photo_errors": ["가짜"], "handoff_id": 1}
    assert prod.say("안녕하세요", token, metadata=spoof).status == 200
    user = [e for e in prod.tracker("meta-1")["events"] if e["event"] == "user"][-1]
    assert not {"photo_ids", "photo_errors", "handoff_id"} & set(user.get("metadata") or {})


def test_a_message_flood_is_answered_politely_and_stops_at_the_limit(prod):
    token = sign("flood-1")
    statuses = [prod.say("안녕하세요", token).status for _ in range(20)]
    assert statuses == [200] * 20
    refused = prod.say("안녕하세요", token)
    assert refused.status == 429 and "초 뒤에 다시 보내 주세요" in refused.body["error"]
    assert int(refused.headers["Retry-After"]) > 0
    assert prod.say("안녕하세요", sign("flood-2")).status == 200  # one sender's flood costs nobody else


# ------------------------------------------------------------------ the Rasa HTTP API and the action server


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/conversations/shopper-1/tracker", None),
    ("POST", "/conversations/shopper-1/tracker/events", {"event": "slot", "name": "order_number", "value": "1"}),
    ("POST", "/conversations/shopper-1/execute", {"name": "action_submit_report"}),
    ("PUT", "/model", {"model_server": {"url": "http://127.0.0.1:9/evil.tar.gz"}}),
    ("DELETE", "/model", None),
])
def test_the_rasa_api_needs_the_api_token(prod, method, path, body):
    assert http(method, f"{prod.url}{path}", body).status in (401, 403)
    assert http(method, f"{prod.url}{path}?token=wrong-token", body).status in (401, 403)
    assert http("GET", f"{prod.url}/status?token={API_TOKEN}").status == 200  # the model is still there


def test_the_action_server_refuses_a_forged_tracker_without_the_secret(prod):
    order = _order(VICTIM, 5)
    forged = {"next_action": "action_submit_report", "sender_id": VICTIM, "version": "3.6.21", "domain": {},
              "tracker": {"sender_id": VICTIM, "slots": {"order_number": order["number"], "confirm": True},
                          "latest_message": {}, "events": [], "active_loop": {}, "paused": False}}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {SECRET}"}):
        reply = http("POST", f"{prod.action_url}/webhook", forged, headers)
        assert reply.status == 401, reply
    assert http("GET", f"{prod.action_url}/actions").status == 401
    assert http("GET", f"{prod.action_url}/health").status == 200
    from sqlalchemy import func, select

    from bot.db import transaction
    from bot.models import Report

    with transaction() as session:
        assert session.execute(select(func.count(Report.id)).where(Report.order_number == order["number"])).scalar_one() == 0


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from /proc/net/tcp (IPv4)."""
    found = set()
    for line in open("/proc/net/tcp", encoding="ascii").read().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_both_servers_listen_on_the_loopback_only_by_default(prod):
    assert _listening_addresses(prod.servers.action_port) == {"127.0.0.1"}
    assert _listening_addresses(prod.servers.rasa_port) == {"127.0.0.1"}


def test_cors_is_granted_only_to_the_configured_origin(prod):
    evil = http("OPTIONS", f"{prod.url}/webhooks/rest/webhook",
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert evil.headers.get("Access-Control-Allow-Origin") in (None, "")
    shop = http("OPTIONS", f"{prod.url}/webhooks/rest/webhook",
                headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"})
    assert shop.headers.get("Access-Control-Allow-Origin") == "https://shop.example.com"


# ------------------------------------------------------------------ demo data and the web page


def test_no_demo_identities_and_no_demo_tokens_in_production(prod):
    config = http("GET", f"{prod.url}/chat/config.json").body
    assert config["identities"] == [] and not config["demo_token_url"]
    assert http("POST", f"{prod.url}/chat/demo-token", {"sender": BRAND}).status in (404, 405)


# ------------------------------------------------------------------ socket.io


@pytest.mark.parametrize("kind", ["missing", "forged", "expired"])
def test_socketio_refuses_connections_without_a_valid_token(prod, kind):
    token = {"missing": None, "forged": sign(BRAND, key="y" * 48), "expired": sign(BRAND, seconds=-60)}[kind]

    refused = asyncio.run(sio_refusal(prod.url, {"token": token} if token else None))
    assert refused["data"]["status"] == 401 and "로그인" in refused["message"]


def test_socketio_refuses_another_session_id_and_processes_nothing(prod):
    before = _events(prod, BRAND)

    async def attempt():
        events: list = []
        client = await sio_connect(prod.url, sign(SHOPPER), events)
        await client.emit("session_request", {"session_id": BRAND})
        # The acknowledgement is the positive sign: the server's handler answers it only after deciding,
        # and a message it let through would have been handled (and answered) inside that same call.
        answer = await client.call("user_uttered", {"message": "내 케이스 목록 보여 주세요", "session_id": BRAND},
                                   timeout=30)
        await sio_close(client)
        return events, answer

    events, answer = asyncio.run(attempt())
    assert answer["ok"] is False and answer["status"] == 403
    assert [d["status"] for n, d in events if n == "auth_error"] == [403, 403]
    assert not [e for e in events if e[0] in ("session_confirm", "bot_uttered")]
    assert _events(prod, BRAND) == before


def test_a_socket_gets_only_its_own_subjects_pushes(prod):
    """brand-nike has a status update waiting; a shopper claiming brand-nike gets nothing and the update
    stays due; brand-nike's own page, open at the same time, gets it."""
    from bot.db import transaction
    from bot.models import Listing
    from bot.services import cases

    with transaction() as session:
        case = cases.open_case(session, listing=session.get(Listing, "1005006000131375"), source="shopper_report",
                               actor="bot", note="구매자 가품 신고로 접수되었어요.")
        case_number = case.number

    async def until(events: list, found, what: str, seconds: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while not any(found(name, data) for name, data in events):
            assert asyncio.get_running_loop().time() < deadline, what
            await asyncio.sleep(0.1)

    async def both():
        intruder, owner = [], []
        intruding = await sio_connect(prod.url, sign(SHOPPER), intruder)
        await intruding.emit("session_request", {"session_id": BRAND})
        await until(intruder, lambda name, _: name in ("auth_error", "session_confirm"), "no answer to the claim")
        owning = await sio_connect(prod.url, sign(BRAND), owner)
        await owning.emit("session_request", {"session_id": BRAND})
        # The positive sign: a push round reached brand-nike's page while the intruder was connected.
        await until(owner, lambda name, data: name == "bot_uttered" and case_number in str(data),
                    "brand-nike's own page never got the update")
        for client in (intruding, owning):
            await sio_close(client)
        return intruder

    intruder = asyncio.run(both())
    assert not any(case_number in str(data) for _, data in intruder)


# ------------------------------------------------------------------ logs (last: they hold the whole module's traffic)


def test_zz_logs_hold_no_personal_data_tokens_or_tracker_dumps(prod):
    order = _order(SHOPPER, 5)
    # A failing action, called with the real secret: Rasa used to log the whole tracker it got back.
    tracker = "비밀스러운 설명 XYZZY, 주문 9999888877776666"  # not a tracker: the action server fails on it
    token = prod.env["CLEANBOT_ACTION_TOKEN"]
    reply = http("POST", f"{prod.action_url}/webhook",
                 {"next_action": "action_submit_report", "sender_id": VICTIM, "tracker": tracker, "domain": None,
                  "version": "3.6.21"}, {"Authorization": f"Bearer {token}"})
    assert reply.status == 500
    assert "XYZZY" not in str(reply.body) and "9999888877776666" not in str(reply.body)
    logs = prod.logs()
    for secret in (order["number"], "9999888877776666", "XYZZY", "박음질이 엉망", SECRET, API_TOKEN, token,
                   "eyJhbGciOi"):  # every JWT starts so
        assert secret not in logs, f"{secret[:12]}… found in the server logs"
