"""The Telegram channel (python-telegram-bot 22), in place of Rasa's built-in one.

Inbound, by webhook (`POST /webhooks/telegram/webhook`, only with the configured
`X-Telegram-Bot-Api-Secret-Token`) or by long polling when no webhook URL is set (by one process of all
replicas and workers: the holder of the "telegram-poll" lease, bot.services.leases; the push loop likewise):

* every update is recorded in the database when it is received (bot.services.telegram.record_update,
  with its payload) and marked handled afterwards: a second delivery of the same update_id is skipped —
  across restarts and replicas — and one received but never handled (the process died or was stopped
  in between) is handled again, once, by the next process to look (at its start and every
  RESUME_SECONDS): each process holds a "telegram-alive" lease while it runs, and only the updates of a
  process whose lease is gone are taken up (polling and webhook alike);
* updates are handled one after another per chat, in the background (the webhook answers at once);
* text, photos (largest size; images sent as files too) with their caption as one message, albums as
  one message, inline-button taps (always answered, then handled as the button's payload), and
  `/start <token>` deep links that link the Telegram account to a marketplace customer once;
  edited messages, stickers, voice and the like get a short Korean answer of what the bot can take;
* photos go through bot.services.photos.accept_bytes, and Rasa sees `metadata.photo_ids` and
  `metadata.photo_errors` exactly as on the REST channel (a photo without caption is "/send_photo");
* only private chats are served; the sender id is the Telegram user id — except the agents' group
  (TELEGRAM_AGENT_CHAT_ID), whose topics are the agents' workspace (connectors/telegram_desk.py);
* every message goes through the hand-over gate (connectors/handoff.py): while agents hold the
  conversation Rasa records it without answering, and it is copied into the agents' topic.

Outbound (connectors/telegram_out.py): replies split at 4,096 characters, buttons as inline keyboards,
a typing action while Rasa works, rate limits with `retry_after` honoured; and, in the background,
case status updates from the outbox (bot.services.notifier.push_due) marked delivered only after
Telegram accepted them.

Configured in credentials.yml (`connectors.telegram.CleanBotTelegramInput:`); any key not given there
comes from the TELEGRAM_* settings (bot/settings.py)."""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Message, Update
from telegram.error import BadRequest, Conflict, InvalidToken, TelegramError

from bot.replies.korean import josa
from bot.services import leases
from bot.services import telegram as tg
from connectors.doors import MAX_TEXT, DoorError, check_rate, clean_text
from connectors.rest import PHOTO_ONLY_TEXT
from connectors.telegram_messages import message_text, photo_source
from connectors.telegram_out import CleanBotRateLimiter, CleanBotTelegramOutput, make_bot, refused

logger = logging.getLogger(__name__)

# Telegram's Bot API serves files up to 20 MB to bots (getFile).
TELEGRAM_FILE_LIMIT = 20 * 1024 * 1024
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
MEDIA_GROUP_WAIT = 1.2  # seconds to wait for the rest of an album
WORKER_IDLE = 60.0
# Leases (bot.services.leases): one poller and one pusher across all replicas and workers.
POLL_LEASE = "telegram-poll"
PUSH_LEASE = "telegram-push"
# How often a running process looks for updates left unfinished by a replica that died.
RESUME_SECONDS = 15.0


async def _nothing() -> None:
    return None

# Agents' commands (connectors/telegram_desk.py): refused in private chats.
AGENT_ONLY_COMMANDS = {"claim", "done", "note", "refund", "case"}
# Telegram commands that mean something to the dialogue.
COMMANDS = {"start": "/greet", "help": "/greet", "menu": "/greet", "cancel": "/stop", "stop": "/stop"}

UNSUPPORTED_KO = {
    "sticker": "스티커",
    "voice": "음성 메시지",
    "audio": "오디오 파일",
    "video": "동영상",
    "video_note": "동영상 메시지",
    "animation": "움직이는 이미지(GIF)",
    "location": "위치",
    "venue": "장소",
    "contact": "연락처",
    "poll": "투표",
    "dice": "주사위",
    "game": "게임",
    "story": "스토리",
    "document": "파일",
}
CAN_TAKE_KO = "글이나 사진(JPG·PNG·WebP)으로 보내 주세요."
EDITED_KO = "메시지를 수정하셔도 이미 받은 내용은 바뀌지 않아요. 고치실 내용이 있으면 새 메시지로 보내 주세요."
PRIVATE_ONLY_KO = "클린봇은 1:1 대화에서만 도와드려요. 저를 눌러 개인 대화로 말씀해 주세요."
STALE_BUTTON_KO = "이 버튼은 더 이상 쓸 수 없어요. 메시지로 다시 말씀해 주세요."
SORRY_KO = "죄송해요, 잠시 문제가 생겨서 답을 드리지 못했어요. 잠시 후 다시 말씀해 주세요."
DOWNLOAD_FAILED_KO = "사진을 받아 오지 못했어요. 잠시 후 다시 보내 주세요."

LINK_KO = {
    "linked": "{name}님, 마켓플레이스 계정이 텔레그램에 연결됐어요. 이제 여기서 가품 신고와 환불 신청을 바로 하실 수 있어요.",
    "already_linked": "{name}님 계정은 이미 이 텔레그램에 연결되어 있어요.",
    "invalid": "연결 링크가 올바르지 않아요. 마켓플레이스 앱의 [텔레그램 연결] 메뉴에서 새 링크를 받아 다시 눌러 주세요.",
    "expired": "연결 링크의 유효 기간이 지났어요. 마켓플레이스 앱의 [텔레그램 연결] 메뉴에서 새 링크를 받아 주세요.",
    "used": "이미 사용된 연결 링크예요. 링크는 한 번만 쓸 수 있어요. 마켓플레이스 앱에서 새 링크를 받아 주세요.",
    "linked_elsewhere": (
        "이 텔레그램 계정은 이미 다른 마켓플레이스 계정에 연결되어 있어요. "
        "연결을 바꾸시려면 '상담원 연결'이라고 말씀해 주세요."
    ),
}


def _format_mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f}MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)}KB"


def too_big_ko(size: Optional[int], position: Optional[int] = None) -> str:
    which = f"{position}번째 사진이" if position else "사진이"
    shown = f"({_format_mb(size)})" if size else ""
    return (f"{which} 너무 커요{shown}. 텔레그램으로는 20MB까지만 받을 수 있어요. "
            "크기를 줄이거나 다른 사진으로 다시 보내 주세요.")


def unsupported_ko(kind: str) -> str:
    return f"죄송해요, {josa(UNSUPPORTED_KO.get(kind, '이런 메시지'), '은/는')} 아직 받을 수 없어요. {CAN_TAKE_KO}"


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TelegramConfig:
    token: str
    webhook_secret: str = ""
    webhook_url: str = ""
    api_base_url: str = "https://api.telegram.org/bot"
    file_base_url: str = "https://api.telegram.org/file/bot"
    max_per_second: int = 30
    chat_per_second: int = 1
    push_interval_seconds: float = 5
    poll_timeout_seconds: int = 30
    push: bool = True
    agent_chat_id: int = 0  # the agents' supergroup with topics; 0 = no human takeover
    agent_ids: frozenset = frozenset()
    supervisor_ids: frozenset = frozenset()  # may run /refund and /case in the agents' group
    agent_cache_seconds: float = 60
    desk_interval_seconds: float = 2

    @property
    def polling(self) -> bool:
        return not self.webhook_url

    @classmethod
    def load(cls, credentials: Optional[dict[str, Any]] = None) -> "TelegramConfig":
        """credentials.yml keys first, then the TELEGRAM_* settings."""
        from bot.settings import get_settings

        s = get_settings()
        c = {k: v for k, v in (credentials or {}).items() if v is not None and v != ""}
        return cls(
            token=str(c.get("access_token", s.telegram_bot_token)),
            webhook_secret=str(c.get("webhook_secret", s.telegram_webhook_secret)),
            webhook_url=str(c.get("webhook_url", s.telegram_webhook_url)),
            api_base_url=str(c.get("api_base_url", s.telegram_api_base_url)),
            file_base_url=str(c.get("file_base_url", s.telegram_file_base_url)),
            max_per_second=int(c.get("max_per_second", s.telegram_max_per_second)),
            chat_per_second=int(c.get("chat_per_second", s.telegram_chat_per_second)),
            push_interval_seconds=float(c.get("push_interval_seconds", s.telegram_push_interval_seconds)),
            poll_timeout_seconds=int(c.get("poll_timeout_seconds", s.telegram_poll_timeout_seconds)),
            push=str(c.get("push", "true")).lower() not in ("false", "0", "no"),
            agent_chat_id=int(c.get("agent_chat_id", s.telegram_agent_chat_id)),
            agent_ids=_id_set(c.get("agent_ids", s.telegram_agent_ids)),
            supervisor_ids=_id_set(c.get("supervisor_ids", s.telegram_supervisor_ids)),
            agent_cache_seconds=float(c.get("agent_cache_seconds", s.telegram_agent_cache_seconds)),
            desk_interval_seconds=float(c.get("desk_interval_seconds", s.handoff_interval_seconds)),
        )


def _id_set(value: Any) -> frozenset:
    """Telegram user ids from "1, 2,3" (an env var) or a YAML list."""
    parts = value if isinstance(value, (list, tuple, set, frozenset)) else str(value).split(",")
    return frozenset(int(str(part).strip()) for part in parts if str(part).strip())


def secret_ok(expected: str, given: Optional[str]) -> bool:
    """The webhook secret check: no configured secret means no request is accepted."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def update_kind(update: Update) -> str:
    data = update.to_dict()
    return next((k for k in data if k != "update_id"), "unknown")


def _chat_id(update: Update) -> Optional[int]:
    chat = update.effective_chat
    if chat is not None:
        return chat.id
    user = update.effective_user
    return user.id if user is not None else None


def _media_group(update: Update) -> Optional[str]:
    message = update.message
    return message.media_group_id if message is not None else None


def command_text(text: str) -> str:
    """A Telegram command as the dialogue should see it: /start → /greet, /foo@CleanBot bar → foo bar."""
    head, _, rest = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    if name in COMMANDS and not rest.strip():
        return COMMANDS[name]
    return " ".join(filter(None, [name.replace("_", " "), rest.strip()])) or "/greet"


def _unsupported_kind(message: Message) -> Optional[str]:
    for kind in ("sticker", "voice", "audio", "video", "video_note", "animation", "location", "venue", "contact",
                 "poll", "dice", "game", "story"):
        if getattr(message, kind, None):
            return kind
    document = message.document
    if document is not None and not (document.mime_type or "").startswith("image/"):
        return "document"
    return None


# ---------------------------------------------------------------- the runtime


class TelegramRuntime:
    """Everything that lives while the Rasa server runs: the bot, the per-chat workers, the poller and
    the push loop. Independent of Sanic so it can be driven directly in tests."""

    def __init__(self, config: TelegramConfig, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                 input_channel: str = "telegram"):
        self.config = config
        self.on_new_message = on_new_message
        self.input_channel = input_channel
        self.limiter = CleanBotRateLimiter(config.max_per_second, config.chat_per_second)
        self.bot = make_bot(config.token, config.api_base_url, config.file_base_url, self.limiter,
                            poll_timeout=config.poll_timeout_seconds)
        self.output = CleanBotTelegramOutput(self.bot, tg.callback_data_for)
        self.desk = None
        if config.agent_chat_id:
            from connectors.handoff import hub
            from connectors.telegram_desk import AgentDesk

            self.desk = AgentDesk(self.bot, self.output, config.agent_chat_id, hub, config.agent_ids,
                                  config.agent_cache_seconds, config.desk_interval_seconds,
                                  supervisor_ids=config.supervisor_ids)
        self.ready = asyncio.Event() if _has_loop() else None
        self._queues: dict[int, asyncio.Queue] = {}
        self._workers: dict[int, asyncio.Task] = {}
        self._tasks: list[asyncio.Task] = []
        self._handling = 0  # update groups being handled right now
        self._stopping = False
        # Polling and pushing run in one process of all replicas and workers: the holder of their lease.
        self.holder = leases.holder_id("telegram")
        self._poll_offset: Optional[int] = None
        self._poll_delay = 1.0
        self._webhook_cleared = False
        self._push_rounds = 0

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self.ready is None:
            self.ready = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._run(), name="telegram-main"))

    async def _run(self) -> None:
        delay = 1.0
        while not self._stopping:
            try:
                await self.bot.initialize()
                break
            except InvalidToken:
                logger.error("Telegram: the bot token was refused (TELEGRAM_BOT_TOKEN). The channel stays off.")
                return
            except TelegramError as error:
                logger.warning("Telegram: cannot reach the Bot API (%s); retrying in %.0fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
        if self._stopping:
            return
        logger.info("Telegram: @%s in %s mode", self.bot.username, "polling" if self.config.polling else "webhook")
        # Alive (its updates are its own) before it takes anything in; then held by a leased loop whose job
        # has nothing to do: the lease is the point.
        alive = tg.ALIVE_PREFIX + self.holder
        with contextlib.suppress(Exception):  # the database away: the loop below keeps asking
            await asyncio.to_thread(leases.acquire, alive, self.holder, leases.DEFAULT_TTL_SECONDS)
        self._tasks.append(asyncio.create_task(
            leases.run_with_lease(alive, _nothing, 3600, holder=self.holder),
            name="telegram-alive"))
        await self.resume_unfinished()  # before anything new is taken in, so each chat keeps its order
        self._tasks.append(asyncio.create_task(
            leases.run_periodically(self.resume_unfinished, RESUME_SECONDS, "telegram-resume"), name="telegram-resume"))
        if self.config.polling:
            self._tasks.append(asyncio.create_task(
                leases.run_with_lease(POLL_LEASE, self.poll_once, 0, holder=self.holder), name="telegram-poll"))
        else:
            await self._register_webhook()
        if self.config.push:
            self._tasks.append(asyncio.create_task(
                leases.run_with_lease(PUSH_LEASE, self.push_round, self.config.push_interval_seconds,
                                      holder=self.holder), name="telegram-push"))
        if self.desk is not None:
            self.desk.start()
            logger.info("Telegram: agents' group %s is the hand-over workspace", self.config.agent_chat_id)
        self.ready.set()

    async def _register_webhook(self) -> None:
        if not self.config.webhook_secret:
            logger.error("Telegram: TELEGRAM_WEBHOOK_URL is set but TELEGRAM_WEBHOOK_SECRET is not; "
                         "every webhook request will be refused. Set a secret and restart.")
            return
        try:
            await self.bot.set_webhook(self.config.webhook_url, secret_token=self.config.webhook_secret,
                                       allowed_updates=ALLOWED_UPDATES)
        except TelegramError as error:
            logger.error("Telegram: setWebhook %s failed: %s", self.config.webhook_url, error)

    async def stop(self, drain_seconds: float = 15) -> None:
        """Stops taking updates in, lets the chats finish what they already accepted, then stops."""
        self._stopping = True
        if self.desk is not None:
            await self.desk.stop()
        for task in self._tasks:  # the leased loops give their leases back as they end: no wait for expiry
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_seconds
        while (self._handling or any(not q.empty() for q in self._queues.values())) and loop.time() < deadline:
            await asyncio.sleep(0.1)
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

    @property
    def accepting(self) -> bool:
        return self.ready is not None and self.ready.is_set() and not self._stopping

    # -------------------------------------------------------------- taking updates in

    async def accept(self, update: Update) -> bool:
        """Records the update (with its payload) and queues it for its chat; False if it was seen before."""
        first = await asyncio.to_thread(tg.record_update, update.update_id, update_kind(update), _chat_id(update),
                                        update.to_dict(), self.holder)
        if not first:
            logger.info("Telegram: update %s was delivered again; skipped", update.update_id)
            return False
        self._enqueue(update)
        return True

    def _enqueue(self, update: Update) -> None:
        chat_id = _chat_id(update)
        key = chat_id if chat_id is not None else -update.update_id
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._workers[key] = asyncio.create_task(self._work(key, queue), name=f"telegram-chat-{key}")
        queue.put_nowait(update)

    async def resume_unfinished(self) -> int:
        """Queues again the updates a process that is gone received but never finished handling (it crashed,
        or stopped before its queues drained). Their rows stay: a redelivery is still a duplicate."""
        try:
            payloads = await asyncio.to_thread(tg.take_unfinished, self.holder)
        except Exception:  # noqa: BLE001 - they stay unfinished and are taken up at the next start
            logger.exception("Telegram: could not look for unfinished updates")
            return 0
        for data in payloads:
            try:
                update = Update.de_json(data, self.bot)
            except Exception:  # noqa: BLE001 - an unreadable payload would fail every start
                logger.exception("Telegram: a stored update could not be read; skipped")
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(tg.mark_handled, [data.get("update_id")])
                continue
            self._enqueue(update)
        if payloads:
            logger.info("Telegram: %s unfinished update(s) from the last run are handled again", len(payloads))
        return len(payloads)

    async def accept_json(self, data: Any) -> bool:
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not a Telegram update")
        return await self.accept(Update.de_json(data, self.bot))

    async def poll_once(self) -> None:
        """One long poll, run again and again by the process holding the POLL_LEASE (two pollers of one bot
        would make Telegram answer 409 Conflict to both). The offset confirms what was recorded; after a
        take-over the new holder gets the unconfirmed rest again, and record_update skips what it has."""
        if not self._webhook_cleared:
            with contextlib.suppress(TelegramError):
                await self.bot.delete_webhook(drop_pending_updates=False)
            self._webhook_cleared = True
        try:
            updates = await self.bot.get_updates(offset=self._poll_offset, timeout=self.config.poll_timeout_seconds,
                                                 allowed_updates=ALLOWED_UPDATES)
            self._poll_delay = 1.0
        except Conflict as error:
            logger.warning("Telegram: getUpdates conflict (%s) — is a webhook or another poller active?", error)
            await self._poll_pause()
            return
        except TelegramError as error:
            logger.warning("Telegram: getUpdates failed (%s); retrying in %.0fs", error, self._poll_delay)
            await self._poll_pause()
            return
        for update in updates:
            try:
                # Shielded: if the lease is lost meanwhile, an update recorded as received is still queued
                # here (the next poller gets it again from Telegram and skips it as a duplicate).
                await asyncio.shield(self.accept(update))
            except Exception:  # the database is away: fetch this update again later
                logger.exception("Telegram: could not record update %s", update.update_id)
                await asyncio.sleep(self._poll_delay)
                return
            self._poll_offset = update.update_id + 1

    async def _poll_pause(self) -> None:
        await asyncio.sleep(self._poll_delay)
        self._poll_delay = min(self._poll_delay * 2, 30)

    # -------------------------------------------------------------- per-chat handling

    async def _work(self, key: int, queue: asyncio.Queue) -> None:
        carry: Optional[Update] = None
        try:
            while True:
                if carry is not None:
                    update, carry = carry, None
                else:
                    try:
                        update = await asyncio.wait_for(queue.get(), WORKER_IDLE)
                    except asyncio.TimeoutError:
                        if queue.empty():
                            break
                        continue
                group = [update]
                album = _media_group(update)
                if album:
                    while True:
                        try:
                            following = await asyncio.wait_for(queue.get(), MEDIA_GROUP_WAIT)
                        except asyncio.TimeoutError:
                            break
                        if _media_group(following) == album:
                            group.append(following)
                        else:
                            carry = following
                            break
                self._handling += 1
                try:
                    await self._handle_or_apologise(group)
                    # Not reached when cancelled mid-way (a stop): then it is handled again at the next start.
                    await self._mark_handled(group)
                finally:
                    self._handling -= 1
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]
                self._workers.pop(key, None)

    async def _handle_or_apologise(self, group: list[Update]) -> None:
        """A failure is answered with an apology and counts as handled: retrying it could answer twice."""
        update = group[0]
        try:
            await self.handle(group)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("Telegram: update %s failed", update.update_id)
            with contextlib.suppress(Exception):
                if update.effective_chat and update.effective_chat.type == "private":
                    await self.output.send_text_message(str(update.effective_chat.id), SORRY_KO)

    async def _mark_handled(self, group: list[Update]) -> None:
        try:
            await asyncio.to_thread(tg.mark_handled, [u.update_id for u in group])
        except Exception:  # noqa: BLE001 - left unfinished: handled again at the next start (at least once)
            logger.exception("Telegram: could not mark update %s handled", group[0].update_id)

    async def handle(self, group: list[Update]) -> None:
        first = group[0]
        if first.callback_query is not None:
            await self._handle_callback(first)
        elif first.edited_message is not None:
            if first.edited_message.chat.type == "private":
                await self.output.send_text_message(str(first.edited_message.chat.id), EDITED_KO)
        elif first.message is not None:
            await self._handle_messages([u.message for u in group if u.message is not None], first.update_id)

    async def _handle_callback(self, update: Update) -> None:
        query = update.callback_query
        message = query.message
        if self.desk is not None and message is not None and message.chat.id == self.desk.chat_id:
            with contextlib.suppress(TelegramError):  # no buttons of ours live in the agents' group
                await self.bot.answer_callback_query(query.id)
            return
        private = message is None or message.chat.type == "private"
        payload = await asyncio.to_thread(tg.payload_for, query.data) if private else None
        payload = clean_text(payload) if isinstance(payload, str) else None  # callback data comes from the client
        notice = None if payload else (STALE_BUTTON_KO if private else PRIVATE_ONLY_KO)
        try:
            await self.bot.answer_callback_query(query.id, text=notice)
        except TelegramError as error:
            logger.info("Telegram: answerCallbackQuery failed: %s", error)
        if not payload:
            return
        if message is not None:
            with contextlib.suppress(TelegramError):  # one tap per keyboard: the buttons go away
                await self.bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=message.message_id,
                                                         reply_markup=None)
        if not await self._within_rate(query.from_user.id):
            return
        await self._to_rasa(query.from_user.id, payload,
                            {"telegram": {"update_id": update.update_id, "callback": True}})

    async def _within_rate(self, sender: int) -> bool:
        """The per-sender message rate (connectors.doors): a flood is told once when to try again, then
        ignored until it slows down, so the bot does not flood back."""
        try:
            await check_rate(f"telegram:{sender}")
        except DoorError as refused:
            if refused.first:
                await self.output.send_text_message(str(sender), refused.message_ko)
            return False
        return True

    async def _handle_messages(self, messages: list[Message], update_id: int) -> None:
        first = messages[0]
        chat = first.chat
        if self.desk is not None and chat.id == self.desk.chat_id:
            await self.desk.handle_group(messages)
            return
        if chat.type != "private":
            if (first.text or "").startswith("/"):
                await self.output.send_text_message(str(chat.id), PRIVATE_ONLY_KO)
            return
        user = first.from_user
        if user is None or user.is_bot:
            return
        sender = user.id
        if not await self._within_rate(sender):
            return
        text = message_text(messages)

        if first.text and text.startswith("/start"):
            token = text.partition(" ")[2].strip()
            if token:
                result = await asyncio.to_thread(tg.redeem_link_token, token, sender)
                await self.output.send_text_message(str(sender),
                                                    LINK_KO[result.status].format(name=result.customer_name or ""))
                if result.status not in ("linked", "already_linked"):
                    return
            await self._to_rasa(sender, "/greet", {"telegram": {"update_id": update_id}})
            return

        notices: list[str] = []
        sources: list[tuple[str, Optional[int]]] = []
        for message in messages:
            kind = _unsupported_kind(message)
            source = photo_source(message)
            if source is not None:
                sources.append(source)
            elif kind is not None:
                notices.append(unsupported_ko(kind))

        blobs: list[bytes] = []
        for position, (file_id, size) in enumerate(sources, 1):
            shown = position if len(sources) > 1 else None
            if size is not None and size > TELEGRAM_FILE_LIMIT:
                notices.append(too_big_ko(size, shown))
                continue
            try:
                file = await self.bot.get_file(file_id)
                if file.file_size is not None and file.file_size > TELEGRAM_FILE_LIMIT:
                    notices.append(too_big_ko(file.file_size, shown))
                    continue
                blobs.append(bytes(await file.download_as_bytearray()))
            except BadRequest as error:
                if "too big" in str(error).lower():
                    notices.append(too_big_ko(size, shown))
                else:
                    logger.warning("Telegram: getFile %s refused: %s", file_id, error)
                    notices.append(DOWNLOAD_FAILED_KO)
            except TelegramError as error:
                logger.warning("Telegram: download of %s failed: %s", file_id, error)
                notices.append(DOWNLOAD_FAILED_KO)

        for notice in dict.fromkeys(notices):
            await self.output.send_text_message(str(sender), notice)

        if text.startswith("/") and text[1:].split(" ", 1)[0].split("@", 1)[0].lower() in AGENT_ONLY_COMMANDS:
            from bot.replies.takeover import AGENT_COMMAND_PRIVATE_KO

            await self.output.send_text_message(str(sender), AGENT_COMMAND_PRIVATE_KO)
            return

        metadata: dict[str, Any] = {"telegram": {"update_id": update_id, "message_id": first.message_id}}
        if blobs:
            from bot.services.photos import accept_bytes_async

            accepted = await accept_bytes_async(blobs)
            metadata["photo_ids"] = accepted.ids
            metadata["photo_errors"] = accepted.errors_ko
        if text.startswith("/"):
            text = command_text(text)
        text = text[:MAX_TEXT]
        if not text and blobs:
            text = PHOTO_ONLY_TEXT
        if not text:
            if not notices:  # e.g. a service message: nothing to answer
                logger.debug("Telegram: message %s has nothing to handle", first.message_id)
            return
        await self._to_rasa(sender, text, metadata)

    async def _to_rasa(self, sender: int, text: str, metadata: dict[str, Any]) -> None:
        from connectors.handoff import hub

        typing = None
        if not await self._handed_over(sender):  # while agents hold it, the bot does not "type"
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.output.typing(sender), 2)
            typing = asyncio.create_task(self._keep_typing(sender))
        try:
            await hub.handle(UserMessage(text, self.output, str(sender), input_channel=self.input_channel,
                                         metadata=metadata), self.on_new_message)
        finally:
            if typing is not None:
                typing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await typing

    async def _handed_over(self, sender: int) -> bool:
        if self.desk is None:
            return False
        from bot.services import handoff

        try:
            return await asyncio.to_thread(handoff.open_for, "telegram", str(sender)) is not None
        except Exception:  # noqa: BLE001 - the gate reports database trouble
            return False

    async def _keep_typing(self, chat_id: int) -> None:
        """Telegram shows "typing…" for five seconds; renewed while Rasa is still working."""
        while True:
            await asyncio.sleep(4.5)
            await self.output.typing(chat_id)

    # -------------------------------------------------------------- pushed status updates

    async def push_send(self, external_id: str, text: str, buttons: Optional[list] = None) -> None:
        """Sends one outbox message (with its buttons, if any); raises unless Telegram accepted it (the outbox
        then retries, or gives up at once when Telegram refused the message itself)."""
        from bot.services import notifier

        try:
            await self.output.deliver_text(external_id, text, buttons)
        except TelegramError as error:
            if refused(error):
                raise notifier.Undeliverable(str(error)) from error
            raise

    async def push_once(self) -> int:
        from bot.services import notifier

        return await notifier.push_due("telegram", self.push_send)

    async def push_round(self) -> int:
        """One round of the PUSH_LEASE loop; now and then it also forgets old update ids."""
        self._push_rounds += 1
        if self._push_rounds % 720 == 1:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(tg.purge_updates)
        return await self.push_once()


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


# ---------------------------------------------------------------- the Rasa input channel


class CleanBotTelegramInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "CleanBotTelegramInput":
        config = TelegramConfig.load(credentials)
        if not config.token:
            cls.raise_missing_credentials_exception()
        return cls(config)

    def __init__(self, config: TelegramConfig):
        self.config = config
        self.runtime: Optional[TelegramRuntime] = None

    def get_output_channel(self) -> Optional[CleanBotTelegramOutput]:
        """For messages the server sends on its own (e.g. /conversations/<id>/trigger_intent)."""
        return self.runtime.output if self.runtime is not None else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("cleanbot_telegram_webhook", __name__)

        @webhook.listener("after_server_start")
        async def start(_app, _loop) -> None:
            from connectors.handoff import hub

            hub.attach(_app)
            self.runtime = TelegramRuntime(self.config, on_new_message, input_channel=self.name())
            await self.runtime.start()

        @webhook.listener("before_server_stop")
        async def stop(_app, _loop) -> None:
            if self.runtime is not None:
                await self.runtime.stop()

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            ready = self.runtime is not None and self.runtime.accepting
            return response.json({"status": "ok" if ready else "unavailable",
                                  "mode": "polling" if self.config.polling else "webhook"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not secret_ok(self.config.webhook_secret, request.headers.get("X-Telegram-Bot-Api-Secret-Token")):
                return response.json({"error": "forbidden"}, status=403)
            runtime = self.runtime
            if runtime is None or not runtime.accepting:
                return response.json({"error": "unavailable"}, status=503)  # Telegram delivers it again later
            try:
                body = request.json
            except Exception:
                body = None
            try:
                fresh = await runtime.accept_json(body)
            except ValueError:
                return response.json({"error": "not a Telegram update"}, status=400)
            except Exception:
                logger.exception("Telegram: could not take an update in")
                return response.json({"error": "try again"}, status=500)
            return response.json({"ok": True, "duplicate": not fresh})

        return webhook


__all__ = ["CleanBotTelegramInput", "TelegramConfig", "TelegramRuntime", "secret_ok", "command_text"]
