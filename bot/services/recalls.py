"""Recall notices: when a listing's case reaches action_taken as counterfeit, every buyer whose order is
delivered, inside the refund window and not yet reported or refunded gets one notice with a one-tap
refund — once per order, ever.

`write_notices` runs inside the case transition's transaction (bot.services.cases.transition): the notice
rows and their outbox rows commit with the decision or not at all. The unique order number on
recall_notices is what keeps it to one per order when the case is reopened and decided again, or a second
case on the listing is decided; concurrent writers on one listing queue on a lock first. The tap itself
(bot.services.reports.claim_recall) files the report and pays through the same exactly-once path as any
report."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import serialize, transaction
from bot.models import CaseEvent, Customer, IppCase, Notification, Order, RecallNotice, Refund, Report
from bot.replies import recall as texts
from bot.services import audit
from bot.services.identity import customer_identity_ids
from bot.settings import get_settings


def is_counterfeit(case: IppCase) -> bool:
    """Shopper reports and test buys are about fakes; a rights holder's notice says which right it is."""
    return case.infringement_type in (None, "counterfeit")


def _eligible_orders(session: Session, listing_id: str, now: datetime) -> list[Order]:
    window = timedelta(days=get_settings().refund_window_days)
    return list(session.execute(
        select(Order).where(
            Order.listing_id == listing_id,
            Order.status == "delivered",
            Order.delivered_at.is_not(None),
            Order.delivered_at >= now - window,
            ~select(Report.id).where(Report.order_number == Order.number).exists(),
            ~select(Refund.id).where(Refund.order_number == Order.number).exists(),
            ~select(RecallNotice.id).where(RecallNotice.order_number == Order.number).exists(),
        ).order_by(Order.customer_id, Order.number)
    ).scalars())


def write_notices(session: Session, case: IppCase, event: CaseEvent) -> int:
    """Recall notices (and their outbox rows) for the case's listing, in the caller's transaction. Returns
    how many orders got one."""
    if not is_counterfeit(case):
        return 0
    serialize(session, "recall", case.listing_id)
    now = event.at
    window = timedelta(days=get_settings().refund_window_days)
    by_customer: dict[str, list[Order]] = defaultdict(list)
    for order in _eligible_orders(session, case.listing_id, now):
        by_customer[order.customer_id].append(order)
    for customer_id, orders in by_customer.items():
        identity_ids = customer_identity_ids(session, customer_id)
        for order in orders:
            session.add(RecallNotice(order_number=order.number, customer_id=customer_id, case_id=case.id,
                                     case_event_id=event.id, reached=len(identity_ids), created_at=now))
        rows = [(o.number, o.product_name, o.amount_krw, o.delivered_at, o.delivered_at + window) for o in orders]
        text, buttons = texts.notice_text(rows), texts.notice_buttons(rows)
        for identity_id in identity_ids:
            # One message per buyer and account: uq_notification_once is per case event and account.
            session.add(Notification(case_event_id=event.id, identity_id=identity_id, text=text, buttons=buttons,
                                     created_at=now, next_attempt_at=now, attempts=0))
    session.flush()
    count = sum(len(o) for o in by_customer.values())
    if count:
        audit.record(session, event.actor, "recall.notified", case.number,
                     {"orders": count, "buyers": len(by_customer)})
    return count


@dataclass(frozen=True)
class RecallView:
    order_number: str
    customer_id: str
    customer_name: str
    product_name: str
    amount_krw: int
    reached: int
    claimed: bool
    created_at: datetime


def list_recalls(case_number: str, unreached_only: bool = True) -> Optional[list[RecallView]]:
    """The case's recall notices (by default only the buyers without a linked channel, for the team to reach
    another way); None if there is no such case."""
    with transaction() as session:
        case = session.execute(select(IppCase).where(IppCase.number == case_number.upper())).scalar_one_or_none()
        if case is None:
            return None
        query = (select(RecallNotice, Customer.name, Order.product_name, Order.amount_krw)
                 .join(Customer, Customer.id == RecallNotice.customer_id)
                 .join(Order, Order.number == RecallNotice.order_number)
                 .where(RecallNotice.case_id == case.id).order_by(RecallNotice.id))
        if unreached_only:
            query = query.where(RecallNotice.reached == 0)
        rows = session.execute(query).all()
        claimed = set(session.execute(
            select(Report.order_number).where(Report.order_number.in_([r[0].order_number for r in rows]))
        ).scalars()) if rows else set()
        return [RecallView(n.order_number, n.customer_id, name, product, amount, n.reached,
                           n.order_number in claimed, n.created_at)
                for n, name, product, amount in rows]
