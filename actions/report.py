"""The shopper's report: which order, what looks wrong, photos, confirm — then report and refund.

The form's slots are all custom-mapped so this one validation action decides what each message
means at each step; the report and refund themselves are one call to bot.services.reports."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity, latest_photo_errors, latest_photo_ids, require_customer, who
from bot.replies import shopper as replies
from bot.replies.korean import won
from bot.nlu.identifier_extractor import find_identifiers, order_number_attempt_digits
from bot.services import orders, reports
from bot.settings import get_settings

# Intents that interrupt the form rather than answer its question; rules take them.
INTERRUPTIONS = {
    "ask_faq", "check_report_status", "list_orders", "stop", "request_human", "complain", "greet",
    "goodbye", "thanks", "bot_challenge", "out_of_scope", "check_case_status", "list_cases", "brand_stats",
    "register_brand_owner", "open_ipp_case", "check_seller", "claim_recall", "ask_programme",
}
NO_PHOTO = re.compile(r"(없어|없음|없습니다|없다|없네|없는데|안\s*찍|노노|ㄴㄴ|스킵|skip|건너|패스|no\b|넘어가|안\s*보낼|다\s*보냈|그게\s*다|끝)", re.I)
MAX_DESCRIPTION = 2000
REPORT_SLOTS = ("order_number", "problem_description", "photos_done", "report_confirmed", "report_photos")


def _intent(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


def _text(tracker: Tracker) -> str:
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.startswith("/") else text.strip()


def _reset() -> list[EventType]:
    return [SlotSet(slot, None) for slot in REPORT_SLOTS] + [SlotSet("failed_attempts", 0)]


def order_number_hint(text: str) -> str:
    """Why the answer is not an order number, and what one looks like."""
    found = {e["entity"]: e["value"] for e in find_identifiers(text)}
    if "case_number" in found or "report_number" in found:
        kind = "IPP 케이스 번호" if "case_number" in found else "신고번호"
        return f"입력하신 번호는 {kind}예요. 주문번호는 숫자 16자리예요(예: 8181 2345 6789 0123)."
    if "listing_id" in found:
        return "입력하신 번호는 상품 번호(1005로 시작)예요. 주문번호는 주문 내역에 있는 숫자 16자리예요."
    digits = order_number_attempt_digits(text)
    if digits:
        return f"주문번호는 숫자 16자리인데 입력하신 번호는 {digits}자리예요. 주문 내역에서 다시 확인해 주세요."
    return "주문번호를 찾지 못했어요. 주문번호는 숫자 16자리예요(예: 8181 2345 6789 0123)."


# Slots the extractors set besides the form's own: rasa-sdk passes on only required slots, so
# run() adds these back (a photo count, the failure counter, and stopping the form early).
BOOKKEEPING_SLOTS = ("report_photos", "failed_attempts", "requested_slot")


class ValidateReportForm(FormValidationAction):
    def name(self) -> str:
        return "validate_report_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        extraction = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extraction)
        validation = await self._extract_validation_events(dispatcher, tracker, domain)
        return validation + [event for event in extraction if event["name"] in BOOKKEEPING_SLOTS]

    def _failed(self, dispatcher: CollectingDispatcher, tracker: Tracker, hint: str) -> dict[str, Any]:
        failures = int(tracker.get_slot("failed_attempts") or 0) + 1
        if failures >= 2:
            dispatcher.utter_message(
                text=hint + "\n계속 어려우시면 상담원이 도와드릴 수 있어요. 상담원을 연결해 드릴까요?",
                buttons=[
                    {"title": "상담원 연결", "payload": "/request_human"},
                    {"title": "신고 그만하기", "payload": "/stop"},
                ],
            )
        else:
            dispatcher.utter_message(text=hint)
        return {"failed_attempts": failures}

    async def extract_order_number(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        requested = tracker.get_slot("requested_slot")
        if requested not in (None, "order_number") or tracker.get_slot("order_number"):
            return {}
        activating = requested is None
        if activating:
            person = require_customer(tracker, dispatcher)
            if person is None:
                return {"requested_slot": None}
        number = entity(tracker, "order_number")
        text = _text(tracker)
        if number is None:
            if activating:
                return {}
            if _intent(tracker) in INTERRUPTIONS and (not re.search(r"\d{4}", text) or _intent(tracker) == "check_seller"):
                return {}  # a seller check names a listing, not the order asked for: the rule answers it
            return self._failed(dispatcher, tracker, order_number_hint(text))
        person = who(tracker)
        check = orders.check_order(person.customer_id, number)
        if check.problem:
            dispatcher.utter_message(text=replies.eligibility_problem(check))
            return {"order_number": None, "failed_attempts": 0, "requested_slot": None}
        dispatcher.utter_message(text=replies.order_found(check.order))
        return {"order_number": number, "failed_attempts": 0}

    async def extract_problem_description(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                          domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "problem_description":
            return {}
        text = _text(tracker)
        if _intent(tracker) in INTERRUPTIONS - {"complain"} or not text:
            return {}
        if len(text.replace(" ", "")) < 2:
            return self._failed(dispatcher, tracker, "조금 더 자세히 적어 주세요. 예: '로고 위치가 달라요', '박음질이 엉망이에요'.")
        if len(text) > MAX_DESCRIPTION:
            dispatcher.utter_message(text=f"내용이 길어서 앞의 {MAX_DESCRIPTION:,}자까지만 저장했어요.")
        return {"problem_description": text[:MAX_DESCRIPTION], "failed_attempts": 0}

    async def extract_photos_done(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        """Collects photos from any message during the report; answers the photo question."""
        updates: dict[str, Any] = {}
        for error in dict.fromkeys(latest_photo_errors(tracker)):
            dispatcher.utter_message(text=error)
        new = latest_photo_ids(tracker)
        if new:
            limit = get_settings().photos_per_report
            have = list(tracker.get_slot("report_photos") or [])
            merged = list(dict.fromkeys(have + new))
            if len(merged) > limit:
                dispatcher.utter_message(text=f"사진은 최대 {limit}장까지 첨부할 수 있어요. 앞의 {limit}장만 첨부했어요.")
                merged = merged[:limit]
            if merged != have:
                updates["report_photos"] = merged
                dispatcher.utter_message(text=f"사진 {len(merged)}장을 받았어요.")
        requested = tracker.get_slot("requested_slot")
        if requested == "photos_done":
            if new:
                updates["photos_done"] = True
            elif latest_photo_errors(tracker):
                updates["photos_done"] = None  # the question stands: a good photo or "없어요"
            elif NO_PHOTO.search(_text(tracker)) or _intent(tracker) in ("deny", "stop_photos"):
                updates["photos_done"] = True
            elif _intent(tracker) == "affirm":
                dispatcher.utter_message(text="좋아요, 사진을 보내 주세요.")
                updates["photos_done"] = None
            elif _intent(tracker) not in INTERRUPTIONS:
                updates.update(self._failed(dispatcher, tracker,
                                            "사진을 보내 주시거나, 사진이 없으면 '없어요'라고 해 주세요."))
        return updates

    async def extract_report_confirmed(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "report_confirmed" or latest_photo_ids(tracker):
            return {}
        intent = _intent(tracker)
        if intent == "affirm":
            return {"report_confirmed": True}
        if intent == "deny":
            return {"report_confirmed": False}
        if intent in INTERRUPTIONS:
            return {}
        return self._failed(dispatcher, tracker, "신고하시려면 '네', 그만두시려면 '아니요'라고 답해 주세요.")


class ActionAskOrderNumber(Action):
    """Asks which order, with the shopper's claimable orders as one-tap buttons."""

    def name(self) -> str:
        return "action_ask_order_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = who(tracker)
        buttons = []
        if person.customer_id:
            for order in orders.recent_orders(person.customer_id, limit=5):
                if orders.check_order(person.customer_id, order.number).problem is None:
                    buttons.append({
                        "title": f"{order.product_name} · {won(order.amount_krw)}",
                        "payload": f'/inform{{"order_number":"{order.number}"}}',
                    })
        text = "어떤 주문을 신고하시겠어요? 16자리 주문번호를 입력해 주세요."
        if buttons:
            text = "어떤 주문을 신고하시겠어요? 아래에서 고르시거나 16자리 주문번호를 입력해 주세요."
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionAskPhotosDone(Action):
    def name(self) -> str:
        return "action_ask_photos_done"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        limit = get_settings().photos_per_report
        dispatcher.utter_message(
            text=f"상품 사진이 있으면 보내 주세요(최대 {limit}장, JPG·PNG·WebP). 사진이 없어도 신고할 수 있어요.",
            buttons=[{"title": "사진 없이 진행", "payload": "사진 없어요"}],
        )
        return []


class ActionAskReportConfirmed(Action):
    """The summary the shopper confirms before anything is created."""

    def name(self) -> str:
        return "action_ask_report_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        order = orders.get_order(tracker.get_slot("order_number"))
        photos = len(tracker.get_slot("report_photos") or [])
        description = tracker.get_slot("problem_description") or ""
        if len(description) > 200:
            description = description[:200] + "…"
        dispatcher.utter_message(
            text=(
                "이대로 신고할까요?\n"
                f"· 주문: {order.product_name} ({order.brand})\n"
                f"· 주문번호: {order.number}\n"
                f"· 환불 예정 금액: {won(order.amount_krw)}\n"
                f"· 의심되는 점: {description}\n"
                f"· 사진: {f'{photos}장' if photos else '없음'}"
            ),
            buttons=[
                {"title": "네, 신고할게요", "payload": "/affirm"},
                {"title": "아니요", "payload": "/deny"},
            ],
        )
        return []


class ActionSubmitReport(Action):
    def name(self) -> str:
        return "action_submit_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        confirmed = tracker.get_slot("report_confirmed")
        number = tracker.get_slot("order_number")
        if confirmed is False:
            dispatcher.utter_message(response="utter_report_cancelled")
        elif confirmed and number:
            person = who(tracker)
            outcome = reports.file_report(
                person.customer_id, number, tracker.get_slot("problem_description") or "",
                tracker.get_slot("report_photos") or [], actor=f"{person.channel}:{person.sender_id}",
            )
            dispatcher.utter_message(text=replies.report_outcome(outcome))
        # Otherwise the form stopped early and already said why.
        return _reset()


class ActionCancelReport(Action):
    def name(self) -> str:
        return "action_cancel_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_report_cancelled")
        return _reset() + [ActiveLoop(None)]

