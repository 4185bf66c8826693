"""The agents' workspace: one Telegram supergroup with topics (TELEGRAM_AGENT_CHAT_ID), one topic per user.

* A hand-over gets its topic — the user's earlier one reopened, or a new one if they have none or it
  was deleted ("message thread not found", TOPIC_DELETED, TOPIC_ID_INVALID) — named with the user and
  the reason; the first messages say who it is (customer or rights holder), the channel, their recent
  orders, reports and cases, and the conversation so far (the tracker's events).
* What the user writes meanwhile (text and photos) is copied into the topic; what an agent writes there
  goes to the user (Telegram: directly; web: bot.services.handoff's outbox, taken by the REST and
  socket.io channels). The first agent to write, or `/claim`, holds the conversation.
* `/done`, or closing the topic, hands it back: the bot resumes (ConversationResumed), tells the user and
  asks for a 1–5 rating. `/refund approve|reject RPT-…`, `/case IPP-… STATE note`, `/note text`.
* Members of the group (getChatMember, cached briefly) and TELEGRAM_AGENT_IDS may claim, talk, note and
  hand back. `/refund` and `/case` move money and strike sellers: only TELEGRAM_SUPERVISOR_IDS, and only
  while getChatMember says, asked afresh for that command, that they are in the group. Everything agents
  do is audited with their id (by the services); a refused command is audited with who, what and why,
  answered in the topic with the reason, and changes nothing else.
* Every few seconds it also finds work on its own: topics to open, rows to deliver, hand-backs to finish,
  held conversations idle too long (back to the queue, with a note in the topic). With several replicas
  and workers, the sweep and the idle check each run in one process (leases, bot.services.leases), and a
  hand-over is served by one process at a time (a claim on it), so rows are posted and topics made once;
  a topic is recorded only where none is yet (handoff.set_topic), and a topic made in vain is deleted.
* Telegram's 400s are handled at once, never resent unchanged: a deleted topic is made again, a topic
  already as asked is fine, a row Telegram refuses is replaced by a short notice in the topic.

Needs the bot to be an admin of the group with the right to manage topics (admins see every message)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from pathlib import Path
from typing import Any, Optional

from telegram import Message, User
from telegram.error import BadRequest, TelegramError

from bot.replies import takeover as words
from bot.services import audit, handoff, leases
from bot.services.handoff import TO_TOPIC, TO_USER, HandoffView, MessageView
from connectors.handoff import HandoffHub
from connectors.telegram_messages import message_text, photo_source
from connectors.telegram_out import CleanBotTelegramOutput, not_modified, refused, split_text, topic_gone

logger = logging.getLogger(__name__)

MEMBER_STATUSES = {"creator", "owner", "administrator", "member"}
AGENT_COMMANDS = {"claim", "done", "note", "refund", "case", "help", "queue"}
SUPERVISOR_COMMANDS = {"refund", "case"}  # money and case states (a strike; the third closes a store)
REFUSED_ACTION = "telegram.command_refused"
SUPERVISOR_ONLY_KO = {
    "refund": "환불 승인과 거절은 책임자만 할 수 있어요. 책임자에게 요청해 주세요.",
    "case": "케이스 상태 변경은 책임자만 할 수 있어요. 책임자에게 요청해 주세요.",
}
MEMBERSHIP_UNKNOWN_KO = "지금은 상담원 그룹 멤버인지 확인할 수 없어서 실행하지 않았어요. 잠시 후 다시 해 주세요."
ROW_REFUSED_KO = "⚠️ 텔레그램이 받지 않는 메시지가 있어서 이 토픽에 옮기지 못했어요. ({error})"
# Leases: one sweep and one idle check across all replicas and workers; a claim per hand-over being served.
SWEEP_LEASE = "telegram-desk-sweep"
IDLE_LEASE = "handoff-idle"
WORK_CLAIM_SECONDS = 30.0
QUEUE_TOP = 10  # /queue shows this many; `cleanbot review queue` shows all
_RPT = re.compile(r"^RPT-\d{4}-\d{6}$", re.I)
_IPP = re.compile(r"^IPP-\d{4}-\d{6}$", re.I)


class TopicGone(Exception):
    """The topic was deleted (or Telegram no longer finds it): make a new one."""


def parse_command(text: str) -> tuple[Optional[str], str]:
    """'/refund@CleanBot approve RPT-…' → ('refund', 'approve RPT-…'); not a command → (None, text)."""
    text = (text or "").strip()
    if not text.startswith("/"):
        return None, text
    # Any whitespace ends the command: agents often put a note or a reason on the next line.
    head, *rest = text.split(maxsplit=1)
    return head[1:].split("@", 1)[0].lower(), rest[0].strip() if rest else ""


def _case_state(text: str) -> str:
    from bot.services.cases import STATE_KO

    # Agents type the Korean name with or without its space ("조치완료", "조치 완료").
    by_korean = {ko.replace(" ", ""): state for state, ko in STATE_KO.items()}
    return by_korean.get(text.replace(" ", ""), text.lower())


def _agent_name(user: User) -> str:
    return (user.full_name or user.username or str(user.id))[:100]


def _photo_bytes(path: Optional[str]) -> Optional[bytes]:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


class AgentDesk:
    def __init__(self, bot: Any, output: CleanBotTelegramOutput, chat_id: int, hub: HandoffHub,
                 allow_ids: frozenset[int] = frozenset(), cache_seconds: float = 60, interval: float = 2,
                 supervisor_ids: frozenset[int] = frozenset(), holder: Optional[str] = None):
        self.bot = bot
        self.output = output
        self.chat_id = int(chat_id)
        self.hub = hub
        self.allow_ids = frozenset(int(i) for i in allow_ids)
        self.supervisor_ids = frozenset(int(i) for i in supervisor_ids)
        self.cache_seconds = cache_seconds
        self.interval = interval
        self._locks: dict[int, asyncio.Lock] = {}
        self._members: dict[int, tuple[bool, float]] = {}
        self._tasks: list[asyncio.Task] = []
        self.holder = holder or leases.holder_id("desk")

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.hub.desk = self
        self._tasks = [
            asyncio.create_task(leases.run_with_lease(SWEEP_LEASE, self.sweep, self.interval, holder=self.holder),
                                name="telegram-agent-desk"),
            asyncio.create_task(leases.run_with_lease(IDLE_LEASE, self.release_idle, self.interval,
                                                      holder=self.holder), name="handoff-idle"),
        ]

    async def stop(self) -> None:
        if self.hub.desk is self:
            self.hub.desk = None
        for task in self._tasks:  # each gives its lease back as it ends
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def release_idle(self) -> None:
        for released in await asyncio.to_thread(handoff.release_idle):
            logger.info("hand-over #%s went back to the queue (idle)", released.id)

    async def sweep(self) -> None:
        for handoff_id in await asyncio.to_thread(handoff.needing_work):
            try:
                await self.work(handoff_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                logger.exception("agent desk: hand-over #%s could not be served now", handoff_id)

    def _lock(self, handoff_id: int) -> asyncio.Lock:
        lock = self._locks.get(handoff_id)
        if lock is None:
            lock = self._locks[handoff_id] = asyncio.Lock()
        return lock

    # ------------------------------------------------------------------ one hand-over's pending work

    async def work(self, handoff_id: int) -> None:
        """Opens its topic if needed, delivers what waits in both directions, finishes a hand-back.

        Skipped while another process serves the hand-over (a sweep there, or a message that came in
        there): what is left afterwards, the next sweep finds."""
        async with self._lock(handoff_id), \
                leases.holding(f"handoff-desk:{handoff_id}", self.holder, WORK_CLAIM_SECONDS, forget=True) as held:
            if held is None:
                return
            view = await asyncio.to_thread(handoff.get, handoff_id)
            if view is None:
                return
            if view.topic_id is None and view.is_open:
                await self._open_topic(view)
                view = await asyncio.to_thread(handoff.get, handoff_id)
            await self._flush_topic(view)
            if view.channel == "telegram":
                await self._flush_user(view)
            if view.state == "closed" and view.resumed_at is None:
                await self._resume(view)

    # ------------------------------------------------------------------ the topic

    async def _send(self, thread: int, text: str) -> None:
        for part in split_text(text):
            try:
                await self.bot.send_message(self.chat_id, part, message_thread_id=thread)
            except BadRequest as error:
                if topic_gone(error):
                    raise TopicGone(str(error)) from error
                raise

    async def _send_photo(self, thread: int, data: bytes, caption: Optional[str]) -> None:
        try:
            await self.bot.send_photo(self.chat_id, data, caption=(caption or None) and caption[:1024],
                                      message_thread_id=thread)
        except BadRequest as error:
            if topic_gone(error):
                raise TopicGone(str(error)) from error
            raise

    async def reply(self, thread: Optional[int], text: str) -> None:
        """An answer to an agent in their topic (or the General topic); failures are only logged."""
        try:
            for part in split_text(text):
                await self.bot.send_message(self.chat_id, part, message_thread_id=thread)
        except TelegramError as error:
            logger.warning("agent desk: could not answer in topic %s: %s", thread, error)

    async def _new_topic(self, view: HandoffView) -> int:
        topic = await self.bot.create_forum_topic(self.chat_id, words.topic_name(view))
        return topic.message_thread_id

    async def _drop_topic(self, thread: int) -> None:
        """Deletes a topic made in vain (another desk recorded its own first, or the history never got in)."""
        try:
            await self.bot.delete_forum_topic(self.chat_id, thread)
        except TelegramError as error:
            logger.warning("agent desk: could not delete the spare topic %s: %s", thread, error)

    async def _reopen(self, thread: int, view: HandoffView) -> bool:
        """Reopens the user's earlier topic; False if it is gone."""
        try:
            await self.bot.reopen_forum_topic(self.chat_id, thread)
        except BadRequest as error:
            if topic_gone(error):
                return False
            if not not_modified(error):  # already open is fine
                raise
        with contextlib.suppress(TelegramError):
            await self.bot.edit_forum_topic(self.chat_id, thread, name=words.topic_name(view))
        return True

    async def _open_topic(self, view: HandoffView) -> None:
        previous = await asyncio.to_thread(handoff.previous_topic, view.id)
        thread = previous if previous and await self._reopen(previous, view) else None
        created = thread is None
        if created:
            thread = await self._new_topic(view)
        # Known at once, so what agents write while the history is still being posted finds the hand-over;
        # recorded only if no other desk recorded one meanwhile, else that one is the topic.
        if not await self._record_topic(view, thread, None, created):
            return
        try:
            try:
                await self._post_history(view, thread)
            except TopicGone:
                if created:
                    raise
                fresh = await self._new_topic(view)  # reopened, yet Telegram no longer finds it
                if not await self._record_topic(view, fresh, thread, True):
                    return
                thread, created = fresh, True
                await self._post_history(view, thread)
        except BaseException:
            await asyncio.to_thread(handoff.set_topic, view.id, None, thread)  # the next round starts again
            if created:
                await self._drop_topic(thread)
            raise
        logger.info("hand-over #%s: topic %s %s", view.id, thread, "created" if created else "reopened")

    async def _record_topic(self, view: HandoffView, thread: int, previous: Optional[int], created: bool) -> bool:
        """Records `thread` as the hand-over's topic if it still has `previous`; False (and the topic we made
        deleted) if another desk's topic is recorded instead."""
        recorded = await asyncio.to_thread(handoff.set_topic, view.id, thread, previous)
        if recorded == thread:
            return True
        logger.info("hand-over #%s: topic %s was recorded elsewhere first; %s dropped", view.id, recorded, thread)
        if created:
            await self._drop_topic(thread)
        return False

    def _card(self, view: HandoffView) -> str:
        from bot.services import ipp, orders, reports
        from bot.settings import get_settings

        recent, mine, cases = [], [], []
        if view.customer_id:
            recent = orders.recent_orders(view.customer_id, limit=5)
            mine = reports.list_reports(customer_id=view.customer_id)[:5]
            seen = []
            for report in mine:
                if report.case_number not in seen:
                    seen.append(report.case_number)
            cases = [c for c in (ipp.case_detail(n) for n in seen[:5]) if c]
            cases = [summary for summary, _events in cases]
        if view.holder_brands:
            cases += ipp.list_visible_cases([h.brand_id for h in view.holder_brands], page_size=5).items
        opening = None
        if view.after_hours:
            settings = get_settings()
            hours = words.business_hours(settings.business_hours, settings.timezone)
            opening = words.next_opening_ko(hours, view.created_at) if hours else None
        return words.intro_card(view, recent, mine, cases, opening)

    async def _post_history(self, view: HandoffView, thread: int) -> None:
        """The topic's first messages: the card, the conversation before the hand-over, and everything
        said since (on a recreated topic too); the topic's pending rows count as delivered."""
        await self._send(thread, await asyncio.to_thread(self._card, view))
        entries = await self.hub.transcript(view.sender_id, before=view.created_at, handoff_id=view.id)
        await self._send(thread, words.transcript(entries))
        rows = await asyncio.to_thread(handoff.messages, view.id)
        lines: list[str] = []
        for row in rows:
            data = _photo_bytes(row.photo_path) if row.photo_sha256 else None
            if data is not None and row.direction in ("user", "agent"):
                if lines:
                    await self._send(thread, "\n".join(lines))
                    lines = []
                who = "👤 고객 사진" if row.direction == "user" else "🧑‍💼 상담원이 보낸 사진"
                await self._send_photo(thread, data, f"{who}{': ' + row.text if row.text else ''}")
            else:
                lines.append(words.history_line(row.direction, row.text, row.actor))
        if lines:
            await self._send(thread, "\n".join(lines))
        pending = [r.id for r in rows if r.direction in TO_TOPIC and r.delivered_at is None]
        await asyncio.to_thread(handoff.mark_delivered, pending)

    async def _post_row(self, thread: int, row: MessageView) -> None:
        if row.photo_sha256:
            data = _photo_bytes(row.photo_path)
            if data is not None:
                await self._send_photo(thread, data, "👤 고객 사진" + (f": {row.text}" if row.text else ""))
                return
        if row.direction == "user":
            await self._send(thread, words.relayed_user_text(row.text))
        else:
            await self._send(thread, row.text)

    async def _flush_topic(self, view: HandoffView) -> None:
        rows = await asyncio.to_thread(handoff.pending_messages, view.id, TO_TOPIC)
        if not rows:
            return
        if view.topic_id is None:
            if not view.is_open:  # closed before it had a topic: nowhere to post
                await asyncio.to_thread(handoff.mark_delivered, [r.id for r in rows])
            return
        for row in rows:
            try:
                await self._post_row(view.topic_id, row)
            except TopicGone:
                logger.warning("hand-over #%s: topic %s is gone; making a new one", view.id, view.topic_id)
                await asyncio.to_thread(handoff.set_topic, view.id, None, view.topic_id)
                fresh = await asyncio.to_thread(handoff.get, view.id)
                if fresh.is_open:
                    if fresh.topic_id is None:  # else another desk made the new one already
                        await self._open_topic(fresh)  # its history carries these rows
                else:
                    await asyncio.to_thread(handoff.mark_delivered, [r.id for r in rows])
                return
            except TelegramError as error:
                if refused(error):  # sent again it fails again: a notice takes its place, and on we go
                    logger.warning("hand-over #%s: Telegram refused message %s for the topic; dropped: %s",
                                   view.id, row.id, error)
                    with contextlib.suppress(TopicGone, TelegramError):
                        await self._send(view.topic_id, ROW_REFUSED_KO.format(error=error))
                    await asyncio.to_thread(handoff.mark_delivered, row.id)
                    continue
                await asyncio.to_thread(handoff.mark_failed, row.id, f"{type(error).__name__}: {error}")
                logger.warning("hand-over #%s: posting to the topic failed: %s", view.id, error)
                return  # keep the order: try again with this row
            await asyncio.to_thread(handoff.mark_delivered, row.id)

    # ------------------------------------------------------------------ the user (Telegram)

    async def _deliver(self, view: HandoffView, row: MessageView) -> None:
        data = _photo_bytes(row.photo_path) if row.photo_sha256 else None
        if data is not None:
            await self.bot.send_photo(int(view.sender_id), data, caption=(row.text or None) and row.text[:1024])
        elif row.text or row.buttons:
            await self.output.deliver_text(view.sender_id, row.text, row.buttons)

    async def _flush_user(self, view: HandoffView) -> None:
        for row in await asyncio.to_thread(handoff.pending_messages, view.id, TO_USER):
            try:
                await self._deliver(view, row)
            except TelegramError as error:
                final = refused(error)  # blocked by the user, chat gone: sent again it fails again
                attempts = await asyncio.to_thread(handoff.mark_failed, row.id, f"{type(error).__name__}: {error}",
                                                   final)
                logger.warning("hand-over #%s: delivery to the user failed (%s%s): %s", view.id, attempts,
                               ", given up" if final else "", error)
                if (attempts == 1 or final) and view.topic_id:
                    notice = words.delivery_refused_ko(str(error)) if final else words.delivery_failed_ko(str(error))
                    with contextlib.suppress(TopicGone, TelegramError):
                        await self._send(view.topic_id, notice)
                if final:
                    continue  # the rows after it may still reach the user (a photo refused, a text fine)
                return
            await asyncio.to_thread(handoff.mark_delivered, row.id)

    # ------------------------------------------------------------------ handing back

    async def _resume(self, view: HandoffView) -> None:
        rating = view.agent_message_count > 0 and view.close_reason != "cancelled"
        if view.close_reason == "cancelled":
            text, buttons = words.CANCELLED_KO, None
        elif rating:
            text, buttons = words.RATING_PROMPT_KO, words.rating_buttons()
        else:
            text, buttons = words.HANDED_BACK_KO, None
        if not await self.hub.resume(view.sender_id, view.id, text, buttons):
            logger.info("hand-over #%s: Rasa is not ready; handing back later", view.id)
            return
        delivered = False
        if view.channel == "telegram":
            try:
                await self.output.deliver_text(view.sender_id, text, buttons)
                delivered = True
            except TelegramError as error:  # the row stays undelivered and is retried
                logger.warning("hand-over #%s: the hand-back message failed: %s", view.id, error)
        await asyncio.to_thread(handoff.mark_resumed, view.id, text, buttons, delivered)
        if view.topic_id:
            who = view.closed_by or "-"
            with contextlib.suppress(TopicGone, TelegramError):
                await self._send(view.topic_id, words.done_ko(who, view.close_reason or "done", rating))
            if view.close_reason != "topic_closed":
                with contextlib.suppress(TelegramError):
                    await self.bot.close_forum_topic(self.chat_id, view.topic_id)

    # ------------------------------------------------------------------ who is an agent

    async def is_agent(self, user: User) -> bool:
        return user.id in self.allow_ids or bool(await self._member(user.id))

    async def _member(self, user_id: int, fresh: bool = False) -> Optional[bool]:
        """Whether the user is in the agents' group now; None when Telegram could not say (not cached).
        fresh: ask Telegram even if a cached answer is still valid; the answer refreshes the cache."""
        now = time.monotonic()
        cached = self._members.get(user_id)
        if not fresh and cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await self.bot.get_chat_member(self.chat_id, user_id)
            status = str(getattr(member, "status", "")).lower()
            ok = status in MEMBER_STATUSES or (status == "restricted" and bool(getattr(member, "is_member", False)))
        except BadRequest:  # e.g. "user not found": not a member
            ok = False
        except TelegramError as error:
            logger.warning("agent desk: getChatMember failed for %s: %s", user_id, error)
            return None  # not cached: asked again next time
        if len(self._members) > 5000:
            self._members.clear()
        self._members[user_id] = (ok, now + self.cache_seconds)
        return ok

    async def _refusal(self, user: User, command: Optional[str]) -> Optional[str]:
        """Why the user may not do this (None: they may). A supervisor's /refund or /case asks Telegram
        afresh, so one who has left the group is refused at once; TELEGRAM_AGENT_IDS do not stand in
        for that membership."""
        if command in SUPERVISOR_COMMANDS and user.id in self.supervisor_ids:
            member = await self._member(user.id, fresh=True)
            return None if member else ("membership_unknown" if member is None else "not_member")
        if not await self.is_agent(user):
            return "not_member"
        return "not_supervisor" if command in SUPERVISOR_COMMANDS else None

    async def _refuse(self, thread: Optional[int], user: User, command: str, args: str, reason: str) -> None:
        """Audits the refused command (who, what, why) and tells the agent why and what to do."""
        try:
            await asyncio.to_thread(audit.record_alone, handoff.agent_actor(user.id), REFUSED_ACTION,
                                    f"/{command}"[:100], {"command": command, "args": args[:200],
                                                          "reason": reason, "thread": thread})
        except Exception:  # noqa: BLE001 - the refusal stands; the agent is still told
            logger.exception("agent desk: could not audit a refused /%s by %s", command, user.id)
        if reason == "not_supervisor":
            await self.reply(thread, SUPERVISOR_ONLY_KO[command])
        elif reason == "membership_unknown":
            await self.reply(thread, MEMBERSHIP_UNKNOWN_KO)
        else:
            await self.reply(thread, words.NOT_AN_AGENT_KO)

    # ------------------------------------------------------------------ what happens in the group

    async def handle_group(self, messages: list[Message]) -> None:
        first = messages[0]
        user = first.from_user
        if user is None or user.is_bot:
            return
        thread = first.message_thread_id if first.is_topic_message else None
        if first.forum_topic_closed is not None:
            if thread is not None and await self.is_agent(user):
                await self._hand_back(thread, user, "topic_closed", quiet=True)
            return
        if first.forum_topic_created or first.forum_topic_reopened or first.forum_topic_edited:
            return
        text = message_text(messages)
        command, args = parse_command(text)

        sources = [s for s in (photo_source(m) for m in messages) if s is not None]
        if not command and not text and not sources:
            return
        refusal = await self._refusal(user, command)
        if refusal is not None:
            # Refused before anything is looked up or changed; only the refusal of a command is written.
            if command:
                await self._refuse(thread, user, command, args, refusal)
            elif thread is not None:
                await self.reply(thread, words.NOT_AN_AGENT_MESSAGE_KO)
            return
        if command == "refund":
            await self._refund(thread, user, args)
        elif command == "case":
            await self._case(thread, user, args)
        elif command == "help":
            await self.reply(thread, words.COMMANDS_KO)
        elif command == "queue":
            await self._queue(thread)
        elif command is not None and command not in AGENT_COMMANDS:
            await self.reply(thread, words.UNKNOWN_COMMAND_KO)
        else:
            view = await asyncio.to_thread(handoff.by_topic, thread) if thread is not None else None
            if view is None:
                if command is not None:
                    await self.reply(thread, words.NO_HANDOFF_KO)
                return  # agents talking among themselves
            if command == "claim":
                await self._claim(thread, user, view)
            elif command == "done":
                await self._hand_back(thread, user, "done")
            elif command == "note":
                await self._note(thread, user, view, args)
            else:
                await self._relay(thread, user, view, text, sources)

    async def _claim(self, thread: int, user: User, view: HandoffView) -> None:
        result = await asyncio.to_thread(handoff.claim, view.id, user.id, _agent_name(user))
        if result.status == "claimed":
            await self.reply(thread, words.claimed_ko(_agent_name(user)))
            await self.work(view.id)
        elif result.status == "already_yours":
            await self.reply(thread, "이미 맡고 계신 상담이에요. 이 토픽에 쓰시는 글이 고객에게 전달돼요.")
        elif result.status == "held_by_other":
            await self.reply(thread, words.held_by_other_ko(result.handoff.agent_name))
        else:
            await self.reply(thread, words.CLOSED_KO)

    async def _hand_back(self, thread: int, user: User, reason: str, quiet: bool = False) -> None:
        view = await asyncio.to_thread(handoff.by_topic, thread)
        if view is None:
            if not quiet:
                await self.reply(thread, words.NO_HANDOFF_KO)
            return
        closed, now_closed = await asyncio.to_thread(
            handoff.close, view.id, handoff.agent_actor(user.id), reason, _agent_name(user))
        if not now_closed:
            if not quiet:
                await self.reply(thread, "이미 끝난 상담이에요. 고객은 클린봇과 대화하고 있어요.")
            return
        await self.work(closed.id)

    async def _note(self, thread: int, user: User, view: HandoffView, text: str) -> None:
        try:
            await asyncio.to_thread(handoff.add_note, view.id, user.id, text)
        except handoff.HandoffError as error:
            await self.reply(thread, error.message_ko)
            return
        await self.reply(thread, words.NOTE_SAVED_KO)

    async def _download(self, file_id: str) -> Optional[bytes]:
        try:
            file = await self.bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())
        except TelegramError as error:
            logger.warning("agent desk: could not download %s: %s", file_id, error)
            return None

    async def _relay(self, thread: int, user: User, view: HandoffView, text: str,
                     sources: list[tuple[str, Optional[int]]]) -> None:
        from bot.services.photos import accept_bytes_async

        shas: list[str] = []
        failed = False
        for file_id, _size in sources:
            data = await self._download(file_id)
            if data is None:
                failed = True
                continue
            accepted = await accept_bytes_async([data])
            shas += accepted.ids
            failed = failed or bool(accepted.errors_ko)
        if failed:
            await self.reply(thread, words.PHOTO_FAILED_KO)
        if not text and not shas:
            return
        name = _agent_name(user)
        parts = [(text, shas[0] if shas else None)] + [("", sha) for sha in shas[1:]]
        claimed = False
        for part_text, sha in parts:
            said = await asyncio.to_thread(handoff.agent_says, view.id, user.id, name, part_text, sha)
            if said.status == "closed":
                await self.reply(thread, words.CLOSED_KO)
                return
            if said.status == "held_by_other":
                await self.reply(thread, words.held_by_other_ko(said.handoff.agent_name))
                return
            claimed = claimed or said.claimed
            await self.hub.record_agent_message(view.sender_id, view.id, part_text, sha)
        if claimed:
            await self.reply(thread, words.claimed_ko(name))
        await self.work(view.id)

    async def _refund(self, thread: Optional[int], user: User, args: str) -> None:
        from bot.services import reports

        parts = args.split(maxsplit=2)
        if len(parts) < 2 or parts[0].lower() not in ("approve", "reject", "승인", "거절") or not _RPT.match(parts[1]):
            await self.reply(thread, words.REFUND_USAGE_KO)
            return
        approve = parts[0].lower() in ("approve", "승인")
        reason = parts[2].strip() if len(parts) > 2 else None
        if not approve and not reason:
            await self.reply(thread, words.REFUND_REASON_KO)
            return
        try:
            report = await asyncio.to_thread(reports.decide_held_refund, parts[1].upper(), approve,
                                             handoff.agent_actor(user.id), reason)
        except reports.ReportActionError as error:
            await self.reply(thread, error.message_ko)
            return
        await self.reply(thread, words.refund_done_ko(report, approve, reason))

    async def _queue(self, thread: Optional[int]) -> None:
        """The review queue's first ten by risk, with the reasons (bot/services/screening.py)."""
        from bot.replies.screening import desk_queue_ko
        from bot.services import screening

        items = await asyncio.to_thread(screening.review_queue)
        await self.reply(thread, desk_queue_ko(items[:QUEUE_TOP], len(items)))

    async def _case(self, thread: Optional[int], user: User, args: str) -> None:
        from bot.services import ipp

        parts = args.split(maxsplit=2)
        if len(parts) < 2 or not _IPP.match(parts[0]):
            await self.reply(thread, words.CASE_USAGE_KO)
            return
        note = parts[2].strip() if len(parts) > 2 else None
        try:
            summary = await asyncio.to_thread(ipp.set_status, parts[0].upper(), _case_state(parts[1]), note,
                                              handoff.agent_actor(user.id))
        except ipp.CaseActionError as error:
            await self.reply(thread, error.message_ko)
            return
        await self.reply(thread, words.case_done_ko(summary))
