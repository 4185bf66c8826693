"""Units of the Telegram channel: splitting, keyboards and callback keys, update dedup, link tokens,
the webhook secret, the generated credentials file."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import func, select

from bot.db import dispose_engines, transaction
from bot.models import AuditLog, ChatIdentity, TelegramCallbackKey, TelegramLinkToken, TelegramUpdate
from bot.services import identity
from bot.services import telegram as tg
from connectors.telegram import command_text, secret_ok, too_big_ko, unsupported_ko
from connectors.telegram_out import keyboard_rows, split_text, utf16_len

# ---------------------------------------------------------------- splitting


def test_short_text_is_one_message():
    assert split_text("안녕하세요\n클린봇이에요") == ["안녕하세요\n클린봇이에요"]
    assert split_text("") == [] and split_text("\n\n") == []


def test_long_text_splits_on_line_boundaries():
    lines = [f"{n}. 나이키 에어포스 1 '07 화이트 · 129,000원 · 주문번호 8181526018159083" for n in range(300)]
    text = "\n".join(lines)
    parts = split_text(text)
    assert [len(p.split("\n")) for p in parts] == [70, 69, 69, 69, 23]  # as many whole lines as fit, greedily
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text  # nothing lost, every cut at a line end
    assert all(p.split("\n")[0] in lines for p in parts)


def test_exactly_the_limit_stays_whole_and_one_more_splits():
    line = "가" * 100
    text = "\n".join([line] * 40) + "\n" + "나" * (4096 - 40 * 101)
    assert utf16_len(text) == 4096 and split_text(text) == [text]
    assert len(split_text(text + "다")) == 2


def test_a_line_longer_than_the_limit_is_cut_at_a_space():
    words = " ".join(["가품신고"] * 2000)  # 9,999 characters, no newline
    parts = split_text(words)
    assert all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == words
    assert all(p.endswith(" ") for p in parts[:-1])


def test_emoji_count_double_as_telegram_does():
    text = "😀" * 2100  # 4,200 UTF-16 units
    parts = split_text(text)
    assert len(parts) == 2 and all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == text


# ---------------------------------------------------------------- keyboards and callback keys


def test_short_answers_side_by_side_longer_ones_stacked(db_url):
    rows = keyboard_rows([{"title": "네, 신고할게요", "payload": "/affirm"}, {"title": "아니요", "payload": "/deny"}],
                         tg.callback_data_for)
    assert len(rows) == 1 and [b.callback_data for b in rows[0]] == ["/affirm", "/deny"]
    rows = keyboard_rows([{"title": f"나이키 에어포스 1 '07 화이트 · {n}원", "payload": f"/x{n}"} for n in range(3)],
                         tg.callback_data_for)
    assert len(rows) == 3


def test_long_payloads_go_through_a_stored_key(db_url):
    payload = '/report_counterfeit{"order_number":"8181526018159083","listing_id":"1005006000123456"}'
    assert len(payload.encode()) > 64
    data = tg.callback_data_for(payload)
    assert data.startswith(tg.KEY_PREFIX) and len(data.encode()) <= 64
    assert tg.callback_data_for(payload) == data  # the same key every time (and on every replica)
    tg._known_keys.clear()  # as in another process: the database answers
    assert tg.payload_for(data) == payload
    with transaction() as session:
        assert session.execute(select(func.count()).select_from(TelegramCallbackKey)).scalar_one() == 1


def test_short_payloads_pass_as_they_are_and_unknown_keys_are_none(db_url):
    assert tg.callback_data_for("/affirm") == "/affirm"
    assert tg.callback_data_for("사진 없어요") == "사진 없어요"
    assert tg.payload_for("/affirm") == "/affirm"
    assert tg.payload_for("k:doesnotexist") is None
    # A payload that looks like a key is keyed itself, so it cannot be mistaken for one.
    sneaky = tg.callback_data_for("k:abc")
    assert sneaky != "k:abc" and tg.payload_for(sneaky) == "k:abc"
    # Korean payloads count in bytes: 22 syllables are 66 bytes.
    korean = "가" * 22
    assert tg.callback_data_for(korean).startswith(tg.KEY_PREFIX)


# ---------------------------------------------------------------- updates taken in once


def test_an_update_is_recorded_once_and_remembered_across_restarts(db_url):
    assert tg.record_update(900_000_001, "message", 42) is True
    assert tg.record_update(900_000_001, "message", 42) is False
    dispose_engines()  # a restart: new connections, same database
    assert tg.record_update(900_000_001, "message", 42) is False
    assert tg.record_update(900_000_002, "callback_query", 42) is True


def test_concurrent_deliveries_of_one_update_pass_once(db_url):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: tg.record_update(900_000_100, "message", 7), range(16)))
    assert results.count(True) == 1
    with transaction() as session:
        assert session.execute(select(func.count()).select_from(TelegramUpdate)).scalar_one() == 1


def test_old_updates_are_purged(db_url):
    tg.record_update(900_000_200, "message", 1)
    assert tg.purge_updates(timedelta(days=7)) == 0
    assert tg.purge_updates(timedelta(seconds=-1)) == 1


# ---------------------------------------------------------------- deep-link tokens


def test_a_token_links_the_account_once(db_url):
    issued = tg.issue_link_token("shopper-2", actor="test")
    assert 20 <= len(issued.token) <= 64 and issued.customer_name == "이서준"
    result = tg.redeem_link_token(issued.token, 5550001)
    assert result.status == "linked" and result.customer_id == "shopper-2"
    who = identity.resolve("telegram", "5550001")
    assert who.customer_id == "shopper-2" and who.channel == "telegram"
    # The same account again: nothing changes. Someone else: refused.
    assert tg.redeem_link_token(issued.token, 5550001).status == "already_linked"
    assert tg.redeem_link_token(issued.token, 5550002).status == "used"
    assert identity.resolve("telegram", "5550002").customer_id is None
    with transaction() as session:
        row = session.execute(select(TelegramLinkToken)).scalar_one()
        assert row.used_by == "5550001" and row.used_at is not None
        assert issued.token not in (row.token_sha256,)  # only the hash is kept
        assert session.execute(select(AuditLog).where(AuditLog.action == "telegram.linked")).scalars().first()


def test_expired_invalid_and_taken_accounts(db_url):
    old = tg.issue_link_token("shopper-3", ttl=timedelta(seconds=-1))
    assert tg.redeem_link_token(old.token, 5550010).status == "expired"
    assert tg.redeem_link_token("not-a-token", 5550010).status == "invalid"
    assert tg.redeem_link_token("x" * 200, 5550010).status == "invalid"
    first = tg.issue_link_token("shopper-3")
    assert tg.redeem_link_token(first.token, 5550010).status == "linked"
    other = tg.issue_link_token("shopper-4")
    assert tg.redeem_link_token(other.token, 5550010).status == "linked_elsewhere"
    # …and the other customer's token is still good for the right account.
    assert tg.redeem_link_token(other.token, 5550011).status == "linked"
    assert identity.resolve("telegram", "5550010").customer_id == "shopper-3"


def test_concurrent_redemptions_link_one_account(db_url):
    issued = tg.issue_link_token("shopper-5")
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda uid: tg.redeem_link_token(issued.token, uid).status, range(5550100, 5550106)))
    assert results.count("linked") == 1 and results.count("used") == 5
    with transaction() as session:
        linked = session.execute(select(ChatIdentity).where(ChatIdentity.customer_id == "shopper-5")).scalars().all()
        assert len(linked) == 1


def test_unknown_customer_gets_no_token(db_url):
    with pytest.raises(tg.UnknownCustomer):
        tg.issue_link_token("nobody")


# ---------------------------------------------------------------- small pieces


def test_the_webhook_secret_check():
    assert secret_ok("abc", "abc")
    assert not secret_ok("abc", "abd") and not secret_ok("abc", None) and not secret_ok("abc", "")
    assert not secret_ok("", "") and not secret_ok("", "anything")  # no secret configured: nothing passes


def test_commands_become_what_the_dialogue_knows():
    assert command_text("/start") == "/greet" and command_text("/help@cleanbot_bot") == "/greet"
    assert command_text("/cancel") == "/stop"
    assert command_text("/orders") == "orders"


def test_korean_notices_use_the_right_particles():
    assert unsupported_ko("sticker").startswith("죄송해요, 스티커는 아직 받을 수 없어요.")
    assert "음성 메시지는" in unsupported_ko("voice") and "연락처는" in unsupported_ko("contact")
    assert "동영상은" in unsupported_ko("video")
    assert too_big_ko(25 * 1024 * 1024) .startswith("사진이 너무 커요(25MB). 텔레그램으로는 20MB까지만")
    assert too_big_ko(None, 2).startswith("2번째 사진이 너무 커요.")


def test_credentials_include_telegram_only_with_a_token(tmp_path):
    from bot.server.runner import TELEGRAM_CHANNEL, credentials_file
    from bot.settings import PROJECT_ROOT

    base = PROJECT_ROOT / "credentials.yml"
    assert credentials_file({}, base=base) == base
    made = credentials_file({"TELEGRAM_BOT_TOKEN": "1:x"}, base=base, target=tmp_path / "c.yml")
    text = made.read_text(encoding="utf-8")
    assert "1:x" not in text  # the token stays in the environment
    loaded = yaml.safe_load(text)
    assert loaded[TELEGRAM_CHANNEL] == {"access_token": "${TELEGRAM_BOT_TOKEN}"}
    assert "connectors.rest.CleanBotRestInput" in loaded


def test_rasa_reads_the_generated_credentials(tmp_path, monkeypatch):
    from rasa.core.run import create_http_input_channels

    from bot.server.runner import credentials_file
    from bot.settings import PROJECT_ROOT
    from connectors.telegram import CleanBotTelegramInput

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "from-env")
    monkeypatch.delenv("TELEGRAM_WEBHOOK_URL", raising=False)
    made = credentials_file(base=PROJECT_ROOT / "credentials.yml", target=tmp_path / "c.yml")
    channels = create_http_input_channels(None, str(made))
    telegram = next(c for c in channels if isinstance(c, CleanBotTelegramInput))
    assert telegram.config.token == "123:abc" and telegram.config.webhook_secret == "from-env"
    assert telegram.config.polling
