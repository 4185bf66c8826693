"""What every door (REST, socket.io, Telegram) checks before a message reaches Rasa.

- who: a signed identity (bot.auth) bound on the server; in demo mode REST also takes an unsigned sender;
- what: text must be a string, NUL characters removed (PostgreSQL refuses them), long text cut;
  client metadata keeps only what a client may send (`photos`): ids the server sets (`photo_ids`,
  `photo_errors`, ...) are never taken from a client;
- how often: a per-sender message rate, answered politely in Korean.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any, Optional

from bot.auth import AuthError, Identity, bearer_token, bind_sender, valid_subject, verify
from bot.settings import get_settings

MAX_TEXT = 10_000
# The only metadata a client may send; everything else in metadata is set by the server.
CLIENT_METADATA_KEYS = frozenset({"photos"})


class DoorError(Exception):
    """A refused request: HTTP status, a machine-readable code and what to tell the person."""

    def __init__(self, status: int, code: str, message_ko: str, retry_after: Optional[int] = None,
                 first: bool = True):
        super().__init__(code)
        self.status, self.code, self.message_ko, self.retry_after = status, code, message_ko, retry_after
        # False for the second and later refusals of one flood: push channels answer only the first.
        self.first = first

    def as_json(self) -> dict:
        return {"error": self.message_ko, "code": self.code}


NOT_TEXT_KO = "message는 문자열이어야 해요. 보낼 내용을 글자로 넣어 주세요."
SENDER_KO = "sender가 올바르지 않아요. {limit}자 이하의 고객 ID를 넣어 주세요."
NO_SENDER_KO = "sender가 필요해요. 요청 본문에 sender(고객 ID)를 넣거나 로그인 토큰을 보내 주세요."
RATE_KO = "메시지를 너무 빨리 보내고 있어요. {seconds}초 뒤에 다시 보내 주세요."


def clean_text(text: str) -> str:
    """Text as Rasa should see it: no NUL characters, trimmed, at most MAX_TEXT characters."""
    return text.replace("\x00", "").strip()[:MAX_TEXT]


def message_text(value: Any) -> str:
    """A client's `message` field: a string (or nothing, for a photo-only message)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DoorError(400, "message_not_string", NOT_TEXT_KO)
    return clean_text(value)


def client_metadata(value: Any) -> dict:
    """The part of a client's metadata it may set; anything else is dropped, never trusted."""
    if not isinstance(value, dict):
        return {}
    return {key: value[key] for key in CLIENT_METADATA_KEYS if key in value}


def check_sender(sender: Any) -> str:
    """An unsigned sender id (demo REST only): a printable string of at most CLEANBOT_MAX_SENDER_LENGTH."""
    settings = get_settings()
    if sender is None or sender == "":
        raise DoorError(400, "sender_missing", NO_SENDER_KO)
    # Never repaired (a NUL removed or space trimmed could make it someone else's id): refused.
    if not valid_subject(sender, settings):
        raise DoorError(400, "sender_invalid", SENDER_KO.format(limit=settings.max_sender_length))
    return sender


def identify(authorization: Optional[str], claimed_sender: Any) -> tuple[str, Optional[Identity]]:
    """The conversation id of a REST request.

    With a bearer token (always in production): its subject, and a different body `sender` is refused
    (403). Without one, in demo mode only: the body's `sender`, unsigned. Raises AuthError or DoorError."""
    settings = get_settings()
    token = bearer_token(authorization)
    if token is None and not settings.is_production:
        return check_sender(claimed_sender), None
    identity = verify(token, settings)
    claimed = claimed_sender if isinstance(claimed_sender, str) else None
    if claimed_sender is not None and claimed is None:
        raise DoorError(400, "sender_invalid", SENDER_KO.format(limit=settings.max_sender_length))
    return bind_sender(identity, claimed), identity


class SenderRateLimit:
    """At most `limit` messages per sender in any `window` seconds (a sliding window, in memory).

    Per process: with several servers each enforces its own share (docs/security.md)."""

    def __init__(self, limit: int, window: float = 60.0, max_senders: int = 100_000):
        self.limit, self.window, self.max_senders = limit, window, max_senders
        self._seen: dict[str, deque] = {}
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def check(self, sender: str, now: Optional[float] = None) -> None:
        """Counts one message; raises DoorError(429) when the sender is over the limit."""
        if self.limit <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._seen.get(sender)
            if times is None:
                if len(self._seen) >= self.max_senders:
                    self._forget_idle(now)
                times = self._seen[sender] = deque()
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                wait = max(1, math.ceil(times[0] + self.window - now))
                first = sender not in self._told
                self._told.add(sender)
                raise DoorError(429, "rate_limited", RATE_KO.format(seconds=wait), retry_after=wait, first=first)
            self._told.discard(sender)
            times.append(now)

    def _forget_idle(self, now: float) -> None:
        for sender in [s for s, t in self._seen.items() if not t or t[-1] <= now - self.window]:
            del self._seen[sender]
            self._told.discard(sender)


_limits: dict[int, SenderRateLimit] = {}


def rate_limit() -> SenderRateLimit:
    """The process's limiter for the configured rate (a new one when the setting changes, as in tests)."""
    limit = get_settings().messages_per_minute
    if limit not in _limits:
        _limits[limit] = SenderRateLimit(limit)
    return _limits[limit]


def refusal_json(error: Exception) -> tuple[dict, int, dict]:
    """(body, status, headers) for a refused REST request."""
    headers = {}
    if isinstance(error, DoorError) and error.retry_after:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, (AuthError, DoorError)):
        if isinstance(error, AuthError) and error.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="cleanbot"'
        return error.as_json(), error.status, headers
    raise error
