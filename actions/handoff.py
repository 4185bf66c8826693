"""Handing the conversation to a person, and back: `request_human`, two fallbacks in a row, a complaint
answered with yes — and the rating after the hand-back.

The hand-over action returns Rasa's ConversationPaused: from then on the bot does not answer while every
message is still recorded in the tracker; the connector (connectors/handoff.py) copies them to the agents'
topic and appends ConversationResumed when an agent hands the conversation back."""
from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity, who
from bot.replies import first_contact
from bot.replies import takeover as words
from bot.clock import utcnow
from bot.services import handoff
from bot.settings import get_settings

FALLBACK_INTENT = "nlu_fallback"
FALLBACKS_BEFORE_HANDOVER = 2
# Events after which the count of fallbacks in a row starts again.
_COUNT_RESETS = {"resume", "session_started", "restart"}


def consecutive_fallbacks(events: list[dict[str, Any]]) -> int:
    """How many of the latest user messages in a row were not understood (nlu_fallback)."""
    count = 0
    for event in reversed(events or []):
        kind = event.get("event")
        if kind in _COUNT_RESETS:
            break
        if kind == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent != FALLBACK_INTENT:
                break
            count += 1
    return count


def previous_bot_action(events: list[dict[str, Any]]) -> Optional[str]:
    """The bot's last action before the latest user message (e.g. utter_offer_human)."""
    seen_user = False
    for event in reversed(events or []):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


def hand_over(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str,
              lead: Optional[str] = None) -> list[EventType]:
    settings = get_settings()
    person = who(tracker)
    if not settings.handoff_enabled:
        # No desk, so no person to promise: what the bot can do now, as buttons.
        dispatcher.utter_message(text="\n".join(filter(None, [lead, first_contact.NO_AGENTS])),
                                 buttons=first_contact.main_tasks(person.is_rights_holder, handoff=False))
        return []
    now = utcnow()
    hours = words.business_hours(settings.business_hours, settings.timezone)
    open_now = hours is None or hours.is_open(now)
    requested = handoff.request(person.channel, tracker.sender_id, reason,
                                tracker.get_latest_input_channel() or person.channel, after_hours=not open_now)
    if requested.refused:
        # Not paused and any form left running: the user carries on with the bot where they were.
        dispatcher.utter_message(text=words.capped(person.channel, settings.handoff_anonymous_per_hour,
                                                   requested.retry_at, now, lead),
                                 buttons=words.capped_buttons())
        return []
    dispatcher.utter_message(text=words.handed_over(open_now, hours, now, lead, already=not requested.created),
                             buttons=words.cancel_buttons())
    events: list[EventType] = []
    if (tracker.active_loop or {}).get("name"):
        events += [ActiveLoop(None), SlotSet("requested_slot", None)]
    return events + [ConversationPaused()]


class ActionHandoff(Action):
    """`request_human`, or yes to the person offered after a complaint."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        offered = previous_bot_action(tracker.events) in ("utter_offer_human", "action_offer_human")
        reason = "complain" if offered else "request_human"
        return hand_over(dispatcher, tracker, reason)


class ActionFallback(Action):
    """In place of the plain 'I did not understand': the second time in a row, a person takes over."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        misses = consecutive_fallbacks(tracker.events)
        # Never the same fallback twice in a row: every second one hands over, or, with no desk to hand
        # over to, shows the main tasks as buttons.
        if misses >= FALLBACKS_BEFORE_HANDOVER and misses % FALLBACKS_BEFORE_HANDOVER == 0:
            if get_settings().handoff_enabled:
                return hand_over(dispatcher, tracker, "fallback", lead=words.FALLBACK_LEAD_KO)
            person = who(tracker)
            dispatcher.utter_message(text=first_contact.FALLBACK_AGAIN,
                                     buttons=first_contact.main_tasks(person.is_rights_holder, handoff=False))
            return []
        dispatcher.utter_message(response="utter_default")
        return []


class ActionRateHandoff(Action):
    def name(self) -> str:
        return "action_rate_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        raw = entity(tracker, "handoff_rating")
        try:
            rating = int(str(raw).strip())
        except (TypeError, ValueError):
            rating = 0
        if not 1 <= rating <= 5:
            dispatcher.utter_message(text=words.RATE_INVALID_KO, buttons=words.rating_buttons())
            return []
        person = who(tracker)
        result = handoff.rate(person.channel, tracker.sender_id, rating)
        dispatcher.utter_message(text={"recorded": words.RATED_KO, "already": words.RATED_ALREADY_KO,
                                       "none": words.RATE_NONE_KO}[result.status])
        return []
