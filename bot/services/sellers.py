"""A seller's standing: status, active strikes and the listings they lost."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import select

from bot.clock import to_local
from bot.db import transaction
from bot.replies.korean import korean_date
from bot.models import IppCase, Seller, Strike
from bot.services.penalties import active_strikes, effective_status, lift_freeze

STATUS_KO = {"active": "정상", "frozen": "판매 정지", "closed": "스토어 폐쇄"}


@dataclass(frozen=True)
class StrikeView:
    case_number: str
    listing_id: str
    created_at: datetime
    expires_at: datetime
    withdrawn: bool


@dataclass(frozen=True)
class SellerView:
    id: str
    name: str
    status: str
    frozen_until: Optional[datetime]
    active_strikes: int
    strikes: list[StrikeView]


def seller_view(seller_id: str) -> Optional[SellerView]:
    with transaction() as session:
        seller = session.get(Seller, seller_id)
        if seller is None:
            return None
        lift_freeze(session, seller_id)  # a freeze that has run out is shown, and stored, as over
        strikes = session.execute(
            select(Strike, IppCase.number).join(IppCase, IppCase.id == Strike.case_id)
            .where(Strike.seller_id == seller_id).order_by(Strike.created_at)
        ).all()
        status = effective_status(seller.status, seller.frozen_until)  # the freeze may end after the lift
        return SellerView(
            seller.id, seller.name, status, seller.frozen_until if status == "frozen" else None,
            active_strikes(session, seller_id),
            [StrikeView(number, s.listing_id, s.created_at, s.expires_at, s.withdrawn_at is not None)
             for s, number in strikes],
        )


def seller_text(view: SellerView) -> str:
    status = STATUS_KO[view.status]
    if view.status == "frozen" and view.frozen_until is not None:
        status += f"({korean_date(to_local(view.frozen_until))}까지)"
    lines = [f"{view.id} {view.name} · {status} · 유효 제재 {view.active_strikes}건"]
    for s in view.strikes:
        mark = " (철회)" if s.withdrawn else ""
        lines.append(f"  {s.case_number} · 상품 {s.listing_id} · {s.created_at:%Y-%m-%d} ~ {s.expires_at:%Y-%m-%d}{mark}")
    return "\n".join(lines)
