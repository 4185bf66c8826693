"""`cleanbot telegram set-webhook / delete-webhook` and `cleanbot shopper link-token` against the fake Bot API."""
from __future__ import annotations

import json

import pytest

from bot.cli import main
from bot.services import telegram as tg
from tests.connectors.conftest import fake_api  # noqa: F401  (fixture)


@pytest.fixture
def telegram_env(monkeypatch, fake_api):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake_api.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", fake_api.base_url)
    monkeypatch.setenv("TELEGRAM_FILE_BASE_URL", fake_api.file_base_url)
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME", raising=False)
    monkeypatch.delenv("TELEGRAM_WEBHOOK_URL", raising=False)
    return fake_api


def test_set_webhook_registers_the_url_with_the_secret(telegram_env, monkeypatch, capsys):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "cli-secret_1")
    assert main(["telegram", "set-webhook", "https://bot.example.com"]) == 0
    assert telegram_env.webhook == {"url": "https://bot.example.com/webhooks/telegram/webhook",
                                    "secret_token": "cli-secret_1",
                                    "allowed_updates": ["message", "edited_message", "callback_query"]}
    out = capsys.readouterr().out
    assert "웹훅을 등록했어요" in out and "TELEGRAM_WEBHOOK_URL=" in out
    assert main(["telegram", "delete-webhook"]) == 0
    assert telegram_env.webhook == {}


def test_set_webhook_needs_a_secret(telegram_env, monkeypatch, capsys):
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    assert main(["telegram", "set-webhook", "https://bot.example.com/hook"]) == 1
    assert "TELEGRAM_WEBHOOK_SECRET이 설정되지 않았어요" in capsys.readouterr().err
    assert not telegram_env.calls_of("setWebhook")


def test_link_token_prints_the_deep_link(db_url, telegram_env, capsys):
    assert main(["shopper", "link-token", "shopper-1", "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["customer_id"] == "shopper-1" and issued["customer_name"] == "김민지"
    assert issued["deep_link"] == f"https://t.me/{telegram_env.username}?start={issued['token']}"
    assert tg.redeem_link_token(issued["token"], 61001).status == "linked"
    assert main(["shopper", "link-token", "shopper-1"]) == 0
    text = capsys.readouterr().out
    assert "김민지(shopper-1) 고객의 텔레그램 연결 링크예요" in text and "https://t.me/" in text


def test_link_token_without_a_known_bot_prints_the_token(db_url, monkeypatch, capsys):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME", raising=False)
    assert main(["shopper", "link-token", "shopper-2"]) == 0
    text = capsys.readouterr().out
    assert "https://t.me/" not in text and "/start " in text and "토큰: " in text
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "@CleanBotDemoBot")
    assert main(["shopper", "link-token", "shopper-2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deep_link"].startswith("https://t.me/CleanBotDemoBot?start=")
    assert main(["shopper", "link-token", "nobody"]) == 1
    assert "고객 nobody를 찾을 수 없어요" in capsys.readouterr().err
