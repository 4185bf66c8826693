"""Conversations survive `kill -9` of the Rasa server and the action server (issue 17): a conversation, a
report form stopped half-way (order number given, not confirmed) and a paused conversation (as an agent
holds it) go on where they were once a new pair of servers is up on the same database — SQLite, and
PostgreSQL when CLEANBOT_TEST_POSTGRES_URL is set."""
from __future__ import annotations

import pytest

from tests.conftest import BACKENDS
from tests.durability.stack import Site, site_env
from tests.security.live import database

pytestmark = pytest.mark.e2e

NOT_UNDERSTOOD = "이해하지 못했어요"
CHAT, FORM, PAUSED = "shopper-1", "shopper-2", "shopper-3"


def _order_number(orders_by_customer, customer: str) -> str:
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == 5)["number"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_conversations_go_on_after_kill_9(backend, tmp_path, orders_by_customer):
    from bot.nlu.training import train_if_changed

    with database(tmp_path, backend == "postgresql") as url:
        site = Site(f"restart-{backend}", train_if_changed(), site_env(url, tmp_path)).start()
        try:
            assert "안녕하세요" in site.text(CHAT, "안녕하세요")
            assert "다행이에요" in site.text(CHAT, "감사합니다")

            assert "주문번호" in site.text(FORM, "가품 받은 것 같아요")
            asked = site.text(FORM, _order_number(orders_by_customer, FORM))
            assert "주문을 확인했어요" in asked and "의심되나요" in asked

            assert site.text(PAUSED, "안녕하세요")
            site.append_event(PAUSED, {"event": "pause"})  # what the hand-over does (ConversationPaused)
            assert site.say(PAUSED, "상담원 기다릴게요") == []

            before = {sender: site.tracker(sender) for sender in (CHAT, FORM, PAUSED)}
            assert before[FORM]["active_loop"].get("name") and before[PAUSED]["paused"]

            site.kill()
            site.start()
            print(f"\n[{backend}] restart after kill -9: {site.starts[-1]:.1f}s until both servers answered")

            after = {sender: site.tracker(sender) for sender in (CHAT, FORM, PAUSED)}
            for sender in before:
                assert after[sender]["events"] == before[sender]["events"], sender
            assert after[FORM]["active_loop"] == before[FORM]["active_loop"]
            assert after[PAUSED]["paused"]

            # The form asks its next question (the photos), as if nothing had happened.
            went_on = site.text(FORM, "로고 위치가 정품이랑 다르고 박음질이 엉망이에요")
            assert "사진" in went_on and NOT_UNDERSTOOD not in went_on
            assert "취소" in site.text(FORM, "그만할래요")

            # Still held: recorded for the agent, not answered by the bot; answered again once resumed.
            assert site.say(PAUSED, "아직 기다리고 있어요") == []
            texts = [e.get("text") for e in site.tracker(PAUSED)["events"] if e["event"] == "user"]
            assert texts == ["안녕하세요", "상담원 기다릴게요", "아직 기다리고 있어요"]
            site.append_event(PAUSED, {"event": "resume"})
            assert "다행이에요" in site.text(PAUSED, "감사합니다")

            assert "안녕하세요" in site.text(CHAT, "안녕하세요")
            texts = [e.get("text") for e in site.tracker(CHAT)["events"] if e["event"] == "user"]
            assert texts == ["안녕하세요", "감사합니다", "안녕하세요"]
        finally:
            site.stop()
