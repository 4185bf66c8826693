"""Conversation locks: Rasa handles one message of a conversation at a time, on any server.

Rasa takes a conversation's lock around every message (and around the HTTP API's tracker changes). Its
`RedisLockStore` keeps one JSON lock per conversation and updates it by get-modify-set, so two servers
taking a ticket at the same moment can both get the same number and both go in, and a release can
overwrite a ticket issued meanwhile (rasa#9213). Rasa's fix, `ConcurrentRedisLockStore` (PR #11256,
reverted), numbers tickets with an atomic INCR and stores each ticket under its own key with an expiry —
but finds them with KEYS (a scan of all of Redis), gives them an expiry of decades (`ex` set to an absolute
time), and its release, once it sees nobody waiting, deletes every key of the conversation — a ticket
issued in between too.

`RedisTicketLockStore` does that, with every step a Lua script so each is atomic on the Redis server:

* issue: INCR the conversation's counter, SET the ticket's key (a random token, expiring), ZADD its number
  to the conversation's queue;
* turn: the queue's lowest number whose key still exists is served; numbers whose key expired (their
  holder or waiter died) are dropped on the way. The caller's own ticket (and the counter and queue) is
  extended, since the caller is evidently alive;
* release: delete the ticket (only if it still carries our token) and its number, and wake the next in
  line (a push to the list its BLPOP waits on), so a conversation passes between servers in a round trip.

Unlike Rasa's, a ticket's expiry is not the longest a message may take: a live holder extends it while it
works (`ticket_seconds`, default 10 s), so a killed server frees its conversations within seconds while a
slow action server never lets a second message in. Rasa's `lock_lifetime` (TICKET_LOCK_LIFETIME, 60 s)
stays the longest a message waits for its turn. Waiters are woken, not left to Rasa's 1 s polling; they
look by themselves every 250 ms only in case the holder died.

Only `lock()` is used by Rasa (agent, processor, HTTP API) and by connectors/handoff.py; the get/save/
delete primitives of Rasa's JSON lock have no meaning here.

endpoints.yml names `ProjectLockStore`: the Redis lock when CLEANBOT_REDIS_URL is set, Rasa's in-memory one
(one process only) otherwise. Rasa allows several Sanic workers for any custom lock store type, so
`worker_problem` refuses SANIC_WORKERS > 1 without Redis (bot/server/rasa_server.py)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
import weakref
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping, Optional

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

DEFAULT_TICKET_SECONDS = 10.0
DEFAULT_KEY_PREFIX = "cleanbot:lock:"
# A waiter is woken by the release before it; it also looks on its own this often, for a holder that died.
CHECK_SECONDS = 0.25
SOCKET_TIMEOUT_SECONDS = 10.0

# Shared by the scripts below. KEYS: the counter, the queue. ARGV start with the ticket key prefix.
# head(): the first number in line whose ticket still exists; numbers whose ticket expired (their holder
# or waiter died) are dropped on the way. turn(): 1 (the caller's turn), 0 (someone alive is ahead) or -1
# (the caller's ticket is gone: it expired, so its number may even belong to someone else by now).
_COMMON_LUA = """
local function head(queue, tickets)
  while true do
    local first = redis.call('ZRANGE', queue, 0, 0)[1]
    if not first or redis.call('EXISTS', tickets .. first) == 1 then return first end
    redis.call('ZREM', queue, first)
  end
end

local function turn(counter, queue, tickets, number, token, ttl)
  if redis.call('GET', tickets .. number) ~= token or not redis.call('ZSCORE', queue, number) then
    return -1
  end
  redis.call('PEXPIRE', tickets .. number, ttl)
  for _, key in ipairs({counter, queue}) do
    -- never shorter than any live ticket: a reset counter would hand out numbers already in use
    if redis.call('PTTL', key) < tonumber(ttl) then redis.call('PEXPIRE', key, ttl) end
  end
  if head(queue, tickets) == number then return 1 end
  return 0
end
"""

# ARGV: prefix, token, ttl ms. Returns {number, turn}.
ISSUE_LUA = _COMMON_LUA + """
local number = string.format('%d', redis.call('INCR', KEYS[1]))
redis.call('SET', ARGV[1] .. number, ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], number, number)
return {number, turn(KEYS[1], KEYS[2], ARGV[1], number, ARGV[2], ARGV[3])}
"""

# ARGV: prefix, number, token, ttl ms.
TURN_LUA = _COMMON_LUA + """
return turn(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
"""

# ARGV: prefix, number, token, ttl ms. Wakes the next in line at once (it waits in BLPOP on its wake key)
# rather than leaving it to notice on its next poll.
RELEASE_LUA = _COMMON_LUA + """
if redis.call('GET', ARGV[1] .. ARGV[2]) == ARGV[3] then
  redis.call('DEL', ARGV[1] .. ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
local following = head(KEYS[2], ARGV[1])
if following then
  redis.call('RPUSH', ARGV[1] .. following .. ':w', '1')
  redis.call('PEXPIRE', ARGV[1] .. following .. ':w', ARGV[4])
else
  redis.call('DEL', KEYS[1])  -- nobody in line: numbering starts again (an empty queue is no key)
end
return 1
"""

MINE, WAITING, LOST = 1, 0, -1


@dataclass(frozen=True)
class RedisTicket:
    conversation_id: str
    number: str
    token: str
    keys: tuple[str, str]  # the counter, the queue
    ticket_prefix: str


class RedisTicketLockStore(LockStore):
    """Ticket locks in Redis, safe between processes and servers (see the module docstring)."""

    def __init__(self, url: str, ticket_seconds: float = DEFAULT_TICKET_SECONDS,
                 key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self.url = url
        self.ticket_ms = max(1, int(float(ticket_seconds) * 1000))
        self.key_prefix = key_prefix
        # One client per event loop: redis.asyncio connections belong to the loop that opened them
        # (one loop per Sanic worker; tests run several).
        self._clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()
        super().__init__()

    # ------------------------------------------------------------------ Redis

    def _scripts(self) -> Any:
        loop = asyncio.get_running_loop()
        scripts = self._clients.get(loop)
        if scripts is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(self.url, socket_timeout=SOCKET_TIMEOUT_SECONDS)
            scripts = self._clients[loop] = _Scripts(client)
        return scripts

    def _names(self, conversation_id: str) -> tuple[tuple[str, str], str]:
        # Keys end in ':n', ':q', ':t:<number>' or ':t:<number>:w' (a waiter's wake-up list): whatever the
        # conversation id holds, no two conversations' keys can meet.
        base = f"{self.key_prefix}{conversation_id}"
        return (f"{base}:n", f"{base}:q"), f"{base}:t:"

    async def issue(self, conversation_id: str) -> tuple[RedisTicket, int]:
        """A new ticket at the end of the conversation's line, and whether it is already its turn."""
        keys, ticket_prefix = self._names(conversation_id)
        token = secrets.token_hex(8)
        number, state = await self._scripts().issue(keys=keys, args=[ticket_prefix, token, self.ticket_ms])
        return RedisTicket(conversation_id, number.decode(), token, keys, ticket_prefix), int(state)

    async def turn(self, ticket: RedisTicket) -> int:
        """MINE, WAITING or LOST; keeps the ticket alive."""
        return int(await self._scripts().turn(
            keys=ticket.keys, args=[ticket.ticket_prefix, ticket.number, ticket.token, self.ticket_ms]))

    async def release(self, ticket: RedisTicket) -> None:
        await self._scripts().release(
            keys=ticket.keys, args=[ticket.ticket_prefix, ticket.number, ticket.token, self.ticket_ms])

    async def waiting(self, conversation_id: str) -> list[int]:
        """Numbers in the conversation's line, served first first (for tests and diagnosis)."""
        keys, _ = self._names(conversation_id)
        return [int(n) for n in await self._scripts().client.zrange(keys[1], 0, -1)]

    # ------------------------------------------------------------------ Rasa's interface

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncIterator[TicketLock]:
        """Waits for the conversation's turn (at most `lock_lifetime` seconds), holds it alive while the
        caller works, releases it. `wait_time_in_seconds` (Rasa's poll interval) is unused: waiters are woken."""
        deadline = time.monotonic() + lock_lifetime
        ticket, state = await self._issue(conversation_id)
        try:
            if state != MINE:
                ticket = await self._wait(ticket, deadline)
            keeper = asyncio.create_task(self._keep_alive(ticket))
            try:
                yield TicketLock(conversation_id, deque([Ticket(int(ticket.number), time.time() + lock_lifetime)]))
            finally:
                keeper.cancel()
        finally:
            try:
                await self.release(ticket)
            except Exception:  # noqa: BLE001 - unreleased, the ticket expires by itself
                logger.exception("Could not release the lock of conversation '%s'", conversation_id)

    async def _issue(self, conversation_id: str) -> tuple[RedisTicket, int]:
        try:
            return await self.issue(conversation_id)
        except Exception as error:  # noqa: BLE001 - Rasa expects LockError when no lock can be had
            raise LockError(f"Could not take a ticket for conversation '{conversation_id}': {error}") from error

    async def _wait(self, ticket: RedisTicket, deadline: float) -> RedisTicket:
        """Waits for `ticket`'s turn until `deadline` (monotonic); returns the ticket that has it.

        A process that stalls longer than ticket_seconds while waiting (an overloaded machine, a cold start)
        finds its ticket expired: it takes a new one at the end of the line rather than failing the message.
        A Redis call that times out meanwhile is tried again, never turned into an error for the user."""
        taken = [ticket]  # the ticket we stand in line with now (a new one after an expiry)
        try:
            return await self._wait_in_line(taken, deadline)
        except BaseException:
            if taken[-1] is not ticket:  # the caller releases only the first one
                with contextlib.suppress(Exception):
                    await self.release(taken[-1])
            raise

    async def _wait_in_line(self, taken: list, deadline: float) -> RedisTicket:
        ticket = taken[-1]
        # Also often enough to keep the waiting ticket alive.
        check = min(CHECK_SECONDS, self.ticket_ms / 3000)
        client = self._scripts().client
        while True:
            try:
                await client.blpop([f"{ticket.ticket_prefix}{ticket.number}:w"], timeout=check)
                state = await self.turn(ticket)
            except (asyncio.CancelledError, LockError):
                raise
            except Exception as error:  # noqa: BLE001 - redis.TimeoutError, ConnectionError: Redis or we stalled
                logger.warning("Waiting for conversation '%s': %s; trying again", ticket.conversation_id, error)
                state = WAITING
                await asyncio.sleep(check)
            if state == MINE:
                return ticket
            if time.monotonic() > deadline:
                raise LockError(f"Could not acquire lock for conversation_id '{ticket.conversation_id}'.")
            if state == LOST:
                logger.warning("The waiting ticket of conversation '%s' expired (this process stalled); "
                               "taking a new one", ticket.conversation_id)
                ticket, state = await self._issue(ticket.conversation_id)
                taken.append(ticket)
                if state == MINE:
                    return ticket

    async def _keep_alive(self, ticket: RedisTicket) -> None:
        while True:
            await asyncio.sleep(self.ticket_ms / 3000)
            try:
                if await self.turn(ticket) == LOST:
                    # Only if this process stalled longer than ticket_seconds: another message may be in.
                    logger.error("The lock of conversation '%s' expired while held.", ticket.conversation_id)
                    return
            except Exception:  # noqa: BLE001 - Redis away for a moment: try again next round
                logger.exception("Could not extend the lock of conversation '%s'", ticket.conversation_id)


class _Scripts:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.issue = client.register_script(ISSUE_LUA)
        self.turn = client.register_script(TURN_LUA)
        self.release = client.register_script(RELEASE_LUA)


class LocalLockStore(InMemoryLockStore):
    """Rasa's in-memory lock (one process), polled every 10 ms rather than every second."""

    LOCAL_POLL_SECONDS = 0.01

    def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1):
        return super().lock(conversation_id, lock_lifetime, min(wait_time_in_seconds, self.LOCAL_POLL_SECONDS))


def sanic_workers(environ: Mapping[str, str]) -> int:
    try:
        return int(environ.get("SANIC_WORKERS") or 1)
    except ValueError:
        return 1


def worker_problem(settings: Optional[Settings] = None, environ: Mapping[str, str] = os.environ) -> Optional[str]:
    """Why this start may not run several Sanic workers, in Korean; None when it may. Rasa itself checks
    only that endpoints.yml names some lock store type other than in_memory, which ours always is."""
    settings = settings or get_settings()
    if sanic_workers(environ) > 1 and not settings.redis_url:
        return ("SANIC_WORKERS가 2 이상이면 워커들이 대화 잠금을 나눠 써야 해요. "
                "CLEANBOT_REDIS_URL을 설정하거나 워커를 1개로 줄여 주세요.")
    return None


class ProjectLockStore(LockStore):
    """The lock store endpoints.yml names. Rasa constructs it with `endpoint_config` only; what it makes is
    a RedisTicketLockStore (CLEANBOT_REDIS_URL set; endpoints.yml may set `ticket_seconds` and
    `key_prefix`) or a LocalLockStore."""

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:  # type: ignore[misc]
        settings = get_settings()
        if settings.redis_url:
            options = dict(endpoint_config.kwargs) if endpoint_config is not None else {}
            known = {key: options.pop(key) for key in ("ticket_seconds", "key_prefix") if key in options}
            if options:
                logger.warning("lock_store: unknown option(s) %s ignored", ", ".join(sorted(options)))
            store: LockStore = RedisTicketLockStore(settings.redis_url, **known)
        else:
            problem = worker_problem(settings)
            if problem:
                raise RuntimeError(problem)
            store = LocalLockStore()
        logger.info("Conversation locks: %s", type(store).__name__)
        return store
