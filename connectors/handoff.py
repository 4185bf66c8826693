"""The hand-over gate every input channel sends its messages through, and the Rasa side of the takeover.

Runs inside the Rasa server process, so it reaches the agent's tracker store and lock store directly
(`app.ctx.agent`, attached by the channels' blueprints when the server starts):

* before a message of an account with an open hand-over goes to Rasa, the gate makes sure its tracker is
  paused (a new session after a long wait would otherwise un-pause it) — Rasa then records the message
  in the tracker and does not answer;
* after it, the message (text and photos) is recorded for the agents' topic (bot.services.handoff) and
  the agent desk (connectors/telegram_desk.py) is told there is work; a message that started a hand-over
  makes the desk open the topic at once;
* the desk asks it for the transcript (the tracker's events), to record what agents said as bot events,
  and to hand the conversation back (ConversationResumed).

Every write to the database goes through bot.services.handoff; this module only translates."""
from __future__ import annotations

import asyncio
import logging
from datetime import timezone
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, ConversationResumed, UserUttered

from bot.services.identity import channel_kind

logger = logging.getLogger(__name__)

PHOTO_ONLY_TEXT = "/send_photo"


class HandoffHub:
    """One per Rasa server process (`hub`)."""

    def __init__(self) -> None:
        self.app: Any = None
        self.desk: Any = None  # connectors.telegram_desk.AgentDesk, when the agents' group is configured

    # ------------------------------------------------------------------ the Rasa agent

    def attach(self, app: Any) -> None:
        if app is not None:
            self.app = app

    @property
    def agent(self) -> Any:
        ctx = getattr(self.app, "ctx", None)
        agent = getattr(ctx, "agent", None) if ctx is not None else None
        try:
            return agent if agent is not None and agent.is_ready() else None
        except Exception:  # noqa: BLE001
            return None

    # ------------------------------------------------------------------ the gate

    async def handle(self, message: UserMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        from bot.replies import takeover as words
        from bot.services import handoff

        kind = channel_kind(message.input_channel)
        sender = message.sender_id
        before = None
        try:
            before = await asyncio.to_thread(handoff.open_for, kind, sender)
        except Exception:  # noqa: BLE001 - the database is away: the bot answers as usual
            logger.exception("hand-over: could not look up %s:%s", kind, sender)
        if (message.text or "").strip() == words.CANCEL_PAYLOAD:
            # The "상담 요청 취소" button: withdraws a hand-over still waiting; Rasa never sees the payload.
            cancelled = await asyncio.to_thread(handoff.cancel, kind, sender) if before is not None else None
            if cancelled is not None:
                await self.kick(cancelled.id)  # hands back now: ConversationResumed and the user told
            else:
                await message.output_channel.send_text_message(
                    sender, words.NOTHING_TO_CANCEL_KO if before is None else words.CANNOT_CANCEL_KO)
            return
        if before is not None:
            await self.ensure_paused(sender)
        await on_new_message(message)
        try:
            if before is not None:
                text = (message.text or "").strip()
                if text == PHOTO_ONLY_TEXT:
                    text = ""
                photos = [str(p) for p in (message.metadata or {}).get("photo_ids") or []]
                await asyncio.to_thread(handoff.record_user_message, before.id, text, photos)
                await self.kick(before.id)
            else:
                after = await asyncio.to_thread(handoff.open_for, kind, sender)
                if after is not None:
                    await self.kick(after.id)
        except Exception:  # noqa: BLE001 - the desk's sweep picks it up again
            logger.exception("hand-over: could not pass on the message of %s:%s", kind, sender)

    async def kick(self, handoff_id: int) -> None:
        """Tells the desk that a hand-over has something new (it also finds it on its own, every few seconds)."""
        desk = self.desk
        if desk is None:
            return
        try:
            await desk.work(handoff_id)
        except Exception:  # noqa: BLE001
            logger.exception("hand-over #%s: the desk could not do its work now; it tries again", handoff_id)

    # ------------------------------------------------------------------ the tracker

    async def ensure_paused(self, sender_id: str) -> bool:
        agent = self.agent
        if agent is None:
            return False
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.processor.fetch_tracker_and_update_session(sender_id, CollectingOutputChannel())
            if not tracker.is_paused():
                tracker.update(ConversationPaused())
                await agent.processor.save_tracker(tracker)
                logger.info("hand-over: paused %s again (its session had restarted)", sender_id)
        return True

    async def append_events(self, sender_id: str, events: list) -> bool:
        agent = self.agent
        if agent is None:
            return False
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.processor.get_tracker(sender_id)
            for event in events:
                tracker.update(event)
            await agent.processor.save_tracker(tracker)
        return True

    async def record_agent_message(self, sender_id: str, handoff_id: int, text: str,
                                   photo_sha256: Optional[str] = None) -> bool:
        """What an agent said, as a bot event of the conversation (so the tracker holds every message)."""
        data = {"custom": {"photo_sha256": photo_sha256}} if photo_sha256 else {}
        return await self.append_events(sender_id, [
            BotUttered(text or ("[사진]" if photo_sha256 else ""), data, {"handoff_id": handoff_id, "agent": True})])

    async def resume(self, sender_id: str, handoff_id: int, text: str, buttons: Optional[list]) -> bool:
        """ConversationResumed, the hand-back message as a bot event, and listening again."""
        return await self.append_events(sender_id, [
            ConversationResumed(),
            BotUttered(text, {"buttons": buttons} if buttons else {}, {"handoff_id": handoff_id, "handback": True}),
            ActionExecuted(ACTION_LISTEN_NAME),
        ])

    async def transcript(self, sender_id: str, before: Any = None, handoff_id: Optional[int] = None
                         ) -> list[tuple[str, float, str]]:
        """(who, unix time, text) of the conversation: user messages sent before `before` (the hand-over's
        start; later ones are the hand-over's own messages), bot messages, and earlier agents' messages."""
        agent = self.agent
        if agent is None:
            return []
        # Under the conversation's lock: a message still being handled (the one that asked for a person)
        # is saved before we read.
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.tracker_store.retrieve(sender_id)
        if tracker is None:
            return []
        cutoff = before.replace(tzinfo=timezone.utc).timestamp() if before is not None else float("inf")
        entries: list[tuple[str, float, str]] = []
        for event in tracker.events:
            if isinstance(event, UserUttered):
                if event.timestamp >= cutoff:
                    continue
                text = (event.text or "").strip()
                if text == PHOTO_ONLY_TEXT:
                    text = ""
                if text.startswith("/"):
                    text = f"(버튼) {text}"  # a tapped button's payload
                photos = len((event.metadata or {}).get("photo_ids") or [])
                if photos:
                    text = f"{text} [사진 {photos}장]".strip()
                if text:
                    entries.append(("user", event.timestamp, text))
            elif isinstance(event, BotUttered):
                meta = event.metadata or {}
                if handoff_id is not None and meta.get("handoff_id") == handoff_id and meta.get("agent"):
                    continue
                text = (event.text or "").strip()
                buttons = (event.data or {}).get("buttons") or []
                if buttons:
                    text += " [버튼: " + " / ".join(str(b.get("title", "")) for b in buttons) + "]"
                if text:
                    entries.append(("agent" if meta.get("agent") else "bot", event.timestamp, text))
        return entries


hub = HandoffHub()


def attach_listener(blueprint: Any) -> None:
    """Adds the listener that hands the Sanic app (and so the Rasa agent) to the hub."""

    @blueprint.listener("after_server_start")
    async def _attach_handoff_hub(app, _loop) -> None:
        hub.attach(app)
