"""A shopper's own reports: all of them, or one by its number."""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity, require_customer
from bot.replies import shopper as replies
from bot.services import reports

SHOWN = 10  # one chat message; the rest by number


class ActionReportStatus(Action):
    def name(self) -> str:
        return "action_report_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        person = require_customer(tracker, dispatcher)
        if person is None:
            return []
        number = entity(tracker, "report_number")
        if number:
            # Someone else's report looks exactly like one that does not exist.
            report = reports.get_report(number, customer_id=person.customer_id)
            if report is None:
                dispatcher.utter_message(
                    text=f"{number} 신고를 찾을 수 없어요. 신고번호를 다시 확인해 주세요. '내 신고 보여줘'라고 하시면 전체 목록을 보여 드려요."
                )
            else:
                dispatcher.utter_message(text="신고 처리 현황이에요.\n" + replies.report_summary(report))
            return []
        mine = reports.list_reports(customer_id=person.customer_id)
        if not mine:
            dispatcher.utter_message(
                text="아직 접수된 신고가 없어요. 가품이 의심되는 상품이 있으면 '가품 신고'라고 말씀해 주세요."
            )
            return []
        shown = mine[:SHOWN]
        more = f" 최근 {len(shown)}건을 보여 드려요." if len(mine) > len(shown) else ""
        dispatcher.utter_message(
            text=f"신고하신 건이 {len(mine)}건 있어요.{more}\n" + "\n".join(replies.report_summary(r) for r in shown)
        )
        return []
