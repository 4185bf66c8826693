"""Policy questions, answered by semantic search over bot/knowledge/faq.yml."""
from __future__ import annotations

import logging
import os
import threading

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import who
from bot.nlu import faq
from bot.replies import first_contact
from bot.settings import get_settings

logger = logging.getLogger(__name__)


def _load_index() -> None:
    try:
        faq.get_index()
    except Exception:  # noqa: BLE001 - the first question loads it again and reports properly
        logger.exception("could not preload the FAQ index")


def _preload_in_background() -> None:
    threading.Thread(target=_load_index, name="faq-preload", daemon=True).start()


# The FAQ index and its encoder take 10-20 s of CPU to load: loaded lazily, the first question of each
# action-server worker waited that long and held up that worker's other conversations.
if get_settings().preload_faq:
    # Several Sanic workers are forked from this process after the actions are imported: each loads its own
    # copy in the background once forked (a thread or a lock held at fork time would not survive the fork).
    if get_settings().action_worker_count > 1 and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_preload_in_background)
    else:
        _preload_in_background()


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        text = (tracker.latest_message or {}).get("text") or ""
        match = faq.answer(text)
        if match.confident:
            dispatcher.utter_message(text=match.entry.answer)
        elif get_settings().handoff_enabled:
            dispatcher.utter_message(text=first_contact.FAQ_UNSURE_PERSON,
                                     buttons=[{"title": "상담원 연결", "payload": "/request_human"}])
        else:
            # No desk: no person offered that could not come, the bot's own tasks instead.
            person = who(tracker)
            dispatcher.utter_message(text=first_contact.FAQ_UNSURE,
                                     buttons=first_contact.main_tasks(person.is_rights_holder, handoff=False))
        return []
