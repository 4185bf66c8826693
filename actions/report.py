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

from actions.common import entity, latest_photo_errors, latest_photo_ids, require_customer, who, yes_or_no
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
REPORT_SLOTS = ("order_number", "problem_description", "photos_done", "report_confirmed", "report_photos",
                "order_candidate", "order_choices", "report_fixing")
# "이거 말고 …", "주문 바꿀게요", "내용 고칠게요", "사진 추가": which part of the report to change.
CORRECTIONS = (
    ("order", re.compile(r"(이거|그거|이것|그것|저거)\s*말고|다른\s*주문|주문\s*(을|도)?\s*(바꿀|바꿔|변경|잘못|틀렸)")),
    ("description", re.compile(r"(내용|설명|의심되는\s*점)\s*(을|도)?\s*(고칠|고쳐|수정|바꿀|바꿔|다시\s*쓸)")),
    ("photos", re.compile(r"사진\s*(을|도)?\s*(추가|더|또)|사진\s*(보낼|넣을)게")),
)
# What each correction empties (the form then asks that question again; the summary comes after).
CORRECTION_SLOTS = {
    "order": ("order_number", "order_candidate", "order_choices"),
    "description": ("problem_description",),
    "photos": ("photos_done",),
}


def _intent(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


def _text(tracker: Tracker) -> str:
    text = (tracker.latest_message or {}).get("text") or ""
    return "" if text.startswith("/") else text.strip()


def correction(text: str, part: str | None = None) -> str | None:
    """Which part of the report the message wants to change (order, description, photos), or None."""
    if part in CORRECTION_SLOTS:
        return part
    for name, pattern in CORRECTIONS:
        if pattern.search(text or ""):
            return name
    return None


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
    return replies.NOT_UNDERSTOOD_ORDER


# Slots the extractors set besides the form's own: rasa-sdk passes on only required slots, so
# run() adds these back (a photo count, the failure counter, and stopping the form early).
BOOKKEEPING_SLOTS = ("report_photos", "failed_attempts", "requested_slot", "order_candidate", "order_choices",
                     "shown_orders", "report_fixing")


class ValidateReportForm(FormValidationAction):
    def name(self) -> str:
        return "validate_report_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        fix = None
        if tracker.get_slot("requested_slot") is not None and not latest_photo_ids(tracker):
            fix = correction(_text(tracker), entity(tracker, "report_part"))
        if fix is not None:
            return self._correct(fix, dispatcher, tracker)
        extraction = await self.get_extraction_events(dispatcher, tracker, domain)
        tracker.add_slots(extraction)
        validation = await self._extract_validation_events(dispatcher, tracker, domain)
        return validation + [event for event in extraction if event["name"] in BOOKKEEPING_SLOTS]

    def _correct(self, part: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """Empties the part to change; the form asks for it again, then shows the summary again.
        "이거 말고 구찌 가방이요" names the new order in the same message: it is looked up at once."""
        updates: dict[str, Any] = {slot: None for slot in CORRECTION_SLOTS[part]}
        updates.update({"report_confirmed": None, "report_fixing": None, "failed_attempts": 0})
        if part == "order":
            updates.update(self._resolve(dispatcher, tracker, _text(tracker), announce_none=False))
        return [SlotSet(slot, value) for slot, value in updates.items()]

    def _resolve(self, dispatcher: CollectingDispatcher, tracker: Tracker, text: str,
                 announce_none: bool = True) -> dict[str, Any]:
        """The order a message names by list position, name, date or price: one → confirm it, several →
        choose among them, none → say so (action_ask_order_number then shows the list)."""
        person = who(tracker)
        shown = list(tracker.get_slot("shown_orders") or [])
        found = orders.resolve_order_reference(person.customer_id, text, shown)
        if not found.referenced:
            return {}
        if len(found.matches) == 1:
            return {"order_candidate": found.matches[0].number, "order_choices": None, "failed_attempts": 0}
        if found.matches:
            return {"order_candidate": None, "order_choices": [o.number for o in found.matches], "failed_attempts": 0}
        if announce_none:
            dispatcher.utter_message(text=replies.no_order_matched(found.position, len(shown)))
        return {"order_candidate": None, "order_choices": None, "failed_attempts": 0}

    def _failed(self, dispatcher: CollectingDispatcher, tracker: Tracker, hint: str) -> dict[str, Any]:
        """The hint, and from the second miss in a row a way out as buttons (no second question: the form
        asks its own, and a yes here would be read as the answer to it)."""
        failures = int(tracker.get_slot("failed_attempts") or 0) + 1
        buttons = []
        if failures >= 2:
            if get_settings().handoff_enabled:
                buttons.append({"title": "상담원 연결", "payload": "/request_human"})
            buttons.append({"title": "신고 그만하기", "payload": "/stop"})
        dispatcher.utter_message(text=hint, buttons=buttons)
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
        candidate = tracker.get_slot("order_candidate")
        if number is None and candidate and not activating:
            answer = yes_or_no(tracker)
            if answer is True:
                number = candidate
            elif answer is False:
                dispatcher.utter_message(text=replies.ORDER_NOT_THAT)
                return {"order_candidate": None, "order_choices": None, "shown_orders": None}
        if number is None:
            if activating:
                return self._resolve(dispatcher, tracker, text)
            if _intent(tracker) in INTERRUPTIONS and (not re.search(r"\d{4}", text) or _intent(tracker) == "check_seller"):
                return {}  # a seller check names a listing, not the order asked for: the rule answers it
            resolved = self._resolve(dispatcher, tracker, text)
            if resolved:
                return resolved
            return self._failed(dispatcher, tracker, order_number_hint(text))
        person = who(tracker)
        check = orders.check_order(person.customer_id, number)
        if check.problem:
            dispatcher.utter_message(text=replies.eligibility_problem(check))
            return {"order_number": None, "order_candidate": None, "order_choices": None, "failed_attempts": 0,
                    "requested_slot": None}
        dispatcher.utter_message(text=replies.order_found(check.order))
        return {"order_number": number, "order_candidate": None, "order_choices": None, "failed_attempts": 0}

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
            elif NO_PHOTO.search(_text(tracker)) or _intent(tracker) == "stop_photos" or yes_or_no(tracker) is False:
                updates["photos_done"] = True
            elif yes_or_no(tracker):
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
        answer = yes_or_no(tracker)
        if answer is True:
            return {"report_confirmed": True, "report_fixing": None}
        if answer is False:
            # Not a cancellation: the shopper says what to change ([신고 취소] is one of the choices).
            return {"report_confirmed": None, "report_fixing": True}
        if _intent(tracker) in INTERRUPTIONS:
            return {}
        return self._failed(dispatcher, tracker, "신고하시려면 '네', 바꿀 게 있으면 '아니요'라고 답해 주세요.")


class ActionAskOrderNumber(Action):
    """Asks which order: the one to confirm, the few that fit what was said, or the claimable orders,
    numbered as buttons (the numbers are kept in `shown_orders` so "2번" means the second one shown)."""

    def name(self) -> str:
        return "action_ask_order_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = who(tracker)
        candidate = tracker.get_slot("order_candidate")
        if candidate:
            order = orders.get_order(candidate)
            dispatcher.utter_message(text=replies.confirm_order(order), buttons=replies.YES_NO_BUTTONS)
            return []
        choices = [orders.get_order(n) for n in tracker.get_slot("order_choices") or []]
        if choices:
            dispatcher.utter_message(text=replies.several_orders(len(choices)),
                                     buttons=[replies.order_button(o, n) for n, o in enumerate(choices, 1)])
            return [SlotSet("shown_orders", [o.number for o in choices])]
        claimable = []
        if person.customer_id:
            claimable = [o for o in orders.recent_orders(person.customer_id, limit=10)
                         if orders.check_order(person.customer_id, o.number).problem is None][:5]
        buttons = [replies.order_button(o, n) for n, o in enumerate(claimable, 1)]
        if int(tracker.get_slot("failed_attempts") or 0) >= 2 and get_settings().handoff_enabled:
            buttons.append({"title": "상담원 연결", "payload": "/request_human"})
        dispatcher.utter_message(text=replies.ASK_ORDER if claimable else replies.ASK_ORDER_NO_LIST, buttons=buttons)
        return [SlotSet("shown_orders", [o.number for o in claimable])]


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
        if tracker.get_slot("report_fixing"):
            dispatcher.utter_message(text=replies.CHANGE_WHAT, buttons=replies.CHANGE_BUTTONS)
            return []
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
                {"title": "아니요, 바꿀게요", "payload": "/deny"},
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

