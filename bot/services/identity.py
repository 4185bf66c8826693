"""Who is talking: a chat account resolved to a marketplace customer and/or verified rights holders."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import transaction
from bot.models import Brand, ChatIdentity, Customer, HolderIdentity, RightsHolder

# Rasa input channel names mapped to where the account lives. REST and socket.io are the
# marketplace's web front, where the sender id is the customer id (authenticated upstream).
_CHANNEL_KINDS = {"telegram": "telegram", "cleanbot_telegram": "telegram", "kakao": "kakao"}


def channel_kind(rasa_channel: Optional[str]) -> str:
    return _CHANNEL_KINDS.get((rasa_channel or "").lower(), "web")


@dataclass(frozen=True)
class HolderBrand:
    rights_holder_id: int
    brand_id: int
    brand_name: str


@dataclass(frozen=True)
class Who:
    channel: str
    sender_id: str
    customer_id: Optional[str]
    customer_name: Optional[str]
    holder_brands: tuple[HolderBrand, ...]

    @property
    def is_rights_holder(self) -> bool:
        return bool(self.holder_brands)

    @property
    def brand_ids(self) -> set[int]:
        return {h.brand_id for h in self.holder_brands}


def get_or_create_identity(session: Session, channel: str, sender_id: str) -> ChatIdentity:
    identity = session.execute(
        select(ChatIdentity).where(ChatIdentity.channel == channel, ChatIdentity.external_id == sender_id)
    ).scalar_one_or_none()
    if identity is None:
        identity = ChatIdentity(channel=channel, external_id=sender_id, created_at=utcnow())
        session.add(identity)
        session.flush()
    return identity


def resolve_in(session: Session, channel: str, sender_id: str) -> Who:
    identity = session.execute(
        select(ChatIdentity).where(ChatIdentity.channel == channel, ChatIdentity.external_id == sender_id)
    ).scalar_one_or_none()
    customer = None
    if identity is not None and identity.customer_id:
        customer = session.get(Customer, identity.customer_id)
    elif channel == "web":
        customer = session.get(Customer, sender_id)
    holders: tuple[HolderBrand, ...] = ()
    if identity is not None:
        rows = session.execute(
            select(RightsHolder.id, Brand.id, Brand.name)
            .join(HolderIdentity, HolderIdentity.rights_holder_id == RightsHolder.id)
            .join(Brand, Brand.id == RightsHolder.brand_id)
            .where(HolderIdentity.identity_id == identity.id)
            .order_by(Brand.name)
        ).all()
        holders = tuple(HolderBrand(r[0], r[1], r[2]) for r in rows)
    return Who(
        channel=channel,
        sender_id=sender_id,
        customer_id=customer.id if customer else None,
        customer_name=customer.name if customer else None,
        holder_brands=holders,
    )


def remember_web_customer(sender_id: str) -> None:
    """Records that a marketplace customer uses the web chat (their sender id is their customer id), so
    messages the bot starts itself — a recall notice — have an account to wait on. Idempotent."""
    with transaction() as session:
        if session.get(Customer, sender_id) is None:
            return
        account = get_or_create_identity(session, "web", sender_id)
        if account.customer_id is None:
            account.customer_id = sender_id


def resolve(rasa_channel: Optional[str], sender_id: str) -> Who:
    with transaction() as session:
        return resolve_in(session, channel_kind(rasa_channel), sender_id)


def customer_identity_ids(session: Session, customer_id: str) -> list[int]:
    """The customer's chat accounts, for messages they did not ask for (recalls, refund decisions): linked
    Telegram and KakaoTalk accounts, and the web chat if they have used it (there the sender id is the
    customer id)."""
    return list(session.execute(
        select(ChatIdentity.id).where(or_(
            ChatIdentity.customer_id == customer_id,
            (ChatIdentity.channel == "web") & (ChatIdentity.external_id == customer_id),
        )).order_by(ChatIdentity.id)
    ).scalars())
