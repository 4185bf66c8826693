"""`cleanbot run --replicas 2` as a user gets it: two Rasa servers (each with its action server) behind
Debian's nginx, sharing the database and the Redis lock. REST goes round robin, so one conversation's
messages land on both servers and the form goes on; a replica killed with SIGKILL mid-conversation costs
nothing (nginx passes the next message to the other); socket.io works through nginx."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from bot.services import reports
from tests.conftest import demo_orders, environment
from tests.security.live import API_TOKEN, database, http, sio_close, sio_connect

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not os.environ.get("CLEANBOT_TEST_REDIS_URL"), reason="needs CLEANBOT_TEST_REDIS_URL"),
              pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()),
                                 reason="needs Debian's nginx (.ci/run installs it)")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from bot.server.replicas import Replicas
    from bot.server.runner import free_port
    from bot.nlu.training import train_if_changed

    home = tmp_path_factory.mktemp("replicas")
    with database(home, postgres=True) as url:
        env = {"CLEANBOT_DATABASE_URL": url, "CLEANBOT_PHOTO_DIR": str(home / "photos"),
               "CLEANBOT_REDIS_URL": os.environ["CLEANBOT_TEST_REDIS_URL"], "CLEANBOT_WORKERS": "1",
               "CLEANBOT_API_TOKEN": API_TOKEN, "CLEANBOT_MESSAGES_PER_MINUTE": "0"}
        replicas = Replicas(train_if_changed(), 2, free_port(), env=env, run_dir=home / "nginx",
                            log_dir=Path("test-artifacts") / "replicas")
        with environment(env):
            try:
                yield replicas.start()
            finally:
                replicas.stop()


def say(cluster, sender: str, text: str):
    reply = http("POST", f"{cluster.url}/webhooks/rest/webhook", {"sender": sender, "message": text})
    assert reply.status == 200, reply
    return " ".join(m.get("text", "") for m in reply.body), reply.headers.get("X-Cleanbot-Upstream")


def test_one_report_across_both_replicas_and_a_killed_one_refunds_once(cluster):
    order = next(o for o in demo_orders()["shopper-2"] if o["delivered_days_ago"] == 5)
    upstreams = set()
    answer, up = say(cluster, "shopper-2", "가품 신고할게요")
    upstreams.add(up)
    answer, up = say(cluster, "shopper-2", order["number"])
    upstreams.add(up)
    assert "주문을 확인했어요" in answer
    cluster.restart(0, hard=True)  # kill -9 of one replica in the middle of the form, then it comes back
    answer, up = say(cluster, "shopper-2", "정품이랑 냄새가 달라요")
    upstreams.add(up)
    answer, up = say(cluster, "shopper-2", "없어요")
    upstreams.add(up)
    assert "이대로 신고할까요" in answer
    answer, up = say(cluster, "shopper-2", "네")
    upstreams.add(up)
    number = re.search(r"RPT-[0-9-]+", answer).group(0)
    assert reports.get_report(number, customer_id="shopper-2").refund_status == "granted"
    assert len({u for u in upstreams if u}) == 2, upstreams  # both replicas answered this conversation
    events = http("GET", f"{cluster.url}/conversations/shopper-2/tracker?token={API_TOKEN}").body["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == [
        "가품 신고할게요", order["number"], "정품이랑 냄새가 달라요", "없어요", "네"]


def test_the_web_chat_socket_works_through_nginx(cluster):
    token = http("POST", f"{cluster.url}/chat/demo-token", {"sender": "shopper-5"}).body["token"]

    async def talk():
        events: list = []
        client = await sio_connect(cluster.url, token, events)
        await client.emit("session_request", {"session_id": "shopper-5"})
        answer = await client.call("user_uttered", {"message": "안녕하세요"}, timeout=60)
        await sio_close(client)
        return events, answer

    events, answer = asyncio.run(talk())
    assert answer == {"ok": True} and any(name == "bot_uttered" for name, _ in events)
