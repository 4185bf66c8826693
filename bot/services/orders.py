"""Orders as the shopper sees them, and whether one can be claimed under the guarantee."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import transaction
from bot.models import Brand, Listing, Order, Refund, Report
from bot.settings import get_settings


@dataclass(frozen=True)
class OrderView:
    number: str
    customer_id: str
    product_name: str
    brand: str
    listing_id: str
    amount_krw: int
    paid_at: datetime
    delivered_at: Optional[datetime]
    status: str
    report_number: Optional[str]
    refunded_at: Optional[datetime]


@dataclass(frozen=True)
class Eligibility:
    """`problem` is None when the order can be claimed; otherwise one of
    not_found, not_delivered, window_expired, already_refunded, already_reported (its refund still
    under review), refund_rejected (reported, and an agent turned the refund down: one claim per order)."""

    problem: Optional[str]
    order: Optional[OrderView] = None
    deadline: Optional[datetime] = None
    refund_amount: Optional[int] = None
    refunded_at: Optional[datetime] = None
    report_number: Optional[str] = None


def _view(session: Session, order: Order) -> OrderView:
    report = session.execute(select(Report).where(Report.order_number == order.number)).scalar_one_or_none()
    refund = session.execute(select(Refund).where(Refund.order_number == order.number)).scalar_one_or_none()
    brand = session.get(Brand, session.get(Listing, order.listing_id).brand_id)
    return OrderView(
        number=order.number,
        customer_id=order.customer_id,
        product_name=order.product_name,
        brand=brand.name,
        listing_id=order.listing_id,
        amount_krw=order.amount_krw,
        paid_at=order.paid_at,
        delivered_at=order.delivered_at,
        status=order.status,
        report_number=report.number if report else None,
        refunded_at=refund.created_at if refund else None,
    )


def eligibility_in(session: Session, customer_id: Optional[str], order_number: str,
                   now: Optional[datetime] = None) -> Eligibility:
    now = now or utcnow()
    order = session.get(Order, order_number)
    # Someone else's order gets the same answer as a missing one: never reveal it exists.
    if order is None or customer_id is None or order.customer_id != customer_id:
        return Eligibility("not_found")
    view = _view(session, order)
    refund = session.execute(select(Refund).where(Refund.order_number == order_number)).scalar_one_or_none()
    if refund is not None:
        return Eligibility("already_refunded", view, refund_amount=refund.amount_krw, refunded_at=refund.created_at,
                           report_number=view.report_number)
    if view.report_number is not None:
        rejected = session.execute(
            select(Report.refund_status).where(Report.order_number == order_number)).scalar_one() == "rejected"
        return Eligibility("refund_rejected" if rejected else "already_reported", view,
                           report_number=view.report_number)
    if order.status != "delivered" or order.delivered_at is None:
        return Eligibility("not_delivered", view)
    deadline = order.delivered_at + timedelta(days=get_settings().refund_window_days)
    if now > deadline:
        return Eligibility("window_expired", view, deadline=deadline)
    return Eligibility(None, view, deadline=deadline)


def check_order(customer_id: Optional[str], order_number: str) -> Eligibility:
    with transaction() as session:
        return eligibility_in(session, customer_id, order_number)


def recent_orders(customer_id: str, limit: int = 10) -> list[OrderView]:
    with transaction() as session:
        orders = session.execute(
            select(Order).where(Order.customer_id == customer_id).order_by(Order.paid_at.desc()).limit(limit)
        ).scalars()
        return [_view(session, o) for o in orders]


def all_orders(customer_id: Optional[str] = None) -> list[OrderView]:
    with transaction() as session:
        query = select(Order).order_by(Order.customer_id, Order.paid_at.desc())
        if customer_id:
            query = query.where(Order.customer_id == customer_id)
        return [_view(session, o) for o in session.execute(query).scalars()]


def get_order(order_number: str) -> Optional[OrderView]:
    with transaction() as session:
        order = session.get(Order, order_number)
        return _view(session, order) if order else None
