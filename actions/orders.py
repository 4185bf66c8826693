"""The shopper's recent orders, each with a one-tap "가품 신고" button (the one-click report). The list is
remembered (`shown_orders`) so "2번 신고할게" right after it means the second order shown."""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import require_customer
from bot.replies import shopper as replies
from bot.replies.korean import won
from bot.services import orders


class ActionListOrders(Action):
    def name(self) -> str:
        return "action_list_orders"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        person = require_customer(tracker, dispatcher)
        if person is None:
            return []
        recent = orders.recent_orders(person.customer_id, limit=10)
        if not recent:
            dispatcher.utter_message(text="최근 주문이 없어요. 주문하신 뒤에 다시 확인해 주세요.")
            return []
        lines, buttons = ["최근 주문이에요."], []
        for n, order in enumerate(recent, 1):
            state = replies.delivery_state(order)
            if order.refunded_at:
                state += " · 환불 처리됨"
            elif order.report_number:
                state += f" · 신고됨({order.report_number})"
            lines.append(f"{n}. {order.product_name} · {won(order.amount_krw)}\n   {state} · 주문번호 {order.number}")
            if orders.check_order(person.customer_id, order.number).problem is None:
                buttons.append({
                    "title": f"가품 신고: {order.product_name}",
                    "payload": f'/report_counterfeit{{"order_number":"{order.number}"}}',
                })
        if buttons:
            lines.append("가품이 의심되면 버튼을 누르거나 '2번 신고할게요'처럼 말씀해 주세요.")
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return [SlotSet("shown_orders", [order.number for order in recent])]
