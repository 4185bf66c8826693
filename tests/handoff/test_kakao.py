"""A KakaoTalk conversation handed over to the agents: real Rasa and action servers, the agents' forum group
in the fake Telegram, and a KakaoTalk user talking through a fake Open Builder (tests/connectors/fake_kakao.py).
The agent's reply reaches the user through the open callback; the hand-back and its rating come with the
user's next message."""
from __future__ import annotations

import threading
import time

import pytest

from bot.services import handoff
from bot.services import telegram as links
from tests.connectors.fake_kakao import FakeKakao, OpenBuilder, text_of
from tests.handoff.conftest import AGENT

pytestmark = pytest.mark.e2e

USER = "kb" + "77" * 20


def test_a_kakao_user_is_handed_over_and_the_agent_answers_through_the_callback(handoff_stack, desk):
    stack = handoff_stack
    kakao = FakeKakao().start()
    try:
        user = OpenBuilder(f"{stack.servers.rasa_url}/webhooks/kakao/skill", kakao, USER)
        code = links.issue_link_token("shopper-5", channel=links.KAKAO).token
        assert "카카오톡에 연동됐어요" in text_of(user.say(f"연동 {code}"))
        assert "상담원을 연결해 드릴게요" in text_of(user.say("상담원 연결해주세요"))
        thread = desk.wait_topic("(shopper-5) · 상담원 요청")
        card = desk.wait_in_topic(thread, "지금까지의 대화")
        assert f"채널: 카카오톡 (카카오톡 botUserKey {USER})" in card

        # The user writes while the agents hold the conversation; the callback stays open for the reply.
        seen: list = []
        writer = threading.Thread(target=lambda: seen.append(user.say("언제 답해 주세요?")))
        writer.start()
        desk.wait_in_topic(thread, "👤 고객: 언제 답해 주세요?")
        # Past the inline budget (3.5 s from the request's arrival, before the topic saw it): an agent's reply
        # sooner is answered inline, which is right too, but here the callback is what is tested.
        time.sleep(4)
        desk.say(AGENT, thread, "확인해 보니 환불됐어요.")
        writer.join(60)
        assert seen, "the message during the hand-over got no answer"
        assert user.paths[-1] == "callback", seen
        assert text_of(seen[0]) == handoff.AGENT_JOINED_KO + "\n\n확인해 보니 환불됐어요."

        since = desk.say(AGENT, thread, "/done")
        desk.wait_in_topic(thread, "상담을 마쳤어요", since)
        stack.fake.wait_for(lambda: handoff.get(_last(USER)).resumed_at is not None, 30)
        back = user.say("안녕하세요")
        assert "상담은 어떠셨나요" in text_of(back)
        assert [r["label"] for r in back["quickReplies"][:5]] == ["1점", "2점", "3점", "4점", "5점"]
        thanks = user.tap(back, "4점")
        assert "평가해 주셔서 감사해요" in text_of(thanks)
        assert handoff.get(_last(USER)).rating == 4
    finally:
        kakao.stop()


def _last(sender: str) -> int:
    from sqlalchemy import select

    from bot.db import transaction
    from bot.models import Handoff

    with transaction() as session:
        return session.execute(select(Handoff.id).where(Handoff.sender_id == sender)
                               .order_by(Handoff.id.desc()).limit(1)).scalar_one()
