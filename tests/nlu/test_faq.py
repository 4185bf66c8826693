"""FAQ search (bot.nlu.faq): Korean lexical signals, hot reload of faq.yml, the confidence threshold."""
from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.nlu import faq  # noqa: E402


def test_every_topic_has_many_phrasings():
    entries = faq.load_entries()
    assert len(entries) >= 32
    assert all(15 <= len(e.questions) <= 30 for e in entries), {e.id: len(e.questions) for e in entries}
    assert len({e.id for e in entries}) == len(entries)


def test_concept_tokens_unify_synonyms():
    for a, b in [("석 달 지났어요", "90일 넘었어요"), ("세달", "3개월"), ("돈 언제 와요", "환불금 입금"),
                 ("짝퉁 팔면", "가품 판매")]:
        assert set(faq.concepts(faq.normalize(a))) & set(faq.concepts(faq.normalize(b))), (a, b)


def test_morph_tokens_are_lemmas_without_particles():
    tokens = faq.morph_tokens(faq.normalize("환불금은 언제 들어와요?"))
    assert tokens == ["환불", "금", "언제", "들어오다", "환불_금", "금_언제", "언제_들어오다", "@환불금"]
    assert not any(t in ("은", "요") for t in tokens)
    assert any(t.endswith("다") for t in tokens)  # 들어오다


@pytest.mark.parametrize("text, topic", [
    ("배송받은 지 석 달이 넘었는데 신고 돼요?", "refund_window"),
    ("돈은 며칠 뒤에 돌려받아요", "refund_timing"),
    ("짝퉁 판 셀러는 무슨 벌 받아요", "seller_penalties"),
    ("인증코드 기간 지나버렸어요", "verification_code_expired"),
    ("상담원 주말에도 있어요?", "agent_hours"),
])
def test_own_paraphrases_find_their_topic_lexically(text, topic):
    index = faq.FaqIndex(faq.load_entries(), encoder=None)
    assert index.search(text).entry.id == topic


def _write(path: Path, faqs: list[dict]) -> None:
    path.write_text(yaml.safe_dump({"version": 1, "faqs": faqs}, allow_unicode=True), encoding="utf-8")


def test_new_entries_are_answered_without_retraining(tmp_path):
    """The index follows faq.yml: an added topic is found on the next question, no Rasa training."""
    path = tmp_path / "faq.yml"
    shutil.copy(faq.FAQ_FILE, path)
    question = "반려동물 용품도 가품 신고 보장 대상인가요?"
    before = faq.get_index(path, use_encoder=False)
    assert before.search(question).entry.id != "pet_products"

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["faqs"].append({
        "id": "pet_products",
        "questions": ["반려동물 용품도 가품 신고 되나요?", "강아지 용품 짝퉁도 환불돼요?", "펫 용품 보장 대상이에요?"],
        "answer": "반려동물 용품도 똑같이 보장 대상이에요.",
    })
    time.sleep(0.01)
    _write(path, data["faqs"])
    after = faq.get_index(path, use_encoder=False)
    assert after is not before
    match = after.search(question)
    assert match.entry.id == "pet_products" and match.confident
    # unchanged file: the same index is reused
    assert faq.get_index(path, use_encoder=False) is after


def test_unrelated_text_is_below_the_threshold():
    index = faq.FaqIndex(faq.load_entries(), encoder=None)
    for text in ["ㅁㄴㅇㄹ", "asdf qwer", "오늘 점심 뭐 먹지"]:
        assert not index.search(text).confident, text


def _run_action(text: str) -> list[dict]:
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.faq import ActionAnswerFaq

    dispatcher = CollectingDispatcher()
    tracker = Tracker("u1", {}, {"text": text, "intent": {"name": "ask_faq"}}, [], False, None, {}, "action_listen")
    asyncio.run(ActionAnswerFaq().run(dispatcher, tracker, {}))
    return dispatcher.messages


# The action reads who is asking (shopper, rights holder or visitor) from the database: db_url.
def test_action_answers_a_policy_question(db_url):
    messages = _run_action("받은 지 석 달 지난 주문도 환불돼요?")
    assert "90일" in messages[0]["text"]


def test_action_offers_a_person_when_not_sure_and_agents_are_there(db_url, monkeypatch):
    monkeypatch.setenv("TELEGRAM_AGENT_CHAT_ID", "-1001234567890")
    messages = _run_action("ㅁㄴㅇㄹ ㅁㄴㅇㄹ")
    assert "상담원" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"


def test_without_agents_the_action_offers_the_bot_s_own_tasks(db_url, monkeypatch):
    monkeypatch.delenv("TELEGRAM_AGENT_CHAT_ID", raising=False)
    messages = _run_action("ㅁㄴㅇㄹ ㅁㄴㅇㄹ")
    assert "상담원" not in messages[0]["text"]
    assert "/request_human" not in [b["payload"] for b in messages[0]["buttons"]]
    assert "/report_counterfeit" in [b["payload"] for b in messages[0]["buttons"]]
