"""Rights-holder verification: one-time invite codes issued by operators, redeemed in any chat.

A code is 8 characters of A–Z and 2–9, always with at least one letter and one digit; I and O are
left out (they read as 1 and 0), exactly the alphabet the NLU extractor recognises
(`bot.nlu.identifier_extractor.is_verification_code`). It expires after `invite_expiry_days`.

Every refused code (wrong, used or expired) is recorded; `verify_max_failures` refusals within
`verify_window_minutes` lock the chat account for `verify_lock_minutes` — even a right code is
refused while locked. Refusals also count toward one budget for all accounts together
(`GLOBAL_MAX_FAILURES`), so rotating sender ids buys no extra guesses. Tries are serialised (all of
them, see `verify`), so parallel requests cannot beat either lock.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.catalogue import canonical_brand
from bot.clock import utcnow
from bot.db import serialize, transaction
from bot.models import (
    Brand,
    BrandOwnerInvite,
    ChatIdentity,
    HolderIdentity,
    RightsHolder,
    VerificationAttempt,
)
from bot.services import audit
from bot.services.errors import ServiceError
from bot.services.identity import get_or_create_identity
from bot.settings import get_settings

CODE_LENGTH = 8
CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_DIGITS = "23456789"
CODE_ALPHABET = CODE_LETTERS + CODE_DIGITS

# How many refused codes, from all chat accounts together, one `verify_window_minutes` may hold: at
# that many, no code is checked for anyone until the oldest of them leaves the window. The account
# lock alone caps nothing for an attacker who makes up a new sender id every five guesses; this caps
# everyone's guesses at this many per window. Honest holders redeem a few codes a week. The price
# is that a flood also keeps honest holders out for up to one window, which beats a guessed code
# taking over a brand's account; the lock is logged and audited so the team notices and can help.
GLOBAL_MAX_FAILURES = 30

logger = logging.getLogger(__name__)


def is_verification_code(text: str) -> bool:
    """The same rule as the NLU extractor's (kept here so the CLI does not import Rasa; a test compares them)."""
    code = (text or "").upper()
    return (len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)
            and any(c in CODE_DIGITS for c in code) and any(c in CODE_LETTERS for c in code))


class HolderError(ServiceError):
    """An operator request that cannot be done; `message_ko` says why and what to do."""


@dataclass(frozen=True)
class InviteView:
    code: str
    brand: str
    holder_name: str
    created_at: datetime
    expires_at: datetime
    used_at: Optional[datetime] = None
    used_by: Optional[str] = None  # "channel:external_id"


@dataclass(frozen=True)
class Verification:
    """status: verified | already_verified | wrong | used | expired | locked | bad_format.

    `locked_until` is set when the account is locked (also on the refusal that locked it);
    `lock_scope` says whose failures locked it: "account" (this one's) or "everyone" (the global
    budget, GLOBAL_MAX_FAILURES); `failures_left` is how many more refusals the account may have
    before the lock."""

    status: str
    brand: Optional[str] = None
    holder_name: Optional[str] = None
    locked_until: Optional[datetime] = None
    failures_left: Optional[int] = None
    expired_at: Optional[datetime] = None
    lock_scope: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.status in ("verified", "already_verified")


def new_code() -> str:
    """A random code with at least one letter and one digit (the NLU extractor relies on both)."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if any(c in CODE_DIGITS for c in code) and any(c in CODE_LETTERS for c in code):
            return code


def _brand_by_any_name(session: Session, text: str) -> Optional[Brand]:
    name = canonical_brand(text or "")
    if name is None:
        return None
    return session.execute(select(Brand).where(Brand.name == name)).scalar_one_or_none()


def _invite_view(session: Session, invite: BrandOwnerInvite) -> InviteView:
    used_by = None
    if invite.used_by_identity_id is not None:
        identity = session.get(ChatIdentity, invite.used_by_identity_id)
        used_by = f"{identity.channel}:{identity.external_id}"
    return InviteView(invite.code, invite.brand.name, invite.holder_name, invite.created_at, invite.expires_at,
                      invite.used_at, used_by)


def issue_invite(brand: str, holder_name: str, actor: str = "operator") -> InviteView:
    """A new one-time code for `brand` (any of its names), valid for `invite_expiry_days`."""
    holder_name = " ".join((holder_name or "").split())
    if not holder_name:
        raise HolderError("권리자 이름이 비어 있어요. --name 으로 회사나 담당 부서 이름을 넣어 주세요.")
    if len(holder_name) > 100:
        raise HolderError("권리자 이름이 너무 길어요(최대 100자). 줄여서 다시 입력해 주세요.")
    for _attempt in range(5):
        try:
            with transaction() as session:
                row = _brand_by_any_name(session, brand)
                if row is None:
                    raise HolderError(
                        f"'{brand}' 브랜드를 카탈로그에서 찾을 수 없어요. 브랜드 이름을 확인해 주세요 "
                        "(예: Nike, 나이키, 샤넬)."
                    )
                now = utcnow()
                invite = BrandOwnerInvite(
                    code=new_code(), brand_id=row.id, holder_name=holder_name, created_at=now,
                    expires_at=now + timedelta(days=get_settings().invite_expiry_days),
                )
                session.add(invite)
                session.flush()
                audit.record(session, actor, "holder.invite_issued", invite.code,
                             {"brand": row.name, "holder_name": holder_name})
                return _invite_view(session, invite)
        except IntegrityError:
            continue  # the random code was taken: draw another
    raise HolderError("인증 코드를 만들지 못했어요. 잠시 후 다시 시도해 주세요.")


def list_invites(brand: Optional[str] = None) -> list[InviteView]:
    with transaction() as session:
        query = select(BrandOwnerInvite).order_by(BrandOwnerInvite.created_at.desc(), BrandOwnerInvite.id.desc())
        if brand:
            row = _brand_by_any_name(session, brand)
            if row is None:
                return []
            query = query.where(BrandOwnerInvite.brand_id == row.id)
        return [_invite_view(session, invite) for invite in session.execute(query).scalars()]


def _failure_times(session: Session, channel: str, external_id: str, since: datetime) -> list[datetime]:
    return list(session.execute(
        select(VerificationAttempt.at)
        .where(VerificationAttempt.channel == channel, VerificationAttempt.external_id == external_id,
               VerificationAttempt.at > since)
        .order_by(VerificationAttempt.at)
    ).scalars())


def _lock_state(session: Session, channel: str, external_id: str, now: datetime) -> tuple[Optional[datetime], int]:
    """(locked until, failures left before a lock). A lock starts at the refusal that made
    `verify_max_failures` within one window; refusals during a lock are not recorded."""
    settings = get_settings()
    limit = max(settings.verify_max_failures, 1)
    window = timedelta(minutes=settings.verify_window_minutes)
    lock = timedelta(minutes=settings.verify_lock_minutes)
    times = _failure_times(session, channel, external_id, now - window - lock)
    lock_start = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] <= window:
            lock_start = times[i]
    if lock_start is not None and now < lock_start + lock:
        return lock_start + lock, 0
    recent = sum(1 for t in times if t > now - window and (lock_start is None or t > lock_start))
    return None, max(limit - recent, 0)


def _everyone_locked_until(session: Session, now: datetime) -> Optional[datetime]:
    """Until when no account may try a code (GLOBAL_MAX_FAILURES reached in the window), or None."""
    window = timedelta(minutes=get_settings().verify_window_minutes)
    latest = session.execute(
        select(VerificationAttempt.at).where(VerificationAttempt.at > now - window)
        .order_by(VerificationAttempt.at.desc()).limit(GLOBAL_MAX_FAILURES)
    ).scalars().all()
    if len(latest) < GLOBAL_MAX_FAILURES:
        return None
    return latest[-1] + window


def _current_lock(session: Session, channel: str, external_id: str, now: datetime) -> Optional[Verification]:
    """The account's own lock first (its message names its own failures), then everyone's."""
    locked_until, _left = _lock_state(session, channel, external_id, now)
    if locked_until is not None:
        return Verification("locked", locked_until=locked_until, failures_left=0, lock_scope="account")
    everyone_until = _everyone_locked_until(session, now)
    if everyone_until is not None:
        return Verification("locked", locked_until=everyone_until, failures_left=0, lock_scope="everyone")
    return None


def current_lock(channel: str, external_id: str) -> Optional[Verification]:
    """The "locked" answer this account would get for any code now (its own lock or everyone's), or None."""
    with transaction() as session:
        return _current_lock(session, channel, external_id, utcnow())


def lock_status(channel: str, external_id: str) -> Optional[datetime]:
    """Until when the account may not try a code (its own lock or everyone's), or None."""
    lock = current_lock(channel, external_id)
    return lock.locked_until if lock is not None else None


def _identity_id(channel: str, external_id: str) -> int:
    for _attempt in range(3):
        try:
            with transaction() as session:
                return get_or_create_identity(session, channel, external_id).id
        except IntegrityError:
            continue  # created concurrently: read it again
    raise RuntimeError("could not create the chat identity")


def _refuse(session: Session, channel: str, external_id: str, now: datetime, status: str, **extra) -> Verification:
    session.add(VerificationAttempt(channel=channel, external_id=external_id, at=now))
    session.flush()
    locked_until, left = _lock_state(session, channel, external_id, now)
    audit.record(session, f"{channel}:{external_id}", "holder.verify_refused", f"{channel}:{external_id}",
                 {"status": status, "locked_until": locked_until.isoformat() if locked_until else None})
    # No refusal is recorded while everyone is locked, so a lock found now was started by this one.
    everyone_until = _everyone_locked_until(session, now)
    if everyone_until is not None:
        logger.warning("Rights-holder codes: %d refused within the window, no code is checked until %s UTC",
                       GLOBAL_MAX_FAILURES, everyone_until.isoformat(timespec="seconds"))
        audit.record(session, "bot", "holder.verify_locked_everyone", "holder-codes",
                     {"failures": GLOBAL_MAX_FAILURES, "locked_until": everyone_until.isoformat()})
    return Verification(status, locked_until=locked_until, failures_left=left, **extra)


def verify(channel: str, external_id: str, code: str) -> Verification:
    """Redeems `code` for this chat account: links it to the invite's brand as a verified rights holder."""
    code = (code or "").strip().upper()
    identity_id = _identity_id(channel, external_id)
    with transaction() as session:
        # Serialise all tries, of every account: the global count must not be beaten by parallel
        # requests any more than the account's own. Codes are redeemed rarely; the wait is nothing.
        serialize(session, "holder-code-tries")
        identity = session.execute(
            select(ChatIdentity).where(ChatIdentity.id == identity_id).with_for_update()
        ).scalar_one()
        now = utcnow()
        lock = _current_lock(session, channel, external_id, now)
        if lock is not None:
            return lock
        if not is_verification_code(code):
            return Verification("bad_format")
        invite = session.execute(
            select(BrandOwnerInvite).where(BrandOwnerInvite.code == code).with_for_update()
        ).scalar_one_or_none()
        if invite is None:
            return _refuse(session, channel, external_id, now, "wrong")
        brand = invite.brand
        if invite.used_at is not None:
            if invite.used_by_identity_id == identity.id:
                return Verification("already_verified", brand=brand.name, holder_name=invite.holder_name)
            return _refuse(session, channel, external_id, now, "used")
        if invite.expires_at <= now:
            return _refuse(session, channel, external_id, now, "expired", expired_at=invite.expires_at)
        held = session.execute(
            select(RightsHolder)
            .join(HolderIdentity, HolderIdentity.rights_holder_id == RightsHolder.id)
            .where(HolderIdentity.identity_id == identity.id, RightsHolder.brand_id == invite.brand_id)
        ).scalars().first()
        if held is not None:
            # Nothing to link; the code stays unused for whoever it was meant for.
            return Verification("already_verified", brand=brand.name, holder_name=held.name)
        claimed = session.execute(
            update(BrandOwnerInvite)
            .where(BrandOwnerInvite.id == invite.id, BrandOwnerInvite.used_at.is_(None))
            .values(used_at=now, used_by_identity_id=identity.id)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return _refuse(session, channel, external_id, now, "used")
        holder = session.execute(
            select(RightsHolder).where(RightsHolder.brand_id == invite.brand_id,
                                       RightsHolder.name == invite.holder_name)
        ).scalars().first()
        if holder is None:
            holder = RightsHolder(name=invite.holder_name, brand_id=invite.brand_id, verified_at=now)
            session.add(holder)
            session.flush()
        session.add(HolderIdentity(rights_holder_id=holder.id, identity_id=identity.id, created_at=now))
        session.flush()
        audit.record(session, f"{channel}:{external_id}", "holder.verified", invite.code,
                     {"brand": brand.name, "holder": holder.name, "rights_holder_id": holder.id})
        return Verification("verified", brand=brand.name, holder_name=holder.name)


@dataclass(frozen=True)
class HolderView:
    id: int
    name: str
    brand: str
    verified_at: datetime
    accounts: tuple[str, ...]


def list_holders(brand: Optional[str] = None) -> list[HolderView]:
    with transaction() as session:
        query = select(RightsHolder).order_by(RightsHolder.id)
        if brand:
            row = _brand_by_any_name(session, brand)
            if row is None:
                return []
            query = query.where(RightsHolder.brand_id == row.id)
        views = []
        for holder in session.execute(query).scalars():
            accounts = session.execute(
                select(ChatIdentity.channel, ChatIdentity.external_id)
                .join(HolderIdentity, HolderIdentity.identity_id == ChatIdentity.id)
                .where(HolderIdentity.rights_holder_id == holder.id)
                .order_by(ChatIdentity.id)
            ).all()
            views.append(HolderView(holder.id, holder.name, holder.brand.name, holder.verified_at,
                                    tuple(f"{c}:{e}" for c, e in accounts)))
        return views


def failures_in_window(channel: str, external_id: str) -> int:
    """Refused codes of this account within the current window (for tests and the team)."""
    with transaction() as session:
        since = utcnow() - timedelta(minutes=get_settings().verify_window_minutes)
        return session.execute(
            select(func.count(VerificationAttempt.id)).where(
                VerificationAttempt.channel == channel, VerificationAttempt.external_id == external_id,
                VerificationAttempt.at > since)
        ).scalar_one()
