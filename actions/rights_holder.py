"""Rights holders: verification with a code, filing an IPP case, following cases, brand reports.

Thin actions: each reads the tracker, calls a `bot.services` function and renders `bot.replies.holder`.
The forms' slots are custom-mapped (like actions/report.py) so the validation actions decide what
each message means at each step. Anyone who is not a verified rights holder is told how to become one.
"""
from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity, latest_photo_errors, latest_photo_ids, who, yes_or_no
from bot.replies import holder as say
from bot.replies import inspections as say_inspections
from bot.catalogue import canonical_brand
from bot.nlu.identifier_extractor import find_identifiers
from bot.periods import parse_period
from bot.services import brand_stats, holders, identity, inspections, ipp
from bot.settings import get_settings

# Messages that step out of a form instead of answering its question; rules in
# nlu_data/rules/rights_holder.yml answer them and come back to the form. Anything else is taken as
# an answer (and a wrong one gets a hint).
INTERRUPTIONS = {"stop", "ask_faq", "request_human"}
# At the IPP form's questions with short, well-formed answers, a holder may also look at cases.
SHORT_ANSWER_INTERRUPTIONS = INTERRUPTIONS | {"check_case_status", "list_cases"}
QUESTION = re.compile(r"(\?|？|나요|까요|인가요|되나요|돼요\?|있어요\?|어떻게|언제|얼마나|뭐예요|무엇|왜)")
NO_PHOTO = re.compile(r"(없어|없음|없습니다|없다|없네|없는데|안\s*찍|노노|ㄴㄴ|스킵|skip|건너|패스|no\b|넘어가|안\s*보낼|다\s*보냈|그게\s*다|끝)", re.I)
MIN_DESCRIPTION = 5

VERIFY_SLOTS = ("holder_code", "holder_failed")
IPP_SLOTS = ("ipp_listing_id", "ipp_infringement_type", "ipp_trademark_number", "ipp_description",
             "ipp_photos_done", "ipp_confirmed", "ipp_photos", "ipp_failed")


def _intent(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


def _text(tracker: Tracker) -> str:
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.startswith("/") else text.strip()


def _identifier(tracker: Tracker, name: str) -> Optional[str]:
    """The entity as NLU found it, or as the deterministic extractor reads the raw text."""
    value = entity(tracker, name)
    if value:
        return str(value)
    for found in find_identifiers(_text(tracker), include_brands=False):
        if found["entity"] == name:
            return found["value"]
    return None


def require_holder(tracker: Tracker, dispatcher: CollectingDispatcher) -> Optional[identity.Who]:
    """The verified rights holder behind the chat, or None after saying how to get verified."""
    person = who(tracker)
    if not person.is_rights_holder:
        dispatcher.utter_message(text=say.NOT_A_HOLDER, buttons=say.NOT_A_HOLDER_BUTTONS)
        return None
    return person


def _brand_filter(tracker: Tracker, dispatcher: CollectingDispatcher, person: identity.Who) -> Optional[list[int]]:
    """Brand ids to look at: a named brand the holder is verified for, else all of theirs.
    None (after saying so) when they named a brand they are not verified for."""
    named = entity(tracker, "brand")
    if named:
        name = canonical_brand(str(named)) or str(named)
        chosen = [h.brand_id for h in person.holder_brands if h.brand_name == name]
        if not chosen:
            dispatcher.utter_message(text=say.unknown_brand_for_holder(name, [h.brand_name for h in person.holder_brands]))
            return None
        return chosen
    return sorted(person.brand_ids)


def _failed(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, hint: str,
            stop_title: str) -> dict[str, Any]:
    failures = int(tracker.get_slot(slot) or 0) + 1
    if failures >= 2:
        dispatcher.utter_message(
            text=hint + "\n계속 어려우시면 상담원이 도와드릴 수 있어요. 상담원을 연결해 드릴까요?",
            buttons=[{"title": "상담원 연결", "payload": "/request_human"}, {"title": stop_title, "payload": "/stop"}],
        )
    else:
        dispatcher.utter_message(text=hint)
    return {slot: failures}


class _FormWithBookkeeping(FormValidationAction):
    """rasa-sdk passes on only the form's required slots; the extractors here also set a failure
    counter, the photo list and `requested_slot` (None stops the form early), so run() adds them back.

    To stop early an extractor returns `requested_slot: None` together with one of the form's own
    slots (as None): Rasa rejects a form run whose only change is `requested_slot`."""

    BOOKKEEPING_SLOTS: tuple[str, ...] = ("requested_slot",)

    @abstractmethod
    def name(self) -> str:  # abstract, so rasa-sdk does not register this base class as an action
        ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        extraction = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extraction)
        validation = await self._extract_validation_events(dispatcher, tracker, domain)
        return validation + [event for event in extraction if event["name"] in self.BOOKKEEPING_SLOTS]


# --------------------------------------------------------------------------- verification


class ValidateBrandOwnerForm(_FormWithBookkeeping):
    BOOKKEEPING_SLOTS = ("holder_failed", "requested_slot")

    def name(self) -> str:
        return "validate_brand_owner_form"

    async def extract_holder_code(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        if requested not in (None, "holder_code") or tracker.get_slot("holder_code"):
            return {}
        activating = requested is None
        person = who(tracker)
        code = _identifier(tracker, "verification_code")
        if activating:
            lock = holders.current_lock(person.channel, person.sender_id)
            if lock is not None:
                dispatcher.utter_message(text=say.verification(lock))
                return {"holder_code": None, "requested_slot": None}
            if person.is_rights_holder and not code:
                dispatcher.utter_message(text=say.already_holder([h.brand_name for h in person.holder_brands]))
            if not code:
                return {}
        if not code:
            text = _text(tracker)
            if _intent(tracker) in INTERRUPTIONS and not re.search(r"[A-Za-z0-9]{6,}", text):
                return {}
            return _failed(dispatcher, tracker, "holder_failed", say.BAD_CODE_FORMAT, "인증 그만하기")
        result = holders.verify(person.channel, person.sender_id, code)
        dispatcher.utter_message(text=say.verification(result),
                                 buttons=say.HOLDER_MENU if result.ok else [])
        if result.ok:
            return {"holder_code": code, "holder_failed": 0}
        if result.status == "wrong" and result.locked_until is None:
            return {"holder_failed": int(tracker.get_slot("holder_failed") or 0) + 1}
        # used, expired, locked: nothing more to try in this conversation now.
        return {"holder_code": None, "requested_slot": None}


class ActionAskHolderCode(Action):
    def name(self) -> str:
        return "action_ask_holder_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        again = int(tracker.get_slot("holder_failed") or 0) > 0
        dispatcher.utter_message(text=say.ASK_CODE_AGAIN if again else say.ASK_CODE)
        return []


class ActionFinishVerification(Action):
    """After the form: everything was said during validation; clear the form's slots."""

    def name(self) -> str:
        return "action_finish_verification"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return [SlotSet(slot, None) for slot in VERIFY_SLOTS]


class ActionCancelVerification(Action):
    def name(self) -> str:
        return "action_cancel_verification"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=say.VERIFY_CANCELLED)
        return [SlotSet(slot, None) for slot in VERIFY_SLOTS] + [ActiveLoop(None)]


# --------------------------------------------------------------------------- filing a case


class ValidateIppCaseForm(_FormWithBookkeeping):
    BOOKKEEPING_SLOTS = ("ipp_photos", "ipp_failed", "requested_slot")

    def name(self) -> str:
        return "validate_ipp_case_form"

    def _fail(self, dispatcher, tracker, hint: str) -> dict[str, Any]:
        return _failed(dispatcher, tracker, "ipp_failed", hint, "접수 그만하기")

    async def extract_ipp_listing_id(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        if requested not in (None, "ipp_listing_id") or tracker.get_slot("ipp_listing_id"):
            return {}
        activating = requested is None
        if activating:
            person = require_holder(tracker, dispatcher)
            if person is None:
                return {"ipp_listing_id": None, "requested_slot": None}
        else:
            person = who(tracker)
        listing_id = _identifier(tracker, "listing_id")
        if listing_id is None:
            if activating:
                return {}
            text = _text(tracker)
            if _intent(tracker) in SHORT_ANSWER_INTERRUPTIONS and not re.search(r"\d{4}", text):
                return {}
            return self._fail(dispatcher, tracker, say.LISTING_HINT)
        check = ipp.check_listing(person.holder_brands, listing_id)
        if check.problem == "not_found":
            return self._fail(dispatcher, tracker, say.listing_problem(check))
        if check.problem:
            dispatcher.utter_message(text=say.listing_problem(check))
            return {"ipp_listing_id": None, "requested_slot": None}
        dispatcher.utter_message(text=say.listing_found(check))
        updates: dict[str, Any] = {"ipp_listing_id": listing_id, "ipp_failed": 0}
        if activating and not tracker.get_slot("ipp_trademark_number"):
            trademark = _identifier(tracker, "trademark_number")
            if trademark and ipp.normalize_trademark(trademark):
                updates["ipp_trademark_number"] = ipp.normalize_trademark(trademark)
        return updates

    async def extract_ipp_infringement_type(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                            domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "ipp_infringement_type":
            return {}
        kind = ipp.parse_infringement_type(_text(tracker))
        if kind:
            return {"ipp_infringement_type": kind, "ipp_failed": 0}
        if _intent(tracker) in SHORT_ANSWER_INTERRUPTIONS:
            return {}
        return self._fail(dispatcher, tracker, say.TYPE_HINT)

    async def extract_ipp_trademark_number(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                           domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "ipp_trademark_number":
            return {}
        found = _identifier(tracker, "trademark_number")
        normalized = ipp.normalize_trademark(found) if found else None
        if normalized:
            return {"ipp_trademark_number": normalized, "ipp_failed": 0}
        text = _text(tracker)
        if _intent(tracker) in SHORT_ANSWER_INTERRUPTIONS and not re.search(r"\d", text):
            return {}
        return self._fail(dispatcher, tracker, say.TRADEMARK_HINT)

    async def extract_ipp_description(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "ipp_description":
            return {}
        text = _text(tracker)
        intent = _intent(tracker)
        if not text or intent in ("stop", "request_human") or (intent == "ask_faq" and QUESTION.search(text)):
            return {}
        if len(text.replace(" ", "")) < MIN_DESCRIPTION:
            return self._fail(dispatcher, tracker, say.DESCRIPTION_HINT)
        if len(text) > ipp.MAX_DESCRIPTION:
            dispatcher.utter_message(text=f"내용이 길어서 앞의 {ipp.MAX_DESCRIPTION:,}자까지만 저장했어요.")
        return {"ipp_description": text[:ipp.MAX_DESCRIPTION], "ipp_failed": 0}

    async def extract_ipp_photos_done(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> dict[str, Any]:
        """Collects evidence photos from any message during the form; answers the photo question."""
        if tracker.get_slot("requested_slot") is None and not tracker.get_slot("ipp_listing_id"):
            return {}
        updates: dict[str, Any] = {}
        for error in dict.fromkeys(latest_photo_errors(tracker)):
            dispatcher.utter_message(text=error)
        new = latest_photo_ids(tracker)
        if new:
            limit = get_settings().photos_per_report
            have = list(tracker.get_slot("ipp_photos") or [])
            merged = list(dict.fromkeys(have + new))
            if len(merged) > limit:
                dispatcher.utter_message(text=f"사진은 최대 {limit}장까지 첨부할 수 있어요. 앞의 {limit}장만 첨부했어요.")
                merged = merged[:limit]
            if merged != have:
                updates["ipp_photos"] = merged
                dispatcher.utter_message(text=f"증거 사진 {len(merged)}장을 받았어요.")
        if tracker.get_slot("requested_slot") == "ipp_photos_done":
            intent = _intent(tracker)
            if new:
                updates["ipp_photos_done"] = True
            elif latest_photo_errors(tracker):
                updates["ipp_photos_done"] = None
            elif NO_PHOTO.search(_text(tracker)) or intent == "deny":
                updates["ipp_photos_done"] = True
            elif intent == "affirm":
                dispatcher.utter_message(text="좋아요, 사진을 보내 주세요.")
                updates["ipp_photos_done"] = None
            elif intent not in SHORT_ANSWER_INTERRUPTIONS:
                updates.update(self._fail(dispatcher, tracker,
                                          "증거 사진을 보내 주시거나, 사진이 없으면 '없어요'라고 해 주세요."))
        return updates

    async def extract_ipp_confirmed(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "ipp_confirmed" or latest_photo_ids(tracker):
            return {}
        intent = _intent(tracker)
        answer = yes_or_no(tracker)
        if answer is not None:
            return {"ipp_confirmed": answer}
        if intent in SHORT_ANSWER_INTERRUPTIONS:
            return {}
        return self._fail(dispatcher, tracker, "접수하시려면 '네', 그만두시려면 '아니요'라고 답해 주세요.")


class ActionAskIppListingId(Action):
    def name(self) -> str:
        return "action_ask_ipp_listing_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=say.ASK_LISTING)
        return []


class ActionAskIppInfringementType(Action):
    def name(self) -> str:
        return "action_ask_ipp_infringement_type"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=say.ASK_TYPE, buttons=say.TYPE_BUTTONS)
        return []


class ActionAskIppPhotosDone(Action):
    def name(self) -> str:
        return "action_ask_ipp_photos_done"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        limit = get_settings().photos_per_report
        dispatcher.utter_message(
            text=f"증거 사진이 있으면 보내 주세요(최대 {limit}장, JPG·PNG·WebP). 사진이 없어도 접수할 수 있어요.",
            buttons=[{"title": "사진 없이 진행", "payload": "사진 없어요"}],
        )
        return []


class ActionAskIppConfirmed(Action):
    def name(self) -> str:
        return "action_ask_ipp_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = who(tracker)
        check = ipp.check_listing(person.holder_brands, tracker.get_slot("ipp_listing_id"))
        dispatcher.utter_message(
            text=say.filing_summary(check, tracker.get_slot("ipp_infringement_type"),
                                    tracker.get_slot("ipp_trademark_number"),
                                    tracker.get_slot("ipp_description") or "",
                                    len(tracker.get_slot("ipp_photos") or [])),
            buttons=[{"title": "네, 접수할게요", "payload": "/affirm"}, {"title": "아니요", "payload": "/deny"}],
        )
        return []


def _reset_ipp() -> list[EventType]:
    return [SlotSet(slot, None) for slot in IPP_SLOTS]


class ActionSubmitIppCase(Action):
    def name(self) -> str:
        return "action_submit_ipp_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        confirmed = tracker.get_slot("ipp_confirmed")
        listing_id = tracker.get_slot("ipp_listing_id")
        events = _reset_ipp()
        if confirmed is False:
            dispatcher.utter_message(text=say.IPP_CANCELLED)
        elif confirmed and listing_id:
            person = who(tracker)
            if not person.is_rights_holder:
                dispatcher.utter_message(text=say.NOT_A_HOLDER, buttons=say.NOT_A_HOLDER_BUTTONS)
                return events
            outcome = ipp.file_case(
                person.holder_brands, person.channel, person.sender_id, listing_id,
                tracker.get_slot("ipp_infringement_type"), tracker.get_slot("ipp_trademark_number"),
                tracker.get_slot("ipp_description") or "", tracker.get_slot("ipp_photos") or [],
                actor=f"{person.channel}:{person.sender_id}",
            )
            buttons = []
            if outcome.case_number:
                events.append(SlotSet("ipp_case_in_focus", outcome.case_number))
                buttons = [{"title": "케이스 상태 보기",
                            "payload": f'/check_case_status{{"case_number":"{outcome.case_number}"}}'}]
            dispatcher.utter_message(text=say.filing_outcome(outcome), buttons=buttons)
        # Otherwise the form stopped early and already said why.
        return events


class ActionCancelIppCase(Action):
    def name(self) -> str:
        return "action_cancel_ipp_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=say.IPP_CANCELLED)
        return _reset_ipp() + [ActiveLoop(None)]


# --------------------------------------------------------------------------- following cases


def _case_buttons(number: str) -> list[dict]:
    return [
        {"title": "전체 이력 보기", "payload": f'/show_timeline{{"case_number":"{number}"}}'},
        {"title": "케이스 목록", "payload": "/list_cases"},
    ]


def _mentions_a_case_number_badly(text: str) -> bool:
    return bool(re.search(r"ipp", text, re.I))


def _answer_inspections(tracker: Tracker, dispatcher: CollectingDispatcher, person: identity.Who) -> list[EventType]:
    """"미스터리 쇼퍼 결과 있어요?": the latest test buys of the holder's brands (or the one they named)."""
    brand_ids = _brand_filter(tracker, dispatcher, person)
    if brand_ids is None:
        return []
    dispatcher.utter_message(text=say_inspections.inspections_text(inspections.brand_inspections(brand_ids)))
    return []


class ActionCaseStatus(Action):
    def name(self) -> str:
        return "action_case_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = require_holder(tracker, dispatcher)
        if person is None:
            return []
        number = _identifier(tracker, "case_number")
        if not number and say_inspections.asks_about_inspections(_text(tracker)):
            return _answer_inspections(tracker, dispatcher, person)
        if number:
            # Another brand's case gets exactly the answer of a case that does not exist.
            case = ipp.visible_case(person.brand_ids, number)
            if case is None:
                dispatcher.utter_message(text=say.case_not_found(number))
                return []
        else:
            guess = ipp.guess_case_number(_text(tracker))
            if guess:
                # "IPP 2026 1": ask, with the answer one tap away.
                dispatcher.utter_message(text=say.case_guess(guess), buttons=say.case_guess_buttons(guess))
                return []
            if _mentions_a_case_number_badly(_text(tracker)):
                dispatcher.utter_message(text="케이스 번호는 IPP-2026-000123처럼 IPP-연도-여섯 자리 숫자예요. "
                                              "번호를 확인해서 다시 보내 주세요.")
                return []
            brand_ids = _brand_filter(tracker, dispatcher, person)
            if brand_ids is None:
                return []
            case = ipp.latest_visible_case(brand_ids, _identifier(tracker, "listing_id"))
            if case is None:
                dispatcher.utter_message(text=say.NO_CASES)
                return []
            dispatcher.utter_message(text="가장 최근에 바뀐 케이스를 알려 드릴게요. 다른 케이스는 케이스 번호로 물어봐 주세요.")
        dispatcher.utter_message(text=say.case_status(case), buttons=_case_buttons(case.number))
        return [SlotSet("ipp_case_in_focus", case.number)]


class ActionCaseTimeline(Action):
    def name(self) -> str:
        return "action_case_timeline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = require_holder(tracker, dispatcher)
        if person is None:
            return []
        number = _identifier(tracker, "case_number") or tracker.get_slot("ipp_case_in_focus")
        if not number:
            latest = ipp.latest_visible_case(person.brand_ids)
            if latest is None:
                dispatcher.utter_message(text=say.NO_CASES)
                return []
            number = latest.number
        found = ipp.visible_timeline(person.brand_ids, number)
        if found is None:
            dispatcher.utter_message(text=say.case_not_found(number))
            return []
        case, events = found
        dispatcher.utter_message(text=say.timeline(case, events))
        return [SlotSet("ipp_case_in_focus", case.number)]


def _page_from(tracker: Tracker) -> int:
    value = entity(tracker, "page")
    if value is None:
        match = re.search(r'"page"\s*:\s*"?(\d+)', (tracker.latest_message or {}).get("text") or "")
        value = match.group(1) if match else None
    try:
        return max(int(value), 1) if value is not None else 1
    except (TypeError, ValueError):
        return 1


class ActionListCases(Action):
    def name(self) -> str:
        return "action_list_cases"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = require_holder(tracker, dispatcher)
        if person is None:
            return []
        brand_ids = _brand_filter(tracker, dispatcher, person)
        if brand_ids is None:
            return []
        size = get_settings().cases_page_size
        page = ipp.list_visible_cases(brand_ids, _page_from(tracker), size)
        names = [h.brand_name for h in person.holder_brands if h.brand_id in brand_ids]
        buttons = []
        if page.page > 1:
            buttons.append({"title": "이전", "payload": f'/list_cases{{"page":"{page.page - 1}"}}'})
        if page.page < page.pages:
            buttons.append({"title": "다음", "payload": f'/list_cases{{"page":"{page.page + 1}"}}'})
        dispatcher.utter_message(text=say.case_page(page, names, size), buttons=buttons)
        return []


# --------------------------------------------------------------------------- brand report


class ActionBrandStats(Action):
    def name(self) -> str:
        return "action_brand_stats"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = require_holder(tracker, dispatcher)
        if person is None:
            return []
        if say_inspections.asks_about_inspections(_text(tracker)):
            return _answer_inspections(tracker, dispatcher, person)
        brand_ids = _brand_filter(tracker, dispatcher, person)
        if brand_ids is None:
            return []
        period = parse_period((tracker.latest_message or {}).get("text") or "")
        stats = brand_stats.compute(brand_ids, period)
        image = None
        try:
            image = brand_stats.chart_url(brand_stats.render_chart(stats))
        except Exception:  # noqa: BLE001 - the figures are in the text; a chart is extra
            import logging

            logging.getLogger(__name__).exception("brand chart failed")
        if image:
            dispatcher.utter_message(text=say.stats_text(stats), image=image)
        else:
            dispatcher.utter_message(text=say.stats_text(stats))
        return []
