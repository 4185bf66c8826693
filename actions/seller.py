"""The seller check (check_seller): from a listing id, an item URL or the shopper's own order number.
Without one, it asks which listing — with the shopper's recent orders as buttons — and the next message
that names a listing or order (inform) is checked (the rule on seller_check_waiting)."""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity, remember_shopper, who
from bot.replies import seller as replies
from bot.services import orders, seller_check

MAX_ORDER_BUTTONS = 5


class ActionCheckSeller(Action):
    def name(self) -> str:
        return "action_check_seller"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        listing_id = entity(tracker, "listing_id")
        order_number = entity(tracker, "order_number")
        person = who(tracker)
        remember_shopper(person)
        if listing_id is None and order_number is None:
            buttons = []
            if person.customer_id is not None:
                buttons = [{"title": replies.order_choice(o.product_name),
                            "payload": f'/check_seller{{"order_number":"{o.number}"}}'}
                           for o in orders.recent_orders(person.customer_id, limit=MAX_ORDER_BUTTONS)]
            dispatcher.utter_message(text=replies.ASK_WHICH_WITH_ORDERS if buttons else replies.ASK_WHICH,
                                     buttons=buttons)
            return [SlotSet("seller_check_waiting", True)]
        if listing_id is not None:
            result = seller_check.check(listing_id=listing_id)
        else:
            result = seller_check.check(order_number=order_number, customer_id=person.customer_id)
        dispatcher.utter_message(text=replies.seller_check(result), buttons=replies.report_button(result))
        return [SlotSet("seller_check_waiting", False)]
