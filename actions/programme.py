"""ask_programme: what Project Clean is and has done — the public figures for shoppers and anyone else,
the brand's share for its verified rights holders (bot/services/programme.py)."""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from rasa_sdk.events import EventType

from actions.common import who
from bot.replies.programme import brand_share_ko, public_summary_ko
from bot.services import programme


class ActionProgrammeSummary(Action):
    def name(self) -> str:
        return "action_programme_summary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        person = who(tracker)
        whole = programme.compute()
        if not person.is_rights_holder:
            dispatcher.utter_message(text=public_summary_ko(whole))
            return []
        brands = sorted({h.brand_name for h in person.holder_brands})
        dispatcher.utter_message(text="\n".join(brand_share_ko(programme.compute(brand=b), whole) for b in brands))
        return []
