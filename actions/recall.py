"""The recall notice's one-tap "환불받기": files the report and refunds (bot.services.reports.claim_recall)."""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity, latest_photo_ids, require_customer
from bot.replies import shopper as replies
from bot.services import reports


class ActionClaimRecall(Action):
    def name(self) -> str:
        return "action_claim_recall"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        person = require_customer(tracker, dispatcher)
        if person is None:
            return []
        order_number = entity(tracker, "order_number")
        if order_number is None:
            dispatcher.utter_message(text="어느 주문의 환불인지 알 수 없어요. 리콜 안내의 '환불받기' 버튼을 다시 눌러 주세요.")
            return []
        outcome = reports.claim_recall(person.customer_id, order_number, latest_photo_ids(tracker))
        dispatcher.utter_message(text=replies.recall_claim_outcome(outcome))
        return []
