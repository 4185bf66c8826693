"""A Telegram user who floods the bot is told once when to try again, the flood never reaches Rasa, and
other users are not affected (the per-sender rate of connectors/doors.py, on the Telegram door)."""
from __future__ import annotations

import pytest


def test_a_flooding_telegram_user_is_told_once_and_the_rest_is_dropped(monkeypatch, db_url, fake_api, channel):
    monkeypatch.setenv("CLEANBOT_MESSAGES_PER_MINUTE", "3")
    fake, flooder, other = fake_api, 7_900_001, 7_900_002
    ch = channel()
    for number in range(8):
        assert ch.accept(fake.text_update(flooder, f"메시지 {number}"))
    assert ch.accept(fake.text_update(other, "안녕하세요"))
    answers = [c.text for c in fake.wait_quiet(flooder, since=0, quiet=2.0, timeout=30)]
    assert [m.text for m in ch.received if m.sender_id == str(flooder)] == ["메시지 0", "메시지 1", "메시지 2"]
    refusals = [a for a in answers if "너무 빨리" in a]
    assert len(refusals) == 1 and "초 뒤에 다시 보내 주세요" in refusals[0]
    assert [c.text for c in fake.wait_quiet(other, since=0, quiet=1.0, timeout=30)] == ["받았어요: 안녕하세요"]


