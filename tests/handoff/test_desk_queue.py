"""/queue in the agents' group (connectors/telegram_desk.py) through the fake Bot API: the review queue's
first ten by risk, with each case's reasons, to any agent; nobody outside the group gets it."""
from __future__ import annotations

import re

from bot.replies.screening import QUEUE_EMPTY_KO
from bot.replies import takeover as words
from bot.services import screening
from tests.security.conftest import MEMBER, OUTSIDER, desk_channel  # noqa: F401  (fixture)
from tests.security.test_agent_roles import _say
from tests.connectors.conftest import channel, fake_api  # noqa: F401  (fixtures)


def test_queue_shows_the_ten_riskiest_open_cases_with_their_reasons(desk_channel):
    ch = desk_channel
    assert _say(ch, MEMBER, "/queue") == QUEUE_EMPTY_KO
    assert len(screening.screen().opened) == 11
    answer = _say(ch, MEMBER, "/queue@CleanBot", needle="검토 대기")
    lines = answer.split("\n")
    assert lines[0] == "📋 검토 대기 11건 중 위험 점수 상위 10건이에요."
    assert lines[1].startswith("1. [85점] IPP-") and lines[1].endswith(" 접수 · 위험 탐지")
    assert lines[2] == "   1005007000000001 나이키 에어포스 1 '07 화이트 미러급 (Nike, S-2001)"
    assert lines[3] == "   Nike 기준가의 23% 가격 (+35) · 개설 12일 된 판매자 (+15) · 제목에 '미러급' (+35)"
    assert [line.split(".")[0] for line in lines if re.match(r"\d+\. \[\d+점\]", line)] == [
        str(n) for n in range(1, 11)]
    assert lines[-1] == "나머지 1건은 cleanbot review queue로 볼 수 있어요."


def test_queue_is_for_agents_only(desk_channel):
    assert screening.screen().opened
    assert _say(desk_channel, OUTSIDER, "/queue") == words.NOT_AN_AGENT_KO
