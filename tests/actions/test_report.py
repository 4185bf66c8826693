"""The report actions with rasa-sdk's CollectingDispatcher and real Tracker objects."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ActionListOrders
from actions.report import ActionSubmitReport, ValidateReportForm, order_number_hint
from bot.services import reports


def tracker(sender: str, text: str, intent: str = "inform", entities=None, slots=None, metadata=None) -> Tracker:
    return Tracker(
        sender_id=sender,
        slots=dict({"requested_slot": None, "failed_attempts": 0}, **(slots or {})),
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.99},
                        "entities": entities or [], "metadata": metadata or {}},
        events=[{"event": "user", "text": text, "input_channel": "rest"}],
        paused=False, followup_action=None, active_loop={"name": "report_form"}, latest_action_name="action_listen",
    )


def run(coro):
    return asyncio.run(coro)


def _order(orders_by_customer, customer, days):
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == days)


def test_order_number_in_the_first_message_is_checked_and_confirmed(db_url, orders_by_customer):
    order = _order(orders_by_customer, "shopper-1", 5)
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-1", f"{order['number']} 짝퉁이에요", "report_counterfeit",
                [{"entity": "order_number", "value": order["number"]}])
    result = run(ValidateReportForm().extract_order_number(dispatcher, t, {}))
    assert result == {"order_number": order["number"], "order_candidate": None, "order_choices": None,
                      "failed_attempts": 0}
    assert order["product_name"] in dispatcher.messages[0]["text"]


def test_someone_elses_order_stops_the_form_with_the_not_found_answer(db_url, orders_by_customer):
    theirs = _order(orders_by_customer, "shopper-2", 5)
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-1", theirs["number"], slots={"requested_slot": "order_number"},
                entities=[{"entity": "order_number", "value": theirs["number"]}])
    result = run(ValidateReportForm().extract_order_number(dispatcher, t, {}))
    assert result["requested_slot"] is None and result["order_number"] is None
    assert "찾을 수 없어요" in dispatcher.messages[0]["text"]
    assert theirs["product_name"] not in dispatcher.messages[0]["text"]


def test_unknown_sender_is_told_how_to_log_in(db_url):
    dispatcher = CollectingDispatcher()
    result = run(ValidateReportForm().extract_order_number(dispatcher, tracker("stranger", "가품 신고"), {}))
    assert result == {"requested_slot": None}
    assert "로그인" in dispatcher.messages[0]["text"]


def test_second_failed_answer_offers_a_person(db_url, monkeypatch):
    monkeypatch.setenv("TELEGRAM_AGENT_CHAT_ID", "-1001")
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-1", "12345678901234", slots={"requested_slot": "order_number", "failed_attempts": 1})
    result = run(ValidateReportForm().extract_order_number(dispatcher, t, {}))
    assert result == {"failed_attempts": 2}
    assert "14자리" in dispatcher.messages[0]["text"]
    # Buttons only, no second question the next "ㅇㅇ" would be taken as the answer to.
    assert "?" not in dispatcher.messages[0]["text"]
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/request_human", "/stop"]


def test_without_agents_the_second_failed_answer_offers_no_person(db_url, monkeypatch):
    monkeypatch.delenv("TELEGRAM_AGENT_CHAT_ID", raising=False)
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-1", "12345678901234", slots={"requested_slot": "order_number", "failed_attempts": 1})
    run(ValidateReportForm().extract_order_number(dispatcher, t, {}))
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/stop"]


def test_hints_name_what_was_typed():
    assert "케이스 번호" in order_number_hint("IPP-2026-000123")
    assert "신고번호" in order_number_hint("rpt-2026-000042")
    assert "15자리" in order_number_hint("818123456789012")


def test_submit_files_the_report_and_resets_the_form(db_url, orders_by_customer):
    order = _order(orders_by_customer, "shopper-3", 5)
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-3", "네", "affirm", slots={"order_number": order["number"], "problem_description": "로고",
                                                    "photos_done": True, "report_confirmed": True})
    events = run(ActionSubmitReport().run(dispatcher, t, {}))
    assert "을 환불해 드렸어요. 결제하신 수단으로 " in dispatcher.messages[0]["text"]
    assert "3~5일" not in dispatcher.messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "order_number", "value": None} in events
    assert len(reports.list_reports(customer_id="shopper-3")) == 1


def test_order_list_has_one_click_buttons_only_for_claimable_orders(db_url, orders_by_customer):
    dispatcher = CollectingDispatcher()
    run(ActionListOrders().run(dispatcher, tracker("shopper-1", "주문 보여줘", "list_orders"), {}))
    message = dispatcher.messages[0]
    claimable = [o for o in orders_by_customer["shopper-1"] if o["delivered_days_ago"] in (5, 20, 45)]
    assert len(message["buttons"]) == len(claimable)
    assert all(b["payload"].startswith("/report_counterfeit{") for b in message["buttons"])


# ---------------------------------------------------------------- orders by name and list position, corrections

AIR_FORCE = "8181526018159083"  # shopper-1's 나이키 에어포스 1 '07 화이트, delivered 5 days ago
GAZELLE = "8181016613186091"  # shopper-1's 아디다스 가젤 인도어


def _extract(text, intent="inform", slots=None):
    dispatcher = CollectingDispatcher()
    slots = dict({"requested_slot": "order_number"}, **(slots or {}))
    result = run(ValidateReportForm().extract_order_number(dispatcher, tracker("shopper-1", text, intent, slots=slots), {}))
    return result, [m.get("text") for m in dispatcher.messages]


def test_an_order_named_by_a_misspelt_product_is_offered_for_confirmation(db_url):
    assert _extract("에어포쓰요") == ({"order_candidate": AIR_FORCE, "order_choices": None, "failed_attempts": 0}, [])


def test_a_position_counts_in_the_list_just_shown(db_url):
    result, _ = _extract("2번 신고할게", "report_counterfeit", {"shown_orders": [GAZELLE, AIR_FORCE]})
    assert result["order_candidate"] == AIR_FORCE


def test_the_first_message_names_the_order(db_url):
    result, _ = _extract("나이키 신발 가품 같아요", "report_counterfeit", {"requested_slot": None})
    assert result == {"order_candidate": AIR_FORCE, "order_choices": None, "failed_attempts": 0}


def test_several_matches_are_offered_as_choices(db_url):
    result, _ = _extract("신발이요")
    assert result == {"order_candidate": None, "order_choices": ["8181628194821993", AIR_FORCE, GAZELLE],
                      "failed_attempts": 0}


def test_no_match_says_so(db_url):
    result, texts = _extract("샤넬 지갑이요")
    assert result == {"order_candidate": None, "order_choices": None, "failed_attempts": 0}
    assert texts == ["말씀하신 주문을 찾지 못했어요. 최근 주문에서 골라 주세요."]


def test_yes_in_chat_form_takes_the_candidate(db_url):
    result, texts = _extract("ㅇㅇ", "nlu_fallback", {"order_candidate": AIR_FORCE})
    assert result == {"order_number": AIR_FORCE, "order_candidate": None, "order_choices": None, "failed_attempts": 0}
    assert texts[0].startswith("주문을 확인했어요.\n나이키 에어포스 1 '07 화이트 (Nike)")


def test_no_to_the_candidate_shows_the_list_again(db_url):
    result, texts = _extract("ㄴㄴ", "nlu_fallback", {"order_candidate": AIR_FORCE})
    assert result == {"order_candidate": None, "order_choices": None, "shown_orders": None}
    assert texts == ["알겠어요. 아래 목록에서 골라 주세요."]


def _summary_answer(text, intent):
    dispatcher = CollectingDispatcher()
    t = tracker("shopper-1", text, intent, slots={"requested_slot": "report_confirmed"})
    return run(ValidateReportForm().extract_report_confirmed(dispatcher, t, {}))


def test_no_at_the_summary_asks_what_to_change_instead_of_cancelling(db_url):
    assert _summary_answer("아니요", "deny") == {"report_confirmed": None, "report_fixing": True}
    assert _summary_answer("노노", "nlu_fallback") == {"report_confirmed": None, "report_fixing": True}


def test_ok_report_at_the_summary_confirms(db_url):
    # "ㅇㅋ 신고" was read as a status question; at the summary it is a yes.
    assert _summary_answer("ㅇㅋ 신고", "check_report_status") == {"report_confirmed": True, "report_fixing": None}


def test_the_summary_question_becomes_what_to_change(db_url):
    from actions.report import ActionAskReportConfirmed

    dispatcher = CollectingDispatcher()
    run(ActionAskReportConfirmed().run(dispatcher, tracker("shopper-1", "아니요", "deny", slots={"report_fixing": True}), {}))
    assert dispatcher.messages[0]["text"] == "무엇을 바꿀까요?"
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["주문 바꾸기", "내용 고치기", "사진 추가", "신고 취소"]


def _correct(text, intent="correct_report", entities=None, requested="report_confirmed"):
    slots = {"requested_slot": requested, "order_number": AIR_FORCE, "problem_description": "로고가 이상해요",
             "photos_done": True, "report_fixing": True}
    t = tracker("shopper-1", text, intent, entities, slots=slots)
    events = run(ValidateReportForm().run(CollectingDispatcher(), t, {}))
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_corrections_empty_the_part_to_change(db_url):
    assert _correct("내용 고칠게요") == {"problem_description": None, "report_confirmed": None,
                                     "report_fixing": None, "failed_attempts": 0}
    assert _correct("사진 추가할게요") == {"photos_done": None, "report_confirmed": None, "report_fixing": None,
                                      "failed_attempts": 0}
    assert _correct("/correct_report", entities=[{"entity": "report_part", "value": "order"}]) == {
        "order_number": None, "order_candidate": None, "order_choices": None, "report_confirmed": None,
        "report_fixing": None, "failed_attempts": 0}


def test_not_this_one_but_names_the_new_order_in_the_same_message(db_url):
    # Said while describing the problem: the message changes the order, it is not the description.
    assert _correct("아 잠깐만요 이거 말고 가젤이요", "deny", requested="problem_description") == {
        "order_number": None, "order_candidate": GAZELLE, "order_choices": None, "report_confirmed": None,
        "report_fixing": None, "failed_attempts": 0}


def test_order_list_is_remembered_for_positions(db_url):
    dispatcher = CollectingDispatcher()
    events = run(ActionListOrders().run(dispatcher, tracker("shopper-1", "주문 보여줘", "list_orders"), {}))
    assert [(e["name"], e["value"]) for e in events] == [
        ("shown_orders", ["8181628194821993", AIR_FORCE, GAZELLE, "8181518190937865", "8181390996030824"])]
