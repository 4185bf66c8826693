"""ask_programme through the REST channel, against real Rasa and action servers: a shopper's two ways of
asking get the public summary; a rights holder gets the brand's share; on Telegram as well."""
from __future__ import annotations

import pytest

from bot.replies.programme import brand_share_ko, public_summary_ko
from bot.services import programme
from tests.connectors.conftest import TelegramUser, telegram_stack  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("question", ["클린 프로젝트가 뭐예요?", "가품 얼마나 잡았어요?"])
def test_a_shopper_gets_the_public_summary(chat_as, question):
    answer = chat_as("shopper-3").text(question)
    assert answer == public_summary_ko(programme.compute())
    assert answer.startswith("클린 프로젝트는 가품을 찾아 내리고") and "shopper" not in answer


def test_a_rights_holder_gets_the_brand_s_share(chat_as):
    answer = chat_as("brand-chanel").text("가품 얼마나 잡았어요?")
    assert answer == brand_share_ko(programme.compute(brand="Chanel"), programme.compute())


def test_on_telegram_too_without_a_linked_account(telegram_stack):
    user = TelegramUser(telegram_stack, 7_100_912)
    since = user.say("클린 프로젝트가 뭐예요?")
    answer = user.text(since, "클린 프로젝트는")
    assert answer == public_summary_ko(programme.compute())


def test_asked_midway_through_a_report_then_back_to_it(chat_as):
    chat = chat_as("shopper-4")
    assert "어떤 주문을 신고하시겠어요" in chat.text("가품 받은 것 같아요")
    answer = chat.text("근데 가품 얼마나 잡았어요?")
    assert answer.startswith(public_summary_ko(programme.compute()))
    assert "어떤 주문을 신고하시겠어요" in answer
    assert "취소" in chat.text("그만할래요")
