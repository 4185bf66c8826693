"""What every action needs: who is talking, and the message's photos as the connector stored them."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.nlu.yes_no import yes_no
from bot.replies import first_contact
from bot.replies import shopper as replies
from bot.services import identity


def who(tracker: Tracker) -> identity.Who:
    return identity.resolve(tracker.get_latest_input_channel(), tracker.sender_id)


def require_customer(tracker: Tracker, dispatcher: CollectingDispatcher) -> identity.Who | None:
    """The shopper behind the chat, or None after telling them how to link their account. A web shopper
    is remembered as using the chat (for recall notices)."""
    person = who(tracker)
    if person.customer_id is None:
        if person.is_rights_holder:
            # A verified rights holder reports fakes as IPP cases, not as a shopper.
            dispatcher.utter_message(text=first_contact.HOLDER_NOT_SHOPPER, buttons=first_contact.HOLDER_MENU)
        elif first_contact.brand_speaking((tracker.latest_message or {}).get("text") or ""):
            # A brand manager not verified yet: verification, not a shopper's login.
            dispatcher.utter_message(text=first_contact.BRAND_NOT_VERIFIED,
                                     buttons=first_contact.BRAND_NOT_VERIFIED_BUTTONS)
        else:
            dispatcher.utter_message(text=replies.NOT_A_CUSTOMER[person.channel],
                                     buttons=first_contact.BRAND_NOT_VERIFIED_BUTTONS[:1])
        return None
    remember_shopper(person)
    return person


def remember_shopper(person: identity.Who) -> None:
    """A marketplace customer on the web chat is recorded as using it, so notices the bot starts itself
    (a recall) have an account to wait on; Telegram accounts are linked by their own token."""
    if person.customer_id is not None and person.channel == "web":
        identity.remember_web_customer(person.sender_id)


def message_metadata(tracker: Tracker) -> dict[str, Any]:
    return (tracker.latest_message or {}).get("metadata") or {}


def latest_photo_ids(tracker: Tracker) -> list[str]:
    """SHA-256 ids of the photos the latest message carried (stored by the connector)."""
    return [str(p) for p in message_metadata(tracker).get("photo_ids") or []]


def latest_photo_errors(tracker: Tracker) -> list[str]:
    """Korean messages about files the connector refused (not an image, too large, ...)."""
    return [str(e) for e in message_metadata(tracker).get("photo_errors") or []]


def entity(tracker: Tracker, name: str) -> str | None:
    return next(tracker.get_latest_entity_values(name), None)


def yes_or_no(tracker: Tracker) -> bool | None:
    """A yes or no in any chat form (ㅇㅇ, 넵, ㄴㄴ …), else the classifier's affirm/deny, else None: for the
    questions that expect one, so a short answer is never read as something else."""
    text = (tracker.latest_message or {}).get("text") or ""
    said = None if text.startswith("/") else yes_no(text)
    if said is not None:
        return said
    intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    return {"affirm": True, "deny": False}.get(intent)
