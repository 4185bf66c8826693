"""What every door (REST, socket.io, Telegram) checks before a message reaches Rasa.

- who: a signed identity (bot.server.auth) bound on the server; in demo mode REST also takes an unsigned sender;
- what: text must be a string, NUL characters removed (PostgreSQL refuses them), long text cut;
  client metadata keeps only what a client may send (`photos`): ids the server sets (`photo_ids`,
  `photo_errors`, ...) are never taken from a client;
- how often: a per-sender message rate (shared by every server through Redis when configured),
  answered politely in Korean.
"""
from __future__ import annotations

import asyncio
import logging
import math
import secrets
import threading
import time
import weakref
from collections import deque
from typing import Any, Optional

from bot.server.auth import AuthError, Identity, Refused, bearer_token, bind_sender, valid_subject, verify
from bot.settings import get_settings

logger = logging.getLogger(__name__)

MAX_TEXT = 10_000
# The only metadata a client may send; everything else in metadata is set by the server.
CLIENT_METADATA_KEYS = frozenset({"photos"})


class DoorError(Refused):
    """A request refused at a door (size, format, rate), with the seconds to wait where that helps."""

    def __init__(self, status: int, code: str, message_ko: str, retry_after: Optional[int] = None,
                 first: bool = True):
        super().__init__(status, code, message_ko)
        self.retry_after = retry_after
        # False for the second and later refusals of one flood: push channels answer only the first.
        self.first = first


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

    One process's count: used without Redis (one server), and by every process while Redis is away."""

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
                raise rate_refusal(wait, first)
            self._told.discard(sender)
            times.append(now)

    def _forget_idle(self, now: float) -> None:
        for sender in [s for s, t in self._seen.items() if not t or t[-1] <= now - self.window]:
            del self._seen[sender]
            self._told.discard(sender)


def rate_refusal(wait_seconds: int, first: bool) -> DoorError:
    return DoorError(429, "rate_limited", RATE_KO.format(seconds=wait_seconds), retry_after=wait_seconds,
                     first=first)


# KEYS: the sender's message times (a sorted set, scored in ms of Redis's own clock, so servers' clocks never
# matter), the "already told" flag. ARGV: window ms, limit, a random part for the member.
# Returns {1} when counted, {0, ms to wait, 1 if this is the first refusal since the last accepted message}.
RATE_LUA = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  local first = redis.call('SET', KEYS[2], '1', 'NX', 'PX', window)
  return {0, oldest + window - now_ms, first and 1 or 0}
end
redis.call('ZADD', KEYS[1], now_ms, now[1] .. now[2] .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
redis.call('DEL', KEYS[2])
return {1}
"""


class RedisSenderRateLimit:
    """The same sliding window shared by every worker and replica through Redis (one Lua script per message,
    atomic on the Redis server). If Redis cannot be reached the process's own count applies meanwhile: a
    Redis hiccup must not refuse every shopper."""

    def __init__(self, url: str, limit: int, window: float = 60.0, key_prefix: str = "cleanbot:rate:"):
        self.url, self.limit, self.window, self.key_prefix = url, limit, window, key_prefix
        self.local = SenderRateLimit(limit, window)
        # redis.asyncio connections belong to the event loop that opened them (one per Sanic worker).
        self._scripts: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()

    def _script(self) -> Any:
        loop = asyncio.get_running_loop()
        script = self._scripts.get(loop)
        if script is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
            script = self._scripts[loop] = client.register_script(RATE_LUA)
        return script

    async def check(self, sender: str) -> None:
        if self.limit <= 0:
            return
        key = f"{self.key_prefix}{sender}"
        try:
            result = await self._script()(keys=[key, key + ":told"],
                                          args=[int(self.window * 1000), self.limit, secrets.token_hex(4)])
        except Exception as error:  # noqa: BLE001 - redis.RedisError, OSError, timeouts
            logger.warning("message rate: Redis unavailable (%s); counting in this process", error)
            self.local.check(sender)
            return
        if int(result[0]) == 0:
            raise rate_refusal(max(1, math.ceil(int(result[1]) / 1000)), bool(int(result[2])))


_limits: dict[tuple, Any] = {}


def rate_limit() -> Any:
    """The limiter for the configured rate and Redis (a new one when the settings change, as in tests)."""
    settings = get_settings()
    key = (settings.messages_per_minute, settings.redis_url)
    if key not in _limits:
        _limits[key] = (RedisSenderRateLimit(settings.redis_url, settings.messages_per_minute)
                        if settings.redis_url else SenderRateLimit(settings.messages_per_minute))
    return _limits[key]


async def check_rate(sender: str) -> None:
    """Counts one message of `sender` (across all servers when Redis is configured); DoorError(429) when
    the sender is over CLEANBOT_MESSAGES_PER_MINUTE."""
    limiter = rate_limit()
    if isinstance(limiter, RedisSenderRateLimit):
        await limiter.check(sender)
    else:
        limiter.check(sender)


def refusal_json(error: Exception) -> tuple[dict, int, dict]:
    """(body, status, headers) for a refused REST request."""
    headers = {}
    if isinstance(error, DoorError) and error.retry_after:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Refused):
        if isinstance(error, AuthError) and error.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="cleanbot"'
        return error.as_json(), error.status, headers
    raise error
