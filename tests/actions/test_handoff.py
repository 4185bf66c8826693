"""The hand-over actions with rasa-sdk's dispatcher and real Tracker objects (no servers)."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionFallback, ActionHandoff, ActionRateHandoff, consecutive_fallbacks, previous_bot_action
from bot.services import handoff


def user(intent: str, text: str = "…") -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.3}},
            "input_channel": "rest"}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def tracker(sender: str, events: list[dict], entities=None, active_loop=None) -> Tracker:
    latest = events[-1] if events and events[-1]["event"] == "user" else user("greet")
    return Tracker(sender_id=sender, slots={"requested_slot": None}, events=events, paused=False,
                   latest_message={**latest["parse_data"], "text": latest["text"], "entities": entities or []},
                   followup_action=None, active_loop=active_loop or {}, latest_action_name="action_listen")


def run(act, t: Tracker) -> tuple[list, CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    return asyncio.run(act.run(dispatcher, t, {})), dispatcher


def test_fallbacks_are_counted_in_a_row_and_start_again_after_a_hand_back():
    assert consecutive_fallbacks([user("greet"), action("utter_greet"), user("nlu_fallback")]) == 1
    events = [user("nlu_fallback"), action("action_fallback"), action("action_listen"), user("nlu_fallback")]
    assert consecutive_fallbacks(events) == 2
    assert consecutive_fallbacks(events[:3] + [{"event": "resume"}, user("nlu_fallback")]) == 1
    assert consecutive_fallbacks([user("nlu_fallback"), user("greet"), user("nlu_fallback")]) == 1


def test_yes_after_the_offer_is_a_complaint_hand_over():
    events = [user("complain"), action("utter_offer_human"), action("action_listen"), user("affirm")]
    assert previous_bot_action(events) == "utter_offer_human"
    assert previous_bot_action([user("request_human")]) is None


def test_the_first_fallback_apologises_and_the_second_hands_over(db_url, monkeypatch):
    monkeypatch.setenv("TELEGRAM_AGENT_CHAT_ID", "-100123")
    monkeypatch.setenv("CLEANBOT_BUSINESS_HOURS", "always")
    events, dispatcher = run(ActionFallback(), tracker("shopper-1", [user("nlu_fallback")]))
    assert events == [] and dispatcher.messages[0]["response"] == "utter_default"
    assert handoff.open_for("web", "shopper-1") is None
    two = [user("nlu_fallback"), action("action_fallback"), action("action_listen"), user("nlu_fallback")]
    events, dispatcher = run(ActionFallback(), tracker("shopper-1", two, active_loop={"name": "report_form"}))
    assert events[-1]["event"] == "pause" and {"event": "active_loop", "name": None} == \
        {k: events[0][k] for k in ("event", "name")}
    assert dispatcher.messages[0]["text"].startswith("제가 말씀을 계속 이해하지 못해서 죄송해요.")
    assert handoff.open_for("web", "shopper-1").reason == "fallback"


def test_without_an_agents_group_the_bot_says_so_and_carries_on(db_url, monkeypatch):
    monkeypatch.delenv("TELEGRAM_AGENT_CHAT_ID", raising=False)
    events, dispatcher = run(ActionHandoff(), tracker("shopper-2", [user("request_human")]))
    assert events == [] and dispatcher.messages[0]["text"].startswith(
        "지금은 상담원 연결을 운영하지 않아서 사람과 바로 이어 드릴 수 없어요.")
    # No person promised: the bot's own tasks as buttons, none of them a person.
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        "/report_counterfeit", "/list_orders", "/check_report_status", "환불 규정 알려줘"]
    assert handoff.open_for("web", "shopper-2") is None


def test_a_rating_outside_1_to_5_is_asked_again(db_url):
    events, dispatcher = run(ActionRateHandoff(), tracker(
        "shopper-3", [user("rate_handoff")], entities=[{"entity": "handoff_rating", "value": "9"}]))
    assert "1점부터 5점" in dispatcher.messages[0]["text"] and len(dispatcher.messages[0]["buttons"]) == 5
    events, dispatcher = run(ActionRateHandoff(), tracker(
        "shopper-3", [user("rate_handoff")], entities=[{"entity": "handoff_rating", "value": "3"}]))
    assert "평가할 상담을 찾지 못했어요" in dispatcher.messages[0]["text"]


def test_without_agents_the_second_fallback_shows_the_main_tasks_not_the_same_words(db_url, monkeypatch):
    monkeypatch.delenv("TELEGRAM_AGENT_CHAT_ID", raising=False)
    fallbacks = [user("nlu_fallback")]
    answers = []
    for _ in range(3):
        events, dispatcher = run(ActionFallback(), tracker("shopper-1", fallbacks))
        assert events == []
        answers.append(dispatcher.messages[0])
        fallbacks += [action("action_fallback"), action("action_listen"), user("nlu_fallback")]
    assert [a.get("response") for a in answers] == ["utter_default", None, "utter_default"]
    assert answers[1]["text"] == "제가 또 이해하지 못했어요. 죄송해요.\n아래에서 하시려는 일을 골라 주세요."
    assert [b["payload"] for b in answers[1]["buttons"]] == [
        "/report_counterfeit", "/list_orders", "/check_report_status", "환불 규정 알려줘"]
    assert handoff.open_for("web", "shopper-1") is None
