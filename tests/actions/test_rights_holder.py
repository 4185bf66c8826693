"""The rights-holder actions with rasa-sdk's CollectingDispatcher and real Tracker objects (no Rasa server)."""
from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.rights_holder import (
    ActionBrandStats,
    ActionCaseStatus,
    ActionListCases,
    ValidateBrandOwnerForm,
    ValidateIppCaseForm,
)
from bot.services import holders, ipp
from bot.services.identity import resolve

IPP_DOMAIN = {"forms": {"ipp_case_form": {"required_slots": [
    "ipp_listing_id", "ipp_infringement_type", "ipp_trademark_number", "ipp_description", "ipp_photos_done",
    "ipp_confirmed"]}}, "slots": {}}
OWNER_DOMAIN = {"forms": {"brand_owner_form": {"required_slots": ["holder_code"]}}, "slots": {}}


def tracker(sender: str, text: str, intent: str = "inform", entities=None, slots=None, form="ipp_case_form") -> Tracker:
    return Tracker(
        sender_id=sender,
        slots=dict({"requested_slot": None, "ipp_failed": 0, "holder_failed": 0}, **(slots or {})),
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.99},
                        "entities": entities or [], "metadata": {}},
        events=[{"event": "user", "text": text, "input_channel": "rest"}],
        paused=False, followup_action=None, active_loop={"name": form}, latest_action_name="action_listen",
    )


def run(coro):
    return asyncio.run(coro)


def test_someone_not_verified_is_told_how_and_the_form_ends_with_a_slot_of_its_own(db_url):
    dispatcher = CollectingDispatcher()
    result = run(ValidateIppCaseForm().extract_ipp_listing_id(dispatcher, tracker("stranger", "케이스 접수", "open_ipp_case"), {}))
    # Ending early must also set one of the form's slots, or Rasa rejects the form's run.
    assert result == {"ipp_listing_id": None, "requested_slot": None}
    assert "인증된 브랜드 권리자만" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/register_brand_owner"


def test_listing_and_trademark_in_the_first_message(db_url):
    dispatcher = CollectingDispatcher()
    t = tracker("brand-nike", "리스팅 1005006000131375 위조품 상표 40-2020-1234567", "open_ipp_case")
    result = run(ValidateIppCaseForm().extract_ipp_listing_id(dispatcher, t, {}))
    assert result == {"ipp_listing_id": "1005006000131375", "ipp_failed": 0, "ipp_trademark_number": "40-2020-1234567"}
    assert "나이키 덩크 로우 레트로" in dispatcher.messages[0]["text"]


def test_another_brands_listing_ends_the_form(db_url):
    dispatcher = CollectingDispatcher()
    t = tracker("brand-nike", "1005006000155132", slots={"requested_slot": "ipp_listing_id"})
    result = run(ValidateIppCaseForm().extract_ipp_listing_id(dispatcher, t, {}))
    assert result == {"ipp_listing_id": None, "requested_slot": None}
    assert "Chanel 상품이라" in dispatcher.messages[0]["text"]


def test_bookkeeping_slots_survive_the_validation_action(db_url):
    dispatcher = CollectingDispatcher()
    t = tracker("brand-nike", "몰라요", slots={"requested_slot": "ipp_infringement_type",
                                              "ipp_listing_id": "1005006000131375"})
    events = run(ValidateIppCaseForm().run(dispatcher, t, IPP_DOMAIN))
    assert {"event": "slot", "timestamp": None, "name": "ipp_failed", "value": 1} in events
    assert "침해 유형" in dispatcher.messages[0]["text"]


def test_a_wrong_code_keeps_asking_and_the_lock_ends_the_form(db_url):
    form = ValidateBrandOwnerForm()
    for n in range(1, 5):
        dispatcher = CollectingDispatcher()
        t = tracker("holder-new-8", f"ZZZZ222{n + 1}", entities=[{"entity": "verification_code", "value": f"ZZZZ222{n + 1}"}],
                    slots={"requested_slot": "holder_code", "holder_failed": n - 1}, form="brand_owner_form")
        events = run(form.run(dispatcher, t, OWNER_DOMAIN))
        assert {"event": "slot", "timestamp": None, "name": "holder_failed", "value": n} in events
        assert "맞지 않아요" in dispatcher.messages[0]["text"]
    dispatcher = CollectingDispatcher()
    t = tracker("holder-new-8", "ZZZZ2226", entities=[{"entity": "verification_code", "value": "ZZZZ2226"}],
                slots={"requested_slot": "holder_code", "holder_failed": 4}, form="brand_owner_form")
    result = run(form.extract_holder_code(dispatcher, t, {}))
    assert result == {"holder_code": None, "requested_slot": None}
    assert "잠겼어요" in dispatcher.messages[0]["text"]


def test_the_right_code_verifies(db_url):
    dispatcher = CollectingDispatcher()
    t = tracker("holder-new-9", "권리자 인증 K7QP3MXZ", "register_brand_owner", form="brand_owner_form")
    result = run(ValidateBrandOwnerForm().extract_holder_code(dispatcher, t, {}))
    assert result == {"holder_code": "K7QP3MXZ", "holder_failed": 0}
    assert "Gucci" in dispatcher.messages[0]["text"]
    assert resolve("rest", "holder-new-9").is_rights_holder


def test_status_of_another_brands_case_reads_like_a_missing_case(db_url):
    nike = resolve("rest", "brand-nike")
    number = ipp.file_case(nike.holder_brands, "web", "brand-nike", "1005006000131375", "counterfeit", "40-1234567",
                           "위조", []).case_number
    answers = []
    for asked in (number, "IPP-2026-999999"):
        dispatcher = CollectingDispatcher()
        events = run(ActionCaseStatus().run(dispatcher, tracker("brand-chanel", f"{asked} 상태", "check_case_status",
                                                                [{"entity": "case_number", "value": asked}]), {}))
        answers.append((str(dispatcher.messages).replace(asked, "#"), events))
    assert answers[0] == answers[1] and "찾을 수 없어요" in answers[0][0]
    dispatcher = CollectingDispatcher()
    events = run(ActionCaseStatus().run(dispatcher, tracker("brand-nike", f"{number} 상태", "check_case_status",
                                                            [{"entity": "case_number", "value": number}]), {}))
    assert "상태: 접수" in dispatcher.messages[0]["text"]
    assert events[0]["name"] == "ipp_case_in_focus" and events[0]["value"] == number


def test_list_pages_and_brand_filters(db_url):
    nike = resolve("rest", "brand-nike")
    for listing_id in ("1005006000123456", "1005006000131375"):
        ipp.file_case(nike.holder_brands, "web", "brand-nike", listing_id, "counterfeit", "40-1234567", "위조", [])
    dispatcher = CollectingDispatcher()
    run(ActionListCases().run(dispatcher, tracker("brand-nike", '/list_cases{"page":"1"}', "list_cases",
                                                  [{"entity": "page", "value": "1"}]), {}))
    assert "모두 2건" in dispatcher.messages[0]["text"]
    dispatcher = CollectingDispatcher()
    run(ActionListCases().run(dispatcher, tracker("brand-nike", "샤넬 케이스 목록", "list_cases",
                                                  [{"entity": "brand", "value": "Chanel"}]), {}))
    assert "Chanel은 인증된 브랜드가 아니에요" in dispatcher.messages[0]["text"]


def test_brand_stats_text_and_image(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CLEANBOT_CHART_DIR", str(tmp_path))
    monkeypatch.setenv("CLEANBOT_PUBLIC_URL", "http://localhost:5005")
    dispatcher = CollectingDispatcher()
    run(ActionBrandStats().run(dispatcher, tracker("brand-chanel", "지난달 리포트", "brand_stats"), {}))
    message = dispatcher.messages[0]
    assert "Chanel 브랜드 현황" in message["text"] and "지난달" in message["text"]
    assert message["image"].startswith("http://localhost:5005/webhooks/rest/charts/stats-")
    assert len(list(tmp_path.glob("stats-*.png"))) == 1
    assert holders.is_verification_code("K7QP3MXZ")


def test_asking_for_mystery_shopper_results_lists_the_brands_test_buys(db_url):
    """"미스터리 쇼퍼 결과 있어요?" as brand_stats or check_case_status: the holder's brands' inspections only."""
    from bot.services import inspections

    for intent, action in (("brand_stats", ActionBrandStats()), ("check_case_status", ActionCaseStatus())):
        dispatcher = CollectingDispatcher()
        run(action.run(dispatcher, tracker("brand-nike", "미스터리 쇼퍼 결과 있어요?", intent), {}))
        assert [m["text"] for m in dispatcher.messages] == [
            "아직 기록된 테스트 구매(미스터리 쇼퍼) 결과가 없어요. 결과가 나오면 케이스 상태 알림으로도 알려 드릴게요."]
    inspections.add("1005006000131375", "genuine", "브랜드검사랩")
    inspections.add("1005006000163051", "fake", "한국소비자검사원")  # Chanel: not Nike's
    dispatcher = CollectingDispatcher()
    run(ActionBrandStats().run(dispatcher, tracker("brand-nike", "테스트 구매 결과 알려주세요", "brand_stats"), {}))
    [text] = [m["text"] for m in dispatcher.messages]
    lines = text.splitlines()
    assert lines[0] == "최근 테스트 구매 결과 1건이에요(가품 0건)."
    assert lines[1].endswith(" 나이키 덩크 로우 레트로 (1005006000131375) — 정품 · 브랜드검사랩")


def test_a_loosely_written_case_number_is_asked_back_with_one_tap_answers(db_url):
    dispatcher = CollectingDispatcher()
    events = run(ActionCaseStatus().run(dispatcher, tracker("brand-nike", "IPP 2026 1 어떻게 됐어요", "check_case_status"), {}))
    assert events == []
    assert dispatcher.messages[0]["text"] == "IPP-2026-000001 케이스 말씀이신가요?"
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == [
        '/check_case_status{"case_number":"IPP-2026-000001"}', "/list_cases"]
