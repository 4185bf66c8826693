"""Who is talking decides the greeting and its buttons; a person is offered only when one can come."""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import who
from actions.handoff import previous_bot_action
from bot.replies import first_contact as words
from bot.settings import get_settings


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = who(tracker)
        text, buttons = words.greeting(person.customer_name if person.customer_id else None,
                                       tuple(h.brand_name for h in person.holder_brands))
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionOfferHuman(Action):
    """After a complaint: a person when the agents' desk exists, else the bot's own help as buttons."""

    def name(self) -> str:
        return "action_offer_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if get_settings().handoff_enabled:
            dispatcher.utter_message(response="utter_offer_human")
        else:
            person = who(tracker)
            # Never the same answer twice in a row: the second time, straight to the choices.
            again = previous_bot_action(tracker.events) == self.name()
            dispatcher.utter_message(text=words.COMPLAINT_AGAIN if again else words.COMPLAINT_NO_AGENTS,
                                     buttons=words.main_tasks(person.is_rights_holder, handoff=False))
        return []
