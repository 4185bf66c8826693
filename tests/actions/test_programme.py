"""ask_programme's action with rasa-sdk's dispatcher and real Tracker objects: the public summary for a
shopper (figures only, no names), the brand's share for its rights holder."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.programme import ActionProgrammeSummary
from tests.services.test_penalties import _take_down


def _ask(sender: str) -> list[str]:
    text = "가품 얼마나 잡았어요?"
    t = Tracker(sender_id=sender, slots={}, latest_message={"text": text, "intent": {"name": "ask_programme"},
                                                              "entities": [], "metadata": {}},
                events=[{"event": "user", "text": text, "input_channel": "rest"}], paused=False,
                followup_action=None, active_loop={}, latest_action_name="action_listen")
    dispatcher = CollectingDispatcher()
    assert asyncio.run(ActionProgrammeSummary().run(dispatcher, t, {})) == []
    return [m["text"] for m in dispatcher.messages]


def test_a_shopper_gets_the_public_summary(db_url):
    for listing_id in ("1005006000123456", "1005006000131375", "1005006000155132"):  # Nike, Nike, Chanel
        _take_down(listing_id)
    assert _ask("shopper-1") == [
        "클린 프로젝트는 가품을 찾아 내리고, 가품을 산 분께 100% 환불해 드리는 프로그램이에요.\n"
        "최근 30일 동안 가품 의심 상품 3개를 내리고 브랜드 2곳을 보호했어요.\n"
        "구매자 신고는 0건 받았어요."]


def test_a_rights_holder_gets_the_brand_s_share(db_url):
    for listing_id in ("1005006000123456", "1005006000131375", "1005006000155132"):
        _take_down(listing_id)
    assert _ask("brand-nike") == [
        "최근 30일 동안 Nike 상품 2개를 내렸어요 (전체 3개 중 67%).\n"
        "Nike 상품의 구매자 신고는 0건, 환불은 0건(0원)이에요."]
