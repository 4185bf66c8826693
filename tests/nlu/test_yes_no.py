"""Yes and no in their chat forms."""
from __future__ import annotations

import pytest

from bot.nlu.yes_no import yes_no


@pytest.mark.parametrize("text", ["ㅇㅇ", "ㅇㅋ", "넵", "ㄱㄱ", "웅", "네", "네!", "예", "응", "ok", "OK", "오케이",
                                  "ㅇㅋ 신고", "네 신고할게요", "맞아요", "넵넵", "좋아요", "ㅇㅇㅇ", "네 맞아요"])
def test_yes(text: str) -> None:
    assert yes_no(text) is True


@pytest.mark.parametrize("text", ["ㄴㄴ", "노노", "아뇨", "아니요", "아니", "아니오", "no", "아니요 괜찮아요", "다른 거요",
                                  "그거 아니에요"])
def test_no(text: str) -> None:
    assert yes_no(text) is False


@pytest.mark.parametrize("text", ["", "에어포스", "네 그런데 주문이 틀렸어요", "아니 이거 말고 구찌 가방이요",
                                  "2번", "내용 고칠게요"])
def test_neither(text: str) -> None:
    assert yes_no(text) is None
