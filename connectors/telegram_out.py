"""Sending to Telegram: message splitting, inline keyboards, the rate limiter, the Rasa output channel.

Limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): about 30
messages per second overall and one per second in a chat. Every request python-telegram-bot makes goes
through `CleanBotRateLimiter`, so replies, pushed status updates and typing actions share one budget;
a `RetryAfter` (HTTP 429) pauses all sending for the time Telegram asks and then retries the request.

Errors by kind: only what can succeed later is retried here — 429 after its `retry_after`, 5xx and
connection failures, and timeouts of requests that cannot have done anything twice. A 400 (`BadRequest`)
is raised at once for the caller to handle (`topic_gone`, `not_modified`) or drop (`refused`): in
python-telegram-bot 22 `BadRequest` and `TimedOut` are subclasses of `NetworkError`, so they are told
apart before the network case.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import timedelta
from typing import Any, Callable, Coroutine, Iterable, Optional

import httpx
from rasa.core.channels.channel import OutputChannel
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import HTTPXRequest

logger = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
logging.getLogger("httpx").setLevel(logging.WARNING)

MAX_MESSAGE = 4096  # Telegram counts UTF-16 code units
MAX_CAPTION = 1024

# Requests that put a message into a chat count against the per-chat limit.
_CHAT_LIMITED_PREFIXES = ("send", "copyMessage", "forwardMessage")
_NOT_CHAT_LIMITED = {"sendChatAction"}
# Requests that make something new: after a timeout it may exist already, so they are not sent again.
_CREATING_PREFIXES = _CHAT_LIMITED_PREFIXES + ("createForumTopic",)

# What Telegram's 400 descriptions say (lower-cased substrings).
_THREAD_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid", "thread not found",
                "topic not found")
_NOT_MODIFIED = ("topic_not_modified", "topic not modified", "message is not modified")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _hard_split(line: str, limit: int) -> list[str]:
    """A single line longer than the limit: cut at the last space before it, else anywhere."""
    parts: list[str] = []
    while utf16_len(line) > limit:
        # largest prefix that fits
        cut, size = 0, 0
        for i, ch in enumerate(line):
            size += 2 if ord(ch) > 0xFFFF else 1
            if size > limit:
                break
            cut = i + 1
        space = line.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space + 1
        parts.append(line[:cut])
        line = line[cut:]
    if line:
        parts.append(line)
    return parts


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Splits a reply into messages of at most `limit` characters, at line boundaries when possible.

    Joining the parts with newlines gives the text back (lines longer than the limit are cut at a space)."""
    text = (text or "").strip("\n")
    if not text:
        return []
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        pieces = _hard_split(line, limit) if utf16_len(line) > limit else [line]
        for piece in pieces:
            extra = utf16_len(piece) + (1 if current else 0)
            if current and size + extra > limit:
                chunks.append("\n".join(current))
                current, size = [], 0
                extra = utf16_len(piece)
            current.append(piece)
            size += extra
    if current:
        chunks.append("\n".join(current))
    return [c for c in chunks if c.strip()]


def keyboard_rows(buttons: list[dict[str, Any]], callback_data: Callable[[str], str]) -> list[list[InlineKeyboardButton]]:
    """Rasa buttons as inline keyboard rows: short answers side by side, anything longer one per row."""
    made: list[InlineKeyboardButton] = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "").strip()[:120] or "선택"
        if button.get("url"):
            made.append(InlineKeyboardButton(title, url=button["url"]))
        else:
            made.append(InlineKeyboardButton(title, callback_data=callback_data(str(button.get("payload") or title))))
    if len(made) <= 3 and sum(len(b.text) for b in made) <= 24:
        return [made]
    return [[b] for b in made]


# ---------------------------------------------------------------- errors by kind


def topic_gone(error: TelegramError) -> bool:
    """A 400 saying the forum topic was deleted (or never existed): make a new one."""
    return isinstance(error, BadRequest) and any(m in str(error).lower() for m in _THREAD_GONE)


def not_modified(error: TelegramError) -> bool:
    """A 400 saying the topic or message already is as asked: nothing to do."""
    return isinstance(error, BadRequest) and any(m in str(error).lower() for m in _NOT_MODIFIED)


def refused(error: BaseException) -> bool:
    """Telegram understood the request and refuses it (400, or 403: blocked by the user, not in the chat):
    sent again unchanged it fails the same way."""
    return isinstance(error, (BadRequest, Forbidden))


def may_have_arrived(error: TimedOut, endpoint: str) -> bool:
    """Whether a timed-out request may have made its message or topic anyway. Connect and pool timeouts
    never reached Telegram; reading the answer of a sendMessage did."""
    if isinstance(error.__cause__, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return False
    return endpoint.startswith(_CREATING_PREFIXES) and endpoint not in _NOT_CHAT_LIMITED


# ---------------------------------------------------------------- rate limiting


def retry_after_seconds(error: RetryAfter) -> float:
    # The private timedelta, as PTB's own AIORateLimiter reads it: the public attribute warns in PTB 22.
    value = getattr(error, "_retry_after", None)
    if not isinstance(value, timedelta):
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class CleanBotRateLimiter(BaseRateLimiter[int]):
    """≤ `overall_per_second` requests in any second, ≤ `chat_per_second` messages per chat, and
    Telegram's `retry_after` honoured (everything waits, then the request is tried again).

    The limits hold where Telegram measures them, whatever the network does: a request counts from
    when it starts until a window after it *finished*, and a chat's next message starts a second after
    the previous one finished (the server saw that one before it answered)."""

    MARGIN = 0.02

    def __init__(self, overall_per_second: int = 30, chat_per_second: int = 1, max_retries: int = 5,
                 network_retries: int = 2, network_backoff: float = 1.0):
        self.overall_max = max(1, overall_per_second)
        self.window = 1.0 + self.MARGIN
        self.chat_interval = 1.0 / max(1, chat_per_second) + self.MARGIN
        self.max_retries = max_retries
        self.network_retries = network_retries
        self.network_backoff = network_backoff
        self._finished: deque[float] = deque()  # when recent requests finished, oldest first
        self._in_flight = 0
        self._overall_lock: Optional[asyncio.Lock] = None
        self._chat_locks: dict[int | str, asyncio.Lock] = {}
        self._chat_last: dict[int | str, float] = {}  # when the chat's last message went out
        self._paused_until = 0.0

    async def initialize(self) -> None:
        self._overall_lock = asyncio.Lock()

    async def shutdown(self) -> None:
        self._chat_locks.clear()
        self._chat_last.clear()

    async def _wait_for_chat(self, chat_id: int | str) -> None:
        """Called holding the chat's lock: waits until a second has passed since its last message."""
        wait = self._chat_last.get(chat_id, -1e9) + self.chat_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def _chat_lock(self, chat_id: int | str) -> asyncio.Lock:
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            if len(self._chat_locks) > 10_000:  # forget idle chats
                now = time.monotonic()
                for key in [k for k, l in self._chat_locks.items()
                            if not l.locked() and now - self._chat_last.get(k, 0.0) > self.chat_interval]:
                    self._chat_locks.pop(key, None)
                    self._chat_last.pop(key, None)
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        return lock

    async def _acquire_overall(self) -> None:
        if self._overall_lock is None:
            self._overall_lock = asyncio.Lock()
        async with self._overall_lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                while self._finished and now - self._finished[0] >= self.window:
                    self._finished.popleft()
                if len(self._finished) + self._in_flight < self.overall_max:
                    self._in_flight += 1
                    return
                await asyncio.sleep(self.window - (now - self._finished[0]) if self._finished else 0.005)

    def _release_overall(self) -> None:
        self._in_flight -= 1
        self._finished.append(time.monotonic())

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Optional[int],
    ) -> Any:
        chat_id = data.get("chat_id")
        per_chat = (chat_id is not None and endpoint.startswith(_CHAT_LIMITED_PREFIXES)
                    and endpoint not in _NOT_CHAT_LIMITED)
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        if per_chat:
            # Held through retries too, so a chat's messages keep their order.
            async with self._chat_lock(chat_id):
                return await self._attempts(callback, args, kwargs, endpoint, retries, chat_id)
        return await self._attempts(callback, args, kwargs, endpoint, retries, None)

    async def _attempts(self, callback, args, kwargs, endpoint: str, retries: int, chat_id) -> Any:
        network_failures = 0
        attempt = 0
        while True:
            if chat_id is not None:
                await self._wait_for_chat(chat_id)
            await self._acquire_overall()
            try:
                try:
                    return await callback(*args, **kwargs)
                finally:
                    self._release_overall()
                    if chat_id is not None:
                        self._chat_last[chat_id] = time.monotonic()
            except RetryAfter as error:
                attempt += 1
                wait = retry_after_seconds(error)
                if attempt > retries:
                    logger.error("Telegram %s: still rate limited after %d retries", endpoint, retries)
                    raise
                logger.info("Telegram asked to wait %.1fs (%s); retrying", wait, endpoint)
                self._paused_until = max(self._paused_until, time.monotonic() + wait)
            except BadRequest:
                raise  # a 400 comes back the same however often it is sent: the caller handles it at once
            except NetworkError as error:
                # 5xx, connection failures, timeouts: Telegram did not take the request; try again a little later.
                if isinstance(error, TimedOut) and may_have_arrived(error, endpoint):
                    raise  # the message may be in the chat already: a retry could send it twice
                network_failures += 1
                if network_failures > self.network_retries:
                    raise
                logger.warning("Telegram %s failed (%s); retry %d", endpoint, error, network_failures)
                await asyncio.sleep(self.network_backoff * network_failures)


def api_base_url(value: str) -> str:
    """TELEGRAM_API_BASE_URL as python-telegram-bot wants it (ends in /bot, the token is appended)."""
    value = value.rstrip("/")
    return value if "{token}" in value or value.endswith("/bot") else value + "/bot"


def file_base_url(value: str) -> str:
    value = value.rstrip("/")
    return value if "{token}" in value or value.endswith("/file/bot") else value + "/file/bot"


def make_bot(token: str, api_base: str, file_base: str, limiter: Optional[CleanBotRateLimiter] = None,
             poll_timeout: float = 30) -> ExtBot:
    return ExtBot(
        token=token,
        base_url=api_base_url(api_base),
        base_file_url=file_base_url(file_base),
        rate_limiter=limiter,
        request=HTTPXRequest(connection_pool_size=64, read_timeout=20, write_timeout=20, connect_timeout=10,
                             pool_timeout=30, media_write_timeout=60),
        get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=10, connect_timeout=10,
                                         pool_timeout=poll_timeout + 10),
    )


# ---------------------------------------------------------------- the Rasa output channel


class CleanBotTelegramOutput(OutputChannel):
    """Rasa's messages to a Telegram chat (the recipient id is the Telegram user id of a private chat).

    Failures are logged, not raised, so a conversation's state is saved even when Telegram is down;
    `deliver_text` (used for pushed status updates) raises, so the outbox can retry."""

    def __init__(self, bot: ExtBot, callback_data: Callable[[str], str]):
        self.bot = bot
        self._callback_data = callback_data

    @classmethod
    def name(cls) -> str:
        return "telegram"

    async def _markup(self, buttons: Optional[list[dict[str, Any]]]) -> Optional[InlineKeyboardMarkup]:
        if not buttons:
            return None
        rows = await asyncio.to_thread(keyboard_rows, buttons, self._callback_data)
        return InlineKeyboardMarkup(rows)

    async def deliver_text(self, recipient_id: str | int, text: str,
                           buttons: Optional[list[dict[str, Any]]] = None) -> list[int]:
        """Sends a text (split as needed; buttons on the last part). Raises if Telegram refuses."""
        chat_id = int(recipient_id)
        parts = split_text(text) or (["아래에서 골라 주세요."] if buttons else [])
        markup = await self._markup(buttons)
        sent: list[int] = []
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            message = await self.bot.send_message(chat_id, part, reply_markup=markup if last else None)
            sent.append(message.message_id)
        return sent

    async def _safely(self, what: str, recipient_id: str, coroutine) -> None:
        try:
            await coroutine
        except TelegramError as error:
            logger.error("Telegram %s to %s failed: %s", what, recipient_id, error)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._safely("message", recipient_id, self.deliver_text(recipient_id, text))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self._safely("buttons", recipient_id, self.deliver_text(recipient_id, text, buttons))

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]],
                                 **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._safely("photo", recipient_id, self.bot.send_photo(int(recipient_id), image))

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_elements(self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any) -> None:
        for element in elements:
            text = "\n".join(filter(None, [element.get("title"), element.get("subtitle")]))
            await self.send_text_with_buttons(recipient_id, text, element.get("buttons") or [])

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """Custom payloads: {"text": …, "buttons": […]} or {"photo": url, "caption": …}; others are ignored."""
        if json_message.get("photo"):
            caption = str(json_message.get("caption") or "")[:MAX_CAPTION] or None
            await self._safely("photo", recipient_id,
                               self.bot.send_photo(int(recipient_id), json_message["photo"], caption=caption))
        elif json_message.get("text"):
            await self.send_text_with_buttons(recipient_id, str(json_message["text"]), json_message.get("buttons") or [])
        else:
            logger.info("Telegram: custom message without text or photo ignored: %s", list(json_message))

    async def typing(self, chat_id: int | str) -> None:
        try:
            await self.bot.send_chat_action(int(chat_id), ChatAction.TYPING)
        except TelegramError as error:
            logger.debug("typing action failed: %s", error)
