"""What the Telegram channel keeps in the database: the updates it has taken in (so a second delivery
is skipped, and one the process died handling is handled again at the next start), the one-time
deep-link tokens that link a Telegram account to a customer, and the keys of button payloads too long
for Telegram's 64-byte callback data.

Each function is one transaction (bot.db.transaction); nothing else in the channel writes."""
from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Optional

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.clock import utcnow
from bot.db import transaction
from bot.models import (ChatIdentity, Customer, Lease, TelegramCallbackKey, TelegramLinkToken, TelegramUpdate,
                        VerificationAttempt)
from bot.services import audit
from bot.services.identity import get_or_create_identity
from bot.settings import get_settings

CHANNEL = "telegram"
logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- updates taken in


# Starts that may take an unfinished update up again; after that it is given up, so that an update whose
# handling kills the process cannot kill every start after it.
MAX_ATTEMPTS = 3


# The lease a process holds while it is alive and handling updates (bot.services.leases), by holder id.
ALIVE_PREFIX = "telegram-alive:"


def record_update(update_id: int, kind: str, chat_id: Optional[int] = None,
                  payload: Optional[dict[str, Any]] = None, handler: Optional[str] = None) -> bool:
    """Records an update as it is received, with the payload needed to handle it again (mark_handled
    once it is handled) and the process handling it. True the first time, False for a duplicate delivery
    (the primary key on update_id decides, across restarts and replicas)."""
    try:
        with transaction() as session:
            session.add(TelegramUpdate(update_id=int(update_id), kind=kind[:30], chat_id=chat_id,
                                       received_at=utcnow(), payload=payload, attempts=0, handler=handler))
            session.flush()
        return True
    except IntegrityError:
        return False


def mark_handled(update_ids: Iterable[int]) -> int:
    """The updates were handled (answered, or apologised for): never handled again."""
    ids = [int(i) for i in update_ids]
    if not ids:
        return 0
    with transaction() as session:
        result = session.execute(update(TelegramUpdate)
                                 .where(TelegramUpdate.update_id.in_(ids), TelegramUpdate.handled_at.is_(None))
                                 .values(handled_at=utcnow()))
        return result.rowcount or 0


def take_unfinished(handler: Optional[str] = None, max_attempts: int = MAX_ATTEMPTS) -> list[dict[str, Any]]:
    """The payloads of updates received but never handled by a process that is gone, oldest first, now
    `handler`'s, each counted as one more attempt; one already tried max_attempts times is given up (marked
    handled, logged by id).

    A process is gone when its "telegram-alive:<holder>" lease has expired or was released (it crashed,
    or stopped before its queues drained): the updates of a live replica are never taken from it. Rows
    another process is taking at the same moment are skipped (SKIP LOCKED), so each goes to one taker."""
    now = utcnow()
    alive = (select(Lease.name)
             .where(Lease.name == literal(ALIVE_PREFIX) + TelegramUpdate.handler,
                    Lease.holder == TelegramUpdate.handler, Lease.expires_at > now))
    with transaction() as session:
        rows = session.execute(
            select(TelegramUpdate)
            .where(TelegramUpdate.handled_at.is_(None), TelegramUpdate.payload.is_not(None),
                   or_(TelegramUpdate.handler.is_(None), ~alive.exists()))
            .order_by(TelegramUpdate.update_id).with_for_update(skip_locked=True)
        ).scalars().all()
        payloads = []
        for row in rows:
            if row.attempts >= max_attempts:
                row.handled_at = now
                logger.warning("Telegram: update %s was taken up %s times without finishing; given up",
                               row.update_id, row.attempts)
                continue
            row.attempts += 1
            row.handler = handler
            payloads.append(row.payload)
        return payloads


def purge_updates(older_than: timedelta = timedelta(days=7)) -> int:
    """Forgets updates older than Telegram would ever redeliver (it keeps them for 24 hours), and the
    "telegram-alive" leases of processes long gone (one row per process start)."""
    cutoff = utcnow() - older_than
    with transaction() as session:
        result = session.execute(delete(TelegramUpdate).where(TelegramUpdate.received_at < cutoff))
        session.execute(delete(Lease).where(Lease.name.like(ALIVE_PREFIX + "%"), Lease.expires_at < cutoff)
                        .execution_options(synchronize_session=False))
        return result.rowcount or 0


# ---------------------------------------------------------------- button payloads

MAX_CALLBACK_BYTES = 64  # Telegram's limit on InlineKeyboardButton.callback_data
KEY_PREFIX = "k:"
# (database, key) -> payload, bounded: a cache in front of the table, per database so that a process
# that talks to several databases (tests, migrations) never trusts a key another database holds.
_known_keys: "OrderedDict[tuple[str, str], str]" = OrderedDict()
_known_lock = threading.Lock()
_KNOWN_MAX = 2048


def _remember(key: str, payload: str) -> None:
    cache_key = (get_settings().database_url, key)
    with _known_lock:
        _known_keys[cache_key] = payload
        _known_keys.move_to_end(cache_key)
        while len(_known_keys) > _KNOWN_MAX:
            _known_keys.popitem(last=False)


def _recall(key: str) -> Optional[str]:
    with _known_lock:
        return _known_keys.get((get_settings().database_url, key))


def payload_key(payload: str) -> str:
    """A short key derived from the payload (96 bits of its SHA-256), the same on every replica."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def callback_data_for(payload: str) -> str:
    """The callback data for a button: the payload itself when it fits, else a stored short key."""
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(KEY_PREFIX) and payload:
        return payload
    key = payload_key(payload)
    if _recall(key) != payload:
        try:
            with transaction() as session:
                if session.get(TelegramCallbackKey, key) is None:
                    session.add(TelegramCallbackKey(key=key, payload=payload, created_at=utcnow()))
        except IntegrityError:
            pass  # stored at the same moment by another request or replica
        _remember(key, payload)
    return KEY_PREFIX + key


def payload_for(callback_data: Optional[str]) -> Optional[str]:
    """The payload a tapped button stands for; None when its key is unknown."""
    if not callback_data:
        return None
    if not callback_data.startswith(KEY_PREFIX):
        return callback_data
    key = callback_data[len(KEY_PREFIX):]
    payload = _recall(key)
    if payload is None:
        with transaction() as session:
            row = session.get(TelegramCallbackKey, key)
            payload = row.payload if row is not None else None
        if payload is not None:
            _remember(key, payload)
    return payload


# ---------------------------------------------------------------- deep-link tokens


class UnknownCustomer(Exception):
    def __init__(self, customer_id: str):
        super().__init__(f"unknown customer {customer_id}")
        self.customer_id = customer_id
        from bot.replies.korean import josa

        self.message_ko = f"고객 {josa(customer_id, '을/를')} 찾을 수 없어요. 고객 ID를 확인해 주세요."


@dataclass(frozen=True)
class IssuedLinkToken:
    token: str
    customer_id: str
    customer_name: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkResult:
    """status: linked | already_linked | invalid | expired | used | linked_elsewhere | locked (Kakao codes)."""

    status: str
    customer_id: Optional[str] = None
    customer_name: Optional[str] = None


def _hash(token: str, channel: str = CHANNEL) -> str:
    # Telegram tokens hash alone (rows from before Kakao); other channels' codes with their channel, so a
    # 6-digit Kakao code can never be redeemed as, or collide with, another channel's token.
    text = token if channel == CHANNEL else f"{channel}:{token}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


KAKAO = "kakao"
CODE_DIGITS = 6
# Wrong codes a Kakao account may send per window before it must wait (a 6-digit code is guessable).
CODE_MAX_FAILURES = 5
CODE_FAILURE_KIND = "kakao-link"  # verification_attempts.channel of a wrong link code


def new_token() -> str:
    """32 characters of A-Z a-z 0-9 _ - (what a /start parameter allows), 192 random bits."""
    return secrets.token_urlsafe(24)


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def issue_link_token(customer_id: str, actor: str = "cli", ttl: Optional[timedelta] = None,
                     channel: str = CHANNEL) -> IssuedLinkToken:
    """A one-time token: for Telegram `https://t.me/<bot>?start=<token>`, for KakaoTalk a 6-digit code sent as
    "연동 123456". Only its hash is stored."""
    settings = get_settings()
    minutes = settings.kakao_link_code_ttl_minutes if channel == KAKAO else settings.telegram_link_token_ttl_minutes
    ttl = ttl or timedelta(minutes=minutes)
    now = utcnow()
    for _attempt in range(20):
        token = new_code() if channel == KAKAO else new_token()
        with transaction() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise UnknownCustomer(customer_id)
            digest = _hash(token, channel)
            old = session.get(TelegramLinkToken, digest, with_for_update=True)
            if old is not None:
                if old.used_at is None and old.expires_at >= now:
                    continue  # a live code has this number: draw another
                session.delete(old)  # a spent code's number is free again (the audit log keeps its history)
                session.flush()
            session.add(TelegramLinkToken(token_sha256=digest, customer_id=customer_id, created_at=now,
                                          expires_at=now + ttl, channel=channel))
            audit.record(session, actor, f"{channel}.link_token_issued", customer_id,
                         {"expires_at": (now + ttl).isoformat()})
            return IssuedLinkToken(token, customer.id, customer.name, now + ttl)
    raise RuntimeError("no free link code")


def _code_locked(session, user_id: str, now: datetime) -> bool:
    window = timedelta(minutes=get_settings().verify_window_minutes)
    failures = session.execute(
        select(func.count(VerificationAttempt.id)).where(
            VerificationAttempt.channel == CODE_FAILURE_KIND, VerificationAttempt.external_id == user_id,
            VerificationAttempt.at > now - window)
    ).scalar_one()
    return failures >= CODE_MAX_FAILURES


def _redeem_in(session, token: str, telegram_user_id: str, channel: str = CHANNEL) -> LinkResult:
    if channel == KAKAO:
        if _code_locked(session, telegram_user_id, utcnow()):
            return LinkResult("locked")
        if not (len(token) == CODE_DIGITS and token.isascii() and token.isdigit()):
            return LinkResult("invalid")
    if not token or len(token) > 64:
        return LinkResult("invalid")
    row = session.execute(
        select(TelegramLinkToken).where(TelegramLinkToken.token_sha256 == _hash(token, channel),
                                        TelegramLinkToken.channel == channel).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        if channel == KAKAO:
            session.add(VerificationAttempt(channel=CODE_FAILURE_KIND, external_id=telegram_user_id, at=utcnow()))
        return LinkResult("invalid")
    customer = session.get(Customer, row.customer_id)
    if row.used_at is not None:
        if row.used_by == telegram_user_id:
            return LinkResult("already_linked", customer.id, customer.name)
        return LinkResult("used")
    now = utcnow()
    if now > row.expires_at:
        return LinkResult("expired")
    identity = session.execute(
        select(ChatIdentity).where(ChatIdentity.channel == channel, ChatIdentity.external_id == telegram_user_id)
        .with_for_update()
    ).scalar_one_or_none()
    if identity is not None and identity.customer_id and identity.customer_id != row.customer_id:
        # One chat account belongs to one customer; moving it is a person's decision.
        return LinkResult("linked_elsewhere")
    already = identity is not None and identity.customer_id == row.customer_id
    if identity is None:
        identity = get_or_create_identity(session, channel, telegram_user_id)
    identity.customer_id = row.customer_id
    row.used_at, row.used_by = now, telegram_user_id
    session.flush()
    audit.record(session, f"{channel}:{telegram_user_id}", f"{channel}.linked", row.customer_id,
                 {"identity": identity.id, "again": already})
    return LinkResult("already_linked" if already else "linked", customer.id, customer.name)


def redeem_link_token(token: str, telegram_user_id: int | str, channel: str = CHANNEL) -> LinkResult:
    """Links the chat account (a Telegram user id, a Kakao botUserKey) to the token's customer, once; safe to
    call twice or concurrently. A Kakao account that sent CODE_MAX_FAILURES wrong codes within
    CLEANBOT_VERIFY_WINDOW_MINUTES gets "locked" until the oldest of them leaves the window."""
    last_error: Optional[Exception] = None
    for _attempt in range(3):
        try:
            with transaction() as session:
                return _redeem_in(session, token.strip(), str(telegram_user_id), channel)
        except (IntegrityError, OperationalError) as error:  # a concurrent first message created the identity
            last_error = error
    raise RuntimeError("could not redeem the link token") from last_error


def linked_customer(telegram_user_id: int | str) -> Optional[str]:
    with transaction() as session:
        return session.execute(
            select(ChatIdentity.customer_id).where(ChatIdentity.channel == CHANNEL,
                                                   ChatIdentity.external_id == str(telegram_user_id))
        ).scalar_one_or_none()
