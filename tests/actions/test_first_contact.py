"""Who is talking decides the greeting; a person is offered only when one can come."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import require_customer
from actions.first_contact import ActionGreet, ActionOfferHuman


def tracker(sender: str, text: str, intent: str, events=None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": [], "metadata": {}}
    return Tracker(sender_id=sender, slots={}, latest_message=latest,
                   events=(events or []) + [{"event": "user", "text": text, "input_channel": "rest",
                                             "parse_data": latest}],
                   paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")


def said(action, t):
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages


def test_each_role_has_its_own_greeting_and_buttons(db_url):
    shopper = said(ActionGreet(), tracker("shopper-1", "안녕하세요", "greet"))[0]
    assert shopper["text"] == ("안녕하세요, 김민지님. 클린봇이에요.\n"
                               "가품이 의심되는 상품을 받으셨다면 바로 신고하고 환불받으실 수 있어요.")
    assert [b["payload"] for b in shopper["buttons"]] == ["/report_counterfeit", "/list_orders", "/check_report_status"]
    holder = said(ActionGreet(), tracker("brand-nike", "안녕하세요", "greet"))[0]
    assert holder["text"].startswith("안녕하세요, Nike 권리자님. 클린봇이에요.\n")
    assert [b["payload"] for b in holder["buttons"]] == ["/open_ipp_case", "/list_cases", "/brand_stats"]
    visitor = said(ActionGreet(), tracker("someone-new", "안녕", "greet"))[0]
    assert visitor["text"].startswith("안녕하세요, 클린봇이에요.\n")
    assert [b["payload"] for b in visitor["buttons"]] == ["환불 규정 알려줘", "/register_brand_owner", "/report_counterfeit"]


def test_a_brand_manager_not_verified_is_pointed_to_verification_not_to_log_in(db_url):
    dispatcher = CollectingDispatcher()
    t = tracker("someone-new", "브랜드 담당자인데 가품 판매자 신고는 어디서 해요?", "report_counterfeit")
    assert require_customer(t, dispatcher) is None
    message = dispatcher.messages[0]
    assert message["text"].startswith("브랜드 담당자시군요.") and "로그인" not in message["text"]
    assert message["buttons"][0]["payload"] == "/register_brand_owner"


def test_without_agents_a_complaint_gets_the_bot_s_help_and_never_the_same_words_twice(db_url, monkeypatch):
    monkeypatch.delenv("TELEGRAM_AGENT_CHAT_ID", raising=False)
    first = said(ActionOfferHuman(), tracker("shopper-1", "그럼 어쩌라고", "complain"))[0]
    assert first["text"].startswith("불편을 드려 정말 죄송해요. 지금은 상담원을 바로 연결해 드릴 수 없지만")
    assert "/request_human" not in [b["payload"] for b in first["buttons"]]
    earlier = [{"event": "user", "text": "그럼 어쩌라고", "parse_data": {"intent": {"name": "complain"}}},
               {"event": "action", "name": "action_offer_human"}, {"event": "action", "name": "action_listen"}]
    second = said(ActionOfferHuman(), tracker("shopper-1", "아 진짜", "complain", earlier))[0]
    assert second["text"].startswith("답답하게 해 드려서 죄송해요.") and second["text"] != first["text"]


def test_with_agents_a_complaint_is_offered_a_person(db_url, monkeypatch):
    monkeypatch.setenv("TELEGRAM_AGENT_CHAT_ID", "-1001")
    assert said(ActionOfferHuman(), tracker("shopper-1", "그럼 어쩌라고", "complain")) == [
        {"text": None, "buttons": [], "elements": [], "custom": {}, "template": "utter_offer_human",
         "response": "utter_offer_human", "image": None, "attachment": None}]


def test_an_unsure_faq_answer_offers_no_person_without_a_desk(db_url, monkeypatch):
    from actions.faq import ActionAnswerFaq

    monkeypatch.delenv("TELEGRAM_AGENT_CHAT_ID", raising=False)
    message = said(ActionAnswerFaq(), tracker("shopper-1", "고양이 사료 추천해 줘요", "ask_faq"))[0]
    assert message["text"].startswith("그 질문에는 정확한 답을 드리기 어려워요. 죄송해요.")
    assert "/request_human" not in [b["payload"] for b in message["buttons"]]


def test_a_verified_rights_holder_asking_for_a_shopper_s_report_is_shown_the_case_flow(db_url):
    dispatcher = CollectingDispatcher()
    assert require_customer(tracker("brand-nike", "가품 신고할게요", "report_counterfeit"), dispatcher) is None
    assert dispatcher.messages[0]["text"].endswith("가품을 파는 상품은 '케이스 접수'로 신고해 주세요.")
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/open_ipp_case", "/list_cases", "/brand_stats"]
